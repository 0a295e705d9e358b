/* Unit tests for api/validate: valid payloads of every shape, each schema violation reported the
 * way AJV reports it, and hostile bodies. */
#include "api/validate.h"
#include "store/rendition_name.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef json_t *(*validator_fn)(const json_t *body);

static json_t *parse(const char *text)
{
    json_error_t error;
    json_t *value = json_loads(text, JSON_DECODE_ANY, &error);
    cr_assert_not_null(value, "bad test JSON (%s): %s", error.text, text);
    return value;
}

static json_t *run(validator_fn validate, const char *text)
{
    json_t *body = parse(text);
    json_t *errors = validate(body);
    json_decref(body);
    return errors;
}

static void expect_valid(validator_fn validate, const char *text)
{
    json_t *errors = run(validate, text);
    if (errors) {
        char *dump = json_dumps(errors, 0);
        cr_assert_fail("expected valid: %s\nerrors: %s", text, dump);
    }
}

/* Every entry must be a string holding a compact JSON object with the five AJV keys. */
static void check_error_shape(const json_t *errors)
{
    cr_assert(json_is_array(errors));
    cr_assert_gt(json_array_size(errors), 0);
    size_t i;
    const json_t *entry;
    json_array_foreach(errors, i, entry)
    {
        cr_assert(json_is_string(entry));
        json_t *error = json_loads(json_string_value(entry), 0, NULL);
        cr_assert_not_null(error, "not JSON: %s", json_string_value(entry));
        cr_assert(json_is_string(json_object_get(error, "instancePath")));
        cr_assert(json_is_string(json_object_get(error, "schemaPath")));
        cr_assert_eq(strncmp(json_string_value(json_object_get(error, "schemaPath")), "#", 1), 0);
        cr_assert(json_is_string(json_object_get(error, "keyword")));
        cr_assert(json_is_object(json_object_get(error, "params")));
        cr_assert(json_is_string(json_object_get(error, "message")));
        cr_assert_eq(json_object_size(error), 5);
        json_decref(error);
    }
}

/* Returns the parsed error at instance_path with keyword (caller decrefs), or fails the test. */
static json_t *find_error(const json_t *errors, const char *instance_path, const char *keyword)
{
    size_t i;
    const json_t *entry;
    json_array_foreach(errors, i, entry)
    {
        json_t *error = json_loads(json_string_value(entry), 0, NULL);
        const char *path = json_string_value(json_object_get(error, "instancePath"));
        const char *kw = json_string_value(json_object_get(error, "keyword"));
        if (path && kw && strcmp(path, instance_path) == 0 && strcmp(kw, keyword) == 0)
            return error;
        json_decref(error);
    }
    char *dump = json_dumps(errors, 0);
    cr_assert_fail("no %s error at \"%s\" in %s", keyword, instance_path, dump);
    return NULL;
}

/* Validates text, which must be invalid with an error at path/keyword carrying message. Returns
 * the parsed error for further checks (caller decrefs). */
static json_t *expect_error(validator_fn validate, const char *text, const char *path,
                            const char *keyword, const char *message)
{
    json_t *errors = run(validate, text);
    cr_assert_not_null(errors, "expected invalid: %s", text);
    check_error_shape(errors);
    json_t *error = find_error(errors, path, keyword);
    cr_assert_str_eq(json_string_value(json_object_get(error, "message")), message, "for %s", text);
    json_decref(errors);
    return error;
}

static void expect_error_only(validator_fn validate, const char *text, const char *path,
                              const char *keyword, const char *message)
{
    json_decref(expect_error(validate, text, path, keyword, message));
}

static size_t error_count(validator_fn validate, const char *text)
{
    json_t *errors = run(validate, text);
    size_t count = json_array_size(errors);
    json_decref(errors);
    return count;
}

#define PROFILE "{\"name\":\"720p0\",\"width\":1280,\"height\":720,\"bitrate\":3000000,\"fps\":30}"

/* ---- valid payloads ---- */

Test(validate, minimal_new_stream)
{
    expect_valid(validate_new_stream, "{\"name\":\"s\"}");
}

Test(validate, new_stream_profiles_shapes)
{
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"profiles\":null}");
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"profiles\":[]}");
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"profiles\":[" PROFILE "]}");
    expect_valid(validate_new_stream,
                 "{\"name\":\"s\",\"profiles\":[{\"name\":\"a\",\"width\":128,\"height\":128,"
                 "\"bitrate\":400,\"fps\":0,\"fpsDen\":1,\"quality\":44,\"gop\":\"2.0\","
                 "\"profile\":\"H264ConstrainedHigh\",\"encoder\":\"H.264\"}]}");
    /* AJV's integer accepts a real without a fractional part. */
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"profiles\":[{\"name\":\"a\",\"width\":"
                                      "1280.0,\"height\":720,\"bitrate\":4e5,\"fps\":0}]}");
}

Test(validate, new_stream_every_field)
{
    expect_valid(
        validate_new_stream,
        "{\"name\":\"full\","
        "\"pull\":{\"source\":\"https://example.com/live.flv\",\"headers\":{\"Authorization\":"
        "\"Bearer x\"},\"isMobile\":2,\"location\":{\"lat\":39.7,\"lon\":-104}},"
        "\"creatorId\":{\"type\":\"unverified\",\"value\":\"0xabc\"},"
        "\"playbackPolicy\":{\"type\":\"webhook\",\"webhookId\":\"w1\",\"webhookContext\":{\"a\":"
        "[1]},\"refreshInterval\":600.5,\"allowedOrigins\":[\"https://a.example\"]},"
        "\"profiles\":[" PROFILE "],"
        "\"record\":true,"
        "\"recordingSpec\":{\"profiles\":[{\"bitrate\":1000000,\"encoder\":\"VP9\"}]},"
        "\"multistream\":{\"targets\":[{\"profile\":\"source\",\"id\":\"t1\"},"
        "{\"profile\":\"720p0\",\"videoOnly\":true,\"spec\":{\"name\":\"yt\",\"url\":"
        "\"rtmps://a.example/live/key\"}},{\"profile\":\"720p0\",\"spec\":{\"url\":"
        "\"srt://b.example:9000\"}}]},"
        "\"userTags\":{\"a\":\"x\",\"b\":1.5,\"c\":[\"y\",2]}}");
}

Test(validate, new_stream_optional_shapes)
{
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"creatorId\":\"0xabc\"}");
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"playbackPolicy\":null}");
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"playbackPolicy\":{\"type\":\"public\"}}");
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"pull\":{\"source\":\"x\",\"isMobile\":"
                                      "false}}");
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"recordingSpec\":{}}");
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"recordingSpec\":{\"profiles\":null}}");
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"multistream\":{}}");
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"multistream\":{\"targets\":[]}}");
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"userTags\":{}}");
    expect_valid(validate_new_stream, "{\"name\":\"s\",\"record\":false}");
}

Test(validate, patch_shapes)
{
    expect_valid(validate_stream_patch, "{}");
    expect_valid(validate_stream_patch, "{\"suspended\":true}");
    expect_valid(validate_stream_patch, "{\"name\":\"renamed\",\"record\":false}");
    expect_valid(validate_stream_patch, "{\"profiles\":null}");
    expect_valid(validate_stream_patch, "{\"profiles\":[" PROFILE "],\"creatorId\":\"c\","
                                        "\"userTags\":{\"k\":\"v\"},\"playbackPolicy\":null,"
                                        "\"multistream\":{\"targets\":[]},\"recordingSpec\":{}}");
}

Test(validate, profiles_function)
{
    json_t *profiles = parse("[" PROFILE "]");
    cr_assert_null(validate_profiles(profiles, "/profiles"));
    json_decref(profiles);
    cr_assert_null(validate_profiles(NULL, ""));

    profiles = parse("[{\"name\":\"a\",\"width\":1,\"height\":720,\"bitrate\":400,\"fps\":0}]");
    json_t *errors = validate_profiles(profiles, "/profiles");
    json_t *error = find_error(errors, "/profiles/0/width", "minimum");
    json_decref(error);
    json_decref(errors);
    json_decref(profiles);

    profiles = parse("null");
    errors = validate_profiles(profiles, NULL);
    error = find_error(errors, "", "type");
    cr_assert_str_eq(json_string_value(json_object_get(error, "message")), "must be array");
    json_decref(error);
    json_decref(errors);
    json_decref(profiles);
}

/* ---- top level ---- */

Test(validate, body_must_be_object)
{
    expect_error_only(validate_new_stream, "[]", "", "type", "must be object");
    expect_error_only(validate_new_stream, "\"name\"", "", "type", "must be object");
    expect_error_only(validate_new_stream, "null", "", "type", "must be object");
    expect_error_only(validate_stream_patch, "42", "", "type", "must be object");
    cr_assert_eq(error_count(validate_new_stream, "[{\"name\":1}]"), 1);

    json_t *errors = validate_new_stream(NULL);
    cr_assert_not_null(errors);
    json_decref(errors);
}

Test(validate, unknown_property)
{
    json_t *error = expect_error(validate_new_stream, "{\"name\":\"s\",\"foo\":1}", "",
                                 "additionalProperties", "must NOT have additional properties");
    json_t *expected =
        parse("{\"instancePath\":\"\",\"schemaPath\":\"#/additionalProperties\",\"keyword\":"
              "\"additionalProperties\",\"params\":{\"additionalProperty\":\"foo\"},\"message\":"
              "\"must NOT have additional properties\"}");
    cr_assert(json_equal(error, expected));
    json_decref(expected);
    json_decref(error);

    /* One error per unknown key. */
    cr_assert_eq(error_count(validate_new_stream, "{\"name\":\"s\",\"a\":1,\"b\":2,\"c\":3}"), 3);
    /* suspended is a PATCH field only. */
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"suspended\":true}", "",
                      "additionalProperties", "must NOT have additional properties");
    /* pull is a POST field only. */
    expect_error_only(validate_stream_patch, "{\"pull\":{\"source\":\"x\"}}", "",
                      "additionalProperties", "must NOT have additional properties");
}

Test(validate, error_string_is_compact_in_ajv_key_order)
{
    json_t *errors = run(validate_new_stream, "{\"name\":\"s\",\"foo\":1}");
    cr_assert_str_eq(json_string_value(json_array_get(errors, 0)),
                     "{\"instancePath\":\"\",\"schemaPath\":\"#/additionalProperties\","
                     "\"keyword\":\"additionalProperties\",\"params\":{\"additionalProperty\":"
                     "\"foo\"},\"message\":\"must NOT have additional properties\"}");
    json_decref(errors);
}

Test(validate, name_required_and_typed)
{
    json_t *error = expect_error(validate_new_stream, "{}", "", "required",
                                 "must have required property 'name'");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(error, "params"), "missingProperty")),
        "name");
    json_decref(error);
    expect_error_only(validate_new_stream, "{\"name\":5}", "/name", "type", "must be string");
    expect_error_only(validate_new_stream, "{\"name\":null}", "/name", "type", "must be string");
    expect_error_only(validate_new_stream, "{\"name\":\"\"}", "/name", "minLength",
                      "must NOT have fewer than 1 characters");
    expect_error_only(validate_stream_patch, "{\"name\":\"\"}", "/name", "minLength",
                      "must NOT have fewer than 1 characters");
    expect_error_only(validate_stream_patch, "{\"name\":[]}", "/name", "type", "must be string");
}

Test(validate, flags_are_boolean)
{
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"record\":\"true\"}", "/record",
                      "type", "must be boolean");
    expect_error_only(validate_stream_patch, "{\"suspended\":1}", "/suspended", "type",
                      "must be boolean");
}

Test(validate, all_errors_reported)
{
    /* Missing name, an unknown key, a bad flag and a bad profile: four errors at once. */
    json_t *errors = run(validate_new_stream, "{\"x\":1,\"record\":0,\"profiles\":[{\"name\":\"a\","
                                              "\"width\":1,\"height\":720,\"bitrate\":400,"
                                              "\"fps\":0}]}");
    check_error_shape(errors);
    cr_assert_eq(json_array_size(errors), 4);
    json_decref(errors);
}

/* ---- profiles ---- */

static void expect_profile_error(const char *profile_json, const char *path, const char *keyword,
                                 const char *message)
{
    char body[1024];
    snprintf(body, sizeof(body), "{\"name\":\"s\",\"profiles\":[%s]}", profile_json);
    expect_error_only(validate_new_stream, body, path, keyword, message);
    snprintf(body, sizeof(body), "{\"profiles\":[%s]}", profile_json);
    expect_error_only(validate_stream_patch, body, path, keyword, message);
}

Test(validate, profiles_type)
{
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"profiles\":{}}", "/profiles", "type",
                      "must be array,null");
    json_t *error = expect_error(validate_new_stream, "{\"name\":\"s\",\"profiles\":\"x\"}",
                                 "/profiles", "type", "must be array,null");
    json_t *expected = parse("{\"type\":[\"array\",\"null\"]}");
    cr_assert(json_equal(json_object_get(error, "params"), expected));
    json_decref(expected);
    json_decref(error);
    expect_profile_error("5", "/profiles/0", "type", "must be object");
}

Test(validate, profile_width_minimum)
{
    json_t *error = expect_error(validate_new_stream,
                                 "{\"name\":\"s\",\"profiles\":[" PROFILE ",{\"name\":\"a\","
                                 "\"width\":100,\"height\":720,\"bitrate\":400,\"fps\":0}]}",
                                 "/profiles/1/width", "minimum", "must be >= 128");
    json_t *expected = parse("{\"comparison\":\">=\",\"limit\":128}");
    cr_assert(json_equal(json_object_get(error, "params"), expected));
    cr_assert_str_eq(json_string_value(json_object_get(error, "schemaPath")),
                     "#/components/schemas/ffmpeg-profile/properties/width/minimum");
    json_decref(expected);
    json_decref(error);
}

Test(validate, profile_numbers)
{
    const char *base = "\"name\":\"a\",\"width\":1280,\"height\":720,\"bitrate\":400,\"fps\":0";
    char profile[512];
    snprintf(profile, sizeof(profile), "{%s,\"quality\":45}", base);
    expect_profile_error(profile, "/profiles/0/quality", "maximum", "must be <= 44");
    snprintf(profile, sizeof(profile), "{%s,\"quality\":-1}", base);
    expect_profile_error(profile, "/profiles/0/quality", "minimum", "must be >= 0");
    snprintf(profile, sizeof(profile), "{%s,\"fpsDen\":0}", base);
    expect_profile_error(profile, "/profiles/0/fpsDen", "minimum", "must be >= 1");
    expect_profile_error("{\"name\":\"a\",\"width\":1280,\"height\":720,\"bitrate\":399,\"fps\":0}",
                         "/profiles/0/bitrate", "minimum", "must be >= 400");
    expect_profile_error("{\"name\":\"a\",\"width\":1280,\"height\":127,\"bitrate\":400,\"fps\":0}",
                         "/profiles/0/height", "minimum", "must be >= 128");
    expect_profile_error(
        "{\"name\":\"a\",\"width\":1280,\"height\":720,\"bitrate\":400,\"fps\":-1}",
        "/profiles/0/fps", "minimum", "must be >= 0");
    expect_profile_error(
        "{\"name\":\"a\",\"width\":720.5,\"height\":720,\"bitrate\":400,\"fps\":0}",
        "/profiles/0/width", "type", "must be integer");
    expect_profile_error("{\"name\":\"a\",\"width\":\"720\",\"height\":720,\"bitrate\":400,"
                         "\"fps\":0}",
                         "/profiles/0/width", "type", "must be integer");
    /* A type error stops at the value: no minimum error for a string. */
    cr_assert_eq(error_count(validate_new_stream,
                             "{\"name\":\"s\",\"profiles\":[{\"name\":\"a\",\"width\":\"1\","
                             "\"height\":720,\"bitrate\":400,\"fps\":0}]}"),
                 1);
}

Test(validate, profile_strings_and_enums)
{
    expect_profile_error("{\"name\":\"\",\"width\":1280,\"height\":720,\"bitrate\":400,\"fps\":0}",
                         "/profiles/0/name", "minLength", "must NOT have fewer than 1 characters");
    expect_profile_error("{\"name\":1,\"width\":1280,\"height\":720,\"bitrate\":400,\"fps\":0}",
                         "/profiles/0/name", "type", "must be string");
    const char *base = "\"name\":\"a\",\"width\":1280,\"height\":720,\"bitrate\":400,\"fps\":0";
    char profile[512];
    snprintf(profile, sizeof(profile), "{%s,\"gop\":2}", base);
    expect_profile_error(profile, "/profiles/0/gop", "type", "must be string");
    snprintf(profile, sizeof(profile), "{%s,\"profile\":\"H265\"}", base);
    expect_profile_error(profile, "/profiles/0/profile", "enum",
                         "must be equal to one of the allowed values");
    snprintf(profile, sizeof(profile), "{%s,\"encoder\":\"HEVC\"}", base);
    expect_profile_error(profile, "/profiles/0/encoder", "enum",
                         "must be equal to one of the allowed values");
    snprintf(profile, sizeof(profile), "{%s,\"extra\":true}", base);
    expect_profile_error(profile, "/profiles/0", "additionalProperties",
                         "must NOT have additional properties");

    json_t *error =
        expect_error(validate_new_stream,
                     "{\"name\":\"s\",\"profiles\":[{\"name\":\"a\",\"width\":1280,"
                     "\"height\":720,\"bitrate\":400,\"fps\":0,\"profile\":\"x\"}]}",
                     "/profiles/0/profile", "enum", "must be equal to one of the allowed values");
    json_t *expected = parse("{\"allowedValues\":[\"H264Baseline\",\"H264Main\",\"H264High\","
                             "\"H264ConstrainedHigh\"]}");
    cr_assert(json_equal(json_object_get(error, "params"), expected));
    json_decref(expected);
    json_decref(error);
}

/* A profile name becomes a rendition directory: at most RENDITION_NAME_MAX_LEN characters. */
Test(validate, profile_name_max_length)
{
    char name[502];
    char profile[700];
    memset(name, 'n', 501);
    name[RENDITION_NAME_MAX_LEN] = '\0';
    snprintf(profile, sizeof(profile),
             "{\"name\":\"%s\",\"width\":1280,\"height\":720,\"bitrate\":400,\"fps\":0}", name);
    char body[1200];
    snprintf(body, sizeof(body), "{\"name\":\"s\",\"profiles\":[%s]}", profile);
    expect_valid(validate_new_stream, body);
    const size_t too_long[] = {RENDITION_NAME_MAX_LEN + 1, 501};
    for (size_t i = 0; i < 2; i++) {
        memset(name, 'n', too_long[i]);
        name[too_long[i]] = '\0';
        snprintf(profile, sizeof(profile),
                 "{\"name\":\"%s\",\"width\":1280,\"height\":720,\"bitrate\":400,\"fps\":0}", name);
        expect_profile_error(profile, "/profiles/0/name", "maxLength",
                             "must NOT have more than 63 characters");
        snprintf(body, sizeof(body), "{\"name\":\"s\",\"profiles\":[%s]}", profile);
        cr_assert_eq(error_count(validate_new_stream, body), 1, "one error for %zu characters",
                     too_long[i]);
    }
    /* Length counts characters, not bytes: 500 two-byte characters fit a 500-character field. */
    char wide[1001];
    for (int i = 0; i < 500; i++)
        memcpy(wide + 2 * i, "\xc3\xa9", 2);
    wide[1000] = '\0';
    snprintf(body, sizeof(body),
             "{\"name\":\"s\",\"multistream\":{\"targets\":[{\"profile\":\"%s\",\"id\":\"t\"}]}}",
             wide);
    expect_valid(validate_new_stream, body);
}

static void expect_profile_name_error(const char *name, const char *keyword, const char *message)
{
    char profile[256];
    snprintf(profile, sizeof(profile),
             "{\"name\":\"%s\",\"width\":1280,\"height\":720,\"bitrate\":400,\"fps\":0}", name);
    expect_profile_error(profile, "/profiles/0/name", keyword, message);
    char body[512];
    snprintf(body, sizeof(body), "{\"name\":\"s\",\"profiles\":[%s]}", profile);
    cr_assert_eq(error_count(validate_new_stream, body), 1, "one error for \"%s\"", name);
}

/* A profile name becomes a rendition directory and URI: only names the transcoder can use pass,
 * by the same rule the ladder applies (store/rendition_name.h). */
Test(validate, profile_name_is_a_rendition_directory)
{
    const char *bad[] = {"a b",    "../x", ".", "..", ".hidden", "x/y", "\xc3\xa9t\xc3\xa9",
                         "a\\\\b", "720p?"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_profile_name_error(bad[i], "pattern",
                                  "must match pattern \"^[A-Za-z0-9_-][A-Za-z0-9._-]*$\"");
    json_t *error = expect_error(
        validate_new_stream,
        "{\"name\":\"s\",\"profiles\":[{\"name\":\"a b\",\"width\":1280,\"height\":720,"
        "\"bitrate\":400,\"fps\":0}]}",
        "/profiles/0/name", "pattern", "must match pattern \"^[A-Za-z0-9_-][A-Za-z0-9._-]*$\"");
    cr_assert_str_eq(json_string_value(json_object_get(error, "schemaPath")),
                     "#/components/schemas/ffmpeg-profile/properties/name/pattern");
    json_t *expected = parse("{\"pattern\":\"^[A-Za-z0-9_-][A-Za-z0-9._-]*$\"}");
    cr_assert(json_equal(json_object_get(error, "params"), expected));
    json_decref(expected);
    json_decref(error);
    /* "source" is the source rendition's directory */
    expect_profile_name_error("source", "not",
                              "must not be \"source\" (reserved for the source rendition)");
    const char *good[] = {"720p0", "a.b", "A_b-1", "sources", "Source", "x.."};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"name\":\"s\",\"profiles\":[{\"name\":\"%s\",\"width\":1280,\"height\":720,"
                 "\"bitrate\":400,\"fps\":0}]}",
                 good[i]);
        expect_valid(validate_new_stream, body);
    }
    /* recordingSpec profiles name no directory: Studio's rule alone */
    expect_valid(validate_new_stream,
                 "{\"name\":\"s\",\"record\":true,\"recordingSpec\":{\"profiles\":[{\"name\":\"a "
                 "b\",\"bitrate\":400}]}}");
}

/* Builds {"name":"s","profiles":[...]} with count profiles named by names[i % name_count]. */
static void profiles_body(char *out, size_t size, size_t count, const char *const *names,
                          size_t name_count)
{
    size_t used = (size_t)snprintf(out, size, "{\"name\":\"s\",\"profiles\":[");
    for (size_t i = 0; i < count; i++)
        used += (size_t)snprintf(out + used, size - used,
                                 "%s{\"name\":\"%s\",\"width\":640,\"height\":360,"
                                 "\"bitrate\":400000,\"fps\":0}",
                                 i ? "," : "", names[i % name_count]);
    cr_assert_lt(used + 3, size);
    snprintf(out + used, size - used, "]}");
}

/* Each profile is a rendition directory: the ladder's limits are the API's. */
Test(validate, profiles_at_most_a_ladder_with_distinct_names)
{
    static char body[16384];
    char names[RENDITION_LADDER_MAX + 1][8];
    const char *name_ptrs[RENDITION_LADDER_MAX + 1];
    for (size_t i = 0; i <= RENDITION_LADDER_MAX; i++) {
        snprintf(names[i], sizeof names[i], "p%zu", i);
        name_ptrs[i] = names[i];
    }
    profiles_body(body, sizeof body, RENDITION_LADDER_MAX, name_ptrs, RENDITION_LADDER_MAX);
    expect_valid(validate_new_stream, body);
    profiles_body(body, sizeof body, RENDITION_LADDER_MAX + 1, name_ptrs, RENDITION_LADDER_MAX + 1);
    json_t *error = expect_error(validate_new_stream, body, "/profiles", "maxItems",
                                 "must NOT have more than 16 items");
    cr_assert_str_eq(json_string_value(json_object_get(error, "schemaPath")),
                     "#/properties/profiles/maxItems");
    json_decref(error);
    static char patch[sizeof body];
    snprintf(patch, sizeof patch, "{%s", body + strlen("{\"name\":\"s\","));
    expect_error_only(validate_stream_patch, patch, "/profiles", "maxItems",
                      "must NOT have more than 16 items");

    const char *twice[] = {"720p0", "360p0", "720p0"};
    profiles_body(body, sizeof body, 3, twice, 3);
    error = expect_error(validate_new_stream, body, "/profiles/2", "uniqueNames",
                         "must NOT repeat the name of item 0");
    json_t *expected = parse("{\"i\":0,\"j\":2}");
    cr_assert(json_equal(json_object_get(error, "params"), expected));
    json_decref(expected);
    json_decref(error);
    cr_assert_eq(error_count(validate_new_stream, body), 1);
}

Test(validate, profile_required_fields)
{
    json_t *errors = run(validate_new_stream, "{\"name\":\"s\",\"profiles\":[{}]}");
    check_error_shape(errors);
    cr_assert_eq(json_array_size(errors), 5);
    const char *required[] = {"name", "width", "height", "bitrate", "fps"};
    for (size_t i = 0; i < 5; i++) {
        bool found = false;
        for (size_t j = 0; j < json_array_size(errors); j++) {
            json_t *error = json_loads(json_string_value(json_array_get(errors, j)), 0, NULL);
            const char *missing = json_string_value(
                json_object_get(json_object_get(error, "params"), "missingProperty"));
            if (missing && strcmp(missing, required[i]) == 0) {
                cr_assert_str_eq(json_string_value(json_object_get(error, "instancePath")),
                                 "/profiles/0");
                found = true;
            }
            json_decref(error);
        }
        cr_assert(found, "no required error for %s", required[i]);
    }
    json_decref(errors);
}

/* ---- recordingSpec ---- */

Test(validate, recording_spec)
{
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"recordingSpec\":[]}",
                      "/recordingSpec", "type", "must be object");
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"recordingSpec\":{\"profiles\":{}}}",
                      "/recordingSpec/profiles", "type", "must be array,null");
    expect_error_only(
        validate_new_stream, "{\"name\":\"s\",\"recordingSpec\":{\"profiles\":[{\"name\":\"a\"}]}}",
        "/recordingSpec/profiles/0", "required", "must have required property 'bitrate'");
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"recordingSpec\":{\"profiles\":[{\"bitrate\":400,"
                      "\"encoder\":\"AV1\"}]}}",
                      "/recordingSpec/profiles/0/encoder", "enum",
                      "must be equal to one of the allowed values");
    expect_error_only(validate_stream_patch, "{\"recordingSpec\":{\"other\":1}}", "/recordingSpec",
                      "additionalProperties", "must NOT have additional properties");
    /* Only bitrate is required in a transcode-profile. */
    cr_assert_eq(
        error_count(validate_new_stream, "{\"name\":\"s\",\"recordingSpec\":{\"profiles\":[{}]}}"),
        1);
}

/* ---- pull ---- */

Test(validate, pull)
{
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"pull\":\"rtmp://x\"}", "/pull",
                      "type", "must be object");
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"pull\":{}}", "/pull", "required",
                      "must have required property 'source'");
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"pull\":{\"source\":1}}",
                      "/pull/source", "type", "must be string");
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"pull\":{\"source\":\"x\",\"headers\":{\"a\":1}}}",
                      "/pull/headers/a", "type", "must be string");
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"pull\":{\"source\":\"x\",\"headers\":[]}}",
                      "/pull/headers", "type", "must be object");
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"pull\":{\"source\":\"x\",\"isMobile\":3}}",
                      "/pull/isMobile", "enum", "must be equal to one of the allowed values");
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"pull\":{\"source\":\"x\",\"isMobile\":\"1\"}}",
                      "/pull/isMobile", "type", "must be integer,boolean");
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"pull\":{\"source\":\"x\",\"location\":{\"lat\":1}}}",
                      "/pull/location", "required", "must have required property 'lon'");
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"pull\":{\"source\":\"x\",\"location\":{\"lat\":\"1\","
                      "\"lon\":2}}}",
                      "/pull/location/lat", "type", "must be number");
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"pull\":{\"source\":\"x\",\"region\":\"eu\"}}", "/pull",
                      "additionalProperties", "must NOT have additional properties");
}

Test(validate, json_pointer_escaping)
{
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"pull\":{\"source\":\"x\",\"headers\":{\"a/b~c\":1}}}",
                      "/pull/headers/a~1b~0c", "type", "must be string");
}

/* ---- playbackPolicy ---- */

Test(validate, playback_policy)
{
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"playbackPolicy\":\"public\"}",
                      "/playbackPolicy", "type", "must be object,null");
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"playbackPolicy\":{}}",
                      "/playbackPolicy", "required", "must have required property 'type'");
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"playbackPolicy\":{\"type\":\"x\"}}",
                      "/playbackPolicy/type", "enum", "must be equal to one of the allowed values");
    expect_error_only(validate_stream_patch,
                      "{\"playbackPolicy\":{\"type\":\"jwt\",\"refreshInterval\":\"600\"}}",
                      "/playbackPolicy/refreshInterval", "type", "must be number");
    expect_error_only(validate_stream_patch,
                      "{\"playbackPolicy\":{\"type\":\"jwt\",\"allowedOrigins\":[\"a\",1]}}",
                      "/playbackPolicy/allowedOrigins/1", "type", "must be string");
    expect_error_only(validate_stream_patch,
                      "{\"playbackPolicy\":{\"type\":\"webhook\",\"webhookContext\":[]}}",
                      "/playbackPolicy/webhookContext", "type", "must be object");
    expect_error_only(validate_stream_patch,
                      "{\"playbackPolicy\":{\"type\":\"webhook\",\"webhookId\":7}}",
                      "/playbackPolicy/webhookId", "type", "must be string");
    expect_error_only(validate_stream_patch, "{\"playbackPolicy\":{\"type\":\"public\",\"x\":1}}",
                      "/playbackPolicy", "additionalProperties",
                      "must NOT have additional properties");
}

/* ---- multistream ---- */

Test(validate, multistream)
{
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"multistream\":[]}", "/multistream",
                      "type", "must be object");
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"multistream\":{\"targets\":{}}}",
                      "/multistream/targets", "type", "must be array");
    expect_error_only(
        validate_new_stream, "{\"name\":\"s\",\"multistream\":{\"targets\":[{\"id\":\"t\"}]}}",
        "/multistream/targets/0", "required", "must have required property 'profile'");
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"multistream\":{\"targets\":[{\"profile\":\"\",\"id\":"
                      "\"t\"}]}}",
                      "/multistream/targets/0/profile", "minLength",
                      "must NOT have fewer than 1 characters");
    expect_error_only(validate_stream_patch,
                      "{\"multistream\":{\"targets\":[{\"profile\":\"a\",\"id\":\"t\","
                      "\"videoOnly\":\"yes\"}]}}",
                      "/multistream/targets/0/videoOnly", "type", "must be boolean");
    expect_error_only(validate_stream_patch,
                      "{\"multistream\":{\"targets\":[{\"profile\":\"a\",\"id\":\"t\","
                      "\"url\":\"rtmp://x\"}]}}",
                      "/multistream/targets/0", "additionalProperties",
                      "must NOT have additional properties");
}

Test(validate, multistream_target_needs_id_or_spec)
{
    json_t *error =
        expect_error(validate_stream_patch, "{\"multistream\":{\"targets\":[{\"profile\":\"a\"}]}}",
                     "/multistream/targets/0", "anyOf", "must match a schema in anyOf");
    json_decref(error);
    /* AJV also lists the failed branches. */
    cr_assert_eq(
        error_count(validate_stream_patch, "{\"multistream\":{\"targets\":[{\"profile\":\"a\"}]}}"),
        3);
}

Test(validate, multistream_spec)
{
    json_t *error = expect_error(validate_new_stream,
                                 "{\"name\":\"s\",\"multistream\":{\"targets\":[{\"profile\":"
                                 "\"a\",\"spec\":{\"url\":\"http://x\"}}]}}",
                                 "/multistream/targets/0/spec/url", "pattern",
                                 "must match pattern \"^(srt|rtmps?)://\"");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(error, "params"), "pattern")),
        "^(srt|rtmps?)://");
    json_decref(error);
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"multistream\":{\"targets\":[{\"profile\":\"a\",\"spec\":"
                      "{\"name\":\"n\"}}]}}",
                      "/multistream/targets/0/spec", "required",
                      "must have required property 'url'");
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"multistream\":{\"targets\":[{\"profile\":\"a\",\"spec\":"
                      "{\"url\":\"rtmpx://h\"}}]}}",
                      "/multistream/targets/0/spec/url", "pattern",
                      "must match pattern \"^(srt|rtmps?)://\"");
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"multistream\":{\"targets\":[{\"profile\":\"a\",\"spec\":"
                      "{\"url\":\" rtmp://h\"}}]}}",
                      "/multistream/targets/0/spec/url", "pattern",
                      "must match pattern \"^(srt|rtmps?)://\"");
    expect_error_only(validate_new_stream,
                      "{\"name\":\"s\",\"multistream\":{\"targets\":[{\"profile\":\"a\",\"spec\":"
                      "\"rtmp://h\"}]}}",
                      "/multistream/targets/0/spec", "type", "must be object");
}

/* ---- creatorId ---- */

Test(validate, creator_id)
{
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"creatorId\":\"\"}", "/creatorId",
                      "minLength", "must NOT have fewer than 1 characters");
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"creatorId\":5}", "/creatorId", "type",
                      "must be string,object");
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"creatorId\":{\"value\":\"v\"}}",
                      "/creatorId", "required", "must have required property 'type'");
    expect_error_only(validate_stream_patch, "{\"creatorId\":{\"type\":\"unverified\"}}",
                      "/creatorId", "required", "must have required property 'value'");
    expect_error_only(validate_stream_patch,
                      "{\"creatorId\":{\"type\":\"verified\",\"value\":\"v\"}}", "/creatorId/type",
                      "enum", "must be equal to one of the allowed values");
    expect_error_only(validate_stream_patch,
                      "{\"creatorId\":{\"type\":\"unverified\",\"value\":1}}", "/creatorId/value",
                      "type", "must be string");
}

/* ---- userTags ---- */

Test(validate, user_tags)
{
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"userTags\":[]}", "/userTags", "type",
                      "must be object");
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"userTags\":{\"a\":true}}",
                      "/userTags/a", "type", "must be string,number,array");
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"userTags\":{\"a\":null}}",
                      "/userTags/a", "type", "must be string,number,array");
    expect_error_only(validate_new_stream, "{\"name\":\"s\",\"userTags\":{\"a\":[1,{}]}}",
                      "/userTags/a/1", "type", "must be string,number");
    expect_error_only(validate_stream_patch, "{\"userTags\":{\"a\":[[1]]}}", "/userTags/a/0",
                      "type", "must be string,number");
}

/* ---- hostile input ---- */

Test(validate, huge_profiles_array_is_capped)
{
    /* 10,000 bad profiles: every item is walked without trouble, the error list is bounded. */
    size_t count = 10000;
    const char *item = "{\"name\":\"\",\"width\":1,\"height\":1,\"bitrate\":1,\"fps\":-1},";
    size_t item_len = strlen(item);
    char *body = malloc(64 + count * item_len);
    cr_assert_not_null(body);
    char *end = body + sprintf(body, "{\"name\":\"s\",\"profiles\":[");
    for (size_t i = 0; i < count; i++, end += item_len)
        memcpy(end, item, item_len);
    strcpy(end - 1, "]}"); /* replaces the last comma */
    json_t *errors = run(validate_new_stream, body);
    check_error_shape(errors);
    cr_assert_leq(json_array_size(errors), 100);
    cr_assert_geq(json_array_size(errors), 5);
    json_decref(errors);
    free(body);
}

/* 10000 identical profiles: one maxItems error, found without comparing every pair of names. */
Test(validate, huge_profiles_array)
{
    json_t *profiles = json_array();
    for (int i = 0; i < 10000; i++)
        json_array_append_new(profiles, parse(PROFILE));
    json_t *body = json_pack("{s:s, s:o}", "name", "s", "profiles", profiles);
    json_t *errors = validate_new_stream(body);
    cr_assert_eq(json_array_size(errors), 1);
    json_decref(find_error(errors, "/profiles", "maxItems"));
    json_decref(errors);
    json_decref(body);
}

Test(validate, very_long_strings)
{
    size_t len = 1 << 20;
    char *long_text = malloc(len + 1);
    memset(long_text, 'k', len);
    long_text[len] = '\0';
    /* A long name is valid (the HTTP layer bounds body size); a long unknown key and a long tag
     * key are reported without trouble. */
    json_t *body = json_pack("{s:s}", "name", long_text);
    cr_assert_null(validate_new_stream(body));
    json_object_set_new(body, long_text, json_true());
    json_t *errors = validate_new_stream(body);
    cr_assert_eq(json_array_size(errors), 1);
    check_error_shape(errors);
    json_decref(errors);
    json_decref(body);

    body = json_pack("{s:s, s:{s:b}}", "name", "s", "userTags", long_text, 1);
    errors = validate_new_stream(body);
    cr_assert_eq(json_array_size(errors), 1);
    json_t *error = json_loads(json_string_value(json_array_get(errors, 0)), 0, NULL);
    cr_assert_eq(strlen(json_string_value(json_object_get(error, "instancePath"))),
                 strlen("/userTags/") + len);
    json_decref(error);
    json_decref(errors);
    json_decref(body);
    free(long_text);
}

Test(validate, deep_nesting_in_free_form_values)
{
    /* webhookContext is a free-form object: its depth is never walked. */
    json_t *inner = json_object();
    for (int i = 0; i < 1000; i++)
        inner = json_pack("{s:o}", "a", inner);
    json_t *body = json_pack("{s:s, s:{s:s, s:o}}", "name", "s", "playbackPolicy", "type", "public",
                             "webhookContext", inner);
    cr_assert_null(validate_new_stream(body));
    json_decref(body);
}

Test(validate, wrong_nested_types)
{
    const char *bodies[] = {
        "{\"name\":\"s\",\"profiles\":[null,1,\"x\",[],true]}",
        "{\"name\":\"s\",\"pull\":{\"source\":[],\"headers\":\"h\",\"isMobile\":{},"
        "\"location\":[]}}",
        "{\"name\":\"s\",\"multistream\":{\"targets\":[1,null,{\"profile\":[],\"spec\":[]}]}}",
        "{\"name\":{},\"creatorId\":[],\"userTags\":\"t\",\"record\":null,\"recordingSpec\":1}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        json_t *errors = run(validate_new_stream, bodies[i]);
        check_error_shape(errors);
        json_decref(errors);
    }
    cr_assert_eq(error_count(validate_new_stream, bodies[0]), 5);
}

static json_t *validate_new_webhook(const json_t *body)
{
    return validate_webhook(body, false);
}

static json_t *validate_webhook_patch(const json_t *body)
{
    return validate_webhook(body, true);
}

Test(validate, webhook_shapes)
{
    expect_valid(validate_new_webhook, "{\"name\":\"a\",\"url\":\"https://example.com/h\"}");
    expect_valid(validate_new_webhook,
                 "{\"name\":\"a\",\"url\":\"http://x/\",\"events\":[\"stream.started\","
                 "\"recording.ready\"],\"sharedSecret\":\"s\",\"streamId\":\"id\","
                 "\"projectId\":\"p\",\"id\":\"i\",\"kind\":\"webhook\",\"createdAt\":1,"
                 "\"status\":{}}");
    expect_valid(validate_webhook_patch, "{}");
    expect_valid(validate_webhook_patch, "{\"events\":[]}");
}

Test(validate, webhook_errors)
{
    expect_error_only(validate_new_webhook, "{\"url\":\"http://x/\"}", "", "required",
                      "must have required property 'name'");
    expect_error_only(validate_new_webhook, "{\"name\":\"a\"}", "", "required",
                      "must have required property 'url'");
    expect_error_only(validate_new_webhook, "{\"name\":\"a\",\"url\":\"ftp://x/\"}", "/url",
                      "pattern", "must match pattern \"^http(s)?://\"");
    expect_error_only(validate_new_webhook,
                      "{\"name\":\"a\",\"url\":\"http://x/\",\"events\":[\"stream.gone\"]}",
                      "/events/0", "enum", "must be equal to one of the allowed values");
    expect_error_only(validate_new_webhook,
                      "{\"name\":\"a\",\"url\":\"http://x/\",\"events\":\"stream.idle\"}",
                      "/events", "type", "must be array");
    expect_error_only(validate_webhook_patch, "{\"sharedSecret\":5}", "/sharedSecret", "type",
                      "must be string");
    expect_error_only(validate_webhook_patch, "{\"kind\":5}", "/kind", "type", "must be string");
    expect_error_only(validate_webhook_patch, "{\"hook\":1}", "", "additionalProperties",
                      "must NOT have additional properties");
    expect_error_only(validate_webhook_patch, "[]", "", "type", "must be object");
    cr_assert_not_null(validate_webhook(NULL, true));
}
