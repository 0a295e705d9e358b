/* The API's route table. Literal segments are listed before parameters where two patterns could
 * match the same path, since the first match wins. */
#include "api/api.h"
#include "api/auth.h"
#include "api/handlers.h"

typedef void (*handler_fn)(api_request_t *req);

typedef struct route {
    const char *method;
    const char *pattern; /* as http_router_add reads it */
    handler_fn handler;
    bool public;
} route_t;

static const route_t routes[] = {
    {"GET", "/healthz", misc_healthz, true},
    {"GET", "/api/ingest", misc_ingest, true},
    {"GET", "/api/playback/:id", playback_info, true},
    {"POST", "/api/stream", streams_create, false},
    {"GET", "/api/stream", streams_list, false},
    {"DELETE", "/api/stream", streams_delete_many, false},
    {"GET", "/api/stream/sessions/:id", sessions_of_stream_legacy, false},
    {"GET", "/api/stream/user/:id", streams_list_by_user, false},
    {"GET", "/api/stream/playback/:id", streams_get_by_playback_id, false},
    {"GET", "/api/stream/key/:key", streams_get_by_key, false},
    {"GET", "/api/stream/:id", streams_get, false},
    {"PATCH", "/api/stream/:id", streams_patch, false},
    {"DELETE", "/api/stream/:id", streams_delete, false},
    {"DELETE", "/api/stream/:id/terminate", streams_terminate, false},
    {"POST", "/api/stream/:id/start-pull", streams_start_pull, false},
    {"PATCH", "/api/stream/:id/suspended", streams_set_suspended, false},
    {"PATCH", "/api/stream/:id/record", streams_set_record, false},
    {"GET", "/api/stream/:id/sessions", sessions_of_stream, false},
    {"GET", "/data/stream/:id/health", health_get, false},
    {"GET", "/api/session", sessions_list, false},
    {"GET", "/api/session/:id", sessions_get, false},
    {"POST", "/api/api-token", tokens_create, false},
    {"GET", "/api/api-token", tokens_list, false},
    {"DELETE", "/api/api-token/:id", tokens_delete, false},
    {"POST", "/api/access-control/signing-key", signing_keys_create, false},
    {"GET", "/api/access-control/signing-key", signing_keys_list, false},
    {"GET", "/api/access-control/signing-key/:id", signing_keys_get, false},
    {"PATCH", "/api/access-control/signing-key/:id", signing_keys_update, false},
    {"DELETE", "/api/access-control/signing-key/:id", signing_keys_delete, false},
    {"POST", "/api/webhook", webhooks_create, false},
    {"GET", "/api/webhook", webhooks_list, false},
    {"GET", "/api/webhook/:id", webhooks_get, false},
    {"PUT", "/api/webhook/:id", webhooks_put, false},
    {"PATCH", "/api/webhook/:id", webhooks_patch, false},
    {"DELETE", "/api/webhook/:id", webhooks_delete, false},
    {"GET", "/api/webhook/:id/log", webhooks_logs, false},
    {"GET", "/api/webhook/:id/log/:log", webhooks_log_get, false},
    {"POST", "/api/webhook/:id/log/:log/resend", webhooks_resend, false},
};
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

/* Authenticates a protected route's caller, then runs its handler. */
static void handle(http_request_t *http)
{
    const route_t *route = http->route_data;
    api_request_t req = {.http = http, .deps = http->context};
    if (route->public || auth_authenticate(&req) == 0)
        route->handler(&req);
    store_user_clear(&req.user);
    store_api_token_clear(&req.token);
}

int api_register_routes(http_router_t *router, const api_deps_t *deps)
{
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        if (http_router_add(router, routes[i].method, routes[i].pattern, handle, deps,
                            &routes[i]) != 0)
            return -1;
    }
    return 0;
}
