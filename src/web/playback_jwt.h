/* Playback JWTs (gated playback, playbackPolicy type "jwt"), as Studio's signing keys make them:
 * a compact JWS whose header says ES256 and whose payload names the playback id (`sub`), the
 * signing key's public key (`pub`, base64 of its PEM) and an expiry (`exp`, seconds since epoch).
 * Parsing checks the form only; playback_jwt_verify checks the signature with the key the caller
 * found by `pub`. Tokens come from strangers: every length is bounded and every field checked.
 * Pure functions; any thread. */
#ifndef STREAMD_WEB_PLAYBACK_JWT_H
#define STREAMD_WEB_PLAYBACK_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/es256.h"

#define PLAYBACK_JWT_MAX 8192    /* bytes of a token; longer ones are refused */
#define PLAYBACK_JWT_SUB_MAX 128 /* bytes of `sub`, with the NUL */

typedef struct playback_jwt {
    char sub[PLAYBACK_JWT_SUB_MAX]; /* the playback id it grants */
    char *pub;                      /* owned: the signing key's public key (base64 PEM) */
    int64_t exp;                    /* seconds since epoch */
    size_t signed_len;              /* the token's first signed_len bytes are the signed part */
    unsigned char signature[ES256_SIGNATURE_SIZE];
} playback_jwt_t;

/* Parses token (len bytes, no NUL needed). 0, or -1 with the reason in err (malformed, not
 * ES256, a claim missing or of the wrong type). *out is cleared first; free it with
 * playback_jwt_clear. */
int playback_jwt_parse(const char *token, size_t len, playback_jwt_t *out, char *err,
                       size_t err_size);

/* True when jwt (parsed from token) is signed by its `pub` key. */
bool playback_jwt_verify(const playback_jwt_t *jwt, const char *token);

void playback_jwt_clear(playback_jwt_t *jwt);

#endif
