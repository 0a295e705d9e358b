/* libFuzzer harness for the recorder's crash recovery: the input is written as the source
 * playlist of a recording directory (as a crash may leave it: cut short, or not ours at all)
 * that holds three small segment files, and recorder_recover reads it back. It must never crash
 * or list a file that is not a plain NNNNN.ts inside the directory. */
/* The runner reads the sources from one line. */
/* clang-format off */
/* fuzz-sources: src/media/recorder.c src/media/recorder_recover.c src/media/mp4_remux.c src/media/hls.c src/media/codec.c src/media/ts_mux.c src/media/segment_reader.c src/media/file_io.c src/util/log.c src/util/fd_io.c src/util/errbuf.c src/util/fs.c */
/* clang-format on */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/recorder.h"
#include "media/recorder_recover.h"
#include "util/log.h"

static char root[64];

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size > 0 && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

static void remove_recording(void)
{
    char err[RECORDER_ERROR_MAX];
    recorder_delete(root, err, sizeof err);
}

/* Makes ROOT/source/{00000,00001,00002}.ts once (not media: recovery fails at the remux). */
static void make_recording(void)
{
    char path[128];
    snprintf(root, sizeof root, "/tmp/fuzz-recorder-%d", (int)getpid());
    snprintf(path, sizeof path, "%s/source", root);
    mkdir(root, 0755);
    mkdir(path, 0755);
    static const uint8_t junk[] = {0x47, 0x40, 0x00, 0x10, 0x00};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/source/%05d.ts", root, i);
        write_file(path, junk, sizeof junk);
    }
    log_set_level(LOG_ERROR);
    atexit(remove_recording);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (root[0] == '\0')
        make_recording();
    char path[128], err[RECORDER_ERROR_MAX];
    snprintf(path, sizeof path, "%s/source/index.m3u8", root);
    write_file(path, data, size);
    recorder_summary_t summary;
    (void)recorder_recover(root, &summary, err, sizeof err);
    return 0;
}
