/* ES256 (ECDSA on P-256 with SHA-256) for playback JWTs, on OpenSSL: key pairs in the form the API
 * shows them (base64 of the PEM, as Studio's signing keys) and signature checks. Pure functions;
 * any thread. */
#ifndef STREAMD_UTIL_ES256_H
#define STREAMD_UTIL_ES256_H

#include <stddef.h>

#define ES256_SIGNATURE_SIZE 64 /* r || s, 32 bytes each, as JWS carries it */

/* A new key pair: *public_b64 (SubjectPublicKeyInfo PEM) and *private_b64 (PKCS#8 PEM), each
 * base64-encoded, for the caller to free. 0, or -1 when OpenSSL fails. */
int es256_generate(char **public_b64, char **private_b64);

/* True when signature (r || s) is valid over message for the key public_b64 (as es256_generate
 * writes it). A key that does not parse, or is not P-256, verifies nothing. */
int es256_verify(const char *public_b64, const unsigned char *message, size_t message_len,
                 const unsigned char signature[ES256_SIGNATURE_SIZE]);

#endif
