/* Private to src/store/: the table of operations a backend (store_sqlite.c, store_pg.c)
 * implements behind store.h. store.c owns the public entry points: it checks the
 * arguments, generates ids and timestamps, zeroes the outputs, then calls the backend, so a
 * backend only runs statements. Nothing outside src/store/ includes this. */
#ifndef STREAMD_STORE_STORE_BACKEND_H
#define STREAMD_STORE_STORE_BACKEND_H

#include "store/store.h"
#include "store/store_internal.h"
#include "store/store_query.h"

#include <stddef.h>
#include <stdint.h>

/* Every backend's store starts with this, so store.c can find the operations. */
struct store {
    const struct store_backend *backend;
};

/* The column a single stream is looked up by. */
typedef enum {
    STORE_STREAM_BY_ID,
    STORE_STREAM_BY_KEY,
    STORE_STREAM_BY_PLAYBACK_ID,
} store_stream_lookup_t;

/* The row a single session is looked up by. */
typedef enum {
    STORE_SESSION_BY_ID,
    STORE_SESSION_LATEST_OF_STREAM,
} store_session_lookup_t;

/* The statements every backend prepares, each in its own dialect, by this index. */
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
    STMT_SESSION_INSERT,
    STMT_SESSION_UPDATE,
    STMT_SESSION_GET,
    STMT_SESSION_LATEST,
    STMT_SESSION_CLOSE_OPEN,
    STMT_SCHEMA_VERSION,
    STMT_COUNT
} stmt_id_t;

/* Arguments are checked by store.c: no pointer is NULL unless its comment says so, and outputs
 * are zeroed. Each returns a store_status_t and logs unexpected failures. */
typedef struct store_backend {
    void (*close)(store_t *store);
    /* The database in words for logs, with no password. */
    void (*describe)(store_t *store, char *out, size_t size);
    int (*schema_version)(store_t *store, int *out_version);

    int (*user_insert)(store_t *store, const store_user_t *user);
    int (*user_get)(store_t *store, const char *user_id, store_user_t *out);
    int (*user_count)(store_t *store, int64_t *out_count);

    int (*token_insert)(store_t *store, const store_api_token_t *token);
    int (*token_find)(store_t *store, const char *key_hash, store_api_token_t *out);
    int (*token_touch)(store_t *store, const char *token_id, int64_t now_ms);
    int (*token_delete)(store_t *store, const char *user_id, const char *token_id);
    /* The user's tokens, oldest first, appended to set (freed and empty on failure). */
    int (*token_list)(store_t *store, const char *user_id, store_rows_t *set);

    int (*stream_insert)(store_t *store, const store_stream_t *stream);
    int (*stream_update)(store_t *store, const store_stream_t *stream);
    int (*stream_get)(store_t *store, store_stream_lookup_t by, const char *key,
                      store_stream_t *out);
    int (*stream_update_live)(store_t *store, const char *stream_id,
                              const store_stream_live_t *live);

    int (*session_insert)(store_t *store, const store_session_t *session);
    int (*session_update)(store_t *store, const store_session_t *session);
    int (*session_get)(store_t *store, store_session_lookup_t by, const char *key,
                       store_session_t *out);

    /* out_closed may be NULL. */
    int (*close_open_sessions)(store_t *store, int64_t *out_closed);

    /* A page of list's rows appended to set (freed and empty on failure); out_total may be
     * NULL. q is not NULL but is otherwise unchecked: the planner refuses a malformed one. */
    int (*list)(store_t *store, store_query_list_t list, const store_query_t *q, store_rows_t *set,
                int64_t *out_total);
} store_backend_t;

/* Opens the SQLite backend on url (a path or a file: URL). NULL with a message in err. */
store_t *store_sqlite_open(const char *url, char *err, size_t err_size);

/* Opens the PostgreSQL backend on a postgres:// or postgresql:// URL (libpq's). NULL with a
 * message in err. */
store_t *store_pg_open(const char *url, char *err, size_t err_size);

#endif
