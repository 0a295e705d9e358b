/* The route table and path matching. */
#include "http/router.h"

#include <stdlib.h>
#include <string.h>

typedef struct route {
    const char *method;
    const char *pattern;
    http_handler_fn handler;
    const void *context;
    const void *route_data;
} route_t;

struct http_router {
    route_t *routes;
    size_t count;
    size_t capacity;
};

http_router_t *http_router_new(void)
{
    return calloc(1, sizeof(http_router_t));
}

void http_router_free(http_router_t *router)
{
    if (!router)
        return;
    free(router->routes);
    free(router);
}

int http_router_add(http_router_t *router, const char *method, const char *pattern,
                    http_handler_fn handler, const void *context, const void *route_data)
{
    if (router->count == router->capacity) {
        size_t capacity = router->capacity ? router->capacity * 2 : 32;
        route_t *grown = realloc(router->routes, capacity * sizeof *grown);
        if (!grown)
            return -1;
        router->routes = grown;
        router->capacity = capacity;
    }
    router->routes[router->count++] = (route_t){method, pattern, handler, context, route_data};
    return 0;
}

/* Matches path against pattern, recording parameter segments in req. The path is split in
 * place on a copy owned by the caller. */
static bool match(const char *pattern, char *path, http_request_t *req)
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
            if (segment_len == 0 || req->param_count == HTTP_MAX_PATH_PARAMS)
                return false;
            req->params[req->param_count++] = s;
            req->rest_param = true;
            return true;
        }
        if (*p == ':') {
            if (segment_len == 0 || req->param_count == HTTP_MAX_PATH_PARAMS)
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
static void terminate_params(http_request_t *req)
{
    size_t cut = req->rest_param ? req->param_count - 1 : req->param_count;
    for (size_t i = 0; i < cut; i++) {
        char *end = (char *)req->params[i] + strcspn(req->params[i], "/");
        *end = '\0';
    }
}

void http_router_dispatch(const http_router_t *router, http_request_t *req)
{
    if (strcmp(req->method, "OPTIONS") == 0) {
        http_reply(req, 204, NULL); /* CORS preflight: the headers come with every reply */
        return;
    }
    size_t path_len = strlen(req->path);
    if (path_len > 2048) {
        http_reply_error(req, 414, "request path too long");
        return;
    }
    char path[2049];
    bool path_matched = false;
    for (size_t i = 0; i < router->count; i++) {
        const route_t *route = &router->routes[i];
        memcpy(path, req->path, path_len + 1);
        if (!match(route->pattern, path, req))
            continue;
        path_matched = true;
        /* HEAD is GET without the body (libmicrohttpd drops it). */
        const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
        if (strcmp(route->method, method) != 0)
            continue;
        terminate_params(req);
        req->context = route->context;
        req->route_data = route->route_data;
        route->handler(req);
        return;
    }
    req->param_count = 0;
    if (path_matched)
        http_reply_error(req, 405, "method %s not allowed on %s", req->method, req->path);
    else
        http_reply_error(req, 404, "not found");
}
