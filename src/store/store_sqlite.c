/* SQLite backend of the store (store_backend.h behind store.h), the embedded default. A small pool
 * of connections lets HTTP threads read in parallel (WAL) while SQLite serializes the writes. */
#include "store/migrations.h"
#include "store/sqlite_internal.h"
#include "store/store_backend.h"
#include "store/store_rows.h"
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
 * Column i of a SELECT is parameter i + 1 of the INSERT and of the UPDATE (store_rows.h). */

typedef struct stmt_def {
    const char *name; /* for logs */
    const char *sql;
} stmt_def_t;

static const stmt_def_t stmt_defs[STMT_COUNT] = {
    [STMT_USER_INSERT] = {"user insert", "INSERT INTO users (" STORE_ROWS_USER_COLUMNS
                                         ") VALUES (?, ?, ?, ?, ?, ?, ?)"},
    [STMT_USER_GET] = {"user get", "SELECT " STORE_ROWS_USER_COLUMNS " FROM users WHERE id = ?1"},
    [STMT_USER_COUNT] = {"user count", "SELECT COUNT(*) FROM users"},
    [STMT_TOKEN_INSERT] = {"token insert", "INSERT INTO api_tokens (" STORE_ROWS_TOKEN_COLUMNS
                                           ") VALUES (?, ?, ?, ?, ?, ?, ?)"},
    [STMT_TOKEN_FIND] = {"token find",
                         "SELECT " STORE_ROWS_TOKEN_COLUMNS " FROM api_tokens WHERE key_hash = ?1"},
    /* MAX: concurrent requests may touch out of order; last_used never goes back. */
    [STMT_TOKEN_TOUCH] = {"token touch",
                          "UPDATE api_tokens SET last_used = MAX(last_used, ?2) WHERE id = ?1"},
    /* rowid breaks created_at ties in insertion order: "oldest first" even within one ms. */
    [STMT_TOKEN_LIST] = {"token list", "SELECT " STORE_ROWS_TOKEN_COLUMNS " FROM api_tokens "
                                       "WHERE user_id = ?1 ORDER BY created_at, rowid"},
    [STMT_TOKEN_DELETE] = {"token delete", "DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2"},
    [STMT_STREAM_INSERT] = {"stream insert",
                            "INSERT INTO streams (" STORE_ROWS_STREAM_COLUMNS ") VALUES ("
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
    [STMT_STREAM_GET] = {"stream get",
                         "SELECT " STORE_ROWS_STREAM_COLUMNS " FROM streams WHERE id = ?1"},
    [STMT_STREAM_GET_BY_KEY] = {"stream get by key", "SELECT " STORE_ROWS_STREAM_COLUMNS
                                                     " FROM streams WHERE stream_key = ?1"},
    [STMT_STREAM_GET_BY_PLAYBACK_ID] = {"stream get by playback id",
                                        "SELECT " STORE_ROWS_STREAM_COLUMNS
                                        " FROM streams WHERE playback_id = ?1"},
    [STMT_SESSION_INSERT] = {"session insert",
                             "INSERT INTO sessions (" STORE_ROWS_SESSION_COLUMNS ") VALUES ("
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
    [STMT_SESSION_GET] = {"session get",
                          "SELECT " STORE_ROWS_SESSION_COLUMNS " FROM sessions WHERE id = ?1"},
    [STMT_SESSION_LATEST] = {"session latest", "SELECT " STORE_ROWS_SESSION_COLUMNS
                                               " FROM sessions WHERE parent_id = ?1 "
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

typedef struct sqlite_store {
    store_t base; /* first: store.c sees only this */
    sqlite_conn_t conns[POOL_SIZE];
    pthread_mutex_t pool_lock;     /* guards free_conns and free_count */
    pthread_cond_t pool_available; /* signalled when a connection is put back */
    sqlite_conn_t *free_conns[POOL_SIZE];
    size_t free_count;
} sqlite_store_t;

static sqlite_conn_t *pool_acquire(sqlite_store_t *store)
{
    pthread_mutex_lock(&store->pool_lock);
    while (store->free_count == 0)
        pthread_cond_wait(&store->pool_available, &store->pool_lock);
    sqlite_conn_t *conn = store->free_conns[--store->free_count];
    pthread_mutex_unlock(&store->pool_lock);
    return conn;
}

/* LIFO: the connection used last is reused first, so its page cache is warm. */
static void pool_release(sqlite_store_t *store, sqlite_conn_t *conn)
{
    pthread_mutex_lock(&store->pool_lock);
    store->free_conns[store->free_count++] = conn;
    pthread_cond_signal(&store->pool_available);
    pthread_mutex_unlock(&store->pool_lock);
}

/* ---- Rows: SQLite's accessors for store_rows.c ---------------------------------------------- */

/* A statement being bound; rc keeps the first failure so later binds are skipped. Text is bound
 * SQLITE_STATIC: every statement is reset and cleared before the caller's strings can go away. */
typedef struct sqlite_binder {
    sqlite3_stmt *stmt;
    int rc;
} sqlite_binder_t;

static void param_text(void *target, int index, const char *text)
{
    sqlite_binder_t *b = target;
    if (b->rc == SQLITE_OK)
        b->rc = text ? sqlite3_bind_text(b->stmt, index, text, -1, SQLITE_STATIC)
                     : sqlite3_bind_null(b->stmt, index);
}

static void param_int64(void *target, int index, int64_t value)
{
    sqlite_binder_t *b = target;
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_int64(b->stmt, index, value);
}

static void param_real(void *target, int index, double value)
{
    sqlite_binder_t *b = target;
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_double(b->stmt, index, value);
}

/* Booleans are the integers 0 and 1. */
static void param_boolean(void *target, int index, int value)
{
    sqlite_binder_t *b = target;
    if (b->rc == SQLITE_OK)
        b->rc = value < 0 ? sqlite3_bind_null(b->stmt, index)
                          : sqlite3_bind_int(b->stmt, index, value ? 1 : 0);
}

static const store_params_ops_t sqlite_params_ops = {param_text, param_int64, param_real,
                                                     param_boolean};

static const char *column_text(void *source, int col, size_t *len)
{
    sqlite3_stmt *stmt = source;
    *len = 0;
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return NULL;
    const char *text = (const char *)sqlite3_column_text(stmt, col);
    if (text)
        *len = (size_t)sqlite3_column_bytes(stmt, col);
    return text ? text : "";
}

static int64_t column_int64(void *source, int col)
{
    return sqlite3_column_int64(source, col);
}

static double column_real(void *source, int col)
{
    return sqlite3_column_double(source, col);
}

static int column_boolean(void *source, int col)
{
    if (sqlite3_column_type(source, col) == SQLITE_NULL)
        return -1;
    return sqlite3_column_int64(source, col) != 0;
}

static const store_row_ops_t sqlite_row_ops = {column_text, column_int64, column_real,
                                               column_boolean};

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

/* Resets a cached statement for its next user and drops the borrowed strings bound to it. */
static void stmt_done(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

/* Steps stmt to the end, reading every row into set. On failure set is freed and empty. */
static int collect_rows(sqlite3 *db, sqlite3_stmt *stmt, const char *what,
                        const store_row_type_t *type, store_rows_t *set)
{
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        void *slot = store_rows_add(set, type->record);
        store_row_t row = {&sqlite_row_ops, stmt};
        if (!slot || type->read(&row, slot) != 0) {
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
static int run_lookup(sqlite_store_t *store, stmt_id_t id, const char *key,
                      const store_row_type_t *type, void *out)
{
    sqlite_conn_t *conn = pool_acquire(store);
    sqlite3_stmt *stmt = conn->stmts[id];
    const char *what = stmt_defs[id].name;
    int rc = sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    int status;
    store_row_t row = {&sqlite_row_ops, stmt};
    if (rc == SQLITE_ROW)
        status = type->read(&row, out) == 0 ? STORE_OK : store_out_of_memory(what);
    else if (rc == SQLITE_DONE)
        status = STORE_NOT_FOUND;
    else
        status = sqlite_status(conn->db, rc, what);
    stmt_done(stmt);
    pool_release(store, conn);
    return status;
}

typedef void (*record_binder_t)(store_params_t *b, const void *record);

/* Runs a cached INSERT, UPDATE or DELETE whose parameters bind fills from record. With
 * must_change, a statement that touched no row is STORE_NOT_FOUND. */
static int run_write(sqlite_store_t *store, stmt_id_t id, record_binder_t bind, const void *record,
                     bool must_change)
{
    sqlite_conn_t *conn = pool_acquire(store);
    sqlite_binder_t b = {conn->stmts[id], SQLITE_OK};
    bind(&(store_params_t){&sqlite_params_ops, &b}, record);
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
static int run_scalar(sqlite_store_t *store, stmt_id_t id, int64_t *out)
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
static int open_first(sqlite_store_t *store, const char *path, char *err, size_t err_size)
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
    if (version != migrations_latest())
        log_info("store", "%s: schema migrated from version %d to %d", path, version,
                 migrations_latest());
    return 0;
}

static void sqlite_close(store_t *base)
{
    sqlite_store_t *store = (sqlite_store_t *)base;
    /* The last connection to close checkpoints the WAL into the main file and removes it. */
    for (int i = 0; i < POOL_SIZE; i++)
        conn_close(&store->conns[i]);
    pthread_cond_destroy(&store->pool_available);
    pthread_mutex_destroy(&store->pool_lock);
    free(store);
}

static void sqlite_describe(store_t *base, char *out, size_t size)
{
    const char *path = sqlite3_db_filename(((sqlite_store_t *)base)->conns[0].db, "main");
    snprintf(out, size, "SQLite %s", path ? path : "");
}

static const store_backend_t sqlite_backend;

static sqlite_store_t *open_pool(const char *url, char *err, size_t err_size)
{
    const char *path = url_to_path(url, err, err_size);
    if (!path)
        return NULL;
    sqlite_store_t *store = calloc(1, sizeof *store);
    if (!store) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    store->base.backend = &sqlite_backend;
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
    sqlite_close(&store->base);
    return NULL;
}

store_t *store_sqlite_open(const char *url, char *err, size_t err_size)
{
    char message[512] = "";
    if (sqlite3_threadsafe() == 0) {
        snprintf(message, sizeof message, "the SQLite library was built without thread support");
    } else {
        sqlite_store_t *store = open_pool(url, message, sizeof message);
        if (store)
            return &store->base;
    }
    if (err && err_size > 0)
        snprintf(err, err_size, "%s", message);
    return NULL;
}

static int sqlite_schema_version(store_t *base, int *out_version)
{
    int64_t version = 0;
    int rc = run_scalar((sqlite_store_t *)base, STMT_SCHEMA_VERSION, &version);
    *out_version = rc == STORE_OK ? (int)version : 0;
    return rc;
}

/* ---- Users ----------------------------------------------------------------------------------- */

static int sqlite_user_insert(store_t *base, const store_user_t *user)
{
    return run_write((sqlite_store_t *)base, STMT_USER_INSERT, store_params_user, user, false);
}

static int sqlite_user_get(store_t *base, const char *user_id, store_user_t *out)
{
    return run_lookup((sqlite_store_t *)base, STMT_USER_GET, user_id, &store_row_user, out);
}

static int sqlite_user_count(store_t *base, int64_t *out_count)
{
    return run_scalar((sqlite_store_t *)base, STMT_USER_COUNT, out_count);
}

/* ---- API tokens ------------------------------------------------------------------------------ */

static int sqlite_token_insert(store_t *base, const store_api_token_t *token)
{
    return run_write((sqlite_store_t *)base, STMT_TOKEN_INSERT, store_params_token, token, false);
}

static int sqlite_token_find(store_t *base, const char *key_hash, store_api_token_t *out)
{
    return run_lookup((sqlite_store_t *)base, STMT_TOKEN_FIND, key_hash, &store_row_token, out);
}

static int sqlite_token_touch(store_t *base, const char *token_id, int64_t now_ms)
{
    store_token_op_t op = {.token_id = token_id, .now_ms = now_ms};
    return run_write((sqlite_store_t *)base, STMT_TOKEN_TOUCH, store_params_token_touch, &op, true);
}

static int sqlite_token_delete(store_t *base, const char *user_id, const char *token_id)
{
    store_token_op_t op = {.token_id = token_id, .user_id = user_id};
    return run_write((sqlite_store_t *)base, STMT_TOKEN_DELETE, store_params_token_delete, &op,
                     true);
}

static int sqlite_token_list(store_t *base, const char *user_id, store_rows_t *set)
{
    sqlite_store_t *store = (sqlite_store_t *)base;
    sqlite_conn_t *conn = pool_acquire(store);
    sqlite3_stmt *stmt = conn->stmts[STMT_TOKEN_LIST];
    const char *what = stmt_defs[STMT_TOKEN_LIST].name;
    int rc = sqlite3_bind_text(stmt, 1, user_id, -1, SQLITE_STATIC);
    int status = rc == SQLITE_OK ? collect_rows(conn->db, stmt, what, &store_row_token, set)
                                 : sqlite_status(conn->db, rc, what);
    stmt_done(stmt);
    pool_release(store, conn);
    return status;
}

/* ---- Streams --------------------------------------------------------------------------------- */

static int sqlite_stream_insert(store_t *base, const store_stream_t *stream)
{
    return run_write((sqlite_store_t *)base, STMT_STREAM_INSERT, store_params_stream, stream,
                     false);
}

static int sqlite_stream_update(store_t *base, const store_stream_t *stream)
{
    return run_write((sqlite_store_t *)base, STMT_STREAM_UPDATE, store_params_stream, stream, true);
}

static int sqlite_stream_get(store_t *base, store_stream_lookup_t by, const char *key,
                             store_stream_t *out)
{
    stmt_id_t id = by == STORE_STREAM_BY_KEY           ? STMT_STREAM_GET_BY_KEY
                   : by == STORE_STREAM_BY_PLAYBACK_ID ? STMT_STREAM_GET_BY_PLAYBACK_ID
                                                       : STMT_STREAM_GET;
    return run_lookup((sqlite_store_t *)base, id, key, &store_row_stream, out);
}

/* ---- Sessions -------------------------------------------------------------------------------- */

static int sqlite_session_insert(store_t *base, const store_session_t *session)
{
    return run_write((sqlite_store_t *)base, STMT_SESSION_INSERT, store_params_session, session,
                     false);
}

static int sqlite_session_update(store_t *base, const store_session_t *session)
{
    return run_write((sqlite_store_t *)base, STMT_SESSION_UPDATE, store_params_session, session,
                     true);
}

static int sqlite_session_get(store_t *base, store_session_lookup_t by, const char *key,
                              store_session_t *out)
{
    stmt_id_t id = by == STORE_SESSION_LATEST_OF_STREAM ? STMT_SESSION_LATEST : STMT_SESSION_GET;
    return run_lookup((sqlite_store_t *)base, id, key, &store_row_session, out);
}

static int sqlite_stream_update_live(store_t *base, const char *stream_id,
                                     const store_stream_live_t *live)
{
    store_stream_live_args_t args = {stream_id, live};
    return run_write((sqlite_store_t *)base, STMT_STREAM_LIVE, store_params_stream_live, &args,
                     true);
}

static void bind_nothing(store_params_t *b, const void *record)
{
    (void)b;
    (void)record;
}

static int sqlite_close_open_sessions(store_t *base, int64_t *out_closed)
{
    sqlite_store_t *store = (sqlite_store_t *)base;
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
    const store_row_type_t *type;
} sqlite_list_t;

static const sqlite_list_t stream_list = {STORE_QUERY_STREAMS, STORE_ROWS_STREAM_COLUMNS,
                                          &store_row_stream};
static const sqlite_list_t session_list = {STORE_QUERY_SESSIONS, STORE_ROWS_SESSION_COLUMNS,
                                           &store_row_session};

/* Prepares a one-off statement from sql and binds the plan's first bind_count values to it. */
static int prepare_planned(sqlite3 *db, const char *sql, const store_query_plan_t *plan,
                           int bind_count, sqlite3_stmt **out)
{
    *out = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
    if (rc != SQLITE_OK)
        return sqlite_status(db, rc, plan->what);
    sqlite_binder_t b = {*out, SQLITE_OK};
    store_params_plan(&(store_params_t){&sqlite_params_ops, &b}, plan, bind_count);
    return b.rc == SQLITE_OK ? STORE_OK : sqlite_status(db, b.rc, plan->what);
}

static int select_rows(sqlite3 *db, const store_query_plan_t *plan, const store_row_type_t *type,
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
static int run_list(sqlite3 *db, const store_query_plan_t *plan, const store_row_type_t *type,
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

static int list_rows(sqlite_store_t *store, const sqlite_list_t *list, const store_query_t *q,
                     store_rows_t *set, int64_t *out_total)
{
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

static int sqlite_list(store_t *base, store_query_list_t list, const store_query_t *q,
                       store_rows_t *set, int64_t *out_total)
{
    return list_rows((sqlite_store_t *)base,
                     list == STORE_QUERY_SESSIONS ? &session_list : &stream_list, q, set,
                     out_total);
}

static const store_backend_t sqlite_backend = {
    .close = sqlite_close,
    .describe = sqlite_describe,
    .schema_version = sqlite_schema_version,
    .user_insert = sqlite_user_insert,
    .user_get = sqlite_user_get,
    .user_count = sqlite_user_count,
    .token_insert = sqlite_token_insert,
    .token_find = sqlite_token_find,
    .token_touch = sqlite_token_touch,
    .token_delete = sqlite_token_delete,
    .token_list = sqlite_token_list,
    .stream_insert = sqlite_stream_insert,
    .stream_update = sqlite_stream_update,
    .stream_get = sqlite_stream_get,
    .stream_update_live = sqlite_stream_update_live,
    .session_insert = sqlite_session_insert,
    .session_update = sqlite_session_update,
    .session_get = sqlite_session_get,
    .close_open_sessions = sqlite_close_open_sessions,
    .list = sqlite_list,
};
