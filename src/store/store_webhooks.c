/* Webhooks, their outbox and attempt logs (store_webhooks.h), and the raising of events inside a
 * state change's transaction (store_events.h). */
#include "store/store_webhooks.h"

#include "store/store_backend.h"
#include "store/store_events.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Records --------------------------------------------------------------------------------- */

void store_webhook_clear(store_webhook_t *webhook)
{
    if (!webhook)
        return;
    free(webhook->name);
    free(webhook->url);
    free(webhook->events_json);
    free(webhook->shared_secret);
    free(webhook->last_failure_json);
    memset(webhook, 0, sizeof *webhook);
}

void store_webhook_log_clear(store_webhook_log_t *log)
{
    if (!log)
        return;
    free(log->request_json);
    free(log->response_json);
    memset(log, 0, sizeof *log);
}

static void clear_webhook(void *record)
{
    store_webhook_clear(record);
}

static void clear_nothing(void *record)
{
    (void)record;
}

static void clear_webhook_log(void *record)
{
    store_webhook_log_clear(record);
}

const store_record_type_t store_webhook_record = {sizeof(store_webhook_t), clear_webhook};
const store_record_type_t store_delivery_record = {sizeof(store_webhook_delivery_t), clear_nothing};
const store_record_type_t store_webhook_log_record = {sizeof(store_webhook_log_t),
                                                      clear_webhook_log};

void store_webhook_list_free(store_webhook_t *webhooks, size_t count)
{
    store_rows_t set = {webhooks, webhooks ? count : 0, count};
    store_rows_free(&set, &store_webhook_record);
}

void store_webhook_delivery_list_free(store_webhook_delivery_t *deliveries, size_t count)
{
    store_rows_t set = {deliveries, deliveries ? count : 0, count};
    store_rows_free(&set, &store_delivery_record);
}

void store_webhook_log_list_free(store_webhook_log_t *logs, size_t count)
{
    store_rows_t set = {logs, logs ? count : 0, count};
    store_rows_free(&set, &store_webhook_log_record);
}

/* ---- Statement arguments: a few texts and numbers, in parameter order ------------------------ */

typedef struct arg {
    const char *text; /* bound as text unless is_number */
    int64_t number;
    bool is_number;
} arg_t;

typedef struct args {
    arg_t values[6];
    int count;
} args_t;

#define TEXT(value)                                                                                \
    {                                                                                              \
        .text = (value)                                                                            \
    }
#define NUMBER(value)                                                                              \
    {                                                                                              \
        .number = (value), .is_number = true                                                       \
    }

static void bind_args(store_params_t *p, const void *record)
{
    const args_t *a = record;
    for (int i = 0; i < a->count; i++) {
        if (a->values[i].is_number)
            store_params_int64(p, i + 1, a->values[i].number);
        else
            store_params_text(p, i + 1, a->values[i].text);
    }
}

static int write_args(store_t *store, stmt_id_t id, const args_t *args, int64_t *changed)
{
    return store->backend->write(store, id, bind_args, args, changed);
}

static int tx_write_args(store_t *store, store_tx_t *tx, stmt_id_t id, const args_t *args,
                         int64_t *changed)
{
    return store->backend->tx_write(tx, id, bind_args, args, changed);
}

/* One row into a zeroed out; STORE_NOT_FOUND when there is none. */
static int read_one(store_t *store, stmt_id_t id, const args_t *args, const store_row_type_t *type,
                    void *out)
{
    memset(out, 0, type->record->size);
    return store->backend->read_one(store, id, bind_args, args, type, out);
}

static int read_all(store_t *store, stmt_id_t id, const args_t *args, const store_row_type_t *type,
                    void **out, size_t *out_count)
{
    store_rows_t set = {0};
    int rc = store->backend->read_all(store, id, bind_args, args, type, &set);
    *out = set.rows;
    *out_count = set.count;
    return rc;
}

static void outbox_notify(store_t *store)
{
    if (store->outbox_changed)
        store->outbox_changed(store->outbox_opaque);
}

/* ---- Events ------------------------------------------------------------------------------------
 */

int store_events_raise(store_t *store, store_tx_t *tx, store_events_tx_t *events, const char *event,
                       const char *stream_id, const char *session_id)
{
    char event_id[STORE_ID_SIZE], pattern[STORE_EVENT_NAME_SIZE + 4];
    if (ids_uuid_v4(event_id) != 0) {
        log_error("store", "%s: the random generator failed", event);
        return STORE_ERR;
    }
    snprintf(pattern, sizeof pattern, "%%\"%s\"%%", event);
    int64_t now = clock_now_ms(), raised = 0;
    args_t a = {{TEXT(event_id), TEXT(event), TEXT(stream_id), TEXT(session_id), NUMBER(now),
                 TEXT(pattern)},
                6};
    int rc = tx_write_args(store, tx, STMT_EVENT_RAISE, &a, &raised);
    if (rc == STORE_OK && raised > 0) {
        events->raised += raised;
        log_info("webhooks", "stream %s: %s (event %s) queued for %lld webhook(s)", stream_id,
                 event, event_id, (long long)raised);
    }
    return rc;
}

int store_events_run(store_t *store, store_tx_body_t body, store_events_tx_t *args)
{
    int rc = store->backend->transact(store, body, args);
    if (rc == STORE_OK && args->raised > 0)
        outbox_notify(store);
    return rc;
}

int store_watch_outbox(store_t *store, store_outbox_changed_t fn, void *opaque)
{
    if (!store)
        return STORE_INVALID;
    store->outbox_changed = fn;
    store->outbox_opaque = opaque;
    return STORE_OK;
}

/* ---- Webhooks ----------------------------------------------------------------------------------
 */

int store_webhook_create(store_t *store, store_webhook_t *webhook)
{
    if (!store || !webhook || !webhook->name || !webhook->url || !webhook->events_json ||
        !webhook->shared_secret)
        return STORE_INVALID;
    if (ids_uuid_v4(webhook->id) != 0) {
        log_error("store", "webhook create: the random generator failed");
        return STORE_ERR;
    }
    webhook->created_at_ms = clock_now_ms();
    return store->backend->write(store, STMT_WEBHOOK_INSERT, store_params_webhook, webhook, NULL);
}

int store_webhook_get(store_t *store, const char *user_id, const char *id, store_webhook_t *out)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, sizeof *out);
    if (!store || !id)
        return STORE_INVALID;
    args_t a = {{TEXT(id), TEXT(user_id)}, user_id ? 2 : 1};
    return read_one(store, user_id ? STMT_WEBHOOK_GET : STMT_WEBHOOK_GET_ANY, &a,
                    &store_row_webhook, out);
}

int store_webhook_list(store_t *store, const char *user_id, store_webhook_t **out,
                       size_t *out_count)
{
    if (!out || !out_count)
        return STORE_INVALID;
    *out = NULL;
    *out_count = 0;
    if (!store || !user_id)
        return STORE_INVALID;
    args_t a = {{TEXT(user_id)}, 1};
    return read_all(store, STMT_WEBHOOK_LIST, &a, &store_row_webhook, (void **)out, out_count);
}

int store_webhook_update(store_t *store, const store_webhook_t *webhook)
{
    if (!store || !webhook || !webhook->name || !webhook->url || !webhook->events_json ||
        !webhook->shared_secret)
        return STORE_INVALID;
    int64_t changed = 0;
    int rc =
        store->backend->write(store, STMT_WEBHOOK_UPDATE, store_params_webhook, webhook, &changed);
    return rc == STORE_OK && changed == 0 ? STORE_NOT_FOUND : rc;
}

typedef struct delete_args {
    const char *user_id;
    const char *id;
} delete_args_t;

static int delete_body(store_t *store, store_tx_t *tx, void *opaque)
{
    const delete_args_t *d = opaque;
    args_t owned = {{TEXT(d->id), TEXT(d->user_id)}, 2}, by_webhook = {{TEXT(d->id)}, 1};
    int64_t changed = 0;
    int rc = tx_write_args(store, tx, STMT_WEBHOOK_DELETE, &owned, &changed);
    if (rc == STORE_OK && changed == 0)
        return STORE_NOT_FOUND;
    if (rc == STORE_OK)
        rc = tx_write_args(store, tx, STMT_DELIVERY_DELETE_OF_WEBHOOK, &by_webhook, NULL);
    if (rc == STORE_OK)
        rc = tx_write_args(store, tx, STMT_LOG_DELETE_OF_WEBHOOK, &by_webhook, NULL);
    return rc;
}

int store_webhook_delete(store_t *store, const char *user_id, const char *id)
{
    if (!store || !user_id || !id)
        return STORE_INVALID;
    delete_args_t d = {user_id, id};
    return store->backend->transact(store, delete_body, &d);
}

/* ---- Deliveries --------------------------------------------------------------------------------
 */

int store_webhook_list_due(store_t *store, int64_t now_ms, size_t max,
                           store_webhook_delivery_t **out, size_t *out_count)
{
    if (!out || !out_count)
        return STORE_INVALID;
    *out = NULL;
    *out_count = 0;
    if (!store || max == 0)
        return STORE_INVALID;
    args_t a = {{NUMBER(now_ms), NUMBER((int64_t)max)}, 2};
    return read_all(store, STMT_DELIVERY_DUE, &a, &store_row_delivery, (void **)out, out_count);
}

int store_webhook_claim(store_t *store, const char *id, const char *node_id, int64_t now_ms,
                        int64_t lease_ms)
{
    if (!store || !id || !node_id)
        return STORE_INVALID;
    args_t a = {{TEXT(id), TEXT(node_id), NUMBER(now_ms + lease_ms), NUMBER(now_ms)}, 4};
    int64_t changed = 0;
    int rc = write_args(store, STMT_DELIVERY_CLAIM, &a, &changed);
    return rc == STORE_OK && changed == 0 ? STORE_CONFLICT : rc;
}

static const char *const delivery_state_names[] = {
    [STORE_DELIVERY_PENDING] = "pending",
    [STORE_DELIVERY_DELIVERED] = "delivered",
    [STORE_DELIVERY_FAILED] = "failed",
};
#define DELIVERY_STATE_COUNT (sizeof delivery_state_names / sizeof delivery_state_names[0])

const char *store_delivery_state_name(store_delivery_state_t state)
{
    return (size_t)state < DELIVERY_STATE_COUNT ? delivery_state_names[state] : "pending";
}

store_delivery_state_t store_delivery_state_parse(const char *text)
{
    for (size_t i = 0; text && i < DELIVERY_STATE_COUNT; i++) {
        if (strcmp(text, delivery_state_names[i]) == 0)
            return (store_delivery_state_t)i;
    }
    return STORE_DELIVERY_PENDING;
}

typedef struct done_args {
    const store_webhook_attempt_t *attempt;
} done_args_t;

static int done_body(store_t *store, store_tx_t *tx, void *opaque)
{
    done_args_t *d = opaque;
    const store_webhook_attempt_t *at = d->attempt;
    int rc = store->backend->tx_write(tx, STMT_LOG_INSERT, store_params_webhook_log, at->log, NULL);
    store_delivery_state_t state = at->success ? STORE_DELIVERY_DELIVERED
                                   : at->retry ? STORE_DELIVERY_PENDING
                                               : STORE_DELIVERY_FAILED;
    int64_t next = state == STORE_DELIVERY_PENDING ? at->next_attempt_at_ms : clock_now_ms();
    args_t delivery = {
        {TEXT(at->delivery_id), TEXT(store_delivery_state_name(state)), NUMBER(next)}, 3};
    if (rc == STORE_OK)
        rc = tx_write_args(store, tx, STMT_DELIVERY_DONE, &delivery, NULL);
    args_t status = {{TEXT(at->log->webhook_id), NUMBER(at->started_at_ms),
                      TEXT(at->success ? NULL : at->failure_json)},
                     3};
    if (rc == STORE_OK)
        rc = tx_write_args(store, tx, STMT_WEBHOOK_STATUS, &status, NULL);
    return rc;
}

int store_webhook_attempt_done(store_t *store, const store_webhook_attempt_t *attempt)
{
    if (!store || !attempt || !attempt->delivery_id || !attempt->log ||
        !attempt->log->request_json || !attempt->log->response_json)
        return STORE_INVALID;
    done_args_t d = {.attempt = attempt};
    if (ids_uuid_v4(attempt->log->id) != 0) {
        log_error("store", "webhook log: the random generator failed");
        return STORE_ERR;
    }
    attempt->log->created_at_ms = attempt->started_at_ms;
    return store->backend->transact(store, done_body, &d);
}

int store_webhook_release_claims(store_t *store, const char *node_id)
{
    if (!store || !node_id)
        return STORE_INVALID;
    args_t a = {{TEXT(node_id)}, 1};
    return write_args(store, STMT_DELIVERY_RELEASE, &a, NULL);
}

int store_webhook_resend(store_t *store, const char *webhook_id, const char *log_id,
                         const char *delivery_id)
{
    if (!store || !webhook_id || !log_id || !delivery_id)
        return STORE_INVALID;
    args_t a = {{TEXT(delivery_id), TEXT(log_id), TEXT(webhook_id), NUMBER(clock_now_ms())}, 4};
    int64_t changed = 0;
    int rc = write_args(store, STMT_DELIVERY_RESEND, &a, &changed);
    if (rc == STORE_OK && changed == 0)
        return STORE_NOT_FOUND;
    if (rc == STORE_OK)
        outbox_notify(store);
    return rc;
}

/* ---- Logs --------------------------------------------------------------------------------------
 */

int store_webhook_log_list(store_t *store, const char *webhook_id, int64_t limit, int64_t offset,
                           store_webhook_log_t **out, size_t *out_count)
{
    if (!out || !out_count)
        return STORE_INVALID;
    *out = NULL;
    *out_count = 0;
    if (!store || !webhook_id || limit <= 0 || offset < 0)
        return STORE_INVALID;
    args_t a = {{TEXT(webhook_id), NUMBER(limit), NUMBER(offset)}, 3};
    return read_all(store, STMT_LOG_LIST, &a, &store_row_webhook_log, (void **)out, out_count);
}

int store_webhook_log_get(store_t *store, const char *webhook_id, const char *log_id,
                          store_webhook_log_t *out)
{
    if (!out)
        return STORE_INVALID;
    memset(out, 0, sizeof *out);
    if (!store || !webhook_id || !log_id)
        return STORE_INVALID;
    args_t a = {{TEXT(log_id), TEXT(webhook_id)}, 2};
    return read_one(store, STMT_LOG_GET, &a, &store_row_webhook_log, out);
}

int store_webhook_prune(store_t *store, int64_t before_ms, int64_t *out_deleted)
{
    if (out_deleted)
        *out_deleted = 0;
    if (!store)
        return STORE_INVALID;
    args_t a = {{NUMBER(before_ms)}, 1};
    int rc = write_args(store, STMT_LOG_PRUNE, &a, out_deleted);
    if (rc == STORE_OK)
        rc = write_args(store, STMT_DELIVERY_PRUNE, &a, NULL);
    return rc;
}
