/* RTMP chunk stream: the reader reassembles messages from chunks (all four header formats,
 * 1/2/3-byte chunk stream ids, extended timestamps) under limits; the writer splits a message
 * into chunks. A reader belongs to one connection and is used by that connection's thread only.
 * Protocol control messages (Set Chunk Size, Abort, ...) come out as ordinary messages: the caller
 * applies them with rtmp_chunk_reader_set_chunk_size / rtmp_chunk_reader_abort. */
#ifndef STREAMD_INGEST_RTMP_CHUNK_H
#define STREAMD_INGEST_RTMP_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#define RTMP_CHUNK_DEFAULT_SIZE 128   /* bytes, until a Set Chunk Size */
#define RTMP_CHUNK_MAX_HEADER_SIZE 18 /* 3 basic + 11 message + 4 extended timestamp */
#define RTMP_CHUNK_MAX_CSID 65599
#define RTMP_CHUNK_MAX_MESSAGE_LENGTH 0xFFFFFF /* the 24-bit length field */

/* Message type ids. */
enum {
    RTMP_MSG_SET_CHUNK_SIZE = 1,
    RTMP_MSG_ABORT = 2,
    RTMP_MSG_ACKNOWLEDGEMENT = 3,
    RTMP_MSG_USER_CONTROL = 4,
    RTMP_MSG_WINDOW_ACK_SIZE = 5,
    RTMP_MSG_SET_PEER_BANDWIDTH = 6,
    RTMP_MSG_AUDIO = 8,
    RTMP_MSG_VIDEO = 9,
    RTMP_MSG_DATA_AMF3 = 15,
    RTMP_MSG_SHARED_OBJECT_AMF3 = 16,
    RTMP_MSG_COMMAND_AMF3 = 17,
    RTMP_MSG_DATA_AMF0 = 18,
    RTMP_MSG_SHARED_OBJECT_AMF0 = 19,
    RTMP_MSG_COMMAND_AMF0 = 20,
    RTMP_MSG_AGGREGATE = 22,
};

/* Error codes (negative), see rtmp_chunk_strerror. */
enum {
    RTMP_CHUNK_ERR_NO_HEADER = -1, /* format 1-3 chunk on a chunk stream never opened by fmt 0 */
    RTMP_CHUNK_ERR_MID_MESSAGE =
        -2, /* format 0-2 chunk while that stream's message is unfinished */
    RTMP_CHUNK_ERR_MESSAGE_SIZE = -3,     /* message longer than limits.max_message_size */
    RTMP_CHUNK_ERR_TOO_MANY_STREAMS = -4, /* more chunk stream ids than limits.max_chunk_streams */
    RTMP_CHUNK_ERR_CHUNK_SIZE = -5,       /* Set Chunk Size outside 1..limits.max_chunk_size */
    RTMP_CHUNK_ERR_BUFFERED = -6, /* unfinished messages hold over limits.max_buffered_bytes */
    RTMP_CHUNK_ERR_NOMEM = -7,
    RTMP_CHUNK_ERR_NOSPACE = -8, /* writer: output buffer too small */
    RTMP_CHUNK_ERR_INVALID = -9, /* writer: csid outside 2..65599 or message over 16 MiB */
};

typedef struct rtmp_chunk_limits {
    uint32_t max_chunk_size;    /* bytes; the largest Set Chunk Size accepted (default 1 MiB) */
    uint32_t max_message_size;  /* bytes; the largest message accepted (default 8 MiB) */
    uint32_t max_chunk_streams; /* distinct chunk stream ids per connection (default 64) */
    size_t max_buffered_bytes;  /* bytes held for unfinished messages, all streams (32 MiB) */
} rtmp_chunk_limits_t;

/* One complete message. */
typedef struct rtmp_message {
    uint32_t csid;          /* chunk stream id it arrived on */
    uint8_t type_id;        /* RTMP_MSG_* */
    uint32_t stream_id;     /* message stream id */
    uint32_t timestamp;     /* ms, 32-bit, wraps after ~49.7 days */
    const uint8_t *payload; /* owned by the reader (or the caller, for the writer) */
    size_t length;          /* bytes */
} rtmp_message_t;

typedef struct rtmp_chunk_reader rtmp_chunk_reader_t;

/* Fills limits with the defaults above. */
void rtmp_chunk_limits_default(rtmp_chunk_limits_t *limits);

/* A new reader with chunk size 128; NULL when out of memory. limits is copied. */
rtmp_chunk_reader_t *rtmp_chunk_reader_new(const rtmp_chunk_limits_t *limits);

/* Frees the reader and every buffered message; NULL is a no-op. */
void rtmp_chunk_reader_free(rtmp_chunk_reader_t *r);

/* Consumes chunks from buf[0..len). Returns 1 when a message completed: *msg holds it (its
 * payload stays valid until the next call on r) and *consumed the bytes used up to its end.
 * Returns 0 when the input ran out first (*consumed bytes were used; the rest is an incomplete
 * chunk header the caller passes again with more bytes). Negative RTMP_CHUNK_ERR_* on a protocol
 * violation or limit; the reader is then unusable. */
int rtmp_chunk_read(rtmp_chunk_reader_t *r, const uint8_t *buf, size_t len, size_t *consumed,
                    rtmp_message_t *msg);

/* Applies a peer's Set Chunk Size to the chunks that follow. 0 or RTMP_CHUNK_ERR_CHUNK_SIZE. */
int rtmp_chunk_reader_set_chunk_size(rtmp_chunk_reader_t *r, uint32_t chunk_size);

/* The current inbound chunk size in bytes. */
uint32_t rtmp_chunk_reader_chunk_size(const rtmp_chunk_reader_t *r);

/* Applies a peer's Abort Message: drops the unfinished message on csid, if any. Call between
 * messages (after rtmp_chunk_read returned 1), as the Abort message itself arrives. */
void rtmp_chunk_reader_abort(rtmp_chunk_reader_t *r, uint32_t csid);

/* Payload bytes still missing from the unfinished message closest to completion (chunk headers
 * not counted); 0 when no message is unfinished. */
size_t rtmp_chunk_reader_bytes_missing(const rtmp_chunk_reader_t *r);

/* Bytes rtmp_chunk_write needs for a message of length bytes (SIZE_MAX when chunk_size is 0). */
size_t rtmp_chunk_encoded_size(uint32_t chunk_size, uint32_t csid, uint32_t timestamp,
                               size_t length);

/* Writes msg (csid, type_id, stream_id, timestamp, payload, length) as chunks of chunk_size
 * bytes: a format 0 header, then format 3 continuations (repeating an extended timestamp).
 * Returns bytes written, or RTMP_CHUNK_ERR_NOSPACE / RTMP_CHUNK_ERR_INVALID. */
int rtmp_chunk_write(uint32_t chunk_size, const rtmp_message_t *msg, uint8_t *out, size_t out_size);

/* A static description of an RTMP_CHUNK_ERR_* code. */
const char *rtmp_chunk_strerror(int err);

#endif
