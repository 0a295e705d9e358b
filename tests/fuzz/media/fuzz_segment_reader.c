/* libFuzzer harness for the segment reader: the input is written as a segment file (as a crash
 * may leave one: cut short, or not ours at all), read to its end, then opened again, probed and
 * read again. It must never crash, hang or leak, and every packet it yields belongs to the video
 * or the audio stream it names. */
/* The runner reads the sources from one line. */
/* clang-format off */
/* fuzz-sources: src/media/segment_reader.c src/media/ts_mux.c src/media/file_io.c src/util/errbuf.c src/util/fs.c src/util/log.c src/util/fd_io.c */
/* clang-format on */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "media/segment_reader.h"

static char path[64];

static void remove_file(void)
{
    unlink(path);
}

static void read_through(bool probe)
{
    segment_reader_t r;
    char err[256];
    if (segment_reader_open(&r, path, err, sizeof err) < 0)
        return;
    if (probe)
        (void)segment_reader_probe(&r, err, sizeof err);
    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        abort();
    while (segment_reader_read(&r, pkt, err, sizeof err) > 0) {
        if (pkt->stream_index != r.video && pkt->stream_index != r.audio)
            abort();
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    segment_reader_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (path[0] == '\0') {
        snprintf(path, sizeof path, "/tmp/fuzz-segment-reader-%d.ts", (int)getpid());
        av_log_set_level(AV_LOG_QUIET);
        atexit(remove_file);
    }
    FILE *f = fopen(path, "wb");
    if (!f || (size > 0 && fwrite(data, 1, size, f) != size))
        abort();
    fclose(f);
    read_through(false);
    read_through(true);
    return 0;
}
