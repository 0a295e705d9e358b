/* The live registry and each broadcast's session accounting. A broadcast's counters change only
 * on its connection thread; the registry lock guards the list and each broadcast's state
 * (live / ended) so that publish, stop and expiry never race. */
#include "media/live.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/hls.h"
#include "media/segmenter.h"
#include "stats/health.h"
#include "stats/rate.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#define FLUSH_INTERVAL_MS 1000
#define INGEST_RATE_WINDOW_MS 5000
#define SOURCE_RENDITION "source"

typedef enum { BROADCAST_LIVE, BROADCAST_ENDED } broadcast_state_t;

struct live_broadcast {
    live_t *live;
    struct live_broadcast *next;
    broadcast_state_t state; /* guarded by live->lock */
    atomic_bool stop_requested;
    int64_t ended_at_ms; /* ms since epoch when the last publish ended; guarded by live->lock */

    char stream_id[STORE_ID_SIZE];
    char dir[PATH_MAX];      /* data/live/{playbackId} */
    store_session_t session; /* the row as last written */
    segmenter_t *segmenter;
    rate_window_t ingest_rate;
    store_counters_t unflushed; /* increments not yet added to the stream's totals */
    int64_t last_flush_mono_ms;
    int64_t last_data_ms; /* ms since epoch of the last bytes received */
    health_t health;
    int width, height; /* source picture, from metadata; 0 = unknown */
    double frame_rate;
    bool master_written;
};

struct live {
    store_t *store;
    const config_t *config;
    pthread_mutex_t lock;
    live_broadcast_t *broadcasts; /* guarded by lock */
    pthread_t housekeeper;
    pthread_cond_t wake; /* signalled (under lock) to stop the housekeeper */
    bool stopping;       /* guarded by lock */
};

/* ---- Files ----------------------------------------------------------------------------------- */

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    log_error("live", "cannot create %s: %s", path, strerror(errno));
    return -1;
}

/* Removes the regular files directly inside dir (a previous broadcast's playlist and segments). */
static void remove_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *entry;
    while ((entry = readdir(d))) {
        if (entry->d_name[0] == '.')
            continue;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
            unlink(path);
    }
    closedir(d);
}

/* Writes "a/b" into out; -1 when it does not fit. */
static int join_path(char *out, size_t size, const char *a, const char *b)
{
    int len = snprintf(out, size, "%s/%s", a, b);
    return len < 0 || (size_t)len >= size ? -1 : 0;
}

/* Lays out data/live/{playbackId}/source/ empty for a new session. */
static int prepare_dirs(live_broadcast_t *b, const char *data_dir, const char *playback_id)
{
    char live_dir[PATH_MAX], source_dir[PATH_MAX];
    if (join_path(live_dir, sizeof live_dir, data_dir, "live") != 0 ||
        join_path(b->dir, sizeof b->dir, live_dir, playback_id) != 0 ||
        join_path(source_dir, sizeof source_dir, b->dir, SOURCE_RENDITION) != 0) {
        log_error("live", "data directory path too long: %s", data_dir);
        return -1;
    }
    if (make_dir(live_dir) != 0 || make_dir(b->dir) != 0 || make_dir(source_dir) != 0)
        return -1;
    remove_files(source_dir);
    remove_files(b->dir);
    return 0;
}

static void write_master(live_broadcast_t *b, const segment_info_t *segment)
{
    char codecs[128] = "";
    segmenter_codecs(b->segmenter, codecs, sizeof codecs);
    uint64_t bandwidth =
        segment->duration_s > 0 ? (uint64_t)((double)segment->bytes * 8 / segment->duration_s) : 0;
    hls_variant_t source = {
        .uri = SOURCE_RENDITION "/index.m3u8",
        .bandwidth = bandwidth,
        .width = b->width,
        .height = b->height,
        .frame_rate = b->frame_rate,
        .codecs = codecs,
    };
    char path[PATH_MAX], err[256];
    if (join_path(path, sizeof path, b->dir, "index.m3u8") == 0 &&
        hls_write_master(path, &source, 1, err, sizeof err) == 0)
        b->master_written = true;
    else
        log_error("live", "session %s: master playlist not written", b->session.id);
}

/* ---- Store updates ------------------------------------------------------------------------- */

/* Writes the session row and the stream's live state, adding what was counted since the last
 * write to the stream's totals. */
/* The session's health document: conditions and the metrics players of the ladder need. */
static char *health_document(const live_broadcast_t *b, int64_t now)
{
    json_t *doc = health_to_json(&b->health, now);
    json_t *media_time =
        json_pack("[{s:s,s:{},s:[I,f]}]", "name", "MediaTimeMillis", "dimensions", "last",
                  (json_int_t)now, b->session.counters.source_segments_duration_s * 1000.0);
    json_object_set_new(doc, "metrics", json_pack("{s:o}", "MediaTimeMillis", media_time));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

/* Brings isHealthy, issues and the health document of the session up to date. */
static void update_health_fields(live_broadcast_t *b, int64_t now)
{
    store_session_t *s = &b->session;
    s->is_healthy = health_is_healthy(&b->health);
    free(s->issues_json);
    json_t *issues = health_issues(&b->health);
    s->issues_json = issues ? json_dumps(issues, JSON_COMPACT) : NULL;
    json_decref(issues);
    free(s->health_json);
    s->health_json = health_document(b, now);
}

/* Writes the session row and the stream's live state, adding what was counted since the last
 * write to the stream's totals. */
static void flush(live_broadcast_t *b, bool active)
{
    store_t *store = b->live->store;
    double rate = active ? rate_bytes_per_s(&b->ingest_rate, clock_monotonic_ms()) : 0;
    b->session.counters.ingest_rate_bps = rate;
    b->session.last_seen_ms = b->last_data_ms;
    b->session.is_active = active;
    update_health_fields(b, clock_now_ms());
    if (store_session_update(store, &b->session) != STORE_OK)
        log_error("live", "session %s: counters not saved (will retry)", b->session.id);
    store_stream_live_t stream_live = {
        .is_active = active,
        .last_seen_ms = b->last_data_ms,
        .is_healthy = b->session.is_healthy,
        .issues_json = b->session.issues_json,
        .ingest_rate_bps = rate,
        .added = b->unflushed,
    };
    if (store_stream_update_live(store, b->stream_id, &stream_live) == STORE_OK)
        memset(&b->unflushed, 0, sizeof b->unflushed);
    b->last_flush_mono_ms = clock_monotonic_ms();
}

static void on_segment(void *opaque, const segment_info_t *segment)
{
    live_broadcast_t *b = opaque;
    store_counters_t *totals = &b->session.counters;
    totals->source_segments++;
    totals->source_segments_duration_s += segment->duration_s;
    totals->source_bytes += (int64_t)segment->bytes;
    b->unflushed.source_segments++;
    b->unflushed.source_segments_duration_s += segment->duration_s;
    b->unflushed.source_bytes += (int64_t)segment->bytes;
    if (!b->master_written)
        write_master(b, segment);
    /* Source only: the source rendition is the whole ladder, written as it arrives. */
    int64_t now = clock_now_ms();
    health_probe(&b->health, HEALTH_TRANSCODING, 1, now);
    health_probe(&b->health, HEALTH_TRANSCODE_REALTIME, 1, now);
    health_probe(&b->health, HEALTH_TRANSCODE_NO_ERRORS, 1, now);
    log_debug("live", "session %s: segment %lld (%.3f s, %llu bytes)", b->session.id,
              (long long)segment->sequence, segment->duration_s,
              (unsigned long long)segment->bytes);
    flush(b, true); /* every segment boundary reaches the store: a crash loses at most one */
}

/* ---- Broadcast lifecycle ------------------------------------------------------------------- */

static char *dup_or_null(const char *text)
{
    return text ? strdup(text) : NULL;
}

static void fill_session(store_session_t *s, const store_stream_t *stream, int64_t now)
{
    memset(s, 0, sizeof *s);
    ids_uuid_v4(s->id);
    memcpy(s->parent_id, stream->id, STORE_ID_SIZE);
    memcpy(s->user_id, stream->user_id, STORE_ID_SIZE);
    memcpy(s->project_id, stream->project_id, STORE_ID_SIZE);
    memcpy(s->playback_id, stream->playback_id, STORE_PLAYBACK_ID_SIZE);
    s->name = strdup(stream->name ? stream->name : "");
    s->created_at_ms = now;
    s->last_seen_ms = now;
    s->is_active = true;
    s->record = stream->record;
    s->is_healthy = -1;
    s->recording_status = stream->record ? STORE_RECORDING_WAITING : STORE_RECORDING_NONE_SET;
    s->profiles_json = dup_or_null(stream->profiles_json);
    s->recording_spec_json = dup_or_null(stream->recording_spec_json);
}

static void broadcast_free(live_broadcast_t *b)
{
    if (!b)
        return;
    segmenter_free(b->segmenter);
    store_session_clear(&b->session);
    free(b);
}

static live_broadcast_t *broadcast_start(live_t *live, const store_stream_t *stream)
{
    live_broadcast_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    int64_t now = clock_now_ms();
    b->live = live;
    memcpy(b->stream_id, stream->id, STORE_ID_SIZE);
    fill_session(&b->session, stream, now);
    rate_init(&b->ingest_rate, INGEST_RATE_WINDOW_MS);
    health_init(&b->health);
    health_probe(&b->health, HEALTH_ACTIVE, 1, now);
    b->last_data_ms = now;
    char source_dir[PATH_MAX], err[256];
    if (!b->session.name || prepare_dirs(b, live->config->data_dir, stream->playback_id) != 0 ||
        join_path(source_dir, sizeof source_dir, b->dir, SOURCE_RENDITION) != 0)
        goto fail;
    segmenter_config_t seg_config = {
        .dir = source_dir,
        .target_duration_s = live->config->segment_seconds,
        .window_segments = live->config->hls_window_segments,
    };
    segmenter_callbacks_t callbacks = {.opaque = b, .on_segment = on_segment};
    b->segmenter = segmenter_new(&seg_config, &callbacks, err, sizeof err);
    if (!b->segmenter) {
        log_error("live", "stream %s: %s", stream->id, err);
        goto fail;
    }
    if (store_session_insert(live->store, &b->session) != STORE_OK)
        goto fail;
    flush(b, true);
    log_info("live", "stream %s: session %s started", stream->id, b->session.id);
    return b;
fail:
    broadcast_free(b);
    return NULL;
}

/* A publish inside the reconnect window: same session, counters go on. */
static int broadcast_continue(live_broadcast_t *b)
{
    if (segmenter_discontinuity(b->segmenter) != 0)
        log_warn("live", "session %s: %s", b->session.id, segmenter_strerror(b->segmenter));
    b->session.ended_at_ms = 0;
    b->last_data_ms = clock_now_ms();
    health_probe(&b->health, HEALTH_ACTIVE, 1, b->last_data_ms);
    rate_init(&b->ingest_rate, INGEST_RATE_WINDOW_MS);
    atomic_store(&b->stop_requested, false);
    flush(b, true);
    log_info("live", "stream %s: session %s continues after a reconnect", b->stream_id,
             b->session.id);
    return 0;
}

/* The session is final: nothing will continue it. Called with the lock held, after unlinking. */
static void broadcast_finalize(live_broadcast_t *b)
{
    log_info("live", "session %s is final (%lld segments, %.3f s, %lld bytes)", b->session.id,
             (long long)b->session.counters.source_segments,
             b->session.counters.source_segments_duration_s,
             (long long)b->session.counters.source_bytes);
    broadcast_free(b);
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

int live_publish(live_t *live, const char *stream_key, const char *peer, live_broadcast_t **out,
                 char *reason, size_t reason_size)
{
    store_stream_t stream = {0};
    int rc = store_stream_get_by_key(live->store, stream_key, &stream);
    if (rc != STORE_OK || stream.deleted) {
        store_stream_clear(&stream);
        return refuse(reason, reason_size,
                      rc == STORE_OK || rc == STORE_NOT_FOUND ? "unknown stream key"
                                                              : "store unavailable");
    }
    if (stream.suspended) {
        store_stream_clear(&stream);
        return refuse(reason, reason_size, "stream is suspended");
    }
    pthread_mutex_lock(&live->lock);
    live_broadcast_t **slot = find_slot(live, stream.id);
    live_broadcast_t *b = *slot;
    int result = 0;
    if (b && b->state == BROADCAST_LIVE) {
        result = refuse(reason, reason_size, "stream is already live");
    } else if (b && clock_now_ms() - b->ended_at_ms <=
                        (int64_t)live->config->reconnect_window_s * 1000) {
        b->state = BROADCAST_LIVE;
        broadcast_continue(b);
    } else {
        if (b) { /* its window passed before the housekeeper saw it */
            *slot = b->next;
            broadcast_finalize(b);
        }
        b = broadcast_start(live, &stream);
        if (b) {
            b->next = live->broadcasts;
            live->broadcasts = b;
        } else {
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

void live_metadata(live_broadcast_t *b, int width, int height, double frame_rate)
{
    b->width = width > 0 && width <= 16384 ? width : 0;
    b->height = height > 0 && height <= 16384 ? height : 0;
    b->frame_rate = frame_rate > 0 && frame_rate <= 1000 ? frame_rate : 0;
}

int live_media(live_broadcast_t *b, const media_packet_t *packet)
{
    int rc = segmenter_write(b->segmenter, packet);
    if (rc == SEGMENTER_ERR_INVALID || rc == SEGMENTER_ERR_IO || rc == SEGMENTER_ERR_MUX) {
        /* The segmenter stays usable: drop the packet (or segment), keep the broadcast. */
        log_warn("live", "session %s: %s", b->session.id, segmenter_strerror(b->segmenter));
        return 0;
    }
    if (rc != 0) {
        log_error("live", "session %s: %s", b->session.id, segmenter_strerror(b->segmenter));
        return -1;
    }
    return 0;
}

void live_bytes(live_broadcast_t *b, uint64_t bytes)
{
    rate_add(&b->ingest_rate, clock_monotonic_ms(), bytes);
    b->last_data_ms = clock_now_ms();
}

bool live_poll(live_broadcast_t *b)
{
    if (clock_monotonic_ms() - b->last_flush_mono_ms >= FLUSH_INTERVAL_MS)
        flush(b, true);
    return atomic_load(&b->stop_requested);
}

void live_unpublish(live_broadcast_t *b, const char *reason)
{
    if (segmenter_finish(b->segmenter) != 0)
        log_warn("live", "session %s: %s", b->session.id, segmenter_strerror(b->segmenter));
    live_t *live = b->live;
    pthread_mutex_lock(&live->lock);
    b->state = BROADCAST_ENDED;
    b->ended_at_ms = clock_now_ms();
    b->session.ended_at_ms = b->ended_at_ms;
    health_probe(&b->health, HEALTH_ACTIVE, 0, b->ended_at_ms);
    flush(b, false);
    pthread_mutex_unlock(&live->lock);
    log_info("live", "stream %s: broadcast ended (%s); session %s waits %d s for a reconnect",
             b->stream_id, reason ? reason : "unpublish", b->session.id,
             live->config->reconnect_window_s);
}

void live_stop_stream(live_t *live, const char *stream_id)
{
    pthread_mutex_lock(&live->lock);
    live_broadcast_t *b = *find_slot(live, stream_id);
    if (b && b->state == BROADCAST_LIVE) {
        atomic_store(&b->stop_requested, true);
        log_info("live", "stream %s: stop requested", stream_id);
    }
    pthread_mutex_unlock(&live->lock);
}

void live_expire(live_t *live, int64_t now_ms)
{
    int64_t window_ms = (int64_t)live->config->reconnect_window_s * 1000;
    pthread_mutex_lock(&live->lock);
    live_broadcast_t **slot = &live->broadcasts;
    while (*slot) {
        live_broadcast_t *b = *slot;
        if (b->state == BROADCAST_ENDED && now_ms - b->ended_at_ms > window_ms) {
            *slot = b->next;
            broadcast_finalize(b);
        } else {
            slot = &b->next;
        }
    }
    pthread_mutex_unlock(&live->lock);
}

/* ---- Registry -------------------------------------------------------------------------------- */

static void *housekeeping_main(void *arg)
{
    live_t *live = arg;
    pthread_mutex_lock(&live->lock);
    while (!live->stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 1;
        pthread_cond_timedwait(&live->wake, &live->lock, &deadline);
        if (live->stopping)
            break;
        pthread_mutex_unlock(&live->lock);
        live_expire(live, clock_now_ms());
        pthread_mutex_lock(&live->lock);
    }
    pthread_mutex_unlock(&live->lock);
    return NULL;
}

live_t *live_new(store_t *store, const config_t *config, char *err, size_t err_size)
{
    live_t *live = calloc(1, sizeof *live);
    if (!live) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    live->store = store;
    live->config = config;
    pthread_mutex_init(&live->lock, NULL);
    pthread_cond_init(&live->wake, NULL);
    int64_t closed = 0;
    if (store_close_open_sessions(store, &closed) == STORE_OK && closed > 0)
        log_warn("live", "%lld session(s) left open by an unclean stop were closed",
                 (long long)closed);
    if (pthread_create(&live->housekeeper, NULL, housekeeping_main, live) != 0) {
        snprintf(err, err_size, "cannot start the housekeeping thread");
        pthread_cond_destroy(&live->wake);
        pthread_mutex_destroy(&live->lock);
        free(live);
        return NULL;
    }
    return live;
}

void live_free(live_t *live)
{
    if (!live)
        return;
    pthread_mutex_lock(&live->lock);
    live->stopping = true;
    pthread_cond_signal(&live->wake);
    pthread_mutex_unlock(&live->lock);
    pthread_join(live->housekeeper, NULL);
    while (live->broadcasts) {
        live_broadcast_t *b = live->broadcasts;
        live->broadcasts = b->next;
        if (b->state == BROADCAST_LIVE)
            log_error("live", "session %s still live at shutdown", b->session.id);
        broadcast_finalize(b);
    }
    pthread_cond_destroy(&live->wake);
    pthread_mutex_destroy(&live->lock);
    free(live);
}
