/* Private to src/store/: raising webhook events inside the transaction of the state change that
 * causes them (store.c), so a crash neither loses nor invents one. Nothing outside src/store/
 * includes this. */
#ifndef STREAMD_STORE_STORE_EVENTS_H
#define STREAMD_STORE_STORE_EVENTS_H

#include "store/store_backend.h"

/* The events streamd raises (API.md section 6 names them all). */
#define STORE_EVENT_STREAM_STARTED "stream.started"
#define STORE_EVENT_STREAM_IDLE "stream.idle"
#define STORE_EVENT_RECORDING_STARTED "recording.started"
#define STORE_EVENT_RECORDING_WAITING "recording.waiting"
#define STORE_EVENT_RECORDING_READY "recording.ready"
#define STORE_EVENT_RECORDING_FAILED "recording.failed"

/* A transaction that may raise events: body's opaque starts with this, and store_events_run
 * wakes the outbox's watcher once the transaction committed with events in it. */
typedef struct store_events_tx {
    int64_t raised; /* deliveries written so far */
} store_events_tx_t;

/* Inside tx: queues event about stream_id (and session_id, may be NULL) for every webhook
 * subscribed to it, with a fresh event id. Adds the deliveries written to events->raised. */
int store_events_raise(store_t *store, store_tx_t *tx, store_events_tx_t *events, const char *event,
                       const char *stream_id, const char *session_id);

/* Runs body in a transaction (args starts with a store_events_tx_t); after a commit that raised
 * events the outbox's watcher is told. Returns the transaction's status. */
int store_events_run(store_t *store, store_tx_body_t body, store_events_tx_t *args);

#endif
