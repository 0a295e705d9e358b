/* Public endpoints: readiness and the ingest description. */
#include <stdio.h>

#include "api/handlers.h"

void misc_healthz(api_request_t *req)
{
    api_reply(req, 200, json_pack("{s:s}", "status", "ok"));
}

void misc_ingest(api_request_t *req)
{
    const config_t *config = req->deps->config;
    char playback[600];
    snprintf(playback, sizeof playback, "%s/hls", config->public_url);
    api_reply(req, 200,
              json_pack("[{s:s,s:s,s:s}]", "base", config->public_url, "ingest",
                        config->rtmp_public_url, "playback", playback));
}
