/* Public endpoints: readiness and the ingest description. */
#include <stdio.h>

#include "api/handlers.h"

void misc_healthz(api_request_t *req)
{
    http_reply(req->http, 200, json_pack("{s:s}", "status", "ok"));
}

void misc_ingest(api_request_t *req)
{
    const api_deps_t *deps = req->deps;
    char playback[600];
    snprintf(playback, sizeof playback, "%s/hls", deps->public_url);
    http_reply(req->http, 200,
               json_pack("[{s:s,s:s,s:s}]", "base", deps->public_url, "ingest",
                         deps->rtmp_public_url, "playback", playback));
}
