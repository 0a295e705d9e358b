/* Private to src/store/: every statement a backend prepares, written once (dialect.h renders it
 * for SQLite or PostgreSQL) and named by stmt_id_t. Column i of a SELECT is parameter ?i+1 of
 * the INSERT and of the UPDATE (store_rows.h). Nothing outside src/store/ includes this. */
#ifndef STREAMD_STORE_STATEMENTS_H
#define STREAMD_STORE_STATEMENTS_H

#include "store/store_query.h"

typedef enum {
    STMT_USER_INSERT,
    STMT_USER_GET,
    STMT_USER_COUNT,
    STMT_TOKEN_INSERT,
    STMT_TOKEN_FIND,
    STMT_TOKEN_TOUCH,
    STMT_TOKEN_LIST,
    STMT_TOKEN_DELETE,
    STMT_STREAM_INSERT,
    STMT_STREAM_UPDATE,
    STMT_STREAM_LIVE,
    STMT_STREAM_CLOSE_OPEN,
    STMT_STREAM_GET,
    STMT_STREAM_GET_BY_KEY,
    STMT_STREAM_GET_BY_PLAYBACK_ID,
    STMT_STREAM_CLAIM,
    STMT_STREAM_RELEASE,
    STMT_SESSION_INSERT,
    STMT_SESSION_UPDATE,
    STMT_SESSION_GET,
    STMT_SESSION_LATEST,
    STMT_SESSION_CLOSE_OPEN,
    STMT_SESSION_ADOPT,
    STMT_NODE_UPSERT,
    STMT_NODE_GET,
    STMT_NODE_OF_PLAYBACK,
    STMT_NODE_OF_SESSION,
    STMT_NODE_LIST_ALIVE,
    STMT_NODE_LIST_STALE,
    STMT_NODE_MARK_DOWN,
    STMT_SIGNING_KEY_INSERT,
    STMT_SIGNING_KEY_GET,
    STMT_SIGNING_KEY_FIND,
    STMT_SIGNING_KEY_LIST,
    STMT_SIGNING_KEY_UPDATE,
    STMT_SIGNING_KEY_DELETE,
    STMT_STREAM_FLIP,
    STMT_STREAM_ADD_TOTALS,
    STMT_STREAM_IDLE,
    STMT_SESSION_MARK_WAITING,
    STMT_SESSION_END_RECORDING,
    STMT_SESSION_LIST_OPEN,
    STMT_EVENT_RAISE,
    STMT_WEBHOOK_INSERT,
    STMT_WEBHOOK_GET,
    STMT_WEBHOOK_GET_ANY,
    STMT_WEBHOOK_LIST,
    STMT_WEBHOOK_UPDATE,
    STMT_WEBHOOK_DELETE,
    STMT_WEBHOOK_STATUS,
    STMT_DELIVERY_DUE,
    STMT_DELIVERY_CLAIM,
    STMT_DELIVERY_DONE,
    STMT_DELIVERY_RELEASE,
    STMT_DELIVERY_RESEND,
    STMT_DELIVERY_DELETE_OF_WEBHOOK,
    STMT_DELIVERY_PRUNE,
    STMT_LOG_INSERT,
    STMT_LOG_LIST,
    STMT_LOG_GET,
    STMT_LOG_DELETE_OF_WEBHOOK,
    STMT_LOG_PRUNE,
    STMT_SCHEMA_VERSION,
    STMT_COUNT
} stmt_id_t;

/* The statement's name, for logs (and PostgreSQL's prepared statement name). */
const char *statement_name(stmt_id_t id);

/* The statement in dialect; the caller frees it. NULL when out of memory. */
char *statement_sql(stmt_id_t id, store_query_dialect_t dialect);

/* The parameters its callers pass (its highest placeholder). */
int statement_param_count(stmt_id_t id);

#endif
