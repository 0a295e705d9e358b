/* Unit tests for one live broadcast: its session accounting against a real store and real media
 * (an FLV made by the ffmpeg CLI, demuxed and fed as RTMP ingest would), its health, and stop
 * requests. The registry's part (publish, reconnect, expiry) is in test_live.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_test_util.h"
#include "media/pipeline.h"

TestSuite(pipeline, .init = live_fixture_setup, .fini = live_fixture_teardown, .timeout = 120);

static pipeline_t *start(const store_stream_t *s)
{
    pipeline_t *p = pipeline_start(fx.store, &fx.config.pipeline, s);
    cr_assert_not_null(p, "the broadcast did not start (see the log)");
    return p;
}

/* What live_unpublish does to the pipeline, then what live_expire does. */
static void end_and_finalize(pipeline_t *p)
{
    pipeline_drain(p);
    pipeline_end(p, clock_now_ms());
    pipeline_finalize(p);
}

Test(pipeline, publish_counts_every_segment_and_ends_cleanly)
{
    store_stream_t s;
    make_stream(&s, "show", false);
    pipeline_t *p = start(&s);
    store_session_t session;
    latest_session(&s, &session);
    cr_assert(session.is_active);
    cr_assert_str_eq(session.id, pipeline_session_id(p));
    cr_assert_str_eq(session.parent_id, s.id);
    cr_assert_str_eq(session.name, "show");
    cr_assert_str_eq(session.playback_id, s.playback_id);
    cr_assert_str_eq(session.profiles_json, "[]");
    store_session_clear(&session);
    store_stream_t stream;
    cr_assert_eq(store_stream_get(fx.store, s.id, &stream), STORE_OK);
    cr_assert(stream.is_active);
    store_stream_clear(&stream);

    feed(p);
    pipeline_drain(p);
    pipeline_end(p, clock_now_ms());

    latest_session(&s, &session);
    int files = 0;
    int64_t bytes = segment_bytes(&s, &files);
    cr_assert_not(session.is_active);
    cr_assert_gt(session.ended_at_ms, 0);
    cr_assert_eq(session.counters.source_segments, files);
    cr_assert_eq(session.counters.source_bytes, bytes);
    cr_assert_float_eq(session.counters.source_segments_duration_s, 5.0, 0.2);
    cr_assert_float_eq(session.counters.ingest_rate_bps, 0, 1e-9);
    store_session_clear(&session);
    cr_assert_eq(store_stream_get(fx.store, s.id, &stream), STORE_OK);
    cr_assert_not(stream.is_active);
    cr_assert_eq(stream.counters.source_segments, files);
    cr_assert_eq(stream.counters.source_bytes, bytes);
    store_stream_clear(&stream);
    pipeline_finalize(p);
    store_stream_clear(&s);
}

/* A ladder that cannot run (a profile name stored before the API checked names) leaves the
 * broadcast source-only, and its health keeps saying that transcoding is not happening. */
Test(pipeline, a_ladder_that_cannot_run_stays_unhealthy)
{
    store_stream_t s;
    make_stream(&s, "bad ladder", false);
    free(s.profiles_json);
    s.profiles_json = strdup("[{\"name\":\"a b\",\"width\":160,\"height\":120,"
                             "\"bitrate\":400000,\"fps\":0}]");
    cr_assert_eq(store_stream_update(fx.store, &s), STORE_OK);
    pipeline_t *p = start(&s);
    feed(p);
    store_session_t session;
    latest_session(&s, &session);
    cr_assert_gt(session.counters.source_segments, 1);
    cr_assert_eq(session.counters.transcoded_segments, 0);
    cr_assert_eq(session.is_healthy, 0, "a source-only fallback is not healthy");
    cr_assert_not_null(session.issues_json);
    cr_assert(strstr(session.issues_json, "ranscod"), "%s", session.issues_json);
    store_session_clear(&session);
    end_and_finalize(p);
    store_stream_clear(&s);
}

/* A stop request reaches the publisher through its poll; a publish that continues the session
 * starts without it, and the session is open and active again. */
Test(pipeline, a_stop_request_lasts_until_the_session_continues)
{
    store_stream_t s;
    make_stream(&s, "show", false);
    pipeline_t *p = start(&s);
    cr_assert_not(pipeline_poll(p));
    pipeline_request_stop(p);
    cr_assert(pipeline_poll(p));
    cr_assert(pipeline_poll(p), "asked once, it holds");
    pipeline_drain(p);
    pipeline_end(p, clock_now_ms());
    store_session_t session;
    latest_session(&s, &session);
    cr_assert_not(session.is_active);
    cr_assert_gt(session.ended_at_ms, 0);
    store_session_clear(&session);

    pipeline_continue(p);
    cr_assert_not(pipeline_poll(p));
    latest_session(&s, &session);
    cr_assert(session.is_active);
    cr_assert_eq(session.ended_at_ms, 0);
    store_session_clear(&session);
    end_and_finalize(p);
    store_stream_clear(&s);
}
