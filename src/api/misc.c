/* Public endpoints: readiness and the ingest description. */
#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "util/clock.h"

void misc_healthz(api_request_t *req)
{
    http_reply(req->http, 200, json_pack("{s:s}", "status", "ok"));
}

/* One ingest point: a node's API base, RTMP ingest and HLS playback. */
static json_t *ingest_point(const char *http_url, const char *rtmp_url)
{
    char playback[600];
    snprintf(playback, sizeof playback, "%s/hls", http_url);
    return json_pack("{s:s,s:s,s:s}", "base", http_url, "ingest", rtmp_url, "playback", playback);
}

/* Every live node's ingest, this node's first (the one a client that takes the first entry
 * reached). A store that cannot list the nodes still leaves this node's entry. */
void misc_ingest(api_request_t *req)
{
    const api_deps_t *deps = req->deps;
    json_t *points = json_array();
    json_array_append_new(points, ingest_point(deps->public_url, deps->rtmp_public_url));
    store_node_t *nodes = NULL;
    size_t count = 0;
    int64_t alive_since = clock_now_ms() - (int64_t)deps->node_timeout_s * 1000;
    if (store_node_list_alive(deps->store, alive_since, &nodes, &count) == STORE_OK) {
        for (size_t i = 0; i < count; i++) {
            if (!deps->node_id || strcmp(nodes[i].id, deps->node_id) != 0)
                json_array_append_new(points, ingest_point(nodes[i].http_url, nodes[i].rtmp_url));
        }
    }
    store_node_list_free(nodes, count);
    http_reply(req->http, 200, points);
}
