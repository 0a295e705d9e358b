/* RTMP chunk stream reader and writer.
 *
 * Invariants of the reader: a chunk header is parsed only when all of it is in the input, and
 * state changes only after it parsed whole, so "need more" never leaves half an update behind.
 * Payload bytes are copied as they arrive into the chunk stream's message buffer, which grows with
 * what was received (never with what a header declares), bounded per message by
 * max_message_size and over all streams by max_buffered_bytes.
 *
 * Timestamps follow the spec and ffmpeg: format 0 carries the absolute time, formats 1 and 2 a
 * delta, and a format 3 chunk that starts a new message repeats the previous header's field (a
 * delta, or the absolute time after format 0) as its delta. An extended timestamp is present
 * whenever the 24-bit field is 0xFFFFFF, also on format 3 chunks that follow such a header. */
#include "ingest/rtmp_chunk.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TIMESTAMP_EXTENDED 0xFFFFFF
/* A message up to this size gets its whole buffer at once, with no copies while it fills; a larger
 * one grows as its bytes arrive, so a header announcing a huge message costs little by itself. */
#define FIRST_BUFFER_MAX (64 * 1024)
/* Encoders use a handful of chunk streams (control, commands, audio, video), so slots are added as
 * ids appear rather than max_chunk_streams at once: with hundreds of publishers the difference is
 * kilobytes each. */
#define FIRST_STREAM_SLOTS 8

static const size_t message_header_size[4] = {11, 7, 3, 0};

typedef struct chunk_stream {
    uint32_t csid;
    uint32_t timestamp; /* ms, of the current or last message */
    uint32_t delta;     /* ms, the last header's timestamp field (absolute after fmt 0) */
    uint32_t ext_field; /* the last extended timestamp value read */
    bool extended;      /* the last fmt 0-2 header used an extended timestamp */
    bool in_message;    /* a message started and is not complete */
    uint32_t length;    /* bytes of the current message */
    uint8_t type_id;
    uint32_t stream_id;
    uint8_t *buf;
    size_t capacity; /* bytes allocated for buf */
    size_t received; /* bytes of the current message received */
} chunk_stream_t;

struct rtmp_chunk_reader {
    rtmp_chunk_limits_t limits;
    uint32_t chunk_size;       /* bytes, inbound */
    chunk_stream_t *streams;   /* stream_slots slots, grown up to max_chunk_streams */
    size_t stream_slots;       /* slots allocated */
    size_t stream_count;       /* slots in use */
    chunk_stream_t *current;   /* stream whose chunk payload is being read */
    size_t chunk_left;         /* payload bytes of the current chunk still to come */
    size_t buffered;           /* bytes allocated for message buffers, all streams */
    chunk_stream_t *delivered; /* stream whose complete message the caller holds */
};

typedef struct chunk_header {
    unsigned fmt;
    uint32_t csid;
    size_t size;        /* bytes of the whole chunk header */
    uint32_t ts_field;  /* fmt 0-2: the 24-bit timestamp or delta */
    uint32_t length;    /* fmt 0-1 */
    uint8_t type_id;    /* fmt 0-1 */
    uint32_t stream_id; /* fmt 0 */
    bool has_ext;       /* an extended timestamp was consumed */
    uint32_t ext;
} chunk_header_t;

void rtmp_chunk_limits_default(rtmp_chunk_limits_t *limits)
{
    /* A large chunk size costs nothing here (memory follows the message size), so the cap only
     * refuses nonsense; encoders use 4096 to 65536. */
    limits->max_chunk_size = 1024 * 1024;
    limits->max_message_size = 8 * 1024 * 1024;
    limits->max_chunk_streams = 64;
    limits->max_buffered_bytes = 32 * 1024 * 1024;
}

const char *rtmp_chunk_strerror(int err)
{
    switch (err) {
    case RTMP_CHUNK_ERR_NO_HEADER:
        return "chunk refers to a chunk stream without a full header";
    case RTMP_CHUNK_ERR_MID_MESSAGE:
        return "new message header before the previous message ended";
    case RTMP_CHUNK_ERR_MESSAGE_SIZE:
        return "message over the size limit";
    case RTMP_CHUNK_ERR_TOO_MANY_STREAMS:
        return "too many chunk streams";
    case RTMP_CHUNK_ERR_CHUNK_SIZE:
        return "chunk size out of range";
    case RTMP_CHUNK_ERR_BUFFERED:
        return "too many bytes in unfinished messages";
    case RTMP_CHUNK_ERR_NOMEM:
        return "out of memory";
    case RTMP_CHUNK_ERR_NOSPACE:
        return "chunk output buffer too small";
    case RTMP_CHUNK_ERR_INVALID:
        return "invalid chunk stream id or message length";
    default:
        return "unknown chunk error";
    }
}

static uint32_t read_be(const uint8_t *p, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static void put_be(uint8_t *p, uint32_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

rtmp_chunk_reader_t *rtmp_chunk_reader_new(const rtmp_chunk_limits_t *limits)
{
    rtmp_chunk_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->limits = *limits;
    if (r->limits.max_chunk_streams == 0 || r->limits.max_chunk_streams > RTMP_CHUNK_MAX_CSID)
        r->limits.max_chunk_streams = RTMP_CHUNK_MAX_CSID;
    r->chunk_size = RTMP_CHUNK_DEFAULT_SIZE;
    return r;
}

void rtmp_chunk_reader_free(rtmp_chunk_reader_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->stream_count; i++)
        free(r->streams[i].buf);
    free(r->streams);
    free(r);
}

int rtmp_chunk_reader_set_chunk_size(rtmp_chunk_reader_t *r, uint32_t chunk_size)
{
    if (chunk_size == 0 || chunk_size > r->limits.max_chunk_size || chunk_size > 0x7FFFFFFF)
        return RTMP_CHUNK_ERR_CHUNK_SIZE;
    r->chunk_size = chunk_size;
    return 0;
}

uint32_t rtmp_chunk_reader_chunk_size(const rtmp_chunk_reader_t *r)
{
    return r->chunk_size;
}

static chunk_stream_t *find_stream(rtmp_chunk_reader_t *r, uint32_t csid)
{
    if (r->current && r->current->csid == csid)
        return r->current;
    for (size_t i = 0; i < r->stream_count; i++) {
        if (r->streams[i].csid == csid)
            return &r->streams[i];
    }
    return NULL;
}

void rtmp_chunk_reader_abort(rtmp_chunk_reader_t *r, uint32_t csid)
{
    chunk_stream_t *cs = find_stream(r, csid);
    if (!cs || !cs->in_message)
        return;
    cs->in_message = false;
    cs->received = 0;
}

size_t rtmp_chunk_reader_bytes_missing(const rtmp_chunk_reader_t *r)
{
    size_t fewest = 0;
    for (size_t i = 0; i < r->stream_count; i++) {
        const chunk_stream_t *cs = &r->streams[i];
        size_t missing = cs->in_message ? cs->length - cs->received : 0;
        if (missing > 0 && (fewest == 0 || missing < fewest))
            fewest = missing;
    }
    return fewest;
}

/* ---- reading ---- */

static void release_buffer(rtmp_chunk_reader_t *r, chunk_stream_t *cs)
{
    r->buffered -= cs->capacity;
    free(cs->buf);
    cs->buf = NULL;
    cs->capacity = 0;
}

/* The caller is done with the last message: its buffer goes back, so a connection waiting for
 * its next message holds none (with hundreds of publishers, few are mid-message at once). */
static void release_delivered(rtmp_chunk_reader_t *r)
{
    chunk_stream_t *cs = r->delivered;
    r->delivered = NULL;
    if (cs)
        release_buffer(r, cs);
}

/* Basic header: returns its size, or 0 when incomplete. */
static size_t parse_basic(const uint8_t *buf, size_t len, chunk_header_t *h)
{
    if (len < 1)
        return 0;
    h->fmt = buf[0] >> 6;
    uint32_t id = buf[0] & 0x3F;
    if (id == 0) {
        if (len < 2)
            return 0;
        h->csid = 64 + (uint32_t)buf[1];
        return 2;
    }
    if (id == 1) {
        if (len < 3)
            return 0;
        h->csid = 64 + (uint32_t)buf[1] + 256 * (uint32_t)buf[2];
        return 3;
    }
    h->csid = id;
    return 1;
}

static void parse_message_header(const uint8_t *p, chunk_header_t *h)
{
    if (h->fmt <= 2)
        h->ts_field = read_be(p, 3);
    if (h->fmt <= 1) {
        h->length = read_be(p + 3, 3);
        h->type_id = p[6];
    }
    if (h->fmt == 0)
        h->stream_id =
            (uint32_t)p[7] | (uint32_t)p[8] << 8 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 24;
}

/* Whether this header carries an extended timestamp, and whether to consume it. A format 3
 * continuation chunk should repeat the extended field, but some encoders leave it out; the 4
 * bytes are taken as the field only when they equal the value the message started with. */
static int parse_extended(const uint8_t *buf, size_t len, const chunk_stream_t *cs,
                          chunk_header_t *h)
{
    bool expected = h->fmt <= 2 ? h->ts_field == TIMESTAMP_EXTENDED : cs->extended;
    if (!expected)
        return 1;
    if (len < h->size + 4)
        return 0;
    uint32_t ext = read_be(buf + h->size, 4);
    if (h->fmt == 3 && cs->in_message && ext != cs->ext_field)
        return 1;
    h->has_ext = true;
    h->ext = ext;
    h->size += 4;
    return 1;
}

static int check_stream_state(rtmp_chunk_reader_t *r, const chunk_header_t *h,
                              const chunk_stream_t *cs)
{
    if (!cs && h->fmt != 0)
        return RTMP_CHUNK_ERR_NO_HEADER;
    if (!cs && r->stream_count >= r->limits.max_chunk_streams)
        return RTMP_CHUNK_ERR_TOO_MANY_STREAMS;
    if (cs && cs->in_message && h->fmt != 3)
        return RTMP_CHUNK_ERR_MID_MESSAGE;
    return 0;
}

/* Parses a whole chunk header without changing state. 1 = parsed, 0 = need more, < 0 error. */
static int parse_header(rtmp_chunk_reader_t *r, const uint8_t *buf, size_t len, chunk_header_t *h,
                        chunk_stream_t **cs_out)
{
    memset(h, 0, sizeof *h);
    size_t basic = parse_basic(buf, len, h);
    if (basic == 0)
        return 0;
    chunk_stream_t *cs = find_stream(r, h->csid);
    int rc = check_stream_state(r, h, cs);
    if (rc < 0)
        return rc;
    h->size = basic + message_header_size[h->fmt];
    if (len < h->size)
        return 0;
    parse_message_header(buf + basic, h);
    if (h->fmt <= 1 && h->length > r->limits.max_message_size)
        return RTMP_CHUNK_ERR_MESSAGE_SIZE;
    rc = parse_extended(buf, len, cs, h);
    if (rc <= 0)
        return rc;
    *cs_out = cs;
    return 1;
}

/* Makes room for one more chunk stream. Moving the slots would leave r->current dangling, so it is
 * cleared; the caller is starting a chunk and sets it again. */
static int reserve_stream_slot(rtmp_chunk_reader_t *r)
{
    if (r->stream_count < r->stream_slots)
        return 0;
    size_t slots = r->stream_slots ? r->stream_slots * 2 : FIRST_STREAM_SLOTS;
    if (slots > r->limits.max_chunk_streams)
        slots = r->limits.max_chunk_streams;
    chunk_stream_t *grown = realloc(r->streams, slots * sizeof *grown);
    if (!grown)
        return RTMP_CHUNK_ERR_NOMEM;
    r->streams = grown;
    r->stream_slots = slots;
    r->current = NULL;
    return 0;
}

static chunk_stream_t *open_stream(rtmp_chunk_reader_t *r, uint32_t csid)
{
    chunk_stream_t *cs = &r->streams[r->stream_count++];
    memset(cs, 0, sizeof *cs);
    cs->csid = csid;
    return cs;
}

/* Applies a parsed header to its chunk stream. */
static chunk_stream_t *commit_header(rtmp_chunk_reader_t *r, chunk_stream_t *cs,
                                     const chunk_header_t *h)
{
    if (!cs)
        cs = open_stream(r, h->csid);
    if (h->has_ext)
        cs->ext_field = h->ext;
    if (h->fmt == 3 && cs->in_message)
        return cs; /* continuation: nothing changes */
    if (h->fmt <= 2) {
        cs->delta = h->has_ext ? h->ext : h->ts_field;
        cs->extended = h->has_ext;
    } else if (h->has_ext) {
        cs->delta = h->ext;
    }
    if (h->fmt <= 1) {
        cs->length = h->length;
        cs->type_id = h->type_id;
    }
    if (h->fmt == 0) {
        cs->stream_id = h->stream_id;
        cs->timestamp = cs->delta;
    } else {
        cs->timestamp += cs->delta; /* wraps modulo 2^32, as RTMP time does */
    }
    cs->in_message = true;
    cs->received = 0;
    return cs;
}

static int ensure_capacity(rtmp_chunk_reader_t *r, chunk_stream_t *cs, size_t needed)
{
    if (needed <= cs->capacity)
        return 0;
    size_t next = cs->capacity ? cs->capacity * 2 : FIRST_BUFFER_MAX;
    if (next > cs->length)
        next = cs->length;
    if (next < needed)
        next = needed;
    if (r->buffered - cs->capacity + next > r->limits.max_buffered_bytes)
        return RTMP_CHUNK_ERR_BUFFERED;
    uint8_t *grown = realloc(cs->buf, next);
    if (!grown)
        return RTMP_CHUNK_ERR_NOMEM;
    r->buffered = r->buffered - cs->capacity + next;
    cs->buf = grown;
    cs->capacity = next;
    return 0;
}

static void deliver(rtmp_chunk_reader_t *r, chunk_stream_t *cs, rtmp_message_t *msg)
{
    msg->csid = cs->csid;
    msg->type_id = cs->type_id;
    msg->stream_id = cs->stream_id;
    msg->timestamp = cs->timestamp;
    msg->payload = cs->buf;
    msg->length = cs->length;
    cs->in_message = false;
    r->delivered = cs;
    r->current = NULL;
}

/* Starts a chunk: parses and applies its header. 1 = started, 0 = need more, < 0 error. */
static int start_chunk(rtmp_chunk_reader_t *r, const uint8_t *buf, size_t len, size_t *used)
{
    chunk_header_t h;
    chunk_stream_t *cs = NULL;
    int rc = parse_header(r, buf, len, &h, &cs);
    if (rc <= 0)
        return rc;
    if (!cs) {
        rc = reserve_stream_slot(r);
        if (rc < 0)
            return rc;
    }
    cs = commit_header(r, cs, &h);
    size_t left = cs->length - cs->received;
    r->current = cs;
    r->chunk_left = left < r->chunk_size ? left : r->chunk_size;
    *used = h.size;
    return 1;
}

int rtmp_chunk_read(rtmp_chunk_reader_t *r, const uint8_t *buf, size_t len, size_t *consumed,
                    rtmp_message_t *msg)
{
    release_delivered(r);
    size_t pos = 0;
    int rc = 0;
    for (;;) {
        if (r->chunk_left == 0) {
            size_t used = 0;
            rc = start_chunk(r, buf + pos, len - pos, &used);
            if (rc <= 0)
                break;
            pos += used;
        }
        chunk_stream_t *cs = r->current;
        size_t n = len - pos < r->chunk_left ? len - pos : r->chunk_left;
        if (n > 0) {
            rc = ensure_capacity(r, cs, cs->received + n);
            if (rc < 0)
                break;
            memcpy(cs->buf + cs->received, buf + pos, n);
            cs->received += n;
            r->chunk_left -= n;
            pos += n;
        }
        if (cs->received == cs->length) {
            deliver(r, cs, msg);
            rc = 1;
            break;
        }
        if (r->chunk_left > 0) {
            rc = 0; /* input ran out inside the chunk */
            break;
        }
    }
    *consumed = pos;
    return rc;
}

/* ---- writing ---- */

static size_t basic_header_size(uint32_t csid)
{
    if (csid < 64)
        return 1;
    return csid < 320 ? 2 : 3;
}

size_t rtmp_chunk_encoded_size(uint32_t chunk_size, uint32_t csid, uint32_t timestamp,
                               size_t length)
{
    if (chunk_size == 0)
        return SIZE_MAX;
    size_t chunks = length == 0 ? 1 : (length + chunk_size - 1) / chunk_size;
    size_t per_chunk = basic_header_size(csid) + (timestamp >= TIMESTAMP_EXTENDED ? 4 : 0);
    return chunks * per_chunk + message_header_size[0] + length;
}

static size_t write_basic(uint8_t *p, unsigned fmt, uint32_t csid)
{
    uint8_t top = (uint8_t)(fmt << 6);
    if (csid < 64) {
        p[0] = top | (uint8_t)csid;
        return 1;
    }
    if (csid < 320) {
        p[0] = top;
        p[1] = (uint8_t)(csid - 64);
        return 2;
    }
    p[0] = top | 1;
    p[1] = (uint8_t)((csid - 64) & 0xFF);
    p[2] = (uint8_t)((csid - 64) >> 8);
    return 3;
}

static size_t write_first_header(uint8_t *p, const rtmp_message_t *msg)
{
    size_t n = write_basic(p, 0, msg->csid);
    bool ext = msg->timestamp >= TIMESTAMP_EXTENDED;
    put_be(p + n, ext ? TIMESTAMP_EXTENDED : msg->timestamp, 3);
    put_be(p + n + 3, (uint32_t)msg->length, 3);
    p[n + 6] = msg->type_id;
    for (size_t i = 0; i < 4; i++)
        p[n + 7 + i] = (uint8_t)(msg->stream_id >> (8 * i));
    n += 11;
    if (ext) {
        put_be(p + n, msg->timestamp, 4);
        n += 4;
    }
    return n;
}

int rtmp_chunk_write(uint32_t chunk_size, const rtmp_message_t *msg, uint8_t *out, size_t out_size)
{
    if (msg->csid < 2 || msg->csid > RTMP_CHUNK_MAX_CSID ||
        msg->length > RTMP_CHUNK_MAX_MESSAGE_LENGTH || chunk_size == 0)
        return RTMP_CHUNK_ERR_INVALID;
    size_t total = rtmp_chunk_encoded_size(chunk_size, msg->csid, msg->timestamp, msg->length);
    if (total > out_size || total > INT32_MAX)
        return RTMP_CHUNK_ERR_NOSPACE;
    size_t pos = write_first_header(out, msg);
    size_t sent = 0;
    for (;;) {
        size_t n = msg->length - sent < chunk_size ? msg->length - sent : chunk_size;
        if (n)
            memcpy(out + pos, msg->payload + sent, n);
        pos += n;
        sent += n;
        if (sent == msg->length)
            break;
        pos += write_basic(out + pos, 3, msg->csid);
        if (msg->timestamp >= TIMESTAMP_EXTENDED) {
            put_be(out + pos, msg->timestamp, 4);
            pos += 4;
        }
    }
    return (int)pos;
}
