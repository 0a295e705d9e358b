/* Unit tests for ingest.c, the glue from an RTMP publish to the live registry: the ffmpeg CLI
 * publishes to ingest on an ephemeral port, in front of a real live registry and store (no HTTP
 * server), and the tests read what reached the store and the data directory. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../media/live_test_util.h"
#include "ingest/ingest.h"
#include "rtmp_test_util.h"

static live_t *live;
static ingest_t *ingest;

static const ingest_config_t ingest_config = {.rtmp_host = "127.0.0.1", .rtmp_threads = 1};

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    live_fixture_setup_store();
    char err[256];
    live = live_new(fx.store, &fx.config, err, sizeof err);
    cr_assert_not_null(live, "%s", err);
    ingest = ingest_start(live, &ingest_config, err, sizeof err);
    cr_assert_not_null(ingest, "%s", err);
    cr_assert_gt(ingest_rtmp_port(ingest), 0);
}

static void teardown(void)
{
    ingest_stop(ingest); /* before live_free: no broadcast may be live */
    live_free(live);
    live_fixture_teardown();
}

TestSuite(ingest, .init = setup, .fini = teardown, .timeout = 120);

/* Starts ffmpeg publishing `seconds` of media to key through ingest. */
static pid_t publish(const char *key, const char *seconds)
{
    char url[256];
    snprintf(url, sizeof url, "rtmp://127.0.0.1:%u/live/%s", ingest_rtmp_port(ingest), key);
    return tc_spawn_ffmpeg("libx264", "aac", seconds, url);
}

static bool stream_is_active(const store_stream_t *s)
{
    store_stream_t now;
    cr_assert_eq(store_stream_get(fx.store, s->id, &now), STORE_OK);
    bool active = now.is_active;
    store_stream_clear(&now);
    return active;
}

/* Waits up to timeout_ms for the stream to be active (or not); whether it got there. */
static bool wait_active(const store_stream_t *s, bool active, int timeout_ms)
{
    int64_t deadline = clock_monotonic_ms() + timeout_ms;
    while (stream_is_active(s) != active) {
        if (clock_monotonic_ms() > deadline)
            return false;
        usleep(20 * 1000);
    }
    return true;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    static char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* The publish opens a session of the stream, its media become source segments of the right
 * media length (timestamps in ms), onMetaData reaches the master playlist, and the end of the
 * publish ends the broadcast. */
Test(ingest, a_publish_becomes_a_live_broadcast)
{
    store_stream_t s;
    make_stream(&s, "ingest test", false);
    pid_t ffmpeg = publish(s.stream_key, "3");
    cr_assert(wait_active(&s, true, 10000), "the stream never went active");
    store_session_t session;
    cr_assert_eq(store_session_get_latest(fx.store, s.id, &session), STORE_OK);
    cr_assert(session.is_active);
    cr_assert_str_eq(session.parent_id, s.id);
    cr_assert_str_eq(session.playback_id, s.playback_id);
    store_session_clear(&session);

    cr_assert_eq(tc_wait_exit(ffmpeg, 30000), 0, "ffmpeg failed");
    cr_assert(wait_active(&s, false, 5000), "the broadcast did not end");
    cr_assert_eq(store_session_get_latest(fx.store, s.id, &session), STORE_OK);
    cr_assert_not(session.is_active);
    cr_assert_geq(session.counters.source_segments, 1);
    cr_assert_gt(session.counters.source_bytes, 10000);
    cr_assert_float_eq(session.counters.source_segments_duration_s, 3.0, 0.5);
    cr_assert_float_eq(session.counters.ingest_rate_bps, 0, 1e-9);
    store_session_clear(&session);

    char master[256];
    snprintf(master, sizeof master, "%s/live/%s/index.m3u8", fx.dir, s.playback_id);
    const char *text = read_file(master);
    cr_assert(strstr(text, "RESOLUTION=640x360"), "%s", text);
    cr_assert(strstr(text, "FRAME-RATE=30.000"), "%s", text);
    store_stream_clear(&s);
}

/* Keys the registry refuses (unknown, suspended) end the publisher's connection: ffmpeg fails
 * on its own (a status > 0; -1 would mean it was killed at the deadline), and no session is
 * opened. */
Test(ingest, refused_keys_end_the_connection)
{
    cr_assert_gt(tc_wait_exit(publish("no-such-key-at-all", "3"), 20000), 0);
    store_stream_t s;
    make_stream(&s, "ingest test", true);
    cr_assert_gt(tc_wait_exit(publish(s.stream_key, "3"), 20000), 0);
    store_session_t session;
    cr_assert_eq(store_session_get_latest(fx.store, s.id, &session), STORE_NOT_FOUND);
    cr_assert_not(stream_is_active(&s));
    store_stream_clear(&s);
}

/* Stopping the stream through the API (terminate, suspend, delete) reaches the publisher through
 * should_stop: the connection ends and so does the broadcast. */
Test(ingest, a_stream_stopped_by_the_api_ends_its_publish)
{
    store_stream_t s;
    make_stream(&s, "ingest test", false);
    pid_t ffmpeg = publish(s.stream_key, "30");
    cr_assert(wait_active(&s, true, 10000));
    live_stop_stream(live, s.id);
    /* > 0: ffmpeg failed on its own, rather than being killed at the deadline (-1). */
    cr_assert_gt(tc_wait_exit(ffmpeg, 5000), 0, "ffmpeg must fail when its publish ends");
    cr_assert(wait_active(&s, false, 5000));
    store_stream_clear(&s);
}

/* ingest_stop disconnects every publisher, and each broadcast has ended when it returns. */
Test(ingest, stop_ends_every_broadcast)
{
    store_stream_t s;
    make_stream(&s, "ingest test", false);
    pid_t ffmpeg = publish(s.stream_key, "30");
    cr_assert(wait_active(&s, true, 10000));
    ingest_stop(ingest);
    ingest = NULL;
    cr_assert_not(stream_is_active(&s));
    store_session_t session;
    cr_assert_eq(store_session_get_latest(fx.store, s.id, &session), STORE_OK);
    cr_assert_not(session.is_active);
    store_session_clear(&session);
    cr_assert_gt(tc_wait_exit(ffmpeg, 5000), 0);
    ingest_stop(NULL);
    store_stream_clear(&s);
}

Test(ingest, a_port_in_use_is_an_error)
{
    ingest_config_t taken = ingest_config;
    taken.rtmp_port = (uint16_t)ingest_rtmp_port(ingest);
    char err[256] = "";
    cr_assert_null(ingest_start(live, &taken, err, sizeof err));
    cr_assert(strstr(err, "cannot listen"), "%s", err);
}
