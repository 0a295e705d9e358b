/* The part of the store every backend shares: the public calls of store.h (argument checks, ids
 * and timestamps, then the backend's operation), opening the backend a URL names, record
 * lifetimes (clear, list free), growable row arrays, recording status names and record
 * validation. No database code here. */
#include "store/store.h"

#include "store/store_backend.h"
#include "store/store_internal.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Clearing -------------------------------------------------------------------------------- */

void store_user_clear(store_user_t *user)
{
    if (!user)
        return;
    free(user->name);
    free(user->email);
    memset(user, 0, sizeof *user);
}

void store_api_token_clear(store_api_token_t *token)
{
    if (!token)
        return;
    free(token->name);
    memset(token, 0, sizeof *token);
}

void store_stream_clear(store_stream_t *stream)
{
    if (!stream)
        return;
    free(stream->name);
    free(stream->created_by_token_name);
    free(stream->issues_json);
    free(stream->profiles_json);
    free(stream->user_tags_json);
    free(stream->creator_id_json);
    free(stream->pull_json);
    free(stream->playback_policy_json);
    free(stream->recording_spec_json);
    free(stream->multistream_json);
    memset(stream, 0, sizeof *stream);
}

void store_session_clear(store_session_t *session)
{
    if (!session)
        return;
    free(session->name);
    free(session->issues_json);
    free(session->profiles_json);
    free(session->recording_spec_json);
    free(session->health_json);
    memset(session, 0, sizeof *session);
}

/* ---- Record types and row arrays ------------------------------------------------------------- */

static void clear_user(void *record)
{
    store_user_clear(record);
}

static void clear_token(void *record)
{
    store_api_token_clear(record);
}

static void clear_stream(void *record)
{
    store_stream_clear(record);
}

static void clear_session(void *record)
{
    store_session_clear(record);
}

const store_record_type_t store_user_record = {sizeof(store_user_t), clear_user};
const store_record_type_t store_token_record = {sizeof(store_api_token_t), clear_token};
const store_record_type_t store_stream_record = {sizeof(store_stream_t), clear_stream};
const store_record_type_t store_session_record = {sizeof(store_session_t), clear_session};

void store_rows_free(store_rows_t *set, const store_record_type_t *type)
{
    for (size_t i = 0; i < set->count; i++)
        type->clear((char *)set->rows + i * type->size);
    free(set->rows);
    *set = (store_rows_t){0};
}

void *store_rows_add(store_rows_t *set, const store_record_type_t *type)
{
    if (set->count == set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 16;
        void *rows = realloc(set->rows, capacity * type->size);
        if (!rows)
            return NULL;
        set->rows = rows;
        set->capacity = capacity;
    }
    void *slot = (char *)set->rows + set->count * type->size;
    memset(slot, 0, type->size);
    set->count++;
    return slot;
}

void store_api_token_list_free(store_api_token_t *tokens, size_t count)
{
    store_rows_t set = {tokens, tokens ? count : 0, count};
    store_rows_free(&set, &store_token_record);
}

void store_stream_list_free(store_stream_t *streams, size_t count)
{
    store_rows_t set = {streams, streams ? count : 0, count};
    store_rows_free(&set, &store_stream_record);
}

void store_session_list_free(store_session_t *sessions, size_t count)
{
    store_rows_t set = {sessions, sessions ? count : 0, count};
    store_rows_free(&set, &store_session_record);
}

/* ---- Recording status ------------------------------------------------------------------------ */

static const char *const recording_status_names[] = {
    [STORE_RECORDING_NONE_SET] = NULL,     [STORE_RECORDING_WAITING] = "waiting",
    [STORE_RECORDING_READY] = "ready",     [STORE_RECORDING_FAILED] = "failed",
    [STORE_RECORDING_DELETED] = "deleted", [STORE_RECORDING_NONE] = "none",
};

#define RECORDING_STATUS_COUNT                                                                     \
    ((int)(sizeof recording_status_names / sizeof recording_status_names[0]))

const char *store_recording_status_name(store_recording_status_t status)
{
    if ((int)status < 0 || (int)status >= RECORDING_STATUS_COUNT)
        return NULL;
    return recording_status_names[status];
}

store_recording_status_t store_recording_status_parse(const char *text, const char *session_id)
{
    if (!text)
        return STORE_RECORDING_NONE_SET;
    for (int i = 1; i < RECORDING_STATUS_COUNT; i++) {
        if (strcmp(text, recording_status_names[i]) == 0)
            return (store_recording_status_t)i;
    }
    log_warn("store", "session %s: unknown recording_status \"%s\" read as not set", session_id,
             text);
    return STORE_RECORDING_NONE_SET;
}

/* ---- Validation and errors ------------------------------------------------------------------- */

bool store_session_valid(const store_session_t *session)
{
    return session->name && (int)session->recording_status >= 0 &&
           (int)session->recording_status < RECORDING_STATUS_COUNT;
}

int store_out_of_memory(const char *what)
{
    log_error("store", "%s: out of memory", what);
    return STORE_ERR;
}

/* ---- Opening and the calls of store.h ------------------------------------------------------- */

store_t *store_open(const char *url, char *err, size_t err_size)
{
    if (!url) {
        if (err && err_size > 0)
            snprintf(err, err_size, "no store URL given");
        return NULL;
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return store_pg_open(url, err, err_size);
    return store_sqlite_open(url, err, err_size);
}

void store_describe(store_t *store, char *out, size_t size)
{
    if (size == 0)
        return;
    out[0] = '\0';
    if (store)
        store->backend->describe(store, out, size);
}

void store_close(store_t *store)
{
    if (store)
        store->backend->close(store);
}

int store_schema_version(store_t *store, int *out_version)
{
    if (!store || !out_version)
        return STORE_INVALID;
    return store->backend->schema_version(store, out_version);
}

int store_user_create(store_t *store, store_user_t *user)
{
    if (!store || !user || !user->name)
        return STORE_INVALID;
    if (ids_uuid_v4(user->id) != 0 || ids_uuid_v4(user->project_id) != 0) {
        log_error("store", "user create: the random generator failed");
        return STORE_ERR;
    }
    user->created_at_ms = clock_now_ms();
    return store->backend->user_insert(store, user);
}

int store_user_get(store_t *store, const char *user_id, store_user_t *out)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, sizeof *out);
    if (!store || !user_id)
        return STORE_INVALID;
    return store->backend->user_get(store, user_id, out);
}

int store_user_count(store_t *store, int64_t *out_count)
{
    if (!store || !out_count)
        return STORE_INVALID;
    *out_count = 0;
    return store->backend->user_count(store, out_count);
}

int store_api_token_create(store_t *store, store_api_token_t *token)
{
    if (!store || !token || !token->name)
        return STORE_INVALID;
    if (ids_uuid_v4(token->id) != 0) {
        log_error("store", "token create: the random generator failed");
        return STORE_ERR;
    }
    token->created_at_ms = clock_now_ms();
    token->last_used_ms = 0;
    return store->backend->token_insert(store, token);
}

int store_api_token_find(store_t *store, const char *key_hash, store_api_token_t *out)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, sizeof *out);
    if (!store || !key_hash)
        return STORE_INVALID;
    return store->backend->token_find(store, key_hash, out);
}

int store_api_token_touch(store_t *store, const char *token_id, int64_t now_ms)
{
    if (!store || !token_id)
        return STORE_INVALID;
    return store->backend->token_touch(store, token_id, now_ms);
}

int store_api_token_delete(store_t *store, const char *user_id, const char *token_id)
{
    if (!store || !user_id || !token_id)
        return STORE_INVALID;
    return store->backend->token_delete(store, user_id, token_id);
}

int store_api_token_list(store_t *store, const char *user_id, store_api_token_t **out,
                         size_t *out_count)
{
    if (!out || !out_count)
        return STORE_INVALID;
    *out = NULL;
    *out_count = 0;
    if (!store || !user_id)
        return STORE_INVALID;
    store_rows_t set = {0};
    int rc = store->backend->token_list(store, user_id, &set);
    *out = set.rows;
    *out_count = set.count;
    return rc;
}

int store_stream_insert(store_t *store, const store_stream_t *stream)
{
    if (!store || !stream || !stream->name)
        return STORE_INVALID;
    return store->backend->stream_insert(store, stream);
}

int store_stream_update(store_t *store, const store_stream_t *stream)
{
    if (!store || !stream || !stream->name)
        return STORE_INVALID;
    return store->backend->stream_update(store, stream);
}

/* The three stream getters differ only in their key column. */
static int stream_get(store_t *store, store_stream_lookup_t by, const char *key,
                      store_stream_t *out)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, sizeof *out);
    if (!store || !key)
        return STORE_INVALID;
    return store->backend->stream_get(store, by, key, out);
}

int store_stream_get(store_t *store, const char *id, store_stream_t *out)
{
    return stream_get(store, STORE_STREAM_BY_ID, id, out);
}

int store_stream_get_by_key(store_t *store, const char *stream_key, store_stream_t *out)
{
    return stream_get(store, STORE_STREAM_BY_KEY, stream_key, out);
}

int store_stream_get_by_playback_id(store_t *store, const char *playback_id, store_stream_t *out)
{
    return stream_get(store, STORE_STREAM_BY_PLAYBACK_ID, playback_id, out);
}

int store_stream_update_live(store_t *store, const char *stream_id, const store_stream_live_t *live)
{
    if (!store || !stream_id || !live)
        return STORE_INVALID;
    return store->backend->stream_update_live(store, stream_id, live);
}

int store_session_insert(store_t *store, const store_session_t *session)
{
    if (!store || !session || !store_session_valid(session))
        return STORE_INVALID;
    return store->backend->session_insert(store, session);
}

int store_session_update(store_t *store, const store_session_t *session)
{
    if (!store || !session || !store_session_valid(session))
        return STORE_INVALID;
    return store->backend->session_update(store, session);
}

static int session_get(store_t *store, store_session_lookup_t by, const char *key,
                       store_session_t *out)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, sizeof *out);
    if (!store || !key)
        return STORE_INVALID;
    return store->backend->session_get(store, by, key, out);
}

int store_session_get(store_t *store, const char *id, store_session_t *out)
{
    return session_get(store, STORE_SESSION_BY_ID, id, out);
}

int store_session_get_latest(store_t *store, const char *stream_id, store_session_t *out)
{
    return session_get(store, STORE_SESSION_LATEST_OF_STREAM, stream_id, out);
}

int store_close_open_sessions(store_t *store, int64_t *out_closed)
{
    if (!store)
        return STORE_INVALID;
    return store->backend->close_open_sessions(store, out_closed);
}

/* Both lists; set is empty on failure. */
static int list(store_t *store, store_query_list_t which, const store_query_t *q, store_rows_t *set,
                int64_t *out_total)
{
    if (out_total)
        *out_total = 0;
    if (!store || !q)
        return STORE_INVALID;
    return store->backend->list(store, which, q, set, out_total);
}

int store_stream_list(store_t *store, const store_query_t *q, store_stream_t **out,
                      size_t *out_count, int64_t *out_total)
{
    if (!out || !out_count)
        return STORE_INVALID;
    store_rows_t set = {0};
    int rc = list(store, STORE_QUERY_STREAMS, q, &set, out_total);
    *out = set.rows;
    *out_count = set.count;
    return rc;
}

int store_session_list(store_t *store, const store_query_t *q, store_session_t **out,
                       size_t *out_count, int64_t *out_total)
{
    if (!out || !out_count)
        return STORE_INVALID;
    store_rows_t set = {0};
    int rc = list(store, STORE_QUERY_SESSIONS, q, &set, out_total);
    *out = set.rows;
    *out_count = set.count;
    return rc;
}
