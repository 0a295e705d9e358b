/* Reading segment files back (see segment_reader.h). */
#include "media/segment_reader.h"

#include <stdio.h>
#include <string.h>

#include <libavutil/channel_layout.h>

#include "media/codec.h"
#include "util/errbuf.h"
#include "util/fs.h"

static int fail(char *err, size_t err_size, const char *what, const char *path, int av_error)
{
    char text[128];
    if (av_strerror(av_error, text, sizeof text) < 0)
        snprintf(text, sizeof text, "libavformat error %d", av_error);
    return errbuf_set(err, err_size, -1, "%s %s: %s", what, path, text);
}

enum { MAX_PROBED_STREAMS = 16 };

static int first_stream(const AVFormatContext *in, enum AVMediaType type)
{
    for (unsigned i = 0; i < in->nb_streams; i++) {
        if (in->streams[i]->codecpar->codec_type == type)
            return (int)i;
    }
    return -1;
}

int segment_reader_open(segment_reader_t *r, const char *path, char *err, size_t err_size)
{
    *r = (segment_reader_t){.video = -1, .audio = -1};
    char url[sizeof r->path + 8];
    if (fs_path_format(r->path, sizeof r->path, "%s", path) < 0 ||
        fs_path_format(url, sizeof url, "file:%s", path) < 0)
        return errbuf_set(err, err_size, -1, "path too long: %s", path);
    int ret = avformat_open_input(&r->in, url, av_find_input_format("mpegts"), NULL);
    if (ret < 0) {
        r->in = NULL;
        return fail(err, err_size, "cannot open", path, ret);
    }
    r->video = first_stream(r->in, AVMEDIA_TYPE_VIDEO);
    r->audio = first_stream(r->in, AVMEDIA_TYPE_AUDIO);
    return 0;
}

int segment_reader_probe(segment_reader_t *r, char *err, size_t err_size)
{
    /* Probing decodes a few frames: decoder threads (one set per stream, each with its own
     * frame buffers) would cost more than they save. */
    AVDictionary *options[MAX_PROBED_STREAMS] = {0};
    unsigned probed = r->in->nb_streams < MAX_PROBED_STREAMS ? r->in->nb_streams : 0;
    for (unsigned i = 0; i < probed; i++)
        av_dict_set(&options[i], "threads", "1", 0);
    int ret = avformat_find_stream_info(r->in, probed > 0 ? options : NULL);
    for (unsigned i = 0; i < probed; i++)
        av_dict_free(&options[i]);
    if (ret < 0)
        return fail(err, err_size, "cannot probe", r->path, ret);
    /* Probing may find streams the PMT announced late. */
    r->video = first_stream(r->in, AVMEDIA_TYPE_VIDEO);
    r->audio = first_stream(r->in, AVMEDIA_TYPE_AUDIO);
    return 0;
}

static const int adts_rates[16] = {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050,
                                   16000, 12000, 11025, 8000,  7350,  0,     0,     0};

/* The AAC stream's parameters from the ADTS header that opens pkt; false when it has none. */
static bool params_from_adts(AVCodecParameters *par, const AVPacket *pkt)
{
    const uint8_t *h = pkt->data;
    if (pkt->size < CODEC_ADTS_HEADER_BYTES || h[0] != 0xff || (h[1] & 0xf0) != 0xf0)
        return false;
    int rate = adts_rates[(h[2] >> 2) & 0x0f];
    int channels = ((h[2] & 0x01) << 2) | (h[3] >> 6);
    if (rate == 0)
        return false;
    par->sample_rate = rate;
    par->profile = (h[2] >> 6) & 0x03; /* FF_PROFILE_AAC_* = object type - 1 */
    av_channel_layout_uninit(&par->ch_layout);
    av_channel_layout_default(&par->ch_layout, channels > 0 ? channels : 2);
    par->frame_size = CODEC_AAC_FRAME_SAMPLES;
    return true;
}

/* Times an AAC frame that shares its PES packet with the frames before it. */
static void time_audio(segment_reader_t *r, AVPacket *pkt)
{
    AVStream *st = r->in->streams[r->audio];
    AVCodecParameters *par = st->codecpar;
    if (par->codec_id != AV_CODEC_ID_AAC)
        return;
    if (par->sample_rate <= 0 && !params_from_adts(par, pkt))
        return;
    int samples = par->frame_size > 0 ? par->frame_size : CODEC_AAC_FRAME_SAMPLES;
    int64_t frame = av_rescale_q(samples, (AVRational){1, par->sample_rate}, st->time_base);
    ts_mux_audio_fill(&r->audio_timing, pkt, frame);
}

int segment_reader_read(segment_reader_t *r, AVPacket *pkt, char *err, size_t err_size)
{
    for (;;) {
        int ret = av_read_frame(r->in, pkt);
        if (ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return fail(err, err_size, "cannot read", r->path, ret);
        /* A stream the PMT announced mid-file may be the first of its kind. */
        if (r->video < 0)
            r->video = first_stream(r->in, AVMEDIA_TYPE_VIDEO);
        if (r->audio < 0)
            r->audio = first_stream(r->in, AVMEDIA_TYPE_AUDIO);
        if (pkt->stream_index == r->audio) {
            time_audio(r, pkt);
            return 1;
        }
        if (pkt->stream_index == r->video)
            return 1;
        av_packet_unref(pkt);
    }
}

void segment_reader_close(segment_reader_t *r)
{
    avformat_close_input(&r->in);
    r->video = r->audio = -1;
}
