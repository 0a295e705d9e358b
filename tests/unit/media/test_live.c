/* Unit tests for the live registry: what a publish gets (refusal, continuation inside the
 * reconnect window, a new session), stop requests, and expiry, against a real store and real
 * media (an FLV made by the ffmpeg CLI, demuxed and fed as RTMP ingest would). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live_test_util.h"
#include "media/live.h"

static live_t *live;

static void setup(void)
{
    live_fixture_setup();
    char err[256];
    live = live_new(fx.store, &fx.config, err, sizeof err);
    cr_assert_not_null(live, "%s", err);
}

static void teardown(void)
{
    live_free(live);
    live_fixture_teardown();
}

TestSuite(live, .init = setup, .fini = teardown, .timeout = 120);

static live_broadcast_t *publish(const store_stream_t *s)
{
    live_broadcast_t *b = NULL;
    char reason[128] = "";
    cr_assert_eq(live_publish(live, s->stream_key, "test", &b, reason, sizeof reason), 0,
                 "refused: %s", reason);
    return b;
}

Test(live, refusals)
{
    store_stream_t suspended, live_one;
    make_stream(&suspended, "suspended", true);
    make_stream(&live_one, "live", false);
    live_broadcast_t *b = NULL;
    char reason[128];
    cr_assert_eq(live_publish(live, "nope-nope-nope-nope", "t", &b, reason, sizeof reason),
                 LIVE_UNKNOWN_KEY);
    cr_assert_str_eq(reason, "unknown stream key");
    cr_assert_eq(live_publish(live, suspended.stream_key, "t", &b, reason, sizeof reason), -1);
    cr_assert_str_eq(reason, "stream is suspended");
    live_broadcast_t *first = publish(&live_one);
    cr_assert_eq(live_publish(live, live_one.stream_key, "t", &b, reason, sizeof reason), -1);
    cr_assert_str_eq(reason, "stream is already live");
    /* The API's stop reaches the live publisher through its poll. */
    live_stop_stream(live, live_one.id);
    cr_assert(pipeline_poll(live_pipeline(first)));
    live_unpublish(first, "stopped");
    store_stream_clear(&suspended);
    store_stream_clear(&live_one);
}

Test(live, reconnect_inside_the_window_continues_the_session)
{
    store_stream_t s;
    make_stream(&s, "show", false);
    live_broadcast_t *b = publish(&s);
    feed(live_pipeline(b));
    live_unpublish(b, "blip");
    store_session_t first;
    latest_session(&s, &first);

    b = publish(&s); /* inside the 2 s window */
    store_session_t again;
    latest_session(&s, &again);
    cr_assert_str_eq(again.id, first.id);
    cr_assert(again.is_active);
    store_session_clear(&again);
    feed(live_pipeline(b));
    live_unpublish(b, "done");
    latest_session(&s, &again);
    cr_assert_str_eq(again.id, first.id);
    cr_assert_geq(again.counters.source_segments, 2 * first.counters.source_segments - 1);
    cr_assert_float_eq(again.counters.source_segments_duration_s,
                       2 * first.counters.source_segments_duration_s, 0.3);
    int files = 0;
    cr_assert_eq(again.counters.source_bytes, segment_bytes(&s, &files));
    cr_assert_eq(again.counters.source_segments, files);
    store_session_clear(&again);
    store_session_clear(&first);
    store_stream_clear(&s);
}

Test(live, publish_after_the_window_opens_a_new_session)
{
    store_stream_t s;
    make_stream(&s, "show", false);
    live_broadcast_t *b = publish(&s);
    feed(live_pipeline(b));
    live_unpublish(b, "gone");
    store_session_t first;
    latest_session(&s, &first);
    live_expire(live, clock_now_ms() + 3000); /* the 2 s window has passed */

    b = publish(&s);
    store_session_t second;
    latest_session(&s, &second);
    cr_assert_str_neq(second.id, first.id);
    cr_assert_eq(second.counters.source_segments, 0);
    live_unpublish(b, "done");
    store_session_clear(&second);
    store_session_clear(&first);
    store_stream_clear(&s);
}

/* With no reconnect window a publish right after the last one replaces it before the housekeeper
 * has seen it end. The old session is finalized all the same, recording included, by the
 * housekeeper's next live_expire rather than by the publishing (ingest) thread. (That the
 * housekeeper calls live_expire is tests/unit/test_housekeeper.c's part.) */
Test(live, a_replaced_broadcast_is_finalized_by_the_housekeeper)
{
    fx.config.reconnect_window_s = 0;
    store_stream_t s;
    make_stream(&s, "show", false);
    s.record = true;
    cr_assert_eq(store_stream_update(fx.store, &s), STORE_OK);
    live_broadcast_t *b = publish(&s);
    feed(live_pipeline(b));
    live_unpublish(b, "gone");
    store_session_t first;
    latest_session(&s, &first);
    usleep(5 * 1000); /* the window of 0 ms is surely over */

    b = publish(&s);
    store_session_t second;
    latest_session(&s, &second);
    cr_assert_str_neq(second.id, first.id);
    store_session_t final = {0};
    cr_assert_eq(store_session_get(fx.store, first.id, &final), STORE_OK);
    cr_assert_eq(final.recording_status, STORE_RECORDING_WAITING,
                 "the publish finalized the replaced session itself");
    live_expire(live, clock_now_ms()); /* the housekeeper's tick */
    store_session_clear(&final);
    cr_assert_eq(store_session_get(fx.store, first.id, &final), STORE_OK);
    cr_assert_eq(final.recording_status, STORE_RECORDING_READY);
    cr_assert_not(final.is_active);
    cr_assert_eq(final.counters.source_segments, first.counters.source_segments);
    live_unpublish(b, "done");
    store_session_clear(&final);
    store_session_clear(&second);
    store_session_clear(&first);
    store_stream_clear(&s);
}

/* ---- Two nodes on one store ------------------------------------------------------------------ */

static void beat(const char *node_id)
{
    store_node_t node = {.http_url = "http://node",
                         .rtmp_url = "rtmp://node/live",
                         .heartbeat_at_ms = clock_now_ms()};
    snprintf(node.id, sizeof node.id, "%s", node_id);
    cr_assert_eq(store_node_heartbeat(fx.store, &node), STORE_OK);
}

/* Lines of a playlist that name a segment file. */
static int listed_segments(const char *playlist)
{
    FILE *f = fopen(playlist, "r");
    cr_assert_not_null(f, "%s", playlist);
    char line[512];
    int count = 0;
    while (fgets(line, sizeof line, f))
        count += strstr(line, ".ts") != NULL;
    fclose(f);
    return count;
}

/* A second node shares the store and the recordings directory (not the live one): it refuses a
 * key live on the first, and a reconnect to it inside the window continues the session, whose
 * recording then holds what both nodes got. The first node leaves that session alone. */
Test(live, a_reconnect_to_another_node_continues_the_session_there)
{
    live_config_t other_config = fx.config;
    char other_dir[96];
    snprintf(other_dir, sizeof other_dir, "%s/other", fx.dir);
    other_config.pipeline.data_dir = other_dir;
    other_config.pipeline.node_id = "node-other";
    char err[256];
    live_t *other = live_new(fx.store, &other_config, err, sizeof err);
    cr_assert_not_null(other, "%s", err);
    beat("node-test");
    beat("node-other");

    store_stream_t s;
    make_stream(&s, "show", false);
    s.record = true;
    cr_assert_eq(store_stream_update(fx.store, &s), STORE_OK);
    live_broadcast_t *b = publish(&s);
    live_broadcast_t *refused = NULL;
    char reason[128] = "";
    cr_assert_eq(live_publish(other, s.stream_key, "t", &refused, reason, sizeof reason), -1);
    cr_assert_str_eq(reason, "stream is already live", "the RTMP error a second publisher gets");
    feed(live_pipeline(b));
    live_unpublish(b, "blip");
    store_session_t first;
    latest_session(&s, &first);
    cr_assert_str_eq(first.node_id, "node-test");

    cr_assert_eq(live_publish(other, s.stream_key, "t", &b, reason, sizeof reason), 0, "%s",
                 reason);
    store_session_t again;
    latest_session(&s, &again);
    cr_assert_str_eq(again.id, first.id, "the same session");
    cr_assert_str_eq(again.node_id, "node-other");
    cr_assert(again.is_active);
    cr_assert_eq(again.counters.source_segments, first.counters.source_segments);
    store_session_clear(&again);
    cr_assert_eq(live_publish(live, s.stream_key, "t", &refused, reason, sizeof reason), -1,
                 "now live on the other node");
    feed(live_pipeline(b));
    live_unpublish(b, "done");

    live_expire(live, clock_now_ms() + 3000); /* the first node's window passed: not its own */
    latest_session(&s, &again);
    cr_assert_eq(again.recording_status, STORE_RECORDING_WAITING);
    store_session_clear(&again);
    live_expire(other, clock_now_ms() + 3000);
    latest_session(&s, &again);
    cr_assert_eq(again.recording_status, STORE_RECORDING_READY);
    cr_assert_geq(again.counters.source_segments, 2 * first.counters.source_segments - 1);
    char playlist[256];
    snprintf(playlist, sizeof playlist, "%s/%s/source/index.m3u8", fx.rec_dir, again.id);
    cr_assert_eq(listed_segments(playlist), again.counters.source_segments,
                 "the recording holds both nodes' segments");
    store_session_clear(&again);
    store_session_clear(&first);
    store_stream_clear(&s);
    live_free(other);
}
