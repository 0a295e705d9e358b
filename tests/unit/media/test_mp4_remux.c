/* Unit tests for the MP4 remux of a recording's source: timelines rebased across restarts and
 * discontinuities, B-frames and 44.1 kHz audio, audio joining later, a full disk; through the
 * recorder that drives it, and directly. */
#include "media/mp4_remux.h"

#include "recorder_test_util.h"

Test(mp4_remux, restarted_timestamps_are_rebased_in_the_mp4, .timeout = 60)
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

Test(mp4_remux, b_frames_and_44_1_khz_audio_across_a_restart, .timeout = 60)
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

Test(mp4_remux, audio_joining_later_gets_its_own_track, .timeout = 60)
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

Test(mp4_remux, full_disk_fails_the_mp4_cleanly, .timeout = 60)
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

/* The segments a segmenter wrote into live_dir, as the remux takes them. */
static size_t remux_inputs(const recorded_t *rec, mp4_remux_segment_t *out)
{
    for (size_t i = 0; i < rec->count; i++)
        out[i] = (mp4_remux_segment_t){.number = rec->segments[i].sequence,
                                       .duration_s = rec->segments[i].duration_s,
                                       .discontinuity = rec->segments[i].discontinuity};
    return rec->count;
}

Test(mp4_remux, writes_segments_into_one_mp4, .timeout = 60)
{
    area_t a = make_area(4, false);
    char live[600], path[700], tmp[800], err[256] = "";
    snprintf(live, sizeof live, "%s/source", a.live);
    recorded_t source = {.name = "source"}; /* no recorder: only collects */
    record_file(live, a.source_in, 0, &source);
    cr_assert_eq(source.count, 2);
    mp4_remux_segment_t segments[MAX_SEGMENTS];
    size_t count = remux_inputs(&source, segments);
    snprintf(path, sizeof path, "%s/out.mp4", a.root);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_eq(mp4_remux_write(live, segments, count, path, err, sizeof err), 0, "%s", err);
    cr_assert_not(file_exists(tmp));
    int moov = -1, mdat = -1;
    mp4_box_order(path, &moov, &mdat);
    cr_assert(moov >= 0 && mdat >= 0 && moov < mdat, "moov at %d, mdat at %d", moov, mdat);
    double want = recorded_duration(&source);
    cr_assert(fabs(probe_duration(path) - want) <= 0.3, "%.3f of %.3f", probe_duration(path), want);
    assert_plays(path);
    /* the first segment alone: a shorter MP4 replaces the longer one whole */
    cr_assert_eq(mp4_remux_write(live, segments, 1, path, err, sizeof err), 0, "%s", err);
    cr_assert(fabs(probe_duration(path) - segments[0].duration_s) <= 0.3);
    drop_area(&a);
}

Test(mp4_remux, failures_leave_no_file)
{
    char *root = make_dir("/tmp");
    char path[600], tmp[700], junk_path[600], err[256] = "";
    snprintf(path, sizeof path, "%s/out.mp4", root);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    mp4_remux_segment_t segment = {.number = 0, .duration_s = 2.0};
    /* the segment file is missing */
    cr_assert_eq(mp4_remux_write(root, &segment, 1, path, err, sizeof err), MP4_REMUX_ERR_MEDIA);
    cr_assert_not_null(strstr(err, "00000.ts"), "%s", err);
    /* it is not media */
    snprintf(junk_path, sizeof junk_path, "%s/00000.ts", root);
    char junk[188 * 4];
    memset(junk, 0x47, sizeof junk);
    write_text(junk_path, junk, sizeof junk);
    cr_assert_eq(mp4_remux_write(root, &segment, 1, path, err, sizeof err), MP4_REMUX_ERR_MEDIA);
    /* no segments at all */
    cr_assert_eq(mp4_remux_write(root, &segment, 0, path, err, sizeof err), MP4_REMUX_ERR_MEDIA);
    cr_assert_not(file_exists(path));
    cr_assert_not(file_exists(tmp));
    run("rm -rf %s", root);
    free(root);
}
