/* MPEG-TS muxing rules shared by the segmenter and the transcoder (see ts_mux.h). */
#include "media/ts_mux.h"

#include <stdlib.h>

#include <libavutil/avutil.h>

bool ts_mux_audio_continues(ts_mux_audio_run_t *run, int64_t dts, int64_t duration)
{
    bool continues = run->started && llabs(dts - run->next_dts) <= TS_MUX_AUDIO_SLACK;
    /* The expected dts accumulates from the run's first frame, so a clock that drifts a little
     * on every frame still breaks the run once it is off by more than the slack in total. */
    run->next_dts = (continues ? run->next_dts : dts) + duration;
    run->started = duration > 0;
    return continues;
}

void ts_mux_audio_fill(ts_mux_audio_reader_t *reader, AVPacket *pkt, int64_t frame_duration)
{
    if (pkt->duration <= 0 && frame_duration > 0)
        pkt->duration = frame_duration;
    if (pkt->pts == AV_NOPTS_VALUE && pkt->dts == AV_NOPTS_VALUE && reader->have_next)
        pkt->pts = pkt->dts = reader->next_dts;
    int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    reader->have_next = dts != AV_NOPTS_VALUE && pkt->duration > 0;
    reader->next_dts = reader->have_next ? dts + pkt->duration : 0;
}
