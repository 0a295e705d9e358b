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
    cr_assert_eq(live_publish(live, "nope-nope-nope-nope", "t", &b, reason, sizeof reason), -1);
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
