/* The Webhooks resource: /api/webhook, its attempt logs and resends (API.md section 6), and the
 * JSON body a delivery of an event posts. */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/model.h"
#include "api/query.h"
#include "api/validate.h"
#include "store/store_webhooks.h"
#include "util/ids.h"
#include "util/url.h"
#include "util/log.h"

#define WEBHOOK_LIST_MAX 1000

/* ---- JSON ------------------------------------------------------------------------------------ */

/* text parsed, when it is JSON of type; else NULL. */
static json_t *parsed_as(const char *text, json_type type)
{
    json_t *value = text ? json_loads(text, 0, NULL) : NULL;
    if (value && json_typeof(value) == type)
        return value;
    json_decref(value);
    return NULL;
}

/* The webhook as the API shows it: never its shared secret (writeOnly), except at creation. */
static json_t *webhook_json(const store_webhook_t *w)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s}", "id", w->id, "name", w->name, "kind",
                          "webhook", "userId", w->user_id, "projectId", w->project_id, "createdAt",
                          (json_int_t)w->created_at_ms, "url", w->url);
    if (!o)
        return NULL;
    json_t *events = parsed_as(w->events_json, JSON_ARRAY);
    json_object_set_new(o, "events", events ? events : json_array());
    if (w->stream_id[0])
        json_object_set_new(o, "streamId", json_string(w->stream_id));
    json_t *status = json_object();
    json_t *failure = parsed_as(w->last_failure_json, JSON_OBJECT);
    if (failure)
        json_object_set_new(status, "lastFailure", failure);
    if (w->last_triggered_at_ms)
        json_object_set_new(status, "lastTriggeredAt", json_integer(w->last_triggered_at_ms));
    json_object_set_new(o, "status", status);
    return o;
}

static json_t *log_json(const store_webhook_log_t *l)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:f,s:b}", "id", l->id, "webhookId", l->webhook_id,
                          "event", l->event, "createdAt", (json_int_t)l->created_at_ms, "duration",
                          l->duration_s, "success", l->success);
    if (!o)
        return NULL;
    json_t *request = parsed_as(l->request_json, JSON_OBJECT);
    json_t *response = parsed_as(l->response_json, JSON_OBJECT);
    json_object_set_new(o, "request", request ? request : json_object());
    json_object_set_new(o, "response", response ? response : json_object());
    json_object_set_new(o, "eventId", json_string(l->event_id));
    return o;
}

/* ---- Requests -------------------------------------------------------------------------------- */

/* Checks what the schema cannot: the url's host, the project, and that streamId is a stream of
 * the caller. Replies 400 and returns -1 when one fails. */
static int check_references(api_request_t *req, json_t *body)
{
    const char *url = json_string_value(json_object_get(body, "url"));
    if (url && !url_is_http(url)) {
        http_reply_error(req->http, 400, "url must be an http or https URL with a host");
        return -1;
    }
    const char *project = json_string_value(json_object_get(body, "projectId"));
    if (project && strcmp(project, req->token.project_id) != 0) {
        http_reply_error(req->http, 400, "projectId must be the project of the API key");
        return -1;
    }
    const char *stream_id = json_string_value(json_object_get(body, "streamId"));
    if (!stream_id || !stream_id[0])
        return 0;
    store_stream_t stream;
    int rc = store_stream_get(req->deps->store, stream_id, &stream);
    bool visible =
        rc == STORE_OK && !stream.deleted && api_owns(req, stream.user_id, stream.project_id);
    store_stream_clear(&stream);
    if (visible)
        return 0;
    if (rc != STORE_OK && rc != STORE_NOT_FOUND)
        api_reply_store_error(req, rc);
    else
        http_reply_error(req->http, 400, "stream not found: %s", stream_id);
    return -1;
}

/* Parses and checks a create or update body (partial: PATCH). NULL after replying. */
static json_t *checked_body(api_request_t *req, bool partial)
{
    json_t *body = http_parse_body(req->http);
    if (!body)
        return NULL;
    json_t *errors = validate_webhook(body, partial);
    if (errors) {
        http_reply(req->http, 422, json_pack("{s:o}", "errors", errors));
        json_decref(body);
        return NULL;
    }
    if (check_references(req, body) != 0) {
        json_decref(body);
        return NULL;
    }
    return body;
}

static void set_text(char **field, const char *value)
{
    char *copy = strdup(value);
    if (copy) {
        free(*field);
        *field = copy;
    }
}

/* Writes the body's fields into w; returns -1 when out of memory. */
static int apply_body(store_webhook_t *w, json_t *body)
{
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *url = json_string_value(json_object_get(body, "url"));
    const char *secret = json_string_value(json_object_get(body, "sharedSecret"));
    json_t *events = json_object_get(body, "events");
    json_t *stream_id = json_object_get(body, "streamId");
    if (name)
        set_text(&w->name, name);
    if (url)
        set_text(&w->url, url);
    if (secret)
        set_text(&w->shared_secret, secret);
    if (events) {
        char *text = model_json_text(events);
        if (text) {
            free(w->events_json);
            w->events_json = text;
        }
    }
    if (stream_id)
        snprintf(w->stream_id, sizeof w->stream_id, "%s", json_string_value(stream_id));
    return w->name && w->url && w->shared_secret && w->events_json ? 0 : -1;
}

void webhooks_create(api_request_t *req)
{
    json_t *body = checked_body(req, false);
    if (!body)
        return;
    store_webhook_t w = {0};
    char secret[IDS_UUID_LEN + 1] = "";
    bool has_secret = json_object_get(body, "sharedSecret") != NULL;
    memcpy(w.user_id, req->user.id, STORE_ID_SIZE);
    memcpy(w.project_id, req->token.project_id, STORE_ID_SIZE);
    w.events_json = strdup("[]");
    int rc = STORE_ERR;
    if (has_secret || ids_uuid_v4(secret) == 0) {
        if (!has_secret)
            w.shared_secret = strdup(secret);
        if (apply_body(&w, body) == 0)
            rc = store_webhook_create(req->deps->store, &w);
    }
    if (rc == STORE_OK) {
        json_t *reply = webhook_json(&w);
        json_object_set_new(reply, "sharedSecret", json_string(w.shared_secret));
        log_info("api", "webhook %s created for user %s: %s", w.id, w.user_id, w.url);
        http_reply(req->http, 200, reply);
    } else {
        api_reply_store_error(req, rc == STORE_NOT_FOUND ? STORE_ERR : rc);
    }
    store_webhook_clear(&w);
    json_decref(body);
}

void webhooks_list(api_request_t *req)
{
    store_webhook_t *list = NULL;
    size_t count = 0;
    int rc = store_webhook_list(req->deps->store, req->user.id, &list, &count);
    if (rc != STORE_OK) {
        api_reply_store_error(req, rc == STORE_NOT_FOUND ? STORE_ERR : rc);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < count && i < WEBHOOK_LIST_MAX; i++) {
        if (api_owns(req, list[i].user_id, list[i].project_id))
            json_array_append_new(items, webhook_json(&list[i]));
    }
    store_webhook_list_free(list, count);
    http_reply(req->http, 200, items);
}

/* The caller's webhook named by the path; replies 404 (or the store's error) and returns -1
 * when there is none. */
static int load_webhook(api_request_t *req, store_webhook_t *out)
{
    int rc = store_webhook_get(req->deps->store, req->user.id, req->http->params[0], out);
    if (rc == STORE_OK && api_owns(req, out->user_id, out->project_id))
        return 0;
    store_webhook_clear(out);
    api_reply_store_error(req, rc == STORE_OK ? STORE_NOT_FOUND : rc);
    return -1;
}

void webhooks_get(api_request_t *req)
{
    store_webhook_t w;
    if (load_webhook(req, &w) != 0)
        return;
    http_reply(req->http, 200, webhook_json(&w));
    store_webhook_clear(&w);
}

/* PUT replaces the settable fields (name and url required; events and streamId as given,
 * absent meaning none); PATCH changes only the fields given. */
static void update(api_request_t *req, bool partial)
{
    json_t *body = checked_body(req, partial);
    if (!body)
        return;
    store_webhook_t w;
    if (load_webhook(req, &w) != 0) {
        json_decref(body);
        return;
    }
    if (!partial) {
        set_text(&w.events_json, "[]");
        w.stream_id[0] = '\0';
    }
    int rc = apply_body(&w, body) == 0 ? store_webhook_update(req->deps->store, &w) : STORE_ERR;
    if (rc == STORE_OK)
        http_reply(req->http, 200, webhook_json(&w));
    else
        api_reply_store_error(req, rc);
    store_webhook_clear(&w);
    json_decref(body);
}

void webhooks_put(api_request_t *req)
{
    update(req, false);
}

void webhooks_patch(api_request_t *req)
{
    update(req, true);
}

/* 200 with the deleted webhook rather than Studio's 204: the SDK's webhook.delete parses a JSON
 * webhook and throws on an empty 204 (as its webhook.create reads only a 200's body as the
 * webhook, so creation answers 200, not 201). */
void webhooks_delete(api_request_t *req)
{
    store_webhook_t w;
    if (load_webhook(req, &w) != 0)
        return;
    int rc = store_webhook_delete(req->deps->store, req->user.id, w.id);
    if (rc == STORE_OK) {
        log_info("api", "webhook %s deleted", w.id);
        http_reply(req->http, 200, webhook_json(&w));
    } else {
        api_reply_store_error(req, rc);
    }
    store_webhook_clear(&w);
}

void webhooks_logs(api_request_t *req)
{
    store_webhook_t w;
    if (load_webhook(req, &w) != 0)
        return;
    int64_t limit = query_parse_limit(http_query(req->http, "limit"));
    int64_t offset = query_parse_cursor(http_query(req->http, "cursor"));
    store_webhook_log_t *logs = NULL;
    size_t count = 0;
    int rc = store_webhook_log_list(req->deps->store, w.id, limit, offset, &logs, &count);
    store_webhook_clear(&w);
    if (rc != STORE_OK) {
        api_reply_store_error(req, rc == STORE_NOT_FOUND ? STORE_ERR : rc);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(items, log_json(&logs[i]));
    store_webhook_log_list_free(logs, count);
    api_reply_page(req, items, limit, offset, -1, true);
}

void webhooks_log_get(api_request_t *req)
{
    store_webhook_t w;
    if (load_webhook(req, &w) != 0)
        return;
    store_webhook_log_t log;
    int rc = store_webhook_log_get(req->deps->store, w.id, req->http->params[1], &log);
    if (rc == STORE_OK)
        http_reply(req->http, 200, log_json(&log));
    else
        api_reply_store_error(req, rc);
    store_webhook_log_clear(&log);
    store_webhook_clear(&w);
}

/* A resend being attempted: the reply waits for its log. */
typedef struct resend {
    store_t *store;
    char webhook_id[STORE_ID_SIZE];
    http_deferred_t *reply;
} resend_t;

static void resend_done(void *context, const char *log_id)
{
    resend_t *r = context;
    store_webhook_log_t log;
    int rc = log_id ? store_webhook_log_get(r->store, r->webhook_id, log_id, &log) : STORE_ERR;
    if (rc == STORE_OK)
        http_deferred_reply(r->reply, 200, log_json(&log));
    else
        http_deferred_reply(r->reply, 504,
                            json_pack("{s:[s]}", "errors",
                                      "the resend did not finish in time; its attempt will be in "
                                      "the webhook's log"));
    store_webhook_log_clear(&log);
    free(r);
}

/* Answers once the attempt is made (at most HOOKS' timeout later), with its log entry, as
 * Studio does; the connection waits without holding an HTTP thread. */
void webhooks_resend(api_request_t *req)
{
    const api_hooks_t *hooks = &req->deps->hooks;
    store_webhook_t w;
    if (load_webhook(req, &w) != 0)
        return;
    store_webhook_log_t log;
    int rc = store_webhook_log_get(req->deps->store, w.id, req->http->params[1], &log);
    store_webhook_log_clear(&log);
    resend_t *r = rc == STORE_OK ? calloc(1, sizeof *r) : NULL;
    if (rc != STORE_OK || !r || !hooks->resend) {
        if (rc == STORE_OK)
            http_reply_error(req->http, 503, "webhook delivery is not running");
        else
            api_reply_store_error(req, rc);
        free(r);
        store_webhook_clear(&w);
        return;
    }
    r->store = req->deps->store;
    memcpy(r->webhook_id, w.id, STORE_ID_SIZE);
    r->reply = http_defer(req->http);
    rc = r->reply ? hooks->resend(hooks->deliveries, w.id, req->http->params[1], resend_done, r)
                  : STORE_ERR;
    if (rc != STORE_OK) {
        if (r->reply)
            http_deferred_reply(r->reply,
                                rc == STORE_NOT_FOUND     ? 404
                                : rc == STORE_UNAVAILABLE ? 503
                                                          : 500,
                                json_pack("{s:[s]}", "errors",
                                          rc == STORE_NOT_FOUND ? "not found"
                                          : rc == STORE_UNAVAILABLE
                                              ? "webhook delivery is stopping, retry later"
                                              : "Internal server error: store"));
        else
            api_reply_store_error(req, rc);
        free(r);
    } else {
        log_info("api", "webhook %s: log %s resent", w.id, req->http->params[1]);
    }
    store_webhook_clear(&w);
}

/* ---- Delivery bodies ---------------------------------------------------------------------------
 */

static json_t *event_payload(const api_deps_t *deps, const store_webhook_delivery_t *d)
{
    json_t *payload = json_object();
    if (!d->session_id[0])
        return payload;
    if (strncmp(d->event, "stream.", 7) == 0) {
        json_object_set_new(payload, "sessionId", json_string(d->session_id));
        return payload;
    }
    store_session_t session;
    if (store_session_get(deps->store, d->session_id, &session) != STORE_OK) {
        json_object_set_new(payload, "sessionId", json_string(d->session_id));
        store_session_clear(&session);
        return payload;
    }
    json_t *s = model_session_json(&session, deps->public_url);
    store_session_clear(&session);
    if (strcmp(d->event, "recording.ready") == 0) {
        json_t *url = json_object_get(s, "recordingUrl"), *mp4 = json_object_get(s, "mp4Url");
        if (url)
            json_object_set(payload, "recordingUrl", url);
        if (mp4)
            json_object_set(payload, "mp4Url", mp4);
    }
    json_object_set_new(payload, "session", s);
    return payload;
}

char *api_webhook_body(const api_deps_t *deps, const store_webhook_delivery_t *d,
                       int64_t timestamp_ms)
{
    json_t *body = json_pack("{s:s,s:s,s:I,s:I,s:s}", "id", d->event_id, "webhookId", d->webhook_id,
                             "createdAt", (json_int_t)d->created_at_ms, "timestamp",
                             (json_int_t)timestamp_ms, "event", d->event);
    if (!body)
        return NULL;
    store_stream_t stream;
    if (d->stream_id[0] && store_stream_get(deps->store, d->stream_id, &stream) == STORE_OK) {
        json_t *s = model_stream_json(&stream);
        json_object_del(s, "streamKey");
        json_object_set_new(body, "stream", s);
    }
    store_stream_clear(&stream);
    json_object_set_new(body, "payload", event_payload(deps, d));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}
