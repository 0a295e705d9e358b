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
 * ts_mux_writer_t is the one writer of segment files: one libavformat mpegts muxer serves a whole
 * run of segments with the same stream set, each segment gets its own file (the muxer's
 * AVIOContext is swapped and PAT/PMT are re-sent), so timestamps and continuity counters run on
 * across files as in one long transport stream; a file is written as NAME.tmp and renamed into
 * place once complete, so a reader never sees half a segment.
 *
 * Plain functions and small state structs; each muxer or reader owns its own. */
#ifndef STREAMD_MEDIA_TS_MUX_H
#define STREAMD_MEDIA_TS_MUX_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

#include <libavcodec/packet.h>
#include <libavformat/avformat.h>

/* Fixed PIDs per track, whatever the stream set and in every variant: a player reading segments
 * as one transport stream (ffmpeg's HLS demuxer does) must not see audio move to the PID video
 * had, and a player switching renditions sees the same layout. */
#define TS_MUX_PID_VIDEO 0x100
#define TS_MUX_PID_AUDIO 0x101

#define TS_MUX_PATH_MAX 4096 /* bytes of a segment file's path, with the NUL */

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

/* What the writer's calls return besides 0. */
typedef enum ts_mux_status {
    TS_MUX_OK = 0,
    TS_MUX_ERR_IO = -1,  /* a file could not be created, written, closed or renamed */
    TS_MUX_ERR_MUX = -2, /* libavformat refused the streams or an option */
} ts_mux_status_t;

/* The segment files of one rendition; zero-initialised: no run, no file. Owned by one thread. */
typedef struct ts_mux_writer {
    AVFormatContext *ctx; /* the run's muxer; NULL between runs */
    bool file_open;       /* a file is open at tmp_path on ctx */
    char tmp_path[TS_MUX_PATH_MAX];
    uint8_t *io_buffer;           /* the files' write buffer while none is open (file_io.h) */
    ts_mux_audio_run_t audio_run; /* the audio frames sharing the muxer's open PES packet */
} ts_mux_writer_t;

/* Starts a run: creates tmp_path and a muxer writing to it. The caller then adds the run's
 * streams to w->ctx (with ids TS_MUX_PID_*) and calls ts_mux_start. On failure nothing is left
 * open; the message is in err. */
int ts_mux_open_run(ts_mux_writer_t *w, const char *tmp_path, char *err, size_t err_size);

/* Writes the header of a run opened with ts_mux_open_run. With video, PCRs ride on the video PID
 * and audio frames are packed into PES packets (TS_MUX_DELAY_US); audio alone gets a PCR every
 * 80 ms and one frame per PES, within the 100 ms of ISO 13818-1. Timestamps are written as given
 * (mpegts_copyts): a muxer must not shift them by a delay that differs between runs. On failure
 * the run is aborted. */
int ts_mux_start(ts_mux_writer_t *w, bool with_video, char *err, size_t err_size);

/* Opens the run's next file at tmp_path; PAT and PMT open it so it plays on its own. On failure
 * no file is open and the run's muxer stays (the caller may end it with ts_mux_abort). */
int ts_mux_next_file(ts_mux_writer_t *w, const char *tmp_path, char *err, size_t err_size);

/* Writes a video packet (stream index and timestamps in the muxer's terms); av_write_frame's
 * result. A write error of the file shows in w->ctx->pb->error. */
int ts_mux_write(ts_mux_writer_t *w, AVPacket *pkt);

/* Writes an AAC frame lasting duration (muxer time base; <= 0 unknown), first flushing the
 * frames before it when it does not continue their clock (ts_mux_audio_continues). */
int ts_mux_write_audio(ts_mux_writer_t *w, AVPacket *pkt, int64_t duration);

/* Completes the open file: flushes what the muxer holds (with end_run: writes the trailer and
 * frees the muxer), closes the file and renames it to path, and sets *bytes to its size. A flush
 * or close failure aborts the run; a failed rename leaves the run as it was (without end_run). */
int ts_mux_commit(ts_mux_writer_t *w, const char *path, bool end_run, uint64_t *bytes, char *err,
                  size_t err_size);

/* Throws the open file away (closed and removed) and frees the run's muxer; no-op when neither. */
void ts_mux_abort(ts_mux_writer_t *w);

/* ts_mux_abort, and frees the write buffer. */
void ts_mux_writer_clear(ts_mux_writer_t *w);

#endif
