/* Private to the SQLite backend: how a record maps onto a row (sqlite_rows.c). The column lists
 * every statement shares, binding values and whole records to a statement's parameters, and
 * reading a row into a record. Nothing outside src/store/ includes this. The functions touch only
 * the statement and record they are given, so any thread may call them on a statement it holds.
 * Records read are owned by the caller (store.h's *_clear); text bound is borrowed. */
#ifndef STREAMD_STORE_SQLITE_ROWS_H
#define STREAMD_STORE_SQLITE_ROWS_H

#include "store/store.h"
#include "store/store_internal.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

/* Column lists are shared by SELECT and INSERT so a row reader and a row binder agree on indexes:
 * column i of a SELECT is parameter i + 1 of the INSERT and of the UPDATE (which uses ?NNN to
 * skip the immutable columns). */
#define SQLITE_ROWS_USER_COLUMNS "id, project_id, name, email, admin, suspended, created_at"
#define SQLITE_ROWS_TOKEN_COLUMNS "id, user_id, project_id, name, key_hash, created_at, last_used"
#define SQLITE_ROWS_COUNTER_COLUMNS                                                                \
    "source_segments, transcoded_segments, source_segments_duration, "                             \
    "transcoded_segments_duration, source_bytes, transcoded_bytes, ingest_rate, outgoing_rate"
#define SQLITE_ROWS_STREAM_COLUMNS                                                                 \
    "id, user_id, project_id, stream_key, playback_id, name, created_by_token_name, created_at, "  \
    "last_seen, last_terminated_at, is_active, record, suspended, deleted, is_healthy, "           \
    "issues, " SQLITE_ROWS_COUNTER_COLUMNS                                                         \
    ", profiles, user_tags, creator_id, pull, playback_policy, recording_spec, "                   \
    "multistream"
#define SQLITE_ROWS_SESSION_COLUMNS                                                                \
    "id, parent_id, user_id, project_id, playback_id, name, created_at, last_seen, ended_at, "     \
    "is_active, record, deleted, is_healthy, issues, "                                             \
    "recording_status, " SQLITE_ROWS_COUNTER_COLUMNS ", profiles, recording_spec, health"

/* A binder records the first failure so a record's dozens of binds need one check. Text is bound
 * SQLITE_STATIC: every statement is reset and cleared before the caller's strings can go away. */
typedef struct sqlite_rows_binder {
    sqlite3_stmt *stmt;
    int rc; /* SQLITE_OK, or the first failure (later binds are skipped) */
} sqlite_rows_binder_t;

/* Binds text (borrowed) to parameter index (1-based); NULL binds SQL NULL. */
void sqlite_rows_bind_text(sqlite_rows_binder_t *b, int index, const char *text);
/* Binds an integer to parameter index. */
void sqlite_rows_bind_int64(sqlite_rows_binder_t *b, int index, int64_t value);
/* Binds a real to parameter index. */
void sqlite_rows_bind_double(sqlite_rows_binder_t *b, int index, double value);
/* Binds a boolean as the integer 0 or 1. */
void sqlite_rows_bind_bool(sqlite_rows_binder_t *b, int index, bool value);
/* Binds a tristate (is_healthy): -1 as SQL NULL (unknown), else 0 or 1. */
void sqlite_rows_bind_tristate(sqlite_rows_binder_t *b, int index, int value);

/* Bind every column of a record (a const store_*_t *) to the parameters of its INSERT: column i
 * to parameter i + 1, so an UPDATE picks the ones it writes with ?NNN. */
void sqlite_rows_bind_user(sqlite_rows_binder_t *b, const void *record);
void sqlite_rows_bind_token(sqlite_rows_binder_t *b, const void *record);
void sqlite_rows_bind_stream(sqlite_rows_binder_t *b, const void *record);
void sqlite_rows_bind_session(sqlite_rows_binder_t *b, const void *record);

/* A record type as the generic lookup and list code sees it: the shared part (size, clear) and
 * how to read one from a row. */
typedef struct sqlite_rows_type {
    const store_record_type_t *record;
    /* Reads the current row of stmt (the type's column list, in order) into a zeroed record.
     * A NULL or missing text never fails: ids become "", optional strings NULL, names "".
     * Returns 0, or -1 when out of memory, after clearing what it filled. */
    int (*read)(sqlite3_stmt *stmt, void *record);
} sqlite_rows_type_t;

/* The four record types of store.h, read from USER_, TOKEN_, STREAM_ and
 * SQLITE_ROWS_SESSION_COLUMNS. */
extern const sqlite_rows_type_t sqlite_rows_user;
extern const sqlite_rows_type_t sqlite_rows_token;
extern const sqlite_rows_type_t sqlite_rows_stream;
extern const sqlite_rows_type_t sqlite_rows_session;

#endif
