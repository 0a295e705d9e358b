/* libmicrohttpd glue: one state per connection (its admission and header deadline), one per
 * request, body accumulation with a hard limit, and the headers every reply carries. */
#include "http/server.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/ticker.h"

#define DEADLINE_SWEEP_MS 500
/* libmicrohttpd's own cap, above any --max-connections the guard applies: it only keeps the
 * library's tables bounded when no limit is set. */
#define MHD_CONNECTIONS_MAX 65536u

/* A connection, from its start to its close. While it waits for a request header it is on one of
 * the server's waiting lists, each in deadline order (every entry of a list has the same
 * timeout). */
typedef struct http_conn {
    struct http_conn *prev, *next;
    int fd;
    bool admitted; /* counted in the guard: leaves it at the close */
    int waiting;   /* the list it is on: WAIT_NONE, WAIT_FIRST or WAIT_NEXT */
    int64_t deadline_ms;
    char address[PEER_GUARD_ADDRESS_MAX];
} http_conn_t;

enum { WAIT_NONE = -1, WAIT_FIRST, WAIT_NEXT, WAIT_LISTS };

typedef struct waiting_list {
    http_conn_t *head, *tail;
} waiting_list_t;

struct http_server {
    struct MHD_Daemon *daemon;
    const http_router_t *router;
    peer_guard_t *guard;
    ticker_t *deadlines;
    pthread_mutex_t lock; /* guards the waiting lists and every connection's place on them */
    waiting_list_t waiting[WAIT_LISTS];
};

/* A deferred reply (request.h), shared by the request's state and the thread that will reply:
 * whichever lets go last frees it. */
struct http_deferred {
    pthread_mutex_t lock;
    struct MHD_Connection *connection;
    int refs;
    bool suspended; /* MHD holds the connection until it is resumed */
    bool again;     /* dispatched again once replied, instead of sending status and body */
    bool replied;   /* status and body are set (or, when again, the handler may answer now) */
    bool sent;
    int status;
    json_t *body;
};

/* Per-request state, from the first header callback to request completion. */
typedef struct request_state {
    http_deferred_t *deferred; /* the request answers later */
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

/* ---- deferred replies ---- */

http_deferred_t *http_defer(http_request_t *req)
{
    http_deferred_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    pthread_mutex_init(&d->lock, NULL);
    d->connection = req->connection;
    d->refs = 2; /* the request's state and the replier */
    req->deferred = d;
    return d;
}

http_deferred_t *http_defer_dispatch(http_request_t *req)
{
    http_deferred_t *d = http_defer(req);
    if (d)
        d->again = true;
    return d;
}

static void deferred_release(http_deferred_t *d)
{
    pthread_mutex_lock(&d->lock);
    bool last = --d->refs == 0;
    pthread_mutex_unlock(&d->lock);
    if (!last)
        return;
    json_decref(d->body);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

void http_deferred_reply(http_deferred_t *d, int status, json_t *body)
{
    pthread_mutex_lock(&d->lock);
    d->status = status;
    d->body = body;
    d->replied = true;
    if (d->suspended)
        MHD_resume_connection(d->connection);
    pthread_mutex_unlock(&d->lock);
    deferred_release(d);
}

void http_deferred_dispatch_again(http_deferred_t *d)
{
    http_deferred_reply(d, 0, NULL);
}

/* True when d's handler is to be dispatched again now. */
static bool dispatch_now(http_deferred_t *d)
{
    pthread_mutex_lock(&d->lock);
    bool now = d->again && d->replied;
    pthread_mutex_unlock(&d->lock);
    return now;
}

/* For a deferral that dispatches again: suspends the connection until it is due, under the lock
 * its trigger takes (so the trigger cannot slip in between), or returns true when it is due
 * already. */
static bool suspend_until_due(struct MHD_Connection *connection, http_deferred_t *d)
{
    pthread_mutex_lock(&d->lock);
    bool due = d->replied;
    if (!due && !d->suspended) {
        MHD_suspend_connection(connection);
        d->suspended = true;
    }
    pthread_mutex_unlock(&d->lock);
    return due;
}

/* Sends a deferred request's reply if it came; else suspends the connection until it does. */
static enum MHD_Result send_or_suspend(struct MHD_Connection *connection, http_deferred_t *d)
{
    pthread_mutex_lock(&d->lock);
    if (!d->replied) {
        if (!d->suspended)
            MHD_suspend_connection(connection);
        d->suspended = true;
        pthread_mutex_unlock(&d->lock);
        return MHD_YES;
    }
    http_request_t reply = {.status = d->status, .reply_body = d->body};
    d->body = NULL;
    d->sent = true;
    pthread_mutex_unlock(&d->lock);
    enum MHD_Result result = send_reply(connection, &reply);
    http_request_release(&reply);
    return result;
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

/* ---- connections and their header deadlines ---- */

static void unlink_waiting(http_server_t *server, http_conn_t *conn)
{
    if (conn->waiting == WAIT_NONE)
        return;
    waiting_list_t *list = &server->waiting[conn->waiting];
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        list->head = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    else
        list->tail = conn->prev;
    conn->prev = conn->next = NULL;
    conn->waiting = WAIT_NONE;
}

/* Puts conn (not waiting) at the end of a waiting list. */
static void append_waiting(http_server_t *server, http_conn_t *conn, int which, int64_t deadline)
{
    waiting_list_t *list = &server->waiting[which];
    conn->waiting = which;
    conn->deadline_ms = deadline;
    conn->prev = list->tail;
    conn->next = NULL;
    if (list->tail)
        list->tail->next = conn;
    else
        list->head = conn;
    list->tail = conn;
}

/* Sets where conn waits (WAIT_NONE: it is being served). */
static void set_waiting(http_server_t *server, http_conn_t *conn, int which, int64_t timeout_ms)
{
    pthread_mutex_lock(&server->lock);
    unlink_waiting(server, conn);
    if (which != WAIT_NONE)
        append_waiting(server, conn, which, clock_monotonic_ms() + timeout_ms);
    pthread_mutex_unlock(&server->lock);
}

static http_conn_t *conn_of(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/* ticker_fn_t: closes the connections whose header is late. Their sockets are shut down, not
 * closed: libmicrohttpd sees the end of the stream and closes them itself. The lock keeps a
 * connection from closing (on_connection) while its socket is shut down here. */
static void sweep_deadlines(void *opaque)
{
    http_server_t *server = opaque;
    int64_t now = clock_monotonic_ms();
    unsigned late[WAIT_LISTS] = {0};
    pthread_mutex_lock(&server->lock);
    for (int which = 0; which < WAIT_LISTS; which++) {
        http_conn_t *conn;
        while ((conn = server->waiting[which].head) && conn->deadline_ms <= now) {
            unlink_waiting(server, conn);
            shutdown(conn->fd, SHUT_RDWR);
            late[which]++;
        }
    }
    pthread_mutex_unlock(&server->lock);
    /* A kept-alive connection that sends no further request is no stranger's doing. */
    if (server->guard && late[WAIT_FIRST] > 0)
        peer_guard_count(server->guard, PEER_HEADER_TIMEOUT, late[WAIT_FIRST]);
    if (late[WAIT_FIRST] + late[WAIT_NEXT] > 0)
        log_debug("http", "connections closed: %u without a first request header in time, %u idle",
                  late[WAIT_FIRST], late[WAIT_NEXT]);
}

static void client_address(struct MHD_Connection *connection, char *out, size_t size)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *addr = info ? info->client_addr : NULL;
    socklen_t len = addr && addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                        : sizeof(struct sockaddr_in);
    if (!addr || getnameinfo(addr, len, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(out, size, "?");
}

/* A connection opened: admitted by its address, or refused (its socket shut down at once). */
static void on_connection_started(http_server_t *server, struct MHD_Connection *connection,
                                  void **socket_context)
{
    const union MHD_ConnectionInfo *fd_info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    http_conn_t *conn = calloc(1, sizeof *conn);
    if (!conn || !fd_info) {
        free(conn);
        if (fd_info)
            shutdown(fd_info->connect_fd, SHUT_RDWR);
        return;
    }
    conn->fd = fd_info->connect_fd;
    conn->waiting = WAIT_NONE;
    client_address(connection, conn->address, sizeof conn->address);
    *socket_context = conn;
    if (server->guard && peer_guard_enter(server->guard, conn->address, "http",
                                          clock_monotonic_ms()) != PEER_ADMITTED) {
        shutdown(conn->fd, SHUT_RDWR);
        return;
    }
    conn->admitted = server->guard != NULL;
    set_waiting(server, conn, WAIT_FIRST, HTTP_HEADER_TIMEOUT_MS);
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    http_server_t *server = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        on_connection_started(server, connection, socket_context);
        return;
    }
    http_conn_t *conn = *socket_context;
    if (!conn)
        return;
    set_waiting(server, conn, WAIT_NONE, 0);
    if (conn->admitted)
        peer_guard_leave(server->guard, conn->address);
    free(conn);
    *socket_context = NULL;
}

/* ---- requests ---- */

static http_request_t request_of(struct MHD_Connection *connection, const char *method,
                                 const char *url, const request_state_t *state, bool resumed)
{
    return (http_request_t){
        .connection = connection,
        .method = method,
        .path = url,
        .body = state->body ? state->body : "",
        .body_size = state->body_size,
        .status = 500,
        .resumed = resumed,
    };
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **request_cls)
{
    (void)version;
    http_server_t *server = cls;
    request_state_t *state = *request_cls;
    if (!state) {
        http_conn_t *conn = conn_of(connection);
        if (conn)
            set_waiting(server, conn, WAIT_NONE, 0); /* the header is in */
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
    bool resumed = false;
    if (state->deferred && dispatch_now(state->deferred)) {
        deferred_release(state->deferred); /* its handler answers now */
        state->deferred = NULL;
        resumed = true;
    }
    if (state->deferred) /* resumed: the reply has come */
        return state->deferred->sent ? MHD_YES : send_or_suspend(connection, state->deferred);
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

    http_request_t req = request_of(connection, method, url, state, resumed);
    http_router_dispatch(server->router, &req);
    if (req.deferred && req.deferred->again && suspend_until_due(connection, req.deferred)) {
        /* what it waited for came already */
        deferred_release(req.deferred);
        http_request_release(&req);
        req = request_of(connection, method, url, state, true);
        http_router_dispatch(server->router, &req);
    }
    if (req.deferred) {
        state->deferred = req.deferred;
        log_debug("http", "%s %s -> answered later", method, url);
        bool suspended = req.deferred->again; /* by suspend_until_due */
        http_request_release(&req);
        return suspended ? MHD_YES : send_or_suspend(connection, state->deferred);
    }
    enum MHD_Result result = send_reply(connection, &req);
    log_debug("http", "%s %s -> %d", method, url, req.status);
    http_request_release(&req);
    return result;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **request_cls,
                         enum MHD_RequestTerminationCode code)
{
    http_server_t *server = cls;
    http_conn_t *conn = conn_of(connection);
    if (conn && code == MHD_REQUEST_TERMINATED_COMPLETED_OK) /* kept alive for the next one */
        set_waiting(server, conn, WAIT_NEXT, HTTP_KEEPALIVE_TIMEOUT_MS);
    request_state_t *state = *request_cls;
    if (state) {
        if (state->deferred)
            deferred_release(state->deferred);
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

static void server_free(http_server_t *server)
{
    ticker_stop(server->deadlines);
    pthread_mutex_destroy(&server->lock);
    free(server);
}

http_server_t *http_server_start(const char *host, uint16_t port, int threads,
                                 const http_router_t *router, peer_guard_t *guard, char *err,
                                 size_t err_size)
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
    server->guard = guard;
    pthread_mutex_init(&server->lock, NULL);
    server->deadlines =
        ticker_start("http-deadlines", DEADLINE_SWEEP_MS, sweep_deadlines, server, err, err_size);
    if (!server->deadlines) {
        freeaddrinfo(address);
        server_free(server);
        return NULL;
    }
    if (threads <= 0)
        threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads <= 0)
        threads = 2;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (address->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    server->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, server, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, address->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, server, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, server, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MHD_CONNECTIONS_MAX, MHD_OPTION_END);
    freeaddrinfo(address);
    if (!server->daemon) {
        snprintf(err, err_size, "http: cannot listen on %s:%u (address in use or not permitted)",
                 host, (unsigned)port);
        server_free(server);
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
    server_free(server);
}
