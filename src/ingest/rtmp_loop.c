/* The RTMP event loops: each serves its connections on one thread with epoll and non-blocking
 * sockets, through the handshake, rtmp_conn (the protocol after it), replies that wait for a slow
 * peer, timeouts and the close; the caller's on_unpublish goes to the unpublish workers.
 *
 * Ownership: the listener hands an accepted socket to one loop (through the loop's incoming
 * list); from then on only that loop's thread touches the connection, until it closes the socket
 * and frees it. Ending a publish can take seconds (the transcoder finishes its queue), so
 * on_unpublish runs on an unpublish worker, never on a loop: the other connections of that loop
 * keep flowing. UNPUBLISH_THREADS workers run ends side by side, so one slow end holds up only the
 * ends queued behind the busy workers; a fixed few rather than one per end keeps a burst of ends
 * from costing a stack each. */
#include "ingest/rtmp_loop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest/rtmp_handshake.h"
#include "util/clock.h"
#include "util/log.h"

#define LOG_MODULE "rtmp"
#define RECV_BUFFER_SIZE (16 * 1024) /* bytes, one per loop; the chunk reader copies out */
#define CARRY_MAX 64                 /* bytes a read may leave unconsumed: part of a chunk header */
#define SWEEP_MS 100                 /* timers and rtmp_conn_tick run at least this often */
#define OUTPUT_MAX (256 * 1024)      /* bytes of replies waiting for a peer that does not read */
#define SEND_BUFFER_SIZE (32 * 1024) /* SO_SNDBUF: replies are a few hundred bytes each */
#define SEND_DEADLINE_MS 10000 /* replies that cannot be sent for this long end the connection */
#define LINGER_MS 1000         /* after a final status, wait this long for the peer to close */
#define WAKE_BATCH_MS 20       /* media a publishing connection waits for, see wake_batch_t */
#define WAKE_BATCH_MAX 4096    /* bytes, the most a wake waits for */
#define LOWAT_PERIOD_MS 1000   /* how often the batch size follows the stream's bitrate */
#define EVENTS_PER_WAIT 64
#define UNPUBLISH_THREADS 4
/* Ends waiting for an unpublish worker. Far above any burst of ends (a waiting end holds a few
 * bytes; the broadcast it ends exists either way); past it an end runs on its loop, late rather
 * than never, as when memory runs out. */
#define UNPUBLISH_QUEUE_MAX 65536

typedef struct conn conn_t;

struct rtmp_loop {
    rtmp_loop_shared_t *shared;
    pthread_t thread;
    int epoll_fd;
    int wake_fd;          /* eventfd: new connections, or stop */
    pthread_mutex_t lock; /* guards incoming */
    conn_t *incoming;     /* accepted, not yet taken over by the loop */
    conn_t *conns;        /* the loop's connections (loop thread only) */
    uint8_t *buf;         /* RECV_BUFFER_SIZE bytes, shared by the loop's connections */
    int64_t last_sweep_ms;
};

typedef enum conn_phase {
    PHASE_C0C1,      /* waiting for C0+C1 */
    PHASE_C2,        /* S0+S1+S2 sent, skipping C2 */
    PHASE_STREAMING, /* rtmp_conn runs */
    PHASE_LINGER,    /* after a final status: output drains, then input is read until close */
} conn_phase_t;

/* While publishing, a connection wakes when about WAKE_BATCH_MS of media has arrived
 * (SO_RCVLOWAT, which epoll honours) rather than at every TCP segment: encoders send each chunk
 * on its own, and waking per chunk costs more CPU than handling the media. A message that needs
 * fewer bytes to complete lowers the mark to exactly those. The price is latency with senders
 * that use Nagle's algorithm (ffmpeg does by default): data left unread delays our ACK, which
 * holds back their next segment, so media arrives in bursts a few tens of ms apart
 * (bench/RESULTS.md). Outside a publish the mark is 1: commands are answered at once. */
typedef struct wake_batch {
    int64_t period_start_ms;
    uint64_t period_bytes; /* received since period_start_ms */
    size_t batch;          /* bytes: WAKE_BATCH_MS at the last period's rate, or 1 */
    int lowat;             /* bytes, as set on the socket */
} wake_batch_t;

struct conn {
    conn_t *prev, *next;
    rtmp_loop_t *loop;
    int fd;
    uint64_t unpublish_ticket; /* of this connection's last on_unpublish, 0 = none */
    char peer[RTMP_LOOP_PEER_MAX];
    char address[PEER_GUARD_ADDRESS_MAX]; /* the peer's, as admitted into the guard */
    conn_phase_t phase;
    int64_t deadline_ms; /* hold, handshake or linger end */
    bool held;           /* not read from until deadline_ms: its address is slowed */
    uint8_t *c0c1;       /* RTMP_HANDSHAKE_C0C1_SIZE bytes while PHASE_C0C1, else NULL */
    size_t skip;         /* bytes of C0+C1 received, then bytes of C2 still to skip */
    rtmp_conn_t *rtmp;   /* from PHASE_STREAMING on */
    void *publish_ctx;   /* the caller's, while a publish is on */
    uint8_t carry[CARRY_MAX];
    size_t carry_len; /* bytes of an unfinished chunk header, fed again with what follows */
    int64_t streaming_since_ms; /* the handshake's end */
    wake_batch_t wake;
    uint8_t *output; /* replies the socket did not take yet */
    size_t output_len, output_cap;
    int64_t output_since_ms; /* when output last started to wait */
    bool want_output;        /* EPOLLOUT is on */
    bool shutdown_after_output;
};

static bool stopping(const rtmp_loop_t *loop)
{
    return atomic_load(&loop->shared->stopping);
}

/* ---- the unpublish workers ---- */

/* An on_unpublish waiting for, or running on, an unpublish worker. */
typedef struct unpublish_job {
    void *publish_ctx;
    char reason[]; /* NUL-terminated */
} unpublish_job_t;

/* work_queue_run_fn of the unpublish workers. */
static void run_unpublish(void *opaque, void *item)
{
    const rtmp_loop_shared_t *shared = opaque;
    unpublish_job_t *job = item;
    shared->handlers.on_unpublish(job->publish_ctx, job->reason);
    free(job);
}

/* Queues on_unpublish. Without memory for the job, or with the queue full, it runs here, late
 * rather than never. */
static void queue_unpublish(conn_t *c, void *publish_ctx, const char *reason)
{
    const rtmp_loop_shared_t *shared = c->loop->shared;
    const char *text = reason ? reason : "ended";
    size_t size = strlen(text) + 1;
    unpublish_job_t *job = malloc(sizeof *job + size);
    if (job) {
        job->publish_ctx = publish_ctx;
        memcpy(job->reason, text, size);
        if (work_queue_submit(shared->unpublishes, job, &c->unpublish_ticket) == 0)
            return;
        free(job);
    }
    shared->handlers.on_unpublish(publish_ctx, text);
}

int rtmp_loop_shared_init(rtmp_loop_shared_t *shared, const rtmp_limits_t *limits,
                          peer_guard_t *guard, const rtmp_publish_handlers_t *handlers)
{
    shared->limits = *limits;
    shared->handlers = *handlers;
    shared->guard = guard;
    atomic_init(&shared->stopping, false);
    shared->unpublishes =
        work_queue_new(UNPUBLISH_THREADS, UNPUBLISH_QUEUE_MAX, run_unpublish, shared);
    return shared->unpublishes ? 0 : -1;
}

void rtmp_loop_shared_stop(rtmp_loop_shared_t *shared)
{
    work_queue_free(shared->unpublishes);
    shared->unpublishes = NULL;
}
/* ---- the handlers rtmp_conn calls: the caller's, with on_unpublish queued ---- */

static int conn_on_publish(void *opaque, const char *app, const char *stream_key,
                           const char *peer_addr, void **publish_ctx, char *reason,
                           size_t reason_size)
{
    conn_t *c = opaque;
    const rtmp_loop_shared_t *shared = c->loop->shared;
    /* A publish again on this connection comes after its previous one has ended, as it would
     * if the handlers ran one after the other. Rare, and short for a source-only stream. */
    work_queue_wait(shared->unpublishes, c->unpublish_ticket);
    void *ctx = NULL;
    int rc = shared->handlers.on_publish(shared->handlers.opaque, app, stream_key, peer_addr, &ctx,
                                         reason, reason_size);
    if (rc == 0) {
        c->publish_ctx = ctx;
        *publish_ctx = c;
    }
    return rc;
}

static void conn_on_metadata(void *publish_ctx, const amf0_value_t *metadata)
{
    conn_t *c = publish_ctx;
    if (c->loop->shared->handlers.on_metadata)
        c->loop->shared->handlers.on_metadata(c->publish_ctx, metadata);
}

static int conn_on_media(void *publish_ctx, const flv_media_t *media)
{
    conn_t *c = publish_ctx;
    return c->loop->shared->handlers.on_media(c->publish_ctx, media);
}

static void conn_on_bytes(void *publish_ctx, uint64_t bytes)
{
    conn_t *c = publish_ctx;
    if (c->loop->shared->handlers.on_bytes)
        c->loop->shared->handlers.on_bytes(c->publish_ctx, bytes);
}

static bool conn_should_stop(void *publish_ctx)
{
    conn_t *c = publish_ctx;
    return c->loop->shared->handlers.should_stop &&
           c->loop->shared->handlers.should_stop(c->publish_ctx);
}

static void conn_on_unpublish(void *publish_ctx, const char *reason)
{
    conn_t *c = publish_ctx;
    void *ctx = c->publish_ctx;
    c->publish_ctx = NULL;
    if (c->loop->shared->handlers.on_unpublish)
        queue_unpublish(c, ctx, reason);
}

/* ---- output ---- */

static void set_output_interest(conn_t *c, bool want)
{
    if (c->want_output == want)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(c->loop->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->want_output = want;
}

/* Sends what the socket takes now: the bytes sent, or -1 when the connection is broken. */
static ssize_t send_some(int fd, const uint8_t *buf, size_t len)
{
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        else if (!(n < 0 && errno == EINTR))
            return -1;
    }
    return (ssize_t)sent;
}

/* Sends queued replies as far as the socket takes them; 0, or -1 when the connection is broken. */
static int flush_output(conn_t *c)
{
    ssize_t sent = send_some(c->fd, c->output, c->output_len);
    if (sent < 0)
        return -1;
    memmove(c->output, c->output + sent, c->output_len - (size_t)sent);
    c->output_len -= (size_t)sent;
    if (c->output_len == 0) {
        free(c->output);
        c->output = NULL;
        c->output_cap = 0;
        if (c->shutdown_after_output)
            shutdown(c->fd, SHUT_WR);
    }
    set_output_interest(c, c->output_len > 0);
    return 0;
}

/* rtmp_conn_send_fn: sends, and keeps what the socket does not take for EPOLLOUT. */
static int send_or_queue(void *opaque, const uint8_t *buf, size_t len)
{
    conn_t *c = opaque;
    if (c->output_len == 0) { /* nothing waits: the bytes go out in order */
        ssize_t sent = send_some(c->fd, buf, len);
        if (sent < 0)
            return -1;
        buf += sent;
        len -= (size_t)sent;
        if (len == 0)
            return 0;
        c->output_since_ms = clock_monotonic_ms();
    }
    if (len > OUTPUT_MAX - c->output_len)
        return -1; /* the peer has not read our replies for a long while */
    if (c->output_len + len > c->output_cap) {
        /* Doubling: a peer that reads nothing would otherwise cost a copy of everything queued
         * per reply, tens of thousands of times before OUTPUT_MAX, on the loop of others. */
        size_t cap =
            c->output_cap * 2 > c->output_len + len ? c->output_cap * 2 : c->output_len + len;
        if (cap > OUTPUT_MAX)
            cap = OUTPUT_MAX;
        uint8_t *grown = realloc(c->output, cap);
        if (!grown)
            return -1;
        c->output = grown;
        c->output_cap = cap;
    }
    memcpy(c->output + c->output_len, buf, len);
    c->output_len += len;
    set_output_interest(c, true);
    return 0;
}

/* ---- connection lifecycle (loop thread) ---- */

static void conn_destroy(conn_t *c)
{
    rtmp_loop_t *loop = c->loop;
    epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    rtmp_conn_free(c->rtmp); /* no publish is left: conn_end ended it */
    if (c->prev)
        c->prev->next = c->next;
    else
        loop->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    close(c->fd);
    free(c->c0c1);
    free(c->output);
    if (loop->shared->guard)
        peer_guard_leave(loop->shared->guard, c->address);
    free(c);
}

/* Ends the connection: its publish (on_unpublish is queued), then, after a final status, a
 * linger so that the peer reads that status before the close resets the connection. */
static void conn_end(conn_t *c, const char *reason, bool linger)
{
    if (c->phase == PHASE_LINGER) { /* ended already, and logged */
        conn_destroy(c);
        return;
    }
    if (c->rtmp)
        rtmp_conn_end_publish(c->rtmp, reason);
    if (c->phase == PHASE_STREAMING)
        log_info(LOG_MODULE, "%s: connection closed: %s", c->peer, reason);
    else /* strangers' connections come by the thousand: they are counted (peer_guard) */
        log_debug(LOG_MODULE, "%s: handshake failed: %s", c->peer, reason);
    if (!linger || c->phase != PHASE_STREAMING || stopping(c->loop)) {
        conn_destroy(c);
        return;
    }
    c->phase = PHASE_LINGER;
    c->deadline_ms = clock_monotonic_ms() + LINGER_MS;
    int one = 1;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
    c->shutdown_after_output = true;
    if (c->output_len == 0)
        shutdown(c->fd, SHUT_WR);
}

static void update_wake_batch(conn_t *c, int64_t now)
{
    wake_batch_t *w = &c->wake;
    int64_t elapsed = now - w->period_start_ms;
    if (elapsed >= LOWAT_PERIOD_MS) {
        uint64_t at_rate = w->period_bytes * WAKE_BATCH_MS / (uint64_t)elapsed;
        w->batch = !rtmp_conn_is_publishing(c->rtmp) || at_rate < 1 ? 1
                   : at_rate > WAKE_BATCH_MAX                       ? WAKE_BATCH_MAX
                                                                    : (size_t)at_rate;
        w->period_start_ms = now;
        w->period_bytes = 0;
    }
    size_t missing = rtmp_conn_bytes_missing(c->rtmp);
    int want = (int)(missing > 0 && missing < w->batch ? missing : w->batch);
    if (want != w->lowat && setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want) == 0)
        w->lowat = want;
}

/* C0+C1 complete: answer with S0+S1+S2, or set *reason. */
static void answer_handshake(conn_t *c, const char **reason)
{
    uint8_t answer[RTMP_HANDSHAKE_S0S1S2_SIZE];
    rtmp_handshake_kind_t kind;
    int rc = rtmp_handshake_respond(c->c0c1, RTMP_HANDSHAKE_C0C1_SIZE,
                                    (uint32_t)clock_monotonic_ms(), answer, sizeof answer, &kind);
    free(c->c0c1);
    c->c0c1 = NULL;
    if (rc < 0) {
        *reason = rtmp_handshake_strerror(rc);
        return;
    }
    if (send_or_queue(c, answer, sizeof answer) < 0) {
        *reason = "send failed during the handshake";
        return;
    }
    log_debug(LOG_MODULE, "%s: %s handshake", c->peer,
              kind == RTMP_HANDSHAKE_DIGEST ? "digest" : "simple");
    c->phase = PHASE_C2;
    c->skip = RTMP_HANDSHAKE_PACKET_SIZE; /* C2: not checked, encoders differ */
}

/* The handshake is done: the protocol state machine takes over, or *reason is set. */
static void start_streaming(conn_t *c, int64_t now, const char **reason)
{
    rtmp_publish_handlers_t handlers = {
        .opaque = c,
        .on_publish = conn_on_publish,
        .on_metadata = conn_on_metadata,
        .on_media = conn_on_media,
        .on_bytes = conn_on_bytes,
        .should_stop = conn_should_stop,
        .on_unpublish = conn_on_unpublish,
    };
    c->rtmp = rtmp_conn_new(&c->loop->shared->limits, &handlers, c->peer, send_or_queue, c);
    if (!c->rtmp) {
        *reason = "out of memory";
        return;
    }
    c->phase = PHASE_STREAMING;
    c->streaming_since_ms = now;
    c->wake = (wake_batch_t){.period_start_ms = now, .batch = 1, .lowat = 1};
}

/* Runs received bytes (buf, len) through the connection's phases. Returns the bytes used; sets
 * *reason when the connection must end (*linger: after a final status). */
static size_t handle_bytes(conn_t *c, const uint8_t *buf, size_t len, int64_t now,
                           const char **reason, bool *linger)
{
    size_t used = 0;
    while (used < len && !*reason) {
        size_t n = len - used;
        switch (c->phase) {
        case PHASE_C0C1:
            if (c->skip == 0 && buf[used] != RTMP_HANDSHAKE_VERSION) {
                *reason = "not an RTMP client, or RTMPE (C0 is not 3)";
                break; /* fail fast: HTTP probes and scanners land here */
            }
            if (n > RTMP_HANDSHAKE_C0C1_SIZE - c->skip)
                n = RTMP_HANDSHAKE_C0C1_SIZE - c->skip;
            memcpy(c->c0c1 + c->skip, buf + used, n);
            c->skip += n;
            used += n;
            if (c->skip == RTMP_HANDSHAKE_C0C1_SIZE)
                answer_handshake(c, reason);
            break;
        case PHASE_C2:
            if (n > c->skip)
                n = c->skip;
            c->skip -= n;
            used += n;
            if (c->skip == 0)
                start_streaming(c, now, reason);
            break;
        case PHASE_STREAMING: {
            size_t consumed = 0;
            int rc = rtmp_conn_feed(c->rtmp, buf + used, n, &consumed, now);
            used += consumed;
            if (rc == RTMP_CONN_CLOSE) {
                *reason = rtmp_conn_close_reason(c->rtmp);
                *linger = true;
            }
            return used; /* what is left is part of a chunk header */
        }
        case PHASE_LINGER:
            return len; /* read only to see the peer close */
        }
    }
    return used;
}

/* The socket is readable: one recv into the loop's buffer, after the carried bytes. */
static void on_readable(conn_t *c)
{
    rtmp_loop_t *loop = c->loop;
    memcpy(loop->buf, c->carry, c->carry_len);
    size_t len = c->carry_len;
    ssize_t n = recv(c->fd, loop->buf + len, RECV_BUFFER_SIZE - len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_end(c,
                 n == 0                ? "closed by the peer"
                 : errno == ECONNRESET ? "reset by the peer"
                                       : "receive error",
                 false);
        return;
    }
    len += (size_t)n;
    int64_t now = clock_monotonic_ms();
    c->wake.period_bytes += (uint64_t)n;
    const char *reason = NULL;
    bool linger = false;
    size_t used = handle_bytes(c, loop->buf, len, now, &reason, &linger);
    if (!reason && len - used > CARRY_MAX)
        reason = "unfinished chunk header too long"; /* cannot happen: headers are <= 18 bytes */
    if (reason) {
        conn_end(c, reason, linger);
        return;
    }
    c->carry_len = len - used;
    memcpy(c->carry, loop->buf + used, c->carry_len);
    if (c->phase == PHASE_STREAMING)
        update_wake_batch(c, now);
}

/* Sends queued replies; false when that ended the connection (c is freed). */
static bool on_writable(conn_t *c)
{
    if (flush_output(c) == 0)
        return true;
    conn_end(c, "send failed", false);
    return false;
}

/* The hold of a slowed address is over: the handshake starts now. */
static void release_hold(conn_t *c, int64_t now)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(c->loop->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        conn_end(c, "epoll failed", false);
        return;
    }
    c->held = false;
    c->deadline_ms = now + c->loop->shared->limits.handshake_timeout_ms;
}

static void end_timed_out(conn_t *c, peer_event_t event, const char *reason)
{
    if (c->loop->shared->guard)
        peer_guard_count(c->loop->shared->guard, event, 1);
    conn_end(c, reason, false);
}

/* Timers of one connection: hold, handshake, idle and linger deadlines, rtmp_conn_tick, stuck
 * output. */
static void sweep_one(conn_t *c, int64_t now)
{
    const rtmp_loop_shared_t *shared = c->loop->shared;
    if (stopping(c->loop)) {
        conn_end(c, "server stopping", false);
        return;
    }
    if (c->output_len > 0 && now - c->output_since_ms > SEND_DEADLINE_MS) {
        conn_end(c, "the peer does not read", false);
        return;
    }
    switch (c->phase) {
    case PHASE_C0C1:
    case PHASE_C2:
        if (c->held && now >= c->deadline_ms)
            release_hold(c, now);
        else if (now > c->deadline_ms)
            end_timed_out(c, PEER_HANDSHAKE_TIMEOUT, "handshake timeout");
        return;
    case PHASE_LINGER:
        if (now > c->deadline_ms)
            conn_destroy(c);
        return;
    case PHASE_STREAMING:
        break;
    }
    if (rtmp_conn_tick(c->rtmp, now) == RTMP_CONN_CLOSE) {
        conn_end(c, rtmp_conn_close_reason(c->rtmp), true);
        return;
    }
    int64_t active_ms = rtmp_conn_last_media_ms(c->rtmp);
    if (active_ms < c->streaming_since_ms)
        active_ms = c->streaming_since_ms;
    if (now - active_ms >= (int64_t)shared->limits.idle_timeout_ms) {
        end_timed_out(c, PEER_IDLE_TIMEOUT,
                      rtmp_conn_is_publishing(c->rtmp) ? "idle timeout: no media"
                                                       : "idle timeout: no publish");
        return;
    }
    update_wake_batch(c, now);
}

static void sweep(rtmp_loop_t *loop, int64_t now)
{
    for (conn_t *c = loop->conns, *next; c; c = next) {
        next = c->next;
        sweep_one(c, now);
    }
    loop->last_sweep_ms = now;
}

/* Takes over the connections the listener handed to this loop. */
static void adopt_incoming(rtmp_loop_t *loop)
{
    uint64_t ignored;
    ssize_t drained = read(loop->wake_fd, &ignored, sizeof ignored);
    (void)drained;
    pthread_mutex_lock(&loop->lock);
    conn_t *incoming = loop->incoming;
    loop->incoming = NULL;
    pthread_mutex_unlock(&loop->lock);
    while (incoming) {
        conn_t *c = incoming;
        incoming = c->next;
        c->prev = NULL;
        c->next = loop->conns;
        if (loop->conns)
            loop->conns->prev = c;
        loop->conns = c;
        /* A held connection is watched for hang-ups only (epoll always reports those). */
        struct epoll_event ev = {.events = c->held ? 0 : EPOLLIN, .data.ptr = c};
        if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            log_warn(LOG_MODULE, "%s: epoll: %s", c->peer, strerror(errno));
            conn_destroy(c);
        }
    }
}

static void *loop_thread(void *arg)
{
    rtmp_loop_t *loop = arg;
    struct epoll_event events[EVENTS_PER_WAIT];
    loop->last_sweep_ms = clock_monotonic_ms();
    for (;;) {
        int ready = epoll_wait(loop->epoll_fd, events, EVENTS_PER_WAIT, SWEEP_MS);
        for (int i = 0; i < ready; i++) {
            conn_t *c = events[i].data.ptr;
            if (!c) {
                adopt_incoming(loop);
                continue;
            }
            uint32_t what = events[i].events;
            if ((what & EPOLLOUT) && !on_writable(c))
                continue; /* c is gone */
            if (what & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(c);
        }
        int64_t now = clock_monotonic_ms();
        if (stopping(loop) || now - loop->last_sweep_ms >= SWEEP_MS)
            sweep(loop, now);
        if (stopping(loop) && !loop->conns)
            break;
    }
    return NULL;
}
/* ---- handing over, start and stop ---- */

void rtmp_loop_wake(rtmp_loop_t *loop)
{
    uint64_t wake = 1;
    ssize_t ignored = write(loop->wake_fd, &wake, sizeof wake); /* a full counter is awake enough */
    (void)ignored;
}

int rtmp_loop_add(rtmp_loop_t *loop, int fd, const char *peer, const char *address, int64_t hold_ms)
{
    conn_t *c = calloc(1, sizeof *c);
    uint8_t *c0c1 = malloc(RTMP_HANDSHAKE_C0C1_SIZE);
    if (!c || !c0c1) {
        free(c);
        free(c0c1);
        return -1;
    }
    int one = 1, send_buffer = SEND_BUFFER_SIZE;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* A fixed small send buffer bounds the kernel's memory per publisher (autotuning could grow
     * it to megabytes for a peer that does not read), and such a peer meets OUTPUT_MAX soon. */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
    c->loop = loop;
    c->fd = fd;
    c->c0c1 = c0c1;
    c->phase = PHASE_C0C1;
    c->held = hold_ms > 0;
    c->deadline_ms =
        clock_monotonic_ms() + (c->held ? hold_ms : loop->shared->limits.handshake_timeout_ms);
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    snprintf(c->address, sizeof c->address, "%s", address);
    pthread_mutex_lock(&loop->lock);
    c->next = loop->incoming;
    loop->incoming = c;
    pthread_mutex_unlock(&loop->lock);
    rtmp_loop_wake(loop);
    return 0;
}

/* Frees the loop; its thread is joined or was never started. */
static void loop_destroy(rtmp_loop_t *loop)
{
    while (loop->incoming) { /* handed over after the loop had stopped */
        conn_t *c = loop->incoming;
        loop->incoming = c->next;
        close(c->fd);
        if (loop->shared->guard)
            peer_guard_leave(loop->shared->guard, c->address);
        free(c->c0c1);
        free(c);
    }
    if (loop->epoll_fd >= 0)
        close(loop->epoll_fd);
    if (loop->wake_fd >= 0)
        close(loop->wake_fd);
    free(loop->buf);
    pthread_mutex_destroy(&loop->lock);
    free(loop);
}

rtmp_loop_t *rtmp_loop_start(rtmp_loop_shared_t *shared)
{
    rtmp_loop_t *loop = calloc(1, sizeof *loop);
    if (!loop)
        return NULL;
    loop->shared = shared;
    pthread_mutex_init(&loop->lock, NULL);
    loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    loop->buf = malloc(RECV_BUFFER_SIZE);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (loop->epoll_fd < 0 || loop->wake_fd < 0 || !loop->buf ||
        epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &ev) != 0 ||
        pthread_create(&loop->thread, NULL, loop_thread, loop) != 0) {
        loop_destroy(loop);
        return NULL;
    }
    return loop;
}

void rtmp_loop_free(rtmp_loop_t *loop)
{
    if (!loop)
        return;
    pthread_join(loop->thread, NULL);
    loop_destroy(loop);
}
