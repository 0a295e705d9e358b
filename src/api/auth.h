/* API keys and authentication: keys are random secrets shown once and stored as SHA-256 hashes;
 * requests authenticate with `Authorization: Bearer KEY` (or Basic userId:KEY). */
#ifndef STREAMD_API_AUTH_H
#define STREAMD_API_AUTH_H

#include "api/api.h"

#define AUTH_KEY_SIZE 37 /* the secret: a UUIDv4 string + NUL */

/* Authenticates req from its Authorization header, filling req->user and req->token. On
 * failure replies with Studio's 401/403 body and returns -1. */
int auth_authenticate(api_request_t *req);

/* Creates an API key named name for the user: writes the secret into key_out and the stored
 * token into *token_out (caller clears it; may be NULL). Returns a store_status_t. */
int auth_create_key(store_t *store, const store_user_t *user, const char *name,
                    char key_out[AUTH_KEY_SIZE], store_api_token_t *token_out);

/* Stores a caller-chosen secret key (the --api-key of the first start) for the user. */
int auth_store_key(store_t *store, const store_user_t *user, const char *name, const char *key,
                   store_api_token_t *token_out);

#endif
