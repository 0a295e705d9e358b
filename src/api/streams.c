/* The Streams resource: /api/stream and its sub-paths, as API.md section 3 describes. */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/listing.h"
#include "api/model.h"
#include "api/query.h"
#include "api/validate.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#define TERMINATE_MIN_INTERVAL_MS 5000
#define DELETE_MANY_MAX_IDS 1000
#define ID_GENERATION_ATTEMPTS 4

/* Loads the stream that rc/out came from if the caller may see it; else replies 404 and
 * returns -1 (with *out cleared). */
static int check_visible(api_request_t *req, int rc, store_stream_t *out)
{
    if (rc == STORE_OK && !out->deleted && api_owns(req, out->user_id, out->project_id))
        return 0;
    store_stream_clear(out);
    api_reply_store_error(req, rc == STORE_OK ? STORE_NOT_FOUND : rc);
    return -1;
}

static int load_stream(api_request_t *req, const char *id, store_stream_t *out)
{
    return check_visible(req, store_stream_get(req->deps->store, id, out), out);
}

static void set_text(char **field, const json_t *value)
{
    free(*field);
    *field = model_json_text(value);
}

/* A creatorId given as a plain string is stored in its object form. */
static json_t *normalized_creator_id(json_t *value)
{
    if (json_is_string(value))
        return json_pack("{s:s,s:s}", "type", "unverified", "value", json_string_value(value));
    return json_incref(value);
}

/* recordingSpec with "profiles": null is stored without the profiles key. */
static json_t *normalized_recording_spec(json_t *value)
{
    json_t *copy = json_deep_copy(value);
    if (json_is_null(json_object_get(copy, "profiles")))
        json_object_del(copy, "profiles");
    return copy;
}

/* Writes every payload field present in body into s (validated input only). */
static void apply_payload(store_stream_t *s, json_t *body)
{
    json_t *value;
    if ((value = json_object_get(body, "name"))) {
        free(s->name);
        s->name = strdup(json_string_value(value));
    }
    if ((value = json_object_get(body, "record")))
        s->record = json_is_true(value);
    if ((value = json_object_get(body, "suspended")))
        s->suspended = json_is_true(value);
    if (json_object_get(body, "profiles")) {
        value = json_object_get(body, "profiles");
        json_t *profiles = json_is_null(value) ? model_default_profiles() : json_incref(value);
        set_text(&s->profiles_json, profiles);
        json_decref(profiles);
    }
    if ((value = json_object_get(body, "creatorId"))) {
        json_t *creator = normalized_creator_id(value);
        set_text(&s->creator_id_json, creator);
        json_decref(creator);
    }
    if ((value = json_object_get(body, "recordingSpec"))) {
        json_t *spec = normalized_recording_spec(value);
        set_text(&s->recording_spec_json, spec);
        json_decref(spec);
    }
    static const struct {
        const char *key;
        size_t offset;
    } plain[] = {
        {"userTags", offsetof(store_stream_t, user_tags_json)},
        {"pull", offsetof(store_stream_t, pull_json)},
        {"playbackPolicy", offsetof(store_stream_t, playback_policy_json)},
        {"multistream", offsetof(store_stream_t, multistream_json)},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if ((value = json_object_get(body, plain[i].key)))
            set_text((char **)((char *)s + plain[i].offset), value);
    }
}

/* Checks the rules the schema cannot express; replies 400 and returns -1 when one fails. */
static int check_payload_rules(api_request_t *req, const store_stream_t *s)
{
    if (s->recording_spec_json && !s->record) {
        http_reply_error(req->http, 400, "recordingSpec is only supported with record=true");
        return -1;
    }
    json_t *multistream = s->multistream_json ? json_loads(s->multistream_json, 0, NULL) : NULL;
    json_t *profiles = s->profiles_json ? json_loads(s->profiles_json, 0, NULL) : NULL;
    json_t *targets = json_object_get(multistream, "targets");
    size_t i;
    json_t *target;
    int rc = 0;
    json_array_foreach(targets, i, target)
    {
        const char *wanted = json_string_value(json_object_get(target, "profile"));
        bool found = wanted && strcmp(wanted, "source") == 0;
        size_t j;
        json_t *profile;
        json_array_foreach(profiles, j, profile)
        {
            const char *name = json_string_value(json_object_get(profile, "name"));
            found = found || (name && wanted && strcmp(name, wanted) == 0);
        }
        if (!found) {
            http_reply_error(req->http, 400,
                             "multistream target profile not found: \"%s\" (use \"source\" or a "
                             "profile name of the stream)",
                             wanted ? wanted : "");
            rc = -1;
            break;
        }
    }
    json_decref(multistream);
    json_decref(profiles);
    return rc;
}

static int reply_invalid(api_request_t *req, json_t *errors)
{
    if (!errors)
        return 0;
    http_reply(req->http, 422, json_pack("{s:o}", "errors", errors));
    return -1;
}

static int insert_with_fresh_ids(api_request_t *req, store_stream_t *s)
{
    int rc = STORE_ERR;
    for (int attempt = 0; attempt < ID_GENERATION_ATTEMPTS; attempt++) {
        if (ids_uuid_v4(s->id) != 0 || ids_stream_key(s->id, s->stream_key) != 0 ||
            ids_playback_id(s->id, s->playback_id) != 0)
            return STORE_ERR;
        rc = store_stream_insert(req->deps->store, s);
        if (rc != STORE_CONFLICT)
            return rc;
    }
    return rc;
}

void streams_create(api_request_t *req)
{
    json_t *body = http_parse_body(req->http);
    if (!body)
        return;
    store_stream_t s = {.is_healthy = -1};
    if (reply_invalid(req, validate_new_stream(body)) != 0)
        goto done;
    memcpy(s.user_id, req->user.id, STORE_ID_SIZE);
    memcpy(s.project_id, req->token.project_id, STORE_ID_SIZE);
    s.created_at_ms = clock_now_ms();
    s.created_by_token_name = strdup(req->token.name ? req->token.name : "");
    apply_payload(&s, body);
    if (!s.profiles_json) {
        json_t *profiles = model_default_profiles();
        set_text(&s.profiles_json, profiles);
        json_decref(profiles);
    }
    if (check_payload_rules(req, &s) != 0)
        goto done;
    int rc = insert_with_fresh_ids(req, &s);
    if (rc != STORE_OK) {
        api_reply_store_error(req, rc == STORE_NOT_FOUND ? STORE_ERR : rc);
        goto done;
    }
    log_info("api", "stream %s created by user %s", s.id, s.user_id);
    http_reply(req->http, 201, model_stream_json(&s));
done:
    store_stream_clear(&s);
    json_decref(body);
}

static void reply_stream(api_request_t *req, int rc, store_stream_t *s)
{
    if (check_visible(req, rc, s) != 0)
        return;
    http_reply(req->http, 200, model_stream_json(s));
    store_stream_clear(s);
}

void streams_get(api_request_t *req)
{
    store_stream_t s = {0};
    reply_stream(req, store_stream_get(req->deps->store, req->http->params[0], &s), &s);
}

void streams_get_by_playback_id(api_request_t *req)
{
    store_stream_t s = {0};
    reply_stream(req, store_stream_get_by_playback_id(req->deps->store, req->http->params[0], &s),
                 &s);
}

void streams_get_by_key(api_request_t *req)
{
    store_stream_t s = {0};
    reply_stream(req, store_stream_get_by_key(req->deps->store, req->http->params[0], &s), &s);
}

/* Runs a stream list query built from the common query parameters and replies with a page. */
static void list_streams(api_request_t *req, store_query_t *q)
{
    api_list_t list;
    if (api_list_begin(req, query_stream_fields, query_stream_field_count, q, &list) != 0)
        return;
    bool want_total = list.want_total;
    store_stream_t *rows = NULL;
    size_t count = 0;
    int64_t total = -1;
    int rc = store_stream_list(req->deps->store, q, &rows, &count, want_total ? &total : NULL);
    if (rc == STORE_INVALID) {
        http_reply_error(req->http, 400, "invalid filters or order");
    } else if (rc != STORE_OK) {
        api_reply_store_error(req, rc);
    } else {
        json_t *items = json_array();
        for (size_t i = 0; i < count; i++)
            json_array_append_new(items, model_stream_json(&rows[i]));
        api_reply_page(req, items, q->limit, q->offset, want_total ? total : -1, true);
    }
    store_stream_list_free(rows, count);
    api_list_end(&list);
}

void streams_list(api_request_t *req)
{
    if (http_query(req->http, "projectId")) {
        http_reply_error(req->http, 400, "projectId as query param not supported");
        return;
    }
    store_query_t q = {
        .user_id = req->user.id,
        .project_id = req->token.project_id,
        .record = -1,
        .active_only = query_flag_set(http_query(req->http, "active")),
    };
    if (query_flag_set(http_query(req->http, "all")) && api_is_admin(req)) {
        q.user_id = NULL;
        q.project_id = NULL;
        q.include_deleted = true;
    }
    if (query_flag_set(http_query(req->http, "sessionsonly"))) {
        /* Sessions are not streams here: a parent-stream listing has no child rows. */
        api_reply_page(req, json_array(), 1, 0,
                       query_flag_set(http_query(req->http, "count")) ? 0 : -1, false);
        return;
    }
    list_streams(req, &q);
}

void streams_list_by_user(api_request_t *req)
{
    const char *user_id = req->http->params[0];
    if (strcmp(user_id, req->user.id) != 0 && !api_is_admin(req)) {
        http_reply_error(req->http, 403, "user can only request information on their own streams");
        return;
    }
    store_query_t q = {.user_id = user_id, .record = -1};
    list_streams(req, &q);
}

static int save_stream(api_request_t *req, const store_stream_t *s)
{
    int rc = store_stream_update(req->deps->store, s);
    if (rc != STORE_OK)
        api_reply_store_error(req, rc);
    return rc;
}

static void stop_live(api_request_t *req, const store_stream_t *s)
{
    const api_hooks_t *hooks = &req->deps->hooks;
    if (hooks->stream_stop)
        hooks->stream_stop(hooks->opaque, s->id);
}

/* Refuses changes that a live broadcast cannot take; replies 400 and returns -1. */
static int check_live_changes(api_request_t *req, const store_stream_t *s, json_t *body)
{
    if (!s->is_active)
        return 0;
    json_t *record = json_object_get(body, "record");
    if (record && json_is_true(record) != s->record) {
        http_reply_error(req->http, 400, "cannot change 'record' field while stream is active");
        return -1;
    }
    if (json_object_get(body, "profiles")) {
        http_reply_error(req->http, 400, "cannot change 'profiles' field while stream is active");
        return -1;
    }
    return 0;
}

void streams_patch(api_request_t *req)
{
    json_t *body = http_parse_body(req->http);
    if (!body)
        return;
    store_stream_t s = {0};
    if (load_stream(req, req->http->params[0], &s) != 0)
        goto done;
    if (reply_invalid(req, validate_stream_patch(body)) != 0 ||
        check_live_changes(req, &s, body) != 0)
        goto done;
    bool was_suspended = s.suspended;
    apply_payload(&s, body);
    if (check_payload_rules(req, &s) != 0 || save_stream(req, &s) != STORE_OK)
        goto done;
    if (s.suspended && !was_suspended)
        stop_live(req, &s);
    http_reply(req->http, 204, NULL);
done:
    store_stream_clear(&s);
    json_decref(body);
}

/* Soft-deletes a stream the caller owns and ends its broadcast. */
static int delete_stream(api_request_t *req, const char *id)
{
    store_stream_t s = {0};
    if (load_stream(req, id, &s) != 0)
        return -1;
    s.deleted = true;
    int rc = save_stream(req, &s);
    if (rc == STORE_OK) {
        stop_live(req, &s);
        log_info("api", "stream %s deleted", s.id);
    }
    store_stream_clear(&s);
    return rc == STORE_OK ? 0 : -1;
}

void streams_delete(api_request_t *req)
{
    if (delete_stream(req, req->http->params[0]) == 0)
        http_reply(req->http, 204, NULL);
}

void streams_delete_many(api_request_t *req)
{
    json_t *body = http_parse_body(req->http);
    if (!body)
        return;
    json_t *ids = json_object_get(body, "ids");
    if (!json_is_array(ids) || json_array_size(ids) > DELETE_MANY_MAX_IDS) {
        http_reply_error(req->http, 422, "missing ids");
        json_decref(body);
        return;
    }
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (!json_is_string(id)) {
            http_reply_error(req->http, 422, "missing ids");
            json_decref(body);
            return;
        }
    }
    /* All or nothing on visibility is Studio's behaviour for a single id; for many, ids the
     * caller cannot see are skipped (they may already be gone). */
    json_array_foreach(ids, i, id)
    {
        store_stream_t s = {0};
        if (load_stream(req, json_string_value(id), &s) != 0)
            continue;
        s.deleted = true;
        if (store_stream_update(req->deps->store, &s) == STORE_OK)
            stop_live(req, &s);
        store_stream_clear(&s);
    }
    http_reply(req->http, 204, NULL);
    json_decref(body);
}

void streams_terminate(api_request_t *req)
{
    store_stream_t s = {0};
    if (load_stream(req, req->http->params[0], &s) != 0)
        return;
    int64_t now = clock_now_ms();
    if (s.last_terminated_at_ms && now - s.last_terminated_at_ms < TERMINATE_MIN_INTERVAL_MS) {
        http_reply_error(req->http, 429, "too many terminate requests");
    } else {
        s.last_terminated_at_ms = now;
        if (save_stream(req, &s) == STORE_OK) {
            stop_live(req, &s);
            log_info("api", "stream %s terminated", s.id);
            http_reply(req->http, 204, NULL);
        }
    }
    store_stream_clear(&s);
}

/* Sets one boolean field from a {"<field>": bool} body (the legacy single-field PATCHes). */
static void set_flag(api_request_t *req, const char *field, int missing_status,
                     const char *missing_message)
{
    json_t *body = http_parse_body(req->http);
    if (!body)
        return;
    json_t *value = json_object_get(body, field);
    /* Only the one field is applied, whatever else the body holds. */
    json_t *change = json_is_boolean(value) ? json_pack("{s:O}", field, value) : NULL;
    store_stream_t s = {0};
    if (!change) {
        http_reply_error(req->http, missing_status, "%s", missing_message);
    } else if (load_stream(req, req->http->params[0], &s) == 0 &&
               check_live_changes(req, &s, change) == 0) {
        bool was_suspended = s.suspended;
        apply_payload(&s, change);
        if (save_stream(req, &s) == STORE_OK) {
            if (s.suspended && !was_suspended)
                stop_live(req, &s);
            http_reply(req->http, 204, NULL);
        }
    }
    store_stream_clear(&s);
    json_decref(change);
    json_decref(body);
}

void streams_set_suspended(api_request_t *req)
{
    set_flag(req, "suspended", 422, "missing suspended property");
}

void streams_set_record(api_request_t *req)
{
    set_flag(req, "record", 400, "record field required");
}

void streams_start_pull(api_request_t *req)
{
    store_stream_t s = {0};
    if (load_stream(req, req->http->params[0], &s) != 0)
        return;
    if (!s.pull_json)
        http_reply_error(req->http, 400, "stream does not have a pull source");
    else
        http_reply_error(req->http, 501, "pull ingest is not supported yet");
    store_stream_clear(&s);
}
