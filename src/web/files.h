/* Media files over HTTP: live HLS (/hls/{playbackId}/...) and recordings (/recordings/{sessionId}/
 * ...) from the data directory, with the content types, caching and range support players need.
 * Handlers run on HTTP worker threads. */
#ifndef STREAMD_WEB_FILES_H
#define STREAMD_WEB_FILES_H

#include <stdbool.h>

#include "http/router.h"

/* What the file routes need; owned by the server, read-only here. */
typedef struct web_deps {
    const char *data_dir; /* live/ and rec/ are under it */
} web_deps_t;

/* Adds GET /hls/{playbackId}/{path} and GET /recordings/{sessionId}/{path} to router; deps must
 * outlive it. Returns 0, or -1 when out of memory. */
int web_register_routes(http_router_t *router, const web_deps_t *deps);

#endif
