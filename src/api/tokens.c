/* API keys of the caller: /api/api-token. The secret is returned once, at creation. */
#include <string.h>

#include "api/auth.h"
#include "api/handlers.h"

#define TOKEN_NAME_MAX 500

static json_t *token_json(const store_api_token_t *t)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I}", "id", t->id, "name", t->name ? t->name : "",
                          "userId", t->user_id, "projectId", t->project_id, "createdAt",
                          (json_int_t)t->created_at_ms);
    if (o && t->last_used_ms)
        json_object_set_new(o, "lastSeen", json_integer(t->last_used_ms));
    return o;
}

void tokens_create(api_request_t *req)
{
    json_t *body = http_parse_body(req->http);
    if (!body)
        return;
    json_t *name = json_object_get(body, "name");
    const char *text = json_string_value(name);
    if (!json_is_object(body) || !text || text[0] == '\0' || strlen(text) > TOKEN_NAME_MAX) {
        http_reply_error(req->http, 422, "name must be a string of 1 to %d characters",
                         TOKEN_NAME_MAX);
        json_decref(body);
        return;
    }
    char key[AUTH_KEY_SIZE];
    store_api_token_t token = {0};
    int rc = auth_create_key(req->deps->store, &req->user, text, key, &token);
    if (rc != STORE_OK) {
        api_reply_store_error(req, STORE_ERR);
    } else {
        json_t *reply = token_json(&token);
        json_object_set_new(reply, "key", json_string(key));
        http_reply(req->http, 201, reply);
    }
    store_api_token_clear(&token);
    json_decref(body);
}

void tokens_list(api_request_t *req)
{
    store_api_token_t *tokens = NULL;
    size_t count = 0;
    int rc = store_api_token_list(req->deps->store, req->user.id, &tokens, &count);
    if (rc != STORE_OK) {
        api_reply_store_error(req, STORE_ERR);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(items, token_json(&tokens[i]));
    store_api_token_list_free(tokens, count);
    http_reply(req->http, 200, items);
}

void tokens_delete(api_request_t *req)
{
    int rc = store_api_token_delete(req->deps->store, req->user.id, req->http->params[0]);
    if (rc == STORE_OK)
        http_reply(req->http, 204, NULL);
    else
        api_reply_store_error(req, rc);
}
