/* A direct-mapped cache: a key's slot is fixed by its hash, and a new key in a taken slot
 * replaces the old one, so memory is bounded and a lookup is one comparison. */
#include "api/auth_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    bool used;
    int64_t fetched_at_ms;
    store_api_token_t token; /* owns its strings */
    store_user_t user;       /* owns its strings */
} entry_t;

struct auth_cache {
    pthread_mutex_t lock; /* guards everything below */
    uint64_t generation;  /* bumped by every clear */
    entry_t slots[AUTH_CACHE_SLOTS];
};

/* The slot of a SHA-256 hex digest: its first 8 hex digits (uniform already). */
static size_t slot_of(const char *key_hash)
{
    size_t value = 0;
    for (int i = 0; i < 8 && key_hash[i]; i++) {
        unsigned char c = (unsigned char)key_hash[i];
        value = value * 16 + (c >= 'a' ? (size_t)(c - 'a' + 10) : (size_t)(c & 0x0f));
    }
    return value % AUTH_CACHE_SLOTS;
}

static char *dup_or_null(const char *text)
{
    return text ? strdup(text) : NULL;
}

/* Deep copies; false (both cleared) when out of memory. */
static bool copy_pair(const store_api_token_t *token, const store_user_t *user,
                      store_api_token_t *token_out, store_user_t *user_out)
{
    *token_out = *token;
    *user_out = *user;
    token_out->name = dup_or_null(token->name);
    user_out->name = dup_or_null(user->name);
    user_out->email = dup_or_null(user->email);
    if ((token->name && !token_out->name) || (user->name && !user_out->name) ||
        (user->email && !user_out->email)) {
        store_api_token_clear(token_out);
        store_user_clear(user_out);
        return false;
    }
    return true;
}

static void entry_clear(entry_t *e)
{
    store_api_token_clear(&e->token);
    store_user_clear(&e->user);
    e->used = false;
}

auth_cache_t *auth_cache_new(void)
{
    auth_cache_t *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    if (pthread_mutex_init(&cache->lock, NULL) != 0) {
        free(cache);
        return NULL;
    }
    return cache;
}

void auth_cache_free(auth_cache_t *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i < AUTH_CACHE_SLOTS; i++)
        entry_clear(&cache->slots[i]);
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

uint64_t auth_cache_generation(auth_cache_t *cache)
{
    pthread_mutex_lock(&cache->lock);
    uint64_t generation = cache->generation;
    pthread_mutex_unlock(&cache->lock);
    return generation;
}

bool auth_cache_get(auth_cache_t *cache, const char *key_hash, int64_t now_ms,
                    store_api_token_t *token, store_user_t *user)
{
    memset(token, 0, sizeof *token);
    memset(user, 0, sizeof *user);
    pthread_mutex_lock(&cache->lock);
    entry_t *e = &cache->slots[slot_of(key_hash)];
    bool hit = e->used && strcmp(e->token.key_hash, key_hash) == 0 &&
               now_ms - e->fetched_at_ms < AUTH_CACHE_TTL_MS &&
               copy_pair(&e->token, &e->user, token, user);
    pthread_mutex_unlock(&cache->lock);
    return hit;
}

void auth_cache_put(auth_cache_t *cache, uint64_t generation, const store_api_token_t *token,
                    const store_user_t *user, int64_t now_ms)
{
    store_api_token_t token_copy;
    store_user_t user_copy;
    if (!copy_pair(token, user, &token_copy, &user_copy))
        return;
    pthread_mutex_lock(&cache->lock);
    bool current = generation == cache->generation;
    entry_t *e = &cache->slots[slot_of(token->key_hash)];
    if (current) {
        entry_clear(e);
        *e = (entry_t){
            .used = true, .fetched_at_ms = now_ms, .token = token_copy, .user = user_copy};
    }
    pthread_mutex_unlock(&cache->lock);
    if (!current) {
        store_api_token_clear(&token_copy);
        store_user_clear(&user_copy);
    }
}

void auth_cache_touched(auth_cache_t *cache, const char *key_hash, int64_t last_used_ms)
{
    pthread_mutex_lock(&cache->lock);
    entry_t *e = &cache->slots[slot_of(key_hash)];
    if (e->used && strcmp(e->token.key_hash, key_hash) == 0 && e->token.last_used_ms < last_used_ms)
        e->token.last_used_ms = last_used_ms;
    pthread_mutex_unlock(&cache->lock);
}

void auth_cache_clear(auth_cache_t *cache)
{
    pthread_mutex_lock(&cache->lock);
    for (size_t i = 0; i < AUTH_CACHE_SLOTS; i++)
        entry_clear(&cache->slots[i]);
    cache->generation++;
    pthread_mutex_unlock(&cache->lock);
}
