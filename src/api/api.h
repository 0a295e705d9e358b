/* The HTTP API plane: what a request handler sees and the replies it can give.
 * A request lives on one libmicrohttpd worker thread from dispatch to reply; handlers run there
 * and must not block on media work. */
#ifndef STREAMD_API_API_H
#define STREAMD_API_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "store/store.h"

#define API_MAX_BODY_BYTES (1024 * 1024) /* larger request bodies get 413 */
#define API_MAX_PATH_PARAMS 4
#define API_MAX_EXTRA_HEADERS 8

/* Events the API raises for other planes; every pointer may be NULL (nothing listens yet). */
typedef struct api_hooks {
    void *opaque;
    /* The stream was deleted, terminated or suspended: its live broadcast must end now. */
    void (*stream_stop)(void *opaque, const char *stream_id);
} api_hooks_t;

/* What handlers need from the server; owned by the server, read-only for the API. */
typedef struct api_deps {
    store_t *store;
    const config_t *config;
    api_hooks_t hooks;
} api_deps_t;

typedef struct api_header {
    char *name;  /* owned */
    char *value; /* owned */
} api_header_t;

typedef struct api_request {
    const api_deps_t *deps;
    struct MHD_Connection *connection;
    const char *method;                      /* "GET", "POST", ... */
    const char *path;                        /* URL path without the query string */
    const char *params[API_MAX_PATH_PARAMS]; /* ":name" segments of the matched route, in order */
    size_t param_count;
    bool rest_param;  /* the last parameter is a "*" tail: the rest of the path, slashes and all */
    const char *body; /* NUL-terminated request body; "" when none */
    size_t body_size;

    /* Set by authentication on protected routes. */
    bool authenticated;
    store_user_t user;
    store_api_token_t token;

    /* The reply. */
    int status;
    json_t *reply_body; /* owned; NULL = empty body */
    int reply_fd;       /* a file to send instead (api_reply_file); owned; used when has_file */
    bool has_file;
    uint64_t file_offset;     /* bytes */
    uint64_t file_length;     /* bytes to send from file_offset */
    const char *content_type; /* static string for a file reply */
    api_header_t headers[API_MAX_EXTRA_HEADERS];
    size_t header_count;
} api_request_t;

/* Replies with status and body (takes ownership of body; NULL = empty). */
void api_reply(api_request_t *req, int status, json_t *body);

/* Replies with {"errors":["<message>"]}. */
void api_reply_error(api_request_t *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Replies with the file open at fd (taken: closed once sent or on failure) of size bytes,
 * honouring a single-range Range header (206, or 416 when unsatisfiable). content_type and
 * cache_control are static strings. */
void api_reply_file(api_request_t *req, int fd, uint64_t size, const char *content_type,
                    const char *cache_control);

/* Adds a response header (copied). Silently ignored past API_MAX_EXTRA_HEADERS. */
void api_add_header(api_request_t *req, const char *name, const char *value);

/* The decoded value of query parameter name, or NULL. Valid until the request ends. */
const char *api_query(const api_request_t *req, const char *name);

/* Parses the request body as JSON. Returns a new reference, or NULL after replying 400. */
json_t *api_parse_body(api_request_t *req);

/* Replies 200 with one page of a list: items (taken), a Link rel=next header when the page is
 * full (with_link), and X-Total-Count when the `count` query flag is set (total >= 0). */
void api_reply_page(api_request_t *req, json_t *items, int64_t limit, int64_t offset, int64_t total,
                    bool with_link);

/* True when the caller may see a row owned by user_id in project_id. */
bool api_owns(const api_request_t *req, const char *user_id, const char *project_id);

/* Replies for a store failure that is not the caller's fault (logged by the store): 500. */
void api_reply_store_error(api_request_t *req, int rc);

/* True when the caller is an admin. */
bool api_is_admin(const api_request_t *req);

/* Writes "<public-url><path>?<query with cursor replaced by skip<offset>>" into out: the URL of
 * the next page, for the Link header. */
void api_next_page_url(const api_request_t *req, int64_t next_offset, char *out, size_t out_size);

#endif
