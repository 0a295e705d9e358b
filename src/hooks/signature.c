/* Webhook signatures (signature.h), with OpenSSL's one-shot HMAC. */
#include "hooks/signature.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

int signature_hmac_hex(const char *secret, const void *body, size_t len,
                       char out[SIGNATURE_HEX_LEN + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    out[0] = '\0';
    size_t key_len = strlen(secret);
    if (key_len > INT32_MAX ||
        !HMAC(EVP_sha256(), secret, (int)key_len, body, len, digest, &digest_len) ||
        digest_len * 2 != SIGNATURE_HEX_LEN)
        return -1;
    for (unsigned int i = 0; i < digest_len; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

int signature_header(const char *secret, const void *body, size_t len, int64_t timestamp_ms,
                     char *out, size_t size)
{
    char hex[SIGNATURE_HEX_LEN + 1];
    if (signature_hmac_hex(secret, body, len, hex) != 0)
        return -1;
    int written = snprintf(out, size, "t=%" PRId64 ",v1=%s", timestamp_ms, hex);
    return written < 0 || (size_t)written >= size ? -1 : 0;
}
