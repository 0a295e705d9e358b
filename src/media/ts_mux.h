/* MPEG-TS muxing rules shared by the segmenter (source segments) and the transcoder (renditions),
 * so both write audio the same way, and the matching rule for reading their files back.
 *
 * With a mux delay, libavformat's mpegts muxer packs consecutive AAC frames into one PES packet
 * (up to half the delay or 2930 bytes) instead of giving every ~20 ms frame its own PES and TS
 * headers. A demuxer then derives the timestamp of every frame after the first of a PES packet
 * from the frame durations, so a frame whose timestamp does not continue the frames before it (a
 * gap or an overlap in the publisher's audio clock) must start a PES packet of its own:
 * ts_mux_audio_continues tells the caller when to flush the muxer first. Readers that open these
 * files without stream info (the transcoder, the recorder) time those frames with
 * ts_mux_audio_fill.
 *
 * Plain functions and small state structs; each muxer or reader owns its own. */
#ifndef STREAMD_MEDIA_TS_MUX_H
#define STREAMD_MEDIA_TS_MUX_H

#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/packet.h>

/* AVFormatContext.max_delay (microseconds) of every muxer with video: ffmpeg's own -muxdelay
 * default. The muxer sends PCRs this far ahead of the dts, so timestamps must not start below it.
 * Audio alone keeps 0: a PCR can only open a PES packet, and one frame per PES keeps the audio
 * PID's PCRs within the 100 ms of ISO 13818-1. */
#define TS_MUX_DELAY_US 700000

/* 90 kHz: how far a frame may sit from where the frames before it end and still continue them.
 * RTMP timestamps are whole ms, so a steady clock's frames sit up to 1 ms off where the run
 * expects them; twice that leaves room for frame durations rounded to ticks. */
#define TS_MUX_AUDIO_SLACK 180

/* The run of audio frames written on one continuous clock; zero-initialised: no run yet. */
typedef struct ts_mux_audio_run {
    bool started;     /* next_dts is set */
    int64_t next_dts; /* 90 kHz: where the frame that continues the run starts */
} ts_mux_audio_run_t;

/* Records an AAC frame about to be written at dts lasting duration (both 90 kHz; <= 0 when
 * unknown). Returns true when it continues the frames before it within TS_MUX_AUDIO_SLACK, false
 * when it starts a new run (the first frame, or after a gap, an overlap or a frame of unknown
 * length): the caller then flushes the muxer (av_write_frame(ctx, NULL); with nothing buffered it
 * writes nothing) before writing it, so it opens a PES packet with its own timestamp. */
bool ts_mux_audio_continues(ts_mux_audio_run_t *run, int64_t dts, int64_t duration);

/* Reading one file back; zero-initialised: nothing read yet. */
typedef struct ts_mux_audio_reader {
    bool have_next;   /* next_dts is set */
    int64_t next_dts; /* in the packets' time base: where the last frame read ends */
} ts_mux_audio_reader_t;

/* Without avformat_find_stream_info, libavformat's mpegts demuxer knows no AAC sample rate, so
 * every frame after the first of a PES packet comes without timestamps or duration. Given the
 * AAC frames of one file in reading order (in their stream's time base), this gives a frame
 * with neither pts nor dts the end of the frame before it, as players time it, and a frame
 * without a duration frame_duration (same time base; <= 0 when unknown). */
void ts_mux_audio_fill(ts_mux_audio_reader_t *reader, AVPacket *pkt, int64_t frame_duration);

#endif
