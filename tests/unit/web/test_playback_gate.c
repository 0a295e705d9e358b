/* Unit tests for gated playback decisions against a real store: public and unknown media pass;
 * a jwt stream needs a token of its owner's enabled key for its playback id, unexpired; a webhook
 * stream is refused; a recording follows its stream's policy. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/session_test_util.h"
#include "jwt_test_util.h"
#include "../media/live_test_util.h"
#include "util/clock.h"
#include "web/playback_gate.h"

static playback_gate_t *gate;
static store_signing_key_t key;
static char *priv;

static void setup(void)
{
    live_fixture_setup_store();
    gate = playback_gate_new(fx.store);
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
    playback_gate_check(gate, area, id, token, clock_now_ms(), &d);
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

Test(playback_gate, a_key_of_another_user_and_a_webhook_policy_are_refused)
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
    store_stream_t s, hooked;
    stream_with_policy(&s, "{\"type\":\"jwt\"}");
    stream_with_policy(&hooked, "{\"type\":\"webhook\",\"webhookId\":\"w1\"}");
    char payload[2048];
    snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"pub\":\"%s\",\"exp\":%lld}", s.playback_id,
             theirs.public_key, (long long)(clock_now_ms() / 1000 + 3600));
    char *token = jwt_make_for_test(their_priv, "{\"alg\":\"ES256\"}", payload);
    cr_assert_eq(decide(WEB_AREA_LIVE, s.playback_id, token), 403);
    cr_assert_eq(decide(WEB_AREA_LIVE, hooked.playback_id, NULL), 403);
    free(token);
    free(their_priv);
    store_signing_key_clear(&theirs);
    store_user_clear(&mallory);
    store_stream_clear(&s);
    store_stream_clear(&hooked);
}
