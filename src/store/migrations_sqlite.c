/* The SQLite backend's side of the schema history (migrations.h): the version lives in PRAGMA
 * user_version, and pending migrations run in one IMMEDIATE transaction. */
#include "store/migrations.h"
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>

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

int sqlite_schema_check(sqlite3 *db, int *out_version, char *err, size_t err_size)
{
    if (read_user_version(db, out_version, err, err_size) != 0)
        return -1;
    return migrations_check_version(*out_version, err, err_size);
}

static int exec_sql(void *db, const char *sql, const char *what, char *err, size_t err_size)
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
    if (migrations_apply(version, STORE_QUERY_SQLITE, exec_sql, db, err, err_size) != 0)
        return -1;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", migrations_latest());
    return exec_sql(db, sql, "recording the schema version", err, err_size);
}

int sqlite_schema_migrate(sqlite3 *db, char *err, size_t err_size)
{
    int version = 0;
    if (sqlite_schema_check(db, &version, err, err_size) != 0)
        return -1;
    if (version == migrations_latest())
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
