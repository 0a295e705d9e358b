/* Unit tests for ingest/rtmp_chunk: every header format, the three csid forms, timestamp
 * arithmetic (deltas, format 3 repeats, extended timestamps, wrap-around), chunk size changes
 * mid-stream, messages over many chunks, byte-by-byte feeding, limits and protocol violations,
 * and the writer. Chunks are built by hand here, not with the writer under test. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/rtmp_chunk.h"

typedef struct bytes {
    uint8_t data[1 << 16];
    size_t len;
} bytes_t;

static void put(bytes_t *b, const void *data, size_t n)
{
    cr_assert_leq(b->len + n, sizeof b->data);
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void put_be(bytes_t *b, uint32_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t byte = (uint8_t)(v >> (8 * (n - 1 - i)));
        put(b, &byte, 1);
    }
}

static void basic(bytes_t *b, unsigned fmt, uint32_t csid)
{
    if (csid < 64) {
        put_be(b, fmt << 6 | csid, 1);
    } else if (csid < 320) {
        put_be(b, fmt << 6, 1);
        put_be(b, csid - 64, 1);
    } else {
        put_be(b, fmt << 6 | 1, 1);
        put_be(b, (csid - 64) & 0xFF, 1);
        put_be(b, (csid - 64) >> 8, 1);
    }
}

static void fmt0(bytes_t *b, uint32_t csid, uint32_t ts, uint32_t len, uint8_t type, uint32_t msid)
{
    basic(b, 0, csid);
    put_be(b, ts >= 0xFFFFFF ? 0xFFFFFF : ts, 3);
    put_be(b, len, 3);
    put_be(b, type, 1);
    for (int i = 0; i < 4; i++)
        put_be(b, (msid >> (8 * i)) & 0xFF, 1);
    if (ts >= 0xFFFFFF)
        put_be(b, ts, 4);
}

static void fmt1(bytes_t *b, uint32_t csid, uint32_t delta, uint32_t len, uint8_t type)
{
    basic(b, 1, csid);
    put_be(b, delta >= 0xFFFFFF ? 0xFFFFFF : delta, 3);
    put_be(b, len, 3);
    put_be(b, type, 1);
    if (delta >= 0xFFFFFF)
        put_be(b, delta, 4);
}

static void fmt2(bytes_t *b, uint32_t csid, uint32_t delta)
{
    basic(b, 2, csid);
    put_be(b, delta >= 0xFFFFFF ? 0xFFFFFF : delta, 3);
    if (delta >= 0xFFFFFF)
        put_be(b, delta, 4);
}

static void payload(bytes_t *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        put_be(b, (uint8_t)(seed + i * 7), 1);
}

static bool payload_ok(const rtmp_message_t *m, size_t n, uint8_t seed)
{
    if (m->length != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (m->payload[i] != (uint8_t)(seed + i * 7))
            return false;
    }
    return true;
}

typedef struct got {
    rtmp_message_t msg;
    uint8_t *copy;
} got_t;

typedef struct run {
    got_t msgs[64];
    size_t count;
    int error;
    size_t consumed;
} run_t;

static rtmp_chunk_limits_t default_limits(void)
{
    rtmp_chunk_limits_t l;
    rtmp_chunk_limits_default(&l);
    return l;
}

/* Feeds buf in pieces of step bytes (0 = all at once), keeping what the reader leaves over. */
static void feed(rtmp_chunk_reader_t *r, const uint8_t *buf, size_t len, size_t step, run_t *out)
{
    memset(out, 0, sizeof *out);
    static uint8_t pending[1 << 18];
    size_t pending_len = 0, offset = 0;
    while (offset < len || pending_len > 0) {
        size_t n = step == 0 ? len - offset : (len - offset < step ? len - offset : step);
        cr_assert_leq(pending_len + n, sizeof pending);
        memcpy(pending + pending_len, buf + offset, n);
        pending_len += n;
        offset += n;
        for (;;) {
            size_t used = 0;
            rtmp_message_t msg;
            int rc = rtmp_chunk_read(r, pending, pending_len, &used, &msg);
            cr_assert_leq(used, pending_len);
            memmove(pending, pending + used, pending_len - used);
            pending_len -= used;
            out->consumed += used;
            if (rc < 0) {
                out->error = rc;
                return;
            }
            if (rc == 0)
                break;
            cr_assert_lt(out->count, 64);
            got_t *g = &out->msgs[out->count++];
            g->msg = msg;
            g->copy = malloc(msg.length + 1);
            if (msg.length)
                memcpy(g->copy, msg.payload, msg.length);
            g->msg.payload = g->copy;
        }
        if (n == 0)
            break;
    }
}

static void run_free(run_t *run)
{
    for (size_t i = 0; i < run->count; i++)
        free(run->msgs[i].copy);
}

static run_t run;
static bytes_t in;

static rtmp_chunk_reader_t *new_reader(void)
{
    rtmp_chunk_limits_t l = default_limits();
    rtmp_chunk_reader_t *r = rtmp_chunk_reader_new(&l);
    cr_assert_not_null(r);
    memset(&in, 0, sizeof in);
    return r;
}

Test(rtmp_chunk, format0_single_chunk)
{
    rtmp_chunk_reader_t *r = new_reader();
    fmt0(&in, 3, 1000, 20, RTMP_MSG_COMMAND_AMF0, 0x01020304);
    payload(&in, 20, 1);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.error, 0);
    cr_assert_eq(run.count, 1);
    const rtmp_message_t *m = &run.msgs[0].msg;
    cr_assert_eq(m->csid, 3);
    cr_assert_eq(m->timestamp, 1000);
    cr_assert_eq(m->type_id, RTMP_MSG_COMMAND_AMF0);
    cr_assert_eq(m->stream_id, 0x01020304, "message stream id is little endian");
    cr_assert(payload_ok(m, 20, 1));
    cr_assert_eq(run.consumed, in.len);
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, message_spanning_many_chunks)
{
    rtmp_chunk_reader_t *r = new_reader();
    const size_t len = 128 * 40 + 17;
    fmt0(&in, 6, 5, (uint32_t)len, RTMP_MSG_VIDEO, 1);
    for (size_t sent = 0; sent < len; sent += 128) {
        if (sent)
            basic(&in, 3, 6);
        size_t n = len - sent < 128 ? len - sent : 128;
        for (size_t i = 0; i < n; i++)
            put_be(&in, (uint8_t)(2 + (sent + i) * 7), 1);
    }
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.count, 1);
    cr_assert(payload_ok(&run.msgs[0].msg, len, 2));
    run_free(&run);
    /* The same bytes, one at a time. */
    rtmp_chunk_reader_free(r);
    rtmp_chunk_limits_t l = default_limits();
    r = rtmp_chunk_reader_new(&l);
    feed(r, in.data, in.len, 1, &run);
    cr_assert_eq(run.count, 1);
    cr_assert(payload_ok(&run.msgs[0].msg, len, 2));
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, csid_forms)
{
    const uint32_t ids[] = {2, 3, 63, 64, 65, 319, 320, 321, 1000, 65599};
    rtmp_chunk_reader_t *r = new_reader();
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        fmt0(&in, ids[i], (uint32_t)i, 3, RTMP_MSG_AUDIO, 1);
        payload(&in, 3, (uint8_t)i);
    }
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.error, 0);
    cr_assert_eq(run.count, sizeof ids / sizeof *ids);
    for (size_t i = 0; i < run.count; i++) {
        cr_assert_eq(run.msgs[i].msg.csid, ids[i]);
        cr_assert(payload_ok(&run.msgs[i].msg, 3, (uint8_t)i));
    }
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, header_formats_and_deltas)
{
    rtmp_chunk_reader_t *r = new_reader();
    fmt0(&in, 4, 1000, 10, RTMP_MSG_AUDIO, 1); /* t = 1000 */
    payload(&in, 10, 0);
    fmt1(&in, 4, 20, 12, RTMP_MSG_VIDEO); /* t = 1020, new length and type */
    payload(&in, 12, 1);
    fmt2(&in, 4, 33); /* t = 1053, same length and type */
    payload(&in, 12, 2);
    basic(&in, 3, 4); /* t = 1086: repeats the delta 33 */
    payload(&in, 12, 3);
    basic(&in, 3, 4); /* t = 1119 */
    payload(&in, 12, 4);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.error, 0);
    cr_assert_eq(run.count, 5);
    const uint32_t times[] = {1000, 1020, 1053, 1086, 1119};
    const uint8_t types[] = {RTMP_MSG_AUDIO, RTMP_MSG_VIDEO, RTMP_MSG_VIDEO, RTMP_MSG_VIDEO,
                             RTMP_MSG_VIDEO};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(run.msgs[i].msg.timestamp, times[i], "message %zu", i);
        cr_assert_eq(run.msgs[i].msg.type_id, types[i]);
        cr_assert_eq(run.msgs[i].msg.stream_id, 1);
        cr_assert(payload_ok(&run.msgs[i].msg, i == 0 ? 10 : 12, (uint8_t)i));
    }
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, format3_after_format0_repeats_the_absolute_time)
{
    /* As ffmpeg reads and writes it: the field of a format 0 header acts as the delta. */
    rtmp_chunk_reader_t *r = new_reader();
    fmt0(&in, 4, 40, 2, RTMP_MSG_AUDIO, 1);
    payload(&in, 2, 0);
    basic(&in, 3, 4);
    payload(&in, 2, 1);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.count, 2);
    cr_assert_eq(run.msgs[1].msg.timestamp, 80);
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, extended_timestamps)
{
    rtmp_chunk_reader_t *r = new_reader();
    const uint32_t t0 = 0x01000000;
    fmt0(&in, 5, t0, 200, RTMP_MSG_VIDEO, 1); /* extended, spans 2 chunks */
    payload(&in, 128, 0);
    basic(&in, 3, 5);
    put_be(&in, t0, 4); /* continuation repeats the extended field */
    for (size_t i = 128; i < 200; i++)
        put_be(&in, (uint8_t)(i * 7), 1);
    fmt1(&in, 5, 0x01000001, 4, RTMP_MSG_AUDIO); /* extended delta */
    payload(&in, 4, 1);
    basic(&in, 3, 5); /* new message: repeats the extended delta, read from the 4 bytes */
    put_be(&in, 0x01000001, 4);
    payload(&in, 4, 2);
    fmt2(&in, 5, 10); /* back to a short delta */
    payload(&in, 4, 3);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.error, 0);
    cr_assert_eq(run.count, 4);
    cr_assert_eq(run.msgs[0].msg.timestamp, t0);
    cr_assert(payload_ok(&run.msgs[0].msg, 200, 0));
    cr_assert_eq(run.msgs[1].msg.timestamp, t0 + 0x01000001);
    cr_assert_eq(run.msgs[2].msg.timestamp, t0 + 2 * 0x01000001u);
    cr_assert(payload_ok(&run.msgs[2].msg, 4, 2));
    cr_assert_eq(run.msgs[3].msg.timestamp, t0 + 2 * 0x01000001u + 10);
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, continuation_without_extended_field_is_tolerated)
{
    /* Some encoders leave the extended field out of format 3 continuation chunks. */
    rtmp_chunk_reader_t *r = new_reader();
    const uint32_t t0 = 0x02000000;
    fmt0(&in, 5, t0, 300, RTMP_MSG_VIDEO, 1);
    payload(&in, 128, 0);
    basic(&in, 3, 5);
    for (size_t i = 128; i < 256; i++)
        put_be(&in, (uint8_t)(i * 7), 1);
    basic(&in, 3, 5);
    for (size_t i = 256; i < 300; i++)
        put_be(&in, (uint8_t)(i * 7), 1);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.error, 0);
    cr_assert_eq(run.count, 1);
    cr_assert_eq(run.msgs[0].msg.timestamp, t0);
    cr_assert(payload_ok(&run.msgs[0].msg, 300, 0));
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, timestamp_wraps_modulo_2_32)
{
    rtmp_chunk_reader_t *r = new_reader();
    fmt0(&in, 4, 0xFFFFFFF0u, 1, RTMP_MSG_AUDIO, 1);
    payload(&in, 1, 0);
    fmt2(&in, 4, 0x20);
    payload(&in, 1, 0);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.count, 2);
    cr_assert_eq(run.msgs[0].msg.timestamp, 0xFFFFFFF0u);
    cr_assert_eq(run.msgs[1].msg.timestamp, 0x10);
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, chunk_size_change_mid_stream)
{
    rtmp_chunk_reader_t *r = new_reader();
    /* Set Chunk Size 4096 on csid 2, then a 5000-byte message in 4096-byte chunks. */
    fmt0(&in, 2, 0, 4, RTMP_MSG_SET_CHUNK_SIZE, 0);
    put_be(&in, 4096, 4);
    fmt0(&in, 6, 0, 5000, RTMP_MSG_VIDEO, 1);
    payload(&in, 4096, 9);
    basic(&in, 3, 6);
    for (size_t i = 4096; i < 5000; i++)
        put_be(&in, (uint8_t)(9 + i * 7), 1);
    size_t used = 0;
    rtmp_message_t msg;
    cr_assert_eq(rtmp_chunk_read(r, in.data, in.len, &used, &msg), 1);
    cr_assert_eq(msg.type_id, RTMP_MSG_SET_CHUNK_SIZE);
    cr_assert_eq(used, 16);
    cr_assert_eq(rtmp_chunk_reader_set_chunk_size(r, 4096), 0);
    cr_assert_eq(rtmp_chunk_reader_chunk_size(r), 4096);
    size_t used2 = 0;
    cr_assert_eq(rtmp_chunk_read(r, in.data + used, in.len - used, &used2, &msg), 1);
    cr_assert(payload_ok(&msg, 5000, 9));
    cr_assert_eq(used + used2, in.len);
    /* And back down to 1 byte chunks. */
    cr_assert_eq(rtmp_chunk_reader_set_chunk_size(r, 1), 0);
    memset(&in, 0, sizeof in);
    fmt0(&in, 6, 0, 3, RTMP_MSG_VIDEO, 1);
    payload(&in, 1, 4);
    basic(&in, 3, 6);
    put_be(&in, (uint8_t)(4 + 7), 1);
    basic(&in, 3, 6);
    put_be(&in, (uint8_t)(4 + 14), 1);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.count, 1);
    cr_assert(payload_ok(&run.msgs[0].msg, 3, 4));
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, interleaved_chunk_streams)
{
    rtmp_chunk_reader_t *r = new_reader();
    fmt0(&in, 6, 0, 200, RTMP_MSG_VIDEO, 1);
    payload(&in, 128, 1);
    fmt0(&in, 4, 5, 10, RTMP_MSG_AUDIO, 1); /* audio in between the video chunks */
    payload(&in, 10, 2);
    basic(&in, 3, 6);
    for (size_t i = 128; i < 200; i++)
        put_be(&in, (uint8_t)(1 + i * 7), 1);
    feed(r, in.data, in.len, 3, &run);
    cr_assert_eq(run.error, 0);
    cr_assert_eq(run.count, 2);
    cr_assert_eq(run.msgs[0].msg.csid, 4);
    cr_assert(payload_ok(&run.msgs[0].msg, 10, 2));
    cr_assert_eq(run.msgs[1].msg.csid, 6);
    cr_assert(payload_ok(&run.msgs[1].msg, 200, 1));
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, bytes_missing_counts_the_nearest_unfinished_message)
{
    rtmp_chunk_reader_t *r = new_reader();
    cr_assert_eq(rtmp_chunk_reader_bytes_missing(r), 0);
    fmt0(&in, 6, 0, 300, RTMP_MSG_VIDEO, 1);
    payload(&in, 128, 1);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.count, 0);
    cr_assert_eq(rtmp_chunk_reader_bytes_missing(r), 300 - 128);
    memset(&in, 0, sizeof in);
    fmt0(&in, 4, 5, 150, RTMP_MSG_AUDIO, 1); /* a second unfinished message, nearer its end */
    payload(&in, 128, 2);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(rtmp_chunk_reader_bytes_missing(r), 150 - 128);
    memset(&in, 0, sizeof in);
    basic(&in, 3, 4);
    payload(&in, 22, 3);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.count, 1);
    cr_assert_eq(rtmp_chunk_reader_bytes_missing(r), 300 - 128, "the audio completed");
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, zero_length_message_and_partial_header)
{
    rtmp_chunk_reader_t *r = new_reader();
    fmt0(&in, 3, 0, 0, RTMP_MSG_COMMAND_AMF0, 0);
    size_t used;
    rtmp_message_t msg;
    for (size_t cut = 0; cut < in.len; cut++) {
        cr_assert_eq(rtmp_chunk_read(r, in.data, cut, &used, &msg), 0);
        cr_assert_eq(used, 0, "a partial header is never consumed");
    }
    cr_assert_eq(rtmp_chunk_read(r, in.data, in.len, &used, &msg), 1);
    cr_assert_eq(msg.length, 0);
    cr_assert_eq(used, in.len);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, abort_drops_the_partial_message)
{
    rtmp_chunk_reader_t *r = new_reader();
    fmt0(&in, 6, 0, 300, RTMP_MSG_VIDEO, 1);
    payload(&in, 128, 0);
    fmt0(&in, 2, 0, 4, RTMP_MSG_ABORT, 0);
    put_be(&in, 6, 4);
    size_t used;
    rtmp_message_t msg;
    cr_assert_eq(rtmp_chunk_read(r, in.data, in.len, &used, &msg), 1);
    cr_assert_eq(msg.type_id, RTMP_MSG_ABORT);
    cr_assert_eq(used, in.len);
    rtmp_chunk_reader_abort(r, 6);
    rtmp_chunk_reader_abort(r, 99); /* unknown: ignored */
    memset(&in, 0, sizeof in);
    fmt0(&in, 6, 0, 5, RTMP_MSG_VIDEO, 1); /* a new header is fine after the abort */
    payload(&in, 5, 3);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.error, 0);
    cr_assert_eq(run.count, 1);
    cr_assert(payload_ok(&run.msgs[0].msg, 5, 3));
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, protocol_violations)
{
    const unsigned formats[] = {1, 2, 3};
    for (size_t i = 0; i < 3; i++) {
        rtmp_chunk_reader_t *r = new_reader();
        if (formats[i] == 1)
            fmt1(&in, 3, 0, 1, 20);
        else if (formats[i] == 2)
            fmt2(&in, 3, 0);
        else
            basic(&in, 3, 3);
        put_be(&in, 0, 1);
        feed(r, in.data, in.len, 0, &run);
        cr_assert_eq(run.error, RTMP_CHUNK_ERR_NO_HEADER, "fmt %u", formats[i]);
        rtmp_chunk_reader_free(r);
    }
    rtmp_chunk_reader_t *r = new_reader();
    fmt0(&in, 3, 0, 300, 20, 0);
    payload(&in, 128, 0);
    fmt1(&in, 3, 0, 10, 20);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.error, RTMP_CHUNK_ERR_MID_MESSAGE);
    rtmp_chunk_reader_free(r);
}

/* Slots for chunk streams are added as ids appear: messages left unfinished on earlier streams
 * survive the slots moving, and the limit still counts every id. */
Test(rtmp_chunk, many_streams_with_unfinished_messages)
{
    rtmp_chunk_reader_t *r = new_reader();
    const uint32_t first = 3, count = 61; /* csids 3..63 */
    for (uint32_t i = 0; i < count; i++) {
        fmt0(&in, first + i, 1000 + i, 200, RTMP_MSG_VIDEO, 1);
        payload(&in, 128, (uint8_t)i);
    }
    for (uint32_t i = count; i-- > 0;) {
        basic(&in, 3, first + i);
        for (size_t k = 128; k < 200; k++)
            put_be(&in, (uint8_t)((uint8_t)i + k * 7), 1);
    }
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.error, 0);
    cr_assert_eq(run.count, count);
    for (uint32_t k = 0; k < count; k++) {
        uint32_t i = count - 1 - k;
        cr_assert_eq(run.msgs[k].msg.csid, first + i);
        cr_assert_eq(run.msgs[k].msg.timestamp, 1000 + i);
        cr_assert(payload_ok(&run.msgs[k].msg, 200, (uint8_t)i), "csid %u", first + i);
    }
    run_free(&run);

    /* Ids 64..66 make 64 in all (the default limit); csid 2 is one too many. */
    memset(&in, 0, sizeof in);
    for (uint32_t csid = 64; csid < 67; csid++) {
        fmt0(&in, csid, 0, 1, RTMP_MSG_AUDIO, 1);
        payload(&in, 1, 0);
    }
    fmt0(&in, 2, 0, 1, RTMP_MSG_AUDIO, 1);
    payload(&in, 1, 0);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.count, 3);
    cr_assert_eq(run.error, RTMP_CHUNK_ERR_TOO_MANY_STREAMS);
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, limits)
{
    rtmp_chunk_limits_t l = default_limits();
    l.max_message_size = 1000;
    l.max_chunk_streams = 4;
    l.max_buffered_bytes = 3000;
    l.max_chunk_size = 65536;
    rtmp_chunk_reader_t *r = rtmp_chunk_reader_new(&l);
    memset(&in, 0, sizeof in);
    fmt0(&in, 3, 0, 1001, 9, 1);
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.error, RTMP_CHUNK_ERR_MESSAGE_SIZE);
    rtmp_chunk_reader_free(r);

    r = rtmp_chunk_reader_new(&l);
    memset(&in, 0, sizeof in);
    for (uint32_t csid = 3; csid < 8; csid++) {
        fmt0(&in, csid, 0, 1, 9, 1);
        payload(&in, 1, 0);
    }
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.count, 4);
    cr_assert_eq(run.error, RTMP_CHUNK_ERR_TOO_MANY_STREAMS);
    run_free(&run);
    rtmp_chunk_reader_free(r);

    /* Unfinished messages on several streams: held bytes are capped. */
    r = rtmp_chunk_reader_new(&l);
    cr_assert_eq(rtmp_chunk_reader_set_chunk_size(r, 900), 0);
    memset(&in, 0, sizeof in);
    for (uint32_t csid = 3; csid < 7; csid++) {
        fmt0(&in, csid, 0, 1000, 9, 1);
        payload(&in, 900, 0);
    }
    feed(r, in.data, in.len, 0, &run);
    cr_assert_eq(run.error, RTMP_CHUNK_ERR_BUFFERED);
    rtmp_chunk_reader_free(r);

    r = rtmp_chunk_reader_new(&l);
    cr_assert_eq(rtmp_chunk_reader_set_chunk_size(r, 0), RTMP_CHUNK_ERR_CHUNK_SIZE);
    cr_assert_eq(rtmp_chunk_reader_set_chunk_size(r, 65537), RTMP_CHUNK_ERR_CHUNK_SIZE);
    cr_assert_eq(rtmp_chunk_reader_set_chunk_size(r, 0x80000000u), RTMP_CHUNK_ERR_CHUNK_SIZE);
    cr_assert_eq(rtmp_chunk_reader_set_chunk_size(r, 65536), 0);
    cr_assert_eq(rtmp_chunk_reader_chunk_size(r), 65536);
    rtmp_chunk_reader_free(r);
    rtmp_chunk_reader_free(NULL);
}

Test(rtmp_chunk, huge_declared_length_allocates_nothing_up_front)
{
    rtmp_chunk_limits_t l = default_limits();
    l.max_buffered_bytes = 8192;
    rtmp_chunk_reader_t *r = rtmp_chunk_reader_new(&l);
    memset(&in, 0, sizeof in);
    /* 64 chunk streams each declaring an 8 MiB message but sending 10 bytes: fine. */
    for (uint32_t csid = 3; csid < 3 + 64; csid++) {
        fmt0(&in, csid, 0, 8 * 1024 * 1024, 9, 1);
        payload(&in, 10, 0);
    }
    size_t used;
    rtmp_message_t msg;
    size_t pos = 0;
    int rc;
    while ((rc = rtmp_chunk_read(r, in.data + pos, in.len - pos, &used, &msg)) == 0 && used > 0)
        pos += used;
    cr_assert_eq(rc, RTMP_CHUNK_ERR_BUFFERED, "64 x 4 KiB first buffers exceed 8 KiB");
    rtmp_chunk_reader_free(r);
}

static void write_and_read(uint32_t chunk_size, uint32_t csid, uint32_t timestamp, size_t len)
{
    static uint8_t body[70000], out[140000];
    for (size_t i = 0; i < len; i++)
        body[i] = (uint8_t)(i * 13 + 1);
    rtmp_message_t msg = {.csid = csid,
                          .type_id = RTMP_MSG_VIDEO,
                          .stream_id = 7,
                          .timestamp = timestamp,
                          .payload = body,
                          .length = len};
    int n = rtmp_chunk_write(chunk_size, &msg, out, sizeof out);
    cr_assert_gt(n, 0);
    cr_assert_eq((size_t)n, rtmp_chunk_encoded_size(chunk_size, csid, timestamp, len));
    rtmp_chunk_limits_t l = default_limits();
    rtmp_chunk_reader_t *r = rtmp_chunk_reader_new(&l);
    cr_assert_eq(rtmp_chunk_reader_set_chunk_size(r, chunk_size), 0);
    feed(r, out, (size_t)n, 0, &run);
    cr_assert_eq(run.error, 0);
    cr_assert_eq(run.count, 1);
    const rtmp_message_t *m = &run.msgs[0].msg;
    cr_assert_eq(m->csid, csid);
    cr_assert_eq(m->timestamp, timestamp);
    cr_assert_eq(m->stream_id, 7);
    cr_assert_eq(m->length, len);
    cr_assert_eq(memcmp(m->payload, body, len), 0);
    run_free(&run);
    rtmp_chunk_reader_free(r);
}

Test(rtmp_chunk, writer_round_trips)
{
    write_and_read(128, 3, 0, 0);
    write_and_read(128, 3, 1000, 1);
    write_and_read(128, 3, 1000, 128);
    write_and_read(128, 3, 1000, 129);
    write_and_read(1, 64, 5, 300);
    write_and_read(4096, 319, 0xFFFFFE, 10000);
    write_and_read(4096, 320, 0xFFFFFF, 10000);
    write_and_read(100, 65599, 0xFFFFFFFF, 5000);
    write_and_read(65536, 6, 12345, 65536 + 10);
}

Test(rtmp_chunk, writer_rejects_bad_arguments)
{
    uint8_t out[64], body[100] = {0};
    rtmp_message_t msg = {.csid = 3, .type_id = 20, .payload = body, .length = 100};
    cr_assert_eq(rtmp_chunk_write(128, &msg, out, sizeof out), RTMP_CHUNK_ERR_NOSPACE);
    msg.csid = 1;
    cr_assert_eq(rtmp_chunk_write(128, &msg, out, sizeof out), RTMP_CHUNK_ERR_INVALID);
    msg.csid = 65600;
    cr_assert_eq(rtmp_chunk_write(128, &msg, out, sizeof out), RTMP_CHUNK_ERR_INVALID);
    msg.csid = 3;
    cr_assert_eq(rtmp_chunk_write(0, &msg, out, sizeof out), RTMP_CHUNK_ERR_INVALID);
    msg.length = 0x1000000;
    cr_assert_eq(rtmp_chunk_write(128, &msg, out, sizeof out), RTMP_CHUNK_ERR_INVALID);
    cr_assert_str_eq(rtmp_chunk_strerror(RTMP_CHUNK_ERR_MESSAGE_SIZE),
                     "message over the size limit");
}
