/* The RTMP listener: binds the port, accepts connections and hands each to one of the event
 * loops (rtmp_loop.c) in turn; starts and stops the loops and the unpublish workers they share.
 *
 * Ownership: the server owns the listening socket, the loops and their shared state. An accepted
 * socket is the listener's until rtmp_loop_add takes it; the loop then owns it until it closes. */
#include "ingest/rtmp_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ingest/rtmp_loop.h"
#include "util/clock.h"
#include "util/log.h"

#define LOG_MODULE "rtmp"
/* A burst of connects (a restart of many encoders, a flood) waits in the kernel for accept: with
 * a short queue the overflow sits half-open, unseen by the limits, for seconds. The kernel caps it
 * at net.core.somaxconn. */
#define LISTEN_BACKLOG 1024
#define MAX_LOOPS 16
#define ACCEPT_BURST_MAX 64

struct rtmp_server {
    rtmp_loop_shared_t shared; /* limits, handlers, stopping, connection count, unpublish workers */
    bool shared_started;       /* the unpublish workers run */
    int listen_fd;
    int wake_pipe[2]; /* written by stop to wake the listener */
    unsigned port;
    pthread_t listener;
    rtmp_loop_t **loops;
    size_t loop_count;
    size_t next_loop; /* listener thread only: round robin */
};

static bool stopping(const rtmp_server_t *server)
{
    return atomic_load(&server->shared.stopping);
}

/* ---- listener ---- */

/* The peer as logged ("ip:port", "[v6]:port") and its address alone (the guard's key). */
static void format_peer(const struct sockaddr_storage *addr, socklen_t len, char *peer,
                        size_t peer_size, char *address, size_t address_size)
{
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (getnameinfo((const struct sockaddr *)addr, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(peer, peer_size, "?");
        snprintf(address, address_size, "?");
        return;
    }
    /* Numeric hosts always fit; a cut would only shorten a log label. */
    int written = addr->ss_family == AF_INET6 ? snprintf(peer, peer_size, "[%s]:%s", host, port)
                                              : snprintf(peer, peer_size, "%s:%s", host, port);
    if (written < 0)
        snprintf(peer, peer_size, "?");
    if (snprintf(address, address_size, "%s", host) < 0)
        snprintf(address, address_size, "?");
}

/* Admits a new connection (the guard logs and counts a refusal) and hands it to the next loop. */
static void start_connection(rtmp_server_t *server, int fd, const char *peer, const char *address)
{
    peer_guard_t *guard = server->shared.guard;
    int64_t now = clock_monotonic_ms();
    if (guard && peer_guard_enter(guard, address, "rtmp", now) != PEER_ADMITTED) {
        close(fd);
        return;
    }
    int64_t hold_ms = guard ? peer_guard_hold_ms(guard, address, now) : 0;
    rtmp_loop_t *loop = server->loops[server->next_loop++ % server->loop_count];
    if (rtmp_loop_add(loop, fd, peer, address, hold_ms) != 0) {
        if (guard)
            peer_guard_leave(guard, address);
        log_warn(LOG_MODULE, "%s: refusing connection: out of memory", peer);
        close(fd);
        return;
    }
    log_debug(LOG_MODULE, "%s: connected%s", peer, hold_ms > 0 ? " (held: wrong keys)" : "");
}

/* Returns false once the backlog is empty (the listener is non-blocking) or accept failed. */
static bool accept_one(rtmp_server_t *server)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof addr;
    int fd = accept4(server->listen_fd, (struct sockaddr *)&addr, &addr_len,
                     SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            log_warn(LOG_MODULE, "accept: %s", strerror(errno));
            struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};
            nanosleep(&pause, NULL); /* let connections close instead of spinning */
        }
        return false;
    }
    char peer[RTMP_LOOP_PEER_MAX], address[PEER_GUARD_ADDRESS_MAX];
    format_peer(&addr, addr_len, peer, sizeof peer, address, sizeof address);
    start_connection(server, fd, peer, address);
    return true;
}

static void *listener_thread(void *arg)
{
    rtmp_server_t *server = arg;
    while (!stopping(server)) {
        struct pollfd fds[2] = {{.fd = server->listen_fd, .events = POLLIN},
                                {.fd = server->wake_pipe[0], .events = POLLIN}};
        int ready = poll(fds, 2, 1000);
        /* A burst of connects is drained at once, so the excess over a limit is closed promptly;
           the bound keeps a flood from starving the stop check. */
        if (ready > 0 && (fds[0].revents & POLLIN))
            for (int i = 0; i < ACCEPT_BURST_MAX && !stopping(server) && accept_one(server); i++)
                ;
    }
    return NULL;
}

static int open_listener(const char *host, uint16_t port, unsigned *bound_port, char *err,
                         size_t err_size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%u", (unsigned)port);
    int rc = getaddrinfo(host && host[0] ? host : NULL, port_text, &hints, &list);
    if (rc != 0) {
        snprintf(err, err_size, "rtmp: cannot resolve %s: %s", host ? host : "", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    int saved_errno = 0;
    for (struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
            break;
        saved_errno = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    if (fd < 0) {
        snprintf(err, err_size, "rtmp: cannot listen on %s:%u: %s", host && host[0] ? host : "*",
                 (unsigned)port, strerror(saved_errno));
        return -1;
    }
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    *bound_port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                   : ((struct sockaddr_in *)&addr)->sin_port);
    return fd;
}

/* ---- start and stop ---- */

static size_t loop_count_for(uint32_t configured)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t count = configured > 0 ? configured : cpus > 0 ? (size_t)cpus : 1;
    return count > MAX_LOOPS ? MAX_LOOPS : count;
}

/* Stops and frees the loops (each ends its connections), then stops the unpublish workers after
 * every queued on_unpublish ran. */
static void stop_threads(rtmp_server_t *server)
{
    atomic_store(&server->shared.stopping, true);
    for (size_t i = 0; i < server->loop_count; i++)
        if (server->loops[i])
            rtmp_loop_wake(server->loops[i]);
    for (size_t i = 0; i < server->loop_count; i++) {
        rtmp_loop_free(server->loops[i]);
        server->loops[i] = NULL;
    }
    if (server->shared_started)
        rtmp_loop_shared_stop(&server->shared);
    server->shared_started = false;
}

static void server_free(rtmp_server_t *server)
{
    if (server->listen_fd >= 0)
        close(server->listen_fd);
    if (server->wake_pipe[0] >= 0) {
        close(server->wake_pipe[0]);
        close(server->wake_pipe[1]);
    }
    free(server->loops);
    free(server);
}

rtmp_server_t *rtmp_server_start(const char *host, uint16_t port, const rtmp_limits_t *limits,
                                 peer_guard_t *guard, const rtmp_publish_handlers_t *handlers,
                                 char *err, size_t err_size)
{
    rtmp_server_t *server = calloc(1, sizeof *server);
    if (!server) {
        snprintf(err, err_size, "rtmp: out of memory");
        return NULL;
    }
    rtmp_limits_t chosen;
    if (limits)
        chosen = *limits;
    else
        rtmp_limits_default(&chosen);
    server->wake_pipe[0] = server->wake_pipe[1] = -1;
    size_t loop_count = loop_count_for(chosen.io_threads);
    server->loops = calloc(loop_count, sizeof *server->loops);
    if (!server->loops) {
        snprintf(err, err_size, "rtmp: out of memory");
        server->listen_fd = -1;
        server_free(server);
        return NULL;
    }
    server->loop_count = loop_count;
    server->listen_fd = open_listener(host, port, &server->port, err, err_size);
    if (server->listen_fd < 0) {
        server_free(server);
        return NULL;
    }
    if (pipe2(server->wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, err_size, "rtmp: pipe: %s", strerror(errno));
        server_free(server);
        return NULL;
    }
    server->shared_started = rtmp_loop_shared_init(&server->shared, &chosen, guard, handlers) == 0;
    size_t started = 0;
    while (server->shared_started && started < loop_count &&
           (server->loops[started] = rtmp_loop_start(&server->shared)))
        started++;
    if (started < loop_count ||
        pthread_create(&server->listener, NULL, listener_thread, server) != 0) {
        snprintf(err, err_size, "rtmp: cannot start the server threads");
        stop_threads(server);
        server_free(server);
        return NULL;
    }
    log_info(LOG_MODULE, "listening on %s:%u (%zu event loops)", host && host[0] ? host : "*",
             server->port, loop_count);
    return server;
}

unsigned rtmp_server_port(const rtmp_server_t *server)
{
    return server->port;
}

void rtmp_server_stop(rtmp_server_t *server)
{
    if (!server)
        return;
    atomic_store(&server->shared.stopping, true);
    ssize_t ignored = write(server->wake_pipe[1], "x", 1);
    (void)ignored;
    pthread_join(server->listener, NULL);
    /* No connection is handed over now; every loop ends its connections and exits. */
    stop_threads(server);
    log_info(LOG_MODULE, "stopped");
    server_free(server);
}
