/* Private to the SQLite backend: applying the schema history (migrations.h) at open.
 * Not part of the store interface; nothing outside src/store/ includes this. */
#ifndef STREAMD_STORE_SQLITE_INTERNAL_H
#define STREAMD_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>

/* Reads the schema version (PRAGMA user_version) of db into *out_version and refuses a database
 * whose version is newer than this code knows. Returns 0, or -1 with a message in err. */
int sqlite_schema_check(sqlite3 *db, int *out_version, char *err, size_t err_size);

/* Brings db to the latest schema: applies every pending migration, in order, in one IMMEDIATE
 * transaction (all or nothing), and refuses a database whose version is newer than this code
 * knows. Safe against another process migrating the same file at the same time. Returns 0, or -1
 * with a message in err. */
int sqlite_schema_migrate(sqlite3 *db, char *err, size_t err_size);

#endif
