/* Recovery of cut recordings: a recording directory left by a killed process is rebuilt from
 * what is on disk (the playlists, as far as they were written, and the complete segment files
 * after them) and finalized as recorder_finish would have. */
#include "media/recorder_recover.h"

#include "media/hls.h"
#include "media/segment_reader.h"
#include "media/recorder_internal.h"
#include "util/errbuf.h"
#include "util/fs.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#define LOG_MODULE "recorder"

#define PLAYLIST_READ_MAX (16u << 20) /* larger playlists are not read back */
#define TS_PACKET_BYTES 188           /* a complete .ts file is a whole number of these */

/* ---- probing unlisted segments ---- */

/* Timing of one stream while a file is read: first pts, largest pts, last frame step. */
typedef struct stream_span {
    bool seen;
    int64_t first_pts, max_pts, last_dts, step; /* stream time base */
} stream_span_t;

static void span_add(stream_span_t *span, const AVPacket *pkt)
{
    int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pts;
    if (pts == AV_NOPTS_VALUE)
        return;
    if (!span->seen) {
        *span = (stream_span_t){.seen = true, .first_pts = pts, .max_pts = pts, .last_dts = dts};
    } else {
        if (dts > span->last_dts)
            span->step = dts - span->last_dts;
        span->last_dts = dts;
        if (pts > span->max_pts)
            span->max_pts = pts;
    }
    if (pkt->duration > 0 && span->step == 0)
        span->step = pkt->duration;
}

/* Media seconds of a segment file as the segmenter measures them: from its first frame (video
 * when it has video) to one frame after its last. Returns 0, or RECORDER_ERR_MEDIA when the file
 * does not demux cleanly or has no frame of that stream. */
static int probe_duration(const char *path, double *duration_s, char *err, size_t err_size)
{
    segment_reader_t reader;
    if (segment_reader_open(&reader, path, err, err_size) < 0)
        return RECORDER_ERR_MEDIA;
    int main_stream = reader.video >= 0 ? reader.video : reader.audio;
    stream_span_t span = {0};
    AVPacket *pkt = av_packet_alloc();
    int read = pkt ? 1 : errbuf_set(err, err_size, -1, "out of memory reading %s", path);
    while (read > 0 && (read = segment_reader_read(&reader, pkt, err, err_size)) > 0) {
        if (pkt->stream_index == main_stream)
            span_add(&span, pkt);
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    AVRational time_base =
        main_stream >= 0 ? reader.in->streams[main_stream]->time_base : (AVRational){1, 1000000};
    segment_reader_close(&reader);
    if (read < 0)
        return RECORDER_ERR_MEDIA;
    if (!span.seen)
        return errbuf_set(err, err_size, RECORDER_ERR_MEDIA, "%s: no media frames", path);
    *duration_s = (double)(span.max_pts + span.step - span.first_pts) * av_q2d(time_base);
    return 0;
}

/* ---- reading back what was recorded ---- */

/* Takes a parsed playlist entry when its URI is a segment file named after the one before it. */
static int take_listed(void *opaque, const hls_segment_t *segment)
{
    recorder_segments_t *out = opaque;
    int64_t number = hls_segment_number(segment->uri, strlen(segment->uri));
    bool follows = out->count == 0 || number > out->items[out->count - 1].number;
    if (number < 0 || !follows)
        return 0;
    recorder_segment_t entry = {.number = number,
                                .duration_s = segment->duration_s,
                                .program_date_time_ms = segment->program_date_time_ms,
                                .discontinuity = segment->discontinuity};
    return recorder_segments_push(out, &entry);
}

static bool regular_file_size(const char *path, uint64_t *bytes)
{
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
        return false;
    *bytes = (uint64_t)st.st_size;
    return true;
}

/* Keeps the listed segments whose files exist, with their sizes. */
static void keep_existing(const char *rendition_dir, recorder_segments_t *segments)
{
    size_t kept = 0;
    bool missing = false;
    for (size_t i = 0; i < segments->count; i++) {
        recorder_segment_t s = segments->items[i];
        char path[PATH_MAX], uri[HLS_URI_MAX];
        hls_segment_name(s.number, uri, HLS_URI_MAX);
        if (fs_path_format(path, sizeof path, "%s/%s", rendition_dir, uri) < 0 ||
            !regular_file_size(path, &s.bytes)) {
            log_warn(LOG_MODULE, "%s: listed segment %s is missing", rendition_dir, uri);
            missing = true;
            continue;
        }
        s.discontinuity = s.discontinuity || missing;
        missing = false;
        segments->items[kept++] = s;
    }
    segments->count = kept;
}

static int compare_numbers(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Lists the NNNNN.ts numbers above after in a rendition directory, sorted, and deletes *.tmp
 * leftovers. Returns how many (in *numbers, caller frees), or -1 when out of memory. */
static ssize_t scan_segment_files(const char *rendition_dir, int64_t after, int64_t **numbers)
{
    *numbers = NULL;
    DIR *d = opendir(rendition_dir);
    if (!d)
        return 0;
    size_t count = 0, capacity = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        size_t suffix = strlen(FS_TMP_SUFFIX);
        if (len > suffix && strcmp(e->d_name + len - suffix, FS_TMP_SUFFIX) == 0) {
            unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        int64_t number = hls_segment_number(e->d_name, len);
        if (number <= after || count >= RECORDER_SEGMENTS_MAX)
            continue;
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            int64_t *grown = realloc(*numbers, capacity * sizeof *grown);
            if (!grown) {
                closedir(d);
                return -1;
            }
            *numbers = grown;
        }
        (*numbers)[count++] = number;
    }
    closedir(d);
    if (count > 0)
        qsort(*numbers, count, sizeof **numbers, compare_numbers);
    return (ssize_t)count;
}

/* Adds an unlisted segment file if it is complete: whole TS packets, and it demuxes. */
static int add_unlisted(const char *rendition_dir, int64_t number, recorder_segments_t *segments)
{
    char path[PATH_MAX], uri[HLS_URI_MAX], why[RECORDER_ERROR_MAX];
    hls_segment_name(number, uri, HLS_URI_MAX);
    recorder_segment_t s = {.number = number};
    if (fs_path_format(path, sizeof path, "%s/%s", rendition_dir, uri) < 0 ||
        !regular_file_size(path, &s.bytes))
        return 0;
    if (s.bytes % TS_PACKET_BYTES != 0 || probe_duration(path, &s.duration_s, why, sizeof why)) {
        log_warn(LOG_MODULE, "%s: left out incomplete segment %s", rendition_dir, uri);
        return 0;
    }
    if (segments->count > 0) {
        const recorder_segment_t *prev = &segments->items[segments->count - 1];
        s.discontinuity = number != prev->number + 1;
        if (prev->program_date_time_ms > 0 && !s.discontinuity)
            s.program_date_time_ms = prev->program_date_time_ms + llround(prev->duration_s * 1e3);
    }
    log_info(LOG_MODULE, "%s: recovered unlisted segment %s (%.3f s)", rendition_dir, uri,
             s.duration_s);
    return recorder_segments_push(segments, &s);
}

int recorder_read_rendition(const char *dir, const char *name, recorder_segments_t *segments)
{
    char rendition_dir[PATH_MAX], playlist[PATH_MAX];
    if (fs_path_format(rendition_dir, sizeof rendition_dir, "%s/%s", dir, name) < 0 ||
        fs_path_format(playlist, sizeof playlist, "%s/%s", rendition_dir, RECORDER_PLAYLIST_NAME) <
            0)
        return RECORDER_ERR_INVALID;
    size_t len = 0;
    char *text = fs_read_file(playlist, PLAYLIST_READ_MAX, &len);
    int ret = text ? hls_playlist_parse(text, len, take_listed, segments, NULL) : 0;
    free(text);
    if (ret < 0)
        return ret;
    keep_existing(rendition_dir, segments);
    int64_t after = segments->count ? segments->items[segments->count - 1].number : -1;
    int64_t *numbers = NULL;
    ssize_t found = scan_segment_files(rendition_dir, after, &numbers);
    for (ssize_t i = 0; i < found && ret == 0; i++)
        ret = add_unlisted(rendition_dir, numbers[i], segments);
    free(numbers);
    return found < 0 ? RECORDER_ERR_NOMEM : ret;
}

static int compare_renditions(const void *a, const void *b)
{
    const recorder_final_t *x = a, *y = b;
    bool x_source = strcmp(x->name, RECORDER_SOURCE_NAME) == 0,
         y_source = strcmp(y->name, RECORDER_SOURCE_NAME) == 0;
    if (x_source != y_source)
        return x_source ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Names of the rendition directories in dir, source first, then by name. */
static int list_renditions(const char *dir, recorder_final_t *out, size_t *count, char *err,
                           size_t err_size)
{
    DIR *d = opendir(dir);
    if (!d)
        return errbuf_set(err, err_size, RECORDER_ERR_IO, "cannot read %s: %s", dir,
                          strerror(errno));
    *count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (!recorder_name_valid(e->d_name) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (*count == RECORDER_RENDITIONS_MAX) {
            log_warn(LOG_MODULE, "%s: more than %d renditions, %s left out", dir,
                     RECORDER_RENDITIONS_MAX, e->d_name);
            continue;
        }
        memcpy(out[*count].name, e->d_name,
               strlen(e->d_name) + 1); /* recorder_name_valid: it fits */
        (*count)++;
    }
    closedir(d);
    qsort(out, *count, sizeof *out, compare_renditions);
    return 0;
}

/* Deletes the top-level leftovers of an interrupted finish. */
static void remove_top_leftovers(const char *dir)
{
    char path[PATH_MAX];
    if (fs_path_format(path, sizeof path, "%s/%s" FS_TMP_SUFFIX, dir, RECORDER_MP4_NAME) == 0)
        unlink(path);
    if (fs_path_format(path, sizeof path, "%s/%s" FS_TMP_SUFFIX, dir, RECORDER_PLAYLIST_NAME) == 0)
        unlink(path);
}

int recorder_recover(const char *dir, recorder_summary_t *out, char *err, size_t err_size)
{
    if (!dir || dir[0] == '\0' || strlen(dir) >= RECORDER_DIR_MAX)
        return errbuf_set(err, err_size, RECORDER_ERR_INVALID, "recover: bad directory");
    if (!fs_is_dir(dir))
        return errbuf_set(err, err_size, RECORDER_ERR_INVALID, "recover: %s is not a directory",
                          dir);
    remove_top_leftovers(dir);
    recorder_final_t renditions[RECORDER_RENDITIONS_MAX];
    memset(renditions, 0, sizeof renditions);
    size_t count = 0;
    int ret = list_renditions(dir, renditions, &count, err, err_size);
    for (size_t i = 0; i < count && ret == 0; i++) {
        ret = recorder_read_rendition(dir, renditions[i].name, &renditions[i].segments);
        if (ret < 0)
            errbuf_set(err, err_size, ret, "cannot recover %s/%s", dir, renditions[i].name);
    }
    if (ret == 0)
        ret = recorder_finalize(dir, renditions, count, out, err, err_size);
    recorder_finals_free(renditions, count);
    if (ret == 0)
        log_info(LOG_MODULE, "%s: recording recovered", dir);
    return ret;
}
