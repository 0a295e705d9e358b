/* Unit tests for ingest/rtmp_conn, driven without sockets: the full OBS command sequence, the
 * replies encoders wait for, handler calls (publish, metadata, media, bytes, stop, unpublish
 * exactly once), refusals, unsupported codecs, protocol control (chunk size, ack window, ping),
 * timestamps across the 32-bit wrap, and hostile input. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ingest/rtmp_conn.h"
#include "rtmp_test_util.h"

typedef struct recorder {
    int publishes;
    char app[300], key[300], peer[64];
    bool refuse;
    int metadata;
    double width;
    int media;
    int configs;
    int keyframes;
    int audio;
    int64_t dts[64];
    int32_t cts[64];
    bool media_fails;
    uint64_t bytes;
    int bytes_calls;
    bool stop;
    int unpublishes;
    char unpublish_reason[256];
    int ctx_token;
} recorder_t;

static int on_publish(void *opaque, const char *app, const char *key, const char *peer, void **ctx,
                      char *reason, size_t reason_size)
{
    recorder_t *r = opaque;
    r->publishes++;
    snprintf(r->app, sizeof r->app, "%s", app);
    snprintf(r->key, sizeof r->key, "%s", key);
    snprintf(r->peer, sizeof r->peer, "%s", peer);
    if (r->refuse) {
        snprintf(reason, reason_size, "unknown stream key");
        return -1;
    }
    *ctx = r;
    return 0;
}

static void on_metadata(void *ctx, const amf0_value_t *metadata)
{
    recorder_t *r = ctx;
    r->metadata++;
    amf0_number(amf0_object_get(metadata, "width"), &r->width);
}

static int on_media(void *ctx, const flv_media_t *media)
{
    recorder_t *r = ctx;
    if (r->media < 64) {
        r->dts[r->media] = media->dts_ms;
        r->cts[r->media] = media->cts_offset_ms;
    }
    r->media++;
    r->configs += media->is_config;
    r->keyframes += media->kind == FLV_MEDIA_VIDEO && media->is_keyframe && !media->is_config;
    r->audio += media->kind == FLV_MEDIA_AUDIO;
    cr_assert_not(media->is_end_of_sequence);
    return r->media_fails ? -1 : 0;
}

static void on_bytes(void *ctx, uint64_t bytes)
{
    recorder_t *r = ctx;
    r->bytes += bytes;
    r->bytes_calls++;
}

static bool should_stop(void *ctx)
{
    return ((recorder_t *)ctx)->stop;
}

static void on_unpublish(void *ctx, const char *reason)
{
    recorder_t *r = ctx;
    r->unpublishes++;
    snprintf(r->unpublish_reason, sizeof r->unpublish_reason, "%s", reason);
}

typedef struct harness {
    recorder_t rec;
    rtmp_conn_t *conn;
    tparser_t parser;
    bool send_fails;
    tbuf_t in;
    int64_t now;
    uint64_t fed;
} harness_t;

static harness_t h;

static int fake_send(void *opaque, const uint8_t *buf, size_t len)
{
    harness_t *hh = opaque;
    if (hh->send_fails)
        return -1;
    tp_feed(&hh->parser, buf, len);
    return 0;
}

static void setup(void)
{
    memset(&h, 0, sizeof h);
    rtmp_limits_t limits;
    rtmp_limits_default(&limits);
    limits.max_streams_per_connection = 2;
    rtmp_publish_handlers_t handlers = {.opaque = &h.rec,
                                        .on_publish = on_publish,
                                        .on_metadata = on_metadata,
                                        .on_media = on_media,
                                        .on_bytes = on_bytes,
                                        .should_stop = should_stop,
                                        .on_unpublish = on_unpublish};
    h.conn = rtmp_conn_new(&limits, &handlers, "127.0.0.1:5000", fake_send, &h);
    cr_assert_not_null(h.conn);
    tp_init(&h.parser);
    h.now = 1000;
}

static void teardown(void)
{
    rtmp_conn_free(h.conn);
    tp_free(&h.parser);
    tbuf_free(&h.in);
}

/* Feeds everything queued in h.in, in pieces of step bytes (0 = at once). */
static int feed_step(size_t step)
{
    int rc = RTMP_CONN_CONTINUE;
    size_t offset = 0, pending = 0;
    static uint8_t window[1 << 20];
    while (offset < h.in.len && rc == RTMP_CONN_CONTINUE) {
        size_t n = step == 0 ? h.in.len - offset : step;
        if (n > h.in.len - offset)
            n = h.in.len - offset;
        memcpy(window + pending, h.in.data + offset, n);
        pending += n;
        offset += n;
        size_t used = 0;
        rc = rtmp_conn_feed(h.conn, window, pending, &used, h.now);
        h.fed += used;
        memmove(window, window + used, pending - used);
        pending -= used;
    }
    h.in.len = 0;
    return rc;
}

static int feed(void)
{
    return feed_step(0);
}

static void publish_ok(const char *app, const char *key)
{
    tc_obs_publish(&h.in, app, key);
    cr_assert_eq(feed(), RTMP_CONN_CONTINUE);
    cr_assert_eq(h.rec.publishes, 1);
    cr_assert(rtmp_conn_is_publishing(h.conn));
}

TestSuite(rtmp_conn, .init = setup, .fini = teardown);

Test(rtmp_conn, obs_sequence_gets_the_replies_encoders_wait_for)
{
    publish_ok("live", "abcd-efgh-ijkl-mnop?token=1");
    cr_assert_str_eq(h.rec.app, "live");
    cr_assert_str_eq(h.rec.key, "abcd-efgh-ijkl-mnop", "the ?query is stripped");
    cr_assert_str_eq(h.rec.peer, "127.0.0.1:5000");

    const tparser_t *p = &h.parser;
    cr_assert_eq(p->error, 0);
    const treply_t *ack = tp_find_type(p, RTMP_MSG_WINDOW_ACK_SIZE);
    cr_assert_not_null(ack);
    cr_assert_gt(ack->value, 0);
    cr_assert_not_null(tp_find_type(p, RTMP_MSG_SET_PEER_BANDWIDTH));
    const treply_t *chunk = tp_find_type(p, RTMP_MSG_SET_CHUNK_SIZE);
    cr_assert_not_null(chunk);
    cr_assert_eq(chunk->value, 4096);
    const treply_t *connected = tp_find(p, "NetConnection.Connect.Success");
    cr_assert_not_null(connected);
    cr_assert_str_eq(connected->name, "_result");
    cr_assert_str_eq(connected->level, "status");
    /* Order: the control messages come before the _result. */
    cr_assert_lt(ack - p->replies, connected - p->replies);
    cr_assert_lt(chunk - p->replies, connected - p->replies);
    cr_assert_not_null(tp_find(p, "onFCPublish"));
    /* createStream's _result carries stream id 1 (the connect _result comes first). */
    const treply_t *created = NULL;
    for (size_t i = 0; i < p->count; i++) {
        if (strcmp(p->replies[i].name, "_result") == 0 && p->replies[i].number == 1)
            created = &p->replies[i];
    }
    cr_assert_not_null(created);
    const treply_t *begin = tp_find_type(p, RTMP_MSG_USER_CONTROL);
    cr_assert_not_null(begin);
    cr_assert_eq(begin->event, 0);
    cr_assert_eq(begin->value, 1);
    const treply_t *start = tp_find_status(p, "NetStream.Publish.Start");
    cr_assert_not_null(start);
    cr_assert_str_eq(start->name, "onStatus");
    cr_assert_eq(start->msid, 1);
    cr_assert_gt(start - p->replies, begin - p->replies);
}

Test(rtmp_conn, media_metadata_bytes_and_unpublish_once)
{
    publish_ok("live", "KEY");
    tc_control32(&h.in, RTMP_MSG_SET_CHUNK_SIZE, 4096);
    tc_metadata(&h.in, 1, 1280);
    tc_media(&h.in, 4096, RTMP_MSG_VIDEO, 1, 0, tc_avc_sequence_header,
             sizeof tc_avc_sequence_header);
    tc_media(&h.in, 4096, RTMP_MSG_AUDIO, 1, 0, tc_aac_config, sizeof tc_aac_config);
    tc_media(&h.in, 4096, RTMP_MSG_VIDEO, 1, 0, tc_avc_keyframe, sizeof tc_avc_keyframe);
    tc_media(&h.in, 4096, RTMP_MSG_AUDIO, 1, 21, tc_aac_raw, sizeof tc_aac_raw);
    tc_media(&h.in, 4096, RTMP_MSG_VIDEO, 1, 33, tc_avc_inter, sizeof tc_avc_inter);
    tc_media(&h.in, 4096, RTMP_MSG_VIDEO, 1, 66, tc_avc_end, sizeof tc_avc_end);
    tc_media(&h.in, 4096, RTMP_MSG_VIDEO, 2, 66, tc_avc_inter, sizeof tc_avc_inter);
    cr_assert_eq(feed_step(7), RTMP_CONN_CONTINUE);
    cr_assert_eq(h.rec.metadata, 1);
    cr_assert_float_eq(h.rec.width, 1280, 0);
    cr_assert_eq(h.rec.media, 5, "end of sequence and other streams are not media");
    cr_assert_eq(h.rec.configs, 2);
    cr_assert_eq(h.rec.keyframes, 1);
    cr_assert_eq(h.rec.audio, 2);
    cr_assert_eq(h.rec.dts[3], 21);
    cr_assert_eq(h.rec.dts[4], 33);
    cr_assert_eq(h.rec.cts[2], 0x21);

    cr_assert_eq(rtmp_conn_tick(h.conn, h.now + 600), RTMP_CONN_CONTINUE);
    cr_assert_eq(h.rec.bytes, h.fed, "every byte after the handshake counts");
    cr_assert_eq(h.rec.bytes_calls, 1);

    tc_command(&h.in, 0, "FCUnpublish", 6, "KEY");
    cr_assert_eq(feed(), RTMP_CONN_CONTINUE);
    cr_assert_eq(h.rec.unpublishes, 1);
    cr_assert_str_eq(h.rec.unpublish_reason, "unpublished by the client");
    cr_assert_eq(h.rec.bytes, h.fed, "the last bytes are reported before on_unpublish");
    tc_command(&h.in, 0, "deleteStream", 7, NULL);
    cr_assert_eq(feed(), RTMP_CONN_CONTINUE);
    cr_assert_eq(h.rec.unpublishes, 1);
    cr_assert_not(rtmp_conn_is_publishing(h.conn));
    rtmp_conn_end_publish(h.conn, "again");
    cr_assert_eq(h.rec.unpublishes, 1);
}

Test(rtmp_conn, disconnect_ends_the_publish_once)
{
    publish_ok("live", "KEY");
    rtmp_conn_end_publish(h.conn, "closed by the peer");
    rtmp_conn_end_publish(h.conn, "closed by the peer");
    cr_assert_eq(h.rec.unpublishes, 1);
    cr_assert_str_eq(h.rec.unpublish_reason, "closed by the peer");
}

Test(rtmp_conn, free_ends_an_active_publish)
{
    publish_ok("live", "KEY");
    rtmp_conn_free(h.conn);
    h.conn = NULL;
    cr_assert_eq(h.rec.unpublishes, 1);
}

Test(rtmp_conn, refused_key_gets_bad_name_and_close)
{
    h.rec.refuse = true;
    tc_obs_publish(&h.in, "live", "nope");
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    const treply_t *bad = tp_find_status(&h.parser, "NetStream.Publish.BadName");
    cr_assert_not_null(bad);
    cr_assert_str_eq(bad->level, "error");
    cr_assert_str_eq(bad->description, "unknown stream key");
    cr_assert_str_eq(rtmp_conn_close_reason(h.conn), "unknown stream key");
    cr_assert_not(rtmp_conn_is_publishing(h.conn));
    rtmp_conn_end_publish(h.conn, "x");
    cr_assert_eq(h.rec.unpublishes, 0, "a refused publish never gets on_unpublish");
}

static void expect_refused_codec(const uint8_t *tag, size_t len, uint8_t type, const char *name)
{
    publish_ok("live", "KEY");
    tc_media(&h.in, 128, type, 1, 0, tag, len);
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    const treply_t *rejected = tp_find_status(&h.parser, "NetStream.Publish.Rejected");
    cr_assert_not_null(rejected);
    cr_assert_str_eq(rejected->level, "error");
    cr_assert(strstr(rejected->description, name), "%s", rejected->description);
    cr_assert(strstr(rtmp_conn_close_reason(h.conn), name));
    cr_assert_eq(h.rec.media, 0);
    rtmp_conn_end_publish(h.conn, rtmp_conn_close_reason(h.conn));
    cr_assert_eq(h.rec.unpublishes, 1);
}

Test(rtmp_conn, sorenson_video_is_refused)
{
    expect_refused_codec(tc_sorenson_frame, sizeof tc_sorenson_frame, RTMP_MSG_VIDEO,
                         "Sorenson H.263");
}

Test(rtmp_conn, mp3_audio_is_refused)
{
    expect_refused_codec(tc_mp3_frame, sizeof tc_mp3_frame, RTMP_MSG_AUDIO, "MP3");
}

Test(rtmp_conn, hevc_enhanced_rtmp_is_refused)
{
    const uint8_t hevc[] = {0x90, 'h', 'v', 'c', '1', 0x01};
    expect_refused_codec(hevc, sizeof hevc, RTMP_MSG_VIDEO, "HEVC");
}

/* onMetaData announcing a codec streamd refuses: refused before any frame, so audio that
 * arrives ahead of the video never starts a broadcast. */
static void expect_announced_refusal(const char *key, bool as_string, double id, const char *fourcc,
                                     const char *name)
{
    publish_ok("live", "KEY");
    uint8_t body[256];
    amf0_writer_t w;
    amf0_writer_init(&w, body, sizeof body);
    amf0_write_string(&w, "@setDataFrame");
    amf0_write_string(&w, "onMetaData");
    amf0_write_ecma_array_start(&w, 1);
    if (as_string)
        amf0_write_prop_string(&w, key, fourcc);
    else
        amf0_write_prop_number(&w, key, id);
    amf0_write_object_end(&w);
    tc_amf(&h.in, 1, RTMP_MSG_DATA_AMF0, &w);
    tc_media(&h.in, 128, RTMP_MSG_AUDIO, 1, 0, tc_aac_config, sizeof tc_aac_config);
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    const treply_t *rejected = tp_find_status(&h.parser, "NetStream.Publish.Rejected");
    cr_assert_not_null(rejected);
    cr_assert(strstr(rejected->description, name), "%s", rejected->description);
    cr_assert_eq(h.rec.media, 0, "nothing reaches the media plane");
    cr_assert_eq(h.rec.metadata, 0);
}

Test(rtmp_conn, announced_sorenson_video_is_refused_before_any_frame)
{
    expect_announced_refusal("videocodecid", false, 2, NULL, "Sorenson H.263");
}

Test(rtmp_conn, announced_mp3_audio_is_refused_before_any_frame)
{
    expect_announced_refusal("audiocodecid", false, 2, NULL, "MP3");
}

Test(rtmp_conn, announced_hevc_fourcc_is_refused_before_any_frame)
{
    expect_announced_refusal("videocodecid", true, 0, "hvc1", "HEVC");
}

Test(rtmp_conn, announced_supported_or_unknown_codecs_pass)
{
    publish_ok("live", "KEY");
    uint8_t body[256];
    amf0_writer_t w;
    amf0_writer_init(&w, body, sizeof body);
    amf0_write_string(&w, "onMetaData");
    amf0_write_ecma_array_start(&w, 3);
    amf0_write_prop_string(&w, "videocodecid", "avc1");
    amf0_write_prop_number(&w, "audiocodecid", 10);
    amf0_write_prop_number(&w, "unrelated", 2);
    amf0_write_object_end(&w);
    tc_amf(&h.in, 1, RTMP_MSG_DATA_AMF0, &w);
    cr_assert_eq(feed(), RTMP_CONN_CONTINUE);
    cr_assert_eq(h.rec.metadata, 1);
    cr_assert_null(flv_announced_codec_refused(FLV_MEDIA_VIDEO, 0, NULL), "0 = not said");
    cr_assert_null(flv_announced_codec_refused(FLV_MEDIA_VIDEO, 7.5, NULL));
    cr_assert_null(flv_announced_codec_refused(FLV_MEDIA_AUDIO, 99, NULL));
    cr_assert_null(flv_announced_codec_refused(FLV_MEDIA_AUDIO, 0, "mp4a"));
    cr_assert_str_eq(flv_announced_codec_refused(FLV_MEDIA_AUDIO, 0, "xyzw"),
                     "an unknown audio FourCC");
}

Test(rtmp_conn, broken_avc_config_fails_the_stream)
{
    publish_ok("live", "KEY");
    const uint8_t broken[] = {0x17, 0x00, 0x00, 0x00, 0x00, 0x02, 0x64};
    tc_media(&h.in, 128, RTMP_MSG_VIDEO, 1, 0, broken, sizeof broken);
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    cr_assert_not_null(tp_find_status(&h.parser, "NetStream.Failed"));
}

Test(rtmp_conn, should_stop_ends_the_publish_at_the_next_tick)
{
    publish_ok("live", "KEY");
    cr_assert_eq(rtmp_conn_tick(h.conn, h.now + 100), RTMP_CONN_CONTINUE);
    h.rec.stop = true;
    cr_assert_eq(rtmp_conn_tick(h.conn, h.now + 200), RTMP_CONN_CONTINUE, "polled every 250 ms");
    cr_assert_eq(rtmp_conn_tick(h.conn, h.now + 260), RTMP_CONN_CLOSE);
    cr_assert_str_eq(rtmp_conn_close_reason(h.conn), "stream stopped by the server");
    cr_assert_not_null(tp_find_status(&h.parser, "NetStream.Publish.Rejected"));
}

Test(rtmp_conn, media_handler_can_end_the_publish)
{
    publish_ok("live", "KEY");
    h.rec.media_fails = true;
    tc_media(&h.in, 128, RTMP_MSG_AUDIO, 1, 0, tc_aac_config, sizeof tc_aac_config);
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    cr_assert_str_eq(rtmp_conn_close_reason(h.conn), "ended by the media pipeline");
}

Test(rtmp_conn, timestamps_unwrap_across_2_32)
{
    publish_ok("live", "KEY");
    tc_media(&h.in, 128, RTMP_MSG_AUDIO, 1, 0xFFFFFFF0u, tc_aac_raw, sizeof tc_aac_raw);
    tc_media(&h.in, 128, RTMP_MSG_AUDIO, 1, 0x10, tc_aac_raw, sizeof tc_aac_raw);
    tc_media(&h.in, 128, RTMP_MSG_AUDIO, 1, 0x08, tc_aac_raw, sizeof tc_aac_raw);
    cr_assert_eq(feed(), RTMP_CONN_CONTINUE);
    cr_assert_eq(h.rec.dts[0], 0xFFFFFFF0ll);
    cr_assert_eq(h.rec.dts[1], 0x100000010ll);
    cr_assert_eq(h.rec.dts[2], 0x100000008ll, "a small step back stays a step back");
}

Test(rtmp_conn, publish_preconditions)
{
    tc_publish(&h.in, 1, "KEY");
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    cr_assert_str_eq(rtmp_conn_close_reason(h.conn), "publish before connect");
    cr_assert_eq(h.rec.publishes, 0);
}

Test(rtmp_conn, publish_on_a_stream_never_created)
{
    tc_connect(&h.in, "live");
    tc_publish(&h.in, 3, "KEY");
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    cr_assert_not_null(tp_find_status(&h.parser, "NetStream.Publish.BadName"));
}

Test(rtmp_conn, invalid_names)
{
    tc_connect(&h.in, "live");
    tc_command(&h.in, 0, "createStream", 2, NULL);
    tc_publish(&h.in, 1, "?token=only");
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    cr_assert_str_eq(rtmp_conn_close_reason(h.conn), "invalid stream key");
}

Test(rtmp_conn, connect_without_app_is_rejected)
{
    tc_connect(&h.in, NULL);
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    const treply_t *error = tp_find(&h.parser, "NetConnection.Connect.Rejected");
    cr_assert_not_null(error);
    cr_assert_str_eq(error->name, "_error");
}

Test(rtmp_conn, stream_limit_and_second_publish)
{
    tc_connect(&h.in, "live");
    tc_command(&h.in, 0, "createStream", 2, NULL);
    tc_command(&h.in, 0, "createStream", 3, NULL);
    tc_command(&h.in, 0, "createStream", 4, NULL);
    cr_assert_eq(feed(), RTMP_CONN_CONTINUE);
    cr_assert_not_null(tp_find(&h.parser, "_error"), "the limit is 2 in this test");
    tc_publish(&h.in, 1, "KEY");
    cr_assert_eq(feed(), RTMP_CONN_CONTINUE);
    tc_publish(&h.in, 2, "OTHER");
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    cr_assert_str_eq(rtmp_conn_close_reason(h.conn), "this connection is already publishing");
    cr_assert_eq(h.rec.publishes, 1);
}

Test(rtmp_conn, second_connect_and_play_close)
{
    tc_connect(&h.in, "live");
    tc_connect(&h.in, "live");
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    teardown();
    setup();
    tc_connect(&h.in, "live");
    tc_command(&h.in, 0, "createStream", 2, NULL);
    tc_command(&h.in, 1, "play", 0, "KEY");
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    cr_assert_not_null(tp_find_status(&h.parser, "NetStream.Play.Failed"));
}

Test(rtmp_conn, ping_and_acknowledgement_window)
{
    tc_connect(&h.in, "live");
    tc_control32(&h.in, RTMP_MSG_WINDOW_ACK_SIZE, 100);
    const uint8_t ping[6] = {0, 6, 0, 0, 0x12, 0x34};
    tc_message(&h.in, 128, 2, RTMP_MSG_USER_CONTROL, 0, 0, ping, sizeof ping);
    tc_command(&h.in, 0, "_checkbw", 2, NULL);
    cr_assert_eq(feed(), RTMP_CONN_CONTINUE);
    const treply_t *pong = NULL;
    for (size_t i = 0; i < h.parser.count; i++) {
        if (h.parser.replies[i].type == RTMP_MSG_USER_CONTROL && h.parser.replies[i].event == 7)
            pong = &h.parser.replies[i];
    }
    cr_assert_not_null(pong);
    cr_assert_eq(pong->value, 0x1234);
    const treply_t *ack = tp_find_type(&h.parser, RTMP_MSG_ACKNOWLEDGEMENT);
    cr_assert_not_null(ack, "more than 100 bytes were received");
    cr_assert_gt(ack->value, 100);
    cr_assert_leq(ack->value, h.fed);
}

Test(rtmp_conn, amf3_command_messages)
{
    uint8_t body[256] = {0};
    amf0_writer_t w;
    amf0_writer_init(&w, body + 1, sizeof body - 1);
    amf0_write_string(&w, "connect");
    amf0_write_number(&w, 1);
    amf0_write_object_start(&w);
    amf0_write_prop_string(&w, "app", "live");
    amf0_write_object_end(&w);
    int n = amf0_writer_finish(&w);
    tc_message(&h.in, 128, 3, RTMP_MSG_COMMAND_AMF3, 0, 0, body, (size_t)n + 1);
    cr_assert_eq(feed(), RTMP_CONN_CONTINUE);
    cr_assert_not_null(tp_find(&h.parser, "NetConnection.Connect.Success"));
}

Test(rtmp_conn, oversize_chunk_size_closes)
{
    tc_control32(&h.in, RTMP_MSG_SET_CHUNK_SIZE, 0x7FFFFFFF);
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    cr_assert_str_eq(rtmp_conn_close_reason(h.conn), "chunk size out of range");
}

Test(rtmp_conn, garbage_closes_cleanly)
{
    const uint8_t garbage[] = {0x43, 0xFF, 0xFF, 0xFF, 0x12, 0x34, 0x56, 0x78, 0x9A};
    tbuf_put(&h.in, garbage, sizeof garbage);
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    cr_assert_not_null(rtmp_conn_close_reason(h.conn));
    teardown();
    setup();
    const uint8_t bad_command[] = {0x11, 0x22};
    tc_message(&h.in, 128, 3, RTMP_MSG_COMMAND_AMF0, 0, 0, bad_command, sizeof bad_command);
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    cr_assert_str_eq(rtmp_conn_close_reason(h.conn), "malformed command");
}

Test(rtmp_conn, malformed_metadata_is_ignored)
{
    publish_ok("live", "KEY");
    const uint8_t bad[] = {0x02, 0x00, 0x0A, 'o', 'n'};
    tc_message(&h.in, 128, 8, RTMP_MSG_DATA_AMF0, 1, 0, bad, sizeof bad);
    tc_media(&h.in, 128, RTMP_MSG_AUDIO, 1, 0, tc_aac_config, sizeof tc_aac_config);
    cr_assert_eq(feed(), RTMP_CONN_CONTINUE);
    cr_assert_eq(h.rec.metadata, 0);
    cr_assert_eq(h.rec.media, 1);
}

Test(rtmp_conn, send_failure_closes)
{
    h.send_fails = true;
    tc_connect(&h.in, "live");
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    cr_assert_str_eq(rtmp_conn_close_reason(h.conn), "send failed");
}

Test(rtmp_conn, media_before_publish_is_ignored)
{
    tc_connect(&h.in, "live");
    tc_media(&h.in, 128, RTMP_MSG_VIDEO, 1, 0, tc_sorenson_frame, sizeof tc_sorenson_frame);
    cr_assert_eq(feed(), RTMP_CONN_CONTINUE);
    cr_assert_eq(h.rec.media, 0);
}

/* One FLV tag as packed in an aggregate message. */
static size_t aggregate_tag(uint8_t *out, uint8_t type, uint32_t time, const uint8_t *body,
                            size_t len)
{
    const uint8_t header[11] = {type,
                                (uint8_t)(len >> 16),
                                (uint8_t)(len >> 8),
                                (uint8_t)len,
                                (uint8_t)(time >> 16),
                                (uint8_t)(time >> 8),
                                (uint8_t)time,
                                (uint8_t)(time >> 24),
                                0,
                                0,
                                0};
    memcpy(out, header, 11);
    memcpy(out + 11, body, len);
    const uint32_t back = (uint32_t)(11 + len);
    const uint8_t back_bytes[4] = {(uint8_t)(back >> 24), (uint8_t)(back >> 16),
                                   (uint8_t)(back >> 8), (uint8_t)back};
    memcpy(out + 11 + len, back_bytes, 4);
    return 15 + len;
}

Test(rtmp_conn, aggregate_messages_are_unpacked)
{
    publish_ok("live", "KEY");
    uint8_t aggregate[256];
    size_t len =
        aggregate_tag(aggregate, RTMP_MSG_AUDIO, 5000, tc_aac_config, sizeof tc_aac_config);
    len += aggregate_tag(aggregate + len, RTMP_MSG_AUDIO, 5021, tc_aac_raw, sizeof tc_aac_raw);
    len += aggregate_tag(aggregate + len, RTMP_MSG_COMMAND_AMF0, 5021, tc_aac_raw, 3);
    tc_message(&h.in, 128, 4, RTMP_MSG_AGGREGATE, 1, 100, aggregate, len);
    cr_assert_eq(feed(), RTMP_CONN_CONTINUE);
    cr_assert_eq(h.rec.media, 2, "commands inside aggregates are not taken");
    cr_assert_eq(h.rec.configs, 1);
    cr_assert_eq(h.rec.dts[0], 100, "tag times are anchored at the aggregate's time");
    cr_assert_eq(h.rec.dts[1], 121);

    tc_message(&h.in, 128, 4, RTMP_MSG_AGGREGATE, 1, 200, aggregate, len - 1);
    cr_assert_eq(feed(), RTMP_CONN_CLOSE);
    cr_assert_str_eq(rtmp_conn_close_reason(h.conn), "malformed aggregate message");
}
