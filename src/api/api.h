/* The Studio-compatible API: its routes, what a handler sees, and the replies that need to know
 * the caller or the store. Handlers run on HTTP worker threads and must not block on media work. */
#ifndef STREAMD_API_API_H
#define STREAMD_API_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/request.h"
#include "http/router.h"
#include "store/store.h"
#include "store/store_webhooks.h"

/* Events the API raises for other planes; every pointer may be NULL (nothing listens yet). */
typedef struct api_hooks {
    void *opaque;
    /* The stream was deleted, terminated or suspended: its live broadcast must end now. */
    void (*stream_stop)(void *opaque, const char *stream_id);
    /* Attempts the event of a webhook's log again and later calls done (on another thread)
     * with the new attempt's log id, or NULL when it did not finish in time. Returns a
     * store_status_t; done is called only after STORE_OK. */
    void *deliveries;
    int (*resend)(void *deliveries, const char *webhook_id, const char *log_id,
                  void (*done)(void *context, const char *log_id), void *context);
} api_hooks_t;

/* What handlers need from the server; owned by the server, read-only for the API. */
typedef struct api_deps {
    store_t *store;
    struct auth_cache *auth_cache; /* keys that authenticated lately (api/auth_cache.h); NULL =
                                      every request asks the store */
    const char *public_url;        /* base of the URLs the API hands out, no trailing slash */
    const char *rtmp_public_url;   /* where encoders publish, as GET /api/ingest tells them */
    const char *node_id;           /* this node; GET /api/ingest lists it first */
    int node_timeout_s;            /* a node whose heartbeat is older is not listed */
    api_hooks_t hooks;
} api_deps_t;

/* An API request: the HTTP request and who is asking. */
typedef struct api_request {
    http_request_t *http;
    const api_deps_t *deps;
    /* Set by authentication on protected routes. */
    bool authenticated;
    store_user_t user;
    store_api_token_t token;
} api_request_t;

/* Adds every API route (public and protected) to router; deps must outlive it. Returns 0, or
 * -1 when out of memory. */
int api_register_routes(http_router_t *router, const api_deps_t *deps);

/* Replies 200 with one page of a list: items (taken), a Link rel=next header when the page is
 * full (with_link), and X-Total-Count when the `count` query flag is set (total >= 0). */
void api_reply_page(api_request_t *req, json_t *items, int64_t limit, int64_t offset, int64_t total,
                    bool with_link);

/* True when the caller may see a row owned by user_id in project_id. */
bool api_owns(const api_request_t *req, const char *user_id, const char *project_id);

/* Replies for a store failure that is not the caller's fault (logged by the store): 500. */
void api_reply_store_error(api_request_t *req, int rc);

/* The body a delivery posts at timestamp_ms (API.md section 6): {id (the event's), webhookId,
 * createdAt, timestamp, event, stream (without its streamKey), payload (the session's id for
 * stream events; the session, and for recording.ready its recording URLs, for recording
 * events)}, as new compact JSON text the caller frees. NULL when out of memory. Any thread. */
char *api_webhook_body(const api_deps_t *deps, const store_webhook_delivery_t *delivery,
                       int64_t timestamp_ms);

/* True when the caller is an admin. */
bool api_is_admin(const api_request_t *req);

#endif
