/* The RTMP ingest server: one listener thread accepting connections (rtmp_server.c), a few
 * event-loop threads (rtmp_loop.c: epoll, non-blocking sockets) that each serve their share of
 * the connections through the handshake and an rtmp_conn state machine, and a few worker threads
 * (a util/work_queue) that run on_unpublish. The publish handlers (see rtmp_conn.h) run on the
 * loop that serves the connection, on_unpublish on one of those workers (ends of different
 * publishes may run at the same time). A connection costs its state and buffers only, no
 * thread: hundreds of publishers fit in little memory (bench/RESULTS.md). rtmp_server_start /
 * rtmp_server_stop are called by the thread that owns the server context. */
#ifndef STREAMD_INGEST_RTMP_SERVER_H
#define STREAMD_INGEST_RTMP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/rtmp_conn.h"
#include "util/peer_guard.h"

typedef struct rtmp_server rtmp_server_t;

/* Binds host:port (host NULL or "" = every address; port 0 = an ephemeral port, for tests) and
 * starts the listener thread. limits may be NULL for rtmp_limits_default; limits and handlers
 * are copied. guard (NULL = no limits) admits each connection by its address, slows the
 * addresses it says, and must outlive the server. Returns the server, or NULL with a message in
 * err. */
rtmp_server_t *rtmp_server_start(const char *host, uint16_t port, const rtmp_limits_t *limits,
                                 peer_guard_t *guard, const rtmp_publish_handlers_t *handlers,
                                 char *err, size_t err_size);

/* The bound TCP port. */
unsigned rtmp_server_port(const rtmp_server_t *server);

/* Closes the listener and every connection, joins all threads (each accepted publish gets its
 * on_unpublish before this returns) and frees the server. NULL is a no-op. */
void rtmp_server_stop(rtmp_server_t *server);

#endif
