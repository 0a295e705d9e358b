/* Playback info: GET /api/playback/{id}, the sources a player can use for a stream (by playback
 * id) or for a recorded session (by session id). */
#include <stdio.h>

#include "api/handlers.h"

static json_t *source(const char *hrn, const char *type, const char *url)
{
    return json_pack("{s:s,s:s,s:s}", "hrn", hrn, "type", type, "url", url);
}

static void reply_live(api_request_t *req, const store_stream_t *stream)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/hls/%s/index.m3u8", req->deps->public_url, stream->playback_id);
    json_t *sources = json_array();
    json_array_append_new(sources, source("HLS (TS)", "html5/application/vnd.apple.mpegurl", url));
    json_t *meta = json_pack("{s:i,s:o}", "live", stream->is_active ? 1 : 0, "source", sources);
    json_t *policy = stream->playback_policy_json
                         ? json_loads(stream->playback_policy_json, JSON_DECODE_ANY, NULL)
                         : NULL;
    if (policy)
        json_object_set_new(meta, "playbackPolicy", policy);
    http_reply(req->http, 200, json_pack("{s:s,s:o}", "type", "live", "meta", meta));
}

/* A ready recording: its HLS VOD and its MP4. Returns -1 when id is no such session. */
static int reply_recording(api_request_t *req, const char *session_id)
{
    store_session_t session = {0};
    int rc = store_session_get(req->deps->store, session_id, &session);
    bool ready = rc == STORE_OK && !session.deleted && session.record &&
                 session.recording_status == STORE_RECORDING_READY;
    if (ready) {
        const char *base = req->deps->public_url;
        char hls[1024], mp4[1024];
        snprintf(hls, sizeof hls, "%s/recordings/%s/index.m3u8", base, session.id);
        snprintf(mp4, sizeof mp4, "%s/recordings/%s/output.mp4", base, session.id);
        json_t *sources = json_array();
        json_array_append_new(sources,
                              source("HLS (TS)", "html5/application/vnd.apple.mpegurl", hls));
        json_array_append_new(sources, source("MP4", "html5/video/mp4", mp4));
        http_reply(req->http, 200,
                   json_pack("{s:s,s:{s:i,s:o}}", "type", "recording", "meta", "live", 0, "source",
                             sources));
    }
    store_session_clear(&session);
    return ready ? 0 : -1;
}

void playback_info(api_request_t *req)
{
    store_stream_t stream = {0};
    int rc = store_stream_get_by_playback_id(req->deps->store, req->http->params[0], &stream);
    if (rc == STORE_OK && !stream.deleted)
        reply_live(req, &stream);
    else if (rc != STORE_OK && rc != STORE_NOT_FOUND)
        api_reply_store_error(req, rc);
    else if (reply_recording(req, req->http->params[0]) != 0)
        http_reply_error(req->http, 404, "not found");
    store_stream_clear(&stream);
}
