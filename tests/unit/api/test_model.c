/* Unit tests for the Stream and Session JSON objects: every field, its JSON type and nulls. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/model.h"

static store_stream_t full_stream(void)
{
    store_stream_t s = {
        .id = "7de094b8-0000-4000-8000-000000000001",
        .user_id = "11111111-0000-4000-8000-000000000000",
        .project_id = "22222222-0000-4000-8000-000000000000",
        .stream_key = "7de0-aaaa-bbbb-cccc",
        .playback_id = "7de0dddddddddddd",
        .name = "show",
        .created_by_token_name = "ci",
        .created_at_ms = 1700000000123,
        .last_seen_ms = 1700000001000,
        .last_terminated_at_ms = 0,
        .is_active = true,
        .record = true,
        .is_healthy = -1,
        .counters = {7, 14, 13.5, 27.0, 1000, 2000, 512.5, 1024.25},
        .profiles_json = "[{\"name\":\"720p0\",\"width\":1280,\"height\":720,\"bitrate\":3000000,"
                         "\"fps\":30,\"gop\":\"2\"}]",
        .user_tags_json = "{\"team\":\"a\",\"n\":1,\"list\":[\"x\",2]}",
        .creator_id_json = "{\"type\":\"unverified\",\"value\":\"bob\"}",
        .pull_json = "{\"source\":\"rtmp://x/y\"}",
        .playback_policy_json = "{\"type\":\"public\"}",
        .recording_spec_json = "{\"profiles\":[{\"bitrate\":1000000}]}",
        .multistream_json = "{\"targets\":[]}",
    };
    return s;
}

Test(model, stream_has_every_field_with_json_types)
{
    store_stream_t s = full_stream();
    json_t *o = model_stream_json(&s);
    cr_assert_str_eq(json_string_value(json_object_get(o, "id")), s.id);
    cr_assert_str_eq(json_string_value(json_object_get(o, "name")), "show");
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "stream");
    cr_assert_str_eq(json_string_value(json_object_get(o, "streamKey")), s.stream_key);
    cr_assert_str_eq(json_string_value(json_object_get(o, "playbackId")), s.playback_id);
    cr_assert_str_eq(json_string_value(json_object_get(o, "createdByTokenName")), "ci");
    cr_assert_str_eq(json_string_value(json_object_get(o, "userId")), s.user_id);
    cr_assert_str_eq(json_string_value(json_object_get(o, "projectId")), s.project_id);
    cr_assert_eq(json_integer_value(json_object_get(o, "createdAt")), 1700000000123);
    cr_assert_eq(json_integer_value(json_object_get(o, "lastSeen")), 1700000001000);
    cr_assert_eq(json_integer_value(json_object_get(o, "sourceSegments")), 7);
    cr_assert_eq(json_integer_value(json_object_get(o, "transcodedSegments")), 14);
    cr_assert_float_eq(json_number_value(json_object_get(o, "sourceSegmentsDuration")), 13.5, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(o, "transcodedSegmentsDuration")), 27.0,
                       1e-9);
    cr_assert_eq(json_integer_value(json_object_get(o, "sourceBytes")), 1000);
    cr_assert_eq(json_integer_value(json_object_get(o, "transcodedBytes")), 2000);
    cr_assert_float_eq(json_number_value(json_object_get(o, "ingestRate")), 512.5, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(o, "outgoingRate")), 1024.25, 1e-9);
    cr_assert(json_is_true(json_object_get(o, "isActive")));
    cr_assert(json_is_true(json_object_get(o, "record")));
    cr_assert(json_is_false(json_object_get(o, "suspended")));
    cr_assert(json_is_null(json_object_get(o, "isHealthy")));
    cr_assert(json_is_null(json_object_get(o, "issues")));
    cr_assert(json_is_null(json_object_get(o, "lastTerminatedAt")));
    cr_assert(json_is_object(json_object_get(o, "renditions")));
    json_t *profile = json_array_get(json_object_get(o, "profiles"), 0);
    cr_assert(json_is_integer(json_object_get(profile, "width")));
    cr_assert(json_is_string(json_object_get(profile, "gop")));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "creatorId"), "value")),
                     "bob");
    cr_assert(json_is_array(json_object_get(json_object_get(o, "userTags"), "list")));
    cr_assert(json_is_object(json_object_get(o, "pull")));
    cr_assert(json_is_object(json_object_get(o, "playbackPolicy")));
    cr_assert(json_is_object(json_object_get(o, "recordingSpec")));
    cr_assert(json_is_object(json_object_get(o, "multistream")));
    /* Private fields never leave the server. */
    cr_assert_null(json_object_get(o, "deleted"));
    cr_assert_null(json_object_get(o, "keyHash"));
    json_decref(o);
}

Test(model, stream_optional_fields_absent_and_nullables_set)
{
    store_stream_t s = full_stream();
    s.user_tags_json = s.creator_id_json = s.pull_json = NULL;
    s.playback_policy_json = s.recording_spec_json = s.multistream_json = NULL;
    s.created_by_token_name = NULL;
    s.is_healthy = 0;
    s.issues_json = "[\"Transcoding is slower than real time\"]";
    s.last_terminated_at_ms = 1700000002000;
    json_t *o = model_stream_json(&s);
    const char *absent[] = {"userTags",          "creatorId",     "pull",
                            "playbackPolicy",    "recordingSpec", "multistream",
                            "createdByTokenName"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        cr_assert_null(json_object_get(o, absent[i]), "%s", absent[i]);
    cr_assert(json_is_false(json_object_get(o, "isHealthy")));
    cr_assert_eq(json_array_size(json_object_get(o, "issues")), 1);
    cr_assert_eq(json_integer_value(json_object_get(o, "lastTerminatedAt")), 1700000002000);
    json_decref(o);
}

Test(model, corrupt_stored_json_is_left_out_not_crashing)
{
    store_stream_t s = full_stream();
    s.profiles_json = "[{\"name\":";
    s.issues_json = "{\"not\":\"an array\"}";
    json_t *o = model_stream_json(&s);
    cr_assert_null(json_object_get(o, "profiles"));
    cr_assert(json_is_null(json_object_get(o, "issues")));
    json_decref(o);
}

static store_session_t session_with(bool record, store_recording_status_t status)
{
    store_session_t s = {
        .id = "33333333-0000-4000-8000-000000000000",
        .parent_id = "7de094b8-0000-4000-8000-000000000001",
        .user_id = "11111111-0000-4000-8000-000000000000",
        .project_id = "22222222-0000-4000-8000-000000000000",
        .playback_id = "7de0dddddddddddd",
        .name = "show",
        .created_at_ms = 1700000000000,
        .last_seen_ms = 1700000005000,
        .record = record,
        .is_healthy = 1,
        .issues_json = "[]",
        .recording_status = status,
        .counters = {3, 6, 6.0, 12.0, 300, 600, 10, 20},
        .profiles_json = "[]",
    };
    return s;
}

Test(model, session_fields_and_no_recording_fields_when_not_recorded)
{
    store_session_t s = session_with(false, STORE_RECORDING_NONE_SET);
    json_t *o = model_session_json(&s, "http://h:1");
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "session");
    cr_assert_str_eq(json_string_value(json_object_get(o, "name")), "show");
    cr_assert_str_eq(json_string_value(json_object_get(o, "parentId")), s.parent_id);
    cr_assert_str_eq(json_string_value(json_object_get(o, "playbackId")), s.playback_id);
    cr_assert(json_is_true(json_object_get(o, "isHealthy")));
    cr_assert(json_is_array(json_object_get(o, "issues")));
    cr_assert(json_is_false(json_object_get(o, "record")));
    cr_assert_eq(json_integer_value(json_object_get(o, "sourceSegments")), 3);
    cr_assert_null(json_object_get(o, "recordingStatus"));
    cr_assert_null(json_object_get(o, "recordingUrl"));
    cr_assert_null(json_object_get(o, "mp4Url"));
    cr_assert_null(json_object_get(o, "recordingSpec"));
    json_decref(o);
}

Test(model, session_recording_urls_only_when_ready)
{
    store_session_t s = session_with(true, STORE_RECORDING_WAITING);
    json_t *o = model_session_json(&s, "http://h:1");
    cr_assert_str_eq(json_string_value(json_object_get(o, "recordingStatus")), "waiting");
    cr_assert_null(json_object_get(o, "recordingUrl"));
    json_decref(o);
    s.recording_status = STORE_RECORDING_READY;
    o = model_session_json(&s, "http://h:1");
    cr_assert_str_eq(json_string_value(json_object_get(o, "recordingStatus")), "ready");
    cr_assert_str_eq(json_string_value(json_object_get(o, "recordingUrl")),
                     "http://h:1/recordings/33333333-0000-4000-8000-000000000000/index.m3u8");
    cr_assert_str_eq(json_string_value(json_object_get(o, "mp4Url")),
                     "http://h:1/recordings/33333333-0000-4000-8000-000000000000/output.mp4");
    json_decref(o);
}

Test(model, default_ladder)
{
    json_t *profiles = model_default_profiles();
    cr_assert_eq(json_array_size(profiles), 4);
    const char *names[] = {"240p0", "360p0", "480p0", "720p0"};
    const int bitrates[] = {250000, 800000, 1600000, 3000000};
    for (size_t i = 0; i < 4; i++) {
        json_t *p = json_array_get(profiles, i);
        cr_assert_str_eq(json_string_value(json_object_get(p, "name")), names[i]);
        cr_assert_eq(json_integer_value(json_object_get(p, "bitrate")), bitrates[i]);
        cr_assert_eq(json_integer_value(json_object_get(p, "fps")), 0);
        cr_assert_str_eq(json_string_value(json_object_get(p, "profile")), "H264ConstrainedHigh");
    }
    json_decref(profiles);
}
