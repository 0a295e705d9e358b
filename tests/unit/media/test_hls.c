/* Unit tests for the HLS playlist model and writers and the RFC 6381 codec strings. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/hls.h"

#include "media_test_util.h"

static char *make_dir(void)
{
    char *dir = strdup("/tmp/streamd-hls-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static hls_segment_t segment(int64_t sequence, double duration_s, bool discontinuity)
{
    hls_segment_t s = {
        .sequence = sequence,
        .duration_s = duration_s,
        .program_date_time_ms = 1714564800000 + sequence * 2000, /* 2024-05-01T12:00:00Z */
        .discontinuity = discontinuity,
    };
    snprintf(s.uri, sizeof s.uri, "%05lld.ts", (long long)sequence);
    return s;
}

Test(hls, media_playlist_text)
{
    hls_playlist_t *p = hls_playlist_new(5, 2);
    hls_segment_t a = segment(0, 2.0, false), b = segment(1, 1.9876, false);
    b.program_date_time_ms = 1714564802123;
    cr_assert_eq(hls_playlist_append(p, &a, NULL), 0);
    cr_assert_eq(hls_playlist_append(p, &b, NULL), 0);
    char *text = hls_playlist_render(p);
    cr_assert_str_eq(text, "#EXTM3U\n"
                           "#EXT-X-VERSION:3\n"
                           "#EXT-X-TARGETDURATION:2\n"
                           "#EXT-X-MEDIA-SEQUENCE:0\n"
                           "#EXT-X-INDEPENDENT-SEGMENTS\n"
                           "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n"
                           "#EXTINF:2.000,\n"
                           "00000.ts\n"
                           "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:02.123Z\n"
                           "#EXTINF:1.988,\n"
                           "00001.ts\n");
    free(text);
    hls_playlist_set_ended(p, true);
    text = hls_playlist_render(p);
    cr_assert_not_null(strstr(text, "00001.ts\n#EXT-X-ENDLIST\n"));
    free(text);
    hls_playlist_free(p);
    hls_playlist_free(NULL);
}

Test(hls, window_slides_and_counts_discontinuities)
{
    hls_playlist_t *p = hls_playlist_new(3, 2);
    hls_segment_t evicted;
    for (int64_t seq = 0; seq < 3; seq++) {
        hls_segment_t s = segment(seq, 2.0, seq == 1);
        cr_assert_eq(hls_playlist_append(p, &s, &evicted), 0);
    }
    hls_segment_t s = segment(3, 2.0, false);
    cr_assert_eq(hls_playlist_append(p, &s, &evicted), 1);
    cr_assert_eq(evicted.sequence, 0);
    cr_assert_str_eq(evicted.uri, "00000.ts");
    char *text = hls_playlist_render(p);
    cr_assert_not_null(strstr(text, "#EXT-X-MEDIA-SEQUENCE:1\n"));
    cr_assert_null(strstr(text, "DISCONTINUITY-SEQUENCE"));
    cr_assert_not_null(strstr(text, "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME"));
    free(text);
    s = segment(4, 2.0, false);
    cr_assert_eq(hls_playlist_append(p, &s, &evicted), 1);
    cr_assert(evicted.discontinuity);
    text = hls_playlist_render(p);
    cr_assert_not_null(strstr(text, "#EXT-X-MEDIA-SEQUENCE:2\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
    cr_assert_null(strstr(text, "#EXT-X-DISCONTINUITY\n"));
    cr_assert_eq(hls_playlist_count(p), 3);
    free(text);
    hls_playlist_free(p);
}

Test(hls, target_duration_is_ceiling_and_never_shrinks)
{
    hls_playlist_t *p = hls_playlist_new(2, 2);
    cr_assert_eq(hls_playlist_target_duration(p), 2);
    hls_segment_t s = segment(0, 2.0004, false); /* shows as 2.000 */
    hls_playlist_append(p, &s, NULL);
    cr_assert_eq(hls_playlist_target_duration(p), 2);
    s = segment(1, 2.001, false);
    hls_playlist_append(p, &s, NULL);
    cr_assert_eq(hls_playlist_target_duration(p), 3);
    for (int64_t seq = 2; seq < 6; seq++) {
        s = segment(seq, 1.0, false);
        hls_playlist_append(p, &s, NULL);
    }
    cr_assert_eq(hls_playlist_target_duration(p), 3, "the long segment slid out, 3 stays");
    hls_playlist_free(p);
}

Test(hls, unlimited_window_keeps_everything)
{
    hls_playlist_t *p = hls_playlist_new(0, 2);
    for (int64_t seq = 10; seq < 110; seq++) {
        hls_segment_t s = segment(seq, 2.0, false);
        cr_assert_eq(hls_playlist_append(p, &s, NULL), 0);
    }
    cr_assert_eq(hls_playlist_count(p), 100);
    char *text = hls_playlist_render(p);
    cr_assert_not_null(strstr(text, "#EXT-X-MEDIA-SEQUENCE:10\n"));
    free(text);
    hls_playlist_free(p);
}

Test(hls, append_rejects_bad_segments)
{
    hls_playlist_t *p = hls_playlist_new(3, 2);
    hls_segment_t s = segment(5, 2.0, false);
    cr_assert_eq(hls_playlist_append(p, &s, NULL), 0);
    s = segment(7, 2.0, false);
    cr_assert_eq(hls_playlist_append(p, &s, NULL), HLS_ERR_INVALID, "sequence gap");
    s = segment(6, 2.0, false);
    snprintf(s.uri, sizeof s.uri, "a\nb.ts");
    cr_assert_eq(hls_playlist_append(p, &s, NULL), HLS_ERR_INVALID);
    s.uri[0] = '\0';
    cr_assert_eq(hls_playlist_append(p, &s, NULL), HLS_ERR_INVALID);
    snprintf(s.uri, sizeof s.uri, "#EXT-X-ENDLIST");
    cr_assert_eq(hls_playlist_append(p, &s, NULL), HLS_ERR_INVALID);
    memset(s.uri, 'a', sizeof s.uri); /* no NUL */
    cr_assert_eq(hls_playlist_append(p, &s, NULL), HLS_ERR_INVALID);
    s = segment(6, -1.0, false);
    cr_assert_eq(hls_playlist_append(p, &s, NULL), HLS_ERR_INVALID);
    cr_assert_eq(hls_playlist_count(p), 1);
    cr_assert_null(hls_playlist_new(-1, 2));
    hls_playlist_free(p);
}

Test(hls, playlist_write_is_atomic_and_reports_errors)
{
    char *dir = make_dir();
    char path[512], tmp[600], err[256] = "";
    snprintf(path, sizeof path, "%s/index.m3u8", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    hls_playlist_t *p = hls_playlist_new(3, 2);
    hls_segment_t s = segment(0, 2.0, false);
    hls_playlist_append(p, &s, NULL);
    cr_assert_eq(hls_playlist_write(p, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(access(tmp, F_OK), -1, "no temporary file left");
    char *text = read_text(path);
    char *rendered = hls_playlist_render(p);
    cr_assert_str_eq(text, rendered);
    free(text);
    free(rendered);
    cr_assert_eq(hls_playlist_write(p, "/nonexistent/dir/index.m3u8", err, sizeof err), HLS_ERR_IO);
    cr_assert_not_null(strstr(err, "/nonexistent/dir/index.m3u8.tmp"), "%s", err);
    cr_assert_not_null(strstr(err, "No such file"), "%s", err);
    hls_playlist_free(p);
    run("rm -rf %s", dir);
    free(dir);
}

static const char expected_master[] = "#EXTM3U\n"
                                      "#EXT-X-VERSION:3\n"
                                      "#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH="
                                      "2000000,CODECS=\"avc1.42c01e,mp4a.40.2\","
                                      "RESOLUTION=320x240,FRAME-RATE=30.000\n"
                                      "source/index.m3u8\n"
                                      "#EXT-X-STREAM-INF:BANDWIDTH=800000\n"
                                      "low/index.m3u8\n";

Test(hls, master_playlist_text_and_ffprobe, .timeout = 120)
{
    char *dir = make_dir();
    char path[512], err[256] = "";
    /* a real rendition for ffprobe to follow: one 2 s segment and its media playlist */
    cr_assert_eq(run("mkdir -p %s/source %s/low && ffmpeg -nostdin -v error -f lavfi -i "
                     "testsrc2=size=320x240:rate=30 -f lavfi -i sine=sample_rate=48000 -t 2 "
                     "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -f mpegts "
                     "%s/source/00000.ts && cp %s/source/00000.ts %s/low/",
                     dir, dir, dir, dir, dir),
                 0);
    hls_playlist_t *media = hls_playlist_new(3, 2);
    hls_segment_t s = segment(0, 2.0, false);
    hls_playlist_append(media, &s, NULL);
    hls_playlist_set_ended(media, true);
    const char *renditions[] = {"source", "low"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s/index.m3u8", dir, renditions[i]);
        cr_assert_eq(hls_playlist_write(media, path, err, sizeof err), 0, "%s", err);
    }
    hls_playlist_free(media);

    hls_variant_t variants[] = {
        {.uri = "source/index.m3u8",
         .bandwidth = 2500000,
         .average_bandwidth = 2000000,
         .width = 320,
         .height = 240,
         .frame_rate = 30,
         .codecs = "avc1.42c01e,mp4a.40.2"},
        {.uri = "low/index.m3u8", .bandwidth = 800000, .codecs = ""},
    };
    snprintf(path, sizeof path, "%s/index.m3u8", dir);
    cr_assert_eq(hls_write_master(path, variants, 2, err, sizeof err), 0, "%s", err);
    char *text = read_text(path);
    cr_assert_str_eq(text, expected_master);
    free(text);
    cr_assert_eq(run("ffprobe -v error -show_entries stream=codec_name -of csv=p=0 %s "
                     "| grep -q h264",
                     path),
                 0, "ffprobe rejects the master playlist");
    cr_assert_eq(run("ffprobe -v error %s 2>&1 | grep -q .", path), 1, "ffprobe complained");
    run("rm -rf %s", dir);
    free(dir);
}

Test(hls, master_rejects_bad_variants)
{
    char err[256] = "";
    hls_variant_t v = {.uri = "source/index.m3u8", .bandwidth = 1};
    cr_assert_eq(hls_write_master("/tmp/x.m3u8", &v, 0, err, sizeof err), HLS_ERR_INVALID);
    cr_assert_eq(hls_write_master("/tmp/x.m3u8", NULL, 1, err, sizeof err), HLS_ERR_INVALID);
    v.uri = NULL;
    cr_assert_eq(hls_write_master("/tmp/x.m3u8", &v, 1, err, sizeof err), HLS_ERR_INVALID);
    v.uri = "a\nb";
    cr_assert_eq(hls_write_master("/tmp/x.m3u8", &v, 1, err, sizeof err), HLS_ERR_INVALID);
    v.uri = "ok.m3u8";
    v.codecs = "avc1\",x";
    cr_assert_eq(hls_write_master("/tmp/x.m3u8", &v, 1, err, sizeof err), HLS_ERR_INVALID);
    v.codecs = NULL;
    v.width = -1;
    cr_assert_eq(hls_write_master("/tmp/x.m3u8", &v, 1, err, sizeof err), HLS_ERR_INVALID);
    v.width = 0;
    cr_assert_eq(hls_write_master("/nonexistent/x.m3u8", &v, 1, err, sizeof err), HLS_ERR_IO);
    cr_assert_not_null(strstr(err, "/nonexistent/x.m3u8"), "%s", err);
    char *text = hls_master_render(&v, 1, err, sizeof err);
    cr_assert_str_eq(text, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1\nok.m3u8\n");
    free(text);
}

Test(hls, codec_strings)
{
    char out[HLS_CODEC_MAX];
    const uint8_t high[] = {1, 0x64, 0x00, 0x1f, 0xff};
    cr_assert_eq(hls_codec_avc1(high, sizeof high, out), 0);
    cr_assert_str_eq(out, "avc1.64001f");
    const uint8_t baseline[] = {1, 0x42, 0xc0, 0x1e};
    cr_assert_eq(hls_codec_avc1(baseline, sizeof baseline, out), 0);
    cr_assert_str_eq(out, "avc1.42c01e");
    cr_assert_eq(hls_codec_avc1(baseline, 3, out), -1);
    const uint8_t version2[] = {2, 0x42, 0xc0, 0x1e};
    cr_assert_eq(hls_codec_avc1(version2, sizeof version2, out), -1);
    cr_assert_eq(hls_codec_avc1(NULL, 4, out), -1);

    const uint8_t lc[] = {0x12, 0x10}; /* AAC-LC, 44.1 kHz, stereo */
    cr_assert_eq(hls_codec_mp4a(lc, sizeof lc, out), 0);
    cr_assert_str_eq(out, "mp4a.40.2");
    const uint8_t he[] = {0x2b, 0x92, 0x08, 0x00}; /* HE-AAC: SBR 44.1 kHz over a 22.05 kHz core */
    cr_assert_eq(hls_codec_mp4a(he, sizeof he, out), 0);
    cr_assert_str_eq(out, "mp4a.40.5");
    const uint8_t truncated[] = {0x12};
    cr_assert_eq(hls_codec_mp4a(truncated, sizeof truncated, out), -1);
}
