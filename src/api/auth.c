/* Authorization header parsing and API key checks, with Studio's error messages. */
#include "api/auth.h"

#include "api/auth_cache.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

/* Recording every use would turn each read into a write; once a minute is enough to show
 * which keys are in use. */
#define TOKEN_TOUCH_INTERVAL_MS 60000

/* Decodes "Basic base64(userId:key)" into the key part (and the user id it claims). */
static int decode_basic(const char *encoded, char *user_id, size_t user_id_size, char *key,
                        size_t key_size)
{
    size_t len = strlen(encoded);
    if (len == 0 || len > 512 || len % 4 != 0)
        return -1;
    unsigned char decoded[400];
    int decoded_len = EVP_DecodeBlock(decoded, (const unsigned char *)encoded, (int)len);
    if (decoded_len < 0)
        return -1;
    /* EVP_DecodeBlock counts padding as output bytes. */
    while (len > 0 && encoded[len - 1] == '=') {
        decoded_len--;
        len--;
    }
    decoded[decoded_len] = '\0';
    char *colon = strchr((char *)decoded, ':');
    if (!colon || (size_t)(colon - (char *)decoded) >= user_id_size ||
        strlen(colon + 1) >= key_size)
        return -1;
    size_t user_id_len = (size_t)(colon - (char *)decoded);
    memcpy(user_id, decoded, user_id_len);
    user_id[user_id_len] = '\0';
    memcpy(key, colon + 1, strlen(colon + 1) + 1);
    return 0;
}

static int reject(api_request_t *req, int status, const char *message)
{
    http_reply_error(req->http, status, "%s", message);
    return -1;
}

/* The token of hash and its user, from the cache or else the store (then cached); a
 * store_status_t. */
static int find_key(api_request_t *req, const char *hash, int64_t now)
{
    auth_cache_t *cache = req->deps->auth_cache;
    if (cache && auth_cache_get(cache, hash, now, &req->token, &req->user))
        return STORE_OK;
    store_t *store = req->deps->store;
    uint64_t generation = cache ? auth_cache_generation(cache) : 0;
    int rc = store_api_token_find(store, hash, &req->token);
    if (rc == STORE_OK)
        rc = store_user_get(store, req->token.user_id, &req->user);
    if (rc == STORE_OK && cache)
        auth_cache_put(cache, generation, &req->token, &req->user, now);
    return rc;
}

static int check_key(api_request_t *req, const char *key, const char *claimed_user_id)
{
    if (key[0] == '\0')
        return reject(req, 401, "no authorization token provided");
    char hash[IDS_SHA256_HEX_LEN + 1];
    ids_sha256_hex(key, strlen(key), hash);
    int64_t now = clock_now_ms();
    int rc = find_key(req, hash, now);
    if (rc == STORE_UNAVAILABLE)
        return reject(req, 503, "database unavailable, retry later");
    if (rc == STORE_NOT_FOUND)
        return reject(req, 401, "no token found");
    if (rc != STORE_OK)
        return reject(req, 500, "Internal server error: store");
    /* The lookup is by hash; compare again in constant time so no timing tells how much of a
     * guessed key matched. */
    if (!ids_equal_constant_time(hash, req->token.key_hash, IDS_SHA256_HEX_LEN) ||
        (claimed_user_id && strcmp(claimed_user_id, req->token.user_id) != 0))
        return reject(req, 401, "no token found");
    if (req->user.suspended)
        return reject(req, 403, "user is suspended");
    if (now - req->token.last_used_ms > TOKEN_TOUCH_INTERVAL_MS &&
        store_api_token_touch(req->deps->store, req->token.id, now) == STORE_OK) {
        req->token.last_used_ms = now;
        if (req->deps->auth_cache)
            auth_cache_touched(req->deps->auth_cache, hash, now);
    }
    req->authenticated = true;
    return 0;
}

int auth_authenticate(api_request_t *req)
{
    const char *header = http_header(req->http, "Authorization");
    if (!header || header[0] == '\0')
        return reject(req, 401, "request is not authenticated");
    const char *space = strchr(header, ' ');
    size_t scheme_len = space ? (size_t)(space - header) : strlen(header);
    const char *credentials = space ? space + 1 : "";
    while (*credentials == ' ')
        credentials++;
    if (scheme_len == 6 && strncasecmp(header, "Bearer", 6) == 0)
        return check_key(req, credentials, NULL);
    if (scheme_len == 5 && strncasecmp(header, "Basic", 5) == 0) {
        char user_id[128], key[256];
        if (decode_basic(credentials, user_id, sizeof user_id, key, sizeof key) != 0)
            return reject(req, 401, "no authorization token provided");
        return check_key(req, key, user_id);
    }
    char scheme[64];
    snprintf(scheme, sizeof scheme, "%.*s", (int)(scheme_len < 63 ? scheme_len : 63), header);
    http_reply_error(req->http, 401, "unsupported authorization header scheme: %s", scheme);
    return -1;
}

int auth_create_key(store_t *store, const store_user_t *user, const char *name,
                    char key_out[AUTH_KEY_SIZE], store_api_token_t *token_out)
{
    if (ids_uuid_v4(key_out) != 0)
        return STORE_ERR;
    return auth_store_key(store, user, name, key_out, token_out);
}

int auth_store_key(store_t *store, const store_user_t *user, const char *name, const char *key,
                   store_api_token_t *token_out)
{
    store_api_token_t token = {0};
    ids_sha256_hex(key, strlen(key), token.key_hash);
    memcpy(token.user_id, user->id, STORE_ID_SIZE);
    memcpy(token.project_id, user->project_id, STORE_ID_SIZE);
    token.name = strdup(name);
    if (!token.name)
        return STORE_ERR;
    int rc = store_api_token_create(store, &token);
    if (rc == STORE_OK && token_out)
        *token_out = token;
    else
        store_api_token_clear(&token);
    return rc;
}
