/* Recorder: every segment of a recorded session kept under its recording directory as it is
 * written, then closed into an HLS VOD and an MP4 of the source (see recorder.h for the layout).
 *
 * Crash safety rests on two rules: a segment file only appears under its final name complete
 * (linked or copied to NAME.tmp, then renamed), and a playlist only lists files already in place
 * (it is rewritten to index.m3u8.tmp and renamed after each segment). So after a kill -9 the
 * playlist on disk lists complete files only; at worst the newest file is not listed yet, and
 * recovery picks it up from the directory.
 *
 * The MP4 is written by mp4_remux.c; recorder_recover.c rebuilds a cut recording and hands it to
 * recorder_finalize, the same finalization recorder_finish runs.
 *
 * Locking: recorder.lock guards the rendition table and the failure state; each rendition's lock
 * guards its segment list and files. The two are never held together, so a slow copy on one
 * rendition never blocks another. */
#include "media/recorder.h"

#include "media/mp4_remux.h"
#include "media/segment_reader.h"
#include "media/recorder_internal.h"
#include "util/errbuf.h"
#include "util/fs.h"
#include "util/log.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#define LOG_MODULE "recorder"

#define DELETE_DEPTH_MAX 8 /* directory levels recorder_delete descends */

typedef struct rendition {
    char name[RECORDER_NAME_MAX];
    pthread_mutex_t lock; /* guards every field below */
    recorder_segments_t segments;
    recorder_variant_t variant;
    bool dir_ready; /* DIR/{name} exists */
    bool closed;    /* finish took it: no more segments */
    bool continued; /* it holds segments recorded before this recorder: the next one follows a
                       discontinuity */
} rendition_t;

struct recorder {
    char *dir;
    char *log_id;
    pthread_mutex_t lock; /* guards every field below (the renditions' own fields have theirs) */
    rendition_t *renditions[RECORDER_RENDITIONS_MAX]; /* in order of appearance */
    size_t rendition_count;
    bool failed;
    char reason[RECORDER_ERROR_MAX];
    bool finished; /* recorder_finish ran; finish_result is its result */
    int finish_result;
};

/* ---- small helpers ---- */

/* The recorder's code for a failed util/fs call. */
static int fs_code(int fs_ret)
{
    return fs_ret == -ENOMEM ? RECORDER_ERR_NOMEM : RECORDER_ERR_IO;
}

/* A rendition name becomes a directory name: a plain file name that is not hidden. */
bool recorder_name_valid(const char *name)
{
    return fs_name_is_safe(name) && strlen(name) < RECORDER_NAME_MAX;
}

/* mkdir -p: creates path and its missing parents. */
static int make_dirs(const char *path, char *err, size_t err_size)
{
    int ret = fs_mkdir_p(path, err, err_size);
    return ret == -EINVAL || ret == -ENAMETOOLONG ? RECORDER_ERR_INVALID
           : ret < 0                              ? fs_code(ret)
                                                  : 0;
}

/* ---- segment lists ---- */

int recorder_segments_push(recorder_segments_t *list, const recorder_segment_t *segment)
{
    if (list->count == list->capacity) {
        if (list->capacity >= RECORDER_SEGMENTS_MAX)
            return RECORDER_ERR_NOMEM;
        size_t capacity = list->capacity ? list->capacity * 2 : 64;
        recorder_segment_t *grown = realloc(list->items, capacity * sizeof *grown);
        if (!grown)
            return RECORDER_ERR_NOMEM;
        list->items = grown;
        list->capacity = capacity;
    }
    list->items[list->count++] = *segment;
    return 0;
}

static int segments_copy(recorder_segments_t *to, const recorder_segments_t *from)
{
    *to = (recorder_segments_t){0};
    if (from->count == 0)
        return 0;
    to->items = malloc(from->count * sizeof *to->items);
    if (!to->items)
        return RECORDER_ERR_NOMEM;
    memcpy(to->items, from->items, from->count * sizeof *to->items);
    to->count = to->capacity = from->count;
    return 0;
}

void recorder_segments_clear(recorder_segments_t *list)
{
    free(list->items);
    *list = (recorder_segments_t){0};
}

/* ---- rendition playlists ---- */

/* The media playlist of segments: EVENT while recording, VOD with ENDLIST when final. Media
 * sequence numbers count the recording's segments from 0 (file numbers may skip where the live
 * pipeline dropped a segment). Returns it (caller frees) or NULL when out of memory. */
static hls_playlist_t *media_playlist(const recorder_segments_t *segments, bool final)
{
    hls_playlist_t *playlist = hls_playlist_new(0, 1);
    if (!playlist)
        return NULL;
    for (size_t i = 0; i < segments->count; i++) {
        const recorder_segment_t *s = &segments->items[i];
        hls_segment_t entry = {
            .sequence = (int64_t)i,
            .duration_s = s->duration_s,
            .program_date_time_ms = s->program_date_time_ms,
            .discontinuity = s->discontinuity && i > 0,
        };
        hls_segment_name(s->number, entry.uri, HLS_URI_MAX);
        if (hls_playlist_append(playlist, &entry, NULL) < 0) {
            hls_playlist_free(playlist);
            return NULL;
        }
    }
    hls_playlist_set_type(playlist, final ? HLS_PLAYLIST_TYPE_VOD : HLS_PLAYLIST_TYPE_EVENT);
    hls_playlist_set_ended(playlist, final);
    return playlist;
}

static int write_media_playlist(const char *rendition_dir, const recorder_segments_t *segments,
                                bool final, char *err, size_t err_size)
{
    char path[PATH_MAX];
    if (fs_path_format(path, sizeof path, "%s/%s", rendition_dir, RECORDER_PLAYLIST_NAME) < 0)
        return errbuf_set(err, err_size, RECORDER_ERR_IO, "path too long: %s", rendition_dir);
    hls_playlist_t *playlist = media_playlist(segments, final);
    if (!playlist)
        return errbuf_set(err, err_size, RECORDER_ERR_NOMEM, "out of memory rendering %s", path);
    int ret = hls_playlist_write(playlist, path, err, err_size);
    hls_playlist_free(playlist);
    return ret == HLS_ERR_NOMEM ? RECORDER_ERR_NOMEM : ret < 0 ? RECORDER_ERR_IO : 0;
}

/* ---- taking a live segment ---- */

/* Puts a hard link to (or else a copy of) live_path at path, complete or not at all. */
static int take_file(const char *live_path, const char *path, char *err, size_t err_size)
{
    int ret = fs_link_or_copy(live_path, path, err, err_size);
    return ret < 0 ? fs_code(ret) : 0;
}

/* ---- the recorder ---- */

recorder_t *recorder_new(const char *dir, const char *log_id, char *err, size_t err_size)
{
    if (!dir || dir[0] == '\0') {
        errbuf_set(err, err_size, RECORDER_ERR_INVALID, "recorder: no directory");
        return NULL;
    }
    if (strlen(dir) >= RECORDER_DIR_MAX) {
        errbuf_set(err, err_size, RECORDER_ERR_INVALID, "recorder: directory path too long");
        return NULL;
    }
    if (make_dirs(dir, err, err_size) < 0)
        return NULL;
    if (access(dir, W_OK) != 0) {
        errbuf_set(err, err_size, RECORDER_ERR_IO, "cannot write to %s: %s", dir, strerror(errno));
        return NULL;
    }
    recorder_t *r = calloc(1, sizeof *r);
    if (!r)
        goto nomem;
    r->dir = strdup(dir);
    r->log_id = strdup(log_id ? log_id : dir);
    if (!r->dir || !r->log_id || pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r->dir);
        free(r->log_id);
        free(r);
        goto nomem;
    }
    return r;
nomem:
    errbuf_set(err, err_size, RECORDER_ERR_NOMEM, "recorder: out of memory");
    return NULL;
}

static void rendition_free(rendition_t *rendition)
{
    if (!rendition)
        return;
    pthread_mutex_destroy(&rendition->lock);
    recorder_segments_clear(&rendition->segments);
    free(rendition);
}

void recorder_free(recorder_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->rendition_count; i++)
        rendition_free(r->renditions[i]);
    pthread_mutex_destroy(&r->lock);
    free(r->dir);
    free(r->log_id);
    free(r);
}

/* Marks the recording failed (the first reason wins) and logs it once; returns code. */
static int fail_recording(recorder_t *r, int code, const char *reason)
{
    pthread_mutex_lock(&r->lock);
    bool first = !r->failed;
    if (first) {
        r->failed = true;
        snprintf(r->reason, sizeof r->reason, "%s", reason);
    }
    pthread_mutex_unlock(&r->lock);
    if (first)
        log_error(LOG_MODULE, "%s: recording failed: %s", r->log_id, reason);
    return code;
}

bool recorder_failed(const recorder_t *r, char *reason, size_t reason_size)
{
    if (!r)
        return false;
    /* Reading is logically const; only the lock changes. */
    recorder_t *locked = (recorder_t *)r;
    pthread_mutex_lock(&locked->lock);
    bool failed = r->failed;
    if (failed && reason && reason_size > 0)
        snprintf(reason, reason_size, "%s", r->reason);
    pthread_mutex_unlock(&locked->lock);
    return failed;
}

/* Finds rendition name, creating it when create is set; call with r->lock held. */
static rendition_t *rendition_find(recorder_t *r, const char *name, bool create)
{
    for (size_t i = 0; i < r->rendition_count; i++) {
        if (strcmp(r->renditions[i]->name, name) == 0)
            return r->renditions[i];
    }
    if (!create || r->rendition_count == RECORDER_RENDITIONS_MAX)
        return NULL;
    rendition_t *rendition = calloc(1, sizeof *rendition);
    if (!rendition)
        return NULL;
    if (pthread_mutex_init(&rendition->lock, NULL) != 0) {
        free(rendition);
        return NULL;
    }
    snprintf(rendition->name, sizeof rendition->name, "%s", name);
    /* A session continued from another node records into the same (shared) directory: what is
     * there already stays in the recording. */
    char dir[PATH_MAX];
    if (fs_path_format(dir, sizeof dir, "%s/%s", r->dir, name) >= 0 && fs_is_dir(dir)) {
        if (recorder_read_rendition(r->dir, name, &rendition->segments) < 0)
            log_warn(LOG_MODULE, "%s: earlier segments of %s could not all be read", r->log_id,
                     name);
        rendition->continued = rendition->segments.count > 0;
        rendition->dir_ready = true;
    }
    r->renditions[r->rendition_count++] = rendition;
    return rendition;
}

/* The rendition a new segment goes to; NULL with the error code in *code. */
static rendition_t *rendition_for_segment(recorder_t *r, const char *name, int *code)
{
    pthread_mutex_lock(&r->lock);
    rendition_t *rendition = NULL;
    if (r->failed)
        *code = RECORDER_ERR_FAILED;
    else if (r->finished)
        *code = RECORDER_ERR_STATE;
    else if (!(rendition = rendition_find(r, name, true)))
        *code = RECORDER_ERR_NOMEM;
    pthread_mutex_unlock(&r->lock);
    return rendition;
}

/* File number of a new segment: the live sequence number, unless that would not follow the last
 * file (a restarted numbering), which would overwrite a recorded file. */
static int64_t next_number(const rendition_t *rendition, const segment_info_t *segment)
{
    if (rendition->segments.count == 0)
        return segment->sequence >= 0 ? segment->sequence : 0;
    int64_t last = rendition->segments.items[rendition->segments.count - 1].number;
    return segment->sequence > last ? segment->sequence : last + 1;
}

/* Links the segment into the rendition directory and rewrites the playlist; call with the
 * rendition's lock held. */
static int rendition_add(const recorder_t *r, rendition_t *rendition, const segment_info_t *segment,
                         char *err, size_t err_size)
{
    char dir[PATH_MAX], path[PATH_MAX], uri[HLS_URI_MAX];
    if (fs_path_format(dir, sizeof dir, "%s/%s", r->dir, rendition->name) < 0)
        return errbuf_set(err, err_size, RECORDER_ERR_IO, "path too long: %s", r->dir);
    if (!rendition->dir_ready) {
        int ret = make_dirs(dir, err, err_size);
        if (ret < 0)
            return ret;
        rendition->dir_ready = true;
    }
    recorder_segment_t entry = {
        .number = next_number(rendition, segment),
        .duration_s = segment->duration_s,
        .program_date_time_ms = segment->program_date_time_ms,
        .discontinuity = segment->discontinuity || rendition->continued,
    };
    rendition->continued = false;
    hls_segment_name(entry.number, uri, HLS_URI_MAX);
    if (fs_path_format(path, sizeof path, "%s/%s", dir, uri) < 0)
        return errbuf_set(err, err_size, RECORDER_ERR_IO, "path too long: %s", dir);
    int ret = take_file(segment->path, path, err, err_size);
    if (ret < 0)
        return ret;
    struct stat st;
    entry.bytes = stat(path, &st) == 0 ? (uint64_t)st.st_size : segment->bytes;
    if (recorder_segments_push(&rendition->segments, &entry) < 0)
        return errbuf_set(err, err_size, RECORDER_ERR_NOMEM, "cannot list %s: out of memory", path);
    return write_media_playlist(dir, &rendition->segments, false, err, err_size);
}

static bool segment_valid(const segment_info_t *segment)
{
    return segment && segment->path[0] != '\0' &&
           strnlen(segment->path, sizeof segment->path) < sizeof segment->path &&
           isfinite(segment->duration_s) && segment->duration_s >= 0 &&
           segment->duration_s <= HLS_DURATION_MAX_S;
}

int recorder_add_segment(recorder_t *r, const char *name, const segment_info_t *segment)
{
    if (!r || !recorder_name_valid(name) || !segment_valid(segment))
        return RECORDER_ERR_INVALID;
    int code = 0;
    rendition_t *rendition = rendition_for_segment(r, name, &code);
    if (!rendition)
        return code == RECORDER_ERR_NOMEM
                   ? fail_recording(r, code, "out of memory (or too many renditions)")
                   : code;
    char err[RECORDER_ERROR_MAX] = "";
    pthread_mutex_lock(&rendition->lock);
    int ret = rendition->closed ? RECORDER_ERR_STATE
                                : rendition_add(r, rendition, segment, err, sizeof err);
    pthread_mutex_unlock(&rendition->lock);
    if (ret < 0 && ret != RECORDER_ERR_STATE)
        return fail_recording(r, ret, err);
    return ret;
}

static void variant_copy(recorder_variant_t *to, const hls_variant_t *from)
{
    to->bandwidth = from->bandwidth;
    to->average_bandwidth = from->average_bandwidth;
    to->width = from->width > 0 ? from->width : 0;
    to->height = from->height > 0 ? from->height : 0;
    to->frame_rate = isfinite(from->frame_rate) && from->frame_rate > 0 ? from->frame_rate : 0;
    to->codecs[0] = '\0';
    if (from->codecs && strlen(from->codecs) < sizeof to->codecs &&
        !strpbrk(from->codecs, "\"\r\n"))
        snprintf(to->codecs, sizeof to->codecs, "%s", from->codecs);
}

void recorder_set_variant(recorder_t *r, const char *name, const hls_variant_t *variant)
{
    if (!r || !recorder_name_valid(name) || !variant)
        return;
    pthread_mutex_lock(&r->lock);
    rendition_t *rendition = r->finished ? NULL : rendition_find(r, name, true);
    pthread_mutex_unlock(&r->lock);
    if (!rendition)
        return;
    pthread_mutex_lock(&rendition->lock);
    variant_copy(&rendition->variant, variant);
    pthread_mutex_unlock(&rendition->lock);
}

/* ---- probing segments ---- */

/* Fills the unknown parts of *variant (resolution, frame rate, codecs) from a segment's streams. */
static void probe_variant(const char *path, recorder_variant_t *variant)
{
    segment_reader_t reader;
    if (segment_reader_open(&reader, path, NULL, 0) < 0)
        return;
    if (segment_reader_probe(&reader, NULL, 0) < 0) {
        segment_reader_close(&reader);
        return;
    }
    const AVFormatContext *in = reader.in;
    char codecs[2 * HLS_CODEC_MAX] = "", avc1[HLS_CODEC_MAX] = "";
    int video = reader.video, audio = reader.audio;
    if (video >= 0) {
        const AVStream *st = in->streams[video];
        if (variant->width == 0 || variant->height == 0) {
            variant->width = st->codecpar->width;
            variant->height = st->codecpar->height;
        }
        AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
        if (variant->frame_rate == 0 && rate.num > 0 && rate.den > 0 && av_q2d(rate) <= 1000)
            variant->frame_rate = av_q2d(rate);
        if (st->codecpar->codec_id == AV_CODEC_ID_H264 && st->codecpar->extradata_size > 0)
            hls_codec_avc1(st->codecpar->extradata, (size_t)st->codecpar->extradata_size, avc1);
    }
    bool aac = audio >= 0 && in->streams[audio]->codecpar->codec_id == AV_CODEC_ID_AAC;
    int object_type = aac && in->streams[audio]->codecpar->profile >= 0
                          ? in->streams[audio]->codecpar->profile + 1
                          : 2; /* AAC LC unless the stream says otherwise */
    if (avc1[0] && aac)
        snprintf(codecs, sizeof codecs, "%s,mp4a.40.%d", avc1, object_type);
    else if (avc1[0] && audio < 0)
        snprintf(codecs, sizeof codecs, "%s", avc1);
    else if (aac && video < 0)
        snprintf(codecs, sizeof codecs, "mp4a.40.%d", object_type);
    if (variant->codecs[0] == '\0')
        memcpy(variant->codecs, codecs, sizeof codecs);
    segment_reader_close(&reader);
}

/* ---- finalization ---- */

/* Remuxes the source segments into DIR/output.mp4 (through output.mp4.tmp). */
static int write_mp4(const char *dir, const recorder_segments_t *segments, char *err,
                     size_t err_size)
{
    char source_dir[PATH_MAX], path[PATH_MAX];
    if (fs_path_format(source_dir, sizeof source_dir, "%s/%s", dir, RECORDER_SOURCE_NAME) < 0 ||
        fs_path_format(path, sizeof path, "%s/%s", dir, RECORDER_MP4_NAME) < 0)
        return errbuf_set(err, err_size, RECORDER_ERR_IO, "path too long: %s", dir);
    mp4_remux_segment_t *media = malloc((segments->count ? segments->count : 1) * sizeof *media);
    if (!media)
        return errbuf_set(err, err_size, RECORDER_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < segments->count; i++)
        media[i] = (mp4_remux_segment_t){.number = segments->items[i].number,
                                         .duration_s = segments->items[i].duration_s,
                                         .discontinuity = segments->items[i].discontinuity};
    int ret = mp4_remux_write(source_dir, media, segments->count, path, err, err_size);
    free(media);
    return ret == MP4_REMUX_ERR_IO      ? RECORDER_ERR_IO
           : ret == MP4_REMUX_ERR_NOMEM ? RECORDER_ERR_NOMEM
           : ret < 0                    ? RECORDER_ERR_MEDIA
                                        : 0;
}

/* Bandwidths measured from the segments: the largest segment's rate and the overall rate. */
static void measure_bandwidth(const recorder_segments_t *segments, uint64_t *peak_bps,
                              uint64_t *avg_bps)
{
    double peak = 0, bytes = 0, seconds = 0;
    for (size_t i = 0; i < segments->count; i++) {
        const recorder_segment_t *s = &segments->items[i];
        bytes += (double)s->bytes;
        seconds += s->duration_s;
        if (s->duration_s > 0.1 && (double)s->bytes * 8 / s->duration_s > peak)
            peak = (double)s->bytes * 8 / s->duration_s;
    }
    double average = seconds > 0 ? bytes * 8 / seconds : 0;
    *avg_bps = (uint64_t)llround(average);
    *peak_bps = (uint64_t)llround(peak > average ? peak : average);
}

static int write_master(const char *dir, recorder_final_t *renditions, size_t count, char *err,
                        size_t err_size)
{
    hls_variant_t variants[RECORDER_RENDITIONS_MAX];
    char uris[RECORDER_RENDITIONS_MAX][HLS_URI_MAX];
    size_t listed = 0;
    for (size_t i = 0; i < count && listed < RECORDER_RENDITIONS_MAX; i++) {
        recorder_final_t *f = &renditions[i];
        if (f->segments.count == 0)
            continue;
        recorder_variant_t *v = &f->variant;
        char first[PATH_MAX], uri[HLS_URI_MAX];
        hls_segment_name(f->segments.items[0].number, uri, HLS_URI_MAX);
        if (fs_path_format(first, sizeof first, "%s/%s/%s", dir, f->name, uri) == 0 &&
            (v->width == 0 || v->frame_rate == 0 || v->codecs[0] == '\0'))
            probe_variant(first, v);
        uint64_t peak = 0, average = 0;
        measure_bandwidth(&f->segments, &peak, &average);
        if (v->average_bandwidth)
            average = v->average_bandwidth;
        if (v->bandwidth)
            peak = v->bandwidth > average ? v->bandwidth : average; /* a peak is never lower */
        snprintf(uris[listed], HLS_URI_MAX, "%s/%s", f->name, RECORDER_PLAYLIST_NAME);
        variants[listed] = (hls_variant_t){
            .uri = uris[listed],
            .bandwidth = peak,
            .average_bandwidth = average,
            .width = v->width,
            .height = v->height,
            .frame_rate = v->frame_rate,
            .codecs = v->codecs,
        };
        listed++;
    }
    char path[PATH_MAX];
    if (fs_path_format(path, sizeof path, "%s/%s", dir, RECORDER_PLAYLIST_NAME) < 0)
        return errbuf_set(err, err_size, RECORDER_ERR_IO, "path too long: %s", dir);
    int ret = hls_write_master(path, variants, listed, err, err_size);
    return ret == HLS_ERR_NOMEM ? RECORDER_ERR_NOMEM : ret < 0 ? RECORDER_ERR_IO : 0;
}

static const recorder_final_t *find_source(const recorder_final_t *renditions, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(renditions[i].name, RECORDER_SOURCE_NAME) == 0 &&
            renditions[i].segments.count > 0)
            return &renditions[i];
    }
    return NULL;
}

static void summarize(const recorder_final_t *renditions, size_t count,
                      const recorder_final_t *source, recorder_summary_t *out)
{
    if (!out)
        return;
    *out = (recorder_summary_t){0};
    for (size_t i = 0; i < source->segments.count; i++) {
        out->source_segments++;
        out->source_duration_s += source->segments.items[i].duration_s;
        out->source_bytes += source->segments.items[i].bytes;
    }
    for (size_t i = 0; i < count; i++)
        out->renditions += renditions[i].segments.count > 0;
}

/* Writes the VOD playlists, the MP4 and then the master (the last file: its presence with the
 * MP4 means the recording is whole). renditions are in master order. */
int recorder_finalize(const char *dir, recorder_final_t *renditions, size_t count,
                      recorder_summary_t *out, char *err, size_t err_size)
{
    const recorder_final_t *source = find_source(renditions, count);
    if (!source)
        return errbuf_set(err, err_size, RECORDER_ERR_MEDIA, "no source segment was recorded");
    for (size_t i = 0; i < count; i++) {
        if (renditions[i].segments.count == 0)
            continue;
        char rendition_dir[PATH_MAX];
        if (fs_path_format(rendition_dir, sizeof rendition_dir, "%s/%s", dir, renditions[i].name))
            return errbuf_set(err, err_size, RECORDER_ERR_IO, "path too long: %s", dir);
        int ret = write_media_playlist(rendition_dir, &renditions[i].segments, true, err, err_size);
        if (ret < 0)
            return ret;
    }
    int ret = write_mp4(dir, &source->segments, err, err_size);
    if (ret == 0)
        ret = write_master(dir, renditions, count, err, err_size);
    if (ret == 0)
        summarize(renditions, count, source, out);
    return ret;
}

void recorder_finals_free(recorder_final_t *renditions, size_t count)
{
    for (size_t i = 0; i < count; i++)
        recorder_segments_clear(&renditions[i].segments);
}

/* Copies the renditions out of the recorder, source first, closing each to new segments. */
static int take_renditions(recorder_t *r, recorder_final_t *out, size_t *count)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->rendition_count;
    rendition_t *renditions[RECORDER_RENDITIONS_MAX];
    memcpy(renditions, r->renditions, n * sizeof renditions[0]);
    pthread_mutex_unlock(&r->lock);
    int ret = 0;
    *count = 0;
    for (int pass = 0; pass < 2; pass++) { /* the source first, then the rest in order */
        for (size_t i = 0; i < n; i++) {
            rendition_t *rendition = renditions[i];
            if ((strcmp(rendition->name, RECORDER_SOURCE_NAME) == 0) != (pass == 0))
                continue;
            recorder_final_t *f = &out[(*count)++];
            pthread_mutex_lock(&rendition->lock);
            rendition->closed = true;
            snprintf(f->name, sizeof f->name, "%s", rendition->name);
            f->variant = rendition->variant;
            if (segments_copy(&f->segments, &rendition->segments) < 0)
                ret = RECORDER_ERR_NOMEM;
            pthread_mutex_unlock(&rendition->lock);
        }
    }
    return ret;
}

/* Marks the recorder finished; returns 1 when it already was (result in *result), -1 when it has
 * failed (reason in err), 0 when this call is to finish it. */
static int begin_finish(recorder_t *r, int *result, char *err, size_t err_size)
{
    pthread_mutex_lock(&r->lock);
    int state = 0;
    if (r->failed) {
        errbuf_set(err, err_size, 0, "%s", r->reason);
        state = -1;
    } else if (r->finished) {
        *result = r->finish_result;
        state = 1;
    }
    r->finished = true;
    pthread_mutex_unlock(&r->lock);
    return state;
}

int recorder_finish(recorder_t *r, char *err, size_t err_size)
{
    if (!r)
        return errbuf_set(err, err_size, RECORDER_ERR_INVALID, "no recorder");
    int result = 0;
    int state = begin_finish(r, &result, err, err_size);
    if (state < 0)
        return RECORDER_ERR_FAILED;
    if (state > 0)
        return result;
    recorder_final_t renditions[RECORDER_RENDITIONS_MAX];
    memset(renditions, 0, sizeof renditions);
    size_t count = 0;
    char reason[RECORDER_ERROR_MAX] = "";
    int ret = take_renditions(r, renditions, &count);
    if (ret < 0)
        errbuf_set(reason, sizeof reason, ret, "out of memory");
    else
        ret = recorder_finalize(r->dir, renditions, count, NULL, reason, sizeof reason);
    recorder_finals_free(renditions, count);
    pthread_mutex_lock(&r->lock);
    r->finish_result = ret;
    pthread_mutex_unlock(&r->lock);
    if (ret < 0) {
        fail_recording(r, ret, reason);
        return errbuf_set(err, err_size, ret, "%s", reason);
    }
    log_info(LOG_MODULE, "%s: recording ready in %s", r->log_id, r->dir);
    return 0;
}

/* ---- deletion ---- */

int recorder_delete(const char *dir, char *err, size_t err_size)
{
    int ret = fs_remove_tree(dir, DELETE_DEPTH_MAX, err, err_size);
    if (ret < 0)
        return ret == -EINVAL ? RECORDER_ERR_INVALID : RECORDER_ERR_IO;
    log_info(LOG_MODULE, "deleted recording %s", dir);
    return 0;
}
