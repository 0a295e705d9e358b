/* RTMP handshake, server side: C0+C1 in, S0+S1+S2 out. Handles the plain handshake of the spec
 * (S2 echoes C1) and the digest ("complex") handshake of Flash-era encoders, ffmpeg and many OBS
 * builds (HMAC-SHA256 digests keyed with the well-known Flash Player / FMS constants).
 * Pure functions over caller buffers; randomness from OpenSSL. Any thread. */
#ifndef STREAMD_INGEST_RTMP_HANDSHAKE_H
#define STREAMD_INGEST_RTMP_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#define RTMP_HANDSHAKE_VERSION 3
#define RTMP_HANDSHAKE_PACKET_SIZE 1536                                 /* C1, C2, S1, S2 */
#define RTMP_HANDSHAKE_C0C1_SIZE (1 + RTMP_HANDSHAKE_PACKET_SIZE)       /* 1537 */
#define RTMP_HANDSHAKE_S0S1S2_SIZE (1 + 2 * RTMP_HANDSHAKE_PACKET_SIZE) /* 3073 */
#define RTMP_HANDSHAKE_DIGEST_SIZE 32

typedef enum rtmp_handshake_kind {
    RTMP_HANDSHAKE_SIMPLE = 0, /* C1 carried no valid digest: S2 echoes C1 */
    RTMP_HANDSHAKE_DIGEST = 1, /* C1 carried a Flash Player digest: S1 and S2 are signed */
} rtmp_handshake_kind_t;

enum {
    RTMP_HANDSHAKE_ERR_TRUNCATED = -1, /* fewer bytes than C0+C1, or an output buffer too small */
    RTMP_HANDSHAKE_ERR_VERSION = -2,   /* C0 is not 3 (e.g. 6 = RTMPE, which we do not serve) */
    RTMP_HANDSHAKE_ERR_CRYPTO = -3,    /* the CSPRNG or HMAC failed */
};

/* Builds S0+S1+S2 (RTMP_HANDSHAKE_S0S1S2_SIZE bytes, into out) answering c0c1 (its first
 * RTMP_HANDSHAKE_C0C1_SIZE bytes are read; more is ignored). server_time_ms goes into S1's time
 * field. Stores the handshake kind in *kind when kind is not NULL. Returns 0 or a negative
 * RTMP_HANDSHAKE_ERR_*. The C2 the client sends back is not checked: encoders disagree on it. */
int rtmp_handshake_respond(const uint8_t *c0c1, size_t len, uint32_t server_time_ms, uint8_t *out,
                           size_t out_size, rtmp_handshake_kind_t *kind);

/* Position of a valid client digest in c1 (RTMP_HANDSHAKE_PACKET_SIZE bytes), trying the offset
 * field at bytes 8..11 then 772..775; 0 when there is none (0 is never a valid position). */
size_t rtmp_handshake_find_client_digest(const uint8_t *c1);

/* A static description of an RTMP_HANDSHAKE_ERR_* code. */
const char *rtmp_handshake_strerror(int err);

#endif
