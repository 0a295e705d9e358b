/* Unit tests for the live registry: session lifecycle and accounting against a real store and
 * real media (an FLV made by the ffmpeg CLI, demuxed and fed as RTMP ingest would). */
#include <criterion/criterion.h>
#include <libavformat/avformat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "media/live.h"
#include "util/clock.h"
#include "util/ids.h"

typedef struct fixture {
    char dir[64];
    config_t config;
    store_t *store;
    live_t *live;
    store_user_t user;
    char flv[128];
} fixture_t;

static fixture_t fx;

static void make_stream(store_stream_t *s, const char *name, bool suspended)
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

static void setup(void)
{
    snprintf(fx.dir, sizeof fx.dir, "/tmp/streamd-live-XXXXXX");
    cr_assert_not_null(mkdtemp(fx.dir));
    char data_flag[96];
    snprintf(data_flag, sizeof data_flag, "--data=%s", fx.dir);
    char *argv[] = {"streamd", data_flag, "--reconnect-window", "2", NULL};
    char err[256];
    cr_assert_eq(config_parse(&fx.config, 4, argv, NULL, err, sizeof err), 0, "%s", err);
    fx.store = store_open(fx.config.db_url, err, sizeof err);
    cr_assert_not_null(fx.store, "%s", err);
    memset(&fx.user, 0, sizeof fx.user);
    fx.user.name = strdup("tester");
    cr_assert_eq(store_user_create(fx.store, &fx.user), STORE_OK);
    fx.live = live_new(fx.store, &fx.config, err, sizeof err);
    cr_assert_not_null(fx.live, "%s", err);
    snprintf(fx.flv, sizeof fx.flv, "%s/in.flv", fx.dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i "
             "sine=frequency=440:sample_rate=44100 -t 5 -c:v libx264 -preset ultrafast -g 30 "
             "-c:a aac -f flv %s",
             fx.flv);
    cr_assert_eq(system(cmd), 0, "ffmpeg failed");
}

static void teardown(void)
{
    live_free(fx.live);
    store_user_clear(&fx.user);
    store_close(fx.store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", fx.dir);
}

TestSuite(live, .init = setup, .fini = teardown, .timeout = 120);

static void send_config(live_broadcast_t *b, media_codec_t codec, const AVCodecParameters *par)
{
    media_packet_t config = {.codec = codec,
                             .is_config = true,
                             .data = par->extradata,
                             .size = (size_t)par->extradata_size};
    cr_assert_eq(live_media(b, &config), 0);
}

/* Feeds the whole FLV as one publish; returns the bytes of media payload fed. */
static uint64_t feed(live_broadcast_t *b)
{
    AVFormatContext *in = NULL;
    cr_assert_eq(avformat_open_input(&in, fx.flv, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(in, NULL), 0);
    int video = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int audio = av_find_best_stream(in, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    send_config(b, MEDIA_CODEC_H264, in->streams[video]->codecpar);
    send_config(b, MEDIA_CODEC_AAC, in->streams[audio]->codecpar);
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
        cr_assert_eq(live_media(b, &packet), 0);
        live_bytes(b, (uint64_t)pkt->size);
        bytes += (uint64_t)pkt->size;
        cr_assert_not(live_poll(b));
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&in);
    return bytes;
}

static live_broadcast_t *publish(const store_stream_t *s)
{
    live_broadcast_t *b = NULL;
    char reason[128] = "";
    cr_assert_eq(live_publish(fx.live, s->stream_key, "test", &b, reason, sizeof reason), 0,
                 "refused: %s", reason);
    return b;
}

static void latest_session(const store_stream_t *s, store_session_t *out)
{
    cr_assert_eq(store_session_get_latest(fx.store, s->id, out), STORE_OK);
}

/* Sum of the sizes of the .ts files of the stream's source rendition. */
static int64_t segment_bytes(const store_stream_t *s, int *count)
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

Test(live, publish_counts_every_segment_and_ends_cleanly)
{
    store_stream_t s;
    make_stream(&s, "show", false);
    live_broadcast_t *b = publish(&s);
    store_session_t session;
    latest_session(&s, &session);
    cr_assert(session.is_active);
    cr_assert_str_eq(session.parent_id, s.id);
    cr_assert_str_eq(session.name, "show");
    cr_assert_str_eq(session.playback_id, s.playback_id);
    cr_assert_str_eq(session.profiles_json, "[]");
    store_session_clear(&session);
    store_stream_t stream;
    cr_assert_eq(store_stream_get(fx.store, s.id, &stream), STORE_OK);
    cr_assert(stream.is_active);
    store_stream_clear(&stream);

    feed(b);
    live_unpublish(b, "test over");

    latest_session(&s, &session);
    int files = 0;
    int64_t bytes = segment_bytes(&s, &files);
    cr_assert_not(session.is_active);
    cr_assert_gt(session.ended_at_ms, 0);
    cr_assert_eq(session.counters.source_segments, files);
    cr_assert_eq(session.counters.source_bytes, bytes);
    cr_assert_float_eq(session.counters.source_segments_duration_s, 5.0, 0.2);
    cr_assert_float_eq(session.counters.ingest_rate_bps, 0, 1e-9);
    store_session_clear(&session);
    cr_assert_eq(store_stream_get(fx.store, s.id, &stream), STORE_OK);
    cr_assert_not(stream.is_active);
    cr_assert_eq(stream.counters.source_segments, files);
    cr_assert_eq(stream.counters.source_bytes, bytes);
    store_stream_clear(&stream);
    store_stream_clear(&s);
}

/* A ladder that cannot run (a profile name stored before the API checked names) leaves the
 * broadcast source-only, and its health keeps saying that transcoding is not happening. */
Test(live, a_ladder_that_cannot_run_stays_unhealthy)
{
    store_stream_t s;
    make_stream(&s, "bad ladder", false);
    free(s.profiles_json);
    s.profiles_json = strdup("[{\"name\":\"a b\",\"width\":160,\"height\":120,"
                             "\"bitrate\":400000,\"fps\":0}]");
    cr_assert_eq(store_stream_update(fx.store, &s), STORE_OK);
    live_broadcast_t *b = publish(&s);
    feed(b);
    store_session_t session;
    latest_session(&s, &session);
    cr_assert_gt(session.counters.source_segments, 1);
    cr_assert_eq(session.counters.transcoded_segments, 0);
    cr_assert_eq(session.is_healthy, 0, "a source-only fallback is not healthy");
    cr_assert_not_null(session.issues_json);
    cr_assert(strstr(session.issues_json, "ranscod"), "%s", session.issues_json);
    store_session_clear(&session);
    live_unpublish(b, "test over");
    store_stream_clear(&s);
}

Test(live, refusals)
{
    store_stream_t suspended, live_one;
    make_stream(&suspended, "suspended", true);
    make_stream(&live_one, "live", false);
    live_broadcast_t *b = NULL;
    char reason[128];
    cr_assert_eq(live_publish(fx.live, "nope-nope-nope-nope", "t", &b, reason, sizeof reason), -1);
    cr_assert_str_eq(reason, "unknown stream key");
    cr_assert_eq(live_publish(fx.live, suspended.stream_key, "t", &b, reason, sizeof reason), -1);
    cr_assert_str_eq(reason, "stream is suspended");
    live_broadcast_t *first = publish(&live_one);
    cr_assert_eq(live_publish(fx.live, live_one.stream_key, "t", &b, reason, sizeof reason), -1);
    cr_assert_str_eq(reason, "stream is already live");
    /* The API's stop reaches the live publisher through its poll. */
    live_stop_stream(fx.live, live_one.id);
    cr_assert(live_poll(first));
    live_unpublish(first, "stopped");
    store_stream_clear(&suspended);
    store_stream_clear(&live_one);
}

Test(live, reconnect_inside_the_window_continues_the_session)
{
    store_stream_t s;
    make_stream(&s, "show", false);
    live_broadcast_t *b = publish(&s);
    feed(b);
    live_unpublish(b, "blip");
    store_session_t first;
    latest_session(&s, &first);

    b = publish(&s); /* inside the 2 s window */
    store_session_t again;
    latest_session(&s, &again);
    cr_assert_str_eq(again.id, first.id);
    cr_assert(again.is_active);
    store_session_clear(&again);
    feed(b);
    live_unpublish(b, "done");
    latest_session(&s, &again);
    cr_assert_str_eq(again.id, first.id);
    cr_assert_geq(again.counters.source_segments, 2 * first.counters.source_segments - 1);
    cr_assert_float_eq(again.counters.source_segments_duration_s,
                       2 * first.counters.source_segments_duration_s, 0.3);
    int files = 0;
    cr_assert_eq(again.counters.source_bytes, segment_bytes(&s, &files));
    cr_assert_eq(again.counters.source_segments, files);
    store_session_clear(&again);
    store_session_clear(&first);
    store_stream_clear(&s);
}

Test(live, publish_after_the_window_opens_a_new_session)
{
    store_stream_t s;
    make_stream(&s, "show", false);
    live_broadcast_t *b = publish(&s);
    feed(b);
    live_unpublish(b, "gone");
    store_session_t first;
    latest_session(&s, &first);
    live_expire(fx.live, clock_now_ms() + 3000); /* the 2 s window has passed */

    b = publish(&s);
    store_session_t second;
    latest_session(&s, &second);
    cr_assert_str_neq(second.id, first.id);
    cr_assert_eq(second.counters.source_segments, 0);
    live_unpublish(b, "done");
    store_session_clear(&second);
    store_session_clear(&first);
    store_stream_clear(&s);
}

/* With no reconnect window a publish right after the last one replaces it before the housekeeper
 * has seen it end. The old session is finalized all the same, recording included, by the
 * housekeeper rather than by the publishing (ingest) thread. */
Test(live, a_replaced_broadcast_is_finalized_by_the_housekeeper)
{
    fx.config.reconnect_window_s = 0;
    store_stream_t s;
    make_stream(&s, "show", false);
    s.record = true;
    cr_assert_eq(store_stream_update(fx.store, &s), STORE_OK);
    live_broadcast_t *b = publish(&s);
    feed(b);
    live_unpublish(b, "gone");
    store_session_t first;
    latest_session(&s, &first);
    usleep(5 * 1000); /* the window of 0 ms is surely over */

    b = publish(&s);
    store_session_t second;
    latest_session(&s, &second);
    cr_assert_str_neq(second.id, first.id);
    /* Writing the recording takes longer than the test took since the unpublish. */
    store_session_t final = {0};
    cr_assert_eq(store_session_get(fx.store, first.id, &final), STORE_OK);
    cr_assert_eq(final.recording_status, STORE_RECORDING_WAITING,
                 "the publish finalized the replaced session itself");
    for (int i = 0; i < 50; i++) {
        store_session_clear(&final);
        cr_assert_eq(store_session_get(fx.store, first.id, &final), STORE_OK);
        if (final.recording_status != STORE_RECORDING_WAITING)
            break;
        usleep(100 * 1000);
    }
    cr_assert_eq(final.recording_status, STORE_RECORDING_READY);
    cr_assert_not(final.is_active);
    cr_assert_eq(final.counters.source_segments, first.counters.source_segments);
    live_unpublish(b, "done");
    store_session_clear(&final);
    store_session_clear(&second);
    store_session_clear(&first);
    store_stream_clear(&s);
}
