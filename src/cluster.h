/* This node among the streamd nodes that share one database: its row (public URLs and a
 * heartbeat, every second, on a ticker of its own so that a long recording finalization never
 * delays it), the takeover of a node whose heartbeat stopped (its open sessions closed with the
 * counters it last wrote, its streams inactive, its recordings finalized where the recordings
 * directory is shared), and where a playback or a recording another node owns is served.
 *
 * Owns: its ticker. store and the strings of config must outlive it. cluster_start and
 * cluster_stop are called by the server's thread; the lookups by any thread. */
#ifndef STREAMD_CLUSTER_H
#define STREAMD_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define CLUSTER_HEARTBEAT_MS 1000

typedef struct cluster cluster_t;

typedef struct cluster_config {
    const char *node_id;        /* this node */
    const char *http_url;       /* its public HTTP base, no trailing slash */
    const char *rtmp_url;       /* where encoders publish to it */
    int node_timeout_s;         /* a heartbeat older than this is a dead node */
    const char *recordings_dir; /* where a dead node's shared recordings are looked for */
    int64_t heartbeat_ms;       /* between heartbeats; 0 = CLUSTER_HEARTBEAT_MS */
} cluster_config_t;

/* Writes the first heartbeat and starts the ticker. NULL with a message in err. */
cluster_t *cluster_start(store_t *store, const cluster_config_t *config, char *err,
                         size_t err_size);

/* Stops the heartbeat and says so in the node's row (it leaves the list of live nodes at once);
 * NULL is a no-op. */
void cluster_stop(cluster_t *cluster);

/* One pass of the ticker at now_ms: the heartbeat, then the takeover of every node whose
 * heartbeat is older than the timeout. Tests call it directly. */
void cluster_tick(cluster_t *cluster, int64_t now_ms);

/* Where a request for the live playback playback_id, or the recording of session_id, belongs:
 * 1 with the owner's HTTP base in url when another live node owns it, 0 when it is this node's
 * to answer (its own, an owner that is not alive, or a store that cannot say). */
int cluster_playback_owner(cluster_t *cluster, const char *playback_id, char *url, size_t size);
int cluster_session_owner(cluster_t *cluster, const char *session_id, char *url, size_t size);

#endif
