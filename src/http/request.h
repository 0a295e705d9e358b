/* One HTTP request as a handler sees it, and the replies it can give. A request lives on one
 * libmicrohttpd worker thread from dispatch to reply; handlers run there and must not block on
 * media work. This layer knows HTTP only: no resource, no store, no configuration. */
#ifndef STREAMD_HTTP_REQUEST_H
#define STREAMD_HTTP_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_BODY_BYTES (1024 * 1024)       /* larger request bodies get 413 */
#define HTTP_DRAIN_MAX_BYTES (16 * 1024 * 1024) /* of an oversized body, read before the 413 */
#define HTTP_MAX_PATH_PARAMS 4
#define HTTP_MAX_EXTRA_HEADERS 8

typedef struct http_header {
    char *name;  /* owned */
    char *value; /* owned */
} http_header_t;

typedef struct http_request {
    struct MHD_Connection *connection;
    const char *method;                       /* "GET", "POST", ... */
    const char *path;                         /* URL path without the query string */
    const char *params[HTTP_MAX_PATH_PARAMS]; /* ":name" segments of the matched route, in order */
    size_t param_count;
    bool rest_param;  /* the last parameter is a "*" tail: the rest of the path, slashes and all */
    const char *body; /* NUL-terminated request body; "" when none */
    size_t body_size;

    /* What the matched route was registered with (http_router_add). */
    const void *context;
    const void *route_data;

    /* The reply. */
    int status;
    json_t *reply_body; /* owned; NULL = empty body */
    int reply_fd;       /* a file to send instead (http_reply_file); owned; used when has_file */
    bool has_file;
    uint64_t file_offset;     /* bytes */
    uint64_t file_length;     /* bytes to send from file_offset */
    const char *content_type; /* static string for a file or text reply */
    char *reply_text;         /* owned; a text reply (http_reply_text) when not NULL */
    size_t reply_text_len;
    http_header_t headers[HTTP_MAX_EXTRA_HEADERS];
    size_t header_count;
    struct http_deferred *deferred; /* set by http_defer: the reply comes later */
    bool resumed; /* dispatched again after http_defer_dispatch_again: answer now */
} http_request_t;

/* A reply that comes later, from another thread (http_defer). */
typedef struct http_deferred http_deferred_t;

/* Answers this request later: the handler returns without a reply, and the connection waits,
 * holding no worker thread, until http_deferred_reply is called (exactly once, from any thread;
 * its caller must make sure it is, the server's stop waits for no one). NULL when out of memory:
 * then reply now. */
http_deferred_t *http_defer(http_request_t *req);

/* The reply of a deferred request (takes body; NULL = empty); the handle is not used after. */
void http_deferred_reply(http_deferred_t *deferred, int status, json_t *body);

/* As http_defer, but the handler itself answers later, on a worker thread: once
 * http_deferred_dispatch_again is called (exactly once, from any thread) the request is
 * dispatched to its route again with resumed set, and that dispatch must reply. For a reply that
 * is not JSON (a file), once what it waited for is known. */
http_deferred_t *http_defer_dispatch(http_request_t *req);
void http_deferred_dispatch_again(http_deferred_t *deferred);

/* Replies with status and body (takes ownership of body; NULL = empty). */
void http_reply(http_request_t *req, int status, json_t *body);

/* Replies with {"errors":["<message>"]}. */
void http_reply_error(http_request_t *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Replies with the file open at fd (taken: closed once sent or on failure) of size bytes,
 * honouring a single-range Range header (206, or 416 when unsatisfiable). content_type and
 * cache_control are static strings. */
void http_reply_file(http_request_t *req, int fd, uint64_t size, const char *content_type,
                     const char *cache_control);

/* Replies with text (taken; len bytes) of content_type (a static string), with cache_control
 * (static) when not NULL. */
void http_reply_text(http_request_t *req, int status, char *text, size_t len,
                     const char *content_type, const char *cache_control);

/* Adds a response header (copied). Silently ignored past HTTP_MAX_EXTRA_HEADERS. */
void http_add_header(http_request_t *req, const char *name, const char *value);

/* The decoded value of query parameter name, or NULL. Valid until the request ends. */
const char *http_query(const http_request_t *req, const char *name);

/* The value of request header name (case-insensitive), or NULL. Valid until the request ends. */
const char *http_header(const http_request_t *req, const char *name);

/* Parses the request body as JSON. Returns a new reference, or NULL after replying 400. */
json_t *http_parse_body(http_request_t *req);

/* Writes "<base_url><path>" and the request's query with parameter `replace` set to value (added
 * when absent) into out, percent-encoded: the URL of the same request with one parameter
 * changed. */
void http_request_url_with(const http_request_t *req, const char *base_url, const char *replace,
                           const char *value, char *out, size_t out_size);

/* Frees what the reply holds (body, file, headers). */
void http_request_release(http_request_t *req);

#endif
