/* The authentication cache: the API keys (by the SHA-256 of the secret) that authenticated
 * lately, with their token and user, so that a request with a known key costs no store lookup.
 * It is dropped whole whenever a key or a user changes on any node (store_watch_auth), and an
 * entry never outlives AUTH_CACHE_TTL_MS, a bound for a change the store could not report.
 *
 * Owns: its entries (copies). Thread-safe: every call takes the cache's lock. */
#ifndef STREAMD_API_AUTH_CACHE_H
#define STREAMD_API_AUTH_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define AUTH_CACHE_SLOTS 1024
#define AUTH_CACHE_TTL_MS (5 * 60 * 1000)

typedef struct auth_cache auth_cache_t;

/* NULL when out of memory. */
auth_cache_t *auth_cache_new(void);
void auth_cache_free(auth_cache_t *cache);

/* The cache's generation, to be read before a store lookup and given to auth_cache_put: an
 * answer read before a clear is not kept after it. */
uint64_t auth_cache_generation(auth_cache_t *cache);

/* Copies the token and user cached for key_hash into *token and *user (the caller clears them)
 * and returns true; false (outputs zeroed) when not cached or older than the TTL at now_ms. */
bool auth_cache_get(auth_cache_t *cache, const char *key_hash, int64_t now_ms,
                    store_api_token_t *token, store_user_t *user);

/* Keeps copies of token (found by its key_hash) and user, read from the store at now_ms, unless
 * the cache was cleared since generation was read. Out of memory: nothing is kept. */
void auth_cache_put(auth_cache_t *cache, uint64_t generation, const store_api_token_t *token,
                    const store_user_t *user, int64_t now_ms);

/* Notes a use of the token of key_hash recorded in the store (its last_used_ms). */
void auth_cache_touched(auth_cache_t *cache, const char *key_hash, int64_t last_used_ms);

/* Drops every entry: a key or a user changed. Any thread (the store's watcher). */
void auth_cache_clear(auth_cache_t *cache);

#endif
