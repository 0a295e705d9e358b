/* Session accounting of one live broadcast: its counters, the increments not yet added to the
 * stream's totals, the ingest and outgoing rates, its health conditions and the metrics of its
 * health document, and the session row and stream live state that each store write takes.
 * It is told plain numbers (bytes, media seconds, CPU seconds, rendition names), never media
 * structs, and it does not write the store itself: the caller writes what
 * session_stats_prepare_write returns and reports the outcome with session_stats_written.
 *
 * Owns: the session row (store_session_t, with its strings) and everything above; the caller owns
 * the session_stats_t (session_stats_new / session_stats_free).
 *
 * Threads: not thread-safe; the caller serializes every call with one mutex of its own (the
 * pipeline's stats lock). That lock also guards the caller's own per-segment state (the master
 * playlist), so counting a segment, rewriting the master and writing the store stay one step, and
 * the lock order stays what it was (registry, then stats); a mutex in here would need a second one
 * in the pipeline and split those steps. The same rule as health.h and rate.h. */
#ifndef STREAMD_STATS_SESSION_STATS_H
#define STREAMD_STATS_SESSION_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* The live state reaches the store at least this often while a broadcast is live. */
#define SESSION_STATS_FLUSH_INTERVAL_MS 1000
/* ingestRate and outgoingRate are bytes per second over this window. */
#define SESSION_STATS_RATE_WINDOW_MS 5000

typedef struct session_stats session_stats_t;

/* A new session of stream, active since now_ms (ms since epoch): a new id; parent, user, project,
 * playback id, name, record, profiles and recording spec copied; Active probed true; rates
 * measured from mono_ms (monotonic ms). NULL when out of memory. */
session_stats_t *session_stats_new(const store_stream_t *stream, int64_t now_ms, int64_t mono_ms);

/* The session earlier (read from the store: it ended on another node inside the reconnect window)
 * continued here as a new broadcast of stream at now_ms: its id, creation, counters (rates at 0),
 * record flag and recording status are kept, the rest is as session_stats_new makes it. NULL when
 * out of memory. */
session_stats_t *session_stats_resume(const store_stream_t *stream, const store_session_t *earlier,
                                      int64_t now_ms, int64_t mono_ms);

/* Frees the stats and the session row; NULL is a no-op. */
void session_stats_free(session_stats_t *stats);

/* The session row as last prepared (owned by stats, valid until session_stats_free). Its id and
 * the fields copied from the stream never change, so any thread may read those; once the session
 * is final the caller may set its recording result (status, issues) and write it. */
store_session_t *session_stats_session(session_stats_t *stats);

/* A publish continues the session at now_ms (reconnect): open again, Active, and the ingest rate
 * measured afresh from mono_ms. */
void session_stats_continue(session_stats_t *stats, int64_t now_ms, int64_t mono_ms);

/* The publish ended at now_ms: the session's endedAt, Active false. */
void session_stats_end(session_stats_t *stats, int64_t now_ms);

/* bytes received from the publisher at now_ms (lastSeen) and mono_ms (ingestRate). */
void session_stats_add_received(session_stats_t *stats, uint64_t bytes, int64_t now_ms,
                                int64_t mono_ms);

/* A source segment of bytes and duration_s media seconds is listed. */
void session_stats_add_source_segment(session_stats_t *stats, uint64_t bytes, double duration_s);

/* A segment of rendition (a profile name; copied) is listed: bytes and duration_s media seconds,
 * encode_cpu_s CPU seconds spent scaling and encoding it; its bytes count in outgoingRate at
 * mono_ms. */
void session_stats_add_rendition_segment(session_stats_t *stats, const char *rendition,
                                         uint64_t bytes, double duration_s, double encode_cpu_s,
                                         int64_t mono_ms);

/* Every rendition of a source segment of duration_s media seconds is done after elapsed_s wall
 * seconds, ok or not; decode_cpu_per_media_s is the decoder's CPU seconds per media second so far.
 * Judges Transcoding, TranscodeRealTime (within real time) and TranscodeNoErrors at now_ms. */
void session_stats_transcoded(session_stats_t *stats, double duration_s, double elapsed_s, bool ok,
                              double decode_cpu_per_media_s, int64_t now_ms);

/* The source is the whole ladder (a stream without profiles): a source segment at now_ms counts
 * as transcoded, in real time and without errors. */
void session_stats_passthrough(session_stats_t *stats, int64_t now_ms);

/* The transcoder could not start: Transcoding false at now_ms. */
void session_stats_transcoding_failed(session_stats_t *stats, int64_t now_ms);

/* A source segment was dropped (the transcoder had no room): counted, TranscodeRealTime false at
 * now_ms. Returns how many were dropped so far. */
uint64_t session_stats_add_dropped(session_stats_t *stats, int64_t now_ms);

/* What browsers make of the source's video at now_ms: SourcePlayable, with why not (copied; ""
 * when playable). */
void session_stats_source_playable(session_stats_t *stats, bool playable, const char *why_not,
                                   int64_t now_ms);

/* The recording started: Recording true at now_ms. */
void session_stats_recording_started(session_stats_t *stats, int64_t now_ms);

/* The recording cannot go on: recordingStatus failed, Recording false at now_ms with reason
 * (copied) in its issue. Returns false, changing nothing, when it had failed already. */
bool session_stats_recording_failed(session_stats_t *stats, const char *reason, int64_t now_ms);

/* Why the recording failed, as session_stats_recording_failed was told; "" when it did not. */
const char *session_stats_recording_issue(const session_stats_t *stats);

/* True when the last write is SESSION_STATS_FLUSH_INTERVAL_MS old or older at mono_ms. */
bool session_stats_write_due(const session_stats_t *stats, int64_t mono_ms);

/* Prepares a store write at now_ms / mono_ms: the row gets its rates (0 unless active), lastSeen,
 * isActive, isHealthy, issues and health document; *stream_live gets the stream's live state and
 * the increments its totals have not taken yet (issues_json borrowed from the row). Returns the
 * row to write (owned by stats; valid until the next call). */
const store_session_t *session_stats_prepare_write(session_stats_t *stats, bool active,
                                                   int64_t now_ms, int64_t mono_ms,
                                                   store_stream_live_t *stream_live);

/* The write prepared last is done at mono_ms. stream_written: the stream's totals took the
 * increments, which start again from 0; else they are kept for the next write. */
void session_stats_written(session_stats_t *stats, bool stream_written, int64_t mono_ms);

#endif
