/* Unit tests for the recorder: real H.264/AAC segments made by the segmenter from ffmpeg-made FLV
 * files are recorded, finished or recovered, and the VOD playlists and the MP4 are checked on disk
 * and with ffprobe/ffmpeg. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "media/recorder.h"
#include "media/segmenter.h"
#include "media_test_util.h"

#define MAX_SEGMENTS 64

/* ---- shell and file helpers ---- */

static char *make_dir(const char *base)
{
    char *dir = NULL;
    cr_assert_geq(asprintf(&dir, "%s/streamd-rec-XXXXXX", base), 0);
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* Files under dir (recursively) whose name ends with suffix. */
static int count_suffix(const char *dir, const char *suffix)
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
static void assert_plays(const char *path)
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
static double extinf_sum(const char *text, int *count)
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
static void mp4_box_order(const char *path, int *moov, int *mdat)
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

static int64_t to_ms(int64_t ts, AVRational tb)
{
    return av_rescale_q(ts, tb, (AVRational){1, 1000});
}

static void send_config(segmenter_t *s, media_codec_t codec, const AVCodecParameters *par)
{
    media_packet_t config = {
        .codec = codec, .is_config = true, .data = par->extradata, .size = par->extradata_size};
    cr_assert_eq(segmenter_write(s, &config), 0, "config refused: %s", segmenter_strerror(s));
}

/* Feeds every packet of an FLV file (configs first), timestamps as in the file. */
static void feed_file(segmenter_t *s, const char *path)
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
static void make_input_with(const char *dir, const char *name, int seconds, const char *size,
                            const char *preset, int rate, char *path, size_t path_size)
{
    snprintf(path, path_size, "%s/%s.flv", dir, name);
    int rc = run("ffmpeg -nostdin -y -v error -f lavfi -i testsrc2=size=%s:rate=30 -f lavfi -i "
                 "sine=frequency=440:sample_rate=%d -t %d -c:v libx264 -preset %s "
                 "-pix_fmt yuv420p -g 30 -keyint_min 30 -sc_threshold 0 -c:a aac -f flv %s",
                 size, rate, seconds, preset, path);
    cr_assert_eq(rc, 0, "ffmpeg could not make the input");
}

static void make_input(const char *dir, const char *name, int seconds, const char *size, char *path,
                       size_t path_size)
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

static void on_segment(void *opaque, const segment_info_t *segment)
{
    recorded_t *rec = opaque;
    if (rec->count < MAX_SEGMENTS)
        rec->segments[rec->count] = *segment;
    rec->count++;
    if (rec->recorder && recorder_add_segment(rec->recorder, rec->name, segment) != 0)
        rec->failures++;
}

static segmenter_t *new_segmenter(const char *dir, int window, int64_t first, recorded_t *rec)
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

static recorder_t *new_recorder(const char *dir)
{
    char err[RECORDER_ERROR_MAX] = "";
    recorder_t *r = recorder_new(dir, "test-session", err, sizeof err);
    cr_assert_not_null(r, "recorder_new: %s", err);
    return r;
}

/* Feeds a whole file as one publish and ends the broadcast. */
static void record_file(const char *live_dir, const char *input, int window, recorded_t *rec)
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

static void *feed_thread(void *opaque)
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

static area_t make_area(int seconds, bool with_low)
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
static void drop_area(area_t *a)
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
static void record_both(area_t *a, recorded_t *source, recorded_t *low)
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

static double recorded_duration(const recorded_t *rec)
{
    double sum = 0;
    for (size_t i = 0; i < rec->count; i++)
        sum += rec->segments[i].duration_s;
    return sum;
}

/* A final rendition playlist: VOD, ended, count segments summing to duration_s. */
static void assert_vod_playlist(const char *rec_dir, const char *name, int count, double duration_s)
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
static size_t source_audio_frames(const char *rec_dir)
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
static void assert_mp4(const char *rec_dir, double duration_s)
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

/* ---- tests ---- */

Test(recorder, records_source_and_rendition_into_vod_and_mp4, .timeout = 60)
{
    area_t a = make_area(12, true);
    recorder_t *r = new_recorder(a.rec);
    recorded_t source = {.recorder = r, .name = "source"}, low = {.recorder = r, .name = "low"};
    hls_variant_t low_variant = {
        .bandwidth = 3000000, .average_bandwidth = 2000000, .width = 320, .height = 180};
    recorder_set_variant(r, "low", &low_variant);
    record_both(&a, &source, &low);
    cr_assert_eq(source.count, 6);
    cr_assert_eq(low.count, 6);

    /* while recording: EVENT playlists that list every segment */
    char path[700];
    snprintf(path, sizeof path, "%s/source/index.m3u8", a.rec);
    char *text = read_text(path);
    cr_assert_eq(count_of(text, "#EXT-X-PLAYLIST-TYPE:EVENT\n"), 1, "%s", text);
    cr_assert_eq(count_of(text, "#EXTINF:"), 6);
    cr_assert_eq(count_of(text, "#EXT-X-ENDLIST"), 0);
    free(text);

    /* the live files are gone (the window of 2 slid, then the whole live dir): links keep them */
    snprintf(path, sizeof path, "%s/source/00000.ts", a.live);
    cr_assert_not(file_exists(path), "the segmenter deleted the old live file");
    cr_assert_eq(run("rm -rf %s", a.live), 0);

    char err[RECORDER_ERROR_MAX] = "";
    cr_assert_eq(recorder_finish(r, err, sizeof err), 0, "finish: %s", err);
    cr_assert_not(recorder_failed(r, NULL, 0));
    double input = probe_duration(a.source_in);
    double source_s = recorded_duration(&source);
    cr_assert(fabs(source_s - input) <= 0.3, "recorded %.3f s of %.3f", source_s, input);
    assert_vod_playlist(a.rec, "source", 6, source_s);
    assert_vod_playlist(a.rec, "low", 6, recorded_duration(&low));

    snprintf(path, sizeof path, "%s/index.m3u8", a.rec);
    text = read_text(path);
    char *source_at = strstr(text, "\nsource/index.m3u8\n"),
         *low_at = strstr(text, "\nlow/index.m3u8\n");
    cr_assert(source_at && low_at && source_at < low_at, "master: %s", text);
    cr_assert_not_null(strstr(text, "BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2000000,"),
                       "set_variant is used: %s", text);
    cr_assert_not_null(strstr(text, "RESOLUTION=640x360"), "source is probed: %s", text);
    cr_assert_not_null(strstr(text, "CODECS=\"avc1.42c01e,mp4a.40.2\""), "%s", text);
    free(text);
    double master = probe_duration(path);
    cr_assert(fabs(master - source_s) <= 0.3 && fabs(master - input) <= 0.3,
              "ffprobe of the VOD: %.3f, EXTINF %.3f, input %.3f", master, source_s, input);
    snprintf(path, sizeof path, "%s/low/index.m3u8", a.rec);
    cr_assert(fabs(probe_duration(path) - input) <= 0.3);
    assert_plays(path);
    assert_mp4(a.rec, source_s);
    cr_assert_eq(count_suffix(a.rec, ".tmp"), 0);

    /* finished: again 0, and segments are refused */
    cr_assert_eq(recorder_finish(r, err, sizeof err), 0);
    cr_assert_eq(recorder_add_segment(r, "source", &source.segments[0]), RECORDER_ERR_STATE);
    cr_assert_not(recorder_failed(r, NULL, 0));
    recorder_free(r);
    drop_area(&a);
}

Test(recorder, reconnect_gives_one_recording_with_a_discontinuity, .timeout = 60)
{
    area_t a = make_area(6, false);
    char live[600];
    snprintf(live, sizeof live, "%s/source", a.live);
    recorder_t *r = new_recorder(a.rec);
    recorded_t source = {.recorder = r, .name = "source"};
    segmenter_t *s = new_segmenter(live, 3, 0, &source);
    feed_file(s, a.source_in);
    cr_assert_eq(segmenter_discontinuity(s), 0); /* the publisher reconnects */
    feed_file(s, a.source_in);                   /* its timestamps restart at 0 */
    cr_assert_eq(segmenter_finish(s), 0);
    segmenter_free(s);
    cr_assert_eq(source.count, 6);
    char err[RECORDER_ERROR_MAX] = "";
    cr_assert_eq(recorder_finish(r, err, sizeof err), 0, "%s", err);
    char path[700];
    snprintf(path, sizeof path, "%s/source/index.m3u8", a.rec);
    char *text = read_text(path);
    cr_assert_eq(count_of(text, "#EXT-X-DISCONTINUITY\n"), 1, "%s", text);
    free(text);
    double want = 2 * probe_duration(a.source_in);
    assert_vod_playlist(a.rec, "source", 6, recorded_duration(&source));
    cr_assert(fabs(recorded_duration(&source) - want) <= 0.3);
    snprintf(path, sizeof path, "%s/index.m3u8", a.rec);
    cr_assert(fabs(probe_duration(path) - want) <= 0.3);
    assert_mp4(a.rec, want);
    recorder_free(r);
    drop_area(&a);
}

Test(recorder, restarted_timestamps_are_rebased_in_the_mp4, .timeout = 60)
{
    /* A new segmenter for the same session (a pipeline restarted within the reconnect window)
     * starts its clock at 0 again: the recording must not go back in time or overlap. */
    area_t a = make_area(6, false);
    char live[600];
    snprintf(live, sizeof live, "%s/source", a.live);
    recorder_t *r = new_recorder(a.rec);
    recorded_t source = {.recorder = r, .name = "source"};
    segmenter_t *s = new_segmenter(live, 0, 0, &source);
    feed_file(s, a.source_in);
    cr_assert_eq(segmenter_finish(s), 0);
    int64_t next = segmenter_next_sequence(s);
    segmenter_free(s);
    s = new_segmenter(live, 0, next, &source);
    feed_file(s, a.source_in);
    cr_assert_eq(segmenter_finish(s), 0);
    segmenter_free(s);
    cr_assert_eq(source.count, 6);
    cr_assert(source.segments[3].discontinuity);
    char err[RECORDER_ERROR_MAX] = "";
    cr_assert_eq(recorder_finish(r, err, sizeof err), 0, "%s", err);
    double want = 2 * probe_duration(a.source_in);
    assert_mp4(a.rec, want);
    char path[700];
    snprintf(path, sizeof path, "%s/index.m3u8", a.rec);
    cr_assert(fabs(probe_duration(path) - want) <= 0.3);
    recorder_free(r);
    drop_area(&a);
}

Test(recorder, b_frames_and_44_1_khz_audio_across_a_restart, .timeout = 60)
{
    area_t a = make_area(0, false);
    make_input_with(a.root, "bframes", 5, "640x360", "veryfast", 44100, a.source_in,
                    sizeof a.source_in);
    char live[600];
    snprintf(live, sizeof live, "%s/source", a.live);
    recorder_t *r = new_recorder(a.rec);
    recorded_t source = {.recorder = r, .name = "source"};
    segmenter_t *s = new_segmenter(live, 0, 0, &source);
    feed_file(s, a.source_in);
    cr_assert_eq(segmenter_finish(s), 0);
    int64_t next = segmenter_next_sequence(s);
    segmenter_free(s);
    s = new_segmenter(live, 0, next, &source); /* its clock starts at 0 again */
    feed_file(s, a.source_in);
    cr_assert_eq(segmenter_finish(s), 0);
    segmenter_free(s);
    char err[RECORDER_ERROR_MAX] = "";
    cr_assert_eq(recorder_finish(r, err, sizeof err), 0, "%s", err);
    double want = 2 * probe_duration(a.source_in);
    cr_assert(fabs(recorded_duration(&source) - want) <= 0.3);
    assert_mp4(a.rec, recorded_duration(&source));
    recorder_free(r);
    drop_area(&a);
}

Test(recorder, audio_joining_later_gets_its_own_track, .timeout = 60)
{
    /* the first publish has no audio, the second has: the MP4 has both tracks */
    area_t a = make_area(4, false);
    char video_only[600], live[600];
    snprintf(video_only, sizeof video_only, "%s/video.flv", a.root);
    cr_assert_eq(run("ffmpeg -nostdin -y -v error -f lavfi -i testsrc2=size=640x360:rate=30 -t 4 "
                     "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 30 -an -f flv %s",
                     video_only),
                 0);
    snprintf(live, sizeof live, "%s/source", a.live);
    recorder_t *r = new_recorder(a.rec);
    recorded_t source = {.recorder = r, .name = "source"};
    segmenter_t *s = new_segmenter(live, 0, 0, &source);
    feed_file(s, video_only);
    cr_assert_eq(segmenter_discontinuity(s), 0);
    feed_file(s, a.source_in);
    cr_assert_eq(segmenter_finish(s), 0);
    segmenter_free(s);
    char err[RECORDER_ERROR_MAX] = "", path[700];
    cr_assert_eq(recorder_finish(r, err, sizeof err), 0, "%s", err);
    assert_mp4(a.rec, recorded_duration(&source));
    snprintf(path, sizeof path, "%s/output.mp4", a.rec);
    cr_assert_eq(run("ffprobe -v error -show_entries stream=codec_name -of csv=p=0 %s | "
                     "tr '\\n' , | grep -qx 'h264,aac,'",
                     path),
                 0, "both tracks");
    recorder_free(r);
    drop_area(&a);
}

Test(recorder, copies_when_linking_fails, .timeout = 60)
{
    struct stat shm, tmp;
    if (stat("/dev/shm", &shm) != 0 || stat("/tmp", &tmp) != 0 || shm.st_dev == tmp.st_dev)
        cr_skip_test("needs /dev/shm on another file system than /tmp");
    area_t a = make_area(4, false);
    char *live_root = make_dir("/dev/shm");
    char live[600];
    snprintf(live, sizeof live, "%s/source", live_root);
    recorder_t *r = new_recorder(a.rec);
    recorded_t source = {.recorder = r, .name = "source"};
    record_file(live, a.source_in, 0, &source);
    cr_assert_eq(source.failures, 0);
    for (size_t i = 0; i < source.count; i++) {
        char recorded[700];
        snprintf(recorded, sizeof recorded, "%s/source/%05lld.ts", a.rec,
                 (long long)source.segments[i].sequence);
        cr_assert_eq(file_size(recorded), source.segments[i].bytes);
        cr_assert_eq(run("cmp -s %s %s", recorded, source.segments[i].path), 0);
    }
    run("rm -rf %s", live_root);
    free(live_root);
    char err[RECORDER_ERROR_MAX] = "";
    cr_assert_eq(recorder_finish(r, err, sizeof err), 0, "%s", err);
    assert_mp4(a.rec, recorded_duration(&source));
    recorder_free(r);
    drop_area(&a);
}

Test(recorder, hard_links_share_the_live_file, .timeout = 60)
{
    area_t a = make_area(3, false);
    char live[600];
    snprintf(live, sizeof live, "%s/source", a.live);
    recorder_t *r = new_recorder(a.rec);
    recorded_t source = {.recorder = r, .name = "source"};
    record_file(live, a.source_in, 0, &source);
    struct stat live_st, rec_st;
    char recorded[700];
    snprintf(recorded, sizeof recorded, "%s/source/00000.ts", a.rec);
    cr_assert_eq(stat(source.segments[0].path, &live_st), 0);
    cr_assert_eq(stat(recorded, &rec_st), 0);
    cr_assert_eq(live_st.st_ino, rec_st.st_ino, "a hard link, not a copy");
    cr_assert_eq(unlink(source.segments[0].path), 0);
    cr_assert_eq(file_size(recorded), source.segments[0].bytes);
    recorder_free(r);
    drop_area(&a);
}

Test(recorder, unwritable_directory_fails_cleanly, .timeout = 60)
{
    area_t a = make_area(3, false);
    char err[RECORDER_ERROR_MAX] = "", under_file[700], blocker[700];
    /* a path under a regular file can never be created, not even by root */
    snprintf(under_file, sizeof under_file, "%s/rec/x", a.source_in);
    cr_assert_null(recorder_new(under_file, NULL, err, sizeof err));
    cr_assert_not_null(strstr(err, "Not a directory"), "%s", err);
    if (geteuid() != 0) {
        snprintf(blocker, sizeof blocker, "%s/readonly", a.root);
        cr_assert_eq(mkdir(blocker, 0500), 0);
        snprintf(under_file, sizeof under_file, "%s/readonly/rec", a.root);
        cr_assert_null(recorder_new(under_file, NULL, err, sizeof err));
        cr_assert_not_null(strstr(err, "Permission denied"), "%s", err);
    }
    /* the directory turns unwritable after the start: its rendition directory is a file */
    recorder_t *r = new_recorder(a.rec);
    snprintf(blocker, sizeof blocker, "%s/source", a.rec);
    write_text(blocker, "x", 1);
    char live[600];
    snprintf(live, sizeof live, "%s/source", a.live);
    recorded_t source = {.recorder = r, .name = "source"};
    record_file(live, a.source_in, 0, &source);
    cr_assert_eq(source.count, 2);
    cr_assert_eq(source.failures, 2, "every call reports the failure");
    char reason[RECORDER_ERROR_MAX] = "";
    cr_assert(recorder_failed(r, reason, sizeof reason));
    cr_assert_not_null(strstr(reason, blocker), "%s", reason);
    cr_assert_eq(recorder_add_segment(r, "low", &source.segments[0]), RECORDER_ERR_FAILED);
    hls_variant_t variant = {.bandwidth = 1};
    recorder_set_variant(r, "low", &variant);
    cr_assert_eq(recorder_finish(r, err, sizeof err), RECORDER_ERR_FAILED);
    cr_assert_str_eq(err, reason);
    cr_assert(recorder_failed(r, NULL, 0));
    recorder_free(r);
    drop_area(&a);
}

/* Files may not grow past limit bytes: writes fail with EFBIG as they would with ENOSPC. */
static void limit_file_size(rlim_t limit)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = limit, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

Test(recorder, full_disk_fails_the_mp4_cleanly, .timeout = 60)
{
    area_t a = make_area(4, false);
    char live[600];
    snprintf(live, sizeof live, "%s/source", a.live);
    recorder_t *r = new_recorder(a.rec);
    recorded_t source = {.recorder = r, .name = "source"};
    record_file(live, a.source_in, 0, &source);
    cr_assert_eq(source.failures, 0);
    limit_file_size(100000); /* links and playlists fit; the MP4 does not */
    char err[RECORDER_ERROR_MAX] = "", reason[RECORDER_ERROR_MAX] = "", path[700];
    cr_assert_lt(recorder_finish(r, err, sizeof err), 0);
    limit_file_size(RLIM_INFINITY);
    cr_assert_not_null(strstr(err, "output.mp4.tmp"), "%s", err);
    cr_assert_not_null(strstr(err, "File too large"), "%s", err);
    cr_assert(recorder_failed(r, reason, sizeof reason));
    cr_assert_str_eq(reason, err);
    snprintf(path, sizeof path, "%s/output.mp4", a.rec);
    cr_assert_not(file_exists(path));
    cr_assert_eq(count_suffix(a.rec, ".tmp"), 0, "the partial MP4 is removed");
    cr_assert_eq(recorder_finish(r, err, sizeof err), RECORDER_ERR_FAILED);
    recorder_free(r);
    drop_area(&a);
}

Test(recorder, full_disk_fails_copies_cleanly, .timeout = 60)
{
    struct stat shm, tmp;
    if (stat("/dev/shm", &shm) != 0 || stat("/tmp", &tmp) != 0 || shm.st_dev == tmp.st_dev)
        cr_skip_test("needs /dev/shm on another file system than /tmp");
    area_t a = make_area(4, false);
    char *live_root = make_dir("/dev/shm");
    char live[600];
    snprintf(live, sizeof live, "%s/source", live_root);
    cr_assert_eq(mkdir(live, 0755), 0);
    recorder_t *r = new_recorder(a.rec);
    recorded_t source = {.name = "source"}; /* no recorder yet: only collects */
    record_file(live, a.source_in, 0, &source);
    cr_assert_eq(source.count, 2);
    limit_file_size(100000); /* every segment is larger: the copy fails */
    for (size_t i = 0; i < source.count; i++) {
        int rc = recorder_add_segment(r, "source", &source.segments[i]);
        cr_assert_eq(rc, i == 0 ? RECORDER_ERR_IO : RECORDER_ERR_FAILED, "segment %zu: %d", i, rc);
    }
    limit_file_size(RLIM_INFINITY);
    char reason[RECORDER_ERROR_MAX] = "";
    cr_assert(recorder_failed(r, reason, sizeof reason));
    cr_assert_not_null(strstr(reason, "File too large"), "%s", reason);
    cr_assert_eq(count_suffix(a.rec, ".tmp"), 0);
    cr_assert_eq(count_suffix(a.rec, ".ts"), 0);
    run("rm -rf %s", live_root);
    free(live_root);
    recorder_free(r);
    drop_area(&a);
}

/* Copies the first half of from into to, plus a few bytes: no whole number of TS packets. */
static void write_partial_copy(const char *from, const char *to)
{
    uint64_t size = file_size(from);
    cr_assert_eq(run("head -c %llu %s > %s", (unsigned long long)(size / 2 + 100), from, to), 0);
}

Test(recorder, recover_after_a_crash_keeps_exactly_the_complete_segments, .timeout = 60)
{
    area_t a = make_area(12, true);
    recorder_t *r = new_recorder(a.rec);
    recorded_t source = {.recorder = r, .name = "source"}, low = {.recorder = r, .name = "low"};
    record_both(&a, &source, &low);
    recorder_free(r); /* killed: never finished */
    cr_assert_eq(source.count, 6);

    /* source: the playlist's last entry cut mid-line, a .tmp leftover, a partly written 00006 */
    char path[700], tmp[700];
    snprintf(path, sizeof path, "%s/source/index.m3u8", a.rec);
    char *text = read_text(path);
    char *last = strstr(text, "00005.ts\n");
    cr_assert_not_null(last);
    write_text(path, text, (size_t)(last - text) + 4);
    free(text);
    snprintf(path, sizeof path, "%s/source/00006.ts", a.rec);
    snprintf(tmp, sizeof tmp, "%s/source/00005.ts", a.rec);
    write_partial_copy(tmp, path);
    snprintf(path, sizeof path, "%s/source/00007.ts.tmp", a.rec);
    write_partial_copy(tmp, path);
    snprintf(path, sizeof path, "%s/output.mp4.tmp", a.rec);
    write_text(path, "partial", 7);
    /* low: no playlist at all */
    snprintf(path, sizeof path, "%s/low/index.m3u8", a.rec);
    cr_assert_eq(unlink(path), 0);

    recorder_summary_t summary;
    char err[RECORDER_ERROR_MAX] = "";
    cr_assert_eq(recorder_recover(a.rec, &summary, err, sizeof err), 0, "recover: %s", err);
    double want = recorded_duration(&source);
    uint64_t bytes = 0;
    for (size_t i = 0; i < 6; i++)
        bytes += source.segments[i].bytes;
    cr_assert_eq(summary.source_segments, 6);
    cr_assert_eq(summary.source_bytes, bytes);
    cr_assert(fabs(summary.source_duration_s - want) < 0.05, "recovered %.3f s of %.3f",
              summary.source_duration_s, want);
    cr_assert_eq(summary.renditions, 2);
    assert_vod_playlist(a.rec, "source", 6, summary.source_duration_s);
    snprintf(path, sizeof path, "%s/source/index.m3u8", a.rec);
    text = read_text(path);
    cr_assert_null(strstr(text, "00006.ts"), "the partial segment is left out");
    cr_assert_not_null(strstr(text, "00005.ts\n"));
    cr_assert_eq(count_of(text, "#EXT-X-PROGRAM-DATE-TIME:"), 6, "dates kept: %s", text);
    free(text);
    snprintf(path, sizeof path, "%s/low/index.m3u8", a.rec);
    text = read_text(path);
    int listed = 0;
    double low_s = extinf_sum(text, &listed);
    cr_assert_eq(listed, 6);
    cr_assert(fabs(low_s - recorded_duration(&low)) < 0.05, "low: %.3f", low_s);
    free(text);
    cr_assert_eq(count_suffix(a.rec, ".tmp"), 0);
    snprintf(path, sizeof path, "%s/index.m3u8", a.rec);
    cr_assert(fabs(probe_duration(path) - want) <= 0.3);
    assert_mp4(a.rec, want);

    /* a final recording recovers to the same */
    recorder_summary_t again;
    cr_assert_eq(recorder_recover(a.rec, &again, err, sizeof err), 0, "%s", err);
    cr_assert_eq(again.source_segments, 6);
    cr_assert_eq(again.source_bytes, bytes);
    cr_assert_float_eq(again.source_duration_s, summary.source_duration_s, 1e-9);
    drop_area(&a);
}

Test(recorder, recover_survives_broken_playlists, .timeout = 60)
{
    area_t a = make_area(4, false);
    char live[600];
    snprintf(live, sizeof live, "%s/source", a.live);
    recorder_t *r = new_recorder(a.rec);
    recorded_t source = {.recorder = r, .name = "source"};
    record_file(live, a.source_in, 0, &source);
    recorder_free(r);
    char path[700], err[RECORDER_ERROR_MAX];
    snprintf(path, sizeof path, "%s/source/index.m3u8", a.rec);
    char *good = read_text(path);
    size_t good_len = strlen(good);
    recorder_summary_t summary;
    /* cut at many places: never more than the segments listed completely, never a crash */
    for (size_t cut = 0; cut < good_len; cut += 37) {
        write_text(path, good, cut);
        cr_assert_eq(recorder_recover(a.rec, &summary, err, sizeof err), 0, "%s", err);
        cr_assert_eq(summary.source_segments, 2, "unlisted complete files are found again");
    }
    /* lies: missing files, path tricks, bad numbers, garbage */
    static const char lies[] = "#EXTM3U\n#EXTINF:2.000,\n../../etc/passwd\n#EXTINF:nan,\n"
                               "00000.ts\n#EXTINF:1e308,\n00001.ts\n#EXTINF:2.000,\n"
                               "99999.ts\n#EXTINF:-1,\n00000.ts\n#EXT-X-PROGRAM-DATE-TIME:"
                               "9999-99-99T99:99:99.999Z\n#EXTINF:2.000,\n/00000.ts\n"
                               "\x01\xff\n#EXTINF:2.000\n";
    write_text(path, lies, sizeof lies - 1);
    cr_assert_eq(recorder_recover(a.rec, &summary, err, sizeof err), 0, "%s", err);
    cr_assert_eq(summary.source_segments, 2);
    char *text = read_text(path);
    cr_assert_null(strstr(text, "passwd"));
    cr_assert_null(strstr(text, "99999"));
    free(text);
    srand(42);
    char noise[4096];
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof noise; i++)
            noise[i] = (char)(rand() % 4 == 0 ? '\n' : rand());
        write_text(path, noise, sizeof noise);
        cr_assert_eq(recorder_recover(a.rec, &summary, err, sizeof err), 0, "%s", err);
        cr_assert_eq(summary.source_segments, 2);
    }
    free(good);
    drop_area(&a);
}

Test(recorder, recover_refuses_what_is_not_a_recording)
{
    char *root = make_dir("/tmp");
    char err[RECORDER_ERROR_MAX] = "", path[600];
    recorder_summary_t summary;
    cr_assert_lt(recorder_recover(root, &summary, err, sizeof err), 0, "empty directory");
    cr_assert_not_null(strstr(err, "no source segment"), "%s", err);
    snprintf(path, sizeof path, "%s/missing", root);
    cr_assert_eq(recorder_recover(path, &summary, err, sizeof err), RECORDER_ERR_INVALID);
    cr_assert_eq(recorder_recover(NULL, NULL, err, sizeof err), RECORDER_ERR_INVALID);
    /* a source segment that is not media */
    snprintf(path, sizeof path, "%s/source", root);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/source/00000.ts", root);
    char junk[188 * 4];
    memset(junk, 0x47, sizeof junk);
    write_text(path, junk, sizeof junk);
    cr_assert_lt(recorder_recover(root, &summary, err, sizeof err), 0);
    run("rm -rf %s", root);
    free(root);
}

Test(recorder, finish_without_segments_fails)
{
    char *root = make_dir("/tmp");
    char dir[600], err[RECORDER_ERROR_MAX] = "", reason[RECORDER_ERROR_MAX] = "";
    snprintf(dir, sizeof dir, "%s/a/b/c", root);
    recorder_t *r = new_recorder(dir);
    cr_assert_eq(recorder_finish(r, err, sizeof err), RECORDER_ERR_MEDIA);
    cr_assert_not_null(strstr(err, "no source segment"), "%s", err);
    cr_assert(recorder_failed(r, reason, sizeof reason));
    cr_assert_str_eq(reason, err);
    recorder_free(r);
    run("rm -rf %s", root);
    free(root);
}

Test(recorder, bad_arguments_change_nothing)
{
    char *root = make_dir("/tmp");
    char dir[600], err[RECORDER_ERROR_MAX] = "";
    snprintf(dir, sizeof dir, "%s/rec", root);
    recorder_t *r = new_recorder(dir);
    segment_info_t segment = {.sequence = 0, .duration_s = 2.0};
    snprintf(segment.path, sizeof segment.path, "%s/none.ts", root);
    const char *bad_names[] = {
        "",     ".",   "..",
        "../x", "a/b", ".hidden",
        "a b",  "x\n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        cr_assert_eq(recorder_add_segment(r, bad_names[i], &segment), RECORDER_ERR_INVALID, "%s",
                     bad_names[i]);
    cr_assert_eq(recorder_add_segment(r, NULL, &segment), RECORDER_ERR_INVALID);
    cr_assert_eq(recorder_add_segment(r, "source", NULL), RECORDER_ERR_INVALID);
    cr_assert_eq(recorder_add_segment(NULL, "source", &segment), RECORDER_ERR_INVALID);
    segment.duration_s = NAN;
    cr_assert_eq(recorder_add_segment(r, "source", &segment), RECORDER_ERR_INVALID);
    segment.duration_s = 2.0;
    segment.path[0] = '\0';
    cr_assert_eq(recorder_add_segment(r, "source", &segment), RECORDER_ERR_INVALID);
    recorder_set_variant(r, "../x", &(hls_variant_t){.bandwidth = 1});
    recorder_set_variant(r, "source", NULL);
    recorder_set_variant(NULL, "source", &(hls_variant_t){.bandwidth = 1});
    cr_assert_not(recorder_failed(r, NULL, 0));
    cr_assert_not(recorder_failed(NULL, NULL, 0));
    cr_assert_eq(recorder_finish(NULL, err, sizeof err), RECORDER_ERR_INVALID);
    cr_assert_null(recorder_new(NULL, NULL, err, sizeof err));
    cr_assert_null(recorder_new("", NULL, err, sizeof err));
    /* a segment file that vanished before it was taken fails the recording, with the reason */
    snprintf(segment.path, sizeof segment.path, "%s/none.ts", root);
    cr_assert_eq(recorder_add_segment(r, "source", &segment), RECORDER_ERR_IO);
    char reason[RECORDER_ERROR_MAX] = "";
    cr_assert(recorder_failed(r, reason, sizeof reason));
    cr_assert_not_null(strstr(reason, "none.ts"), "%s", reason);
    recorder_free(r);
    recorder_free(NULL);
    run("rm -rf %s", root);
    free(root);
}

/* Many threads record small files into their own renditions at once. */
typedef struct stress_job {
    recorder_t *recorder;
    char name[16];
    char file[600];
    int failures;
} stress_job_t;

#define STRESS_THREADS 6
#define STRESS_SEGMENTS 40

static void *stress_thread(void *opaque)
{
    stress_job_t *job = opaque;
    for (int i = 0; i < STRESS_SEGMENTS; i++) {
        segment_info_t segment = {.sequence = i, .duration_s = 2.0, .discontinuity = i == 20};
        snprintf(segment.path, sizeof segment.path, "%s", job->file);
        if (recorder_add_segment(job->recorder, job->name, &segment) != 0)
            job->failures++;
        char reason[RECORDER_ERROR_MAX];
        recorder_failed(job->recorder, reason, sizeof reason);
    }
    return NULL;
}

Test(recorder, concurrent_renditions, .timeout = 60)
{
    char *root = make_dir("/tmp");
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/rec", root);
    recorder_t *r = new_recorder(dir);
    stress_job_t jobs[STRESS_THREADS];
    pthread_t threads[STRESS_THREADS];
    for (int t = 0; t < STRESS_THREADS; t++) {
        jobs[t] = (stress_job_t){.recorder = r};
        snprintf(jobs[t].name, sizeof jobs[t].name, t == 0 ? "source" : "r%d", t);
        snprintf(jobs[t].file, sizeof jobs[t].file, "%s/in%d.ts", root, t);
        write_text(jobs[t].file, "0123456789", 10);
        cr_assert_eq(pthread_create(&threads[t], NULL, stress_thread, &jobs[t]), 0);
    }
    for (int t = 0; t < STRESS_THREADS; t++) {
        cr_assert_eq(pthread_join(threads[t], NULL), 0);
        cr_assert_eq(jobs[t].failures, 0);
        snprintf(path, sizeof path, "%s/%s/index.m3u8", dir, jobs[t].name);
        char *text = read_text(path);
        cr_assert_eq(count_of(text, "#EXTINF:2.000,\n"), STRESS_SEGMENTS);
        cr_assert_eq(count_of(text, "#EXT-X-DISCONTINUITY\n"), 1);
        cr_assert_eq(count_of(text, "#EXT-X-PLAYLIST-TYPE:EVENT\n"), 1);
        free(text);
    }
    cr_assert_not(recorder_failed(r, NULL, 0));
    recorder_free(r);
    run("rm -rf %s", root);
    free(root);
}

Test(recorder, sequence_restart_does_not_overwrite)
{
    char *root = make_dir("/tmp");
    char dir[600], path[700], live[600];
    snprintf(dir, sizeof dir, "%s/rec", root);
    snprintf(live, sizeof live, "%s/live.ts", root);
    write_text(live, "abc", 3);
    recorder_t *r = new_recorder(dir);
    const int64_t sequences[] = {5, 6, 0, 1, 9};
    const int64_t want[] = {5, 6, 7, 8, 9};
    for (size_t i = 0; i < 5; i++) {
        segment_info_t segment = {.sequence = sequences[i], .duration_s = 1.5};
        snprintf(segment.path, sizeof segment.path, "%s", live);
        cr_assert_eq(recorder_add_segment(r, "source", &segment), 0);
        snprintf(path, sizeof path, "%s/source/%05lld.ts", dir, (long long)want[i]);
        cr_assert(file_exists(path), "%s", path);
    }
    recorder_free(r);
    run("rm -rf %s", root);
    free(root);
}

Test(recorder, delete_stays_inside_the_directory)
{
    char *root = make_dir("/tmp");
    char dir[600], outside_file[600], outside_dir[600], path[700], err[RECORDER_ERROR_MAX] = "";
    snprintf(dir, sizeof dir, "%s/rec/s1", root);
    snprintf(outside_file, sizeof outside_file, "%s/keep.txt", root);
    snprintf(outside_dir, sizeof outside_dir, "%s/keepdir", root);
    write_text(outside_file, "keep", 4);
    cr_assert_eq(mkdir(outside_dir, 0755), 0);
    snprintf(path, sizeof path, "%s/keepdir/inner.txt", root);
    write_text(path, "keep", 4);
    cr_assert_eq(run("mkdir -p %s/source/deeper && echo x > %s/source/00000.ts && echo y > "
                     "%s/source/deeper/z && echo m > %s/output.mp4",
                     dir, dir, dir, dir),
                 0);
    snprintf(path, sizeof path, "%s/link-to-file", dir);
    cr_assert_eq(symlink(outside_file, path), 0);
    snprintf(path, sizeof path, "%s/source/link-to-dir", dir);
    cr_assert_eq(symlink(outside_dir, path), 0);

    cr_assert_eq(recorder_delete(dir, err, sizeof err), 0, "%s", err);
    cr_assert_not(file_exists(dir));
    cr_assert(file_exists(outside_file));
    snprintf(path, sizeof path, "%s/keepdir/inner.txt", root);
    cr_assert(file_exists(path), "symbolic links are not followed");
    cr_assert_eq(recorder_delete(dir, err, sizeof err), 0, "already gone is fine");

    cr_assert_eq(recorder_delete("/", err, sizeof err), RECORDER_ERR_INVALID);
    cr_assert_eq(recorder_delete("", err, sizeof err), RECORDER_ERR_INVALID);
    cr_assert_eq(recorder_delete(NULL, err, sizeof err), RECORDER_ERR_INVALID);
    cr_assert_eq(recorder_delete(outside_file, err, sizeof err), RECORDER_ERR_INVALID);
    cr_assert(file_exists(outside_file));
    snprintf(path, sizeof path, "%s/rec/link", root);
    cr_assert_eq(symlink(outside_dir, path), 0);
    cr_assert_eq(recorder_delete(path, err, sizeof err), RECORDER_ERR_INVALID,
                 "a link to a directory is not deleted through");
    snprintf(path, sizeof path, "%s/keepdir/inner.txt", root);
    cr_assert(file_exists(path));
    run("rm -rf %s", root);
    free(root);
}
