/* This node's row, the takeover of dead nodes and the owner lookups (cluster.h). */
#include "cluster.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/recordings.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/ticker.h"

struct cluster {
    store_t *store;
    cluster_config_t config;
    int64_t started_at_ms;
    bool beating; /* the last heartbeat was written; the ticker's thread only */
    ticker_t *ticker;
};

static int64_t timeout_ms(const cluster_t *c)
{
    return (int64_t)c->config.node_timeout_s * 1000;
}

static int beat(cluster_t *c, int64_t at_ms)
{
    store_node_t node = {
        .http_url = (char *)c->config.http_url,
        .rtmp_url = (char *)c->config.rtmp_url,
        .started_at_ms = c->started_at_ms,
        .heartbeat_at_ms = at_ms,
    };
    snprintf(node.id, sizeof node.id, "%s", c->config.node_id);
    return store_node_heartbeat(c->store, &node);
}

/* Ends what a dead node left: only the node whose mark took it does the work. */
static void take_over(cluster_t *c, const store_node_t *dead, int64_t stale_before_ms)
{
    if (store_node_mark_down(c->store, dead->id, stale_before_ms) != STORE_OK)
        return;
    int64_t closed = 0;
    int rc = store_close_open_sessions(c->store, dead->id, false, &closed);
    log_warn("cluster",
             "node %s: no heartbeat for %lld s; %lld of its session(s) closed with the counters "
             "it last wrote%s",
             dead->id, (long long)((clock_now_ms() - dead->heartbeat_at_ms) / 1000),
             (long long)closed, rc == STORE_OK ? "" : " (the store failed: see above)");
    int finalized = recordings_recover(c->store, c->config.recordings_dir, dead->id, false);
    if (finalized > 0)
        log_info("cluster", "node %s: %d of its recording(s) finalized from the shared directory",
                 dead->id, finalized);
}

void cluster_tick(cluster_t *c, int64_t now_ms)
{
    bool ok = beat(c, now_ms) == STORE_OK;
    if (ok != c->beating)
        log_info("cluster", "node %s: heartbeat %s", c->config.node_id,
                 ok ? "written again" : "not written (the store is unavailable)");
    c->beating = ok;
    if (!ok)
        return;
    int64_t stale_before = now_ms - timeout_ms(c);
    store_node_t *stale = NULL;
    size_t count = 0;
    if (store_node_list_stale(c->store, stale_before, &stale, &count) == STORE_OK) {
        for (size_t i = 0; i < count; i++) {
            if (strcmp(stale[i].id, c->config.node_id) != 0)
                take_over(c, &stale[i], stale_before);
        }
    }
    store_node_list_free(stale, count);
}

static void tick(void *opaque)
{
    cluster_tick(opaque, clock_now_ms());
}

cluster_t *cluster_start(store_t *store, const cluster_config_t *config, char *err, size_t err_size)
{
    cluster_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    c->store = store;
    c->config = *config;
    if (c->config.heartbeat_ms <= 0)
        c->config.heartbeat_ms = CLUSTER_HEARTBEAT_MS;
    c->started_at_ms = clock_now_ms();
    /* Two processes with one id would take each other's sessions for their own. A restart right
     * after a crash looks the same, so this warns rather than refuses. */
    store_node_t earlier;
    if (store_node_get(store, config->node_id, &earlier) == STORE_OK && !earlier.down &&
        c->started_at_ms - earlier.heartbeat_at_ms < timeout_ms(c))
        log_warn("cluster",
                 "node id %s had a heartbeat %lld ms ago: if another streamd runs with this id, "
                 "give each node its own --node-id",
                 config->node_id, (long long)(c->started_at_ms - earlier.heartbeat_at_ms));
    store_node_clear(&earlier);
    if (beat(c, c->started_at_ms) != STORE_OK) {
        snprintf(err, err_size, "cannot register node %s in the store", config->node_id);
        free(c);
        return NULL;
    }
    c->beating = true;
    c->ticker = ticker_start("cluster", c->config.heartbeat_ms, tick, c, err, err_size);
    if (!c->ticker) {
        free(c);
        return NULL;
    }
    return c;
}

void cluster_stop(cluster_t *c)
{
    if (!c)
        return;
    ticker_stop(c->ticker);
    /* A heartbeat at 0: not alive, and nothing to take over (its broadcasts ended cleanly). */
    if (beat(c, 0) != STORE_OK)
        log_warn("cluster",
                 "node %s: its stop was not written; it leaves the node list after "
                 "--node-timeout",
                 c->config.node_id);
    free(c);
}

/* 1 with node's URL when it is another node, alive. */
static int elsewhere(const cluster_t *c, const store_node_t *node, char *url, size_t size)
{
    bool alive = !node->down && node->heartbeat_at_ms >= clock_now_ms() - timeout_ms(c);
    if (!alive || strcmp(node->id, c->config.node_id) == 0 ||
        snprintf(url, size, "%s", node->http_url) >= (int)size)
        return 0;
    return 1;
}

/* The owner of id through lookup (a store_node_of_* call), when it is another live node. */
static int owner(cluster_t *c, int (*lookup)(store_t *, const char *, store_node_t *),
                 const char *id, char *url, size_t size)
{
    store_node_t node;
    int found = lookup(c->store, id, &node) == STORE_OK && elsewhere(c, &node, url, size);
    store_node_clear(&node);
    return found;
}

int cluster_playback_owner(cluster_t *c, const char *playback_id, char *url, size_t size)
{
    return owner(c, store_node_of_playback, playback_id, url, size);
}

int cluster_session_owner(cluster_t *c, const char *session_id, char *url, size_t size)
{
    return owner(c, store_node_of_session, session_id, url, size);
}
