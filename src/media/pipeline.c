/* One live broadcast, from its first packet to its final recording. A broadcast's accounting and
 * master playlist change on two threads (the ingest connection and the transcoder worker) under
 * its stats lock; the registry calls pipeline_continue and pipeline_end holding its own lock, so
 * the lock order is registry, then stats. */
#include "media/pipeline.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/codec.h"
#include "media/hls.h"
#include "media/recorder.h"
#include "media/recordings.h"
#include "media/segmenter.h"
#include "media/transcoder.h"
#include "stats/session_stats.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"

#define SOURCE_RENDITION "source"

struct pipeline {
    store_t *store;
    const pipeline_config_t *config;
    atomic_bool stop_requested;
    int64_t publish_started_ms; /* ms since epoch: the current publish began (stats lock) */

    char stream_id[STORE_ID_SIZE];
    char session_id[STORE_ID_SIZE];
    char *dir;                /* data/live/{playbackId} */
    char *master_path;        /* dir/index.m3u8 */
    segmenter_t *segmenter;   /* ingest only */
    transcoder_t *transcoder; /* NULL when source-only, or when the ladder could not start */
    bool passthrough;         /* the stream has no profiles: the source is the whole ladder */
    recorder_t *recorder;     /* NULL unless the session is recorded (and its dir could be made) */
    int width, height;        /* source picture, from metadata; 0 = unknown */
    double frame_rate;

    pthread_mutex_t stats_lock;    /* guards every field below */
    session_stats_t *stats;        /* counters, rates, health: the session row */
    uint64_t source_bandwidth_bps; /* peak of the source segments, for the master playlist */
    char source_codecs[128];       /* RFC 6381 codecs of the source, for the master playlist */
    bool source_undecodable;       /* browsers cannot decode the source (logged when it turns) */
};

/* ---- Files ----------------------------------------------------------------------------------- */

/* Lays out data/live/{playbackId}/source/ (returned; caller frees) empty for a new session, and
 * sets p->dir and p->master_path. NULL on failure, logged. */
static char *prepare_dirs(pipeline_t *p, const char *data_dir, const char *playback_id)
{
    char *live_dir = fs_join(data_dir, "live");
    p->dir = live_dir ? fs_join(live_dir, playback_id) : NULL;
    p->master_path = p->dir ? fs_join(p->dir, "index.m3u8") : NULL;
    char *source_dir = p->dir ? fs_join(p->dir, SOURCE_RENDITION) : NULL;
    char err[512];
    bool ok = false;
    if (!p->master_path || !source_dir)
        log_error("live", "out of memory laying out a live directory");
    else if (fs_mkdir_p(source_dir, err, sizeof err) != 0)
        log_error("live", "%s", err);
    else
        ok = true;
    /* A previous broadcast's playlists and segments, source and renditions. */
    if (ok && fs_remove_files(p->dir, 1, err, sizeof err) != 0)
        log_warn("live", "%s", err);
    free(live_dir);
    if (!ok) {
        free(source_dir);
        return NULL;
    }
    return source_dir;
}

/* What the master playlist (and the recording's) says of a rendition, uri aside. */
static hls_variant_t rendition_variant(const transcoder_rendition_t *r)
{
    uint64_t target = r->bitrate > 0 ? (uint64_t)r->bitrate : 0;
    return (hls_variant_t){
        .bandwidth = r->peak_bps > target ? r->peak_bps : target,
        .average_bandwidth = r->average_bps,
        .width = r->width,
        .height = r->height,
        .frame_rate = r->fps,
        .codecs = r->codecs,
    };
}

/* Writes the master playlist: the renditions that have a playlist, then the source. Called
 * with the stats lock held after every segment, so renditions appear as they start and each
 * BANDWIDTH follows the peak segment so far (RFC 8216 wants it at least that). */
static void write_master(pipeline_t *p)
{
    transcoder_rendition_t renditions[LADDER_MAX_RUNGS];
    size_t count =
        p->transcoder ? transcoder_renditions(p->transcoder, renditions, LADDER_MAX_RUNGS) : 0;
    if (count > LADDER_MAX_RUNGS)
        count = LADDER_MAX_RUNGS;
    hls_variant_t variants[LADDER_MAX_RUNGS + 1];
    char uris[LADDER_MAX_RUNGS][LADDER_NAME_MAX + sizeof "/index.m3u8"];
    for (size_t i = 0; i < count; i++) {
        const transcoder_rendition_t *r = &renditions[i];
        if (snprintf(uris[i], sizeof uris[i], "%s/index.m3u8", r->name) >= (int)sizeof uris[i])
            return; /* cannot happen: the ladder keeps names within LADDER_NAME_MAX */
        variants[i] = rendition_variant(r);
        variants[i].uri = uris[i];
    }
    size_t listed = count;
    variants[listed++] = (hls_variant_t){
        .uri = SOURCE_RENDITION "/index.m3u8",
        .bandwidth = p->source_bandwidth_bps,
        .width = p->width,
        .height = p->height,
        .frame_rate = p->frame_rate,
        .codecs = p->source_codecs,
    };
    char err[256];
    if (hls_write_master(p->master_path, variants, listed, err, sizeof err) != 0)
        log_error("live", "session %s: master playlist not written: %s", p->session_id, err);
}

/* ---- Store updates ------------------------------------------------------------------------- */

/* Writes the session row and the stream's live state, adding what was counted since the last
 * write to the stream's totals. Stats lock held. */
static void flush(pipeline_t *p, bool active)
{
    store_stream_live_t stream_live;
    const store_session_t *row = session_stats_prepare_write(p->stats, active, clock_now_ms(),
                                                             clock_monotonic_ms(), &stream_live);
    stream_live.session_id = p->session_id;
    if (store_session_update(p->store, row) != STORE_OK)
        log_error("live", "session %s: counters not saved (will retry)", p->session_id);
    store_stream_controls_t controls;
    bool added =
        store_stream_update_live(p->store, p->stream_id, &stream_live, &controls) == STORE_OK;
    session_stats_written(p->stats, added, clock_monotonic_ms());
    /* A terminate, delete or suspend made on another node reaches this one here. */
    if (added && active &&
        (controls.suspended || controls.deleted ||
         controls.last_terminated_at_ms >= p->publish_started_ms) &&
        !atomic_exchange(&p->stop_requested, true))
        log_info("live", "session %s: the stream was stopped through the API", p->session_id);
}

/* The recording cannot go on: the session says so (status, health issue) and live goes on.
 * Stats lock held. */
static void mark_recording_failed(pipeline_t *p, const char *reason)
{
    if (session_stats_recording_failed(p->stats, reason, clock_now_ms()))
        log_error("live", "session %s: recording failed: %s", p->session_id, reason);
}

/* Keeps a finished segment of rendition name in the recording, before it is counted: whatever
 * the store counts is in the recording. Any thread; takes the stats lock on failure only. */
static void record_segment(pipeline_t *p, const char *name, const segment_info_t *segment,
                           const hls_variant_t *variant)
{
    if (!p->recorder)
        return;
    if (variant)
        recorder_set_variant(p->recorder, name, variant);
    if (recorder_add_segment(p->recorder, name, segment) == 0)
        return;
    char reason[RECORDER_ERROR_MAX] = "";
    recorder_failed(p->recorder, reason, sizeof reason);
    pthread_mutex_lock(&p->stats_lock);
    mark_recording_failed(p, reason[0] ? reason : "segment not recorded");
    pthread_mutex_unlock(&p->stats_lock);
}

/* ---- Segment callbacks ----------------------------------------------------------------------- */

/* SourcePlayable from the source's H.264 profile (avc1.PPCCLL in source_codecs), at every
 * source segment; the log says it when it turns false. Stats lock held. */
static void judge_source_codec(pipeline_t *p)
{
    int profile_idc = codec_avc_profile_of(p->source_codecs);
    if (profile_idc < 0)
        return;
    bool decodable = codec_avc_profile_browser_decodable(profile_idc);
    char why[256] = "";
    if (!decodable) {
        const char *name = codec_avc_profile_name(profile_idc);
        snprintf(why, sizeof why,
                 "its video is H.264 %s (profile %d); browsers play 8-bit 4:2:0 (Baseline, Main, "
                 "High): %s",
                 name ? name : "of an unknown profile", profile_idc,
                 p->transcoder ? "the master playlist lists only the renditions"
                               : "add renditions (profiles) or send 8-bit 4:2:0 video");
        if (!p->source_undecodable)
            log_warn("live", "session %s: browsers cannot decode the source: %s", p->session_id,
                     why);
    }
    session_stats_source_playable(p->stats, decodable, why, clock_now_ms());
    p->source_undecodable = !decodable;
}

/* A source segment is complete (ingest). */
static void on_segment(void *opaque, const segment_info_t *segment)
{
    pipeline_t *p = opaque;
    /* The segmenter belongs to this thread; the worker's master rewrites use this copy. */
    char codecs[sizeof p->source_codecs] = "";
    segmenter_codecs(p->segmenter, codecs, sizeof codecs);
    hls_variant_t source = {
        .bandwidth = segment->duration_s > 0
                         ? (uint64_t)((double)segment->bytes * 8 / segment->duration_s)
                         : 0,
        .width = p->width,
        .height = p->height,
        .frame_rate = p->frame_rate,
        .codecs = codecs,
    };
    record_segment(p, SOURCE_RENDITION, segment, &source);
    pthread_mutex_lock(&p->stats_lock);
    memcpy(p->source_codecs, codecs, sizeof codecs);
    judge_source_codec(p);
    session_stats_add_source_segment(p->stats, segment->bytes, segment->duration_s);
    if (source.bandwidth > p->source_bandwidth_bps)
        p->source_bandwidth_bps = source.bandwidth;
    write_master(p);
    bool transcoding = p->transcoder != NULL;
    /* The source rendition is the whole ladder, written as it arrives. (A ladder that could not
     * start has no transcoder either: then Transcoding stays false.) */
    if (p->passthrough)
        session_stats_passthrough(p->stats, clock_now_ms());
    log_debug("live", "session %s: segment %lld (%.3f s, %llu bytes)", p->session_id,
              (long long)segment->sequence, segment->duration_s,
              (unsigned long long)segment->bytes);
    flush(p, true); /* every segment boundary reaches the store: a crash loses at most one */
    pthread_mutex_unlock(&p->stats_lock);
    if (transcoding)
        transcoder_submit(p->transcoder, segment); /* outside the lock: on_dropped takes it */
}

/* A rendition segment is on disk and listed (transcoder worker). */
static void on_rendition_segment(void *opaque, const transcoder_rendition_t *rendition,
                                 const segment_info_t *segment, double encode_cpu_s,
                                 double encode_wall_s)
{
    (void)encode_wall_s;
    pipeline_t *p = opaque;
    hls_variant_t variant = rendition_variant(rendition);
    record_segment(p, rendition->name, segment, &variant);
    pthread_mutex_lock(&p->stats_lock);
    session_stats_add_rendition_segment(p->stats, rendition->name, segment->bytes,
                                        segment->duration_s, encode_cpu_s, clock_monotonic_ms());
    pthread_mutex_unlock(&p->stats_lock);
}

/* Every rendition of a source segment is done (transcoder worker): judge it. */
static void on_source_segment_done(void *opaque, int64_t sequence, double duration_s,
                                   double elapsed_s, double cpu_s, bool ok, const char *error)
{
    pipeline_t *p = opaque;
    int64_t now = clock_now_ms();
    (void)cpu_s; /* in the transcoder's counters, with the media seconds it was spent on */
    transcoder_stats_t stats;
    transcoder_get_stats(p->transcoder, &stats);
    double decode_cpu = transcoder_decode_cpu_per_media_s(&stats);
    pthread_mutex_lock(&p->stats_lock);
    session_stats_transcoded(p->stats, duration_s, elapsed_s, ok, decode_cpu, now);
    write_master(p);
    flush(p, session_stats_session(p->stats)->is_active);
    pthread_mutex_unlock(&p->stats_lock);
    if (!ok)
        log_warn("live", "session %s: segment %lld not transcoded: %s", p->session_id,
                 (long long)sequence, error);
    else if (elapsed_s > duration_s)
        log_warn("live", "session %s: segment %lld took %.2f s to transcode %.2f s of media",
                 p->session_id, (long long)sequence, elapsed_s, duration_s);
}

/* The transcoder had no room for a source segment (ingest, inside submit). */
static void on_dropped(void *opaque, int64_t sequence)
{
    pipeline_t *p = opaque;
    pthread_mutex_lock(&p->stats_lock);
    uint64_t dropped = session_stats_add_dropped(p->stats, clock_now_ms());
    pthread_mutex_unlock(&p->stats_lock);
    log_warn("live",
             "session %s: transcoding is behind; source segment %lld dropped from the "
             "renditions (%llu so far)",
             p->session_id, (long long)sequence, (unsigned long long)dropped);
}

/* ---- Lifecycle ------------------------------------------------------------------------------- */

static void pipeline_free(pipeline_t *p)
{
    if (!p)
        return;
    transcoder_free(p->transcoder);
    recorder_free(p->recorder);
    segmenter_free(p->segmenter);
    free(p->dir);
    free(p->master_path);
    session_stats_free(p->stats);
    pthread_mutex_destroy(&p->stats_lock);
    free(p);
}

/* Starts the transcoder of the session's ladder. A ladder that cannot run (say, a profile name
 * stored before the API checked names) leaves the broadcast source-only, and its health says so. */
static void start_transcoder(pipeline_t *p)
{
    const store_session_t *session = session_stats_session(p->stats);
    p->passthrough = ladder_is_passthrough(session->profiles_json);
    if (p->passthrough)
        return;
    transcoder_config_t tc = {
        .live_dir = p->dir,
        .profiles_json = session->profiles_json,
        .x264_preset = p->config->x264_preset,
        .window_segments = p->config->hls_window_segments,
        .log_id = p->session_id,
    };
    transcoder_callbacks_t callbacks = {
        .opaque = p,
        .on_rendition_segment = on_rendition_segment,
        .on_source_segment_done = on_source_segment_done,
        .on_dropped = on_dropped,
    };
    char err[TRANSCODER_ERROR_MAX];
    p->transcoder = transcoder_new(&tc, &callbacks, err, sizeof err);
    if (!p->transcoder) {
        log_error("live", "session %s: transcoding disabled: %s", p->session_id, err);
        session_stats_transcoding_failed(p->stats, clock_now_ms());
    }
}

/* Opens RECORDINGS/{sessionId} for a recorded session; a recording that cannot start is failed
 * from the start, and live goes on. No segment was submitted yet: nothing else runs. */
static void start_recorder(pipeline_t *p)
{
    char err[RECORDER_ERROR_MAX] = "";
    char dir[PATH_MAX];
    if (recordings_dir(p->config->recordings_dir, p->session_id, dir, sizeof dir) == 0)
        p->recorder = recorder_new(dir, p->session_id, err, sizeof err);
    if (p->recorder)
        session_stats_recording_started(p->stats, clock_now_ms());
    else
        mark_recording_failed(p, err[0] ? err : "recording directory path too long");
}

/* A broadcast of stream: a new session, or earlier (ended on another node) continued. */
static pipeline_t *pipeline_open(store_t *store, const pipeline_config_t *config,
                                 const store_stream_t *stream, const store_session_t *earlier)
{
    pipeline_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->stats_lock, NULL);
    p->store = store;
    p->config = config;
    memcpy(p->stream_id, stream->id, STORE_ID_SIZE);
    int64_t now = clock_now_ms(), mono = clock_monotonic_ms();
    p->publish_started_ms = now;
    p->stats = earlier ? session_stats_resume(stream, earlier, now, mono)
                       : session_stats_new(stream, now, mono);
    char *source_dir = NULL;
    if (p->stats) {
        store_session_t *session = session_stats_session(p->stats);
        snprintf(session->node_id, sizeof session->node_id, "%s", config->node_id);
        memcpy(p->session_id, session->id, STORE_ID_SIZE);
        source_dir = prepare_dirs(p, config->data_dir, stream->playback_id);
    }
    if (!source_dir)
        goto fail;
    segmenter_config_t seg_config = {
        .dir = source_dir,
        .target_duration_s = config->segment_seconds,
        .window_segments = config->hls_window_segments,
        /* A continued session numbers on from where the other node stopped. */
        .first_sequence = earlier ? earlier->counters.source_segments : 0,
    };
    segmenter_callbacks_t callbacks = {.opaque = p, .on_segment = on_segment};
    char err[256];
    p->segmenter = segmenter_new(&seg_config, &callbacks, err, sizeof err);
    free(source_dir);
    if (!p->segmenter) {
        log_error("live", "stream %s: %s", stream->id, err);
        goto fail;
    }
    start_transcoder(p);
    if (session_stats_session(p->stats)->record)
        start_recorder(p);
    /* A continued session's row exists: store_session_adopt made it this node's. */
    if (!earlier && store_session_insert(store, session_stats_session(p->stats)) != STORE_OK)
        goto fail;
    pthread_mutex_lock(&p->stats_lock);
    flush(p, true);
    pthread_mutex_unlock(&p->stats_lock);
    if (earlier)
        log_info("live",
                 "stream %s: session %s continues here after a reconnect (it was node %s's)",
                 stream->id, p->session_id, earlier->node_id);
    else
        log_info("live", "stream %s: session %s started", stream->id, p->session_id);
    return p;
fail:
    pipeline_free(p);
    return NULL;
}

pipeline_t *pipeline_start(store_t *store, const pipeline_config_t *config,
                           const store_stream_t *stream)
{
    return pipeline_open(store, config, stream, NULL);
}

pipeline_t *pipeline_resume(store_t *store, const pipeline_config_t *config,
                            const store_stream_t *stream, const store_session_t *earlier)
{
    return pipeline_open(store, config, stream, earlier);
}

void pipeline_continue(pipeline_t *p)
{
    if (segmenter_discontinuity(p->segmenter) != 0)
        log_warn("live", "session %s: %s", p->session_id, segmenter_strerror(p->segmenter));
    atomic_store(&p->stop_requested, false);
    pthread_mutex_lock(&p->stats_lock);
    p->publish_started_ms = clock_now_ms();
    session_stats_continue(p->stats, p->publish_started_ms, clock_monotonic_ms());
    flush(p, true);
    pthread_mutex_unlock(&p->stats_lock);
    log_info("live", "stream %s: session %s continues after a reconnect", p->stream_id,
             p->session_id);
}

void pipeline_metadata(pipeline_t *p, int width, int height, double frame_rate)
{
    p->width = width > 0 && width <= 16384 ? width : 0;
    p->height = height > 0 && height <= 16384 ? height : 0;
    p->frame_rate = frame_rate > 0 && frame_rate <= 1000 ? frame_rate : 0;
}

int pipeline_media(pipeline_t *p, const media_packet_t *packet)
{
    int rc = segmenter_write(p->segmenter, packet);
    if (rc == SEGMENTER_ERR_INVALID || rc == SEGMENTER_ERR_IO || rc == SEGMENTER_ERR_MUX) {
        /* The segmenter stays usable: drop the packet (or segment), keep the broadcast. */
        log_warn("live", "session %s: %s", p->session_id, segmenter_strerror(p->segmenter));
        return 0;
    }
    if (rc != 0) {
        log_error("live", "session %s: %s", p->session_id, segmenter_strerror(p->segmenter));
        return -1;
    }
    return 0;
}

void pipeline_bytes(pipeline_t *p, uint64_t bytes)
{
    pthread_mutex_lock(&p->stats_lock);
    session_stats_add_received(p->stats, bytes, clock_now_ms(), clock_monotonic_ms());
    pthread_mutex_unlock(&p->stats_lock);
}

bool pipeline_poll(pipeline_t *p)
{
    pthread_mutex_lock(&p->stats_lock);
    if (session_stats_write_due(p->stats, clock_monotonic_ms()))
        flush(p, true);
    pthread_mutex_unlock(&p->stats_lock);
    return atomic_load(&p->stop_requested);
}

void pipeline_request_stop(pipeline_t *p)
{
    atomic_store(&p->stop_requested, true);
}

void pipeline_drain(pipeline_t *p)
{
    if (segmenter_finish(p->segmenter) != 0)
        log_warn("live", "session %s: %s", p->session_id, segmenter_strerror(p->segmenter));
    /* The renditions of what was received are finished before the broadcast's end is
     * reported: at most the queue's few segments of work. */
    if (p->transcoder && transcoder_finish(p->transcoder) != 0)
        log_warn("live", "session %s: rendition playlists not ended", p->session_id);
}

void pipeline_end(pipeline_t *p, int64_t ended_at_ms)
{
    pthread_mutex_lock(&p->stats_lock);
    session_stats_end(p->stats, ended_at_ms);
    flush(p, false);
    pthread_mutex_unlock(&p->stats_lock);
}

/* Finishes the recording and writes its final status (ready, none or failed with a reason). */
static void finish_recording(pipeline_t *p)
{
    store_session_t *session = session_stats_session(p->stats);
    char err[RECORDER_ERROR_MAX] = "";
    int rc = p->recorder ? recorder_finish(p->recorder, err, sizeof err) : RECORDER_ERR_IO;
    if (rc != 0 && !err[0] && p->recorder)
        recorder_failed(p->recorder, err, sizeof err);
    if (rc != 0 && !err[0]) /* it failed before or at its start: health kept the reason */
        snprintf(err, sizeof err, "%s", session_stats_recording_issue(p->stats));
    recordings_set_result(session, rc, err);
    if (store_session_update(p->store, session) != STORE_OK)
        log_error("live", "session %s: final recording status not saved", p->session_id);
    if (rc == 0)
        log_info("live", "session %s: recording ready", p->session_id);
    else
        log_warn("live", "session %s: recording not ready: %s", p->session_id, err);
}

int pipeline_owner(const pipeline_t *p)
{
    store_session_t row;
    int rc = store_session_get(p->store, p->session_id, &row);
    int owner = rc != STORE_OK                                                    ? -1
                : !row.node_id[0] || strcmp(row.node_id, p->config->node_id) == 0 ? 1
                                                                                  : 0;
    if (owner == 0)
        log_info("live", "session %s continued on node %s: left to it", p->session_id, row.node_id);
    store_session_clear(&row);
    return owner;
}

void pipeline_finalize(pipeline_t *p)
{
    if (!p)
        return;
    transcoder_free(p->transcoder); /* finished at unpublish: nothing is in flight */
    p->transcoder = NULL;
    /* A session another node continued is that node's to finalize. */
    if (pipeline_owner(p) == 0) {
        pipeline_free(p);
        return;
    }
    const store_session_t *session = session_stats_session(p->stats);
    if (store_session_final(p->store, session) != STORE_OK)
        log_error("live", "session %s: its end was not saved", p->session_id);
    if (session->record)
        finish_recording(p);
    log_info("live", "session %s is final (%lld segments, %.3f s, %lld bytes)", p->session_id,
             (long long)session->counters.source_segments,
             session->counters.source_segments_duration_s,
             (long long)session->counters.source_bytes);
    pipeline_free(p);
}

const char *pipeline_session_id(const pipeline_t *p)
{
    return p->session_id;
}
