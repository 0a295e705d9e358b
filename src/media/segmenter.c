/* Segmenter: H.264/AAC packets in, MPEG-TS segment files and a live HLS playlist out.
 *
 * One libavformat mpegts muxer serves a whole run of segments with the same stream set; each
 * segment gets its own file (the muxer's AVIOContext is swapped, PAT/PMT are re-sent), so
 * timestamps and continuity counters run on across files as in one long transport stream. A new
 * muxer (and a discontinuity tag) comes only when the stream set or a codec config changes, or
 * after a reconnect. H.264 is converted from AVCC to Annex B here (with SPS/PPS before every
 * keyframe), which also validates every NAL length; AAC frames get their ADTS headers here. */
#include "media/segmenter.h"

#include "media/codec.h"
#include "media/hls.h"
#include "util/errbuf.h"
#include "util/fs.h"
#include "util/clock.h"
#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>

#define LOG_MODULE "segmenter"

#define DEFAULT_TARGET_MS 2000
#define MIN_TARGET_MS 100
#define MAX_TARGET_MS 600000
#define MAX_TIMESTAMP_MS ((int64_t)1 << 50) /* beyond this a timestamp is garbage (35k years) */
#define CLOCK_JUMP_BACK_MS 1000     /* a track's clock going back further starts a new timeline */
#define CLOCK_JUMP_FORWARD_MS 10000 /* and so does a leap forward of more than this */
#define DEFAULT_VIDEO_FRAME_MS 33
#define FRAME_DELTA_COUNT 16      /* video dts deltas kept to estimate the frame duration */
#define INVALID_PACKETS_LOGGED 10 /* malformed packets logged; the counter has the rest */
#define NO_NEXT_START INT64_MIN   /* close_segment: no next segment, estimate the end */
#define NAME_ROOM 64              /* bytes for "/NNNNN...NNN.ts.tmp" and the NUL */
#define DIR_MAX (SEGMENTER_PATH_MAX - NAME_ROOM)

enum { TRACK_VIDEO = 0, TRACK_AUDIO = 1, TRACK_COUNT = 2 };

static const AVRational ms_time_base = {1, 1000};
static const char *const track_names[TRACK_COUNT] = {"video", "audio"};

/* The latest codec config of one track, as the publisher sent it. */
typedef struct codec_slot {
    bool present;
    uint8_t *raw;        /* the record as received, to recognise resends */
    size_t raw_size;     /* bytes at raw */
    uint64_t generation; /* increases whenever the config changes */
} codec_slot_t;

/* The streams of the current run's muxer (ts.ctx, NULL when no segment is open). */
typedef struct muxer {
    int stream[TRACK_COUNT];          /* AVStream index, -1 when the track is not in the run */
    uint64_t generation[TRACK_COUNT]; /* codec_slot generation the stream was set up with */
} muxer_t;

/* The segment being written. */
typedef struct open_segment {
    bool open;
    int64_t sequence;
    int64_t start_ms;                /* output pts of its first packet */
    bool has[TRACK_COUNT];           /* a packet of the track was written */
    int64_t max_pts_ms[TRACK_COUNT]; /* largest output pts written per track */
    int64_t program_date_time_ms;    /* ms since epoch */
    bool discontinuity;
} open_segment_t;

/* Maps the publisher's clock (input ms) to output ms for one run of that clock. */
typedef struct timeline {
    bool active;
    int64_t offset_ms;                    /* output = input + offset */
    int64_t anchor_wall_ms;               /* ms since epoch when the run's first packet arrived */
    int64_t anchor_media_ms;              /* output pts of that packet */
    bool have_in[TRACK_COUNT];            /* last_in_dts_ms is set */
    int64_t last_in_dts_ms[TRACK_COUNT];  /* last input dts seen per track */
    bool have_out[TRACK_COUNT];           /* last_out_dts_ms is set */
    int64_t last_out_dts_ms[TRACK_COUNT]; /* last output dts written per track */
} timeline_t;

struct segmenter {
    char *dir;           /* without trailing slashes */
    char *playlist_path; /* "DIR/index.m3u8" */
    char *tmp_path;      /* the open segment's file, "DIR/NNNNN.ts.tmp" */
    char *path;          /* where it goes once closed, "DIR/NNNNN.ts" */
    size_t path_size;    /* bytes at tmp_path and at path */
    int64_t target_ms;   /* media ms */
    segmenter_callbacks_t callbacks;
    hls_playlist_t *playlist;

    codec_slot_t slot[TRACK_COUNT];
    codec_avc_config_t avc;         /* valid when slot[TRACK_VIDEO].present */
    codec_aac_config_t aac;         /* valid when slot[TRACK_AUDIO].present */
    char codecs[2 * HLS_CODEC_MAX]; /* RFC 6381 codecs of the last stream set, "" before */

    ts_mux_writer_t ts;
    muxer_t mux;
    open_segment_t seg;
    timeline_t clock;

    int64_t next_sequence;
    bool next_discontinuity; /* the next segment follows a break */
    bool have_prev_end;
    int64_t prev_end_ms; /* output ms where the last listed segment ended */
    bool finished;       /* ENDLIST written; packets refused until a discontinuity */

    int64_t video_deltas_ms[FRAME_DELTA_COUNT]; /* ring of recent positive video dts deltas */
    size_t video_delta_count, video_delta_next;
    segmenter_retired_t retired;

    AVPacket *packet;              /* reused for every write; never owns data */
    uint64_t dropped_before_start; /* dropped since the timeline last started, for the log */
    segmenter_stats_t stats;
    char errbuf[512];
};

/* ---- errors ---- */

static int fail(segmenter_t *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(segmenter_t *s, int code, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    errbuf_vset(s->errbuf, sizeof s->errbuf, code, fmt, args);
    va_end(args);
    return code;
}

/* Rejects a malformed packet: counted, logged (the first few), reported. */
static int reject(segmenter_t *s, const char *why)
{
    s->stats.invalid_packets++;
    if (s->stats.invalid_packets <= INVALID_PACKETS_LOGGED)
        log_warn(LOG_MODULE, "%s: dropped a malformed packet: %s", s->dir, why);
    return fail(s, SEGMENTER_ERR_INVALID, "malformed packet: %s", why);
}

static int drop(segmenter_t *s)
{
    s->stats.dropped_packets++;
    s->dropped_before_start++;
    return 0;
}

static const char *av_error_text(int code, char *buf, size_t size)
{
    if (av_strerror(code, buf, size) < 0)
        snprintf(buf, size, "libavformat error %d", code);
    return buf;
}

/* ---- paths ---- */

static void segment_path(const segmenter_t *s, int64_t sequence, const char *suffix, char *out)
{
    char name[32];
    hls_segment_name(sequence, name, sizeof name);
    snprintf(out, s->path_size, "%s/%s%s", s->dir, name, suffix);
}

void segmenter_retire(segmenter_retired_t *retired, const char *dir, int64_t sequence,
                      const char *log_id)
{
    retired->sequences[retired->count++] = sequence;
    if (retired->count <= SEGMENTER_KEEP_EXTRA)
        return;
    char name[32];
    hls_segment_name(retired->sequences[0], name, sizeof name);
    size_t path_size = strlen(dir) + 1 + sizeof name;
    char *path = malloc(path_size);
    if (path) {
        snprintf(path, path_size, "%s/%s", dir, name);
        if (unlink(path) != 0 && errno != ENOENT)
            log_warn(LOG_MODULE, "%s: cannot delete %s: %s", log_id, path, strerror(errno));
        free(path);
    }
    retired->count--;
    memmove(retired->sequences, retired->sequences + 1,
            retired->count * sizeof retired->sequences[0]);
}

/* ---- codec configs ---- */

static bool slot_same(const codec_slot_t *slot, const uint8_t *data, size_t size)
{
    return slot->present && slot->raw_size == size && memcmp(slot->raw, data, size) == 0;
}

static int slot_store(segmenter_t *s, int track, const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size);
    if (!copy)
        return fail(s, SEGMENTER_ERR_NOMEM, "out of memory storing a codec config");
    memcpy(copy, data, size);
    codec_slot_t *slot = &s->slot[track];
    free(slot->raw);
    slot->raw = copy;
    slot->raw_size = size;
    slot->present = true;
    slot->generation++;
    return 0;
}

static void forget_configs(segmenter_t *s)
{
    for (int track = 0; track < TRACK_COUNT; track++) {
        free(s->slot[track].raw);
        s->slot[track].raw = NULL;
        s->slot[track].raw_size = 0;
        s->slot[track].present = false;
        s->slot[track].generation++;
    }
    codec_avc_config_clear(&s->avc);
    memset(&s->aac, 0, sizeof s->aac);
}

static int set_video_config(segmenter_t *s, const media_packet_t *p)
{
    if (slot_same(&s->slot[TRACK_VIDEO], p->data, p->size))
        return 0; /* encoders resend the same config; nothing changes */
    char why[160];
    codec_avc_config_t parsed;
    if (codec_avc_config_parse(p->data, p->size, &parsed, why, sizeof why) < 0)
        return reject(s, why);
    if (slot_store(s, TRACK_VIDEO, p->data, p->size) < 0) {
        codec_avc_config_clear(&parsed);
        return SEGMENTER_ERR_NOMEM;
    }
    codec_avc_config_clear(&s->avc);
    s->avc = parsed;
    log_info(LOG_MODULE, "%s: H.264 config: profile %u, level %u, %zu bytes of SPS/PPS", s->dir,
             parsed.profile_idc, parsed.level_idc, parsed.parameter_sets_size);
    return 0;
}

static int set_audio_config(segmenter_t *s, const media_packet_t *p)
{
    if (slot_same(&s->slot[TRACK_AUDIO], p->data, p->size))
        return 0;
    char why[160];
    codec_aac_config_t parsed;
    if (codec_aac_config_parse(p->data, p->size, &parsed, why, sizeof why) < 0)
        return reject(s, why);
    if (slot_store(s, TRACK_AUDIO, p->data, p->size) < 0)
        return SEGMENTER_ERR_NOMEM;
    s->aac = parsed;
    log_info(LOG_MODULE, "%s: AAC config: object type %d, %d Hz, %d channels", s->dir,
             parsed.object_type, parsed.sample_rate, parsed.channels);
    return 0;
}

/* ---- frame durations ---- */

static void record_video_delta(segmenter_t *s, int64_t delta_ms)
{
    if (delta_ms <= 0)
        return;
    s->video_deltas_ms[s->video_delta_next] = delta_ms;
    s->video_delta_next = (s->video_delta_next + 1) % FRAME_DELTA_COUNT;
    if (s->video_delta_count < FRAME_DELTA_COUNT)
        s->video_delta_count++;
}

/* Median of the recent video dts deltas: robust against a dropped frame or a jittery one. */
static int64_t video_frame_ms(const segmenter_t *s)
{
    if (s->video_delta_count == 0)
        return DEFAULT_VIDEO_FRAME_MS;
    int64_t sorted[FRAME_DELTA_COUNT];
    size_t n = s->video_delta_count;
    memcpy(sorted, s->video_deltas_ms, n * sizeof sorted[0]);
    for (size_t i = 1; i < n; i++) {
        int64_t value = sorted[i];
        size_t j = i;
        for (; j > 0 && sorted[j - 1] > value; j--)
            sorted[j] = sorted[j - 1];
        sorted[j] = value;
    }
    return sorted[n / 2];
}

static int64_t audio_frame_ms(const segmenter_t *s)
{
    int rate = s->aac.core_sample_rate;
    if (rate <= 0)
        return 21;
    return ((int64_t)CODEC_AAC_FRAME_SAMPLES * 1000 + rate / 2) / rate;
}

/* ---- timeline ---- */

/* Starts a run of the publisher's clock at this packet: after a break the output continues where
 * the last segment ended, so a player never sees time go backwards. */
static void timeline_start(segmenter_t *s, const media_packet_t *p)
{
    int64_t offset = s->have_prev_end ? s->prev_end_ms - p->pts_ms : 0;
    if (p->dts_ms + offset < SEGMENTER_TIMELINE_START_MS)
        offset = SEGMENTER_TIMELINE_START_MS - p->dts_ms;
    s->clock = (timeline_t){
        .active = true,
        .offset_ms = offset,
        .anchor_wall_ms = clock_now_ms(),
        .anchor_media_ms = p->pts_ms + offset,
    };
}

/* Output timestamps of a packet about to be written: dts strictly increasing per track (the
 * muxer requires it; a millisecond clock can repeat), pts never before dts. */
static void timeline_map(const segmenter_t *s, int track, const media_packet_t *p, int64_t *dts_ms,
                         int64_t *pts_ms)
{
    int64_t dts = p->dts_ms + s->clock.offset_ms;
    int64_t pts = p->pts_ms + s->clock.offset_ms;
    if (s->clock.have_out[track] && dts <= s->clock.last_out_dts_ms[track])
        dts = s->clock.last_out_dts_ms[track] + 1;
    if (pts < dts)
        pts = dts;
    *dts_ms = dts;
    *pts_ms = pts;
}

/* ---- the muxer ---- */

/* The segmenter's code for a ts_mux_status_t. */
static int mux_status(int status)
{
    switch (status) {
    case TS_MUX_OK:
        return 0;
    case TS_MUX_ERR_MUX:
        return SEGMENTER_ERR_MUX;
    default:
        return SEGMENTER_ERR_IO;
    }
}

static int add_video_stream(segmenter_t *s, AVFormatContext *ctx)
{
    AVStream *st = avformat_new_stream(ctx, NULL);
    if (!st)
        return fail(s, SEGMENTER_ERR_NOMEM, "out of memory adding a video stream");
    st->time_base = ms_time_base;
    st->id = TS_MUX_PID_VIDEO;
    st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    st->codecpar->codec_id = AV_CODEC_ID_H264;
    s->mux.stream[TRACK_VIDEO] = st->index;
    s->mux.generation[TRACK_VIDEO] = s->slot[TRACK_VIDEO].generation;
    return 0;
}

static int add_audio_stream(segmenter_t *s, AVFormatContext *ctx)
{
    AVStream *st = avformat_new_stream(ctx, NULL);
    if (!st)
        return fail(s, SEGMENTER_ERR_NOMEM, "out of memory adding an audio stream");
    st->time_base = ms_time_base;
    st->id = TS_MUX_PID_AUDIO;
    AVCodecParameters *par = st->codecpar;
    par->codec_type = AVMEDIA_TYPE_AUDIO;
    par->codec_id = AV_CODEC_ID_AAC;
    par->sample_rate = s->aac.sample_rate;
    par->frame_size = CODEC_AAC_FRAME_SAMPLES;
    av_channel_layout_default(&par->ch_layout, s->aac.channels > 0 ? s->aac.channels : 2);
    s->mux.stream[TRACK_AUDIO] = st->index;
    const codec_slot_t *slot = &s->slot[TRACK_AUDIO];
    s->mux.generation[TRACK_AUDIO] = slot->generation;
    /* Frames come with ADTS headers written here (write_adts), except for configs an ADTS header
     * cannot describe without a PCE: only then does the muxer need the AudioSpecificConfig, for
     * an ADTS muxer of its own per stream (a context, a stream and a codec context: 3 kB). */
    uint8_t header[CODEC_ADTS_HEADER_BYTES];
    if (codec_aac_adts_header(&s->aac, 0, header) != 0)
        return 0;
    par->extradata = av_mallocz(slot->raw_size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!par->extradata)
        return fail(s, SEGMENTER_ERR_NOMEM, "out of memory copying the AAC config");
    memcpy(par->extradata, slot->raw, slot->raw_size);
    par->extradata_size = (int)slot->raw_size;
    return 0;
}

static void update_codecs(segmenter_t *s, bool video, bool audio)
{
    char avc1[HLS_CODEC_MAX] = "", mp4a[HLS_CODEC_MAX] = "";
    const codec_slot_t *v = &s->slot[TRACK_VIDEO], *a = &s->slot[TRACK_AUDIO];
    if (video)
        hls_codec_avc1(v->raw, v->raw_size, avc1);
    if (audio)
        hls_codec_mp4a(a->raw, a->raw_size, mp4a);
    snprintf(s->codecs, sizeof s->codecs, "%s%s%s", avc1, avc1[0] && mp4a[0] ? "," : "", mp4a);
}

/* Creates the run's muxer on a new file at tmp_path. */
static int mux_open(segmenter_t *s, bool video, bool audio)
{
    int ret = mux_status(ts_mux_open_run(&s->ts, s->tmp_path, s->errbuf, sizeof s->errbuf));
    if (ret < 0)
        return ret;
    s->mux = (muxer_t){.stream = {-1, -1}};
    ret = video ? add_video_stream(s, s->ts.ctx) : 0;
    if (ret == 0 && audio)
        ret = add_audio_stream(s, s->ts.ctx);
    if (ret < 0) {
        ts_mux_abort(&s->ts);
        return ret;
    }
    ret = mux_status(ts_mux_start(&s->ts, video, s->errbuf, sizeof s->errbuf));
    if (ret < 0)
        return ret;
    update_codecs(s, video, audio);
    return 0;
}

/* Throws the open segment away: file closed and removed, muxer freed. The next segment starts at a
 * keyframe with a discontinuity. */
static void abort_segment(segmenter_t *s)
{
    ts_mux_abort(&s->ts);
    s->seg.open = false;
    s->next_discontinuity = true;
}

/* ---- segments ---- */

static int write_playlist(segmenter_t *s)
{
    char why[sizeof s->errbuf];
    int ret = hls_playlist_write(s->playlist, s->playlist_path, why, sizeof why);
    if (ret == HLS_ERR_NOMEM)
        return fail(s, SEGMENTER_ERR_NOMEM, "%s", why);
    if (ret < 0)
        return fail(s, SEGMENTER_ERR_IO, "%s", why);
    return 0;
}

/* Opens the file of the next segment, whose first packet (at output pts start_ms) starts the
 * segment; creates a muxer when the run has none. */
static int open_segment(segmenter_t *s, int64_t start_ms, bool video, bool audio)
{
    s->seg = (open_segment_t){
        .sequence = s->next_sequence,
        .start_ms = start_ms,
        .program_date_time_ms = s->clock.anchor_wall_ms + (start_ms - s->clock.anchor_media_ms),
        /* Before the first segment ever listed there is nothing to be discontinuous with. */
        .discontinuity = s->next_discontinuity && s->next_sequence > 0,
    };
    segment_path(s, s->seg.sequence, ".tmp", s->tmp_path);
    int ret = s->ts.ctx
                  ? mux_status(ts_mux_next_file(&s->ts, s->tmp_path, s->errbuf, sizeof s->errbuf))
                  : mux_open(s, video, audio);
    if (ret < 0) {
        abort_segment(s); /* a run's muxer without a file is of no further use */
        return ret;
    }
    s->seg.open = true;
    s->next_discontinuity = false;
    return 0;
}

/* End of the open segment in output ms: where the next one starts, or else its last frame plus
 * one frame duration (video when the run has video, else audio). */
static int64_t segment_end(const segmenter_t *s, int64_t next_start_ms)
{
    if (next_start_ms != NO_NEXT_START && next_start_ms > s->seg.start_ms)
        return next_start_ms;
    bool video = s->seg.has[TRACK_VIDEO];
    int track = video ? TRACK_VIDEO : TRACK_AUDIO;
    int64_t last = s->seg.has[track] ? s->seg.max_pts_ms[track] : s->seg.start_ms;
    int64_t end = last + (video ? video_frame_ms(s) : audio_frame_ms(s));
    return end > s->seg.start_ms ? end : s->seg.start_ms + 1;
}

static void notify(segmenter_t *s, const hls_segment_t *entry, uint64_t bytes, const char *path)
{
    if (!s->callbacks.on_segment)
        return;
    segment_info_t info = {
        .sequence = entry->sequence,
        .duration_s = entry->duration_s,
        .bytes = bytes,
        .program_date_time_ms = entry->program_date_time_ms,
        .discontinuity = entry->discontinuity,
    };
    snprintf(info.path, sizeof info.path, "%s", path);
    s->callbacks.on_segment(s->callbacks.opaque, &info);
}

/* Lists the segment now at path (bytes long), rewrites the playlist and reports it. */
static int publish_segment(segmenter_t *s, int64_t end_ms, const char *path, uint64_t bytes)
{
    hls_segment_t entry = {
        .sequence = s->seg.sequence,
        .duration_s = (double)(end_ms - s->seg.start_ms) / 1000.0,
        .program_date_time_ms = s->seg.program_date_time_ms,
        .discontinuity = s->seg.discontinuity,
    };
    hls_segment_name(entry.sequence, entry.uri, sizeof entry.uri);
    hls_segment_t evicted;
    int slid = hls_playlist_append(s->playlist, &entry, &evicted);
    if (slid < 0) {
        unlink(path);
        s->next_discontinuity = true;
        return fail(s, SEGMENTER_ERR_NOMEM, "cannot list segment %" PRId64, entry.sequence);
    }
    s->next_sequence++;
    s->stats.segments++;
    s->have_prev_end = true;
    s->prev_end_ms = end_ms;
    if (slid == 1)
        segmenter_retire(&s->retired, s->dir, evicted.sequence, s->dir);
    log_debug(LOG_MODULE, "%s: segment %" PRId64 ": %.3f s, %lld bytes", s->dir, entry.sequence,
              entry.duration_s, (long long)bytes);
    /* A playlist write error still counts the segment: it is listed and the next write shows it. */
    int ret = write_playlist(s);
    notify(s, &entry, bytes, path);
    return ret;
}

/* Closes the open segment and lists it. next_start_ms is where the next segment starts (or
 * NO_NEXT_START); end_run also ends the muxer. On failure the segment is discarded. */
static int close_segment(segmenter_t *s, int64_t next_start_ms, bool end_run)
{
    int64_t end_ms = segment_end(s, next_start_ms);
    segment_path(s, s->seg.sequence, "", s->path);
    uint64_t bytes = 0;
    int ret = ts_mux_commit(&s->ts, s->path, end_run, &bytes, s->errbuf, sizeof s->errbuf);
    s->seg.open = false;
    if (ret < 0) {
        s->next_discontinuity = true;
        return mux_status(ret);
    }
    return publish_segment(s, end_ms, s->path, bytes);
}

/* Starts a segment at packet p (a video keyframe, or an audio frame of an audio-only feed). */
static int start_segment(segmenter_t *s, int track, const media_packet_t *p)
{
    bool new_timeline = !s->clock.active;
    if (new_timeline)
        timeline_start(s, p);
    int64_t dts, pts;
    timeline_map(s, track, p, &dts, &pts);
    bool video = track == TRACK_VIDEO;
    bool audio = s->slot[TRACK_AUDIO].present;
    int ret = open_segment(s, pts, video, audio);
    if (ret < 0)
        return ret;
    if (new_timeline) {
        log_info(LOG_MODULE,
                 "%s: segment %" PRId64 " starts a timeline (%s%s), %" PRIu64
                 " packets dropped before it",
                 s->dir, s->seg.sequence, video ? "video" : "audio only",
                 video && audio ? " + audio" : "", s->dropped_before_start);
        s->dropped_before_start = 0;
    }
    return 0;
}

/* ---- writing packets ---- */

static int write_packet(segmenter_t *s, int track, const media_packet_t *p, const uint8_t *data,
                        size_t size, bool key)
{
    int64_t dts_ms, pts_ms;
    timeline_map(s, track, p, &dts_ms, &pts_ms);
    if (dts_ms < 0)
        return drop(s); /* from before the timeline's start: MPEG-TS has no negative time */
    AVFormatContext *ctx = s->ts.ctx;
    AVStream *st = ctx->streams[s->mux.stream[track]];
    AVPacket *pkt = s->packet;
    av_packet_unref(pkt);
    pkt->data = (uint8_t *)data;
    pkt->size = (int)size;
    pkt->stream_index = st->index;
    pkt->dts = av_rescale_q(dts_ms, ms_time_base, st->time_base);
    pkt->pts = av_rescale_q(pts_ms, ms_time_base, st->time_base);
    pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
    int ret;
    if (track == TRACK_AUDIO) {
        int rate = s->aac.core_sample_rate;
        int64_t duration =
            rate > 0 ? av_rescale_q(CODEC_AAC_FRAME_SAMPLES, (AVRational){1, rate}, st->time_base)
                     : 0;
        ret = ts_mux_write_audio(&s->ts, pkt, duration);
    } else {
        ret = ts_mux_write(&s->ts, pkt);
    }
    pkt->data = NULL;
    pkt->size = 0;
    char text[128];
    if (ctx->pb->error < 0) {
        fail(s, SEGMENTER_ERR_IO, "cannot write %s: %s", s->tmp_path,
             av_error_text(ctx->pb->error, text, sizeof text));
        abort_segment(s);
        return SEGMENTER_ERR_IO;
    }
    if (ret < 0) /* refused before anything was written: only this packet is lost */
        return fail(s, SEGMENTER_ERR_MUX, "mpegts muxer refused a %s packet: %s",
                    track_names[track], av_error_text(ret, text, sizeof text));
    if (track == TRACK_VIDEO && s->clock.have_out[track])
        record_video_delta(s, dts_ms - s->clock.last_out_dts_ms[track]);
    s->clock.have_out[track] = true;
    s->clock.last_out_dts_ms[track] = dts_ms;
    if (!s->seg.has[track] || pts_ms > s->seg.max_pts_ms[track])
        s->seg.max_pts_ms[track] = pts_ms;
    s->seg.has[track] = true;
    return 0;
}

static bool mux_has(const segmenter_t *s, int track)
{
    return s->ts.ctx && s->mux.stream[track] >= 0;
}

/* The open muxer carries the track with its latest config. */
static bool mux_current(const segmenter_t *s, int track)
{
    return mux_has(s, track) && s->mux.generation[track] == s->slot[track].generation;
}

/* The stream set or a config changed since the muxer was made: the next cut needs a new one. */
static bool mux_stale(const segmenter_t *s)
{
    for (int track = 0; track < TRACK_COUNT; track++) {
        if (s->slot[track].present != mux_has(s, track))
            return true;
        if (s->slot[track].present && !mux_current(s, track))
            return true;
    }
    return false;
}

/* Ends the run (and the open segment) without forgetting the configs: the next segment starts a
 * new timeline with a discontinuity. */
static int break_timeline(segmenter_t *s)
{
    int ret = s->seg.open ? close_segment(s, NO_NEXT_START, true) : 0;
    s->clock.active = false;
    s->next_discontinuity = true;
    return ret;
}

/* A track's clock that leaps back or far ahead means the publisher's timeline restarted. */
static int check_clock(segmenter_t *s, int track, const media_packet_t *p)
{
    timeline_t *clock = &s->clock;
    if (!clock->active)
        return 0;
    if (clock->have_in[track]) {
        int64_t delta = p->dts_ms - clock->last_in_dts_ms[track];
        if (delta < -CLOCK_JUMP_BACK_MS || delta > CLOCK_JUMP_FORWARD_MS) {
            log_warn(LOG_MODULE, "%s: %s clock jumped by %" PRId64 " ms; starting a new timeline",
                     s->dir, track_names[track], delta);
            return break_timeline(s);
        }
    }
    clock->have_in[track] = true;
    clock->last_in_dts_ms[track] = p->dts_ms;
    return 0;
}

/* At a video keyframe: start the first segment, or cut when the segment is long enough, or at
 * once when a config changed or video joins an audio-only run. */
static int cut_at_keyframe(segmenter_t *s, const media_packet_t *p)
{
    if (!s->seg.open)
        return start_segment(s, TRACK_VIDEO, p);
    int64_t dts, pts;
    timeline_map(s, TRACK_VIDEO, p, &dts, &pts);
    bool forced =
        !mux_current(s, TRACK_VIDEO) || (mux_has(s, TRACK_AUDIO) && !mux_current(s, TRACK_AUDIO));
    bool due = pts >= s->seg.start_ms + s->target_ms;
    if (!forced && !due)
        return 0;
    bool stale = mux_stale(s);
    int close_ret = close_segment(s, pts, stale);
    if (stale)
        s->next_discontinuity = true;
    /* Even when closing failed, the next segment starts here: a run's muxer must not stay
     * without a file. */
    int ret = start_segment(s, TRACK_VIDEO, p);
    return close_ret < 0 ? close_ret : ret;
}

static int write_video(segmenter_t *s, const media_packet_t *p)
{
    if (!s->slot[TRACK_VIDEO].present)
        return drop(s);
    char why[160];
    size_t size = codec_avc_annexb_size(&s->avc, p->data, p->size, p->is_keyframe, why, sizeof why);
    if (size == 0)
        return reject(s, why);
    int ret = check_clock(s, TRACK_VIDEO, p);
    if (ret == 0 && p->is_keyframe)
        ret = cut_at_keyframe(s, p);
    if (!s->seg.open || !mux_current(s, TRACK_VIDEO))
        return ret < 0 ? ret : drop(s); /* no segment, or waiting for a keyframe: new config */
    /* A buffer per frame rather than one kept per stream: with hundreds of streams, only the
     * few writing at this moment hold one. */
    uint8_t *annexb = malloc(size);
    if (!annexb)
        return fail(s, SEGMENTER_ERR_NOMEM, "out of memory converting a %zu-byte frame", size);
    size_t written = codec_avc_to_annexb(&s->avc, p->data, p->size, p->is_keyframe, annexb);
    int write_ret = write_packet(s, TRACK_VIDEO, p, annexb, written, p->is_keyframe);
    free(annexb);
    return ret < 0 ? ret : write_ret; /* an error closing the last segment is still reported */
}

/* Audio of an audio-only run: every frame is a sync point, so cut on time alone. */
static int cut_audio_only(segmenter_t *s, const media_packet_t *p)
{
    if (!s->seg.open)
        return start_segment(s, TRACK_AUDIO, p);
    int64_t dts, pts;
    timeline_map(s, TRACK_AUDIO, p, &dts, &pts);
    bool changed = !mux_current(s, TRACK_AUDIO);
    if (!changed && pts < s->seg.start_ms + s->target_ms)
        return 0;
    int close_ret = close_segment(s, pts, changed);
    if (changed)
        s->next_discontinuity = true;
    int ret = start_segment(s, TRACK_AUDIO, p);
    return close_ret < 0 ? close_ret : ret;
}

/* MPEG-TS carries AAC as ADTS frames. Given raw frames, libavformat's mpegts muxer would wrap
 * each one through an ADTS muxer of its own, with several allocations per frame.
 * The header is 7 bytes written here. libavformat still gets what it can take as is: a frame a
 * publisher sent with its own ADTS header (its syncword; a raw frame cannot start so), and one
 * whose header needs a PCE. */
static int write_adts(segmenter_t *s, const media_packet_t *p)
{
    uint8_t header[CODEC_ADTS_HEADER_BYTES];
    bool has_adts = p->data[0] == 0xFF && (p->data[1] & 0xF0) == 0xF0;
    if (has_adts || codec_aac_adts_header(&s->aac, p->size, header) == 0)
        return write_packet(s, TRACK_AUDIO, p, p->data, p->size, true);
    uint8_t *frame = malloc(sizeof header + p->size);
    if (!frame)
        return fail(s, SEGMENTER_ERR_NOMEM, "out of memory writing a %zu-byte AAC frame", p->size);
    memcpy(frame, header, sizeof header);
    memcpy(frame + sizeof header, p->data, p->size);
    int ret = write_packet(s, TRACK_AUDIO, p, frame, sizeof header + p->size, true);
    free(frame);
    return ret;
}

static int write_audio(segmenter_t *s, const media_packet_t *p)
{
    if (!s->slot[TRACK_AUDIO].present)
        return drop(s);
    if (p->size < 2 || p->size > CODEC_AAC_MAX_FRAME_BYTES)
        return reject(s, p->size >= 2 ? "AAC frame larger than an ADTS frame can carry"
                                      : "AAC frame shorter than 2 bytes");
    int ret = check_clock(s, TRACK_AUDIO, p);
    if (ret < 0)
        return ret;
    bool audio_only = s->seg.open ? !mux_has(s, TRACK_VIDEO) : !s->slot[TRACK_VIDEO].present;
    if (audio_only)
        ret = cut_audio_only(s, p);
    if (!s->seg.open || !mux_current(s, TRACK_AUDIO))
        return ret < 0 ? ret : drop(s); /* waiting for a keyframe; or joins at the next cut */
    int write_ret = write_adts(s, p);
    return ret < 0 ? ret : write_ret;
}

static int check_packet(segmenter_t *s, const media_packet_t *p)
{
    if (!p)
        return reject(s, "NULL packet");
    if (p->codec != MEDIA_CODEC_H264 && p->codec != MEDIA_CODEC_AAC)
        return reject(s, "unknown codec");
    if (p->size > 0 && !p->data)
        return reject(s, "payload pointer is NULL");
    if (p->size > CODEC_MAX_FRAME_BYTES)
        return reject(s, "packet larger than 16 MiB");
    if (p->is_config)
        return 0;
    if (p->dts_ms < -MAX_TIMESTAMP_MS || p->dts_ms > MAX_TIMESTAMP_MS ||
        p->pts_ms < -MAX_TIMESTAMP_MS || p->pts_ms > MAX_TIMESTAMP_MS)
        return reject(s, "timestamp out of range");
    return 0;
}

int segmenter_write(segmenter_t *s, const media_packet_t *packet)
{
    s->errbuf[0] = '\0';
    if (s->finished)
        return fail(s, SEGMENTER_ERR_STATE, "packet after the end of the broadcast");
    int ret = check_packet(s, packet);
    if (ret < 0)
        return ret;
    bool video = packet->codec == MEDIA_CODEC_H264;
    if (packet->is_config)
        return video ? set_video_config(s, packet) : set_audio_config(s, packet);
    return video ? write_video(s, packet) : write_audio(s, packet);
}

/* ---- lifecycle ---- */

int segmenter_discontinuity(segmenter_t *s)
{
    s->errbuf[0] = '\0';
    int ret = break_timeline(s);
    forget_configs(s);
    if (s->finished) {
        s->finished = false;
        hls_playlist_set_ended(s->playlist, false);
        int write_ret = write_playlist(s);
        if (ret == 0)
            ret = write_ret;
    }
    return ret;
}

int segmenter_finish(segmenter_t *s)
{
    s->errbuf[0] = '\0';
    if (s->finished)
        return 0;
    int ret = s->seg.open ? close_segment(s, NO_NEXT_START, true) : 0;
    s->clock.active = false;
    s->finished = true;
    hls_playlist_set_ended(s->playlist, true);
    int write_ret = write_playlist(s);
    return ret < 0 ? ret : write_ret;
}

int64_t segmenter_next_sequence(const segmenter_t *s)
{
    return s->next_sequence;
}

void segmenter_get_stats(const segmenter_t *s, segmenter_stats_t *out)
{
    *out = s->stats;
}

int segmenter_codecs(const segmenter_t *s, char *out, size_t size)
{
    if (!s->codecs[0] || !out || strlen(s->codecs) >= size)
        return -1;
    memcpy(out, s->codecs, strlen(s->codecs) + 1);
    return 0;
}

const char *segmenter_strerror(const segmenter_t *s)
{
    return s->errbuf;
}

static int check_config(const segmenter_config_t *config, int64_t *target_ms, char *err,
                        size_t err_size)
{
    struct stat st;
    if (!config || !config->dir || !config->dir[0]) {
        snprintf(err, err_size, "segmenter: no directory given");
        return -1;
    }
    if (strlen(config->dir) >= DIR_MAX) {
        snprintf(err, err_size, "segmenter: directory path too long");
        return -1;
    }
    if (stat(config->dir, &st) != 0) {
        snprintf(err, err_size, "segmenter: cannot use directory %s: %s", config->dir,
                 strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, err_size, "segmenter: %s is not a directory", config->dir);
        return -1;
    }
    double target = config->target_duration_s > 0 ? config->target_duration_s : 0;
    *target_ms = target > 0 ? llround(target * 1000.0) : DEFAULT_TARGET_MS;
    if (isnan(config->target_duration_s) || *target_ms < MIN_TARGET_MS ||
        *target_ms > MAX_TARGET_MS || config->window_segments < 0 || config->first_sequence < 0) {
        snprintf(err, err_size,
                 "segmenter: target duration, window or first sequence out of range");
        return -1;
    }
    return 0;
}

segmenter_t *segmenter_new(const segmenter_config_t *config, const segmenter_callbacks_t *callbacks,
                           char *err, size_t err_size)
{
    char scratch[8];
    if (!err || err_size == 0) {
        err = scratch;
        err_size = sizeof scratch;
    }
    int64_t target_ms;
    if (check_config(config, &target_ms, err, err_size) < 0)
        return NULL;
    segmenter_t *s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    size_t len = strlen(config->dir);
    while (len > 1 && config->dir[len - 1] == '/')
        len--;
    s->path_size = len + NAME_ROOM;
    s->dir = strndup(config->dir, len);
    s->playlist_path = malloc(s->path_size);
    s->tmp_path = malloc(s->path_size);
    s->path = malloc(s->path_size);
    if (!s->dir || !s->playlist_path || !s->tmp_path || !s->path)
        goto nomem;
    snprintf(s->playlist_path, s->path_size, "%s/index.m3u8", s->dir);
    s->target_ms = target_ms;
    if (callbacks)
        s->callbacks = *callbacks;
    s->playlist = hls_playlist_new(config->window_segments, (int)((target_ms + 999) / 1000));
    s->packet = av_packet_alloc();
    if (!s->playlist || !s->packet)
        goto nomem;
    s->mux.stream[TRACK_VIDEO] = s->mux.stream[TRACK_AUDIO] = -1;
    s->next_sequence = config->first_sequence;
    s->next_discontinuity = config->first_sequence > 0;
    return s;
nomem:
    snprintf(err, err_size, "segmenter: out of memory");
    segmenter_free(s);
    return NULL;
}

void segmenter_free(segmenter_t *s)
{
    if (!s)
        return;
    ts_mux_writer_clear(&s->ts);
    forget_configs(s);
    hls_playlist_free(s->playlist);
    av_packet_free(&s->packet);
    free(s->dir);
    free(s->playlist_path);
    free(s->tmp_path);
    free(s->path);
    free(s);
}
