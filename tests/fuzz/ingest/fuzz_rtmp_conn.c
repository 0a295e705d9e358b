/* libFuzzer harness for ingest/rtmp_conn: the whole post-handshake protocol state machine. The
 * input is prefixed with a valid connect/createStream/publish so the fuzzer starts deep. The
 * first byte picks read sizes and, with its top bit, a structured mode where the rest is a list
 * of messages (type, stream, length, body) that the harness chunks properly, so commands and
 * media are reached without the fuzzer having to discover chunk headers. Handlers accept
 * everything (keys starting with 'x' are refused) and check what they are given; a publish
 * ends at most once. */
/* The runner reads the sources from one line. */
/* clang-format off */
/* fuzz-sources: src/ingest/rtmp_conn.c src/ingest/rtmp_chunk.c src/ingest/rtmp_cmd.c src/ingest/amf0.c src/ingest/flv.c src/util/log.c */
/* clang-format on */
#include "ingest/rtmp_conn.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

typedef struct state {
    int publishes;
    int unpublishes;
} state_t;

static int on_publish(void *opaque, const char *app, const char *key, const char *peer, void **ctx,
                      char *reason, size_t reason_size)
{
    (void)reason;
    (void)reason_size;
    (void)peer;
    state_t *s = opaque;
    if (!app[0] || !key[0] || strchr(key, '?'))
        abort();
    s->publishes++;
    *ctx = s;
    return key[0] == 'x' ? -1 : 0; /* refusals are part of the game */
}

static int on_media(void *ctx, const flv_media_t *m)
{
    (void)ctx;
    if (m->is_end_of_sequence ||
        (m->size && (m->data < m->message || m->data + m->size > m->message + m->message_size)))
        abort();
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < m->size; i++)
        sink ^= m->data[i];
    (void)sink;
    return 0;
}

static void on_metadata(void *ctx, const amf0_value_t *metadata)
{
    (void)ctx;
    if (metadata->type != AMF0_OBJECT && metadata->type != AMF0_ECMA_ARRAY)
        abort();
}

static void on_unpublish(void *ctx, const char *reason)
{
    state_t *s = ctx;
    if (!reason)
        abort();
    s->unpublishes++;
}

static int discard(void *opaque, const uint8_t *buf, size_t len)
{
    (void)opaque;
    (void)buf;
    (void)len;
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

/* Appends one AMF0 command (name, transaction id, then object or null, then string args) as
 * chunks on csid 3 (stream 0) or 8 (stream 1). */
static size_t put_command(uint8_t *out, size_t cap, uint32_t stream, const char *name, double txn,
                          const char *app, const char *arg)
{
    uint8_t body[256];
    amf0_writer_t w;
    amf0_writer_init(&w, body, sizeof body);
    amf0_write_string(&w, name);
    amf0_write_number(&w, txn);
    if (app) {
        amf0_write_object_start(&w);
        amf0_write_prop_string(&w, "app", app);
        amf0_write_object_end(&w);
    } else {
        amf0_write_null(&w);
    }
    if (arg) {
        amf0_write_string(&w, arg);
        amf0_write_string(&w, "live");
    }
    int len = amf0_writer_finish(&w);
    rtmp_message_t msg = {.csid = stream ? 8 : 3,
                          .type_id = RTMP_MSG_COMMAND_AMF0,
                          .stream_id = stream,
                          .payload = body,
                          .length = (size_t)len};
    int n = len < 0 ? len : rtmp_chunk_write(RTMP_CHUNK_DEFAULT_SIZE, &msg, out, cap);
    if (n < 0)
        abort();
    return (size_t)n;
}

/* connect("live"), createStream, publish("KEY"): the fuzzer starts in the publishing state. */
static size_t build_prologue(uint8_t *out, size_t cap)
{
    size_t len = put_command(out, cap, 0, "connect", 1, "live", NULL);
    len += put_command(out + len, cap - len, 0, "createStream", 2, NULL, NULL);
    len += put_command(out + len, cap - len, 1, "publish", 3, NULL, "KEY");
    return len;
}

/* Structured mode: [type][stream][len lo][len hi][body...] repeated, chunked like a client
 * does (following its own Set Chunk Size). Returns the chunk stream in a new buffer. */
static uint8_t *chunk_messages(const uint8_t *data, size_t size, size_t *out_len)
{
    size_t cap = size * 2 + 4096, len = 0;
    uint8_t *out = malloc(cap);
    if (!out)
        abort();
    uint32_t chunk_size = RTMP_CHUNK_DEFAULT_SIZE, timestamp = 0;
    size_t pos = 0;
    while (pos + 4 <= size) {
        uint8_t type = data[pos];
        uint32_t stream = data[pos + 1] & 3;
        size_t body = (size_t)data[pos + 2] | (size_t)data[pos + 3] << 8;
        pos += 4;
        if (body > size - pos)
            body = size - pos;
        timestamp += data[pos - 3];
        rtmp_message_t msg = {.csid = 3 + (type & 7),
                              .type_id = type,
                              .stream_id = stream,
                              .timestamp = timestamp,
                              .payload = data + pos,
                              .length = body};
        size_t need = rtmp_chunk_encoded_size(chunk_size, msg.csid, timestamp, body);
        if (len + need > cap) {
            cap = (len + need) * 2;
            uint8_t *grown = realloc(out, cap);
            if (!grown)
                abort();
            out = grown;
        }
        int n = rtmp_chunk_write(chunk_size, &msg, out + len, cap - len);
        if (n < 0)
            abort();
        len += (size_t)n;
        if (type == RTMP_MSG_SET_CHUNK_SIZE && body >= 4) {
            uint32_t next = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 |
                            (uint32_t)data[pos + 2] << 8 | data[pos + 3];
            if (next >= 1 && next <= 65536)
                chunk_size = next;
        }
        pos += body;
    }
    *out_len = len;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] % 64) + 1;
    bool structured = data[0] & 0x80;
    data++;
    size--;
    uint8_t *chunked = NULL;
    if (structured) {
        chunked = chunk_messages(data, size, &size);
        data = chunked;
    }
    rtmp_limits_t limits;
    rtmp_limits_default(&limits);
    limits.chunk.max_chunk_size = 65536;
    limits.chunk.max_message_size = 64 * 1024;
    limits.chunk.max_buffered_bytes = 256 * 1024;
    limits.amf0.max_nodes = 256;
    state_t state = {0};
    rtmp_publish_handlers_t handlers = {.opaque = &state,
                                        .on_publish = on_publish,
                                        .on_metadata = on_metadata,
                                        .on_media = on_media,
                                        .on_unpublish = on_unpublish};
    rtmp_conn_t *c = rtmp_conn_new(&limits, &handlers, "fuzz", discard, NULL);
    if (!c)
        return 0;
    uint8_t prologue[512];
    size_t prologue_len = build_prologue(prologue, sizeof prologue);
    size_t total = prologue_len + size;
    uint8_t *input = malloc(total);
    uint8_t *window = malloc(total);
    if (!input || !window)
        abort();
    memcpy(input, prologue, prologue_len);
    memcpy(input + prologue_len, data, size);
    size_t pending = 0, offset = 0;
    int64_t now = 0;
    int rc = RTMP_CONN_CONTINUE;
    while (offset < total && rc == RTMP_CONN_CONTINUE) {
        size_t n = total - offset < step ? total - offset : step;
        memcpy(window + pending, input + offset, n);
        pending += n;
        offset += n;
        size_t used = 0;
        rc = rtmp_conn_feed(c, window, pending, &used, now);
        if (used > pending)
            abort();
        memmove(window, window + used, pending - used);
        pending -= used;
        now += 100;
        if (rc == RTMP_CONN_CONTINUE)
            rc = rtmp_conn_tick(c, now);
    }
    if (rc == RTMP_CONN_CLOSE && !rtmp_conn_close_reason(c))
        abort();
    rtmp_conn_end_publish(c, "fuzz end");
    rtmp_conn_free(c);
    if (state.publishes < 1 || state.unpublishes > state.publishes)
        abort(); /* the prologue always publishes */
    free(window);
    free(input);
    free(chunked);
    return 0;
}
