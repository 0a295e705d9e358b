/* Unit tests for the media file routes: hostile or unknown paths never reach the disk. */
#include <criterion/criterion.h>

#include "web/files.h"

static int get(const http_router_t *router, const char *path)
{
    http_request_t req = {.method = "GET", .path = path, .status = 500};
    http_router_dispatch(router, &req);
    int status = req.status;
    http_request_release(&req);
    return status;
}

Test(files, hostile_or_unknown_paths_are_not_found)
{
    web_deps_t deps = {.data_dir = "/nonexistent-data-dir"};
    http_router_t *router = http_router_new();
    cr_assert_eq(web_register_routes(router, &deps), 0);
    const char *bad[] = {
        "/hls/../etc/passwd",      "/hls/p1/../../x.ts",        "/hls/.hidden/index.m3u8",
        "/hls/p1/source/.x.ts",    "/hls/p1/a/b/c.ts",          "/hls/p1/index.txt",
        "/recordings/s1/../x.mp4", "/recordings/s1/a%2fb",      "/hls/p1/a\\b.ts",
        "/hls/p1/index.m3u8",      "/recordings/s1/output.mp4",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(get(router, bad[i]), 404, "%s", bad[i]);
    http_router_free(router);
}
