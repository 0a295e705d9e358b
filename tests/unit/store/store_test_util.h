/* Fixtures shared by the store's unit tests: a fresh database per test (a SQLite file in its own
 * temporary directory, or, when STREAMD_TEST_DB names a PostgreSQL database as tests/pg/cluster.sh
 * sets it, that database emptied), users and streams to put in it, record comparisons, and the
 * list dataset.
 * Header-only so each test binary stays one file; every function is static and may go unused. */
#ifndef STREAMD_TESTS_STORE_TEST_UTIL_H
#define STREAMD_TESTS_STORE_TEST_UTIL_H

#include "store/store.h"
#include "util/ids.h"
#include "util/log.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char temp_dir[64];
static char db_path[128];
static store_t *store;

__attribute__((unused)) static void remove_db_files(void)
{
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s%s", db_path, suffixes[i]);
        unlink(path);
    }
}

/* The PostgreSQL database the tests run against; NULL = SQLite files. */
__attribute__((unused)) static const char *pg_url(void)
{
    const char *url = getenv("STREAMD_TEST_DB");
    return url && url[0] ? url : NULL;
}

/* Runs SQL on the PostgreSQL test database through a connection of its own. */
__attribute__((unused)) static void pg_exec(const char *sql)
{
    PGconn *db = PQconnectdb(pg_url());
    cr_assert_eq(PQstatus(db), CONNECTION_OK, "%s", PQerrorMessage(db));
    PGresult *res = PQexec(db, sql);
    ExecStatusType status = PQresultStatus(res);
    cr_assert(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK, "raw sql failed: %s",
              PQerrorMessage(db));
    PQclear(res);
    PQfinish(db);
}

__attribute__((unused)) static void setup(void)
{
    log_set_level(LOG_WARN); /* keep the expected warnings, drop "schema migrated" */
    char err[256] = "";
    if (pg_url()) {
        pg_exec("SET client_min_messages = warning; DROP SCHEMA public CASCADE; "
                "CREATE SCHEMA public");
        store = store_open(pg_url(), err, sizeof err);
        cr_assert_not_null(store, "store_open: %s", err);
        return;
    }
    snprintf(temp_dir, sizeof temp_dir, "/tmp/test_store.XXXXXX");
    cr_assert_not_null(mkdtemp(temp_dir));
    snprintf(db_path, sizeof db_path, "%s/streamd.db", temp_dir);
    store = store_open(db_path, err, sizeof err);
    cr_assert_not_null(store, "store_open: %s", err);
}

__attribute__((unused)) static void teardown(void)
{
    store_close(store);
    store = NULL;
    if (pg_url())
        return;
    remove_db_files();
    rmdir(temp_dir);
}

/* Runs SQL on the database through a separate plain connection, as the sqlite3 CLI or psql would.
 * Booleans are written TRUE / FALSE, which both dialects read. */
__attribute__((unused)) static void raw_exec(const char *sql)
{
    if (pg_url()) {
        pg_exec(sql);
        return;
    }
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    char *message = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &message);
    cr_assert_eq(rc, SQLITE_OK, "raw sql failed: %s", message ? message : "?");
    sqlite3_free(message);
    sqlite3_close(db);
}

__attribute__((unused)) static char *text_dup(const char *text)
{
    return text ? strdup(text) : NULL;
}

/* ---- Fixtures ------------------------------------------------------------------------------- */

__attribute__((unused)) static void make_user(const char *name, const char *email,
                                              store_user_t *out)
{
    memset(out, 0, sizeof *out);
    out->name = text_dup(name);
    out->email = text_dup(email);
    cr_assert_eq(store_user_create(store, out), STORE_OK);
}

/* A stream with fresh ids and every optional field absent. The caller clears it. */
__attribute__((unused)) static void stream_init(store_stream_t *s, const store_user_t *owner,
                                                const char *name, int64_t created_at_ms)
{
    memset(s, 0, sizeof *s);
    cr_assert_eq(ids_uuid_v4(s->id), 0);
    snprintf(s->user_id, sizeof s->user_id, "%s", owner->id);
    snprintf(s->project_id, sizeof s->project_id, "%s", owner->project_id);
    cr_assert_eq(ids_stream_key(s->id, s->stream_key), 0);
    cr_assert_eq(ids_playback_id(s->id, s->playback_id), 0);
    s->name = text_dup(name);
    s->created_at_ms = created_at_ms;
    s->is_healthy = -1;
}

/* A stream with every field set to a distinct non-default value. */
__attribute__((unused)) static void stream_fill_all(store_stream_t *s, const store_user_t *owner)
{
    stream_init(s, owner, "full stream", 1700000000123);
    s->created_by_token_name = text_dup("ci token");
    s->last_seen_ms = 1700000000456;
    s->last_terminated_at_ms = 1700000000789;
    s->is_active = true;
    s->record = true;
    s->suspended = true;
    s->deleted = true;
    s->is_healthy = 1;
    s->issues_json = text_dup("[\"TranscodeRealTime\"]");
    s->counters = (store_counters_t){
        .source_segments = 11,
        .transcoded_segments = 22,
        .source_segments_duration_s = 33.5,
        .transcoded_segments_duration_s = 44.25,
        .source_bytes = 5000000000LL,
        .transcoded_bytes = 6000000000LL,
        .ingest_rate_bps = 77.125,
        .outgoing_rate_bps = 88.0625,
    };
    s->profiles_json = text_dup("[{\"name\":\"720p\",\"bitrate\":2000000,\"fps\":30,\"width\":1280,"
                                "\"height\":720}]");
    s->user_tags_json = text_dup("{\"team\":\"a\"}");
    s->creator_id_json = text_dup("{\"type\":\"unverified\",\"value\":\"creator-1\"}");
    s->pull_json = text_dup("{\"source\":\"rtmp://origin/live\"}");
    s->playback_policy_json = text_dup("{\"type\":\"public\"}");
    s->recording_spec_json = text_dup("{\"profiles\":[]}");
    s->multistream_json = text_dup("{\"targets\":[]}");
}

__attribute__((unused)) static void assert_str_or_null_eq(const char *actual, const char *expected)
{
    if (!expected)
        cr_assert_null(actual, "expected NULL, got \"%s\"", actual);
    else
        cr_assert_str_eq(actual, expected);
}

__attribute__((unused)) static void assert_counters_eq(const store_counters_t *a,
                                                       const store_counters_t *b)
{
    cr_assert_eq(a->source_segments, b->source_segments);
    cr_assert_eq(a->transcoded_segments, b->transcoded_segments);
    cr_assert_float_eq(a->source_segments_duration_s, b->source_segments_duration_s, 1e-9);
    cr_assert_float_eq(a->transcoded_segments_duration_s, b->transcoded_segments_duration_s, 1e-9);
    cr_assert_eq(a->source_bytes, b->source_bytes);
    cr_assert_eq(a->transcoded_bytes, b->transcoded_bytes);
    cr_assert_float_eq(a->ingest_rate_bps, b->ingest_rate_bps, 1e-9);
    cr_assert_float_eq(a->outgoing_rate_bps, b->outgoing_rate_bps, 1e-9);
}

__attribute__((unused)) static void assert_stream_eq(const store_stream_t *a,
                                                     const store_stream_t *b)
{
    cr_assert_str_eq(a->id, b->id);
    cr_assert_str_eq(a->user_id, b->user_id);
    cr_assert_str_eq(a->project_id, b->project_id);
    cr_assert_str_eq(a->stream_key, b->stream_key);
    cr_assert_str_eq(a->playback_id, b->playback_id);
    cr_assert_str_eq(a->name, b->name);
    assert_str_or_null_eq(a->created_by_token_name, b->created_by_token_name);
    cr_assert_eq(a->created_at_ms, b->created_at_ms);
    cr_assert_eq(a->last_seen_ms, b->last_seen_ms);
    cr_assert_eq(a->last_terminated_at_ms, b->last_terminated_at_ms);
    cr_assert_eq(a->is_active, b->is_active);
    cr_assert_eq(a->record, b->record);
    cr_assert_eq(a->suspended, b->suspended);
    cr_assert_eq(a->deleted, b->deleted);
    cr_assert_eq(a->is_healthy, b->is_healthy);
    assert_str_or_null_eq(a->issues_json, b->issues_json);
    assert_counters_eq(&a->counters, &b->counters);
    assert_str_or_null_eq(a->profiles_json, b->profiles_json);
    assert_str_or_null_eq(a->user_tags_json, b->user_tags_json);
    assert_str_or_null_eq(a->creator_id_json, b->creator_id_json);
    assert_str_or_null_eq(a->pull_json, b->pull_json);
    assert_str_or_null_eq(a->playback_policy_json, b->playback_policy_json);
    assert_str_or_null_eq(a->recording_spec_json, b->recording_spec_json);
    assert_str_or_null_eq(a->multistream_json, b->multistream_json);
}

/* ---- The list dataset ----------------------------------------------------------------------- */

/* The list dataset: alice owns alpha, beta, gamma (deleted) and delta; bob owns bobs. */
typedef struct dataset {
    store_user_t alice, bob;
    store_stream_t alpha, beta, gamma, delta, bobs;
} dataset_t;

static dataset_t data;

__attribute__((unused)) static void insert_stream(store_stream_t *s)
{
    cr_assert_eq(store_stream_insert(store, s), STORE_OK);
}

__attribute__((unused)) static void dataset_setup(void)
{
    setup();
    make_user("alice", "alice@example.com", &data.alice);
    make_user("bob", "bob@Example.org", &data.bob);

    stream_init(&data.alpha, &data.alice, "Alpha 100%", 1000);
    data.alpha.counters.source_segments = 10;
    data.alpha.counters.source_segments_duration_s = 20.5;
    data.alpha.last_seen_ms = 5000;
    data.alpha.is_active = true;
    data.alpha.record = true;
    data.alpha.is_healthy = 1;
    data.alpha.creator_id_json = text_dup("{\"type\":\"unverified\",\"value\":\"creator-1\"}");
    data.alpha.pull_json = text_dup("{\"source\":\"rtmp://origin/a\"}");
    insert_stream(&data.alpha);

    stream_init(&data.beta, &data.alice, "beta_cam", 2000);
    data.beta.counters.source_segments = 5;
    data.beta.counters.source_segments_duration_s = 10;
    data.beta.last_seen_ms = 4000;
    data.beta.suspended = true;
    data.beta.is_healthy = 0;
    /* Must not break the member lookup: text SQLite holds as it is (json_extract would fail on
     * it), and in PostgreSQL, which refuses malformed JSON, a value that is not an object. */
    data.beta.creator_id_json = text_dup(pg_url() ? "\"not an object\"" : "not json");
    insert_stream(&data.beta);

    stream_init(&data.gamma, &data.alice, "Gamma", 3000);
    data.gamma.deleted = true;
    insert_stream(&data.gamma);

    stream_init(&data.delta, &data.alice, "delta", 2000);
    data.delta.counters.source_segments = 7;
    data.delta.last_seen_ms = 4000; /* ties with beta on the default order */
    insert_stream(&data.delta);

    stream_init(&data.bobs, &data.bob, "Bob's stream", 500);
    data.bobs.counters.source_segments = 3;
    data.bobs.last_seen_ms = 6000;
    data.bobs.is_active = true;
    insert_stream(&data.bobs);
}

__attribute__((unused)) static void dataset_teardown(void)
{
    store_stream_clear(&data.alpha);
    store_stream_clear(&data.beta);
    store_stream_clear(&data.gamma);
    store_stream_clear(&data.delta);
    store_stream_clear(&data.bobs);
    store_user_clear(&data.alice);
    store_user_clear(&data.bob);
    teardown();
}

__attribute__((unused)) static store_query_t query_all(void)
{
    return (store_query_t){.record = -1, .limit = 100};
}

__attribute__((unused)) static store_filter_t text_filter(const char *field, store_op_t op,
                                                          const char *value)
{
    return (store_filter_t){
        .field = field, .op = op, .kind = STORE_VALUE_STRING, .string_value = value};
}

__attribute__((unused)) static store_filter_t number_filter(const char *field, store_op_t op,
                                                            double value)
{
    return (store_filter_t){
        .field = field, .op = op, .kind = STORE_VALUE_NUMBER, .number_value = value};
}

__attribute__((unused)) static store_filter_t bool_filter(const char *field, bool value)
{
    return (store_filter_t){
        .field = field, .op = STORE_OP_EQ, .kind = STORE_VALUE_BOOL, .bool_value = value};
}

#endif
