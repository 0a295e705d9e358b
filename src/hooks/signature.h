/* The Livepeer-Signature header of a webhook delivery: "t=<ms>,v1=<hex>", where hex is the
 * lowercase HMAC-SHA256 of the exact body bytes keyed with the webhook's shared secret (the
 * timestamp is not signed, as in Studio; it equals the body's "timestamp"). Pure functions; any
 * thread. */
#ifndef STREAMD_HOOKS_SIGNATURE_H
#define STREAMD_HOOKS_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#define SIGNATURE_HEX_LEN 64 /* SHA-256: 32 bytes as hex */
#define SIGNATURE_HEADER_MAX (sizeof "t=-9223372036854775808,v1=" + SIGNATURE_HEX_LEN)

/* Writes the lowercase hex HMAC-SHA256 of body (len bytes) keyed with secret into out (65 bytes
 * with the NUL). Returns 0, or -1 when OpenSSL fails (out is then ""). */
int signature_hmac_hex(const char *secret, const void *body, size_t len,
                       char out[SIGNATURE_HEX_LEN + 1]);

/* Writes the header value for body sent at timestamp_ms into out (SIGNATURE_HEADER_MAX bytes).
 * Returns 0 or -1. */
int signature_header(const char *secret, const void *body, size_t len, int64_t timestamp_ms,
                     char *out, size_t size);

#endif
