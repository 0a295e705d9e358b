/* Webhooks in the store on every backend: their owner, the events a stream's life raises into the
 * outbox (once, in order, only for subscribers), claims, attempts and their logs, resend, prune. */
#include "store/store.h"
#include "store/store_webhooks.h"
#include "session_test_util.h"
#include "store_test_util.h"

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>

static store_user_t alice, bob;
static store_stream_t stream;
static atomic_int wakeups;

static void count_wakeup(void *opaque)
{
    (void)opaque;
    atomic_fetch_add(&wakeups, 1);
}

static void hooks_setup(void)
{
    setup();
    make_user("alice", NULL, &alice);
    make_user("bob", NULL, &bob);
    stream_init(&stream, &alice, "cam", 1000);
    stream.record = true;
    insert_stream(&stream);
    atomic_store(&wakeups, 0);
    cr_assert_eq(store_watch_outbox(store, count_wakeup, NULL), STORE_OK);
}

static void hooks_teardown(void)
{
    store_stream_clear(&stream);
    store_user_clear(&alice);
    store_user_clear(&bob);
    teardown();
}

TestSuite(store_webhooks, .init = hooks_setup, .fini = hooks_teardown);

static void create(const store_user_t *owner, const char *events, const char *stream_id,
                   store_webhook_t *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->user_id, owner->id, STORE_ID_SIZE);
    memcpy(out->project_id, owner->project_id, STORE_ID_SIZE);
    if (stream_id)
        snprintf(out->stream_id, sizeof out->stream_id, "%s", stream_id);
    out->name = strdup("hook");
    out->url = strdup("http://127.0.0.1:9/hook");
    out->events_json = strdup(events);
    out->shared_secret = strdup("secret");
    cr_assert_eq(store_webhook_create(store, out), STORE_OK);
}

/* Every pending delivery due by now, claimed for node "n" (each claim succeeds once). */
static size_t claim(store_webhook_delivery_t **out)
{
    size_t count = 0;
    int64_t now = INT64_MAX / 4;
    cr_assert_eq(store_webhook_list_due(store, now, 100, out, &count), STORE_OK);
    for (size_t i = 0; i < count; i++) {
        cr_assert_eq(store_webhook_claim(store, (*out)[i].id, "n", now, 60000), STORE_OK);
        cr_assert_eq(store_webhook_claim(store, (*out)[i].id, "m", now, 60000), STORE_CONFLICT);
    }
    return count;
}

/* Reports a delivery's attempt: success, or a failure retried at next_ms (0 = given up). */
static void finish(const store_webhook_delivery_t *d, bool success, int64_t next_ms)
{
    store_webhook_log_t log = {0};
    memcpy(log.webhook_id, d->webhook_id, STORE_ID_SIZE);
    memcpy(log.event_id, d->event_id, STORE_ID_SIZE);
    memcpy(log.event, d->event, sizeof log.event);
    memcpy(log.stream_id, d->stream_id, STORE_ID_SIZE);
    memcpy(log.session_id, d->session_id, STORE_ID_SIZE);
    log.duration_s = 0.25;
    log.success = success;
    log.request_json = "{\"url\":\"http://127.0.0.1:9/hook\",\"method\":\"POST\"}";
    log.response_json = success ? "{\"status\":200}" : "{\"status\":500}";
    store_webhook_attempt_t attempt = {
        .delivery_id = d->id,
        .started_at_ms = 5000,
        .success = success,
        .retry = !success && next_ms > 0,
        .next_attempt_at_ms = next_ms,
        .log = &log,
        .failure_json = success ? NULL : "{\"statusCode\":500}",
    };
    cr_assert_eq(store_webhook_attempt_done(store, &attempt), STORE_OK);
}

/* A whole recorded broadcast: publish, end, reconnect window passed, recording ready. */
static void broadcast(store_session_t *s)
{
    session_of_stream(s, &stream);
    s->is_active = true;
    s->record = true;
    s->recording_status = STORE_RECORDING_WAITING;
    cr_assert_eq(store_session_insert(store, s), STORE_OK);
    store_stream_live_t live = {.is_active = true, .session_id = s->id, .is_healthy = 1};
    cr_assert_eq(store_stream_update_live(store, stream.id, &live, NULL), STORE_OK);
    s->counters.source_segments = 3;
    cr_assert_eq(store_session_update(store, s), STORE_OK);
    s->is_active = false;
    cr_assert_eq(store_session_update(store, s), STORE_OK);
    live.is_active = false;
    cr_assert_eq(store_stream_update_live(store, stream.id, &live, NULL), STORE_OK);
    cr_assert_eq(store_session_final(store, s), STORE_OK);
    cr_assert_eq(store_session_final(store, s), STORE_OK); /* once only */
    s->recording_status = STORE_RECORDING_READY;
    cr_assert_eq(store_session_update(store, s), STORE_OK);
    cr_assert_eq(store_session_update(store, s), STORE_OK); /* once only */
}

Test(store_webhooks, a_webhook_belongs_to_its_owner)
{
    store_webhook_t w, got;
    create(&alice, "[\"stream.started\"]", stream.id, &w);
    cr_assert_eq(store_webhook_get(store, alice.id, w.id, &got), STORE_OK);
    cr_assert_str_eq(got.url, w.url);
    cr_assert_str_eq(got.stream_id, stream.id);
    cr_assert_str_eq(got.shared_secret, "secret");
    cr_assert_null(got.last_failure_json);
    store_webhook_clear(&got);
    cr_assert_eq(store_webhook_get(store, bob.id, w.id, &got), STORE_NOT_FOUND);
    cr_assert_eq(store_webhook_get(store, NULL, w.id, &got), STORE_OK);
    store_webhook_clear(&got);

    free(w.name);
    w.name = strdup("renamed");
    w.stream_id[0] = '\0';
    cr_assert_eq(store_webhook_update(store, &w), STORE_OK);
    memcpy(w.user_id, bob.id, STORE_ID_SIZE);
    cr_assert_eq(store_webhook_update(store, &w), STORE_NOT_FOUND);
    store_webhook_t *list = NULL;
    size_t count = 0;
    cr_assert_eq(store_webhook_list(store, alice.id, &list, &count), STORE_OK);
    cr_assert_eq(count, 1);
    cr_assert_str_eq(list[0].name, "renamed");
    cr_assert_str_eq(list[0].stream_id, "");
    store_webhook_list_free(list, count);
    cr_assert_eq(store_webhook_delete(store, bob.id, w.id), STORE_NOT_FOUND);
    cr_assert_eq(store_webhook_delete(store, alice.id, w.id), STORE_OK);
    cr_assert_eq(store_webhook_get(store, NULL, w.id, &got), STORE_NOT_FOUND);
    store_webhook_clear(&w);
}

Test(store_webhooks, a_broadcast_raises_its_events_once_in_order)
{
    store_webhook_t all, started_only, other_stream, bobs;
    create(&alice,
           "[\"stream.started\",\"stream.idle\",\"recording.started\",\"recording.waiting\","
           "\"recording.ready\"]",
           NULL, &all);
    create(&alice, "[\"stream.started\"]", stream.id, &started_only);
    create(&alice, "[\"stream.started\"]", "00000000-0000-4000-8000-000000000000", &other_stream);
    create(&bob, "[\"stream.started\"]", NULL, &bobs);
    store_session_t s;
    broadcast(&s);
    cr_assert_gt(atomic_load(&wakeups), 0);

    store_webhook_delivery_t *due = NULL;
    size_t count = claim(&due);
    /* In line: only the first of each (webhook, stream) is due. */
    cr_assert_eq(count, 2);
    const char *expected[] = {"stream.started", "stream.idle", "recording.started",
                              "recording.waiting", "recording.ready"};
    /* started, recording.started, idle, waiting, ready: in the order they happened. */
    const char *order[] = {expected[0], expected[2], expected[1], expected[3], expected[4]};
    size_t seen = 0;
    char first_event_id[STORE_ID_SIZE] = "";
    while (count > 0) {
        for (size_t i = 0; i < count; i++) {
            if (strcmp(due[i].webhook_id, started_only.id) == 0) {
                cr_assert_str_eq(due[i].event, "stream.started");
                memcpy(first_event_id, due[i].event_id, STORE_ID_SIZE);
            } else {
                cr_assert_str_eq(due[i].webhook_id, all.id);
                cr_assert_lt(seen, 5);
                cr_assert_str_eq(due[i].event, order[seen], "event %zu: %s", seen, due[i].event);
                cr_assert_str_eq(due[i].session_id, s.id);
                cr_assert_str_eq(due[i].stream_id, stream.id);
                seen++;
            }
            finish(&due[i], true, 0);
        }
        store_webhook_delivery_list_free(due, count);
        count = claim(&due);
    }
    store_webhook_delivery_list_free(due, count);
    cr_assert_eq(seen, 5);
    cr_assert(first_event_id[0]);

    store_webhook_t got;
    cr_assert_eq(store_webhook_get(store, alice.id, all.id, &got), STORE_OK);
    cr_assert_eq(got.last_triggered_at_ms, 5000);
    store_webhook_clear(&got);
    store_session_clear(&s);
    store_webhook_clear(&all);
    store_webhook_clear(&started_only);
    store_webhook_clear(&other_stream);
    store_webhook_clear(&bobs);
}

Test(store_webhooks, a_failed_attempt_is_retried_with_the_same_event_id_and_logged)
{
    store_webhook_t w;
    create(&alice, "[\"stream.started\",\"stream.idle\"]", NULL, &w);
    store_session_t s;
    session_of_stream(&s, &stream);
    s.is_active = true;
    cr_assert_eq(store_session_insert(store, &s), STORE_OK);
    store_stream_live_t live = {.is_active = false, .session_id = s.id, .is_healthy = -1};
    cr_assert_eq(store_stream_update_live(store, stream.id, &live, NULL), STORE_OK);

    store_webhook_delivery_t *due = NULL;
    cr_assert_eq(claim(&due), 1);
    store_webhook_delivery_t first = due[0];
    store_webhook_delivery_list_free(due, 1);
    cr_assert_str_eq(first.event, "stream.started");
    cr_assert_eq(claim(&due), 0, "a claimed delivery is not handed out twice");
    store_webhook_delivery_list_free(due, 0);
    finish(&first, false, 1); /* retried: due again at once */
    cr_assert_eq(claim(&due), 1, "idle waits for started's retry");
    cr_assert_str_eq(due[0].id, first.id);
    cr_assert_str_eq(due[0].event_id, first.event_id);
    cr_assert_eq(due[0].attempts, 1);
    finish(&due[0], false, 0); /* given up */
    store_webhook_delivery_list_free(due, 1);

    store_webhook_t got;
    cr_assert_eq(store_webhook_get(store, alice.id, w.id, &got), STORE_OK);
    cr_assert_str_eq(got.last_failure_json, "{\"statusCode\":500}");
    store_webhook_clear(&got);
    store_webhook_log_t *logs = NULL;
    size_t count = 0;
    cr_assert_eq(store_webhook_log_list(store, w.id, 10, 0, &logs, &count), STORE_OK);
    cr_assert_eq(count, 2);
    cr_assert_str_eq(logs[0].event_id, first.event_id);
    cr_assert_not(logs[0].success);
    cr_assert_str_eq(logs[0].session_id, s.id);

    /* A resend is one more attempt of the same event, due now. */
    cr_assert_eq(store_webhook_resend(store, w.id, logs[0].id, "resend-1"), STORE_OK);
    cr_assert_eq(store_webhook_resend(store, w.id, "no-such-log", "resend-2"), STORE_NOT_FOUND);
    store_webhook_log_list_free(logs, count);

    cr_assert_eq(claim(&due), 1, "stream.idle, now first in line");
    cr_assert_str_eq(due[0].event, "stream.idle");
    finish(&due[0], true, 0);
    store_webhook_delivery_list_free(due, 1);
    cr_assert_eq(claim(&due), 1);
    cr_assert_str_eq(due[0].event_id, first.event_id);
    cr_assert_not(due[0].retries);
    store_webhook_delivery_list_free(due, 1);
    /* Released claims are due again (a node's restart). */
    cr_assert_eq(store_webhook_release_claims(store, "n"), STORE_OK);
    cr_assert_eq(claim(&due), 1);
    store_webhook_delivery_list_free(due, 1);

    int64_t pruned = 0;
    cr_assert_eq(store_webhook_prune(store, 5001, &pruned), STORE_OK);
    cr_assert_eq(pruned, 3);
    cr_assert_eq(store_webhook_delete(store, alice.id, w.id), STORE_OK);
    cr_assert_eq(claim(&due), 0, "a deleted webhook's deliveries go with it");
    store_webhook_delivery_list_free(due, 0);
    store_session_clear(&s);
    store_webhook_clear(&w);
}

Test(store_webhooks, a_crashed_node_s_streams_go_idle_with_an_event)
{
    store_webhook_t w;
    create(&alice, "[\"stream.idle\",\"recording.waiting\",\"recording.ready\"]", NULL, &w);
    store_session_t s;
    session_of_stream(&s, &stream);
    s.is_active = true;
    s.record = true;
    s.recording_status = STORE_RECORDING_WAITING;
    s.counters.source_segments = 2;
    snprintf(s.node_id, sizeof s.node_id, "node-a");
    cr_assert_eq(store_session_insert(store, &s), STORE_OK);
    int64_t closed = 0;
    cr_assert_eq(store_close_open_sessions(store, "node-a", false, &closed), STORE_OK);
    cr_assert_eq(closed, 1);
    /* Recovery finalizes it: waiting (never raised before the crash), then ready. */
    s.is_active = false;
    s.recording_status = STORE_RECORDING_READY;
    cr_assert_eq(store_session_update(store, &s), STORE_OK);
    const char *order[] = {"stream.idle", "recording.waiting", "recording.ready"};
    for (size_t i = 0; i < 3; i++) {
        store_webhook_delivery_t *due = NULL;
        cr_assert_eq(claim(&due), 1);
        cr_assert_str_eq(due[0].event, order[i]);
        finish(&due[0], true, 0);
        store_webhook_delivery_list_free(due, 1);
    }
    store_session_clear(&s);
    store_webhook_clear(&w);
}
