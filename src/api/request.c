/* Reply helpers that know the caller or the store, shared by every handler. */
#include "api/api.h"
#include "api/listing.h"

#include <stdio.h>
#include <string.h>

bool api_is_admin(const api_request_t *req)
{
    return req->authenticated && req->user.admin;
}

void api_reply_page(api_request_t *req, json_t *items, int64_t limit, int64_t offset, int64_t total,
                    bool with_link)
{
    int64_t count = (int64_t)json_array_size(items);
    if (with_link && count >= limit) {
        char cursor[32], url[4096], link[4200];
        snprintf(cursor, sizeof cursor, "skip%lld", (long long)(offset + count));
        http_request_url_with(req->http, req->deps->public_url, "cursor", cursor, url, sizeof url);
        snprintf(link, sizeof link, "<%s>; rel=\"next\"", url);
        http_add_header(req->http, "Link", link);
    }
    if (total >= 0) {
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)total);
        http_add_header(req->http, "X-Total-Count", text);
    }
    http_reply(req->http, 200, items);
}

bool api_owns(const api_request_t *req, const char *user_id, const char *project_id)
{
    if (api_is_admin(req))
        return true;
    return req->authenticated && strcmp(user_id, req->user.id) == 0 &&
           strcmp(project_id, req->token.project_id) == 0;
}

void api_reply_store_error(api_request_t *req, int rc)
{
    if (rc == STORE_NOT_FOUND)
        http_reply_error(req->http, 404, "not found");
    else if (rc == STORE_UNAVAILABLE)
        http_reply_error(req->http, 503, "database unavailable, retry later");
    else if (rc == STORE_FULL)
        http_reply_error(req->http, 503, "the database's disk is full, retry later");
    else
        http_reply_error(req->http, 500, "Internal server error: store");
}

int api_list_begin(api_request_t *req, const query_field_t *fields, size_t field_count,
                   store_query_t *q, api_list_t *list)
{
    char err[256];
    memset(list, 0, sizeof *list);
    if (query_parse_filters(http_query(req->http, "filters"), fields, field_count, &list->filters,
                            err, sizeof err) != 0 ||
        query_parse_order(http_query(req->http, "order"), fields, field_count, &list->order, err,
                          sizeof err) != 0) {
        http_reply_error(req->http, 400, "%s", err);
        api_list_end(list);
        return -1;
    }
    q->filters = list->filters.items;
    q->filter_count = list->filters.count;
    q->order = list->order.items;
    q->order_count = list->order.count;
    q->limit = query_parse_limit(http_query(req->http, "limit"));
    q->offset = query_parse_cursor(http_query(req->http, "cursor"));
    list->want_total = query_flag_set(http_query(req->http, "count"));
    return 0;
}

void api_list_end(api_list_t *list)
{
    query_filters_clear(&list->filters);
    query_order_clear(&list->order);
}
