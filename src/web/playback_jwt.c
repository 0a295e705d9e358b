/* Playback JWT parsing (playback_jwt.h): base64url, the two JSON parts with jansson, the
 * signature with util/es256. */
#include "web/playback_jwt.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/errbuf.h"

/* Decodes base64url text (no padding) into out (size bytes at most); the byte count, or -1. */
static long base64url_decode(const char *text, size_t len, unsigned char *out, size_t size)
{
    if (len % 4 == 1 || len / 4 * 3 + 3 > size)
        return -1;
    char *std = malloc(len + 4);
    if (!std)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            free(std);
            return -1;
        }
        std[i] = c;
    }
    size_t padded = len;
    while (padded % 4)
        std[padded++] = '=';
    int n = EVP_DecodeBlock(out, (const unsigned char *)std, (int)padded);
    free(std);
    return n < 0 ? -1 : n - (long)(padded - len);
}

/* The JSON object in a base64url part; NULL when it is not one. */
static json_t *decode_part(const char *text, size_t len)
{
    unsigned char *buf = malloc(len / 4 * 3 + 4);
    long n = buf ? base64url_decode(text, len, buf, len / 4 * 3 + 4) : -1;
    json_t *value =
        n > 0 ? json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(buf);
    if (value && !json_is_object(value)) {
        json_decref(value);
        value = NULL;
    }
    return value;
}

static int fail(playback_jwt_t *out, char *err, size_t err_size, const char *why)
{
    playback_jwt_clear(out);
    return errbuf_set(err, err_size, -1, "%s", why);
}

int playback_jwt_parse(const char *token, size_t len, playback_jwt_t *out, char *err,
                       size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (len == 0 || len > PLAYBACK_JWT_MAX)
        return fail(out, err, err_size, "token missing or too long");
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return fail(out, err, err_size, "not a compact JWS (three dot-separated parts)");
    json_t *header = decode_part(token, (size_t)(dot1 - token));
    json_t *payload = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *sub = json_string_value(json_object_get(payload, "sub"));
    const char *pub = json_string_value(json_object_get(payload, "pub"));
    json_t *exp = json_object_get(payload, "exp");
    const char *why = !header || !payload            ? "header or payload is not a JSON object"
                      : !alg || strcmp(alg, "ES256") ? "alg is not ES256"
                      : !sub || strlen(sub) >= PLAYBACK_JWT_SUB_MAX ? "sub missing or too long"
                      : !pub || !pub[0]                             ? "pub missing"
                      : !json_is_number(exp)                        ? "exp missing"
                                                                    : NULL;
    if (!why) {
        snprintf(out->sub, sizeof out->sub, "%s", sub);
        out->pub = strdup(pub);
        out->exp = (int64_t)json_number_value(exp);
        out->signed_len = (size_t)(dot2 - token);
        const char *sig = dot2 + 1;
        size_t sig_len = len - (size_t)(sig - token);
        unsigned char raw[ES256_SIGNATURE_SIZE + 4];
        if (!out->pub)
            why = "out of memory";
        else if (base64url_decode(sig, sig_len, raw, sizeof raw) != ES256_SIGNATURE_SIZE)
            why = "signature is not 64 bytes of base64url";
        else
            memcpy(out->signature, raw, ES256_SIGNATURE_SIZE);
    }
    json_decref(header);
    json_decref(payload);
    return why ? fail(out, err, err_size, why) : 0;
}

bool playback_jwt_verify(const playback_jwt_t *jwt, const char *token)
{
    return jwt->pub &&
           es256_verify(jwt->pub, (const unsigned char *)token, jwt->signed_len, jwt->signature);
}

void playback_jwt_clear(playback_jwt_t *jwt)
{
    free(jwt->pub);
    memset(jwt, 0, sizeof *jwt);
}
