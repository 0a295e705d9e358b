/* Reads a segment file back from disk: an MPEG-TS file streamd wrote (a source or rendition
 * segment), or what a crash or a full disk left of one, or a file that is not ours at all. The
 * transcoder reads source segments with it, the recorder probes and remuxes recorded ones, and
 * crash recovery measures the unlisted ones.
 *
 * It yields the packets of the file's first video and first audio stream, in file order, with
 * every AAC frame timed: the segmenter packs several frames into one PES packet and the demuxer
 * times only the first of them (ts_mux.h). A cut file ends early or with an error, never with a
 * crash; limits come from libavformat's own checks.
 *
 * A reader is owned by one thread; any number may be open at once. */
#ifndef STREAMD_MEDIA_SEGMENT_READER_H
#define STREAMD_MEDIA_SEGMENT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

#include "media/ts_mux.h"

/* An open segment file. The caller reads in->streams[video or audio] (codec parameters, time
 * base) and nothing else of in. */
typedef struct segment_reader {
    AVFormatContext *in;
    int video; /* index of the first video stream; -1 = none */
    int audio; /* index of the first audio stream; -1 = none */
    ts_mux_audio_reader_t audio_timing;
    char path[4096]; /* for messages */
} segment_reader_t;

/* Opens the MPEG-TS file at path (a ':' in it is never read as a protocol). Returns 0, or -1 with
 * a message naming path in err when it cannot be opened or does not start like MPEG-TS; nothing
 * is left to close then. */
int segment_reader_open(segment_reader_t *r, const char *path, char *err, size_t err_size);

/* Decodes the start of the streams to fill their codec parameters (picture size, frame rate,
 * extradata, the AAC profile), which the demuxer alone leaves empty. Returns 0, or -1 with err. */
int segment_reader_probe(segment_reader_t *r, char *err, size_t err_size);

/* Reads the next packet of the video or audio stream into pkt (which the caller unrefs), in its
 * stream's time base. An AAC stream without a sample rate (not probed) takes the one of its ADTS
 * header. Returns 1 with a packet, 0 at the end of the file, or -1 with err when the file cannot
 * be read on. */
int segment_reader_read(segment_reader_t *r, AVPacket *pkt, char *err, size_t err_size);

/* Closes the file; a zeroed or already closed reader is a no-op. */
void segment_reader_close(segment_reader_t *r);

#endif
