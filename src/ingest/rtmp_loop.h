/* The RTMP event loops, internal to src/ingest/ (rtmp_server.c is their one user): each loop is
 * one thread with an epoll set that serves its share of the connections from the handshake to
 * the close: reads, replies, timeouts, and the rtmp_conn state machine in between.
 *
 * Ownership: rtmp_server owns the shared state and the loops. A connection handed over with
 * rtmp_loop_add belongs to that loop's thread for its whole life: it closes the socket and frees
 * the connection. Ending a publish can take seconds (the transcoder finishes its queue), so the
 * caller's on_unpublish goes to the shared unpublish workers, never onto a loop: the other
 * connections of the loop keep flowing. The other publish handlers run on the loop.
 * Threads: rtmp_loop_shared_init/_stop, rtmp_loop_start and rtmp_loop_free are called by the
 * server's owner; rtmp_loop_add by the listener thread; rtmp_loop_wake by any thread. */
#ifndef STREAMD_INGEST_RTMP_LOOP_H
#define STREAMD_INGEST_RTMP_LOOP_H

#include <stdatomic.h>

#include "ingest/rtmp_conn.h"
#include "util/peer_guard.h"
#include "util/work_queue.h"

/* What every loop of one server reads; owned by rtmp_server, outlives the loops. */
typedef struct rtmp_loop_shared {
    rtmp_limits_t limits;             /* read-only once the loops run */
    rtmp_publish_handlers_t handlers; /* the caller's, read-only */
    atomic_bool stopping;             /* set once by the server: loops end their connections */
    peer_guard_t *guard;              /* counts connections per address; NULL = no limits */
    work_queue_t *unpublishes;        /* runs the caller's on_unpublish off the loops */
} rtmp_loop_shared_t;

typedef struct rtmp_loop rtmp_loop_t;

#define RTMP_LOOP_PEER_MAX 64 /* bytes of a peer address as logged, "ip:port" with its NUL */

/* Fills shared with copies of limits and handlers (guard, which may be NULL, must outlive it) and
 * starts the unpublish workers. Returns 0, or -1 when they cannot start (shared then holds
 * nothing to stop). */
int rtmp_loop_shared_init(rtmp_loop_shared_t *shared, const rtmp_limits_t *limits,
                          peer_guard_t *guard, const rtmp_publish_handlers_t *handlers);

/* Once every loop is freed: runs the on_unpublish calls still queued, then joins the workers. */
void rtmp_loop_shared_stop(rtmp_loop_shared_t *shared);

/* Creates a loop (its epoll set, wake eventfd and receive buffer) and starts its thread; shared
 * must outlive it. Returns NULL when a resource or the thread is missing. */
rtmp_loop_t *rtmp_loop_start(rtmp_loop_shared_t *shared);

/* Hands an accepted non-blocking socket to the loop, which owns it from then on; peer ("ip:port")
 * is copied for logs. The loop reads nothing from it for hold_ms (a slowed address), then the
 * handshake deadline starts. The caller admitted address (the peer's, without the port) into
 * shared->guard, if any; the loop lets it leave when the connection closes. Returns 0, or -1
 * when out of memory (fd and the admission stay the caller's). */
int rtmp_loop_add(rtmp_loop_t *loop, int fd, const char *peer, const char *address,
                  int64_t hold_ms);

/* Makes the loop run now, to see that shared->stopping is set (it then ends its connections and
 * its thread exits). */
void rtmp_loop_wake(rtmp_loop_t *loop);

/* Joins the loop's thread (stopping set, loop woken) and frees the loop, closing connections
 * handed over after it had stopped. NULL is a no-op. */
void rtmp_loop_free(rtmp_loop_t *loop);

#endif
