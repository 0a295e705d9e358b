/* Unit tests for ingest/rtmp_handshake: plain echo, digest handshake in both schemes checked the
 * way a client (ffmpeg, Flash Player) checks it, fallbacks, and malformed input. The client side
 * here is written independently from the module, with OpenSSL directly. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "ingest/rtmp_handshake.h"

#define PACKET RTMP_HANDSHAKE_PACKET_SIZE

static const uint8_t genuine_tail[32] = {
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};

static void hmac(const void *key, size_t key_len, const uint8_t *data, size_t len, uint8_t *out)
{
    unsigned out_len = 0;
    cr_assert_not_null(HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len));
    cr_assert_eq(out_len, 32);
}

static size_t position(const uint8_t *packet, size_t field)
{
    unsigned sum = packet[field] + packet[field + 1] + packet[field + 2] + packet[field + 3];
    return sum % 728 + field + 4;
}

/* HMAC over the packet without the 32 bytes at pos. */
static void digest_without(const uint8_t *packet, size_t pos, const void *key, size_t key_len,
                           uint8_t *out)
{
    uint8_t joined[PACKET - 32];
    memcpy(joined, packet, pos);
    memcpy(joined + pos, packet + pos + 32, PACKET - pos - 32);
    hmac(key, key_len, joined, sizeof joined, out);
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
}

/* C0+C1 as a Flash client makes it: version 9.0.124.2 and a digest in the given scheme. */
static size_t make_digest_c0c1(uint8_t *c0c1, size_t field, unsigned seed)
{
    c0c1[0] = 3;
    uint8_t *c1 = c0c1 + 1;
    fill_pattern(c1, PACKET, seed);
    memset(c1, 0, 4);
    c1[4] = 9, c1[5] = 0, c1[6] = 124, c1[7] = 2;
    size_t pos = position(c1, field);
    digest_without(c1, pos, "Genuine Adobe Flash Player 001", 30, c1 + pos);
    return pos;
}

static uint8_t answer[RTMP_HANDSHAKE_S0S1S2_SIZE];

/* Verifies S1 and S2 as ffmpeg's client does. */
static void check_digest_answer(const uint8_t *c1, size_t client_pos)
{
    const uint8_t *s1 = answer + 1, *s2 = answer + 1 + PACKET;
    cr_assert_eq(answer[0], 3);
    cr_assert_geq(s1[4], 3, "clients only verify S1 when its version is >= 3");
    bool found = false;
    const size_t fields[2] = {772, 8};
    for (int i = 0; i < 2 && !found; i++) {
        size_t pos = position(s1, fields[i]);
        uint8_t expected[32];
        digest_without(s1, pos, "Genuine Adobe Flash Media Server 001", 36, expected);
        found = memcmp(expected, s1 + pos, 32) == 0;
    }
    cr_assert(found, "S1 digest does not verify");

    uint8_t full_key[68];
    memcpy(full_key, "Genuine Adobe Flash Media Server 001", 36);
    memcpy(full_key + 36, genuine_tail, 32);
    uint8_t key[32], signature[32];
    hmac(full_key, sizeof full_key, c1 + client_pos, 32, key);
    hmac(key, 32, s2, PACKET - 32, signature);
    cr_assert_eq(memcmp(signature, s2 + PACKET - 32, 32), 0, "S2 signature mismatch");
}

Test(rtmp_handshake, simple_handshake_echoes_c1)
{
    uint8_t c0c1[RTMP_HANDSHAKE_C0C1_SIZE];
    c0c1[0] = 3;
    fill_pattern(c0c1 + 1, PACKET, 7);
    memset(c0c1 + 5, 0, 4); /* zero version: a plain client */
    rtmp_handshake_kind_t kind = RTMP_HANDSHAKE_DIGEST;
    cr_assert_eq(rtmp_handshake_respond(c0c1, sizeof c0c1, 1234, answer, sizeof answer, &kind), 0);
    cr_assert_eq(kind, RTMP_HANDSHAKE_SIMPLE);
    cr_assert_eq(answer[0], 3);
    const uint8_t s1_time[4] = {0, 0, 0x04, 0xD2};
    cr_assert_eq(memcmp(answer + 1, s1_time, 4), 0);
    const uint8_t zero[4] = {0};
    cr_assert_eq(memcmp(answer + 5, zero, 4), 0);
    cr_assert_eq(memcmp(answer + 1 + PACKET, c0c1 + 1, PACKET), 0);
}

Test(rtmp_handshake, digest_scheme_offset_8)
{
    uint8_t c0c1[RTMP_HANDSHAKE_C0C1_SIZE];
    size_t pos = make_digest_c0c1(c0c1, 8, 1);
    cr_assert_eq(rtmp_handshake_find_client_digest(c0c1 + 1), pos);
    rtmp_handshake_kind_t kind;
    cr_assert_eq(rtmp_handshake_respond(c0c1, sizeof c0c1, 0, answer, sizeof answer, &kind), 0);
    cr_assert_eq(kind, RTMP_HANDSHAKE_DIGEST);
    check_digest_answer(c0c1 + 1, pos);
}

Test(rtmp_handshake, digest_scheme_offset_772)
{
    for (unsigned seed = 1; seed < 20; seed++) {
        uint8_t c0c1[RTMP_HANDSHAKE_C0C1_SIZE];
        size_t pos = make_digest_c0c1(c0c1, 772, seed);
        cr_assert_geq(pos, 776);
        cr_assert_eq(rtmp_handshake_find_client_digest(c0c1 + 1), pos);
        rtmp_handshake_kind_t kind;
        cr_assert_eq(rtmp_handshake_respond(c0c1, sizeof c0c1, 0, answer, sizeof answer, &kind), 0);
        cr_assert_eq(kind, RTMP_HANDSHAKE_DIGEST);
        check_digest_answer(c0c1 + 1, pos);
    }
}

Test(rtmp_handshake, broken_digest_falls_back_to_echo)
{
    uint8_t c0c1[RTMP_HANDSHAKE_C0C1_SIZE];
    size_t pos = make_digest_c0c1(c0c1, 8, 3);
    c0c1[1 + pos] ^= 0x01;
    cr_assert_eq(rtmp_handshake_find_client_digest(c0c1 + 1), 0);
    rtmp_handshake_kind_t kind;
    cr_assert_eq(rtmp_handshake_respond(c0c1, sizeof c0c1, 0, answer, sizeof answer, &kind), 0);
    cr_assert_eq(kind, RTMP_HANDSHAKE_SIMPLE);
    cr_assert_eq(memcmp(answer + 1 + PACKET, c0c1 + 1, PACKET), 0);
}

Test(rtmp_handshake, extra_bytes_after_c1_are_ignored)
{
    uint8_t c0c1[RTMP_HANDSHAKE_C0C1_SIZE + 100];
    size_t pos = make_digest_c0c1(c0c1, 8, 4);
    memset(c0c1 + RTMP_HANDSHAKE_C0C1_SIZE, 0xAB, 100);
    cr_assert_eq(rtmp_handshake_respond(c0c1, sizeof c0c1, 0, answer, sizeof answer, NULL), 0);
    check_digest_answer(c0c1 + 1, pos);
}

Test(rtmp_handshake, s1_is_random_each_time)
{
    uint8_t c0c1[RTMP_HANDSHAKE_C0C1_SIZE];
    make_digest_c0c1(c0c1, 8, 5);
    static uint8_t first[RTMP_HANDSHAKE_S0S1S2_SIZE];
    cr_assert_eq(rtmp_handshake_respond(c0c1, sizeof c0c1, 0, first, sizeof first, NULL), 0);
    cr_assert_eq(rtmp_handshake_respond(c0c1, sizeof c0c1, 0, answer, sizeof answer, NULL), 0);
    cr_assert_neq(memcmp(first + 9, answer + 9, PACKET - 8), 0);
}

Test(rtmp_handshake, malformed_input)
{
    uint8_t c0c1[RTMP_HANDSHAKE_C0C1_SIZE];
    make_digest_c0c1(c0c1, 8, 6);
    for (size_t len = 0; len < sizeof c0c1; len += 97)
        cr_assert_eq(rtmp_handshake_respond(c0c1, len, 0, answer, sizeof answer, NULL),
                     RTMP_HANDSHAKE_ERR_TRUNCATED);
    cr_assert_eq(rtmp_handshake_respond(c0c1, sizeof c0c1 - 1, 0, answer, sizeof answer, NULL),
                 RTMP_HANDSHAKE_ERR_TRUNCATED);
    cr_assert_eq(rtmp_handshake_respond(c0c1, sizeof c0c1, 0, answer, sizeof answer - 1, NULL),
                 RTMP_HANDSHAKE_ERR_TRUNCATED);
    const uint8_t versions[] = {0, 6, 8, 9, 'G', 0xFF};
    for (size_t i = 0; i < sizeof versions; i++) {
        c0c1[0] = versions[i];
        cr_assert_eq(rtmp_handshake_respond(c0c1, sizeof c0c1, 0, answer, sizeof answer, NULL),
                     RTMP_HANDSHAKE_ERR_VERSION);
    }
    cr_assert_str_eq(rtmp_handshake_strerror(RTMP_HANDSHAKE_ERR_TRUNCATED), "handshake truncated");
}
