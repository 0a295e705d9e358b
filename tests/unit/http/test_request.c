/* Unit tests for the reply helpers: error bodies, extra headers, JSON bodies. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/request.h"

static const char *first_error(const http_request_t *req)
{
    return json_string_value(json_array_get(json_object_get(req->reply_body, "errors"), 0));
}

Test(request, an_error_reply_is_studios_errors_array)
{
    http_request_t req = {.status = 500};
    http_reply(&req, 200, json_object());
    http_reply_error(&req, 422, "field %s is %d", "name", 7);
    cr_assert_eq(req.status, 422);
    cr_assert_str_eq(first_error(&req), "field name is 7");
    http_request_release(&req);
    cr_assert_null(req.reply_body);
}

Test(request, extra_headers_are_copied_and_capped)
{
    http_request_t req = {0};
    char name[16];
    for (int i = 0; i < HTTP_MAX_EXTRA_HEADERS + 3; i++) {
        snprintf(name, sizeof name, "X-H%d", i);
        http_add_header(&req, name, "v");
    }
    cr_assert_eq(req.header_count, HTTP_MAX_EXTRA_HEADERS);
    cr_assert_str_eq(req.headers[0].name, "X-H0");
    http_request_release(&req);
    cr_assert_eq(req.header_count, 0);
}

Test(request, bodies_that_are_not_one_json_document_get_400)
{
    const char *bad[] = {"", "{", "{\"a\":1,\"a\":2}", "{} {}", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_request_t req = {.body = bad[i], .body_size = strlen(bad[i]), .status = 500};
        cr_assert_null(http_parse_body(&req), "accepted \"%s\"", bad[i]);
        cr_assert_eq(req.status, 400);
        cr_assert(strncmp(first_error(&req), "invalid JSON body: ", 19) == 0);
        http_request_release(&req);
    }
    http_request_t req = {.body = "{\"name\":\"x\"}", .body_size = 12, .status = 500};
    json_t *body = http_parse_body(&req);
    cr_assert_str_eq(json_string_value(json_object_get(body, "name")), "x");
    cr_assert_eq(req.status, 500, "no reply yet");
    json_decref(body);
}
