/* Shared by the unit tests of the live registry and of the pipeline: a data directory with a real
 * store and a user, a 5 s FLV made by the ffmpeg CLI, and helpers that feed it to a pipeline as
 * RTMP ingest would and check what the store and the disk say. Header-only, like
 * media_test_util.h; every function is static and may go unused. */
#ifndef STREAMD_TESTS_MEDIA_LIVE_TEST_UTIL_H
#define STREAMD_TESTS_MEDIA_LIVE_TEST_UTIL_H

#include <criterion/criterion.h>
#include <libavformat/avformat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "media/live.h"
#include "media/pipeline.h"
#include "util/clock.h"
#include "util/ids.h"

typedef struct live_fixture {
    char dir[64];
    char rec_dir[80];     /* dir/rec: the recordings */
    live_config_t config; /* 2 s segments, 10 listed, veryfast, a 2 s reconnect window */
    store_t *store;
    store_user_t user;
    char flv[128];
} live_fixture_t;

static live_fixture_t fx;

__attribute__((unused)) static void make_stream(store_stream_t *s, const char *name, bool suspended)
{
    memset(s, 0, sizeof *s);
    cr_assert_eq(ids_uuid_v4(s->id), 0);
    cr_assert_eq(ids_stream_key(s->id, s->stream_key), 0);
    cr_assert_eq(ids_playback_id(s->id, s->playback_id), 0);
    memcpy(s->user_id, fx.user.id, STORE_ID_SIZE);
    memcpy(s->project_id, fx.user.project_id, STORE_ID_SIZE);
    s->name = strdup(name);
    s->created_at_ms = clock_now_ms();
    s->suspended = suspended;
    s->is_healthy = -1;
    s->profiles_json = strdup("[]");
    cr_assert_eq(store_stream_insert(fx.store, s), STORE_OK);
}

/* The data directory, the store and its user (no media). */
__attribute__((unused)) static void live_fixture_setup_store(void)
{
    snprintf(fx.dir, sizeof fx.dir, "/tmp/streamd-live-XXXXXX");
    cr_assert_not_null(mkdtemp(fx.dir));
    snprintf(fx.rec_dir, sizeof fx.rec_dir, "%s/rec", fx.dir);
    fx.config = (live_config_t){
        .pipeline = {.data_dir = fx.dir,
                     .recordings_dir = fx.rec_dir,
                     .node_id = "node-test",
                     .segment_seconds = 2.0,
                     .hls_window_segments = 10,
                     .x264_preset = "veryfast"},
        .reconnect_window_s = 2,
        .node_timeout_s = 30,
    };
    char db[96], err[256];
    snprintf(db, sizeof db, "%s/streamd.db", fx.dir);
    fx.store = store_open(db, err, sizeof err);
    cr_assert_not_null(fx.store, "%s", err);
    memset(&fx.user, 0, sizeof fx.user);
    fx.user.name = strdup("tester");
    cr_assert_eq(store_user_create(fx.store, &fx.user), STORE_OK);
}

/* The data directory, the store and its user, and the FLV. */
__attribute__((unused)) static void live_fixture_setup(void)
{
    live_fixture_setup_store();
    snprintf(fx.flv, sizeof fx.flv, "%s/in.flv", fx.dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i "
             "sine=frequency=440:sample_rate=44100 -t 5 -c:v libx264 -preset ultrafast -g 30 "
             "-c:a aac -f flv %s",
             fx.flv);
    cr_assert_eq(system(cmd), 0, "ffmpeg failed");
}

__attribute__((unused)) static void live_fixture_teardown(void)
{
    store_user_clear(&fx.user);
    store_close(fx.store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", fx.dir);
}

static void send_config(pipeline_t *p, media_codec_t codec, const AVCodecParameters *par)
{
    media_packet_t config = {.codec = codec,
                             .is_config = true,
                             .data = par->extradata,
                             .size = (size_t)par->extradata_size};
    cr_assert_eq(pipeline_media(p, &config), 0);
}

/* Feeds the whole FLV as one publish; returns the bytes of media payload fed. */
__attribute__((unused)) static uint64_t feed(pipeline_t *p)
{
    AVFormatContext *in = NULL;
    cr_assert_eq(avformat_open_input(&in, fx.flv, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(in, NULL), 0);
    int video = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int audio = av_find_best_stream(in, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    send_config(p, MEDIA_CODEC_H264, in->streams[video]->codecpar);
    send_config(p, MEDIA_CODEC_AAC, in->streams[audio]->codecpar);
    AVPacket *pkt = av_packet_alloc();
    uint64_t bytes = 0;
    while (av_read_frame(in, pkt) >= 0) {
        AVStream *st = in->streams[pkt->stream_index];
        bool is_video = pkt->stream_index == video;
        media_packet_t packet = {
            .codec = is_video ? MEDIA_CODEC_H264 : MEDIA_CODEC_AAC,
            .is_keyframe = is_video && (pkt->flags & AV_PKT_FLAG_KEY),
            .dts_ms = av_rescale_q(pkt->dts, st->time_base, (AVRational){1, 1000}),
            .pts_ms = av_rescale_q(pkt->pts, st->time_base, (AVRational){1, 1000}),
            .data = pkt->data,
            .size = (size_t)pkt->size,
        };
        cr_assert_eq(pipeline_media(p, &packet), 0);
        pipeline_bytes(p, (uint64_t)pkt->size);
        bytes += (uint64_t)pkt->size;
        cr_assert_not(pipeline_poll(p));
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&in);
    return bytes;
}

__attribute__((unused)) static void latest_session(const store_stream_t *s, store_session_t *out)
{
    cr_assert_eq(store_session_get_latest(fx.store, s->id, out), STORE_OK);
}

/* Sum of the sizes of the .ts files of the stream's source rendition. */
__attribute__((unused)) static int64_t segment_bytes(const store_stream_t *s, int *count)
{
    int64_t total = 0;
    *count = 0;
    for (int i = 0; i < 100; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/live/%s/source/%05d.ts", fx.dir, s->playback_id, i);
        struct stat st;
        if (stat(path, &st) == 0) {
            total += st.st_size;
            (*count)++;
        }
    }
    return total;
}

#endif
