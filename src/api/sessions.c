/* The Sessions resource: /api/session, /api/stream/{id}/sessions and the legacy
 * /api/stream/sessions/{id}. A session is one broadcast of a stream. */
#include <string.h>

#include "api/handlers.h"
#include "api/listing.h"
#include "api/model.h"
#include "api/query.h"

/* The parent streams of one page, looked up once each. */
typedef struct parent_cache {
    store_stream_t streams[16];
    json_t *json[16];
    size_t count;
} parent_cache_t;

static json_t *parent_json(api_request_t *req, parent_cache_t *cache, const char *parent_id)
{
    for (size_t i = 0; i < cache->count; i++) {
        if (strcmp(cache->streams[i].id, parent_id) == 0)
            return json_incref(cache->json[i]);
    }
    store_stream_t parent = {0};
    if (store_stream_get(req->deps->store, parent_id, &parent) != STORE_OK)
        return NULL;
    json_t *json = model_stream_json(&parent);
    if (cache->count < sizeof cache->streams / sizeof cache->streams[0]) {
        cache->streams[cache->count] = parent;
        cache->json[cache->count++] = json_incref(json);
    } else {
        store_stream_clear(&parent);
    }
    return json;
}

static void parent_cache_clear(parent_cache_t *cache)
{
    for (size_t i = 0; i < cache->count; i++) {
        store_stream_clear(&cache->streams[i]);
        json_decref(cache->json[i]);
    }
    cache->count = 0;
}

typedef enum { WITHOUT_PARENT, WITH_PARENT } parent_mode_t;

/* Runs the session query with the common list parameters and replies with a page. */
static void list_sessions(api_request_t *req, store_query_t *q, parent_mode_t mode, bool with_link)
{
    api_list_t list;
    if (api_list_begin(req, query_session_fields, query_session_field_count, q, &list) != 0)
        return;
    bool want_total = list.want_total;
    store_session_t *rows = NULL;
    size_t count = 0;
    int64_t total = -1;
    int rc = store_session_list(req->deps->store, q, &rows, &count, want_total ? &total : NULL);
    if (rc == STORE_INVALID) {
        http_reply_error(req->http, 400, "invalid filters or order");
    } else if (rc != STORE_OK) {
        api_reply_store_error(req, rc);
    } else {
        parent_cache_t cache = {0};
        json_t *items = json_array();
        const char *public_url = req->deps->public_url;
        for (size_t i = 0; i < count; i++) {
            json_t *item = model_session_json(&rows[i], public_url);
            json_t *parent =
                mode == WITH_PARENT ? parent_json(req, &cache, rows[i].parent_id) : NULL;
            if (parent)
                json_object_set_new(item, "parentStream", parent);
            json_array_append_new(items, item);
        }
        parent_cache_clear(&cache);
        api_reply_page(req, items, q->limit, q->offset, want_total ? total : -1, with_link);
    }
    store_session_list_free(rows, count);
    api_list_end(&list);
}

static void scope_to_caller(const api_request_t *req, store_query_t *q)
{
    q->user_id = req->user.id;
    q->project_id = req->token.project_id;
    q->record = -1;
}

void sessions_list(api_request_t *req)
{
    if (http_query(req->http, "projectId")) {
        http_reply_error(req->http, 400, "projectId as query param not supported");
        return;
    }
    store_query_t q = {0};
    scope_to_caller(req, &q);
    q.parent_id = http_query(req->http, "parentId");
    if (query_flag_set(http_query(req->http, "all")) && api_is_admin(req)) {
        q.user_id = NULL;
        q.project_id = NULL;
    }
    list_sessions(req, &q, WITH_PARENT, true);
}

void sessions_get(api_request_t *req)
{
    store_session_t s = {0};
    int rc = store_session_get(req->deps->store, req->http->params[0], &s);
    if (rc == STORE_OK && !s.deleted && api_owns(req, s.user_id, s.project_id))
        http_reply(req->http, 200, model_session_json(&s, req->deps->public_url));
    else
        api_reply_store_error(req, rc == STORE_OK ? STORE_NOT_FOUND : rc);
    store_session_clear(&s);
}

/* Replies 404 unless the stream exists, is not deleted and is the caller's. */
static int check_parent(api_request_t *req, const char *stream_id)
{
    store_stream_t parent = {0};
    int rc = store_stream_get(req->deps->store, stream_id, &parent);
    bool visible =
        rc == STORE_OK && !parent.deleted && api_owns(req, parent.user_id, parent.project_id);
    store_stream_clear(&parent);
    if (visible)
        return 0;
    api_reply_store_error(req, rc == STORE_OK ? STORE_NOT_FOUND : rc);
    return -1;
}

/* `record` reads true|1 and false|0; anything else (or absent) means either. */
static int record_filter(const char *text)
{
    if (!text)
        return -1;
    if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
        return 1;
    if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
        return 0;
    return -1;
}

void sessions_of_stream(api_request_t *req)
{
    if (check_parent(req, req->http->params[0]) != 0)
        return;
    store_query_t q = {0};
    scope_to_caller(req, &q);
    q.user_id = NULL; /* the parent check above already scoped the query */
    q.project_id = NULL;
    q.parent_id = req->http->params[0];
    q.only_used = true;
    q.record = record_filter(http_query(req->http, "record"));
    list_sessions(req, &q, WITHOUT_PARENT, false);
}

void sessions_of_stream_legacy(api_request_t *req)
{
    if (check_parent(req, req->http->params[0]) != 0)
        return;
    store_query_t q = {.parent_id = req->http->params[0], .record = -1};
    list_sessions(req, &q, WITHOUT_PARENT, false);
}
