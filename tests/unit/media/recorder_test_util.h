/* Helpers shared by the recorder's unit tests (test_recorder, test_mp4_remux,
 * test_recorder_recover): real H.264/AAC segments made by the segmenter from ffmpeg-made FLV
 * files, fed into a recorder, and checks of the VOD playlists and the MP4 on disk and with
 * ffprobe/ffmpeg. Header-only so each test binary stays one file; every function is static and
 * may go unused. */
#ifndef STREAMD_TESTS_MEDIA_RECORDER_TEST_UTIL_H
#define STREAMD_TESTS_MEDIA_RECORDER_TEST_UTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "media/recorder.h"
#include "media/segmenter.h"
#include "media_test_util.h"

#define MAX_SEGMENTS 64

/* ---- shell and file helpers ---- */

__attribute__((unused)) static char *make_dir(const char *base)
{
    char *dir = NULL;
    cr_assert_geq(asprintf(&dir, "%s/streamd-rec-XXXXXX", base), 0);
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

__attribute__((unused)) static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* Files under dir (recursively) whose name ends with suffix. */
__attribute__((unused)) static int count_suffix(const char *dir, const char *suffix)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "find %s -name '*%s' | wc -l", dir, suffix);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    int n = -1;
    char line[64];
    if (fgets(line, sizeof line, p))
        n = (int)strtol(line, NULL, 10);
    pclose(p);
    return n;
}

/* The file decodes end to end with ffmpeg, without a single error line. */
__attribute__((unused)) static void assert_plays(const char *path)
{
    char errors[1024];
    snprintf(errors, sizeof errors, "%s.errors.txt", path);
    int rc = run("ffmpeg -nostdin -v error -i %s -f null - 2>%s", path, errors);
    uint64_t error_bytes = file_size(errors);
    if (error_bytes > 0)
        run("head -c 2000 %s >&2", errors);
    unlink(errors);
    cr_assert_eq(rc, 0, "ffmpeg could not play %s", path);
    cr_assert_eq(error_bytes, 0, "ffmpeg reported errors while playing %s", path);
}

/* Sum of the #EXTINF values of a playlist; *count gets how many. */
__attribute__((unused)) static double extinf_sum(const char *text, int *count)
{
    double sum = 0;
    *count = 0;
    for (const char *p = strstr(text, "#EXTINF:"); p; p = strstr(p + 1, "#EXTINF:")) {
        sum += strtod(p + 8, NULL);
        (*count)++;
    }
    return sum;
}

/* Positions of the top-level "moov" and "mdat" boxes of an MP4 (-1 when absent). */
__attribute__((unused)) static void mp4_box_order(const char *path, int *moov, int *mdat)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    *moov = *mdat = -1;
    uint8_t header[16];
    long offset = 0;
    for (int index = 0; fread(header, 1, 8, f) == 8; index++) {
        uint64_t size = ((uint64_t)header[0] << 24) | ((uint64_t)header[1] << 16) |
                        ((uint64_t)header[2] << 8) | header[3];
        int header_bytes = 8;
        if (size == 1) {
            cr_assert_eq(fread(header + 8, 1, 8, f), 8);
            size = 0;
            for (int i = 8; i < 16; i++)
                size = (size << 8) | header[i];
            header_bytes = 16;
        }
        if (memcmp(header + 4, "moov", 4) == 0)
            *moov = index;
        if (memcmp(header + 4, "mdat", 4) == 0)
            *mdat = index;
        if (size == 0)
            break;
        cr_assert_geq(size, (uint64_t)header_bytes, "bad box size");
        offset += (long)size;
        cr_assert_eq(fseek(f, offset, SEEK_SET), 0);
    }
    fclose(f);
}

/* ---- feeding the segmenter ---- */

__attribute__((unused)) static int64_t to_ms(int64_t ts, AVRational tb)
{
    return av_rescale_q(ts, tb, (AVRational){1, 1000});
}

__attribute__((unused)) static void send_config(segmenter_t *s, media_codec_t codec,
                                                const AVCodecParameters *par)
{
    media_packet_t config = {
        .codec = codec, .is_config = true, .data = par->extradata, .size = par->extradata_size};
    cr_assert_eq(segmenter_write(s, &config), 0, "config refused: %s", segmenter_strerror(s));
}

/* Feeds every packet of an FLV file (configs first), timestamps as in the file. */
__attribute__((unused)) static void feed_file(segmenter_t *s, const char *path)
{
    AVFormatContext *in = NULL;
    cr_assert_eq(avformat_open_input(&in, path, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(in, NULL), 0);
    int video = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int audio = av_find_best_stream(in, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (video >= 0)
        send_config(s, MEDIA_CODEC_H264, in->streams[video]->codecpar);
    if (audio >= 0)
        send_config(s, MEDIA_CODEC_AAC, in->streams[audio]->codecpar);
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
        if (pkt->stream_index == video || pkt->stream_index == audio) {
            int rc = segmenter_write(s, &packet);
            cr_assert_eq(rc, 0, "segmenter_write: %d %s", rc, segmenter_strerror(s));
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&in);
}

/* Makes DIR/NAME.flv: seconds of WxH@30 H.264 + AAC at rate Hz with a keyframe every second;
 * preset "ultrafast" has no B-frames, "veryfast" has. */
__attribute__((unused)) static void make_input_with(const char *dir, const char *name, int seconds,
                                                    const char *size, const char *preset, int rate,
                                                    char *path, size_t path_size)
{
    snprintf(path, path_size, "%s/%s.flv", dir, name);
    int rc = run("ffmpeg -nostdin -y -v error -f lavfi -i testsrc2=size=%s:rate=30 -f lavfi -i "
                 "sine=frequency=440:sample_rate=%d -t %d -c:v libx264 -preset %s "
                 "-pix_fmt yuv420p -g 30 -keyint_min 30 -sc_threshold 0 -c:a aac -f flv %s",
                 size, rate, seconds, preset, path);
    cr_assert_eq(rc, 0, "ffmpeg could not make the input");
}

__attribute__((unused)) static void make_input(const char *dir, const char *name, int seconds,
                                               const char *size, char *path, size_t path_size)
{
    make_input_with(dir, name, seconds, size, "ultrafast", 48000, path, path_size);
}

/* A rendition fed into a recorder: the segmenter's on_segment records every segment. */
typedef struct recorded {
    recorder_t *recorder;
    const char *name;
    int failures;
    size_t count;
    segment_info_t segments[MAX_SEGMENTS];
} recorded_t;

__attribute__((unused)) static void on_segment(void *opaque, const segment_info_t *segment)
{
    recorded_t *rec = opaque;
    if (rec->count < MAX_SEGMENTS)
        rec->segments[rec->count] = *segment;
    rec->count++;
    if (rec->recorder && recorder_add_segment(rec->recorder, rec->name, segment) != 0)
        rec->failures++;
}

__attribute__((unused)) static segmenter_t *new_segmenter(const char *dir, int window,
                                                          int64_t first, recorded_t *rec)
{
    cr_assert(mkdir(dir, 0755) == 0 || errno == EEXIST, "mkdir %s", dir);
    segmenter_config_t config = {
        .dir = dir, .target_duration_s = 2.0, .window_segments = window, .first_sequence = first};
    segmenter_callbacks_t callbacks = {.opaque = rec, .on_segment = on_segment};
    char err[256] = "";
    segmenter_t *s = segmenter_new(&config, &callbacks, err, sizeof err);
    cr_assert_not_null(s, "segmenter_new: %s", err);
    return s;
}

__attribute__((unused)) static recorder_t *new_recorder(const char *dir)
{
    char err[RECORDER_ERROR_MAX] = "";
    recorder_t *r = recorder_new(dir, "test-session", err, sizeof err);
    cr_assert_not_null(r, "recorder_new: %s", err);
    return r;
}

/* Feeds a whole file as one publish and ends the broadcast. */
__attribute__((unused)) static void record_file(const char *live_dir, const char *input, int window,
                                                recorded_t *rec)
{
    segmenter_t *s = new_segmenter(live_dir, window, 0, rec);
    feed_file(s, input);
    cr_assert_eq(segmenter_finish(s), 0, "%s", segmenter_strerror(s));
    segmenter_free(s);
}

typedef struct feed_job {
    const char *live_dir, *input;
    recorded_t *rec;
} feed_job_t;

__attribute__((unused)) static void *feed_thread(void *opaque)
{
    feed_job_t *job = opaque;
    record_file(job->live_dir, job->input, 2, job->rec);
    return NULL;
}

/* A test's working area: ROOT/live/{source,low} are live dirs, ROOT/rec the recording. */
typedef struct area {
    char *root;
    char live[512], rec[512], source_in[600], low_in[600];
} area_t;

__attribute__((unused)) static area_t make_area(int seconds, bool with_low)
{
    area_t a = {.root = make_dir("/tmp")};
    snprintf(a.live, sizeof a.live, "%s/live", a.root);
    snprintf(a.rec, sizeof a.rec, "%s/rec/session-1", a.root);
    cr_assert_eq(mkdir(a.live, 0755), 0);
    if (seconds > 0)
        make_input(a.root, "source", seconds, "640x360", a.source_in, sizeof a.source_in);
    if (with_low)
        make_input(a.root, "low", seconds, "320x180", a.low_in, sizeof a.low_in);
    return a;
}

/* Deletes the area; STREAMD_KEEP_TEST_FILES=1 keeps it to look at (its path is printed). */
__attribute__((unused)) static void drop_area(area_t *a)
{
    if (getenv("STREAMD_KEEP_TEST_FILES")) {
        fprintf(stderr, "kept %s\n", a->root);
        free(a->root);
        return;
    }
    run("chmod -R u+w %s 2>/dev/null; rm -rf %s", a->root, a->root);
    free(a->root);
}

/* Records the source and the "low" rendition at once, from two threads (as the ingest thread and
 * the transcoder worker do). */
__attribute__((unused)) static void record_both(area_t *a, recorded_t *source, recorded_t *low)
{
    char source_live[600], low_live[600];
    snprintf(source_live, sizeof source_live, "%s/source", a->live);
    snprintf(low_live, sizeof low_live, "%s/low", a->live);
    feed_job_t job = {.live_dir = low_live, .input = a->low_in, .rec = low};
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, feed_thread, &job), 0);
    record_file(source_live, a->source_in, 2, source);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    cr_assert_eq(source->failures, 0);
    cr_assert_eq(low->failures, 0);
}

__attribute__((unused)) static double recorded_duration(const recorded_t *rec)
{
    double sum = 0;
    for (size_t i = 0; i < rec->count; i++)
        sum += rec->segments[i].duration_s;
    return sum;
}

/* A final rendition playlist: VOD, ended, count segments summing to duration_s. */
__attribute__((unused)) static void assert_vod_playlist(const char *rec_dir, const char *name,
                                                        int count, double duration_s)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s/index.m3u8", rec_dir, name);
    char *text = read_text(path);
    cr_assert_eq(strncmp(text, "#EXTM3U\n", 8), 0);
    cr_assert_eq(count_of(text, "#EXT-X-PLAYLIST-TYPE:VOD\n"), 1, "%s", text);
    cr_assert_eq(count_of(text, "#EXT-X-PLAYLIST-TYPE:EVENT"), 0);
    cr_assert_eq(count_of(text, "#EXT-X-ENDLIST\n"), 1);
    int listed = 0;
    double sum = extinf_sum(text, &listed);
    cr_assert_eq(listed, count, "%s lists %d segments, want %d", name, listed, count);
    cr_assert(fabs(sum - duration_s) < 0.01, "%s: EXTINF sum %.3f, want %.3f", name, sum,
              duration_s);
    free(text);
}

/* Audio frames in the segments the recording's source playlist lists (the segmenter packs several
 * into a PES packet; ffprobe counts each). */
__attribute__((unused)) static size_t source_audio_frames(const char *rec_dir)
{
    char path[700];
    snprintf(path, sizeof path, "%s/source/index.m3u8", rec_dir);
    char *text = read_text(path);
    size_t frames = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        size_t len = strlen(line);
        if (line[0] == '#' || len < 4 || strcmp(line + len - 3, ".ts") != 0)
            continue;
        snprintf(path, sizeof path, "%s/source/%s", rec_dir, line);
        frames += probe_packets(path, "a:0").count;
    }
    free(text);
    return frames;
}

/* The MP4: plays without errors, lasts duration_s (within 0.3 s), moov before mdat, and holds
 * every audio frame of the source segments. */
__attribute__((unused)) static void assert_mp4(const char *rec_dir, double duration_s)
{
    char path[700];
    snprintf(path, sizeof path, "%s/output.mp4", rec_dir);
    cr_assert(file_exists(path), "no %s", path);
    int moov = -1, mdat = -1;
    mp4_box_order(path, &moov, &mdat);
    cr_assert(moov >= 0 && mdat >= 0 && moov < mdat, "moov at %d, mdat at %d", moov, mdat);
    double probed = probe_duration(path);
    cr_assert(fabs(probed - duration_s) <= 0.3, "MP4 lasts %.3f s, want %.3f", probed, duration_s);
    size_t audio = probe_packets(path, "a:0").count, source_audio = source_audio_frames(rec_dir);
    cr_assert_eq(audio, source_audio, "MP4 has %zu audio frames, the source segments %zu", audio,
                 source_audio);
    assert_plays(path);
}

/* Files may not grow past limit bytes: writes fail with EFBIG as they would with ENOSPC. */
__attribute__((unused)) static void limit_file_size(rlim_t limit)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = limit, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/* ---- playlists byte for byte ---- */

/* The rendition playlists as recordings have always had them: the type right after #EXTM3U,
 * media sequence numbers from 0, no discontinuity before the first segment. */
#define GOLDEN_SOURCE_BODY                                                                         \
    "#EXT-X-VERSION:3\n"                                                                           \
    "#EXT-X-TARGETDURATION:3\n"                                                                    \
    "#EXT-X-MEDIA-SEQUENCE:0\n"                                                                    \
    "#EXT-X-INDEPENDENT-SEGMENTS\n"                                                                \
    "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.007Z\n"                                          \
    "#EXTINF:2.000,\n"                                                                             \
    "00003.ts\n"                                                                                   \
    "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:02.007Z\n"                                          \
    "#EXTINF:1.988,\n"                                                                             \
    "00004.ts\n"                                                                                   \
    "#EXT-X-DISCONTINUITY\n"                                                                       \
    "#EXTINF:2.500,\n"                                                                             \
    "00006.ts\n"                                                                                   \
    "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:06.007Z\n"                                          \
    "#EXTINF:0.001,\n"                                                                             \
    "00007.ts\n"
#define GOLDEN_LOW_BODY                                                                            \
    "#EXT-X-VERSION:3\n"                                                                           \
    "#EXT-X-TARGETDURATION:4\n"                                                                    \
    "#EXT-X-MEDIA-SEQUENCE:0\n"                                                                    \
    "#EXT-X-INDEPENDENT-SEGMENTS\n"                                                                \
    "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:08.007Z\n"                                          \
    "#EXTINF:3.333,\n"                                                                             \
    "00002.ts\n"
#define GOLDEN_EVENT(body) "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n" body
#define GOLDEN_VOD(body) "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n" body "#EXT-X-ENDLIST\n"

/* Records small text files (not media) as four source segments and one "low" segment into a
 * new recorder writing dir: the playlists GOLDEN_*_BODY describe. */
__attribute__((unused)) static recorder_t *record_golden(const char *root, const char *dir)
{
    char live[600];
    snprintf(live, sizeof live, "%s/live.ts", root);
    write_text(live, "abcdef", 6);
    recorder_t *r = new_recorder(dir);
    const double durations[] = {2.0, 1.9876, 2.5, 0.001, 3.3333};
    const int64_t sequences[] = {3, 4, 6, 7, 2};
    for (int i = 0; i < 5; i++) {
        segment_info_t s = {
            .sequence = sequences[i],
            .duration_s = durations[i],
            .program_date_time_ms = i == 2 ? 0 : 1714564800000 + i * 2000 + 7,
            .discontinuity = i == 0 || i == 2,
        };
        snprintf(s.path, sizeof s.path, "%s", live);
        cr_assert_eq(recorder_add_segment(r, i == 4 ? "low" : "source", &s), 0);
    }
    return r;
}

/* The text of dir/name/index.m3u8 is want. */
__attribute__((unused)) static void assert_playlist_text(const char *dir, const char *name,
                                                         const char *want)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s/index.m3u8", dir, name);
    char *text = read_text(path);
    cr_assert_str_eq(text, want, "%s", path);
    free(text);
}

#endif
