/* MP4 remux of recorded MPEG-TS segments: a stream copy of their first video and audio streams
 * into one MP4 (moov before mdat, so players start at once), every run after a discontinuity
 * rebased so the MP4's timeline has no gaps or overlaps and lasts the sum of the #EXTINF.
 * Stateless: any thread may call it; it blocks on disk and libavformat (seconds for a long
 * recording). */
#ifndef STREAMD_MEDIA_MP4_REMUX_H
#define STREAMD_MEDIA_MP4_REMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error codes (negative). */
enum {
    MP4_REMUX_ERR_IO = -1,    /* the MP4 could not be written or renamed into place (disk full) */
    MP4_REMUX_ERR_MEDIA = -2, /* a segment could not be read, holds no audio or video, or the
                                 muxer refused it */
    MP4_REMUX_ERR_NOMEM = -3,
};

/* One segment file to remux, in timeline order. */
typedef struct mp4_remux_segment {
    int64_t number;     /* the file is DIR/{hls_segment_name(number)} */
    double duration_s;  /* media seconds (#EXTINF): where the next segment starts */
    bool discontinuity; /* starts a new run: rebased to follow the segments before it */
} mp4_remux_segment_t;

/* Remuxes the count segments in segment_dir into path, through path.tmp renamed into place (no
 * path.tmp is left on failure). The tracks are those of the first segments with video and with
 * audio. segments is only read. Returns 0, or a negative MP4_REMUX_ERR_* with the reason in err
 * (the file named in it is path.tmp). */
int mp4_remux_write(const char *segment_dir, const mp4_remux_segment_t *segments, size_t count,
                    const char *path, char *err, size_t err_size);

#endif
