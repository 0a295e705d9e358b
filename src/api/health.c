/* The health document of a stream: GET /data/stream/{id}/health. The live session writes it to
 * the store with its counters, so any node serves it. */
#include "api/handlers.h"

/* Before any broadcast there is nothing to judge: every status is null. */
static json_t *empty_document(void)
{
    return json_pack("{s:{s:n,s:n,s:n},s:[]}", "healthy", "status", "lastProbeTime",
                     "lastTransitionTime", "conditions");
}

void health_get(api_request_t *req)
{
    store_stream_t stream = {0};
    int rc = store_stream_get(req->deps->store, req->http->params[0], &stream);
    bool visible =
        rc == STORE_OK && !stream.deleted && api_owns(req, stream.user_id, stream.project_id);
    store_stream_clear(&stream);
    if (!visible) {
        api_reply_store_error(req, rc == STORE_OK ? STORE_NOT_FOUND : rc);
        return;
    }
    store_session_t session = {0};
    json_t *doc = NULL;
    if (store_session_get_latest(req->deps->store, req->http->params[0], &session) == STORE_OK &&
        session.health_json)
        doc = json_loads(session.health_json, 0, NULL);
    store_session_clear(&session);
    if (!json_is_object(doc)) {
        json_decref(doc);
        doc = empty_document();
    }
    json_object_set_new(doc, "id", json_string(req->http->params[0]));
    http_reply(req->http, 200, doc);
}
