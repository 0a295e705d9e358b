/* Server side of the RTMP handshake, plain and digest.
 *
 * Digest scheme (as Flash Player and FMS do it): a 1536-byte C1/S1 is time(4) version(4) and two
 * 764-byte halves. One half holds a 4-byte offset field; the digest position is
 * (sum of those 4 bytes) % 728 + field + 4. The digest is HMAC-SHA256 over the packet without its
 * 32 digest bytes, keyed with the public part of the sender's constant. S2 ends with an HMAC over
 * its first 1504 bytes, keyed with HMAC(full FMS constant, client digest). */
#include "ingest/rtmp_handshake.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <string.h>

#define DIGEST_MOD 728
#define SCHEME0_FIELD 8   /* offset field in the first half (ffmpeg, most encoders) */
#define SCHEME1_FIELD 772 /* offset field in the second half (RTMPE-era Flash Player) */
#define CLIENT_KEY_PUBLIC_LEN 30
#define SERVER_KEY_PUBLIC_LEN 36

/* "Genuine Adobe Flash Player 001" + 32 constant bytes. */
static const uint8_t client_key[62] = {
    'G',  'e',  'n',  'u',  'i',  'n',  'e',  ' ',  'A',  'd',  'o',  'b',  'e',  ' ',  'F',  'l',
    'a',  's',  'h',  ' ',  'P',  'l',  'a',  'y',  'e',  'r',  ' ',  '0',  '0',  '1',  0xF0, 0xEE,
    0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC,
    0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};

/* "Genuine Adobe Flash Media Server 001" + the same 32 constant bytes. */
static const uint8_t server_key[68] = {
    'G',  'e',  'n',  'u',  'i',  'n',  'e',  ' ',  'A',  'd',  'o',  'b',  'e',  ' ',
    'F',  'l',  'a',  's',  'h',  ' ',  'M',  'e',  'd',  'i',  'a',  ' ',  'S',  'e',
    'r',  'v',  'e',  'r',  ' ',  '0',  '0',  '1',  0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68,
    0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D, 0x2D,
    0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};

/* Version we announce in S1 for the digest handshake; clients check only that it is >= 3.0. */
static const uint8_t server_version[4] = {4, 5, 0, 1};

const char *rtmp_handshake_strerror(int err)
{
    switch (err) {
    case RTMP_HANDSHAKE_ERR_TRUNCATED:
        return "handshake truncated";
    case RTMP_HANDSHAKE_ERR_VERSION:
        return "unsupported RTMP version (RTMPE and RTMPT are not served)";
    case RTMP_HANDSHAKE_ERR_CRYPTO:
        return "handshake crypto failure";
    default:
        return "unknown handshake error";
    }
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static size_t digest_position(const uint8_t *packet, size_t field)
{
    size_t sum = (size_t)packet[field] + packet[field + 1] + packet[field + 2] + packet[field + 3];
    return sum % DIGEST_MOD + field + 4;
}

static int hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                       uint8_t out[RTMP_HANDSHAKE_DIGEST_SIZE])
{
    unsigned int out_len = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len) ||
        out_len != RTMP_HANDSHAKE_DIGEST_SIZE)
        return RTMP_HANDSHAKE_ERR_CRYPTO;
    return 0;
}

/* HMAC of the packet without the 32 digest bytes at pos. */
static int packet_digest(const uint8_t *packet, size_t pos, const uint8_t *key, size_t key_len,
                         uint8_t out[RTMP_HANDSHAKE_DIGEST_SIZE])
{
    uint8_t joined[RTMP_HANDSHAKE_PACKET_SIZE - RTMP_HANDSHAKE_DIGEST_SIZE];
    memcpy(joined, packet, pos);
    memcpy(joined + pos, packet + pos + RTMP_HANDSHAKE_DIGEST_SIZE,
           RTMP_HANDSHAKE_PACKET_SIZE - pos - RTMP_HANDSHAKE_DIGEST_SIZE);
    return hmac_sha256(key, key_len, joined, sizeof joined, out);
}

static bool digest_valid_at(const uint8_t *c1, size_t field)
{
    size_t pos = digest_position(c1, field);
    uint8_t expected[RTMP_HANDSHAKE_DIGEST_SIZE];
    if (packet_digest(c1, pos, client_key, CLIENT_KEY_PUBLIC_LEN, expected) < 0)
        return false;
    return CRYPTO_memcmp(expected, c1 + pos, sizeof expected) == 0;
}

/* Digest position and the offset field of its scheme, or 0 when C1 has no valid digest. */
static size_t find_digest(const uint8_t *c1, size_t *field)
{
    static const size_t fields[2] = {SCHEME0_FIELD, SCHEME1_FIELD};
    for (size_t i = 0; i < 2; i++) {
        if (digest_valid_at(c1, fields[i])) {
            *field = fields[i];
            return digest_position(c1, fields[i]);
        }
    }
    return 0;
}

size_t rtmp_handshake_find_client_digest(const uint8_t *c1)
{
    size_t field;
    return find_digest(c1, &field);
}

/* S1 for the digest handshake: random, our version, and our digest placed by the client's scheme
 * (field is the offset field the client used). */
static int build_digest_s1(uint8_t *s1, uint32_t server_time_ms, size_t field)
{
    if (RAND_bytes(s1, RTMP_HANDSHAKE_PACKET_SIZE) != 1)
        return RTMP_HANDSHAKE_ERR_CRYPTO;
    put_be32(s1, server_time_ms);
    memcpy(s1 + 4, server_version, sizeof server_version);
    size_t pos = digest_position(s1, field);
    return packet_digest(s1, pos, server_key, SERVER_KEY_PUBLIC_LEN, s1 + pos);
}

/* S2: random, signed with a key derived from the client's digest. */
static int build_digest_s2(uint8_t *s2, const uint8_t *client_digest)
{
    uint8_t key[RTMP_HANDSHAKE_DIGEST_SIZE];
    if (RAND_bytes(s2, RTMP_HANDSHAKE_PACKET_SIZE) != 1)
        return RTMP_HANDSHAKE_ERR_CRYPTO;
    int rc =
        hmac_sha256(server_key, sizeof server_key, client_digest, RTMP_HANDSHAKE_DIGEST_SIZE, key);
    if (rc < 0)
        return rc;
    const size_t signed_len = RTMP_HANDSHAKE_PACKET_SIZE - RTMP_HANDSHAKE_DIGEST_SIZE;
    return hmac_sha256(key, sizeof key, s2, signed_len, s2 + signed_len);
}

static int build_simple(const uint8_t *c1, uint32_t server_time_ms, uint8_t *s1, uint8_t *s2)
{
    if (RAND_bytes(s1, RTMP_HANDSHAKE_PACKET_SIZE) != 1)
        return RTMP_HANDSHAKE_ERR_CRYPTO;
    put_be32(s1, server_time_ms);
    memset(s1 + 4, 0, 4);
    memcpy(s2, c1, RTMP_HANDSHAKE_PACKET_SIZE);
    return 0;
}

int rtmp_handshake_respond(const uint8_t *c0c1, size_t len, uint32_t server_time_ms, uint8_t *out,
                           size_t out_size, rtmp_handshake_kind_t *kind)
{
    if (len < RTMP_HANDSHAKE_C0C1_SIZE || out_size < RTMP_HANDSHAKE_S0S1S2_SIZE)
        return RTMP_HANDSHAKE_ERR_TRUNCATED;
    if (c0c1[0] != RTMP_HANDSHAKE_VERSION)
        return RTMP_HANDSHAKE_ERR_VERSION;
    const uint8_t *c1 = c0c1 + 1;
    uint8_t *s1 = out + 1;
    uint8_t *s2 = s1 + RTMP_HANDSHAKE_PACKET_SIZE;
    out[0] = RTMP_HANDSHAKE_VERSION;

    /* No version check: a digest that verifies can only come from a client that computed it,
     * and a plain client's random bytes verify with probability 2^-256. */
    size_t field = SCHEME0_FIELD;
    size_t client_pos = find_digest(c1, &field);
    if (kind)
        *kind = client_pos ? RTMP_HANDSHAKE_DIGEST : RTMP_HANDSHAKE_SIMPLE;
    if (!client_pos)
        return build_simple(c1, server_time_ms, s1, s2);
    int rc = build_digest_s1(s1, server_time_ms, field);
    if (rc < 0)
        return rc;
    return build_digest_s2(s2, c1 + client_pos);
}
