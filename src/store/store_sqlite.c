/* SQLite backend of the store (store.h), the embedded default. A small pool of connections lets
 * HTTP threads read in parallel (WAL) while SQLite serializes the writes. */
#include "store/store.h"

#include "store/sqlite_internal.h"
#include "store/store_internal.h"
#include "store/store_query.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Four connections cover the HTTP pool's concurrent reads; writers queue inside SQLite anyway. */
#define POOL_SIZE 4
#define BUSY_TIMEOUT_MS 5000

/* ---- Statements ------------------------------------------------------------------------------
 * Column lists are shared by SELECT and INSERT so a row reader and a row binder agree on indexes:
 * column i of a SELECT is parameter i + 1 of the INSERT and of the UPDATE (which uses ?NNN to
 * skip the immutable columns). */

#define USER_COLUMNS "id, project_id, name, email, admin, suspended, created_at"
#define TOKEN_COLUMNS "id, user_id, project_id, name, key_hash, created_at, last_used"
#define COUNTER_COLUMNS                                                                            \
    "source_segments, transcoded_segments, source_segments_duration, "                             \
    "transcoded_segments_duration, source_bytes, transcoded_bytes, ingest_rate, outgoing_rate"
#define STREAM_COLUMNS                                                                             \
    "id, user_id, project_id, stream_key, playback_id, name, created_by_token_name, created_at, "  \
    "last_seen, last_terminated_at, is_active, record, suspended, deleted, is_healthy, "           \
    "issues, " COUNTER_COLUMNS                                                                     \
    ", profiles, user_tags, creator_id, pull, playback_policy, recording_spec, "                   \
    "multistream"
#define SESSION_COLUMNS                                                                            \
    "id, parent_id, user_id, project_id, playback_id, name, created_at, last_seen, ended_at, "     \
    "is_active, record, deleted, is_healthy, issues, recording_status, " COUNTER_COLUMNS           \
    ", profiles, recording_spec, health"

enum { COUNTER_COLUMN_COUNT = 8 };

enum stream_column {
    SC_ID,
    SC_USER_ID,
    SC_PROJECT_ID,
    SC_STREAM_KEY,
    SC_PLAYBACK_ID,
    SC_NAME,
    SC_CREATED_BY_TOKEN_NAME,
    SC_CREATED_AT,
    SC_LAST_SEEN,
    SC_LAST_TERMINATED_AT,
    SC_IS_ACTIVE,
    SC_RECORD,
    SC_SUSPENDED,
    SC_DELETED,
    SC_IS_HEALTHY,
    SC_ISSUES,
    SC_COUNTERS,
    SC_PROFILES = SC_COUNTERS + COUNTER_COLUMN_COUNT,
    SC_USER_TAGS,
    SC_CREATOR_ID,
    SC_PULL,
    SC_PLAYBACK_POLICY,
    SC_RECORDING_SPEC,
    SC_MULTISTREAM,
};

enum session_column {
    SN_ID,
    SN_PARENT_ID,
    SN_USER_ID,
    SN_PROJECT_ID,
    SN_PLAYBACK_ID,
    SN_NAME,
    SN_CREATED_AT,
    SN_LAST_SEEN,
    SN_ENDED_AT,
    SN_IS_ACTIVE,
    SN_RECORD,
    SN_DELETED,
    SN_IS_HEALTHY,
    SN_ISSUES,
    SN_RECORDING_STATUS,
    SN_COUNTERS,
    SN_PROFILES = SN_COUNTERS + COUNTER_COLUMN_COUNT,
    SN_RECORDING_SPEC,
    SN_HEALTH,
};

typedef enum {
    STMT_USER_INSERT,
    STMT_USER_GET,
    STMT_USER_COUNT,
    STMT_TOKEN_INSERT,
    STMT_TOKEN_FIND,
    STMT_TOKEN_TOUCH,
    STMT_TOKEN_LIST,
    STMT_TOKEN_DELETE,
    STMT_STREAM_INSERT,
    STMT_STREAM_UPDATE,
    STMT_STREAM_LIVE,
    STMT_STREAM_CLOSE_OPEN,
    STMT_STREAM_GET,
    STMT_STREAM_GET_BY_KEY,
    STMT_STREAM_GET_BY_PLAYBACK_ID,
    STMT_SESSION_INSERT,
    STMT_SESSION_UPDATE,
    STMT_SESSION_GET,
    STMT_SESSION_LATEST,
    STMT_SESSION_CLOSE_OPEN,
    STMT_SCHEMA_VERSION,
    STMT_COUNT
} stmt_id_t;

typedef struct stmt_def {
    const char *name; /* for logs */
    const char *sql;
} stmt_def_t;

static const stmt_def_t stmt_defs[STMT_COUNT] = {
    [STMT_USER_INSERT] = {"user insert",
                          "INSERT INTO users (" USER_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?)"},
    [STMT_USER_GET] = {"user get", "SELECT " USER_COLUMNS " FROM users WHERE id = ?1"},
    [STMT_USER_COUNT] = {"user count", "SELECT COUNT(*) FROM users"},
    [STMT_TOKEN_INSERT] = {"token insert", "INSERT INTO api_tokens (" TOKEN_COLUMNS
                                           ") VALUES (?, ?, ?, ?, ?, ?, ?)"},
    [STMT_TOKEN_FIND] = {"token find",
                         "SELECT " TOKEN_COLUMNS " FROM api_tokens WHERE key_hash = ?1"},
    /* MAX: concurrent requests may touch out of order; last_used never goes back. */
    [STMT_TOKEN_TOUCH] = {"token touch",
                          "UPDATE api_tokens SET last_used = MAX(last_used, ?2) WHERE id = ?1"},
    /* rowid breaks created_at ties in insertion order: "oldest first" even within one ms. */
    [STMT_TOKEN_LIST] = {"token list", "SELECT " TOKEN_COLUMNS " FROM api_tokens "
                                       "WHERE user_id = ?1 ORDER BY created_at, rowid"},
    [STMT_TOKEN_DELETE] = {"token delete", "DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2"},
    [STMT_STREAM_INSERT] = {"stream insert", "INSERT INTO streams (" STREAM_COLUMNS ") VALUES ("
                                             "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                             "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
    /* Identity columns (id, owner, keys, creation) never change after insert. */
    /* Settings only: the live columns belong to STMT_STREAM_LIVE, so an API edit racing a
     * broadcast's stats update loses neither. */
    [STMT_STREAM_UPDATE] = {"stream update",
                            "UPDATE streams SET name = ?6, last_terminated_at = ?10, record = ?12, "
                            "suspended = ?13, deleted = ?14, profiles = ?25, user_tags = ?26, "
                            "creator_id = ?27, pull = ?28, playback_policy = ?29, "
                            "recording_spec = ?30, multistream = ?31 WHERE id = ?1"},
    /* Totals grow by increments so concurrent broadcasts' updates never overwrite each other. */
    [STMT_STREAM_LIVE] = {"stream live update",
                          "UPDATE streams SET is_active = ?2, last_seen = MAX(last_seen, ?3), "
                          "is_healthy = ?4, issues = ?5, ingest_rate = ?6, outgoing_rate = ?7, "
                          "source_segments = source_segments + ?8, "
                          "transcoded_segments = transcoded_segments + ?9, "
                          "source_segments_duration = source_segments_duration + ?10, "
                          "transcoded_segments_duration = transcoded_segments_duration + ?11, "
                          "source_bytes = source_bytes + ?12, "
                          "transcoded_bytes = transcoded_bytes + ?13 WHERE id = ?1"},
    [STMT_STREAM_CLOSE_OPEN] = {"stream close open",
                                "UPDATE streams SET is_active = 0, ingest_rate = 0, "
                                "outgoing_rate = 0 WHERE is_active = 1"},
    [STMT_STREAM_GET] = {"stream get", "SELECT " STREAM_COLUMNS " FROM streams WHERE id = ?1"},
    [STMT_STREAM_GET_BY_KEY] = {"stream get by key",
                                "SELECT " STREAM_COLUMNS " FROM streams WHERE stream_key = ?1"},
    [STMT_STREAM_GET_BY_PLAYBACK_ID] = {"stream get by playback id",
                                        "SELECT " STREAM_COLUMNS
                                        " FROM streams WHERE playback_id = ?1"},
    [STMT_SESSION_INSERT] = {"session insert", "INSERT INTO sessions (" SESSION_COLUMNS ") VALUES ("
                                               "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                               "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
    [STMT_SESSION_UPDATE] = {"session update",
                             "UPDATE sessions SET name = ?6, last_seen = ?8, ended_at = ?9, "
                             "is_active = ?10, record = ?11, deleted = ?12, is_healthy = ?13, "
                             "issues = ?14, recording_status = ?15, source_segments = ?16, "
                             "transcoded_segments = ?17, source_segments_duration = ?18, "
                             "transcoded_segments_duration = ?19, source_bytes = ?20, "
                             "transcoded_bytes = ?21, ingest_rate = ?22, outgoing_rate = ?23, "
                             "profiles = ?24, recording_spec = ?25, health = ?26 WHERE id = ?1"},
    [STMT_SESSION_GET] = {"session get", "SELECT " SESSION_COLUMNS " FROM sessions WHERE id = ?1"},
    [STMT_SESSION_LATEST] = {"session latest",
                             "SELECT " SESSION_COLUMNS " FROM sessions WHERE parent_id = ?1 "
                             "ORDER BY created_at DESC, rowid DESC LIMIT 1"},
    [STMT_SESSION_CLOSE_OPEN] = {"session close open",
                                 "UPDATE sessions SET is_active = 0, ingest_rate = 0, "
                                 "outgoing_rate = 0, ended_at = CASE WHEN last_seen > 0 THEN "
                                 "last_seen ELSE created_at END WHERE is_active = 1"},
    [STMT_SCHEMA_VERSION] = {"schema version", "PRAGMA user_version"},
};

/* ---- The connection pool --------------------------------------------------------------------
 * A connection is used by one thread at a time: a thread takes it off the free stack, runs its
 * statements and puts it back. So connections are opened NOMUTEX (SQLite's own locking would
 * only add cost) and each keeps its prepared statements between calls. */

typedef struct sqlite_conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[STMT_COUNT]; /* prepared once at open, reset after every use */
} sqlite_conn_t;

struct store {
    sqlite_conn_t conns[POOL_SIZE];
    pthread_mutex_t pool_lock;     /* guards free_conns and free_count */
    pthread_cond_t pool_available; /* signalled when a connection is put back */
    sqlite_conn_t *free_conns[POOL_SIZE];
    size_t free_count;
};

static sqlite_conn_t *pool_acquire(store_t *store)
{
    pthread_mutex_lock(&store->pool_lock);
    while (store->free_count == 0)
        pthread_cond_wait(&store->pool_available, &store->pool_lock);
    sqlite_conn_t *conn = store->free_conns[--store->free_count];
    pthread_mutex_unlock(&store->pool_lock);
    return conn;
}

/* LIFO: the connection used last is reused first, so its page cache is warm. */
static void pool_release(store_t *store, sqlite_conn_t *conn)
{
    pthread_mutex_lock(&store->pool_lock);
    store->free_conns[store->free_count++] = conn;
    pthread_cond_signal(&store->pool_available);
    pthread_mutex_unlock(&store->pool_lock);
}

/* ---- Errors ---------------------------------------------------------------------------------- */

/* Maps a failed SQLite call to a store status. Constraint failures are the caller's business and
 * are logged at most as warnings; anything else is unexpected and logged as an error. */
static int sqlite_status(sqlite3 *db, int rc, const char *what)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return STORE_CONFLICT;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_CHECK:
        log_warn("store", "%s: %s", what, sqlite3_errmsg(db));
        return STORE_INVALID;
    default:
        log_error("store", "%s: %s (%s)", what, sqlite3_errmsg(db), sqlite3_errstr(rc));
        return STORE_ERR;
    }
}

/* ---- Binding --------------------------------------------------------------------------------
 * A binder records the first failure so a record's dozens of binds need one check. Text is bound
 * SQLITE_STATIC: every statement is reset and cleared before the caller's strings can go away. */

typedef struct binder {
    sqlite3_stmt *stmt;
    int rc;
} binder_t;

static void bind_text(binder_t *b, int index, const char *text)
{
    if (b->rc != SQLITE_OK)
        return;
    if (text)
        b->rc = sqlite3_bind_text(b->stmt, index, text, -1, SQLITE_STATIC);
    else
        b->rc = sqlite3_bind_null(b->stmt, index);
}

static void bind_int64(binder_t *b, int index, int64_t value)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_int64(b->stmt, index, value);
}

static void bind_double(binder_t *b, int index, double value)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_double(b->stmt, index, value);
}

static void bind_bool(binder_t *b, int index, bool value)
{
    bind_int64(b, index, value ? 1 : 0);
}

/* is_healthy: -1 is SQL NULL (unknown). */
static void bind_tristate(binder_t *b, int index, int value)
{
    if (b->rc != SQLITE_OK)
        return;
    if (value < 0)
        b->rc = sqlite3_bind_null(b->stmt, index);
    else
        b->rc = sqlite3_bind_int(b->stmt, index, value ? 1 : 0);
}

static void bind_counters(binder_t *b, int first, const store_counters_t *c)
{
    bind_int64(b, first, c->source_segments);
    bind_int64(b, first + 1, c->transcoded_segments);
    bind_double(b, first + 2, c->source_segments_duration_s);
    bind_double(b, first + 3, c->transcoded_segments_duration_s);
    bind_int64(b, first + 4, c->source_bytes);
    bind_int64(b, first + 5, c->transcoded_bytes);
    bind_double(b, first + 6, c->ingest_rate_bps);
    bind_double(b, first + 7, c->outgoing_rate_bps);
}

/* Resets a cached statement for its next user and drops the borrowed strings bound to it. */
static void stmt_done(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

/* ---- Reading rows ----------------------------------------------------------------------------
 * A NULL or missing text never crashes a reader: fixed-size ids become "", optional strings NULL,
 * names "". Readers return -1 only when out of memory, after clearing what they filled. */

static void copy_fixed(sqlite3_stmt *stmt, int col, char *dst, size_t size)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    snprintf(dst, size, "%s", text ? (const char *)text : "");
}

static int copy_owned(sqlite3_stmt *stmt, int col, char **dst)
{
    *dst = NULL;
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return 0;
    const unsigned char *text = sqlite3_column_text(stmt, col);
    if (!text)
        return -1;
    size_t len = (size_t)sqlite3_column_bytes(stmt, col);
    *dst = malloc(len + 1);
    if (!*dst)
        return -1;
    memcpy(*dst, text, len);
    (*dst)[len] = '\0';
    return 0;
}

/* Names are never NULL for callers, even for a row seeded by hand with a NULL. */
static int copy_name(sqlite3_stmt *stmt, int col, char **dst)
{
    if (copy_owned(stmt, col, dst) != 0)
        return -1;
    if (!*dst)
        *dst = calloc(1, 1);
    return *dst ? 0 : -1;
}

static bool column_bool(sqlite3_stmt *stmt, int col)
{
    return sqlite3_column_int64(stmt, col) != 0;
}

static int column_tristate(sqlite3_stmt *stmt, int col)
{
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return -1;
    return column_bool(stmt, col) ? 1 : 0;
}

static void read_counters(sqlite3_stmt *stmt, int first, store_counters_t *c)
{
    c->source_segments = sqlite3_column_int64(stmt, first);
    c->transcoded_segments = sqlite3_column_int64(stmt, first + 1);
    c->source_segments_duration_s = sqlite3_column_double(stmt, first + 2);
    c->transcoded_segments_duration_s = sqlite3_column_double(stmt, first + 3);
    c->source_bytes = sqlite3_column_int64(stmt, first + 4);
    c->transcoded_bytes = sqlite3_column_int64(stmt, first + 5);
    c->ingest_rate_bps = sqlite3_column_double(stmt, first + 6);
    c->outgoing_rate_bps = sqlite3_column_double(stmt, first + 7);
}

static store_recording_status_t column_recording_status(sqlite3_stmt *stmt, int col,
                                                        const char *session_id)
{
    return store_recording_status_parse((const char *)sqlite3_column_text(stmt, col), session_id);
}

static int read_user(sqlite3_stmt *stmt, void *record)
{
    store_user_t *user = record;
    copy_fixed(stmt, 0, user->id, sizeof user->id);
    copy_fixed(stmt, 1, user->project_id, sizeof user->project_id);
    int failed = copy_name(stmt, 2, &user->name) | copy_owned(stmt, 3, &user->email);
    user->admin = column_bool(stmt, 4);
    user->suspended = column_bool(stmt, 5);
    user->created_at_ms = sqlite3_column_int64(stmt, 6);
    if (failed)
        store_user_clear(user);
    return failed ? -1 : 0;
}

static int read_token(sqlite3_stmt *stmt, void *record)
{
    store_api_token_t *token = record;
    copy_fixed(stmt, 0, token->id, sizeof token->id);
    copy_fixed(stmt, 1, token->user_id, sizeof token->user_id);
    copy_fixed(stmt, 2, token->project_id, sizeof token->project_id);
    int failed = copy_name(stmt, 3, &token->name);
    copy_fixed(stmt, 4, token->key_hash, sizeof token->key_hash);
    token->created_at_ms = sqlite3_column_int64(stmt, 5);
    token->last_used_ms = sqlite3_column_int64(stmt, 6);
    if (failed)
        store_api_token_clear(token);
    return failed ? -1 : 0;
}

static int read_stream_texts(sqlite3_stmt *stmt, store_stream_t *s)
{
    return copy_name(stmt, SC_NAME, &s->name) |
           copy_owned(stmt, SC_CREATED_BY_TOKEN_NAME, &s->created_by_token_name) |
           copy_owned(stmt, SC_ISSUES, &s->issues_json) |
           copy_owned(stmt, SC_PROFILES, &s->profiles_json) |
           copy_owned(stmt, SC_USER_TAGS, &s->user_tags_json) |
           copy_owned(stmt, SC_CREATOR_ID, &s->creator_id_json) |
           copy_owned(stmt, SC_PULL, &s->pull_json) |
           copy_owned(stmt, SC_PLAYBACK_POLICY, &s->playback_policy_json) |
           copy_owned(stmt, SC_RECORDING_SPEC, &s->recording_spec_json) |
           copy_owned(stmt, SC_MULTISTREAM, &s->multistream_json);
}

static int read_stream(sqlite3_stmt *stmt, void *record)
{
    store_stream_t *s = record;
    copy_fixed(stmt, SC_ID, s->id, sizeof s->id);
    copy_fixed(stmt, SC_USER_ID, s->user_id, sizeof s->user_id);
    copy_fixed(stmt, SC_PROJECT_ID, s->project_id, sizeof s->project_id);
    copy_fixed(stmt, SC_STREAM_KEY, s->stream_key, sizeof s->stream_key);
    copy_fixed(stmt, SC_PLAYBACK_ID, s->playback_id, sizeof s->playback_id);
    s->created_at_ms = sqlite3_column_int64(stmt, SC_CREATED_AT);
    s->last_seen_ms = sqlite3_column_int64(stmt, SC_LAST_SEEN);
    s->last_terminated_at_ms = sqlite3_column_int64(stmt, SC_LAST_TERMINATED_AT);
    s->is_active = column_bool(stmt, SC_IS_ACTIVE);
    s->record = column_bool(stmt, SC_RECORD);
    s->suspended = column_bool(stmt, SC_SUSPENDED);
    s->deleted = column_bool(stmt, SC_DELETED);
    s->is_healthy = column_tristate(stmt, SC_IS_HEALTHY);
    read_counters(stmt, SC_COUNTERS, &s->counters);
    if (read_stream_texts(stmt, s) == 0)
        return 0;
    store_stream_clear(s);
    return -1;
}

static int read_session(sqlite3_stmt *stmt, void *record)
{
    store_session_t *s = record;
    copy_fixed(stmt, SN_ID, s->id, sizeof s->id);
    copy_fixed(stmt, SN_PARENT_ID, s->parent_id, sizeof s->parent_id);
    copy_fixed(stmt, SN_USER_ID, s->user_id, sizeof s->user_id);
    copy_fixed(stmt, SN_PROJECT_ID, s->project_id, sizeof s->project_id);
    copy_fixed(stmt, SN_PLAYBACK_ID, s->playback_id, sizeof s->playback_id);
    s->created_at_ms = sqlite3_column_int64(stmt, SN_CREATED_AT);
    s->last_seen_ms = sqlite3_column_int64(stmt, SN_LAST_SEEN);
    s->ended_at_ms = sqlite3_column_int64(stmt, SN_ENDED_AT);
    s->is_active = column_bool(stmt, SN_IS_ACTIVE);
    s->record = column_bool(stmt, SN_RECORD);
    s->deleted = column_bool(stmt, SN_DELETED);
    s->is_healthy = column_tristate(stmt, SN_IS_HEALTHY);
    s->recording_status = column_recording_status(stmt, SN_RECORDING_STATUS, s->id);
    read_counters(stmt, SN_COUNTERS, &s->counters);
    int failed = copy_name(stmt, SN_NAME, &s->name) | copy_owned(stmt, SN_ISSUES, &s->issues_json) |
                 copy_owned(stmt, SN_PROFILES, &s->profiles_json) |
                 copy_owned(stmt, SN_RECORDING_SPEC, &s->recording_spec_json) |
                 copy_owned(stmt, SN_HEALTH, &s->health_json);
    if (failed)
        store_session_clear(s);
    return failed ? -1 : 0;
}

/* What the generic lookup and list code needs to know about a record type: the shared part
 * (size, clear) and how to read one from a row. */
typedef struct record_type {
    const store_record_type_t *record;
    int (*read)(sqlite3_stmt *stmt, void *record);
} record_type_t;

static const record_type_t user_type = {&store_user_record, read_user};
static const record_type_t token_type = {&store_token_record, read_token};
static const record_type_t stream_type = {&store_stream_record, read_stream};
static const record_type_t session_type = {&store_session_record, read_session};

/* Steps stmt to the end, reading every row into set. On failure set is freed and empty. */
static int collect_rows(sqlite3 *db, sqlite3_stmt *stmt, const char *what,
                        const record_type_t *type, store_rows_t *set)
{
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        void *slot = store_rows_add(set, type->record);
        if (!slot || type->read(stmt, slot) != 0) {
            store_rows_free(set, type->record);
            return store_out_of_memory(what);
        }
    }
    if (rc == SQLITE_DONE)
        return STORE_OK;
    store_rows_free(set, type->record);
    return sqlite_status(db, rc, what);
}

/* ---- Running cached statements ------------------------------------------------------------- */

/* Runs a cached single-row lookup keyed by ?1 = key and reads the row into out. */
static int run_lookup(store_t *store, stmt_id_t id, const char *key, const record_type_t *type,
                      void *out)
{
    sqlite_conn_t *conn = pool_acquire(store);
    sqlite3_stmt *stmt = conn->stmts[id];
    const char *what = stmt_defs[id].name;
    int rc = sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    int status;
    if (rc == SQLITE_ROW)
        status = type->read(stmt, out) == 0 ? STORE_OK : store_out_of_memory(what);
    else if (rc == SQLITE_DONE)
        status = STORE_NOT_FOUND;
    else
        status = sqlite_status(conn->db, rc, what);
    stmt_done(stmt);
    pool_release(store, conn);
    return status;
}

typedef void (*record_binder_t)(binder_t *b, const void *record);

/* Runs a cached INSERT, UPDATE or DELETE whose parameters bind fills from record. With
 * must_change, a statement that touched no row is STORE_NOT_FOUND. */
static int run_write(store_t *store, stmt_id_t id, record_binder_t bind, const void *record,
                     bool must_change)
{
    sqlite_conn_t *conn = pool_acquire(store);
    binder_t b = {conn->stmts[id], SQLITE_OK};
    bind(&b, record);
    int rc = b.rc == SQLITE_OK ? sqlite3_step(b.stmt) : b.rc;
    int status;
    if (rc == SQLITE_DONE)
        status = must_change && sqlite3_changes(conn->db) == 0 ? STORE_NOT_FOUND : STORE_OK;
    else
        status = sqlite_status(conn->db, rc, stmt_defs[id].name);
    stmt_done(b.stmt);
    pool_release(store, conn);
    return status;
}

/* Runs a cached query that returns one integer. */
static int run_scalar(store_t *store, stmt_id_t id, int64_t *out)
{
    sqlite_conn_t *conn = pool_acquire(store);
    sqlite3_stmt *stmt = conn->stmts[id];
    int rc = sqlite3_step(stmt);
    int status = STORE_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(stmt, 0);
    else
        status = sqlite_status(conn->db, rc, stmt_defs[id].name);
    stmt_done(stmt);
    pool_release(store, conn);
    return status;
}

/* ---- Opening and closing --------------------------------------------------------------------- */

static void conn_close(sqlite_conn_t *conn)
{
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(conn->stmts[i]);
    if (conn->db && sqlite3_close(conn->db) != SQLITE_OK)
        log_error("store", "closing the database: %s", sqlite3_errmsg(conn->db));
    *conn = (sqlite_conn_t){0};
}

/* Opens one connection and applies the per-connection settings. */
static int conn_open(sqlite_conn_t *conn, const char *path, int flags, char *err, size_t err_size)
{
    int rc = sqlite3_open_v2(path, &conn->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_size, "opening %s: %s", path,
                 conn->db ? sqlite3_errmsg(conn->db) : sqlite3_errstr(rc));
        return -1;
    }
    sqlite3_extended_result_codes(conn->db, 1);
    sqlite3_busy_timeout(conn->db, BUSY_TIMEOUT_MS);
    /* foreign_keys is off by default and per connection; NORMAL is durable across application
     * crashes in WAL mode, and only a power loss can drop the last commits. */
    rc = sqlite3_exec(conn->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", NULL, NULL,
                      NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_size, "configuring %s: %s", path, sqlite3_errmsg(conn->db));
        return -1;
    }
    return 0;
}

static int conn_prepare(sqlite_conn_t *conn, char *err, size_t err_size)
{
    for (int i = 0; i < STMT_COUNT; i++) {
        int rc = sqlite3_prepare_v3(conn->db, stmt_defs[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
                                    &conn->stmts[i], NULL);
        if (rc != SQLITE_OK) {
            snprintf(err, err_size, "preparing %s: %s", stmt_defs[i].name,
                     sqlite3_errmsg(conn->db));
            return -1;
        }
    }
    return 0;
}

/* WAL lets readers run while one connection writes. The mode is stored in the file, so setting
 * it once on the first connection covers the others. */
static int enable_wal(sqlite3 *db, const char *path, char *err, size_t err_size)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        snprintf(err, err_size, "enabling WAL on %s: %s", path, sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return -1;
    }
    const char *mode = (const char *)sqlite3_column_text(stmt, 0);
    /* Some file systems cannot do WAL; the store still works, with readers and writers taking
     * turns, so this is worth a warning and not a refusal. */
    if (!mode || strcmp(mode, "wal") != 0)
        log_warn("store", "%s: journal mode is %s, not wal", path, mode ? mode : "unknown");
    sqlite3_finalize(stmt);
    return 0;
}

/* The path named by url: a plain path, "sqlite:PATH" or "sqlite://PATH". */
static const char *url_to_path(const char *url, char *err, size_t err_size)
{
    const char *path = url;
    if (strncmp(path, "sqlite:", 7) == 0) {
        path += 7;
        if (strncmp(path, "//", 2) == 0)
            path += 2;
    } else if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        snprintf(err, err_size, "PostgreSQL store URLs are not supported by this build");
        return NULL;
    }
    /* Every pool connection must see the same database; an in-memory one would be private to
     * each connection. */
    if (path[0] == '\0' || strcmp(path, ":memory:") == 0) {
        snprintf(err, err_size, "the store needs a database file path, got \"%s\"", url);
        return NULL;
    }
    return path;
}

/* The first connection creates the file, checks its version, sets WAL and migrates, all before
 * any other connection exists. */
static int open_first(store_t *store, const char *path, char *err, size_t err_size)
{
    if (conn_open(&store->conns[0], path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err,
                  err_size) != 0)
        return -1;
    sqlite3 *db = store->conns[0].db;
    int version = 0;
    /* Checked before WAL is set so a newer database is left exactly as it was. */
    if (sqlite_schema_check(db, &version, err, err_size) != 0 ||
        enable_wal(db, path, err, err_size) != 0 || sqlite_schema_migrate(db, err, err_size) != 0)
        return -1;
    if (version != sqlite_schema_latest())
        log_info("store", "%s: schema migrated from version %d to %d", path, version,
                 sqlite_schema_latest());
    return 0;
}

static store_t *open_pool(const char *url, char *err, size_t err_size)
{
    const char *path = url_to_path(url, err, err_size);
    if (!path)
        return NULL;
    store_t *store = calloc(1, sizeof *store);
    if (!store) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&store->pool_lock, NULL) != 0) {
        free(store);
        snprintf(err, err_size, "creating the pool lock failed");
        return NULL;
    }
    if (pthread_cond_init(&store->pool_available, NULL) != 0) {
        pthread_mutex_destroy(&store->pool_lock);
        free(store);
        snprintf(err, err_size, "creating the pool condition failed");
        return NULL;
    }
    if (open_first(store, path, err, err_size) != 0)
        goto fail;
    for (int i = 1; i < POOL_SIZE; i++) {
        if (conn_open(&store->conns[i], path, SQLITE_OPEN_READWRITE, err, err_size) != 0)
            goto fail;
    }
    for (int i = 0; i < POOL_SIZE; i++) {
        if (conn_prepare(&store->conns[i], err, err_size) != 0)
            goto fail;
        store->free_conns[store->free_count++] = &store->conns[i];
    }
    return store;
fail:
    store_close(store);
    return NULL;
}

store_t *store_open(const char *url, char *err, size_t err_size)
{
    char message[512] = "";
    if (sqlite3_threadsafe() == 0) {
        snprintf(message, sizeof message, "the SQLite library was built without thread support");
    } else if (!url) {
        snprintf(message, sizeof message, "no store URL given");
    } else {
        store_t *store = open_pool(url, message, sizeof message);
        if (store)
            return store;
    }
    if (err && err_size > 0)
        snprintf(err, err_size, "%s", message);
    return NULL;
}

void store_close(store_t *store)
{
    if (!store)
        return;
    /* The last connection to close checkpoints the WAL into the main file and removes it. */
    for (int i = 0; i < POOL_SIZE; i++)
        conn_close(&store->conns[i]);
    pthread_cond_destroy(&store->pool_available);
    pthread_mutex_destroy(&store->pool_lock);
    free(store);
}

int store_schema_version(store_t *store, int *out_version)
{
    if (!store || !out_version)
        return STORE_INVALID;
    int64_t version = 0;
    int rc = run_scalar(store, STMT_SCHEMA_VERSION, &version);
    *out_version = rc == STORE_OK ? (int)version : 0;
    return rc;
}

/* ---- Users ----------------------------------------------------------------------------------- */

static void bind_user(binder_t *b, const void *record)
{
    const store_user_t *user = record;
    bind_text(b, 1, user->id);
    bind_text(b, 2, user->project_id);
    bind_text(b, 3, user->name);
    bind_text(b, 4, user->email);
    bind_bool(b, 5, user->admin);
    bind_bool(b, 6, user->suspended);
    bind_int64(b, 7, user->created_at_ms);
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
    return run_write(store, STMT_USER_INSERT, bind_user, user, false);
}

int store_user_get(store_t *store, const char *user_id, store_user_t *out)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, sizeof *out);
    if (!store || !user_id)
        return STORE_INVALID;
    return run_lookup(store, STMT_USER_GET, user_id, &user_type, out);
}

int store_user_count(store_t *store, int64_t *out_count)
{
    if (!store || !out_count)
        return STORE_INVALID;
    *out_count = 0;
    return run_scalar(store, STMT_USER_COUNT, out_count);
}

/* ---- API tokens ------------------------------------------------------------------------------ */

static void bind_token(binder_t *b, const void *record)
{
    const store_api_token_t *token = record;
    bind_text(b, 1, token->id);
    bind_text(b, 2, token->user_id);
    bind_text(b, 3, token->project_id);
    bind_text(b, 4, token->name);
    bind_text(b, 5, token->key_hash);
    bind_int64(b, 6, token->created_at_ms);
    bind_int64(b, 7, token->last_used_ms);
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
    return run_write(store, STMT_TOKEN_INSERT, bind_token, token, false);
}

int store_api_token_find(store_t *store, const char *key_hash, store_api_token_t *out)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, sizeof *out);
    if (!store || !key_hash)
        return STORE_INVALID;
    return run_lookup(store, STMT_TOKEN_FIND, key_hash, &token_type, out);
}

/* Parameters of the statements keyed by a token id plus one more value. */
typedef struct token_op {
    const char *token_id;
    const char *user_id;
    int64_t now_ms;
} token_op_t;

static void bind_token_touch(binder_t *b, const void *record)
{
    const token_op_t *op = record;
    bind_text(b, 1, op->token_id);
    bind_int64(b, 2, op->now_ms);
}

static void bind_token_delete(binder_t *b, const void *record)
{
    const token_op_t *op = record;
    bind_text(b, 1, op->token_id);
    bind_text(b, 2, op->user_id);
}

int store_api_token_touch(store_t *store, const char *token_id, int64_t now_ms)
{
    if (!store || !token_id)
        return STORE_INVALID;
    token_op_t op = {.token_id = token_id, .now_ms = now_ms};
    return run_write(store, STMT_TOKEN_TOUCH, bind_token_touch, &op, true);
}

int store_api_token_delete(store_t *store, const char *user_id, const char *token_id)
{
    if (!store || !user_id || !token_id)
        return STORE_INVALID;
    token_op_t op = {.token_id = token_id, .user_id = user_id};
    return run_write(store, STMT_TOKEN_DELETE, bind_token_delete, &op, true);
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
    sqlite_conn_t *conn = pool_acquire(store);
    sqlite3_stmt *stmt = conn->stmts[STMT_TOKEN_LIST];
    store_rows_t set = {0};
    int rc = sqlite3_bind_text(stmt, 1, user_id, -1, SQLITE_STATIC);
    int status = rc == SQLITE_OK ? collect_rows(conn->db, stmt, stmt_defs[STMT_TOKEN_LIST].name,
                                                &token_type, &set)
                                 : sqlite_status(conn->db, rc, stmt_defs[STMT_TOKEN_LIST].name);
    stmt_done(stmt);
    pool_release(store, conn);
    *out = set.rows;
    *out_count = set.count;
    return status;
}

/* ---- Streams --------------------------------------------------------------------------------- */

static void bind_stream(binder_t *b, const void *record)
{
    const store_stream_t *s = record;
    bind_text(b, SC_ID + 1, s->id);
    bind_text(b, SC_USER_ID + 1, s->user_id);
    bind_text(b, SC_PROJECT_ID + 1, s->project_id);
    bind_text(b, SC_STREAM_KEY + 1, s->stream_key);
    bind_text(b, SC_PLAYBACK_ID + 1, s->playback_id);
    bind_text(b, SC_NAME + 1, s->name);
    bind_text(b, SC_CREATED_BY_TOKEN_NAME + 1, s->created_by_token_name);
    bind_int64(b, SC_CREATED_AT + 1, s->created_at_ms);
    bind_int64(b, SC_LAST_SEEN + 1, s->last_seen_ms);
    bind_int64(b, SC_LAST_TERMINATED_AT + 1, s->last_terminated_at_ms);
    bind_bool(b, SC_IS_ACTIVE + 1, s->is_active);
    bind_bool(b, SC_RECORD + 1, s->record);
    bind_bool(b, SC_SUSPENDED + 1, s->suspended);
    bind_bool(b, SC_DELETED + 1, s->deleted);
    bind_tristate(b, SC_IS_HEALTHY + 1, s->is_healthy);
    bind_text(b, SC_ISSUES + 1, s->issues_json);
    bind_counters(b, SC_COUNTERS + 1, &s->counters);
    bind_text(b, SC_PROFILES + 1, s->profiles_json);
    bind_text(b, SC_USER_TAGS + 1, s->user_tags_json);
    bind_text(b, SC_CREATOR_ID + 1, s->creator_id_json);
    bind_text(b, SC_PULL + 1, s->pull_json);
    bind_text(b, SC_PLAYBACK_POLICY + 1, s->playback_policy_json);
    bind_text(b, SC_RECORDING_SPEC + 1, s->recording_spec_json);
    bind_text(b, SC_MULTISTREAM + 1, s->multistream_json);
}

int store_stream_insert(store_t *store, const store_stream_t *stream)
{
    if (!store || !stream || !stream->name)
        return STORE_INVALID;
    return run_write(store, STMT_STREAM_INSERT, bind_stream, stream, false);
}

int store_stream_update(store_t *store, const store_stream_t *stream)
{
    if (!store || !stream || !stream->name)
        return STORE_INVALID;
    return run_write(store, STMT_STREAM_UPDATE, bind_stream, stream, true);
}

/* The three stream getters differ only in their key column. */
static int stream_lookup(store_t *store, stmt_id_t id, const char *key, store_stream_t *out)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, sizeof *out);
    if (!store || !key)
        return STORE_INVALID;
    return run_lookup(store, id, key, &stream_type, out);
}

int store_stream_get(store_t *store, const char *id, store_stream_t *out)
{
    return stream_lookup(store, STMT_STREAM_GET, id, out);
}

int store_stream_get_by_key(store_t *store, const char *stream_key, store_stream_t *out)
{
    return stream_lookup(store, STMT_STREAM_GET_BY_KEY, stream_key, out);
}

int store_stream_get_by_playback_id(store_t *store, const char *playback_id, store_stream_t *out)
{
    return stream_lookup(store, STMT_STREAM_GET_BY_PLAYBACK_ID, playback_id, out);
}

/* ---- Sessions -------------------------------------------------------------------------------- */

static void bind_session(binder_t *b, const void *record)
{
    const store_session_t *s = record;
    bind_text(b, SN_ID + 1, s->id);
    bind_text(b, SN_PARENT_ID + 1, s->parent_id);
    bind_text(b, SN_USER_ID + 1, s->user_id);
    bind_text(b, SN_PROJECT_ID + 1, s->project_id);
    bind_text(b, SN_PLAYBACK_ID + 1, s->playback_id);
    bind_text(b, SN_NAME + 1, s->name);
    bind_int64(b, SN_CREATED_AT + 1, s->created_at_ms);
    bind_int64(b, SN_LAST_SEEN + 1, s->last_seen_ms);
    bind_int64(b, SN_ENDED_AT + 1, s->ended_at_ms);
    bind_bool(b, SN_IS_ACTIVE + 1, s->is_active);
    bind_bool(b, SN_RECORD + 1, s->record);
    bind_bool(b, SN_DELETED + 1, s->deleted);
    bind_tristate(b, SN_IS_HEALTHY + 1, s->is_healthy);
    bind_text(b, SN_ISSUES + 1, s->issues_json);
    bind_text(b, SN_RECORDING_STATUS + 1, store_recording_status_name(s->recording_status));
    bind_counters(b, SN_COUNTERS + 1, &s->counters);
    bind_text(b, SN_PROFILES + 1, s->profiles_json);
    bind_text(b, SN_RECORDING_SPEC + 1, s->recording_spec_json);
    bind_text(b, SN_HEALTH + 1, s->health_json);
}

int store_session_insert(store_t *store, const store_session_t *session)
{
    if (!store || !session || !store_session_valid(session))
        return STORE_INVALID;
    return run_write(store, STMT_SESSION_INSERT, bind_session, session, false);
}

int store_session_update(store_t *store, const store_session_t *session)
{
    if (!store || !session || !store_session_valid(session))
        return STORE_INVALID;
    return run_write(store, STMT_SESSION_UPDATE, bind_session, session, true);
}

int store_session_get(store_t *store, const char *id, store_session_t *out)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, sizeof *out);
    if (!store || !id)
        return STORE_INVALID;
    return run_lookup(store, STMT_SESSION_GET, id, &session_type, out);
}

int store_session_get_latest(store_t *store, const char *stream_id, store_session_t *out)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, sizeof *out);
    if (!store || !stream_id)
        return STORE_INVALID;
    return run_lookup(store, STMT_SESSION_LATEST, stream_id, &session_type, out);
}

typedef struct live_args {
    const char *stream_id;
    const store_stream_live_t *live;
} live_args_t;

static void bind_stream_live(binder_t *b, const void *record)
{
    const live_args_t *args = record;
    const store_stream_live_t *live = args->live;
    bind_text(b, 1, args->stream_id);
    bind_bool(b, 2, live->is_active);
    bind_int64(b, 3, live->last_seen_ms);
    bind_tristate(b, 4, live->is_healthy);
    bind_text(b, 5, live->issues_json);
    bind_double(b, 6, live->ingest_rate_bps);
    bind_double(b, 7, live->outgoing_rate_bps);
    bind_int64(b, 8, live->added.source_segments);
    bind_int64(b, 9, live->added.transcoded_segments);
    bind_double(b, 10, live->added.source_segments_duration_s);
    bind_double(b, 11, live->added.transcoded_segments_duration_s);
    bind_int64(b, 12, live->added.source_bytes);
    bind_int64(b, 13, live->added.transcoded_bytes);
}

int store_stream_update_live(store_t *store, const char *stream_id, const store_stream_live_t *live)
{
    if (!store || !stream_id || !live)
        return STORE_INVALID;
    live_args_t args = {stream_id, live};
    return run_write(store, STMT_STREAM_LIVE, bind_stream_live, &args, true);
}

static void bind_nothing(binder_t *b, const void *record)
{
    (void)b;
    (void)record;
}

int store_close_open_sessions(store_t *store, int64_t *out_closed)
{
    if (!store)
        return STORE_INVALID;
    int rc = run_write(store, STMT_STREAM_CLOSE_OPEN, bind_nothing, NULL, false);
    if (rc != STORE_OK)
        return rc;
    sqlite_conn_t *conn = pool_acquire(store);
    sqlite3_stmt *stmt = conn->stmts[STMT_SESSION_CLOSE_OPEN];
    int step = sqlite3_step(stmt);
    if (step == SQLITE_DONE) {
        rc = STORE_OK;
        if (out_closed)
            *out_closed = sqlite3_changes(conn->db);
    } else {
        rc = sqlite_status(conn->db, step, stmt_defs[STMT_SESSION_CLOSE_OPEN].name);
    }
    stmt_done(stmt);
    pool_release(store, conn);
    return rc;
}

/* ---- List queries ----------------------------------------------------------------------------
 * store_query.c plans the SQL and its values; this part runs them. */

/* What a list reads in this backend: the planner's resource, its columns and its records. */
typedef struct sqlite_list {
    store_query_list_t list;
    const char *columns;
    const record_type_t *type;
} sqlite_list_t;

static const sqlite_list_t stream_list = {STORE_QUERY_STREAMS, STREAM_COLUMNS, &stream_type};
static const sqlite_list_t session_list = {STORE_QUERY_SESSIONS, SESSION_COLUMNS, &session_type};

/* Binds the first count values of plan, value i to parameter i + 1. */
static void bind_plan(binder_t *b, const store_query_plan_t *plan, int count)
{
    for (int i = 0; i < count; i++) {
        const store_query_bind_t *v = &plan->binds[i];
        switch (v->kind) {
        case STORE_QUERY_BIND_TEXT:
            bind_text(b, i + 1, v->text);
            break;
        case STORE_QUERY_BIND_INT:
            bind_int64(b, i + 1, v->int_value);
            break;
        case STORE_QUERY_BIND_DOUBLE:
            bind_double(b, i + 1, v->double_value);
            break;
        case STORE_QUERY_BIND_BOOL:
            bind_bool(b, i + 1, v->bool_value);
            break;
        }
    }
}

/* Prepares a one-off statement from sql and binds the plan's first bind_count values to it. */
static int prepare_planned(sqlite3 *db, const char *sql, const store_query_plan_t *plan,
                           int bind_count, sqlite3_stmt **out)
{
    *out = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
    if (rc != SQLITE_OK)
        return sqlite_status(db, rc, plan->what);
    binder_t b = {*out, SQLITE_OK};
    bind_plan(&b, plan, bind_count);
    return b.rc == SQLITE_OK ? STORE_OK : sqlite_status(db, b.rc, plan->what);
}

static int select_rows(sqlite3 *db, const store_query_plan_t *plan, const record_type_t *type,
                       store_rows_t *set)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare_planned(db, plan->select_sql, plan, plan->bind_count, &stmt);
    if (rc == STORE_OK)
        rc = collect_rows(db, stmt, plan->what, type, set);
    sqlite3_finalize(stmt);
    return rc;
}

static int count_rows(sqlite3 *db, const store_query_plan_t *plan, int64_t *out_total)
{
    sqlite3_stmt *stmt = NULL;
    int rc = prepare_planned(db, plan->count_sql, plan, plan->count_bind_count, &stmt);
    if (rc == STORE_OK) {
        int step = sqlite3_step(stmt);
        if (step == SQLITE_ROW)
            *out_total = sqlite3_column_int64(stmt, 0);
        else
            rc = sqlite_status(db, step, plan->what);
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* The page and the total run in one read transaction, so they agree with each other even while
 * other connections write. */
static int run_list(sqlite3 *db, const store_query_plan_t *plan, const record_type_t *type,
                    store_rows_t *set, int64_t *out_total)
{
    int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sqlite_status(db, rc, plan->what);
    int status = select_rows(db, plan, type, set);
    if (status == STORE_OK && out_total)
        status = count_rows(db, plan, out_total);
    rc = sqlite3_exec(db, status == STORE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    if (rc != SQLITE_OK && status == STORE_OK)
        status = sqlite_status(db, rc, plan->what);
    if (status != STORE_OK)
        store_rows_free(set, type->record);
    return status;
}

static int list_rows(store_t *store, const sqlite_list_t *list, const store_query_t *q,
                     store_rows_t *set, int64_t *out_total)
{
    if (out_total)
        *out_total = 0;
    if (!store)
        return STORE_INVALID;
    store_query_plan_t plan;
    int rc = store_query_plan(&plan, STORE_QUERY_SQLITE, list->list, list->columns, q);
    if (rc == STORE_OK) {
        sqlite_conn_t *conn = pool_acquire(store);
        rc = run_list(conn->db, &plan, list->type, set, out_total);
        pool_release(store, conn);
    }
    store_query_plan_free(&plan);
    return rc;
}

int store_stream_list(store_t *store, const store_query_t *q, store_stream_t **out,
                      size_t *out_count, int64_t *out_total)
{
    if (!out || !out_count)
        return STORE_INVALID;
    store_rows_t set = {0};
    int rc = list_rows(store, &stream_list, q, &set, out_total);
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
    int rc = list_rows(store, &session_list, q, &set, out_total);
    *out = set.rows;
    *out_count = set.count;
    return rc;
}
