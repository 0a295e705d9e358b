/* MP4 remux of a recording's source segments (stream copy, +faststart), with the timeline rebased
 * at every discontinuity so it lasts the sum of the #EXTINF; see mp4_remux.h. */
#include "media/mp4_remux.h"

#include "media/hls.h"
#include "media/segment_reader.h"
#include "util/errbuf.h"
#include "util/fs.h"
#include "util/log.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "recorder"

#define REBASE_TOLERANCE_US 500000 /* a run off its expected start by more is rebased */
#define HEAD_PACKETS_MAX 512       /* packets read ahead to find a segment's first frame */
#define MAP_STREAMS 16             /* input streams of a segment looked at by the remux */

static const AVRational us_time_base = {1, 1000000};

static const char *av_error_text(int code, char *buf, size_t size)
{
    if (av_strerror(code, buf, size) < 0)
        snprintf(buf, size, "libavformat error %d", code);
    return buf;
}

/* ---- the remux ---- */

enum { TRACK_VIDEO, TRACK_AUDIO, TRACK_COUNT };

typedef struct remux_track {
    int out_index;     /* output stream, -1 = none */
    AVPacket *pending; /* held back one packet, to give it the duration up to the next */
    bool have_pending, have_last;
    int64_t last_dts;   /* output time base: the last dts written (strictly increasing) */
    int64_t last_delta; /* output time base: the last frame duration, for the final packet */
} remux_track_t;

typedef struct remux {
    AVFormatContext *out;
    const char *tmp_path;
    remux_track_t track[TRACK_COUNT];
    bool anchored;     /* a segment with frames set offset_us */
    int64_t offset_us; /* added to a segment's input timestamps (microseconds) */
    double elapsed_s;  /* #EXTINF sum of the segments before the current one */
    char *err;
    size_t err_size;
} remux_t;

/* Codec parameters of the first segments that have video and audio: the MP4's tracks. */
static int find_track_params(const char *dir, const mp4_remux_segment_t *segments, size_t count,
                             AVCodecParameters *params[TRACK_COUNT], char *err, size_t err_size)
{
    for (size_t i = 0; i < count && !(params[0] && params[1]); i++) {
        char path[PATH_MAX], uri[HLS_URI_MAX];
        hls_segment_name(segments[i].number, uri, HLS_URI_MAX);
        if (fs_path_format(path, sizeof path, "%s/%s", dir, uri) < 0)
            return errbuf_set(err, err_size, MP4_REMUX_ERR_MEDIA, "path too long: %s", dir);
        segment_reader_t reader;
        if (segment_reader_open(&reader, path, err, err_size) < 0)
            return MP4_REMUX_ERR_MEDIA;
        bool probed = false;
        int ret = 0;
        for (int t = 0; t < TRACK_COUNT && ret == 0; t++) {
            int index = t == TRACK_VIDEO ? reader.video : reader.audio;
            if (params[t] || index < 0)
                continue;
            if (!probed && segment_reader_probe(&reader, NULL, 0) == 0)
                probed = true;
            params[t] = avcodec_parameters_alloc();
            if (!params[t] ||
                avcodec_parameters_copy(params[t], reader.in->streams[index]->codecpar) < 0)
                ret = errbuf_set(err, err_size, MP4_REMUX_ERR_NOMEM, "out of memory");
        }
        segment_reader_close(&reader);
        if (ret < 0)
            return ret;
    }
    if (!params[0] && !params[1])
        return errbuf_set(err, err_size, MP4_REMUX_ERR_MEDIA, "no audio or video in the source");
    return 0;
}

static int remux_add_streams(remux_t *m, AVCodecParameters *params[TRACK_COUNT])
{
    for (int t = 0; t < TRACK_COUNT; t++) {
        m->track[t].out_index = -1;
        if (!params[t])
            continue;
        AVStream *st = avformat_new_stream(m->out, NULL);
        if (!st || avcodec_parameters_copy(st->codecpar, params[t]) < 0)
            return errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_NOMEM, "out of memory");
        st->codecpar->codec_tag = 0; /* MPEG-TS stream types mean nothing in MP4 */
        st->time_base = t == TRACK_VIDEO || params[t]->sample_rate <= 0
                            ? (AVRational){1, 90000}
                            : (AVRational){1, params[t]->sample_rate};
        m->track[t].out_index = st->index;
        m->track[t].pending = av_packet_alloc();
        if (!m->track[t].pending)
            return errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* Creates the muxer writing tmp_path with the tracks of params. */
static int remux_open(remux_t *m, AVCodecParameters *params[TRACK_COUNT])
{
    char url[PATH_MAX + 8], text[128];
    if (fs_path_format(url, sizeof url, "file:%s", m->tmp_path) < 0)
        return errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_IO, "path too long: %s", m->tmp_path);
    int ret = avformat_alloc_output_context2(&m->out, NULL, "mp4", url);
    if (ret < 0 || !m->out)
        return errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_MEDIA,
                          "cannot create the MP4 muxer: %s", av_error_text(ret, text, sizeof text));
    ret = remux_add_streams(m, params);
    if (ret < 0)
        return ret;
    ret = avio_open(&m->out->pb, url, AVIO_FLAG_WRITE);
    if (ret < 0)
        return errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_IO, "cannot create %s: %s",
                          m->tmp_path, av_error_text(ret, text, sizeof text));
    AVDictionary *options = NULL;
    av_dict_set(&options, "movflags", "+faststart", 0); /* moov first: players start at once */
    ret = avformat_write_header(m->out, &options);
    av_dict_free(&options);
    if (ret < 0)
        return errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_MEDIA,
                          "MP4 muxer refused the source streams: %s",
                          av_error_text(ret, text, sizeof text));
    return 0;
}

/* Writes a packet; a write error of the file is an I/O error (disk full), the rest media. */
static int remux_write(remux_t *m, AVPacket *pkt)
{
    int ret = av_interleaved_write_frame(m->out, pkt);
    char text[128];
    if (m->out->pb && m->out->pb->error < 0)
        return errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_IO, "cannot write %s: %s", m->tmp_path,
                          av_error_text(m->out->pb->error, text, sizeof text));
    if (ret < 0)
        return errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_MEDIA,
                          "MP4 muxer refused a packet: %s", av_error_text(ret, text, sizeof text));
    return 0;
}

/* Passes on the held-back packet of a track, its duration now known, and holds pkt (when not
 * NULL) instead. */
static int remux_hold(remux_t *m, remux_track_t *track, AVPacket *pkt)
{
    int ret = 0;
    if (track->have_pending) {
        AVPacket *held = track->pending;
        if (pkt && pkt->dts > held->dts && held->duration <= 0)
            held->duration = pkt->dts - held->dts;
        if (held->duration <= 0)
            held->duration = track->last_delta;
        if (held->duration > 0)
            track->last_delta = held->duration;
        ret = remux_write(m, held); /* takes the reference */
        track->have_pending = false;
    }
    if (pkt && ret == 0) {
        av_packet_move_ref(track->pending, pkt);
        track->have_pending = true;
    }
    return ret;
}

/* Maps a segment's packet onto the MP4 timeline and writes (holds) it; drops packets of streams
 * the MP4 has no track for and packets without timestamps. */
static int remux_packet(remux_t *m, const AVFormatContext *in, const int map[MAP_STREAMS],
                        AVPacket *pkt)
{
    int t = pkt->stream_index >= 0 && pkt->stream_index < MAP_STREAMS ? map[pkt->stream_index] : -1;
    if (t < 0)
        return 0;
    remux_track_t *track = &m->track[t];
    AVRational in_tb = in->streams[pkt->stream_index]->time_base;
    AVRational out_tb = m->out->streams[track->out_index]->time_base;
    if (pkt->dts == AV_NOPTS_VALUE && pkt->pts == AV_NOPTS_VALUE)
        return 0;
    int64_t offset = av_rescale_q(m->offset_us, us_time_base, out_tb);
    int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    dts = av_rescale_q(dts, in_tb, out_tb) + offset;
    pts = av_rescale_q(pts, in_tb, out_tb) + offset;
    /* The muxer needs strictly increasing dts; a run's edge may overlap by a frame. The first
     * packets may be negative (see remux_rebase). */
    int64_t floor_dts = track->have_last ? track->last_dts + 1 : INT64_MIN;
    if (dts < floor_dts) {
        pts += floor_dts - dts;
        dts = floor_dts;
    }
    pkt->dts = dts;
    pkt->pts = pts < dts ? dts : pts;
    pkt->duration = av_rescale_q(pkt->duration, in_tb, out_tb);
    pkt->stream_index = track->out_index;
    pkt->pos = -1;
    track->last_dts = dts;
    track->have_last = true;
    return remux_hold(m, track, pkt);
}

/* Where a segment starts, in input microseconds: the pts of its first video frame (its first
 * audio frame without video), which is where the segmenter measured its #EXTINF from. */
static bool segment_start_us(const AVFormatContext *in, AVPacket **head, size_t count,
                             int main_stream, int64_t *start_us)
{
    for (size_t i = 0; i < count; i++) {
        const AVPacket *pkt = head[i];
        if (pkt->stream_index == main_stream && pkt->pts != AV_NOPTS_VALUE) {
            AVRational tb = in->streams[pkt->stream_index]->time_base;
            *start_us = av_rescale_q(pkt->pts, tb, us_time_base);
            return true;
        }
    }
    return false;
}

/* Sets the offset of a segment so that the MP4 timeline is the sum of the #EXTINF: the first
 * segment's first frame is at 0 (B-frames and audio a little earlier get negative times, which
 * the MP4 edit list hides), and a discontinuity, or a start off where the timeline expects it,
 * rebases its run to begin where the segments before it end. */
static void remux_rebase(remux_t *m, const mp4_remux_segment_t *segment, int64_t start_us)
{
    int64_t expected_us = llround(m->elapsed_s * 1e6);
    int64_t drift = start_us + m->offset_us - expected_us;
    if (!m->anchored || segment->discontinuity || drift > REBASE_TOLERANCE_US ||
        drift < -REBASE_TOLERANCE_US)
        m->offset_us = expected_us - start_us;
    m->anchored = true;
}

/* Reads packets into head until the segment's first main frame is among them. A file cut short
 * (a crash) ends the segment where it can no longer be read. */
static size_t read_head(segment_reader_t *reader, AVPacket **head, int main_stream)
{
    size_t count = 0;
    while (count < HEAD_PACKETS_MAX) {
        AVPacket *pkt = av_packet_alloc();
        if (!pkt || segment_reader_read(reader, pkt, NULL, 0) <= 0) {
            av_packet_free(&pkt);
            break;
        }
        head[count++] = pkt;
        if (pkt->stream_index == main_stream)
            break;
    }
    return count;
}

static int remux_rest(remux_t *m, segment_reader_t *reader, const int map[MAP_STREAMS])
{
    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_NOMEM, "out of memory");
    int ret = 0;
    while (ret == 0 && segment_reader_read(reader, pkt, NULL, 0) > 0) {
        ret = remux_packet(m, reader->in, map, pkt);
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    return ret;
}

/* Input stream -> MP4 track: the first video and the first audio stream of the segment. */
static void map_streams(const remux_t *m, const segment_reader_t *reader, int map[MAP_STREAMS])
{
    for (int i = 0; i < MAP_STREAMS; i++)
        map[i] = -1;
    int video = reader->video, audio = reader->audio;
    if (video >= 0 && video < MAP_STREAMS && m->track[TRACK_VIDEO].out_index >= 0)
        map[video] = TRACK_VIDEO;
    if (audio >= 0 && audio < MAP_STREAMS && m->track[TRACK_AUDIO].out_index >= 0)
        map[audio] = TRACK_AUDIO;
}

static int remux_segment(remux_t *m, const char *path, const mp4_remux_segment_t *segment)
{
    segment_reader_t reader;
    if (segment_reader_open(&reader, path, m->err, m->err_size) < 0)
        return MP4_REMUX_ERR_MEDIA;
    int map[MAP_STREAMS];
    map_streams(m, &reader, map);
    int main_stream = reader.video >= 0 ? reader.video : reader.audio;
    AVPacket *head[HEAD_PACKETS_MAX];
    size_t count = read_head(&reader, head, main_stream);
    int64_t start_us = 0;
    bool found = segment_start_us(reader.in, head, count, main_stream, &start_us);
    int ret = 0;
    if (found)
        remux_rebase(m, segment, start_us);
    else
        log_warn(LOG_MODULE, "%s: no media frame found, left out of the MP4", path);
    for (size_t i = 0; i < count; i++) {
        if (ret == 0 && found)
            ret = remux_packet(m, reader.in, map, head[i]);
        av_packet_free(&head[i]);
    }
    if (ret == 0 && found)
        ret = remux_rest(m, &reader, map);
    segment_reader_close(&reader);
    m->elapsed_s += segment->duration_s;
    return ret;
}

static int remux_finish(remux_t *m)
{
    for (int t = 0; t < TRACK_COUNT; t++) {
        if (m->track[t].out_index >= 0) {
            int ret = remux_hold(m, &m->track[t], NULL);
            if (ret < 0)
                return ret;
        }
    }
    char text[128];
    int ret = av_write_trailer(m->out);
    if (ret < 0 || (m->out->pb && m->out->pb->error < 0))
        return errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_IO, "cannot finish %s: %s",
                          m->tmp_path,
                          av_error_text(ret < 0 ? ret : m->out->pb->error, text, sizeof text));
    ret = avio_closep(&m->out->pb);
    if (ret < 0)
        return errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_IO, "cannot close %s: %s", m->tmp_path,
                          av_error_text(ret, text, sizeof text));
    return 0;
}

static void remux_free(remux_t *m)
{
    for (int t = 0; t < TRACK_COUNT; t++)
        av_packet_free(&m->track[t].pending);
    if (m->out) {
        if (m->out->pb)
            avio_closep(&m->out->pb);
        avformat_free_context(m->out);
    }
}

static int remux_all(remux_t *m, const char *segment_dir, const mp4_remux_segment_t *segments,
                     size_t count)
{
    AVCodecParameters *params[TRACK_COUNT] = {NULL, NULL};
    int ret = find_track_params(segment_dir, segments, count, params, m->err, m->err_size);
    if (ret == 0)
        ret = remux_open(m, params);
    for (int t = 0; t < TRACK_COUNT; t++)
        avcodec_parameters_free(&params[t]);
    for (size_t i = 0; i < count && ret == 0; i++) {
        char path[PATH_MAX], uri[HLS_URI_MAX];
        hls_segment_name(segments[i].number, uri, HLS_URI_MAX);
        if (fs_path_format(path, sizeof path, "%s/%s", segment_dir, uri) < 0)
            return errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_MEDIA, "path too long: %s",
                              segment_dir);
        ret = remux_segment(m, path, &segments[i]);
    }
    if (ret == 0 && !m->anchored)
        ret = errbuf_set(m->err, m->err_size, MP4_REMUX_ERR_MEDIA, "no media frames in the source");
    return ret == 0 ? remux_finish(m) : ret;
}

int mp4_remux_write(const char *segment_dir, const mp4_remux_segment_t *segments, size_t count,
                    const char *path, char *err, size_t err_size)
{
    char tmp[PATH_MAX];
    if (fs_path_format(tmp, sizeof tmp, "%s%s", path, FS_TMP_SUFFIX) < 0)
        return errbuf_set(err, err_size, MP4_REMUX_ERR_IO, "path too long: %s", path);
    remux_t m = {.tmp_path = tmp, .err = err, .err_size = err_size};
    int ret = remux_all(&m, segment_dir, segments, count);
    remux_free(&m);
    if (ret == 0 && fs_rename_into_place(tmp, path, err, err_size) < 0)
        ret = MP4_REMUX_ERR_IO;
    else if (ret < 0)
        unlink(tmp);
    return ret;
}
