/* The route table and path matching. Literal segments are listed before parameters where two
 * patterns could match the same path, since the first match wins. */
#include "api/router.h"

#include <string.h>

#include "api/auth.h"
#include "api/handlers.h"
#include "web/files.h"

typedef void (*handler_fn)(api_request_t *req);

typedef struct route {
    const char *method;
    const char *pattern; /* segments; ":x" matches any one non-empty segment */
    handler_fn handler;
    bool public;
} route_t;

static const route_t routes[] = {
    {"GET", "/healthz", misc_healthz, true},
    {"GET", "/api/ingest", misc_ingest, true},
    {"GET", "/api/playback/:id", playback_info, true},
    {"GET", "/hls/:id/*", web_hls, true},
    {"GET", "/recordings/:id/*", web_recordings, true},
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
};
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

/* Matches path against pattern, recording parameter segments in req. The path is split in
 * place on a copy owned by the caller. */
static bool match(const char *pattern, char *path, api_request_t *req)
{
    req->param_count = 0;
    req->rest_param = false;
    const char *p = pattern;
    char *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return false;
        p++;
        s++;
        size_t pattern_len = strcspn(p, "/");
        size_t segment_len = strcspn(s, "/");
        if (*p == '*') {
            /* The rest of the path, one segment or more, is the last parameter. */
            if (segment_len == 0 || req->param_count == API_MAX_PATH_PARAMS)
                return false;
            req->params[req->param_count++] = s;
            req->rest_param = true;
            return true;
        }
        if (*p == ':') {
            if (segment_len == 0 || req->param_count == API_MAX_PATH_PARAMS)
                return false;
            req->params[req->param_count++] = s;
        } else if (pattern_len != segment_len || strncmp(p, s, segment_len) != 0) {
            return false;
        }
        p += pattern_len;
        s += segment_len;
    }
    /* A trailing slash on the request is tolerated. */
    return *p == '\0' && (*s == '\0' || strcmp(s, "/") == 0);
}

/* Cuts the parameter segments out of the path copy, now that the match is final. */
static void terminate_params(api_request_t *req)
{
    size_t cut = req->rest_param ? req->param_count - 1 : req->param_count;
    for (size_t i = 0; i < cut; i++) {
        char *end = (char *)req->params[i] + strcspn(req->params[i], "/");
        *end = '\0';
    }
}

void router_dispatch(api_request_t *req)
{
    if (strcmp(req->method, "OPTIONS") == 0) {
        api_reply(req, 204, NULL); /* CORS preflight: the headers come with every reply */
        return;
    }
    size_t path_len = strlen(req->path);
    if (path_len > 2048) {
        api_reply_error(req, 414, "request path too long");
        return;
    }
    char path[2049];
    bool path_matched = false;
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        memcpy(path, req->path, path_len + 1);
        if (!match(routes[i].pattern, path, req))
            continue;
        path_matched = true;
        /* HEAD is GET without the body (libmicrohttpd drops it). */
        const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
        if (strcmp(routes[i].method, method) != 0)
            continue;
        terminate_params(req);
        if (!routes[i].public && auth_authenticate(req) != 0)
            return;
        routes[i].handler(req);
        return;
    }
    req->param_count = 0;
    if (path_matched)
        api_reply_error(req, 405, "method %s not allowed on %s", req->method, req->path);
    else
        api_reply_error(req, 404, "not found");
}
