/* Playback info: GET /api/playback/{playbackId}, the sources a player can use for a stream. */
#include <stdio.h>

#include "api/handlers.h"

static json_t *source(const char *hrn, const char *type, const char *url)
{
    return json_pack("{s:s,s:s,s:s}", "hrn", hrn, "type", type, "url", url);
}

void playback_info(api_request_t *req)
{
    store_stream_t stream = {0};
    int rc = store_stream_get_by_playback_id(req->deps->store, req->params[0], &stream);
    if (rc != STORE_OK || stream.deleted) {
        api_reply_store_error(req, rc == STORE_OK ? STORE_NOT_FOUND : rc);
        store_stream_clear(&stream);
        return;
    }
    char url[1024];
    snprintf(url, sizeof url, "%s/hls/%s/index.m3u8", req->deps->config->public_url,
             stream.playback_id);
    json_t *sources = json_array();
    json_array_append_new(sources, source("HLS (TS)", "html5/application/vnd.apple.mpegurl", url));
    json_t *meta = json_pack("{s:i,s:o}", "live", stream.is_active ? 1 : 0, "source", sources);
    json_t *policy = stream.playback_policy_json
                         ? json_loads(stream.playback_policy_json, JSON_DECODE_ANY, NULL)
                         : NULL;
    if (policy)
        json_object_set_new(meta, "playbackPolicy", policy);
    api_reply(req, 200, json_pack("{s:s,s:o}", "type", "live", "meta", meta));
    store_stream_clear(&stream);
}
