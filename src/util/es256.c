/* ES256 keys and signatures (es256.h). */
#include "util/es256.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

/* A PEM the size of a P-256 key is far below this; anything longer is not one. */
#define PEM_MAX 4096

static char *base64_of(const char *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    return out;
}

/* The PEM text a BIO holds, base64-encoded; NULL on failure. */
static char *bio_base64(BIO *bio)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    return len > 0 ? base64_of(data, (size_t)len) : NULL;
}

int es256_generate(char **public_b64, char **private_b64)
{
    *public_b64 = NULL;
    *private_b64 = NULL;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    BIO *pub = BIO_new(BIO_s_mem());
    BIO *priv = BIO_new(BIO_s_mem());
    int rc = -1;
    if (key && pub && priv && PEM_write_bio_PUBKEY(pub, key) == 1 &&
        PEM_write_bio_PrivateKey(priv, key, NULL, NULL, 0, NULL, NULL) == 1) {
        *public_b64 = bio_base64(pub);
        *private_b64 = bio_base64(priv);
        rc = *public_b64 && *private_b64 ? 0 : -1;
    }
    if (rc != 0) {
        free(*public_b64);
        free(*private_b64);
        *public_b64 = *private_b64 = NULL;
    }
    BIO_free(pub);
    BIO_free(priv);
    EVP_PKEY_free(key);
    return rc;
}

/* The P-256 public key whose PEM is base64-encoded in public_b64; NULL otherwise. */
static EVP_PKEY *parse_public(const char *public_b64)
{
    size_t b64_len = strlen(public_b64);
    if (b64_len == 0 || b64_len % 4 != 0 || b64_len / 4 * 3 > PEM_MAX)
        return NULL;
    unsigned char pem[PEM_MAX + 3];
    int len = EVP_DecodeBlock(pem, (const unsigned char *)public_b64, (int)b64_len);
    if (len <= 0)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, len);
    EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    char group[32] = "";
    size_t group_len = 0;
    if (key &&
        (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
         EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &group_len) != 1 ||
         strcmp(group, "prime256v1") != 0)) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    return key;
}

/* JWS carries r || s; OpenSSL verifies DER. Returns the DER length, or -1. */
static int signature_der(const unsigned char raw[ES256_SIGNATURE_SIZE], unsigned char **der)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL);
    BIGNUM *s = BN_bin2bn(raw + 32, 32, NULL);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return -1;
    }
    *der = NULL;
    int len = i2d_ECDSA_SIG(sig, der);
    ECDSA_SIG_free(sig); /* frees r and s */
    return len;
}

int es256_verify(const char *public_b64, const unsigned char *message, size_t message_len,
                 const unsigned char signature[ES256_SIGNATURE_SIZE])
{
    EVP_PKEY *key = parse_public(public_b64);
    unsigned char *der = NULL;
    int der_len = key ? signature_der(signature, &der) : -1;
    EVP_MD_CTX *ctx = der_len > 0 ? EVP_MD_CTX_new() : NULL;
    int valid = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
                EVP_DigestVerify(ctx, der, (size_t)der_len, message, message_len) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    EVP_PKEY_free(key);
    return valid;
}
