/* Unit tests for gated playback decisions against a real store: public and unknown media pass;
 * a jwt stream needs a token of its owner's enabled key for its playback id, unexpired; a webhook
 * stream needs an access key its owner's webhook answers 2xx for (the post is captured here and
 * answered by the test; tests/e2e/playback_webhook.test.mjs posts for real); a recording follows
 * its stream's policy. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/session_test_util.h"
#include "jwt_test_util.h"
#include "../media/live_test_util.h"
#include "store/store_webhooks.h"
#include "util/clock.h"
#include "web/playback_gate.h"

/* The posts the gate made, answered when the test says. */
typedef struct poster {
    int posts;
    bool refuse; /* the post cannot be made */
    char url[256], secret[128];
    json_t *body;
    playback_access_done_t done;
    void *context;
} poster_t;

static poster_t poster;
static int wakes;

static int capture_post(void *opaque, const char *url, const char *secret, char *body,
                        playback_access_done_t done, void *context)
{
    poster_t *p = opaque;
    if (p->refuse) {
        free(body);
        return -1;
    }
    p->posts++;
    snprintf(p->url, sizeof p->url, "%s", url);
    snprintf(p->secret, sizeof p->secret, "%s", secret);
    json_decref(p->body);
    p->body = json_loads(body, 0, NULL);
    free(body);
    p->done = done;
    p->context = context;
    return 0;
}

static void count_wake(void *opaque)
{
    (void)opaque;
    wakes++;
}

static playback_gate_t *gate;
static store_signing_key_t key;
static char *priv;

static void setup(void)
{
    live_fixture_setup_store();
    memset(&poster, 0, sizeof poster);
    wakes = 0;
    gate = playback_gate_new(fx.store, capture_post, &poster);
    cr_assert_not_null(gate);
    memcpy(key.user_id, fx.user.id, STORE_ID_SIZE);
    memcpy(key.project_id, fx.user.project_id, STORE_ID_SIZE);
    key.name = strdup("player");
    cr_assert_eq(es256_generate(&key.public_key, &priv), 0);
    cr_assert_eq(store_signing_key_create(fx.store, &key), STORE_OK);
}

static void teardown(void)
{
    store_signing_key_clear(&key);
    free(priv);
    playback_gate_free(gate);
    json_decref(poster.body);
    live_fixture_teardown();
}

TestSuite(playback_gate, .init = setup, .fini = teardown);

static void stream_with_policy(store_stream_t *s, const char *policy)
{
    make_stream(s, "gated", false);
    s->playback_policy_json = policy ? strdup(policy) : NULL;
    cr_assert_eq(store_stream_update(fx.store, s), STORE_OK);
}

static char *token_for(const char *sub, int64_t exp)
{
    char payload[2048];
    snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"pub\":\"%s\",\"exp\":%lld}", sub,
             key.public_key, (long long)exp);
    return jwt_make_for_test(priv, "{\"alg\":\"ES256\"}", payload);
}

static int decide(web_area_t area, const char *id, const char *token)
{
    playback_gate_decision_t d;
    playback_credentials_t credentials = {.token = token};
    playback_gate_check(gate, area, id, &credentials, clock_now_ms(), false, &d);
    if (d.status)
        cr_assert(d.reason[0], "a refusal says why");
    return d.status;
}

Test(playback_gate, public_and_unknown_media_pass)
{
    store_stream_t open, explicit_public;
    stream_with_policy(&open, NULL);
    stream_with_policy(&explicit_public, "{\"type\":\"public\"}");
    cr_assert_eq(decide(WEB_AREA_LIVE, open.playback_id, NULL), 0);
    cr_assert_eq(decide(WEB_AREA_LIVE, explicit_public.playback_id, NULL), 0);
    cr_assert_eq(decide(WEB_AREA_LIVE, "nosuchplayback00", NULL), 0, "the file answers 404");
    cr_assert_eq(decide(WEB_AREA_RECORDING, "no-such-session", NULL), 0);
    store_stream_clear(&open);
    store_stream_clear(&explicit_public);
}

Test(playback_gate, a_jwt_stream_needs_a_valid_token_of_its_owner)
{
    store_stream_t s, other;
    stream_with_policy(&s, "{\"type\":\"jwt\"}");
    stream_with_policy(&other, NULL);
    int64_t hour = clock_now_ms() / 1000 + 3600;
    char *good = token_for(s.playback_id, hour);
    char *expired = token_for(s.playback_id, clock_now_ms() / 1000 - 5);
    char *elsewhere = token_for(other.playback_id, hour);
    cr_assert_eq(decide(WEB_AREA_LIVE, s.playback_id, NULL), 401);
    cr_assert_eq(decide(WEB_AREA_LIVE, s.playback_id, ""), 401);
    cr_assert_eq(decide(WEB_AREA_LIVE, s.playback_id, "x.y.z"), 401);
    cr_assert_eq(decide(WEB_AREA_LIVE, s.playback_id, expired), 403);
    cr_assert_eq(decide(WEB_AREA_LIVE, s.playback_id, elsewhere), 403);
    cr_assert_eq(decide(WEB_AREA_LIVE, s.playback_id, good), 0);
    cr_assert_eq(decide(WEB_AREA_LIVE, s.playback_id, good), 0, "again, from the cache");

    /* A recording of the stream follows its policy. */
    store_session_t session;
    session_of_stream(&session, &s);
    cr_assert_eq(store_session_insert(fx.store, &session), STORE_OK);
    cr_assert_eq(decide(WEB_AREA_RECORDING, session.id, NULL), 401);
    cr_assert_eq(decide(WEB_AREA_RECORDING, session.id, good), 0);

    /* A disabled key signs nothing valid (once the verified token leaves the cache). */
    key.disabled = true;
    cr_assert_eq(store_signing_key_update(fx.store, &key), STORE_OK);
    char *fresh = token_for(s.playback_id, hour + 1);
    cr_assert_eq(decide(WEB_AREA_LIVE, s.playback_id, fresh), 403);
    free(fresh);
    store_session_clear(&session);
    free(good);
    free(expired);
    free(elsewhere);
    store_stream_clear(&s);
    store_stream_clear(&other);
}

Test(playback_gate, a_key_of_another_user_is_refused)
{
    store_user_t mallory = {.name = strdup("mallory")};
    cr_assert_eq(store_user_create(fx.store, &mallory), STORE_OK);
    store_signing_key_t theirs = {0};
    char *their_priv = NULL;
    memcpy(theirs.user_id, mallory.id, STORE_ID_SIZE);
    memcpy(theirs.project_id, mallory.project_id, STORE_ID_SIZE);
    theirs.name = strdup("theirs");
    cr_assert_eq(es256_generate(&theirs.public_key, &their_priv), 0);
    cr_assert_eq(store_signing_key_create(fx.store, &theirs), STORE_OK);
    store_stream_t s;
    stream_with_policy(&s, "{\"type\":\"jwt\"}");
    char payload[2048];
    snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"pub\":\"%s\",\"exp\":%lld}", s.playback_id,
             theirs.public_key, (long long)(clock_now_ms() / 1000 + 3600));
    char *token = jwt_make_for_test(their_priv, "{\"alg\":\"ES256\"}", payload);
    cr_assert_eq(decide(WEB_AREA_LIVE, s.playback_id, token), 403);
    free(token);
    free(their_priv);
    store_signing_key_clear(&theirs);
    store_user_clear(&mallory);
    store_stream_clear(&s);
}

/* ---- The webhook policy ---- */

static void webhook_of(const char *user_id, const char *project_id, store_webhook_t *w)
{
    memset(w, 0, sizeof *w);
    memcpy(w->user_id, user_id, STORE_ID_SIZE);
    memcpy(w->project_id, project_id, STORE_ID_SIZE);
    w->name = strdup("access");
    w->url = strdup("http://gate.example/check");
    w->events_json = strdup("[\"playback.accessControl\"]");
    w->shared_secret = strdup("s3cret");
    cr_assert_eq(store_webhook_create(fx.store, w), STORE_OK);
}

static void hooked_stream(store_stream_t *s, const char *webhook_id, const char *extra)
{
    char policy[512];
    snprintf(policy, sizeof policy, "{\"type\":\"webhook\",\"webhookId\":\"%s\"%s}", webhook_id,
             extra);
    stream_with_policy(s, policy);
}

static playback_gate_decision_t check_key(web_area_t area, const char *id, const char *key,
                                          bool resumed)
{
    playback_gate_decision_t d;
    playback_credentials_t credentials = {.access_key = key};
    playback_gate_check(gate, area, id, &credentials, clock_now_ms(), resumed, &d);
    return d;
}

/* Decides, and when the gate must ask, asks and answers with status (0: error). */
static playback_gate_decision_t ask_and_answer(const char *id, const char *key, long status)
{
    playback_gate_decision_t d = check_key(WEB_AREA_LIVE, id, key, false);
    if (!d.wait)
        return d;
    int before = wakes;
    playback_gate_await(gate, &d, count_wake, NULL);
    if (wakes == before) {
        cr_assert_not_null(poster.done, "the gate posted");
        poster.done(poster.context, status, status ? NULL : "Connection refused");
        poster.done = NULL;
    }
    cr_assert_eq(wakes, before + 1, "woken exactly once");
    d = check_key(WEB_AREA_LIVE, id, key, true);
    cr_assert_not(d.wait, "a resumed request never waits");
    return d;
}

Test(playback_gate, a_webhook_stream_asks_its_webhook_once_per_key_and_keeps_a_yes)
{
    store_webhook_t w;
    webhook_of(fx.user.id, fx.user.project_id, &w);
    store_stream_t s;
    hooked_stream(&s, w.id, ",\"webhookContext\":{\"room\":7}");

    playback_gate_decision_t d = check_key(WEB_AREA_LIVE, s.playback_id, NULL, false);
    cr_assert_eq(d.status, 401, "no access key");
    cr_assert(strstr(d.reason, "accessKey"));

    d = ask_and_answer(s.playback_id, "viewer one", 204);
    cr_assert_eq(d.status, 0, "a 2xx lets the key in: %s", d.reason);
    cr_assert_str_eq(d.pass_name, "accessKey");
    cr_assert_str_eq(d.pass_value, "viewer one");
    cr_assert_eq(poster.posts, 1);
    cr_assert_str_eq(poster.url, "http://gate.example/check");
    cr_assert_str_eq(poster.secret, "s3cret");
    cr_assert_str_eq(json_string_value(json_object_get(poster.body, "accessKey")), "viewer one");
    cr_assert_eq(
        json_integer_value(json_object_get(json_object_get(poster.body, "context"), "room")), 7);
    int64_t ts = json_integer_value(json_object_get(poster.body, "timestamp"));
    cr_assert(ts > clock_now_ms() - 60000 && ts <= clock_now_ms());

    d = check_key(WEB_AREA_LIVE, s.playback_id, "viewer one", false);
    cr_assert_eq(d.status, 0);
    cr_assert_not(d.wait, "the yes is kept: no second post");
    cr_assert_eq(poster.posts, 1);

    d = ask_and_answer(s.playback_id, "viewer two", 403);
    cr_assert_eq(d.status, 403, "another key is asked about on its own");
    cr_assert(strstr(d.reason, "HTTP 403"), "%s", d.reason);
    cr_assert_eq(poster.posts, 2);
    d = check_key(WEB_AREA_LIVE, s.playback_id, "viewer two", false);
    cr_assert_eq(d.status, 403, "the no is kept for a while");
    cr_assert_eq(poster.posts, 2);

    d = ask_and_answer(s.playback_id, "viewer three", 0);
    cr_assert_eq(d.status, 503, "no answer: refused, retry later");
    cr_assert(strstr(d.reason, "Connection refused"), "%s", d.reason);
    store_stream_clear(&s);
    store_webhook_clear(&w);
}

Test(playback_gate, a_webhook_of_another_user_or_none_refuses_without_a_post)
{
    store_user_t mallory = {.name = strdup("mallory")};
    cr_assert_eq(store_user_create(fx.store, &mallory), STORE_OK);
    store_webhook_t theirs;
    webhook_of(mallory.id, mallory.project_id, &theirs);
    store_stream_t s, none;
    hooked_stream(&s, theirs.id, "");
    hooked_stream(&none, "no-such-webhook", "");
    playback_gate_decision_t d = ask_and_answer(s.playback_id, "k", 200);
    cr_assert_eq(d.status, 403, "only the stream owner's webhook is asked");
    d = ask_and_answer(none.playback_id, "k", 200);
    cr_assert_eq(d.status, 403);
    cr_assert(strstr(d.reason, "does not exist"), "%s", d.reason);
    cr_assert_eq(poster.posts, 0);

    store_webhook_t mine;
    webhook_of(fx.user.id, fx.user.project_id, &mine);
    store_stream_t down;
    hooked_stream(&down, mine.id, "");
    poster.refuse = true;
    d = ask_and_answer(down.playback_id, "k", 200);
    cr_assert_eq(d.status, 503, "a post that cannot be made refuses for now");
    store_stream_clear(&s);
    store_stream_clear(&none);
    store_stream_clear(&down);
    store_webhook_clear(&theirs);
    store_webhook_clear(&mine);
    store_user_clear(&mallory);
}

Test(playback_gate, a_recording_of_a_webhook_stream_needs_the_key_too)
{
    store_webhook_t w;
    webhook_of(fx.user.id, fx.user.project_id, &w);
    store_stream_t s;
    hooked_stream(&s, w.id, "");
    store_session_t session;
    session_of_stream(&session, &s);
    cr_assert_eq(store_session_insert(fx.store, &session), STORE_OK);
    playback_gate_decision_t d = check_key(WEB_AREA_RECORDING, session.id, NULL, false);
    cr_assert_eq(d.status, 401);
    d = check_key(WEB_AREA_RECORDING, session.id, "k", false);
    cr_assert(d.wait);
    store_session_clear(&session);
    store_stream_clear(&s);
    store_webhook_clear(&w);
}
