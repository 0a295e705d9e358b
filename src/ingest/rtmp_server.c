/* RTMP listener and connection threads: sockets, timeouts and the handshake; the protocol after
 * the handshake lives in rtmp_conn.c.
 *
 * Ownership: the server owns a list of connection slots (guarded by lock). A slot's socket is
 * closed only after its thread was joined, so rtmp_server_stop may shutdown() any listed socket to
 * wake its thread. Finished threads mark their slot done; the listener joins and frees them. */
#include "ingest/rtmp_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#include "ingest/rtmp_handshake.h"
#include "util/clock.h"
#include "util/log.h"

#define LOG_MODULE "rtmp"
#define RECV_BUFFER_SIZE (16 * 1024) /* bytes; the chunk reader copies out as bytes arrive */
#define CARRY_MAX 64                 /* bytes a wait may leave unconsumed: part of a chunk header */
#define RECV_TIMEOUT_MS 200          /* a connection thread wakes at least this often */
#define SEND_TIMEOUT_MS 1000
#define SEND_DEADLINE_MS 10000 /* a reply that cannot be sent for this long ends the connection */
#define LINGER_MS 1000         /* after a final status, wait this long for the peer to close */
#define WAKE_BATCH_MS 20       /* media a publishing connection waits for, see wake_batch_t */
#define LOWAT_PERIOD_MS 1000   /* how often the batch size follows the stream's bitrate */
#define LISTEN_BACKLOG 128
#define PEER_ADDR_MAX 64

typedef struct conn_slot conn_slot_t;

struct rtmp_server {
    rtmp_limits_t limits;
    rtmp_publish_handlers_t handlers;
    int listen_fd;
    int wake_pipe[2]; /* written by stop to wake the listener */
    unsigned port;
    pthread_t listener;
    atomic_bool stopping;
    pthread_mutex_t lock; /* guards slots and slot_count */
    conn_slot_t *slots;
    size_t slot_count;
};

struct conn_slot {
    conn_slot_t *next;
    rtmp_server_t *server;
    pthread_t thread;
    int fd;
    char peer[PEER_ADDR_MAX];
    atomic_bool done;
};

/* The connection thread's I/O state. The receive buffer is held only while bytes are handled:
 * a connection waiting for data keeps what it has not consumed in carry, so hundreds of
 * publishers waiting between media bursts hold no buffer. */
typedef struct conn_io {
    conn_slot_t *slot;
    uint8_t *buf; /* RECV_BUFFER_SIZE bytes, or NULL while waiting (then bytes are in carry) */
    size_t len;   /* bytes received and not consumed */
    uint8_t carry[CARRY_MAX];
} conn_io_t;

static bool stopping(const rtmp_server_t *server)
{
    return atomic_load(&server->stopping);
}

/* Makes the listener loop run now (to reap a finished connection, or to stop). */
static void wake_listener(rtmp_server_t *server)
{
    ssize_t ignored = write(server->wake_pipe[1], "x", 1); /* a full pipe is awake enough */
    (void)ignored;
}

static void drain_wake_pipe(rtmp_server_t *server)
{
    char buf[64];
    ssize_t n;
    do
        n = read(server->wake_pipe[0], buf, sizeof buf);
    while (n > 0);
}

/* ---- socket I/O on the connection thread ---- */

static void set_timeout(int fd, int option, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

static void configure_socket(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_timeout(fd, SO_RCVTIMEO, RECV_TIMEOUT_MS);
    set_timeout(fd, SO_SNDTIMEO, SEND_TIMEOUT_MS);
}

/* rtmp_conn_send_fn: writes everything or fails. */
static int send_all(void *opaque, const uint8_t *buf, size_t len)
{
    conn_io_t *io = opaque;
    int64_t deadline = clock_monotonic_ms() + SEND_DEADLINE_MS;
    while (len > 0) {
        ssize_t n = send(io->slot->fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        bool retry = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
        if (!retry || stopping(io->slot->server) || clock_monotonic_ms() > deadline)
            return -1;
    }
    return 0;
}

/* Gives the receive buffer back while waiting, unless it holds more than carry can. */
static void release_buffer(conn_io_t *io)
{
    if (!io->buf || io->len > sizeof io->carry)
        return;
    memcpy(io->carry, io->buf, io->len);
    free(io->buf);
    io->buf = NULL;
}

/* Takes a receive buffer, with the carried bytes at its start. 0, or -1 when out of memory. */
static int take_buffer(conn_io_t *io)
{
    if (io->buf)
        return 0;
    io->buf = malloc(RECV_BUFFER_SIZE);
    if (!io->buf)
        return -1;
    memcpy(io->buf, io->carry, io->len);
    return 0;
}

/* One recv into the free part of the buffer: > 0 bytes, 0 = timeout (try again), -1 = closed or
 * failed (reason set). Without a buffer, waits for data (poll honours SO_RCVLOWAT as recv does)
 * and only then takes one. */
static ssize_t receive(conn_io_t *io, const char **reason)
{
    if (!io->buf) {
        struct pollfd ready = {.fd = io->slot->fd, .events = POLLIN};
        int n = poll(&ready, 1, RECV_TIMEOUT_MS);
        if (n == 0 || (n < 0 && errno == EINTR))
            return 0;
        if (n < 0) {
            *reason = "receive error";
            return -1;
        }
        if (take_buffer(io) < 0) {
            *reason = "out of memory";
            return -1;
        }
    }
    if (io->len == RECV_BUFFER_SIZE) {
        *reason = "receive buffer full"; /* cannot happen: feed leaves < 1 chunk header */
        return -1;
    }
    ssize_t n = recv(io->slot->fd, io->buf + io->len, RECV_BUFFER_SIZE - io->len, 0);
    if (n > 0) {
        io->len += (size_t)n;
        return n;
    }
    if (n == 0) {
        *reason = "closed by the peer";
        return -1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    *reason = "receive error";
    return -1;
}

static void consume(conn_io_t *io, size_t n)
{
    memmove(io->buf, io->buf + n, io->len - n);
    io->len -= n;
}

/* Receives until want bytes are buffered. 0, or -1 with reason set. */
static int receive_at_least(conn_io_t *io, size_t want, int64_t deadline, const char **reason)
{
    while (io->len < want) {
        if (stopping(io->slot->server)) {
            *reason = "server stopping";
            return -1;
        }
        if (clock_monotonic_ms() > deadline) {
            *reason = "handshake timeout";
            return -1;
        }
        if (receive(io, reason) < 0)
            return -1;
    }
    return 0;
}

static int handshake(conn_io_t *io, const char **reason)
{
    const rtmp_server_t *server = io->slot->server;
    int64_t deadline = clock_monotonic_ms() + server->limits.handshake_timeout_ms;
    if (receive_at_least(io, 1, deadline, reason) < 0)
        return -1;
    if (io->buf[0] != RTMP_HANDSHAKE_VERSION) {
        *reason = "not an RTMP client, or RTMPE (C0 is not 3)";
        return -1; /* fail fast: HTTP probes and scanners land here */
    }
    if (receive_at_least(io, RTMP_HANDSHAKE_C0C1_SIZE, deadline, reason) < 0)
        return -1;
    uint8_t answer[RTMP_HANDSHAKE_S0S1S2_SIZE];
    rtmp_handshake_kind_t kind;
    int rc = rtmp_handshake_respond(io->buf, io->len, (uint32_t)clock_monotonic_ms(), answer,
                                    sizeof answer, &kind);
    if (rc < 0) {
        *reason = rtmp_handshake_strerror(rc);
        return -1;
    }
    if (send_all(io, answer, sizeof answer) < 0) {
        *reason = "send failed during the handshake";
        return -1;
    }
    consume(io, RTMP_HANDSHAKE_C0C1_SIZE);
    if (receive_at_least(io, RTMP_HANDSHAKE_PACKET_SIZE, deadline, reason) < 0)
        return -1;
    consume(io, RTMP_HANDSHAKE_PACKET_SIZE); /* C2: not checked, encoders differ */
    log_debug(LOG_MODULE, "%s: %s handshake done", io->slot->peer,
              kind == RTMP_HANDSHAKE_DIGEST ? "digest" : "simple");
    return 0;
}

/* After a final status message: stop sending, give the peer a moment to read it and close, so
 * that closing with unread input does not reset the connection before the status arrives. */
static void linger_close(conn_io_t *io)
{
    shutdown(io->slot->fd, SHUT_WR);
    int64_t deadline = clock_monotonic_ms() + LINGER_MS;
    const char *ignored;
    while (clock_monotonic_ms() < deadline && !stopping(io->slot->server)) {
        io->len = 0;
        if (receive(io, &ignored) < 0)
            return;
    }
}

/* Feeds buffered bytes and runs periodic work; true when the connection asked to close. */
static bool process(conn_io_t *io, rtmp_conn_t *conn, int64_t now)
{
    if (io->buf && io->len > 0) { /* carried bytes were fed already: they wait for more */
        size_t used = 0;
        int rc = rtmp_conn_feed(conn, io->buf, io->len, &used, now);
        consume(io, used);
        if (rc == RTMP_CONN_CLOSE)
            return true;
    }
    return rtmp_conn_tick(conn, now) == RTMP_CONN_CLOSE;
}

/* While publishing, a connection thread wakes when about WAKE_BATCH_MS of media has arrived
 * (SO_RCVLOWAT) rather than at every TCP segment: encoders send each chunk on its own, and waking
 * per chunk costs more CPU than handling the media. A message that needs fewer bytes to complete
 * lowers the mark to exactly those. The price is latency with senders that use Nagle's algorithm
 * (ffmpeg does by default): data left unread delays our ACK, which holds back their next
 * segment, so media arrives in bursts a few tens of ms apart (bench/RESULTS.md). Outside a
 * publish the mark is 1: commands are answered at once. */
typedef struct wake_batch {
    int64_t period_start_ms;
    uint64_t period_bytes; /* received since period_start_ms */
    size_t batch;          /* bytes: WAKE_BATCH_MS at the last period's rate, or 1 */
    int lowat;             /* bytes, as set on the socket */
} wake_batch_t;

static void update_wake_batch(conn_io_t *io, wake_batch_t *w, const rtmp_conn_t *conn, int64_t now)
{
    int64_t elapsed = now - w->period_start_ms;
    if (elapsed >= LOWAT_PERIOD_MS) {
        uint64_t at_rate = w->period_bytes * WAKE_BATCH_MS / (uint64_t)elapsed;
        uint64_t most = RECV_BUFFER_SIZE / 4;
        w->batch = !rtmp_conn_is_publishing(conn) || at_rate < 1 ? 1
                   : at_rate > most                              ? (size_t)most
                                                                 : (size_t)at_rate;
        w->period_start_ms = now;
        w->period_bytes = 0;
    }
    size_t missing = rtmp_conn_bytes_missing(conn);
    int want = (int)(missing > 0 && missing < w->batch ? missing : w->batch);
    if (want != w->lowat &&
        setsockopt(io->slot->fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want) == 0)
        w->lowat = want;
}

/* Receives and feeds bytes to conn until it ends; returns the reason. */
static const char *serve(conn_io_t *io, rtmp_conn_t *conn, bool *wants_linger)
{
    const rtmp_server_t *server = io->slot->server;
    int64_t last_data_ms = clock_monotonic_ms();
    wake_batch_t wake = {.period_start_ms = last_data_ms, .batch = 1, .lowat = 1};
    const char *reason = NULL;
    for (;;) {
        if (stopping(server))
            return "server stopping";
        if (process(io, conn, clock_monotonic_ms())) {
            if (stopping(server)) /* a send that failed because stop shut the socket down */
                return "server stopping";
            *wants_linger = true;
            return rtmp_conn_close_reason(conn);
        }
        update_wake_batch(io, &wake, conn, clock_monotonic_ms());
        release_buffer(io);
        ssize_t n = receive(io, &reason);
        if (n < 0)
            return stopping(server) ? "server stopping" : reason; /* stop shuts sockets down */
        int64_t now = clock_monotonic_ms();
        wake.period_bytes += (uint64_t)n;
        if (n > 0)
            last_data_ms = now;
        else if (now - last_data_ms >= (int64_t)server->limits.idle_timeout_ms)
            return "idle timeout";
    }
}

static void run_connection(conn_io_t *io)
{
    conn_slot_t *slot = io->slot;
    rtmp_server_t *server = slot->server;
    const char *reason = NULL;
    if (handshake(io, &reason) < 0) {
        log_info(LOG_MODULE, "%s: handshake failed: %s", slot->peer, reason);
        return;
    }
    rtmp_conn_t *conn = rtmp_conn_new(&server->limits, &server->handlers, slot->peer, send_all, io);
    if (!conn) {
        log_warn(LOG_MODULE, "%s: out of memory", slot->peer);
        return;
    }
    bool wants_linger = false;
    reason = serve(io, conn, &wants_linger);
    rtmp_conn_end_publish(conn, reason);
    log_info(LOG_MODULE, "%s: connection closed: %s", slot->peer, reason);
    if (wants_linger)
        linger_close(io);
    rtmp_conn_free(conn);
}

static void *connection_thread(void *arg)
{
    conn_slot_t *slot = arg;
    configure_socket(slot->fd);
    conn_io_t io = {.slot = slot, .buf = malloc(RECV_BUFFER_SIZE)};
    if (io.buf)
        run_connection(&io);
    else
        log_warn(LOG_MODULE, "%s: out of memory", slot->peer);
    free(io.buf);
    /* The peer sees the close now; the descriptor itself is closed when the slot is reaped. */
    shutdown(slot->fd, SHUT_RDWR);
    atomic_store(&slot->done, true);
    wake_listener(slot->server);
    return NULL;
}

/* ---- listener ---- */

static void format_peer(const struct sockaddr_storage *addr, socklen_t len, char *out, size_t size)
{
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (getnameinfo((const struct sockaddr *)addr, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, size, "?");
        return;
    }
    /* Numeric hosts always fit; a cut would only shorten a log label. */
    int written = addr->ss_family == AF_INET6 ? snprintf(out, size, "[%s]:%s", host, port)
                                              : snprintf(out, size, "%s:%s", host, port);
    if (written < 0)
        snprintf(out, size, "?");
}

static void free_slot(conn_slot_t *slot)
{
    pthread_join(slot->thread, NULL);
    close(slot->fd);
    free(slot);
}

/* Joins and frees every finished connection. */
static void reap_finished(rtmp_server_t *server)
{
    conn_slot_t *finished = NULL;
    pthread_mutex_lock(&server->lock);
    for (conn_slot_t **link = &server->slots; *link;) {
        conn_slot_t *slot = *link;
        if (!atomic_load(&slot->done)) {
            link = &slot->next;
            continue;
        }
        *link = slot->next;
        slot->next = finished;
        finished = slot;
        server->slot_count--;
    }
    pthread_mutex_unlock(&server->lock);
    while (finished) {
        conn_slot_t *next = finished->next;
        free_slot(finished);
        finished = next;
    }
}

static void start_connection(rtmp_server_t *server, int fd, const char *peer)
{
    conn_slot_t *slot = calloc(1, sizeof *slot);
    if (!slot) {
        close(fd);
        return;
    }
    slot->server = server;
    slot->fd = fd;
    snprintf(slot->peer, sizeof slot->peer, "%s", peer);
    atomic_init(&slot->done, false);
    pthread_mutex_lock(&server->lock);
    bool full = server->slot_count >= server->limits.max_connections;
    if (!full && pthread_create(&slot->thread, NULL, connection_thread, slot) == 0) {
        slot->next = server->slots;
        server->slots = slot;
        server->slot_count++;
        pthread_mutex_unlock(&server->lock);
        log_debug(LOG_MODULE, "%s: connected", peer);
        return;
    }
    pthread_mutex_unlock(&server->lock);
    log_warn(LOG_MODULE, "%s: refusing connection: %s", peer,
             full ? "too many connections" : "cannot start a thread");
    close(fd);
    free(slot);
}

static void accept_one(rtmp_server_t *server)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof addr;
    int fd = accept4(server->listen_fd, (struct sockaddr *)&addr, &addr_len, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            log_warn(LOG_MODULE, "accept: %s", strerror(errno));
            struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};
            nanosleep(&pause, NULL); /* let connections close instead of spinning */
        }
        return;
    }
    char peer[PEER_ADDR_MAX];
    format_peer(&addr, addr_len, peer, sizeof peer);
    start_connection(server, fd, peer);
}

static void *listener_thread(void *arg)
{
    rtmp_server_t *server = arg;
    while (!stopping(server)) {
        struct pollfd fds[2] = {{.fd = server->listen_fd, .events = POLLIN},
                                {.fd = server->wake_pipe[0], .events = POLLIN}};
        int ready = poll(fds, 2, 1000);
        if (ready > 0 && (fds[1].revents & POLLIN))
            drain_wake_pipe(server);
        reap_finished(server);
        if (ready > 0 && (fds[0].revents & POLLIN) && !stopping(server))
            accept_one(server);
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
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
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

rtmp_server_t *rtmp_server_start(const char *host, uint16_t port, const rtmp_limits_t *limits,
                                 const rtmp_publish_handlers_t *handlers, char *err,
                                 size_t err_size)
{
    rtmp_server_t *server = calloc(1, sizeof *server);
    if (!server) {
        snprintf(err, err_size, "rtmp: out of memory");
        return NULL;
    }
    if (limits)
        server->limits = *limits;
    else
        rtmp_limits_default(&server->limits);
    server->handlers = *handlers;
    server->wake_pipe[0] = server->wake_pipe[1] = -1;
    atomic_init(&server->stopping, false);
    pthread_mutex_init(&server->lock, NULL);
    server->listen_fd = open_listener(host, port, &server->port, err, err_size);
    if (server->listen_fd < 0)
        goto fail;
    if (pipe2(server->wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, err_size, "rtmp: pipe: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&server->listener, NULL, listener_thread, server) != 0) {
        snprintf(err, err_size, "rtmp: cannot start the listener thread");
        goto fail;
    }
    log_info(LOG_MODULE, "listening on %s:%u", host && host[0] ? host : "*", server->port);
    return server;
fail:
    if (server->listen_fd >= 0)
        close(server->listen_fd);
    if (server->wake_pipe[0] >= 0) {
        close(server->wake_pipe[0]);
        close(server->wake_pipe[1]);
    }
    pthread_mutex_destroy(&server->lock);
    free(server);
    return NULL;
}

unsigned rtmp_server_port(const rtmp_server_t *server)
{
    return server->port;
}

void rtmp_server_stop(rtmp_server_t *server)
{
    if (!server)
        return;
    atomic_store(&server->stopping, true);
    wake_listener(server);
    pthread_join(server->listener, NULL);
    close(server->listen_fd);
    /* No new slots can appear now; wake every connection thread and join it. */
    pthread_mutex_lock(&server->lock);
    conn_slot_t *slots = server->slots;
    server->slots = NULL;
    server->slot_count = 0;
    for (conn_slot_t *slot = slots; slot; slot = slot->next)
        shutdown(slot->fd, SHUT_RDWR);
    pthread_mutex_unlock(&server->lock);
    while (slots) {
        conn_slot_t *next = slots->next;
        free_slot(slots);
        slots = next;
    }
    close(server->wake_pipe[0]);
    close(server->wake_pipe[1]);
    pthread_mutex_destroy(&server->lock);
    log_info(LOG_MODULE, "stopped");
    free(server);
}
