/* Private to src/store/: the one schema history every backend applies. Migration N (1-based)
 * takes the schema from version N-1 to N. Migrations are append-only: never edit one that has
 * shipped, add the next instead. The text is written once, with the few types that differ
 * between dialects as tokens ({bool}, {int}, {real}, {false}, {json}, {rowid}); migrations_sql
 * renders it for a dialect. How a backend records its version (SQLite's user_version, a table in
 * PostgreSQL) is the backend's. Nothing outside src/store/ includes this. */
#ifndef STREAMD_STORE_MIGRATIONS_H
#define STREAMD_STORE_MIGRATIONS_H

#include "store/store_query.h"

/* The schema version this code writes: the number of migrations it knows. */
int migrations_latest(void);

/* Migration number (1 .. migrations_latest()) in dialect, as one string of ';'-separated
 * statements; the caller frees it. NULL when number is out of range or out of memory. */
char *migrations_sql(int number, store_query_dialect_t dialect);

#endif
