/* Unit tests for recordings.c: where a session's recording lives, the final recording status of a
 * session, recovery of waiting recordings at start and retention, against a real SQLite store
 * in a temporary data directory. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../store/session_test_util.h"
#include "media/recordings.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/ids.h"
#include "util/log.h"

#define DAY_MS (24 * 3600 * 1000LL)
#define NOW_MS 1800000000000LL /* ms since epoch */

static char root[64];
static char rec_dir[PATH_MAX]; /* the recordings directory */
static store_t *store;
static store_user_t owner;
static store_stream_t stream;

static char *text_dup(const char *text)
{
    char *copy = text ? strdup(text) : NULL;
    cr_assert(!text || copy);
    return copy;
}

static void setup(void)
{
    log_set_level(LOG_ERROR);
    snprintf(root, sizeof root, "/tmp/test_recordings.XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(rec_dir, sizeof rec_dir, "%s/rec", root);
    char db[128], err[256] = "";
    snprintf(db, sizeof db, "%s/streamd.db", root);
    store = store_open(db, err, sizeof err);
    cr_assert_not_null(store, "store_open: %s", err);
    memset(&owner, 0, sizeof owner);
    owner.name = text_dup("alice");
    cr_assert_eq(store_user_create(store, &owner), STORE_OK);
    memset(&stream, 0, sizeof stream);
    cr_assert_eq(ids_uuid_v4(stream.id), 0);
    snprintf(stream.user_id, sizeof stream.user_id, "%s", owner.id);
    snprintf(stream.project_id, sizeof stream.project_id, "%s", owner.project_id);
    cr_assert_eq(ids_stream_key(stream.id, stream.stream_key), 0);
    cr_assert_eq(ids_playback_id(stream.id, stream.playback_id), 0);
    stream.name = text_dup("recorded");
    stream.record = true;
    stream.is_healthy = -1;
    cr_assert_eq(store_stream_insert(store, &stream), STORE_OK);
}

static void teardown(void)
{
    store_stream_clear(&stream);
    store_user_clear(&owner);
    store_close(store);
    char err[256] = "";
    cr_assert_eq(fs_remove_tree(root, 8, err, sizeof err), 0, "%s", err);
}

TestSuite(recordings, .init = setup, .fini = teardown);

/* Inserts a recorded session of the stream; with_files makes its recording directory with a
 * file in it. The caller clears *s. */
static void add_session_on(const char *node_id, store_session_t *s, store_recording_status_t status,
                           int64_t last_seen_ms, int64_t source_segments, bool with_files)
{
    session_of_stream(s, &stream);
    s->created_at_ms = last_seen_ms - 1000;
    s->last_seen_ms = last_seen_ms;
    s->record = true;
    s->recording_status = status;
    s->counters.source_segments = source_segments;
    snprintf(s->node_id, sizeof s->node_id, "%s", node_id);
    cr_assert_eq(store_session_insert(store, s), STORE_OK);
    if (!with_files)
        return;
    char dir[PATH_MAX], path[PATH_MAX + 16], err[256] = "";
    cr_assert_eq(recordings_dir(rec_dir, s->id, dir, sizeof dir), 0);
    cr_assert_eq(fs_mkdir_p(dir, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/output.mp4", dir);
    cr_assert_eq(fs_write_atomic(path, "mp4", 3, err, sizeof err), 0, "%s", err);
}

static void add_session(store_session_t *s, store_recording_status_t status, int64_t last_seen_ms,
                        int64_t source_segments, bool with_files)
{
    add_session_on("node-a", s, status, last_seen_ms, source_segments, with_files);
}

static store_recording_status_t status_of(const char *session_id, char **issues)
{
    store_session_t got;
    cr_assert_eq(store_session_get(store, session_id, &got), STORE_OK);
    store_recording_status_t status = got.recording_status;
    if (issues)
        *issues = text_dup(got.issues_json);
    store_session_clear(&got);
    return status;
}

static bool recording_exists(const char *session_id)
{
    char dir[PATH_MAX];
    cr_assert_eq(recordings_dir(rec_dir, session_id, dir, sizeof dir), 0);
    return fs_is_dir(dir);
}

Test(recordings, dir_layout)
{
    char out[128];
    cr_assert_eq(
        recordings_dir("/srv/rec", "0f8c5c1e-1111-4222-8333-444455556666", out, sizeof out), 0);
    cr_assert_str_eq(out, "/srv/rec/0f8c5c1e-1111-4222-8333-444455556666");
    char tiny[16];
    cr_assert_eq(
        recordings_dir("/srv/rec", "0f8c5c1e-1111-4222-8333-444455556666", tiny, sizeof tiny), -1,
        "a path that does not fit");
    cr_assert_eq(recordings_dir("./data/rec", "abc", out, sizeof out), 0);
    cr_assert_str_eq(out, "./data/rec/abc");
}

Test(recordings, set_result)
{
    store_session_t s = {.recording_status = STORE_RECORDING_WAITING};
    s.issues_json = text_dup("[\"old\"]");
    recordings_set_result(&s, 0, "ignored");
    cr_assert_eq(s.recording_status, STORE_RECORDING_READY);
    cr_assert_null(s.issues_json, "a ready recording has no issue");

    s.counters.source_segments = 0;
    recordings_set_result(&s, RECORDER_ERR_MEDIA, "no source segment was recorded");
    cr_assert_eq(s.recording_status, STORE_RECORDING_NONE, "nothing was ever recorded");
    cr_assert_null(s.issues_json);

    s.counters.source_segments = 3;
    recordings_set_result(&s, RECORDER_ERR_IO, "cannot write x: No space left on device");
    cr_assert_eq(s.recording_status, STORE_RECORDING_FAILED);
    cr_assert_str_eq(s.issues_json,
                     "[\"Recording failed: cannot write x: No space left on device\"]");

    recordings_set_result(&s, RECORDER_ERR_IO, "");
    cr_assert_str_eq(s.issues_json, "[\"Recording failed: unknown error\"]");
    recordings_set_result(&s, RECORDER_ERR_IO, NULL);
    cr_assert_str_eq(s.issues_json, "[\"Recording failed: unknown error\"]");
    recordings_set_result(&s, RECORDER_ERR_IO, "a \"quoted\" reason");
    cr_assert_str_eq(s.issues_json, "[\"Recording failed: a \\\"quoted\\\" reason\"]");
    free(s.issues_json);
}

Test(recordings, expire_deletes_only_old_ready_recordings)
{
    store_session_t old_ready, new_ready, old_failed, old_no_files;
    add_session(&old_ready, STORE_RECORDING_READY, NOW_MS - 10 * DAY_MS, 5, true);
    add_session(&new_ready, STORE_RECORDING_READY, NOW_MS - DAY_MS / 2, 5, true);
    add_session(&old_failed, STORE_RECORDING_FAILED, NOW_MS - 10 * DAY_MS, 5, true);
    add_session(&old_no_files, STORE_RECORDING_READY, NOW_MS - 10 * DAY_MS, 5, false);

    cr_assert_eq(recordings_expire(store, rec_dir, 0, NOW_MS), 0, "0 keeps recordings forever");
    cr_assert(recording_exists(old_ready.id));

    cr_assert_eq(recordings_expire(store, rec_dir, 24 * 3600, NOW_MS), 2);
    cr_assert_not(recording_exists(old_ready.id));
    cr_assert_eq(status_of(old_ready.id, NULL), STORE_RECORDING_DELETED);
    cr_assert_eq(status_of(old_no_files.id, NULL), STORE_RECORDING_DELETED, "already gone");
    cr_assert(recording_exists(new_ready.id));
    cr_assert_eq(status_of(new_ready.id, NULL), STORE_RECORDING_READY);
    cr_assert(recording_exists(old_failed.id), "only ready recordings expire");
    cr_assert_eq(status_of(old_failed.id, NULL), STORE_RECORDING_FAILED);
    cr_assert(fs_is_dir(root), "the data directory stays");

    cr_assert_eq(recordings_expire(store, rec_dir, 24 * 3600, NOW_MS), 0, "nothing left to expire");
    cr_assert_eq(recordings_expire(store, rec_dir, 24 * 3600, NOW_MS + DAY_MS), 1);
    cr_assert_not(recording_exists(new_ready.id));
    store_session_clear(&old_ready);
    store_session_clear(&new_ready);
    store_session_clear(&old_failed);
    store_session_clear(&old_no_files);
}

Test(recordings, recover_all_settles_every_waiting_recording)
{
    store_session_t empty, counted, ready;
    add_session(&empty, STORE_RECORDING_WAITING, NOW_MS, 0, false);
    add_session(&counted, STORE_RECORDING_WAITING, NOW_MS, 4, true); /* no segment on disk */
    add_session(&ready, STORE_RECORDING_READY, NOW_MS, 4, true);
    cr_assert_eq(recordings_recover(store, rec_dir, "node-a", true), 2, "the waiting ones");
    cr_assert_eq(status_of(empty.id, NULL), STORE_RECORDING_NONE);
    char *issues = NULL;
    cr_assert_eq(status_of(counted.id, &issues), STORE_RECORDING_FAILED);
    cr_assert_not_null(issues);
    cr_assert_not_null(strstr(issues, "Recording failed: "), "%s", issues);
    free(issues);
    cr_assert_eq(status_of(ready.id, NULL), STORE_RECORDING_READY, "left alone");
    cr_assert_eq(recordings_recover(store, rec_dir, "node-a", true), 0, "none waits any more");
    store_session_clear(&empty);
    store_session_clear(&counted);
    store_session_clear(&ready);
}

Test(recordings, recover_takes_a_nodes_own_and_a_dead_nodes_shared_recordings)
{
    store_session_t mine, unowned, theirs_shared, theirs_elsewhere, third;
    add_session_on("node-a", &mine, STORE_RECORDING_WAITING, NOW_MS, 0, false);
    add_session_on("", &unowned, STORE_RECORDING_WAITING, NOW_MS, 0, false);
    add_session_on("node-b", &theirs_shared, STORE_RECORDING_WAITING, NOW_MS, 0, true);
    add_session_on("node-b", &theirs_elsewhere, STORE_RECORDING_WAITING, NOW_MS, 0, false);
    add_session_on("node-c", &third, STORE_RECORDING_WAITING, NOW_MS, 0, true);

    cr_assert_eq(recordings_recover(store, rec_dir, "node-b", false), 1,
                 "a dead node's recording whose directory is here");
    cr_assert_neq(status_of(theirs_shared.id, NULL), STORE_RECORDING_WAITING);
    cr_assert_eq(status_of(theirs_elsewhere.id, NULL), STORE_RECORDING_WAITING,
                 "on the dead node's own disk: it waits for that node");
    cr_assert_eq(status_of(mine.id, NULL), STORE_RECORDING_WAITING);

    cr_assert_eq(recordings_recover(store, rec_dir, "node-a", true), 2, "its own and the unowned");
    cr_assert_neq(status_of(mine.id, NULL), STORE_RECORDING_WAITING);
    cr_assert_neq(status_of(unowned.id, NULL), STORE_RECORDING_WAITING);
    cr_assert_eq(status_of(third.id, NULL), STORE_RECORDING_WAITING, "another live node's");
    cr_assert_eq(status_of(theirs_elsewhere.id, NULL), STORE_RECORDING_WAITING);

    cr_assert_eq(recordings_recover(store, rec_dir, "node-b", true), 1,
                 "the node, back, finalizes what waited for it");
    cr_assert_neq(status_of(theirs_elsewhere.id, NULL), STORE_RECORDING_WAITING);
    store_session_clear(&mine);
    store_session_clear(&unowned);
    store_session_clear(&theirs_shared);
    store_session_clear(&theirs_elsewhere);
    store_session_clear(&third);
}
