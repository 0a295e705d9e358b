/* Transcoder: source segments in, rendition segments and playlists out. This file is the worker
 * thread and the public API; the rung threads are transcoder_rung.c, the types both share
 * transcoder_internal.h.
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
#include "media/transcoder_internal.h"

#include "media/segment_reader.h"
#include "util/clock.h"
#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libavcodec/avcodec.h>

#define MAX_QUEUE 64                   /* largest queue_capacity accepted */
#define MAX_SEGMENT_BYTES (256u << 20) /* larger source segments are refused */
#define MAX_THREADS 64                 /* x264 threads per rung */
#define TS_WRAP ((int64_t)1 << 33)     /* the 33-bit MPEG-TS timestamps wrap here */

/* ---- small helpers ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A source segment read into memory. */
typedef struct demuxed {
    AVPacket **video;
    size_t video_count, video_capacity;
    AVPacket **audio;
    size_t audio_count, audio_capacity;
    AVCodecParameters *audio_par; /* of the AAC stream; NULL = none */
    size_t bytes;
} demuxed_t;

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

/* An interval this many times the median is a gap (frames dropped, a stall), not a frame's. */
#define FRAME_GAP_FACTOR 3

/* Mean video frame interval in 90 kHz ticks: the span of the segment's presentation times over
 * its frames, less the gaps; 0 when there are too few frames. Single intervals can be far off
 * (millisecond FLV times; B-frames timed by a muxer that guesses, as GStreamer's flvmux does, give
 * 10, 24, 59, 66 ms at 30 fps), but they add up to the real span: only the sum is trusted. */
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
        if (deltas[i] <= median * FRAME_GAP_FACTOR) {
            sum += (double)deltas[i];
            used++;
        }
    }
    free(deltas);
    return used > 0 && sum > 0 ? sum / (double)used : 0;
}

/* How far a measured rate may be from the rate the stream declares (its SPS timing) and still be
 * taken as that rate: a live source timed by a busy machine's clock (GStreamer's is-live
 * sources) measures 1-2 % off over a segment. */
#define DECLARED_RATE_TOLERANCE 0.05

/* Frame rate of the segment's video: the rate the stream declares (declared, from the decoder;
 * 0/x = none) when the measured one is within DECLARED_RATE_TOLERANCE of it, else the measured
 * rate snapped to a common rate within 1%; 0/0 when unknown. */
static void measure_fps(const demuxed_t *d, AVRational declared, int *num, int *den)
{
    static const int common[][2] = {{24000, 1001}, {24, 1}, {25, 1},       {30000, 1001}, {30, 1},
                                    {48, 1},       {50, 1}, {60000, 1001}, {60, 1},       {15, 1},
                                    {12, 1},       {10, 1}, {120, 1}};
    double interval = mean_frame_interval(d);
    *num = *den = 0;
    if (!(interval > 0))
        return;
    double fps = (double)TS_HZ / interval, best = 0.01;
    if (declared.num > 0 && declared.den > 0 && av_q2d(declared) <= 240 &&
        fabs(fps - av_q2d(declared)) / av_q2d(declared) < DECLARED_RATE_TOLERANCE) {
        *num = declared.num;
        *den = declared.den;
        return;
    }
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
        measure_fps(d, t->decoder ? t->decoder->framerate : (AVRational){0, 1}, &key.fps_num,
                    &key.fps_den);
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
    transcoder_stop_rungs(t);
    t->have_run = false;
    if (transcoder_start_rungs(t, &key, d->audio_par, err) < 0) {
        transcoder_stop_rungs(t);
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
        transcoder_rung_send(t->rungs[i], m);
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
    double wall0 = clock_monotonic_s(), cpu0 = clock_thread_cpu_s();
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
    double cpu = clock_thread_cpu_s() - cpu0, elapsed = clock_monotonic_s() - wall0;
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
    transcoder_stop_rungs(t);
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
