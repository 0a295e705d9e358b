/* Segmenter: cuts one live H.264/AAC feed into MPEG-TS segments (NNNNN.ts) in one rendition
 * directory and keeps that directory's live HLS playlist (index.m3u8) up to date.
 *
 * Nothing is written before the first video keyframe that follows an H.264 config; the stream set
 * is decided there (audio is in when its config came first; a later AAC config joins at the next
 * cut). A feed whose first frame is audio and that has sent no H.264 config is audio-only and is
 * cut on time alone; video that turns up later joins at its first keyframe. Segments are cut at
 * the first keyframe at or after start + target duration, and at once when a codec config changes.
 * A new stream set or config, a reconnect, or the publisher's clock jumping (back more than 1 s or
 * ahead more than 10 s) starts the next segment with #EXT-X-DISCONTINUITY.
 *
 * Each file is written to NNNNN.ts.tmp, renamed into place, listed in the playlist (rewritten
 * atomically), and then reported through on_segment. Timestamps run on continuously from file to
 * file, and across discontinuities too (a restarted clock is shifted to continue where the last
 * segment ended); they start at SEGMENTER_TIMELINE_START_MS at the earliest. Segment files that
 * slid out of the playlist window are deleted SEGMENTER_KEEP_EXTRA segments later, so slow players
 * can still fetch them: a recorder that wants every segment must take it (link or copy) in
 * on_segment.
 *
 * Threads: a segmenter belongs to one publish; its calls, and the on_segment callback, come one
 * after the other (from ingest). Different segmenters are independent. */
#ifndef STREAMD_MEDIA_SEGMENTER_H
#define STREAMD_MEDIA_SEGMENTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/media_packet.h"
#include "media/ts_mux.h"

typedef struct segmenter segmenter_t;

#define SEGMENTER_PATH_MAX 4096 /* bytes of a segment path, with the NUL */
#define SEGMENTER_KEEP_EXTRA 3  /* segments kept on disk after they slid out of the window */

/* Output timestamps never start below this (media ms): twice the mux delay (TS_MUX_DELAY_US), where
 * ffmpeg's own muxer starts too, so PCRs (that far ahead of the dts) are never negative, even for
 * audio that precedes the first keyframe. */
#define SEGMENTER_TIMELINE_START_MS (2 * TS_MUX_DELAY_US / 1000)

/* Error codes (negative); segmenter_strerror has the details of the last one. */
enum {
    SEGMENTER_ERR_IO = -1,      /* a segment could not be written (it is lost; the next one starts
                                   at the next keyframe with a discontinuity) or the playlist
                                   could not be rewritten (the segment is still listed and
                                   reported; the next write catches up); usable */
    SEGMENTER_ERR_INVALID = -2, /* the packet (or config) is malformed and was dropped; the
                                   segmenter stays usable */
    SEGMENTER_ERR_NOMEM = -3,
    SEGMENTER_ERR_STATE = -4, /* a packet after segmenter_finish without segmenter_discontinuity */
    SEGMENTER_ERR_MUX = -5,   /* libavformat refused a packet (dropped) or the streams of a new
                                 segment (none starts until a config changes); usable */
};

/* A finished segment, as listed in the playlist. */
typedef struct segment_info {
    int64_t sequence;              /* media sequence number (the NNNNN of the file name) */
    double duration_s;             /* media seconds, exactly what #EXTINF shows (ms precision) */
    uint64_t bytes;                /* size of the .ts file on disk */
    int64_t program_date_time_ms;  /* ms since epoch of the segment's first packet: the arrival
                                      time of the timeline's first packet plus media time since */
    bool discontinuity;            /* listed after #EXT-X-DISCONTINUITY */
    char path[SEGMENTER_PATH_MAX]; /* the .ts file, "DIR/NNNNN.ts" */
} segment_info_t;

typedef struct segmenter_config {
    const char *dir;          /* rendition directory, must exist, e.g. "data/live/{id}/source" */
    double target_duration_s; /* media seconds; <= 0 means 2.0 */
    int window_segments;      /* segments listed in the live playlist; 0 = all of them */
    int64_t first_sequence;   /* sequence number of the first segment; > 0 continues the
                                 numbering of an earlier segmenter, and that first segment is
                                 then marked as a discontinuity */
} segmenter_config_t;

typedef struct segmenter_callbacks {
    void *opaque; /* passed back to on_segment */
    /* Called on the writing thread once a segment is complete, renamed into place and listed in
     * the playlist. segment is valid only during the call. May be NULL. */
    void (*on_segment)(void *opaque, const segment_info_t *segment);
} segmenter_callbacks_t;

/* Counters, monotonic over the segmenter's life. */
typedef struct segmenter_stats {
    uint64_t segments;        /* segments listed */
    uint64_t dropped_packets; /* valid packets dropped: before the first keyframe, or while
                                 waiting for a keyframe after a config change or an error */
    uint64_t invalid_packets; /* malformed packets and configs rejected */
} segmenter_stats_t;

/* Creates a segmenter for config->dir (copied). callbacks may be NULL. Writes nothing yet: the
 * playlist appears with the first segment. Returns NULL with a message in err when the directory
 * does not exist or a setting is out of range. Free with segmenter_free. */
segmenter_t *segmenter_new(const segmenter_config_t *config, const segmenter_callbacks_t *callbacks,
                           char *err, size_t err_size);

/* Feeds one packet (configs included). Returns 0 when it was written or deliberately dropped
 * (waiting for a config or keyframe: counted in dropped_packets), or a SEGMENTER_ERR_* code. */
int segmenter_write(segmenter_t *s, const media_packet_t *packet);

/* The publisher reconnected (or will): closes and lists the current segment, forgets the codec
 * configs (the new publish sends its own), and tags the next segment with #EXT-X-DISCONTINUITY.
 * Timestamps may restart from 0 afterwards. After segmenter_finish this reopens the playlist: the
 * ENDLIST tag is removed at once and later segments continue it (there is no separate reopen).
 * Returns 0, or SEGMENTER_ERR_IO / SEGMENTER_ERR_NOMEM (the segmenter stays usable). */
int segmenter_discontinuity(segmenter_t *s);

/* End of broadcast: closes and lists the last segment and writes the playlist with
 * #EXT-X-ENDLIST. Further packets are refused until segmenter_discontinuity. Returns 0 or
 * SEGMENTER_ERR_IO (the playlist is still ended in memory). Calling it twice is harmless. */
int segmenter_finish(segmenter_t *s);

/* Segment files that slid out of a playlist window: they stay on disk SEGMENTER_KEEP_EXTRA more
 * segments, for slow players. Zero-initialised: none yet. The transcoder's renditions use it too.
 */
typedef struct segmenter_retired {
    int64_t sequences[SEGMENTER_KEEP_EXTRA + 1]; /* slid out, oldest first */
    size_t count;
} segmenter_retired_t;

/* Notes that segment sequence (dir/NNNNN.ts) slid out of the window and deletes the file of the
 * one that slid out SEGMENTER_KEEP_EXTRA segments before it; log_id names the stream in a
 * warning when that fails. */
void segmenter_retire(segmenter_retired_t *retired, const char *dir, int64_t sequence,
                      const char *log_id);

/* Sequence number the next segment will get (first_sequence + segments listed). */
int64_t segmenter_next_sequence(const segmenter_t *s);

/* Copies the counters into *out. */
void segmenter_get_stats(const segmenter_t *s, segmenter_stats_t *out);

/* Writes the RFC 6381 codecs of the current stream set into out ("avc1.64001f,mp4a.40.2",
 * "avc1.42c01e" or "mp4a.40.2"); returns 0, or -1 before the first segment started or when out is
 * too small. */
int segmenter_codecs(const segmenter_t *s, char *out, size_t size);

/* Message of the last error; "" when none. Valid until the next call on s. */
const char *segmenter_strerror(const segmenter_t *s);

/* Closes an open segment without listing it (its .tmp file is removed) and frees everything;
 * does not write ENDLIST. NULL is a no-op. */
void segmenter_free(segmenter_t *s);

#endif
