/* Transcoder rung threads: one per rendition of the current run. A rung takes START, FRAME,
 * AUDIO and END messages from its queue, scales each picture (from the source or a larger rung's
 * picture), forwards it to the rungs scaled from it, encodes it with libx264, writes the
 * rendition segment through ts_mux's writer and lists it in the rendition playlist. At END it
 * reports to the worker through the transcoder's END barrier. */
#include "media/transcoder_internal.h"

#include "media/codec.h"

#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>

/* ======================================================================================== */
/* rung: message queue                                                                       */
/* ======================================================================================== */

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

void transcoder_rung_send(rung_t *r, msg_t m)
{
    queue_push(&r->queue, m);
}

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
        /* x264 writes plain High; the rung's settings (no B-frames, progressive) make it
         * Constrained High, and the SPS, then CODECS, say so. */
        if (r->profile->profile == LADDER_H264_CONSTRAINED_HIGH &&
            (r->packet->flags & AV_PKT_FLAG_KEY) && av_packet_make_writable(r->packet) == 0)
            codec_avc_mark_constrained_high(r->packet->data, (size_t)r->packet->size);
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
    double started = clock_monotonic_s();
    queue_push(&child->queue, m);
    r->blocked_wall += clock_monotonic_s() - started;
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
    r->cpu_start = clock_thread_cpu_s();
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
        double started = clock_monotonic_s();
        bool go_on = handle_message(r, &m);
        r->busy_wall += clock_monotonic_s() - started;
        if (m.type == MSG_END) {
            r->result.cpu_s = clock_thread_cpu_s() - r->cpu_start;
            r->result.wall_s = r->busy_wall - r->blocked_wall;
            report_done(r->t);
        }
        msg_release(&m);
        if (!go_on)
            return NULL;
    }
}

/* ======================================================================================== */
/* the plan's rungs                                                                          */
/* ======================================================================================== */

void transcoder_stop_rungs(transcoder_t *t)
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

int transcoder_start_rungs(transcoder_t *t, const run_key_t *key,
                           const AVCodecParameters *audio_par, char *err)
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
