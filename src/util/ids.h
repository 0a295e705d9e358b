/* Identifiers: UUIDv4 ids, stream keys and playback ids (Studio's formats), API key hashing.
 * All randomness comes from OpenSSL's CSPRNG. Thread-safe. */
#ifndef STREAMD_UTIL_IDS_H
#define STREAMD_UTIL_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define IDS_UUID_LEN 36        /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */
#define IDS_STREAM_KEY_LEN 19  /* "xxxx-xxxx-xxxx-xxxx", base36 */
#define IDS_PLAYBACK_ID_LEN 16 /* 16 base36 chars */
#define IDS_SHA256_HEX_LEN 64

/* Writes a random UUIDv4 and a NUL into out; returns 0, or -1 when the CSPRNG fails. */
int ids_uuid_v4(char out[IDS_UUID_LEN + 1]);

/* Writes a stream key: 4 groups of 4 base36 chars whose first group is the first 4 chars of
 * stream_id (a shard prefix, as Studio does). Returns 0 or -1. */
int ids_stream_key(const char *stream_id, char out[IDS_STREAM_KEY_LEN + 1]);

/* Writes a playback id: the stream-key form with the dashes removed (16 base36 chars). */
int ids_playback_id(const char *stream_id, char out[IDS_PLAYBACK_ID_LEN + 1]);

/* True when s is a canonical lowercase or uppercase UUID string. */
bool ids_is_uuid(const char *s);

/* Writes the lowercase hex SHA-256 of data into out (65 bytes with the NUL). */
void ids_sha256_hex(const void *data, size_t len, char out[IDS_SHA256_HEX_LEN + 1]);

/* Compares two equal-length strings in time independent of their content. */
bool ids_equal_constant_time(const char *a, const char *b, size_t len);

#endif
