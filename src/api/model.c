/* Store records -> API JSON objects. */
#include "api/model.h"

#include <stdio.h>
#include <string.h>

/* Adds key: parsed stored JSON text, when there is text and it parses. */
static void set_stored_json(json_t *object, const char *key, const char *text)
{
    if (!text)
        return;
    json_t *value = json_loads(text, JSON_DECODE_ANY, NULL);
    if (value)
        json_object_set_new(object, key, value);
}

static json_t *nullable_bool(int tristate)
{
    return tristate < 0 ? json_null() : json_boolean(tristate);
}

static json_t *issues_json(const char *text)
{
    json_t *issues = text ? json_loads(text, 0, NULL) : NULL;
    return json_is_array(issues) ? issues : (json_decref(issues), json_null());
}

static void set_counters(json_t *object, const store_counters_t *c)
{
    json_object_set_new(object, "sourceSegments", json_integer(c->source_segments));
    json_object_set_new(object, "transcodedSegments", json_integer(c->transcoded_segments));
    json_object_set_new(object, "sourceSegmentsDuration", json_real(c->source_segments_duration_s));
    json_object_set_new(object, "transcodedSegmentsDuration",
                        json_real(c->transcoded_segments_duration_s));
    json_object_set_new(object, "sourceBytes", json_integer(c->source_bytes));
    json_object_set_new(object, "transcodedBytes", json_integer(c->transcoded_bytes));
    json_object_set_new(object, "ingestRate", json_real(c->ingest_rate_bps));
    json_object_set_new(object, "outgoingRate", json_real(c->outgoing_rate_bps));
}

json_t *model_stream_json(const store_stream_t *s)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "name", json_string(s->name ? s->name : ""));
    json_object_set_new(o, "kind", json_string("stream"));
    set_stored_json(o, "creatorId", s->creator_id_json);
    set_stored_json(o, "userTags", s->user_tags_json);
    json_object_set_new(o, "lastSeen", json_integer(s->last_seen_ms));
    set_counters(o, &s->counters);
    json_object_set_new(o, "isActive", json_boolean(s->is_active));
    json_object_set_new(o, "isHealthy", nullable_bool(s->is_healthy));
    json_object_set_new(o, "issues", issues_json(s->issues_json));
    if (s->created_by_token_name)
        json_object_set_new(o, "createdByTokenName", json_string(s->created_by_token_name));
    json_object_set_new(o, "createdAt", json_integer(s->created_at_ms));
    json_object_set_new(o, "streamKey", json_string(s->stream_key));
    set_stored_json(o, "pull", s->pull_json);
    json_object_set_new(o, "playbackId", json_string(s->playback_id));
    set_stored_json(o, "playbackPolicy", s->playback_policy_json);
    set_stored_json(o, "profiles", s->profiles_json);
    json_object_set_new(o, "projectId", json_string(s->project_id));
    json_object_set_new(o, "record", json_boolean(s->record));
    set_stored_json(o, "recordingSpec", s->recording_spec_json);
    set_stored_json(o, "multistream", s->multistream_json);
    json_object_set_new(o, "suspended", json_boolean(s->suspended));
    json_object_set_new(o, "lastTerminatedAt",
                        s->last_terminated_at_ms ? json_integer(s->last_terminated_at_ms)
                                                 : json_null());
    json_object_set_new(o, "userId", json_string(s->user_id));
    json_object_set_new(o, "renditions", json_object());
    return o;
}

const char *model_recording_status_name(store_recording_status_t status)
{
    switch (status) {
    case STORE_RECORDING_WAITING:
        return "waiting";
    case STORE_RECORDING_READY:
        return "ready";
    case STORE_RECORDING_FAILED:
        return "failed";
    case STORE_RECORDING_DELETED:
        return "deleted";
    case STORE_RECORDING_NONE:
        return "none";
    case STORE_RECORDING_NONE_SET:
        break;
    }
    return NULL;
}

static void set_recording_fields(json_t *o, const store_session_t *s, const char *public_url)
{
    if (!s->record)
        return;
    const char *status = model_recording_status_name(s->recording_status);
    json_object_set_new(o, "recordingStatus", json_string(status ? status : "waiting"));
    if (s->recording_status != STORE_RECORDING_READY)
        return;
    char url[1024];
    snprintf(url, sizeof url, "%s/recordings/%s/index.m3u8", public_url, s->id);
    json_object_set_new(o, "recordingUrl", json_string(url));
    snprintf(url, sizeof url, "%s/recordings/%s/output.mp4", public_url, s->id);
    json_object_set_new(o, "mp4Url", json_string(url));
}

json_t *model_session_json(const store_session_t *s, const char *public_url)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "kind", json_string("session"));
    json_object_set_new(o, "userId", json_string(s->user_id));
    json_object_set_new(o, "name", json_string(s->name ? s->name : ""));
    json_object_set_new(o, "lastSeen", json_integer(s->last_seen_ms));
    set_counters(o, &s->counters);
    json_object_set_new(o, "isHealthy", nullable_bool(s->is_healthy));
    json_object_set_new(o, "issues", issues_json(s->issues_json));
    json_object_set_new(o, "createdAt", json_integer(s->created_at_ms));
    json_object_set_new(o, "parentId", json_string(s->parent_id));
    json_object_set_new(o, "projectId", json_string(s->project_id));
    json_object_set_new(o, "record", json_boolean(s->record));
    set_recording_fields(o, s, public_url);
    json_object_set_new(o, "playbackId", json_string(s->playback_id));
    set_stored_json(o, "profiles", s->profiles_json);
    set_stored_json(o, "recordingSpec", s->recording_spec_json);
    return o;
}

json_t *model_default_profiles(void)
{
    static const struct {
        const char *name;
        int width, height, bitrate;
    } ladder[] = {
        {"240p0", 426, 240, 250000},
        {"360p0", 640, 360, 800000},
        {"480p0", 854, 480, 1600000},
        {"720p0", 1280, 720, 3000000},
    };
    json_t *profiles = json_array();
    for (size_t i = 0; profiles && i < sizeof ladder / sizeof ladder[0]; i++) {
        json_array_append_new(
            profiles, json_pack("{s:s,s:i,s:i,s:i,s:i,s:s}", "name", ladder[i].name, "fps", 0,
                                "bitrate", ladder[i].bitrate, "width", ladder[i].width, "height",
                                ladder[i].height, "profile", "H264ConstrainedHigh"));
    }
    return profiles;
}

char *model_json_text(const json_t *value)
{
    return value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}
