/* Reply helpers shared by every handler, and the request's query and headers. */
#include "http/request.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void http_reply(http_request_t *req, int status, json_t *body)
{
    json_decref(req->reply_body);
    req->status = status;
    req->reply_body = body;
}

void http_reply_error(http_request_t *req, int status, const char *fmt, ...)
{
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    http_reply(req, status, json_pack("{s:[s]}", "errors", message));
}

void http_reply_text(http_request_t *req, int status, char *text, size_t len,
                     const char *content_type, const char *cache_control)
{
    req->status = status;
    free(req->reply_text);
    req->reply_text = text;
    req->reply_text_len = len;
    req->content_type = content_type;
    if (cache_control)
        http_add_header(req, "Cache-Control", cache_control);
}

void http_add_header(http_request_t *req, const char *name, const char *value)
{
    if (req->header_count == HTTP_MAX_EXTRA_HEADERS)
        return;
    http_header_t *header = &req->headers[req->header_count];
    header->name = strdup(name);
    header->value = strdup(value);
    if (!header->name || !header->value) {
        free(header->name);
        free(header->value);
        return;
    }
    req->header_count++;
}

const char *http_query(const http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

json_t *http_parse_body(http_request_t *req)
{
    json_error_t error;
    json_t *body = json_loadb(req->body, req->body_size, JSON_REJECT_DUPLICATES, &error);
    if (!body)
        http_reply_error(req, 400, "invalid JSON body: %s (line %d, column %d)", error.text,
                         error.line, error.column);
    return body;
}

typedef struct query_writer {
    char *out;
    size_t size;
    size_t used;
    bool first;
    const char *skip_key; /* the parameter written last, with its new value */
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
    query_writer_t *writer = cls;
    if (strcmp(key, writer->skip_key) != 0)
        write_param(writer, key, value);
    return MHD_YES;
}

void http_request_url_with(const http_request_t *req, const char *base_url, const char *replace,
                           const char *value, char *out, size_t out_size)
{
    int used = snprintf(out, out_size, "%s%s", base_url, req->path);
    if (used < 0 || (size_t)used >= out_size)
        return;
    query_writer_t writer = {out, out_size, (size_t)used, true, replace};
    MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, copy_param, &writer);
    write_param(&writer, replace, value);
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

void http_reply_file(http_request_t *req, int fd, uint64_t size, const char *content_type,
                     const char *cache_control)
{
    const char *range = http_header(req, MHD_HTTP_HEADER_RANGE);
    uint64_t offset = 0, length = size;
    int ranged = parse_range(range, size, &offset, &length);
    char content_range[96];
    if (ranged < 0) {
        close(fd);
        snprintf(content_range, sizeof content_range, "bytes */%llu", (unsigned long long)size);
        http_add_header(req, "Content-Range", content_range);
        http_reply_error(req, 416, "range not satisfiable");
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
    http_add_header(req, "Accept-Ranges", "bytes");
    http_add_header(req, "Cache-Control", cache_control);
    if (ranged) {
        snprintf(content_range, sizeof content_range, "bytes %llu-%llu/%llu",
                 (unsigned long long)offset, (unsigned long long)(offset + length - 1),
                 (unsigned long long)size);
        http_add_header(req, "Content-Range", content_range);
    }
}

void http_request_release(http_request_t *req)
{
    if (req->has_file)
        close(req->reply_fd);
    req->has_file = false;
    json_decref(req->reply_body);
    req->reply_body = NULL;
    free(req->reply_text);
    req->reply_text = NULL;
    for (size_t i = 0; i < req->header_count; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    req->header_count = 0;
}
