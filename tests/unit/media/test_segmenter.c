/* Unit tests for the segmenter: real H.264/AAC media made with the ffmpeg CLI, demuxed from FLV
 * with libavformat (AVCC + avcC, raw AAC + ASC, as RTMP carries them), fed packet by packet; the
 * segments and playlist are checked on disk and with ffprobe/ffmpeg. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "media/codec.h"
#include "media/segmenter.h"
#include "media_test_util.h"

#define MAX_SEGMENTS 64

/* ---- fixture helpers ---- */

typedef struct collected {
    size_t count;
    segment_info_t segments[MAX_SEGMENTS];
} collected_t;

static void collect(void *opaque, const segment_info_t *segment)
{
    collected_t *c = opaque;
    if (c->count < MAX_SEGMENTS)
        c->segments[c->count] = *segment;
    c->count++;
}

static char *make_dir(void)
{
    char *dir = strdup("/tmp/streamd-seg-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

/* Makes DIR/NAME.flv: seconds of 640x360@30 H.264 and/or 48 kHz AAC; extra adds encoder options. */
static void make_input(const char *dir, const char *name, int seconds, bool video, bool audio,
                       const char *extra)
{
    int rc = run("ffmpeg -nostdin -y -v error %s %s -t %d %s %s %s -f flv %s/%s.flv",
                 video ? "-f lavfi -i testsrc2=size=640x360:rate=30" : "",
                 audio ? "-f lavfi -i sine=frequency=440:sample_rate=48000" : "", seconds,
                 video ? "-c:v libx264 -preset ultrafast -pix_fmt yuv420p" : "-vn",
                 audio ? "-c:a aac" : "-an", extra ? extra : "", dir, name);
    cr_assert_eq(rc, 0, "ffmpeg could not make the input");
}

static void make_av(const char *dir, const char *name, int seconds, int gop)
{
    char extra[128];
    snprintf(extra, sizeof extra, "-g %d -keyint_min %d -sc_threshold 0", gop, gop);
    make_input(dir, name, seconds, true, true, extra);
}

static double probe_start_time(const char *path)
{
    return probe_format_number(path, "start_time");
}

/* Codecs of a file's streams in index order, e.g. "h264,aac,". ffprobe prints a stream twice
 * (under its program and on its own), so each index counts once. */
static void probe_streams(const char *path, char *out, size_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -show_entries stream=index,codec_name -of csv=p=0 %s", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char names[8][32] = {{0}};
    char line[128];
    while (fgets(line, sizeof line, p)) {
        char *comma = strchr(line, ',');
        long index = strtol(line, NULL, 10);
        if (comma && index >= 0 && index < 8)
            snprintf(names[index], sizeof names[index], "%.*s", (int)strcspn(comma + 1, "\n"),
                     comma + 1);
    }
    pclose(p);
    out[0] = '\0';
    for (int i = 0; i < 8 && names[i][0]; i++) {
        strncat(out, names[i], size - strlen(out) - 1);
        strncat(out, ",", size - strlen(out) - 1);
    }
}

/* The playlist decodes end to end with ffmpeg, without a single error line. */
static void assert_plays(const char *dir)
{
    char errors[512];
    snprintf(errors, sizeof errors, "%s/play-errors.txt", dir);
    int rc = run("ffmpeg -nostdin -v error -i %s/index.m3u8 -f null - 2>%s", dir, errors);
    struct stat st;
    cr_assert_eq(stat(errors, &st), 0);
    if (st.st_size > 0)
        run("head -c 2000 %s >&2", errors);
    cr_assert_eq(rc, 0, "ffmpeg could not play the playlist");
    cr_assert_eq(st.st_size, 0, "ffmpeg reported errors while playing the playlist");
}

static char *read_playlist(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/index.m3u8", dir);
    return read_text(path);
}

static long tag_value(const char *text, const char *tag)
{
    const char *p = strstr(text, tag);
    cr_assert_not_null(p, "no %s", tag);
    return strtol(p + strlen(tag), NULL, 10);
}

/* Sum of #EXTINF values; also checks each against TARGETDURATION (RFC 8216 4.3.3.1). */
static double extinf_sum(const char *text, int *count)
{
    long target = tag_value(text, "#EXT-X-TARGETDURATION:");
    double sum = 0;
    *count = 0;
    for (const char *p = strstr(text, "#EXTINF:"); p; p = strstr(p + 1, "#EXTINF:")) {
        double d = strtod(p + 8, NULL);
        cr_assert_leq(lround(d), target, "EXTINF %.3f over TARGETDURATION %ld", d, target);
        cr_assert_leq(d, (double)target);
        sum += d;
        (*count)++;
    }
    return sum;
}

static int count_files_with_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    size_t suffix_len = strlen(suffix);
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len >= suffix_len && strcmp(e->d_name + len - suffix_len, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* ---- feeding ---- */

typedef struct feed_opts {
    int64_t shift_ms;            /* added to every timestamp */
    int64_t audio_config_at_ms;  /* send the ASC only with the first audio frame at or after this
                                    time (audio before it is fed and dropped); 0 = at the start */
    bool skip_configs;           /* send no config at all (the segmenter has them already) */
    int64_t audio_hole_every_ms; /* leave out audio_hole_frames audio frames every this often */
    int audio_hole_frames;
    int64_t *fed_audio_dts_ms; /* when set, the dts of every audio frame fed (up to
                                  fed_audio_max), and their number in *fed_audio_count */
    size_t fed_audio_max, *fed_audio_count;
    bool adts_audio; /* send each AAC frame with an ADTS header, as some publishers do */
} feed_opts_t;

static int64_t to_ms(int64_t ts, AVRational tb)
{
    return av_rescale_q(ts, tb, (AVRational){1, 1000});
}

static void send_config(segmenter_t *s, media_codec_t codec, const AVCodecParameters *par)
{
    cr_assert_gt(par->extradata_size, 0, "input without extradata");
    media_packet_t config = {
        .codec = codec, .is_config = true, .data = par->extradata, .size = par->extradata_size};
    int rc = segmenter_write(s, &config);
    cr_assert_eq(rc, 0, "config refused: %s", segmenter_strerror(s));
}

/* Feeds every packet of an FLV file; returns the number of packets fed. */
static int feed_file(segmenter_t *s, const char *path, const feed_opts_t *opts)
{
    feed_opts_t defaults = {0};
    if (!opts)
        opts = &defaults;
    AVFormatContext *in = NULL;
    cr_assert_eq(avformat_open_input(&in, path, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(in, NULL), 0);
    int video = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int audio = av_find_best_stream(in, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    bool audio_config_sent = opts->skip_configs;
    if (!opts->skip_configs) {
        if (video >= 0)
            send_config(s, MEDIA_CODEC_H264, in->streams[video]->codecpar);
        if (audio >= 0 && opts->audio_config_at_ms == 0) {
            send_config(s, MEDIA_CODEC_AAC, in->streams[audio]->codecpar);
            audio_config_sent = true;
        }
    }
    AVPacket *pkt = av_packet_alloc();
    int fed = 0, holed = 0;
    int64_t next_hole_ms = opts->audio_hole_every_ms;
    while (av_read_frame(in, pkt) >= 0) {
        AVStream *st = in->streams[pkt->stream_index];
        bool is_video = pkt->stream_index == video;
        media_packet_t packet = {
            .codec = is_video ? MEDIA_CODEC_H264 : MEDIA_CODEC_AAC,
            .is_keyframe = is_video && (pkt->flags & AV_PKT_FLAG_KEY),
            .dts_ms = to_ms(pkt->dts, st->time_base) + opts->shift_ms,
            .pts_ms = to_ms(pkt->pts, st->time_base) + opts->shift_ms,
            .data = pkt->data,
            .size = (size_t)pkt->size,
        };
        if (!is_video && !audio_config_sent && packet.dts_ms >= opts->audio_config_at_ms) {
            send_config(s, MEDIA_CODEC_AAC, st->codecpar);
            audio_config_sent = true;
        }
        bool in_hole = pkt->stream_index == audio && opts->audio_hole_every_ms > 0 &&
                       packet.dts_ms >= next_hole_ms;
        if (in_hole && ++holed == opts->audio_hole_frames) {
            holed = 0;
            next_hole_ms += opts->audio_hole_every_ms;
        }
        if (!in_hole && pkt->stream_index == audio && opts->fed_audio_dts_ms) {
            cr_assert_lt(*opts->fed_audio_count, opts->fed_audio_max);
            opts->fed_audio_dts_ms[(*opts->fed_audio_count)++] = packet.dts_ms;
        }
        uint8_t adts[CODEC_ADTS_HEADER_BYTES + CODEC_AAC_MAX_FRAME_BYTES];
        if (opts->adts_audio && pkt->stream_index == audio) {
            codec_aac_config_t aac;
            AVCodecParameters *par = st->codecpar;
            cr_assert_eq(codec_aac_config_parse(par->extradata, par->extradata_size, &aac, NULL, 0),
                         0);
            cr_assert_eq(codec_aac_adts_header(&aac, packet.size, adts),
                         (size_t)CODEC_ADTS_HEADER_BYTES);
            memcpy(adts + CODEC_ADTS_HEADER_BYTES, packet.data, packet.size);
            packet.data = adts;
            packet.size += CODEC_ADTS_HEADER_BYTES;
        }
        if (!in_hole && (pkt->stream_index == video || pkt->stream_index == audio)) {
            int rc = segmenter_write(s, &packet);
            cr_assert_eq(rc, 0, "segmenter_write: %d %s", rc, segmenter_strerror(s));
            fed++;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&in);
    return fed;
}

static segmenter_t *new_segmenter(const char *dir, double target, int window, int64_t first,
                                  collected_t *collected)
{
    segmenter_config_t config = {.dir = dir,
                                 .target_duration_s = target,
                                 .window_segments = window,
                                 .first_sequence = first};
    segmenter_callbacks_t callbacks = {.opaque = collected, .on_segment = collect};
    char err[256] = "";
    segmenter_t *s = segmenter_new(&config, &callbacks, err, sizeof err);
    cr_assert_not_null(s, "segmenter_new: %s", err);
    return s;
}

/* Checks what every test wants: the callbacks agree with the files and the playlist (which lists
 * them all), every EXTINF is within TARGETDURATION, the durations sum to within 0.2 s of the
 * expected media duration and of what ffprobe says of the playlist, and the playlist plays. */
static void assert_consistent(const char *dir, const collected_t *c, double expected_duration)
{
    char *text = read_playlist(dir);
    int listed = 0;
    double sum_extinf = extinf_sum(text, &listed);
    cr_assert_eq((size_t)listed, c->count, "playlist lists %d of %zu segments", listed, c->count);
    double sum_callbacks = 0;
    uint64_t sum_bytes = 0, sum_files = 0;
    for (size_t i = 0; i < c->count; i++) {
        const segment_info_t *seg = &c->segments[i];
        sum_callbacks += seg->duration_s;
        sum_bytes += seg->bytes;
        sum_files += file_size(seg->path);
        char entry[128];
        snprintf(entry, sizeof entry, "#EXTINF:%.3f,\n%05lld.ts\n", seg->duration_s,
                 (long long)seg->sequence);
        cr_assert_not_null(strstr(text, entry), "playlist lacks %s", entry);
        if (i > 0) {
            const segment_info_t *prev = &c->segments[i - 1];
            cr_assert_eq(seg->sequence, prev->sequence + 1);
            if (!seg->discontinuity)
                cr_assert_eq(seg->program_date_time_ms - prev->program_date_time_ms,
                             llround(prev->duration_s * 1000), "PDT follows media time");
        }
    }
    cr_assert_eq(sum_bytes, sum_files, "bytes reported == bytes on disk");
    cr_assert_float_eq(sum_extinf, sum_callbacks, 1e-6);
    cr_assert(fabs(sum_callbacks - expected_duration) <= 0.2, "durations sum to %.3f, want %.3f",
              sum_callbacks, expected_duration);
    char playlist[512];
    snprintf(playlist, sizeof playlist, "%s/index.m3u8", dir);
    double probed = probe_duration(playlist);
    cr_assert(fabs(probed - expected_duration) <= 0.2, "ffprobe says %.3f, want %.3f", probed,
              expected_duration);
    assert_plays(dir);
    free(text);
}

static void input_path(const char *dir, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s.flv", dir, name);
}

/* A test's working area: ROOT holds the inputs, ROOT/source is the rendition directory. */
typedef struct area {
    char *root;
    char out[512];
} area_t;

static area_t make_area(void)
{
    area_t area = {.root = make_dir()};
    snprintf(area.out, sizeof area.out, "%s/source", area.root);
    cr_assert_eq(mkdir(area.out, 0755), 0);
    return area;
}

static void drop_area(area_t *area)
{
    run("rm -rf %s", area->root);
    free(area->root);
}

/* ---- tests ---- */

Test(segmenter, cuts_two_second_segments_at_keyframes, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 7, 30);
    char in[512];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_finish(s), 0, "%s", segmenter_strerror(s));
    cr_assert_eq(c.count, 4);
    const double want[] = {2.0, 2.0, 2.0, 1.0};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_float_eq(c.segments[i].duration_s, want[i], 1e-9, "segment %zu: %.3f", i,
                           c.segments[i].duration_s);
        cr_assert_eq(c.segments[i].sequence, (int64_t)i);
        cr_assert_not(c.segments[i].discontinuity);
    }
    cr_assert_eq(segmenter_next_sequence(s), 4);
    char *text = read_playlist(area.out);
    cr_assert_eq(tag_value(text, "#EXT-X-TARGETDURATION:"), 2);
    cr_assert_eq(tag_value(text, "#EXT-X-MEDIA-SEQUENCE:"), 0);
    cr_assert_eq(count_of(text, "#EXT-X-ENDLIST"), 1);
    cr_assert_eq(count_of(text, "#EXT-X-PROGRAM-DATE-TIME:"), 4);
    cr_assert_eq(count_of(text, "#EXT-X-DISCONTINUITY"), 0);
    free(text);
    assert_consistent(area.out, &c, probe_duration(in));
    char codecs[64];
    cr_assert_eq(segmenter_codecs(s, codecs, sizeof codecs), 0);
    cr_assert_str_eq(codecs, "avc1.42c01e,mp4a.40.2");
    segmenter_stats_t stats;
    segmenter_get_stats(s, &stats);
    cr_assert_eq(stats.segments, 4);
    cr_assert_eq(stats.invalid_packets, 0);
    cr_assert_eq(count_files_with_suffix(area.out, ".tmp"), 0);
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, timestamps_run_on_across_segment_files, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 5, 30);
    char in[512], first[600], second[600];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_finish(s), 0);
    snprintf(first, sizeof first, "%s/00000.ts", area.out);
    snprintf(second, sizeof second, "%s/00001.ts", area.out);
    double gap = probe_start_time(second) - probe_start_time(first);
    cr_assert(fabs(gap - c.segments[0].duration_s) < 0.03, "second file starts %.3f s later", gap);
    /* each file plays on its own: it opens with PAT/PMT and a keyframe with SPS/PPS */
    cr_assert_eq(run("ffmpeg -nostdin -v error -xerror -i %s -f null - 2>&1 | grep -q .", second),
                 1);
    segmenter_free(s);
    drop_area(&area);
}

/* With video the muxer packs AAC frames into shared PES packets (TS_MUX_DELAY_US), yet
 * every frame stays in the segment it arrived in: none is lost, none moves across a cut, and
 * the PCRs stay positive on the shifted timeline. */
Test(segmenter, audio_frames_share_pes_packets_and_stay_in_their_segment, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 7, 30);
    char in[512];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_finish(s), 0, "%s", segmenter_strerror(s));
    cr_assert_eq(c.count, 4);
    segmenter_stats_t stats;
    segmenter_get_stats(s, &stats);
    size_t frames = 0;
    probed_packets_t prev_audio = {0};
    for (size_t i = 0; i < c.count; i++) {
        const char *path = c.segments[i].path;
        probed_packets_t audio = probe_packets(path, "a:0"), video = probe_packets(path, "v:0");
        ts_scan_t scan = ts_scan_file(path, 0x101);
        cr_assert_gt(audio.count, 0, "%s has no audio", path);
        cr_assert_leq(scan.pes_starts * 4, audio.count, "%s: %zu audio frames in %zu PES packets",
                      path, audio.count, scan.pes_starts);
        cr_assert_gt(scan.pcrs, 0);
        cr_assert_geq(scan.min_pcr, 0, "%s: PCR %lld", path, (long long)scan.min_pcr);
        if (i > 0) {
            /* the frame after the last of the previous segment opens this one (1024 samples at
             * 48 kHz are 1920 ticks; the publisher's clock is in ms) */
            int64_t step = audio.first_pts - prev_audio.last_pts;
            cr_assert(llabs(step - 1920) <= 180, "%s: audio resumes %lld ticks after the last",
                      path, (long long)step);
            cr_assert_leq(prev_audio.last_pts, video.first_pts,
                          "audio from after the cut stayed in the previous segment");
        }
        frames += audio.count;
        prev_audio = audio;
    }
    probed_packets_t input_audio = probe_packets(in, "a:0");
    cr_assert_eq(frames, input_audio.count - stats.dropped_packets,
                 "%zu of %zu audio frames in the segments, %llu dropped before the first keyframe",
                 frames, input_audio.count, (unsigned long long)stats.dropped_packets);
    segmenter_free(s);
    drop_area(&area);
}

/* Some publishers send AAC frames with their own ADTS header: the segments carry them once. */
Test(segmenter, aac_frames_with_adts_headers_are_not_wrapped_twice, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 5, 30);
    char in[512];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_opts_t opts = {.adts_audio = true};
    feed_file(s, in, &opts);
    cr_assert_eq(segmenter_finish(s), 0, "%s", segmenter_strerror(s));
    segmenter_stats_t stats;
    segmenter_get_stats(s, &stats);
    size_t frames = 0;
    for (size_t i = 0; i < c.count; i++) {
        const char *path = c.segments[i].path;
        frames += probe_packets(path, "a:0").count;
        cr_assert_eq(run("test -z \"$(ffmpeg -v error -i %s -map 0:a -f null - 2>&1)\"", path), 0,
                     "%s: the audio does not decode cleanly", path);
    }
    probed_packets_t input_audio = probe_packets(in, "a:0");
    cr_assert_eq(frames, input_audio.count - stats.dropped_packets);
    segmenter_free(s);
    drop_area(&area);
}

/* The audio pts of a playlist, in playing order (caller frees); their number in *count. */
static int64_t *probe_audio_pts(const char *playlist, size_t *count)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -select_streams a:0 -show_entries packet=pts -of csv=p=0 %s",
             playlist);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t max = 4096;
    int64_t *pts = calloc(max, sizeof *pts);
    char line[128];
    *count = 0;
    while (fgets(line, sizeof line, p)) {
        char *end;
        int64_t value = strtoll(line, &end, 10);
        if (end == line)
            continue; /* the blank line after a packet with side data */
        cr_assert_lt(*count, max);
        pts[(*count)++] = value;
    }
    pclose(p);
    return pts;
}

/* Holes in the publisher's audio clock: the frame after each keeps its own timestamp (it opens a
 * new PES packet) instead of being played on right after the frames before the hole. */
Test(segmenter, audio_clock_hole_keeps_its_timestamps, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 5, 30);
    char in[512], playlist[600];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    int64_t fed[1024];
    size_t fed_count = 0;
    feed_opts_t opts = {.audio_hole_every_ms = 300, /* not a multiple of the PES length */
                        .audio_hole_frames = 2,
                        .fed_audio_dts_ms = fed,
                        .fed_audio_max = 1024,
                        .fed_audio_count = &fed_count};
    feed_file(s, in, &opts);
    cr_assert_eq(segmenter_finish(s), 0, "%s", segmenter_strerror(s));
    snprintf(playlist, sizeof playlist, "%s/index.m3u8", area.out);
    size_t out_count = 0;
    int64_t *out = probe_audio_pts(playlist, &out_count);
    segmenter_stats_t stats;
    segmenter_get_stats(s, &stats);
    cr_assert_eq(out_count, fed_count - stats.dropped_packets, "%zu of %zu frames written",
                 out_count, fed_count);
    /* the output's frames are the last out_count fed: every step between two of them is the
     * fed step (ms clock: within 2 ms), the holes' ~64 ms steps included */
    int holes = 0;
    for (size_t k = 1; k < out_count; k++) {
        int64_t out_step = out[out_count - k] - out[out_count - k - 1];
        int64_t fed_step = 90 * (fed[fed_count - k] - fed[fed_count - k - 1]);
        cr_assert(llabs(out_step - fed_step) <= 180, "frame %zu from the end: step %lld, fed %lld",
                  k, (long long)out_step, (long long)fed_step);
        holes += fed_step > 2 * 1920;
    }
    cr_assert_geq(holes, 10);
    free(out);
    assert_consistent(area.out, &c, probe_duration(in));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, b_frames_keep_durations, .timeout = 120)
{
    area_t area = make_area();
    make_input(area.root, "in", 7, true, true, "-g 30 -keyint_min 30 -sc_threshold 0 -bf 2");
    char in[512];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(c.count, 4);
    for (size_t i = 0; i < 3; i++)
        cr_assert_float_eq(c.segments[i].duration_s, 2.0, 1e-9);
    assert_consistent(area.out, &c, probe_duration(in));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, long_gop_gives_longer_segments, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 7, 90);
    char in[512];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(c.count, 3);
    cr_assert_float_eq(c.segments[0].duration_s, 3.0, 1e-9);
    cr_assert_float_eq(c.segments[1].duration_s, 3.0, 1e-9);
    cr_assert_float_eq(c.segments[2].duration_s, 1.0, 1e-9);
    char *text = read_playlist(area.out);
    cr_assert_eq(tag_value(text, "#EXT-X-TARGETDURATION:"), 3);
    free(text);
    assert_consistent(area.out, &c, probe_duration(in));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, video_only, .timeout = 120)
{
    area_t area = make_area();
    make_input(area.root, "in", 7, true, false, "-g 30 -keyint_min 30 -sc_threshold 0");
    char in[512], codecs[64], streams[128], first[600];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(c.count, 4);
    cr_assert_float_eq(c.segments[3].duration_s, 1.0, 1e-9);
    cr_assert_eq(segmenter_codecs(s, codecs, sizeof codecs), 0);
    cr_assert_str_eq(codecs, "avc1.42c01e");
    snprintf(first, sizeof first, "%s/00000.ts", area.out);
    probe_streams(first, streams, sizeof streams);
    cr_assert_str_eq(streams, "h264,");
    assert_consistent(area.out, &c, probe_duration(in));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, audio_only_cuts_on_time, .timeout = 120)
{
    area_t area = make_area();
    make_input(area.root, "in", 7, false, true, NULL);
    char in[512], codecs[64], streams[128], first[600];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(c.count, 4);
    for (size_t i = 0; i < 3; i++)
        cr_assert(c.segments[i].duration_s >= 2.0 && c.segments[i].duration_s < 2.03, "%.3f",
                  c.segments[i].duration_s);
    cr_assert_eq(segmenter_codecs(s, codecs, sizeof codecs), 0);
    cr_assert_str_eq(codecs, "mp4a.40.2");
    snprintf(first, sizeof first, "%s/00000.ts", area.out);
    probe_streams(first, streams, sizeof streams);
    cr_assert_str_eq(streams, "aac,");
    /* PCRs ride on the audio PID, and a PCR goes only where a PES packet starts: one frame per
     * PES keeps them within the 100 ms of ISO 13818-1 */
    for (size_t i = 0; i < c.count; i++) {
        ts_scan_t scan = ts_scan_file(c.segments[i].path, 0x101);
        cr_assert_eq(scan.pes_starts, probe_packets(c.segments[i].path, "a:0").count);
        cr_assert_leq(scan.max_pcr_gap, 9000, "PCRs %lld ticks apart", (long long)scan.max_pcr_gap);
        cr_assert_geq(scan.min_pcr, 0);
    }
    assert_consistent(area.out, &c, probe_duration(in));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, video_joining_audio_only_starts_at_its_keyframe, .timeout = 120)
{
    area_t area = make_area();
    make_input(area.root, "radio", 3, false, true, NULL);
    make_av(area.root, "tv", 4, 30);
    char radio[512], tv[512], path[600], streams[128];
    input_path(area.root, "radio", radio, sizeof radio);
    input_path(area.root, "tv", tv, sizeof tv);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_file(s, radio, NULL);
    feed_opts_t opts = {.shift_ms = 3000}; /* the same clock runs on; video config arrives */
    feed_file(s, tv, &opts);
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(c.count, 4);
    snprintf(path, sizeof path, "%s/00001.ts", area.out);
    probe_streams(path, streams, sizeof streams);
    cr_assert_str_eq(streams, "aac,");
    snprintf(path, sizeof path, "%s/00002.ts", area.out);
    probe_streams(path, streams, sizeof streams);
    cr_assert_str_eq(streams, "h264,aac,");
    for (size_t i = 0; i < c.count; i++)
        cr_assert_eq(c.segments[i].discontinuity, i == 2);
    cr_assert_float_eq(c.segments[2].duration_s, 2.0, 1e-9);
    assert_consistent(area.out, &c, probe_duration(radio) + probe_duration(tv));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, late_audio_config_joins_at_next_segment, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 7, 30);
    char in[512], path[600], streams[128];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_opts_t opts = {.audio_config_at_ms = 3000};
    feed_file(s, in, &opts);
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(c.count, 4);
    snprintf(path, sizeof path, "%s/00001.ts", area.out);
    probe_streams(path, streams, sizeof streams);
    cr_assert_str_eq(streams, "h264,", "audio must wait for the next segment");
    snprintf(path, sizeof path, "%s/00002.ts", area.out);
    probe_streams(path, streams, sizeof streams);
    cr_assert_str_eq(streams, "h264,aac,");
    cr_assert(c.segments[2].discontinuity, "a new stream set is a discontinuity");
    char *text = read_playlist(area.out);
    cr_assert_eq(count_of(text, "#EXT-X-DISCONTINUITY\n"), 1);
    free(text);
    segmenter_stats_t stats;
    segmenter_get_stats(s, &stats);
    cr_assert_gt(stats.dropped_packets, 100, "audio before it was dropped");
    assert_consistent(area.out, &c, probe_duration(in));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, reconnect_gives_one_discontinuity_and_continuous_time, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 7, 30);
    char in[512], path[600];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_discontinuity(s), 0, "%s", segmenter_strerror(s));
    cr_assert_eq(c.count, 4, "the open segment is closed and counted");
    feed_file(s, in, NULL); /* timestamps restart at 0 */
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(c.count, 8);
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq(c.segments[i].discontinuity, i == 4);
    char *text = read_playlist(area.out);
    cr_assert_eq(count_of(text, "#EXT-X-DISCONTINUITY\n"), 1);
    cr_assert_eq(count_of(text, "#EXT-X-ENDLIST"), 1);
    free(text);
    /* the output clock starts at SEGMENTER_TIMELINE_START_MS (the input's starts near 0), and
     * the second broadcast continues it where the first ended */
    const double origin_s = SEGMENTER_TIMELINE_START_MS / 1000.0;
    snprintf(path, sizeof path, "%s/00000.ts", area.out);
    double start = probe_start_time(path);
    cr_assert(fabs(start - origin_s) < 0.05, "first run starts at %.3f", start);
    snprintf(path, sizeof path, "%s/00004.ts", area.out);
    start = probe_start_time(path);
    cr_assert(fabs(start - (origin_s + 7.0)) < 0.05, "second run starts at %.3f", start);
    assert_consistent(area.out, &c, 2 * probe_duration(in));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, reopen_after_finish_continues_the_playlist, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 5, 30);
    char in[512];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(segmenter_finish(s), 0, "finishing twice is harmless");
    char *text = read_playlist(area.out);
    cr_assert_eq(count_of(text, "#EXT-X-ENDLIST"), 1);
    free(text);
    media_packet_t late = {.codec = MEDIA_CODEC_AAC, .data = (const uint8_t *)"x", .size = 1};
    cr_assert_eq(segmenter_write(s, &late), SEGMENTER_ERR_STATE);
    cr_assert_eq(segmenter_discontinuity(s), 0);
    text = read_playlist(area.out);
    cr_assert_eq(count_of(text, "#EXT-X-ENDLIST"), 0, "reopening removes ENDLIST at once");
    free(text);
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_finish(s), 0);
    text = read_playlist(area.out);
    cr_assert_eq(count_of(text, "#EXT-X-ENDLIST"), 1);
    cr_assert_eq(count_of(text, "#EXT-X-DISCONTINUITY\n"), 1);
    free(text);
    cr_assert_eq(c.count, 6);
    cr_assert(c.segments[3].discontinuity);
    assert_consistent(area.out, &c, 2 * probe_duration(in));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, window_slides_and_old_files_go, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 12, 30);
    char in[512], path[600];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 1.0, 3, 0, &c);
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(c.count, 12);
    char *text = read_playlist(area.out);
    cr_assert_eq(tag_value(text, "#EXT-X-MEDIA-SEQUENCE:"), 9);
    cr_assert_eq(count_of(text, "#EXTINF:"), 3);
    cr_assert_eq(count_of(text, "#EXT-X-DISCONTINUITY-SEQUENCE"), 0);
    free(text);
    /* 3 listed + SEGMENTER_KEEP_EXTRA kept for slow players; the rest deleted */
    for (int seq = 0; seq < 12; seq++) {
        snprintf(path, sizeof path, "%s/%05d.ts", area.out, seq);
        cr_assert_eq(file_exists(path), seq >= 9 - SEGMENTER_KEEP_EXTRA, "%s", path);
    }
    cr_assert_eq(count_files_with_suffix(area.out, ".ts"), 3 + SEGMENTER_KEEP_EXTRA);
    char playlist[600];
    snprintf(playlist, sizeof playlist, "%s/index.m3u8", area.out);
    cr_assert(fabs(probe_duration(playlist) - 3.0) < 0.2);
    assert_plays(area.out);
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, discontinuity_sequence_counts_what_slid_out, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 6, 30);
    char in[512];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 1.0, 3, 0, &c);
    feed_file(s, in, NULL);
    segmenter_discontinuity(s);
    feed_file(s, in, NULL);
    char *text = read_playlist(area.out);
    cr_assert_eq(tag_value(text, "#EXT-X-DISCONTINUITY-SEQUENCE:"), 1);
    cr_assert_eq(count_of(text, "#EXT-X-DISCONTINUITY\n"), 0);
    free(text);
    cr_assert_eq(segmenter_finish(s), 0);
    assert_plays(area.out);
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, first_sequence_continues_numbering, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 5, 30);
    char in[512], path[600];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 42, &c);
    cr_assert_eq(segmenter_next_sequence(s), 42);
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(c.count, 3);
    cr_assert_eq(c.segments[0].sequence, 42);
    cr_assert(c.segments[0].discontinuity);
    cr_assert_eq(segmenter_next_sequence(s), 45);
    snprintf(path, sizeof path, "%s/00042.ts", area.out);
    cr_assert_str_eq(c.segments[0].path, path);
    char *text = read_playlist(area.out);
    cr_assert_eq(tag_value(text, "#EXT-X-MEDIA-SEQUENCE:"), 42);
    free(text);
    assert_consistent(area.out, &c, probe_duration(in));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, config_change_mid_stream_cuts_with_discontinuity, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 7, 30);
    make_input(area.root, "small", 4, true, true,
               "-g 30 -keyint_min 30 -sc_threshold 0 -s 320x240");
    char in[512], small[512], path[600], codecs[64];
    input_path(area.root, "in", in, sizeof in);
    input_path(area.root, "small", small, sizeof small);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_file(s, in, NULL);
    /* same publisher, new encoder settings, clock running on */
    feed_opts_t opts = {.shift_ms = 7000};
    feed_file(s, small, &opts);
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(c.count, 6);
    cr_assert_float_eq(c.segments[3].duration_s, 1.0, 1e-9, "cut at once at the new keyframe");
    for (size_t i = 0; i < c.count; i++)
        cr_assert_eq(c.segments[i].discontinuity, i == 4);
    cr_assert_eq(segmenter_codecs(s, codecs, sizeof codecs), 0);
    cr_assert_str_eq(codecs, "avc1.42c00d,mp4a.40.2");
    snprintf(path, sizeof path, "%s/00004.ts", area.out);
    cr_assert(fabs(probe_start_time(path) - (SEGMENTER_TIMELINE_START_MS / 1000.0 + 7.0)) < 0.05);
    assert_consistent(area.out, &c, probe_duration(in) + probe_duration(small));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, clock_restart_without_reconnect_is_a_discontinuity, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 5, 30);
    char in[512], path[600];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_file(s, in, NULL);
    feed_opts_t opts = {.skip_configs = true};
    feed_file(s, in, &opts); /* the clock goes back to 0 */
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(c.count, 6);
    for (size_t i = 0; i < c.count; i++)
        cr_assert_eq(c.segments[i].discontinuity, i == 3);
    snprintf(path, sizeof path, "%s/00003.ts", area.out);
    double start = probe_start_time(path);
    cr_assert(fabs(start - (SEGMENTER_TIMELINE_START_MS / 1000.0 + 5.0)) < 0.05, "%.3f", start);
    assert_consistent(area.out, &c, 2 * probe_duration(in));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, missing_directory_fails_cleanly)
{
    char err[256] = "";
    segmenter_config_t config = {.dir = "/nonexistent/streamd/source", .target_duration_s = 2};
    cr_assert_null(segmenter_new(&config, NULL, err, sizeof err));
    cr_assert_not_null(strstr(err, "/nonexistent/streamd/source"), "%s", err);
    cr_assert_not_null(strstr(err, "No such file"), "%s", err);
    config.dir = "/etc/hostname";
    cr_assert_null(segmenter_new(&config, NULL, err, sizeof err));
    cr_assert_not_null(strstr(err, "not a directory"), "%s", err);
    config.dir = "/tmp";
    config.window_segments = -1;
    cr_assert_null(segmenter_new(&config, NULL, err, sizeof err));
    config.window_segments = 3;
    config.target_duration_s = NAN;
    cr_assert_null(segmenter_new(&config, NULL, err, sizeof err));
    cr_assert_null(segmenter_new(NULL, NULL, err, sizeof err));
    segmenter_free(NULL);
}

/* Feeds the file packet by packet, counting I/O errors (the last message goes to last_error)
 * instead of asserting on them; returns the number of other errors. */
static int feed_collecting_errors(segmenter_t *s, const char *path, int *io_errors,
                                  char last_error[256])
{
    AVFormatContext *in = NULL;
    cr_assert_eq(avformat_open_input(&in, path, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(in, NULL), 0);
    int video = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    send_config(s, MEDIA_CODEC_H264, in->streams[video]->codecpar);
    send_config(s, MEDIA_CODEC_AAC, in->streams[1 - video]->codecpar);
    AVPacket *pkt = av_packet_alloc();
    int other = 0;
    while (av_read_frame(in, pkt) >= 0) {
        AVStream *st = in->streams[pkt->stream_index];
        media_packet_t packet = {
            .codec = pkt->stream_index == video ? MEDIA_CODEC_H264 : MEDIA_CODEC_AAC,
            .is_keyframe = pkt->stream_index == video && (pkt->flags & AV_PKT_FLAG_KEY),
            .dts_ms = to_ms(pkt->dts, st->time_base),
            .pts_ms = to_ms(pkt->pts, st->time_base),
            .data = pkt->data,
            .size = (size_t)pkt->size,
        };
        int rc = segmenter_write(s, &packet);
        if (rc == SEGMENTER_ERR_IO) {
            (*io_errors)++;
            snprintf(last_error, 256, "%s", segmenter_strerror(s));
        } else if (rc != 0) {
            other++;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&in);
    return other;
}

Test(segmenter, vanished_directory_fails_cleanly_and_recovers, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 5, 30);
    char in[512];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    cr_assert_eq(rmdir(area.out), 0);
    int io_errors = 0;
    char last_error[256] = "";
    cr_assert_eq(feed_collecting_errors(s, in, &io_errors, last_error), 0);
    cr_assert_eq(io_errors, 5, "one error per keyframe, %d", io_errors);
    cr_assert_not_null(strstr(last_error, "cannot create"), "%s", last_error);
    cr_assert_not_null(strstr(last_error, "No such file"), "%s", last_error);
    cr_assert_eq(c.count, 0);
    cr_assert_eq(segmenter_finish(s), SEGMENTER_ERR_IO, "the playlist cannot be written either");
    /* the directory comes back: the next broadcast works */
    cr_assert_eq(mkdir(area.out, 0755), 0);
    cr_assert_eq(segmenter_discontinuity(s), 0, "%s", segmenter_strerror(s));
    feed_file(s, in, NULL);
    cr_assert_eq(segmenter_finish(s), 0);
    cr_assert_eq(c.count, 3);
    cr_assert_not(c.segments[0].discontinuity, "nothing listed before it");
    assert_consistent(area.out, &c, probe_duration(in));
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, full_disk_fails_cleanly, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 7, 30);
    char in[512];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    /* Files may not grow past 200 KB (every segment is larger): writes fail with EFBIG as they
     * would with ENOSPC. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {.rlim_cur = 200000, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
    int io_errors = 0;
    char last_error[256] = "";
    cr_assert_eq(feed_collecting_errors(s, in, &io_errors, last_error), 0);
    /* after a failure the next keyframe starts a new attempt: 7 keyframes, 7 failures */
    cr_assert_eq(io_errors, 7, "%d", io_errors);
    cr_assert_not_null(strstr(last_error, "File too large"), "%s", last_error);
    segmenter_finish(s);
    cr_assert_eq(c.count, 0, "no segment fits");
    cr_assert_eq(count_files_with_suffix(area.out, ".tmp"), 0, "failed files are removed");
    cr_assert_eq(count_files_with_suffix(area.out, ".ts"), 0);
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, playlist_write_failure_keeps_segments_flowing, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 7, 30);
    char in[512], blocker[600], last_error[256] = "";
    input_path(area.root, "in", in, sizeof in);
    /* a directory where the playlist's temporary file goes: every playlist write fails */
    snprintf(blocker, sizeof blocker, "%s/index.m3u8.tmp", area.out);
    cr_assert_eq(mkdir(blocker, 0755), 0);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    int io_errors = 0;
    cr_assert_eq(feed_collecting_errors(s, in, &io_errors, last_error), 0);
    cr_assert_eq(io_errors, 3, "one per cut: %d", io_errors);
    cr_assert_not_null(strstr(last_error, "index.m3u8.tmp"), "%s", last_error);
    cr_assert_eq(c.count, 3, "segments are still written and counted");
    cr_assert_eq(rmdir(blocker), 0);
    cr_assert_eq(segmenter_finish(s), 0, "%s", segmenter_strerror(s));
    cr_assert_eq(c.count, 4);
    assert_consistent(area.out, &c, probe_duration(in));
    segmenter_free(s);
    drop_area(&area);
}

/* Feeds the configs and the first second of the file, leaving a segment open. */
static void feed_first_second(segmenter_t *s, const char *path)
{
    AVFormatContext *in = NULL;
    cr_assert_eq(avformat_open_input(&in, path, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(in, NULL), 0);
    int video = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    send_config(s, MEDIA_CODEC_H264, in->streams[video]->codecpar);
    send_config(s, MEDIA_CODEC_AAC, in->streams[1 - video]->codecpar);
    AVPacket *pkt = av_packet_alloc();
    while (av_read_frame(in, pkt) >= 0) {
        AVStream *st = in->streams[pkt->stream_index];
        media_packet_t packet = {
            .codec = pkt->stream_index == video ? MEDIA_CODEC_H264 : MEDIA_CODEC_AAC,
            .is_keyframe = pkt->stream_index == video && (pkt->flags & AV_PKT_FLAG_KEY),
            .dts_ms = to_ms(pkt->dts, st->time_base),
            .pts_ms = to_ms(pkt->pts, st->time_base),
            .data = pkt->data,
            .size = (size_t)pkt->size,
        };
        bool done = packet.dts_ms >= 1000;
        if (!done)
            cr_assert_eq(segmenter_write(s, &packet), 0);
        av_packet_unref(pkt);
        if (done)
            break;
    }
    av_packet_free(&pkt);
    avformat_close_input(&in);
}

static int write_bytes(segmenter_t *s, media_codec_t codec, bool config, bool key, int64_t ts,
                       const uint8_t *data, size_t size)
{
    media_packet_t p = {.codec = codec,
                        .is_config = config,
                        .is_keyframe = key,
                        .dts_ms = ts,
                        .pts_ms = ts,
                        .data = data,
                        .size = size};
    return segmenter_write(s, &p);
}

Test(segmenter, malformed_packets_are_rejected, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 3, 30);
    char in[512];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 2.0, 10, 0, &c);
    feed_first_second(s, in);
    const media_codec_t V = MEDIA_CODEC_H264, A = MEDIA_CODEC_AAC;
    static const uint8_t truncated_length[] = {0, 0, 0, 10, 0x65, 1, 2};
    static const uint8_t short_prefix[] = {0, 0, 0, 2, 0x41, 0, 0, 0};
    static const uint8_t only_empty_nals[] = {0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t bad_avcc_version[] = {2, 0x64, 0, 0x1f, 0xff, 0xe1, 0,
                                               1, 0x67, 1, 0,    1,    0x68};
    static const uint8_t avcc_without_pps[] = {1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 2, 0x67, 0x64, 0};
    static const uint8_t avcc_sps_too_long[] = {1, 0x64, 0, 0x1f, 0xff, 0xe1, 0x40, 0, 0x67};
    static const uint8_t asc_reserved_rate[] = {0x16, 0x90};     /* LC, index 13 */
    static const uint8_t asc_unsupported[] = {0xf8, 0x00, 0x00}; /* escape: object type 32 */
    int64_t t = 1000;
    cr_assert_eq(write_bytes(s, V, false, false, t, truncated_length, sizeof truncated_length),
                 SEGMENTER_ERR_INVALID);
    cr_assert_not_null(strstr(segmenter_strerror(s), "NAL unit length"), "%s",
                       segmenter_strerror(s));
    cr_assert_eq(write_bytes(s, V, false, true, t, short_prefix, sizeof short_prefix),
                 SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, V, false, false, t, only_empty_nals, sizeof only_empty_nals),
                 SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, V, false, true, t, garbage, sizeof garbage), SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, V, false, false, t, NULL, 0), SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, V, false, false, t, NULL, 100), SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, V, false, false, t, garbage, (size_t)1 << 40),
                 SEGMENTER_ERR_INVALID, "sizes are checked before the bytes are read");
    cr_assert_eq(write_bytes(s, V, false, false, INT64_MAX, garbage, sizeof garbage),
                 SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, V, true, false, 0, bad_avcc_version, sizeof bad_avcc_version),
                 SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, V, true, false, 0, avcc_without_pps, sizeof avcc_without_pps),
                 SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, V, true, false, 0, avcc_sps_too_long, sizeof avcc_sps_too_long),
                 SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, V, true, false, 0, garbage, 3), SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, A, true, false, 0, asc_reserved_rate, sizeof asc_reserved_rate),
                 SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, A, true, false, 0, asc_unsupported, sizeof asc_unsupported),
                 SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, A, true, false, 0, garbage, 1), SEGMENTER_ERR_INVALID);
    cr_assert_eq(write_bytes(s, A, false, false, t, NULL, 0), SEGMENTER_ERR_INVALID);
    static uint8_t big[9000];
    cr_assert_eq(write_bytes(s, A, false, false, t, big, sizeof big), SEGMENTER_ERR_INVALID);
    media_packet_t unknown = {.codec = (media_codec_t)7, .data = garbage, .size = 4};
    cr_assert_eq(segmenter_write(s, &unknown), SEGMENTER_ERR_INVALID);
    cr_assert_eq(segmenter_write(s, NULL), SEGMENTER_ERR_INVALID);
    segmenter_stats_t stats;
    segmenter_get_stats(s, &stats);
    cr_assert_eq(stats.invalid_packets, 19, "%llu", (unsigned long long)stats.invalid_packets);
    /* the stream goes on as if nothing happened (the bad configs replaced nothing) */
    cr_assert_eq(segmenter_finish(s), 0, "%s", segmenter_strerror(s));
    cr_assert_eq(c.count, 1);
    assert_plays(area.out);
    segmenter_free(s);
    drop_area(&area);
}

Test(segmenter, random_bytes_do_not_crash, .timeout = 120)
{
    area_t area = make_area();
    make_av(area.root, "in", 2, 30);
    char in[512];
    input_path(area.root, "in", in, sizeof in);
    collected_t c = {0};
    segmenter_t *s = new_segmenter(area.out, 1.0, 3, 0, &c);
    feed_first_second(s, in);
    const char *seed = getenv("STREAMD_TEST_SEED");
    srand(seed ? (unsigned)strtoul(seed, NULL, 10) : 1234u);
    uint8_t buf[512];
    for (int i = 0; i < 20000; i++) {
        size_t size = (size_t)(rand() % (int)sizeof buf);
        for (size_t j = 0; j < size; j++)
            buf[j] = (uint8_t)rand();
        if (size > 4 && rand() % 2) { /* often a plausible first length prefix */
            buf[0] = buf[1] = 0;
            buf[2] = (uint8_t)((size - 4) >> 8);
            buf[3] = (uint8_t)(size - 4);
        }
        media_packet_t p = {
            .codec = rand() % 2 ? MEDIA_CODEC_H264 : MEDIA_CODEC_AAC,
            .is_config = rand() % 50 == 0,
            .is_keyframe = rand() % 10 == 0,
            .dts_ms = 1000 + i * 5 + rand() % 3000 - 1500,
            .data = buf,
            .size = size,
        };
        p.pts_ms = p.dts_ms + rand() % 200 - 50;
        int rc = segmenter_write(s, &p);
        cr_assert(rc == 0 || rc == SEGMENTER_ERR_INVALID, "unexpected %d: %s", rc,
                  segmenter_strerror(s));
    }
    segmenter_finish(s);
    segmenter_free(s);
    drop_area(&area);
}
