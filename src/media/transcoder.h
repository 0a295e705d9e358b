/* Transcoder: turns one live session's source segments into the renditions of its ladder.
 *
 * One worker thread per session takes whole source segments (the segmenter's .ts files) from a
 * bounded queue, demuxes them, decodes the video once and hands the pictures to one thread per
 * rung. A rung thread scales its picture (from the decoded source or from a larger rung's
 * picture: the plan's scale cascade), passes it on to the rungs scaled from it, and encodes it
 * with libx264, keeping its encoder across segments. The first frame of every segment is an IDR
 * frame, so rendition segment N starts exactly where source segment N starts; AAC audio is copied
 * unchanged into every rendition. Each rendition segment is written to LIVE_DIR/{name}/NNNNN.ts
 * (same NNNNN as the source) and listed in LIVE_DIR/{name}/index.m3u8.
 *
 * Encoders run without frame delay (no B-frames, no rc-lookahead, constant-rate timing, one x264
 * thread or slice threads), so a rendition segment is complete as soon as the last source frame
 * is encoded: no added latency, rate control continues across segments, and CPU time is measured
 * exactly per rendition with the rung thread's CPU clock. Profiles map to x264 as H264Baseline ->
 * baseline, H264Main -> main, H264High and H264ConstrainedHigh -> high (the latter is Livepeer's
 * "High without B-frames"; here no profile uses B-frames, so the two are the same). Rate control
 * is ABR at the profile's bitrate with VBV maxrate = bitrate over a 2 s buffer, or CRF = quality
 * capped by that VBV when the profile has a quality.
 *
 * A slow transcoder never blocks ingest: transcoder_submit never waits; with the queue full the
 * new segment is dropped, counted and reported. Rendition playlists then skip it and mark the next
 * segment with #EXT-X-DISCONTINUITY (their media sequence numbers then run behind the source's;
 * every segment carries the source's #EXT-X-PROGRAM-DATE-TIME).
 *
 * Threads: transcoder_new, _submit, _finish and _free are called by the thread that owns the live
 * pipeline (submit typically from the segmenter's on_segment); transcoder_renditions and
 * transcoder_get_stats from any thread. Callbacks run on the worker thread, except on_dropped,
 * which runs inside transcoder_submit; a callback must not call transcoder_finish or
 * transcoder_free. */
#ifndef STREAMD_MEDIA_TRANSCODER_H
#define STREAMD_MEDIA_TRANSCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/hls.h"
#include "media/ladder.h"
#include "media/segmenter.h"

typedef struct transcoder transcoder_t;

#define TRANSCODER_DEFAULT_PRESET "veryfast"
#define TRANSCODER_DEFAULT_QUEUE 2 /* source segments waiting behind the one in progress */
#define TRANSCODER_ERROR_MAX 256   /* bytes of an error message, with the NUL */

typedef struct transcoder_config {
    const char *live_dir;      /* session directory; renditions go to live_dir/{name}/ (created) */
    const char *profiles_json; /* the stream's `profiles`; NULL = default ladder, "[]" =
                                  passthrough (the transcoder does nothing) */
    const char *x264_preset;   /* NULL = TRANSCODER_DEFAULT_PRESET */
    int threads;               /* x264 threads per rung (slice threads); 0 = 1: rungs already
                                  run in parallel, and one thread per rung keeps the CPU time
                                  per rendition exact (with more, encode CPU counts only the
                                  rung thread's share) */
    int window_segments;       /* segments listed per rendition playlist, as the source's; 0 =
                                  all */
    size_t queue_capacity;     /* source segments that may wait; 0 = TRANSCODER_DEFAULT_QUEUE */
    int extra_delay_ms;        /* tests only: the worker sleeps this long per source segment */
    const char *log_id;        /* session id for log lines; NULL = live_dir */
} transcoder_config_t;

/* One rendition as the master playlist lists it. */
typedef struct transcoder_rendition {
    char name[LADDER_NAME_MAX];     /* profile name; its playlist is "{name}/index.m3u8" */
    int width, height;              /* pixels */
    double fps;                     /* frames per second; 0 = unknown */
    int64_t bitrate;                /* target bits per second (the profile's) */
    uint64_t peak_bps;              /* largest segment's bits per second so far */
    uint64_t average_bps;           /* all segments' bits / their media seconds so far */
    char codecs[2 * HLS_CODEC_MAX]; /* "avc1.64001f,mp4a.40.2" */
} transcoder_rendition_t;

typedef struct transcoder_callbacks {
    void *opaque; /* passed back to every callback */
    /* A rendition segment is on disk and listed in its playlist. segment->path is the rendition
     * file, ->bytes its size, ->sequence, ->duration_s, ->program_date_time_ms are the source
     * segment's, ->discontinuity as listed. encode_cpu_s / encode_wall_s: CPU and busy wall
     * seconds of the rung thread on this segment (scaling and encoding; the shared demux and
     * decode are in on_source_segment_done). The file may be deleted once it slides out of the
     * window: a recorder must take it (link or copy) here. Pointers are valid during the call. */
    void (*on_rendition_segment)(void *opaque, const transcoder_rendition_t *rendition,
                                 const segment_info_t *segment, double encode_cpu_s,
                                 double encode_wall_s);
    /* A source segment is done (every rung written or failed), after its on_rendition_segment
     * calls. elapsed_s: wall seconds from dequeue to done (realtime when below duration_s);
     * cpu_s: worker CPU seconds (demux and decode); ok false when it or any rung failed, with
     * the reason in error ("" when ok). An audio-only segment is ok, with no renditions. */
    void (*on_source_segment_done)(void *opaque, int64_t sequence, double duration_s,
                                   double elapsed_s, double cpu_s, bool ok, const char *error);
    /* The queue was full: source segment sequence was dropped. Runs on the submitting thread. */
    void (*on_dropped)(void *opaque, int64_t sequence);
} transcoder_callbacks_t;

/* Counters, monotonic over the transcoder's life. */
typedef struct transcoder_stats {
    uint64_t submitted;          /* source segments offered */
    uint64_t dropped;            /* of those, dropped because the queue was full */
    uint64_t done;               /* source segments finished, ok or not */
    uint64_t failed;             /* of those, with an error (in the source or any rung) */
    uint64_t rendition_segments; /* rendition segments written and listed */
    uint64_t rendition_bytes;    /* their bytes */
    double rendition_duration_s; /* their media seconds */
    double decode_cpu_s;         /* worker CPU seconds (demux and decode) */
    double encode_cpu_s;         /* rung threads' CPU seconds (scale and encode) */
    double source_duration_s;    /* media seconds of the source segments done: the media the
                                    worker decoded (dropped segments are not) */
} transcoder_stats_t;

/* Parses the ladder and, unless it is empty, starts the worker thread (rendition directories are
 * created when a rung is first planned). config's strings are copied; callbacks may be NULL
 * (copied). Returns NULL with a message in err when the profiles are invalid, live_dir does not
 * exist, a setting is out of range or the thread cannot start. Free with transcoder_free. */
transcoder_t *transcoder_new(const transcoder_config_t *config,
                             const transcoder_callbacks_t *callbacks, char *err, size_t err_size);

/* True when the ladder has rungs (false: passthrough, submit does nothing). */
bool transcoder_active(const transcoder_t *t);

/* Queues a copy of a finished source segment; never blocks on media work. Returns 0 when queued
 * (or ignored: passthrough), 1 when the queue was full and the segment was dropped (counted,
 * on_dropped called), or -1 for a NULL argument. A segment submitted after
 * transcoder_finish reopens the rendition playlists (the source marks it as a discontinuity). */
int transcoder_submit(transcoder_t *t, const segment_info_t *segment);

/* Waits until every queued segment is done, then ends the rendition playlists with
 * #EXT-X-ENDLIST. Returns 0, or -1 when a playlist could not be written (logged). */
int transcoder_finish(transcoder_t *t);

/* Copies up to max renditions that have a playlist on disk, in the order of the profiles, into
 * out; returns how many there are (may exceed max). Any thread. */
size_t transcoder_renditions(transcoder_t *t, transcoder_rendition_t *out, size_t max);

/* Copies the counters into *out. Any thread. */
void transcoder_get_stats(transcoder_t *t, transcoder_stats_t *out);

/* Worker CPU seconds (demux and decode) per media second decoded: segments dropped under load
 * cost no CPU, so they do not count as media either. 0 before a segment is done. */
double transcoder_decode_cpu_per_media_s(const transcoder_stats_t *stats);

/* Stops the worker after the segment in progress (queued segments are discarded, playlists are
 * not ended), joins every thread and frees everything. NULL is a no-op. */
void transcoder_free(transcoder_t *t);

#endif
