/* Reply helpers shared by every handler. */
#include "api/api.h"
#include "api/listing.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void api_reply(api_request_t *req, int status, json_t *body)
{
    json_decref(req->reply_body);
    req->status = status;
    req->reply_body = body;
}

void api_reply_error(api_request_t *req, int status, const char *fmt, ...)
{
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    api_reply(req, status, json_pack("{s:[s]}", "errors", message));
}

void api_add_header(api_request_t *req, const char *name, const char *value)
{
    if (req->header_count == API_MAX_EXTRA_HEADERS)
        return;
    api_header_t *header = &req->headers[req->header_count];
    header->name = strdup(name);
    header->value = strdup(value);
    if (!header->name || !header->value) {
        free(header->name);
        free(header->value);
        return;
    }
    req->header_count++;
}

const char *api_query(const api_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
}

json_t *api_parse_body(api_request_t *req)
{
    json_error_t error;
    json_t *body = json_loadb(req->body, req->body_size, JSON_REJECT_DUPLICATES, &error);
    if (!body)
        api_reply_error(req, 400, "invalid JSON body: %s (line %d, column %d)", error.text,
                        error.line, error.column);
    return body;
}

bool api_is_admin(const api_request_t *req)
{
    return req->authenticated && req->user.admin;
}

typedef struct query_writer {
    char *out;
    size_t size;
    size_t used;
    bool first;
} query_writer_t;

static void write_escaped(query_writer_t *w, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p && w->used + 4 < w->size; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~", *p)) {
            w->out[w->used++] = (char)*p;
        } else {
            w->out[w->used++] = '%';
            w->out[w->used++] = hex[*p >> 4];
            w->out[w->used++] = hex[*p & 15];
        }
    }
    w->out[w->used] = '\0';
}

static void write_param(query_writer_t *w, const char *key, const char *value)
{
    if (w->used + 2 >= w->size)
        return;
    w->out[w->used++] = w->first ? '?' : '&';
    w->first = false;
    write_escaped(w, key);
    if (value && w->used + 2 < w->size) {
        w->out[w->used++] = '=';
        write_escaped(w, value);
    }
}

static enum MHD_Result copy_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    if (strcmp(key, "cursor") != 0)
        write_param(cls, key, value);
    return MHD_YES;
}

void api_next_page_url(const api_request_t *req, int64_t next_offset, char *out, size_t out_size)
{
    int used = snprintf(out, out_size, "%s%s", req->deps->config->public_url, req->path);
    if (used < 0 || (size_t)used >= out_size)
        return;
    query_writer_t writer = {out, out_size, (size_t)used, true};
    MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, copy_param, &writer);
    char cursor[32];
    snprintf(cursor, sizeof cursor, "skip%lld", (long long)next_offset);
    write_param(&writer, "cursor", cursor);
}

void api_reply_page(api_request_t *req, json_t *items, int64_t limit, int64_t offset, int64_t total,
                    bool with_link)
{
    int64_t count = (int64_t)json_array_size(items);
    if (with_link && count >= limit) {
        char url[4096], link[4200];
        api_next_page_url(req, offset + count, url, sizeof url);
        snprintf(link, sizeof link, "<%s>; rel=\"next\"", url);
        api_add_header(req, "Link", link);
    }
    if (total >= 0) {
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)total);
        api_add_header(req, "X-Total-Count", text);
    }
    api_reply(req, 200, items);
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
        api_reply_error(req, 404, "not found");
    else
        api_reply_error(req, 500, "Internal server error: store");
}

/* Parses "bytes=START-END", "bytes=START-" or "bytes=-SUFFIX" against size. Returns 1 with the
 * range, 0 when there is no usable range header (send everything), -1 when unsatisfiable. */
static int parse_range(const char *header, uint64_t size, uint64_t *offset, uint64_t *length)
{
    if (!header || strncmp(header, "bytes=", 6) != 0 || strchr(header, ','))
        return 0;
    const char *spec = header + 6;
    char *end = NULL;
    if (*spec == '-') {
        unsigned long long suffix = strtoull(spec + 1, &end, 10);
        if (end == spec + 1 || *end != '\0')
            return 0;
        if (suffix == 0 || size == 0)
            return -1;
        *length = suffix < size ? suffix : size;
        *offset = size - *length;
        return 1;
    }
    unsigned long long first = strtoull(spec, &end, 10);
    if (end == spec || *end != '-')
        return 0;
    const char *last_text = end + 1;
    unsigned long long last = size ? size - 1 : 0;
    if (*last_text != '\0') {
        last = strtoull(last_text, &end, 10);
        if (end == last_text || *end != '\0' || last < first)
            return 0;
        if (last >= size)
            last = size - 1;
    }
    if (first >= size)
        return -1;
    *offset = first;
    *length = last - first + 1;
    return 1;
}

void api_reply_file(api_request_t *req, int fd, uint64_t size, const char *content_type,
                    const char *cache_control)
{
    const char *range =
        MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    uint64_t offset = 0, length = size;
    int ranged = parse_range(range, size, &offset, &length);
    char content_range[96];
    if (ranged < 0) {
        close(fd);
        snprintf(content_range, sizeof content_range, "bytes */%llu", (unsigned long long)size);
        api_add_header(req, "Content-Range", content_range);
        api_reply_error(req, 416, "range not satisfiable");
        return;
    }
    json_decref(req->reply_body);
    req->reply_body = NULL;
    req->status = ranged ? 206 : 200;
    req->has_file = true;
    req->reply_fd = fd;
    req->file_offset = offset;
    req->file_length = length;
    req->content_type = content_type;
    api_add_header(req, "Accept-Ranges", "bytes");
    api_add_header(req, "Cache-Control", cache_control);
    if (ranged) {
        snprintf(content_range, sizeof content_range, "bytes %llu-%llu/%llu",
                 (unsigned long long)offset, (unsigned long long)(offset + length - 1),
                 (unsigned long long)size);
        api_add_header(req, "Content-Range", content_range);
    }
}

int api_list_begin(api_request_t *req, const query_field_t *fields, size_t field_count,
                   store_query_t *q, api_list_t *list)
{
    char err[256];
    memset(list, 0, sizeof *list);
    if (query_parse_filters(api_query(req, "filters"), fields, field_count, &list->filters, err,
                            sizeof err) != 0 ||
        query_parse_order(api_query(req, "order"), fields, field_count, &list->order, err,
                          sizeof err) != 0) {
        api_reply_error(req, 400, "%s", err);
        api_list_end(list);
        return -1;
    }
    q->filters = list->filters.items;
    q->filter_count = list->filters.count;
    q->order = list->order.items;
    q->order_count = list->order.count;
    q->limit = query_parse_limit(api_query(req, "limit"));
    q->offset = query_parse_cursor(api_query(req, "cursor"));
    list->want_total = query_flag_set(api_query(req, "count"));
    return 0;
}

void api_list_end(api_list_t *list)
{
    query_filters_clear(&list->filters);
    query_order_clear(&list->order);
}
