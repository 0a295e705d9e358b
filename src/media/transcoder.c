/* Transcoder: source segments in, rendition segments and playlists out.
 *
 * Threads and data flow. The worker thread owns the queue's consumer side, the demuxer, the
 * decoder and the plan. Per source segment it reads every packet of the .ts file into memory,
 * decodes the video, and sends messages to the root rungs (those scaled from the source):
 * START, then FRAME and AUDIO interleaved in presentation order, then END. Every rung thread
 * handles a message and forwards it to the rungs scaled from it (FRAME carries its own scaled
 * picture), so pictures flow down the plan's cascade. At END a rung closes its rendition segment,
 * lists it and reports to the worker, which waits for all of them and then runs the callbacks.
 *
 * Frames are reference-counted AVFrames: a rung at the source size forwards the decoded frame
 * itself, a scaled picture lives in the rung's buffer pool, and children take references, so no
 * picture is copied except into x264. Message queues are small and blocking: the worker and the
 * rungs run at the pace of the slowest rung, and memory stays bounded.
 *
 * Timestamps stay the source's (90 kHz, unwrapped across 33-bit wraps): the encoder's time base
 * is 1/90000 and the muxer writes them unchanged (mpegts_copyts), so rendition segment N starts
 * at the same pts as source segment N. */
#include "media/transcoder.h"

#include "media/segment_reader.h"
#include "media/ts_mux.h"
#include "util/errbuf.h"
#include "util/fs.h"
#include "util/log.h"

#include <errno.h>
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

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#define LOG_MODULE "transcoder"

#define RUNG_QUEUE 8                       /* messages waiting per rung thread */
#define MAX_QUEUE 64                       /* largest queue_capacity accepted */
#define MAX_SEGMENT_BYTES (256u << 20)     /* larger source segments are refused */
#define MAX_THREADS 64                     /* x264 threads per rung */
#define TS_HZ 90000                        /* MPEG-TS clock */
#define TS_WRAP ((int64_t)1 << 33)         /* the 33-bit MPEG-TS timestamps wrap here */
#define DIR_MAX (SEGMENTER_PATH_MAX - 128) /* room for "/{name}/NNNNN.ts.tmp" */
#define PRESET_MAX 32
#define LOG_ID_MAX 128
#define ERR_MAX TRANSCODER_ERROR_MAX

static const AVRational ts_time_base = {1, TS_HZ};

/* ---- small helpers ---- */

static double thread_cpu_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Every message of this module fits the callers' TRANSCODER_ERROR_MAX buffers. */
#define set_error(err, ...) errbuf_set((err), ERR_MAX, 0, __VA_ARGS__)

/* ---- per-rendition output: directory, playlist, counters (as long as the transcoder) ---- */

typedef struct output {
    char dir[DIR_MAX + 64];           /* live_dir/{name} */
    char playlist_path[DIR_MAX + 80]; /* live_dir/{name}/index.m3u8 */
    hls_playlist_t *playlist;         /* NULL until the first segment */
    bool listed_any;                  /* a segment has been listed */
    int64_t last_source_sequence;     /* source sequence of the last listed segment */
    int64_t last_playlist_sequence;   /* its media sequence number in our playlist */
    bool next_discontinuity;          /* the next segment follows a break (new run, failure) */
    segmenter_retired_t retired;      /* segments slid out of the playlist, deleted later */
    uint64_t bytes;                   /* all listed segments */
    double duration_s;                /* media seconds listed */
    transcoder_rendition_t info;      /* guarded by transcoder.lock */
    bool visible;                     /* the playlist is on disk; guarded by transcoder.lock */
} output_t;

/* ---- messages between the worker and the rung threads ---- */

typedef enum { MSG_START, MSG_FRAME, MSG_AUDIO, MSG_END, MSG_QUIT } msg_type_t;

typedef struct msg {
    msg_type_t type;
    AVFrame *frame;   /* MSG_FRAME: a reference the receiver owns */
    AVPacket *packet; /* MSG_AUDIO: a reference the receiver owns */
} msg_t;

typedef struct msg_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    msg_t items[RUNG_QUEUE];
    size_t head, count;
} msg_queue_t;

static int queue_init(msg_queue_t *q)
{
    memset(q, 0, sizeof *q);
    if (pthread_mutex_init(&q->lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&q->not_empty, NULL) != 0) {
        pthread_mutex_destroy(&q->lock);
        return -1;
    }
    if (pthread_cond_init(&q->not_full, NULL) != 0) {
        pthread_cond_destroy(&q->not_empty);
        pthread_mutex_destroy(&q->lock);
        return -1;
    }
    return 0;
}

static void msg_release(msg_t *m)
{
    av_frame_free(&m->frame);
    av_packet_free(&m->packet);
}

static void queue_destroy(msg_queue_t *q)
{
    while (q->count > 0) {
        msg_release(&q->items[q->head]);
        q->head = (q->head + 1) % RUNG_QUEUE;
        q->count--;
    }
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
}

/* Blocks while the queue is full; takes ownership of m's references. */
static void queue_push(msg_queue_t *q, msg_t m)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == RUNG_QUEUE)
        pthread_cond_wait(&q->not_full, &q->lock);
    q->items[(q->head + q->count) % RUNG_QUEUE] = m;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

static msg_t queue_pop(msg_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == 0)
        pthread_cond_wait(&q->not_empty, &q->lock);
    msg_t m = q->items[q->head];
    q->head = (q->head + 1) % RUNG_QUEUE;
    q->count--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return m;
}

/* ---- the segment being transcoded (written by the worker before START, read-only after) ---- */

typedef struct job {
    segment_info_t info; /* the source segment */
    int64_t start_pts;   /* 90 kHz pts of its first decoded frame (unwrapped) */
    int source_fps_num;  /* source frame rate of the run; 0/0 unknown */
    int source_fps_den;
    enum AVColorSpace colorspace; /* of the first frame, for the encoders */
    enum AVColorPrimaries color_primaries;
    enum AVColorTransferCharacteristic color_trc;
} job_t;

/* What a rung reports to the worker at END. */
typedef struct rung_result {
    bool listed;          /* a segment was written and listed */
    bool failed;          /* the rung failed on this segment */
    char error[ERR_MAX];  /* why */
    segment_info_t info;  /* the rendition segment as listed */
    double cpu_s, wall_s; /* rung thread CPU and busy wall seconds on this segment */
} rung_result_t;

typedef struct transcoder transcoder_t;

typedef struct rung {
    transcoder_t *t;
    ladder_rung_t plan;
    const ladder_profile_t *profile;
    output_t *out;
    struct rung *children[LADDER_MAX_RUNGS];
    size_t child_count;
    msg_queue_t queue;
    pthread_t thread;
    bool thread_started;

    /* picture */
    struct SwsContext *sws;
    AVBufferPool *pool;
    int pool_buffer_size; /* bytes of one pooled picture */

    /* encoder and muxer, kept across segments of a run */
    AVCodecContext *encoder;
    ts_mux_writer_t ts;           /* the run's muxer and the segment's file */
    AVCodecParameters *audio_par; /* NULL = no audio in the run */
    int mux_video, mux_audio;     /* stream indexes; -1 = none */
    int64_t last_audio_dts;       /* 90 kHz, last audio dts written by this muxer */
    AVPacket *packet;
    char codecs[2 * HLS_CODEC_MAX];

    /* the segment in progress */
    const job_t *job;
    bool seg_failed; /* this rung failed on the segment: it is thrown away at END */
    char seg_error[ERR_MAX];
    int64_t grid_next;         /* next output frame index on the rate grid */
    int64_t half_source_frame; /* 90 kHz; tolerance when picking frames for a lower rate */
    int frames_sent, packets_received;
    double cpu_start;    /* thread CPU seconds at START */
    double busy_wall;    /* wall seconds handling this segment's messages */
    double blocked_wall; /* of those, waiting for a child's full queue */
    rung_result_t result;
} rung_t;

/* A source segment read into memory. */
typedef struct demuxed {
    AVPacket **video;
    size_t video_count, video_capacity;
    AVPacket **audio;
    size_t audio_count, audio_capacity;
    AVCodecParameters *audio_par; /* of the AAC stream; NULL = none */
    size_t bytes;
} demuxed_t;

/* The source properties a plan is made for; a change means a new run. */
typedef struct run_key {
    int width, height;
    int fps_num, fps_den;
    bool audio;
    int sample_rate, channels, audio_profile;
} run_key_t;

struct transcoder {
    /* settings (read-only after new) */
    char live_dir[DIR_MAX];
    char preset[PRESET_MAX];
    char log_id[LOG_ID_MAX];
    int threads;
    int window_segments;
    size_t queue_capacity;
    int extra_delay_ms;
    ladder_t ladder;
    transcoder_callbacks_t cb;

    /* queue and counters, guarded by lock */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the worker has something to do */
    pthread_cond_t idle; /* a finish request was served */
    segment_info_t *queue;
    size_t queue_head, queue_count;
    bool stopping;
    uint64_t finish_requested, finish_served;
    int finish_result;
    transcoder_stats_t stats;
    pthread_t worker;
    bool worker_started;

    /* END barrier: rungs that have not reported the current segment */
    pthread_mutex_t done_lock;
    pthread_cond_t done_cond;
    size_t rungs_pending;

    /* owned by the worker thread */
    output_t *outputs; /* ladder.count of them, by profile index; NULL for an empty ladder */
    AVCodecContext *decoder;
    bool have_run;
    run_key_t run;
    ladder_plan_t plan;
    rung_t *rungs[LADDER_MAX_RUNGS]; /* by plan index */
    size_t rung_count;
    job_t job;
    bool have_last_pts;
    int64_t last_pts;  /* largest unwrapped pts seen, to unwrap the next segment */
    int64_t ts_offset; /* added to the current segment's timestamps (multiple of 2^33) */
    AVFrame *frame;
};

/* ======================================================================================== */
/* rung: pictures                                                                            */
/* ======================================================================================== */

/* A picture of the rung's size from its pool; NULL when out of memory. */
static AVFrame *pool_picture(rung_t *r)
{
    int w = r->plan.width, h = r->plan.height;
    if (!r->pool) {
        int size = av_image_get_buffer_size(AV_PIX_FMT_YUV420P, w, h, 64);
        if (size < 0)
            return NULL;
        r->pool_buffer_size = size + 64; /* SIMD may read a little past the last line */
        r->pool = av_buffer_pool_init((size_t)r->pool_buffer_size, NULL);
        if (!r->pool)
            return NULL;
    }
    AVFrame *f = av_frame_alloc();
    if (!f)
        return NULL;
    f->buf[0] = av_buffer_pool_get(r->pool);
    if (!f->buf[0] || av_image_fill_arrays(f->data, f->linesize, f->buf[0]->data,
                                           AV_PIX_FMT_YUV420P, w, h, 64) < 0) {
        av_frame_free(&f);
        return NULL;
    }
    f->width = w;
    f->height = h;
    f->format = AV_PIX_FMT_YUV420P;
    return f;
}

/* The rung's picture of src: a new reference to src when it is already the right size and
 * format, else a scaled copy. NULL with seg_error set on failure. */
static AVFrame *make_picture(rung_t *r, const AVFrame *src)
{
    int w = r->plan.width, h = r->plan.height;
    if (src->width == w && src->height == h && src->format == AV_PIX_FMT_YUV420P)
        return av_frame_clone(src);
    r->sws = sws_getCachedContext(r->sws, src->width, src->height, src->format, w, h,
                                  AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
    AVFrame *dst = r->sws ? pool_picture(r) : NULL;
    if (!dst) {
        set_error(r->seg_error, "cannot scale %dx%d to %dx%d", src->width, src->height, w, h);
        return NULL;
    }
    sws_scale(r->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst->data,
              dst->linesize);
    av_frame_copy_props(dst, src);
    if (src->format == AV_PIX_FMT_YUVJ420P || src->color_range == AVCOL_RANGE_JPEG)
        dst->color_range = AVCOL_RANGE_MPEG; /* swscale converts full range to limited */
    return dst;
}

/* Frame-rate conversion on a grid that starts at the segment's first frame: output frame k is at
 * start + k / fps. A frame is taken when it is the first at or past the next grid point (within
 * half a source frame), and stamped with the grid time, so the output is constant-rate. */
static int64_t grid_pts(const rung_t *r, int64_t k)
{
    return r->job->start_pts +
           av_rescale_rnd(k, (int64_t)TS_HZ * r->plan.fps_den, r->plan.fps_num, AV_ROUND_NEAR_INF);
}

static bool select_frame(rung_t *r, int64_t pts, int64_t *out_pts)
{
    if (r->plan.source_rate || r->plan.fps_num <= 0) {
        *out_pts = pts;
        return true;
    }
    int64_t limit = pts + r->half_source_frame; /* the latest grid time this frame may stand for */
    if (grid_pts(r, r->grid_next) > limit)
        return false;
    /* the last grid point at or before limit: later frames than one per point are dropped */
    int64_t k = av_rescale_rnd(limit - r->job->start_pts, r->plan.fps_num,
                               (int64_t)TS_HZ * r->plan.fps_den, AV_ROUND_DOWN);
    while (k > r->grid_next && grid_pts(r, k) > limit)
        k--;
    while (grid_pts(r, k + 1) <= limit)
        k++;
    if (k < r->grid_next)
        k = r->grid_next;
    *out_pts = grid_pts(r, k);
    r->grid_next = k + 1;
    return true;
}

/* ======================================================================================== */
/* rung: encoder                                                                             */
/* ======================================================================================== */

static const char *x264_profile(ladder_h264_profile_t profile)
{
    switch (profile) {
    case LADDER_H264_BASELINE:
        return "baseline";
    case LADDER_H264_MAIN:
        return "main";
    case LADDER_H264_HIGH:
    case LADDER_H264_CONSTRAINED_HIGH: /* High without B-frames, as Livepeer maps it */
        return "high";
    default:
        return NULL;
    }
}

/* Output rate for the encoder's rate control: the rung's, else the source's, else 30. */
static AVRational rung_rate(const rung_t *r)
{
    if (r->plan.fps_num > 0 && r->plan.fps_den > 0)
        return (AVRational){r->plan.fps_num, r->plan.fps_den};
    if (r->job->source_fps_num > 0 && r->job->source_fps_den > 0)
        return (AVRational){r->job->source_fps_num, r->job->source_fps_den};
    return (AVRational){30, 1};
}

/* x264 options: zero frame delay (no B-frames, no lookahead, no frame threads), IDR on demand. */
static void encoder_options(const rung_t *r, AVDictionary **opts)
{
    const ladder_profile_t *p = r->profile;
    av_dict_set(opts, "preset", r->t->preset, 0);
    const char *profile = x264_profile(p->profile);
    if (profile)
        av_dict_set(opts, "profile", profile, 0);
    av_dict_set(opts, "forced-idr", "1", 0);
    av_dict_set(opts, "rc-lookahead", "0", 0);
    /* crf 0 is lossless, which no 4:2:0 8-bit profile allows: 1 is the best quality there is. */
    if (p->quality >= 0)
        av_dict_set_int(opts, "crf", p->quality > 0 ? p->quality : 1, 0);
    /* force-cfr: frame durations come from the rate, not from the next frame's timestamp, which
     * would hold every frame back until the next one arrives. Without a gop, keyframes come at
     * segment starts (forced) and scene cuts only; infinite keyint also lets x264 keep mb-tree
     * without a lookahead. */
    av_dict_set(opts, "x264-params",
                p->gop_s > 0 ? "sync-lookahead=0:force-cfr=1"
                             : "sync-lookahead=0:force-cfr=1:keyint=infinite",
                0);
}

static void encoder_settings(rung_t *r, AVCodecContext *c)
{
    const ladder_profile_t *p = r->profile;
    AVRational rate = rung_rate(r);
    c->width = r->plan.width;
    c->height = r->plan.height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->sample_aspect_ratio = (AVRational){1, 1};
    c->time_base = ts_time_base;
    c->framerate = rate;
    c->bit_rate = p->bitrate;
    /* Live VBV: the peak stays at the target, over a buffer of two seconds. */
    c->rc_max_rate = p->bitrate;
    c->rc_buffer_size = p->bitrate * 2 > INT_MAX ? INT_MAX : (int)(p->bitrate * 2);
    c->max_b_frames = 0;
    if (p->gop_s > 0) {
        double frames = p->gop_s * av_q2d(rate);
        c->gop_size = frames < 1 ? 1 : (int)lround(frames);
    }
    c->thread_count = r->t->threads > 0 ? r->t->threads : 1;
    if (c->thread_count > 1)
        c->thread_type = FF_THREAD_SLICE; /* frame threads would delay frames */
    c->color_range = AVCOL_RANGE_MPEG;
    c->colorspace = r->job->colorspace;
    c->color_primaries = r->job->color_primaries;
    c->color_trc = r->job->color_trc;
}

static int open_encoder(rung_t *r)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) {
        set_error(r->seg_error, "libx264 is not available in libavcodec");
        return -1;
    }
    AVCodecContext *c = avcodec_alloc_context3(codec);
    if (!c) {
        set_error(r->seg_error, "out of memory for the encoder");
        return -1;
    }
    encoder_settings(r, c);
    AVDictionary *opts = NULL;
    encoder_options(r, &opts);
    int ret = avcodec_open2(c, codec, &opts);
    const AVDictionaryEntry *left = av_dict_get(opts, "", NULL, AV_DICT_IGNORE_SUFFIX);
    if (ret >= 0 && left)
        log_warn(LOG_MODULE, "%s: %s: x264 ignored option %s=%s", r->t->log_id, r->profile->name,
                 left->key, left->value);
    av_dict_free(&opts);
    if (ret < 0) {
        set_error(r->seg_error, "cannot open libx264 (preset %s): %s", r->t->preset,
                  av_err2str(ret));
        avcodec_free_context(&c);
        return -1;
    }
    r->encoder = c;
    r->codecs[0] = '\0';
    return 0;
}

/* ======================================================================================== */
/* rung: muxer and segment files                                                             */
/* ======================================================================================== */

static void close_encoder(rung_t *r)
{
    avcodec_free_context(&r->encoder);
    ts_mux_abort(&r->ts);
}

static int add_streams(rung_t *r, AVFormatContext *ctx)
{
    AVStream *v = avformat_new_stream(ctx, NULL);
    if (!v || avcodec_parameters_from_context(v->codecpar, r->encoder) < 0)
        return -1;
    v->id = TS_MUX_PID_VIDEO;
    v->time_base = ts_time_base;
    r->mux_video = v->index;
    r->mux_audio = -1;
    if (!r->audio_par)
        return 0;
    AVStream *a = avformat_new_stream(ctx, NULL);
    if (!a || avcodec_parameters_copy(a->codecpar, r->audio_par) < 0)
        return -1;
    a->codecpar->codec_tag = 0;
    a->id = TS_MUX_PID_AUDIO;
    a->time_base = ts_time_base;
    r->mux_audio = a->index;
    return 0;
}

/* Starts the run's muxer on its first file. */
static int open_muxer(rung_t *r, const char *tmp_path)
{
    if (ts_mux_open_run(&r->ts, tmp_path, r->seg_error, ERR_MAX) < 0)
        return -1;
    r->last_audio_dts = AV_NOPTS_VALUE;
    if (add_streams(r, r->ts.ctx) < 0) {
        set_error(r->seg_error, "out of memory adding streams");
        ts_mux_abort(&r->ts);
        return -1;
    }
    return ts_mux_start(&r->ts, true, r->seg_error, ERR_MAX);
}

static void segment_path(const output_t *out, int64_t sequence, const char *suffix, char *path,
                         size_t size)
{
    char name[32];
    hls_segment_name(sequence, name, sizeof name);
    snprintf(path, size, "%s/%s%s", out->dir, name, suffix);
}

/* Opens NNNNN.ts.tmp for the segment; the first file of a run also gets the muxer. */
static int open_segment_file(rung_t *r)
{
    char tmp_path[TS_MUX_PATH_MAX];
    segment_path(r->out, r->job->info.sequence, ".tmp", tmp_path, sizeof tmp_path);
    if (!r->ts.ctx)
        return open_muxer(r, tmp_path);
    return ts_mux_next_file(&r->ts, tmp_path, r->seg_error, ERR_MAX);
}

/* Throws the segment's file away; the muxer goes too (its state may be half-written). */
static void abort_segment_file(rung_t *r)
{
    if (r->ts.file_open)
        ts_mux_abort(&r->ts);
}

/* The result of a write to the segment's file, with the error message set on failure. */
static int check_write(rung_t *r, int ret)
{
    if (ret < 0) {
        set_error(r->seg_error, "cannot write %s: %s", r->ts.tmp_path, av_err2str(ret));
        return -1;
    }
    return 0;
}

/* The rendition's RFC 6381 codecs from the SPS of its first keyframe. */
static void codecs_from_packet(rung_t *r, const AVPacket *pkt)
{
    if (pkt->size <= 0 || hls_codec_avc1(pkt->data, (size_t)pkt->size, r->codecs) < 0)
        return;
    if (r->audio_par) {
        int object_type = r->audio_par->profile >= 0 ? r->audio_par->profile + 1 : 2;
        size_t len = strlen(r->codecs);
        snprintf(r->codecs + len, sizeof r->codecs - len, ",mp4a.40.%d", object_type);
    }
}

static int drain_encoder(rung_t *r)
{
    for (;;) {
        int ret = avcodec_receive_packet(r->encoder, r->packet);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0) {
            set_error(r->seg_error, "libx264 failed: %s", av_err2str(ret));
            return -1;
        }
        r->packets_received++;
        if (!r->codecs[0])
            codecs_from_packet(r, r->packet);
        r->packet->stream_index = r->mux_video;
        av_packet_rescale_ts(r->packet, r->encoder->time_base,
                             r->ts.ctx->streams[r->mux_video]->time_base);
        ret = check_write(r, ts_mux_write(&r->ts, r->packet));
        av_packet_unref(r->packet);
        if (ret < 0)
            return -1;
    }
}

/* Encodes picture (which it may modify: pts, picture type) at out_pts. */
static int encode_picture(rung_t *r, AVFrame *picture, int64_t out_pts)
{
    picture->pts = out_pts;
    /* Only the first frame of a segment is forced; the source's picture types mean nothing. */
    picture->pict_type = r->frames_sent == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    picture->key_frame = r->frames_sent == 0;
    int ret = avcodec_send_frame(r->encoder, picture);
    if (ret < 0) {
        set_error(r->seg_error, "libx264 refused a frame: %s", av_err2str(ret));
        return -1;
    }
    r->frames_sent++;
    return drain_encoder(r);
}

/* ======================================================================================== */
/* rung: playlist                                                                            */
/* ======================================================================================== */

/* Lists the segment (file NNNNN.ts of the source's sequence) and rewrites the playlist. The
 * playlist's own sequence numbers follow the source's until a segment is missing, and then run on
 * without a gap, as HLS requires. */
static int list_segment(rung_t *r, const segment_info_t *source, bool discontinuity)
{
    output_t *out = r->out;
    if (!out->playlist) {
        out->playlist = hls_playlist_new(r->t->window_segments, 1);
        if (!out->playlist) {
            set_error(r->seg_error, "out of memory for the playlist");
            return -1;
        }
    }
    hls_segment_t entry = {
        .sequence = out->listed_any ? out->last_playlist_sequence + 1 : source->sequence,
        .duration_s = source->duration_s,
        .program_date_time_ms = source->program_date_time_ms,
        .discontinuity = discontinuity,
    };
    hls_segment_name(source->sequence, entry.uri, sizeof entry.uri);
    hls_segment_t evicted;
    hls_playlist_set_ended(out->playlist, false);
    int slid = hls_playlist_append(out->playlist, &entry, &evicted);
    if (slid < 0) {
        set_error(r->seg_error, "cannot list %s in the playlist", entry.uri);
        return -1;
    }
    out->listed_any = true;
    out->last_playlist_sequence = entry.sequence;
    out->last_source_sequence = source->sequence;
    if (slid == 1)
        segmenter_retire(&out->retired, out->dir, strtoll(evicted.uri, NULL, 10), r->t->log_id);
    char why[SEGMENTER_PATH_MAX + 128];
    if (hls_playlist_write(out->playlist, out->playlist_path, why, sizeof why) < 0)
        log_warn(LOG_MODULE, "%s: %s", r->t->log_id, why); /* listed; the next write catches up */
    return 0;
}

static void update_info(rung_t *r, uint64_t bytes, double duration_s)
{
    output_t *out = r->out;
    out->bytes += bytes;
    out->duration_s += duration_s;
    transcoder_rendition_t *info = &out->info;
    pthread_mutex_lock(&r->t->lock);
    snprintf(info->name, sizeof info->name, "%s", r->profile->name);
    info->width = r->plan.width;
    info->height = r->plan.height;
    AVRational rate = rung_rate(r);
    info->fps = r->plan.fps_num > 0 || r->job->source_fps_num > 0 ? av_q2d(rate) : 0;
    info->bitrate = r->profile->bitrate;
    if (duration_s > 0) {
        uint64_t bps = (uint64_t)llround((double)bytes * 8.0 / duration_s);
        if (bps > info->peak_bps)
            info->peak_bps = bps;
    }
    if (out->duration_s > 0)
        info->average_bps = (uint64_t)llround((double)out->bytes * 8.0 / out->duration_s);
    snprintf(info->codecs, sizeof info->codecs, "%s", r->codecs);
    out->visible = true;
    pthread_mutex_unlock(&r->t->lock);
}

/* Flushes and closes the file, renames it into place and lists it. */
static int finish_segment_file(rung_t *r)
{
    const segment_info_t *src = &r->job->info;
    segment_info_t *info = &r->result.info;
    segment_path(r->out, src->sequence, "", info->path, sizeof info->path);
    uint64_t bytes = 0;
    if (ts_mux_commit(&r->ts, info->path, false, &bytes, r->seg_error, ERR_MAX) < 0)
        return -1;
    /* A break in this rendition alone (a dropped or failed segment, a new muxer) is marked too;
     * the very first segment follows nothing. */
    bool gap = r->out->listed_any &&
               (src->sequence != r->out->last_source_sequence + 1 || r->out->next_discontinuity);
    info->sequence = src->sequence;
    info->duration_s = src->duration_s;
    info->bytes = bytes;
    info->program_date_time_ms = src->program_date_time_ms;
    info->discontinuity = src->discontinuity || gap;
    if (list_segment(r, src, info->discontinuity) < 0)
        return -1;
    r->out->next_discontinuity = false;
    update_info(r, info->bytes, info->duration_s);
    r->result.listed = true;
    return 0;
}

/* ======================================================================================== */
/* rung thread                                                                               */
/* ======================================================================================== */

/* Hands m to a child; time spent waiting for its queue is not this rung's work. */
static void push_child(rung_t *r, rung_t *child, msg_t m)
{
    double started = wall_s();
    queue_push(&child->queue, m);
    r->blocked_wall += wall_s() - started;
}

static void forward(rung_t *r, msg_type_t type)
{
    for (size_t i = 0; i < r->child_count; i++)
        push_child(r, r->children[i], (msg_t){.type = type});
}

static void fail_segment(rung_t *r)
{
    if (!r->seg_failed)
        log_warn(LOG_MODULE, "%s: %s: segment %" PRId64 " failed: %s", r->t->log_id,
                 r->profile->name, r->job->info.sequence, r->seg_error);
    r->seg_failed = true;
}

static void on_start(rung_t *r)
{
    forward(r, MSG_START);
    r->job = &r->t->job;
    r->seg_failed = false;
    r->seg_error[0] = '\0';
    r->frames_sent = r->packets_received = 0;
    r->grid_next = 0;
    r->result = (rung_result_t){0};
    r->cpu_start = thread_cpu_s();
    r->busy_wall = r->blocked_wall = 0;
    const job_t *job = r->job;
    r->half_source_frame = job->source_fps_num > 0 ? av_rescale(TS_HZ, job->source_fps_den,
                                                                2 * (int64_t)job->source_fps_num)
                                                   : 0;
    /* After a reconnect the source's audio may overlap a little: a new muxer takes it (as the
     * segmenter does). The encoder stays, for rate control. */
    if (job->info.discontinuity)
        ts_mux_abort(&r->ts);
    /* A failed open is retried at the next segment; the encoder survives a file error. */
    if ((!r->encoder && open_encoder(r) < 0) || open_segment_file(r) < 0)
        fail_segment(r);
}

static void on_frame(rung_t *r, AVFrame *frame)
{
    if (r->seg_failed && r->child_count == 0)
        return;
    int64_t out_pts = 0;
    bool selected = select_frame(r, frame->pts, &out_pts);
    if (!selected && !r->plan.source_rate)
        return; /* children of a lower-rate rung share its rate: they skip it too */
    AVFrame *picture = make_picture(r, frame);
    if (!picture) {
        fail_segment(r);
        return;
    }
    picture->pts = selected ? out_pts : frame->pts;
    for (size_t i = 0; i < r->child_count; i++) {
        AVFrame *ref = av_frame_clone(picture);
        if (ref)
            push_child(r, r->children[i], (msg_t){.type = MSG_FRAME, .frame = ref});
    }
    if (selected && !r->seg_failed && encode_picture(r, picture, out_pts) < 0) {
        close_encoder(r);
        fail_segment(r);
    }
    av_frame_free(&picture);
}

static void on_audio(rung_t *r, AVPacket *packet)
{
    for (size_t i = 0; i < r->child_count; i++) {
        AVPacket *ref = av_packet_clone(packet);
        if (ref)
            push_child(r, r->children[i], (msg_t){.type = MSG_AUDIO, .packet = ref});
    }
    if (r->seg_failed || !r->ts.file_open || r->mux_audio < 0)
        return;
    /* The muxer refuses a dts that does not increase; one such frame is not worth a segment. */
    if (packet->dts != AV_NOPTS_VALUE && r->last_audio_dts != AV_NOPTS_VALUE &&
        packet->dts <= r->last_audio_dts)
        return;
    if (packet->dts != AV_NOPTS_VALUE)
        r->last_audio_dts = packet->dts;
    packet->stream_index = r->mux_audio;
    av_packet_rescale_ts(packet, ts_time_base, r->ts.ctx->streams[r->mux_audio]->time_base);
    if (check_write(r, ts_mux_write_audio(&r->ts, packet, packet->duration)) < 0) {
        abort_segment_file(r);
        fail_segment(r);
    }
}

static void report_done(transcoder_t *t)
{
    pthread_mutex_lock(&t->done_lock);
    t->rungs_pending--;
    if (t->rungs_pending == 0)
        pthread_cond_broadcast(&t->done_cond);
    pthread_mutex_unlock(&t->done_lock);
}

static void on_end(rung_t *r)
{
    forward(r, MSG_END);
    if (!r->seg_failed && r->frames_sent == 0) {
        set_error(r->seg_error, "no frame to encode");
        fail_segment(r);
    }
    if (!r->seg_failed && r->packets_received != r->frames_sent)
        log_warn(LOG_MODULE, "%s: %s: encoder held %d frames at the segment end", r->t->log_id,
                 r->profile->name, r->frames_sent - r->packets_received);
    if (r->seg_failed) {
        abort_segment_file(r);
    } else if (finish_segment_file(r) < 0) {
        fail_segment(r);
    }
    if (r->seg_failed) {
        r->out->next_discontinuity = true;
        r->result.failed = true;
        snprintf(r->result.error, sizeof r->result.error, "%s", r->seg_error);
    }
}

/* Handles one message; returns false on QUIT. */
static bool handle_message(rung_t *r, msg_t *m)
{
    switch (m->type) {
    case MSG_START:
        on_start(r);
        break;
    case MSG_FRAME:
        on_frame(r, m->frame);
        break;
    case MSG_AUDIO:
        on_audio(r, m->packet);
        break;
    case MSG_END:
        on_end(r);
        break;
    case MSG_QUIT:
        forward(r, MSG_QUIT);
        return false;
    }
    return true;
}

static void *rung_main(void *arg)
{
    rung_t *r = arg;
    for (;;) {
        msg_t m = queue_pop(&r->queue);
        double started = wall_s();
        bool go_on = handle_message(r, &m);
        r->busy_wall += wall_s() - started;
        if (m.type == MSG_END) {
            r->result.cpu_s = thread_cpu_s() - r->cpu_start;
            r->result.wall_s = r->busy_wall - r->blocked_wall;
            report_done(r->t);
        }
        msg_release(&m);
        if (!go_on)
            return NULL;
    }
}

/* ======================================================================================== */
/* worker: the plan's rungs                                                                  */
/* ======================================================================================== */

/* Stops every rung thread (QUIT flows down the tree) and frees the rungs. */
static void stop_rungs(transcoder_t *t)
{
    for (size_t i = 0; i < t->rung_count; i++)
        if (t->rungs[i]->plan.parent < 0 && t->rungs[i]->thread_started)
            queue_push(&t->rungs[i]->queue, (msg_t){.type = MSG_QUIT});
    for (size_t i = 0; i < t->rung_count; i++)
        if (t->rungs[i]->thread_started)
            pthread_join(t->rungs[i]->thread, NULL);
    for (size_t i = 0; i < t->rung_count; i++) {
        rung_t *r = t->rungs[i];
        close_encoder(r);
        ts_mux_writer_clear(&r->ts);
        sws_freeContext(r->sws);
        av_buffer_pool_uninit(&r->pool);
        av_packet_free(&r->packet);
        avcodec_parameters_free(&r->audio_par);
        queue_destroy(&r->queue);
        if (r->out)
            r->out->next_discontinuity = true; /* a new run starts new muxers */
        free(r);
        t->rungs[i] = NULL;
    }
    t->rung_count = 0;
}

static rung_t *new_rung(transcoder_t *t, const ladder_rung_t *plan,
                        const AVCodecParameters *audio_par)
{
    rung_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (queue_init(&r->queue) < 0) {
        free(r);
        return NULL;
    }
    r->t = t;
    r->plan = *plan;
    r->profile = &t->ladder.profiles[plan->profile];
    r->out = &t->outputs[plan->profile];
    r->mux_video = r->mux_audio = -1;
    r->packet = av_packet_alloc();
    if (audio_par) {
        r->audio_par = avcodec_parameters_alloc();
        if (r->audio_par && avcodec_parameters_copy(r->audio_par, audio_par) < 0)
            avcodec_parameters_free(&r->audio_par);
    }
    if (!r->packet || (audio_par && !r->audio_par)) {
        av_packet_free(&r->packet);
        avcodec_parameters_free(&r->audio_par);
        queue_destroy(&r->queue);
        free(r);
        return NULL;
    }
    return r;
}

static void log_plan(const transcoder_t *t, const ladder_plan_t *plan, const run_key_t *key)
{
    log_info(LOG_MODULE, "%s: source %dx%d at %d/%d fps%s: %zu renditions", t->log_id, key->width,
             key->height, key->fps_num, key->fps_den, key->audio ? " with AAC" : "", plan->count);
    for (size_t i = 0; i < plan->count; i++) {
        const ladder_rung_t *r = &plan->rungs[i];
        const ladder_profile_t *p = &t->ladder.profiles[r->profile];
        const char *from =
            r->parent < 0 ? "source" : t->ladder.profiles[plan->rungs[r->parent].profile].name;
        log_info(LOG_MODULE, "%s: %s: %dx%d at %d/%d fps, %" PRId64 " bit/s, scaled from %s",
                 t->log_id, p->name, r->width, r->height, r->fps_num, r->fps_den, p->bitrate, from);
        if (r->note[0])
            log_warn(LOG_MODULE, "%s: %s", t->log_id, r->note);
    }
    for (size_t i = 0; i < plan->skipped_count; i++)
        log_warn(LOG_MODULE, "%s: %s", t->log_id, plan->skipped[i].reason);
}

/* Plans the ladder for key and starts its rung threads. Returns 0 or -1 with err set. */
static int start_rungs(transcoder_t *t, const run_key_t *key, const AVCodecParameters *audio_par,
                       char *err)
{
    ladder_source_t source = {key->width, key->height, key->fps_num, key->fps_den};
    char why[ERR_MAX];
    if (ladder_plan(&t->ladder, &source, &t->plan, why, sizeof why) < 0) {
        set_error(err, "%s", why);
        return -1;
    }
    log_plan(t, &t->plan, key);
    for (size_t i = 0; i < t->plan.count; i++) {
        output_t *out = &t->outputs[t->plan.rungs[i].profile];
        if (fs_mkdir_p(out->dir, err, ERR_MAX) != 0)
            return -1;
        t->rungs[i] = new_rung(t, &t->plan.rungs[i], audio_par);
        if (!t->rungs[i]) {
            set_error(err, "out of memory for %s", out->dir);
            return -1;
        }
        t->rung_count = i + 1;
        int parent = t->plan.rungs[i].parent;
        if (parent >= 0) {
            rung_t *p = t->rungs[parent];
            p->children[p->child_count++] = t->rungs[i];
        }
    }
    for (size_t i = 0; i < t->rung_count; i++) {
        if (pthread_create(&t->rungs[i]->thread, NULL, rung_main, t->rungs[i]) != 0) {
            set_error(err, "cannot start a rung thread");
            return -1;
        }
        t->rungs[i]->thread_started = true;
    }
    return 0;
}

/* ======================================================================================== */
/* worker: reading a source segment                                                          */
/* ======================================================================================== */

static void demuxed_clear(demuxed_t *d)
{
    for (size_t i = 0; i < d->video_count; i++)
        av_packet_free(&d->video[i]);
    for (size_t i = 0; i < d->audio_count; i++)
        av_packet_free(&d->audio[i]);
    free(d->video);
    free(d->audio);
    avcodec_parameters_free(&d->audio_par);
    memset(d, 0, sizeof *d);
}

static int append_packet(AVPacket ***list, size_t *count, size_t *capacity, AVPacket *pkt)
{
    if (*count == *capacity) {
        size_t grown = *capacity ? *capacity * 2 : 256;
        AVPacket **bigger = realloc(*list, grown * sizeof *bigger);
        if (!bigger)
            return -1;
        *list = bigger;
        *capacity = grown;
    }
    (*list)[(*count)++] = pkt;
    return 0;
}

/* Keeps one packet of the segment (in the reader's stream time base); returns -1 when it
 * cannot. */
static int keep_packet(demuxed_t *d, const segment_reader_t *reader, AVPacket *pkt, char *err)
{
    AVStream *st = reader->in->streams[pkt->stream_index];
    enum AVCodecID id = st->codecpar->codec_id;
    bool video = id == AV_CODEC_ID_H264, audio = id == AV_CODEC_ID_AAC;
    if (!video && !audio)
        return 0;
    d->bytes += (size_t)pkt->size;
    if (d->bytes > MAX_SEGMENT_BYTES) {
        set_error(err, "source segment is larger than %u bytes", MAX_SEGMENT_BYTES);
        return -1;
    }
    if (audio && !d->audio_par) {
        if (st->codecpar->sample_rate <= 0)
            return 0; /* no ADTS header yet: not usable */
        d->audio_par = avcodec_parameters_alloc();
        if (!d->audio_par || avcodec_parameters_copy(d->audio_par, st->codecpar) < 0) {
            avcodec_parameters_free(&d->audio_par);
            return 0; /* the renditions go without audio */
        }
    }
    AVPacket *copy = av_packet_alloc();
    if (!copy) {
        set_error(err, "out of memory reading the source segment");
        return -1;
    }
    av_packet_move_ref(copy, pkt);
    av_packet_rescale_ts(copy, st->time_base, ts_time_base);
    int ret = video ? append_packet(&d->video, &d->video_count, &d->video_capacity, copy)
                    : append_packet(&d->audio, &d->audio_count, &d->audio_capacity, copy);
    if (ret < 0) {
        av_packet_free(&copy);
        set_error(err, "out of memory reading the source segment");
    }
    return ret;
}

/* Reads every H.264 and AAC packet of the .ts file at path. Returns 0, 1 when the segment is
 * audio only (nothing to transcode), or -1 with err set. */
static int read_segment(const char *path, demuxed_t *d, char *err)
{
    segment_reader_t reader;
    if (segment_reader_open(&reader, path, err, ERR_MAX) < 0)
        return -1;
    AVPacket *pkt = av_packet_alloc();
    int ret = pkt ? 0 : -1;
    int read = 0;
    while (ret == 0 && (read = segment_reader_read(&reader, pkt, err, ERR_MAX)) > 0) {
        ret = keep_packet(d, &reader, pkt, err);
        av_packet_unref(pkt);
    }
    if (ret == 0 && read < 0)
        ret = -1;
    if (ret == 0 && d->video_count == 0 && d->audio_count > 0)
        ret = 1;
    if (ret == 0 && d->video_count == 0) {
        set_error(err, "%s holds no H.264 video", path);
        ret = -1;
    }
    if (!pkt)
        set_error(err, "out of memory reading %s", path);
    av_packet_free(&pkt);
    segment_reader_close(&reader);
    return ret;
}

/* Moves the segment's timestamps onto the unwrapped timeline: the 33-bit clock wraps every
 * 26.5 hours and every file is demuxed on its own. */
static void unwrap_timestamps(transcoder_t *t, demuxed_t *d)
{
    int64_t first = d->video[0]->dts != AV_NOPTS_VALUE ? d->video[0]->dts : d->video[0]->pts;
    if (first != AV_NOPTS_VALUE && t->have_last_pts) {
        /* whole wraps between where the timeline was and where this segment seems to start */
        double wraps = round((double)(t->last_pts - (first + t->ts_offset)) / (double)TS_WRAP);
        if (fabs(wraps) < 1e6)
            t->ts_offset += (int64_t)wraps * TS_WRAP;
        if (t->ts_offset < 0)
            t->ts_offset = 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        AVPacket **list = pass ? d->audio : d->video;
        size_t count = pass ? d->audio_count : d->video_count;
        for (size_t i = 0; i < count; i++) {
            if (list[i]->pts != AV_NOPTS_VALUE)
                list[i]->pts += t->ts_offset;
            if (list[i]->dts != AV_NOPTS_VALUE)
                list[i]->dts += t->ts_offset;
        }
    }
}

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Mean video frame interval in 90 kHz ticks, leaving out intervals more than twice off the
 * median (a dropped frame, a gap); 0 when there are too few frames. */
static double mean_frame_interval(const demuxed_t *d)
{
    size_t n = 0;
    int64_t *deltas = malloc(2 * d->video_count * sizeof *deltas);
    if (!deltas)
        return 0;
    int64_t *sorted = deltas + d->video_count;
    for (size_t i = 0; i < d->video_count; i++)
        if (d->video[i]->pts != AV_NOPTS_VALUE)
            sorted[n++] = d->video[i]->pts;
    qsort(sorted, n, sizeof *sorted, compare_i64);
    n = n > 0 ? n - 1 : 0;
    for (size_t i = 0; i < n; i++)
        deltas[i] = sorted[i + 1] - sorted[i];
    memcpy(sorted, deltas, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_i64);
    int64_t median = n > 0 ? sorted[n / 2] : 0;
    double sum = 0;
    size_t used = 0;
    for (size_t i = 0; median > 0 && i < n; i++) {
        if (deltas[i] * 2 >= median && deltas[i] <= median * 2) {
            sum += (double)deltas[i];
            used++;
        }
    }
    free(deltas);
    return used > 0 ? sum / (double)used : 0;
}

/* Frame rate of the segment's video, snapped to a common rate within 1%; 0/0 when unknown. */
static void measure_fps(const demuxed_t *d, int *num, int *den)
{
    static const int common[][2] = {{24000, 1001}, {24, 1}, {25, 1},       {30000, 1001}, {30, 1},
                                    {48, 1},       {50, 1}, {60000, 1001}, {60, 1},       {15, 1},
                                    {12, 1},       {10, 1}, {120, 1}};
    double interval = mean_frame_interval(d);
    *num = *den = 0;
    if (!(interval > 0))
        return;
    double fps = (double)TS_HZ / interval, best = 0.01;
    *num = (int)lround(fps * 1000);
    *den = 1000;
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
        double rate = (double)common[i][0] / common[i][1];
        double off = fabs(fps - rate) / rate;
        if (off < best) {
            best = off;
            *num = common[i][0];
            *den = common[i][1];
        }
    }
}

/* ======================================================================================== */
/* worker: decoding and dispatch                                                             */
/* ======================================================================================== */

static int open_decoder(transcoder_t *t, char *err)
{
    if (t->decoder)
        return 0;
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    AVCodecContext *c = codec ? avcodec_alloc_context3(codec) : NULL;
    if (!c) {
        set_error(err, "no H.264 decoder");
        return -1;
    }
    /* One thread: decoding is a small share next to the encoders, and its CPU time is then
     * exactly the worker thread's. */
    c->thread_count = 1;
    int ret = avcodec_open2(c, codec, NULL);
    if (ret < 0) {
        set_error(err, "cannot open the H.264 decoder: %s", av_err2str(ret));
        avcodec_free_context(&c);
        return -1;
    }
    t->decoder = c;
    return 0;
}

static bool same_key(const run_key_t *a, const run_key_t *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

static run_key_t key_of(transcoder_t *t, const AVFrame *frame, const demuxed_t *d, bool measure)
{
    run_key_t key;
    memset(&key, 0, sizeof key); /* compared with memcmp: padding included */
    key.width = frame->width;
    key.height = frame->height;
    if (measure || !t->have_run) {
        measure_fps(d, &key.fps_num, &key.fps_den);
    } else {
        key.fps_num = t->run.fps_num;
        key.fps_den = t->run.fps_den;
    }
    key.audio = d->audio_par != NULL;
    if (d->audio_par) {
        key.sample_rate = d->audio_par->sample_rate;
        key.channels = d->audio_par->ch_layout.nb_channels;
        key.audio_profile = d->audio_par->profile;
    }
    return key;
}

/* Makes sure the rungs fit this segment's source; a new run restarts them. */
static int ensure_run(transcoder_t *t, const AVFrame *frame, const demuxed_t *d, char *err)
{
    run_key_t key = key_of(t, frame, d, t->job.info.discontinuity);
    if (t->have_run && same_key(&key, &t->run))
        return 0;
    stop_rungs(t);
    t->have_run = false;
    if (start_rungs(t, &key, d->audio_par, err) < 0) {
        stop_rungs(t);
        return -1;
    }
    t->run = key;
    t->have_run = true;
    return 0;
}

/* Sends a message to every rung that is scaled from the source. */
static void send_roots(transcoder_t *t, msg_type_t type, const AVFrame *frame,
                       const AVPacket *packet)
{
    for (size_t i = 0; i < t->rung_count; i++) {
        if (t->rungs[i]->plan.parent >= 0)
            continue;
        msg_t m = {.type = type};
        if (frame && !(m.frame = av_frame_clone(frame)))
            continue;
        if (packet && !(m.packet = av_packet_clone(packet)))
            continue;
        queue_push(&t->rungs[i]->queue, m);
    }
}

/* State of one segment's dispatch. */
typedef struct dispatch {
    demuxed_t *d;
    size_t next_audio; /* next audio packet to send */
    bool started;      /* START went out */
    bool failed;       /* the run could not start */
    int frames;        /* frames decoded */
    int decode_errors;
    int64_t last_pts;
} dispatch_t;

static void send_audio_until(transcoder_t *t, dispatch_t *s, int64_t pts)
{
    while (s->next_audio < s->d->audio_count) {
        const AVPacket *a = s->d->audio[s->next_audio];
        if (pts != INT64_MAX && a->pts != AV_NOPTS_VALUE && a->pts > pts)
            return;
        if (a->pts != AV_NOPTS_VALUE || a->dts != AV_NOPTS_VALUE)
            send_roots(t, MSG_AUDIO, NULL, a);
        s->next_audio++;
    }
}

static void start_segment(transcoder_t *t, dispatch_t *s, const AVFrame *frame, int64_t pts)
{
    job_t *job = &t->job;
    job->start_pts = pts;
    job->source_fps_num = t->run.fps_num;
    job->source_fps_den = t->run.fps_den;
    job->colorspace = frame->colorspace;
    job->color_primaries = frame->color_primaries;
    job->color_trc = frame->color_trc;
    pthread_mutex_lock(&t->done_lock);
    t->rungs_pending = t->rung_count;
    pthread_mutex_unlock(&t->done_lock);
    send_roots(t, MSG_START, NULL, NULL);
    s->started = true;
}

static void handle_frame(transcoder_t *t, dispatch_t *s, AVFrame *frame, char *err)
{
    int64_t pts =
        frame->best_effort_timestamp != AV_NOPTS_VALUE ? frame->best_effort_timestamp : frame->pts;
    if (pts == AV_NOPTS_VALUE || (s->frames > 0 && pts <= s->last_pts))
        pts = s->frames > 0 ? s->last_pts + 1 : 0; /* keep pts strictly increasing */
    if (s->frames == 0 && !s->failed) {
        if (ensure_run(t, frame, s->d, err) < 0)
            s->failed = true;
        else if (t->rung_count > 0)
            start_segment(t, s, frame, pts);
    }
    s->frames++;
    s->last_pts = pts;
    if (!s->started)
        return;
    send_audio_until(t, s, pts);
    frame->pts = pts;
    frame->pict_type = AV_PICTURE_TYPE_NONE;
    send_roots(t, MSG_FRAME, frame, NULL);
}

static void receive_frames(transcoder_t *t, dispatch_t *s, char *err)
{
    while (avcodec_receive_frame(t->decoder, t->frame) >= 0) {
        handle_frame(t, s, t->frame, err);
        av_frame_unref(t->frame);
    }
}

/* Decodes the segment's video and feeds the rungs; *started says whether they got START (and so
 * will report END). Returns 0 or -1 with err set. */
static int decode_segment(transcoder_t *t, demuxed_t *d, bool *started, char *err)
{
    *started = false;
    if (open_decoder(t, err) < 0)
        return -1;
    dispatch_t s = {.d = d};
    for (size_t i = 0; i < d->video_count && !s.failed; i++) {
        int ret = avcodec_send_packet(t->decoder, d->video[i]);
        if (ret < 0 && ret != AVERROR(EAGAIN))
            s.decode_errors++;
        receive_frames(t, &s, err);
    }
    avcodec_send_packet(t->decoder, NULL);
    if (!s.failed)
        receive_frames(t, &s, err);
    avcodec_flush_buffers(t->decoder); /* ready for the next segment */
    if (s.started) {
        send_audio_until(t, &s, INT64_MAX);
        send_roots(t, MSG_END, NULL, NULL);
        *started = true;
    }
    if (s.decode_errors > 0)
        log_warn(LOG_MODULE, "%s: segment %" PRId64 ": %d packets did not decode", t->log_id,
                 t->job.info.sequence, s.decode_errors);
    if (s.failed)
        return -1;
    if (s.frames == 0) {
        set_error(err, "no picture decoded from %s", t->job.info.path);
        return -1;
    }
    if (s.last_pts > t->last_pts || !t->have_last_pts)
        t->last_pts = s.last_pts;
    t->have_last_pts = true;
    return 0;
}

static void wait_rungs(transcoder_t *t)
{
    pthread_mutex_lock(&t->done_lock);
    while (t->rungs_pending > 0)
        pthread_cond_wait(&t->done_cond, &t->done_lock);
    pthread_mutex_unlock(&t->done_lock);
}

/* ======================================================================================== */
/* worker: one source segment                                                                */
/* ======================================================================================== */

static void report_rungs(transcoder_t *t, bool started, char *err)
{
    for (size_t i = 0; started && i < t->rung_count; i++) {
        rung_t *r = t->rungs[i];
        if (r->result.failed && !err[0])
            set_error(err, "%s: %s", r->profile->name, r->result.error);
        pthread_mutex_lock(&t->lock);
        t->stats.encode_cpu_s += r->result.cpu_s;
        if (r->result.listed) {
            t->stats.rendition_segments++;
            t->stats.rendition_bytes += r->result.info.bytes;
            t->stats.rendition_duration_s += r->result.info.duration_s;
        }
        transcoder_rendition_t info = r->out->info;
        pthread_mutex_unlock(&t->lock);
        if (r->result.listed && t->cb.on_rendition_segment)
            t->cb.on_rendition_segment(t->cb.opaque, &info, &r->result.info, r->result.cpu_s,
                                       r->result.wall_s);
    }
}

static void process_segment(transcoder_t *t, const segment_info_t *info)
{
    double wall0 = wall_s(), cpu0 = thread_cpu_s();
    if (t->extra_delay_ms > 0)
        sleep_ms(t->extra_delay_ms);
    t->job = (job_t){.info = *info};
    char err[ERR_MAX] = "";
    demuxed_t d = {0};
    bool started = false;
    int ret = read_segment(info->path, &d, err);
    if (ret == 1) {
        log_debug(LOG_MODULE, "%s: source segment %" PRId64 " is audio only: nothing to transcode",
                  t->log_id, info->sequence);
        ret = 0;
    } else if (ret == 0) {
        unwrap_timestamps(t, &d);
        ret = decode_segment(t, &d, &started, err);
    }
    if (started)
        wait_rungs(t);
    demuxed_clear(&d);
    if (ret < 0)
        log_warn(LOG_MODULE, "%s: source segment %" PRId64 " failed: %s", t->log_id, info->sequence,
                 err);
    report_rungs(t, started, err);
    double cpu = thread_cpu_s() - cpu0, elapsed = wall_s() - wall0;
    pthread_mutex_lock(&t->lock);
    t->stats.done++;
    t->stats.failed += err[0] != '\0';
    t->stats.decode_cpu_s += cpu;
    t->stats.source_duration_s += info->duration_s;
    pthread_mutex_unlock(&t->lock);
    log_debug(LOG_MODULE, "%s: source segment %" PRId64 " done in %.3f s for %.3f s of media%s%s",
              t->log_id, info->sequence, elapsed, info->duration_s, err[0] ? ": " : "", err);
    if (t->cb.on_source_segment_done)
        t->cb.on_source_segment_done(t->cb.opaque, info->sequence, info->duration_s, elapsed, cpu,
                                     err[0] == '\0', err);
}

/* End of broadcast: every rendition playlist gets #EXT-X-ENDLIST. */
static int end_playlists(transcoder_t *t)
{
    int result = 0;
    for (size_t i = 0; i < t->ladder.count; i++) {
        output_t *out = &t->outputs[i];
        if (!out->playlist)
            continue;
        hls_playlist_set_ended(out->playlist, true);
        char why[SEGMENTER_PATH_MAX + 128];
        if (hls_playlist_write(out->playlist, out->playlist_path, why, sizeof why) < 0) {
            log_warn(LOG_MODULE, "%s: %s", t->log_id, why);
            result = -1;
        }
    }
    return result;
}

static void *worker_main(void *arg)
{
    transcoder_t *t = arg;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        while (!t->stopping && t->queue_count == 0 && t->finish_served == t->finish_requested)
            pthread_cond_wait(&t->wake, &t->lock);
        if (t->stopping)
            break;
        if (t->queue_count > 0) {
            segment_info_t info = t->queue[t->queue_head];
            t->queue_head = (t->queue_head + 1) % t->queue_capacity;
            t->queue_count--;
            pthread_mutex_unlock(&t->lock);
            process_segment(t, &info);
            pthread_mutex_lock(&t->lock);
            continue;
        }
        uint64_t requested = t->finish_requested;
        pthread_mutex_unlock(&t->lock);
        int result = end_playlists(t);
        pthread_mutex_lock(&t->lock);
        t->finish_result = result;
        t->finish_served = requested;
        pthread_cond_broadcast(&t->idle);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* ======================================================================================== */
/* public API                                                                                */
/* ======================================================================================== */

static bool preset_known(const char *preset)
{
    static const char *const presets[] = {"ultrafast", "superfast", "veryfast", "faster",
                                          "fast",      "medium",    "slow",     "slower",
                                          "veryslow",  "placebo"};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(preset, presets[i]) == 0)
            return true;
    return false;
}

static int copy_settings(transcoder_t *t, const transcoder_config_t *c, char *err, size_t err_size)
{
    struct stat st;
    if (!c->live_dir || stat(c->live_dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
        strlen(c->live_dir) >= sizeof t->live_dir) {
        snprintf(err, err_size, "live directory %s does not exist",
                 c->live_dir ? c->live_dir : "(null)");
        return -1;
    }
    const char *preset = c->x264_preset ? c->x264_preset : TRANSCODER_DEFAULT_PRESET;
    if (!preset_known(preset)) {
        snprintf(err, err_size, "unknown x264 preset \"%.32s\"", preset);
        return -1;
    }
    if (c->threads < 0 || c->threads > MAX_THREADS || c->window_segments < 0 ||
        c->queue_capacity > MAX_QUEUE || c->extra_delay_ms < 0) {
        snprintf(err, err_size, "transcoder setting out of range");
        return -1;
    }
    snprintf(t->live_dir, sizeof t->live_dir, "%s", c->live_dir);
    snprintf(t->preset, sizeof t->preset, "%s", preset);
    snprintf(t->log_id, sizeof t->log_id, "%s", c->log_id ? c->log_id : c->live_dir);
    t->threads = c->threads;
    t->window_segments = c->window_segments;
    t->queue_capacity = c->queue_capacity ? c->queue_capacity : TRANSCODER_DEFAULT_QUEUE;
    t->extra_delay_ms = c->extra_delay_ms;
    return 0;
}

static int init_outputs(transcoder_t *t, char *err, size_t err_size)
{
    if (t->ladder.count == 0)
        return 0;
    t->outputs = calloc(t->ladder.count, sizeof *t->outputs);
    if (!t->outputs) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < t->ladder.count; i++) {
        output_t *out = &t->outputs[i];
        const char *name = t->ladder.profiles[i].name;
        snprintf(out->dir, sizeof out->dir, "%s/%s", t->live_dir, name);
        snprintf(out->playlist_path, sizeof out->playlist_path, "%s/%s/index.m3u8", t->live_dir,
                 name);
    }
    return 0;
}

static int start_worker(transcoder_t *t, char *err, size_t err_size)
{
    t->queue = calloc(t->queue_capacity, sizeof *t->queue);
    t->frame = av_frame_alloc();
    if (!t->queue || !t->frame) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (pthread_create(&t->worker, NULL, worker_main, t) != 0) {
        snprintf(err, err_size, "cannot start the transcoder thread");
        return -1;
    }
    t->worker_started = true;
    return 0;
}

transcoder_t *transcoder_new(const transcoder_config_t *config,
                             const transcoder_callbacks_t *callbacks, char *err, size_t err_size)
{
    transcoder_t *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    pthread_cond_init(&t->idle, NULL);
    pthread_mutex_init(&t->done_lock, NULL);
    pthread_cond_init(&t->done_cond, NULL);
    if (callbacks)
        t->cb = *callbacks;
    const char *json = config ? config->profiles_json : NULL;
    if (!config || copy_settings(t, config, err, err_size) < 0 ||
        ladder_parse(json, json ? strlen(json) : 0, &t->ladder, err, err_size) < 0 ||
        init_outputs(t, err, err_size) < 0)
        goto fail;
    if (t->ladder.count > 0 && start_worker(t, err, err_size) < 0)
        goto fail;
    return t;
fail:
    transcoder_free(t);
    return NULL;
}

bool transcoder_active(const transcoder_t *t)
{
    return t && t->ladder.count > 0;
}

int transcoder_submit(transcoder_t *t, const segment_info_t *segment)
{
    if (!t || !segment)
        return -1;
    if (t->ladder.count == 0)
        return 0;
    pthread_mutex_lock(&t->lock);
    if (t->stopping) {
        pthread_mutex_unlock(&t->lock);
        return -1;
    }
    t->stats.submitted++;
    if (t->queue_count == t->queue_capacity) {
        t->stats.dropped++;
        pthread_mutex_unlock(&t->lock);
        log_warn(LOG_MODULE, "%s: transcoding is behind: source segment %" PRId64 " dropped",
                 t->log_id, segment->sequence);
        if (t->cb.on_dropped)
            t->cb.on_dropped(t->cb.opaque, segment->sequence);
        return 1;
    }
    t->queue[(t->queue_head + t->queue_count) % t->queue_capacity] = *segment;
    t->queue_count++;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

int transcoder_finish(transcoder_t *t)
{
    if (!t || t->ladder.count == 0)
        return 0;
    pthread_mutex_lock(&t->lock);
    uint64_t ticket = ++t->finish_requested;
    pthread_cond_signal(&t->wake);
    while (!t->stopping && t->finish_served < ticket)
        pthread_cond_wait(&t->idle, &t->lock);
    int result = t->finish_result;
    pthread_mutex_unlock(&t->lock);
    return result;
}

size_t transcoder_renditions(transcoder_t *t, transcoder_rendition_t *out, size_t max)
{
    size_t count = 0;
    if (!t)
        return 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->ladder.count; i++) {
        if (!t->outputs[i].visible)
            continue;
        if (out && count < max)
            out[count] = t->outputs[i].info;
        count++;
    }
    pthread_mutex_unlock(&t->lock);
    return count;
}

void transcoder_get_stats(transcoder_t *t, transcoder_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    *out = t->stats;
    pthread_mutex_unlock(&t->lock);
}

double transcoder_decode_cpu_per_media_s(const transcoder_stats_t *stats)
{
    return stats->source_duration_s > 0 ? stats->decode_cpu_s / stats->source_duration_s : 0;
}

void transcoder_free(transcoder_t *t)
{
    if (!t)
        return;
    if (t->worker_started) {
        pthread_mutex_lock(&t->lock);
        t->stopping = true;
        pthread_cond_broadcast(&t->wake);
        pthread_cond_broadcast(&t->idle);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->worker, NULL);
    }
    stop_rungs(t);
    avcodec_free_context(&t->decoder);
    av_frame_free(&t->frame);
    for (size_t i = 0; t->outputs && i < t->ladder.count; i++)
        hls_playlist_free(t->outputs[i].playlist);
    free(t->outputs);
    free(t->queue);
    pthread_cond_destroy(&t->done_cond);
    pthread_mutex_destroy(&t->done_lock);
    pthread_cond_destroy(&t->idle);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
