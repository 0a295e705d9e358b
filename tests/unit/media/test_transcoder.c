/* Unit tests for the transcoder: real media made with the ffmpeg CLI, cut into source segments by
 * the real segmenter (fed from FLV as RTMP would), transcoded, and checked on disk with ffprobe
 * and ffmpeg: sizes, rates, profiles, bitrates, keyframes, alignment with the source, playback,
 * and the queue's behaviour under overload, bad input and source changes. */
#include <criterion/criterion.h>
#include <errno.h>
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

#include "media/segmenter.h"
#include "media/transcoder.h"
#include "media_test_util.h"

#define MAX_SEGMENTS 64
#define MAX_EVENTS 256

/* ---- shell helpers ---- */

/* Runs a command and returns its whole stdout (caller frees). */
static char *capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *capture(const char *fmt, ...)
{
    char cmd[4096];
    va_list args;
    va_start(args, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, args);
    va_end(args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    size_t n;
    while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            out = realloc(out, cap);
        }
    }
    out[len] = '\0';
    int status = pclose(p);
    cr_assert_eq(WEXITSTATUS(status), 0, "command failed: %s", cmd);
    return out;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- test area: ROOT holds inputs, ROOT/live/source the source rendition ---- */

typedef struct area {
    char root[256];
    char live[300];
    char source[320];
} area_t;

static area_t make_area(void)
{
    area_t a;
    snprintf(a.root, sizeof a.root, "/tmp/streamd-tx-XXXXXX");
    cr_assert_not_null(mkdtemp(a.root));
    snprintf(a.live, sizeof a.live, "%s/live", a.root);
    snprintf(a.source, sizeof a.source, "%s/source", a.live);
    cr_assert_eq(mkdir(a.live, 0755), 0);
    cr_assert_eq(mkdir(a.source, 0755), 0);
    return a;
}

static void drop_area(const area_t *a)
{
    if (!getenv("STREAMD_KEEP"))
        run("rm -rf %s", a->root);
}

/* ROOT/NAME.flv: seconds of WxH at fps of H.264 (2 s GOP, B-frames, as OBS sends) + AAC. */
static void make_flv(const area_t *a, const char *name, int w, int h, int fps, int seconds)
{
    int rc = run("ffmpeg -nostdin -y -v error -f lavfi -i testsrc2=size=%dx%d:rate=%d "
                 "-f lavfi -i sine=frequency=440:sample_rate=48000 -t %d -c:v libx264 "
                 "-preset superfast -bf 2 -g %d -keyint_min %d -sc_threshold 0 -pix_fmt yuv420p "
                 "-c:a aac -b:a 96k -f flv %s/%s.flv",
                 w, h, fps, seconds, 2 * fps, 2 * fps, a->root, name);
    cr_assert_eq(rc, 0, "ffmpeg could not make the input");
}

/* ---- source segments: the real segmenter, fed packet by packet from the FLV ---- */

typedef struct segments {
    size_t count;
    segment_info_t list[MAX_SEGMENTS];
} segments_t;

static void collect_segment(void *opaque, const segment_info_t *segment)
{
    segments_t *s = opaque;
    cr_assert_lt(s->count, MAX_SEGMENTS);
    s->list[s->count++] = *segment;
}

static int64_t to_ms(int64_t ts, AVRational tb)
{
    return av_rescale_q(ts, tb, (AVRational){1, 1000});
}

static void feed_config(segmenter_t *s, media_codec_t codec, const AVCodecParameters *par)
{
    media_packet_t config = {
        .codec = codec, .is_config = true, .data = par->extradata, .size = par->extradata_size};
    cr_assert_eq(segmenter_write(s, &config), 0, "%s", segmenter_strerror(s));
}

static void feed_flv(segmenter_t *s, const area_t *a, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.flv", a->root, name);
    AVFormatContext *in = NULL;
    cr_assert_eq(avformat_open_input(&in, path, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(in, NULL), 0);
    int video = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int audio = av_find_best_stream(in, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (video >= 0)
        feed_config(s, MEDIA_CODEC_H264, in->streams[video]->codecpar);
    feed_config(s, MEDIA_CODEC_AAC, in->streams[audio]->codecpar);
    AVPacket *pkt = av_packet_alloc();
    while (av_read_frame(in, pkt) >= 0) {
        AVStream *st = in->streams[pkt->stream_index];
        bool is_video = pkt->stream_index == video;
        media_packet_t packet = {
            .codec = is_video ? MEDIA_CODEC_H264 : MEDIA_CODEC_AAC,
            .is_keyframe = is_video && (pkt->flags & AV_PKT_FLAG_KEY),
            .dts_ms = to_ms(pkt->dts, st->time_base),
            .pts_ms = to_ms(pkt->pts, st->time_base),
            .data = pkt->data,
            .size = (size_t)pkt->size,
        };
        if (pkt->stream_index == video || pkt->stream_index == audio)
            cr_assert_eq(segmenter_write(s, &packet), 0, "%s", segmenter_strerror(s));
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&in);
}

/* Cuts the named FLV files (a reconnect between each) into 2 s source segments. */
static void make_segments(const area_t *a, segments_t *out, const char *first, const char *second)
{
    segmenter_config_t config = {.dir = a->source, .target_duration_s = 2.0};
    segmenter_callbacks_t callbacks = {.opaque = out, .on_segment = collect_segment};
    char err[256] = "";
    memset(out, 0, sizeof *out);
    segmenter_t *s = segmenter_new(&config, &callbacks, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    feed_flv(s, a, first);
    if (second) {
        cr_assert_eq(segmenter_discontinuity(s), 0);
        feed_flv(s, a, second);
    }
    cr_assert_eq(segmenter_finish(s), 0);
    segmenter_free(s);
}

/* ---- what the callbacks saw ---- */

typedef struct rendition_event {
    transcoder_rendition_t rendition;
    segment_info_t segment;
    double cpu_s, wall_s;
} rendition_event_t;

typedef struct done_event {
    int64_t sequence;
    double duration_s, elapsed_s, cpu_s;
    bool ok;
    char error[TRANSCODER_ERROR_MAX];
} done_event_t;

typedef struct events {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    size_t renditions, done, dropped;
    rendition_event_t rendition[MAX_EVENTS];
    done_event_t done_list[MAX_EVENTS];
    int64_t dropped_list[MAX_EVENTS];
    bool dropped_on_test_thread; /* on_dropped ran on the submitting thread */
    pthread_t test_thread;
} events_t;

static void on_rendition(void *opaque, const transcoder_rendition_t *rendition,
                         const segment_info_t *segment, double cpu_s, double wall_s)
{
    events_t *e = opaque;
    pthread_mutex_lock(&e->lock);
    if (e->renditions < MAX_EVENTS)
        e->rendition[e->renditions] =
            (rendition_event_t){.rendition = *rendition, .segment = *segment, cpu_s, wall_s};
    e->renditions++;
    pthread_mutex_unlock(&e->lock);
}

static void on_done(void *opaque, int64_t sequence, double duration_s, double elapsed_s,
                    double cpu_s, bool ok, const char *error)
{
    events_t *e = opaque;
    pthread_mutex_lock(&e->lock);
    if (e->done < MAX_EVENTS) {
        done_event_t *d = &e->done_list[e->done];
        *d = (done_event_t){sequence, duration_s, elapsed_s, cpu_s, ok, ""};
        snprintf(d->error, sizeof d->error, "%s", error);
    }
    e->done++;
    pthread_cond_broadcast(&e->changed);
    pthread_mutex_unlock(&e->lock);
}

static void on_dropped(void *opaque, int64_t sequence)
{
    events_t *e = opaque;
    pthread_mutex_lock(&e->lock);
    if (e->dropped < MAX_EVENTS)
        e->dropped_list[e->dropped] = sequence;
    e->dropped++;
    e->dropped_on_test_thread = pthread_equal(pthread_self(), e->test_thread);
    pthread_mutex_unlock(&e->lock);
}

static events_t *new_events(void)
{
    events_t *e = calloc(1, sizeof *e);
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->changed, NULL);
    e->test_thread = pthread_self();
    return e;
}

static void free_events(events_t *e)
{
    pthread_cond_destroy(&e->changed);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* Waits until n source segments are done (or 60 s pass). */
static void wait_done(events_t *e, size_t n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    pthread_mutex_lock(&e->lock);
    while (e->done < n && pthread_cond_timedwait(&e->changed, &e->lock, &until) != ETIMEDOUT)
        ;
    size_t done = e->done;
    pthread_mutex_unlock(&e->lock);
    cr_assert_geq(done, n, "only %zu of %zu segments done", done, n);
}

static transcoder_t *new_transcoder(const area_t *a, const char *profiles, events_t *e,
                                    size_t queue, int delay_ms)
{
    transcoder_config_t config = {
        .live_dir = a->live,
        .profiles_json = profiles,
        .queue_capacity = queue,
        .extra_delay_ms = delay_ms,
        .log_id = "test",
    };
    transcoder_callbacks_t callbacks = {.opaque = e,
                                        .on_rendition_segment = on_rendition,
                                        .on_source_segment_done = on_done,
                                        .on_dropped = on_dropped};
    char err[256] = "";
    av_log_set_level(AV_LOG_ERROR); /* x264's statistics on every close */
    transcoder_t *t = transcoder_new(&config, &callbacks, err, sizeof err);
    cr_assert_not_null(t, "transcoder_new: %s", err);
    return t;
}

/* Submits segments [from, to), each after the previous is done, so none is dropped. */
static void submit_paced(transcoder_t *t, events_t *e, const segments_t *s, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        pthread_mutex_lock(&e->lock);
        size_t before = e->done;
        pthread_mutex_unlock(&e->lock);
        cr_assert_eq(transcoder_submit(t, &s->list[i]), 0);
        wait_done(e, before + 1);
    }
}

/* ---- probing ---- */

typedef struct packets {
    size_t count;
    int64_t first_pts, last_pts; /* 90 kHz, smallest and largest */
    uint64_t bytes;
    bool first_is_key; /* the first packet in file order is a keyframe */
} packets_t;

static packets_t probe_video(const char *path)
{
    char *text = capture("ffprobe -v error -select_streams v:0 -show_entries "
                         "packet=pts,size,flags -of compact=p=0 %s",
                         path);
    packets_t p = {.first_pts = INT64_MAX, .last_pts = INT64_MIN};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *pts = strstr(line, "pts="), *size = strstr(line, "size="),
             *flags = strstr(line, "flags=");
        cr_assert(pts && size && flags, "ffprobe line: %s", line);
        int64_t value = strtoll(pts + 4, NULL, 10);
        if (p.count == 0)
            p.first_is_key = flags[6] == 'K';
        p.first_pts = value < p.first_pts ? value : p.first_pts;
        p.last_pts = value > p.last_pts ? value : p.last_pts;
        p.bytes += strtoull(size + 5, NULL, 10);
        p.count++;
    }
    free(text);
    return p;
}

typedef struct stream_props {
    int width, height;
    char rate[32];
    char profile[64];
    bool has_audio;
} stream_props_t;

static stream_props_t probe_stream(const char *path)
{
    char *text = capture("ffprobe -v error -select_streams v:0 -show_entries "
                         "stream=width,height,r_frame_rate,profile -of default=nw=1 %s",
                         path);
    stream_props_t s = {0};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "width=", 6) == 0)
            s.width = (int)strtol(line + 6, NULL, 10);
        else if (strncmp(line, "height=", 7) == 0)
            s.height = (int)strtol(line + 7, NULL, 10);
        else if (strncmp(line, "r_frame_rate=", 13) == 0)
            snprintf(s.rate, sizeof s.rate, "%s", line + 13);
        else if (strncmp(line, "profile=", 8) == 0)
            snprintf(s.profile, sizeof s.profile, "%s", line + 8);
    }
    free(text);
    text = capture("ffprobe -v error -select_streams a:0 -show_entries stream=codec_name "
                   "-of default=nw=1:nk=1 %s",
                   path);
    s.has_audio = strstr(text, "aac") != NULL;
    free(text);
    return s;
}

/* The playlist decodes end to end with ffmpeg, without a single error line. */
static void assert_plays(const char *playlist)
{
    char *errors = capture("ffmpeg -nostdin -v error -i %s -f null - 2>&1", playlist);
    cr_assert_str_eq(errors, "", "ffmpeg reported errors playing %s:\n%.2000s", playlist, errors);
    free(errors);
}

/* ffmpeg's error lines for a playlist, with object addresses blanked out. */
static char *play_errors(const char *playlist)
{
    char *errors = capture("ffmpeg -nostdin -v error -i %s -f null - 2>&1 | "
                           "sed -e 's/@ 0x[0-9a-f]*/@ X/'",
                           playlist);
    return errors;
}

/* The rendition plays exactly as well as the source: across a reconnect the source itself may
 * carry a few ms of overlapping audio, which the renditions copy unchanged. */
static void assert_plays_like(const char *playlist, const char *source_playlist)
{
    char *errors = play_errors(playlist), *source_errors = play_errors(source_playlist);
    cr_assert_str_eq(errors, source_errors, "%s plays with other errors than the source:\n%.2000s",
                     playlist, errors);
    free(errors);
    free(source_errors);
}

static void rendition_path(const area_t *a, const char *name, const char *file, char *out,
                           size_t size)
{
    snprintf(out, size, "%s/%s/%s", a->live, name, file);
}

static char *read_playlist(const area_t *a, const char *name)
{
    char path[512];
    rendition_path(a, name, "index.m3u8", path, sizeof path);
    return read_text(path);
}

/* The first video packet of a .ts file holds an IDR picture (NAL type 5). */
static bool starts_with_idr(const char *path)
{
    AVFormatContext *in = NULL;
    cr_assert_eq(avformat_open_input(&in, path, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(in, NULL), 0);
    int video = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    AVPacket *pkt = av_packet_alloc();
    bool idr = false;
    while (av_read_frame(in, pkt) >= 0) {
        bool mine = pkt->stream_index == video;
        for (int i = 0; mine && i + 3 < pkt->size; i++)
            if (pkt->data[i] == 0 && pkt->data[i + 1] == 0 && pkt->data[i + 2] == 1 &&
                (pkt->data[i + 3] & 0x1f) == 5)
                idr = true;
        av_packet_unref(pkt);
        if (mine)
            break;
    }
    av_packet_free(&pkt);
    avformat_close_input(&in);
    return idr;
}

/* The rendition segment of source segment src: aligned to it (same first pts; last pts within
 * one output frame), starts with a keyframe; returns its packets. */
static packets_t assert_aligned(const area_t *a, const char *name, const segment_info_t *src,
                                int64_t frame_ticks)
{
    char file[32], path[512];
    snprintf(file, sizeof file, "%05lld.ts", (long long)src->sequence);
    rendition_path(a, name, file, path, sizeof path);
    packets_t source = probe_video(src->path), out = probe_video(path);
    cr_assert(out.first_is_key, "%s does not start with a keyframe", path);
    cr_assert(starts_with_idr(path), "%s does not start with an IDR picture", path);
    cr_assert_eq(out.first_pts, source.first_pts, "%s starts at %lld, the source at %lld", path,
                 (long long)out.first_pts, (long long)source.first_pts);
    cr_assert_leq(llabs(out.last_pts - source.last_pts), frame_ticks,
                  "%s ends at %lld, the source at %lld", path, (long long)out.last_pts,
                  (long long)source.last_pts);
    return out;
}

/* The rendition segment of source segment src carries exactly the source's audio frames (none
 * lost, none moved across a cut by the muxer's PES grouping), several to a PES packet, and its
 * PCRs are positive. */
static void assert_same_audio(const area_t *a, const char *name, const segment_info_t *src)
{
    char file[32], path[512];
    snprintf(file, sizeof file, "%05lld.ts", (long long)src->sequence);
    rendition_path(a, name, file, path, sizeof path);
    probed_packets_t source = probe_packets(src->path, "a:0"), out = probe_packets(path, "a:0");
    cr_assert_gt(source.count, 0, "%s has no audio", src->path);
    cr_assert_eq(out.count, source.count, "%s: %zu audio frames, the source %zu", path, out.count,
                 source.count);
    cr_assert_eq(out.first_pts, source.first_pts, "%s: audio starts at %lld, the source at %lld",
                 path, (long long)out.first_pts, (long long)source.first_pts);
    cr_assert_eq(out.last_pts, source.last_pts, "%s: audio ends at %lld, the source at %lld", path,
                 (long long)out.last_pts, (long long)source.last_pts);
    ts_scan_t scan = ts_scan_file(path, 0x101);
    cr_assert_leq(scan.pes_starts * 4, out.count, "%s: %zu audio frames in %zu PES packets", path,
                  out.count, scan.pes_starts);
    cr_assert_gt(scan.pcrs, 0);
    cr_assert_geq(scan.min_pcr, 0, "%s: PCR %lld", path, (long long)scan.min_pcr);
}

static const transcoder_rendition_t *find_rendition(const transcoder_rendition_t *list,
                                                    size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    return NULL;
}

/* ---- tests ---- */

#define TWO_RUNGS                                                                                  \
    "[{\"name\":\"480p\",\"width\":854,\"height\":480,\"bitrate\":1000000,\"fps\":0,"              \
    "\"profile\":\"H264High\"},"                                                                   \
    "{\"name\":\"360p\",\"width\":640,\"height\":360,\"bitrate\":600000,\"fps\":15,"               \
    "\"profile\":\"H264Baseline\",\"gop\":\"1\"}]"

/* Checks one rendition of the two-rung test end to end. */
static void check_rendition(const area_t *a, const segments_t *s, const char *name, int w, int h,
                            const char *rate, const char *profile, int fps, double bitrate)
{
    char *text = read_playlist(a, name);
    cr_assert_eq(count_of(text, "#EXTINF:"), (int)s->count, "%s lists %d segments, want %zu", name,
                 count_of(text, "#EXTINF:"), s->count);
    cr_assert_eq(count_of(text, "#EXT-X-ENDLIST"), 1);
    cr_assert_eq(count_of(text, "#EXT-X-DISCONTINUITY"), 0);
    uint64_t video_bytes = 0;
    double duration = 0;
    for (size_t i = 0; i < s->count; i++) {
        char entry[64];
        snprintf(entry, sizeof entry, "#EXTINF:%.3f,\n%05lld.ts\n", s->list[i].duration_s,
                 (long long)s->list[i].sequence);
        cr_assert_not_null(strstr(text, entry), "%s lacks %s", name, entry);
        packets_t p = assert_aligned(a, name, &s->list[i], 90000 / fps);
        assert_same_audio(a, name, &s->list[i]);
        video_bytes += p.bytes;
        duration += s->list[i].duration_s;
    }
    free(text);
    char path[512];
    rendition_path(a, name, "00001.ts", path, sizeof path);
    stream_props_t props = probe_stream(path);
    cr_assert_eq(props.width, w, "%s width %d", name, props.width);
    cr_assert_eq(props.height, h, "%s height %d", name, props.height);
    cr_assert_str_eq(props.rate, rate);
    cr_assert_str_eq(props.profile, profile);
    cr_assert(props.has_audio, "%s has no audio", name);
    double bps = (double)video_bytes * 8 / duration;
    cr_assert(fabs(bps - bitrate) <= 0.3 * bitrate, "%s: %.0f bit/s, want %.0f +-30%%", name, bps,
              bitrate);
    rendition_path(a, name, "index.m3u8", path, sizeof path);
    assert_plays(path);
}

Test(transcoder, two_rungs_align_with_the_source, .timeout = 180)
{
    area_t a = make_area();
    make_flv(&a, "in", 1280, 720, 30, 12);
    segments_t s;
    make_segments(&a, &s, "in", NULL);
    cr_assert_eq(s.count, 6);
    events_t *e = new_events();
    transcoder_t *t = new_transcoder(&a, TWO_RUNGS, e, 0, 0);
    cr_assert(transcoder_active(t));
    submit_paced(t, e, &s, 0, s.count);
    cr_assert_eq(transcoder_finish(t), 0);

    check_rendition(&a, &s, "480p", 854, 480, "30/1", "High", 30, 1000000);
    check_rendition(&a, &s, "360p", 640, 360, "15/1", "Constrained Baseline", 15, 600000);

    /* callbacks agree with the files */
    cr_assert_eq(e->renditions, 2 * s.count);
    cr_assert_eq(e->done, s.count);
    uint64_t bytes = 0;
    for (size_t i = 0; i < e->renditions; i++) {
        const rendition_event_t *r = &e->rendition[i];
        cr_assert_eq(r->segment.bytes, file_size(r->segment.path), "bytes reported == file size");
        const segment_info_t *src = &s.list[r->segment.sequence];
        cr_assert_float_eq(r->segment.duration_s, src->duration_s, 1e-9);
        cr_assert_eq(r->segment.program_date_time_ms, src->program_date_time_ms);
        cr_assert_gt(r->cpu_s, 0);
        cr_assert_gt(r->wall_s, 0);
        bytes += r->segment.bytes;
    }
    for (size_t i = 0; i < e->done; i++) {
        cr_assert(e->done_list[i].ok, "segment %zu: %s", i, e->done_list[i].error);
        cr_assert_str_eq(e->done_list[i].error, "");
        cr_assert_eq(e->done_list[i].sequence, (int64_t)i);
        cr_assert_gt(e->done_list[i].cpu_s, 0);
    }
    transcoder_stats_t stats;
    transcoder_get_stats(t, &stats);
    cr_assert_eq(stats.submitted, s.count);
    cr_assert_eq(stats.dropped, 0);
    cr_assert_eq(stats.failed, 0);
    cr_assert_eq(stats.rendition_segments, 2 * s.count);
    cr_assert_eq(stats.rendition_bytes, bytes);

    /* what the master playlist needs */
    transcoder_rendition_t list[4];
    cr_assert_eq(transcoder_renditions(t, list, 4), 2);
    cr_assert_str_eq(list[0].name, "480p", "profiles order");
    const transcoder_rendition_t *r480 = find_rendition(list, 2, "480p");
    const transcoder_rendition_t *r360 = find_rendition(list, 2, "360p");
    cr_assert_eq(r480->width, 854);
    cr_assert_float_eq(r480->fps, 30.0, 1e-9);
    cr_assert_float_eq(r360->fps, 15.0, 1e-9);
    cr_assert_eq(r360->bitrate, 600000);
    cr_assert_eq(strncmp(r480->codecs, "avc1.64", 7), 0, "%s", r480->codecs);
    cr_assert_eq(strncmp(r360->codecs, "avc1.42", 7), 0, "%s", r360->codecs);
    cr_assert_not_null(strstr(r480->codecs, ",mp4a.40.2"), "%s", r480->codecs);
    cr_assert_gt(r480->average_bps, 0);
    cr_assert_geq(r480->peak_bps, r480->average_bps);
    transcoder_free(t);
    free_events(e);
    drop_area(&a);
}

Test(transcoder, passthrough_does_nothing, .timeout = 60)
{
    area_t a = make_area();
    events_t *e = new_events();
    transcoder_t *t = new_transcoder(&a, "[]", e, 0, 0);
    cr_assert_not(transcoder_active(t));
    segment_info_t seg = {.sequence = 0, .duration_s = 2.0};
    snprintf(seg.path, sizeof seg.path, "%s/00000.ts", a.source);
    cr_assert_eq(transcoder_submit(t, &seg), 0);
    cr_assert_eq(transcoder_finish(t), 0);
    cr_assert_eq(transcoder_renditions(t, NULL, 0), 0);
    transcoder_stats_t stats;
    transcoder_get_stats(t, &stats);
    cr_assert_eq(stats.submitted, 0);
    transcoder_free(t);
    cr_assert_eq(e->done + e->renditions + e->dropped, 0);
    char *ls = capture("ls %s", a.live);
    cr_assert_str_eq(ls, "source\n", "nothing but the source: %s", ls);
    free(ls);
    free_events(e);
    drop_area(&a);
}

Test(transcoder, bad_settings_are_refused)
{
    area_t a = make_area();
    char err[256] = "";
    transcoder_config_t config = {.live_dir = a.live, .profiles_json = "[{\"name\":\"x\"}]"};
    cr_assert_null(transcoder_new(&config, NULL, err, sizeof err));
    cr_assert_not_null(strstr(err, "profiles[0].width is required"), "%s", err);
    config = (transcoder_config_t){.live_dir = "/nonexistent/dir", .profiles_json = "[]"};
    cr_assert_null(transcoder_new(&config, NULL, err, sizeof err));
    cr_assert_not_null(strstr(err, "does not exist"), "%s", err);
    config = (transcoder_config_t){.live_dir = a.live, .x264_preset = "warp"};
    cr_assert_null(transcoder_new(&config, NULL, err, sizeof err));
    cr_assert_not_null(strstr(err, "unknown x264 preset"), "%s", err);
    config = (transcoder_config_t){.live_dir = a.live, .threads = -1};
    cr_assert_null(transcoder_new(&config, NULL, err, sizeof err));
    cr_assert_null(transcoder_new(NULL, NULL, err, sizeof err));
    transcoder_free(NULL);
    drop_area(&a);
}

Test(transcoder, rungs_larger_than_the_source_are_clamped_or_skipped, .timeout = 120)
{
    area_t a = make_area();
    make_flv(&a, "in", 640, 360, 30, 4);
    segments_t s;
    make_segments(&a, &s, "in", NULL);
    cr_assert_eq(s.count, 2);
    /* default ladder on 360p: 480p0 would be clamped to 640x360, which 360p0 has: skipped, and
     * so is 720p0 */
    events_t *e = new_events();
    transcoder_t *t = new_transcoder(&a, NULL, e, 0, 0);
    submit_paced(t, e, &s, 0, s.count);
    cr_assert_eq(transcoder_finish(t), 0);
    transcoder_rendition_t list[4];
    cr_assert_eq(transcoder_renditions(t, list, 4), 2);
    cr_assert_str_eq(list[0].name, "240p0");
    cr_assert_str_eq(list[1].name, "360p0");
    cr_assert_eq(list[1].width, 640);
    char path[512];
    rendition_path(&a, "720p0", "", path, sizeof path);
    cr_assert_not(exists(path), "no directory for a skipped rung");
    transcoder_free(t);
    free_events(e);

    /* alone, a rung larger than the source is clamped to the source size */
    e = new_events();
    t = new_transcoder(&a,
                       "[{\"name\":\"big\",\"width\":1920,\"height\":1080,\"bitrate\":2000000,"
                       "\"fps\":0,\"quality\":0,\"profile\":\"H264Main\"}]",
                       e, 0, 0);
    submit_paced(t, e, &s, 0, s.count);
    cr_assert_eq(transcoder_finish(t), 0);
    rendition_path(&a, "big", "00000.ts", path, sizeof path);
    stream_props_t props = probe_stream(path);
    cr_assert_eq(props.width, 640);
    cr_assert_eq(props.height, 360);
    cr_assert_str_eq(props.profile, "Main");
    cr_assert_eq(e->renditions, s.count, "quality 0 (crf 1) opens the encoder");
    transcoder_free(t);
    free_events(e);
    drop_area(&a);
}

/* Whether the first segment listed after the playlist's last discontinuity before uri is uri. */
static bool break_before(const char *text, const char *uri)
{
    const char *at = strstr(text, uri), *mark = NULL;
    for (const char *p = strstr(text, "#EXT-X-DISCONTINUITY\n"); p && at && p < at;
         p = strstr(p + 1, "#EXT-X-DISCONTINUITY\n"))
        mark = p;
    return mark && strstr(mark, ".ts\n") == at + strlen(uri) - strlen(".ts");
}

#define ONE_RUNG "[{\"name\":\"240p\",\"width\":426,\"height\":240,\"bitrate\":300000,\"fps\":0}]"

Test(transcoder, a_slow_worker_drops_whole_segments_and_keeps_going, .timeout = 120)
{
    area_t a = make_area();
    make_flv(&a, "in", 640, 360, 30, 12);
    segments_t s;
    make_segments(&a, &s, "in", NULL);
    cr_assert_eq(s.count, 6);
    events_t *e = new_events();
    transcoder_t *t = new_transcoder(&a, ONE_RUNG, e, 1, 400);
    /* four at once: one in progress, one waiting, the rest dropped (two, or three when the
     * worker has not picked up the first yet; the two may be 1 and 3 when it picks up 0 between
     * the submits of 1 and 2) */
    int dropped = 0;
    for (size_t i = 0; i < 4; i++) {
        int rc = transcoder_submit(t, &s.list[i]);
        cr_assert(rc == 0 || rc == 1);
        dropped += rc;
    }
    cr_assert(dropped == 2 || dropped == 3, "%d dropped", dropped);
    wait_done(e, (size_t)(4 - dropped));
    /* load falls: the next ones go through */
    submit_paced(t, e, &s, 4, 6);
    cr_assert_eq(transcoder_finish(t), 0);

    transcoder_stats_t stats;
    transcoder_get_stats(t, &stats);
    cr_assert_eq(stats.submitted, 6);
    cr_assert_eq(stats.dropped, (uint64_t)dropped);
    cr_assert_eq(stats.done, (uint64_t)(6 - dropped));
    cr_assert_eq(stats.failed, 0);
    cr_assert_eq(e->dropped, (size_t)dropped);
    cr_assert(e->dropped_on_test_thread, "on_dropped runs on the submitting thread");
    cr_assert_eq(e->dropped_list[e->dropped - 1], 3);
    for (size_t i = 0; i < e->done; i++)
        cr_assert_geq(e->done_list[i].elapsed_s, 0.4);
    /* decode CPU per media second: the dropped segments were never decoded, so their media
     * seconds do not count (the session's sourceSegmentsDuration has them all) */
    double submitted_s = 0, dropped_s = 0, done_s = 0;
    for (size_t i = 0; i < 6; i++) {
        submitted_s += s.list[i].duration_s;
        for (size_t j = 0; j < e->dropped; j++)
            dropped_s += e->dropped_list[j] == s.list[i].sequence ? s.list[i].duration_s : 0;
    }
    for (size_t i = 0; i < e->done; i++)
        done_s += e->done_list[i].duration_s;
    cr_assert_float_eq(stats.source_duration_s, done_s, 1e-9);
    cr_assert_float_eq(stats.source_duration_s, submitted_s - dropped_s, 1e-9);
    cr_assert_gt(stats.decode_cpu_s, 0);
    double per_media_s = transcoder_decode_cpu_per_media_s(&stats);
    cr_assert_float_eq(per_media_s, stats.decode_cpu_s / done_s, 1e-12);
    cr_assert_gt(per_media_s, 1.4 * stats.decode_cpu_s / submitted_s, "%d of 6 dropped", dropped);
    cr_assert_float_eq(transcoder_decode_cpu_per_media_s(&(transcoder_stats_t){0}), 0, 1e-12);
    char *text = read_playlist(&a, "240p");
    cr_assert_eq(count_of(text, "#EXTINF:"), 6 - dropped);
    int breaks = 0; /* one after each run of dropped segments */
    for (size_t i = 1; i < e->done; i++)
        breaks += e->done_list[i].sequence != e->done_list[i - 1].sequence + 1;
    cr_assert(breaks == 1 || breaks == 2);
    cr_assert_eq(count_of(text, "#EXT-X-DISCONTINUITY\n"), breaks, "%d dropped:\n%s", dropped,
                 text);
    cr_assert_not_null(strstr(text, "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:"));
    cr_assert(break_before(text, "00004.ts"), "%s", text);
    cr_assert_null(strstr(text, "00003.ts"));
    free(text);
    transcoder_free(t);
    free_events(e);
    drop_area(&a);
}

Test(transcoder, a_corrupt_source_segment_fails_alone, .timeout = 120)
{
    area_t a = make_area();
    make_flv(&a, "in", 640, 360, 30, 8);
    segments_t s;
    make_segments(&a, &s, "in", NULL);
    cr_assert_eq(s.count, 4);
    /* segment 1: random bytes; segment 2: missing */
    cr_assert_eq(run("head -c 200000 /dev/urandom > %s", s.list[1].path), 0);
    cr_assert_eq(unlink(s.list[2].path), 0);
    events_t *e = new_events();
    transcoder_t *t = new_transcoder(&a, ONE_RUNG, e, 0, 0);
    submit_paced(t, e, &s, 0, s.count);
    cr_assert_eq(transcoder_finish(t), 0);
    cr_assert_eq(e->done, 4);
    cr_assert(e->done_list[0].ok);
    cr_assert_not(e->done_list[1].ok);
    cr_assert_neq(e->done_list[1].error[0], '\0');
    cr_assert_not(e->done_list[2].ok);
    cr_assert_not_null(strstr(e->done_list[2].error, "cannot open"), "%s", e->done_list[2].error);
    cr_assert(e->done_list[3].ok, "%s", e->done_list[3].error);
    transcoder_stats_t stats;
    transcoder_get_stats(t, &stats);
    cr_assert_eq(stats.failed, 2);
    char *text = read_playlist(&a, "240p");
    cr_assert_eq(count_of(text, "#EXTINF:"), 2);
    cr_assert_not_null(strstr(text, "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:"));
    cr_assert_not_null(strstr(strstr(text, "#EXT-X-DISCONTINUITY"), "00003.ts"));
    free(text);
    assert_aligned(&a, "240p", &s.list[3], 3000);
    transcoder_free(t);
    free_events(e);
    drop_area(&a);
}

Test(transcoder, a_reconnect_with_a_new_resolution_replans, .timeout = 120)
{
    area_t a = make_area();
    make_flv(&a, "wide", 640, 360, 30, 4);
    make_flv(&a, "square", 640, 480, 30, 4);
    segments_t s;
    make_segments(&a, &s, "wide", "square");
    cr_assert_eq(s.count, 4);
    cr_assert(s.list[2].discontinuity);
    events_t *e = new_events();
    transcoder_t *t = new_transcoder(&a,
                                     "[{\"name\":\"r360\",\"width\":640,\"height\":360,"
                                     "\"bitrate\":600000,\"fps\":0},"
                                     "{\"name\":\"r240\",\"width\":426,\"height\":240,"
                                     "\"bitrate\":300000,\"fps\":0}]",
                                     e, 0, 0);
    submit_paced(t, e, &s, 0, 2);
    transcoder_rendition_t list[2];
    cr_assert_eq(transcoder_renditions(t, list, 2), 2);
    cr_assert(list[0].width == 640 && list[0].height == 360);
    submit_paced(t, e, &s, 2, 4);
    cr_assert_eq(transcoder_finish(t), 0);
    cr_assert_eq(transcoder_renditions(t, list, 2), 2);
    cr_assert(list[0].width == 480 && list[0].height == 360, "%dx%d", list[0].width,
              list[0].height);
    cr_assert(list[1].width == 320 && list[1].height == 240);
    const struct {
        const char *name;
        int w0, h0, w1, h1;
    } want[] = {{"r360", 640, 360, 480, 360}, {"r240", 426, 240, 320, 240}};
    for (size_t i = 0; i < 2; i++) {
        char path[512];
        rendition_path(&a, want[i].name, "00001.ts", path, sizeof path);
        stream_props_t before = probe_stream(path);
        rendition_path(&a, want[i].name, "00002.ts", path, sizeof path);
        stream_props_t after = probe_stream(path);
        cr_assert(before.width == want[i].w0 && before.height == want[i].h0);
        cr_assert(after.width == want[i].w1 && after.height == want[i].h1, "%s: %dx%d",
                  want[i].name, after.width, after.height);
        char *text = read_playlist(&a, want[i].name);
        cr_assert_eq(count_of(text, "#EXTINF:"), 4);
        cr_assert_eq(count_of(text, "#EXT-X-DISCONTINUITY\n"), 1);
        cr_assert_not_null(strstr(strstr(text, "#EXT-X-DISCONTINUITY"), "00002.ts"));
        free(text);
        for (size_t j = 0; j < s.count; j++)
            assert_aligned(&a, want[i].name, &s.list[j], 3000);
        rendition_path(&a, want[i].name, "index.m3u8", path, sizeof path);
        char source[512];
        snprintf(source, sizeof source, "%s/index.m3u8", a.source);
        assert_plays_like(path, source);
    }
    for (size_t i = 0; i < e->done; i++)
        cr_assert(e->done_list[i].ok, "%s", e->done_list[i].error);
    transcoder_free(t);
    free_events(e);
    drop_area(&a);
}

Test(transcoder, a_reconnect_at_the_same_resolution_keeps_going, .timeout = 120)
{
    area_t a = make_area();
    make_flv(&a, "in", 640, 360, 30, 4);
    segments_t s;
    make_segments(&a, &s, "in", "in");
    cr_assert_eq(s.count, 4);
    events_t *e = new_events();
    transcoder_t *t = new_transcoder(&a, ONE_RUNG, e, 0, 0);
    submit_paced(t, e, &s, 0, s.count);
    cr_assert_eq(transcoder_finish(t), 0);
    for (size_t i = 0; i < e->done; i++)
        cr_assert(e->done_list[i].ok, "%s", e->done_list[i].error);
    char *text = read_playlist(&a, "240p");
    cr_assert_eq(count_of(text, "#EXTINF:"), 4);
    cr_assert_eq(count_of(text, "#EXT-X-DISCONTINUITY\n"), 1);
    free(text);
    for (size_t j = 0; j < s.count; j++)
        assert_aligned(&a, "240p", &s.list[j], 3000);
    char path[512], source[512];
    rendition_path(&a, "240p", "index.m3u8", path, sizeof path);
    snprintf(source, sizeof source, "%s/index.m3u8", a.source);
    assert_plays_like(path, source);
    transcoder_free(t);
    free_events(e);
    drop_area(&a);
}

Test(transcoder, audio_only_segments_are_nothing_to_do, .timeout = 60)
{
    area_t a = make_area();
    cr_assert_eq(run("ffmpeg -nostdin -y -v error -f lavfi -i sine=frequency=440:sample_rate=48000 "
                     "-t 4 -c:a aac -f flv %s/audio.flv",
                     a.root),
                 0);
    segments_t s;
    make_segments(&a, &s, "audio", NULL);
    cr_assert_geq(s.count, 1);
    events_t *e = new_events();
    transcoder_t *t = new_transcoder(&a, ONE_RUNG, e, 0, 0);
    submit_paced(t, e, &s, 0, s.count);
    cr_assert_eq(transcoder_finish(t), 0);
    for (size_t i = 0; i < e->done; i++)
        cr_assert(e->done_list[i].ok, "%s", e->done_list[i].error);
    cr_assert_eq(e->renditions, 0);
    cr_assert_eq(transcoder_renditions(t, NULL, 0), 0);
    transcoder_free(t);
    free_events(e);
    drop_area(&a);
}

Test(transcoder, the_window_slides_and_old_rendition_files_go, .timeout = 120)
{
    area_t a = make_area();
    make_flv(&a, "in", 640, 360, 30, 12);
    segments_t s;
    make_segments(&a, &s, "in", NULL);
    cr_assert_eq(s.count, 6);
    events_t *e = new_events();
    transcoder_config_t config = {
        .live_dir = a.live, .profiles_json = ONE_RUNG, .window_segments = 2};
    transcoder_callbacks_t callbacks = {.opaque = e, .on_source_segment_done = on_done};
    char err[256] = "";
    transcoder_t *t = transcoder_new(&config, &callbacks, err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    submit_paced(t, e, &s, 0, s.count);
    cr_assert_eq(transcoder_finish(t), 0);
    char *text = read_playlist(&a, "240p");
    cr_assert_eq(count_of(text, "#EXTINF:"), 2);
    cr_assert_not_null(strstr(text, "#EXT-X-MEDIA-SEQUENCE:4\n"), "%s", text);
    free(text);
    /* four slid out; files are kept SEGMENTER_KEEP_EXTRA (3) segments longer */
    char path[512];
    rendition_path(&a, "240p", "00000.ts", path, sizeof path);
    cr_assert_not(exists(path), "00000.ts should be gone");
    for (int i = 1; i < 6; i++) {
        char file[32];
        snprintf(file, sizeof file, "%05d.ts", i);
        rendition_path(&a, "240p", file, path, sizeof path);
        cr_assert(exists(path), "%s should still be there", file);
    }
    transcoder_free(t);
    free_events(e);
    drop_area(&a);
}

Test(transcoder, free_while_busy_and_submit_after_finish, .timeout = 120)
{
    area_t a = make_area();
    make_flv(&a, "in", 640, 360, 30, 8);
    segments_t s;
    make_segments(&a, &s, "in", NULL);
    events_t *e = new_events();
    transcoder_t *t = new_transcoder(&a, ONE_RUNG, e, 2, 0);
    submit_paced(t, e, &s, 0, 1);
    cr_assert_eq(transcoder_finish(t), 0);
    char *text = read_playlist(&a, "240p");
    cr_assert_eq(count_of(text, "#EXT-X-ENDLIST"), 1);
    free(text);
    /* a reconnect after the end reopens the playlist */
    submit_paced(t, e, &s, 1, 2);
    text = read_playlist(&a, "240p");
    cr_assert_eq(count_of(text, "#EXT-X-ENDLIST"), 0);
    cr_assert_eq(count_of(text, "#EXTINF:"), 2);
    free(text);
    /* freed with work queued: no crash, no leak, no wait for the queue */
    transcoder_submit(t, &s.list[2]);
    transcoder_submit(t, &s.list[3]);
    transcoder_free(t);
    free_events(e);
    drop_area(&a);
}

/* Not a check: CPU per source second of the default ladder, printed when STREAMD_BENCH=1. */
static void measure(int w, int h)
{
    area_t a = make_area();
    make_flv(&a, "in", w, h, 30, 12);
    segments_t s;
    make_segments(&a, &s, "in", NULL);
    events_t *e = new_events();
    transcoder_config_t config = {.live_dir = a.live, .queue_capacity = 8, .log_id = "bench"};
    const char *threads = getenv("STREAMD_BENCH_THREADS");
    config.threads = threads ? (int)strtol(threads, NULL, 10) : 0;
    transcoder_callbacks_t callbacks = {
        .opaque = e, .on_rendition_segment = on_rendition, .on_source_segment_done = on_done};
    char err[256] = "";
    av_log_set_level(AV_LOG_ERROR);
    transcoder_t *t = transcoder_new(&config, &callbacks, err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < s.count; i++)
        cr_assert_eq(transcoder_submit(t, &s.list[i]), 0);
    cr_assert_eq(transcoder_finish(t), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    transcoder_stats_t st;
    transcoder_get_stats(t, &st);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double cpu = st.decode_cpu_s + st.encode_cpu_s;
    fprintf(stderr,
            "default ladder on %dx%d30: %.1f s of source, decode %.2f + encode %.2f = %.2f CPU s "
            "(%.3f CPU s per source s), wall %.2f s (%.2fx realtime)\n",
            w, h, st.source_duration_s, st.decode_cpu_s, st.encode_cpu_s, cpu,
            cpu / st.source_duration_s, wall, st.source_duration_s / wall);
    for (size_t i = 0; i < e->done; i++)
        fprintf(stderr, "  source seg %lld: elapsed %.3f s, worker cpu %.3f s\n",
                (long long)e->done_list[i].sequence, e->done_list[i].elapsed_s,
                e->done_list[i].cpu_s);
    for (size_t i = 0; i < e->renditions && i < 8; i++)
        fprintf(stderr, "  %s seg %lld: cpu %.3f s wall %.3f s\n", e->rendition[i].rendition.name,
                (long long)e->rendition[i].segment.sequence, e->rendition[i].cpu_s,
                e->rendition[i].wall_s);
    transcoder_free(t);
    free_events(e);
    drop_area(&a);
}

Test(transcoder, measure_default_ladder, .timeout = 300)
{
    const char *bench = getenv("STREAMD_BENCH");
    if (!bench || strcmp(bench, "1") != 0)
        cr_skip_test("set STREAMD_BENCH=1 to measure");
    measure(1280, 720);
    measure(1920, 1080);
}
