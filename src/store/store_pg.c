/* PostgreSQL backend of the store (store_backend.h behind store.h), for many nodes on one
 * database. A small pool of libpq connections, each with every statement prepared; values travel
 * as text and PostgreSQL parses them into the column types. The schema history is the one of
 * migrations.h, applied at open under an advisory lock so that nodes starting together migrate it
 * once. A connection that breaks (the server restarted) is reset when it is next taken; calls on
 * it meanwhile return STORE_UNAVAILABLE. */
#include "store/migrations.h"
#include "store/store_backend.h"
#include "store/store_rows.h"
#include "util/log.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_SIZE 4
#define MAX_PARAMS STORE_QUERY_MAX_BINDS /* the largest statement: a planned list */
#define NUMBER_TEXT 32                   /* "-9223372036854775808", "%.17g" of a double */
#define TEXT_OID 25                      /* pg_type.oid of text */
/* pg_advisory_xact_lock key of the schema migration: "streamd" in ASCII. */
#define MIGRATION_LOCK "73747265616d64"

/* ---- Statements ------------------------------------------------------------------------------
 * Column i of a SELECT is parameter i + 1 of the INSERT and of the UPDATE (store_rows.h); an
 * UPDATE leaves parameters out, and those are declared text so the statement still prepares. */

typedef struct stmt_def {
    const char *name; /* for logs, and the prepared statement's name */
    const char *sql;
    int params; /* parameters the callers pass */
} stmt_def_t;

static const stmt_def_t stmt_defs[STMT_COUNT] = {
    [STMT_USER_INSERT] = {"user insert",
                          "INSERT INTO users (" STORE_ROWS_USER_COLUMNS
                          ") VALUES ($1, $2, $3, $4, $5, $6, $7)",
                          7},
    [STMT_USER_GET] = {"user get", "SELECT " STORE_ROWS_USER_COLUMNS " FROM users WHERE id = $1",
                       1},
    [STMT_USER_COUNT] = {"user count", "SELECT COUNT(*) FROM users", 0},
    [STMT_TOKEN_INSERT] = {"token insert",
                           "INSERT INTO api_tokens (" STORE_ROWS_TOKEN_COLUMNS
                           ") VALUES ($1, $2, $3, $4, $5, $6, $7)",
                           7},
    [STMT_TOKEN_FIND] = {"token find",
                         "SELECT " STORE_ROWS_TOKEN_COLUMNS " FROM api_tokens WHERE key_hash = $1",
                         1},
    /* GREATEST: concurrent requests may touch out of order; last_used never goes back. */
    [STMT_TOKEN_TOUCH] = {"token touch",
                          "UPDATE api_tokens SET last_used = GREATEST(last_used, $2) WHERE id = $1",
                          2},
    [STMT_TOKEN_LIST] = {"token list",
                         "SELECT " STORE_ROWS_TOKEN_COLUMNS " FROM api_tokens "
                         "WHERE user_id = $1 ORDER BY created_at, rowid",
                         1},
    [STMT_TOKEN_DELETE] = {"token delete", "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2",
                           2},
    [STMT_STREAM_INSERT] = {"stream insert",
                            "INSERT INTO streams (" STORE_ROWS_STREAM_COLUMNS
                            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
                            "$14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, "
                            "$27, $28, $29, $30, $31)",
                            31},
    /* Settings only, as in the SQLite backend: the live columns belong to STMT_STREAM_LIVE. */
    [STMT_STREAM_UPDATE] = {"stream update",
                            "UPDATE streams SET name = $6, last_terminated_at = $10, record = $12, "
                            "suspended = $13, deleted = $14, profiles = $25, user_tags = $26, "
                            "creator_id = $27, pull = $28, playback_policy = $29, "
                            "recording_spec = $30, multistream = $31 WHERE id = $1",
                            31},
    [STMT_STREAM_LIVE] = {"stream live update",
                          "UPDATE streams SET is_active = $2, last_seen = GREATEST(last_seen, $3), "
                          "is_healthy = $4, issues = $5, ingest_rate = $6, outgoing_rate = $7, "
                          "source_segments = source_segments + $8, "
                          "transcoded_segments = transcoded_segments + $9, "
                          "source_segments_duration = source_segments_duration + $10, "
                          "transcoded_segments_duration = transcoded_segments_duration + $11, "
                          "source_bytes = source_bytes + $12, "
                          "transcoded_bytes = transcoded_bytes + $13 WHERE id = $1",
                          13},
    [STMT_STREAM_CLOSE_OPEN] = {"stream close open",
                                "UPDATE streams SET is_active = FALSE, ingest_rate = 0, "
                                "outgoing_rate = 0 WHERE is_active",
                                0},
    [STMT_STREAM_GET] = {"stream get",
                         "SELECT " STORE_ROWS_STREAM_COLUMNS " FROM streams WHERE id = $1", 1},
    [STMT_STREAM_GET_BY_KEY] = {"stream get by key",
                                "SELECT " STORE_ROWS_STREAM_COLUMNS
                                " FROM streams WHERE stream_key = $1",
                                1},
    [STMT_STREAM_GET_BY_PLAYBACK_ID] = {"stream get by playback id",
                                        "SELECT " STORE_ROWS_STREAM_COLUMNS
                                        " FROM streams WHERE playback_id = $1",
                                        1},
    [STMT_SESSION_INSERT] = {"session insert",
                             "INSERT INTO sessions (" STORE_ROWS_SESSION_COLUMNS
                             ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
                             "$14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)",
                             26},
    [STMT_SESSION_UPDATE] = {"session update",
                             "UPDATE sessions SET name = $6, last_seen = $8, ended_at = $9, "
                             "is_active = $10, record = $11, deleted = $12, is_healthy = $13, "
                             "issues = $14, recording_status = $15, source_segments = $16, "
                             "transcoded_segments = $17, source_segments_duration = $18, "
                             "transcoded_segments_duration = $19, source_bytes = $20, "
                             "transcoded_bytes = $21, ingest_rate = $22, outgoing_rate = $23, "
                             "profiles = $24, recording_spec = $25, health = $26 WHERE id = $1",
                             26},
    [STMT_SESSION_GET] = {"session get",
                          "SELECT " STORE_ROWS_SESSION_COLUMNS " FROM sessions WHERE id = $1", 1},
    [STMT_SESSION_LATEST] = {"session latest",
                             "SELECT " STORE_ROWS_SESSION_COLUMNS " FROM sessions WHERE "
                             "parent_id = $1 ORDER BY created_at DESC, rowid DESC LIMIT 1",
                             1},
    [STMT_SESSION_CLOSE_OPEN] = {"session close open",
                                 "UPDATE sessions SET is_active = FALSE, ingest_rate = 0, "
                                 "outgoing_rate = 0, ended_at = CASE WHEN last_seen > 0 THEN "
                                 "last_seen ELSE created_at END WHERE is_active",
                                 0},
    [STMT_SCHEMA_VERSION] = {"schema version", "SELECT version FROM streamd_schema", 0},
};

/* ---- Parameters and rows: PostgreSQL's accessors for store_rows.c ------------------------------
 * Every value is sent as text; numbers are formatted into the binder's own buffers. */

typedef struct pg_binder {
    const char *values[MAX_PARAMS];
    char numbers[MAX_PARAMS][NUMBER_TEXT];
    int count;   /* highest parameter set */
    bool failed; /* an index out of range */
} pg_binder_t;

static char *param_slot(pg_binder_t *b, int index)
{
    if (index < 1 || index > MAX_PARAMS) {
        b->failed = true;
        return NULL;
    }
    if (index > b->count)
        b->count = index;
    return b->numbers[index - 1];
}

static void param_text(void *target, int index, const char *text)
{
    pg_binder_t *b = target;
    if (param_slot(b, index))
        b->values[index - 1] = text;
}

static void param_int64(void *target, int index, int64_t value)
{
    pg_binder_t *b = target;
    char *slot = param_slot(b, index);
    if (slot) {
        snprintf(slot, NUMBER_TEXT, "%" PRId64, value);
        b->values[index - 1] = slot;
    }
}

static void param_real(void *target, int index, double value)
{
    pg_binder_t *b = target;
    char *slot = param_slot(b, index);
    if (slot) {
        snprintf(slot, NUMBER_TEXT, "%.17g", value);
        b->values[index - 1] = slot;
    }
}

static void param_boolean(void *target, int index, int value)
{
    pg_binder_t *b = target;
    if (param_slot(b, index))
        b->values[index - 1] = value < 0 ? NULL : value ? "t" : "f";
}

static const store_params_ops_t pg_params_ops = {param_text, param_int64, param_real,
                                                 param_boolean};

/* A result at one row. */
typedef struct pg_row {
    const PGresult *result;
    int row;
} pg_row_t;

static const char *column_text(void *source, int col, size_t *len)
{
    const pg_row_t *r = source;
    *len = 0;
    if (PQgetisnull(r->result, r->row, col))
        return NULL;
    *len = (size_t)PQgetlength(r->result, r->row, col);
    return PQgetvalue(r->result, r->row, col);
}

static int64_t column_int64(void *source, int col)
{
    const pg_row_t *r = source;
    return strtoll(PQgetvalue(r->result, r->row, col), NULL, 10);
}

static double column_real(void *source, int col)
{
    const pg_row_t *r = source;
    return strtod(PQgetvalue(r->result, r->row, col), NULL);
}

static int column_boolean(void *source, int col)
{
    const pg_row_t *r = source;
    if (PQgetisnull(r->result, r->row, col))
        return -1;
    return PQgetvalue(r->result, r->row, col)[0] == 't';
}

static const store_row_ops_t pg_row_ops = {column_text, column_int64, column_real, column_boolean};

/* ---- The connection pool -------------------------------------------------------------------- */

typedef struct pg_conn {
    PGconn *db;
    bool prepared; /* every statement is prepared on this session */
} pg_conn_t;

typedef struct pg_store {
    store_t base; /* first: store.c sees only this */
    pg_conn_t conns[POOL_SIZE];
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_available;
    pg_conn_t *free_conns[POOL_SIZE];
    size_t free_count;
} pg_store_t;

/* The parameter types of a statement: text for each one its SQL leaves out, inferred otherwise. */
static void param_types(const stmt_def_t *def, Oid *types)
{
    for (int i = 0; i < def->params; i++) {
        char ref[16];
        snprintf(ref, sizeof ref, "$%d", i + 1);
        bool used = false;
        for (const char *p = strstr(def->sql, ref); p && !used; p = strstr(p + 1, ref)) {
            char next = p[strlen(ref)];
            used = next < '0' || next > '9';
        }
        types[i] = used ? 0 : TEXT_OID;
    }
}

static int conn_prepare(pg_conn_t *conn, char *err, size_t err_size)
{
    for (int i = 0; i < STMT_COUNT; i++) {
        Oid types[MAX_PARAMS];
        param_types(&stmt_defs[i], types);
        PGresult *res =
            PQprepare(conn->db, stmt_defs[i].name, stmt_defs[i].sql, stmt_defs[i].params, types);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(err, err_size, "preparing %s: %s", stmt_defs[i].name,
                     PQerrorMessage(conn->db));
        PQclear(res);
        if (!ok)
            return -1;
    }
    conn->prepared = true;
    return 0;
}

/* A connection the server dropped is reset (libpq reconnects with the same parameters) and its
 * statements prepared again; failing that it stays broken and the call fails cleanly. */
static void conn_heal(pg_conn_t *conn)
{
    if (PQstatus(conn->db) == CONNECTION_OK && conn->prepared)
        return;
    if (PQstatus(conn->db) != CONNECTION_OK) {
        conn->prepared = false;
        PQreset(conn->db);
        if (PQstatus(conn->db) != CONNECTION_OK)
            return;
        log_info("store", "PostgreSQL connection re-established");
    }
    char err[256];
    if (conn_prepare(conn, err, sizeof err) != 0)
        log_error("store", "%s", err);
}

static pg_conn_t *pool_acquire(pg_store_t *store)
{
    pthread_mutex_lock(&store->pool_lock);
    while (store->free_count == 0)
        pthread_cond_wait(&store->pool_available, &store->pool_lock);
    pg_conn_t *conn = store->free_conns[--store->free_count];
    pthread_mutex_unlock(&store->pool_lock);
    conn_heal(conn);
    return conn;
}

static void pool_release(pg_store_t *store, pg_conn_t *conn)
{
    pthread_mutex_lock(&store->pool_lock);
    store->free_conns[store->free_count++] = conn;
    pthread_cond_signal(&store->pool_available);
    pthread_mutex_unlock(&store->pool_lock);
}

/* ---- Errors and running statements ---------------------------------------------------------- */

/* Maps a failed result to a store status, as sqlite_status does: constraint failures are the
 * caller's business, anything else is logged as an error. */
static int pg_status(pg_conn_t *conn, const PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "23505") == 0) /* unique_violation */
        return STORE_CONFLICT;
    if (state && strncmp(state, "23", 2) == 0) { /* other integrity constraints */
        log_warn("store", "%s: %s", what, PQresultErrorMessage(res));
        return STORE_INVALID;
    }
    const char *message = res ? PQresultErrorMessage(res) : "";
    if (!message[0])
        message = PQerrorMessage(conn->db);
    /* A lost connection is the database being away, not a fault of this call; it is reset when
     * next taken. */
    if (PQstatus(conn->db) != CONNECTION_OK || !conn->prepared) {
        log_warn("store", "%s: the database is unavailable: %s", what, message);
        return STORE_UNAVAILABLE;
    }
    log_error("store", "%s: %s", what, message);
    return STORE_ERR;
}

typedef void (*record_binder_t)(store_params_t *b, const void *record);

/* Runs a prepared statement with record's values; *out gets the result (PQclear it) or NULL. */
static int run_prepared(pg_conn_t *conn, stmt_id_t id, record_binder_t bind, const void *record,
                        PGresult **out)
{
    *out = NULL;
    const stmt_def_t *def = &stmt_defs[id];
    pg_binder_t b = {0};
    if (bind)
        bind(&(store_params_t){&pg_params_ops, &b}, record);
    if (b.failed || b.count > def->params) {
        log_error("store", "%s: parameter out of range", def->name);
        return STORE_ERR;
    }
    if (!conn->prepared)
        return pg_status(conn, NULL, def->name);
    PGresult *res = PQexecPrepared(conn->db, def->name, def->params, b.values, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        int rc = pg_status(conn, res, def->name);
        PQclear(res);
        return rc;
    }
    *out = res;
    return STORE_OK;
}

/* Reads every row of res into set. On failure set is freed and empty. */
static int collect_rows(const PGresult *res, const char *what, const store_row_type_t *type,
                        store_rows_t *set)
{
    for (int i = 0; i < PQntuples(res); i++) {
        void *slot = store_rows_add(set, type->record);
        pg_row_t r = {res, i};
        store_row_t row = {&pg_row_ops, &r};
        if (!slot || type->read(&row, slot) != 0) {
            store_rows_free(set, type->record);
            return store_out_of_memory(what);
        }
    }
    return STORE_OK;
}

static void bind_key(store_params_t *b, const void *record)
{
    store_params_text(b, 1, record);
}

static int run_lookup(pg_store_t *store, stmt_id_t id, const char *key,
                      const store_row_type_t *type, void *out)
{
    pg_conn_t *conn = pool_acquire(store);
    PGresult *res = NULL;
    int rc = run_prepared(conn, id, bind_key, key, &res);
    if (rc == STORE_OK && PQntuples(res) == 0) {
        rc = STORE_NOT_FOUND;
    } else if (rc == STORE_OK) {
        pg_row_t r = {res, 0};
        store_row_t row = {&pg_row_ops, &r};
        if (type->read(&row, out) != 0)
            rc = store_out_of_memory(stmt_defs[id].name);
    }
    PQclear(res);
    pool_release(store, conn);
    return rc;
}

/* With must_change, a statement that touched no row is STORE_NOT_FOUND; *changed (may be NULL)
 * gets the rows touched. */
static int run_write(pg_store_t *store, stmt_id_t id, record_binder_t bind, const void *record,
                     bool must_change, int64_t *changed)
{
    pg_conn_t *conn = pool_acquire(store);
    PGresult *res = NULL;
    int rc = run_prepared(conn, id, bind, record, &res);
    if (rc == STORE_OK) {
        int64_t rows = strtoll(PQcmdTuples(res), NULL, 10);
        if (changed)
            *changed = rows;
        if (must_change && rows == 0)
            rc = STORE_NOT_FOUND;
    }
    PQclear(res);
    pool_release(store, conn);
    return rc;
}

static int run_scalar(pg_store_t *store, stmt_id_t id, int64_t *out)
{
    pg_conn_t *conn = pool_acquire(store);
    PGresult *res = NULL;
    int rc = run_prepared(conn, id, NULL, NULL, &res);
    if (rc == STORE_OK) {
        if (PQntuples(res) == 1 && PQnfields(res) == 1)
            *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        else
            rc = pg_status(conn, res, stmt_defs[id].name);
    }
    PQclear(res);
    pool_release(store, conn);
    return rc;
}

/* ---- Schema --------------------------------------------------------------------------------- */

/* Runs sql (one or more statements, no parameters); 0, or -1 with a message in err. */
static int exec_sql(void *db, const char *sql, const char *what, char *err, size_t err_size)
{
    PGresult *res = PQexec(db, sql);
    ExecStatusType status = PQresultStatus(res);
    int rc = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0)
        snprintf(err, err_size, "%s: %s", what, PQerrorMessage(db));
    PQclear(res);
    return rc;
}

static int read_version(PGconn *db, int *out_version, char *err, size_t err_size)
{
    PGresult *res = PQexec(db, "SELECT version FROM streamd_schema");
    int rc = -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, err_size, "reading the schema version: %s", PQerrorMessage(db));
    } else if (PQntuples(res) > 1) {
        snprintf(err, err_size, "streamd_schema holds %d rows, not one", PQntuples(res));
    } else {
        *out_version = PQntuples(res) == 0 ? 0 : atoi(PQgetvalue(res, 0, 0));
        rc = 0;
    }
    PQclear(res);
    return rc;
}

static int apply_pending(PGconn *db, int version, char *err, size_t err_size)
{
    if (migrations_apply(version, STORE_QUERY_POSTGRES, exec_sql, db, err, err_size) != 0)
        return -1;
    char sql[96];
    snprintf(sql, sizeof sql, "DELETE FROM streamd_schema; INSERT INTO streamd_schema VALUES (%d)",
             migrations_latest());
    return exec_sql(db, sql, "recording the schema version", err, err_size);
}

/* Brings the database to the latest schema in one transaction (all or nothing), under an
 * advisory lock so that nodes starting together do not both migrate; refuses a database whose
 * schema is newer than this code knows. */
static int migrate(PGconn *db, const char *where, char *err, size_t err_size)
{
    if (exec_sql(db,
                 "BEGIN; SELECT pg_advisory_xact_lock(x'" MIGRATION_LOCK "'::bigint); "
                 "CREATE TABLE IF NOT EXISTS streamd_schema (version INTEGER NOT NULL)",
                 "starting the schema migration", err, err_size) != 0)
        return -1;
    int version = 0;
    int rc = read_version(db, &version, err, err_size);
    if (rc == 0 && version > migrations_latest()) {
        snprintf(err, err_size,
                 "database schema version %d is newer than this streamd supports (%d); "
                 "upgrade streamd or use another database",
                 version, migrations_latest());
        rc = -1;
    }
    if (rc == 0 && version < migrations_latest())
        rc = apply_pending(db, version, err, err_size);
    if (rc == 0)
        rc = exec_sql(db, "COMMIT", "committing the schema migration", err, err_size);
    if (rc != 0) {
        PGresult *res = PQexec(db, "ROLLBACK");
        PQclear(res);
        return -1;
    }
    if (version != migrations_latest())
        log_info("store", "%s: schema migrated from version %d to %d", where, version,
                 migrations_latest());
    return 0;
}

/* ---- Opening and closing -------------------------------------------------------------------- */

static void pg_close(store_t *base)
{
    pg_store_t *store = (pg_store_t *)base;
    for (int i = 0; i < POOL_SIZE; i++)
        PQfinish(store->conns[i].db);
    pthread_cond_destroy(&store->pool_available);
    pthread_mutex_destroy(&store->pool_lock);
    free(store);
}

/* The database a connection is on, without its password, for logs. */
static void describe(PGconn *db, char *out, size_t size)
{
    snprintf(out, size, "PostgreSQL %s@%s:%s/%s", PQuser(db), PQhost(db), PQport(db), PQdb(db));
}

static void pg_describe(store_t *base, char *out, size_t size)
{
    describe(((pg_store_t *)base)->conns[0].db, out, size);
}

static int conn_open(pg_conn_t *conn, const char *url, char *err, size_t err_size)
{
    conn->db = PQconnectdb(url);
    if (PQstatus(conn->db) != CONNECTION_OK) {
        snprintf(err, err_size, "connecting to PostgreSQL: %s", PQerrorMessage(conn->db));
        return -1;
    }
    /* Notices (a CREATE TABLE IF NOT EXISTS that found the table) are not worth a log line. */
    PGresult *res = PQexec(conn->db, "SET client_min_messages = warning");
    PQclear(res);
    return 0;
}

static const store_backend_t pg_backend;

store_t *store_pg_open(const char *url, char *err, size_t err_size)
{
    pg_store_t *store = calloc(1, sizeof *store);
    if (!store) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    store->base.backend = &pg_backend;
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
    char where[256] = "";
    if (conn_open(&store->conns[0], url, err, err_size) != 0)
        goto fail;
    describe(store->conns[0].db, where, sizeof where);
    if (migrate(store->conns[0].db, where, err, err_size) != 0)
        goto fail;
    for (int i = 0; i < POOL_SIZE; i++) {
        if ((i > 0 && conn_open(&store->conns[i], url, err, err_size) != 0) ||
            conn_prepare(&store->conns[i], err, err_size) != 0)
            goto fail;
        store->free_conns[store->free_count++] = &store->conns[i];
    }
    return &store->base;
fail:
    pg_close(&store->base);
    return NULL;
}

/* ---- Operations ----------------------------------------------------------------------------- */

static int pg_schema_version(store_t *base, int *out_version)
{
    int64_t version = 0;
    int rc = run_scalar((pg_store_t *)base, STMT_SCHEMA_VERSION, &version);
    *out_version = rc == STORE_OK ? (int)version : 0;
    return rc;
}

static int pg_user_insert(store_t *base, const store_user_t *user)
{
    return run_write((pg_store_t *)base, STMT_USER_INSERT, store_params_user, user, false, NULL);
}

static int pg_user_get(store_t *base, const char *user_id, store_user_t *out)
{
    return run_lookup((pg_store_t *)base, STMT_USER_GET, user_id, &store_row_user, out);
}

static int pg_user_count(store_t *base, int64_t *out_count)
{
    return run_scalar((pg_store_t *)base, STMT_USER_COUNT, out_count);
}

static int pg_token_insert(store_t *base, const store_api_token_t *token)
{
    return run_write((pg_store_t *)base, STMT_TOKEN_INSERT, store_params_token, token, false, NULL);
}

static int pg_token_find(store_t *base, const char *key_hash, store_api_token_t *out)
{
    return run_lookup((pg_store_t *)base, STMT_TOKEN_FIND, key_hash, &store_row_token, out);
}

static int pg_token_touch(store_t *base, const char *token_id, int64_t now_ms)
{
    store_token_op_t op = {.token_id = token_id, .now_ms = now_ms};
    return run_write((pg_store_t *)base, STMT_TOKEN_TOUCH, store_params_token_touch, &op, true,
                     NULL);
}

static int pg_token_delete(store_t *base, const char *user_id, const char *token_id)
{
    store_token_op_t op = {.token_id = token_id, .user_id = user_id};
    return run_write((pg_store_t *)base, STMT_TOKEN_DELETE, store_params_token_delete, &op, true,
                     NULL);
}

static int pg_token_list(store_t *base, const char *user_id, store_rows_t *set)
{
    pg_store_t *store = (pg_store_t *)base;
    pg_conn_t *conn = pool_acquire(store);
    PGresult *res = NULL;
    int rc = run_prepared(conn, STMT_TOKEN_LIST, bind_key, user_id, &res);
    if (rc == STORE_OK)
        rc = collect_rows(res, stmt_defs[STMT_TOKEN_LIST].name, &store_row_token, set);
    PQclear(res);
    pool_release(store, conn);
    return rc;
}

static int pg_stream_insert(store_t *base, const store_stream_t *stream)
{
    return run_write((pg_store_t *)base, STMT_STREAM_INSERT, store_params_stream, stream, false,
                     NULL);
}

static int pg_stream_update(store_t *base, const store_stream_t *stream)
{
    return run_write((pg_store_t *)base, STMT_STREAM_UPDATE, store_params_stream, stream, true,
                     NULL);
}

static int pg_stream_get(store_t *base, store_stream_lookup_t by, const char *key,
                         store_stream_t *out)
{
    stmt_id_t id = by == STORE_STREAM_BY_KEY           ? STMT_STREAM_GET_BY_KEY
                   : by == STORE_STREAM_BY_PLAYBACK_ID ? STMT_STREAM_GET_BY_PLAYBACK_ID
                                                       : STMT_STREAM_GET;
    return run_lookup((pg_store_t *)base, id, key, &store_row_stream, out);
}

static int pg_stream_update_live(store_t *base, const char *stream_id,
                                 const store_stream_live_t *live)
{
    store_stream_live_args_t args = {stream_id, live};
    return run_write((pg_store_t *)base, STMT_STREAM_LIVE, store_params_stream_live, &args, true,
                     NULL);
}

static int pg_session_insert(store_t *base, const store_session_t *session)
{
    return run_write((pg_store_t *)base, STMT_SESSION_INSERT, store_params_session, session, false,
                     NULL);
}

static int pg_session_update(store_t *base, const store_session_t *session)
{
    return run_write((pg_store_t *)base, STMT_SESSION_UPDATE, store_params_session, session, true,
                     NULL);
}

static int pg_session_get(store_t *base, store_session_lookup_t by, const char *key,
                          store_session_t *out)
{
    stmt_id_t id = by == STORE_SESSION_LATEST_OF_STREAM ? STMT_SESSION_LATEST : STMT_SESSION_GET;
    return run_lookup((pg_store_t *)base, id, key, &store_row_session, out);
}

static int pg_close_open_sessions(store_t *base, int64_t *out_closed)
{
    pg_store_t *store = (pg_store_t *)base;
    int rc = run_write(store, STMT_STREAM_CLOSE_OPEN, NULL, NULL, false, NULL);
    if (rc != STORE_OK)
        return rc;
    int64_t closed = 0;
    rc = run_write(store, STMT_SESSION_CLOSE_OPEN, NULL, NULL, false, &closed);
    if (rc == STORE_OK && out_closed)
        *out_closed = closed;
    return rc;
}

/* ---- List queries: store_query.c plans them, this part runs them ---------------------------- */

static int run_planned(pg_conn_t *conn, const char *sql, const store_query_plan_t *plan,
                       int bind_count, PGresult **out)
{
    pg_binder_t b = {0};
    store_params_plan(&(store_params_t){&pg_params_ops, &b}, plan, bind_count);
    *out = PQexecParams(conn->db, sql, bind_count, NULL, b.values, NULL, NULL, 0);
    if (PQresultStatus(*out) == PGRES_TUPLES_OK)
        return STORE_OK;
    int rc = pg_status(conn, *out, plan->what);
    PQclear(*out);
    *out = NULL;
    return rc;
}

/* The page and the total run in one REPEATABLE READ transaction, so they agree with each other
 * even while other nodes write. */
static int run_list(pg_conn_t *conn, const store_query_plan_t *plan, const store_row_type_t *type,
                    store_rows_t *set, int64_t *out_total)
{
    PGresult *res = PQexec(conn->db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? STORE_OK : pg_status(conn, res, plan->what);
    PQclear(res);
    if (rc != STORE_OK)
        return rc;
    rc = run_planned(conn, plan->select_sql, plan, plan->bind_count, &res);
    if (rc == STORE_OK)
        rc = collect_rows(res, plan->what, type, set);
    PQclear(res);
    if (rc == STORE_OK && out_total) {
        rc = run_planned(conn, plan->count_sql, plan, plan->count_bind_count, &res);
        if (rc == STORE_OK)
            *out_total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    res = PQexec(conn->db, rc == STORE_OK ? "COMMIT" : "ROLLBACK");
    if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == STORE_OK)
        rc = pg_status(conn, res, plan->what);
    PQclear(res);
    if (rc != STORE_OK)
        store_rows_free(set, type->record);
    return rc;
}

static int pg_list(store_t *base, store_query_list_t list, const store_query_t *q,
                   store_rows_t *set, int64_t *out_total)
{
    pg_store_t *store = (pg_store_t *)base;
    bool sessions = list == STORE_QUERY_SESSIONS;
    store_query_plan_t plan;
    int rc = store_query_plan(&plan, STORE_QUERY_POSTGRES, list,
                              sessions ? STORE_ROWS_SESSION_COLUMNS : STORE_ROWS_STREAM_COLUMNS, q);
    if (rc == STORE_OK) {
        pg_conn_t *conn = pool_acquire(store);
        rc = run_list(conn, &plan, sessions ? &store_row_session : &store_row_stream, set,
                      out_total);
        pool_release(store, conn);
    }
    store_query_plan_free(&plan);
    return rc;
}

static const store_backend_t pg_backend = {
    .close = pg_close,
    .describe = pg_describe,
    .schema_version = pg_schema_version,
    .user_insert = pg_user_insert,
    .user_get = pg_user_get,
    .user_count = pg_user_count,
    .token_insert = pg_token_insert,
    .token_find = pg_token_find,
    .token_touch = pg_token_touch,
    .token_delete = pg_token_delete,
    .token_list = pg_token_list,
    .stream_insert = pg_stream_insert,
    .stream_update = pg_stream_update,
    .stream_get = pg_stream_get,
    .stream_update_live = pg_stream_update_live,
    .session_insert = pg_session_insert,
    .session_update = pg_session_update,
    .session_get = pg_session_get,
    .close_open_sessions = pg_close_open_sessions,
    .list = pg_list,
};
