/* Unit tests for playback JWTs: a token made as a client makes one parses and verifies; a
 * tampered, mis-typed or malformed one does not. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_test_util.h"
#include "web/playback_jwt.h"

static char *pub, *priv;

static void setup(void)
{
    cr_assert_eq(es256_generate(&pub, &priv), 0);
}

static void teardown(void)
{
    free(pub);
    free(priv);
}

TestSuite(playback_jwt, .init = setup, .fini = teardown);

static char *claims(const char *sub, long long exp)
{
    char *payload = malloc(4096);
    snprintf(payload, 4096, "{\"sub\":\"%s\",\"pub\":\"%s\",\"exp\":%lld,\"action\":\"pull\"}", sub,
             pub, exp);
    return payload;
}

Test(playback_jwt, a_client_token_parses_and_verifies)
{
    char *payload = claims("abcdefghijklmnop", 1900000000);
    char *token = jwt_make_for_test(priv, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", payload);
    playback_jwt_t jwt;
    char err[128] = "";
    cr_assert_eq(playback_jwt_parse(token, strlen(token), &jwt, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(jwt.sub, "abcdefghijklmnop");
    cr_assert_str_eq(jwt.pub, pub);
    cr_assert_eq(jwt.exp, 1900000000);
    cr_assert(playback_jwt_verify(&jwt, token));
    playback_jwt_clear(&jwt);

    /* One changed byte in the payload: the signature no longer matches. */
    char *dot = strchr(token, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    if (playback_jwt_parse(token, strlen(token), &jwt, err, sizeof err) == 0)
        cr_assert_not(playback_jwt_verify(&jwt, token));
    playback_jwt_clear(&jwt);
    free(token);
    free(payload);
}

Test(playback_jwt, malformed_tokens_are_refused_with_a_reason)
{
    char *payload = claims("abc", 1900000000);
    char *hs256 = jwt_make_for_test(priv, "{\"alg\":\"HS256\"}", payload);
    char *none = jwt_make_for_test(priv, "{\"alg\":\"none\"}", payload);
    char *no_exp =
        jwt_make_for_test(priv, "{\"alg\":\"ES256\"}", "{\"sub\":\"abc\",\"pub\":\"x\"}");
    char *array = jwt_make_for_test(priv, "{\"alg\":\"ES256\"}", "[1,2]");
    const char *bad[] = {"",         "a",   "a.b", "a.b.c.d", "!!.??.**",
                         "e30.e30.", hs256, none,  no_exp,    array};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        playback_jwt_t jwt;
        char err[128] = "";
        cr_assert_eq(playback_jwt_parse(bad[i], strlen(bad[i]), &jwt, err, sizeof err), -1,
                     "token %zu", i);
        cr_assert(err[0], "token %zu has a reason", i);
        cr_assert_null(jwt.pub);
    }
    char *long_token = malloc(PLAYBACK_JWT_MAX + 2);
    memset(long_token, 'a', PLAYBACK_JWT_MAX + 1);
    long_token[PLAYBACK_JWT_MAX + 1] = '\0';
    playback_jwt_t jwt;
    char err[128];
    cr_assert_eq(playback_jwt_parse(long_token, strlen(long_token), &jwt, err, sizeof err), -1);
    free(long_token);
    free(hs256);
    free(none);
    free(no_exp);
    free(array);
    free(payload);
}
