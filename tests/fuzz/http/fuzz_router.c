/* libFuzzer harness for http/router: arbitrary bytes as a request's method (up to the first NUL)
 * and path (the rest), dispatched against a table shaped like the server's. Checks what handlers
 * rely on: parameters are non-empty, one segment each except a final "*" tail, and the status is
 * one the router gives. */
/* fuzz-sources: src/http/router.c src/http/request.c */
#include "http/router.h"

#include <stdlib.h>
#include <string.h>

static void check_params(http_request_t *req)
{
    if (req->param_count > HTTP_MAX_PATH_PARAMS)
        abort();
    for (size_t i = 0; i < req->param_count; i++) {
        const char *param = req->params[i];
        bool tail = req->rest_param && i + 1 == req->param_count;
        if (param[0] == '\0' || (!tail && strchr(param, '/')))
            abort();
    }
    http_reply(req, 200, NULL);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const char *const patterns[] = {
        "/healthz",          "/api/stream", "/api/stream/key/:key", "/api/stream/:id",
        "/api/stream/:id/x", "/hls/:id/*",  "/a/:b/:c/:d/*",        "/:x",
    };
    char *text = malloc(size + 2);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    text[size + 1] = '\0';
    const char *method = text;
    const char *path = text + strlen(text) + 1;
    if (path > text + size)
        path = text + size + 1;

    http_router_t *router = http_router_new();
    for (size_t i = 0; router && i < sizeof patterns / sizeof patterns[0]; i++)
        http_router_add(router, i % 2 ? "GET" : "POST", patterns[i], check_params, NULL, NULL);
    if (router) {
        http_request_t req = {.method = method, .path = path, .status = 500};
        http_router_dispatch(router, &req);
        int status = req.status;
        if (status != 200 && status != 204 && status != 404 && status != 405 && status != 414)
            abort();
        http_request_release(&req);
    }
    http_router_free(router);
    free(text);
    return 0;
}
