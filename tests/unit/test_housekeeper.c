/* Unit tests for the housekeeper: it ticks at its interval, finalizes the sessions whose
 * reconnect window passed (live_expire), deletes old recordings (recordings_expire) and stops at
 * once, against a real store and live registry with small intervals. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/session_test_util.h"
#include "housekeeper.h"
#include "media/live_test_util.h"
#include "util/clock.h"

static live_t *live;
static housekeeper_t *housekeeper;

static void setup(void)
{
    live_fixture_setup_store();
    char err[256];
    live = live_new(fx.store, &fx.config, err, sizeof err);
    cr_assert_not_null(live, "%s", err);
}

static void teardown(void)
{
    housekeeper_stop(housekeeper);
    live_free(live);
    live_fixture_teardown();
}

TestSuite(housekeeper, .init = setup, .fini = teardown, .timeout = 60);

static void start(int64_t tick_ms, int64_t retention_interval_ms, int64_t max_age_s)
{
    housekeeper_config_t config = {
        .tick_ms = tick_ms,
        .retention_interval_ms = retention_interval_ms,
        .recordings_dir = fx.rec_dir,
        .recordings_max_age_s = max_age_s,
    };
    char err[256];
    housekeeper = housekeeper_start(&config, live, fx.store, err, sizeof err);
    cr_assert_not_null(housekeeper, "%s", err);
}

/* Stops the housekeeper and returns how long that took, ms. */
static int64_t stop_ms(void)
{
    int64_t before = clock_monotonic_ms();
    housekeeper_stop(housekeeper);
    housekeeper = NULL;
    return clock_monotonic_ms() - before;
}

/* The recording status of session id, polled every 10 ms until it is no longer from, or 5 s. */
static store_recording_status_t status_after(const char *id, store_recording_status_t from)
{
    store_session_t s = {0};
    for (int i = 0; i < 500; i++) {
        store_session_clear(&s);
        cr_assert_eq(store_session_get(fx.store, id, &s), STORE_OK);
        if (s.recording_status != from)
            break;
        usleep(10 * 1000);
    }
    store_recording_status_t status = s.recording_status;
    store_session_clear(&s);
    return status;
}

Test(housekeeper, ticks_at_its_interval_until_stopped)
{
    start(10, 0, 0);
    for (int i = 0; i < 200 && housekeeper_ticks(housekeeper) < 3; i++)
        usleep(10 * 1000);
    cr_assert_geq(housekeeper_ticks(housekeeper), 3);
    cr_assert_lt(stop_ms(), 500);
}

Test(housekeeper, stops_at_once_in_the_middle_of_a_long_wait)
{
    start(60 * 1000, 0, 0);
    usleep(20 * 1000);
    cr_assert_eq(housekeeper_ticks(housekeeper), 0, "the first tick is a minute away");
    cr_assert_lt(stop_ms(), 500, "a stop does not wait for the tick");
    housekeeper_stop(NULL);
}

/* A session whose reconnect window has passed is finalized by the housekeeper's tick: its
 * recording is no longer waiting (nothing was recorded here, so it ends as none). */
Test(housekeeper, finalizes_the_sessions_whose_window_passed)
{
    fx.config.reconnect_window_s = 0;
    store_stream_t s;
    make_stream(&s, "show", false);
    s.record = true;
    cr_assert_eq(store_stream_update(fx.store, &s), STORE_OK);
    live_broadcast_t *b = NULL;
    char reason[128] = "";
    cr_assert_eq(live_publish(live, s.stream_key, "test", &b, reason, sizeof reason), 0, "%s",
                 reason);
    char id[STORE_ID_SIZE];
    memcpy(id, pipeline_session_id(live_pipeline(b)), sizeof id);
    live_unpublish(b, "gone");
    cr_assert_eq(status_after(id, STORE_RECORDING_NONE_SET), STORE_RECORDING_WAITING,
                 "nothing finalizes it before the housekeeper runs");

    start(10, 0, 0);
    cr_assert_eq(status_after(id, STORE_RECORDING_WAITING), STORE_RECORDING_NONE);
    store_stream_clear(&s);
}

/* A ready recording of stream s last seen age_s ago, with a file in its directory. */
static void make_recording(const store_stream_t *s, int64_t age_s, store_session_t *out)
{
    session_of_stream(out, s);
    out->created_at_ms = clock_now_ms() - age_s * 1000 - 5000;
    out->last_seen_ms = clock_now_ms() - age_s * 1000;
    out->ended_at_ms = out->last_seen_ms;
    out->record = true;
    out->recording_status = STORE_RECORDING_READY;
    cr_assert_eq(store_session_insert(fx.store, out), STORE_OK);
    char path[256];
    snprintf(path, sizeof path, "%s/rec", fx.dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/rec/%s", fx.dir, out->id);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/rec/%s/index.m3u8", fx.dir, out->id);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("#EXTM3U\n", f);
    fclose(f);
}

static bool recording_on_disk(const store_session_t *session)
{
    char path[256];
    snprintf(path, sizeof path, "%s/rec/%s", fx.dir, session->id);
    struct stat st;
    return stat(path, &st) == 0;
}

Test(housekeeper, deletes_the_recordings_older_than_the_max_age)
{
    store_stream_t s;
    make_stream(&s, "show", false);
    store_session_t old, recent;
    make_recording(&s, 7200, &old);
    make_recording(&s, 10, &recent);

    start(10, 10, 3600);
    cr_assert_eq(status_after(old.id, STORE_RECORDING_READY), STORE_RECORDING_DELETED);
    cr_assert_not(recording_on_disk(&old));
    cr_assert_lt(stop_ms(), 500);
    cr_assert_eq(status_after(recent.id, STORE_RECORDING_NONE_SET), STORE_RECORDING_READY,
                 "younger than the max age: kept");
    cr_assert(recording_on_disk(&recent));
    store_session_clear(&old);
    store_session_clear(&recent);
    store_stream_clear(&s);
}

Test(housekeeper, keeps_every_recording_without_a_max_age)
{
    store_stream_t s;
    make_stream(&s, "show", false);
    store_session_t old;
    make_recording(&s, 7200, &old);
    start(10, 10, 0);
    for (int i = 0; i < 200 && housekeeper_ticks(housekeeper) < 3; i++)
        usleep(10 * 1000);
    cr_assert_geq(housekeeper_ticks(housekeeper), 3);
    cr_assert_eq(status_after(old.id, STORE_RECORDING_NONE_SET), STORE_RECORDING_READY);
    cr_assert(recording_on_disk(&old));
    store_session_clear(&old);
    store_stream_clear(&s);
}
