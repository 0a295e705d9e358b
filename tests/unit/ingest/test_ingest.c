/* Unit tests for ingest.c, the glue from an RTMP publish to the live registry: the ffmpeg CLI
 * publishes to ingest on an ephemeral port, in front of a real live registry and store (no HTTP
 * server), and the tests read what reached the store and the data directory. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ingest/ingest.h"
#include "media/live.h"
#include "rtmp_test_util.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/ids.h"

typedef struct fixture {
    char dir[64];
    config_t config;
    store_t *store;
    live_t *live;
    ingest_t *ingest;
    store_user_t user;
} fixture_t;

static fixture_t fx;

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(fx.dir, sizeof fx.dir, "/tmp/streamd-ingest-XXXXXX");
    cr_assert_not_null(mkdtemp(fx.dir));
    char data_flag[96];
    snprintf(data_flag, sizeof data_flag, "--data=%s", fx.dir);
    char *argv[] = {"streamd", data_flag, "--rtmp", "127.0.0.1:0", "--rtmp-threads", "1", NULL};
    char err[256];
    cr_assert_eq(config_parse(&fx.config, 6, argv, NULL, err, sizeof err), 0, "%s", err);
    fx.store = store_open(fx.config.db_url, err, sizeof err);
    cr_assert_not_null(fx.store, "%s", err);
    memset(&fx.user, 0, sizeof fx.user);
    fx.user.name = strdup("publisher");
    cr_assert_eq(store_user_create(fx.store, &fx.user), STORE_OK);
    fx.live = live_new(fx.store, &fx.config, err, sizeof err);
    cr_assert_not_null(fx.live, "%s", err);
    ingest_config_t ingest_config = {
        .rtmp_host = fx.config.rtmp.host,
        .rtmp_port = fx.config.rtmp.port,
        .rtmp_threads = fx.config.rtmp_threads,
    };
    fx.ingest = ingest_start(fx.live, &ingest_config, err, sizeof err);
    cr_assert_not_null(fx.ingest, "%s", err);
    cr_assert_gt(ingest_rtmp_port(fx.ingest), 0);
}

static void teardown(void)
{
    ingest_stop(fx.ingest); /* before live_free: no broadcast may be live */
    live_free(fx.live);
    store_user_clear(&fx.user);
    store_close(fx.store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", fx.dir);
}

TestSuite(ingest, .init = setup, .fini = teardown, .timeout = 120);

/* A stream of the fixture's user, in the store; the caller clears it. */
static void add_stream(store_stream_t *s, bool suspended)
{
    *s = (store_stream_t){.created_at_ms = clock_now_ms(), .suspended = suspended};
    cr_assert_eq(ids_uuid_v4(s->id), 0);
    cr_assert_eq(ids_stream_key(s->id, s->stream_key), 0);
    cr_assert_eq(ids_playback_id(s->id, s->playback_id), 0);
    memcpy(s->user_id, fx.user.id, STORE_ID_SIZE);
    memcpy(s->project_id, fx.user.project_id, STORE_ID_SIZE);
    s->name = strdup("ingest test");
    s->profiles_json = strdup("[]");
    s->is_healthy = -1;
    cr_assert_eq(store_stream_insert(fx.store, s), STORE_OK);
}

/* Starts ffmpeg publishing `seconds` of media to key through ingest. */
static pid_t publish(const char *key, const char *seconds)
{
    char url[256];
    snprintf(url, sizeof url, "rtmp://127.0.0.1:%u/live/%s", ingest_rtmp_port(fx.ingest), key);
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
    add_stream(&s, false);
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
    add_stream(&s, true);
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
    add_stream(&s, false);
    pid_t ffmpeg = publish(s.stream_key, "30");
    cr_assert(wait_active(&s, true, 10000));
    live_stop_stream(fx.live, s.id);
    /* > 0: ffmpeg failed on its own, rather than being killed at the deadline (-1). */
    cr_assert_gt(tc_wait_exit(ffmpeg, 5000), 0, "ffmpeg must fail when its publish ends");
    cr_assert(wait_active(&s, false, 5000));
    store_stream_clear(&s);
}

/* ingest_stop disconnects every publisher, and each broadcast has ended when it returns. */
Test(ingest, stop_ends_every_broadcast)
{
    store_stream_t s;
    add_stream(&s, false);
    pid_t ffmpeg = publish(s.stream_key, "30");
    cr_assert(wait_active(&s, true, 10000));
    ingest_stop(fx.ingest);
    fx.ingest = NULL;
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
    ingest_config_t taken = {
        .rtmp_host = fx.config.rtmp.host,
        .rtmp_port = (uint16_t)ingest_rtmp_port(fx.ingest),
        .rtmp_threads = 1,
    };
    char err[256] = "";
    cr_assert_null(ingest_start(fx.live, &taken, err, sizeof err));
    cr_assert(strstr(err, "cannot listen"), "%s", err);
}
