/* Request handlers, one group per resource file. Each runs on an HTTP worker thread with an
 * authenticated req (except the public ones) and leaves its reply in req. */
#ifndef STREAMD_API_HANDLERS_H
#define STREAMD_API_HANDLERS_H

#include "api/api.h"

/* streams.c */
void streams_create(api_request_t *req);
void streams_list(api_request_t *req);
void streams_get(api_request_t *req);
void streams_get_by_playback_id(api_request_t *req);
void streams_get_by_key(api_request_t *req);
void streams_list_by_user(api_request_t *req);
void streams_patch(api_request_t *req);
void streams_delete(api_request_t *req);
void streams_delete_many(api_request_t *req);
void streams_terminate(api_request_t *req);
void streams_set_suspended(api_request_t *req);
void streams_set_record(api_request_t *req);
void streams_start_pull(api_request_t *req);

/* sessions.c */
void sessions_list(api_request_t *req);
void sessions_get(api_request_t *req);
void sessions_of_stream(api_request_t *req);
void sessions_of_stream_legacy(api_request_t *req);

/* tokens.c */
void tokens_create(api_request_t *req);
void tokens_list(api_request_t *req);
void tokens_delete(api_request_t *req);

/* /api/access-control/signing-key (signing_keys.c). */
void signing_keys_create(api_request_t *req);
void signing_keys_list(api_request_t *req);
void signing_keys_get(api_request_t *req);
void signing_keys_update(api_request_t *req);
void signing_keys_delete(api_request_t *req);

/* /api/webhook (webhooks.c). */
void webhooks_create(api_request_t *req);
void webhooks_list(api_request_t *req);
void webhooks_get(api_request_t *req);
void webhooks_put(api_request_t *req);
void webhooks_patch(api_request_t *req);
void webhooks_delete(api_request_t *req);
void webhooks_logs(api_request_t *req);
void webhooks_log_get(api_request_t *req);
void webhooks_resend(api_request_t *req);

/* health.c */
void health_get(api_request_t *req);

/* playback.c (public) */
void playback_info(api_request_t *req);

/* misc.c (public) */
void misc_healthz(api_request_t *req);
void misc_ingest(api_request_t *req);

#endif
