/* Media files over HTTP: live HLS (/hls/{playbackId}/...) and recordings (/recordings/{sessionId}/
 * ...) from the data directory, with the content types, caching and range support players need.
 * Handlers run on HTTP worker threads. */
#ifndef STREAMD_WEB_FILES_H
#define STREAMD_WEB_FILES_H

#include "api/api.h"

/* GET /hls/{playbackId}/{path}: params[0] = playback id, params[1] = path inside it. */
void web_hls(api_request_t *req);

/* GET /recordings/{sessionId}/{path}: a recording's VOD playlists, segments and output.mp4. */
void web_recordings(api_request_t *req);

/* True when every segment of a relative path is [A-Za-z0-9_.-]+ not starting with '.', with at
 * most max_segments segments: no way out of the directory it is joined to. */
bool web_path_is_safe(const char *path, int max_segments);

#endif
