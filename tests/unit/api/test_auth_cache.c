/* Unit tests for the authentication cache: hits return copies, a clear drops everything and
 * refuses answers read before it, entries expire, and a slot holds one key at a time. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth_cache.h"

static void pair(const char *hash, const char *name, store_api_token_t *token, store_user_t *user)
{
    memset(token, 0, sizeof *token);
    memset(user, 0, sizeof *user);
    snprintf(token->key_hash, sizeof token->key_hash, "%s", hash);
    snprintf(token->id, sizeof token->id, "token-%s", name);
    snprintf(token->user_id, sizeof token->user_id, "user-%s", name);
    token->name = strdup(name);
    snprintf(user->id, sizeof user->id, "user-%s", name);
    user->name = strdup(name);
    user->email = strdup("someone@example.com");
}

static const char *HASH_A = "00000001aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/* The same slot as HASH_A (the first 8 hex digits, modulo the slot count). */
static const char *HASH_B = "00000401bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

Test(auth_cache, a_hit_returns_copies_the_caller_owns)
{
    auth_cache_t *cache = auth_cache_new();
    store_api_token_t token, got_token;
    store_user_t user, got_user;
    pair(HASH_A, "alice", &token, &user);
    cr_assert_not(auth_cache_get(cache, HASH_A, 1000, &got_token, &got_user));
    auth_cache_put(cache, auth_cache_generation(cache), &token, &user, 1000);
    store_api_token_clear(&token);
    store_user_clear(&user);
    cr_assert(auth_cache_get(cache, HASH_A, 2000, &got_token, &got_user));
    cr_assert_str_eq(got_token.name, "alice");
    cr_assert_str_eq(got_token.user_id, "user-alice");
    cr_assert_str_eq(got_user.email, "someone@example.com");
    store_api_token_clear(&got_token);
    store_user_clear(&got_user);
    auth_cache_touched(cache, HASH_A, 5000);
    cr_assert(auth_cache_get(cache, HASH_A, 6000, &got_token, &got_user));
    cr_assert_eq(got_token.last_used_ms, 5000);
    store_api_token_clear(&got_token);
    store_user_clear(&got_user);
    cr_assert_not(auth_cache_get(cache, HASH_A, 1000 + AUTH_CACHE_TTL_MS, &got_token, &got_user),
                  "an entry expires");
    auth_cache_free(cache);
}

Test(auth_cache, a_clear_drops_entries_and_refuses_answers_read_before_it)
{
    auth_cache_t *cache = auth_cache_new();
    store_api_token_t token, got_token;
    store_user_t user, got_user;
    pair(HASH_A, "alice", &token, &user);
    auth_cache_put(cache, auth_cache_generation(cache), &token, &user, 1000);
    uint64_t before = auth_cache_generation(cache);
    auth_cache_clear(cache);
    cr_assert_not(auth_cache_get(cache, HASH_A, 1000, &got_token, &got_user));
    auth_cache_put(cache, before, &token, &user, 1000); /* read from the store before the clear */
    cr_assert_not(auth_cache_get(cache, HASH_A, 1000, &got_token, &got_user));
    auth_cache_put(cache, auth_cache_generation(cache), &token, &user, 1000);
    cr_assert(auth_cache_get(cache, HASH_A, 1000, &got_token, &got_user));
    store_api_token_clear(&got_token);
    store_user_clear(&got_user);
    store_api_token_clear(&token);
    store_user_clear(&user);
    auth_cache_free(cache);
}

Test(auth_cache, a_slot_holds_one_key)
{
    auth_cache_t *cache = auth_cache_new();
    store_api_token_t a, b, got_token;
    store_user_t ua, ub, got_user;
    pair(HASH_A, "alice", &a, &ua);
    pair(HASH_B, "bob", &b, &ub);
    auth_cache_put(cache, auth_cache_generation(cache), &a, &ua, 1000);
    auth_cache_put(cache, auth_cache_generation(cache), &b, &ub, 1000);
    cr_assert_not(auth_cache_get(cache, HASH_A, 1000, &got_token, &got_user), "replaced");
    cr_assert(auth_cache_get(cache, HASH_B, 1000, &got_token, &got_user));
    cr_assert_str_eq(got_token.name, "bob");
    store_api_token_clear(&got_token);
    store_user_clear(&got_user);
    store_api_token_clear(&a);
    store_user_clear(&ua);
    store_api_token_clear(&b);
    store_user_clear(&ub);
    auth_cache_free(cache);
}
