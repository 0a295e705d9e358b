/* MPEG-TS muxing rules and the segment file writer shared by the segmenter and the transcoder
 * (see ts_mux.h). */
#include "media/ts_mux.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/avutil.h>
#include <libavutil/opt.h>

#include "media/file_io.h"
#include "util/errbuf.h"
#include "util/fs.h"

bool ts_mux_audio_continues(ts_mux_audio_run_t *run, int64_t dts, int64_t duration)
{
    bool continues = run->started && llabs(dts - run->next_dts) <= TS_MUX_AUDIO_SLACK;
    /* The expected dts accumulates from the run's first frame, so a clock that drifts a little
     * on every frame still breaks the run once it is off by more than the slack in total. */
    run->next_dts = (continues ? run->next_dts : dts) + duration;
    run->started = duration > 0;
    return continues;
}

void ts_mux_audio_fill(ts_mux_audio_reader_t *reader, AVPacket *pkt, int64_t frame_duration)
{
    if (pkt->duration <= 0 && frame_duration > 0)
        pkt->duration = frame_duration;
    if (pkt->pts == AV_NOPTS_VALUE && pkt->dts == AV_NOPTS_VALUE && reader->have_next)
        pkt->pts = pkt->dts = reader->next_dts;
    int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    reader->have_next = dts != AV_NOPTS_VALUE && pkt->duration > 0;
    reader->next_dts = reader->have_next ? dts + pkt->duration : 0;
}

/* ---- the segment file writer ---- */

static int fail(int code, char *err, size_t err_size, const char *what, const char *path,
                int av_error)
{
    char text[128];
    if (av_strerror(av_error, text, sizeof text) < 0)
        snprintf(text, sizeof text, "libavformat error %d", av_error);
    if (path)
        errbuf_set(err, err_size, 0, "%s %s: %s", what, path, text);
    else
        errbuf_set(err, err_size, 0, "%s: %s", what, text);
    return code;
}

static int open_file(ts_mux_writer_t *w, const char *tmp_path, AVIOContext **pb, char *err,
                     size_t err_size)
{
    int n = snprintf(w->tmp_path, sizeof w->tmp_path, "%s", tmp_path);
    if (n < 0 || (size_t)n >= sizeof w->tmp_path)
        return fail(TS_MUX_ERR_IO, err, err_size, "cannot create", tmp_path, AVERROR(ENAMETOOLONG));
    int ret = file_io_open(pb, w->tmp_path, &w->io_buffer);
    if (ret < 0)
        return fail(TS_MUX_ERR_IO, err, err_size, "cannot create", w->tmp_path, ret);
    return 0;
}

/* Closes and removes the open file, if any. */
static void discard_file(ts_mux_writer_t *w)
{
    if (!w->file_open)
        return;
    file_io_close(&w->ctx->pb, &w->io_buffer);
    unlink(w->tmp_path);
    w->file_open = false;
}

int ts_mux_open_run(ts_mux_writer_t *w, const char *tmp_path, char *err, size_t err_size)
{
    ts_mux_abort(w);
    AVIOContext *pb = NULL;
    int ret = open_file(w, tmp_path, &pb, err, err_size);
    if (ret < 0)
        return ret;
    ret = avformat_alloc_output_context2(&w->ctx, NULL, "mpegts", NULL);
    if (ret < 0 || !w->ctx) {
        file_io_close(&pb, &w->io_buffer);
        unlink(w->tmp_path);
        w->ctx = NULL;
        return fail(TS_MUX_ERR_MUX, err, err_size, "cannot create the mpegts muxer", NULL,
                    ret < 0 ? ret : AVERROR(ENOMEM));
    }
    w->ctx->pb = pb;
    w->file_open = true;
    w->audio_run = (ts_mux_audio_run_t){0};
    return 0;
}

int ts_mux_start(ts_mux_writer_t *w, bool with_video, char *err, size_t err_size)
{
    w->ctx->max_delay = with_video ? TS_MUX_DELAY_US : 0;
    AVDictionary *options = NULL;
    av_dict_set(&options, "mpegts_copyts", "1", 0);
    if (!with_video)
        av_dict_set(&options, "pcr_period", "80", 0);
    int ret = avformat_write_header(w->ctx, &options);
    av_dict_free(&options);
    if (ret < 0) {
        ts_mux_abort(w);
        return fail(TS_MUX_ERR_MUX, err, err_size, "mpegts muxer refused the streams", NULL, ret);
    }
    return 0;
}

int ts_mux_next_file(ts_mux_writer_t *w, const char *tmp_path, char *err, size_t err_size)
{
    discard_file(w);
    AVIOContext *pb = NULL;
    int ret = open_file(w, tmp_path, &pb, err, err_size);
    if (ret < 0)
        return ret;
    w->ctx->pb = pb;
    w->file_open = true;
    ret = av_opt_set(w->ctx->priv_data, "mpegts_flags", "+resend_headers", 0);
    if (ret < 0) {
        discard_file(w);
        return fail(TS_MUX_ERR_MUX, err, err_size, "cannot re-send PAT/PMT", NULL, ret);
    }
    return 0;
}

int ts_mux_write(ts_mux_writer_t *w, AVPacket *pkt)
{
    return av_write_frame(w->ctx, pkt);
}

int ts_mux_write_audio(ts_mux_writer_t *w, AVPacket *pkt, int64_t duration)
{
    bool continues =
        pkt->dts != AV_NOPTS_VALUE && ts_mux_audio_continues(&w->audio_run, pkt->dts, duration);
    int ret = continues ? 0 : av_write_frame(w->ctx, NULL); /* the frames before keep their PES */
    return ret < 0 ? ret : av_write_frame(w->ctx, pkt);
}

int ts_mux_commit(ts_mux_writer_t *w, const char *path, bool end_run, uint64_t *bytes, char *err,
                  size_t err_size)
{
    AVFormatContext *ctx = w->ctx;
    int ret = end_run ? av_write_trailer(ctx) : av_write_frame(ctx, NULL);
    if (ret >= 0 && ctx->pb->error < 0)
        ret = ctx->pb->error;
    if (ret < 0) {
        fail(TS_MUX_ERR_IO, err, err_size, "cannot write", w->tmp_path, ret);
        ts_mux_abort(w);
        return TS_MUX_ERR_IO;
    }
    w->file_open = false;
    ret = file_io_close(&ctx->pb, &w->io_buffer);
    if (ret < 0) {
        fail(TS_MUX_ERR_IO, err, err_size, "cannot close", w->tmp_path, ret);
        unlink(w->tmp_path);
        ts_mux_abort(w);
        return TS_MUX_ERR_IO;
    }
    if (end_run)
        ts_mux_abort(w);
    if (fs_rename_into_place(w->tmp_path, path, err, err_size) != 0)
        return TS_MUX_ERR_IO;
    struct stat st;
    if (stat(path, &st) != 0) {
        errbuf_set(err, err_size, 0, "cannot read %s: %s", path, strerror(errno));
        return TS_MUX_ERR_IO;
    }
    *bytes = (uint64_t)st.st_size;
    return 0;
}

void ts_mux_abort(ts_mux_writer_t *w)
{
    if (!w->ctx)
        return;
    discard_file(w);
    w->ctx->pb = NULL;
    avformat_free_context(w->ctx);
    w->ctx = NULL;
}

void ts_mux_writer_clear(ts_mux_writer_t *w)
{
    ts_mux_abort(w);
    file_io_buffer_free(&w->io_buffer);
}
