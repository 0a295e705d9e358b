/* Unit tests of the SQLite store (src/store/store_sqlite.c) against the contract in store.h:
 * opening and migrations, users, API tokens, stream records, concurrency. Each test opens a fresh
 * database in its own temporary directory (store_test_util.h). Lists: test_store_lists.c;
 * sessions: test_store_sessions.c. */
#include "store/migrations.h"
#include "store/store.h"
#include "store_test_util.h"
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

TestSuite(store, .init = setup, .fini = teardown);

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
    cr_assert_eq(version, migrations_latest());
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
    cr_assert_eq(version, migrations_latest());
    store_user_t got;
    cr_assert_eq(store_user_get(store, user.id, &got), STORE_OK);
    cr_assert_str_eq(got.name, "alice");
    store_user_clear(&got);
    store_user_clear(&user);
}

Test(store, version_1_database_is_migrated_to_latest)
{
    store_close(store);
    store = NULL;
    /* Make the file what version 1 left: no health column (2), no nodes (3), no signing keys (4),
     * no webhooks (5), user_version 1. */
    raw_exec("DROP TABLE webhook_logs; DROP TABLE webhook_deliveries; DROP TABLE webhooks; "
             "ALTER TABLE sessions DROP COLUMN recording_waiting_at; DROP INDEX signing_keys_user; "
             "DROP TABLE signing_keys; "
             "DROP INDEX sessions_node_active; DROP INDEX sessions_playback; DROP TABLE nodes; "
             "ALTER TABLE sessions DROP COLUMN node_id; "
             "ALTER TABLE streams DROP COLUMN publisher_node; "
             "ALTER TABLE sessions DROP COLUMN health; PRAGMA user_version = 1");
    char err[256] = "";
    store = store_open(db_path, err, sizeof err);
    cr_assert_not_null(store, "%s", err);
    int version = 0;
    cr_assert_eq(store_schema_version(store, &version), STORE_OK);
    cr_assert_eq(version, migrations_latest());
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
    /* A PostgreSQL URL goes to the PostgreSQL backend, which reports why it cannot connect. */
    cr_assert_null(store_open("postgresql:///db?host=/nonexistent-streamd-dir", err, sizeof err));
    cr_assert_not_null(strstr(err, "connecting to PostgreSQL"), "%s", err);
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
    cr_assert_eq(store_stream_update_live(store, s.id, &live, NULL), STORE_OK);
    live.last_seen_ms = 4000; /* a late writer must not move last_seen back */
    live.is_healthy = -1;
    live.issues_json = NULL;
    cr_assert_eq(store_stream_update_live(store, s.id, &live, NULL), STORE_OK);
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
    cr_assert_eq(store_stream_update_live(store, "missing", &live, NULL), STORE_NOT_FOUND);
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
