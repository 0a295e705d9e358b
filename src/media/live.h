/* Live broadcasts of this node: for every stream that is publishing, or that stopped less than
 * the reconnect window ago, one pipeline that owns its session row, its source segmenter and its
 * counters. Ingest calls the broadcast functions for one publish one after the other (an RTMP
 * event loop, then an RTMP unpublish thread for live_unpublish); the API calls live_stop_stream
 * from its threads; a housekeeping thread finalizes sessions whose reconnect window has passed.
 * Thread-safe as documented per function. */
#ifndef STREAMD_MEDIA_LIVE_H
#define STREAMD_MEDIA_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "media/media_packet.h"
#include "store/store.h"

typedef struct live live_t;
typedef struct live_broadcast live_broadcast_t;

/* Creates the registry and starts its housekeeping thread; store and config must outlive it.
 * Returns NULL with a message in err. */
live_t *live_new(store_t *store, const config_t *config, char *err, size_t err_size);

/* Finalizes every session (ingest must be stopped first: no broadcast may be live) and frees
 * the registry; NULL is a no-op. */
void live_free(live_t *live);

/* A publisher asks for stream_key. Returns 0 and the broadcast handle (owned by the registry,
 * valid until live_unpublish), or -1 with a reason for the publisher (unknown key, suspended
 * stream, already live). Any thread. */
int live_publish(live_t *live, const char *stream_key, const char *peer, live_broadcast_t **out,
                 char *reason, size_t reason_size);

/* Source metadata announced by the publisher (0 = unknown). Ingest. */
void live_metadata(live_broadcast_t *broadcast, int width, int height, double frame_rate);

/* One media packet of the broadcast. Returns 0, or -1 when the broadcast cannot go on (the
 * publisher should be disconnected). Ingest. */
int live_media(live_broadcast_t *broadcast, const media_packet_t *packet);

/* Counts bytes received from the publisher (for ingestRate). Ingest. */
void live_bytes(live_broadcast_t *broadcast, uint64_t bytes);

/* Polled at least twice a second by ingest: writes the live state to the store
 * at least once a second, and returns true when the broadcast must end now (terminated,
 * deleted or suspended through the API). */
bool live_poll(live_broadcast_t *broadcast);

/* The publish ended: the last segment is closed and counted, rates fall to 0, the stream goes
 * inactive and the playlist ends. The session stays open for the reconnect window. The handle
 * is invalid afterwards. Ingest; may take seconds (the transcoder finishes its queue). */
void live_unpublish(live_broadcast_t *broadcast, const char *reason);

/* Ends the broadcast of stream_id, if any (API: terminate, delete, suspend). Any thread. */
void live_stop_stream(live_t *live, const char *stream_id);

/* Finalizes the sessions whose reconnect window has passed by now_ms, and those a new publish
 * replaced before that (the housekeeping thread calls it every second; tests call it directly).
 * Any thread. */
void live_expire(live_t *live, int64_t now_ms);

#endif
