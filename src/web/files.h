/* Media files over HTTP: live HLS (/hls/{playbackId}/...) from the data directory and recordings
 * (/recordings/{sessionId}/...) from the recordings directory, with the content types, caching and
 * range support players need; a live playback another node broadcasts, or a recording only another
 * node has, is redirected there (302). A gated stream's media is served only with a valid
 * playback token (?jwt= or the Livepeer-Jwt header) or an access key its webhook accepts
 * (?accessKey= or Livepeer-Access-Key; playback_gate.h), and its playlists pass that credential
 * on to every URI they list, so a player's later requests carry it. Handlers run on HTTP worker
 * threads; a request waiting for a webhook's answer is suspended, holding none. */
#ifndef STREAMD_WEB_FILES_H
#define STREAMD_WEB_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "http/router.h"
#include "web/playback_gate.h"

/* Where media belongs when nodes share the work: owner returns 1 with the HTTP base of the node
 * that serves id (a playback id, or a session id) in url, or 0 to answer here. Any thread. */
typedef struct web_locator {
    void *opaque;
    int (*owner)(void *opaque, web_area_t area, const char *id, char *url, size_t size);
} web_locator_t;

/* What the file routes need; owned by the server, read-only here. */
typedef struct web_deps {
    const char *data_dir;       /* live/ is under it */
    const char *recordings_dir; /* a recording is recordings_dir/{sessionId} */
    web_locator_t locator;      /* owner NULL: every request is this node's */
    playback_gate_t *gate;      /* playback policies; NULL: everything is public */
} web_deps_t;

/* Adds GET /hls/{playbackId}/{path} and GET /recordings/{sessionId}/{path} to router; deps must
 * outlive it. Returns 0, or -1 when out of memory. */
int web_register_routes(http_router_t *router, const web_deps_t *deps);

#endif
