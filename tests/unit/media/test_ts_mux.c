/* Unit tests for the MPEG-TS muxing rules shared by the segmenter and the transcoder: when an AAC
 * frame continues the frames before it (and may share their PES packet) and when it must not,
 * and how readers time the frames of a shared PES packet. */
#include <criterion/criterion.h>
#include <stdint.h>

#include <libavutil/avutil.h>

#include "media/ts_mux.h"

#define FRAME_48K 1920 /* 1024 samples at 48 kHz in 90 kHz ticks */

/* 90 kHz dts of frame n of a 48 kHz clock starting at start, as an RTMP publisher sends it:
 * rounded to whole ms. */
static int64_t rtmp_dts(int64_t start, int n)
{
    int64_t ms = (n * 1024 * 1000 + 24000) / 48000;
    return start + 90 * ms;
}

Test(ts_mux, first_frame_starts_a_run)
{
    ts_mux_audio_run_t run = {0};
    cr_assert_not(ts_mux_audio_continues(&run, 126000, FRAME_48K));
    cr_assert(ts_mux_audio_continues(&run, 126000 + FRAME_48K, FRAME_48K));
}

Test(ts_mux, whole_ms_clock_continues)
{
    ts_mux_audio_run_t run = {0};
    ts_mux_audio_continues(&run, rtmp_dts(126000, 0), FRAME_48K);
    for (int n = 1; n < 2000; n++)
        cr_assert(ts_mux_audio_continues(&run, rtmp_dts(126000, n), FRAME_48K), "frame %d", n);
}

Test(ts_mux, gap_and_overlap_start_a_new_run)
{
    ts_mux_audio_run_t run = {0};
    int64_t dts = 126000;
    ts_mux_audio_continues(&run, dts, FRAME_48K);
    dts += FRAME_48K + 3 * 90; /* 3 ms late */
    cr_assert_not(ts_mux_audio_continues(&run, dts, FRAME_48K));
    dts += FRAME_48K;
    cr_assert(ts_mux_audio_continues(&run, dts, FRAME_48K), "the new run goes on");
    dts += FRAME_48K - 10 * 90; /* 10 ms early: overlaps the frame before */
    cr_assert_not(ts_mux_audio_continues(&run, dts, FRAME_48K));
    dts += FRAME_48K + TS_MUX_AUDIO_SLACK; /* just within the slack */
    cr_assert(ts_mux_audio_continues(&run, dts, FRAME_48K));
}

Test(ts_mux, drift_adds_up_until_it_breaks_the_run)
{
    ts_mux_audio_run_t run = {0};
    int64_t dts = 0;
    ts_mux_audio_continues(&run, dts, FRAME_48K);
    int n = 1;
    for (; n < 100; n++) { /* 0.5 ms too long every frame */
        dts += FRAME_48K + 45;
        if (!ts_mux_audio_continues(&run, dts, FRAME_48K))
            break;
    }
    cr_assert_eq(n, TS_MUX_AUDIO_SLACK / 45 + 1, "broke at frame %d", n);
}

Test(ts_mux, unknown_duration_continues_nothing)
{
    ts_mux_audio_run_t run = {0};
    ts_mux_audio_continues(&run, 0, FRAME_48K);
    cr_assert(ts_mux_audio_continues(&run, FRAME_48K, 0));
    cr_assert_not(ts_mux_audio_continues(&run, 2 * FRAME_48K, FRAME_48K));
    cr_assert(ts_mux_audio_continues(&run, 3 * FRAME_48K, FRAME_48K));
}

static AVPacket untimed(void)
{
    return (AVPacket){.pts = AV_NOPTS_VALUE, .dts = AV_NOPTS_VALUE};
}

Test(ts_mux, fill_times_the_frames_after_the_first_of_a_pes_packet)
{
    ts_mux_audio_reader_t reader = {0};
    AVPacket first = {.pts = 126000, .dts = 126000};
    ts_mux_audio_fill(&reader, &first, FRAME_48K);
    cr_assert_eq(first.pts, 126000, "a timed frame keeps its timestamps");
    cr_assert_eq(first.duration, FRAME_48K);
    for (int n = 1; n < 10; n++) {
        AVPacket next = untimed();
        ts_mux_audio_fill(&reader, &next, FRAME_48K);
        cr_assert_eq(next.dts, 126000 + n * FRAME_48K);
        cr_assert_eq(next.pts, next.dts);
    }
    AVPacket jump = {.pts = 900000, .dts = 900000, .duration = 2000};
    ts_mux_audio_fill(&reader, &jump, FRAME_48K);
    cr_assert_eq(jump.duration, 2000, "a known duration stays");
    AVPacket after = untimed();
    ts_mux_audio_fill(&reader, &after, FRAME_48K);
    cr_assert_eq(after.dts, 902000, "the next PES packet's timestamp starts over");
}

Test(ts_mux, fill_leaves_untimed_what_it_cannot_time)
{
    ts_mux_audio_reader_t reader = {0};
    AVPacket orphan = untimed();
    ts_mux_audio_fill(&reader, &orphan, FRAME_48K);
    cr_assert_eq(orphan.dts, AV_NOPTS_VALUE, "nothing before it");
    AVPacket timed = {.pts = 0, .dts = 0};
    ts_mux_audio_fill(&reader, &timed, 0);
    AVPacket next = untimed();
    ts_mux_audio_fill(&reader, &next, 0);
    cr_assert_eq(next.dts, AV_NOPTS_VALUE, "the frame before it has no known length");
}
