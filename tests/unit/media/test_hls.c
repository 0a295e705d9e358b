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
    cr_assert_str_eq(out, "");
    /* Annex B, as an MPEG-TS stream's extradata or a keyframe: the first SPS counts */
    const uint8_t annexb[] = {0,    0,    0,    1,    0x09, 0xf0, 0, 0,    0,    1, 0x67,
                              0x4d, 0x40, 0x1f, 0xaa, 0,    0,    1, 0x67, 0x64, 0, 0x28};
    cr_assert_eq(hls_codec_avc1(annexb, sizeof annexb, out), 0);
    cr_assert_str_eq(out, "avc1.4d401f");
    const uint8_t three_byte_start[] = {0, 0, 1, 0x27, 0x42, 0xe0, 0x0d};
    cr_assert_eq(hls_codec_avc1(three_byte_start, sizeof three_byte_start, out), 0);
    cr_assert_str_eq(out, "avc1.42e00d");
    /* no SPS, or one cut before its level */
    const uint8_t pps_only[] = {0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80};
    cr_assert_eq(hls_codec_avc1(pps_only, sizeof pps_only, out), -1);
    const uint8_t cut_sps[] = {0, 0, 0, 1, 0x67, 0x64, 0x00};
    cr_assert_eq(hls_codec_avc1(cut_sps, sizeof cut_sps, out), -1);
    cr_assert_eq(hls_codec_avc1(annexb, 0, out), -1);

    const uint8_t lc[] = {0x12, 0x10}; /* AAC-LC, 44.1 kHz, stereo */
    cr_assert_eq(hls_codec_mp4a(lc, sizeof lc, out), 0);
    cr_assert_str_eq(out, "mp4a.40.2");
    const uint8_t he[] = {0x2b, 0x92, 0x08, 0x00}; /* HE-AAC: SBR 44.1 kHz over a 22.05 kHz core */
    cr_assert_eq(hls_codec_mp4a(he, sizeof he, out), 0);
    cr_assert_str_eq(out, "mp4a.40.5");
    const uint8_t truncated[] = {0x12};
    cr_assert_eq(hls_codec_mp4a(truncated, sizeof truncated, out), -1);
}

/* ---- playlist types and parsing ---- */

Test(hls, playlist_type_goes_right_after_extm3u)
{
    hls_playlist_t *p = hls_playlist_new(0, 2);
    hls_segment_t s = segment(0, 2.0, false);
    hls_playlist_append(p, &s, NULL);
    char *text = hls_playlist_render(p);
    cr_assert_null(strstr(text, "PLAYLIST-TYPE"), "a live window has none");
    free(text);
    hls_playlist_set_type(p, HLS_PLAYLIST_TYPE_EVENT);
    text = hls_playlist_render(p);
    cr_assert_eq(strncmp(text, "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-VERSION:3\n", 51), 0,
                 "%s", text);
    cr_assert_null(strstr(text, "#EXT-X-ENDLIST"));
    free(text);
    hls_playlist_set_type(p, HLS_PLAYLIST_TYPE_VOD);
    hls_playlist_set_ended(p, true);
    text = hls_playlist_render(p);
    cr_assert_eq(strncmp(text, "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-VERSION:3\n", 49), 0,
                 "%s", text);
    cr_assert_eq(count_of(text, "PLAYLIST-TYPE"), 1);
    cr_assert_not_null(strstr(text, "00000.ts\n#EXT-X-ENDLIST\n"));
    free(text);
    hls_playlist_set_type(p, HLS_PLAYLIST_TYPE_NONE);
    text = hls_playlist_render(p);
    cr_assert_null(strstr(text, "PLAYLIST-TYPE"));
    free(text);
    hls_playlist_free(p);
}

/* Collects what the parser hands over. */
typedef struct parsed {
    hls_segment_t segments[64];
    size_t count;
    int stop_at; /* 0 = never; else return -7 at this segment (1-based) */
} parsed_t;

static int collect(void *opaque, const hls_segment_t *segment)
{
    parsed_t *out = opaque;
    if (out->stop_at && (int)out->count + 1 == out->stop_at)
        return -7;
    cr_assert_lt(out->count, 64);
    out->segments[out->count++] = *segment;
    return 0;
}

static parsed_t parse_text(const char *text, size_t len, hls_playlist_header_t *header)
{
    parsed_t out = {.count = 0};
    cr_assert_eq(hls_playlist_parse(text, len, collect, &out, header), 0);
    return out;
}

static parsed_t parse_string(const char *text, hls_playlist_header_t *header)
{
    return parse_text(text, strlen(text), header);
}

/* The segments appended to a new playlist of the header's type and ending. */
static char *render_parsed(const parsed_t *parsed, const hls_playlist_header_t *header)
{
    hls_playlist_t *p = hls_playlist_new(0, header->target_duration_s);
    for (size_t i = 0; i < parsed->count; i++)
        cr_assert_eq(hls_playlist_append(p, &parsed->segments[i], NULL), 0);
    hls_playlist_set_type(p, header->type);
    hls_playlist_set_ended(p, header->ended);
    char *text = hls_playlist_render(p);
    hls_playlist_free(p);
    return text;
}

Test(hls, parse_round_trip)
{
    const hls_playlist_type_t types[] = {HLS_PLAYLIST_TYPE_NONE, HLS_PLAYLIST_TYPE_EVENT,
                                         HLS_PLAYLIST_TYPE_VOD};
    for (size_t t = 0; t < 3; t++) {
        hls_playlist_t *p = hls_playlist_new(0, 2);
        hls_segment_t written[5];
        for (int64_t seq = 7; seq < 12; seq++) {
            written[seq - 7] = segment(seq, seq == 9 ? 3.2 : 1.9876, seq == 10);
            if (seq == 8)
                written[seq - 7].program_date_time_ms = 0;
            cr_assert_eq(hls_playlist_append(p, &written[seq - 7], NULL), 0);
        }
        hls_playlist_set_type(p, types[t]);
        hls_playlist_set_ended(p, types[t] == HLS_PLAYLIST_TYPE_VOD);
        char *text = hls_playlist_render(p);
        hls_playlist_header_t header;
        parsed_t parsed = parse_string(text, &header);
        cr_assert_eq(header.version, 3);
        cr_assert_eq(header.target_duration_s, 4);
        cr_assert_eq(header.media_sequence, 7);
        cr_assert_eq(header.discontinuity_sequence, 0);
        cr_assert_eq(header.type, types[t]);
        cr_assert_eq(header.ended, types[t] == HLS_PLAYLIST_TYPE_VOD);
        cr_assert_eq(parsed.count, 5);
        for (size_t i = 0; i < 5; i++) {
            const hls_segment_t *got = &parsed.segments[i], *want = &written[i];
            cr_assert_eq(got->sequence, want->sequence);
            cr_assert_str_eq(got->uri, want->uri);
            cr_assert_float_eq(got->duration_s, want->duration_s, 0.0005);
            cr_assert_eq(got->program_date_time_ms, want->program_date_time_ms);
            cr_assert_eq(got->discontinuity, want->discontinuity);
        }
        char *again = render_parsed(&parsed, &header);
        cr_assert_str_eq(again, text, "render -> parse -> render gives the same text");
        free(again);
        free(text);
        hls_playlist_free(p);
    }
}

Test(hls, parse_a_slid_live_window)
{
    hls_playlist_t *p = hls_playlist_new(3, 2);
    for (int64_t seq = 0; seq < 6; seq++) {
        hls_segment_t s = segment(seq, 2.0, seq == 1 || seq == 4);
        hls_playlist_append(p, &s, NULL);
    }
    char *text = hls_playlist_render(p);
    hls_playlist_header_t header;
    parsed_t parsed = parse_string(text, &header);
    cr_assert_eq(header.media_sequence, 3);
    cr_assert_eq(header.discontinuity_sequence, 1);
    cr_assert_eq(header.type, HLS_PLAYLIST_TYPE_NONE);
    cr_assert_not(header.ended);
    cr_assert_eq(parsed.count, 3);
    cr_assert_eq(parsed.segments[0].sequence, 3);
    cr_assert_str_eq(parsed.segments[2].uri, "00005.ts");
    cr_assert(parsed.segments[1].discontinuity);
    free(text);
    hls_playlist_free(p);
}

Test(hls, parse_skips_bad_extinf_and_missing_uris)
{
    static const char text[] = "#EXTM3U\n"
                               "#EXTINF:abc,\nbad1.ts\n"
                               "#EXTINF:-1,\nbad2.ts\n"
                               "#EXTINF:nan,\nbad3.ts\n"
                               "#EXTINF:inf,\nbad4.ts\n"
                               "#EXTINF:3600.5,\nbad5.ts\n"
                               "#EXTINF:2.0garbage,\nbad6.ts\n"
                               "#EXTINF:\nbad7.ts\n"
                               "#EXTINF:1.00000000000000000000000000000000000000,\nbad8.ts\n"
                               "no-extinf.ts\n"
                               "#EXTINF:5.0,\n"
                               "#EXTINF:3.0,title\n"
                               "#EXT-X-SOMETHING-NEW:1\n"
                               "\n"
                               "good1.ts\n"
                               "#EXTINF:3600,\r\ngood2.ts\r\n"
                               "#EXTINF:0\ngood3.ts\n"
                               "#EXTINF:2.0,\n";
    hls_playlist_header_t header;
    parsed_t parsed = parse_string(text, &header);
    cr_assert_eq(parsed.count, 3);
    cr_assert_str_eq(parsed.segments[0].uri, "good1.ts");
    cr_assert_float_eq(parsed.segments[0].duration_s, 3.0, 1e-9, "the later #EXTINF counts");
    cr_assert_str_eq(parsed.segments[1].uri, "good2.ts", "CRLF line ends");
    cr_assert_float_eq(parsed.segments[1].duration_s, 3600.0, 1e-9);
    cr_assert_str_eq(parsed.segments[2].uri, "good3.ts");
    cr_assert_eq(parsed.segments[0].sequence, 0);
    cr_assert_eq(parsed.segments[2].sequence, 2, "sequences count delivered segments");
}

Test(hls, parse_ignores_huge_numbers_and_bad_tags)
{
    static const char text[] = "#EXTM3U\n"
                               "#EXT-X-VERSION:99999999999999999999\n"
                               "#EXT-X-TARGETDURATION:2147483648\n"
                               "#EXT-X-MEDIA-SEQUENCE:99999999999999999999999\n"
                               "#EXT-X-DISCONTINUITY-SEQUENCE:-4\n"
                               "#EXT-X-PLAYLIST-TYPE:LIVE\n"
                               "#EXT-X-ENDLIST-NOT\n"
                               "#EXT-X-DISCONTINUITY:1\n"
                               "#EXT-X-PROGRAM-DATE-TIME:9999-99-99T99:99:99.999Z\n"
                               "#EXTINF:2,\n00001.ts\n";
    hls_playlist_header_t header;
    parsed_t parsed = parse_string(text, &header);
    cr_assert_eq(header.version, 0);
    cr_assert_eq(header.target_duration_s, 0);
    cr_assert_eq(header.media_sequence, 0);
    cr_assert_eq(header.discontinuity_sequence, 0);
    cr_assert_eq(header.type, HLS_PLAYLIST_TYPE_NONE);
    cr_assert_not(header.ended);
    cr_assert_eq(parsed.count, 1);
    cr_assert_not(parsed.segments[0].discontinuity);
    cr_assert_eq(parsed.segments[0].program_date_time_ms, 0);
    /* the largest media sequence: the one segment that fits is listed, the next is not */
    static const char top[] = "#EXT-X-MEDIA-SEQUENCE:9223372036854775807\n"
                              "#EXT-X-TARGETDURATION:2147483647\n"
                              "#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n";
    parsed = parse_string(top, &header);
    cr_assert_eq(header.media_sequence, INT64_MAX);
    cr_assert_eq(header.target_duration_s, INT32_MAX);
    cr_assert_eq(parsed.count, 1);
    cr_assert_eq(parsed.segments[0].sequence, INT64_MAX);
}

Test(hls, parse_truncated_text_and_nul_bytes)
{
    static const char text[] = "#EXTM3U\n#EXTINF:2,\n00000.ts\n#EXTINF:2,\n00001.ts\n";
    size_t len = sizeof text - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        parsed_t parsed = parse_text(text, cut, NULL);
        size_t want = cut >= len ? 2 : cut >= strlen("#EXTM3U\n#EXTINF:2,\n00000.ts\n") ? 1 : 0;
        cr_assert_eq(parsed.count, want, "cut at %zu: %zu segments", cut, parsed.count);
    }
    static const char nul[] = "#EXTINF:2,\n000\0001.ts\n#EXT\0INF:2,\nx.ts\n#EXTINF:2,\ny.ts\n";
    parsed_t parsed = parse_text(nul, sizeof nul - 1, NULL);
    cr_assert_eq(parsed.count, 1, "a URI with a NUL is not one; a broken tag is skipped");
    cr_assert_str_eq(parsed.segments[0].uri, "y.ts");
    char long_uri[300];
    memset(long_uri, 'a', sizeof long_uri);
    memcpy(long_uri, "#EXTINF:2,\n", 11);
    long_uri[11 + HLS_URI_MAX] = '\n';
    parsed = parse_text(long_uri, 12 + HLS_URI_MAX, NULL);
    cr_assert_eq(parsed.count, 0, "a URI longer than HLS_URI_MAX - 1 bytes is skipped");
    long_uri[11 + HLS_URI_MAX - 1] = '\n';
    parsed = parse_text(long_uri, 11 + HLS_URI_MAX, NULL);
    cr_assert_eq(parsed.count, 1);
    cr_assert_eq(strlen(parsed.segments[0].uri), HLS_URI_MAX - 1);
}

Test(hls, parse_garbage_never_crashes)
{
    srand(7);
    char noise[8192];
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof noise; i++) {
            int r = rand() % 16;
            noise[i] = r == 0 ? '\n' : r == 1 ? '#' : r == 2 ? ':' : (char)rand();
        }
        if (round % 2)
            memcpy(noise, "#EXTINF:1,\n", 11);
        parsed_t parsed = {.count = 0};
        hls_playlist_header_t header;
        cr_assert_eq(hls_playlist_parse(noise, sizeof noise, collect, &parsed, &header), 0);
        for (size_t i = 0; i < parsed.count; i++) {
            cr_assert_lt(strlen(parsed.segments[i].uri), HLS_URI_MAX);
            cr_assert_neq(parsed.segments[i].uri[0], '#');
            cr_assert(parsed.segments[i].duration_s >= 0 &&
                      parsed.segments[i].duration_s <= HLS_DURATION_MAX_S);
        }
    }
}

Test(hls, parse_stops_when_told_and_refuses_null)
{
    static const char text[] = "#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n#EXTINF:2,\nc.ts\n";
    parsed_t parsed = {.stop_at = 2};
    cr_assert_eq(hls_playlist_parse(text, strlen(text), collect, &parsed, NULL), -7);
    cr_assert_eq(parsed.count, 1);
    hls_playlist_header_t header = {.version = 5};
    cr_assert_eq(hls_playlist_parse(NULL, 10, collect, &parsed, &header), HLS_ERR_INVALID);
    cr_assert_eq(header.version, 0, "the header is cleared");
    cr_assert_eq(hls_playlist_parse(text, strlen(text), NULL, NULL, NULL), HLS_ERR_INVALID);
    parsed = parse_text("", 0, &header);
    cr_assert_eq(parsed.count, 0);
}

Test(hls, segment_numbers)
{
    cr_assert_eq(hls_segment_number("00012.ts", 8), 12);
    cr_assert_eq(hls_segment_number("0.ts", 4), 0);
    cr_assert_eq(hls_segment_number("123456789012345678.ts", 21), 123456789012345678);
    const char *bad[] = {
        ".ts",  "a.ts",  "00012.tsx", "00012", "-1.ts", " 1.ts", "1234567890123456789.ts",
        "1.TS", "1/2.ts"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(hls_segment_number(bad[i], strlen(bad[i])), -1, "%s", bad[i]);
    cr_assert_eq(hls_segment_number(NULL, 4), -1);
    char name[16];
    hls_segment_name(42, name, sizeof name);
    cr_assert_eq(hls_segment_number(name, strlen(name)), 42, "the inverse of hls_segment_name");
}
