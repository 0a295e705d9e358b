/* Gated playback (playback_gate.h): two direct-mapped caches (stream policies by media id,
 * verified tokens by their SHA-256), each a slot per hash with the newest entry winning. */
#include "web/playback_gate.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ids.h"
#include "web/playback_jwt.h"

#define POLICY_SLOTS 512
#define TOKEN_SLOTS 512

typedef enum { POLICY_PUBLIC, POLICY_JWT, POLICY_WEBHOOK, POLICY_NO_STREAM } policy_kind_t;

typedef struct policy {
    bool used;
    web_area_t area;
    char id[STORE_ID_SIZE]; /* the playback id or session id asked for */
    policy_kind_t kind;
    char owner[STORE_ID_SIZE];                /* the stream's user */
    char playback_id[STORE_PLAYBACK_ID_SIZE]; /* the stream's */
    int64_t fetched_at_ms;
} policy_t;

typedef struct verified {
    bool used;
    char hash[IDS_SHA256_HEX_LEN + 1]; /* of the token */
    char playback_id[STORE_PLAYBACK_ID_SIZE];
    int64_t expires_ms; /* the token's exp */
    int64_t verified_at_ms;
} verified_t;

struct playback_gate {
    store_t *store;
    pthread_mutex_t lock; /* guards both caches */
    policy_t policies[POLICY_SLOTS];
    verified_t tokens[TOKEN_SLOTS];
};

static size_t slot_of(const char *text, size_t slots)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h % slots);
}

playback_gate_t *playback_gate_new(store_t *store)
{
    playback_gate_t *gate = calloc(1, sizeof *gate);
    if (!gate)
        return NULL;
    if (pthread_mutex_init(&gate->lock, NULL) != 0) {
        free(gate);
        return NULL;
    }
    gate->store = store;
    return gate;
}

void playback_gate_free(playback_gate_t *gate)
{
    if (!gate)
        return;
    pthread_mutex_destroy(&gate->lock);
    free(gate);
}

static policy_kind_t kind_of(const char *policy_json)
{
    json_t *policy = policy_json ? json_loads(policy_json, JSON_DECODE_ANY, NULL) : NULL;
    const char *type = json_string_value(json_object_get(policy, "type"));
    policy_kind_t kind = !type || strcmp(type, "public") == 0 ? POLICY_PUBLIC
                         : strcmp(type, "jwt") == 0           ? POLICY_JWT
                                                              : POLICY_WEBHOOK;
    json_decref(policy);
    return kind;
}

/* The policy of the stream id belongs to, read from the store; a store_status_t. */
static int read_policy(playback_gate_t *gate, web_area_t area, const char *id, policy_t *out)
{
    store_stream_t stream;
    int rc;
    if (area == WEB_AREA_LIVE) {
        rc = store_stream_get_by_playback_id(gate->store, id, &stream);
    } else {
        store_session_t session;
        rc = store_session_get(gate->store, id, &session);
        if (rc == STORE_OK)
            rc = store_stream_get(gate->store, session.parent_id, &stream);
        else
            memset(&stream, 0, sizeof stream);
        store_session_clear(&session);
    }
    if (rc == STORE_OK) {
        out->kind = kind_of(stream.playback_policy_json);
        memcpy(out->owner, stream.user_id, STORE_ID_SIZE);
        memcpy(out->playback_id, stream.playback_id, STORE_PLAYBACK_ID_SIZE);
    } else if (rc == STORE_NOT_FOUND) {
        out->kind = POLICY_NO_STREAM;
        rc = STORE_OK;
    }
    store_stream_clear(&stream);
    return rc;
}

static int policy_of(playback_gate_t *gate, web_area_t area, const char *id, int64_t now_ms,
                     policy_t *out)
{
    size_t slot = slot_of(id, POLICY_SLOTS);
    pthread_mutex_lock(&gate->lock);
    policy_t cached = gate->policies[slot];
    pthread_mutex_unlock(&gate->lock);
    if (cached.used && cached.area == area && strcmp(cached.id, id) == 0 &&
        now_ms - cached.fetched_at_ms < PLAYBACK_GATE_POLICY_TTL_MS) {
        *out = cached;
        return STORE_OK;
    }
    memset(out, 0, sizeof *out);
    int rc = read_policy(gate, area, id, out);
    if (rc != STORE_OK)
        return rc;
    out->used = true;
    out->area = area;
    snprintf(out->id, sizeof out->id, "%s", id);
    out->fetched_at_ms = now_ms;
    pthread_mutex_lock(&gate->lock);
    gate->policies[slot] = *out;
    pthread_mutex_unlock(&gate->lock);
    return STORE_OK;
}

static void refuse(playback_gate_decision_t *out, int status, const char *reason)
{
    out->status = status;
    snprintf(out->reason, sizeof out->reason, "%s", reason);
}

/* Checks token against the policy in full: claims, key, signature. */
static void verify_token(playback_gate_t *gate, const policy_t *policy, const char *token,
                         int64_t now_ms, playback_gate_decision_t *out)
{
    playback_jwt_t jwt;
    char err[128];
    if (playback_jwt_parse(token, strlen(token), &jwt, err, sizeof err) != 0) {
        char reason[160];
        snprintf(reason, sizeof reason, "invalid playback token: %s", err);
        refuse(out, 401, reason);
        return;
    }
    store_signing_key_t key = {0};
    int rc = STORE_OK;
    if (strcmp(jwt.sub, policy->playback_id) != 0)
        refuse(out, 403, "the token is for another playback id");
    else if (jwt.exp * 1000 <= now_ms)
        refuse(out, 403, "the token has expired");
    else if ((rc = store_signing_key_find(gate->store, jwt.pub, &key)) == STORE_UNAVAILABLE)
        refuse(out, 503, "database unavailable, retry later");
    else if (rc != STORE_OK)
        refuse(out, 403, "the token is signed by an unknown key");
    else if (strcmp(key.user_id, policy->owner) != 0)
        refuse(out, 403, "the token is signed by a key of another user");
    else if (key.disabled)
        refuse(out, 403, "the token's signing key is disabled");
    else if (!playback_jwt_verify(&jwt, token))
        refuse(out, 403, "the token's signature is not valid");
    if (out->status == 0) {
        verified_t v = {.used = true, .expires_ms = jwt.exp * 1000, .verified_at_ms = now_ms};
        ids_sha256_hex(token, strlen(token), v.hash);
        memcpy(v.playback_id, policy->playback_id, STORE_PLAYBACK_ID_SIZE);
        pthread_mutex_lock(&gate->lock);
        gate->tokens[slot_of(v.hash, TOKEN_SLOTS)] = v;
        pthread_mutex_unlock(&gate->lock);
    }
    store_signing_key_clear(&key);
    playback_jwt_clear(&jwt);
}

/* True when token was verified lately for playback_id and has not expired. */
static bool verified_lately(playback_gate_t *gate, const char *token, const char *playback_id,
                            int64_t now_ms)
{
    char hash[IDS_SHA256_HEX_LEN + 1];
    ids_sha256_hex(token, strlen(token), hash);
    pthread_mutex_lock(&gate->lock);
    const verified_t *v = &gate->tokens[slot_of(hash, TOKEN_SLOTS)];
    bool ok = v->used && strcmp(v->hash, hash) == 0 && strcmp(v->playback_id, playback_id) == 0 &&
              now_ms < v->expires_ms && now_ms - v->verified_at_ms < PLAYBACK_GATE_TOKEN_TTL_MS;
    pthread_mutex_unlock(&gate->lock);
    return ok;
}

void playback_gate_check(playback_gate_t *gate, web_area_t area, const char *id, const char *token,
                         int64_t now_ms, playback_gate_decision_t *out)
{
    memset(out, 0, sizeof *out);
    policy_t policy;
    int rc = policy_of(gate, area, id, now_ms, &policy);
    if (rc != STORE_OK) {
        refuse(out, rc == STORE_UNAVAILABLE ? 503 : 500,
               rc == STORE_UNAVAILABLE ? "database unavailable, retry later"
                                       : "Internal server error: store");
        return;
    }
    if (policy.kind == POLICY_PUBLIC || policy.kind == POLICY_NO_STREAM)
        return;
    if (policy.kind == POLICY_WEBHOOK) {
        refuse(out, 403, "this stream's webhook playback policy is not supported yet");
        return;
    }
    out->needs_token = 1;
    if (!token || !token[0]) {
        refuse(out, 401, "this stream needs a playback token (?jwt= or Livepeer-Jwt)");
        return;
    }
    if (strlen(token) > PLAYBACK_JWT_MAX) {
        refuse(out, 401, "invalid playback token: too long");
        return;
    }
    if (!verified_lately(gate, token, policy.playback_id, now_ms))
        verify_token(gate, &policy, token, now_ms, out);
}
