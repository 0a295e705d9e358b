/* Webhooks in the store: the webhooks users register, the outbox of their deliveries and the log
 * of every attempt. The events themselves are raised inside the store, in the transaction of the
 * state change that causes them (store.c): a stream's isActive flipping, a recorded session
 * starting, becoming final, and its recording ending ready or failed. Each becomes one delivery
 * per subscribed webhook, which a delivery worker claims (store_webhook_claim), attempts and
 * reports (store_webhook_attempt_done). Thread-safe like the rest of store.h; records returned
 * are the caller's, released with the matching *_clear / *_list_free. */
#ifndef STREAMD_STORE_STORE_WEBHOOKS_H
#define STREAMD_STORE_STORE_WEBHOOKS_H

#include "store/store.h"

#define STORE_DELIVERY_ID_SIZE (2 * STORE_ID_SIZE) /* "<event id>:<webhook id>" + NUL */
#define STORE_EVENT_NAME_SIZE 32                   /* the longest Studio event name + NUL */

typedef struct store_webhook {
    char id[STORE_ID_SIZE];
    char user_id[STORE_ID_SIZE];
    char project_id[STORE_ID_SIZE];
    char stream_id[STORE_ID_SIZE]; /* only this stream's events; "" = every stream's */
    char *name;                    /* owned */
    char *url;                     /* owned; http:// or https:// */
    char *events_json;             /* owned JSON array of event names */
    char *shared_secret;           /* owned; the HMAC key of the signature */
    int64_t created_at_ms;         /* ms since epoch */
    int64_t last_triggered_at_ms;  /* ms since epoch of the last attempt; 0 = never */
    char *last_failure_json;       /* owned JSON object of status.lastFailure; NULL = none */
} store_webhook_t;

typedef enum {
    STORE_DELIVERY_PENDING = 0, /* waiting for its (next) attempt */
    STORE_DELIVERY_DELIVERED,   /* a 2xx answered */
    STORE_DELIVERY_FAILED,      /* given up: a 4xx, a refused address, or out of retries */
} store_delivery_state_t;

/* One event for one webhook. */
typedef struct store_webhook_delivery {
    char id[STORE_DELIVERY_ID_SIZE];
    char event_id[STORE_ID_SIZE]; /* the same for every attempt and every resend */
    char webhook_id[STORE_ID_SIZE];
    char event[STORE_EVENT_NAME_SIZE];
    char stream_id[STORE_ID_SIZE];  /* "" = none */
    char session_id[STORE_ID_SIZE]; /* "" = none */
    int64_t created_at_ms;          /* ms since epoch: when the event happened */
    int64_t attempts;               /* made so far */
    bool retries;                   /* false for a resend: one attempt only */
    store_delivery_state_t state;
    int64_t next_attempt_at_ms; /* ms since epoch */
} store_webhook_delivery_t;

/* One attempt, as GET /webhook/{id}/log lists it. */
typedef struct store_webhook_log {
    char id[STORE_ID_SIZE];
    char webhook_id[STORE_ID_SIZE];
    char event_id[STORE_ID_SIZE];
    char event[STORE_EVENT_NAME_SIZE];
    char stream_id[STORE_ID_SIZE];  /* "" = none */
    char session_id[STORE_ID_SIZE]; /* "" = none */
    int64_t created_at_ms;          /* ms since epoch: when the attempt started */
    double duration_s;              /* seconds until the answer or the failure */
    bool success;
    char *request_json;  /* owned JSON object {url, method, headers, body} */
    char *response_json; /* owned JSON object {status, statusText, body}; {} when none came */
} store_webhook_log_t;

/* The outcome of an attempt, reported by the worker that claimed the delivery. */
typedef struct store_webhook_attempt {
    const char *delivery_id;
    int64_t started_at_ms; /* ms since epoch */
    bool success;
    bool retry;                 /* when !success: attempt again at next_attempt_at_ms */
    int64_t next_attempt_at_ms; /* ms since epoch */
    store_webhook_log_t *log;   /* the store fills in its id and created_at_ms (started_at_ms) */
    const char *failure_json;   /* the webhook's new status.lastFailure when !success */
} store_webhook_attempt_t;

void store_webhook_clear(store_webhook_t *webhook);
void store_webhook_log_clear(store_webhook_log_t *log);
void store_webhook_list_free(store_webhook_t *webhooks, size_t count);
void store_webhook_delivery_list_free(store_webhook_delivery_t *deliveries, size_t count);
void store_webhook_log_list_free(store_webhook_log_t *logs, size_t count);

/* Fills id and created_at_ms of *webhook and inserts it (user_id, project_id, name, url,
 * events_json, shared_secret, stream_id are read from it). */
int store_webhook_create(store_t *store, store_webhook_t *webhook);
/* The webhook with that id, when user_id owns it (user_id NULL: whoever does). */
int store_webhook_get(store_t *store, const char *user_id, const char *id, store_webhook_t *out);
/* The user's webhooks, newest first; the caller frees *out with store_webhook_list_free. */
int store_webhook_list(store_t *store, const char *user_id, store_webhook_t **out,
                       size_t *out_count);
/* Writes name, url, events_json, shared_secret and stream_id of the user's webhook. */
int store_webhook_update(store_t *store, const store_webhook_t *webhook);
/* Deletes the user's webhook with its pending deliveries and its logs. */
int store_webhook_delete(store_t *store, const char *user_id, const char *id);

/* Up to max deliveries due at now_ms, oldest first: pending, next attempt due, not claimed by a
 * live lease, and first in line (no earlier pending delivery of the same stream to the same
 * webhook). The caller frees *out with store_webhook_delivery_list_free. */
int store_webhook_list_due(store_t *store, int64_t now_ms, size_t max,
                           store_webhook_delivery_t **out, size_t *out_count);
/* Claims delivery id for node_id until now_ms + lease_ms: STORE_OK for exactly one claimer,
 * STORE_CONFLICT when another node holds it or it is no longer pending. */
int store_webhook_claim(store_t *store, const char *id, const char *node_id, int64_t now_ms,
                        int64_t lease_ms);
/* Records an attempt in one transaction: its log row, the delivery's new state and the webhook's
 * status (lastTriggeredAt, lastFailure). */
int store_webhook_attempt_done(store_t *store, const store_webhook_attempt_t *attempt);
/* Lets go of node_id's claims (a node's start: it holds nothing yet). */
int store_webhook_release_claims(store_t *store, const char *node_id);

/* The webhook's attempts, newest first, at most limit from offset. */
int store_webhook_log_list(store_t *store, const char *webhook_id, int64_t limit, int64_t offset,
                           store_webhook_log_t **out, size_t *out_count);
int store_webhook_log_get(store_t *store, const char *webhook_id, const char *log_id,
                          store_webhook_log_t *out);
/* Queues one more attempt of the event of the log (its webhook, its event id, due now, no
 * retries) as delivery delivery_id (a fresh id of the caller's). */
int store_webhook_resend(store_t *store, const char *webhook_id, const char *log_id,
                         const char *delivery_id);
/* Deletes the logs older than before_ms and the deliveries finished before it; *out_deleted
 * (may be NULL) gets the log rows deleted. */
int store_webhook_prune(store_t *store, int64_t before_ms, int64_t *out_deleted);

/* Called after a transaction that queued deliveries committed, on the committing thread: a
 * delivery worker wakes up. */
typedef void (*store_outbox_changed_t)(void *opaque);
/* Sets the one watcher of the outbox (NULL fn: none); before serving, from one thread. */
int store_watch_outbox(store_t *store, store_outbox_changed_t fn, void *opaque);

#endif
