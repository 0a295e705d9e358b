/* The registry of this node's live broadcasts: for every stream that is publishing, or that
 * stopped less than the reconnect window ago, one broadcast holding its pipeline
 * (media/pipeline.h). It decides what a publish gets (a refusal, the session continued after a
 * reconnect, or a new session), and finalizes the sessions whose window has passed.
 *
 * Owns: every broadcast and its pipeline, until the session is final. store and config must
 * outlive the registry.
 *
 * Threads: ingest publishes and unpublishes (an RTMP event loop, then an RTMP unpublish thread
 * for live_unpublish) and feeds the broadcast's pipeline in between; the API calls
 * live_stop_stream from its threads; the server's housekeeper calls live_expire. The registry
 * lock guards the list and each broadcast's state (live / ended) so that publish, stop and
 * expiry never race; it is taken before a pipeline's stats lock, never after. */
#ifndef STREAMD_MEDIA_LIVE_H
#define STREAMD_MEDIA_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/pipeline.h"
#include "store/store.h"

typedef struct live live_t;
typedef struct live_broadcast live_broadcast_t;

/* What the registry needs of the server's settings. */
typedef struct live_config {
    pipeline_config_t pipeline; /* for every broadcast; its node_id is this node */
    int reconnect_window_s;     /* seconds an ended session waits for a reconnect */
    int node_timeout_s;         /* a node whose heartbeat is older holds no publish */
} live_config_t;

/* Creates an empty registry; store and config (read at every use) must outlive it. Returns NULL
 * with a message in err. */
live_t *live_new(store_t *store, const live_config_t *config, char *err, size_t err_size);

/* Finalizes every session (ingest and the housekeeper must be stopped first: no broadcast may be
 * live) and frees the registry; NULL is a no-op. */
void live_free(live_t *live);

/* A publisher asks for stream_key. The publish is taken in the store (store_stream_claim), so a
 * key live on another node is refused as one live here is; a reconnect inside the window
 * continues the session, here or from the node it ended on. Returns 0 and the broadcast handle
 * (owned by the registry, valid until live_unpublish), or LIVE_UNKNOWN_KEY or -1 (suspended
 * stream, already live, store unavailable) with a reason for the publisher. Any thread. */
enum { LIVE_UNKNOWN_KEY = -2 }; /* live_publish: no stream has that key */
int live_publish(live_t *live, const char *stream_key, const char *peer, live_broadcast_t **out,
                 char *reason, size_t reason_size);

/* The pipeline that takes the broadcast's media (owned by the registry; valid until
 * live_unpublish). Any thread. */
pipeline_t *live_pipeline(live_broadcast_t *broadcast);

/* The publish ended: the pipeline drains (the last segment is closed and counted, the transcoder
 * finishes its queue), rates fall to 0, the stream goes inactive and the playlist ends. The
 * session stays open for the reconnect window. The handle is invalid afterwards. Ingest; may
 * take seconds. */
void live_unpublish(live_broadcast_t *broadcast, const char *reason);

/* True when this node has a broadcast (live, or waiting for a reconnect) of playback_id: its
 * files here are the current ones. Any thread. */
bool live_has_playback(live_t *live, const char *playback_id);

/* Ends the broadcast of stream_id, if any (API: terminate, delete, suspend). Any thread. */
void live_stop_stream(live_t *live, const char *stream_id);

/* Finalizes the sessions whose reconnect window has passed by now_ms, and those a new publish
 * replaced before that (the housekeeper calls it every second; tests call it directly). Any
 * thread; blocks while recordings are written. */
void live_expire(live_t *live, int64_t now_ms);

#endif
