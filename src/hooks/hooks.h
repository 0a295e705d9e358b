/* Webhook delivery: one thread reading the store's outbox (store_webhooks.h) and posting each
 * due delivery with libcurl's multi interface, many at once, so a slow or dead receiver holds
 * one transfer of its own and never the others, ingest or the API. Each attempt is signed
 * (signature.h), bounded (HOOKS_TIMEOUT_MS), checked at connect time (address.h), logged in the
 * store and retried as retry.h says; the event id stays the same. A stream's events reach a
 * webhook in order (the store hands out only the first pending one). Deliveries are claimed
 * with a lease, so nodes sharing the database never attempt one twice at once. The thread also
 * prunes old attempt logs. */
#ifndef STREAMD_HOOKS_HOOKS_H
#define STREAMD_HOOKS_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_webhooks.h"

#define HOOKS_TIMEOUT_MS 30000                   /* one attempt, connection included */
#define HOOKS_LEASE_MS (2 * HOOKS_TIMEOUT_MS)    /* a claim outlives its attempt */
#define HOOKS_MAX_IN_FLIGHT 64                   /* attempts at once */
#define HOOKS_MAX_IN_FLIGHT_PER_WEBHOOK 8        /* of those, to one webhook */
#define HOOKS_EXCERPT_MAX 1024                   /* bytes of a response body kept in the log */
#define HOOKS_PRUNE_INTERVAL_MS (60 * 60 * 1000) /* old logs are deleted this often */

typedef struct hooks hooks_t;

/* The JSON body of a delivery sent at timestamp_ms, as a new string the caller frees; NULL when
 * it cannot be built. Runs on the delivery thread. */
typedef char *(*hooks_render_t)(void *opaque, const store_webhook_delivery_t *delivery,
                                int64_t timestamp_ms);

/* Told, on the delivery thread, that the awaited delivery's attempt was logged as log_id, or
 * (log_id NULL) that none was within the wait. */
typedef void (*hooks_waiter_t)(void *opaque, const char *log_id);

typedef struct hooks_config {
    const char *node_id;   /* this node, which claims deliveries; borrowed, outlives hooks */
    bool allow_private;    /* deliver to loopback, link-local and private addresses too */
    int64_t log_max_age_s; /* attempt logs older than this are deleted; 0 = kept */
    hooks_render_t render; /* builds the bodies */
    void *render_opaque;
} hooks_config_t;

/* Starts the delivery thread on store and makes it the store's outbox watcher. This node's
 * leftover claims (an unclean stop) are let go first. NULL with a message in err on failure. */
hooks_t *hooks_start(const hooks_config_t *config, store_t *store, char *err, size_t err_size);

#define HOOKS_RESEND_WAIT_MS (HOOKS_TIMEOUT_MS + 15000) /* a resend's answer comes by then */

/* Attempts the event of webhook_id's log log_id once more, now (same event id, fresh timestamp
 * and signature), and calls fn with the new attempt's log id once it is logged, or with NULL if
 * that took longer than HOOKS_RESEND_WAIT_MS or hooks stopped. Any thread. Returns STORE_OK, or
 * a store_status_t (STORE_NOT_FOUND: no such log) and then fn is never called. */
int hooks_resend(hooks_t *hooks, const char *webhook_id, const char *log_id, hooks_waiter_t fn,
                 void *opaque);

#define HOOKS_ACCESS_TIMEOUT_MS 5000 /* an access check: a viewer waits for it */
#define HOOKS_MAX_ACCESS_CHECKS 256  /* asked and not answered yet; more are refused */

/* Answers an access check: the response's HTTP status, or 0 and why none came. */
typedef void (*hooks_access_done_t)(void *opaque, long status, const char *error);

/* Posts body (taken) to url from the delivery thread, signed with secret as a delivery is,
 * within HOOKS_ACCESS_TIMEOUT_MS and under the same address rules, and calls done once on that
 * thread. It is not logged. Any thread. Returns 0, or -1 (then done is never called) when out
 * of memory, HOOKS_MAX_ACCESS_CHECKS are waiting already or hooks has stopped. */
int hooks_access_check(hooks_t *hooks, const char *url, const char *secret, char *body,
                       hooks_access_done_t done, void *opaque);

/* Stops the thread: attempts in flight are abandoned and their claims let go (they are due
 * again at once, here after a restart or on another node); waiters and access checks are told
 * that nothing came, and later calls are refused. No outbox change may be committed meanwhile.
 * NULL is a no-op. */
void hooks_stop(hooks_t *hooks);

/* Frees a stopped hooks, once no thread can call it any more. NULL is a no-op. */
void hooks_free(hooks_t *hooks);

#endif
