/* libFuzzer harness for ingest/rtmp_handshake. The first byte picks a mode: 0 = the input as
 * C0+C1 as is (short and odd inputs); 1 = the input cycled to a full C0+C1; 2 and 3 = the same
 * with a valid client digest placed in scheme 0 or 1, so the signed path runs too. A well-sized
 * C0+C1 with version 3 must always be answered; a plain answer echoes C1; a digest answer's S2
 * verifies as a client checks it. */
/* fuzz-sources: src/ingest/rtmp_handshake.c src/util/log.c */
#include "ingest/rtmp_handshake.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PACKET RTMP_HANDSHAKE_PACKET_SIZE

static const uint8_t genuine_tail[32] = {
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};

static void hmac(const void *key, size_t key_len, const uint8_t *data, size_t len, uint8_t *out)
{
    unsigned out_len = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len))
        abort();
}

/* Places a client digest in c1 using the offset field at field; returns its position. */
static size_t sign_c1(uint8_t *c1, size_t field)
{
    size_t pos =
        (size_t)(c1[field] + c1[field + 1] + c1[field + 2] + c1[field + 3]) % 728 + field + 4;
    uint8_t joined[PACKET - 32];
    memcpy(joined, c1, pos);
    memcpy(joined + pos, c1 + pos + 32, PACKET - pos - 32);
    hmac("Genuine Adobe Flash Player 001", 30, joined, sizeof joined, c1 + pos);
    return pos;
}

static void check_s2(const uint8_t *c1, size_t pos, const uint8_t *s2)
{
    uint8_t full_key[68], key[32], signature[32];
    memcpy(full_key, "Genuine Adobe Flash Media Server 001", 36);
    memcpy(full_key + 36, genuine_tail, 32);
    hmac(full_key, sizeof full_key, c1 + pos, 32, key);
    hmac(key, 32, s2, PACKET - 32, signature);
    if (memcmp(signature, s2 + PACKET - 32, 32) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t c0c1[RTMP_HANDSHAKE_C0C1_SIZE + 64], out[RTMP_HANDSHAKE_S0S1S2_SIZE];
    if (size < 2)
        return 0;
    unsigned mode = data[0] & 3;
    data++;
    size--;
    size_t len = size < sizeof c0c1 ? size : sizeof c0c1;
    if (mode == 0) {
        memcpy(c0c1, data, len);
    } else {
        for (size_t i = 0; i < RTMP_HANDSHAKE_C0C1_SIZE; i++)
            c0c1[i] = data[i % size];
        len = RTMP_HANDSHAKE_C0C1_SIZE;
    }
    size_t pos = 0;
    if (mode >= 2)
        pos = sign_c1(c0c1 + 1, mode == 2 ? 8 : 772);
    rtmp_handshake_kind_t kind;
    int rc = rtmp_handshake_respond(c0c1, len, 0, out, sizeof out, &kind);
    bool acceptable = len >= RTMP_HANDSHAKE_C0C1_SIZE && c0c1[0] == RTMP_HANDSHAKE_VERSION;
    if (acceptable != (rc == 0))
        abort();
    if (rc != 0)
        return 0;
    const uint8_t *c1 = c0c1 + 1, *s2 = out + 1 + PACKET;
    if (kind == RTMP_HANDSHAKE_SIMPLE && (pos || memcmp(s2, c1, PACKET) != 0))
        abort();
    if (kind == RTMP_HANDSHAKE_DIGEST) {
        size_t found = rtmp_handshake_find_client_digest(c1);
        if (found < 12 || found + 32 > PACKET)
            abort();
        check_s2(c1, found, s2);
    }
    return 0;
}
