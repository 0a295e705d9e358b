/* Recorder: keeps every segment of a recorded session under data/rec/{sessionId}/ as it is
 * written, and turns them into an HLS VOD (a master and one media playlist per rendition) and an
 * MP4 of the source rendition once the session is final.
 *
 * Layout of a recording directory DIR:
 *   DIR/{name}/NNNNN.ts      segments of rendition name ("source" or a profile name), hard links
 *                            to the live files (copies when linking fails, e.g. across file
 *                            systems); NNNNN is the live segment's sequence number
 *   DIR/{name}/index.m3u8    its playlist: #EXT-X-PLAYLIST-TYPE:EVENT while recording, VOD with
 *                            #EXT-X-ENDLIST once final
 *   DIR/index.m3u8           master playlist, written when final
 *   DIR/output.mp4           the source segments remuxed (stream copy, moov before mdat)
 * Every file is written to NAME.tmp and renamed into place, and a segment is listed only after
 * its file is in place, so after a kill -9 every listed segment is complete and a playlist is
 * never half written; recorder_recover (recorder_recover.h) finalizes such a directory. The MP4
 * is written by mp4_remux.c.
 *
 * Threads: recorder_add_segment and recorder_set_variant may be called from any thread,
 * concurrently (the ingest thread for "source", the transcoder worker for renditions);
 * recorder_failed from any thread; recorder_finish from one thread, typically housekeeping, once
 * no more segments are coming (segments offered after it are refused); recorder_free after every
 * other call has returned. recorder_delete keeps no state and any thread may call it, but never
 * on a directory a live recorder is writing. */
#ifndef STREAMD_MEDIA_RECORDER_H
#define STREAMD_MEDIA_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/hls.h"
#include "media/segmenter.h"

typedef struct recorder recorder_t;

#define RECORDER_ERROR_MAX 256     /* bytes of an error message or failure reason, with the NUL */
#define RECORDER_RENDITIONS_MAX 17 /* renditions per recording: the source and 16 rungs */

/* Error codes (negative). */
enum {
    RECORDER_ERR_IO = -1,      /* a file could not be written, linked or renamed (disk full,
                                  unwritable directory); the recording is failed */
    RECORDER_ERR_INVALID = -2, /* bad argument (NULL, a rendition name that is not a plain file
                                  name); nothing changed */
    RECORDER_ERR_NOMEM = -3,   /* the recording is failed */
    RECORDER_ERR_FAILED = -4,  /* the recording failed earlier; recorder_failed has the reason */
    RECORDER_ERR_STATE = -5,   /* a segment after recorder_finish; refused, nothing changed */
    RECORDER_ERR_MEDIA = -6,   /* nothing to finalize (no source segment) or libavformat could
                                  not read a segment or write the MP4; the recording is failed */
};

/* What a finalized recording holds, to make a session's counters match what is on disk. */
typedef struct recorder_summary {
    uint64_t source_segments; /* source segments listed in the VOD playlist */
    double source_duration_s; /* media seconds: the sum of their #EXTINF */
    uint64_t source_bytes;    /* bytes of their .ts files */
    size_t renditions;        /* renditions in the master playlist, source included */
} recorder_summary_t;

/* Creates the recorder of one session, writing into dir (created with its parents; e.g.
 * "data/rec/{sessionId}"). log_id names the session in log lines (NULL = dir). Both strings are
 * copied. A rendition dir already holds (the session was continued from another node, on a shared
 * recordings directory) is continued: its segments stay listed and the first new one follows a
 * discontinuity. Returns NULL with a message in err when dir cannot be created or is not a
 * directory, or when out of memory; the caller then marks the recording failed. Free with
 * recorder_free. */
recorder_t *recorder_new(const char *dir, const char *log_id, char *err, size_t err_size);

/* Records a finished segment of rendition name ("source" or a profile name: [A-Za-z0-9_.-], not
 * starting with '.'): links (or copies) segment->path to DIR/{name}/NNNNN.ts and lists it in
 * DIR/{name}/index.m3u8, after #EXT-X-DISCONTINUITY when segment->discontinuity. segment is only
 * read during the call; the live file may be deleted as soon as it returns. Returns 0, or
 * RECORDER_ERR_IO / _NOMEM (the recording is now failed, with the reason logged and kept),
 * RECORDER_ERR_FAILED at once after an earlier failure, RECORDER_ERR_STATE after
 * recorder_finish, RECORDER_ERR_INVALID for bad arguments. Never affects the live files. */
int recorder_add_segment(recorder_t *r, const char *name, const segment_info_t *segment);

/* Sets what the master playlist says of rendition name: bandwidth, average_bandwidth, width,
 * height, frame_rate and codecs are copied (uri is ignored: it is always "{name}/index.m3u8").
 * Any time before recorder_finish; the last call wins. Fields left 0 or NULL are filled at finish
 * from the recorded segments (bandwidths from their sizes, the rest probed from the first one);
 * a bandwidth below the average is raised to it. */
void recorder_set_variant(recorder_t *r, const char *name, const hls_variant_t *variant);

/* True when the recording failed; the reason (when reason is not NULL) goes to reason. */
bool recorder_failed(const recorder_t *r, char *reason, size_t reason_size);

/* The session is final: closes every rendition playlist as VOD (#EXT-X-PLAYLIST-TYPE:VOD,
 * #EXT-X-ENDLIST), remuxes the source segments into DIR/output.mp4 (stream copy, +faststart;
 * every run after a discontinuity is rebased so the MP4's timeline has no gaps or overlaps and
 * lasts the sum of the #EXTINF) and writes the master DIR/index.m3u8 listing the renditions that
 * have segments, source first. Blocking (seconds for a long session): run it off the media
 * threads. Returns 0 when the recording is ready (again 0 when called twice), or a negative
 * RECORDER_ERR_* with the reason in err (the recording is then failed). */
int recorder_finish(recorder_t *r, char *err, size_t err_size);

/* Frees the recorder; files on disk stay as they are (an unfinished recording can still be
 * finalized with recorder_recover). NULL is a no-op. */
void recorder_free(recorder_t *r);

/* Deletes the recording directory dir and everything in it, for retention. Never leaves dir:
 * symbolic links are removed, not followed, and other file systems mounted inside are not
 * entered (the call then fails). Returns 0 (also when dir does not exist), or RECORDER_ERR_IO /
 * RECORDER_ERR_INVALID ("", "/", a symbolic link, not a directory) with a message in err. */
int recorder_delete(const char *dir, char *err, size_t err_size);

#endif
