/* The part of the store every backend shares: the public calls of store.h (argument checks, ids
 * and timestamps, then the backend's operation), opening the backend a URL names, record
 * lifetimes (clear, list free), growable row arrays, recording status names and record
 * validation. No database code here. */
#include "store/store.h"

#include "store/store_backend.h"
#include "store/store_events.h"
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

void store_node_clear(store_node_t *node)
{
    if (!node)
        return;
    free(node->http_url);
    free(node->rtmp_url);
    memset(node, 0, sizeof *node);
}

void store_signing_key_clear(store_signing_key_t *key)
{
    if (!key)
        return;
    free(key->name);
    free(key->public_key);
    memset(key, 0, sizeof *key);
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

static void clear_node(void *record)
{
    store_node_clear(record);
}

const store_record_type_t store_user_record = {sizeof(store_user_t), clear_user};
const store_record_type_t store_token_record = {sizeof(store_api_token_t), clear_token};
const store_record_type_t store_stream_record = {sizeof(store_stream_t), clear_stream};
const store_record_type_t store_session_record = {sizeof(store_session_t), clear_session};
const store_record_type_t store_node_record = {sizeof(store_node_t), clear_node};

static void clear_signing_key(void *record)
{
    store_signing_key_clear(record);
}

const store_record_type_t store_signing_key_record = {sizeof(store_signing_key_t),
                                                      clear_signing_key};

static void clear_nothing(void *record)
{
    (void)record;
}

const store_record_type_t store_controls_record = {sizeof(store_stream_controls_t), clear_nothing};

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

void store_signing_key_list_free(store_signing_key_t *keys, size_t count)
{
    store_rows_t set = {keys, keys ? count : 0, count};
    store_rows_free(&set, &store_signing_key_record);
}

void store_node_list_free(store_node_t *nodes, size_t count)
{
    store_rows_t set = {nodes, nodes ? count : 0, count};
    store_rows_free(&set, &store_node_record);
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

/* ---- Running statements through the backend ------------------------------------------------ */

/* A write that must touch a row: STORE_NOT_FOUND when it touched none. */
static int write_one(store_t *store, stmt_id_t id, store_binder_t bind, const void *args)
{
    int64_t changed = 0;
    int rc = store->backend->write(store, id, bind, args, &changed);
    return rc == STORE_OK && changed == 0 ? STORE_NOT_FOUND : rc;
}

static int write_any(store_t *store, stmt_id_t id, store_binder_t bind, const void *args)
{
    return store->backend->write(store, id, bind, args, NULL);
}

static void bind_key(store_params_t *p, const void *key)
{
    store_params_text(p, 1, key);
}

/* A lookup of one row by a text key (?1): zeroes out first. */
static int read_by_key(store_t *store, stmt_id_t id, const char *key, const store_row_type_t *type,
                       void *out, size_t out_size)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, out_size);
    if (!store || !key)
        return STORE_INVALID;
    return store->backend->read_one(store, id, bind_key, key, type, out);
}

/* Every row of a statement into a caller-owned array. */
static int read_rows(store_t *store, stmt_id_t id, store_binder_t bind, const void *args,
                     const store_row_type_t *type, void **out, size_t *out_count)
{
    if (!out || !out_count)
        return STORE_INVALID;
    *out = NULL;
    *out_count = 0;
    if (!store)
        return STORE_INVALID;
    store_rows_t set = {0};
    int rc = store->backend->read_all(store, id, bind, args, type, &set);
    *out = set.rows;
    *out_count = set.count;
    return rc;
}

/* A key or a user changed: this node's watcher hears it now, the others through the backend. */
static void auth_changed(store_t *store)
{
    if (store->auth_changed)
        store->auth_changed(store->auth_opaque);
    if (store->backend->announce_auth)
        store->backend->announce_auth(store);
}

int store_watch_auth(store_t *store, store_auth_changed_t fn, void *opaque)
{
    if (!store)
        return STORE_INVALID;
    store->auth_changed = fn;
    store->auth_opaque = opaque;
    return fn && store->backend->watch_auth ? store->backend->watch_auth(store) : STORE_OK;
}

/* Every row of a statement keyed by ?1 = key; a NULL key is STORE_INVALID (outputs zeroed). */
static int read_rows_by_key(store_t *store, stmt_id_t id, const char *key,
                            const store_row_type_t *type, void **out, size_t *out_count)
{
    return read_rows(key ? store : NULL, id, bind_key, key, type, out, out_count);
}

/* ---- The calls of store.h -------------------------------------------------------------------- */

int store_schema_version(store_t *store, int *out_version)
{
    if (!store || !out_version)
        return STORE_INVALID;
    int64_t version = 0;
    int rc = store->backend->read_number(store, STMT_SCHEMA_VERSION, &version);
    *out_version = rc == STORE_OK ? (int)version : 0;
    return rc;
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
    return write_any(store, STMT_USER_INSERT, store_params_user, user);
}

int store_user_get(store_t *store, const char *user_id, store_user_t *out)
{
    return read_by_key(store, STMT_USER_GET, user_id, &store_row_user, out, sizeof *out);
}

int store_user_count(store_t *store, int64_t *out_count)
{
    if (!store || !out_count)
        return STORE_INVALID;
    *out_count = 0;
    return store->backend->read_number(store, STMT_USER_COUNT, out_count);
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
    return write_any(store, STMT_TOKEN_INSERT, store_params_token, token);
}

int store_api_token_find(store_t *store, const char *key_hash, store_api_token_t *out)
{
    return read_by_key(store, STMT_TOKEN_FIND, key_hash, &store_row_token, out, sizeof *out);
}

int store_api_token_touch(store_t *store, const char *token_id, int64_t now_ms)
{
    if (!store || !token_id)
        return STORE_INVALID;
    store_args_t op = {.id = token_id, .number = now_ms};
    return write_one(store, STMT_TOKEN_TOUCH, store_params_id_number, &op);
}

int store_api_token_delete(store_t *store, const char *user_id, const char *token_id)
{
    if (!store || !user_id || !token_id)
        return STORE_INVALID;
    store_args_t op = {.id = token_id, .other_id = user_id};
    int rc = write_one(store, STMT_TOKEN_DELETE, store_params_id_pair, &op);
    if (rc == STORE_OK)
        auth_changed(store);
    return rc;
}

int store_api_token_list(store_t *store, const char *user_id, store_api_token_t **out,
                         size_t *out_count)
{
    return read_rows_by_key(store, STMT_TOKEN_LIST, user_id, &store_row_token, (void **)out,
                            out_count);
}

int store_signing_key_create(store_t *store, store_signing_key_t *key)
{
    if (!store || !key || !key->name || !key->public_key)
        return STORE_INVALID;
    if (ids_uuid_v4(key->id) != 0) {
        log_error("store", "signing key create: the random generator failed");
        return STORE_ERR;
    }
    key->created_at_ms = clock_now_ms();
    key->last_seen_ms = 0;
    return write_any(store, STMT_SIGNING_KEY_INSERT, store_params_signing_key, key);
}

int store_signing_key_get(store_t *store, const char *user_id, const char *key_id,
                          store_signing_key_t *out)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, sizeof *out);
    if (!store || !user_id || !key_id)
        return STORE_INVALID;
    store_args_t op = {.id = key_id, .other_id = user_id};
    return store->backend->read_one(store, STMT_SIGNING_KEY_GET, store_params_id_pair, &op,
                                    &store_row_signing_key, out);
}

int store_signing_key_find(store_t *store, const char *public_key, store_signing_key_t *out)
{
    return read_by_key(store, STMT_SIGNING_KEY_FIND, public_key, &store_row_signing_key, out,
                       sizeof *out);
}

int store_signing_key_list(store_t *store, const char *user_id, store_signing_key_t **out,
                           size_t *out_count)
{
    return read_rows_by_key(store, STMT_SIGNING_KEY_LIST, user_id, &store_row_signing_key,
                            (void **)out, out_count);
}

int store_signing_key_update(store_t *store, const store_signing_key_t *key)
{
    if (!store || !key || !key->name)
        return STORE_INVALID;
    return write_one(store, STMT_SIGNING_KEY_UPDATE, store_params_signing_key, key);
}

int store_signing_key_delete(store_t *store, const char *user_id, const char *key_id)
{
    if (!store || !user_id || !key_id)
        return STORE_INVALID;
    store_args_t op = {.id = key_id, .other_id = user_id};
    return write_one(store, STMT_SIGNING_KEY_DELETE, store_params_id_pair, &op);
}

int store_stream_insert(store_t *store, const store_stream_t *stream)
{
    if (!store || !stream || !stream->name)
        return STORE_INVALID;
    return write_any(store, STMT_STREAM_INSERT, store_params_stream, stream);
}

int store_stream_update(store_t *store, const store_stream_t *stream)
{
    if (!store || !stream || !stream->name)
        return STORE_INVALID;
    return write_one(store, STMT_STREAM_UPDATE, store_params_stream, stream);
}

int store_stream_get(store_t *store, const char *id, store_stream_t *out)
{
    return read_by_key(store, STMT_STREAM_GET, id, &store_row_stream, out, sizeof *out);
}

int store_stream_get_by_key(store_t *store, const char *stream_key, store_stream_t *out)
{
    return read_by_key(store, STMT_STREAM_GET_BY_KEY, stream_key, &store_row_stream, out,
                       sizeof *out);
}

int store_stream_get_by_playback_id(store_t *store, const char *playback_id, store_stream_t *out)
{
    return read_by_key(store, STMT_STREAM_GET_BY_PLAYBACK_ID, playback_id, &store_row_stream, out,
                       sizeof *out);
}

/* ---- State changes that raise events (store_events.h) ---------------------------------------- */

/* Inside tx: sets the stream's isActive and raises stream.started or stream.idle when it flipped.
 */
static int flip_stream(store_t *store, store_tx_t *tx, store_events_tx_t *events,
                       const char *stream_id, const char *session_id, bool active)
{
    store_stream_live_t live = {.is_active = active};
    store_stream_live_args_t args = {stream_id, &live};
    int64_t changed = 0;
    int rc =
        store->backend->tx_write(tx, STMT_STREAM_FLIP, store_params_stream_live, &args, &changed);
    if (rc == STORE_OK && changed > 0)
        rc = store_events_raise(store, tx, events,
                                active ? STORE_EVENT_STREAM_STARTED : STORE_EVENT_STREAM_IDLE,
                                stream_id, session_id);
    return rc;
}

typedef struct live_tx {
    store_events_tx_t events; /* first: store_events_run */
    store_stream_live_args_t args;
    store_stream_controls_t *controls;
} live_tx_t;

static int live_body(store_t *store, store_tx_t *tx, void *opaque)
{
    live_tx_t *t = opaque;
    int rc = flip_stream(store, tx, &t->events, t->args.stream_id, t->args.live->session_id,
                         t->args.live->is_active);
    store_rows_t set = {0};
    if (rc == STORE_OK)
        rc = store->backend->tx_read_all(tx, STMT_STREAM_LIVE, store_params_stream_live, &t->args,
                                         &store_row_controls, &set);
    if (rc == STORE_OK && set.count == 0)
        rc = STORE_NOT_FOUND;
    if (rc == STORE_OK)
        *t->controls = *(store_stream_controls_t *)set.rows;
    store_rows_free(&set, &store_controls_record);
    return rc;
}

int store_stream_update_live(store_t *store, const char *stream_id, const store_stream_live_t *live,
                             store_stream_controls_t *controls)
{
    store_stream_controls_t ignored;
    if (!controls)
        controls = &ignored;
    memset(controls, 0, sizeof *controls);
    if (!store || !stream_id || !live)
        return STORE_INVALID;
    store_stream_live_args_t args = {stream_id, live};
    if (live->totals_only)
        return store->backend->read_one(store, STMT_STREAM_ADD_TOTALS, store_params_stream_live,
                                        &args, &store_row_controls, controls);
    live_tx_t t = {.args = args, .controls = controls};
    return store_events_run(store, live_body, &t.events);
}

int store_stream_claim(store_t *store, const char *stream_id, const char *node_id,
                       int64_t alive_since_ms)
{
    if (!store || !stream_id || !node_id || !node_id[0])
        return STORE_INVALID;
    store_args_t op = {.id = stream_id, .other_id = node_id, .number = alive_since_ms};
    int rc = write_one(store, STMT_STREAM_CLAIM, store_params_id_pair_number, &op);
    return rc == STORE_NOT_FOUND ? STORE_CONFLICT : rc;
}

int store_stream_release(store_t *store, const char *stream_id, const char *node_id)
{
    if (!store || !stream_id || !node_id)
        return STORE_INVALID;
    store_args_t op = {.id = stream_id, .other_id = node_id};
    return write_any(store, STMT_STREAM_RELEASE, store_params_id_pair, &op);
}

typedef struct session_tx {
    store_events_tx_t events; /* first: store_events_run */
    const store_session_t *session;
    store_recording_status_t recording_status; /* the update's, when it ends the recording */
} session_tx_t;

/* A publish: the stream goes live (stream.started) and, recorded, so does its recording. */
static int insert_session_body(store_t *store, store_tx_t *tx, void *opaque)
{
    session_tx_t *t = opaque;
    const store_session_t *s = t->session;
    int rc =
        s->is_active ? flip_stream(store, tx, &t->events, s->parent_id, s->id, true) : STORE_OK;
    if (rc == STORE_OK)
        rc = store->backend->tx_write(tx, STMT_SESSION_INSERT, store_params_session, s, NULL);
    if (rc == STORE_OK && s->record)
        rc = store_events_raise(store, tx, &t->events, STORE_EVENT_RECORDING_STARTED, s->parent_id,
                                s->id);
    return rc;
}

int store_session_insert(store_t *store, const store_session_t *session)
{
    if (!store || !session || !store_session_valid(session))
        return STORE_INVALID;
    session_tx_t t = {.session = session};
    return store_events_run(store, insert_session_body, &t.events);
}

/* Inside tx: raises recording.waiting once, for an ended, recorded session with media. */
static int mark_waiting(store_t *store, store_tx_t *tx, store_events_tx_t *events,
                        const store_session_t *s)
{
    store_args_t op = {.id = s->id, .number = clock_now_ms()};
    int64_t changed = 0;
    int rc = store->backend->tx_write(tx, STMT_SESSION_MARK_WAITING, store_params_id_number, &op,
                                      &changed);
    if (rc == STORE_OK && changed > 0)
        rc = store_events_raise(store, tx, events, STORE_EVENT_RECORDING_WAITING, s->parent_id,
                                s->id);
    return rc;
}

static int final_body(store_t *store, store_tx_t *tx, void *opaque)
{
    session_tx_t *t = opaque;
    return mark_waiting(store, tx, &t->events, t->session);
}

int store_session_final(store_t *store, const store_session_t *session)
{
    if (!store || !session)
        return STORE_INVALID;
    session_tx_t t = {.session = session};
    return store_events_run(store, final_body, &t.events);
}

/* The recording leaves "waiting": recording.waiting first if nothing raised it yet (a recording
 * finalized after a crash), then recording.ready or recording.failed. */
static int end_recording_body(store_t *store, store_tx_t *tx, void *opaque)
{
    session_tx_t *t = opaque;
    const store_session_t *s = t->session;
    int rc = mark_waiting(store, tx, &t->events, s);
    store_args_t op = {.id = s->id, .other_id = store_recording_status_name(t->recording_status)};
    int64_t changed = 0;
    if (rc == STORE_OK)
        rc = store->backend->tx_write(tx, STMT_SESSION_END_RECORDING, store_params_id_pair, &op,
                                      &changed);
    const char *event = t->recording_status == STORE_RECORDING_READY ? STORE_EVENT_RECORDING_READY
                        : t->recording_status == STORE_RECORDING_FAILED
                            ? STORE_EVENT_RECORDING_FAILED
                            : NULL;
    if (rc == STORE_OK && changed > 0 && event)
        rc = store_events_raise(store, tx, &t->events, event, s->parent_id, s->id);
    if (rc == STORE_OK)
        rc = store->backend->tx_write(tx, STMT_SESSION_UPDATE, store_params_session, s, &changed);
    return rc == STORE_OK && changed == 0 ? STORE_NOT_FOUND : rc;
}

int store_session_update(store_t *store, const store_session_t *session)
{
    if (!store || !session || !store_session_valid(session))
        return STORE_INVALID;
    store_recording_status_t status = session->recording_status;
    if (status == STORE_RECORDING_NONE_SET || status == STORE_RECORDING_WAITING)
        return write_one(store, STMT_SESSION_UPDATE, store_params_session, session);
    session_tx_t t = {.session = session, .recording_status = status};
    return store_events_run(store, end_recording_body, &t.events);
}

int store_session_get(store_t *store, const char *id, store_session_t *out)
{
    return read_by_key(store, STMT_SESSION_GET, id, &store_row_session, out, sizeof *out);
}

int store_session_get_latest(store_t *store, const char *stream_id, store_session_t *out)
{
    return read_by_key(store, STMT_SESSION_LATEST, stream_id, &store_row_session, out, sizeof *out);
}

int store_session_adopt(store_t *store, const char *session_id, const char *node_id,
                        int64_t ended_since_ms)
{
    if (!store || !session_id || !node_id || !node_id[0])
        return STORE_INVALID;
    store_args_t op = {.id = session_id, .other_id = node_id, .number = ended_since_ms};
    return write_one(store, STMT_SESSION_ADOPT, store_params_id_pair_number, &op);
}

typedef struct close_tx {
    store_events_tx_t events; /* first: store_events_run */
    store_args_t op;
    int64_t closed;
} close_tx_t;

/* Each stream of a session being closed goes idle (stream.idle), then the rows close. */
static int close_open_body(store_t *store, store_tx_t *tx, void *opaque)
{
    close_tx_t *t = opaque;
    store_rows_t set = {0};
    int rc = store->backend->tx_read_all(tx, STMT_SESSION_LIST_OPEN, store_params_id_number, &t->op,
                                         &store_row_session, &set);
    const store_session_t *open = set.rows;
    for (size_t i = 0; rc == STORE_OK && i < set.count; i++) {
        store_args_t stream = {.id = open[i].parent_id};
        int64_t changed = 0;
        rc = store->backend->tx_write(tx, STMT_STREAM_IDLE, store_params_id_number, &stream,
                                      &changed);
        if (rc == STORE_OK && changed > 0)
            rc = store_events_raise(store, tx, &t->events, STORE_EVENT_STREAM_IDLE,
                                    open[i].parent_id, open[i].id);
    }
    store_rows_free(&set, &store_session_record);
    if (rc == STORE_OK)
        rc = store->backend->tx_write(tx, STMT_STREAM_CLOSE_OPEN, store_params_id_number, &t->op,
                                      NULL);
    if (rc == STORE_OK)
        rc = store->backend->tx_write(tx, STMT_SESSION_CLOSE_OPEN, store_params_id_number, &t->op,
                                      &t->closed);
    return rc;
}

int store_close_open_sessions(store_t *store, const char *node_id, bool include_unowned,
                              int64_t *out_closed)
{
    if (out_closed)
        *out_closed = 0;
    if (!store || !node_id)
        return STORE_INVALID;
    close_tx_t t = {.op = {.id = node_id, .number = include_unowned ? 1 : 0}};
    int rc = store_events_run(store, close_open_body, &t.events);
    if (rc == STORE_OK && out_closed)
        *out_closed = t.closed;
    return rc;
}

int store_node_heartbeat(store_t *store, const store_node_t *node)
{
    if (!store || !node || !node->id[0] || !node->http_url || !node->rtmp_url)
        return STORE_INVALID;
    return write_any(store, STMT_NODE_UPSERT, store_params_node, node);
}

int store_node_get(store_t *store, const char *node_id, store_node_t *out)
{
    return read_by_key(store, STMT_NODE_GET, node_id, &store_row_node, out, sizeof *out);
}

int store_node_of_playback(store_t *store, const char *playback_id, store_node_t *out)
{
    return read_by_key(store, STMT_NODE_OF_PLAYBACK, playback_id, &store_row_node, out,
                       sizeof *out);
}

int store_node_of_session(store_t *store, const char *session_id, store_node_t *out)
{
    return read_by_key(store, STMT_NODE_OF_SESSION, session_id, &store_row_node, out, sizeof *out);
}

int store_node_list_alive(store_t *store, int64_t since_ms, store_node_t **out, size_t *out_count)
{
    store_args_t op = {.number = since_ms};
    return read_rows(store, STMT_NODE_LIST_ALIVE, store_params_number, &op, &store_row_node,
                     (void **)out, out_count);
}

int store_node_list_stale(store_t *store, int64_t before_ms, store_node_t **out, size_t *out_count)
{
    store_args_t op = {.number = before_ms};
    return read_rows(store, STMT_NODE_LIST_STALE, store_params_number, &op, &store_row_node,
                     (void **)out, out_count);
}

int store_node_mark_down(store_t *store, const char *node_id, int64_t before_ms)
{
    if (!store || !node_id)
        return STORE_INVALID;
    store_args_t op = {.id = node_id, .number = before_ms};
    return write_one(store, STMT_NODE_MARK_DOWN, store_params_id_number, &op);
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
