/* Unit tests of the SQLite store (src/store/store_sqlite.c) against the contract in store.h. Each
 * test opens a fresh database in its own temporary directory. */
#include "store/store.h"
#include "util/ids.h"
#include "util/log.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char temp_dir[64];
static char db_path[128];
static store_t *store;

static void remove_db_files(void)
{
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s%s", db_path, suffixes[i]);
        unlink(path);
    }
}

static void setup(void)
{
    log_set_level(LOG_WARN); /* keep the expected warnings, drop "schema migrated" */
    snprintf(temp_dir, sizeof temp_dir, "/tmp/test_store.XXXXXX");
    cr_assert_not_null(mkdtemp(temp_dir));
    snprintf(db_path, sizeof db_path, "%s/streamd.db", temp_dir);
    char err[256] = "";
    store = store_open(db_path, err, sizeof err);
    cr_assert_not_null(store, "store_open: %s", err);
}

static void teardown(void)
{
    store_close(store);
    store = NULL;
    remove_db_files();
    rmdir(temp_dir);
}

TestSuite(store, .init = setup, .fini = teardown);

/* Runs SQL on the database file through a separate plain connection, as the sqlite3 CLI would. */
static void raw_exec(const char *sql)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    char *message = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &message);
    cr_assert_eq(rc, SQLITE_OK, "raw sql failed: %s", message ? message : "?");
    sqlite3_free(message);
    sqlite3_close(db);
}

static char *text_dup(const char *text)
{
    return text ? strdup(text) : NULL;
}

/* ---- Fixtures ------------------------------------------------------------------------------- */

static void make_user(const char *name, const char *email, store_user_t *out)
{
    memset(out, 0, sizeof *out);
    out->name = text_dup(name);
    out->email = text_dup(email);
    cr_assert_eq(store_user_create(store, out), STORE_OK);
}

/* A stream with fresh ids and every optional field absent. The caller clears it. */
static void stream_init(store_stream_t *s, const store_user_t *owner, const char *name,
                        int64_t created_at_ms)
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
static void stream_fill_all(store_stream_t *s, const store_user_t *owner)
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

static void assert_str_or_null_eq(const char *actual, const char *expected)
{
    if (!expected)
        cr_assert_null(actual, "expected NULL, got \"%s\"", actual);
    else
        cr_assert_str_eq(actual, expected);
}

static void assert_counters_eq(const store_counters_t *a, const store_counters_t *b)
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

static void assert_stream_eq(const store_stream_t *a, const store_stream_t *b)
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

/* ---- Opening and migrations ----------------------------------------------------------------- */

static void expect_journal_mode_wal(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

Test(store, fresh_database_is_migrated_and_in_wal_mode)
{
    int version = 0;
    cr_assert_eq(store_schema_version(store, &version), STORE_OK);
    cr_assert_eq(version, 2);
    expect_journal_mode_wal();
}

Test(store, reopen_is_idempotent_and_keeps_data)
{
    store_user_t user;
    make_user("alice", NULL, &user);
    store_close(store);
    char err[256] = "";
    store = store_open(db_path, err, sizeof err);
    cr_assert_not_null(store, "reopen: %s", err);
    int version = 0;
    cr_assert_eq(store_schema_version(store, &version), STORE_OK);
    cr_assert_eq(version, 2);
    store_user_t got;
    cr_assert_eq(store_user_get(store, user.id, &got), STORE_OK);
    cr_assert_str_eq(got.name, "alice");
    store_user_clear(&got);
    store_user_clear(&user);
}

Test(store, version_1_database_is_migrated_to_2)
{
    store_close(store);
    store = NULL;
    /* Make the file what version 1 left: no health column, user_version 1. */
    raw_exec("ALTER TABLE sessions DROP COLUMN health; PRAGMA user_version = 1");
    char err[256] = "";
    store = store_open(db_path, err, sizeof err);
    cr_assert_not_null(store, "%s", err);
    int version = 0;
    cr_assert_eq(store_schema_version(store, &version), STORE_OK);
    cr_assert_eq(version, 2);
    store_session_t missing;
    cr_assert_eq(store_session_get(store, "none", &missing), STORE_NOT_FOUND);
}

Test(store, future_schema_version_is_refused)
{
    store_close(store);
    store = NULL;
    raw_exec("PRAGMA user_version = 99");
    char err[256] = "";
    cr_assert_null(store_open(db_path, err, sizeof err));
    cr_assert_not_null(strstr(err, "99"), "message: %s", err);
    cr_assert_not_null(strstr(err, "newer"), "message: %s", err);
}

Test(store, url_forms)
{
    char url[160];
    snprintf(url, sizeof url, "sqlite:%s", db_path);
    char err[256] = "";
    store_t *second = store_open(url, err, sizeof err);
    cr_assert_not_null(second, "sqlite: prefix: %s", err);
    store_close(second);

    cr_assert_null(store_open(":memory:", err, sizeof err));
    cr_assert_neq(err[0], '\0');
    cr_assert_null(store_open("", err, sizeof err));
    cr_assert_null(store_open("postgres://localhost/db", err, sizeof err));
    cr_assert_null(store_open(NULL, NULL, 0));
}

Test(store, garbage_file_is_refused)
{
    char path[160];
    snprintf(path, sizeof path, "%s/garbage.db", temp_dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 512; i++)
        fputs("this is not a database ", f);
    fclose(f);
    char err[256] = "";
    cr_assert_null(store_open(path, err, sizeof err));
    cr_assert_neq(err[0], '\0');
    unlink(path);
}

Test(store, freeing_null_is_a_no_op)
{
    store_close(NULL);
    store_user_clear(NULL);
    store_api_token_clear(NULL);
    store_stream_clear(NULL);
    store_session_clear(NULL);
    store_api_token_list_free(NULL, 0);
    store_stream_list_free(NULL, 3);
    store_session_list_free(NULL, 0);
}

/* ---- Users ---------------------------------------------------------------------------------- */

Test(store, user_create_get_count)
{
    int64_t count = -1;
    cr_assert_eq(store_user_count(store, &count), STORE_OK);
    cr_assert_eq(count, 0);

    store_user_t alice, bob;
    memset(&alice, 0, sizeof alice);
    alice.name = text_dup("alice");
    alice.email = text_dup("alice@example.com");
    alice.admin = true;
    cr_assert_eq(store_user_create(store, &alice), STORE_OK);
    cr_assert(ids_is_uuid(alice.id));
    cr_assert(ids_is_uuid(alice.project_id));
    cr_assert_gt(alice.created_at_ms, 0);
    make_user("bob", NULL, &bob);

    store_user_t got;
    cr_assert_eq(store_user_get(store, alice.id, &got), STORE_OK);
    cr_assert_str_eq(got.id, alice.id);
    cr_assert_str_eq(got.project_id, alice.project_id);
    cr_assert_str_eq(got.name, "alice");
    cr_assert_str_eq(got.email, "alice@example.com");
    cr_assert(got.admin);
    cr_assert_not(got.suspended);
    cr_assert_eq(got.created_at_ms, alice.created_at_ms);
    store_user_clear(&got);

    cr_assert_eq(store_user_get(store, bob.id, &got), STORE_OK);
    cr_assert_null(got.email);
    cr_assert_not(got.admin);
    store_user_clear(&got);

    cr_assert_eq(store_user_get(store, "no-such-user", &got), STORE_NOT_FOUND);
    cr_assert_eq(store_user_count(store, &count), STORE_OK);
    cr_assert_eq(count, 2);
    store_user_clear(&alice);
    store_user_clear(&bob);
}

/* ---- API tokens ----------------------------------------------------------------------------- */

static void make_token(const store_user_t *owner, const char *name, const char *secret,
                       store_api_token_t *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->user_id, sizeof out->user_id, "%s", owner->id);
    snprintf(out->project_id, sizeof out->project_id, "%s", owner->project_id);
    out->name = text_dup(name);
    ids_sha256_hex(secret, strlen(secret), out->key_hash);
    cr_assert_eq(store_api_token_create(store, out), STORE_OK);
}

Test(store, token_create_find_touch_list_delete)
{
    store_user_t alice, bob;
    make_user("alice", NULL, &alice);
    make_user("bob", NULL, &bob);
    store_api_token_t first, second, other;
    make_token(&alice, "first", "secret-1", &first);
    make_token(&alice, "second", "secret-2", &second);
    make_token(&bob, "bob's", "secret-3", &other);
    cr_assert(ids_is_uuid(first.id));
    cr_assert_gt(first.created_at_ms, 0);

    store_api_token_t found;
    cr_assert_eq(store_api_token_find(store, second.key_hash, &found), STORE_OK);
    cr_assert_str_eq(found.id, second.id);
    cr_assert_str_eq(found.user_id, alice.id);
    cr_assert_str_eq(found.project_id, alice.project_id);
    cr_assert_str_eq(found.name, "second");
    cr_assert_eq(found.last_used_ms, 0);
    store_api_token_clear(&found);
    cr_assert_eq(store_api_token_find(store, "0000", &found), STORE_NOT_FOUND);

    cr_assert_eq(store_api_token_touch(store, second.id, 1234), STORE_OK);
    cr_assert_eq(store_api_token_touch(store, second.id, 1000), STORE_OK); /* never goes back */
    cr_assert_eq(store_api_token_find(store, second.key_hash, &found), STORE_OK);
    cr_assert_eq(found.last_used_ms, 1234);
    store_api_token_clear(&found);
    cr_assert_eq(store_api_token_touch(store, "missing", 1), STORE_NOT_FOUND);

    store_api_token_t *list = NULL;
    size_t count = 0;
    cr_assert_eq(store_api_token_list(store, alice.id, &list, &count), STORE_OK);
    cr_assert_eq(count, 2);
    cr_assert_str_eq(list[0].name, "first"); /* oldest first */
    cr_assert_str_eq(list[1].name, "second");
    store_api_token_list_free(list, count);

    cr_assert_eq(store_api_token_delete(store, bob.id, first.id), STORE_NOT_FOUND);
    cr_assert_eq(store_api_token_delete(store, alice.id, first.id), STORE_OK);
    cr_assert_eq(store_api_token_delete(store, alice.id, first.id), STORE_NOT_FOUND);
    cr_assert_eq(store_api_token_list(store, alice.id, &list, &count), STORE_OK);
    cr_assert_eq(count, 1);
    store_api_token_list_free(list, count);

    store_api_token_clear(&first);
    store_api_token_clear(&second);
    store_api_token_clear(&other);
    store_user_clear(&alice);
    store_user_clear(&bob);
}

Test(store, token_duplicate_hash_conflicts_and_unknown_user_is_invalid)
{
    store_user_t alice;
    make_user("alice", NULL, &alice);
    store_api_token_t first, copy;
    make_token(&alice, "first", "same-secret", &first);
    copy = first;
    copy.name = text_dup("copy");
    cr_assert_eq(store_api_token_create(store, &copy), STORE_CONFLICT);
    store_api_token_clear(&copy);

    store_api_token_t orphan = {0};
    snprintf(orphan.user_id, sizeof orphan.user_id, "no-such-user");
    snprintf(orphan.project_id, sizeof orphan.project_id, "p");
    snprintf(orphan.key_hash, sizeof orphan.key_hash, "abc");
    orphan.name = text_dup("orphan");
    cr_assert_eq(store_api_token_create(store, &orphan), STORE_INVALID);
    store_api_token_clear(&orphan);
    store_api_token_clear(&first);
    store_user_clear(&alice);
}

/* ---- Streams: records ----------------------------------------------------------------------- */

Test(store, stream_every_field_round_trips)
{
    store_user_t alice;
    make_user("alice", NULL, &alice);
    store_stream_t full;
    stream_fill_all(&full, &alice);
    cr_assert_eq(store_stream_insert(store, &full), STORE_OK);

    store_stream_t got;
    cr_assert_eq(store_stream_get(store, full.id, &got), STORE_OK);
    assert_stream_eq(&got, &full);
    store_stream_clear(&got);
    cr_assert_eq(store_stream_get_by_key(store, full.stream_key, &got), STORE_OK);
    assert_stream_eq(&got, &full);
    store_stream_clear(&got);
    cr_assert_eq(store_stream_get_by_playback_id(store, full.playback_id, &got), STORE_OK);
    assert_stream_eq(&got, &full);
    store_stream_clear(&got);

    cr_assert_eq(store_stream_get(store, "missing", &got), STORE_NOT_FOUND);
    cr_assert_eq(store_stream_get_by_key(store, "missing", &got), STORE_NOT_FOUND);
    cr_assert_eq(store_stream_get_by_playback_id(store, "missing", &got), STORE_NOT_FOUND);
    store_stream_clear(&full);
    store_user_clear(&alice);
}

Test(store, stream_absent_fields_round_trip_as_null)
{
    store_user_t alice;
    make_user("alice", NULL, &alice);
    store_stream_t bare;
    stream_init(&bare, &alice, "bare", 42);
    cr_assert_eq(store_stream_insert(store, &bare), STORE_OK);
    store_stream_t got;
    cr_assert_eq(store_stream_get(store, bare.id, &got), STORE_OK);
    assert_stream_eq(&got, &bare);
    cr_assert_eq(got.is_healthy, -1);
    store_stream_clear(&got);
    store_stream_clear(&bare);
    store_user_clear(&alice);
}

/* The live fields keep the values of s: update writes settings only. */
static void keep_live_fields(store_stream_t *changed, const store_stream_t *s)
{
    changed->last_seen_ms = s->last_seen_ms;
    changed->is_active = s->is_active;
    changed->is_healthy = s->is_healthy;
    free(changed->issues_json);
    changed->issues_json = s->issues_json ? strdup(s->issues_json) : NULL;
    changed->counters = s->counters;
}

Test(store, stream_update_writes_every_setting_and_no_live_field)
{
    store_user_t alice;
    make_user("alice", NULL, &alice);
    store_stream_t s;
    stream_init(&s, &alice, "before", 10);
    cr_assert_eq(store_stream_insert(store, &s), STORE_OK);

    /* Same identity, every field changed; the live ones must not be written. */
    store_stream_t changed;
    stream_fill_all(&changed, &alice);
    memcpy(changed.id, s.id, sizeof s.id);
    memcpy(changed.stream_key, s.stream_key, sizeof s.stream_key);
    memcpy(changed.playback_id, s.playback_id, sizeof s.playback_id);
    changed.created_at_ms = s.created_at_ms;
    free(changed.created_by_token_name);
    changed.created_by_token_name = NULL;
    cr_assert_eq(store_stream_update(store, &changed), STORE_OK);
    store_stream_t got;
    cr_assert_eq(store_stream_get(store, s.id, &got), STORE_OK);
    keep_live_fields(&changed, &s);
    assert_stream_eq(&got, &changed);
    store_stream_clear(&got);

    /* Back to absent JSON values. */
    store_stream_t cleared;
    stream_init(&cleared, &alice, "after", 10);
    memcpy(cleared.id, s.id, sizeof s.id);
    memcpy(cleared.stream_key, s.stream_key, sizeof s.stream_key);
    memcpy(cleared.playback_id, s.playback_id, sizeof s.playback_id);
    cr_assert_eq(store_stream_update(store, &cleared), STORE_OK);
    cr_assert_eq(store_stream_get(store, s.id, &got), STORE_OK);
    assert_stream_eq(&got, &cleared);
    store_stream_clear(&got);

    snprintf(cleared.id, sizeof cleared.id, "missing");
    cr_assert_eq(store_stream_update(store, &cleared), STORE_NOT_FOUND);
    store_stream_clear(&cleared);
    store_stream_clear(&changed);
    store_stream_clear(&s);
    store_user_clear(&alice);
}

Test(store, stream_live_update_sets_state_and_adds_to_totals)
{
    store_user_t alice;
    make_user("alice", NULL, &alice);
    store_stream_t s;
    stream_init(&s, &alice, "live", 10);
    cr_assert_eq(store_stream_insert(store, &s), STORE_OK);

    store_stream_live_t live = {
        .is_active = true,
        .last_seen_ms = 5000,
        .is_healthy = 1,
        .issues_json = "[]",
        .ingest_rate_bps = 1234.5,
        .outgoing_rate_bps = 99.25,
        .added = {2, 4, 4.0, 8.0, 1000, 2000, 0, 0},
    };
    cr_assert_eq(store_stream_update_live(store, s.id, &live), STORE_OK);
    live.last_seen_ms = 4000; /* a late writer must not move last_seen back */
    live.is_healthy = -1;
    live.issues_json = NULL;
    cr_assert_eq(store_stream_update_live(store, s.id, &live), STORE_OK);
    store_stream_t got;
    cr_assert_eq(store_stream_get(store, s.id, &got), STORE_OK);
    cr_assert(got.is_active);
    cr_assert_eq(got.last_seen_ms, 5000);
    cr_assert_eq(got.is_healthy, -1);
    cr_assert_null(got.issues_json);
    cr_assert_eq(got.counters.source_segments, 4);
    cr_assert_eq(got.counters.transcoded_segments, 8);
    cr_assert_float_eq(got.counters.source_segments_duration_s, 8.0, 1e-9);
    cr_assert_eq(got.counters.source_bytes, 2000);
    cr_assert_eq(got.counters.transcoded_bytes, 4000);
    cr_assert_float_eq(got.counters.ingest_rate_bps, 1234.5, 1e-9);
    cr_assert_float_eq(got.counters.outgoing_rate_bps, 99.25, 1e-9);
    store_stream_clear(&got);
    cr_assert_eq(store_stream_update_live(store, "missing", &live), STORE_NOT_FOUND);
    store_stream_clear(&s);
    store_user_clear(&alice);
}

Test(store, stream_insert_conflicts)
{
    store_user_t alice;
    make_user("alice", NULL, &alice);
    store_stream_t first, dup_key, dup_playback, dup_id;
    stream_init(&first, &alice, "first", 1);
    cr_assert_eq(store_stream_insert(store, &first), STORE_OK);

    stream_init(&dup_key, &alice, "dup key", 2);
    memcpy(dup_key.stream_key, first.stream_key, sizeof first.stream_key);
    cr_assert_eq(store_stream_insert(store, &dup_key), STORE_CONFLICT);

    stream_init(&dup_playback, &alice, "dup playback", 3);
    memcpy(dup_playback.playback_id, first.playback_id, sizeof first.playback_id);
    cr_assert_eq(store_stream_insert(store, &dup_playback), STORE_CONFLICT);

    stream_init(&dup_id, &alice, "dup id", 4);
    memcpy(dup_id.id, first.id, sizeof first.id);
    cr_assert_eq(store_stream_insert(store, &dup_id), STORE_CONFLICT);

    store_stream_t orphan;
    stream_init(&orphan, &alice, "orphan", 5);
    snprintf(orphan.user_id, sizeof orphan.user_id, "no-such-user");
    cr_assert_eq(store_stream_insert(store, &orphan), STORE_INVALID);

    store_stream_clear(&orphan);
    store_stream_clear(&dup_id);
    store_stream_clear(&dup_playback);
    store_stream_clear(&dup_key);
    store_stream_clear(&first);
    store_user_clear(&alice);
}

/* ---- Streams: lists ------------------------------------------------------------------------- */

/* The list dataset: alice owns alpha, beta, gamma (deleted) and delta; bob owns bobs. */
typedef struct dataset {
    store_user_t alice, bob;
    store_stream_t alpha, beta, gamma, delta, bobs;
} dataset_t;

static dataset_t data;

static void insert_stream(store_stream_t *s)
{
    cr_assert_eq(store_stream_insert(store, s), STORE_OK);
}

static void dataset_setup(void)
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
    data.beta.creator_id_json = text_dup("not json"); /* must not break json_extract */
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

static void dataset_teardown(void)
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

TestSuite(store_list, .init = dataset_setup, .fini = dataset_teardown);

static store_query_t query_all(void)
{
    return (store_query_t){.record = -1, .limit = 100};
}

/* Lists with q and checks the names of the rows, in order, and the total. */
static void expect_streams(const store_query_t *q, const char *const *names, size_t count)
{
    store_stream_t *rows = NULL;
    size_t row_count = 0;
    int64_t total = -1;
    cr_assert_eq(store_stream_list(store, q, &rows, &row_count, &total), STORE_OK);
    cr_assert_eq(row_count, count, "expected %zu rows, got %zu", count, row_count);
    cr_assert_eq(total, (int64_t)count);
    for (size_t i = 0; i < count; i++)
        cr_assert_str_eq(rows[i].name, names[i], "row %zu", i);
    store_stream_list_free(rows, row_count);
}

#define EXPECT_STREAMS(q, ...)                                                                     \
    do {                                                                                           \
        const char *const expected_[] = {__VA_ARGS__};                                             \
        expect_streams(q, expected_, sizeof expected_ / sizeof expected_[0]);                      \
    } while (0)

static void expect_no_streams(const store_query_t *q)
{
    expect_streams(q, NULL, 0);
}

/* Lists with one filter, every user, ordered by name. */
static void expect_filtered(store_filter_t filter, const char *const *names, size_t count)
{
    store_order_t order = {"name", false};
    store_query_t q = query_all();
    q.filters = &filter;
    q.filter_count = 1;
    q.order = &order;
    q.order_count = 1;
    expect_streams(&q, names, count);
}

#define EXPECT_FILTERED(filter, ...)                                                               \
    do {                                                                                           \
        const char *const expected_[] = {__VA_ARGS__};                                             \
        expect_filtered(filter, expected_, sizeof expected_ / sizeof expected_[0]);                \
    } while (0)

static store_filter_t text_filter(const char *field, store_op_t op, const char *value)
{
    return (store_filter_t){
        .field = field, .op = op, .kind = STORE_VALUE_STRING, .string_value = value};
}

static store_filter_t number_filter(const char *field, store_op_t op, double value)
{
    return (store_filter_t){
        .field = field, .op = op, .kind = STORE_VALUE_NUMBER, .number_value = value};
}

static store_filter_t bool_filter(const char *field, bool value)
{
    return (store_filter_t){
        .field = field, .op = STORE_OP_EQ, .kind = STORE_VALUE_BOOL, .bool_value = value};
}

Test(store_list, default_order_and_id_tiebreak)
{
    store_query_t q = query_all();
    const char *tie_first = strcmp(data.beta.id, data.delta.id) < 0 ? "beta_cam" : "delta";
    const char *tie_second = strcmp(data.beta.id, data.delta.id) < 0 ? "delta" : "beta_cam";
    EXPECT_STREAMS(&q, "Bob's stream", "Alpha 100%", tie_first, tie_second);
}

Test(store_list, scope_by_user_and_project)
{
    store_order_t order = {"name", false};
    store_query_t q = query_all();
    q.order = &order;
    q.order_count = 1;
    q.user_id = data.alice.id;
    EXPECT_STREAMS(&q, "Alpha 100%", "beta_cam", "delta");
    q.user_id = NULL;
    q.project_id = data.bob.project_id;
    EXPECT_STREAMS(&q, "Bob's stream");
    q.user_id = "nobody";
    expect_no_streams(&q);
}

Test(store_list, deleted_hidden_unless_included)
{
    store_order_t order = {"name", false};
    store_query_t q = query_all();
    q.user_id = data.alice.id;
    q.order = &order;
    q.order_count = 1;
    EXPECT_STREAMS(&q, "Alpha 100%", "beta_cam", "delta");
    q.include_deleted = true;
    EXPECT_STREAMS(&q, "Alpha 100%", "Gamma", "beta_cam", "delta");
}

Test(store_list, active_only_and_record)
{
    store_query_t q = query_all();
    q.active_only = true;
    EXPECT_STREAMS(&q, "Bob's stream", "Alpha 100%");
    q.active_only = false;
    q.record = 1;
    EXPECT_STREAMS(&q, "Alpha 100%");
    q.record = 0;
    q.user_id = data.alice.id;
    store_order_t order = {"name", false};
    q.order = &order;
    q.order_count = 1;
    EXPECT_STREAMS(&q, "beta_cam", "delta");
}

Test(store_list, eq_filters_on_strings_numbers_bools)
{
    EXPECT_FILTERED(text_filter("name", STORE_OP_EQ, "delta"), "delta");
    expect_filtered(text_filter("name", STORE_OP_EQ, "Delta"), NULL, 0); /* exact */
    EXPECT_FILTERED(text_filter("id", STORE_OP_EQ, data.beta.id), "beta_cam");
    EXPECT_FILTERED(text_filter("playbackId", STORE_OP_EQ, data.alpha.playback_id), "Alpha 100%");
    EXPECT_FILTERED(text_filter("userId", STORE_OP_EQ, data.bob.id), "Bob's stream");
    EXPECT_FILTERED(number_filter("sourceSegments", STORE_OP_EQ, 5), "beta_cam");
    EXPECT_FILTERED(number_filter("sourceSegmentsDuration", STORE_OP_EQ, 20.5), "Alpha 100%");
    EXPECT_FILTERED(bool_filter("isActive", true), "Alpha 100%", "Bob's stream");
    EXPECT_FILTERED(bool_filter("record", true), "Alpha 100%");
    EXPECT_FILTERED(bool_filter("suspended", true), "beta_cam");
    EXPECT_FILTERED(bool_filter("isHealthy", true), "Alpha 100%");
    EXPECT_FILTERED(bool_filter("isHealthy", false), "beta_cam");
}

Test(store_list, contains_is_case_insensitive_and_literal)
{
    EXPECT_FILTERED(text_filter("name", STORE_OP_CONTAINS, "ALPHA"), "Alpha 100%");
    EXPECT_FILTERED(text_filter("name", STORE_OP_CONTAINS, "100%"), "Alpha 100%");
    EXPECT_FILTERED(text_filter("name", STORE_OP_CONTAINS, "%"), "Alpha 100%");
    EXPECT_FILTERED(text_filter("name", STORE_OP_CONTAINS, "_"), "beta_cam");
    EXPECT_FILTERED(text_filter("name", STORE_OP_CONTAINS, "a_c"), "beta_cam");
    expect_filtered(text_filter("name", STORE_OP_CONTAINS, "a%c"), NULL, 0);
    EXPECT_FILTERED(text_filter("name", STORE_OP_CONTAINS, "'s"), "Bob's stream");
}

Test(store_list, comparison_filters)
{
    EXPECT_FILTERED(number_filter("sourceSegments", STORE_OP_GT, 5), "Alpha 100%", "delta");
    EXPECT_FILTERED(number_filter("sourceSegments", STORE_OP_GTE, 5), "Alpha 100%", "beta_cam",
                    "delta");
    EXPECT_FILTERED(number_filter("sourceSegments", STORE_OP_LT, 5), "Bob's stream");
    EXPECT_FILTERED(number_filter("sourceSegments", STORE_OP_LTE, 5), "Bob's stream", "beta_cam");
    EXPECT_FILTERED(number_filter("sourceSegmentsDuration", STORE_OP_GT, 10.25), "Alpha 100%");
    EXPECT_FILTERED(number_filter("lastSeen", STORE_OP_GTE, 5000), "Alpha 100%", "Bob's stream");
    EXPECT_FILTERED(number_filter("createdAt", STORE_OP_LT, 1000), "Bob's stream");
}

Test(store_list, joined_and_json_fields)
{
    EXPECT_FILTERED(text_filter("user.email", STORE_OP_EQ, "bob@Example.org"), "Bob's stream");
    EXPECT_FILTERED(text_filter("user.email", STORE_OP_CONTAINS, "EXAMPLE.org"), "Bob's stream");
    EXPECT_FILTERED(text_filter("user.email", STORE_OP_CONTAINS, "example"), "Alpha 100%",
                    "Bob's stream", "beta_cam", "delta");
    EXPECT_FILTERED(text_filter("creatorId", STORE_OP_EQ, "creator-1"), "Alpha 100%");
    EXPECT_FILTERED(text_filter("pull.source", STORE_OP_EQ, "rtmp://origin/a"), "Alpha 100%");
    expect_filtered(text_filter("parentId", STORE_OP_EQ, data.alpha.id), NULL, 0);

    store_query_t q = query_all();
    q.parent_id = data.alpha.id; /* streams have no parent */
    expect_no_streams(&q);
}

Test(store_list, filters_combine_with_and)
{
    store_filter_t filters[] = {
        text_filter("user.email", STORE_OP_CONTAINS, "alice"),
        number_filter("sourceSegments", STORE_OP_GTE, 5),
        bool_filter("isActive", false),
    };
    store_query_t q = query_all();
    q.filters = filters;
    q.filter_count = 3;
    store_order_t order = {"sourceSegments", false};
    q.order = &order;
    q.order_count = 1;
    EXPECT_STREAMS(&q, "beta_cam", "delta");
}

Test(store_list, order_by_fields)
{
    store_query_t q = query_all();
    store_order_t order[2] = {{"name", false}, {"createdAt", false}};
    q.order = order;
    q.order_count = 1;
    /* Binary collation: upper case sorts before lower case. */
    EXPECT_STREAMS(&q, "Alpha 100%", "Bob's stream", "beta_cam", "delta");
    order[0].descending = true;
    EXPECT_STREAMS(&q, "delta", "beta_cam", "Bob's stream", "Alpha 100%");
    order[0] = (store_order_t){"sourceSegments", true};
    EXPECT_STREAMS(&q, "Alpha 100%", "delta", "beta_cam", "Bob's stream");
    order[0] = (store_order_t){"lastSeen", false};
    order[1] = (store_order_t){"sourceSegments", true};
    q.order_count = 2;
    EXPECT_STREAMS(&q, "delta", "beta_cam", "Alpha 100%", "Bob's stream");
    order[0] = (store_order_t){"user.email", true};
    EXPECT_STREAMS(&q, "Bob's stream", "Alpha 100%", "delta", "beta_cam");
}

Test(store_list, limit_offset_and_total)
{
    store_query_t q = query_all();
    q.limit = 3;
    store_stream_t *rows = NULL;
    size_t count = 0;
    int64_t total = 0;
    char seen[8][STORE_ID_SIZE];
    size_t seen_count = 0;
    for (q.offset = 0; q.offset < 6; q.offset += q.limit) {
        cr_assert_eq(store_stream_list(store, &q, &rows, &count, &total), STORE_OK);
        cr_assert_eq(total, 4);
        cr_assert_eq(count, q.offset == 0 ? 3u : q.offset == 3 ? 1u : 0u);
        for (size_t i = 0; i < count; i++) {
            for (size_t j = 0; j < seen_count; j++)
                cr_assert_str_neq(seen[j], rows[i].id, "row repeated across pages");
            memcpy(seen[seen_count++], rows[i].id, STORE_ID_SIZE);
        }
        store_stream_list_free(rows, count);
    }
    cr_assert_eq(seen_count, 4);

    /* The total is optional. */
    q.offset = 0;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_OK);
    cr_assert_eq(count, 3);
    store_stream_list_free(rows, count);
}

Test(store_list, invalid_queries)
{
    store_stream_t *rows = (store_stream_t *)1;
    size_t count = 9;
    store_query_t q = query_all();
    store_filter_t unknown = text_filter("streamKey", STORE_OP_EQ, "x");
    q.filters = &unknown;
    q.filter_count = 1;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);
    cr_assert_null(rows);
    cr_assert_eq(count, 0);

    store_filter_t contains_number = number_filter("name", STORE_OP_CONTAINS, 1);
    q.filters = &contains_number;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);

    store_filter_t null_string = text_filter("name", STORE_OP_EQ, NULL);
    q.filters = &null_string;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);

    q = query_all();
    store_order_t bad_order = {"name; DROP TABLE streams", false};
    q.order = &bad_order;
    q.order_count = 1;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);

    /* recordingStatus is a session field only. */
    q = query_all();
    store_filter_t session_only = text_filter("recordingStatus", STORE_OP_EQ, "ready");
    q.filters = &session_only;
    q.filter_count = 1;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);

    q = query_all();
    q.limit = 0;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);
    q.limit = 10;
    q.offset = -1;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);
}

Test(store_list, sql_injection_matches_nothing_and_does_no_harm)
{
    const char *attacks[] = {
        "x' OR '1'='1",
        "'; DROP TABLE streams; --",
        "\" OR 1=1 --",
        "%' OR name LIKE '%",
    };
    for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++) {
        expect_filtered(text_filter("name", STORE_OP_EQ, attacks[i]), NULL, 0);
        expect_filtered(text_filter("name", STORE_OP_CONTAINS, attacks[i]), NULL, 0);
        expect_filtered(text_filter("user.email", STORE_OP_EQ, attacks[i]), NULL, 0);
    }
    store_query_t q = query_all();
    q.user_id = "x' OR '1'='1";
    expect_no_streams(&q);
    q = query_all();
    EXPECT_STREAMS(&q, "Bob's stream", "Alpha 100%",
                   strcmp(data.beta.id, data.delta.id) < 0 ? "beta_cam" : "delta",
                   strcmp(data.beta.id, data.delta.id) < 0 ? "delta" : "beta_cam");
}

/* ---- Sessions ------------------------------------------------------------------------------- */

static void session_init(store_session_t *s, const store_stream_t *parent, int64_t created_at_ms)
{
    memset(s, 0, sizeof *s);
    cr_assert_eq(ids_uuid_v4(s->id), 0);
    memcpy(s->parent_id, parent->id, sizeof s->parent_id);
    memcpy(s->user_id, parent->user_id, sizeof s->user_id);
    memcpy(s->project_id, parent->project_id, sizeof s->project_id);
    memcpy(s->playback_id, parent->playback_id, sizeof s->playback_id);
    s->name = text_dup(parent->name);
    s->created_at_ms = created_at_ms;
    s->is_healthy = -1;
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
    cr_assert_eq(store_stream_update_live(store, data.beta.id, &live), STORE_OK);
    int64_t closed = -1;
    cr_assert_eq(store_close_open_sessions(store, &closed), STORE_OK);
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
    cr_assert_eq(store_close_open_sessions(store, &closed), STORE_OK);
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
             "is_healthy) VALUES ('seeded-ready', '%s', '%s', '%s', 'pb', 'x', 2, 3, 4.5, 1, "
             "'ready', 1);",
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

/* ---- Concurrency ---------------------------------------------------------------------------- */

/* More threads than pool connections, so some calls wait for a free connection. */
#define THREADS 8
#define STREAMS_PER_THREAD 50

static atomic_int thread_failures;

/* Inserts streams and reads each back by key and through a list, counting any failure. */
static void *worker(void *arg)
{
    const store_user_t *owner = arg;
    for (int i = 0; i < STREAMS_PER_THREAD; i++) {
        store_stream_t s;
        memset(&s, 0, sizeof s);
        ids_uuid_v4(s.id);
        memcpy(s.user_id, owner->id, sizeof s.user_id);
        memcpy(s.project_id, owner->project_id, sizeof s.project_id);
        ids_stream_key(s.id, s.stream_key);
        ids_playback_id(s.id, s.playback_id);
        s.name = strdup("concurrent");
        s.created_at_ms = i;
        s.is_healthy = -1;
        store_stream_t got;
        memset(&got, 0, sizeof got);
        if (store_stream_insert(store, &s) != STORE_OK ||
            store_stream_get_by_key(store, s.stream_key, &got) != STORE_OK ||
            strcmp(got.id, s.id) != 0)
            atomic_fetch_add(&thread_failures, 1);
        store_stream_clear(&got);
        store_stream_clear(&s);

        store_query_t q = {.user_id = owner->id, .record = -1, .limit = 5};
        store_stream_t *rows = NULL;
        size_t count = 0;
        int64_t total = 0;
        if (store_stream_list(store, &q, &rows, &count, &total) != STORE_OK || total < 1)
            atomic_fetch_add(&thread_failures, 1);
        store_stream_list_free(rows, count);
    }
    return NULL;
}

Test(store, concurrent_inserts_and_reads)
{
    store_user_t owner;
    make_user("busy", NULL, &owner);
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, worker, &owner), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    cr_assert_eq(atomic_load(&thread_failures), 0);

    store_query_t q = {.user_id = owner.id, .record = -1, .limit = 1};
    store_stream_t *rows = NULL;
    size_t count = 0;
    int64_t total = 0;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, &total), STORE_OK);
    cr_assert_eq(total, THREADS * STREAMS_PER_THREAD);
    store_stream_list_free(rows, count);
    store_user_clear(&owner);
}
