/* Unit tests for the ladder: profile parsing and validation, and the plan (sizes, aspect ratio,
 * clamping, frame rates, scale cascade, order) for common and awkward sources. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "media/ladder.h"

static ladder_t parse_ok(const char *json)
{
    ladder_t ladder;
    char err[256] = "";
    int rc = ladder_parse(json, json ? strlen(json) : 0, &ladder, err, sizeof err);
    cr_assert_eq(rc, 0, "ladder_parse failed: %s", err);
    return ladder;
}

static void parse_fails(const char *json, const char *needle)
{
    ladder_t ladder;
    char err[256] = "";
    int rc = ladder_parse(json, strlen(json), &ladder, err, sizeof err);
    cr_assert_eq(rc, -1, "accepted %s", json);
    cr_assert_eq(ladder.count, 0);
    cr_assert_not_null(strstr(err, needle), "error \"%s\" lacks \"%s\" for %s", err, needle, json);
}

static ladder_plan_t plan_ok(const ladder_t *ladder, int w, int h, int fps_num, int fps_den)
{
    ladder_source_t src = {.width = w, .height = h, .fps_num = fps_num, .fps_den = fps_den};
    ladder_plan_t plan;
    char err[256] = "";
    cr_assert_eq(ladder_plan(ladder, &src, &plan, err, sizeof err), 0, "%s", err);
    return plan;
}

/* The rung planned for the profile named name, or NULL when it was skipped. */
static const ladder_rung_t *rung_of(const ladder_t *ladder, const ladder_plan_t *plan,
                                    const char *name)
{
    for (size_t i = 0; i < plan->count; i++)
        if (strcmp(ladder->profiles[plan->rungs[i].profile].name, name) == 0)
            return &plan->rungs[i];
    return NULL;
}

static void assert_size(const ladder_t *ladder, const ladder_plan_t *plan, const char *name, int w,
                        int h)
{
    const ladder_rung_t *r = rung_of(ladder, plan, name);
    cr_assert_not_null(r, "%s was skipped", name);
    cr_assert(r->width == w && r->height == h, "%s: %dx%d, want %dx%d", name, r->width, r->height,
              w, h);
}

static const char *parent_name(const ladder_t *ladder, const ladder_plan_t *plan, const char *name)
{
    const ladder_rung_t *r = rung_of(ladder, plan, name);
    cr_assert_not_null(r);
    if (r->parent < 0)
        return "source";
    cr_assert_lt((size_t)r->parent, plan->count);
    return ladder->profiles[plan->rungs[r->parent].profile].name;
}

/* Invariants of every plan: even sizes within the source, parents before children, at most
 * LADDER_MAX_SCALE_STEP per step, largest first. */
static void assert_plan_sane(const ladder_plan_t *plan, int src_w, int src_h)
{
    for (size_t i = 0; i < plan->count; i++) {
        const ladder_rung_t *r = &plan->rungs[i];
        cr_assert_eq(r->width % 2, 0);
        cr_assert_eq(r->height % 2, 0);
        cr_assert_leq(r->width, src_w);
        cr_assert_leq(r->height, src_h);
        cr_assert_geq(r->width, LADDER_MIN_OUTPUT);
        if (i > 0)
            cr_assert_geq((long)plan->rungs[i - 1].width * plan->rungs[i - 1].height,
                          (long)r->width * r->height, "not largest first");
        if (r->parent >= 0) {
            cr_assert_lt(r->parent, (int)i, "parent after child");
            const ladder_rung_t *p = &plan->rungs[r->parent];
            cr_assert_geq(p->width, r->width);
            cr_assert_leq(p->width, LADDER_MAX_SCALE_STEP * r->width);
            cr_assert_leq(p->height, LADDER_MAX_SCALE_STEP * r->height);
        }
    }
}

/* ---- parsing ---- */

Test(ladder, default_ladder_parses)
{
    ladder_t ladder = parse_ok(ladder_default_json);
    cr_assert_eq(ladder.count, 4);
    cr_assert_str_eq(ladder.profiles[0].name, "240p0");
    cr_assert_eq(ladder.profiles[0].width, 426);
    cr_assert_eq(ladder.profiles[0].height, 240);
    cr_assert_eq(ladder.profiles[0].bitrate, 250000);
    cr_assert_eq(ladder.profiles[0].fps, 0);
    cr_assert_eq(ladder.profiles[0].fps_den, 1);
    cr_assert_eq(ladder.profiles[0].quality, -1);
    cr_assert_eq(ladder.profiles[0].gop_s, 0);
    cr_assert_eq(ladder.profiles[3].profile, LADDER_H264_CONSTRAINED_HIGH);
    cr_assert_str_eq(ladder_profile_name(ladder.profiles[3].profile), "H264ConstrainedHigh");
}

Test(ladder, null_means_default_and_empty_means_passthrough)
{
    cr_assert_eq(parse_ok(NULL).count, 4);
    cr_assert_eq(parse_ok("null").count, 4);
    cr_assert_eq(parse_ok("[]").count, 0);
    cr_assert_eq(parse_ok(" [ ] ").count, 0);
    cr_assert(ladder_is_passthrough("[]"));
    cr_assert(ladder_is_passthrough(" [ ] "));
    cr_assert_not(ladder_is_passthrough(NULL));
    cr_assert_not(ladder_is_passthrough("null"));
    cr_assert_not(ladder_is_passthrough("[{\"name\":\"a\"}]"));
    cr_assert_not(ladder_is_passthrough("[")); /* invalid: transcoder_new says why */
    cr_assert_not(ladder_is_passthrough("{}"));
}

Test(ladder, every_field)
{
    ladder_t ladder = parse_ok(
        "[{\"name\":\"a_1.x-y\",\"width\":1920,\"height\":1080,\"bitrate\":6000000,\"fps\":30000,"
        "\"fpsDen\":1001,\"gop\":\"2.5\",\"profile\":\"H264Main\",\"quality\":23,"
        "\"encoder\":\"H.264\",\"unknownField\":true},"
        "{\"name\":\"b\",\"width\":640.0,\"height\":360,\"bitrate\":400,\"fps\":15,\"gop\":\"2\","
        "\"profile\":\"H264Baseline\"},"
        "{\"name\":\"c\",\"width\":640,\"height\":360,\"bitrate\":800000,\"fps\":0,\"gop\":1.5,"
        "\"profile\":\"H264High\",\"quality\":null}]");
    cr_assert_eq(ladder.count, 3);
    const ladder_profile_t *a = &ladder.profiles[0], *b = &ladder.profiles[1],
                           *c = &ladder.profiles[2];
    cr_assert_str_eq(a->name, "a_1.x-y");
    cr_assert_eq(a->fps, 30000);
    cr_assert_eq(a->fps_den, 1001);
    cr_assert_float_eq(a->gop_s, 2.5, 1e-9);
    cr_assert_eq(a->profile, LADDER_H264_MAIN);
    cr_assert_eq(a->quality, 23);
    cr_assert_eq(b->width, 640);
    cr_assert_eq(b->bitrate, 400);
    cr_assert_float_eq(b->gop_s, 2.0, 1e-9);
    cr_assert_eq(b->profile, LADDER_H264_BASELINE);
    cr_assert_float_eq(c->gop_s, 1.5, 1e-9);
    cr_assert_eq(c->profile, LADDER_H264_HIGH);
    cr_assert_eq(c->quality, -1);
}

Test(ladder, malformed_json)
{
    parse_fails("", "not valid JSON");
    parse_fails("[", "not valid JSON");
    parse_fails("[{\"name\":\"a\"}", "not valid JSON");
    parse_fails("{}", "must be an array");
    parse_fails("\"720p\"", "must be an array");
    parse_fails("[1]", "profiles[0] must be an object");
    parse_fails("[{\"name\":\"a\",\"name\":\"b\",\"width\":640,\"height\":360,\"bitrate\":1000,"
                "\"fps\":0}]",
                "not valid JSON");
}

#define OK_REST "\"width\":640,\"height\":360,\"bitrate\":800000,\"fps\":0"

Test(ladder, malformed_profile_values)
{
    parse_fails("[{" OK_REST "}]", "profiles[0].name is required");
    parse_fails("[{\"name\":\"\"," OK_REST "}]", "profiles[0].name must be");
    parse_fails("[{\"name\":\"../x\"," OK_REST "}]", "name must be");
    parse_fails("[{\"name\":\".hidden\"," OK_REST "}]", "name must be");
    parse_fails("[{\"name\":\"a b\"," OK_REST "}]", "name must be");
    parse_fails("[{\"name\":\"a\\u0000b\"," OK_REST "}]", "not valid JSON");
    parse_fails("[{\"name\":7," OK_REST "}]", "name is required and must be a string");
    parse_fails("[{\"name\":\"source\"," OK_REST "}]", "reserved");
    parse_fails("[{\"name\":\"a\"," OK_REST "},{\"name\":\"a\"," OK_REST "}]",
                "profiles[1].name \"a\" is used twice");
    parse_fails("[{\"name\":\"a\",\"height\":360,\"bitrate\":800000,\"fps\":0}]",
                "profiles[0].width is required");
    parse_fails("[{\"name\":\"a\",\"width\":100,\"height\":360,\"bitrate\":800000,\"fps\":0}]",
                "profiles[0].width must be between 128");
    parse_fails("[{\"name\":\"a\",\"width\":640,\"height\":99999,\"bitrate\":800000,\"fps\":0}]",
                "height must be between");
    parse_fails("[{\"name\":\"a\",\"width\":640.5,\"height\":360,\"bitrate\":800000,\"fps\":0}]",
                "width must be an integer");
    parse_fails("[{\"name\":\"a\",\"width\":\"640\",\"height\":360,\"bitrate\":800000,\"fps\":0}]",
                "width must be an integer");
    parse_fails("[{\"name\":\"a\",\"width\":640,\"height\":360,\"bitrate\":399,\"fps\":0}]",
                "bitrate must be between 400");
    parse_fails("[{\"name\":\"a\",\"width\":640,\"height\":360,\"bitrate\":800000}]",
                "fps is required");
    parse_fails("[{\"name\":\"a\",\"width\":640,\"height\":360,\"bitrate\":800000,\"fps\":-1}]",
                "fps must be between 0");
    parse_fails("[{\"name\":\"a\"," OK_REST ",\"fpsDen\":0}]", "fpsDen must be between 1");
    parse_fails("[{\"name\":\"a\",\"width\":640,\"height\":360,\"bitrate\":800000,\"fps\":300}]",
                "fps/fpsDen must be at most 240");
    parse_fails("[{\"name\":\"a\"," OK_REST ",\"quality\":45}]",
                "quality must be between 0 and 44");
    parse_fails("[{\"name\":\"a\"," OK_REST ",\"gop\":\"abc\"}]", "gop must be");
    parse_fails("[{\"name\":\"a\"," OK_REST ",\"gop\":\"2s\"}]", "gop must be");
    parse_fails("[{\"name\":\"a\"," OK_REST ",\"gop\":\"\"}]", "gop must be");
    parse_fails("[{\"name\":\"a\"," OK_REST ",\"gop\":\"-1\"}]", "gop must be");
    parse_fails("[{\"name\":\"a\"," OK_REST ",\"gop\":\"nan\"}]", "gop must be");
    parse_fails("[{\"name\":\"a\"," OK_REST ",\"gop\":\"1e9\"}]", "gop must be");
    parse_fails("[{\"name\":\"a\"," OK_REST ",\"gop\":true}]", "gop must be");
    parse_fails("[{\"name\":\"a\"," OK_REST ",\"profile\":\"H264Extended\"}]",
                "profile must be H264Baseline");
    parse_fails("[{\"name\":\"a\"," OK_REST ",\"profile\":3}]", "profile must be");
    parse_fails("[{\"name\":\"a\"," OK_REST ",\"encoder\":\"VP9\"}]", "encoder must be");
}

Test(ladder, too_many_profiles)
{
    char json[8192] = "[";
    for (int i = 0; i <= LADDER_MAX_RUNGS; i++) {
        char one[128];
        snprintf(one, sizeof one, "%s{\"name\":\"r%d\"," OK_REST "}", i ? "," : "", i);
        strncat(json, one, sizeof json - strlen(json) - 1);
    }
    strncat(json, "]", sizeof json - strlen(json) - 1);
    parse_fails(json, "at most 16");
}

/* ---- planning ---- */

Test(ladder, default_ladder_on_1080p)
{
    ladder_t ladder = parse_ok(NULL);
    ladder_plan_t plan = plan_ok(&ladder, 1920, 1080, 30, 1);
    cr_assert_eq(plan.count, 4);
    cr_assert_eq(plan.skipped_count, 0);
    assert_size(&ladder, &plan, "720p0", 1280, 720);
    assert_size(&ladder, &plan, "480p0", 854, 480);
    assert_size(&ladder, &plan, "360p0", 640, 360);
    assert_size(&ladder, &plan, "240p0", 426, 240);
    /* order: largest first */
    cr_assert_str_eq(ladder.profiles[plan.rungs[0].profile].name, "720p0");
    cr_assert_str_eq(ladder.profiles[plan.rungs[3].profile].name, "240p0");
    /* cascade: 1080 -> 720 -> 480 -> 360 -> 240, each step at most 2x */
    cr_assert_str_eq(parent_name(&ladder, &plan, "720p0"), "source");
    cr_assert_str_eq(parent_name(&ladder, &plan, "480p0"), "720p0");
    cr_assert_str_eq(parent_name(&ladder, &plan, "360p0"), "480p0");
    cr_assert_str_eq(parent_name(&ladder, &plan, "240p0"), "360p0");
    for (size_t i = 0; i < plan.count; i++) {
        cr_assert(plan.rungs[i].source_rate);
        cr_assert_eq(plan.rungs[i].fps_num, 30);
        cr_assert_eq(plan.rungs[i].fps_den, 1);
        cr_assert_not(plan.rungs[i].clamped);
        cr_assert_str_eq(plan.rungs[i].note, "");
    }
    assert_plan_sane(&plan, 1920, 1080);
}

Test(ladder, default_ladder_on_720p)
{
    ladder_t ladder = parse_ok(NULL);
    ladder_plan_t plan = plan_ok(&ladder, 1280, 720, 30000, 1001);
    cr_assert_eq(plan.count, 4);
    assert_size(&ladder, &plan, "720p0", 1280, 720);
    assert_size(&ladder, &plan, "240p0", 426, 240);
    cr_assert_not(rung_of(&ladder, &plan, "720p0")->clamped, "same size is not an upscale");
    cr_assert_eq(rung_of(&ladder, &plan, "480p0")->fps_num, 30000);
    cr_assert_eq(rung_of(&ladder, &plan, "480p0")->fps_den, 1001);
    assert_plan_sane(&plan, 1280, 720);
}

Test(ladder, default_ladder_on_480p_skips_the_720p_rung)
{
    ladder_t ladder = parse_ok(NULL);
    ladder_plan_t plan = plan_ok(&ladder, 854, 480, 30, 1);
    cr_assert_eq(plan.count, 3);
    cr_assert_null(rung_of(&ladder, &plan, "720p0"));
    cr_assert_eq(plan.skipped_count, 1);
    cr_assert_str_eq(ladder.profiles[plan.skipped[0].profile].name, "720p0");
    cr_assert_not_null(strstr(plan.skipped[0].reason, "larger than the 854x480 source"), "%s",
                       plan.skipped[0].reason);
    cr_assert_not_null(strstr(plan.skipped[0].reason, "480p0 already has 854x480"));
    assert_size(&ladder, &plan, "480p0", 854, 480);
    assert_plan_sane(&plan, 854, 480);
}

Test(ladder, portrait_source_turns_the_boxes)
{
    ladder_t ladder = parse_ok(NULL);
    ladder_plan_t plan = plan_ok(&ladder, 720, 1280, 30, 1);
    cr_assert_eq(plan.count, 4);
    assert_size(&ladder, &plan, "720p0", 720, 1280);
    assert_size(&ladder, &plan, "480p0", 480, 854);
    assert_size(&ladder, &plan, "360p0", 360, 640);
    assert_size(&ladder, &plan, "240p0", 240, 426);
    cr_assert_str_eq(parent_name(&ladder, &plan, "480p0"), "720p0");
    assert_plan_sane(&plan, 720, 1280);
}

Test(ladder, four_by_three_and_ultrawide_fit_the_box)
{
    ladder_t ladder = parse_ok(NULL);
    ladder_plan_t plan = plan_ok(&ladder, 1440, 1080, 25, 1);
    assert_size(&ladder, &plan, "720p0", 960, 720);
    assert_size(&ladder, &plan, "480p0", 640, 480);
    assert_size(&ladder, &plan, "240p0", 320, 240);
    assert_plan_sane(&plan, 1440, 1080);
    /* 21:9: the height would make it too wide for the box, so the width decides */
    plan = plan_ok(&ladder, 2560, 1080, 30, 1);
    assert_size(&ladder, &plan, "720p0", 1280, 540);
    assert_size(&ladder, &plan, "240p0", 426, 180);
    assert_plan_sane(&plan, 2560, 1080);
}

Test(ladder, odd_source_sizes_give_even_pictures)
{
    ladder_t ladder = parse_ok(NULL);
    ladder_plan_t plan = plan_ok(&ladder, 853, 479, 30, 1);
    assert_plan_sane(&plan, 853, 479);
    /* 480p0 and 720p0 are both larger: 480p0 (the smaller box) is clamped, 720p0 skipped */
    const ladder_rung_t *r480 = rung_of(&ladder, &plan, "480p0");
    cr_assert_not_null(r480);
    cr_assert(r480->clamped);
    cr_assert_eq(r480->width, 852);
    cr_assert_eq(r480->height, 478);
    cr_assert_not_null(strstr(r480->note, "clamped to 852x478"), "%s", r480->note);
    cr_assert_null(rung_of(&ladder, &plan, "720p0"));
    cr_assert_eq(plan.count, 3);
    assert_size(&ladder, &plan, "360p0", 640, 360);
    plan = plan_ok(&ladder, 1279, 717, 30, 1);
    assert_plan_sane(&plan, 1279, 717);
    assert_size(&ladder, &plan, "720p0", 1278, 716);
}

Test(ladder, a_rung_larger_than_the_source_is_clamped_when_no_other_has_that_size)
{
    ladder_t ladder =
        parse_ok("[{\"name\":\"big\",\"width\":1920,\"height\":1080,\"bitrate\":6000000,"
                 "\"fps\":0},{\"name\":\"small\",\"width\":426,\"height\":240,"
                 "\"bitrate\":250000,\"fps\":0}]");
    ladder_plan_t plan = plan_ok(&ladder, 640, 360, 30, 1);
    cr_assert_eq(plan.count, 2);
    const ladder_rung_t *big = rung_of(&ladder, &plan, "big");
    cr_assert(big->clamped);
    cr_assert_eq(big->width, 640);
    cr_assert_eq(big->height, 360);
    cr_assert_not_null(strstr(big->note, "big: 1920x1080 is larger than the 640x360 source"));
    cr_assert_eq(big->parent, -1);
    cr_assert_str_eq(parent_name(&ladder, &plan, "small"), "big");
    /* a source smaller than every box: one clamped rung of the source size, the other skipped */
    plan = plan_ok(&ladder, 320, 180, 30, 1);
    cr_assert_eq(plan.count, 1);
    cr_assert_eq(plan.skipped_count, 1);
    cr_assert_str_eq(ladder.profiles[plan.rungs[0].profile].name, "small");
    cr_assert_eq(plan.rungs[0].width, 320);
    cr_assert_str_eq(ladder.profiles[plan.skipped[0].profile].name, "big");
}

Test(ladder, tiny_pictures_are_skipped)
{
    ladder_t ladder = parse_ok("[{\"name\":\"a\",\"width\":128,\"height\":128,\"bitrate\":100000,"
                               "\"fps\":0}]");
    ladder_plan_t plan = plan_ok(&ladder, 4000, 200, 30, 1);
    cr_assert_eq(plan.count, 0);
    cr_assert_eq(plan.skipped_count, 1);
    cr_assert_not_null(strstr(plan.skipped[0].reason, "too small"));
}

Test(ladder, frame_rates)
{
    ladder_t ladder = parse_ok(
        "[{\"name\":\"same\",\"width\":640,\"height\":360,\"bitrate\":800000,\"fps\":0},"
        "{\"name\":\"half\",\"width\":640,\"height\":360,\"bitrate\":800000,\"fps\":15},"
        "{\"name\":\"ntsc\",\"width\":640,\"height\":360,\"bitrate\":800000,\"fps\":24000,"
        "\"fpsDen\":1001},"
        "{\"name\":\"high\",\"width\":640,\"height\":360,\"bitrate\":800000,\"fps\":60},"
        "{\"name\":\"exact\",\"width\":640,\"height\":360,\"bitrate\":800000,\"fps\":30}]");
    ladder_plan_t plan = plan_ok(&ladder, 1280, 720, 30, 1);
    cr_assert_eq(plan.count, 5);
    const ladder_rung_t *same = rung_of(&ladder, &plan, "same");
    cr_assert(same->source_rate);
    const ladder_rung_t *half = rung_of(&ladder, &plan, "half");
    cr_assert_not(half->source_rate);
    cr_assert_eq(half->fps_num, 15);
    cr_assert_eq(half->fps_den, 1);
    const ladder_rung_t *ntsc = rung_of(&ladder, &plan, "ntsc");
    cr_assert_eq(ntsc->fps_num, 24000);
    cr_assert_eq(ntsc->fps_den, 1001);
    const ladder_rung_t *high = rung_of(&ladder, &plan, "high");
    cr_assert(high->source_rate);
    cr_assert_eq(high->fps_num, 30);
    cr_assert_not_null(strstr(high->note, "above the source"), "%s", high->note);
    const ladder_rung_t *exact = rung_of(&ladder, &plan, "exact");
    cr_assert(exact->source_rate);
    cr_assert_str_eq(exact->note, "");
    /* rungs of the same size reuse a picture: every one takes "same" (first, source rate) */
    cr_assert_eq(same->parent, -1);
    cr_assert_str_eq(parent_name(&ladder, &plan, "half"), "same");
    cr_assert_str_eq(parent_name(&ladder, &plan, "ntsc"), "same");
    /* unknown source rate: fps 0 takes every frame, a set rate is used as asked */
    plan = plan_ok(&ladder, 1280, 720, 0, 0);
    cr_assert(rung_of(&ladder, &plan, "same")->source_rate);
    cr_assert_eq(rung_of(&ladder, &plan, "same")->fps_num, 0);
    cr_assert_eq(rung_of(&ladder, &plan, "high")->fps_num, 60);
    cr_assert_not(rung_of(&ladder, &plan, "high")->source_rate);
}

Test(ladder, a_lower_rate_rung_cannot_feed_a_full_rate_one)
{
    ladder_t ladder = parse_ok(
        "[{\"name\":\"big15\",\"width\":854,\"height\":480,\"bitrate\":800000,\"fps\":15},"
        "{\"name\":\"small30\",\"width\":640,\"height\":360,\"bitrate\":800000,\"fps\":0},"
        "{\"name\":\"small15\",\"width\":426,\"height\":240,\"bitrate\":800000,\"fps\":15}]");
    ladder_plan_t plan = plan_ok(&ladder, 1280, 720, 30, 1);
    cr_assert_str_eq(parent_name(&ladder, &plan, "big15"), "source");
    cr_assert_str_eq(parent_name(&ladder, &plan, "small30"), "source");
    /* 360p at the source rate carries every frame: the smallest larger picture wins */
    cr_assert_str_eq(parent_name(&ladder, &plan, "small15"), "small30");
    assert_plan_sane(&plan, 1280, 720);
}

Test(ladder, big_steps_scale_from_the_source)
{
    ladder_t ladder =
        parse_ok("[{\"name\":\"a\",\"width\":1920,\"height\":1080,\"bitrate\":800000,\"fps\":0},"
                 "{\"name\":\"b\",\"width\":426,\"height\":240,\"bitrate\":800000,\"fps\":0}]");
    ladder_plan_t plan = plan_ok(&ladder, 3840, 2160, 60, 1);
    cr_assert_str_eq(parent_name(&ladder, &plan, "a"), "source");
    cr_assert_str_eq(parent_name(&ladder, &plan, "b"), "source", "4.5x is too big a step");
}

Test(ladder, invalid_source)
{
    ladder_t ladder = parse_ok(NULL);
    ladder_source_t src = {.width = 0, .height = 720};
    ladder_plan_t plan;
    char err[128] = "";
    cr_assert_eq(ladder_plan(&ladder, &src, &plan, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "invalid source size"));
    src = (ladder_source_t){.width = 1280, .height = -5};
    cr_assert_eq(ladder_plan(&ladder, &src, &plan, err, sizeof err), -1);
    cr_assert_eq(plan.count, 0);
}

Test(ladder, passthrough_plans_nothing)
{
    ladder_t ladder = parse_ok("[]");
    ladder_plan_t plan = plan_ok(&ladder, 1280, 720, 30, 1);
    cr_assert_eq(plan.count, 0);
    cr_assert_eq(plan.skipped_count, 0);
}
