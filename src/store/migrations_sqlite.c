/* Versioned schema of the SQLite backend. The version lives in PRAGMA user_version; migration N
 * (1-based) takes the schema from version N-1 to N. Migrations are append-only: never edit one
 * that has shipped, add the next instead. */
#include "store/sqlite_internal.h"

#include <stdio.h>

/* The counters shared by streams and sessions (store_counters_t), in one place so both tables
 * keep the same columns. */
#define COUNTER_COLUMNS                                                                            \
    "source_segments INTEGER NOT NULL DEFAULT 0,"                                                  \
    "transcoded_segments INTEGER NOT NULL DEFAULT 0,"                                              \
    "source_segments_duration REAL NOT NULL DEFAULT 0,"                                            \
    "transcoded_segments_duration REAL NOT NULL DEFAULT 0,"                                        \
    "source_bytes INTEGER NOT NULL DEFAULT 0,"                                                     \
    "transcoded_bytes INTEGER NOT NULL DEFAULT 0,"                                                 \
    "ingest_rate REAL NOT NULL DEFAULT 0,"                                                         \
    "outgoing_rate REAL NOT NULL DEFAULT 0,"

/* Version 1: users, API tokens, streams and sessions. The end-to-end tests seed rows with the
 * sqlite3 CLI using these exact names. Booleans are 0/1, timestamps ms since epoch, JSON-valued
 * fields compact JSON text; is_healthy and recording_status are NULL when unknown / not set. */
static const char migration_1[] =
    "CREATE TABLE users ("
    "id TEXT PRIMARY KEY,"
    "project_id TEXT NOT NULL,"
    "name TEXT NOT NULL,"
    "email TEXT,"
    "admin INTEGER NOT NULL DEFAULT 0,"
    "suspended INTEGER NOT NULL DEFAULT 0,"
    "created_at INTEGER NOT NULL);"

    "CREATE TABLE api_tokens ("
    "id TEXT PRIMARY KEY,"
    "user_id TEXT NOT NULL REFERENCES users(id),"
    "project_id TEXT NOT NULL,"
    "name TEXT NOT NULL,"
    "key_hash TEXT NOT NULL UNIQUE,"
    "created_at INTEGER NOT NULL,"
    "last_used INTEGER NOT NULL DEFAULT 0);"

    "CREATE TABLE streams ("
    "id TEXT PRIMARY KEY,"
    "user_id TEXT NOT NULL REFERENCES users(id),"
    "project_id TEXT NOT NULL,"
    "name TEXT NOT NULL,"
    "stream_key TEXT NOT NULL UNIQUE,"
    "playback_id TEXT NOT NULL UNIQUE,"
    "created_by_token_name TEXT,"
    "created_at INTEGER NOT NULL,"
    "last_seen INTEGER NOT NULL DEFAULT 0,"
    "last_terminated_at INTEGER NOT NULL DEFAULT 0,"
    "is_active INTEGER NOT NULL DEFAULT 0,"
    "record INTEGER NOT NULL DEFAULT 0,"
    "suspended INTEGER NOT NULL DEFAULT 0,"
    "deleted INTEGER NOT NULL DEFAULT 0,"
    "is_healthy INTEGER,"
    "issues TEXT," COUNTER_COLUMNS "profiles TEXT,"
    "user_tags TEXT,"
    "creator_id TEXT,"
    "pull TEXT,"
    "playback_policy TEXT,"
    "recording_spec TEXT,"
    "multistream TEXT);"

    "CREATE TABLE sessions ("
    "id TEXT PRIMARY KEY,"
    "parent_id TEXT NOT NULL REFERENCES streams(id),"
    "user_id TEXT NOT NULL,"
    "project_id TEXT NOT NULL,"
    "playback_id TEXT NOT NULL,"
    "name TEXT NOT NULL,"
    "created_at INTEGER NOT NULL,"
    "last_seen INTEGER NOT NULL DEFAULT 0,"
    "ended_at INTEGER NOT NULL DEFAULT 0,"
    "is_active INTEGER NOT NULL DEFAULT 0,"
    "record INTEGER NOT NULL DEFAULT 0,"
    "deleted INTEGER NOT NULL DEFAULT 0,"
    "is_healthy INTEGER,"
    "issues TEXT,"
    "recording_status TEXT," COUNTER_COLUMNS "profiles TEXT,"
    "recording_spec TEXT);"

    /* The list pages: a user's streams and sessions newest first, a stream's sessions. The
     * api_tokens index also serves the foreign key check. */
    "CREATE INDEX streams_user_last_seen ON streams(user_id, last_seen, created_at);"
    "CREATE INDEX sessions_parent_last_seen ON sessions(parent_id, last_seen);"
    "CREATE INDEX sessions_user_last_seen ON sessions(user_id, last_seen);"
    "CREATE INDEX api_tokens_user ON api_tokens(user_id);";

/* Version 2: the session's health document (conditions, metrics) as compact JSON, written with
 * its counters, so any node can serve /data/stream/{id}/health. */
static const char migration_2[] = "ALTER TABLE sessions ADD COLUMN health TEXT;";

static const char *const migrations[] = {
    migration_1,
    migration_2,
};

#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))

int sqlite_schema_latest(void)
{
    return MIGRATION_COUNT;
}

static int read_user_version(sqlite3 *db, int *out_version, char *err, size_t err_size)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        snprintf(err, err_size, "reading the schema version: %s", sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return -1;
    }
    *out_version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return 0;
}

/* Refuses a database written by a newer streamd: its schema may mean things this code would
 * silently corrupt. */
int sqlite_schema_check(sqlite3 *db, int *out_version, char *err, size_t err_size)
{
    if (read_user_version(db, out_version, err, err_size) != 0)
        return -1;
    if (*out_version >= 0 && *out_version <= MIGRATION_COUNT)
        return 0;
    if (*out_version < 0) {
        snprintf(err, err_size, "database schema version %d is invalid", *out_version);
        return -1;
    }
    snprintf(err, err_size,
             "database schema version %d is newer than this streamd supports (%d); "
             "upgrade streamd or use another database",
             *out_version, MIGRATION_COUNT);
    return -1;
}

static int exec_sql(sqlite3 *db, const char *sql, const char *what, char *err, size_t err_size)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    snprintf(err, err_size, "%s: %s", what, sqlite3_errmsg(db));
    return -1;
}

/* Applies migrations from version + 1 to the latest and records the new version. Runs inside
 * the caller's transaction; user_version is transactional, so a failure leaves no trace. */
static int apply_pending(sqlite3 *db, int version, char *err, size_t err_size)
{
    for (int i = version; i < MIGRATION_COUNT; i++) {
        char what[64];
        snprintf(what, sizeof what, "applying schema migration %d", i + 1);
        if (exec_sql(db, migrations[i], what, err, err_size) != 0)
            return -1;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", MIGRATION_COUNT);
    return exec_sql(db, sql, "recording the schema version", err, err_size);
}

int sqlite_schema_migrate(sqlite3 *db, char *err, size_t err_size)
{
    int version = 0;
    if (sqlite_schema_check(db, &version, err, err_size) != 0)
        return -1;
    if (version == MIGRATION_COUNT)
        return 0;
    /* IMMEDIATE takes the write lock first, so two processes opening a new file cannot both
     * migrate it; the version is read again under the lock. */
    if (exec_sql(db, "BEGIN IMMEDIATE", "starting the schema migration", err, err_size) != 0)
        return -1;
    if (sqlite_schema_check(db, &version, err, err_size) != 0 ||
        apply_pending(db, version, err, err_size) != 0 ||
        exec_sql(db, "COMMIT", "committing the schema migration", err, err_size) != 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}
