/* The schema history (migrations.h), written once for both dialects. */
#include "store/migrations.h"

#include "store/dialect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The counters shared by streams and sessions (store_counters_t), in one place so both tables
 * keep the same columns. */
#define COUNTER_COLUMNS                                                                            \
    "source_segments {int} NOT NULL DEFAULT 0,"                                                    \
    "transcoded_segments {int} NOT NULL DEFAULT 0,"                                                \
    "source_segments_duration {real} NOT NULL DEFAULT 0,"                                          \
    "transcoded_segments_duration {real} NOT NULL DEFAULT 0,"                                      \
    "source_bytes {int} NOT NULL DEFAULT 0,"                                                       \
    "transcoded_bytes {int} NOT NULL DEFAULT 0,"                                                   \
    "ingest_rate {real} NOT NULL DEFAULT 0,"                                                       \
    "outgoing_rate {real} NOT NULL DEFAULT 0,"

/* Version 1: users, API tokens, streams and sessions. The end-to-end tests seed rows with the
 * sqlite3 CLI using these exact names. Booleans are {bool} (0/1 in SQLite), timestamps ms since
 * epoch, JSON-valued fields compact JSON text ({json}: the API validates it, PostgreSQL too);
 * is_healthy and recording_status are NULL when unknown / not set. */
static const char migration_1[] =
    "CREATE TABLE users ("
    "id TEXT PRIMARY KEY,"
    "project_id TEXT NOT NULL,"
    "name TEXT NOT NULL,"
    "email TEXT,"
    "admin {bool} NOT NULL DEFAULT {false},"
    "suspended {bool} NOT NULL DEFAULT {false},"
    "created_at {int} NOT NULL);"

    "CREATE TABLE api_tokens ("
    "{rowid}"
    "id TEXT PRIMARY KEY,"
    "user_id TEXT NOT NULL REFERENCES users(id),"
    "project_id TEXT NOT NULL,"
    "name TEXT NOT NULL,"
    "key_hash TEXT NOT NULL UNIQUE,"
    "created_at {int} NOT NULL,"
    "last_used {int} NOT NULL DEFAULT 0);"

    "CREATE TABLE streams ("
    "id TEXT PRIMARY KEY,"
    "user_id TEXT NOT NULL REFERENCES users(id),"
    "project_id TEXT NOT NULL,"
    "name TEXT NOT NULL,"
    "stream_key TEXT NOT NULL UNIQUE,"
    "playback_id TEXT NOT NULL UNIQUE,"
    "created_by_token_name TEXT,"
    "created_at {int} NOT NULL,"
    "last_seen {int} NOT NULL DEFAULT 0,"
    "last_terminated_at {int} NOT NULL DEFAULT 0,"
    "is_active {bool} NOT NULL DEFAULT {false},"
    "record {bool} NOT NULL DEFAULT {false},"
    "suspended {bool} NOT NULL DEFAULT {false},"
    "deleted {bool} NOT NULL DEFAULT {false},"
    "is_healthy {bool},"
    "issues {json}," COUNTER_COLUMNS "profiles {json},"
    "user_tags {json},"
    "creator_id {json},"
    "pull {json},"
    "playback_policy {json},"
    "recording_spec {json},"
    "multistream {json});"

    "CREATE TABLE sessions ("
    "{rowid}"
    "id TEXT PRIMARY KEY,"
    "parent_id TEXT NOT NULL REFERENCES streams(id),"
    "user_id TEXT NOT NULL,"
    "project_id TEXT NOT NULL,"
    "playback_id TEXT NOT NULL,"
    "name TEXT NOT NULL,"
    "created_at {int} NOT NULL,"
    "last_seen {int} NOT NULL DEFAULT 0,"
    "ended_at {int} NOT NULL DEFAULT 0,"
    "is_active {bool} NOT NULL DEFAULT {false},"
    "record {bool} NOT NULL DEFAULT {false},"
    "deleted {bool} NOT NULL DEFAULT {false},"
    "is_healthy {bool},"
    "issues {json},"
    "recording_status TEXT," COUNTER_COLUMNS "profiles {json},"
    "recording_spec {json});"

    /* The list pages: a user's streams and sessions newest first, a stream's sessions. The
     * api_tokens index also serves the foreign key check. */
    "CREATE INDEX streams_user_last_seen ON streams(user_id, last_seen, created_at);"
    "CREATE INDEX sessions_parent_last_seen ON sessions(parent_id, last_seen);"
    "CREATE INDEX sessions_user_last_seen ON sessions(user_id, last_seen);"
    "CREATE INDEX api_tokens_user ON api_tokens(user_id);";

/* Version 2: the session's health document (conditions, metrics) as compact JSON, written with
 * its counters, so any node can serve /data/stream/{id}/health. */
static const char migration_2[] = "ALTER TABLE sessions ADD COLUMN health {json};";

/* Version 3: many nodes. Each node's row (its public URLs and heartbeat; down once another node
 * took over its sessions), the node that owns a session's pipeline, and the node holding a
 * stream's publish (NULL when none), so one publisher per key holds across the cluster. */
static const char migration_3[] =
    "CREATE TABLE nodes ("
    "id TEXT PRIMARY KEY,"
    "http_url TEXT NOT NULL,"
    "rtmp_url TEXT NOT NULL,"
    "started_at {int} NOT NULL,"
    "heartbeat_at {int} NOT NULL,"
    "down {bool} NOT NULL DEFAULT {false});"
    "ALTER TABLE sessions ADD COLUMN node_id TEXT;"
    "ALTER TABLE streams ADD COLUMN publisher_node TEXT;"
    "CREATE INDEX sessions_node_active ON sessions(node_id, is_active);"
    "CREATE INDEX sessions_playback ON sessions(playback_id, created_at);";

/* Version 4: signing keys for gated playback. Only the public key is kept (the private one is
 * returned once, at creation); a playback JWT names its key by that public key. */
static const char migration_4[] = "CREATE TABLE signing_keys ("
                                  "{rowid}"
                                  "id TEXT PRIMARY KEY,"
                                  "user_id TEXT NOT NULL REFERENCES users(id),"
                                  "project_id TEXT NOT NULL,"
                                  "name TEXT NOT NULL,"
                                  "public_key TEXT NOT NULL UNIQUE,"
                                  "disabled {bool} NOT NULL DEFAULT {false},"
                                  "created_at {int} NOT NULL,"
                                  "last_seen {int} NOT NULL DEFAULT 0);"
                                  "CREATE INDEX signing_keys_user ON signing_keys(user_id);";

/* Version 5: webhooks and their outbox. events is the JSON array of event names as text, so one
 * LIKE finds the subscribers of an event in either dialect. A delivery is one event for one
 * webhook, written in the transaction of the state change that raised it; its id is the event's
 * and the webhook's ids joined, or a fresh one for a resend. Insertion order ({rowid}) is the order
 * a stream's events are delivered in. Every attempt leaves a log row (request and response as
 * JSON objects, duration in seconds). */
static const char migration_5[] =
    "CREATE TABLE webhooks ("
    "{rowid}"
    "id TEXT PRIMARY KEY,"
    "user_id TEXT NOT NULL REFERENCES users(id),"
    "project_id TEXT NOT NULL,"
    "name TEXT NOT NULL,"
    "url TEXT NOT NULL,"
    "events TEXT NOT NULL,"
    "shared_secret TEXT NOT NULL,"
    "stream_id TEXT,"
    "created_at {int} NOT NULL,"
    "last_triggered_at {int} NOT NULL DEFAULT 0,"
    "last_failure {json});"
    "CREATE INDEX webhooks_user ON webhooks(user_id);"
    "CREATE TABLE webhook_deliveries ("
    "{rowid}"
    "id TEXT PRIMARY KEY,"
    "event_id TEXT NOT NULL,"
    "webhook_id TEXT NOT NULL,"
    "event TEXT NOT NULL,"
    "stream_id TEXT,"
    "session_id TEXT,"
    "created_at {int} NOT NULL,"
    "attempts {int} NOT NULL DEFAULT 0,"
    "retries {bool} NOT NULL,"
    "state TEXT NOT NULL,"
    "next_attempt_at {int} NOT NULL,"
    "claimed_by TEXT,"
    "claimed_until {int} NOT NULL DEFAULT 0);"
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);"
    "CREATE INDEX webhook_deliveries_stream ON webhook_deliveries(webhook_id, stream_id, state);"
    "CREATE TABLE webhook_logs ("
    "{rowid}"
    "id TEXT PRIMARY KEY,"
    "webhook_id TEXT NOT NULL,"
    "event_id TEXT NOT NULL,"
    "event TEXT NOT NULL,"
    "stream_id TEXT,"
    "session_id TEXT,"
    "created_at {int} NOT NULL,"
    "duration {real} NOT NULL,"
    "success {bool} NOT NULL,"
    "request {json} NOT NULL,"
    "response {json} NOT NULL);"
    "CREATE INDEX webhook_logs_webhook ON webhook_logs(webhook_id, created_at);"
    "CREATE INDEX webhook_logs_created ON webhook_logs(created_at);"
    /* When recording.waiting was raised for the session (its reconnect window had passed). */
    "ALTER TABLE sessions ADD COLUMN recording_waiting_at {int} NOT NULL DEFAULT 0;";

static const char *const migrations[] = {
    migration_1, migration_2, migration_3, migration_4, migration_5,
};

#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))

int migrations_latest(void)
{
    return MIGRATION_COUNT;
}

int migrations_check_version(int version, char *err, size_t err_size)
{
    if (version < 0) {
        snprintf(err, err_size, "database schema version %d is invalid", version);
        return -1;
    }
    if (version > MIGRATION_COUNT) {
        snprintf(err, err_size,
                 "database schema version %d is newer than this streamd supports (%d); "
                 "upgrade streamd or use another database",
                 version, MIGRATION_COUNT);
        return -1;
    }
    return 0;
}

char *migrations_sql(int number, store_query_dialect_t dialect)
{
    if (number < 1 || number > MIGRATION_COUNT)
        return NULL;
    return dialect_render(migrations[number - 1], dialect);
}

int migrations_apply(int version, store_query_dialect_t dialect, migrations_exec_t exec, void *db,
                     char *err, size_t err_size)
{
    for (int i = version + 1; i <= MIGRATION_COUNT; i++) {
        char what[64];
        snprintf(what, sizeof what, "applying schema migration %d", i);
        char *sql = migrations_sql(i, dialect);
        if (!sql) {
            snprintf(err, err_size, "%s: out of memory", what);
            return -1;
        }
        int rc = exec(db, sql, what, err, err_size);
        free(sql);
        if (rc != 0)
            return -1;
    }
    return 0;
}
