/* Unit tests for the recorder: real H.264/AAC segments made by the segmenter from ffmpeg-made FLV
 * files are recorded and finished, and the VOD playlists and the MP4 are checked on disk and with
 * ffprobe/ffmpeg; failures, bad arguments, concurrency and deletion. The MP4's timeline is tested
 * in test_mp4_remux.c, recovery after a crash in test_recorder_recover.c. */
#include "recorder_test_util.h"

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

Test(recorder, playlists_keep_their_bytes)
{
    char *root = make_dir("/tmp");
    char dir[600], err[RECORDER_ERROR_MAX] = "";
    snprintf(dir, sizeof dir, "%s/rec", root);
    recorder_t *r = record_golden(root, dir);
    assert_playlist_text(dir, "source", GOLDEN_EVENT(GOLDEN_SOURCE_BODY));
    assert_playlist_text(dir, "low", GOLDEN_EVENT(GOLDEN_LOW_BODY));
    /* the files are not media: the MP4 fails, after the VOD playlists are written */
    cr_assert_eq(recorder_finish(r, err, sizeof err), RECORDER_ERR_MEDIA);
    assert_playlist_text(dir, "source", GOLDEN_VOD(GOLDEN_SOURCE_BODY));
    assert_playlist_text(dir, "low", GOLDEN_VOD(GOLDEN_LOW_BODY));
    recorder_free(r);
    run("rm -rf %s", root);
    free(root);
}
