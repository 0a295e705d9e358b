/* Unit tests for the shared schema history: both dialects render every migration with no token
 * left, the SQLite text builds the schema the store reads, and the PostgreSQL text differs only in
 * its types and literals. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store/migrations.h"

static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

Test(migrations, every_migration_renders_in_both_dialects_without_tokens)
{
    cr_assert_geq(migrations_latest(), 2);
    for (int i = 1; i <= migrations_latest(); i++) {
        char *lite = migrations_sql(i, STORE_QUERY_SQLITE);
        char *pg = migrations_sql(i, STORE_QUERY_POSTGRES);
        cr_assert_not_null(lite);
        cr_assert_not_null(pg);
        const char *tokens[] = {"{bool}", "{int}", "{real}", "{false}", "{json}", "{rowid}"};
        for (size_t t = 0; t < sizeof tokens / sizeof tokens[0]; t++) {
            cr_assert_null(strstr(lite, tokens[t]), "migration %d: %s left", i, tokens[t]);
            cr_assert_null(strstr(pg, tokens[t]), "migration %d: %s left", i, tokens[t]);
        }
        cr_assert_eq(count_of(lite, ";"), count_of(pg, ";"), "migration %d", i);
        free(lite);
        free(pg);
    }
}

Test(migrations, dialects_differ_in_types_and_literals_only)
{
    char *lite = migrations_sql(1, STORE_QUERY_SQLITE);
    char *pg = migrations_sql(1, STORE_QUERY_POSTGRES);
    cr_assert_not_null(strstr(lite, "is_active INTEGER NOT NULL DEFAULT 0,"));
    cr_assert_not_null(strstr(pg, "is_active BOOLEAN NOT NULL DEFAULT FALSE,"));
    cr_assert_not_null(strstr(lite, "created_at INTEGER NOT NULL"));
    cr_assert_not_null(strstr(pg, "created_at BIGINT NOT NULL"));
    cr_assert_not_null(strstr(pg, "ingest_rate DOUBLE PRECISION NOT NULL DEFAULT 0,"));
    cr_assert_not_null(strstr(pg, "is_healthy BOOLEAN,"));
    cr_assert_not_null(strstr(pg, "CREATE TABLE sessions (rowid BIGSERIAL,id TEXT PRIMARY KEY,"));
    cr_assert_not_null(strstr(lite, "CREATE TABLE sessions (id TEXT PRIMARY KEY,"));
    cr_assert_null(strstr(pg, "INTEGER"));
    cr_assert_null(strstr(lite, "BOOLEAN"));
    free(lite);
    free(pg);
}

Test(migrations, out_of_range_numbers_and_dialects_are_refused)
{
    cr_assert_null(migrations_sql(0, STORE_QUERY_SQLITE));
    cr_assert_null(migrations_sql(-1, STORE_QUERY_POSTGRES));
    cr_assert_null(migrations_sql(migrations_latest() + 1, STORE_QUERY_SQLITE));
    cr_assert_null(migrations_sql(1, (store_query_dialect_t)7));
}

Test(migrations, the_sqlite_text_builds_the_tables_in_order)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    for (int i = 1; i <= migrations_latest(); i++) {
        char *sql = migrations_sql(i, STORE_QUERY_SQLITE);
        char *error = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &error);
        cr_assert_eq(rc, SQLITE_OK, "migration %d: %s", i, error ? error : "");
        free(sql);
    }
    cr_assert_eq(sqlite3_exec(db,
                              "INSERT INTO users (id, project_id, name, created_at) "
                              "VALUES ('u', 'p', 'n', 1)",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT admin, suspended FROM users", -1, &stmt, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(stmt, 0), 0);
    cr_assert_eq(sqlite3_column_int(stmt, 1), 0);
    sqlite3_finalize(stmt);
    cr_assert_eq(sqlite3_exec(db, "SELECT health FROM sessions", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}
