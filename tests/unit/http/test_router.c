/* Unit tests for the route table: matching, parameters, 404/405, preflight and HEAD. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/router.h"

static void record_params(http_request_t *req)
{
    json_t *params = json_array();
    for (size_t i = 0; i < req->param_count; i++)
        json_array_append_new(params, json_string(req->params[i]));
    json_t *body = json_pack("{s:s,s:o}", "route", (const char *)req->route_data, "params", params);
    if (req->context)
        json_object_set_new(body, "context", json_string(req->context));
    http_reply(req, 200, body);
}

static http_router_t *make_router(void)
{
    http_router_t *router = http_router_new();
    cr_assert_not_null(router);
    cr_assert_eq(http_router_add(router, "GET", "/api/stream/key/:key", record_params, NULL, "key"),
                 0);
    cr_assert_eq(http_router_add(router, "GET", "/api/stream/:id", record_params, "ctx", "get"), 0);
    cr_assert_eq(http_router_add(router, "PATCH", "/api/stream/:id", record_params, NULL, "patch"),
                 0);
    cr_assert_eq(http_router_add(router, "GET", "/hls/:id/*", record_params, NULL, "files"), 0);
    return router;
}

/* Dispatches method path and returns the status; *route and the parameters are read from the
 * reply body when it is the recording handler's. */
static int dispatch(const http_router_t *router, const char *method, const char *path,
                    json_t **reply)
{
    http_request_t req = {.method = method, .path = path, .status = 500};
    http_router_dispatch(router, &req);
    int status = req.status;
    *reply = json_incref(req.reply_body);
    http_request_release(&req);
    return status;
}

static const char *route_of(json_t *reply)
{
    return json_string_value(json_object_get(reply, "route"));
}

static const char *param(json_t *reply, size_t i)
{
    return json_string_value(json_array_get(json_object_get(reply, "params"), i));
}

Test(router, the_first_matching_route_wins_and_params_are_cut_out)
{
    http_router_t *router = make_router();
    json_t *reply = NULL;
    cr_assert_eq(dispatch(router, "GET", "/api/stream/key/abc", &reply), 200);
    cr_assert_str_eq(route_of(reply), "key");
    cr_assert_str_eq(param(reply, 0), "abc");
    json_decref(reply);

    cr_assert_eq(dispatch(router, "GET", "/api/stream/s1/", &reply), 200, "trailing slash");
    cr_assert_str_eq(route_of(reply), "get");
    cr_assert_str_eq(param(reply, 0), "s1");
    cr_assert_str_eq(json_string_value(json_object_get(reply, "context")), "ctx");
    json_decref(reply);

    cr_assert_eq(dispatch(router, "PATCH", "/api/stream/s1", &reply), 200);
    cr_assert_str_eq(route_of(reply), "patch");
    json_decref(reply);
    http_router_free(router);
}

Test(router, a_star_takes_the_rest_of_the_path)
{
    http_router_t *router = make_router();
    json_t *reply = NULL;
    cr_assert_eq(dispatch(router, "GET", "/hls/p1/720p0/00001.ts", &reply), 200);
    cr_assert_str_eq(param(reply, 0), "p1");
    cr_assert_str_eq(param(reply, 1), "720p0/00001.ts");
    json_decref(reply);
    cr_assert_eq(dispatch(router, "GET", "/hls/p1/", &reply), 404, "the tail is not empty");
    json_decref(reply);
    http_router_free(router);
}

Test(router, unknown_paths_methods_and_preflight)
{
    http_router_t *router = make_router();
    json_t *reply = NULL;
    cr_assert_eq(dispatch(router, "GET", "/api/nothing", &reply), 404);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(reply, "errors"), 0)),
                     "not found");
    json_decref(reply);
    cr_assert_eq(dispatch(router, "GET", "/api/stream//x", &reply), 404, "empty segment");
    json_decref(reply);
    cr_assert_eq(dispatch(router, "DELETE", "/api/stream/s1", &reply), 405);
    json_decref(reply);
    cr_assert_eq(dispatch(router, "OPTIONS", "/anything", &reply), 204);
    cr_assert_null(reply);
    cr_assert_eq(dispatch(router, "HEAD", "/api/stream/s1", &reply), 200, "HEAD runs GET");
    cr_assert_str_eq(route_of(reply), "get");
    json_decref(reply);

    char long_path[3000];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    cr_assert_eq(dispatch(router, "GET", long_path, &reply), 414);
    json_decref(reply);
    http_router_free(router);
}

Test(router, an_empty_router_answers_404)
{
    http_router_t *router = http_router_new();
    json_t *reply = NULL;
    cr_assert_eq(dispatch(router, "GET", "/", &reply), 404);
    json_decref(reply);
    http_router_free(router);
    http_router_free(NULL);
}
