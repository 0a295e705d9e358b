/* SQLite backend of the store (store_backend.h behind store.h), the embedded default. A small pool
 * of connections lets HTTP threads read in parallel (WAL) while SQLite serializes the writes. */
#include "store/migrations.h"
#include "store/statements.h"
#include "store/sqlite_internal.h"
#include "store/store_backend.h"
#include "store/store_pool.h"
#include "store/store_rows.h"
#include "util/log.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_TIMEOUT_MS 5000

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
    sqlite_conn_t conns[STORE_POOL_MAX];
    store_pool_t pool; /* of conns */
} sqlite_store_t;

static sqlite_conn_t *pool_acquire(sqlite_store_t *store)
{
    return store_pool_take(&store->pool);
}

static void pool_release(sqlite_store_t *store, sqlite_conn_t *conn)
{
    store_pool_put(&store->pool, conn);
}

/* ---- Rows: SQLite's accessors for store_rows.c ---------------------------------------------- */

/* A statement being bound; rc keeps the first failure so later binds are skipped. Text is bound
 * SQLITE_STATIC: every statement is reset and cleared before the caller's strings can go away. */
typedef struct sqlite_binder {
    sqlite3_stmt *stmt;
    int rc;
} sqlite_binder_t;

/* A record's binder writes every column; an UPDATE takes only the parameters it numbers, up to
 * its highest, and the others are skipped. */
static bool binding(sqlite_binder_t *b, int index)
{
    return b->rc == SQLITE_OK && index <= sqlite3_bind_parameter_count(b->stmt);
}

static void param_text(void *target, int index, const char *text)
{
    sqlite_binder_t *b = target;
    if (binding(b, index))
        b->rc = text ? sqlite3_bind_text(b->stmt, index, text, -1, SQLITE_STATIC)
                     : sqlite3_bind_null(b->stmt, index);
}

static void param_int64(void *target, int index, int64_t value)
{
    sqlite_binder_t *b = target;
    if (binding(b, index))
        b->rc = sqlite3_bind_int64(b->stmt, index, value);
}

static void param_real(void *target, int index, double value)
{
    sqlite_binder_t *b = target;
    if (binding(b, index))
        b->rc = sqlite3_bind_double(b->stmt, index, value);
}

/* Booleans are the integers 0 and 1. */
static void param_boolean(void *target, int index, int value)
{
    sqlite_binder_t *b = target;
    if (binding(b, index))
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
    case SQLITE_FULL:
        log_error("store", "%s: %s", what, sqlite3_errmsg(db));
        return STORE_FULL;
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

/* Binds args to the connection's cached statement id; NULL with the status in *status on failure
 * (the statement is then reset). */
static sqlite3_stmt *bind_stmt(sqlite_conn_t *conn, stmt_id_t id, store_binder_t bind,
                               const void *args, int *status)
{
    sqlite_binder_t b = {conn->stmts[id], SQLITE_OK};
    if (bind)
        bind(&(store_params_t){&sqlite_params_ops, &b}, args);
    if (b.rc == SQLITE_OK)
        return b.stmt;
    *status = sqlite_status(conn->db, b.rc, statement_name(id));
    stmt_done(b.stmt);
    return NULL;
}

static int conn_write(sqlite_conn_t *conn, stmt_id_t id, store_binder_t bind, const void *args,
                      int64_t *changed)
{
    int status = STORE_OK;
    sqlite3_stmt *stmt = bind_stmt(conn, id, bind, args, &status);
    if (stmt) {
        int rc = sqlite3_step(stmt);
        if (rc != SQLITE_DONE)
            status = sqlite_status(conn->db, rc, statement_name(id));
        else if (changed)
            *changed = sqlite3_changes(conn->db);
        stmt_done(stmt);
    }
    return status;
}

static int sqlite_write(store_t *base, stmt_id_t id, store_binder_t bind, const void *args,
                        int64_t *changed)
{
    sqlite_store_t *store = (sqlite_store_t *)base;
    sqlite_conn_t *conn = pool_acquire(store);
    int status = conn_write(conn, id, bind, args, changed);
    pool_release(store, conn);
    return status;
}

static int sqlite_read_one(store_t *base, stmt_id_t id, store_binder_t bind, const void *args,
                           const store_row_type_t *type, void *out)
{
    sqlite_store_t *store = (sqlite_store_t *)base;
    sqlite_conn_t *conn = pool_acquire(store);
    int status = STORE_OK;
    sqlite3_stmt *stmt = bind_stmt(conn, id, bind, args, &status);
    if (stmt) {
        int rc = sqlite3_step(stmt);
        store_row_t row = {&sqlite_row_ops, stmt};
        if (rc == SQLITE_ROW)
            status =
                type->read(&row, out) == 0 ? STORE_OK : store_out_of_memory(statement_name(id));
        else if (rc == SQLITE_DONE)
            status = STORE_NOT_FOUND;
        else
            status = sqlite_status(conn->db, rc, statement_name(id));
        stmt_done(stmt);
    }
    pool_release(store, conn);
    return status;
}

static int conn_read_all(sqlite_conn_t *conn, stmt_id_t id, store_binder_t bind, const void *args,
                         const store_row_type_t *type, store_rows_t *set)
{
    int status = STORE_OK;
    sqlite3_stmt *stmt = bind_stmt(conn, id, bind, args, &status);
    if (stmt) {
        status = collect_rows(conn->db, stmt, statement_name(id), type, set);
        stmt_done(stmt);
    }
    return status;
}

static int sqlite_read_all(store_t *base, stmt_id_t id, store_binder_t bind, const void *args,
                           const store_row_type_t *type, store_rows_t *set)
{
    sqlite_store_t *store = (sqlite_store_t *)base;
    sqlite_conn_t *conn = pool_acquire(store);
    int status = conn_read_all(conn, id, bind, args, type, set);
    pool_release(store, conn);
    return status;
}

/* ---- Transactions ----------------------------------------------------------------------------
 * BEGIN IMMEDIATE takes the write lock first, so two transactions never deadlock upgrading a
 * read lock; the busy timeout bounds the wait. The handle is the connection itself. */

static int sqlite_transact(store_t *base, store_tx_body_t body, void *opaque)
{
    sqlite_store_t *store = (sqlite_store_t *)base;
    sqlite_conn_t *conn = pool_acquire(store);
    int rc = sqlite3_exec(conn->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    int status = rc == SQLITE_OK ? body(base, (store_tx_t *)conn, opaque)
                                 : sqlite_status(conn->db, rc, "transaction begin");
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(conn->db, status == STORE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
        if (rc != SQLITE_OK && status == STORE_OK)
            status = sqlite_status(conn->db, rc, "transaction commit");
        /* A failed COMMIT can leave the transaction open: close it before the connection is
         * reused. */
        if (!sqlite3_get_autocommit(conn->db))
            sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL);
    }
    pool_release(store, conn);
    return status;
}

static int sqlite_tx_write(store_tx_t *tx, stmt_id_t id, store_binder_t bind, const void *args,
                           int64_t *changed)
{
    return conn_write((sqlite_conn_t *)tx, id, bind, args, changed);
}

static int sqlite_tx_read_all(store_tx_t *tx, stmt_id_t id, store_binder_t bind, const void *args,
                              const store_row_type_t *type, store_rows_t *set)
{
    return conn_read_all((sqlite_conn_t *)tx, id, bind, args, type, set);
}

static int sqlite_read_number(store_t *base, stmt_id_t id, int64_t *out)
{
    sqlite_store_t *store = (sqlite_store_t *)base;
    sqlite_conn_t *conn = pool_acquire(store);
    sqlite3_stmt *stmt = conn->stmts[id];
    int rc = sqlite3_step(stmt);
    int status = STORE_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(stmt, 0);
    else
        status = sqlite_status(conn->db, rc, statement_name(id));
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
        char *sql = statement_sql(i, STORE_QUERY_SQLITE);
        if (!sql) {
            snprintf(err, err_size, "preparing %s: out of memory", statement_name(i));
            return -1;
        }
        int rc =
            sqlite3_prepare_v3(conn->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &conn->stmts[i], NULL);
        free(sql);
        if (rc != SQLITE_OK) {
            snprintf(err, err_size, "preparing %s: %s", statement_name(i),
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
    for (int i = 0; i < STORE_POOL_MAX; i++)
        conn_close(&store->conns[i]);
    store_pool_destroy(&store->pool);
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
    if (store_pool_init(&store->pool, err, err_size) != 0) {
        free(store);
        return NULL;
    }
    if (open_first(store, path, err, err_size) != 0)
        goto fail;
    for (int i = 1; i < STORE_POOL_MAX; i++) {
        if (conn_open(&store->conns[i], path, SQLITE_OPEN_READWRITE, err, err_size) != 0)
            goto fail;
    }
    for (int i = 0; i < STORE_POOL_MAX; i++) {
        if (conn_prepare(&store->conns[i], err, err_size) != 0)
            goto fail;
        store_pool_put(&store->pool, &store->conns[i]);
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
    .write = sqlite_write,
    .read_one = sqlite_read_one,
    .read_all = sqlite_read_all,
    .read_number = sqlite_read_number,
    .transact = sqlite_transact,
    .tx_write = sqlite_tx_write,
    .tx_read_all = sqlite_tx_read_all,
    .list = sqlite_list,
};
