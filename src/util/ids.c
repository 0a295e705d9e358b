/* Random identifiers and key hashing on top of OpenSSL. */
#include "util/ids.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char base36[] = "0123456789abcdefghijklmnopqrstuvwxyz";

int ids_uuid_v4(char out[IDS_UUID_LEN + 1])
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, IDS_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}

/* Fills out with n uniformly random base36 chars (rejection sampling avoids modulo bias). */
static int random_base36(char *out, size_t n)
{
    size_t filled = 0;
    while (filled < n) {
        uint8_t b[32];
        if (RAND_bytes(b, sizeof b) != 1)
            return -1;
        for (size_t i = 0; i < sizeof b && filled < n; i++) {
            if (b[i] < 252) /* 252 = 36 * 7 */
                out[filled++] = base36[b[i] % 36];
        }
    }
    return 0;
}

/* The shard prefix: the first 4 chars of the stream id, lowercased, when they are base36. */
static int shard_prefix(const char *stream_id, char out[4])
{
    if (stream_id && strlen(stream_id) >= 4) {
        bool ok = true;
        for (int i = 0; i < 4; i++) {
            char c = (char)tolower((unsigned char)stream_id[i]);
            if (!strchr(base36, c) || c == '\0')
                ok = false;
            out[i] = c;
        }
        if (ok)
            return 0;
    }
    return random_base36(out, 4);
}

int ids_stream_key(const char *stream_id, char out[IDS_STREAM_KEY_LEN + 1])
{
    char chars[16];
    if (shard_prefix(stream_id, chars) != 0 || random_base36(chars + 4, 12) != 0)
        return -1;
    size_t pos = 0;
    for (int i = 0; i < 16; i++) {
        if (i > 0 && i % 4 == 0)
            out[pos++] = '-';
        out[pos++] = chars[i];
    }
    out[pos] = '\0';
    return 0;
}

int ids_playback_id(const char *stream_id, char out[IDS_PLAYBACK_ID_LEN + 1])
{
    if (shard_prefix(stream_id, out) != 0 || random_base36(out + 4, 12) != 0)
        return -1;
    out[IDS_PLAYBACK_ID_LEN] = '\0';
    return 0;
}

bool ids_is_uuid(const char *s)
{
    if (!s || strlen(s) != IDS_UUID_LEN)
        return false;
    for (int i = 0; i < IDS_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

void ids_sha256_hex(const void *data, size_t len, char out[IDS_SHA256_HEX_LEN + 1])
{
    unsigned char digest[32];
    unsigned int digest_len = 0;
    EVP_Digest(data, len, digest, &digest_len, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

bool ids_equal_constant_time(const char *a, const char *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
