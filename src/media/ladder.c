/* Transcoding ladder: `profiles` JSON -> ladder_t, and ladder_t + source -> ladder_plan_t.
 *
 * Sizes follow Livepeer's rules for its 16:9 ladders: the box's short side is the primary
 * constraint (a "480p" rung is 480 lines high on a landscape source, 480 columns wide on a
 * portrait one, whose box is turned), the other side follows the source aspect ratio, and the
 * result must still fit the box. Nothing is upscaled. */
#include "media/ladder.h"

#include "store/rendition_name.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BITRATE 1000000000LL /* bits per second */
#define MAX_FPS 240              /* frames per second, after fpsDen */
#define MAX_FPS_NUM 1000000
#define MAX_FPS_DEN 1000000
#define MAX_GOP_S 60.0
#define MAX_QUALITY 44

const char ladder_default_json[] =
    "[{\"name\":\"240p0\",\"fps\":0,\"bitrate\":250000,\"width\":426,\"height\":240,"
    "\"profile\":\"H264ConstrainedHigh\"},"
    "{\"name\":\"360p0\",\"fps\":0,\"bitrate\":800000,\"width\":640,\"height\":360,"
    "\"profile\":\"H264ConstrainedHigh\"},"
    "{\"name\":\"480p0\",\"fps\":0,\"bitrate\":1600000,\"width\":854,\"height\":480,"
    "\"profile\":\"H264ConstrainedHigh\"},"
    "{\"name\":\"720p0\",\"fps\":0,\"bitrate\":3000000,\"width\":1280,\"height\":720,"
    "\"profile\":\"H264ConstrainedHigh\"}]";

static const struct {
    const char *name;
    ladder_h264_profile_t value;
} profile_names[] = {
    {"H264Baseline", LADDER_H264_BASELINE},
    {"H264Main", LADDER_H264_MAIN},
    {"H264High", LADDER_H264_HIGH},
    {"H264ConstrainedHigh", LADDER_H264_CONSTRAINED_HIGH},
};

const char *ladder_profile_name(ladder_h264_profile_t profile)
{
    for (size_t i = 0; i < sizeof profile_names / sizeof profile_names[0]; i++)
        if (profile_names[i].value == profile)
            return profile_names[i].name;
    return "";
}

/* ---- parsing ---- */

/* Reads an integral JSON number (1280 or 1280.0) in [min, max]. Returns 1 when present and
 * valid, 0 when absent, -1 with a message when invalid. */
static int read_integer(const json_t *obj, size_t index, const char *key, int64_t min, int64_t max,
                        int64_t *out, char *err, size_t err_size)
{
    const json_t *value = json_object_get(obj, key);
    if (!value || json_is_null(value))
        return 0;
    double number = json_is_number(value) ? json_number_value(value) : NAN;
    if (!json_is_number(value) || !isfinite(number) || number != floor(number)) {
        snprintf(err, err_size, "profiles[%zu].%s must be an integer", index, key);
        return -1;
    }
    if (number < (double)min || number > (double)max) {
        snprintf(err, err_size, "profiles[%zu].%s must be between %lld and %lld", index, key,
                 (long long)min, (long long)max);
        return -1;
    }
    *out = (int64_t)number;
    return 1;
}

static int require_integer(const json_t *obj, size_t index, const char *key, int64_t min,
                           int64_t max, int64_t *out, char *err, size_t err_size)
{
    int ret = read_integer(obj, index, key, min, max, out, err, err_size);
    if (ret == 0) {
        snprintf(err, err_size, "profiles[%zu].%s is required", index, key);
        return -1;
    }
    return ret < 0 ? -1 : 0;
}

/* The name becomes a directory and a URI path segment: the API checked it by the same rule. */
static int read_name(const json_t *obj, size_t index, const ladder_t *ladder, char *out, char *err,
                     size_t err_size)
{
    const json_t *value = json_object_get(obj, "name");
    if (!json_is_string(value)) {
        snprintf(err, err_size, "profiles[%zu].name is required and must be a string", index);
        return -1;
    }
    const char *name = json_string_value(value);
    size_t len = json_string_length(value);
    int code = rendition_name_check(name, len);
    if (code != RENDITION_NAME_OK) {
        snprintf(err, err_size, "profiles[%zu].name %s", index, rendition_name_strerror(code));
        return -1;
    }
    for (size_t i = 0; i < ladder->count; i++) {
        if (strcmp(ladder->profiles[i].name, name) == 0) {
            snprintf(err, err_size, "profiles[%zu].name \"%s\" is used twice", index, name);
            return -1;
        }
    }
    memcpy(out, name, len + 1);
    return 0;
}

/* "2", "2.0", " 2.5"... seconds; a JSON number is accepted too. */
static int read_gop(const json_t *obj, size_t index, double *out, char *err, size_t err_size)
{
    const json_t *value = json_object_get(obj, "gop");
    *out = 0;
    if (!value || json_is_null(value))
        return 0;
    double seconds = NAN;
    if (json_is_number(value)) {
        seconds = json_number_value(value);
    } else if (json_is_string(value) && json_string_length(value) > 0 &&
               json_string_length(value) < 32) {
        const char *text = json_string_value(value);
        char *end = NULL;
        seconds = strtod(text, &end);
        if (end == text || *end != '\0')
            seconds = NAN;
    }
    if (!isfinite(seconds) || seconds < 0 || seconds > MAX_GOP_S) {
        snprintf(err, err_size, "profiles[%zu].gop must be a number of seconds from 0 to %g", index,
                 MAX_GOP_S);
        return -1;
    }
    *out = seconds;
    return 0;
}

static int read_profile(const json_t *obj, size_t index, ladder_h264_profile_t *out, char *err,
                        size_t err_size)
{
    const json_t *value = json_object_get(obj, "profile");
    *out = LADDER_H264_DEFAULT;
    if (!value || json_is_null(value))
        return 0;
    const char *text = json_is_string(value) ? json_string_value(value) : "";
    for (size_t i = 0; i < sizeof profile_names / sizeof profile_names[0]; i++) {
        if (strcmp(text, profile_names[i].name) == 0) {
            *out = profile_names[i].value;
            return 0;
        }
    }
    snprintf(err, err_size,
             "profiles[%zu].profile must be H264Baseline, H264Main, H264High or "
             "H264ConstrainedHigh",
             index);
    return -1;
}

static int read_encoder(const json_t *obj, size_t index, char *err, size_t err_size)
{
    const json_t *value = json_object_get(obj, "encoder");
    if (!value || json_is_null(value))
        return 0;
    if (json_is_string(value) && strcmp(json_string_value(value), "H.264") == 0)
        return 0;
    snprintf(err, err_size, "profiles[%zu].encoder must be \"H.264\"", index);
    return -1;
}

static int read_numbers(const json_t *obj, size_t index, ladder_profile_t *p, char *err,
                        size_t err_size)
{
    int64_t width, height, bitrate, fps, fps_den = 1, quality = -1;
    if (require_integer(obj, index, "width", LADDER_MIN_BOX, LADDER_MAX_BOX, &width, err,
                        err_size) < 0 ||
        require_integer(obj, index, "height", LADDER_MIN_BOX, LADDER_MAX_BOX, &height, err,
                        err_size) < 0 ||
        require_integer(obj, index, "bitrate", 400, MAX_BITRATE, &bitrate, err, err_size) < 0 ||
        require_integer(obj, index, "fps", 0, MAX_FPS_NUM, &fps, err, err_size) < 0 ||
        read_integer(obj, index, "fpsDen", 1, MAX_FPS_DEN, &fps_den, err, err_size) < 0 ||
        read_integer(obj, index, "quality", 0, MAX_QUALITY, &quality, err, err_size) < 0)
        return -1;
    if (fps > MAX_FPS * fps_den) {
        snprintf(err, err_size, "profiles[%zu].fps/fpsDen must be at most %d", index, MAX_FPS);
        return -1;
    }
    p->width = (int)width;
    p->height = (int)height;
    p->bitrate = bitrate;
    p->fps = (int)fps;
    p->fps_den = (int)fps_den;
    p->quality = (int)quality;
    return 0;
}

static int parse_profile(const json_t *obj, size_t index, ladder_t *ladder, char *err,
                         size_t err_size)
{
    if (!json_is_object(obj)) {
        snprintf(err, err_size, "profiles[%zu] must be an object", index);
        return -1;
    }
    ladder_profile_t *p = &ladder->profiles[ladder->count];
    memset(p, 0, sizeof *p);
    if (read_name(obj, index, ladder, p->name, err, err_size) < 0 ||
        read_numbers(obj, index, p, err, err_size) < 0 ||
        read_gop(obj, index, &p->gop_s, err, err_size) < 0 ||
        read_profile(obj, index, &p->profile, err, err_size) < 0 ||
        read_encoder(obj, index, err, err_size) < 0)
        return -1;
    ladder->count++;
    return 0;
}

static int parse_array(const json_t *root, ladder_t *out, char *err, size_t err_size)
{
    if (!json_is_array(root)) {
        snprintf(err, err_size, "profiles must be an array");
        return -1;
    }
    if (json_array_size(root) > LADDER_MAX_RUNGS) {
        snprintf(err, err_size, "profiles has %zu entries; at most %d are supported",
                 json_array_size(root), LADDER_MAX_RUNGS);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(root); i++)
        if (parse_profile(json_array_get(root, i), i, out, err, err_size) < 0)
            return -1;
    return 0;
}

int ladder_parse(const char *json, size_t len, ladder_t *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (!json) {
        json = ladder_default_json;
        len = strlen(ladder_default_json);
    }
    json_error_t error;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (!root) {
        snprintf(err, err_size, "profiles is not valid JSON: %s (line %d)", error.text, error.line);
        return -1;
    }
    if (json_is_null(root)) {
        json_decref(root);
        return ladder_parse(NULL, 0, out, err, err_size);
    }
    int ret = parse_array(root, out, err, err_size);
    json_decref(root);
    if (ret < 0)
        memset(out, 0, sizeof *out);
    return ret;
}

bool ladder_is_passthrough(const char *json)
{
    if (!json)
        return false;
    json_t *root = json_loads(json, JSON_DECODE_ANY, NULL);
    bool passthrough = json_is_array(root) && json_array_size(root) == 0;
    json_decref(root);
    return passthrough;
}

/* ---- planning ---- */

static int floor_even(double value)
{
    int v = (int)floor(value);
    return v - (v & 1);
}

static int round_even(double value)
{
    return 2 * (int)lround(value / 2.0);
}

/* Fits the source aspect ratio in the box, short side of the box first. */
static void fit_box(int box_w, int box_h, int src_w, int src_h, int *w, int *h)
{
    if (src_h > src_w && box_w > box_h) { /* portrait source: turn a landscape box */
        int t = box_w;
        box_w = box_h;
        box_h = t;
    }
    double aspect = (double)src_w / (double)src_h;
    if (box_w >= box_h) {
        *h = floor_even(box_h);
        *w = round_even(*h * aspect);
        if (*w > box_w) {
            *w = floor_even(box_w);
            *h = round_even(*w / aspect);
        }
    } else {
        *w = floor_even(box_w);
        *h = round_even(*w / aspect);
        if (*h > box_h) {
            *h = floor_even(box_h);
            *w = round_even(*h * aspect);
        }
    }
    if (*w > floor_even(box_w))
        *w = floor_even(box_w);
    if (*h > floor_even(box_h))
        *h = floor_even(box_h);
}

static bool source_rate_known(const ladder_source_t *src)
{
    return src->fps_num > 0 && src->fps_den > 0;
}

/* Output rate of a profile: the source's unless it asks for less. */
static void plan_rate(const ladder_profile_t *p, const ladder_source_t *src, ladder_rung_t *r)
{
    bool known = source_rate_known(src);
    if (p->fps == 0) {
        r->source_rate = true;
        r->fps_num = known ? src->fps_num : 0;
        r->fps_den = known ? src->fps_den : 1;
        return;
    }
    /* p->fps / p->fps_den >= src->fps_num / src->fps_den, in integers */
    if (known && (int64_t)p->fps * src->fps_den >= (int64_t)src->fps_num * p->fps_den) {
        if ((int64_t)p->fps * src->fps_den > (int64_t)src->fps_num * p->fps_den)
            snprintf(r->note, sizeof r->note,
                     "%s: %d/%d fps is above the source's %d/%d: keeps the source rate", p->name,
                     p->fps, p->fps_den, src->fps_num, src->fps_den);
        r->source_rate = true;
        r->fps_num = src->fps_num;
        r->fps_den = src->fps_den;
        return;
    }
    r->source_rate = false;
    r->fps_num = p->fps;
    r->fps_den = p->fps_den;
}

static bool same_rate(const ladder_rung_t *a, const ladder_rung_t *b)
{
    if (a->source_rate || b->source_rate)
        return a->source_rate == b->source_rate;
    return (int64_t)a->fps_num * b->fps_den == (int64_t)b->fps_num * a->fps_den;
}

/* Sizes and rates every profile; clamped or too small ones are flagged in *r. Returns false
 * (with the reason in skip) when the profile cannot make a picture at all. */
static bool plan_size(const ladder_profile_t *p, const ladder_source_t *src, ladder_rung_t *r,
                      ladder_skip_t *skip)
{
    int w, h;
    fit_box(p->width, p->height, src->width, src->height, &w, &h);
    if (w > src->width || h > src->height) {
        r->clamped = true;
        w = floor_even(src->width);
        h = floor_even(src->height);
    }
    if (w < LADDER_MIN_OUTPUT || h < LADDER_MIN_OUTPUT) {
        snprintf(skip->reason, sizeof skip->reason,
                 "%s: %dx%d on the %dx%d source is too small: skipped", p->name, w, h, src->width,
                 src->height);
        return false;
    }
    r->width = w;
    r->height = h;
    return true;
}

static void add_skip(ladder_plan_t *plan, size_t profile, const ladder_skip_t *skip)
{
    plan->skipped[plan->skipped_count] = *skip;
    plan->skipped[plan->skipped_count].profile = profile;
    plan->skipped_count++;
}

/* A clamped rung duplicates a kept rung of the same size and rate: returns its index or -1. */
static int find_same(const ladder_plan_t *plan, const ladder_rung_t *r)
{
    for (size_t i = 0; i < plan->count; i++) {
        const ladder_rung_t *k = &plan->rungs[i];
        if (k->width == r->width && k->height == r->height && same_rate(k, r))
            return (int)i;
    }
    return -1;
}

static int64_t box_area(const ladder_profile_t *p)
{
    return (int64_t)p->width * p->height;
}

/* Keeps the clamped rungs, smallest box first, unless one of that size already exists. */
static void keep_clamped(const ladder_t *ladder, const ladder_source_t *src, ladder_rung_t *cands,
                         size_t ncands, ladder_plan_t *plan)
{
    bool done[LADDER_MAX_RUNGS] = {false};
    for (;;) {
        int best = -1;
        for (size_t i = 0; i < ncands; i++)
            if (!done[i] && (best < 0 || box_area(&ladder->profiles[cands[i].profile]) <
                                             box_area(&ladder->profiles[cands[best].profile])))
                best = (int)i;
        if (best < 0)
            return;
        done[best] = true;
        ladder_rung_t *r = &cands[best];
        const ladder_profile_t *p = &ladder->profiles[r->profile];
        int same = find_same(plan, r);
        if (same >= 0) {
            ladder_skip_t skip = {0};
            snprintf(skip.reason, sizeof skip.reason,
                     "%s: %dx%d is larger than the %dx%d source and %s already has %dx%d: "
                     "skipped",
                     p->name, p->width, p->height, src->width, src->height,
                     ladder->profiles[plan->rungs[same].profile].name, r->width, r->height);
            add_skip(plan, r->profile, &skip);
            continue;
        }
        char rate_note[LADDER_NOTE_MAX];
        snprintf(rate_note, sizeof rate_note, "%s", r->note);
        snprintf(r->note, sizeof r->note,
                 "%s: %dx%d is larger than the %dx%d source: clamped to %dx%d%s%.60s", p->name,
                 p->width, p->height, src->width, src->height, r->width, r->height,
                 rate_note[0] ? "; " : "", rate_note);
        plan->rungs[plan->count++] = *r;
    }
}

static int64_t rung_area(const ladder_rung_t *r)
{
    return (int64_t)r->width * r->height;
}

/* Largest picture first; equal sizes keep the user's order. */
static int compare_rungs(const void *a, const void *b)
{
    const ladder_rung_t *x = a, *y = b;
    if (rung_area(x) != rung_area(y))
        return rung_area(x) > rung_area(y) ? -1 : 1;
    return x->profile < y->profile ? -1 : (x->profile > y->profile);
}

static bool can_scale_from(const ladder_rung_t *parent, const ladder_rung_t *child)
{
    if (parent->width < child->width || parent->height < child->height)
        return false;
    if (parent->width > LADDER_MAX_SCALE_STEP * child->width ||
        parent->height > LADDER_MAX_SCALE_STEP * child->height)
        return false;
    /* The parent must carry every frame the child may pick. */
    return parent->source_rate || same_rate(parent, child);
}

static void plan_cascade(ladder_plan_t *plan)
{
    for (size_t i = 0; i < plan->count; i++) {
        ladder_rung_t *r = &plan->rungs[i];
        r->parent = -1;
        for (size_t j = 0; j < i; j++) {
            const ladder_rung_t *p = &plan->rungs[j];
            if (can_scale_from(p, r) &&
                (r->parent < 0 || rung_area(p) <= rung_area(&plan->rungs[r->parent])))
                r->parent = (int)j;
        }
    }
}

int ladder_plan(const ladder_t *ladder, const ladder_source_t *source, ladder_plan_t *out,
                char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (!ladder || !source || source->width < 2 || source->height < 2 ||
        source->width > 4 * LADDER_MAX_BOX || source->height > 4 * LADDER_MAX_BOX) {
        snprintf(err, err_size, "invalid source size %dx%d", source ? source->width : 0,
                 source ? source->height : 0);
        return -1;
    }
    ladder_rung_t clamped[LADDER_MAX_RUNGS];
    size_t nclamped = 0;
    for (size_t i = 0; i < ladder->count && i < LADDER_MAX_RUNGS; i++) {
        ladder_rung_t r = {.profile = i};
        ladder_skip_t skip = {0};
        plan_rate(&ladder->profiles[i], source, &r);
        if (!plan_size(&ladder->profiles[i], source, &r, &skip))
            add_skip(out, i, &skip);
        else if (r.clamped)
            clamped[nclamped++] = r;
        else
            out->rungs[out->count++] = r;
    }
    keep_clamped(ladder, source, clamped, nclamped, out);
    qsort(out->rungs, out->count, sizeof out->rungs[0], compare_rungs);
    plan_cascade(out);
    return 0;
}
