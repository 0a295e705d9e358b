/* Signing with the private half of an es256_generate pair, as a client of gated playback does:
 * the tests need valid signatures, and streamd itself never signs. Header-only. */
#ifndef STREAMD_TESTS_ES256_TEST_UTIL_H
#define STREAMD_TESTS_ES256_TEST_UTIL_H

#include <criterion/criterion.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "util/es256.h"

/* Signs message with the base64-PEM private key into raw (r || s). */
__attribute__((unused)) static void es256_sign_for_test(const char *private_b64,
                                                        const void *message, size_t len,
                                                        unsigned char raw[ES256_SIGNATURE_SIZE])
{
    unsigned char pem[4096];
    int pem_len =
        EVP_DecodeBlock(pem, (const unsigned char *)private_b64, (int)strlen(private_b64));
    cr_assert_gt(pem_len, 0);
    BIO *bio = BIO_new_mem_buf(pem, pem_len);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    cr_assert_not_null(key);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char der[128];
    size_t der_len = sizeof der;
    cr_assert_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    cr_assert_eq(EVP_DigestSign(ctx, der, &der_len, message, len), 1);
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    cr_assert_not_null(sig);
    memset(raw, 0, ES256_SIGNATURE_SIZE);
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    BIO_free(bio);
}

#endif
