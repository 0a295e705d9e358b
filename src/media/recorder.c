/* Recorder: every segment of a recorded session kept under its recording directory as it is
 * written, then closed into an HLS VOD and an MP4 of the source (see recorder.h for the layout).
 *
 * Crash safety rests on two rules: a segment file only appears under its final name complete
 * (linked or copied to NAME.tmp, then renamed), and a playlist only lists files already in place
 * (it is rewritten to index.m3u8.tmp and renamed after each segment). So after a kill -9 the
 * playlist on disk lists complete files only; at worst the newest file is not listed yet, and
 * recovery picks it up from the directory.
 *
 * Locking: recorder.lock guards the rendition table and the failure state; each rendition's lock
 * guards its segment list and files. The two are never held together, so a slow copy on one
 * rendition never blocks another. */
#include "media/recorder.h"

#include "media/ts_mux.h"
#include "util/errbuf.h"
#include "util/fs.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#define LOG_MODULE "recorder"

#define NAME_MAX_BYTES 64             /* bytes of a rendition name, with the NUL */
#define DIR_MAX (PATH_MAX - 128)      /* room for "/{name}/NNNNN.ts.tmp" after the dir */
#define SOURCE_NAME "source"          /* the rendition remuxed into the MP4 */
#define PLAYLIST_NAME "index.m3u8"    /* media playlists and the master */
#define MP4_NAME "output.mp4"         /* the source remuxed */
#define PLAYLIST_READ_MAX (16u << 20) /* larger playlists are not read back by recovery */
#define SEGMENTS_MAX 1000000          /* segments per rendition: 23 days of 2 s segments */
#define MAX_EXTINF_S 3600.0           /* longer #EXTINF values are not ours: ignored */
#define TS_PACKET_BYTES 188           /* a complete .ts file is a whole number of these */
#define REBASE_TOLERANCE_US 500000    /* a run off its expected start by more is rebased */
#define HEAD_PACKETS_MAX 512          /* packets read ahead to find a segment's first frame */
#define MAP_STREAMS 16                /* input streams of a segment looked at by the remux */
#define DELETE_DEPTH_MAX 8            /* directory levels recorder_delete descends */

static const AVRational us_time_base = {1, 1000000};

/* One recorded segment, as listed in its rendition playlist. */
typedef struct rec_segment {
    int64_t number;               /* the NNNNN of its file name */
    double duration_s;            /* media seconds (#EXTINF) */
    int64_t program_date_time_ms; /* ms since epoch; 0 = unknown */
    uint64_t bytes;               /* size of the file */
    bool discontinuity;           /* listed after #EXT-X-DISCONTINUITY */
} rec_segment_t;

typedef struct seg_list {
    rec_segment_t *items; /* in playlist order, numbers increasing */
    size_t count, capacity;
} seg_list_t;

/* What the master playlist says of a rendition; 0 / "" = unknown (filled at the end). */
typedef struct variant_info {
    uint64_t bandwidth;         /* bits per second, peak */
    uint64_t average_bandwidth; /* bits per second */
    int width, height;          /* pixels */
    double frame_rate;          /* frames per second */
    char codecs[2 * HLS_CODEC_MAX];
} variant_info_t;

typedef struct rendition {
    char name[NAME_MAX_BYTES];
    pthread_mutex_t lock; /* guards every field below */
    seg_list_t segments;
    variant_info_t variant;
    bool dir_ready; /* DIR/{name} exists */
    bool closed;    /* finish took it: no more segments */
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

/* A rendition handed to finalization: the recorder's own, or rebuilt from disk by recovery. */
typedef struct final_rendition {
    char name[NAME_MAX_BYTES];
    seg_list_t segments;
    variant_info_t variant;
} final_rendition_t;

/* ---- small helpers ---- */

static const char *av_error_text(int code, char *buf, size_t size)
{
    if (av_strerror(code, buf, size) < 0)
        snprintf(buf, size, "libavformat error %d", code);
    return buf;
}

/* The recorder's code for a failed util/fs call. */
static int fs_code(int fs_ret)
{
    return fs_ret == -ENOMEM ? RECORDER_ERR_NOMEM : RECORDER_ERR_IO;
}

/* A rendition name becomes a directory name: a plain file name that is not hidden. */
static bool name_valid(const char *name)
{
    return fs_name_is_safe(name) && strlen(name) < NAME_MAX_BYTES;
}

/* mkdir -p: creates path and its missing parents. */
static int make_dirs(const char *path, char *err, size_t err_size)
{
    int ret = fs_mkdir_p(path, err, err_size);
    return ret == -EINVAL || ret == -ENAMETOOLONG ? RECORDER_ERR_INVALID
           : ret < 0                              ? fs_code(ret)
                                                  : 0;
}

/* Writes text to path.tmp and renames it over path, so readers see all of it or none. */
static int write_atomic(const char *path, const char *text, size_t len, char *err, size_t err_size)
{
    int ret = fs_write_atomic(path, text, len, err, err_size);
    return ret < 0 ? fs_code(ret) : 0;
}

/* ---- segment lists ---- */

static int seg_list_push(seg_list_t *list, const rec_segment_t *segment)
{
    if (list->count == list->capacity) {
        if (list->capacity >= SEGMENTS_MAX)
            return RECORDER_ERR_NOMEM;
        size_t capacity = list->capacity ? list->capacity * 2 : 64;
        rec_segment_t *grown = realloc(list->items, capacity * sizeof *grown);
        if (!grown)
            return RECORDER_ERR_NOMEM;
        list->items = grown;
        list->capacity = capacity;
    }
    list->items[list->count++] = *segment;
    return 0;
}

static int seg_list_copy(seg_list_t *to, const seg_list_t *from)
{
    *to = (seg_list_t){0};
    if (from->count == 0)
        return 0;
    to->items = malloc(from->count * sizeof *to->items);
    if (!to->items)
        return RECORDER_ERR_NOMEM;
    memcpy(to->items, from->items, from->count * sizeof *to->items);
    to->count = to->capacity = from->count;
    return 0;
}

static void seg_list_clear(seg_list_t *list)
{
    free(list->items);
    *list = (seg_list_t){0};
}

/* ---- rendition playlists ---- */

/* Renders the media playlist of segments: EVENT while recording, VOD with ENDLIST when final.
 * Media sequence numbers count the recording's segments from 0 (file numbers may skip where the
 * live pipeline dropped a segment). Returns the text (caller frees) or NULL when out of memory. */
static char *render_media_playlist(const seg_list_t *segments, bool final)
{
    hls_playlist_t *playlist = hls_playlist_new(0, 1);
    if (!playlist)
        return NULL;
    for (size_t i = 0; i < segments->count; i++) {
        const rec_segment_t *s = &segments->items[i];
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
    hls_playlist_set_ended(playlist, final);
    char *body = hls_playlist_render(playlist);
    hls_playlist_free(playlist);
    if (!body)
        return NULL;
    /* #EXTM3U must stay the first line; the type tag may go anywhere in the header. */
    const char *type = final ? "#EXT-X-PLAYLIST-TYPE:VOD\n" : "#EXT-X-PLAYLIST-TYPE:EVENT\n";
    const char *rest = strchr(body, '\n');
    rest = rest ? rest + 1 : body + strlen(body);
    char *text = NULL;
    if (asprintf(&text, "%.*s%s%s", (int)(rest - body), body, type, rest) < 0)
        text = NULL;
    free(body);
    return text;
}

static int write_media_playlist(const char *rendition_dir, const seg_list_t *segments, bool final,
                                char *err, size_t err_size)
{
    char path[PATH_MAX];
    if (fs_path_format(path, sizeof path, "%s/%s", rendition_dir, PLAYLIST_NAME) < 0)
        return errbuf_set(err, err_size, RECORDER_ERR_IO, "path too long: %s", rendition_dir);
    char *text = render_media_playlist(segments, final);
    if (!text)
        return errbuf_set(err, err_size, RECORDER_ERR_NOMEM, "out of memory rendering %s", path);
    int ret = write_atomic(path, text, strlen(text), err, err_size);
    free(text);
    return ret;
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
    if (strlen(dir) >= DIR_MAX) {
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
    seg_list_clear(&rendition->segments);
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
    rec_segment_t entry = {
        .number = next_number(rendition, segment),
        .duration_s = segment->duration_s,
        .program_date_time_ms = segment->program_date_time_ms,
        .discontinuity = segment->discontinuity,
    };
    hls_segment_name(entry.number, uri, HLS_URI_MAX);
    if (fs_path_format(path, sizeof path, "%s/%s", dir, uri) < 0)
        return errbuf_set(err, err_size, RECORDER_ERR_IO, "path too long: %s", dir);
    int ret = take_file(segment->path, path, err, err_size);
    if (ret < 0)
        return ret;
    struct stat st;
    entry.bytes = stat(path, &st) == 0 ? (uint64_t)st.st_size : segment->bytes;
    if (seg_list_push(&rendition->segments, &entry) < 0)
        return errbuf_set(err, err_size, RECORDER_ERR_NOMEM, "cannot list %s: out of memory", path);
    return write_media_playlist(dir, &rendition->segments, false, err, err_size);
}

static bool segment_valid(const segment_info_t *segment)
{
    return segment && segment->path[0] != '\0' &&
           strnlen(segment->path, sizeof segment->path) < sizeof segment->path &&
           isfinite(segment->duration_s) && segment->duration_s >= 0 &&
           segment->duration_s <= MAX_EXTINF_S;
}

int recorder_add_segment(recorder_t *r, const char *name, const segment_info_t *segment)
{
    if (!r || !name_valid(name) || !segment_valid(segment))
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

static void variant_copy(variant_info_t *to, const hls_variant_t *from)
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
    if (!r || !name_valid(name) || !variant)
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

static int open_input(const char *path, AVFormatContext **in, char *err, size_t err_size)
{
    char url[PATH_MAX + 8];
    /* "file:" keeps a ':' in a directory name from being read as a protocol. */
    if (fs_path_format(url, sizeof url, "file:%s", path) < 0)
        return errbuf_set(err, err_size, RECORDER_ERR_MEDIA, "path too long: %s", path);
    *in = NULL;
    int ret = avformat_open_input(in, url, av_find_input_format("mpegts"), NULL);
    if (ret < 0) {
        char text[128];
        return errbuf_set(err, err_size, RECORDER_ERR_MEDIA, "cannot read %s: %s", path,
                          av_error_text(ret, text, sizeof text));
    }
    return 0;
}

/* First stream of a type in a demuxer, or -1. */
static int first_stream(const AVFormatContext *in, enum AVMediaType type)
{
    for (unsigned i = 0; i < in->nb_streams; i++) {
        if (in->streams[i]->codecpar->codec_type == type)
            return (int)i;
    }
    return -1;
}

/* "avc1.PPCCLL" from an H.264 extradata in Annex B (as MPEG-TS gives it) or avcC form. */
static void codec_avc1(const AVCodecParameters *par, char out[HLS_CODEC_MAX])
{
    const uint8_t *data = par->extradata;
    size_t size = par->extradata_size > 0 ? (size_t)par->extradata_size : 0;
    out[0] = '\0';
    if (size >= 4 && data[0] == 1) {
        hls_codec_avc1(data, size, out);
        return;
    }
    for (size_t i = 0; i + 6 < size; i++) { /* start code, then an SPS NAL unit (type 7) */
        if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 && (data[i + 3] & 0x1f) == 7) {
            snprintf(out, HLS_CODEC_MAX, "avc1.%02x%02x%02x", data[i + 4], data[i + 5],
                     data[i + 6]);
            return;
        }
    }
}

/* Fills the unknown parts of *variant (resolution, frame rate, codecs) from a segment's streams. */
static void probe_variant(const char *path, variant_info_t *variant)
{
    AVFormatContext *in = NULL;
    if (open_input(path, &in, NULL, 0) < 0)
        return;
    if (avformat_find_stream_info(in, NULL) < 0) {
        avformat_close_input(&in);
        return;
    }
    char codecs[2 * HLS_CODEC_MAX] = "", avc1[HLS_CODEC_MAX] = "";
    int video = first_stream(in, AVMEDIA_TYPE_VIDEO);
    int audio = first_stream(in, AVMEDIA_TYPE_AUDIO);
    if (video >= 0) {
        const AVStream *st = in->streams[video];
        if (variant->width == 0 || variant->height == 0) {
            variant->width = st->codecpar->width;
            variant->height = st->codecpar->height;
        }
        AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
        if (variant->frame_rate == 0 && rate.num > 0 && rate.den > 0 && av_q2d(rate) <= 1000)
            variant->frame_rate = av_q2d(rate);
        if (st->codecpar->codec_id == AV_CODEC_ID_H264)
            codec_avc1(st->codecpar, avc1);
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
    avformat_close_input(&in);
}

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
    AVFormatContext *in = NULL;
    int ret = open_input(path, &in, err, err_size);
    if (ret < 0)
        return ret;
    int main_stream = first_stream(in, AVMEDIA_TYPE_VIDEO);
    if (main_stream < 0)
        main_stream = first_stream(in, AVMEDIA_TYPE_AUDIO);
    stream_span_t span = {0};
    AVPacket *pkt = av_packet_alloc();
    int read = pkt ? 0 : AVERROR(ENOMEM);
    while (read >= 0 && (read = av_read_frame(in, pkt)) >= 0) {
        if (pkt->stream_index == main_stream)
            span_add(&span, pkt);
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    AVRational time_base = main_stream >= 0 ? in->streams[main_stream]->time_base : us_time_base;
    avformat_close_input(&in);
    if (read != AVERROR_EOF || !span.seen) {
        char text[128];
        return errbuf_set(err, err_size, RECORDER_ERR_MEDIA, "%s: %s", path,
                          read != AVERROR_EOF ? av_error_text(read, text, sizeof text)
                                              : "no media frames");
    }
    *duration_s = (double)(span.max_pts + span.step - span.first_pts) * av_q2d(time_base);
    return 0;
}

/* ---- MP4 remux ---- */

enum { TRACK_VIDEO, TRACK_AUDIO, TRACK_COUNT };

typedef struct remux_track {
    int out_index;     /* output stream, -1 = none */
    AVPacket *pending; /* held back one packet, to give it the duration up to the next */
    bool have_pending, have_last;
    int64_t last_dts;   /* output time base: the last dts written (strictly increasing) */
    int64_t last_delta; /* output time base: the last frame duration, for the final packet */
} remux_track_t;

typedef struct remux {
    AVFormatContext *out;
    const char *tmp_path;
    remux_track_t track[TRACK_COUNT];
    bool anchored;                      /* a segment with frames set offset_us */
    int64_t offset_us;                  /* added to a segment's input timestamps (microseconds) */
    double elapsed_s;                   /* #EXTINF sum of the segments before the current one */
    ts_mux_audio_reader_t audio_reader; /* times the AAC frames sharing a PES packet */
    char *err;
    size_t err_size;
} remux_t;

/* Codec parameters of the first segments that have video and audio: the MP4's tracks. */
static int find_track_params(const char *dir, const seg_list_t *segments,
                             AVCodecParameters *params[TRACK_COUNT], char *err, size_t err_size)
{
    static const enum AVMediaType types[TRACK_COUNT] = {AVMEDIA_TYPE_VIDEO, AVMEDIA_TYPE_AUDIO};
    for (size_t i = 0; i < segments->count && !(params[0] && params[1]); i++) {
        char path[PATH_MAX], uri[HLS_URI_MAX];
        hls_segment_name(segments->items[i].number, uri, HLS_URI_MAX);
        if (fs_path_format(path, sizeof path, "%s/%s", dir, uri) < 0)
            return errbuf_set(err, err_size, RECORDER_ERR_MEDIA, "path too long: %s", dir);
        AVFormatContext *in = NULL;
        int ret = open_input(path, &in, err, err_size);
        if (ret < 0)
            return ret;
        bool probed = false;
        for (int t = 0; t < TRACK_COUNT && ret == 0; t++) {
            int index = first_stream(in, types[t]);
            if (params[t] || index < 0)
                continue;
            if (!probed && avformat_find_stream_info(in, NULL) >= 0)
                probed = true;
            params[t] = avcodec_parameters_alloc();
            if (!params[t] || avcodec_parameters_copy(params[t], in->streams[index]->codecpar) < 0)
                ret = errbuf_set(err, err_size, RECORDER_ERR_NOMEM, "out of memory");
        }
        avformat_close_input(&in);
        if (ret < 0)
            return ret;
    }
    if (!params[0] && !params[1])
        return errbuf_set(err, err_size, RECORDER_ERR_MEDIA, "no audio or video in the source");
    return 0;
}

static int remux_add_streams(remux_t *m, AVCodecParameters *params[TRACK_COUNT])
{
    for (int t = 0; t < TRACK_COUNT; t++) {
        m->track[t].out_index = -1;
        if (!params[t])
            continue;
        AVStream *st = avformat_new_stream(m->out, NULL);
        if (!st || avcodec_parameters_copy(st->codecpar, params[t]) < 0)
            return errbuf_set(m->err, m->err_size, RECORDER_ERR_NOMEM, "out of memory");
        st->codecpar->codec_tag = 0; /* MPEG-TS stream types mean nothing in MP4 */
        st->time_base = t == TRACK_VIDEO || params[t]->sample_rate <= 0
                            ? (AVRational){1, 90000}
                            : (AVRational){1, params[t]->sample_rate};
        m->track[t].out_index = st->index;
        m->track[t].pending = av_packet_alloc();
        if (!m->track[t].pending)
            return errbuf_set(m->err, m->err_size, RECORDER_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* Creates the muxer writing tmp_path with the tracks of params. */
static int remux_open(remux_t *m, AVCodecParameters *params[TRACK_COUNT])
{
    char url[PATH_MAX + 8], text[128];
    if (fs_path_format(url, sizeof url, "file:%s", m->tmp_path) < 0)
        return errbuf_set(m->err, m->err_size, RECORDER_ERR_IO, "path too long: %s", m->tmp_path);
    int ret = avformat_alloc_output_context2(&m->out, NULL, "mp4", url);
    if (ret < 0 || !m->out)
        return errbuf_set(m->err, m->err_size, RECORDER_ERR_MEDIA,
                          "cannot create the MP4 muxer: %s", av_error_text(ret, text, sizeof text));
    ret = remux_add_streams(m, params);
    if (ret < 0)
        return ret;
    ret = avio_open(&m->out->pb, url, AVIO_FLAG_WRITE);
    if (ret < 0)
        return errbuf_set(m->err, m->err_size, RECORDER_ERR_IO, "cannot create %s: %s", m->tmp_path,
                          av_error_text(ret, text, sizeof text));
    AVDictionary *options = NULL;
    av_dict_set(&options, "movflags", "+faststart", 0); /* moov first: players start at once */
    ret = avformat_write_header(m->out, &options);
    av_dict_free(&options);
    if (ret < 0)
        return errbuf_set(m->err, m->err_size, RECORDER_ERR_MEDIA,
                          "MP4 muxer refused the source streams: %s",
                          av_error_text(ret, text, sizeof text));
    return 0;
}

/* Writes a packet; a write error of the file is an I/O error (disk full), the rest media. */
static int remux_write(remux_t *m, AVPacket *pkt)
{
    int ret = av_interleaved_write_frame(m->out, pkt);
    char text[128];
    if (m->out->pb && m->out->pb->error < 0)
        return errbuf_set(m->err, m->err_size, RECORDER_ERR_IO, "cannot write %s: %s", m->tmp_path,
                          av_error_text(m->out->pb->error, text, sizeof text));
    if (ret < 0)
        return errbuf_set(m->err, m->err_size, RECORDER_ERR_MEDIA, "MP4 muxer refused a packet: %s",
                          av_error_text(ret, text, sizeof text));
    return 0;
}

/* Passes on the held-back packet of a track, its duration now known, and holds pkt (when not
 * NULL) instead. */
static int remux_hold(remux_t *m, remux_track_t *track, AVPacket *pkt)
{
    int ret = 0;
    if (track->have_pending) {
        AVPacket *held = track->pending;
        if (pkt && pkt->dts > held->dts && held->duration <= 0)
            held->duration = pkt->dts - held->dts;
        if (held->duration <= 0)
            held->duration = track->last_delta;
        if (held->duration > 0)
            track->last_delta = held->duration;
        ret = remux_write(m, held); /* takes the reference */
        track->have_pending = false;
    }
    if (pkt && ret == 0) {
        av_packet_move_ref(track->pending, pkt);
        track->have_pending = true;
    }
    return ret;
}

/* One AAC frame of the track's parameters in time base tb; 0 when they give no sample rate. */
static int64_t aac_frame_duration(const AVCodecParameters *par, AVRational tb)
{
    int samples = par->frame_size > 0 ? par->frame_size : 1024;
    return par->sample_rate > 0 ? av_rescale_q(samples, (AVRational){1, par->sample_rate}, tb) : 0;
}

/* Maps a segment's packet onto the MP4 timeline and writes (holds) it; drops packets of streams
 * the MP4 has no track for and packets without timestamps. */
static int remux_packet(remux_t *m, const AVFormatContext *in, const int map[MAP_STREAMS],
                        AVPacket *pkt)
{
    int t = pkt->stream_index >= 0 && pkt->stream_index < MAP_STREAMS ? map[pkt->stream_index] : -1;
    if (t < 0)
        return 0;
    remux_track_t *track = &m->track[t];
    AVRational in_tb = in->streams[pkt->stream_index]->time_base;
    AVRational out_tb = m->out->streams[track->out_index]->time_base;
    if (t == TRACK_AUDIO) /* the segmenter packs AAC frames into PES packets: time them all */
        ts_mux_audio_fill(&m->audio_reader, pkt,
                          aac_frame_duration(m->out->streams[track->out_index]->codecpar, in_tb));
    if (pkt->dts == AV_NOPTS_VALUE && pkt->pts == AV_NOPTS_VALUE)
        return 0;
    int64_t offset = av_rescale_q(m->offset_us, us_time_base, out_tb);
    int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    dts = av_rescale_q(dts, in_tb, out_tb) + offset;
    pts = av_rescale_q(pts, in_tb, out_tb) + offset;
    /* The muxer needs strictly increasing dts; a run's edge may overlap by a frame. The first
     * packets may be negative (see remux_rebase). */
    int64_t floor_dts = track->have_last ? track->last_dts + 1 : INT64_MIN;
    if (dts < floor_dts) {
        pts += floor_dts - dts;
        dts = floor_dts;
    }
    pkt->dts = dts;
    pkt->pts = pts < dts ? dts : pts;
    pkt->duration = av_rescale_q(pkt->duration, in_tb, out_tb);
    pkt->stream_index = track->out_index;
    pkt->pos = -1;
    track->last_dts = dts;
    track->have_last = true;
    return remux_hold(m, track, pkt);
}

/* Where a segment starts, in input microseconds: the pts of its first video frame (its first
 * audio frame without video), which is where the segmenter measured its #EXTINF from. */
static bool segment_start_us(const AVFormatContext *in, AVPacket **head, size_t count,
                             int main_stream, int64_t *start_us)
{
    for (size_t i = 0; i < count; i++) {
        const AVPacket *pkt = head[i];
        if (pkt->stream_index == main_stream && pkt->pts != AV_NOPTS_VALUE) {
            AVRational tb = in->streams[pkt->stream_index]->time_base;
            *start_us = av_rescale_q(pkt->pts, tb, us_time_base);
            return true;
        }
    }
    return false;
}

/* Sets the offset of a segment so that the MP4 timeline is the sum of the #EXTINF: the first
 * segment's first frame is at 0 (B-frames and audio a little earlier get negative times, which
 * the MP4 edit list hides), and a discontinuity, or a start off where the timeline expects it,
 * rebases its run to begin where the segments before it end. */
static void remux_rebase(remux_t *m, const rec_segment_t *segment, int64_t start_us)
{
    int64_t expected_us = llround(m->elapsed_s * 1e6);
    int64_t drift = start_us + m->offset_us - expected_us;
    if (!m->anchored || segment->discontinuity || drift > REBASE_TOLERANCE_US ||
        drift < -REBASE_TOLERANCE_US)
        m->offset_us = expected_us - start_us;
    m->anchored = true;
}

/* Reads packets into head until the segment's first main frame is among them. */
static size_t read_head(AVFormatContext *in, AVPacket **head, int main_stream)
{
    size_t count = 0;
    while (count < HEAD_PACKETS_MAX) {
        AVPacket *pkt = av_packet_alloc();
        if (!pkt || av_read_frame(in, pkt) < 0) {
            av_packet_free(&pkt);
            break;
        }
        head[count++] = pkt;
        if (pkt->stream_index == main_stream)
            break;
    }
    return count;
}

static int remux_rest(remux_t *m, AVFormatContext *in, const int map[MAP_STREAMS])
{
    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return errbuf_set(m->err, m->err_size, RECORDER_ERR_NOMEM, "out of memory");
    int ret = 0;
    while (ret == 0 && av_read_frame(in, pkt) >= 0) {
        ret = remux_packet(m, in, map, pkt);
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    return ret;
}

/* Input stream -> MP4 track: the first video and the first audio stream of the segment. */
static void map_streams(const remux_t *m, const AVFormatContext *in, int map[MAP_STREAMS])
{
    for (int i = 0; i < MAP_STREAMS; i++)
        map[i] = -1;
    int video = first_stream(in, AVMEDIA_TYPE_VIDEO), audio = first_stream(in, AVMEDIA_TYPE_AUDIO);
    if (video >= 0 && video < MAP_STREAMS && m->track[TRACK_VIDEO].out_index >= 0)
        map[video] = TRACK_VIDEO;
    if (audio >= 0 && audio < MAP_STREAMS && m->track[TRACK_AUDIO].out_index >= 0)
        map[audio] = TRACK_AUDIO;
}

static int remux_segment(remux_t *m, const char *path, const rec_segment_t *segment)
{
    AVFormatContext *in = NULL;
    int ret = open_input(path, &in, m->err, m->err_size);
    if (ret < 0)
        return ret;
    m->audio_reader = (ts_mux_audio_reader_t){0}; /* a file's first frame opens a PES packet */
    int map[MAP_STREAMS];
    map_streams(m, in, map);
    int main_stream = first_stream(in, AVMEDIA_TYPE_VIDEO);
    if (main_stream < 0)
        main_stream = first_stream(in, AVMEDIA_TYPE_AUDIO);
    AVPacket *head[HEAD_PACKETS_MAX];
    size_t count = read_head(in, head, main_stream);
    int64_t start_us = 0;
    bool found = segment_start_us(in, head, count, main_stream, &start_us);
    if (found)
        remux_rebase(m, segment, start_us);
    else
        log_warn(LOG_MODULE, "%s: no media frame found, left out of the MP4", path);
    for (size_t i = 0; i < count; i++) {
        if (ret == 0 && found)
            ret = remux_packet(m, in, map, head[i]);
        av_packet_free(&head[i]);
    }
    if (ret == 0 && found)
        ret = remux_rest(m, in, map);
    avformat_close_input(&in);
    m->elapsed_s += segment->duration_s;
    return ret;
}

static int remux_finish(remux_t *m)
{
    for (int t = 0; t < TRACK_COUNT; t++) {
        if (m->track[t].out_index >= 0) {
            int ret = remux_hold(m, &m->track[t], NULL);
            if (ret < 0)
                return ret;
        }
    }
    char text[128];
    int ret = av_write_trailer(m->out);
    if (ret < 0 || (m->out->pb && m->out->pb->error < 0))
        return errbuf_set(m->err, m->err_size, RECORDER_ERR_IO, "cannot finish %s: %s", m->tmp_path,
                          av_error_text(ret < 0 ? ret : m->out->pb->error, text, sizeof text));
    ret = avio_closep(&m->out->pb);
    if (ret < 0)
        return errbuf_set(m->err, m->err_size, RECORDER_ERR_IO, "cannot close %s: %s", m->tmp_path,
                          av_error_text(ret, text, sizeof text));
    return 0;
}

static void remux_free(remux_t *m)
{
    for (int t = 0; t < TRACK_COUNT; t++)
        av_packet_free(&m->track[t].pending);
    if (m->out) {
        if (m->out->pb)
            avio_closep(&m->out->pb);
        avformat_free_context(m->out);
    }
}

static int remux_all(remux_t *m, const char *source_dir, const seg_list_t *segments)
{
    AVCodecParameters *params[TRACK_COUNT] = {NULL, NULL};
    int ret = find_track_params(source_dir, segments, params, m->err, m->err_size);
    if (ret == 0)
        ret = remux_open(m, params);
    for (int t = 0; t < TRACK_COUNT; t++)
        avcodec_parameters_free(&params[t]);
    for (size_t i = 0; i < segments->count && ret == 0; i++) {
        char path[PATH_MAX], uri[HLS_URI_MAX];
        hls_segment_name(segments->items[i].number, uri, HLS_URI_MAX);
        if (fs_path_format(path, sizeof path, "%s/%s", source_dir, uri) < 0)
            return errbuf_set(m->err, m->err_size, RECORDER_ERR_MEDIA, "path too long: %s",
                              source_dir);
        ret = remux_segment(m, path, &segments->items[i]);
    }
    if (ret == 0 && !m->anchored)
        ret = errbuf_set(m->err, m->err_size, RECORDER_ERR_MEDIA, "no media frames in the source");
    return ret == 0 ? remux_finish(m) : ret;
}

/* Remuxes the source segments into DIR/output.mp4 (through output.mp4.tmp). */
static int write_mp4(const char *dir, const seg_list_t *segments, char *err, size_t err_size)
{
    char source_dir[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX];
    if (fs_path_format(source_dir, sizeof source_dir, "%s/%s", dir, SOURCE_NAME) < 0 ||
        fs_path_format(tmp, sizeof tmp, "%s/%s.tmp", dir, MP4_NAME) < 0 ||
        fs_path_format(path, sizeof path, "%s/%s", dir, MP4_NAME) < 0)
        return errbuf_set(err, err_size, RECORDER_ERR_IO, "path too long: %s", dir);
    remux_t m = {.tmp_path = tmp, .err = err, .err_size = err_size};
    int ret = remux_all(&m, source_dir, segments);
    remux_free(&m);
    if (ret == 0 && fs_rename_into_place(tmp, path, err, err_size) < 0)
        ret = RECORDER_ERR_IO;
    else if (ret < 0)
        unlink(tmp);
    return ret;
}

/* ---- finalization ---- */

/* Bandwidths measured from the segments: the largest segment's rate and the overall rate. */
static void measure_bandwidth(const seg_list_t *segments, uint64_t *peak_bps, uint64_t *avg_bps)
{
    double peak = 0, bytes = 0, seconds = 0;
    for (size_t i = 0; i < segments->count; i++) {
        const rec_segment_t *s = &segments->items[i];
        bytes += (double)s->bytes;
        seconds += s->duration_s;
        if (s->duration_s > 0.1 && (double)s->bytes * 8 / s->duration_s > peak)
            peak = (double)s->bytes * 8 / s->duration_s;
    }
    double average = seconds > 0 ? bytes * 8 / seconds : 0;
    *avg_bps = (uint64_t)llround(average);
    *peak_bps = (uint64_t)llround(peak > average ? peak : average);
}

static int write_master(const char *dir, final_rendition_t *renditions, size_t count, char *err,
                        size_t err_size)
{
    hls_variant_t variants[RECORDER_RENDITIONS_MAX];
    char uris[RECORDER_RENDITIONS_MAX][HLS_URI_MAX];
    size_t listed = 0;
    for (size_t i = 0; i < count && listed < RECORDER_RENDITIONS_MAX; i++) {
        final_rendition_t *f = &renditions[i];
        if (f->segments.count == 0)
            continue;
        variant_info_t *v = &f->variant;
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
        snprintf(uris[listed], HLS_URI_MAX, "%s/%s", f->name, PLAYLIST_NAME);
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
    if (fs_path_format(path, sizeof path, "%s/%s", dir, PLAYLIST_NAME) < 0)
        return errbuf_set(err, err_size, RECORDER_ERR_IO, "path too long: %s", dir);
    int ret = hls_write_master(path, variants, listed, err, err_size);
    return ret == HLS_ERR_NOMEM ? RECORDER_ERR_NOMEM : ret < 0 ? RECORDER_ERR_IO : 0;
}

static const final_rendition_t *find_source(const final_rendition_t *renditions, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(renditions[i].name, SOURCE_NAME) == 0 && renditions[i].segments.count > 0)
            return &renditions[i];
    }
    return NULL;
}

static void summarize(const final_rendition_t *renditions, size_t count,
                      const final_rendition_t *source, recorder_summary_t *out)
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
static int finalize(const char *dir, final_rendition_t *renditions, size_t count,
                    recorder_summary_t *out, char *err, size_t err_size)
{
    const final_rendition_t *source = find_source(renditions, count);
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

static void final_renditions_free(final_rendition_t *renditions, size_t count)
{
    for (size_t i = 0; i < count; i++)
        seg_list_clear(&renditions[i].segments);
}

/* Copies the renditions out of the recorder, source first, closing each to new segments. */
static int take_renditions(recorder_t *r, final_rendition_t *out, size_t *count)
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
            if ((strcmp(rendition->name, SOURCE_NAME) == 0) != (pass == 0))
                continue;
            final_rendition_t *f = &out[(*count)++];
            pthread_mutex_lock(&rendition->lock);
            rendition->closed = true;
            snprintf(f->name, sizeof f->name, "%s", rendition->name);
            f->variant = rendition->variant;
            if (seg_list_copy(&f->segments, &rendition->segments) < 0)
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
    final_rendition_t renditions[RECORDER_RENDITIONS_MAX];
    memset(renditions, 0, sizeof renditions);
    size_t count = 0;
    char reason[RECORDER_ERROR_MAX] = "";
    int ret = take_renditions(r, renditions, &count);
    if (ret < 0)
        errbuf_set(reason, sizeof reason, ret, "out of memory");
    else
        ret = finalize(r->dir, renditions, count, NULL, reason, sizeof reason);
    final_renditions_free(renditions, count);
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

/* ---- recovery ---- */

/* Parses "NNNNN.ts" (digits only); returns the number or -1. */
static int64_t parse_segment_name(const char *name, size_t len)
{
    if (len < 4 || len > 18 + 3 || memcmp(name + len - 3, ".ts", 3) != 0)
        return -1;
    int64_t number = 0;
    for (size_t i = 0; i < len - 3; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        number = number * 10 + (name[i] - '0');
    }
    return number;
}

/* Parses "2024-05-01T12:00:00.123Z" into ms since epoch; 0 when it does not parse. */
static int64_t parse_date_time(const char *text, size_t len)
{
    char buf[64];
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, text, len);
    buf[len] = '\0';
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest || rest[0] != '.' || strlen(rest) != 5 || rest[4] != 'Z')
        return 0;
    int ms = 0;
    for (int i = 1; i <= 3; i++) {
        if (rest[i] < '0' || rest[i] > '9')
            return 0;
        ms = ms * 10 + (rest[i] - '0');
    }
    time_t seconds = timegm(&tm);
    return seconds > 0 ? (int64_t)seconds * 1000 + ms : 0;
}

/* Playlist entry being assembled from its tags. */
typedef struct pending_entry {
    bool have_duration, discontinuity;
    double duration_s;
    int64_t program_date_time_ms;
} pending_entry_t;

static bool line_is(const char *line, size_t len, const char *tag)
{
    size_t tag_len = strlen(tag);
    return len >= tag_len && memcmp(line, tag, tag_len) == 0;
}

static void parse_extinf(const char *value, size_t len, pending_entry_t *pending)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return;
    memcpy(buf, value, len);
    buf[len] = '\0';
    char *end = NULL;
    double duration = strtod(buf, &end);
    if (end != buf && (*end == ',' || *end == '\0') && isfinite(duration) && duration >= 0 &&
        duration <= MAX_EXTINF_S) {
        pending->duration_s = duration;
        pending->have_duration = true;
    }
}

/* Handles one complete line of a playlist; a URI line completes an entry. */
static int parse_line(const char *line, size_t len, pending_entry_t *pending, seg_list_t *out)
{
    static const char extinf[] = "#EXTINF:", pdt[] = "#EXT-X-PROGRAM-DATE-TIME:";
    if (line_is(line, len, extinf)) {
        parse_extinf(line + strlen(extinf), len - strlen(extinf), pending);
    } else if (len == strlen("#EXT-X-DISCONTINUITY") &&
               line_is(line, len, "#EXT-X-DISCONTINUITY")) {
        pending->discontinuity = true;
    } else if (line_is(line, len, pdt)) {
        pending->program_date_time_ms = parse_date_time(line + strlen(pdt), len - strlen(pdt));
    } else if (len > 0 && line[0] != '#') {
        int64_t number = parse_segment_name(line, len);
        bool follows = out->count == 0 || number > out->items[out->count - 1].number;
        if (pending->have_duration && number >= 0 && follows) {
            rec_segment_t entry = {.number = number,
                                   .duration_s = pending->duration_s,
                                   .program_date_time_ms = pending->program_date_time_ms,
                                   .discontinuity = pending->discontinuity};
            if (seg_list_push(out, &entry) < 0)
                return RECORDER_ERR_NOMEM;
        }
        *pending = (pending_entry_t){0};
    }
    return 0;
}

/* Parses a playlist we wrote, possibly cut short by a crash: only entries whose URI line is
 * complete count; anything that is not ours is skipped. Appends to out (numbers increasing). */
static int parse_playlist(const char *text, size_t len, seg_list_t *out)
{
    pending_entry_t pending = {0};
    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *newline = memchr(line, '\n', len - pos);
        if (!newline)
            break; /* the last line was cut short */
        size_t line_len = (size_t)(newline - line);
        pos += line_len + 1;
        if (line_len > 0 && line[line_len - 1] == '\r')
            line_len--;
        int ret = parse_line(line, line_len, &pending, out);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* Reads a whole file, up to PLAYLIST_READ_MAX bytes; returns the bytes (caller frees), or NULL
 * when it is missing or out of memory. */
static char *read_file(const char *path, size_t *len)
{
    FILE *file = fopen(path, "rbe");
    if (!file)
        return NULL;
    struct stat st;
    size_t size = fstat(fileno(file), &st) == 0 && st.st_size > 0 ? (size_t)st.st_size : 0;
    if (size > PLAYLIST_READ_MAX)
        size = PLAYLIST_READ_MAX;
    char *buf = malloc(size + 1);
    *len = buf ? fread(buf, 1, size, file) : 0;
    fclose(file);
    return buf;
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
static void keep_existing(const char *rendition_dir, seg_list_t *segments)
{
    size_t kept = 0;
    bool missing = false;
    for (size_t i = 0; i < segments->count; i++) {
        rec_segment_t s = segments->items[i];
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
        if (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0) {
            unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        int64_t number = parse_segment_name(e->d_name, len);
        if (number <= after || count >= SEGMENTS_MAX)
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
static int add_unlisted(const char *rendition_dir, int64_t number, seg_list_t *segments)
{
    char path[PATH_MAX], uri[HLS_URI_MAX], why[RECORDER_ERROR_MAX];
    hls_segment_name(number, uri, HLS_URI_MAX);
    rec_segment_t s = {.number = number};
    if (fs_path_format(path, sizeof path, "%s/%s", rendition_dir, uri) < 0 ||
        !regular_file_size(path, &s.bytes))
        return 0;
    if (s.bytes % TS_PACKET_BYTES != 0 || probe_duration(path, &s.duration_s, why, sizeof why)) {
        log_warn(LOG_MODULE, "%s: left out incomplete segment %s", rendition_dir, uri);
        return 0;
    }
    if (segments->count > 0) {
        const rec_segment_t *prev = &segments->items[segments->count - 1];
        s.discontinuity = number != prev->number + 1;
        if (prev->program_date_time_ms > 0 && !s.discontinuity)
            s.program_date_time_ms = prev->program_date_time_ms + llround(prev->duration_s * 1e3);
    }
    log_info(LOG_MODULE, "%s: recovered unlisted segment %s (%.3f s)", rendition_dir, uri,
             s.duration_s);
    return seg_list_push(segments, &s);
}

/* Rebuilds one rendition's segment list from its directory. */
static int recover_rendition(const char *dir, final_rendition_t *f)
{
    char rendition_dir[PATH_MAX], playlist[PATH_MAX];
    if (fs_path_format(rendition_dir, sizeof rendition_dir, "%s/%s", dir, f->name) < 0 ||
        fs_path_format(playlist, sizeof playlist, "%s/%s", rendition_dir, PLAYLIST_NAME) < 0)
        return RECORDER_ERR_INVALID;
    size_t len = 0;
    char *text = read_file(playlist, &len);
    int ret = text ? parse_playlist(text, len, &f->segments) : 0;
    free(text);
    if (ret < 0)
        return ret;
    keep_existing(rendition_dir, &f->segments);
    int64_t after = f->segments.count ? f->segments.items[f->segments.count - 1].number : -1;
    int64_t *numbers = NULL;
    ssize_t found = scan_segment_files(rendition_dir, after, &numbers);
    for (ssize_t i = 0; i < found && ret == 0; i++)
        ret = add_unlisted(rendition_dir, numbers[i], &f->segments);
    free(numbers);
    return found < 0 ? RECORDER_ERR_NOMEM : ret;
}

static int compare_renditions(const void *a, const void *b)
{
    const final_rendition_t *x = a, *y = b;
    bool x_source = strcmp(x->name, SOURCE_NAME) == 0, y_source = strcmp(y->name, SOURCE_NAME) == 0;
    if (x_source != y_source)
        return x_source ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Names of the rendition directories in dir, source first, then by name. */
static int list_renditions(const char *dir, final_rendition_t *out, size_t *count, char *err,
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
        if (!name_valid(e->d_name) || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        if (*count == RECORDER_RENDITIONS_MAX) {
            log_warn(LOG_MODULE, "%s: more than %d renditions, %s left out", dir,
                     RECORDER_RENDITIONS_MAX, e->d_name);
            continue;
        }
        memcpy(out[*count].name, e->d_name, strlen(e->d_name) + 1); /* name_valid: it fits */
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
    if (fs_path_format(path, sizeof path, "%s/%s.tmp", dir, MP4_NAME) == 0)
        unlink(path);
    if (fs_path_format(path, sizeof path, "%s/%s.tmp", dir, PLAYLIST_NAME) == 0)
        unlink(path);
}

int recorder_recover(const char *dir, recorder_summary_t *out, char *err, size_t err_size)
{
    if (!dir || dir[0] == '\0' || strlen(dir) >= DIR_MAX)
        return errbuf_set(err, err_size, RECORDER_ERR_INVALID, "recover: bad directory");
    if (!fs_is_dir(dir))
        return errbuf_set(err, err_size, RECORDER_ERR_INVALID, "recover: %s is not a directory",
                          dir);
    remove_top_leftovers(dir);
    final_rendition_t renditions[RECORDER_RENDITIONS_MAX];
    memset(renditions, 0, sizeof renditions);
    size_t count = 0;
    int ret = list_renditions(dir, renditions, &count, err, err_size);
    for (size_t i = 0; i < count && ret == 0; i++) {
        ret = recover_rendition(dir, &renditions[i]);
        if (ret < 0)
            errbuf_set(err, err_size, ret, "cannot recover %s/%s", dir, renditions[i].name);
    }
    if (ret == 0)
        ret = finalize(dir, renditions, count, out, err, err_size);
    final_renditions_free(renditions, count);
    if (ret == 0)
        log_info(LOG_MODULE, "%s: recording recovered", dir);
    return ret;
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
