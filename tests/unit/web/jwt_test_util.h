/* Playback JWTs as a client makes them, for the tests of the web plane. Header-only. */
#ifndef STREAMD_TESTS_JWT_TEST_UTIL_H
#define STREAMD_TESTS_JWT_TEST_UTIL_H

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/es256_test_util.h"

/* base64url without padding of len bytes. */
__attribute__((unused)) static void b64url(const void *data, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    size_t n = strlen(out);
    while (n && out[n - 1] == '=')
        out[--n] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
}

/* header.payload.signature, signed with the base64-PEM private key priv; the caller frees it. */
__attribute__((unused)) static char *jwt_make_for_test(const char *priv, const char *header,
                                                       const char *payload)
{
    char *token = malloc(16384);
    char h[2048], p[8192], s[128];
    b64url(header, strlen(header), h);
    b64url(payload, strlen(payload), p);
    snprintf(token, 16384, "%s.%s", h, p);
    unsigned char sig[ES256_SIGNATURE_SIZE];
    es256_sign_for_test(priv, token, strlen(token), sig);
    b64url(sig, sizeof sig, s);
    strcat(token, ".");
    strcat(token, s);
    return token;
}

#endif
