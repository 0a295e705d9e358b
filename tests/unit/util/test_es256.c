/* Unit tests for ES256: a generated pair verifies its own signatures and nothing else. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "es256_test_util.h"
#include "util/es256.h"

Test(es256, a_pair_verifies_its_signatures_only)
{
    char *pub = NULL, *priv = NULL, *other_pub = NULL, *other_priv = NULL;
    cr_assert_eq(es256_generate(&pub, &priv), 0);
    cr_assert_eq(es256_generate(&other_pub, &other_priv), 0);
    cr_assert_str_neq(pub, other_pub);
    const char message[] = "header.payload";
    unsigned char sig[ES256_SIGNATURE_SIZE];
    es256_sign_for_test(priv, message, strlen(message), sig);
    cr_assert(es256_verify(pub, (const unsigned char *)message, strlen(message), sig));
    cr_assert_not(es256_verify(other_pub, (const unsigned char *)message, strlen(message), sig),
                  "another key");
    cr_assert_not(es256_verify(pub, (const unsigned char *)"header.payloaX", strlen(message), sig),
                  "another message");
    sig[10] ^= 1;
    cr_assert_not(es256_verify(pub, (const unsigned char *)message, strlen(message), sig));
    cr_assert_not(es256_verify("", (const unsigned char *)message, 1, sig), "no key");
    cr_assert_not(es256_verify("bm90IGEgcGVt", (const unsigned char *)message, 1, sig),
                  "not a PEM");
    free(pub);
    free(priv);
    free(other_pub);
    free(other_priv);
}
