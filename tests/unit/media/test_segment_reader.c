/* Unit tests for the segment reader: the segmenter's own files read back with every AAC frame
 * timed, probing, and what a crash or a stranger leaves on disk (a cut file, junk, an empty file,
 * a missing one, a ':' in the path). */
#include "media/segment_reader.h"

#include "media/hls.h"
#include "recorder_test_util.h"

/* What one pass over a file read. */
typedef struct read_back {
    int result; /* segment_reader_read's last result */
    size_t video, audio;
    size_t audio_untimed;    /* audio packets without a dts */
    size_t audio_steps_off;  /* consecutive audio dts not one AAC frame apart */
    int64_t first_audio_dts; /* stream time base */
    char err[256];
} read_back_t;

static read_back_t read_all(const char *path)
{
    read_back_t out = {.first_audio_dts = AV_NOPTS_VALUE};
    segment_reader_t r;
    int opened = segment_reader_open(&r, path, out.err, sizeof out.err);
    cr_assert_eq(opened, 0, "%s", out.err);
    AVPacket *pkt = av_packet_alloc();
    int64_t last_dts = AV_NOPTS_VALUE;
    while ((out.result = segment_reader_read(&r, pkt, out.err, sizeof out.err)) > 0) {
        if (pkt->stream_index == r.video) {
            out.video++;
        } else {
            cr_assert_eq(pkt->stream_index, r.audio);
            out.audio++;
            if (pkt->dts == AV_NOPTS_VALUE) {
                out.audio_untimed++;
            } else {
                int rate = r.in->streams[r.audio]->codecpar->sample_rate;
                cr_assert_gt(rate, 0, "the ADTS header gave the sample rate");
                int64_t frame = av_rescale(1024, 90000, rate);
                if (last_dts != AV_NOPTS_VALUE && llabs(pkt->dts - last_dts - frame) > 90)
                    out.audio_steps_off++;
                if (out.first_audio_dts == AV_NOPTS_VALUE)
                    out.first_audio_dts = pkt->dts;
                last_dts = pkt->dts;
            }
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    segment_reader_close(&r);
    segment_reader_close(&r); /* twice is a no-op */
    return out;
}

/* Segments the area's 4-second source into area/live/source; returns the first file's path. */
static void make_segments(area_t *a, char *first, size_t size)
{
    char live[600];
    snprintf(live, sizeof live, "%s/source", a->live);
    recorded_t rec = {0};
    record_file(live, a->source_in, 0, &rec);
    cr_assert_geq(rec.count, 2);
    snprintf(first, size, "%s", rec.segments[0].path);
}

Test(segment_reader, reads_every_frame_of_a_segment_with_audio_timed, .timeout = 60)
{
    area_t a = make_area(4, false);
    char path[SEGMENTER_PATH_MAX];
    make_segments(&a, path, sizeof path);
    read_back_t got = read_all(path);
    cr_assert_eq(got.result, 0, "%s", got.err);
    probed_packets_t video = probe_packets(path, "v:0"), audio = probe_packets(path, "a:0");
    cr_assert_eq(got.video, video.count);
    cr_assert_eq(got.audio, audio.count);
    cr_assert_gt(got.audio, 50);
    /* the segmenter packs frames into PES packets: every one of them is timed, one frame apart */
    cr_assert_eq(got.audio_untimed, 0);
    cr_assert_eq(got.audio_steps_off, 0);
    cr_assert_eq(got.first_audio_dts, audio.first_pts);
    drop_area(&a);
}

Test(segment_reader, probing_fills_the_codec_parameters, .timeout = 60)
{
    area_t a = make_area(4, false);
    char path[SEGMENTER_PATH_MAX], err[256] = "";
    make_segments(&a, path, sizeof path);
    segment_reader_t r;
    cr_assert_eq(segment_reader_open(&r, path, err, sizeof err), 0, "%s", err);
    cr_assert_geq(r.video, 0);
    cr_assert_geq(r.audio, 0);
    cr_assert_eq(segment_reader_probe(&r, err, sizeof err), 0, "%s", err);
    const AVCodecParameters *v = r.in->streams[r.video]->codecpar;
    cr_assert_eq(v->codec_id, AV_CODEC_ID_H264);
    cr_assert_eq(v->width, 640);
    cr_assert_eq(v->height, 360);
    char avc1[HLS_CODEC_MAX];
    cr_assert_eq(hls_codec_avc1(v->extradata, (size_t)v->extradata_size, avc1), 0);
    cr_assert_eq(strncmp(avc1, "avc1.", 5), 0, "%s", avc1);
    const AVCodecParameters *au = r.in->streams[r.audio]->codecpar;
    cr_assert_eq(au->codec_id, AV_CODEC_ID_AAC);
    cr_assert_eq(au->sample_rate, 48000);
    segment_reader_close(&r);
    drop_area(&a);
}

Test(segment_reader, a_file_cut_short_reads_what_is_there, .timeout = 60)
{
    area_t a = make_area(4, false);
    char path[SEGMENTER_PATH_MAX], cut[800];
    make_segments(&a, path, sizeof path);
    read_back_t whole = read_all(path);
    uint64_t size = file_size(path);
    /* cut mid-packet (not on a 188-byte boundary), as a crash during a write leaves it */
    const uint64_t lengths[] = {size / 2 + 77, size / 5 + 3, 188 * 3 + 11};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        snprintf(cut, sizeof cut, "%s/cut.ts", a.root);
        cr_assert_eq(run("head -c %llu %s > %s", (unsigned long long)lengths[i], path, cut), 0);
        read_back_t got = read_all(cut);
        cr_assert_geq(got.result, -1);
        cr_assert_leq(got.video + got.audio, whole.video + whole.audio);
        cr_assert_eq(got.audio_steps_off, 0, "cut at %llu", (unsigned long long)lengths[i]);
        if (lengths[i] > size / 2)
            cr_assert_gt(got.video, 0, "half a segment still has frames");
    }
    drop_area(&a);
}

Test(segment_reader, junk_empty_and_missing_files_fail_cleanly)
{
    char *root = make_dir("/tmp");
    char path[600], err[256] = "";
    segment_reader_t r;
    /* missing: the message names the file, nothing is left open */
    snprintf(path, sizeof path, "%s/missing/00000.ts", root);
    cr_assert_eq(segment_reader_open(&r, path, err, sizeof err), -1);
    cr_assert_null(r.in);
    cr_assert_not_null(strstr(err, path), "%s", err);
    segment_reader_close(&r);
    /* sync bytes and nothing else, an empty file, text: no frames, no crash */
    const char *bodies[] = {NULL, "", "#EXTM3U\n#EXTINF:2.0,\n00000.ts\n"};
    char junk[188 * 8];
    memset(junk, 0x47, sizeof junk);
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        snprintf(path, sizeof path, "%s/junk%zu.ts", root, i);
        if (bodies[i])
            write_text(path, bodies[i], strlen(bodies[i]));
        else
            write_text(path, junk, sizeof junk);
        if (segment_reader_open(&r, path, err, sizeof err) < 0) {
            cr_assert_not_null(strstr(err, path), "%s", err);
            continue;
        }
        AVPacket *pkt = av_packet_alloc();
        int got = segment_reader_read(&r, pkt, err, sizeof err);
        cr_assert_leq(got, 0, "junk %zu gave a packet", i);
        av_packet_free(&pkt);
        segment_reader_close(&r);
    }
    /* a path longer than any file system allows */
    char *long_path = malloc(8192);
    memset(long_path, 'a', 8191);
    long_path[8191] = '\0';
    cr_assert_eq(segment_reader_open(&r, long_path, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "too long"), "%s", err);
    free(long_path);
    run("rm -rf %s", root);
    free(root);
}

Test(segment_reader, a_colon_in_the_path_is_not_a_protocol, .timeout = 60)
{
    area_t a = make_area(4, false);
    char path[SEGMENTER_PATH_MAX], odd_dir[700], odd[800];
    make_segments(&a, path, sizeof path);
    snprintf(odd_dir, sizeof odd_dir, "%s/http:x", a.root);
    cr_assert_eq(mkdir(odd_dir, 0755), 0);
    snprintf(odd, sizeof odd, "%s/00000.ts", odd_dir);
    cr_assert_eq(run("cp %s '%s'", path, odd), 0);
    read_back_t got = read_all(odd);
    cr_assert_eq(got.result, 0, "%s", got.err);
    cr_assert_gt(got.video, 0);
    drop_area(&a);
}
