/* libFuzzer harness for ingest/rtmp_chunk: the first byte picks how the input is split into
 * reads; the rest is a chunk stream. Set Chunk Size and Abort are applied as a connection
 * would. Checks the reader's promises: consumed <= offered, messages within limits, no progress
 * lost, and errors are final. */
/* fuzz-sources: src/ingest/rtmp_chunk.c src/util/log.c */
#include "ingest/rtmp_chunk.h"

#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void apply_control(rtmp_chunk_reader_t *r, const rtmp_message_t *m)
{
    if (m->length < 4)
        return;
    if (m->type_id == RTMP_MSG_SET_CHUNK_SIZE)
        (void)rtmp_chunk_reader_set_chunk_size(r, be32(m->payload));
    else if (m->type_id == RTMP_MSG_ABORT)
        rtmp_chunk_reader_abort(r, be32(m->payload));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] % 32) + 1;
    data++;
    size--;
    rtmp_chunk_limits_t limits = {.max_chunk_size = 65536,
                                  .max_message_size = 64 * 1024,
                                  .max_chunk_streams = 8,
                                  .max_buffered_bytes = 256 * 1024};
    rtmp_chunk_reader_t *r = rtmp_chunk_reader_new(&limits);
    if (!r)
        return 0;
    uint8_t *window = malloc(size + 1);
    if (!window) {
        rtmp_chunk_reader_free(r);
        return 0;
    }
    size_t pending = 0, offset = 0;
    while (offset < size) {
        size_t n = size - offset < step ? size - offset : step;
        memcpy(window + pending, data + offset, n);
        pending += n;
        offset += n;
        int rc;
        do {
            size_t used = (size_t)-1;
            rtmp_message_t m;
            rc = rtmp_chunk_read(r, window, pending, &used, &m);
            if (used > pending)
                abort();
            memmove(window, window + used, pending - used);
            pending -= used;
            if (rc == 1) {
                if (m.length > limits.max_message_size || (m.length && !m.payload))
                    abort();
                volatile uint8_t sink = 0;
                for (size_t i = 0; i < m.length; i++)
                    sink ^= m.payload[i]; /* the payload must be readable */
                (void)sink;
                apply_control(r, &m);
            }
            /* A partial chunk header is all that may stay behind. */
            if (rc == 0 && pending > RTMP_CHUNK_MAX_HEADER_SIZE)
                abort();
        } while (rc == 1);
        if (rc < 0)
            break;
    }
    free(window);
    rtmp_chunk_reader_free(r);
    return 0;
}
