/* Rows of every backend: a record's values written to a statement's parameters, and a row read
 * back into a record, by the column lists of store_rows.h, through the backend's accessors. */
#include "store/store_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Indexes into STORE_ROWS_STREAM_COLUMNS and STORE_ROWS_SESSION_COLUMNS. */
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
    SN_NODE_ID,
};

/* ---- Writing values ------------------------------------------------------------------------ */

void store_params_text(store_params_t *p, int index, const char *text)
{
    p->ops->text(p->target, index, text);
}

void store_params_int64(store_params_t *p, int index, int64_t value)
{
    p->ops->int64(p->target, index, value);
}

void store_params_double(store_params_t *p, int index, double value)
{
    p->ops->real(p->target, index, value);
}

void store_params_bool(store_params_t *p, int index, bool value)
{
    p->ops->boolean(p->target, index, value ? 1 : 0);
}

void store_params_tristate(store_params_t *p, int index, int value)
{
    p->ops->boolean(p->target, index, value < 0 ? -1 : value ? 1 : 0);
}

static void bind_counters(store_params_t *b, int first, const store_counters_t *c)
{
    store_params_int64(b, first, c->source_segments);
    store_params_int64(b, first + 1, c->transcoded_segments);
    store_params_double(b, first + 2, c->source_segments_duration_s);
    store_params_double(b, first + 3, c->transcoded_segments_duration_s);
    store_params_int64(b, first + 4, c->source_bytes);
    store_params_int64(b, first + 5, c->transcoded_bytes);
    store_params_double(b, first + 6, c->ingest_rate_bps);
    store_params_double(b, first + 7, c->outgoing_rate_bps);
}

/* ---- Binding records ------------------------------------------------------------------------ */

void store_params_user(store_params_t *b, const void *record)
{
    const store_user_t *user = record;
    store_params_text(b, 1, user->id);
    store_params_text(b, 2, user->project_id);
    store_params_text(b, 3, user->name);
    store_params_text(b, 4, user->email);
    store_params_bool(b, 5, user->admin);
    store_params_bool(b, 6, user->suspended);
    store_params_int64(b, 7, user->created_at_ms);
}

void store_params_token(store_params_t *b, const void *record)
{
    const store_api_token_t *token = record;
    store_params_text(b, 1, token->id);
    store_params_text(b, 2, token->user_id);
    store_params_text(b, 3, token->project_id);
    store_params_text(b, 4, token->name);
    store_params_text(b, 5, token->key_hash);
    store_params_int64(b, 6, token->created_at_ms);
    store_params_int64(b, 7, token->last_used_ms);
}

void store_params_stream(store_params_t *b, const void *record)
{
    const store_stream_t *s = record;
    store_params_text(b, SC_ID + 1, s->id);
    store_params_text(b, SC_USER_ID + 1, s->user_id);
    store_params_text(b, SC_PROJECT_ID + 1, s->project_id);
    store_params_text(b, SC_STREAM_KEY + 1, s->stream_key);
    store_params_text(b, SC_PLAYBACK_ID + 1, s->playback_id);
    store_params_text(b, SC_NAME + 1, s->name);
    store_params_text(b, SC_CREATED_BY_TOKEN_NAME + 1, s->created_by_token_name);
    store_params_int64(b, SC_CREATED_AT + 1, s->created_at_ms);
    store_params_int64(b, SC_LAST_SEEN + 1, s->last_seen_ms);
    store_params_int64(b, SC_LAST_TERMINATED_AT + 1, s->last_terminated_at_ms);
    store_params_bool(b, SC_IS_ACTIVE + 1, s->is_active);
    store_params_bool(b, SC_RECORD + 1, s->record);
    store_params_bool(b, SC_SUSPENDED + 1, s->suspended);
    store_params_bool(b, SC_DELETED + 1, s->deleted);
    store_params_tristate(b, SC_IS_HEALTHY + 1, s->is_healthy);
    store_params_text(b, SC_ISSUES + 1, s->issues_json);
    bind_counters(b, SC_COUNTERS + 1, &s->counters);
    store_params_text(b, SC_PROFILES + 1, s->profiles_json);
    store_params_text(b, SC_USER_TAGS + 1, s->user_tags_json);
    store_params_text(b, SC_CREATOR_ID + 1, s->creator_id_json);
    store_params_text(b, SC_PULL + 1, s->pull_json);
    store_params_text(b, SC_PLAYBACK_POLICY + 1, s->playback_policy_json);
    store_params_text(b, SC_RECORDING_SPEC + 1, s->recording_spec_json);
    store_params_text(b, SC_MULTISTREAM + 1, s->multistream_json);
}

void store_params_session(store_params_t *b, const void *record)
{
    const store_session_t *s = record;
    store_params_text(b, SN_ID + 1, s->id);
    store_params_text(b, SN_PARENT_ID + 1, s->parent_id);
    store_params_text(b, SN_USER_ID + 1, s->user_id);
    store_params_text(b, SN_PROJECT_ID + 1, s->project_id);
    store_params_text(b, SN_PLAYBACK_ID + 1, s->playback_id);
    store_params_text(b, SN_NAME + 1, s->name);
    store_params_int64(b, SN_CREATED_AT + 1, s->created_at_ms);
    store_params_int64(b, SN_LAST_SEEN + 1, s->last_seen_ms);
    store_params_int64(b, SN_ENDED_AT + 1, s->ended_at_ms);
    store_params_bool(b, SN_IS_ACTIVE + 1, s->is_active);
    store_params_bool(b, SN_RECORD + 1, s->record);
    store_params_bool(b, SN_DELETED + 1, s->deleted);
    store_params_tristate(b, SN_IS_HEALTHY + 1, s->is_healthy);
    store_params_text(b, SN_ISSUES + 1, s->issues_json);
    store_params_text(b, SN_RECORDING_STATUS + 1, store_recording_status_name(s->recording_status));
    bind_counters(b, SN_COUNTERS + 1, &s->counters);
    store_params_text(b, SN_PROFILES + 1, s->profiles_json);
    store_params_text(b, SN_RECORDING_SPEC + 1, s->recording_spec_json);
    store_params_text(b, SN_HEALTH + 1, s->health_json);
    store_params_text(b, SN_NODE_ID + 1, s->node_id[0] ? s->node_id : NULL);
}

void store_params_webhook(store_params_t *b, const void *record)
{
    const store_webhook_t *w = record;
    store_params_text(b, 1, w->id);
    store_params_text(b, 2, w->user_id);
    store_params_text(b, 3, w->project_id);
    store_params_text(b, 4, w->stream_id[0] ? w->stream_id : NULL);
    store_params_text(b, 5, w->name);
    store_params_text(b, 6, w->url);
    store_params_text(b, 7, w->events_json);
    store_params_text(b, 8, w->shared_secret);
    store_params_int64(b, 9, w->created_at_ms);
    store_params_int64(b, 10, w->last_triggered_at_ms);
    store_params_text(b, 11, w->last_failure_json);
}

void store_params_webhook_log(store_params_t *b, const void *record)
{
    const store_webhook_log_t *l = record;
    store_params_text(b, 1, l->id);
    store_params_text(b, 2, l->webhook_id);
    store_params_text(b, 3, l->event_id);
    store_params_text(b, 4, l->event);
    store_params_text(b, 5, l->stream_id[0] ? l->stream_id : NULL);
    store_params_text(b, 6, l->session_id[0] ? l->session_id : NULL);
    store_params_int64(b, 7, l->created_at_ms);
    store_params_double(b, 8, l->duration_s);
    store_params_bool(b, 9, l->success);
    store_params_text(b, 10, l->request_json);
    store_params_text(b, 11, l->response_json);
}

void store_params_node(store_params_t *b, const void *record)
{
    const store_node_t *n = record;
    store_params_text(b, 1, n->id);
    store_params_text(b, 2, n->http_url);
    store_params_text(b, 3, n->rtmp_url);
    store_params_int64(b, 4, n->started_at_ms);
    store_params_int64(b, 5, n->heartbeat_at_ms);
}

void store_params_signing_key(store_params_t *b, const void *record)
{
    const store_signing_key_t *k = record;
    store_params_text(b, 1, k->id);
    store_params_text(b, 2, k->user_id);
    store_params_text(b, 3, k->project_id);
    store_params_text(b, 4, k->name);
    store_params_text(b, 5, k->public_key);
    store_params_bool(b, 6, k->disabled);
    store_params_int64(b, 7, k->created_at_ms);
    store_params_int64(b, 8, k->last_seen_ms);
}

void store_params_number(store_params_t *b, const void *record)
{
    store_params_int64(b, 1, ((const store_args_t *)record)->number);
}

void store_params_id_number(store_params_t *b, const void *record)
{
    const store_args_t *op = record;
    store_params_text(b, 1, op->id);
    store_params_int64(b, 2, op->number);
}

void store_params_id_pair(store_params_t *b, const void *record)
{
    const store_args_t *op = record;
    store_params_text(b, 1, op->id);
    store_params_text(b, 2, op->other_id);
}

void store_params_id_pair_number(store_params_t *b, const void *record)
{
    const store_args_t *op = record;
    store_params_id_pair(b, record);
    store_params_int64(b, 3, op->number);
}

void store_params_stream_live(store_params_t *b, const void *record)
{
    const store_stream_live_args_t *args = record;
    const store_stream_live_t *live = args->live;
    store_params_text(b, 1, args->stream_id);
    store_params_bool(b, 2, live->is_active);
    store_params_int64(b, 3, live->last_seen_ms);
    store_params_tristate(b, 4, live->is_healthy);
    store_params_text(b, 5, live->issues_json);
    store_params_double(b, 6, live->ingest_rate_bps);
    store_params_double(b, 7, live->outgoing_rate_bps);
    store_params_int64(b, 8, live->added.source_segments);
    store_params_int64(b, 9, live->added.transcoded_segments);
    store_params_double(b, 10, live->added.source_segments_duration_s);
    store_params_double(b, 11, live->added.transcoded_segments_duration_s);
    store_params_int64(b, 12, live->added.source_bytes);
    store_params_int64(b, 13, live->added.transcoded_bytes);
}

void store_params_plan(store_params_t *b, const store_query_plan_t *plan, int count)
{
    for (int i = 0; i < count; i++) {
        const store_query_bind_t *v = &plan->binds[i];
        switch (v->kind) {
        case STORE_QUERY_BIND_TEXT:
            store_params_text(b, i + 1, v->text);
            break;
        case STORE_QUERY_BIND_INT:
            store_params_int64(b, i + 1, v->int_value);
            break;
        case STORE_QUERY_BIND_DOUBLE:
            store_params_double(b, i + 1, v->double_value);
            break;
        case STORE_QUERY_BIND_BOOL:
            store_params_bool(b, i + 1, v->bool_value);
            break;
        }
    }
}

/* ---- Reading rows ----------------------------------------------------------------------------
 * A NULL or missing text never crashes a reader: fixed-size ids become "", optional strings NULL,
 * names "". Readers return -1 only when out of memory, after clearing what they filled. */

static void copy_fixed(const store_row_t *row, int col, char *dst, size_t size)
{
    size_t len = 0;
    const char *text = row->ops->text(row->source, col, &len);
    snprintf(dst, size, "%s", text ? text : "");
}

static int copy_owned(const store_row_t *row, int col, char **dst)
{
    *dst = NULL;
    size_t len = 0;
    const char *text = row->ops->text(row->source, col, &len);
    if (!text)
        return 0;
    *dst = malloc(len + 1);
    if (!*dst)
        return -1;
    memcpy(*dst, text, len);
    (*dst)[len] = '\0';
    return 0;
}

/* Names are never NULL for callers, even for a row seeded by hand with a NULL. */
static int copy_name(const store_row_t *row, int col, char **dst)
{
    if (copy_owned(row, col, dst) != 0)
        return -1;
    if (!*dst)
        *dst = calloc(1, 1);
    return *dst ? 0 : -1;
}

static bool column_bool(const store_row_t *row, int col)
{
    return row->ops->boolean(row->source, col) > 0;
}

static int column_tristate(const store_row_t *row, int col)
{
    return row->ops->boolean(row->source, col);
}

static int64_t column_int64(const store_row_t *row, int col)
{
    return row->ops->int64(row->source, col);
}

static double column_double(const store_row_t *row, int col)
{
    return row->ops->real(row->source, col);
}

static void read_counters(const store_row_t *row, int first, store_counters_t *c)
{
    c->source_segments = column_int64(row, first);
    c->transcoded_segments = column_int64(row, first + 1);
    c->source_segments_duration_s = column_double(row, first + 2);
    c->transcoded_segments_duration_s = column_double(row, first + 3);
    c->source_bytes = column_int64(row, first + 4);
    c->transcoded_bytes = column_int64(row, first + 5);
    c->ingest_rate_bps = column_double(row, first + 6);
    c->outgoing_rate_bps = column_double(row, first + 7);
}

static store_recording_status_t column_recording_status(const store_row_t *row, int col,
                                                        const char *session_id)
{
    size_t len = 0;
    return store_recording_status_parse(row->ops->text(row->source, col, &len), session_id);
}

static int read_user(const store_row_t *row, void *record)
{
    store_user_t *user = record;
    copy_fixed(row, 0, user->id, sizeof user->id);
    copy_fixed(row, 1, user->project_id, sizeof user->project_id);
    int failed = copy_name(row, 2, &user->name) | copy_owned(row, 3, &user->email);
    user->admin = column_bool(row, 4);
    user->suspended = column_bool(row, 5);
    user->created_at_ms = column_int64(row, 6);
    if (failed)
        store_user_clear(user);
    return failed ? -1 : 0;
}

static int read_token(const store_row_t *row, void *record)
{
    store_api_token_t *token = record;
    copy_fixed(row, 0, token->id, sizeof token->id);
    copy_fixed(row, 1, token->user_id, sizeof token->user_id);
    copy_fixed(row, 2, token->project_id, sizeof token->project_id);
    int failed = copy_name(row, 3, &token->name);
    copy_fixed(row, 4, token->key_hash, sizeof token->key_hash);
    token->created_at_ms = column_int64(row, 5);
    token->last_used_ms = column_int64(row, 6);
    if (failed)
        store_api_token_clear(token);
    return failed ? -1 : 0;
}

static int read_stream_texts(const store_row_t *row, store_stream_t *s)
{
    return copy_name(row, SC_NAME, &s->name) |
           copy_owned(row, SC_CREATED_BY_TOKEN_NAME, &s->created_by_token_name) |
           copy_owned(row, SC_ISSUES, &s->issues_json) |
           copy_owned(row, SC_PROFILES, &s->profiles_json) |
           copy_owned(row, SC_USER_TAGS, &s->user_tags_json) |
           copy_owned(row, SC_CREATOR_ID, &s->creator_id_json) |
           copy_owned(row, SC_PULL, &s->pull_json) |
           copy_owned(row, SC_PLAYBACK_POLICY, &s->playback_policy_json) |
           copy_owned(row, SC_RECORDING_SPEC, &s->recording_spec_json) |
           copy_owned(row, SC_MULTISTREAM, &s->multistream_json);
}

static int read_stream(const store_row_t *row, void *record)
{
    store_stream_t *s = record;
    copy_fixed(row, SC_ID, s->id, sizeof s->id);
    copy_fixed(row, SC_USER_ID, s->user_id, sizeof s->user_id);
    copy_fixed(row, SC_PROJECT_ID, s->project_id, sizeof s->project_id);
    copy_fixed(row, SC_STREAM_KEY, s->stream_key, sizeof s->stream_key);
    copy_fixed(row, SC_PLAYBACK_ID, s->playback_id, sizeof s->playback_id);
    s->created_at_ms = column_int64(row, SC_CREATED_AT);
    s->last_seen_ms = column_int64(row, SC_LAST_SEEN);
    s->last_terminated_at_ms = column_int64(row, SC_LAST_TERMINATED_AT);
    s->is_active = column_bool(row, SC_IS_ACTIVE);
    s->record = column_bool(row, SC_RECORD);
    s->suspended = column_bool(row, SC_SUSPENDED);
    s->deleted = column_bool(row, SC_DELETED);
    s->is_healthy = column_tristate(row, SC_IS_HEALTHY);
    read_counters(row, SC_COUNTERS, &s->counters);
    if (read_stream_texts(row, s) == 0)
        return 0;
    store_stream_clear(s);
    return -1;
}

static int read_session(const store_row_t *row, void *record)
{
    store_session_t *s = record;
    copy_fixed(row, SN_ID, s->id, sizeof s->id);
    copy_fixed(row, SN_PARENT_ID, s->parent_id, sizeof s->parent_id);
    copy_fixed(row, SN_USER_ID, s->user_id, sizeof s->user_id);
    copy_fixed(row, SN_PROJECT_ID, s->project_id, sizeof s->project_id);
    copy_fixed(row, SN_PLAYBACK_ID, s->playback_id, sizeof s->playback_id);
    s->created_at_ms = column_int64(row, SN_CREATED_AT);
    s->last_seen_ms = column_int64(row, SN_LAST_SEEN);
    s->ended_at_ms = column_int64(row, SN_ENDED_AT);
    s->is_active = column_bool(row, SN_IS_ACTIVE);
    s->record = column_bool(row, SN_RECORD);
    s->deleted = column_bool(row, SN_DELETED);
    s->is_healthy = column_tristate(row, SN_IS_HEALTHY);
    s->recording_status = column_recording_status(row, SN_RECORDING_STATUS, s->id);
    read_counters(row, SN_COUNTERS, &s->counters);
    int failed = copy_name(row, SN_NAME, &s->name) | copy_owned(row, SN_ISSUES, &s->issues_json) |
                 copy_owned(row, SN_PROFILES, &s->profiles_json) |
                 copy_owned(row, SN_RECORDING_SPEC, &s->recording_spec_json) |
                 copy_owned(row, SN_HEALTH, &s->health_json);
    copy_fixed(row, SN_NODE_ID, s->node_id, sizeof s->node_id);
    if (failed)
        store_session_clear(s);
    return failed ? -1 : 0;
}

static int read_node(const store_row_t *row, void *record)
{
    store_node_t *n = record;
    copy_fixed(row, 0, n->id, sizeof n->id);
    int failed = copy_name(row, 1, &n->http_url) | copy_name(row, 2, &n->rtmp_url);
    n->started_at_ms = column_int64(row, 3);
    n->heartbeat_at_ms = column_int64(row, 4);
    n->down = column_bool(row, 5);
    if (failed)
        store_node_clear(n);
    return failed ? -1 : 0;
}

static int read_webhook(const store_row_t *row, void *record)
{
    store_webhook_t *w = record;
    copy_fixed(row, 0, w->id, sizeof w->id);
    copy_fixed(row, 1, w->user_id, sizeof w->user_id);
    copy_fixed(row, 2, w->project_id, sizeof w->project_id);
    copy_fixed(row, 3, w->stream_id, sizeof w->stream_id);
    int failed = copy_name(row, 4, &w->name) | copy_name(row, 5, &w->url) |
                 copy_name(row, 6, &w->events_json) | copy_name(row, 7, &w->shared_secret) |
                 copy_owned(row, 10, &w->last_failure_json);
    w->created_at_ms = column_int64(row, 8);
    w->last_triggered_at_ms = column_int64(row, 9);
    if (failed)
        store_webhook_clear(w);
    return failed ? -1 : 0;
}

static int read_delivery(const store_row_t *row, void *record)
{
    store_webhook_delivery_t *d = record;
    copy_fixed(row, 0, d->id, sizeof d->id);
    copy_fixed(row, 1, d->event_id, sizeof d->event_id);
    copy_fixed(row, 2, d->webhook_id, sizeof d->webhook_id);
    copy_fixed(row, 3, d->event, sizeof d->event);
    copy_fixed(row, 4, d->stream_id, sizeof d->stream_id);
    copy_fixed(row, 5, d->session_id, sizeof d->session_id);
    d->created_at_ms = column_int64(row, 6);
    d->attempts = column_int64(row, 7);
    d->retries = column_bool(row, 8);
    size_t len = 0;
    d->state = store_delivery_state_parse(row->ops->text(row->source, 9, &len));
    d->next_attempt_at_ms = column_int64(row, 10);
    return 0;
}

static int read_webhook_log(const store_row_t *row, void *record)
{
    store_webhook_log_t *l = record;
    copy_fixed(row, 0, l->id, sizeof l->id);
    copy_fixed(row, 1, l->webhook_id, sizeof l->webhook_id);
    copy_fixed(row, 2, l->event_id, sizeof l->event_id);
    copy_fixed(row, 3, l->event, sizeof l->event);
    copy_fixed(row, 4, l->stream_id, sizeof l->stream_id);
    copy_fixed(row, 5, l->session_id, sizeof l->session_id);
    l->created_at_ms = column_int64(row, 6);
    l->duration_s = column_double(row, 7);
    l->success = column_bool(row, 8);
    int failed = copy_name(row, 9, &l->request_json) | copy_name(row, 10, &l->response_json);
    if (failed)
        store_webhook_log_clear(l);
    return failed ? -1 : 0;
}

const store_row_type_t store_row_webhook = {&store_webhook_record, read_webhook};
const store_row_type_t store_row_delivery = {&store_delivery_record, read_delivery};
const store_row_type_t store_row_webhook_log = {&store_webhook_log_record, read_webhook_log};
const store_row_type_t store_row_user = {&store_user_record, read_user};
const store_row_type_t store_row_token = {&store_token_record, read_token};
const store_row_type_t store_row_stream = {&store_stream_record, read_stream};
const store_row_type_t store_row_session = {&store_session_record, read_session};
const store_row_type_t store_row_node = {&store_node_record, read_node};

static int read_signing_key(const store_row_t *row, void *record)
{
    store_signing_key_t *k = record;
    copy_fixed(row, 0, k->id, sizeof k->id);
    copy_fixed(row, 1, k->user_id, sizeof k->user_id);
    copy_fixed(row, 2, k->project_id, sizeof k->project_id);
    int failed = copy_name(row, 3, &k->name) | copy_name(row, 4, &k->public_key);
    k->disabled = column_bool(row, 5);
    k->created_at_ms = column_int64(row, 6);
    k->last_seen_ms = column_int64(row, 7);
    if (failed)
        store_signing_key_clear(k);
    return failed ? -1 : 0;
}

const store_row_type_t store_row_signing_key = {&store_signing_key_record, read_signing_key};

static int read_controls(const store_row_t *row, void *record)
{
    store_stream_controls_t *c = record;
    c->suspended = column_bool(row, 0);
    c->deleted = column_bool(row, 1);
    c->last_terminated_at_ms = column_int64(row, 2);
    return 0;
}

const store_row_type_t store_row_controls = {&store_controls_record, read_controls};
