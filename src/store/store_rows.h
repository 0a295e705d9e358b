/* Private to src/store/: how a record maps onto a row, for every backend (store_rows.c). The
 * column lists every statement shares, writing values and whole records to a statement's
 * parameters, and reading a row into a record. A backend supplies the accessors
 * (store_params_ops_t, store_row_ops_t) for its statements; the mapping itself is written once.
 * Nothing outside src/store/ includes this. The functions touch only the statement and record they
 * are given, so any thread may call them on a statement it holds. Records read are owned by the
 * caller (store.h's *_clear); text written is borrowed. */
#ifndef STREAMD_STORE_STORE_ROWS_H
#define STREAMD_STORE_STORE_ROWS_H

#include "store/store.h"
#include "store/store_internal.h"
#include "store/store_query.h"
#include "store/store_webhooks.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Column lists are shared by SELECT and INSERT so a row reader and a row binder agree on indexes:
 * column i of a SELECT is parameter i + 1 of the INSERT and of the UPDATE (which numbers its
 * parameters to skip the immutable columns). */
#define STORE_ROWS_USER_COLUMNS "id, project_id, name, email, admin, suspended, created_at"
#define STORE_ROWS_TOKEN_COLUMNS "id, user_id, project_id, name, key_hash, created_at, last_used"
#define STORE_ROWS_COUNTER_COLUMNS                                                                 \
    "source_segments, transcoded_segments, source_segments_duration, "                             \
    "transcoded_segments_duration, source_bytes, transcoded_bytes, ingest_rate, outgoing_rate"
#define STORE_ROWS_STREAM_COLUMNS                                                                  \
    "id, user_id, project_id, stream_key, playback_id, name, created_by_token_name, created_at, "  \
    "last_seen, last_terminated_at, is_active, record, suspended, deleted, is_healthy, "           \
    "issues, " STORE_ROWS_COUNTER_COLUMNS                                                          \
    ", profiles, user_tags, creator_id, pull, playback_policy, recording_spec, "                   \
    "multistream"
#define STORE_ROWS_SESSION_COLUMNS                                                                 \
    "id, parent_id, user_id, project_id, playback_id, name, created_at, last_seen, ended_at, "     \
    "is_active, record, deleted, is_healthy, issues, "                                             \
    "recording_status, " STORE_ROWS_COUNTER_COLUMNS ", profiles, recording_spec, health, node_id"
#define STORE_ROWS_SIGNING_KEY_COLUMNS                                                             \
    "id, user_id, project_id, name, public_key, disabled, created_at, last_seen"
#define STORE_ROWS_WEBHOOK_COLUMNS                                                                 \
    "id, user_id, project_id, stream_id, name, url, events, shared_secret, created_at, "           \
    "last_triggered_at, last_failure"
#define STORE_ROWS_DELIVERY_COLUMNS                                                                \
    "id, event_id, webhook_id, event, stream_id, session_id, created_at, attempts, retries, "      \
    "state, next_attempt_at"
#define STORE_ROWS_WEBHOOK_LOG_COLUMNS                                                             \
    "id, webhook_id, event_id, event, stream_id, session_id, created_at, duration, success, "      \
    "request, response"
#define STORE_ROWS_NODE_COLUMNS "id, http_url, rtmp_url, started_at, heartbeat_at, down"

/* A backend's statement parameters (1-based indexes). A backend records its first failure itself,
 * so a record's dozens of writes need one check. */
typedef struct store_params_ops {
    void (*text)(void *target, int index, const char *text); /* borrowed; NULL = SQL NULL */
    void (*int64)(void *target, int index, int64_t value);
    void (*real)(void *target, int index, double value);
    void (*boolean)(void *target, int index, int value); /* 0, 1, or -1 = SQL NULL */
} store_params_ops_t;

typedef struct store_params {
    const store_params_ops_t *ops;
    void *target; /* the backend's statement being bound */
} store_params_t;

void store_params_text(store_params_t *p, int index, const char *text);
void store_params_int64(store_params_t *p, int index, int64_t value);
void store_params_double(store_params_t *p, int index, double value);
void store_params_bool(store_params_t *p, int index, bool value);
/* A tristate (is_healthy): -1 as SQL NULL (unknown), else false or true. */
void store_params_tristate(store_params_t *p, int index, int value);

/* Write every column of a record (a const store_*_t *) to the parameters of its INSERT: column i
 * to parameter i + 1, so an UPDATE picks the ones it writes by number. */
void store_params_user(store_params_t *p, const void *record);
void store_params_token(store_params_t *p, const void *record);
void store_params_stream(store_params_t *p, const void *record);
void store_params_session(store_params_t *p, const void *record);
void store_params_node(store_params_t *p, const void *record);
void store_params_signing_key(store_params_t *p, const void *record);
void store_params_webhook(store_params_t *p, const void *record);     /* store_webhook_t */
void store_params_webhook_log(store_params_t *p, const void *record); /* store_webhook_log_t */

/* The arguments of a statement keyed by one or two ids and a number (a time, a flag): the
 * binders below name which parameters they fill. */
typedef struct store_args {
    const char *id;
    const char *other_id;
    int64_t number;
} store_args_t;
void store_params_number(store_params_t *p, const void *record);         /* ?1 number */
void store_params_id_number(store_params_t *p, const void *record);      /* ?1 id, ?2 number */
void store_params_id_pair(store_params_t *p, const void *record);        /* ?1 id, ?2 other_id */
void store_params_id_pair_number(store_params_t *p, const void *record); /* ... ?3 number */

/* The live update of a stream (store_stream_update_live): parameter 1 is the id, then is_active,
 * last_seen, is_healthy, issues, ingest_rate, outgoing_rate and the six counters added, in the
 * order of store_counters_t. */
typedef struct store_stream_live_args {
    const char *stream_id;
    const store_stream_live_t *live;
} store_stream_live_args_t;
void store_params_stream_live(store_params_t *p, const void *record);

/* The first count values of a planned list (store_query.h), value i to parameter i + 1. */
void store_params_plan(store_params_t *p, const store_query_plan_t *plan, int count);

/* A backend's current result row (0-based columns). */
typedef struct store_row_ops {
    /* NUL-terminated text of the column and its length; NULL for SQL NULL. Valid until the row
     * moves on. */
    const char *(*text)(void *source, int col, size_t *len);
    int64_t (*int64)(void *source, int col);
    double (*real)(void *source, int col);
    int (*boolean)(void *source, int col); /* 0, 1, or -1 for SQL NULL */
} store_row_ops_t;

typedef struct store_row {
    const store_row_ops_t *ops;
    void *source; /* the backend's result at its current row */
} store_row_t;

/* A record type as the generic lookup and list code sees it: the shared part (size, clear) and
 * how to read one from a row. */
typedef struct store_row_type {
    const store_record_type_t *record;
    /* Reads row (the type's column list, in order) into a zeroed record. A NULL text never fails:
     * ids become "", optional strings NULL, names "". Returns 0, or -1 when out of memory, after
     * clearing what it filled. */
    int (*read)(const store_row_t *row, void *record);
} store_row_type_t;

/* The record types of store.h, read from STORE_ROWS_USER_, TOKEN_, STREAM_, SESSION_ and
 * NODE_COLUMNS. */
extern const store_row_type_t store_row_user;
extern const store_row_type_t store_row_token;
extern const store_row_type_t store_row_stream;
extern const store_row_type_t store_row_session;
extern const store_row_type_t store_row_node;
extern const store_row_type_t store_row_signing_key;
/* STORE_ROWS_WEBHOOK_, DELIVERY_ and WEBHOOK_LOG_COLUMNS (store_webhooks.h's records). */
extern const store_row_type_t store_row_webhook;
extern const store_row_type_t store_row_delivery;
extern const store_row_type_t store_row_webhook_log;
/* suspended, deleted, last_terminated_at: a store_stream_controls_t. */
extern const store_row_type_t store_row_controls;

#endif
