/* The live registry and each broadcast's session accounting. The registry lock guards the list
 * and each broadcast's state (live / ended) so that publish, stop and expiry never race. A
 * broadcast's counters, health and store writes change on two threads (the ingest connection
 * and the transcoder worker) under the broadcast's own stats lock; lock order: registry, then
 * stats. */
#include "media/live.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/hls.h"
#include "media/recorder.h"
#include "media/recordings.h"
#include "media/segmenter.h"
#include "media/transcoder.h"
#include "stats/health.h"
#include "stats/rate.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#define FLUSH_INTERVAL_MS 1000
#define INGEST_RATE_WINDOW_MS 5000
#define SOURCE_RENDITION "source"
#define OUTGOING_RATE_WINDOW_MS INGEST_RATE_WINDOW_MS
#define RETENTION_INTERVAL_MS 60000

typedef enum { BROADCAST_LIVE, BROADCAST_ENDED } broadcast_state_t;

/* CPU spent on one rendition, for the health metrics that help users size their ladder. */
typedef struct rendition_cpu {
    char name[LADDER_NAME_MAX];
    double cpu_s;   /* scale + encode CPU seconds */
    double media_s; /* media seconds encoded */
} rendition_cpu_t;

struct live_broadcast {
    live_t *live;
    struct live_broadcast *next;
    broadcast_state_t state; /* guarded by live->lock */
    atomic_bool stop_requested;
    int64_t ended_at_ms; /* ms since epoch when the last publish ended; guarded by live->lock */

    char stream_id[STORE_ID_SIZE];
    char *dir;                /* data/live/{playbackId} */
    char *master_path;        /* dir/index.m3u8 */
    segmenter_t *segmenter;   /* ingest only */
    transcoder_t *transcoder; /* NULL when source-only, or when the ladder could not start */
    bool passthrough;         /* the stream has no profiles: the source is the whole ladder */
    recorder_t *recorder;     /* NULL unless the session is recorded (and its dir could be made) */
    int width, height;        /* source picture, from metadata; 0 = unknown */
    double frame_rate;

    pthread_mutex_t stats_lock; /* guards every field below */
    store_session_t session;    /* the row as last written */
    store_counters_t unflushed; /* increments not yet added to the stream's totals */
    rate_window_t ingest_rate;
    rate_window_t outgoing_rate;
    int64_t last_flush_mono_ms;
    int64_t last_data_ms; /* ms since epoch of the last bytes received */
    health_t health;
    uint64_t dropped_segments;          /* source segments the transcoder had no room for */
    double realtime_ratio;              /* last source segment: media seconds / transcode seconds */
    transcoder_stats_t transcode_stats; /* the transcoder's counters as its last segment ended */
    rendition_cpu_t *rendition_cpu;     /* one per rendition seen; none for a source-only stream */
    size_t rendition_cpu_count;
    uint64_t source_bandwidth_bps; /* peak of the source segments, for the master playlist */
    char source_codecs[128];       /* RFC 6381 codecs of the source, for the master playlist */
};

struct live {
    store_t *store;
    const config_t *config;
    pthread_mutex_t lock;
    live_broadcast_t *broadcasts; /* guarded by lock */
    live_broadcast_t *superseded; /* guarded by lock: final, replaced by a new publish before the
                                     housekeeper saw them; it finalizes them */
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

/* Removes the regular files inside the directory dir_fd (taken and closed) and inside its
 * subdirectories (a previous broadcast's playlists and segments, source and renditions). */
static void remove_files(int dir_fd, int depth)
{
    DIR *d = fdopendir(dir_fd);
    if (!d) {
        close(dir_fd);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(d))) {
        if (entry->d_name[0] == '.')
            continue;
        struct stat st;
        if (fstatat(dirfd(d), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            unlinkat(dirfd(d), entry->d_name, 0);
        } else if (S_ISDIR(st.st_mode) && depth > 0) {
            int fd = openat(dirfd(d), entry->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd >= 0)
                remove_files(fd, depth - 1);
        }
    }
    closedir(d);
}

/* "a/b" in a new string (caller frees); NULL when out of memory. Paths are sized to their
 * length: with hundreds of live streams, fixed PATH_MAX arrays add up. */
static char *join_path(const char *a, const char *b)
{
    size_t size = strlen(a) + 1 + strlen(b) + 1;
    char *out = malloc(size);
    if (out)
        snprintf(out, size, "%s/%s", a, b);
    return out;
}

/* Lays out data/live/{playbackId}/source/ (returned; caller frees) empty for a new session, and
 * sets b->dir and b->master_path. NULL on failure, logged. */
static char *prepare_dirs(live_broadcast_t *b, const char *data_dir, const char *playback_id)
{
    char *live_dir = join_path(data_dir, "live");
    b->dir = live_dir ? join_path(live_dir, playback_id) : NULL;
    b->master_path = b->dir ? join_path(b->dir, "index.m3u8") : NULL;
    char *source_dir = b->dir ? join_path(b->dir, SOURCE_RENDITION) : NULL;
    bool ok = false;
    if (!b->master_path || !source_dir)
        log_error("live", "out of memory laying out a live directory");
    else
        ok = make_dir(live_dir) == 0 && make_dir(b->dir) == 0 && make_dir(source_dir) == 0;
    if (ok) {
        int fd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
            remove_files(fd, 1);
    }
    free(live_dir);
    if (!ok) {
        free(source_dir);
        return NULL;
    }
    return source_dir;
}

/* Writes the master playlist: the renditions that have a playlist, then the source. Called
 * with the stats lock held after every segment, so renditions appear as they start and each
 * BANDWIDTH follows the peak segment so far (RFC 8216 wants it at least that). */
static void write_master(live_broadcast_t *b)
{
    transcoder_rendition_t renditions[LADDER_MAX_RUNGS];
    size_t count =
        b->transcoder ? transcoder_renditions(b->transcoder, renditions, LADDER_MAX_RUNGS) : 0;
    if (count > LADDER_MAX_RUNGS)
        count = LADDER_MAX_RUNGS;
    hls_variant_t variants[LADDER_MAX_RUNGS + 1];
    char uris[LADDER_MAX_RUNGS][LADDER_NAME_MAX + sizeof "/index.m3u8"];
    for (size_t i = 0; i < count; i++) {
        const transcoder_rendition_t *r = &renditions[i];
        if (snprintf(uris[i], sizeof uris[i], "%s/index.m3u8", r->name) >= (int)sizeof uris[i])
            return; /* cannot happen: the ladder keeps names within LADDER_NAME_MAX */
        uint64_t target = r->bitrate > 0 ? (uint64_t)r->bitrate : 0;
        variants[i] = (hls_variant_t){
            .uri = uris[i],
            .bandwidth = r->peak_bps > target ? r->peak_bps : target,
            .average_bandwidth = r->average_bps,
            .width = r->width,
            .height = r->height,
            .frame_rate = r->fps,
            .codecs = r->codecs,
        };
    }
    variants[count] = (hls_variant_t){
        .uri = SOURCE_RENDITION "/index.m3u8",
        .bandwidth = b->source_bandwidth_bps,
        .width = b->width,
        .height = b->height,
        .frame_rate = b->frame_rate,
        .codecs = b->source_codecs,
    };
    char err[256];
    if (hls_write_master(b->master_path, variants, count + 1, err, sizeof err) != 0)
        log_error("live", "session %s: master playlist not written: %s", b->session.id, err);
}

/* ---- Store updates ------------------------------------------------------------------------- */

/* One metric series as the health document spells it: [{"name", "dimensions", "last":[ms, v]}]. */
static json_t *metric(const char *name, json_t *dimensions, int64_t now, double value)
{
    return json_pack("{s:s,s:o,s:[I,f]}", "name", name, "dimensions", dimensions, "last",
                     (json_int_t)now, value);
}

/* The session's health document: conditions, and the metrics that help size the ladder: how
 * fast transcoding runs against real time and the CPU each rendition costs per media second. */
static char *health_document(const live_broadcast_t *b, int64_t now)
{
    json_t *doc = health_to_json(&b->health, now);
    const store_counters_t *c = &b->session.counters;
    json_t *metrics = json_object();
    json_object_set_new(metrics, "MediaTimeMillis",
                        json_pack("[o]", metric("MediaTimeMillis", json_object(), now,
                                                c->source_segments_duration_s * 1000.0)));
    if (b->realtime_ratio > 0)
        json_object_set_new(metrics, "TranscodeRealtimeRatio",
                            json_pack("[o]", metric("TranscodeRealtimeRatio", json_object(), now,
                                                    b->realtime_ratio)));
    if (b->rendition_cpu_count > 0) {
        json_t *cpu = json_array();
        /* per media second decoded: sourceSegmentsDuration also counts the dropped segments */
        json_array_append_new(cpu, metric("TranscodeCpuSecondsPerMediaSecond",
                                          json_pack("{s:s}", "stage", "decode"), now,
                                          transcoder_decode_cpu_per_media_s(&b->transcode_stats)));
        for (size_t i = 0; i < b->rendition_cpu_count; i++) {
            const rendition_cpu_t *r = &b->rendition_cpu[i];
            json_array_append_new(
                cpu, metric("TranscodeCpuSecondsPerMediaSecond",
                            json_pack("{s:s,s:s}", "stage", "encode", "rendition", r->name), now,
                            r->media_s > 0 ? r->cpu_s / r->media_s : 0));
        }
        json_object_set_new(metrics, "TranscodeCpuSecondsPerMediaSecond", cpu);
    }
    if (b->dropped_segments > 0)
        json_object_set_new(metrics, "TranscodeDroppedSegments",
                            json_pack("[o]", metric("TranscodeDroppedSegments", json_object(), now,
                                                    (double)b->dropped_segments)));
    json_object_set_new(doc, "metrics", metrics);
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
 * write to the stream's totals. Stats lock held. */
static void flush(live_broadcast_t *b, bool active)
{
    store_t *store = b->live->store;
    int64_t mono = clock_monotonic_ms();
    double rate = active ? rate_bytes_per_s(&b->ingest_rate, mono) : 0;
    double outgoing = active ? rate_bytes_per_s(&b->outgoing_rate, mono) : 0;
    b->session.counters.ingest_rate_bps = rate;
    b->session.counters.outgoing_rate_bps = outgoing;
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
        .outgoing_rate_bps = outgoing,
        .added = b->unflushed,
    };
    if (store_stream_update_live(store, b->stream_id, &stream_live) == STORE_OK)
        memset(&b->unflushed, 0, sizeof b->unflushed);
    b->last_flush_mono_ms = clock_monotonic_ms();
}

/* The recording cannot go on: the session says so (status, health issue) and live goes on.
 * Stats lock held. */
static void mark_recording_failed(live_broadcast_t *b, const char *reason)
{
    if (b->session.recording_status == STORE_RECORDING_FAILED)
        return;
    b->session.recording_status = STORE_RECORDING_FAILED;
    health_set_detail(&b->health, HEALTH_RECORDING, reason);
    health_probe(&b->health, HEALTH_RECORDING, 0, clock_now_ms());
    log_error("live", "session %s: recording failed: %s", b->session.id, reason);
}

/* Keeps a finished segment of rendition name in the recording, before it is counted: whatever
 * the store counts is in the recording. Any thread; takes the stats lock on failure only. */
static void record_segment(live_broadcast_t *b, const char *name, const segment_info_t *segment,
                           const hls_variant_t *variant)
{
    if (!b->recorder)
        return;
    if (variant)
        recorder_set_variant(b->recorder, name, variant);
    if (recorder_add_segment(b->recorder, name, segment) == 0)
        return;
    char reason[RECORDER_ERROR_MAX] = "";
    recorder_failed(b->recorder, reason, sizeof reason);
    pthread_mutex_lock(&b->stats_lock);
    mark_recording_failed(b, reason[0] ? reason : "segment not recorded");
    pthread_mutex_unlock(&b->stats_lock);
}

/* A source segment is complete (ingest). */
static void on_segment(void *opaque, const segment_info_t *segment)
{
    live_broadcast_t *b = opaque;
    /* The segmenter belongs to this thread; the worker's master rewrites use this copy. */
    char codecs[sizeof b->source_codecs] = "";
    segmenter_codecs(b->segmenter, codecs, sizeof codecs);
    hls_variant_t source = {
        .bandwidth = segment->duration_s > 0
                         ? (uint64_t)((double)segment->bytes * 8 / segment->duration_s)
                         : 0,
        .width = b->width,
        .height = b->height,
        .frame_rate = b->frame_rate,
        .codecs = codecs,
    };
    record_segment(b, SOURCE_RENDITION, segment, &source);
    pthread_mutex_lock(&b->stats_lock);
    memcpy(b->source_codecs, codecs, sizeof codecs);
    store_counters_t *totals = &b->session.counters;
    totals->source_segments++;
    totals->source_segments_duration_s += segment->duration_s;
    totals->source_bytes += (int64_t)segment->bytes;
    b->unflushed.source_segments++;
    b->unflushed.source_segments_duration_s += segment->duration_s;
    b->unflushed.source_bytes += (int64_t)segment->bytes;
    if (source.bandwidth > b->source_bandwidth_bps)
        b->source_bandwidth_bps = source.bandwidth;
    write_master(b);
    bool transcoding = b->transcoder != NULL;
    if (b->passthrough) {
        /* The source rendition is the whole ladder, written as it arrives. (A ladder that could
         * not start has no transcoder either: then Transcoding stays false.) */
        int64_t now = clock_now_ms();
        health_probe(&b->health, HEALTH_TRANSCODING, 1, now);
        health_probe(&b->health, HEALTH_TRANSCODE_REALTIME, 1, now);
        health_probe(&b->health, HEALTH_TRANSCODE_NO_ERRORS, 1, now);
    }
    log_debug("live", "session %s: segment %lld (%.3f s, %llu bytes)", b->session.id,
              (long long)segment->sequence, segment->duration_s,
              (unsigned long long)segment->bytes);
    flush(b, true); /* every segment boundary reaches the store: a crash loses at most one */
    pthread_mutex_unlock(&b->stats_lock);
    if (transcoding)
        transcoder_submit(b->transcoder, segment); /* outside the lock: on_dropped takes it */
}

static rendition_cpu_t *rendition_cpu_of(live_broadcast_t *b, const char *name)
{
    for (size_t i = 0; i < b->rendition_cpu_count; i++) {
        if (strcmp(b->rendition_cpu[i].name, name) == 0)
            return &b->rendition_cpu[i];
    }
    if (b->rendition_cpu_count == LADDER_MAX_RUNGS)
        return NULL;
    rendition_cpu_t *grown =
        realloc(b->rendition_cpu, (b->rendition_cpu_count + 1) * sizeof *b->rendition_cpu);
    if (!grown)
        return NULL; /* its CPU goes uncounted, nothing else */
    b->rendition_cpu = grown;
    rendition_cpu_t *r = &grown[b->rendition_cpu_count++];
    *r = (rendition_cpu_t){0};
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

/* A rendition segment is on disk and listed (transcoder worker). */
static void on_rendition_segment(void *opaque, const transcoder_rendition_t *rendition,
                                 const segment_info_t *segment, double encode_cpu_s,
                                 double encode_wall_s)
{
    (void)encode_wall_s;
    live_broadcast_t *b = opaque;
    uint64_t target = rendition->bitrate > 0 ? (uint64_t)rendition->bitrate : 0;
    hls_variant_t variant = {
        .bandwidth = rendition->peak_bps > target ? rendition->peak_bps : target,
        .average_bandwidth = rendition->average_bps,
        .width = rendition->width,
        .height = rendition->height,
        .frame_rate = rendition->fps,
        .codecs = rendition->codecs,
    };
    record_segment(b, rendition->name, segment, &variant);
    pthread_mutex_lock(&b->stats_lock);
    store_counters_t *totals = &b->session.counters;
    totals->transcoded_segments++;
    totals->transcoded_segments_duration_s += segment->duration_s;
    totals->transcoded_bytes += (int64_t)segment->bytes;
    b->unflushed.transcoded_segments++;
    b->unflushed.transcoded_segments_duration_s += segment->duration_s;
    b->unflushed.transcoded_bytes += (int64_t)segment->bytes;
    rate_add(&b->outgoing_rate, clock_monotonic_ms(), segment->bytes);
    rendition_cpu_t *cpu = rendition_cpu_of(b, rendition->name);
    if (cpu) {
        cpu->cpu_s += encode_cpu_s;
        cpu->media_s += segment->duration_s;
    }
    pthread_mutex_unlock(&b->stats_lock);
}

/* Every rendition of a source segment is done (transcoder worker): judge it. */
static void on_source_segment_done(void *opaque, int64_t sequence, double duration_s,
                                   double elapsed_s, double cpu_s, bool ok, const char *error)
{
    live_broadcast_t *b = opaque;
    int64_t now = clock_now_ms();
    (void)cpu_s; /* in the transcoder's counters, with the media seconds it was spent on */
    transcoder_stats_t stats;
    transcoder_get_stats(b->transcoder, &stats);
    pthread_mutex_lock(&b->stats_lock);
    b->transcode_stats = stats;
    b->realtime_ratio = elapsed_s > 0 ? duration_s / elapsed_s : 0;
    health_probe(&b->health, HEALTH_TRANSCODING, ok, now);
    health_probe(&b->health, HEALTH_TRANSCODE_REALTIME, elapsed_s <= duration_s, now);
    health_probe(&b->health, HEALTH_TRANSCODE_NO_ERRORS, ok, now);
    write_master(b);
    flush(b, b->session.is_active);
    pthread_mutex_unlock(&b->stats_lock);
    if (!ok)
        log_warn("live", "session %s: segment %lld not transcoded: %s", b->session.id,
                 (long long)sequence, error);
    else if (elapsed_s > duration_s)
        log_warn("live", "session %s: segment %lld took %.2f s to transcode %.2f s of media",
                 b->session.id, (long long)sequence, elapsed_s, duration_s);
}

/* The transcoder had no room for a source segment (ingest, inside submit). */
static void on_dropped(void *opaque, int64_t sequence)
{
    live_broadcast_t *b = opaque;
    pthread_mutex_lock(&b->stats_lock);
    uint64_t dropped = ++b->dropped_segments;
    health_probe(&b->health, HEALTH_TRANSCODE_REALTIME, 0, clock_now_ms());
    pthread_mutex_unlock(&b->stats_lock);
    log_warn("live",
             "session %s: transcoding is behind; source segment %lld dropped from the "
             "renditions (%llu so far)",
             b->session.id, (long long)sequence, (unsigned long long)dropped);
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
    transcoder_free(b->transcoder);
    recorder_free(b->recorder);
    segmenter_free(b->segmenter);
    free(b->dir);
    free(b->master_path);
    store_session_clear(&b->session);
    health_release(&b->health);
    free(b->rendition_cpu);
    pthread_mutex_destroy(&b->stats_lock);
    free(b);
}

/* Starts the transcoder of the session's ladder. A ladder that cannot run (say, a profile name
 * stored before the API checked names) leaves the broadcast source-only, and its health says so. */
static void start_transcoder(live_broadcast_t *b)
{
    b->passthrough = ladder_is_passthrough(b->session.profiles_json);
    if (b->passthrough)
        return;
    const config_t *config = b->live->config;
    transcoder_config_t tc = {
        .live_dir = b->dir,
        .profiles_json = b->session.profiles_json,
        .x264_preset = config->x264_preset,
        .window_segments = config->hls_window_segments,
        .log_id = b->session.id,
    };
    transcoder_callbacks_t callbacks = {
        .opaque = b,
        .on_rendition_segment = on_rendition_segment,
        .on_source_segment_done = on_source_segment_done,
        .on_dropped = on_dropped,
    };
    char err[TRANSCODER_ERROR_MAX];
    b->transcoder = transcoder_new(&tc, &callbacks, err, sizeof err);
    if (!b->transcoder) {
        log_error("live", "session %s: transcoding disabled: %s", b->session.id, err);
        health_probe(&b->health, HEALTH_TRANSCODING, 0, clock_now_ms());
    }
}

/* Opens data/rec/{sessionId} for a recorded session; a recording that cannot start is failed
 * from the start, and live goes on. */
static void start_recorder(live_broadcast_t *b)
{
    char err[RECORDER_ERROR_MAX] = "";
    char dir[PATH_MAX];
    if (recordings_dir(b->live->config->data_dir, b->session.id, dir, sizeof dir) == 0)
        b->recorder = recorder_new(dir, b->session.id, err, sizeof err);
    if (b->recorder)
        health_probe(&b->health, HEALTH_RECORDING, 1, clock_now_ms());
    else
        mark_recording_failed(b, err[0] ? err : "recording directory path too long");
}

static live_broadcast_t *broadcast_start(live_t *live, const store_stream_t *stream)
{
    live_broadcast_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    pthread_mutex_init(&b->stats_lock, NULL);
    int64_t now = clock_now_ms();
    b->live = live;
    memcpy(b->stream_id, stream->id, STORE_ID_SIZE);
    fill_session(&b->session, stream, now);
    rate_init(&b->ingest_rate, INGEST_RATE_WINDOW_MS);
    rate_init(&b->outgoing_rate, OUTGOING_RATE_WINDOW_MS);
    rate_start(&b->ingest_rate, clock_monotonic_ms());
    rate_start(&b->outgoing_rate, clock_monotonic_ms());
    health_init(&b->health);
    health_probe(&b->health, HEALTH_ACTIVE, 1, now);
    b->last_data_ms = now;
    char *source_dir =
        b->session.name ? prepare_dirs(b, live->config->data_dir, stream->playback_id) : NULL;
    if (!source_dir)
        goto fail;
    segmenter_config_t seg_config = {
        .dir = source_dir,
        .target_duration_s = live->config->segment_seconds,
        .window_segments = live->config->hls_window_segments,
    };
    segmenter_callbacks_t callbacks = {.opaque = b, .on_segment = on_segment};
    char err[256];
    b->segmenter = segmenter_new(&seg_config, &callbacks, err, sizeof err);
    free(source_dir);
    if (!b->segmenter) {
        log_error("live", "stream %s: %s", stream->id, err);
        goto fail;
    }
    start_transcoder(b);
    if (b->session.record)
        start_recorder(b);
    if (store_session_insert(live->store, &b->session) != STORE_OK)
        goto fail;
    pthread_mutex_lock(&b->stats_lock);
    flush(b, true);
    pthread_mutex_unlock(&b->stats_lock);
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
    atomic_store(&b->stop_requested, false);
    pthread_mutex_lock(&b->stats_lock);
    b->session.ended_at_ms = 0;
    b->last_data_ms = clock_now_ms();
    health_probe(&b->health, HEALTH_ACTIVE, 1, b->last_data_ms);
    rate_init(&b->ingest_rate, INGEST_RATE_WINDOW_MS);
    rate_start(&b->ingest_rate, clock_monotonic_ms());
    flush(b, true);
    pthread_mutex_unlock(&b->stats_lock);
    log_info("live", "stream %s: session %s continues after a reconnect", b->stream_id,
             b->session.id);
    return 0;
}

/* The session is final: nothing will continue it. Its recording is finished (playlists closed,
 * MP4 written: seconds of work), so this runs outside the registry lock, after unlinking. */
static void broadcast_finalize(live_broadcast_t *b)
{
    transcoder_free(b->transcoder); /* finished at unpublish: nothing is in flight */
    b->transcoder = NULL;
    if (b->session.record) {
        char err[RECORDER_ERROR_MAX] = "";
        int rc = b->recorder ? recorder_finish(b->recorder, err, sizeof err) : RECORDER_ERR_IO;
        if (rc != 0 && !err[0] && b->recorder)
            recorder_failed(b->recorder, err, sizeof err);
        if (rc != 0 && !err[0]) /* it failed before or at its start: health kept the reason */
            snprintf(err, sizeof err, "%s", health_detail(&b->health, HEALTH_RECORDING));
        recordings_set_result(&b->session, rc, err);
        if (store_session_update(b->live->store, &b->session) != STORE_OK)
            log_error("live", "session %s: final recording status not saved", b->session.id);
        if (rc == 0)
            log_info("live", "session %s: recording ready", b->session.id);
        else
            log_warn("live", "session %s: recording not ready: %s", b->session.id, err);
    }
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
        if (b) {
            /* Its window passed before the housekeeper saw it. Finalizing writes the recording
             * (seconds), and this runs on an ingest loop: the housekeeper does it. */
            *slot = b->next;
            b->next = live->superseded;
            live->superseded = b;
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
    pthread_mutex_lock(&b->stats_lock);
    rate_add(&b->ingest_rate, clock_monotonic_ms(), bytes);
    b->last_data_ms = clock_now_ms();
    pthread_mutex_unlock(&b->stats_lock);
}

bool live_poll(live_broadcast_t *b)
{
    pthread_mutex_lock(&b->stats_lock);
    if (clock_monotonic_ms() - b->last_flush_mono_ms >= FLUSH_INTERVAL_MS)
        flush(b, true);
    pthread_mutex_unlock(&b->stats_lock);
    return atomic_load(&b->stop_requested);
}

void live_unpublish(live_broadcast_t *b, const char *reason)
{
    if (segmenter_finish(b->segmenter) != 0)
        log_warn("live", "session %s: %s", b->session.id, segmenter_strerror(b->segmenter));
    /* The renditions of what was received are finished before the broadcast's end is
     * reported: at most the queue's few segments of work. */
    if (b->transcoder && transcoder_finish(b->transcoder) != 0)
        log_warn("live", "session %s: rendition playlists not ended", b->session.id);
    live_t *live = b->live;
    pthread_mutex_lock(&live->lock);
    b->state = BROADCAST_ENDED;
    b->ended_at_ms = clock_now_ms();
    pthread_mutex_lock(&b->stats_lock);
    b->session.ended_at_ms = b->ended_at_ms;
    health_probe(&b->health, HEALTH_ACTIVE, 0, b->ended_at_ms);
    flush(b, false);
    pthread_mutex_unlock(&b->stats_lock);
    /* Logged under the registry lock: once it is released the housekeeper may free b. */
    log_info("live", "stream %s: broadcast ended (%s); session %s waits %d s for a reconnect",
             b->stream_id, reason ? reason : "unpublish", b->session.id,
             live->config->reconnect_window_s);
    pthread_mutex_unlock(&live->lock);
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
    live_broadcast_t *expired = live->superseded;
    live->superseded = NULL;
    live_broadcast_t **slot = &live->broadcasts;
    while (*slot) {
        live_broadcast_t *b = *slot;
        if (b->state == BROADCAST_ENDED && now_ms - b->ended_at_ms > window_ms) {
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

/* ---- Registry -------------------------------------------------------------------------------- */

static void *housekeeping_main(void *arg)
{
    live_t *live = arg;
    int64_t last_retention_ms = 0;
    pthread_mutex_lock(&live->lock);
    while (!live->stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 1;
        pthread_cond_timedwait(&live->wake, &live->lock, &deadline);
        if (live->stopping)
            break;
        pthread_mutex_unlock(&live->lock);
        int64_t now = clock_now_ms();
        live_expire(live, now);
        if (now - last_retention_ms >= RETENTION_INTERVAL_MS) {
            recordings_expire(live->store, live->config->data_dir,
                              live->config->recordings_max_age_s, now);
            last_retention_ms = now;
        }
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
    int recovered = recordings_recover_all(store, config->data_dir);
    if (recovered > 0)
        log_info("live", "%d recording(s) waiting from an earlier run were finalized", recovered);
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
    while (live->superseded) {
        live_broadcast_t *b = live->superseded;
        live->superseded = b->next;
        broadcast_finalize(b);
    }
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
