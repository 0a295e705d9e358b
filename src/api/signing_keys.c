/* Signing keys of the caller: /api/access-control/signing-key. A key pair is made here; the
 * private key is returned once, at creation, and only the public key is stored. */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "util/es256.h"
#include "util/log.h"

#define SIGNING_KEY_NAME_MAX 500
#define SIGNING_KEY_DEFAULT_NAME "Signing Key"

static json_t *key_json(const store_signing_key_t *k)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:b}", "id", k->id, "name",
                          k->name ? k->name : "", "userId", k->user_id, "projectId", k->project_id,
                          "createdAt", (json_int_t)k->created_at_ms, "publicKey",
                          k->public_key ? k->public_key : "", "disabled", k->disabled);
    if (o && k->last_seen_ms)
        json_object_set_new(o, "lastSeen", json_integer(k->last_seen_ms));
    return o;
}

/* The name of a create or update body: absent (NULL, *ok), or a string of 1 to 500 bytes. */
static const char *body_name(json_t *body, bool *ok)
{
    json_t *name = json_object_get(body, "name");
    const char *text = json_string_value(name);
    *ok = !name || (text && text[0] && strlen(text) <= SIGNING_KEY_NAME_MAX);
    return text;
}

void signing_keys_create(api_request_t *req)
{
    json_t *body = req->http->body_size ? http_parse_body(req->http) : json_object();
    if (!body)
        return;
    bool ok = json_is_object(body);
    const char *name = ok ? body_name(body, &ok) : NULL;
    if (!ok) {
        http_reply_error(req->http, 422, "name must be a string of 1 to %d characters",
                         SIGNING_KEY_NAME_MAX);
        json_decref(body);
        return;
    }
    store_signing_key_t key = {0};
    char *private_b64 = NULL;
    memcpy(key.user_id, req->user.id, STORE_ID_SIZE);
    memcpy(key.project_id, req->user.project_id, STORE_ID_SIZE);
    key.name = strdup(name ? name : SIGNING_KEY_DEFAULT_NAME);
    int rc = key.name && es256_generate(&key.public_key, &private_b64) == 0
                 ? store_signing_key_create(req->deps->store, &key)
                 : STORE_ERR;
    if (rc == STORE_OK) {
        json_t *reply = key_json(&key);
        json_object_set_new(reply, "privateKey", json_string(private_b64));
        log_info("api", "signing key %s created for user %s", key.id, key.user_id);
        http_reply(req->http, 200, reply);
    } else {
        api_reply_store_error(req, rc == STORE_NOT_FOUND ? STORE_ERR : rc);
    }
    free(private_b64);
    store_signing_key_clear(&key);
    json_decref(body);
}

void signing_keys_list(api_request_t *req)
{
    store_signing_key_t *keys = NULL;
    size_t count = 0;
    int rc = store_signing_key_list(req->deps->store, req->user.id, &keys, &count);
    if (rc != STORE_OK) {
        api_reply_store_error(req, rc == STORE_NOT_FOUND ? STORE_ERR : rc);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(items, key_json(&keys[i]));
    store_signing_key_list_free(keys, count);
    http_reply(req->http, 200, items);
}

void signing_keys_get(api_request_t *req)
{
    store_signing_key_t key;
    int rc = store_signing_key_get(req->deps->store, req->user.id, req->http->params[0], &key);
    if (rc == STORE_OK)
        http_reply(req->http, 200, key_json(&key));
    else
        api_reply_store_error(req, rc);
    store_signing_key_clear(&key);
}

void signing_keys_update(api_request_t *req)
{
    json_t *body = http_parse_body(req->http);
    if (!body)
        return;
    bool ok = json_is_object(body);
    const char *field;
    json_t *value;
    json_object_foreach(ok ? body : NULL, field, value)
    {
        if (strcmp(field, "name") != 0 && strcmp(field, "disabled") != 0)
            ok = false;
    }
    const char *name = ok ? body_name(body, &ok) : NULL;
    json_t *disabled = json_object_get(body, "disabled");
    if (!ok || (disabled && !json_is_boolean(disabled))) {
        http_reply_error(req->http, 422,
                         "only name (a string of 1 to %d characters) and disabled (a boolean) "
                         "can change",
                         SIGNING_KEY_NAME_MAX);
        json_decref(body);
        return;
    }
    store_signing_key_t key;
    int rc = store_signing_key_get(req->deps->store, req->user.id, req->http->params[0], &key);
    if (rc == STORE_OK && name) {
        free(key.name);
        key.name = strdup(name);
    }
    if (rc == STORE_OK && disabled)
        key.disabled = json_is_true(disabled);
    if (rc == STORE_OK)
        rc = key.name ? store_signing_key_update(req->deps->store, &key) : STORE_ERR;
    if (rc == STORE_OK)
        http_reply(req->http, 204, NULL);
    else
        api_reply_store_error(req, rc);
    store_signing_key_clear(&key);
    json_decref(body);
}

void signing_keys_delete(api_request_t *req)
{
    int rc = store_signing_key_delete(req->deps->store, req->user.id, req->http->params[0]);
    if (rc == STORE_OK)
        http_reply(req->http, 204, NULL);
    else
        api_reply_store_error(req, rc);
}
