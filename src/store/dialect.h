/* Private to src/store/: SQL written once for both dialects (the schema history, every prepared
 * statement) and rendered for one. The text uses SQLite's numbered placeholders ?1, ?2, ... and
 * a few tokens where the dialects differ; nothing else in it does:
 *   {bool} {int} {real} {json}  column types (INTEGER / BOOLEAN, INTEGER / BIGINT, REAL / DOUBLE
 *                               PRECISION, TEXT / JSON: PostgreSQL's json keeps the text as
 *                               written and refuses a malformed value)
 *   {false}                     a column default (0 / FALSE)
 *   {rowid}                     insertion order (SQLite's implicit rowid, a BIGSERIAL column)
 *   {max}                       the larger of two values (MAX / GREATEST)
 *   {schema_version}            reads the schema version (PRAGMA user_version / the
 *                               streamd_schema table)
 * PostgreSQL gets $1, $2, ... for ?1, ?2, .... The list planner (store_query.c) builds its own
 * text per dialect. Pure functions; any thread. Nothing outside src/store/ includes this. */
#ifndef STREAMD_STORE_DIALECT_H
#define STREAMD_STORE_DIALECT_H

#include "store/store_query.h"

/* text rendered for dialect; the caller frees it. NULL when out of memory or dialect is unknown. */
char *dialect_render(const char *text, store_query_dialect_t dialect);

/* The highest placeholder ?N in text (0 when none): the parameters its callers pass. */
int dialect_param_count(const char *text);

#endif
