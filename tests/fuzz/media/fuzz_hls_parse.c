/* libFuzzer harness for the media playlist parser (hls_playlist_parse): the input is a playlist as
 * a crash or anyone may leave it. It must never crash, hand over a segment that breaks the rules
 * of hls.h, or read past the input; what it hands over, rendered again, parses to the same
 * segments. */
/* The runner reads the sources from one line. */
/* clang-format off */
/* fuzz-sources: src/media/hls.c src/media/codec.c src/util/errbuf.c src/util/fs.c src/util/fd_io.c */
/* clang-format on */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/hls.h"

#define KEEP_MAX 4096 /* segments rendered again; more only get checked */

typedef struct collected {
    hls_playlist_t *playlist; /* NULL once a segment could not be appended */
    size_t count;
} collected_t;

static int check(void *opaque, const hls_segment_t *segment)
{
    collected_t *c = opaque;
    size_t len = strnlen(segment->uri, HLS_URI_MAX);
    if (len == 0 || len >= HLS_URI_MAX || segment->uri[0] == '#' || strchr(segment->uri, '\n'))
        abort();
    if (!(segment->duration_s >= 0 && segment->duration_s <= HLS_DURATION_MAX_S))
        abort();
    if (c->playlist &&
        (c->count >= KEEP_MAX || hls_playlist_append(c->playlist, segment, NULL) < 0)) {
        hls_playlist_free(c->playlist);
        c->playlist = NULL;
    }
    c->count++;
    return 0;
}

static int count_only(void *opaque, const hls_segment_t *segment)
{
    (void)segment;
    (*(size_t *)opaque)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes: ASan catches a read past the end. */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    collected_t c = {.playlist = hls_playlist_new(0, 1)};
    hls_playlist_header_t header;
    if (hls_playlist_parse(text, size, check, &c, &header) != 0)
        abort();
    if (c.playlist) {
        char *again = hls_playlist_render(c.playlist);
        size_t reparsed = 0;
        if (again && hls_playlist_parse(again, strlen(again), count_only, &reparsed, NULL) != 0)
            abort();
        if (again && reparsed != c.count)
            abort();
        free(again);
        hls_playlist_free(c.playlist);
    }
    free(text);
    return 0;
}
