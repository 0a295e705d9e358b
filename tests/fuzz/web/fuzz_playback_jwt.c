/* libFuzzer harness: playback JWTs from strangers (?jwt=, the Livepeer-Jwt header). */
/* fuzz-sources: src/web/playback_jwt.c src/util/es256.c src/util/errbuf.c */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "web/playback_jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    playback_jwt_t jwt;
    char err[128];
    if (playback_jwt_parse((const char *)data, size, &jwt, err, sizeof err) == 0) {
        /* Verification reads the key from the token too: a stranger's input as well. */
        char token[PLAYBACK_JWT_MAX + 1];
        memcpy(token, data, size);
        token[size] = '\0';
        (void)playback_jwt_verify(&jwt, token);
    }
    playback_jwt_clear(&jwt);
    return 0;
}
