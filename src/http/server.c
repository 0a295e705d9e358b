/* libmicrohttpd glue: one request state per connection request, body accumulation with a hard
 * limit, and the headers every reply carries. */
#include "http/server.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

struct http_server {
    struct MHD_Daemon *daemon;
    const http_router_t *router;
};

/* Per-request state, from the first header callback to request completion. */
typedef struct request_state {
    char *body;
    size_t body_size;
    size_t body_capacity;
    bool too_large;
    uint64_t received; /* body bytes read, kept or not */
} request_state_t;

static void add_common_headers(struct MHD_Response *response, struct MHD_Connection *connection)
{
    MHD_add_response_header(response, "Vary", "Authorization, Origin");
    const char *origin =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN);
    /* Browser clients (the dashboard, players) send the API key in Authorization, not cookies,
     * so any origin may call; echoing it keeps credentialed requests working too. */
    MHD_add_response_header(response, "Access-Control-Allow-Origin", origin ? origin : "*");
    MHD_add_response_header(response, "Access-Control-Allow-Methods",
                            "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD");
    MHD_add_response_header(response, "Access-Control-Allow-Headers",
                            "Authorization, Content-Type, Range");
    MHD_add_response_header(response, "Access-Control-Expose-Headers",
                            "Link, X-Total-Count, Content-Length, Content-Range");
    MHD_add_response_header(response, "Access-Control-Max-Age", "86400");
}

static enum MHD_Result send_reply(struct MHD_Connection *connection, http_request_t *req)
{
    struct MHD_Response *response;
    if (req->has_file) {
        /* MHD owns the descriptor from here and closes it with the response. */
        response = MHD_create_response_from_fd_at_offset64(req->file_length, req->reply_fd,
                                                           req->file_offset);
        req->has_file = false;
        if (!response)
            close(req->reply_fd);
        else
            MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
    } else if (req->reply_text) {
        response = MHD_create_response_from_buffer(req->reply_text_len, req->reply_text,
                                                   MHD_RESPMEM_MUST_FREE);
        if (response) {
            req->reply_text = NULL; /* MHD frees it with the response */
            MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
        }
    } else if (req->reply_body) {
        char *text = json_dumps(req->reply_body, JSON_COMPACT);
        if (!text) {
            static const char oom[] = "{\"errors\":[\"Internal server error: out of memory\"]}";
            req->status = 500;
            response = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom,
                                                       MHD_RESPMEM_PERSISTENT);
        } else {
            response = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        }
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json; charset=utf-8");
    } else {
        response = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    if (!response)
        return MHD_NO;
    add_common_headers(response, connection);
    for (size_t i = 0; i < req->header_count; i++)
        MHD_add_response_header(response, req->headers[i].name, req->headers[i].value);
    enum MHD_Result queued = MHD_queue_response(connection, (unsigned)req->status, response);
    MHD_destroy_response(response);
    return queued;
}

static enum MHD_Result reply_too_large(struct MHD_Connection *connection, const char *method,
                                       const char *url)
{
    http_request_t req = {.connection = connection, .method = method, .path = url};
    http_reply_error(&req, 413, "request body larger than %d bytes", HTTP_MAX_BODY_BYTES);
    enum MHD_Result result = send_reply(connection, &req);
    http_request_release(&req);
    return result;
}

/* Appends an upload chunk, or marks the request too large (the rest is read and dropped). */
static void append_body(request_state_t *state, const char *data, size_t size)
{
    if (state->too_large || size > HTTP_MAX_BODY_BYTES - state->body_size) {
        state->too_large = true;
        return;
    }
    if (state->body_size + size + 1 > state->body_capacity) {
        size_t capacity = state->body_capacity ? state->body_capacity : 4096;
        while (capacity < state->body_size + size + 1)
            capacity *= 2;
        char *grown = realloc(state->body, capacity);
        if (!grown) {
            state->too_large = true;
            return;
        }
        state->body = grown;
        state->body_capacity = capacity;
    }
    memcpy(state->body + state->body_size, data, size);
    state->body_size += size;
    state->body[state->body_size] = '\0';
}

/* The body length the request declares, or 0. */
static unsigned long long declared_length(struct MHD_Connection *connection)
{
    const char *length =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!length)
        return 0;
    char *end = NULL;
    unsigned long long declared = strtoull(length, &end, 10);
    return end != length ? declared : 0;
}

/* A client that waits for "100 Continue" sends nothing more when refused at once. */
static bool expects_continue(struct MHD_Connection *connection)
{
    const char *expect =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    return expect && strcasecmp(expect, "100-continue") == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **request_cls)
{
    (void)version;
    http_server_t *server = cls;
    request_state_t *state = *request_cls;
    if (!state) {
        state = calloc(1, sizeof *state);
        if (!state)
            return MHD_NO;
        *request_cls = state;
        /* A declared oversized body is refused, but read (up to HTTP_DRAIN_MAX_BYTES) before
         * the answer: a client still sending when the connection closed would see a broken
         * pipe instead of the 413. One that waits for 100 Continue, or declares more than is
         * worth reading, is answered at once. */
        unsigned long long declared = declared_length(connection);
        if (declared > HTTP_MAX_BODY_BYTES) {
            if (expects_continue(connection) || declared > HTTP_DRAIN_MAX_BYTES)
                return reply_too_large(connection, method, url);
            state->too_large = true;
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        state->received += *upload_data_size;
        append_body(state, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (state->too_large && state->received > HTTP_DRAIN_MAX_BYTES)
            return reply_too_large(connection, method, url);
        return MHD_YES;
    }
    if (state->too_large)
        return reply_too_large(connection, method, url);

    http_request_t req = {
        .connection = connection,
        .method = method,
        .path = url,
        .body = state->body ? state->body : "",
        .body_size = state->body_size,
        .status = 500,
    };
    http_router_dispatch(server->router, &req);
    enum MHD_Result result = send_reply(connection, &req);
    log_debug("http", "%s %s -> %d", method, url, req.status);
    http_request_release(&req);
    return result;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **request_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)connection;
    (void)code;
    request_state_t *state = *request_cls;
    if (state) {
        free(state->body);
        free(state);
        *request_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list args)
{
    (void)cls;
    char message[512];
    vsnprintf(message, sizeof message, fmt, args);
    size_t len = strlen(message);
    while (len > 0 && message[len - 1] == '\n')
        message[--len] = '\0';
    log_warn("http", "%s", message);
}

http_server_t *http_server_start(const char *host, uint16_t port, int threads,
                                 const http_router_t *router, char *err, size_t err_size)
{
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%u", (unsigned)port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *address = NULL;
    int gai = getaddrinfo(host, port_text, &hints, &address);
    if (gai != 0) {
        snprintf(err, err_size, "http: cannot resolve %s: %s", host, gai_strerror(gai));
        return NULL;
    }
    http_server_t *server = calloc(1, sizeof *server);
    if (!server) {
        freeaddrinfo(address);
        snprintf(err, err_size, "http: out of memory");
        return NULL;
    }
    server->router = router;
    if (threads <= 0)
        threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads <= 0)
        threads = 2;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (address->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    server->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, server, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, address->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, server, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096, MHD_OPTION_END);
    freeaddrinfo(address);
    if (!server->daemon) {
        snprintf(err, err_size, "http: cannot listen on %s:%u (address in use or not permitted)",
                 host, (unsigned)port);
        free(server);
        return NULL;
    }
    return server;
}

unsigned http_server_port(const http_server_t *server)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void http_server_stop(http_server_t *server)
{
    if (!server)
        return;
    MHD_stop_daemon(server->daemon);
    free(server);
}
