/* Unit tests for the recovery of cut recordings: a recording killed mid-way is finalized from
 * what is on disk, keeping exactly the complete segments; broken or hostile playlists never
 * crash it or list what is not a segment of the directory. */
#include "media/recorder_recover.h"

#include "recorder_test_util.h"

/* Copies the first half of from into to, plus a few bytes: no whole number of TS packets. */
static void write_partial_copy(const char *from, const char *to)
{
    uint64_t size = file_size(from);
    cr_assert_eq(run("head -c %llu %s > %s", (unsigned long long)(size / 2 + 100), from, to), 0);
}

Test(recorder_recover, recover_after_a_crash_keeps_exactly_the_complete_segments, .timeout = 60)
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

Test(recorder_recover, recover_survives_broken_playlists, .timeout = 60)
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

Test(recorder_recover, recover_refuses_what_is_not_a_recording)
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

Test(recorder_recover, playlists_are_rewritten_byte_for_byte)
{
    char *root = make_dir("/tmp");
    char dir[600], path[700], err[RECORDER_ERROR_MAX] = "";
    snprintf(dir, sizeof dir, "%s/rec", root);
    recorder_free(record_golden(root, dir)); /* killed: never finished */
    /* a cut last line is not listed (and the file is not media: it is not found again) */
    snprintf(path, sizeof path, "%s/low/index.m3u8", dir);
    char *text = read_text(path);
    write_text(path, text, strlen(text) - 1);
    free(text);
    recorder_summary_t summary;
    cr_assert_eq(recorder_recover(dir, &summary, err, sizeof err), RECORDER_ERR_MEDIA, "%s", err);
    assert_playlist_text(dir, "source", GOLDEN_VOD(GOLDEN_SOURCE_BODY));
    cr_assert_eq(recorder_recover(dir, &summary, err, sizeof err), RECORDER_ERR_MEDIA, "%s", err);
    assert_playlist_text(dir, "source", GOLDEN_VOD(GOLDEN_SOURCE_BODY));
    run("rm -rf %s", root);
    free(root);
}
