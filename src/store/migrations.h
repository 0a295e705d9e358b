/* Private to src/store/: the one schema history every backend applies. Migration N (1-based)
 * takes the schema from version N-1 to N. Migrations are append-only: never edit one that has
 * shipped, add the next instead. The text is written once, with the few types that differ
 * between dialects as dialect.h tokens; migrations_sql
 * renders it for a dialect. How a backend records its version (SQLite's user_version, a table in
 * PostgreSQL) is the backend's. Nothing outside src/store/ includes this. */
#ifndef STREAMD_STORE_MIGRATIONS_H
#define STREAMD_STORE_MIGRATIONS_H

#include "store/store_query.h"

#include <stddef.h>

/* The schema version this code writes: the number of migrations it knows. */
int migrations_latest(void);

/* Refuses a schema version this code cannot use: negative, or newer than migrations_latest()
 * (a newer streamd wrote it, and its schema may mean things this code would corrupt). 0, or -1
 * with the reason in err. */
int migrations_check_version(int version, char *err, size_t err_size);

/* Migration number (1 .. migrations_latest()) in dialect, as one string of ';'-separated
 * statements; the caller frees it. NULL when number is out of range or out of memory. */
char *migrations_sql(int number, store_query_dialect_t dialect);

/* Runs sql (';'-separated statements) on a backend's connection db; 0, or -1 with a message
 * "what: why" in err. */
typedef int (*migrations_exec_t)(void *db, const char *sql, const char *what, char *err,
                                 size_t err_size);

/* Applies migrations version + 1 .. latest in dialect, in order, through exec. Runs inside the
 * caller's transaction; recording the new version is the caller's. 0, or -1 with err set. */
int migrations_apply(int version, store_query_dialect_t dialect, migrations_exec_t exec, void *db,
                     char *err, size_t err_size);

#endif
