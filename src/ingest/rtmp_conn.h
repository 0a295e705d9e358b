/* One RTMP connection after the handshake: the protocol state machine that turns chunk-stream
 * bytes into commands, replies, publish decisions and media for the publish handlers. It does no
 * I/O of its own: bytes come in through rtmp_conn_feed and replies leave through the send
 * callback, so rtmp_loop.c owns the socket and tests and fuzzers can drive it directly.
 * A connection object is used by one thread at a time; the handlers are called on that thread. */
#ifndef STREAMD_INGEST_RTMP_CONN_H
#define STREAMD_INGEST_RTMP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/amf0.h"
#include "ingest/flv.h"
#include "ingest/rtmp_chunk.h"

typedef struct rtmp_limits {
    uint32_t io_threads; /* event loops serving the connections (0 = one per CPU, at most 16) */
    uint32_t handshake_timeout_ms; /* ms from accept to a complete handshake (10000) */
    uint32_t idle_timeout_ms;      /* ms without media (before a publish: without one) (10000);
                                      pings and other commands do not count */
    uint32_t max_streams_per_connection; /* createStream calls answered (8) */
    rtmp_chunk_limits_t chunk;           /* chunk size, message size, chunk streams, buffering */
    amf0_limits_t amf0;                  /* commands and metadata */
} rtmp_limits_t;

/* The interface to the rest of the server. Handlers run on the server's threads, several at once:
 * they must be thread-safe among themselves. The calls for one publish come one after the other,
 * on_publish first and on_unpublish last. publish_ctx is the handler's own pointer. */
typedef struct rtmp_publish_handlers {
    void *opaque;
    /* A client wants to publish stream_key on app. Return 0 to accept (set *publish_ctx to your
     * per-broadcast pointer), or -1 with a human-readable reason in reason (the client gets
     * NetStream.Publish.BadName and is disconnected). */
    int (*on_publish)(void *opaque, const char *app, const char *stream_key, const char *peer_addr,
                      void **publish_ctx, char *reason, size_t reason_size);
    /* onMetaData as received (an OBJECT or ECMA_ARRAY, valid during the call); may be NULL. */
    void (*on_metadata)(void *publish_ctx, const amf0_value_t *metadata);
    /* One parsed audio/video message (configs, key and inter frames; never end-of-sequence or
     * command frames) with the full message payload, valid during the call. Return -1 to end the
     * publish (the connection is closed). */
    int (*on_media)(void *publish_ctx, const flv_media_t *media);
    /* Bytes received on the connection since the last call (every byte after the handshake,
     * including those before the publish). Called at least once a second while data flows and
     * once before on_unpublish. May be NULL. */
    void (*on_bytes)(void *publish_ctx, uint64_t bytes);
    /* Polled at least every 500 ms: return true to end this publish now (stream terminated,
     * deleted or suspended through the API). May be NULL. */
    bool (*should_stop)(void *publish_ctx);
    /* The publish ended (unpublish, disconnect, timeout, error, should_stop); reason for the log.
     * Called exactly once per accepted publish. rtmp_server runs it on one of its unpublish
     * threads, off the event loops, so it may take its time (finishing a transcode) without
     * holding up other connections. */
    void (*on_unpublish)(void *publish_ctx, const char *reason);
} rtmp_publish_handlers_t;

/* Writes all of buf to the peer; returns 0, or -1 when the connection is broken. */
typedef int (*rtmp_conn_send_fn)(void *opaque, const uint8_t *buf, size_t len);

typedef struct rtmp_conn rtmp_conn_t;

/* Results of rtmp_conn_feed and rtmp_conn_tick. */
enum {
    RTMP_CONN_CONTINUE = 0,
    RTMP_CONN_CLOSE = 1, /* close the connection; rtmp_conn_close_reason says why */
};

/* Fills limits with the defaults listed in rtmp_limits_t. */
void rtmp_limits_default(rtmp_limits_t *limits);

/* A connection in its post-handshake state; NULL when out of memory. limits and handlers are
 * copied; peer_addr ("ip:port") is copied for logs and on_publish. */
rtmp_conn_t *rtmp_conn_new(const rtmp_limits_t *limits, const rtmp_publish_handlers_t *handlers,
                           const char *peer_addr, rtmp_conn_send_fn send, void *send_opaque);

/* Ends any publish (with reason "connection closed"), then frees; NULL is a no-op. */
void rtmp_conn_free(rtmp_conn_t *c);

/* Processes received bytes: reassembles messages, answers commands, calls the handlers. Sets
 * *consumed to the bytes used; the rest (an incomplete chunk header) must be passed again with
 * the bytes that follow. now_ms is the monotonic clock. Returns RTMP_CONN_CONTINUE or
 * RTMP_CONN_CLOSE (protocol error, refusal, unsupported codec, unpublish by the handler...). */
int rtmp_conn_feed(rtmp_conn_t *c, const uint8_t *buf, size_t len, size_t *consumed,
                   int64_t now_ms);

/* Periodic work, to call at least every 250 ms: reports bytes (on_bytes) and polls should_stop.
 * Returns RTMP_CONN_CONTINUE or RTMP_CONN_CLOSE. */
int rtmp_conn_tick(rtmp_conn_t *c, int64_t now_ms);

/* Ends the current publish, if any, calling on_bytes and on_unpublish(reason) once. */
void rtmp_conn_end_publish(rtmp_conn_t *c, const char *reason);

/* Why the connection asked to be closed (static or owned by c), or NULL. */
const char *rtmp_conn_close_reason(const rtmp_conn_t *c);

/* Whether a publish is active. */
bool rtmp_conn_is_publishing(const rtmp_conn_t *c);

/* now_ms of the last media message of the publish, or of its start; 0 before any publish. */
int64_t rtmp_conn_last_media_ms(const rtmp_conn_t *c);

/* Payload bytes that would complete the nearest unfinished inbound message; 0 when none is. */
size_t rtmp_conn_bytes_missing(const rtmp_conn_t *c);

#endif
