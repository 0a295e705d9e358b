/* The live registry: which stream has a broadcast, and whether it is live or waiting for a
 * reconnect. The registry lock guards the list and each broadcast's state (live / ended) so that
 * publish, stop and expiry never race; pipeline_continue and pipeline_end run under it and take
 * the pipeline's stats lock: lock order registry, then stats. */
#include "media/live.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"

typedef enum { BROADCAST_LIVE, BROADCAST_ENDED } broadcast_state_t;

struct live_broadcast {
    live_t *live;
    struct live_broadcast *next;
    broadcast_state_t state; /* guarded by live->lock */
    int64_t ended_at_ms;     /* ms since epoch when the last publish ended; guarded by live->lock */
    char stream_id[STORE_ID_SIZE];
    char playback_id[STORE_PLAYBACK_ID_SIZE];
    pipeline_t *pipeline; /* owned; freed when the session is final */
};

struct live {
    store_t *store;
    const live_config_t *config;
    pthread_mutex_t lock;
    live_broadcast_t *broadcasts; /* guarded by lock */
    live_broadcast_t *superseded; /* guarded by lock: final, replaced by a new publish before the
                                     housekeeper saw them; live_expire finalizes them */
};

static int64_t window_ms(const live_t *live)
{
    return (int64_t)live->config->reconnect_window_s * 1000;
}

/* The stream's latest session, when it ended on another node less than the reconnect window ago
 * and is not final: a reconnect here continues it. NOT_FOUND otherwise. */
static int continuable_elsewhere(live_t *live, const store_stream_t *stream, int64_t now,
                                 store_session_t *out)
{
    int rc = store_session_get_latest(live->store, stream->id, out);
    if (rc != STORE_OK)
        return rc;
    const char *self = live->config->pipeline.node_id;
    bool waiting = out->recording_status == STORE_RECORDING_WAITING ||
                   out->recording_status == STORE_RECORDING_NONE_SET;
    if (out->is_active || out->ended_at_ms <= 0 || !out->node_id[0] ||
        strcmp(out->node_id, self) == 0 || now - out->ended_at_ms > window_ms(live) || !waiting)
        return STORE_NOT_FOUND;
    return store_session_adopt(live->store, out->id, self, now - window_ms(live));
}

static live_broadcast_t *broadcast_start(live_t *live, const store_stream_t *stream, int64_t now)
{
    live_broadcast_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->live = live;
    memcpy(b->stream_id, stream->id, STORE_ID_SIZE);
    memcpy(b->playback_id, stream->playback_id, STORE_PLAYBACK_ID_SIZE);
    store_session_t earlier;
    if (continuable_elsewhere(live, stream, now, &earlier) == STORE_OK)
        b->pipeline = pipeline_resume(live->store, &live->config->pipeline, stream, &earlier);
    else
        b->pipeline = pipeline_start(live->store, &live->config->pipeline, stream);
    store_session_clear(&earlier);
    if (!b->pipeline) {
        free(b);
        return NULL;
    }
    return b;
}

/* The session is final: nothing will continue it. Its recording is finished (playlists closed,
 * MP4 written: seconds of work), so this runs outside the registry lock, after unlinking. */
static void broadcast_finalize(live_broadcast_t *b)
{
    pipeline_finalize(b->pipeline);
    free(b);
}

static live_broadcast_t **find_slot(live_t *live, const char *stream_id)
{
    live_broadcast_t **slot = &live->broadcasts;
    while (*slot && strcmp((*slot)->stream_id, stream_id) != 0)
        slot = &(*slot)->next;
    return slot;
}

static int refuse(char *reason, size_t reason_size, const char *text)
{
    snprintf(reason, reason_size, "%s", text);
    return -1;
}

/* What a publisher is told when the store fails it. */
static const char *store_refusal(int rc)
{
    return rc == STORE_FULL ? "the database's disk is full" : "store unavailable";
}

/* Takes the stream's publish in the store, so that no other node takes it too. */
static int claim(live_t *live, const store_stream_t *stream, char *reason, size_t reason_size)
{
    int64_t alive_since = clock_now_ms() - (int64_t)live->config->node_timeout_s * 1000;
    int rc =
        store_stream_claim(live->store, stream->id, live->config->pipeline.node_id, alive_since);
    if (rc == STORE_OK)
        return 0;
    if (rc == STORE_CONFLICT) {
        log_info("live", "stream %s: live on another node", stream->id);
        return refuse(reason, reason_size, "stream is already live");
    }
    return refuse(reason, reason_size, store_refusal(rc));
}

int live_publish(live_t *live, const char *stream_key, const char *peer, live_broadcast_t **out,
                 char *reason, size_t reason_size)
{
    store_stream_t stream = {0};
    int rc = store_stream_get_by_key(live->store, stream_key, &stream);
    if (rc != STORE_OK || stream.deleted) {
        store_stream_clear(&stream);
        if (rc != STORE_OK && rc != STORE_NOT_FOUND)
            return refuse(reason, reason_size, store_refusal(rc));
        refuse(reason, reason_size, "unknown stream key");
        return LIVE_UNKNOWN_KEY;
    }
    if (stream.suspended) {
        store_stream_clear(&stream);
        return refuse(reason, reason_size, "stream is suspended");
    }
    /* The claim is made under the registry lock, so an unpublish's release cannot slip between
     * it and this publish taking the broadcast. */
    pthread_mutex_lock(&live->lock);
    live_broadcast_t **slot = find_slot(live, stream.id);
    live_broadcast_t *b = *slot;
    int64_t now = clock_now_ms();
    int result = 0;
    if (b && b->state == BROADCAST_LIVE) {
        result = refuse(reason, reason_size, "stream is already live");
    } else if (claim(live, &stream, reason, reason_size) != 0) {
        result = -1;
    } else if (b && now - b->ended_at_ms <= window_ms(live) && pipeline_owner(b->pipeline) == 1) {
        b->state = BROADCAST_LIVE;
        pipeline_continue(b->pipeline);
    } else {
        if (b) {
            /* Its window passed before the housekeeper saw it, or another node continued it.
             * Finalizing writes the recording (seconds), and this runs on an ingest loop: the
             * housekeeper does it. */
            *slot = b->next;
            b->next = live->superseded;
            live->superseded = b;
        }
        b = broadcast_start(live, &stream, now);
        if (b) {
            b->next = live->broadcasts;
            live->broadcasts = b;
        } else {
            store_stream_release(live->store, stream.id, live->config->pipeline.node_id);
            result = refuse(reason, reason_size, "cannot start the broadcast (see server log)");
        }
    }
    pthread_mutex_unlock(&live->lock);
    if (result == 0)
        log_info("live", "stream %s: publish from %s accepted", stream.id, peer ? peer : "?");
    store_stream_clear(&stream);
    *out = result == 0 ? b : NULL;
    return result;
}

pipeline_t *live_pipeline(live_broadcast_t *b)
{
    return b->pipeline;
}

void live_unpublish(live_broadcast_t *b, const char *reason)
{
    pipeline_drain(b->pipeline);
    live_t *live = b->live;
    pthread_mutex_lock(&live->lock);
    b->state = BROADCAST_ENDED;
    b->ended_at_ms = clock_now_ms();
    pipeline_end(b->pipeline, b->ended_at_ms);
    /* Inactive in the store first: a node that takes the publish next finds it ended. */
    if (store_stream_release(live->store, b->stream_id, live->config->pipeline.node_id) != STORE_OK)
        log_warn("live",
                 "stream %s: publish not released in the store (other nodes refuse the key "
                 "until this node publishes it again, stops, or is taken over)",
                 b->stream_id);
    /* Logged under the registry lock: once it is released the housekeeper may free b. */
    log_info("live", "stream %s: broadcast ended (%s); session %s waits %d s for a reconnect",
             b->stream_id, reason ? reason : "unpublish", pipeline_session_id(b->pipeline),
             live->config->reconnect_window_s);
    pthread_mutex_unlock(&live->lock);
}

bool live_has_playback(live_t *live, const char *playback_id)
{
    pthread_mutex_lock(&live->lock);
    live_broadcast_t *b = live->broadcasts;
    while (b && strcmp(b->playback_id, playback_id) != 0)
        b = b->next;
    pthread_mutex_unlock(&live->lock);
    return b != NULL;
}

void live_stop_stream(live_t *live, const char *stream_id)
{
    pthread_mutex_lock(&live->lock);
    live_broadcast_t *b = *find_slot(live, stream_id);
    if (b && b->state == BROADCAST_LIVE) {
        pipeline_request_stop(b->pipeline);
        log_info("live", "stream %s: stop requested", stream_id);
    }
    pthread_mutex_unlock(&live->lock);
}

void live_expire(live_t *live, int64_t now_ms)
{
    pthread_mutex_lock(&live->lock);
    live_broadcast_t *expired = live->superseded;
    live->superseded = NULL;
    live_broadcast_t **slot = &live->broadcasts;
    while (*slot) {
        live_broadcast_t *b = *slot;
        if (b->state == BROADCAST_ENDED && now_ms - b->ended_at_ms > window_ms(live)) {
            *slot = b->next;
            b->next = expired;
            expired = b;
        } else {
            slot = &b->next;
        }
    }
    pthread_mutex_unlock(&live->lock);
    while (expired) {
        live_broadcast_t *b = expired;
        expired = b->next;
        broadcast_finalize(b);
    }
}

live_t *live_new(store_t *store, const live_config_t *config, char *err, size_t err_size)
{
    live_t *live = calloc(1, sizeof *live);
    if (!live) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    live->store = store;
    live->config = config;
    pthread_mutex_init(&live->lock, NULL);
    return live;
}

void live_free(live_t *live)
{
    if (!live)
        return;
    while (live->superseded) {
        live_broadcast_t *b = live->superseded;
        live->superseded = b->next;
        broadcast_finalize(b);
    }
    while (live->broadcasts) {
        live_broadcast_t *b = live->broadcasts;
        live->broadcasts = b->next;
        if (b->state == BROADCAST_LIVE)
            log_error("live", "session %s still live at shutdown",
                      pipeline_session_id(b->pipeline));
        broadcast_finalize(b);
    }
    pthread_mutex_destroy(&live->lock);
    free(live);
}
