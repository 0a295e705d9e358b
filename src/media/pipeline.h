/* One live broadcast: its session row, its directory data/live/{playbackId}/ with the master
 * playlist, the source segmenter, the transcoder of its ladder and its recorder, and the segment
 * callbacks that count what they produce (src/stats/session_stats.h) and write it to the store.
 *
 * Owns: everything above; the live registry owns the pipeline (pipeline_start /
 * pipeline_finalize). store and config must outlive it.
 *
 * Threads: the ingest thread of the current publish owns the front half (pipeline_metadata,
 * _media, _bytes, _poll, _drain; the segmenter's callback runs there); the transcoder worker
 * thread runs the rendition callbacks; pipeline_continue and pipeline_end run with the registry
 * lock held, and take the pipeline's stats lock (lock order: registry, then stats); the stats lock
 * guards the session's accounting and the master playlist. pipeline_request_stop may be called
 * from any thread; pipeline_finalize by one thread once nothing else uses the pipeline. */
#ifndef STREAMD_MEDIA_PIPELINE_H
#define STREAMD_MEDIA_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "media/media_packet.h"
#include "store/store.h"

typedef struct pipeline pipeline_t;

/* What a broadcast needs of the server's settings. Strings are borrowed. */
typedef struct pipeline_config {
    const char *data_dir;       /* live files under data_dir/live */
    const char *recordings_dir; /* recordings under recordings_dir/{sessionId} */
    const char *node_id;        /* this node: the owner its sessions record */
    double segment_seconds;     /* target segment duration, media seconds */
    int hls_window_segments;    /* segments listed in a live playlist */
    const char *x264_preset;    /* libx264 speed/quality preset of the renditions */
} pipeline_config_t;

/* Starts a broadcast of stream: a new session row (inserted), its live directory emptied, its
 * segmenter, transcoder (unless source-only) and recorder (when recorded). A ladder or recording
 * that cannot start leaves the broadcast going without it, as its health says. Returns NULL when
 * the broadcast cannot start (logged). stream is only read during the call. */
pipeline_t *pipeline_start(store_t *store, const pipeline_config_t *config,
                           const store_stream_t *stream);

/* Continues session earlier, which ended on another node inside the reconnect window and was
 * adopted by this one (store_session_adopt): same id and counters, its recording continued when
 * the recordings directory is shared. Otherwise as pipeline_start; earlier is only read during the
 * call. */
pipeline_t *pipeline_resume(store_t *store, const pipeline_config_t *config,
                            const store_stream_t *stream, const store_session_t *earlier);

/* A publish inside the reconnect window continues the session: same counters, the source marks a
 * discontinuity. Called with the registry lock held, by the publishing thread. */
void pipeline_continue(pipeline_t *pipeline);

/* Source metadata announced by the publisher (0 = unknown). Ingest. */
void pipeline_metadata(pipeline_t *pipeline, int width, int height, double frame_rate);

/* One media packet of the broadcast. Returns 0, or -1 when the broadcast cannot go on (the
 * publisher should be disconnected). Ingest. */
int pipeline_media(pipeline_t *pipeline, const media_packet_t *packet);

/* Counts bytes received from the publisher (for ingestRate). Ingest. */
void pipeline_bytes(pipeline_t *pipeline, uint64_t bytes);

/* Polled at least twice a second by ingest: writes the live state to the store at least once a
 * second, and returns true when the broadcast must end now (pipeline_request_stop). */
bool pipeline_poll(pipeline_t *pipeline);

/* Asks the current publish to end (API: terminate, delete, suspend); pipeline_poll says so. Any
 * thread. */
void pipeline_request_stop(pipeline_t *pipeline);

/* The publish ended: the last source segment is closed and counted, and the transcoder finishes
 * its queue and ends the rendition playlists. Ingest; may take seconds. */
void pipeline_drain(pipeline_t *pipeline);

/* Records the end of the publish at ended_at_ms (ms since epoch): rates fall to 0 and the
 * session and the stream go inactive in the store. After pipeline_drain, with the registry lock
 * held. */
void pipeline_end(pipeline_t *pipeline, int64_t ended_at_ms);

/* The session is final: the recording is finished (playlists closed, MP4 written: seconds), its
 * status written to the store, and the pipeline freed; a session another node continued is left
 * to that node. NULL is a no-op. */
void pipeline_finalize(pipeline_t *pipeline);

/* Who owns the session now, as the store says: 1 this node (or no node recorded), 0 another node
 * (a reconnect continued it there, and this node must leave it alone; logged), -1 unknown (the
 * store failed). Any thread; one store read. */
int pipeline_owner(const pipeline_t *pipeline);

/* The session id (constant, valid until pipeline_finalize). Any thread. */
const char *pipeline_session_id(const pipeline_t *pipeline);

#endif
