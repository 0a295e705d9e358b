/* Validation of stream request bodies: a small, fixed JSON-Schema subset (the parts of Studio's
 * api-schema.yaml these payloads use) walked over static schema tables, reporting AJV-style errors.
 * The walk follows the schema, never the data, so its depth is bounded by the tables. */
#include "api/validate.h"

#include "store/rendition_name.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A hostile body can hold thousands of invalid items; past this many errors the list is cut so the
 * 422 response stays small. AJV has no such cap, but nobody reads error 101. */
#define VALIDATE_MAX_ERRORS 100

/* JSON types a schema node accepts. The bit order is the order type names appear in messages
 * ("must be string,number,array"). */
enum {
    TYPE_STRING = 1u << 0,
    TYPE_INTEGER = 1u << 1,
    TYPE_NUMBER = 1u << 2,
    TYPE_BOOLEAN = 1u << 3,
    TYPE_ARRAY = 1u << 4,
    TYPE_OBJECT = 1u << 5,
    TYPE_NULL = 1u << 6,
};

static const char *const type_names[] = {"string", "integer", "number", "boolean",
                                         "array",  "object",  "null"};
#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

typedef struct schema schema_t;

typedef struct schema_prop {
    const char *name;
    const schema_t *schema;
    bool required;
} schema_prop_t;

/* One schema node. Constraints apply only to values of their own type, as in JSON Schema, so a
 * node that accepts strings and objects (creatorId) carries both kinds of constraint. */
struct schema {
    const char *path; /* schemaPath of this node, without the trailing keyword */
    unsigned types;   /* TYPE_* bits */

    /* strings; lengths in code points, as AJV counts them */
    size_t min_length;
    size_t max_length;               /* 0 = unbounded */
    const char *const *enum_strings; /* NULL-terminated; NULL = any */
    const char *pattern;             /* shown in the message; matched by pattern_match */
    bool (*pattern_match)(const char *s, size_t len);
    bool rendition_name; /* also rendition_name_check's pattern, and not the reserved name */

    /* numbers */
    bool has_minimum;
    double minimum;
    bool has_maximum;
    double maximum;
    const int *enum_ints; /* allowed integer values; NULL = any */
    size_t enum_int_count;

    /* objects */
    const schema_prop_t *props;
    size_t prop_count;
    bool closed;                     /* additionalProperties: false */
    const schema_t *additional;      /* schema of values under unlisted keys; NULL = anything */
    const char *const *any_required; /* NULL-terminated: at least one must be present (anyOf) */

    /* arrays */
    const schema_t *items;
    size_t max_items;  /* 0 = unbounded */
    bool unique_names; /* items are objects whose "name" strings must differ */
};

/* ---- pattern matchers ---- */

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t prefix_len = strlen(prefix);
    return len >= prefix_len && memcmp(s, prefix, prefix_len) == 0;
}

/* ^(srt|rtmps?):// */
static bool match_target_url(const char *s, size_t len)
{
    return has_prefix(s, len, "srt://") || has_prefix(s, len, "rtmp://") ||
           has_prefix(s, len, "rtmps://");
}

/* ---- the schemas ---- */

#define FFMPEG "#/components/schemas/ffmpeg-profile"
#define TRANSCODE "#/components/schemas/transcode-profile"
#define PULL "#/components/schemas/stream/properties/pull"
#define POLICY "#/components/schemas/playback-policy"
#define TARGET "#/components/schemas/target"
#define MULTISTREAM "#/components/schemas/stream/properties/multistream"
#define CREATOR "#/components/schemas/input-creator-id"
#define TAGS "#/components/schemas/stream/properties/userTags"
#define RSPEC "#/components/schemas/stream/properties/recordingSpec"

static const char *const h264_profiles[] = {"H264Baseline", "H264Main", "H264High",
                                            "H264ConstrainedHigh", NULL};
static const char *const stream_encoders[] = {"H.264", NULL};
static const char *const transcode_encoders[] = {"H.264", "HEVC", "VP8", "VP9", NULL};
static const char *const policy_types[] = {"public", "jwt", "webhook", NULL};
static const char *const creator_types[] = {"unverified", NULL};
static const int is_mobile_values[] = {0, 1, 2};
static const char *const target_refs[] = {"id", "spec", NULL};

/* Profile fields, shared by ffmpeg-profile and transcode-profile except for name and encoder:
 * defines <prefix>_width, <prefix>_height, ... with schema paths under `base`. */
#define PROFILE_FIELDS(prefix, base)                                                               \
    static const schema_t prefix##_width = {.path = base "/properties/width",                      \
                                            .types = TYPE_INTEGER,                                 \
                                            .has_minimum = true,                                   \
                                            .minimum = 128};                                       \
    static const schema_t prefix##_height = {.path = base "/properties/height",                    \
                                             .types = TYPE_INTEGER,                                \
                                             .has_minimum = true,                                  \
                                             .minimum = 128};                                      \
    static const schema_t prefix##_bitrate = {.path = base "/properties/bitrate",                  \
                                              .types = TYPE_INTEGER,                               \
                                              .has_minimum = true,                                 \
                                              .minimum = 400};                                     \
    static const schema_t prefix##_fps = {                                                         \
        .path = base "/properties/fps", .types = TYPE_INTEGER, .has_minimum = true, .minimum = 0}; \
    static const schema_t prefix##_fps_den = {.path = base "/properties/fpsDen",                   \
                                              .types = TYPE_INTEGER,                               \
                                              .has_minimum = true,                                 \
                                              .minimum = 1};                                       \
    static const schema_t prefix##_quality = {.path = base "/properties/quality",                  \
                                              .types = TYPE_INTEGER,                               \
                                              .has_minimum = true,                                 \
                                              .minimum = 0,                                        \
                                              .has_maximum = true,                                 \
                                              .maximum = 44};                                      \
    static const schema_t prefix##_gop = {.path = base "/properties/gop", .types = TYPE_STRING};   \
    static const schema_t prefix##_profile_name = {                                                \
        .path = base "/properties/profile", .types = TYPE_STRING, .enum_strings = h264_profiles};

PROFILE_FIELDS(ffmpeg, FFMPEG)
PROFILE_FIELDS(transcode, TRANSCODE)

/* A stream profile's name becomes its rendition's directory: Studio's 1..500 characters narrowed
 * to what streamd can use (store/rendition_name.h). */
static const schema_t ffmpeg_name = {.path = FFMPEG "/properties/name",
                                     .types = TYPE_STRING,
                                     .min_length = 1,
                                     .max_length = RENDITION_NAME_MAX_LEN,
                                     .rendition_name = true};
static const schema_t transcode_name = {
    .path = TRANSCODE "/properties/name", .types = TYPE_STRING, .min_length = 1, .max_length = 500};

static const schema_t ffmpeg_encoder = {
    .path = FFMPEG "/properties/encoder", .types = TYPE_STRING, .enum_strings = stream_encoders};
static const schema_t transcode_encoder = {.path = TRANSCODE "/properties/encoder",
                                           .types = TYPE_STRING,
                                           .enum_strings = transcode_encoders};

static const schema_prop_t ffmpeg_profile_props[] = {
    {"width", &ffmpeg_width, true},
    {"name", &ffmpeg_name, true},
    {"height", &ffmpeg_height, true},
    {"bitrate", &ffmpeg_bitrate, true},
    {"fps", &ffmpeg_fps, true},
    {"fpsDen", &ffmpeg_fps_den, false},
    {"quality", &ffmpeg_quality, false},
    {"gop", &ffmpeg_gop, false},
    {"profile", &ffmpeg_profile_name, false},
    {"encoder", &ffmpeg_encoder, false},
};
static const schema_t ffmpeg_profile = {
    .path = FFMPEG,
    .types = TYPE_OBJECT,
    .props = ffmpeg_profile_props,
    .prop_count = COUNT(ffmpeg_profile_props),
    .closed = true,
};

static const schema_prop_t transcode_profile_props[] = {
    {"width", &transcode_width, false},          {"name", &transcode_name, false},
    {"height", &transcode_height, false},        {"bitrate", &transcode_bitrate, true},
    {"quality", &transcode_quality, false},      {"fps", &transcode_fps, false},
    {"fpsDen", &transcode_fps_den, false},       {"gop", &transcode_gop, false},
    {"profile", &transcode_profile_name, false}, {"encoder", &transcode_encoder, false},
};
static const schema_t transcode_profile = {
    .path = TRANSCODE,
    .types = TYPE_OBJECT,
    .props = transcode_profile_props,
    .prop_count = COUNT(transcode_profile_props),
    .closed = true,
};

/* profiles as a payload field: null asks for the default ladder. Each profile becomes a rendition
 * directory named after it, so names must differ, and a ladder has at most RENDITION_LADDER_MAX
 * of them: what the transcoder could not run is refused here. */
static const schema_t stream_profiles = {.path = "#/properties/profiles",
                                         .types = TYPE_ARRAY | TYPE_NULL,
                                         .items = &ffmpeg_profile,
                                         .max_items = RENDITION_LADDER_MAX,
                                         .unique_names = true};
/* profiles as validate_profiles sees them: a plain array. */
static const schema_t profile_list = {.path = "#/components/schemas/stream/properties/profiles",
                                      .types = TYPE_ARRAY,
                                      .items = &ffmpeg_profile,
                                      .max_items = RENDITION_LADDER_MAX,
                                      .unique_names = true};

static const schema_t rspec_profiles = {.path = RSPEC "/properties/profiles",
                                        .types = TYPE_ARRAY | TYPE_NULL,
                                        .items = &transcode_profile};
static const schema_prop_t rspec_props[] = {{"profiles", &rspec_profiles, false}};
static const schema_t recording_spec = {.path = RSPEC,
                                        .types = TYPE_OBJECT,
                                        .props = rspec_props,
                                        .prop_count = COUNT(rspec_props),
                                        .closed = true};

/* pull */
static const schema_t pull_source = {.path = PULL "/properties/source", .types = TYPE_STRING};
static const schema_t header_value = {.path = PULL "/properties/headers/additionalProperties",
                                      .types = TYPE_STRING};
static const schema_t pull_headers = {
    .path = PULL "/properties/headers", .types = TYPE_OBJECT, .additional = &header_value};
static const schema_t pull_is_mobile = {.path = PULL "/properties/isMobile",
                                        .types = TYPE_INTEGER | TYPE_BOOLEAN,
                                        .enum_ints = is_mobile_values,
                                        .enum_int_count = COUNT(is_mobile_values)};
static const schema_t pull_lat = {.path = PULL "/properties/location/properties/lat",
                                  .types = TYPE_NUMBER};
static const schema_t pull_lon = {.path = PULL "/properties/location/properties/lon",
                                  .types = TYPE_NUMBER};
static const schema_prop_t location_props[] = {{"lat", &pull_lat, true}, {"lon", &pull_lon, true}};
static const schema_t pull_location = {.path = PULL "/properties/location",
                                       .types = TYPE_OBJECT,
                                       .props = location_props,
                                       .prop_count = COUNT(location_props),
                                       .closed = true};
static const schema_prop_t pull_props[] = {
    {"source", &pull_source, true},
    {"headers", &pull_headers, false},
    {"isMobile", &pull_is_mobile, false},
    {"location", &pull_location, false},
};
static const schema_t pull = {.path = PULL,
                              .types = TYPE_OBJECT,
                              .props = pull_props,
                              .prop_count = COUNT(pull_props),
                              .closed = true};

/* playbackPolicy */
static const schema_t policy_type = {
    .path = POLICY "/properties/type", .types = TYPE_STRING, .enum_strings = policy_types};
static const schema_t policy_webhook_id = {.path = POLICY "/properties/webhookId",
                                           .types = TYPE_STRING};
static const schema_t policy_webhook_context = {.path = POLICY "/properties/webhookContext",
                                                .types = TYPE_OBJECT};
static const schema_t policy_refresh = {.path = POLICY "/properties/refreshInterval",
                                        .types = TYPE_NUMBER};
static const schema_t policy_origin = {.path = POLICY "/properties/allowedOrigins/items",
                                       .types = TYPE_STRING};
static const schema_t policy_origins = {
    .path = POLICY "/properties/allowedOrigins", .types = TYPE_ARRAY, .items = &policy_origin};
static const schema_prop_t policy_props[] = {
    {"type", &policy_type, true},
    {"webhookId", &policy_webhook_id, false},
    {"webhookContext", &policy_webhook_context, false},
    {"refreshInterval", &policy_refresh, false},
    {"allowedOrigins", &policy_origins, false},
};
static const schema_t playback_policy = {.path = POLICY,
                                         .types = TYPE_OBJECT | TYPE_NULL,
                                         .props = policy_props,
                                         .prop_count = COUNT(policy_props),
                                         .closed = true};

/* multistream */
static const schema_t target_profile = {
    .path = TARGET "/properties/profile", .types = TYPE_STRING, .min_length = 1, .max_length = 500};
static const schema_t target_video_only = {.path = TARGET "/properties/videoOnly",
                                           .types = TYPE_BOOLEAN};
static const schema_t target_id = {.path = TARGET "/properties/id", .types = TYPE_STRING};
static const schema_t spec_name = {.path = TARGET "/properties/spec/properties/name",
                                   .types = TYPE_STRING};
static const schema_t spec_url = {.path = "#/components/schemas/multistream-target/properties/url",
                                  .types = TYPE_STRING,
                                  .pattern = "^(srt|rtmps?)://",
                                  .pattern_match = match_target_url};
static const schema_prop_t spec_props[] = {{"name", &spec_name, false}, {"url", &spec_url, true}};
static const schema_t target_spec = {.path = TARGET "/properties/spec",
                                     .types = TYPE_OBJECT,
                                     .props = spec_props,
                                     .prop_count = COUNT(spec_props),
                                     .closed = true};
static const schema_prop_t target_props[] = {
    {"profile", &target_profile, true},
    {"videoOnly", &target_video_only, false},
    {"id", &target_id, false},
    {"spec", &target_spec, false},
};
static const schema_t target = {.path = TARGET,
                                .types = TYPE_OBJECT,
                                .props = target_props,
                                .prop_count = COUNT(target_props),
                                .closed = true,
                                .any_required = target_refs};
static const schema_t targets = {
    .path = MULTISTREAM "/properties/targets", .types = TYPE_ARRAY, .items = &target};
static const schema_prop_t multistream_props[] = {{"targets", &targets, false}};
static const schema_t multistream = {.path = MULTISTREAM,
                                     .types = TYPE_OBJECT,
                                     .props = multistream_props,
                                     .prop_count = COUNT(multistream_props),
                                     .closed = true};

/* creatorId: a plain string, or the {type, value} object it is stored as. */
static const schema_t creator_type = {
    .path = CREATOR "/properties/type", .types = TYPE_STRING, .enum_strings = creator_types};
static const schema_t creator_value = {.path = CREATOR "/properties/value", .types = TYPE_STRING};
static const schema_prop_t creator_props[] = {{"type", &creator_type, true},
                                              {"value", &creator_value, true}};
static const schema_t creator_id = {.path = CREATOR,
                                    .types = TYPE_STRING | TYPE_OBJECT,
                                    .min_length = 1,
                                    .props = creator_props,
                                    .prop_count = COUNT(creator_props),
                                    .closed = true};

/* userTags */
static const schema_t tag_item = {.path = TAGS "/additionalProperties/items",
                                  .types = TYPE_STRING | TYPE_NUMBER};
static const schema_t tag_value = {.path = TAGS "/additionalProperties",
                                   .types = TYPE_STRING | TYPE_NUMBER | TYPE_ARRAY,
                                   .items = &tag_item};
static const schema_t user_tags = {.path = TAGS, .types = TYPE_OBJECT, .additional = &tag_value};

/* Payload-level fields. */
static const schema_t stream_name = {
    .path = "#/properties/name", .types = TYPE_STRING, .min_length = 1};
static const schema_t record_flag = {.path = "#/properties/record", .types = TYPE_BOOLEAN};
static const schema_t suspended_flag = {.path = "#/properties/suspended", .types = TYPE_BOOLEAN};

static const schema_prop_t new_stream_props[] = {
    {"name", &stream_name, true},
    {"pull", &pull, false},
    {"creatorId", &creator_id, false},
    {"playbackPolicy", &playback_policy, false},
    {"profiles", &stream_profiles, false},
    {"record", &record_flag, false},
    {"recordingSpec", &recording_spec, false},
    {"multistream", &multistream, false},
    {"userTags", &user_tags, false},
};
static const schema_t new_stream_payload = {
    .path = "#",
    .types = TYPE_OBJECT,
    .props = new_stream_props,
    .prop_count = COUNT(new_stream_props),
    .closed = true,
};

static const schema_prop_t stream_patch_props[] = {
    {"creatorId", &creator_id, false},
    {"record", &record_flag, false},
    {"suspended", &suspended_flag, false},
    {"multistream", &multistream, false},
    {"playbackPolicy", &playback_policy, false},
    {"profiles", &stream_profiles, false},
    {"recordingSpec", &recording_spec, false},
    {"userTags", &user_tags, false},
    {"name", &stream_name, false},
};
static const schema_t stream_patch_payload = {
    .path = "#",
    .types = TYPE_OBJECT,
    .props = stream_patch_props,
    .prop_count = COUNT(stream_patch_props),
    .closed = true,
};

/* The webhook payload (api-schema.yaml components.schemas.webhook). The read-only fields are
 * accepted, as Studio's schema lists them, so an object read back can be sent again. */
#define WEBHOOK "#/components/schemas/webhook"

static const char *const webhook_events[] = {"stream.started",
                                             "stream.detection",
                                             "stream.idle",
                                             "recording.ready",
                                             "recording.started",
                                             "recording.waiting",
                                             "multistream.connected",
                                             "multistream.error",
                                             "multistream.disconnected",
                                             "playback.user.new",
                                             "playback.accessControl",
                                             "asset.created",
                                             "asset.updated",
                                             "asset.failed",
                                             "asset.ready",
                                             "asset.deleted",
                                             "task.spawned",
                                             "task.updated",
                                             "task.completed",
                                             "task.failed",
                                             NULL};

/* ^http(s)?:// */
static bool match_webhook_url(const char *s, size_t len)
{
    return has_prefix(s, len, "http://") || has_prefix(s, len, "https://");
}

static const schema_t webhook_name = {.path = WEBHOOK "/properties/name", .types = TYPE_STRING};
static const schema_t webhook_url = {.path = WEBHOOK "/properties/url",
                                     .types = TYPE_STRING,
                                     .pattern = "^http(s)?://",
                                     .pattern_match = match_webhook_url};
static const schema_t webhook_event = {.path = WEBHOOK "/properties/events/items",
                                       .types = TYPE_STRING,
                                       .enum_strings = webhook_events};
static const schema_t webhook_events_list = {
    .path = WEBHOOK "/properties/events", .types = TYPE_ARRAY, .items = &webhook_event};
static const schema_t webhook_secret = {.path = WEBHOOK "/properties/sharedSecret",
                                        .types = TYPE_STRING};
static const schema_t webhook_stream_id = {.path = WEBHOOK "/properties/streamId",
                                           .types = TYPE_STRING};
static const schema_t webhook_project_id = {.path = WEBHOOK "/properties/projectId",
                                            .types = TYPE_STRING};
static const schema_t webhook_id = {.path = WEBHOOK "/properties/id", .types = TYPE_STRING};
static const schema_t webhook_kind = {.path = WEBHOOK "/properties/kind", .types = TYPE_STRING};
static const schema_t webhook_user_id = {.path = WEBHOOK "/properties/userId",
                                         .types = TYPE_STRING};
static const schema_t webhook_created_at = {.path = WEBHOOK "/properties/createdAt",
                                            .types = TYPE_NUMBER};
static const schema_t webhook_status = {.path = WEBHOOK "/properties/status", .types = TYPE_OBJECT};

#define WEBHOOK_PROPS(required)                                                                    \
    {"id", &webhook_id, false}, {"name", &webhook_name, required}, {"kind", &webhook_kind, false}, \
        {"userId", &webhook_user_id, false}, {"projectId", &webhook_project_id, false},            \
        {"createdAt", &webhook_created_at, false}, {"events", &webhook_events_list, false},        \
        {"url", &webhook_url, required}, {"sharedSecret", &webhook_secret, false},                 \
        {"streamId", &webhook_stream_id, false},                                                   \
    {                                                                                              \
        "status", &webhook_status, false                                                           \
    }

static const schema_prop_t webhook_props[] = {WEBHOOK_PROPS(true)};
static const schema_t webhook_payload = {
    .path = "#",
    .types = TYPE_OBJECT,
    .props = webhook_props,
    .prop_count = COUNT(webhook_props),
    .closed = true,
};
static const schema_prop_t webhook_patch_props[] = {WEBHOOK_PROPS(false)};
static const schema_t webhook_patch_payload = {
    .path = "#",
    .types = TYPE_OBJECT,
    .props = webhook_patch_props,
    .prop_count = COUNT(webhook_patch_props),
    .closed = true,
};

/* ---- the walk ---- */

typedef struct walk {
    json_t *errors; /* array of error strings */
    char *path;     /* current instancePath (JSON pointer), NUL-terminated */
    size_t path_len;
    size_t path_cap;
    bool failed; /* out of memory: the result cannot be trusted */
} walk_t;

static bool walk_full(const walk_t *w)
{
    return w->failed || json_array_size(w->errors) >= VALIDATE_MAX_ERRORS;
}

static bool path_reserve(walk_t *w, size_t extra)
{
    if (w->path_len + extra + 1 <= w->path_cap)
        return true;
    size_t cap = w->path_cap ? w->path_cap : 64;
    while (cap < w->path_len + extra + 1) {
        if (cap > SIZE_MAX / 2)
            return false;
        cap *= 2;
    }
    char *grown = realloc(w->path, cap);
    if (!grown)
        return false;
    w->path = grown;
    w->path_cap = cap;
    return true;
}

/* Appends "/" and the key, escaped as a JSON pointer token (~ -> ~0, / -> ~1). Returns the length
 * to restore with path_pop, even on failure (then w->failed is set). */
static size_t path_push_key(walk_t *w, const char *key)
{
    size_t saved = w->path_len;
    size_t key_len = strlen(key);
    if (key_len > (SIZE_MAX - 2) / 2 || !path_reserve(w, 1 + 2 * key_len)) {
        w->failed = true;
        return saved;
    }
    w->path[w->path_len++] = '/';
    for (const char *c = key; *c; c++) {
        if (*c == '~' || *c == '/') {
            w->path[w->path_len++] = '~';
            w->path[w->path_len++] = *c == '~' ? '0' : '1';
        } else {
            w->path[w->path_len++] = *c;
        }
    }
    w->path[w->path_len] = '\0';
    return saved;
}

static size_t path_push_index(walk_t *w, size_t index)
{
    char token[24];
    snprintf(token, sizeof(token), "%zu", index);
    return path_push_key(w, token);
}

static void path_pop(walk_t *w, size_t saved)
{
    w->path_len = saved;
    if (w->path)
        w->path[saved] = '\0';
}

/* Adds one AJV-style error at the current path. Takes ownership of params. */
static void report(walk_t *w, const char *schema_path, const char *keyword, json_t *params,
                   const char *message)
{
    if (walk_full(w)) {
        json_decref(params);
        return;
    }
    char full_schema_path[512];
    snprintf(full_schema_path, sizeof(full_schema_path), "%s/%s", schema_path, keyword);
    json_t *error = json_pack("{s:s, s:s, s:s, s:o, s:s}", "instancePath", w->path ? w->path : "",
                              "schemaPath", full_schema_path, "keyword", keyword, "params",
                              params ? params : json_object(), "message", message);
    char *text = error ? json_dumps(error, JSON_COMPACT) : NULL;
    json_decref(error);
    if (!text || json_array_append_new(w->errors, json_string(text)) != 0)
        w->failed = true;
    free(text);
}

static bool is_integral(const json_t *value)
{
    if (json_is_integer(value))
        return true;
    if (!json_is_real(value))
        return false;
    double d = json_real_value(value);
    if (!isfinite(d))
        return false;
    /* Beyond 2^53 every double is a whole number; below it the cast is exact and in range. This
     * avoids floor() so the module needs no libm. */
    if (d >= 9007199254740992.0 || d <= -9007199254740992.0)
        return true;
    return d == (double)(int64_t)d;
}

static bool type_matches(unsigned types, const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_STRING:
        return types & TYPE_STRING;
    case JSON_INTEGER:
    case JSON_REAL:
        return (types & TYPE_NUMBER) || ((types & TYPE_INTEGER) && is_integral(value));
    case JSON_TRUE:
    case JSON_FALSE:
        return types & TYPE_BOOLEAN;
    case JSON_ARRAY:
        return types & TYPE_ARRAY;
    case JSON_OBJECT:
        return types & TYPE_OBJECT;
    case JSON_NULL:
        return types & TYPE_NULL;
    }
    return false;
}

static void report_type(walk_t *w, const schema_t *schema)
{
    char message[96] = "must be ";
    json_t *names = json_array();
    for (size_t i = 0; i < COUNT(type_names); i++) {
        if (!(schema->types & (1u << i)))
            continue;
        if (json_array_size(names) > 0)
            strncat(message, ",", sizeof(message) - strlen(message) - 1);
        strncat(message, type_names[i], sizeof(message) - strlen(message) - 1);
        json_array_append_new(names, json_string(type_names[i]));
    }
    /* AJV echoes the schema's `type`: a string for one type, an array for several. */
    json_t *type = json_array_size(names) == 1 ? json_incref(json_array_get(names, 0)) : names;
    if (type != names)
        json_decref(names);
    report(w, schema->path, "type", json_pack("{s:o}", "type", type), message);
}

static double number_value(const json_t *value)
{
    return json_is_integer(value) ? (double)json_integer_value(value) : json_real_value(value);
}

/* Limits in these schemas are small integers; print them as such. */
static json_t *limit_json(double limit)
{
    return json_integer((json_int_t)limit);
}

static void check_number(walk_t *w, const schema_t *schema, const json_t *value)
{
    double d = number_value(value);
    char message[64];
    if (schema->has_minimum && d < schema->minimum) {
        snprintf(message, sizeof(message), "must be >= %.0f", schema->minimum);
        report(w, schema->path, "minimum",
               json_pack("{s:s, s:o}", "comparison", ">=", "limit", limit_json(schema->minimum)),
               message);
    }
    if (schema->has_maximum && d > schema->maximum) {
        snprintf(message, sizeof(message), "must be <= %.0f", schema->maximum);
        report(w, schema->path, "maximum",
               json_pack("{s:s, s:o}", "comparison", "<=", "limit", limit_json(schema->maximum)),
               message);
    }
    if (!schema->enum_ints)
        return;
    for (size_t i = 0; i < schema->enum_int_count; i++) {
        if (d == schema->enum_ints[i])
            return;
    }
    json_t *allowed = json_array();
    for (size_t i = 0; i < schema->enum_int_count; i++)
        json_array_append_new(allowed, json_integer(schema->enum_ints[i]));
    report(w, schema->path, "enum", json_pack("{s:o}", "allowedValues", allowed),
           "must be equal to one of the allowed values");
}

/* Code points in valid UTF-8 (jansson guarantees strings are valid UTF-8). */
static size_t utf8_length(const char *s, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    }
    return count;
}

static bool string_in(const char *s, size_t len, const char *const *values)
{
    for (; *values; values++) {
        if (strlen(*values) == len && memcmp(*values, s, len) == 0)
            return true;
    }
    return false;
}

static void report_length(walk_t *w, const schema_t *schema, const char *keyword, size_t limit)
{
    char message[80];
    snprintf(message, sizeof(message), "must NOT have %s than %zu characters",
             strcmp(keyword, "minLength") == 0 ? "fewer" : "more", limit);
    report(w, schema->path, keyword, json_pack("{s:I}", "limit", (json_int_t)limit), message);
}

/* Reported as AJV would report the schema `{pattern: RENDITION_NAME_PATTERN, not: {const:
 * "source"}}` plus maxLength (the schema's own minLength and maxLength cover the length), with a
 * message that says why "source" is taken. */
static void check_rendition_name(walk_t *w, const schema_t *schema, const char *s, size_t len)
{
    int code = rendition_name_check(s, len);
    if (code == RENDITION_NAME_ERR_PATTERN)
        report(w, schema->path, "pattern", json_pack("{s:s}", "pattern", RENDITION_NAME_PATTERN),
               "must match pattern \"" RENDITION_NAME_PATTERN "\"");
    else if (code == RENDITION_NAME_ERR_RESERVED)
        report(w, schema->path, "not", json_object(), rendition_name_strerror(code));
}

static void check_string(walk_t *w, const schema_t *schema, const json_t *value)
{
    const char *s = json_string_value(value);
    size_t len = json_string_length(value);
    size_t chars = utf8_length(s, len);
    if (chars < schema->min_length)
        report_length(w, schema, "minLength", schema->min_length);
    if (schema->max_length && chars > schema->max_length)
        report_length(w, schema, "maxLength", schema->max_length);
    if (schema->pattern_match && !schema->pattern_match(s, len)) {
        char message[128];
        snprintf(message, sizeof(message), "must match pattern \"%s\"", schema->pattern);
        report(w, schema->path, "pattern", json_pack("{s:s}", "pattern", schema->pattern), message);
    }
    if (schema->rendition_name)
        check_rendition_name(w, schema, s, len);
    if (schema->enum_strings && !string_in(s, len, schema->enum_strings)) {
        json_t *allowed = json_array();
        for (const char *const *v = schema->enum_strings; *v; v++)
            json_array_append_new(allowed, json_string(*v));
        report(w, schema->path, "enum", json_pack("{s:o}", "allowedValues", allowed),
               "must be equal to one of the allowed values");
    }
}

static void walk_value(walk_t *w, const schema_t *schema, const json_t *value);

static const schema_prop_t *find_prop(const schema_t *schema, const char *key)
{
    for (size_t i = 0; i < schema->prop_count; i++) {
        if (strcmp(schema->props[i].name, key) == 0)
            return &schema->props[i];
    }
    return NULL;
}

static void check_required(walk_t *w, const schema_t *schema, const json_t *object)
{
    char message[96];
    for (size_t i = 0; i < schema->prop_count; i++) {
        const char *name = schema->props[i].name;
        if (!schema->props[i].required || json_object_get(object, name))
            continue;
        snprintf(message, sizeof(message), "must have required property '%s'", name);
        report(w, schema->path, "required", json_pack("{s:s}", "missingProperty", name), message);
    }
}

/* At least one of any_required must be present; reported as AJV reports a failed anyOf of
 * `required` branches: one error per branch, then the anyOf itself. */
static void check_any_required(walk_t *w, const schema_t *schema, const json_t *object)
{
    const char *const *name;
    for (name = schema->any_required; *name; name++) {
        if (json_object_get(object, *name))
            return;
    }
    for (name = schema->any_required; *name; name++) {
        char branch_path[256];
        char message[96];
        snprintf(branch_path, sizeof(branch_path), "%s/anyOf/%d", schema->path,
                 (int)(name - schema->any_required));
        snprintf(message, sizeof(message), "must have required property '%s'", *name);
        report(w, branch_path, "required", json_pack("{s:s}", "missingProperty", *name), message);
    }
    report(w, schema->path, "anyOf", json_object(), "must match a schema in anyOf");
}

static void walk_object(walk_t *w, const schema_t *schema, const json_t *object)
{
    check_required(w, schema, object);
    const char *key;
    const json_t *child;
    json_object_foreach((json_t *)object, key, child)
    {
        if (walk_full(w))
            return;
        const schema_prop_t *prop = find_prop(schema, key);
        if (prop) {
            size_t saved = path_push_key(w, key);
            walk_value(w, prop->schema, child);
            path_pop(w, saved);
        } else if (schema->closed) {
            report(w, schema->path, "additionalProperties",
                   json_pack("{s:s}", "additionalProperty", key),
                   "must NOT have additional properties");
        } else if (schema->additional) {
            size_t saved = path_push_key(w, key);
            walk_value(w, schema->additional, child);
            path_pop(w, saved);
        }
    }
    if (schema->any_required)
        check_any_required(w, schema, object);
}

static const char *item_name(const json_t *array, size_t index)
{
    return json_string_value(json_object_get(json_array_get(array, index), "name"));
}

/* Reports each item whose name an earlier item already has. Quadratic: only for bounded arrays. */
static void check_unique_names(walk_t *w, const schema_t *schema, const json_t *array)
{
    for (size_t i = 1; i < json_array_size(array); i++) {
        const char *name = item_name(array, i);
        for (size_t j = 0; name && j < i; j++) {
            const char *earlier = item_name(array, j);
            if (!earlier || strcmp(name, earlier) != 0)
                continue;
            char message[64];
            snprintf(message, sizeof message, "must NOT repeat the name of item %zu", j);
            size_t saved = path_push_index(w, i);
            report(w, schema->path, "uniqueNames",
                   json_pack("{s:I, s:I}", "i", (json_int_t)j, "j", (json_int_t)i), message);
            path_pop(w, saved);
            break;
        }
    }
}

static void walk_array(walk_t *w, const schema_t *schema, const json_t *array)
{
    size_t count = json_array_size(array);
    if (schema->max_items && count > schema->max_items) {
        char message[64];
        snprintf(message, sizeof message, "must NOT have more than %zu items", schema->max_items);
        report(w, schema->path, "maxItems",
               json_pack("{s:I}", "limit", (json_int_t)schema->max_items), message);
    } else if (schema->unique_names) {
        check_unique_names(w, schema, array);
    }
    if (!schema->items)
        return;
    size_t index;
    const json_t *item;
    json_array_foreach(array, index, item)
    {
        if (walk_full(w))
            return;
        size_t saved = path_push_index(w, index);
        walk_value(w, schema->items, item);
        path_pop(w, saved);
    }
}

/* Recursion follows schema->props / additional / items, which form a finite tree, so the depth is
 * bounded by the tables whatever the input's depth. */
static void walk_value(walk_t *w, const schema_t *schema, const json_t *value)
{
    if (walk_full(w))
        return;
    if (!type_matches(schema->types, value)) {
        report_type(w, schema);
        return;
    }
    switch (json_typeof(value)) {
    case JSON_STRING:
        check_string(w, schema, value);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        check_number(w, schema, value);
        break;
    case JSON_OBJECT:
        walk_object(w, schema, value);
        break;
    case JSON_ARRAY:
        walk_array(w, schema, value);
        break;
    default:
        break;
    }
}

/* Runs a walk from the root; NULL when valid. On out-of-memory the body is treated as invalid
 * whenever an array can still be returned, so a failure never reads as "valid". */
static json_t *validate(const schema_t *schema, const json_t *value, const char *instance_path)
{
    walk_t w = {.errors = json_array()};
    if (!w.errors)
        return NULL;
    size_t root_len = instance_path ? strlen(instance_path) : 0;
    if (path_reserve(&w, root_len)) {
        memcpy(w.path, instance_path ? instance_path : "", root_len);
        w.path[root_len] = '\0';
        w.path_len = root_len;
        walk_value(&w, schema, value);
    } else {
        w.failed = true;
    }
    free(w.path);
    if (w.failed && json_array_size(w.errors) == 0)
        json_array_append_new(w.errors, json_string("internal error: out of memory"));
    if (json_array_size(w.errors) == 0) {
        json_decref(w.errors);
        return NULL;
    }
    return w.errors;
}

json_t *validate_new_stream(const json_t *body)
{
    json_t *null_body = NULL;
    if (!body)
        body = null_body = json_null();
    json_t *errors = validate(&new_stream_payload, body, "");
    json_decref(null_body);
    return errors;
}

json_t *validate_stream_patch(const json_t *body)
{
    json_t *null_body = NULL;
    if (!body)
        body = null_body = json_null();
    json_t *errors = validate(&stream_patch_payload, body, "");
    json_decref(null_body);
    return errors;
}

json_t *validate_profiles(const json_t *profiles, const char *instance_path)
{
    if (!profiles)
        return NULL;
    return validate(&profile_list, profiles, instance_path);
}

json_t *validate_webhook(const json_t *body, bool partial)
{
    json_t *null_body = NULL;
    if (!body)
        body = null_body = json_null();
    json_t *errors = validate(partial ? &webhook_patch_payload : &webhook_payload, body, "");
    json_decref(null_body);
    return errors;
}
