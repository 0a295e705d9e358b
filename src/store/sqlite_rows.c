/* Rows of the SQLite store: a record's values bound to a statement's parameters, and a row read
 * back into a record, by the column lists of sqlite_rows.h. */
#include "store/sqlite_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Indexes into SQLITE_ROWS_STREAM_COLUMNS and SQLITE_ROWS_SESSION_COLUMNS. */
enum { COUNTER_COLUMN_COUNT = 8 };

enum stream_column {
    SC_ID,
    SC_USER_ID,
    SC_PROJECT_ID,
    SC_STREAM_KEY,
    SC_PLAYBACK_ID,
    SC_NAME,
    SC_CREATED_BY_TOKEN_NAME,
    SC_CREATED_AT,
    SC_LAST_SEEN,
    SC_LAST_TERMINATED_AT,
    SC_IS_ACTIVE,
    SC_RECORD,
    SC_SUSPENDED,
    SC_DELETED,
    SC_IS_HEALTHY,
    SC_ISSUES,
    SC_COUNTERS,
    SC_PROFILES = SC_COUNTERS + COUNTER_COLUMN_COUNT,
    SC_USER_TAGS,
    SC_CREATOR_ID,
    SC_PULL,
    SC_PLAYBACK_POLICY,
    SC_RECORDING_SPEC,
    SC_MULTISTREAM,
};

enum session_column {
    SN_ID,
    SN_PARENT_ID,
    SN_USER_ID,
    SN_PROJECT_ID,
    SN_PLAYBACK_ID,
    SN_NAME,
    SN_CREATED_AT,
    SN_LAST_SEEN,
    SN_ENDED_AT,
    SN_IS_ACTIVE,
    SN_RECORD,
    SN_DELETED,
    SN_IS_HEALTHY,
    SN_ISSUES,
    SN_RECORDING_STATUS,
    SN_COUNTERS,
    SN_PROFILES = SN_COUNTERS + COUNTER_COLUMN_COUNT,
    SN_RECORDING_SPEC,
    SN_HEALTH,
};

/* ---- Binding values ------------------------------------------------------------------------- */

void sqlite_rows_bind_text(sqlite_rows_binder_t *b, int index, const char *text)
{
    if (b->rc != SQLITE_OK)
        return;
    if (text)
        b->rc = sqlite3_bind_text(b->stmt, index, text, -1, SQLITE_STATIC);
    else
        b->rc = sqlite3_bind_null(b->stmt, index);
}

void sqlite_rows_bind_int64(sqlite_rows_binder_t *b, int index, int64_t value)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_int64(b->stmt, index, value);
}

void sqlite_rows_bind_double(sqlite_rows_binder_t *b, int index, double value)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_double(b->stmt, index, value);
}

void sqlite_rows_bind_bool(sqlite_rows_binder_t *b, int index, bool value)
{
    sqlite_rows_bind_int64(b, index, value ? 1 : 0);
}

void sqlite_rows_bind_tristate(sqlite_rows_binder_t *b, int index, int value)
{
    if (b->rc != SQLITE_OK)
        return;
    if (value < 0)
        b->rc = sqlite3_bind_null(b->stmt, index);
    else
        b->rc = sqlite3_bind_int(b->stmt, index, value ? 1 : 0);
}

static void bind_counters(sqlite_rows_binder_t *b, int first, const store_counters_t *c)
{
    sqlite_rows_bind_int64(b, first, c->source_segments);
    sqlite_rows_bind_int64(b, first + 1, c->transcoded_segments);
    sqlite_rows_bind_double(b, first + 2, c->source_segments_duration_s);
    sqlite_rows_bind_double(b, first + 3, c->transcoded_segments_duration_s);
    sqlite_rows_bind_int64(b, first + 4, c->source_bytes);
    sqlite_rows_bind_int64(b, first + 5, c->transcoded_bytes);
    sqlite_rows_bind_double(b, first + 6, c->ingest_rate_bps);
    sqlite_rows_bind_double(b, first + 7, c->outgoing_rate_bps);
}

/* ---- Binding records ------------------------------------------------------------------------ */

void sqlite_rows_bind_user(sqlite_rows_binder_t *b, const void *record)
{
    const store_user_t *user = record;
    sqlite_rows_bind_text(b, 1, user->id);
    sqlite_rows_bind_text(b, 2, user->project_id);
    sqlite_rows_bind_text(b, 3, user->name);
    sqlite_rows_bind_text(b, 4, user->email);
    sqlite_rows_bind_bool(b, 5, user->admin);
    sqlite_rows_bind_bool(b, 6, user->suspended);
    sqlite_rows_bind_int64(b, 7, user->created_at_ms);
}

void sqlite_rows_bind_token(sqlite_rows_binder_t *b, const void *record)
{
    const store_api_token_t *token = record;
    sqlite_rows_bind_text(b, 1, token->id);
    sqlite_rows_bind_text(b, 2, token->user_id);
    sqlite_rows_bind_text(b, 3, token->project_id);
    sqlite_rows_bind_text(b, 4, token->name);
    sqlite_rows_bind_text(b, 5, token->key_hash);
    sqlite_rows_bind_int64(b, 6, token->created_at_ms);
    sqlite_rows_bind_int64(b, 7, token->last_used_ms);
}

void sqlite_rows_bind_stream(sqlite_rows_binder_t *b, const void *record)
{
    const store_stream_t *s = record;
    sqlite_rows_bind_text(b, SC_ID + 1, s->id);
    sqlite_rows_bind_text(b, SC_USER_ID + 1, s->user_id);
    sqlite_rows_bind_text(b, SC_PROJECT_ID + 1, s->project_id);
    sqlite_rows_bind_text(b, SC_STREAM_KEY + 1, s->stream_key);
    sqlite_rows_bind_text(b, SC_PLAYBACK_ID + 1, s->playback_id);
    sqlite_rows_bind_text(b, SC_NAME + 1, s->name);
    sqlite_rows_bind_text(b, SC_CREATED_BY_TOKEN_NAME + 1, s->created_by_token_name);
    sqlite_rows_bind_int64(b, SC_CREATED_AT + 1, s->created_at_ms);
    sqlite_rows_bind_int64(b, SC_LAST_SEEN + 1, s->last_seen_ms);
    sqlite_rows_bind_int64(b, SC_LAST_TERMINATED_AT + 1, s->last_terminated_at_ms);
    sqlite_rows_bind_bool(b, SC_IS_ACTIVE + 1, s->is_active);
    sqlite_rows_bind_bool(b, SC_RECORD + 1, s->record);
    sqlite_rows_bind_bool(b, SC_SUSPENDED + 1, s->suspended);
    sqlite_rows_bind_bool(b, SC_DELETED + 1, s->deleted);
    sqlite_rows_bind_tristate(b, SC_IS_HEALTHY + 1, s->is_healthy);
    sqlite_rows_bind_text(b, SC_ISSUES + 1, s->issues_json);
    bind_counters(b, SC_COUNTERS + 1, &s->counters);
    sqlite_rows_bind_text(b, SC_PROFILES + 1, s->profiles_json);
    sqlite_rows_bind_text(b, SC_USER_TAGS + 1, s->user_tags_json);
    sqlite_rows_bind_text(b, SC_CREATOR_ID + 1, s->creator_id_json);
    sqlite_rows_bind_text(b, SC_PULL + 1, s->pull_json);
    sqlite_rows_bind_text(b, SC_PLAYBACK_POLICY + 1, s->playback_policy_json);
    sqlite_rows_bind_text(b, SC_RECORDING_SPEC + 1, s->recording_spec_json);
    sqlite_rows_bind_text(b, SC_MULTISTREAM + 1, s->multistream_json);
}

void sqlite_rows_bind_session(sqlite_rows_binder_t *b, const void *record)
{
    const store_session_t *s = record;
    sqlite_rows_bind_text(b, SN_ID + 1, s->id);
    sqlite_rows_bind_text(b, SN_PARENT_ID + 1, s->parent_id);
    sqlite_rows_bind_text(b, SN_USER_ID + 1, s->user_id);
    sqlite_rows_bind_text(b, SN_PROJECT_ID + 1, s->project_id);
    sqlite_rows_bind_text(b, SN_PLAYBACK_ID + 1, s->playback_id);
    sqlite_rows_bind_text(b, SN_NAME + 1, s->name);
    sqlite_rows_bind_int64(b, SN_CREATED_AT + 1, s->created_at_ms);
    sqlite_rows_bind_int64(b, SN_LAST_SEEN + 1, s->last_seen_ms);
    sqlite_rows_bind_int64(b, SN_ENDED_AT + 1, s->ended_at_ms);
    sqlite_rows_bind_bool(b, SN_IS_ACTIVE + 1, s->is_active);
    sqlite_rows_bind_bool(b, SN_RECORD + 1, s->record);
    sqlite_rows_bind_bool(b, SN_DELETED + 1, s->deleted);
    sqlite_rows_bind_tristate(b, SN_IS_HEALTHY + 1, s->is_healthy);
    sqlite_rows_bind_text(b, SN_ISSUES + 1, s->issues_json);
    sqlite_rows_bind_text(b, SN_RECORDING_STATUS + 1,
                          store_recording_status_name(s->recording_status));
    bind_counters(b, SN_COUNTERS + 1, &s->counters);
    sqlite_rows_bind_text(b, SN_PROFILES + 1, s->profiles_json);
    sqlite_rows_bind_text(b, SN_RECORDING_SPEC + 1, s->recording_spec_json);
    sqlite_rows_bind_text(b, SN_HEALTH + 1, s->health_json);
}

/* ---- Reading rows ----------------------------------------------------------------------------
 * A NULL or missing text never crashes a reader: fixed-size ids become "", optional strings NULL,
 * names "". Readers return -1 only when out of memory, after clearing what they filled. */

static void copy_fixed(sqlite3_stmt *stmt, int col, char *dst, size_t size)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    snprintf(dst, size, "%s", text ? (const char *)text : "");
}

static int copy_owned(sqlite3_stmt *stmt, int col, char **dst)
{
    *dst = NULL;
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return 0;
    const unsigned char *text = sqlite3_column_text(stmt, col);
    if (!text)
        return -1;
    size_t len = (size_t)sqlite3_column_bytes(stmt, col);
    *dst = malloc(len + 1);
    if (!*dst)
        return -1;
    memcpy(*dst, text, len);
    (*dst)[len] = '\0';
    return 0;
}

/* Names are never NULL for callers, even for a row seeded by hand with a NULL. */
static int copy_name(sqlite3_stmt *stmt, int col, char **dst)
{
    if (copy_owned(stmt, col, dst) != 0)
        return -1;
    if (!*dst)
        *dst = calloc(1, 1);
    return *dst ? 0 : -1;
}

static bool column_bool(sqlite3_stmt *stmt, int col)
{
    return sqlite3_column_int64(stmt, col) != 0;
}

static int column_tristate(sqlite3_stmt *stmt, int col)
{
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return -1;
    return column_bool(stmt, col) ? 1 : 0;
}

static void read_counters(sqlite3_stmt *stmt, int first, store_counters_t *c)
{
    c->source_segments = sqlite3_column_int64(stmt, first);
    c->transcoded_segments = sqlite3_column_int64(stmt, first + 1);
    c->source_segments_duration_s = sqlite3_column_double(stmt, first + 2);
    c->transcoded_segments_duration_s = sqlite3_column_double(stmt, first + 3);
    c->source_bytes = sqlite3_column_int64(stmt, first + 4);
    c->transcoded_bytes = sqlite3_column_int64(stmt, first + 5);
    c->ingest_rate_bps = sqlite3_column_double(stmt, first + 6);
    c->outgoing_rate_bps = sqlite3_column_double(stmt, first + 7);
}

static store_recording_status_t column_recording_status(sqlite3_stmt *stmt, int col,
                                                        const char *session_id)
{
    return store_recording_status_parse((const char *)sqlite3_column_text(stmt, col), session_id);
}

static int read_user(sqlite3_stmt *stmt, void *record)
{
    store_user_t *user = record;
    copy_fixed(stmt, 0, user->id, sizeof user->id);
    copy_fixed(stmt, 1, user->project_id, sizeof user->project_id);
    int failed = copy_name(stmt, 2, &user->name) | copy_owned(stmt, 3, &user->email);
    user->admin = column_bool(stmt, 4);
    user->suspended = column_bool(stmt, 5);
    user->created_at_ms = sqlite3_column_int64(stmt, 6);
    if (failed)
        store_user_clear(user);
    return failed ? -1 : 0;
}

static int read_token(sqlite3_stmt *stmt, void *record)
{
    store_api_token_t *token = record;
    copy_fixed(stmt, 0, token->id, sizeof token->id);
    copy_fixed(stmt, 1, token->user_id, sizeof token->user_id);
    copy_fixed(stmt, 2, token->project_id, sizeof token->project_id);
    int failed = copy_name(stmt, 3, &token->name);
    copy_fixed(stmt, 4, token->key_hash, sizeof token->key_hash);
    token->created_at_ms = sqlite3_column_int64(stmt, 5);
    token->last_used_ms = sqlite3_column_int64(stmt, 6);
    if (failed)
        store_api_token_clear(token);
    return failed ? -1 : 0;
}

static int read_stream_texts(sqlite3_stmt *stmt, store_stream_t *s)
{
    return copy_name(stmt, SC_NAME, &s->name) |
           copy_owned(stmt, SC_CREATED_BY_TOKEN_NAME, &s->created_by_token_name) |
           copy_owned(stmt, SC_ISSUES, &s->issues_json) |
           copy_owned(stmt, SC_PROFILES, &s->profiles_json) |
           copy_owned(stmt, SC_USER_TAGS, &s->user_tags_json) |
           copy_owned(stmt, SC_CREATOR_ID, &s->creator_id_json) |
           copy_owned(stmt, SC_PULL, &s->pull_json) |
           copy_owned(stmt, SC_PLAYBACK_POLICY, &s->playback_policy_json) |
           copy_owned(stmt, SC_RECORDING_SPEC, &s->recording_spec_json) |
           copy_owned(stmt, SC_MULTISTREAM, &s->multistream_json);
}

static int read_stream(sqlite3_stmt *stmt, void *record)
{
    store_stream_t *s = record;
    copy_fixed(stmt, SC_ID, s->id, sizeof s->id);
    copy_fixed(stmt, SC_USER_ID, s->user_id, sizeof s->user_id);
    copy_fixed(stmt, SC_PROJECT_ID, s->project_id, sizeof s->project_id);
    copy_fixed(stmt, SC_STREAM_KEY, s->stream_key, sizeof s->stream_key);
    copy_fixed(stmt, SC_PLAYBACK_ID, s->playback_id, sizeof s->playback_id);
    s->created_at_ms = sqlite3_column_int64(stmt, SC_CREATED_AT);
    s->last_seen_ms = sqlite3_column_int64(stmt, SC_LAST_SEEN);
    s->last_terminated_at_ms = sqlite3_column_int64(stmt, SC_LAST_TERMINATED_AT);
    s->is_active = column_bool(stmt, SC_IS_ACTIVE);
    s->record = column_bool(stmt, SC_RECORD);
    s->suspended = column_bool(stmt, SC_SUSPENDED);
    s->deleted = column_bool(stmt, SC_DELETED);
    s->is_healthy = column_tristate(stmt, SC_IS_HEALTHY);
    read_counters(stmt, SC_COUNTERS, &s->counters);
    if (read_stream_texts(stmt, s) == 0)
        return 0;
    store_stream_clear(s);
    return -1;
}

static int read_session(sqlite3_stmt *stmt, void *record)
{
    store_session_t *s = record;
    copy_fixed(stmt, SN_ID, s->id, sizeof s->id);
    copy_fixed(stmt, SN_PARENT_ID, s->parent_id, sizeof s->parent_id);
    copy_fixed(stmt, SN_USER_ID, s->user_id, sizeof s->user_id);
    copy_fixed(stmt, SN_PROJECT_ID, s->project_id, sizeof s->project_id);
    copy_fixed(stmt, SN_PLAYBACK_ID, s->playback_id, sizeof s->playback_id);
    s->created_at_ms = sqlite3_column_int64(stmt, SN_CREATED_AT);
    s->last_seen_ms = sqlite3_column_int64(stmt, SN_LAST_SEEN);
    s->ended_at_ms = sqlite3_column_int64(stmt, SN_ENDED_AT);
    s->is_active = column_bool(stmt, SN_IS_ACTIVE);
    s->record = column_bool(stmt, SN_RECORD);
    s->deleted = column_bool(stmt, SN_DELETED);
    s->is_healthy = column_tristate(stmt, SN_IS_HEALTHY);
    s->recording_status = column_recording_status(stmt, SN_RECORDING_STATUS, s->id);
    read_counters(stmt, SN_COUNTERS, &s->counters);
    int failed = copy_name(stmt, SN_NAME, &s->name) | copy_owned(stmt, SN_ISSUES, &s->issues_json) |
                 copy_owned(stmt, SN_PROFILES, &s->profiles_json) |
                 copy_owned(stmt, SN_RECORDING_SPEC, &s->recording_spec_json) |
                 copy_owned(stmt, SN_HEALTH, &s->health_json);
    if (failed)
        store_session_clear(s);
    return failed ? -1 : 0;
}

const sqlite_rows_type_t sqlite_rows_user = {&store_user_record, read_user};
const sqlite_rows_type_t sqlite_rows_token = {&store_token_record, read_token};
const sqlite_rows_type_t sqlite_rows_stream = {&store_stream_record, read_stream};
const sqlite_rows_type_t sqlite_rows_session = {&store_session_record, read_session};
