/* Unit tests of the SQLite store's sessions: records, the latest of a stream, crash close, lists
 * and rows seeded by hand, over the dataset of store_test_util.h. */
#include "session_test_util.h"
#include "store/store.h"
#include "store_test_util.h"
#include "util/ids.h"
#include "util/log.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(store_list, .init = dataset_setup, .fini = dataset_teardown);

/* ---- Sessions ------------------------------------------------------------------------------- */

static void session_init(store_session_t *s, const store_stream_t *parent, int64_t created_at_ms)
{
    session_of_stream(s, parent);
    s->created_at_ms = created_at_ms;
    snprintf(s->node_id, sizeof s->node_id, "node-a");
}

static void assert_session_eq(const store_session_t *a, const store_session_t *b)
{
    cr_assert_str_eq(a->id, b->id);
    cr_assert_str_eq(a->parent_id, b->parent_id);
    cr_assert_str_eq(a->user_id, b->user_id);
    cr_assert_str_eq(a->project_id, b->project_id);
    cr_assert_str_eq(a->playback_id, b->playback_id);
    cr_assert_str_eq(a->name, b->name);
    cr_assert_eq(a->created_at_ms, b->created_at_ms);
    cr_assert_eq(a->last_seen_ms, b->last_seen_ms);
    cr_assert_eq(a->ended_at_ms, b->ended_at_ms);
    cr_assert_str_eq(a->node_id, b->node_id);
    cr_assert_eq(a->is_active, b->is_active);
    cr_assert_eq(a->record, b->record);
    cr_assert_eq(a->deleted, b->deleted);
    cr_assert_eq(a->is_healthy, b->is_healthy);
    assert_str_or_null_eq(a->issues_json, b->issues_json);
    cr_assert_eq(a->recording_status, b->recording_status);
    assert_counters_eq(&a->counters, &b->counters);
    assert_str_or_null_eq(a->profiles_json, b->profiles_json);
    assert_str_or_null_eq(a->recording_spec_json, b->recording_spec_json);
    assert_str_or_null_eq(a->health_json, b->health_json);
}

Test(store_list, session_insert_get_update)
{
    store_session_t s;
    session_init(&s, &data.alpha, 7000);
    cr_assert_eq(store_session_insert(store, &s), STORE_OK);
    store_session_t got;
    cr_assert_eq(store_session_get(store, s.id, &got), STORE_OK);
    assert_session_eq(&got, &s);
    cr_assert_eq(got.recording_status, STORE_RECORDING_NONE_SET);
    store_session_clear(&got);

    s.last_seen_ms = 7500;
    s.ended_at_ms = 7600;
    s.is_active = true;
    s.record = true;
    s.deleted = true;
    s.is_healthy = 0;
    s.issues_json = text_dup("[\"Active\"]");
    s.counters = (store_counters_t){1, 2, 3.5, 4.5, 5, 6, 7.5, 8.5};
    s.profiles_json = text_dup("[]");
    s.recording_spec_json = text_dup("{\"profiles\":[]}");
    s.health_json = text_dup("{\"healthy\":{\"status\":true}}");
    free(s.name);
    s.name = text_dup("renamed");
    for (int status = STORE_RECORDING_NONE_SET; status <= STORE_RECORDING_NONE; status++) {
        s.recording_status = (store_recording_status_t)status;
        cr_assert_eq(store_session_update(store, &s), STORE_OK);
        cr_assert_eq(store_session_get(store, s.id, &got), STORE_OK);
        assert_session_eq(&got, &s);
        store_session_clear(&got);
    }

    s.recording_status = (store_recording_status_t)42;
    cr_assert_eq(store_session_update(store, &s), STORE_INVALID);
    s.recording_status = STORE_RECORDING_READY;
    snprintf(s.id, sizeof s.id, "missing");
    cr_assert_eq(store_session_update(store, &s), STORE_NOT_FOUND);
    cr_assert_eq(store_session_get(store, "missing", &got), STORE_NOT_FOUND);

    store_session_t orphan;
    session_init(&orphan, &data.alpha, 1);
    snprintf(orphan.parent_id, sizeof orphan.parent_id, "no-such-stream");
    cr_assert_eq(store_session_insert(store, &orphan), STORE_INVALID);
    store_session_clear(&orphan);
    store_session_clear(&s);
}

static void expect_sessions(const store_query_t *q, const char *const *ids, size_t count)
{
    store_session_t *rows = NULL;
    size_t row_count = 0;
    int64_t total = -1;
    cr_assert_eq(store_session_list(store, q, &rows, &row_count, &total), STORE_OK);
    cr_assert_eq(row_count, count, "expected %zu sessions, got %zu", count, row_count);
    cr_assert_eq(total, (int64_t)count);
    for (size_t i = 0; i < count; i++)
        cr_assert_str_eq(rows[i].id, ids[i], "row %zu", i);
    store_session_list_free(rows, row_count);
}

#define EXPECT_SESSIONS(q, ...)                                                                    \
    do {                                                                                           \
        const char *const expected_[] = {__VA_ARGS__};                                             \
        expect_sessions(q, expected_, sizeof expected_ / sizeof expected_[0]);                     \
    } while (0)

Test(store_list, session_latest_and_crash_close)
{
    store_session_t missing;
    cr_assert_eq(store_session_get_latest(store, data.beta.id, &missing), STORE_NOT_FOUND);
    store_session_t old, newer;
    session_init(&old, &data.beta, 1000);
    session_init(&newer, &data.beta, 2000);
    newer.is_active = true;
    newer.last_seen_ms = 2500;
    newer.counters.ingest_rate_bps = 100;
    cr_assert_eq(store_session_insert(store, &old), STORE_OK);
    cr_assert_eq(store_session_insert(store, &newer), STORE_OK);
    store_session_t got;
    cr_assert_eq(store_session_get_latest(store, data.beta.id, &got), STORE_OK);
    cr_assert_str_eq(got.id, newer.id);
    store_session_clear(&got);

    store_stream_live_t live = {
        .is_active = true, .last_seen_ms = 2500, .is_healthy = 1, .ingest_rate_bps = 10};
    cr_assert_eq(store_stream_update_live(store, data.beta.id, &live, NULL), STORE_OK);
    int64_t closed = -1;
    cr_assert_eq(store_close_open_sessions(store, "node-a", true, &closed), STORE_OK);
    cr_assert_eq(closed, 1);
    cr_assert_eq(store_session_get(store, newer.id, &got), STORE_OK);
    cr_assert_not(got.is_active);
    cr_assert_eq(got.ended_at_ms, 2500);
    cr_assert_float_eq(got.counters.ingest_rate_bps, 0, 1e-9);
    store_session_clear(&got);
    store_stream_t stream;
    cr_assert_eq(store_stream_get(store, data.beta.id, &stream), STORE_OK);
    cr_assert_not(stream.is_active);
    cr_assert_float_eq(stream.counters.ingest_rate_bps, 0, 1e-9);
    store_stream_clear(&stream);
    cr_assert_eq(store_close_open_sessions(store, "node-a", true, &closed), STORE_OK);
    cr_assert_eq(closed, 0);
    store_session_clear(&old);
    store_session_clear(&newer);
}

Test(store_list, session_list_scopes_and_filters)
{
    store_session_t used, unused, other;
    session_init(&used, &data.alpha, 100);
    used.record = true;
    used.last_seen_ms = 300;
    used.counters.source_segments_duration_s = 12;
    used.recording_status = STORE_RECORDING_READY;
    cr_assert_eq(store_session_insert(store, &used), STORE_OK);
    session_init(&unused, &data.alpha, 200);
    cr_assert_eq(store_session_insert(store, &unused), STORE_OK);
    session_init(&other, &data.bobs, 50);
    other.record = true;
    other.last_seen_ms = 100;
    other.counters.source_segments_duration_s = 2;
    other.recording_status = STORE_RECORDING_WAITING;
    cr_assert_eq(store_session_insert(store, &other), STORE_OK);

    store_query_t q = query_all();
    EXPECT_SESSIONS(&q, used.id, other.id, unused.id); /* lastSeen DESC */
    q.parent_id = data.alpha.id;
    EXPECT_SESSIONS(&q, used.id, unused.id);
    q.only_used = true;
    EXPECT_SESSIONS(&q, used.id);
    q = query_all();
    q.record = 1;
    EXPECT_SESSIONS(&q, used.id, other.id);
    q.record = 0;
    EXPECT_SESSIONS(&q, unused.id);
    q = query_all();
    q.user_id = data.bob.id;
    EXPECT_SESSIONS(&q, other.id);

    store_filter_t filter = text_filter("recordingStatus", STORE_OP_EQ, "ready");
    q = query_all();
    q.filters = &filter;
    q.filter_count = 1;
    EXPECT_SESSIONS(&q, used.id);
    filter = text_filter("user.email", STORE_OP_CONTAINS, "BOB@");
    EXPECT_SESSIONS(&q, other.id);
    filter = text_filter("parentId", STORE_OP_EQ, data.bobs.id);
    EXPECT_SESSIONS(&q, other.id);
    filter = number_filter("sourceSegmentsDuration", STORE_OP_GTE, 2);
    store_order_t order = {"createdAt", false};
    q.order = &order;
    q.order_count = 1;
    EXPECT_SESSIONS(&q, other.id, used.id);
    filter = text_filter("suspended", STORE_OP_EQ, "x"); /* a stream field only */
    store_session_t *rows = NULL;
    size_t count = 0;
    cr_assert_eq(store_session_list(store, &q, &rows, &count, NULL), STORE_INVALID);

    store_session_clear(&used);
    store_session_clear(&unused);
    store_session_clear(&other);
}

/* Rows seeded by hand with the sqlite3 CLI (as the end-to-end tests do) use the documented column
 * names, rely on the defaults, and may hold values the store never writes. */
Test(store_list, hand_seeded_rows_read_safely)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO sessions (id, parent_id, user_id, project_id, playback_id, name, "
             "created_at, recording_status) VALUES ('seeded', '%s', '%s', '%s', 'pb', 'seeded', "
             "1, 'bogus');"
             "INSERT INTO sessions (id, parent_id, user_id, project_id, playback_id, name, "
             "created_at, last_seen, source_segments_duration, record, recording_status, "
             "is_healthy) VALUES ('seeded-ready', '%s', '%s', '%s', 'pb', 'x', 2, 3, 4.5, TRUE, "
             "'ready', TRUE);",
             data.alpha.id, data.alice.id, data.alice.project_id, data.alpha.id, data.alice.id,
             data.alice.project_id);
    raw_exec(sql);
    store_session_t got;
    cr_assert_eq(store_session_get(store, "seeded", &got), STORE_OK);
    cr_assert_eq(got.recording_status, STORE_RECORDING_NONE_SET);
    cr_assert_eq(got.is_healthy, -1);
    cr_assert_null(got.issues_json);
    cr_assert_null(got.profiles_json);
    cr_assert_eq(got.last_seen_ms, 0);
    store_session_clear(&got);
    cr_assert_eq(store_session_get(store, "seeded-ready", &got), STORE_OK);
    cr_assert_eq(got.recording_status, STORE_RECORDING_READY);
    cr_assert_eq(got.is_healthy, 1);
    cr_assert(got.record);
    cr_assert_float_eq(got.counters.source_segments_duration_s, 4.5, 1e-9);
    store_session_clear(&got);
}
