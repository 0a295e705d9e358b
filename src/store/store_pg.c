/* PostgreSQL backend of the store (store_backend.h behind store.h), for many nodes on one
 * database. A small pool of libpq connections, each with every statement prepared; values travel
 * as text and PostgreSQL parses them into the column types. The schema history is the one of
 * migrations.h, applied at open under an advisory lock so that nodes starting together migrate it
 * once. A connection that breaks (the server restarted) is reset when it is next taken; calls on
 * it meanwhile return STORE_UNAVAILABLE. */
#include "store/migrations.h"
#include "store/statements.h"
#include "store/store_backend.h"
#include "store/store_pool.h"
#include "store/store_rows.h"
#include "util/log.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS STORE_QUERY_MAX_BINDS /* the largest statement: a planned list */
#define NUMBER_TEXT 32                   /* "-9223372036854775808", "%.17g" of a double */
#define TEXT_OID 25                      /* pg_type.oid of text */
/* pg_advisory_xact_lock key of the schema migration: "streamd" in ASCII. */
#define MIGRATION_LOCK "73747265616d64"

/* ---- Parameters and rows: PostgreSQL's accessors for store_rows.c ------------------------------
 * Every value is sent as text; numbers are formatted into the binder's own buffers. */

typedef struct pg_binder {
    const char *values[MAX_PARAMS];
    char numbers[MAX_PARAMS][NUMBER_TEXT];
    bool failed; /* an index out of range */
} pg_binder_t;

static char *param_slot(pg_binder_t *b, int index)
{
    if (index < 1 || index > MAX_PARAMS) {
        b->failed = true;
        return NULL;
    }
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
    char *url;    /* for the listener's connection */
    pg_conn_t conns[STORE_POOL_MAX];
    store_pool_t pool;       /* of conns */
    bool listening;          /* the listener thread runs */
    pthread_t listener;      /* LISTENs for key and user changes (store_watch_auth) */
    atomic_bool stop_listen; /* tells it to end */
} pg_store_t;

/* The parameter types of statement sql passing count parameters: text for each one its SQL
 * leaves out (an UPDATE writes only some of a record's columns), inferred otherwise. */
static void param_types(const char *sql, int count, Oid *types)
{
    for (int i = 0; i < count; i++) {
        char ref[16];
        snprintf(ref, sizeof ref, "$%d", i + 1);
        bool used = false;
        for (const char *p = strstr(sql, ref); p && !used; p = strstr(p + 1, ref)) {
            char next = p[strlen(ref)];
            used = next < '0' || next > '9';
        }
        types[i] = used ? 0 : TEXT_OID;
    }
}

static int conn_prepare(pg_conn_t *conn, char *err, size_t err_size)
{
    for (int i = 0; i < STMT_COUNT; i++) {
        char *sql = statement_sql(i, STORE_QUERY_POSTGRES);
        if (!sql) {
            snprintf(err, err_size, "preparing %s: out of memory", statement_name(i));
            return -1;
        }
        Oid types[MAX_PARAMS];
        int count = statement_param_count(i);
        param_types(sql, count, types);
        PGresult *res = PQprepare(conn->db, statement_name(i), sql, count, types);
        free(sql);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(err, err_size, "preparing %s: %s", statement_name(i),
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
    pg_conn_t *conn = store_pool_take(&store->pool);
    conn_heal(conn);
    return conn;
}

static void pool_release(pg_store_t *store, pg_conn_t *conn)
{
    store_pool_put(&store->pool, conn);
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
    if (state && strcmp(state, "53100") == 0) { /* disk_full */
        log_error("store", "%s: %s", what, message);
        return STORE_FULL;
    }
    /* A lost connection is the database being away, not a fault of this call; it is reset when
     * next taken. */
    if (PQstatus(conn->db) != CONNECTION_OK || !conn->prepared) {
        log_warn("store", "%s: the database is unavailable: %s", what, message);
        return STORE_UNAVAILABLE;
    }
    log_error("store", "%s: %s", what, message);
    return STORE_ERR;
}

/* Runs a prepared statement with args' values; *out gets the result (PQclear it) or NULL. */
static int run_prepared(pg_conn_t *conn, stmt_id_t id, store_binder_t bind, const void *args,
                        PGresult **out)
{
    *out = NULL;
    const char *name = statement_name(id);
    int count = statement_param_count(id);
    pg_binder_t b = {0};
    if (bind)
        bind(&(store_params_t){&pg_params_ops, &b}, args);
    /* A record's binder writes every column; the statement takes the first count. */
    if (b.failed) {
        log_error("store", "%s: parameter out of range", name);
        return STORE_ERR;
    }
    if (!conn->prepared)
        return pg_status(conn, NULL, name);
    PGresult *res = PQexecPrepared(conn->db, name, count, b.values, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        int rc = pg_status(conn, res, name);
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

static int conn_write(pg_conn_t *conn, stmt_id_t id, store_binder_t bind, const void *args,
                      int64_t *changed)
{
    PGresult *res = NULL;
    int rc = run_prepared(conn, id, bind, args, &res);
    if (rc == STORE_OK && changed)
        *changed = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return rc;
}

static int pg_write(store_t *base, stmt_id_t id, store_binder_t bind, const void *args,
                    int64_t *changed)
{
    pg_store_t *store = (pg_store_t *)base;
    pg_conn_t *conn = pool_acquire(store);
    int rc = conn_write(conn, id, bind, args, changed);
    pool_release(store, conn);
    return rc;
}

static int pg_read_one(store_t *base, stmt_id_t id, store_binder_t bind, const void *args,
                       const store_row_type_t *type, void *out)
{
    pg_store_t *store = (pg_store_t *)base;
    pg_conn_t *conn = pool_acquire(store);
    PGresult *res = NULL;
    int rc = run_prepared(conn, id, bind, args, &res);
    if (rc == STORE_OK && PQntuples(res) == 0) {
        rc = STORE_NOT_FOUND;
    } else if (rc == STORE_OK) {
        pg_row_t r = {res, 0};
        store_row_t row = {&pg_row_ops, &r};
        if (type->read(&row, out) != 0)
            rc = store_out_of_memory(statement_name(id));
    }
    PQclear(res);
    pool_release(store, conn);
    return rc;
}

static int conn_read_all(pg_conn_t *conn, stmt_id_t id, store_binder_t bind, const void *args,
                         const store_row_type_t *type, store_rows_t *set)
{
    PGresult *res = NULL;
    int rc = run_prepared(conn, id, bind, args, &res);
    if (rc == STORE_OK)
        rc = collect_rows(res, statement_name(id), type, set);
    PQclear(res);
    return rc;
}

static int pg_read_all(store_t *base, stmt_id_t id, store_binder_t bind, const void *args,
                       const store_row_type_t *type, store_rows_t *set)
{
    pg_store_t *store = (pg_store_t *)base;
    pg_conn_t *conn = pool_acquire(store);
    int rc = conn_read_all(conn, id, bind, args, type, set);
    pool_release(store, conn);
    return rc;
}

/* ---- Transactions: the handle is the connection, between BEGIN and COMMIT -------------------- */

/* Runs one command of the transaction's own (BEGIN, COMMIT, ROLLBACK). */
static int run_command(pg_conn_t *conn, const char *sql)
{
    if (!conn->prepared)
        return pg_status(conn, NULL, sql);
    PGresult *res = PQexec(conn->db, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? STORE_OK : pg_status(conn, res, sql);
    PQclear(res);
    return rc;
}

static int pg_transact(store_t *base, store_tx_body_t body, void *opaque)
{
    pg_store_t *store = (pg_store_t *)base;
    pg_conn_t *conn = pool_acquire(store);
    int rc = run_command(conn, "BEGIN");
    if (rc == STORE_OK) {
        rc = body(base, (store_tx_t *)conn, opaque);
        int end = run_command(conn, rc == STORE_OK ? "COMMIT" : "ROLLBACK");
        if (rc == STORE_OK)
            rc = end;
    }
    pool_release(store, conn);
    return rc;
}

static int pg_tx_write(store_tx_t *tx, stmt_id_t id, store_binder_t bind, const void *args,
                       int64_t *changed)
{
    return conn_write((pg_conn_t *)tx, id, bind, args, changed);
}

static int pg_tx_read_all(store_tx_t *tx, stmt_id_t id, store_binder_t bind, const void *args,
                          const store_row_type_t *type, store_rows_t *set)
{
    return conn_read_all((pg_conn_t *)tx, id, bind, args, type, set);
}

static int pg_read_number(store_t *base, stmt_id_t id, int64_t *out)
{
    pg_store_t *store = (pg_store_t *)base;
    pg_conn_t *conn = pool_acquire(store);
    PGresult *res = NULL;
    int rc = run_prepared(conn, id, NULL, NULL, &res);
    if (rc == STORE_OK) {
        if (PQntuples(res) == 1 && PQnfields(res) == 1)
            *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        else
            rc = pg_status(conn, res, statement_name(id));
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
    if (rc == 0)
        rc = migrations_check_version(version, err, err_size);
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
    if (store->listening) {
        atomic_store(&store->stop_listen, true);
        pthread_join(store->listener, NULL);
    }
    free(store->url);
    for (int i = 0; i < STORE_POOL_MAX; i++)
        PQfinish(store->conns[i].db);
    store_pool_destroy(&store->pool);
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
    store->url = strdup(url);
    atomic_init(&store->stop_listen, false);
    if (!store->url) {
        free(store);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (store_pool_init(&store->pool, err, err_size) != 0) {
        free(store->url);
        free(store);
        return NULL;
    }
    char where[256] = "";
    if (conn_open(&store->conns[0], url, err, err_size) != 0)
        goto fail;
    describe(store->conns[0].db, where, sizeof where);
    if (migrate(store->conns[0].db, where, err, err_size) != 0)
        goto fail;
    for (int i = 0; i < STORE_POOL_MAX; i++) {
        if ((i > 0 && conn_open(&store->conns[i], url, err, err_size) != 0) ||
            conn_prepare(&store->conns[i], err, err_size) != 0)
            goto fail;
        store_pool_put(&store->pool, &store->conns[i]);
    }
    return &store->base;
fail:
    pg_close(&store->base);
    return NULL;
}

/* ---- Key and user changes across nodes: LISTEN / NOTIFY ---------------------------------------
 */

#define AUTH_CHANNEL "streamd_auth"
#define LISTEN_POLL_MS 500   /* how soon the listener sees a stop */
#define LISTEN_RETRY_MS 1000 /* between reconnects while the database is away */

static void pg_announce_auth(store_t *base)
{
    pg_store_t *store = (pg_store_t *)base;
    pg_conn_t *conn = pool_acquire(store);
    PGresult *res = conn->prepared ? PQexec(conn->db, "NOTIFY " AUTH_CHANNEL) : NULL;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        log_warn("store", "telling the other nodes of a key change failed: %s",
                 PQerrorMessage(conn->db));
    PQclear(res);
    pool_release(store, conn);
}

/* A connection LISTENing on the channel, or NULL (logged once per outage by the caller). */
static PGconn *listen_connect(const char *url)
{
    PGconn *db = PQconnectdb(url);
    PGresult *res = PQstatus(db) == CONNECTION_OK ? PQexec(db, "LISTEN " AUTH_CHANNEL) : NULL;
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        PQfinish(db);
        return NULL;
    }
    return db;
}

static void *listen_main(void *arg)
{
    pg_store_t *store = arg;
    store_t *base = &store->base;
    PGconn *db = NULL;
    bool warned = false;
    while (!atomic_load(&store->stop_listen)) {
        if (!db) {
            db = listen_connect(store->url);
            if (!db) {
                if (!warned)
                    log_warn("store", "listening for key changes: the database is unavailable; "
                                      "retrying");
                warned = true;
                usleep(LISTEN_RETRY_MS * 1000);
                continue;
            }
            warned = false;
            /* What changed while nobody listened is unknown: everything is stale. */
            base->auth_changed(base->auth_opaque);
        }
        struct pollfd pfd = {.fd = PQsocket(db), .events = POLLIN};
        if (poll(&pfd, 1, LISTEN_POLL_MS) <= 0)
            continue;
        if (PQconsumeInput(db) == 0) {
            PQfinish(db);
            db = NULL;
            continue;
        }
        bool changed = false;
        for (PGnotify *n = PQnotifies(db); n; n = PQnotifies(db)) {
            changed = true;
            PQfreemem(n);
        }
        if (changed)
            base->auth_changed(base->auth_opaque);
    }
    PQfinish(db);
    return NULL;
}

static int pg_watch_auth(store_t *base)
{
    pg_store_t *store = (pg_store_t *)base;
    if (store->listening)
        return STORE_OK;
    if (pthread_create(&store->listener, NULL, listen_main, store) != 0) {
        log_error("store", "cannot start the thread that listens for key changes");
        return STORE_ERR;
    }
    store->listening = true;
    return STORE_OK;
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
    .write = pg_write,
    .read_one = pg_read_one,
    .read_all = pg_read_all,
    .read_number = pg_read_number,
    .transact = pg_transact,
    .tx_write = pg_tx_write,
    .tx_read_all = pg_tx_read_all,
    .announce_auth = pg_announce_auth,
    .watch_auth = pg_watch_auth,
    .list = pg_list,
};
