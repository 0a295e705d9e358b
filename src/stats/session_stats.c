/* A live session's counters, rates and health, and the session and health documents they make.
 * Plain arithmetic over what the pipeline reports; the caller holds the lock (session_stats.h). */
#include "stats/session_stats.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/health.h"
#include "stats/rate.h"
#include "util/ids.h"
#include "store/rendition_name.h"

/* CPU spent on one rendition, for the health metrics that help users size their ladder. */
typedef struct rendition_cpu {
    char name[RENDITION_NAME_MAX];
    double cpu_s;   /* scale + encode CPU seconds */
    double media_s; /* media seconds encoded */
} rendition_cpu_t;

struct session_stats {
    store_session_t session;    /* the row as last written */
    store_counters_t unflushed; /* increments not yet added to the stream's totals */
    rate_window_t ingest_rate;
    rate_window_t outgoing_rate;
    int64_t last_flush_mono_ms; /* monotonic ms of the last write */
    int64_t last_data_ms;       /* ms since epoch of the last bytes received */
    health_t health;
    uint64_t dropped_segments;      /* source segments the transcoder had no room for */
    double realtime_ratio;          /* last source segment: media seconds / transcode seconds */
    double decode_cpu_per_media_s;  /* the decoder's, as the last source segment was done */
    rendition_cpu_t *rendition_cpu; /* one per rendition seen; none for a source-only stream */
    size_t rendition_cpu_count;
};

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

session_stats_t *session_stats_new(const store_stream_t *stream, int64_t now_ms, int64_t mono_ms)
{
    session_stats_t *stats = calloc(1, sizeof *stats);
    if (!stats)
        return NULL;
    fill_session(&stats->session, stream, now_ms);
    rate_init(&stats->ingest_rate, SESSION_STATS_RATE_WINDOW_MS);
    rate_init(&stats->outgoing_rate, SESSION_STATS_RATE_WINDOW_MS);
    rate_start(&stats->ingest_rate, mono_ms);
    rate_start(&stats->outgoing_rate, mono_ms);
    health_init(&stats->health);
    health_probe(&stats->health, HEALTH_ACTIVE, 1, now_ms);
    stats->last_data_ms = now_ms;
    if (!stats->session.name) {
        session_stats_free(stats);
        return NULL;
    }
    return stats;
}

session_stats_t *session_stats_resume(const store_stream_t *stream, const store_session_t *earlier,
                                      int64_t now_ms, int64_t mono_ms)
{
    session_stats_t *stats = session_stats_new(stream, now_ms, mono_ms);
    if (!stats)
        return NULL;
    store_session_t *s = &stats->session;
    memcpy(s->id, earlier->id, STORE_ID_SIZE);
    s->created_at_ms = earlier->created_at_ms;
    s->counters = earlier->counters;
    s->counters.ingest_rate_bps = 0;
    s->counters.outgoing_rate_bps = 0;
    s->record = earlier->record;
    s->recording_status = earlier->recording_status;
    return stats;
}

void session_stats_free(session_stats_t *stats)
{
    if (!stats)
        return;
    store_session_clear(&stats->session);
    health_release(&stats->health);
    free(stats->rendition_cpu);
    free(stats);
}

store_session_t *session_stats_session(session_stats_t *stats)
{
    return &stats->session;
}

void session_stats_continue(session_stats_t *stats, int64_t now_ms, int64_t mono_ms)
{
    stats->session.ended_at_ms = 0;
    stats->last_data_ms = now_ms;
    health_probe(&stats->health, HEALTH_ACTIVE, 1, now_ms);
    rate_init(&stats->ingest_rate, SESSION_STATS_RATE_WINDOW_MS);
    rate_start(&stats->ingest_rate, mono_ms);
}

void session_stats_end(session_stats_t *stats, int64_t now_ms)
{
    stats->session.ended_at_ms = now_ms;
    health_probe(&stats->health, HEALTH_ACTIVE, 0, now_ms);
}

void session_stats_add_received(session_stats_t *stats, uint64_t bytes, int64_t now_ms,
                                int64_t mono_ms)
{
    rate_add(&stats->ingest_rate, mono_ms, bytes);
    stats->last_data_ms = now_ms;
}

void session_stats_add_source_segment(session_stats_t *stats, uint64_t bytes, double duration_s)
{
    store_counters_t *counters[] = {&stats->session.counters, &stats->unflushed};
    for (size_t i = 0; i < 2; i++) {
        counters[i]->source_segments++;
        counters[i]->source_segments_duration_s += duration_s;
        counters[i]->source_bytes += (int64_t)bytes;
    }
}

static rendition_cpu_t *rendition_cpu_of(session_stats_t *stats, const char *name)
{
    for (size_t i = 0; i < stats->rendition_cpu_count; i++) {
        if (strcmp(stats->rendition_cpu[i].name, name) == 0)
            return &stats->rendition_cpu[i];
    }
    if (stats->rendition_cpu_count == RENDITION_LADDER_MAX)
        return NULL;
    rendition_cpu_t *grown = realloc(stats->rendition_cpu, (stats->rendition_cpu_count + 1) *
                                                               sizeof *stats->rendition_cpu);
    if (!grown)
        return NULL; /* its CPU goes uncounted, nothing else */
    stats->rendition_cpu = grown;
    rendition_cpu_t *r = &grown[stats->rendition_cpu_count++];
    *r = (rendition_cpu_t){0};
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

void session_stats_add_rendition_segment(session_stats_t *stats, const char *rendition,
                                         uint64_t bytes, double duration_s, double encode_cpu_s,
                                         int64_t mono_ms)
{
    store_counters_t *counters[] = {&stats->session.counters, &stats->unflushed};
    for (size_t i = 0; i < 2; i++) {
        counters[i]->transcoded_segments++;
        counters[i]->transcoded_segments_duration_s += duration_s;
        counters[i]->transcoded_bytes += (int64_t)bytes;
    }
    rate_add(&stats->outgoing_rate, mono_ms, bytes);
    rendition_cpu_t *cpu = rendition_cpu_of(stats, rendition);
    if (cpu) {
        cpu->cpu_s += encode_cpu_s;
        cpu->media_s += duration_s;
    }
}

void session_stats_transcoded(session_stats_t *stats, double duration_s, double elapsed_s, bool ok,
                              double decode_cpu_per_media_s, int64_t now_ms)
{
    stats->decode_cpu_per_media_s = decode_cpu_per_media_s;
    stats->realtime_ratio = elapsed_s > 0 ? duration_s / elapsed_s : 0;
    health_probe(&stats->health, HEALTH_TRANSCODING, ok, now_ms);
    health_probe(&stats->health, HEALTH_TRANSCODE_REALTIME, elapsed_s <= duration_s, now_ms);
    health_probe(&stats->health, HEALTH_TRANSCODE_NO_ERRORS, ok, now_ms);
}

void session_stats_passthrough(session_stats_t *stats, int64_t now_ms)
{
    health_probe(&stats->health, HEALTH_TRANSCODING, 1, now_ms);
    health_probe(&stats->health, HEALTH_TRANSCODE_REALTIME, 1, now_ms);
    health_probe(&stats->health, HEALTH_TRANSCODE_NO_ERRORS, 1, now_ms);
}

void session_stats_transcoding_failed(session_stats_t *stats, int64_t now_ms)
{
    health_probe(&stats->health, HEALTH_TRANSCODING, 0, now_ms);
}

uint64_t session_stats_add_dropped(session_stats_t *stats, int64_t now_ms)
{
    health_probe(&stats->health, HEALTH_TRANSCODE_REALTIME, 0, now_ms);
    return ++stats->dropped_segments;
}

void session_stats_source_playable(session_stats_t *stats, bool playable, const char *why_not,
                                   int64_t now_ms)
{
    health_set_detail(&stats->health, HEALTH_SOURCE_PLAYABLE, playable ? "" : why_not);
    health_probe(&stats->health, HEALTH_SOURCE_PLAYABLE, playable, now_ms);
}

void session_stats_recording_started(session_stats_t *stats, int64_t now_ms)
{
    health_probe(&stats->health, HEALTH_RECORDING, 1, now_ms);
}

bool session_stats_recording_failed(session_stats_t *stats, const char *reason, int64_t now_ms)
{
    if (stats->session.recording_status == STORE_RECORDING_FAILED)
        return false;
    stats->session.recording_status = STORE_RECORDING_FAILED;
    health_set_detail(&stats->health, HEALTH_RECORDING, reason);
    health_probe(&stats->health, HEALTH_RECORDING, 0, now_ms);
    return true;
}

const char *session_stats_recording_issue(const session_stats_t *stats)
{
    return health_detail(&stats->health, HEALTH_RECORDING);
}

bool session_stats_write_due(const session_stats_t *stats, int64_t mono_ms)
{
    return mono_ms - stats->last_flush_mono_ms >= SESSION_STATS_FLUSH_INTERVAL_MS;
}

/* ---- Documents ----------------------------------------------------------------------------- */

/* One metric series as the health document spells it: [{"name", "dimensions", "last":[ms, v]}]. */
static json_t *metric(const char *name, json_t *dimensions, int64_t now, double value)
{
    return json_pack("{s:s,s:o,s:[I,f]}", "name", name, "dimensions", dimensions, "last",
                     (json_int_t)now, value);
}

/* The CPU each stage costs per media second: decode once, then scale and encode per rendition. */
static json_t *cpu_metrics(const session_stats_t *stats, int64_t now)
{
    json_t *cpu = json_array();
    /* per media second decoded: sourceSegmentsDuration also counts the dropped segments */
    json_array_append_new(cpu, metric("TranscodeCpuSecondsPerMediaSecond",
                                      json_pack("{s:s}", "stage", "decode"), now,
                                      stats->decode_cpu_per_media_s));
    for (size_t i = 0; i < stats->rendition_cpu_count; i++) {
        const rendition_cpu_t *r = &stats->rendition_cpu[i];
        json_array_append_new(
            cpu, metric("TranscodeCpuSecondsPerMediaSecond",
                        json_pack("{s:s,s:s}", "stage", "encode", "rendition", r->name), now,
                        r->media_s > 0 ? r->cpu_s / r->media_s : 0));
    }
    return cpu;
}

/* The session's health document: conditions, and the metrics that help size the ladder: how
 * fast transcoding runs against real time and the CPU each rendition costs per media second. */
static char *health_document(const session_stats_t *stats, int64_t now)
{
    json_t *doc = health_to_json(&stats->health, now);
    const store_counters_t *c = &stats->session.counters;
    json_t *metrics = json_object();
    json_object_set_new(metrics, "MediaTimeMillis",
                        json_pack("[o]", metric("MediaTimeMillis", json_object(), now,
                                                c->source_segments_duration_s * 1000.0)));
    if (stats->realtime_ratio > 0)
        json_object_set_new(metrics, "TranscodeRealtimeRatio",
                            json_pack("[o]", metric("TranscodeRealtimeRatio", json_object(), now,
                                                    stats->realtime_ratio)));
    if (stats->rendition_cpu_count > 0)
        json_object_set_new(metrics, "TranscodeCpuSecondsPerMediaSecond", cpu_metrics(stats, now));
    if (stats->dropped_segments > 0)
        json_object_set_new(metrics, "TranscodeDroppedSegments",
                            json_pack("[o]", metric("TranscodeDroppedSegments", json_object(), now,
                                                    (double)stats->dropped_segments)));
    json_object_set_new(doc, "metrics", metrics);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

/* Brings isHealthy, issues and the health document of the session up to date. */
static void update_health_fields(session_stats_t *stats, int64_t now)
{
    store_session_t *s = &stats->session;
    s->is_healthy = health_is_healthy(&stats->health);
    free(s->issues_json);
    json_t *issues = health_issues(&stats->health);
    s->issues_json = issues ? json_dumps(issues, JSON_COMPACT) : NULL;
    json_decref(issues);
    free(s->health_json);
    s->health_json = health_document(stats, now);
}

const store_session_t *session_stats_prepare_write(session_stats_t *stats, bool active,
                                                   int64_t now_ms, int64_t mono_ms,
                                                   store_stream_live_t *stream_live)
{
    store_session_t *s = &stats->session;
    double rate = active ? rate_bytes_per_s(&stats->ingest_rate, mono_ms) : 0;
    double outgoing = active ? rate_bytes_per_s(&stats->outgoing_rate, mono_ms) : 0;
    s->counters.ingest_rate_bps = rate;
    s->counters.outgoing_rate_bps = outgoing;
    s->last_seen_ms = stats->last_data_ms;
    s->is_active = active;
    update_health_fields(stats, now_ms);
    *stream_live = (store_stream_live_t){
        .is_active = active,
        .last_seen_ms = stats->last_data_ms,
        .is_healthy = s->is_healthy,
        .issues_json = s->issues_json,
        .ingest_rate_bps = rate,
        .outgoing_rate_bps = outgoing,
        .added = stats->unflushed,
    };
    return s;
}

void session_stats_written(session_stats_t *stats, bool stream_written, int64_t mono_ms)
{
    if (stream_written)
        memset(&stats->unflushed, 0, sizeof stats->unflushed);
    stats->last_flush_mono_ms = mono_ms;
}
