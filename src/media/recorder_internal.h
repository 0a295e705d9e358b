/* What the recorder's two halves share, and no other module may use: recorder.c (recording live
 * segments, finalization) and recorder_recover.c (rebuilding a cut recording from disk). The
 * lists below belong to whoever holds them; recorder_segments_clear frees one. Functions keep no
 * state: any thread may call them on lists it owns. */
#ifndef STREAMD_MEDIA_RECORDER_INTERNAL_H
#define STREAMD_MEDIA_RECORDER_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/hls.h"
#include "media/recorder.h"

#define RECORDER_NAME_MAX 64                /* bytes of a rendition name, with the NUL */
#define RECORDER_DIR_MAX (PATH_MAX - 128)   /* room for "/{name}/NNNNN.ts.tmp" after the dir */
#define RECORDER_SOURCE_NAME "source"       /* the rendition remuxed into the MP4 */
#define RECORDER_PLAYLIST_NAME "index.m3u8" /* media playlists and the master */
#define RECORDER_MP4_NAME "output.mp4"      /* the source remuxed */
#define RECORDER_SEGMENTS_MAX 1000000       /* segments per rendition: 23 days of 2 s segments */

/* One recorded segment, as listed in its rendition playlist. */
typedef struct recorder_segment {
    int64_t number;               /* the NNNNN of its file name */
    double duration_s;            /* media seconds (#EXTINF) */
    int64_t program_date_time_ms; /* ms since epoch; 0 = unknown */
    uint64_t bytes;               /* size of the file */
    bool discontinuity;           /* listed after #EXT-X-DISCONTINUITY */
} recorder_segment_t;

typedef struct recorder_segments {
    recorder_segment_t *items; /* in playlist order, numbers increasing */
    size_t count, capacity;
} recorder_segments_t;

/* What the master playlist says of a rendition; 0 / "" = unknown (filled at the end). */
typedef struct recorder_variant {
    uint64_t bandwidth;         /* bits per second, peak */
    uint64_t average_bandwidth; /* bits per second */
    int width, height;          /* pixels */
    double frame_rate;          /* frames per second */
    char codecs[2 * HLS_CODEC_MAX];
} recorder_variant_t;

/* A rendition handed to finalization: the recorder's own, or rebuilt from disk by recovery. */
typedef struct recorder_final {
    char name[RECORDER_NAME_MAX];
    recorder_segments_t segments;
    recorder_variant_t variant;
} recorder_final_t;

/* True when name may be a rendition (a directory name): a safe file name shorter than
 * RECORDER_NAME_MAX bytes. */
bool recorder_name_valid(const char *name);

/* Appends a copy of segment; RECORDER_ERR_NOMEM when out of memory or past
 * RECORDER_SEGMENTS_MAX. */
int recorder_segments_push(recorder_segments_t *list, const recorder_segment_t *segment);

/* Frees the list's items and empties it. */
void recorder_segments_clear(recorder_segments_t *list);

/* Writes the VOD playlists of the renditions (in master order) that have segments, the MP4 of
 * the source and then the master, the last file (its presence with the MP4 means the recording
 * is whole); fills *out (may be NULL). Probed variant fields are filled in place. Returns 0, or a
 * RECORDER_ERR_* with the reason in err. */
int recorder_finalize(const char *dir, recorder_final_t *renditions, size_t count,
                      recorder_summary_t *out, char *err, size_t err_size);

/* Reads what the recording in dir holds of rendition name into segments: the complete files its
 * playlist lists, then those written after it (a cut recording, or one another process
 * recorded). Returns 0, or a RECORDER_ERR_*. */
int recorder_read_rendition(const char *dir, const char *name, recorder_segments_t *segments);

/* Frees the segment lists of count renditions. */
void recorder_finals_free(recorder_final_t *renditions, size_t count);

#endif
