/* Gated playback (playback_gate.h): three direct-mapped caches (stream policies by media id,
 * verified tokens by their SHA-256, access-key answers by the SHA-256 of playback id and key),
 * each a slot per hash with the newest entry winning. */
#include "web/playback_gate.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_webhooks.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"
#include "web/playback_jwt.h"

#define POLICY_SLOTS 512
#define TOKEN_SLOTS 512
#define ACCESS_SLOTS 512
#define ACCESS_REFRESH_DEFAULT_MS (600 * 1000) /* Studio's refreshInterval default */
#define ACCESS_UNREACHABLE_TTL_MS 2000         /* long enough for the waiting request to read */

typedef enum { POLICY_PUBLIC, POLICY_JWT, POLICY_WEBHOOK, POLICY_NO_STREAM } policy_kind_t;

typedef struct policy {
    bool used;
    web_area_t area;
    char id[STORE_ID_SIZE]; /* the playback id or session id asked for */
    policy_kind_t kind;
    char owner[STORE_ID_SIZE];                /* the stream's user */
    char playback_id[STORE_PLAYBACK_ID_SIZE]; /* the stream's */
    char webhook_id[STORE_ID_SIZE];           /* POLICY_WEBHOOK: the webhook asked */
    int64_t refresh_ms;                       /* POLICY_WEBHOOK: how long a yes holds */
    int64_t fetched_at_ms;
} policy_t;

typedef struct verified {
    bool used;
    char hash[IDS_SHA256_HEX_LEN + 1]; /* of the token */
    char playback_id[STORE_PLAYBACK_ID_SIZE];
    int64_t expires_ms; /* the token's exp */
    int64_t verified_at_ms;
} verified_t;

/* The webhook's answer about an access key for a playback id. */
typedef struct answered {
    bool used;
    char hash[IDS_SHA256_HEX_LEN + 1]; /* of playback id and key */
    int status;                        /* 0: let in; else the refusal's */
    char reason[160];
    int64_t answered_at_ms;
    int64_t ttl_ms;
} answered_t;

struct playback_gate {
    store_t *store;
    playback_access_post_t post;
    void *poster;
    pthread_mutex_t lock; /* guards the caches */
    policy_t policies[POLICY_SLOTS];
    verified_t tokens[TOKEN_SLOTS];
    answered_t answers[ACCESS_SLOTS];
};

/* An access check on its way. */
typedef struct asking {
    playback_gate_t *gate;
    char hash[IDS_SHA256_HEX_LEN + 1];
    char playback_id[STORE_PLAYBACK_ID_SIZE];
    int64_t refresh_ms;
    void (*wake)(void *opaque);
    void *wake_opaque;
} asking_t;

static size_t slot_of(const char *text, size_t slots)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h % slots);
}

playback_gate_t *playback_gate_new(store_t *store, playback_access_post_t post, void *poster)
{
    playback_gate_t *gate = calloc(1, sizeof *gate);
    if (!gate)
        return NULL;
    if (pthread_mutex_init(&gate->lock, NULL) != 0) {
        free(gate);
        return NULL;
    }
    gate->store = store;
    gate->post = post;
    gate->poster = poster;
    return gate;
}

void playback_gate_free(playback_gate_t *gate)
{
    if (!gate)
        return;
    pthread_mutex_destroy(&gate->lock);
    free(gate);
}

/* The kind of policy_json, and for a webhook policy its webhook and refresh interval. */
static void parse_policy(const char *policy_json, policy_t *out)
{
    json_t *policy = policy_json ? json_loads(policy_json, JSON_DECODE_ANY, NULL) : NULL;
    const char *type = json_string_value(json_object_get(policy, "type"));
    out->kind = !type || strcmp(type, "public") == 0 ? POLICY_PUBLIC
                : strcmp(type, "jwt") == 0           ? POLICY_JWT
                                                     : POLICY_WEBHOOK;
    const char *webhook_id = json_string_value(json_object_get(policy, "webhookId"));
    snprintf(out->webhook_id, sizeof out->webhook_id, "%s", webhook_id ? webhook_id : "");
    json_t *refresh = json_object_get(policy, "refreshInterval");
    out->refresh_ms = json_is_number(refresh) && json_number_value(refresh) > 0
                          ? (int64_t)(json_number_value(refresh) * 1000)
                          : ACCESS_REFRESH_DEFAULT_MS;
    json_decref(policy);
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
        parse_policy(stream.playback_policy_json, out);
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

/* Marks out as passing value on as query parameter name; false (refused 401) when value is
 * absent ("this stream needs <needed>") or longer than max ("invalid <what>: too long"). */
static bool credential_given(playback_gate_decision_t *out, const char *name, const char *value,
                             size_t max, const char *needed, const char *what)
{
    out->pass_name = name;
    out->pass_value = value;
    char reason[160];
    if (!value)
        snprintf(reason, sizeof reason, "this stream needs %s", needed);
    else if (strlen(value) > max)
        snprintf(reason, sizeof reason, "invalid %s: too long", what);
    else
        return true;
    refuse(out, 401, reason);
    return false;
}

/* The hash an access key's answer is kept under: playback id and key together. */
static void access_hash(const char *playback_id, const char *access_key,
                        char out[IDS_SHA256_HEX_LEN + 1])
{
    size_t id_len = strlen(playback_id), key_len = strlen(access_key);
    char text[STORE_PLAYBACK_ID_SIZE + 1 + PLAYBACK_GATE_ACCESS_KEY_MAX + 1];
    memcpy(text, playback_id, id_len);
    text[id_len] = '\n';
    memcpy(text + id_len + 1, access_key, key_len);
    ids_sha256_hex(text, id_len + 1 + key_len, out);
}

/* True (with the answer in out) when the webhook answered about hash lately. */
static bool answered_lately(playback_gate_t *gate, const char *hash, int64_t now_ms,
                            playback_gate_decision_t *out)
{
    pthread_mutex_lock(&gate->lock);
    const answered_t *a = &gate->answers[slot_of(hash, ACCESS_SLOTS)];
    bool fresh = a->used && strcmp(a->hash, hash) == 0 && now_ms - a->answered_at_ms < a->ttl_ms;
    if (fresh && a->status)
        refuse(out, a->status, a->reason);
    pthread_mutex_unlock(&gate->lock);
    return fresh;
}

static void keep_answer(playback_gate_t *gate, const char *hash, int status, const char *reason,
                        int64_t ttl_ms)
{
    answered_t a = {
        .used = true, .status = status, .answered_at_ms = clock_now_ms(), .ttl_ms = ttl_ms};
    snprintf(a.hash, sizeof a.hash, "%s", hash);
    snprintf(a.reason, sizeof a.reason, "%s", reason);
    pthread_mutex_lock(&gate->lock);
    gate->answers[slot_of(hash, ACCESS_SLOTS)] = a;
    pthread_mutex_unlock(&gate->lock);
}

static void check_access_key(playback_gate_t *gate, const policy_t *policy, const char *access_key,
                             int64_t now_ms, bool resumed, playback_gate_decision_t *out)
{
    if (!credential_given(out, "accessKey", access_key, PLAYBACK_GATE_ACCESS_KEY_MAX,
                          "an access key (?accessKey= or Livepeer-Access-Key)", "access key"))
        return;
    char hash[IDS_SHA256_HEX_LEN + 1];
    access_hash(policy->playback_id, access_key, hash);
    if (answered_lately(gate, hash, now_ms, out))
        return;
    if (resumed) { /* asked, but its answer was pushed out of the cache meanwhile */
        refuse(out, 503, "the access check's answer was not kept, retry");
        return;
    }
    out->wait = true;
    memcpy(out->ask.hash, hash, sizeof hash);
    memcpy(out->ask.owner, policy->owner, STORE_ID_SIZE);
    memcpy(out->ask.playback_id, policy->playback_id, STORE_PLAYBACK_ID_SIZE);
    memcpy(out->ask.webhook_id, policy->webhook_id, STORE_ID_SIZE);
    out->ask.refresh_ms = policy->refresh_ms;
    snprintf(out->ask.access_key, sizeof out->ask.access_key, "%s", access_key);
}

void playback_gate_check(playback_gate_t *gate, web_area_t area, const char *id,
                         const playback_credentials_t *credentials, int64_t now_ms, bool resumed,
                         playback_gate_decision_t *out)
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
        check_access_key(gate, &policy, credentials->access_key, now_ms, resumed, out);
        return;
    }
    const char *token = credentials->token;
    if (!credential_given(out, "jwt", token, PLAYBACK_JWT_MAX,
                          "a playback token (?jwt= or Livepeer-Jwt)", "playback token"))
        return;
    if (!verified_lately(gate, token, policy.playback_id, now_ms))
        verify_token(gate, &policy, token, now_ms, out);
}

/* ---- Asking the webhook -------------------------------------------------------------------- */

static void on_answer(void *opaque, long status, const char *error)
{
    asking_t *asking = opaque;
    char reason[160];
    if (status >= 200 && status < 300) {
        keep_answer(asking->gate, asking->hash, 0, "", asking->refresh_ms);
    } else if (status > 0) {
        snprintf(reason, sizeof reason, "the access webhook refused playback (HTTP %ld)", status);
        keep_answer(asking->gate, asking->hash, 403, reason, PLAYBACK_GATE_TOKEN_TTL_MS);
    } else {
        snprintf(reason, sizeof reason, "the access webhook could not be asked: %s",
                 error ? error : "no answer");
        keep_answer(asking->gate, asking->hash, 503, reason, ACCESS_UNREACHABLE_TTL_MS);
    }
    log_info("web", "access check for playback %s: %s", asking->playback_id,
             status >= 200 && status < 300 ? "let in" : reason);
    asking->wake(asking->wake_opaque);
    free(asking);
}

/* {accessKey, context, timestamp} for the stream of playback_id; NULL when out of memory. */
static char *question_body(playback_gate_t *gate, const char *playback_id, const char *access_key)
{
    store_stream_t stream;
    json_t *context = NULL;
    if (store_stream_get_by_playback_id(gate->store, playback_id, &stream) == STORE_OK) {
        json_t *policy = stream.playback_policy_json
                             ? json_loads(stream.playback_policy_json, JSON_DECODE_ANY, NULL)
                             : NULL;
        context = json_incref(json_object_get(policy, "webhookContext"));
        json_decref(policy);
    }
    store_stream_clear(&stream);
    json_t *body =
        json_pack("{s:s,s:I}", "accessKey", access_key, "timestamp", (json_int_t)clock_now_ms());
    if (body && context)
        json_object_set(body, "context", context);
    json_decref(context);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return text;
}

void playback_gate_await(playback_gate_t *gate, const playback_gate_decision_t *decision,
                         void (*wake)(void *opaque), void *opaque)
{
    const char *hash = decision->ask.hash;
    store_webhook_t webhook = {0};
    int rc = gate->post ? store_webhook_get(gate->store, decision->ask.owner,
                                            decision->ask.webhook_id, &webhook)
                        : STORE_ERR;
    asking_t *asking = rc == STORE_OK ? calloc(1, sizeof *asking) : NULL;
    char *body =
        asking ? question_body(gate, decision->ask.playback_id, decision->ask.access_key) : NULL;
    if (asking && body) {
        asking->gate = gate;
        memcpy(asking->hash, hash, sizeof asking->hash);
        memcpy(asking->playback_id, decision->ask.playback_id, sizeof asking->playback_id);
        asking->refresh_ms = decision->ask.refresh_ms;
        asking->wake = wake;
        asking->wake_opaque = opaque;
        if (gate->post(gate->poster, webhook.url, webhook.shared_secret, body, on_answer, asking) ==
            0) {
            store_webhook_clear(&webhook);
            return;
        }
        body = NULL; /* taken */
    }
    free(body);
    free(asking);
    store_webhook_clear(&webhook);
    if (rc == STORE_NOT_FOUND)
        keep_answer(gate, hash, 403, "the playback policy's webhook does not exist",
                    PLAYBACK_GATE_TOKEN_TTL_MS);
    else if (rc == STORE_UNAVAILABLE)
        keep_answer(gate, hash, 503, "database unavailable, retry later",
                    ACCESS_UNREACHABLE_TTL_MS);
    else
        keep_answer(gate, hash, 503, "the access webhook cannot be asked now, retry",
                    ACCESS_UNREACHABLE_TTL_MS);
    wake(opaque);
}
