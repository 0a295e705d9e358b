/* Tests of the RTMP server over real sockets: the ffmpeg CLI publishes (URL form
 * rtmp://host/live/KEY), a refused key, refused codecs (Sorenson H.263, MP3), should_stop, and a
 * raw-socket client for the OBS form (app "live", key as publish name) and hostile input
 * (garbage, bad C0, oversize chunk size, timeouts, connection limits, slowed addresses), plus
 * server stop. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ingest/rtmp_handshake.h"
#include "ingest/rtmp_server.h"
#include "rtmp_test_util.h"
#include "util/clock.h"

/* ---- recording handlers (called on the server's threads) ---- */

typedef struct media_record {
    flv_media_kind_t kind;
    bool is_config, is_keyframe;
    int64_t dts_ms;
} media_record_t;

typedef struct recorder {
    pthread_mutex_t lock;
    int publishes;
    int64_t publish_ms; /* of the last on_publish */
    char app[64], key[64];
    bool refuse;
    bool stop;
    int64_t stop_set_ms;
    int media_count;
    media_record_t media[4096];
    int metadata;
    uint64_t bytes;
    int unpublish_delay_ms; /* on_unpublish takes this long, as ending a transcode may */
    int unpublishes;
    int64_t unpublish_ms;
    char unpublish_reason[256];
} recorder_t;

static recorder_t rec = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int on_publish(void *opaque, const char *app, const char *key, const char *peer, void **ctx,
                      char *reason, size_t reason_size)
{
    (void)opaque;
    (void)peer;
    pthread_mutex_lock(&rec.lock);
    rec.publishes++;
    rec.publish_ms = clock_monotonic_ms();
    snprintf(rec.app, sizeof rec.app, "%s", app);
    snprintf(rec.key, sizeof rec.key, "%s", key);
    bool refuse = rec.refuse || strcmp(key, "BADKEY") == 0;
    pthread_mutex_unlock(&rec.lock);
    if (refuse) {
        snprintf(reason, reason_size, "unknown stream key");
        return -1;
    }
    *ctx = &rec;
    return 0;
}

static void on_metadata(void *ctx, const amf0_value_t *metadata)
{
    (void)ctx;
    (void)metadata;
    pthread_mutex_lock(&rec.lock);
    rec.metadata++;
    pthread_mutex_unlock(&rec.lock);
}

static int on_media(void *ctx, const flv_media_t *media)
{
    (void)ctx;
    pthread_mutex_lock(&rec.lock);
    if (rec.media_count < 4096) {
        media_record_t *m = &rec.media[rec.media_count];
        m->kind = media->kind;
        m->is_config = media->is_config;
        m->is_keyframe = media->is_keyframe;
        m->dts_ms = media->dts_ms;
    }
    rec.media_count++;
    pthread_mutex_unlock(&rec.lock);
    return 0;
}

static void on_bytes(void *ctx, uint64_t bytes)
{
    (void)ctx;
    pthread_mutex_lock(&rec.lock);
    rec.bytes += bytes;
    pthread_mutex_unlock(&rec.lock);
}

static bool should_stop(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&rec.lock);
    bool stop = rec.stop;
    pthread_mutex_unlock(&rec.lock);
    return stop;
}

static void on_unpublish(void *ctx, const char *reason)
{
    (void)ctx;
    pthread_mutex_lock(&rec.lock);
    int delay_ms = rec.unpublish_delay_ms;
    pthread_mutex_unlock(&rec.lock);
    struct timespec delay = {.tv_sec = delay_ms / 1000, .tv_nsec = delay_ms % 1000 * 1000000L};
    nanosleep(&delay, NULL);
    pthread_mutex_lock(&rec.lock);
    rec.unpublishes++;
    rec.unpublish_ms = clock_monotonic_ms();
    snprintf(rec.unpublish_reason, sizeof rec.unpublish_reason, "%s", reason);
    pthread_mutex_unlock(&rec.lock);
}

static rtmp_server_t *server;
static peer_guard_t *guard;

static rtmp_server_t *start(const rtmp_limits_t *limits)
{
    rtmp_publish_handlers_t handlers = {.on_publish = on_publish,
                                        .on_metadata = on_metadata,
                                        .on_media = on_media,
                                        .on_bytes = on_bytes,
                                        .should_stop = should_stop,
                                        .on_unpublish = on_unpublish};
    char err[256] = "";
    rtmp_server_t *s = rtmp_server_start("127.0.0.1", 0, limits, guard, &handlers, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_gt(rtmp_server_port(s), 0);
    return s;
}

static const peer_guard_limits_t no_guard_limits = {.key_failures_allowed = 1000};

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    guard = peer_guard_new(&no_guard_limits);
    server = start(NULL);
}

static void teardown(void)
{
    rtmp_server_stop(server);
    peer_guard_free(guard);
}

TestSuite(rtmp_server, .init = setup, .fini = teardown, .timeout = 60);

/* The test server again, with other limits. */
static void restart(const rtmp_limits_t *limits)
{
    rtmp_server_stop(server);
    server = start(limits);
}

/* The test server again, with a new guard of these limits. */
static void restart_guarded(const peer_guard_limits_t *guard_limits)
{
    rtmp_server_stop(server);
    peer_guard_free(guard);
    guard = peer_guard_new(guard_limits);
    server = start(NULL);
}

static int recorded(const int *field)
{
    pthread_mutex_lock(&rec.lock);
    int value = *field;
    pthread_mutex_unlock(&rec.lock);
    return value;
}

/* Waits up to timeout_ms for *field >= value. */
static bool wait_for(const int *field, int value, int timeout_ms)
{
    int64_t deadline = clock_monotonic_ms() + timeout_ms;
    while (clock_monotonic_ms() < deadline) {
        if (recorded(field) >= value)
            return true;
        struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return recorded(field) >= value;
}

/* ---- ffmpeg ---- */

static void url(char *out, size_t size, const char *path)
{
    snprintf(out, size, "rtmp://127.0.0.1:%u/%s", rtmp_server_port(server), path);
}

Test(rtmp_server, ffmpeg_publishes_h264_aac)
{
    char target[128];
    url(target, sizeof target, "live/KEY");
    pid_t pid = tc_spawn_ffmpeg("libx264", "aac", "3", target);
    cr_assert_eq(tc_wait_exit(pid, 30000), 0, "ffmpeg failed");
    cr_assert(wait_for(&rec.unpublishes, 1, 5000));
    pthread_mutex_lock(&rec.lock);
    cr_assert_eq(rec.publishes, 1);
    cr_assert_str_eq(rec.app, "live");
    cr_assert_str_eq(rec.key, "KEY");
    cr_assert_eq(rec.unpublishes, 1);
    cr_assert_eq(rec.metadata, 1);
    cr_assert_gt(rec.bytes, 10000);
    int video = 0, keyframes = 0, audio = 0, first_video = -1, first_audio = -1;
    int64_t last_video = -1, last_audio = -1;
    for (int i = 0; i < rec.media_count && i < 4096; i++) {
        const media_record_t *m = &rec.media[i];
        if (m->kind == FLV_MEDIA_VIDEO) {
            if (first_video < 0)
                first_video = i;
            video++;
            keyframes += m->is_keyframe && !m->is_config;
            cr_assert_geq(m->dts_ms, last_video, "video timestamps go forward");
            last_video = m->dts_ms;
        } else {
            if (first_audio < 0)
                first_audio = i;
            audio++;
            cr_assert_geq(m->dts_ms, last_audio, "audio timestamps go forward");
            last_audio = m->dts_ms;
        }
    }
    cr_assert_geq(first_video, 0);
    cr_assert(rec.media[first_video].is_config, "the AVC sequence header comes first");
    cr_assert_geq(first_audio, 0);
    cr_assert(rec.media[first_audio].is_config, "the AAC config comes first");
    cr_assert_geq(keyframes, 3, "3 s at -g 30: %d key frames", keyframes);
    cr_assert_geq(video, 85, "%d video messages", video);
    cr_assert_geq(audio, 130, "%d audio messages", audio);
    cr_assert_geq(last_video, 2900);
    pthread_mutex_unlock(&rec.lock);
}

Test(rtmp_server, ffmpeg_refused_key_exits_non_zero)
{
    char target[128];
    url(target, sizeof target, "live/BADKEY");
    pid_t pid = tc_spawn_ffmpeg("libx264", "aac", "3", target);
    int status = tc_wait_exit(pid, 20000);
    cr_assert_neq(status, 0);
    cr_assert_eq(recorded(&rec.publishes), 1);
    cr_assert_str_eq(rec.key, "BADKEY");
    cr_assert_eq(recorded(&rec.unpublishes), 0);
}

static void expect_codec_refused(const char *video, const char *audio, const char *name)
{
    char target[128];
    url(target, sizeof target, "live/KEY");
    pid_t pid = tc_spawn_ffmpeg(video, audio, "5", target);
    cr_assert_neq(tc_wait_exit(pid, 20000), 0, "ffmpeg must fail when the codec is refused");
    cr_assert(wait_for(&rec.unpublishes, 1, 3000));
    pthread_mutex_lock(&rec.lock);
    cr_assert_eq(rec.unpublishes, 1);
    cr_assert(strstr(rec.unpublish_reason, name), "%s", rec.unpublish_reason);
    pthread_mutex_unlock(&rec.lock);
}

Test(rtmp_server, ffmpeg_sorenson_video_is_refused)
{
    expect_codec_refused("flv1", "aac", "Sorenson H.263");
}

Test(rtmp_server, ffmpeg_mp3_audio_is_refused)
{
    expect_codec_refused("libx264", "libmp3lame", "MP3");
}

Test(rtmp_server, should_stop_ends_the_publish_within_a_second)
{
    char target[128];
    url(target, sizeof target, "live/KEY");
    pid_t pid = tc_spawn_ffmpeg("libx264", "aac", "30", target);
    cr_assert(wait_for(&rec.media_count, 20, 15000));
    pthread_mutex_lock(&rec.lock);
    rec.stop = true;
    rec.stop_set_ms = clock_monotonic_ms();
    pthread_mutex_unlock(&rec.lock);
    cr_assert(wait_for(&rec.unpublishes, 1, 3000));
    int64_t took = rec.unpublish_ms - rec.stop_set_ms;
    cr_assert_leq(took, 1000, "took %lld ms", (long long)took);
    cr_assert_str_eq(rec.unpublish_reason, "stream stopped by the server");
    cr_assert_neq(tc_wait_exit(pid, 10000), 0);
}

/* ---- raw client ---- */

/* A connected socket; rcvbuf > 0 makes its receive buffer that small (set before connecting,
 * so the window it advertises is small from the start). */
static int client_connect_from(int rcvbuf, uint32_t from)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(from)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&local, sizeof local), 0, "bind: %s", strerror(errno));
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)rtmp_server_port(server)),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* A connection from 127.0.0.1. */
static int client_connect(int rcvbuf)
{
    return client_connect_from(rcvbuf, INADDR_LOOPBACK);
}

static int client_open(void)
{
    return client_connect(0);
}

static void client_send(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

static void client_recv_exact(int fd, uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = recv(fd, buf, len, 0);
        cr_assert_gt(n, 0, "recv: %s", n < 0 ? strerror(errno) : "closed");
        buf += n;
        len -= (size_t)n;
    }
}

/* The first half of a plain handshake: sends C0+C1 in pieces of up to `piece` bytes (2 ms
 * apart when there are several) and checks the answer. C2 is then s0s1s2 + 1. */
static void client_send_c0c1(int fd, size_t piece, uint8_t s0s1s2[RTMP_HANDSHAKE_S0S1S2_SIZE])
{
    static uint8_t c0c1[RTMP_HANDSHAKE_C0C1_SIZE];
    c0c1[0] = 3;
    for (size_t i = 9; i < sizeof c0c1; i++)
        c0c1[i] = (uint8_t)(i * 31);
    for (size_t at = 0; at < sizeof c0c1; at += piece) {
        if (at > 0) {
            struct timespec pause = {.tv_nsec = 2 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        client_send(fd, c0c1 + at, sizeof c0c1 - at < piece ? sizeof c0c1 - at : piece);
    }
    client_recv_exact(fd, s0s1s2, RTMP_HANDSHAKE_S0S1S2_SIZE);
    cr_assert_eq(s0s1s2[0], 3);
    cr_assert_eq(
        memcmp(s0s1s2 + 1 + RTMP_HANDSHAKE_PACKET_SIZE, c0c1 + 1, RTMP_HANDSHAKE_PACKET_SIZE), 0,
        "S2 echoes C1");
}

/* Plain handshake on fd; returns fd. */
static int client_handshake_on(int fd)
{
    static uint8_t s0s1s2[RTMP_HANDSHAKE_S0S1S2_SIZE];
    client_send_c0c1(fd, RTMP_HANDSHAKE_C0C1_SIZE, s0s1s2);
    client_send(fd, s0s1s2 + 1, RTMP_HANDSHAKE_PACKET_SIZE); /* C2 */
    return fd;
}

static int client_handshake(void)
{
    return client_handshake_on(client_open());
}

/* Reads what the server sends for up to ms (or until it closes) into p; true if it closed. */
static bool client_read(int fd, tparser_t *p, int ms)
{
    int64_t deadline = clock_monotonic_ms() + ms;
    uint8_t buf[4096];
    while (clock_monotonic_ms() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return true;
        if (p)
            tp_feed(p, buf, (size_t)n);
    }
    return false;
}

static void client_send_buf(int fd, tbuf_t *b)
{
    client_send(fd, b->data, b->len);
    b->len = 0;
}

Test(rtmp_server, obs_form_with_raw_client)
{
    int fd = client_handshake();
    tbuf_t out = {0};
    tparser_t parser;
    tp_init(&parser);
    tc_obs_publish(&out, "live", "OBSKEY?secret=1");
    tc_control32(&out, RTMP_MSG_SET_CHUNK_SIZE, 4096);
    tc_metadata(&out, 1, 1920);
    tc_media(&out, 4096, RTMP_MSG_VIDEO, 1, 0, tc_avc_sequence_header,
             sizeof tc_avc_sequence_header);
    tc_media(&out, 4096, RTMP_MSG_VIDEO, 1, 0, tc_avc_keyframe, sizeof tc_avc_keyframe);
    client_send_buf(fd, &out);
    cr_assert(wait_for(&rec.media_count, 2, 3000));
    cr_assert_not(client_read(fd, &parser, 300));
    cr_assert_not_null(tp_find(&parser, "NetConnection.Connect.Success"));
    cr_assert_not_null(tp_find_status(&parser, "NetStream.Publish.Start"));
    pthread_mutex_lock(&rec.lock);
    cr_assert_str_eq(rec.app, "live");
    cr_assert_str_eq(rec.key, "OBSKEY");
    pthread_mutex_unlock(&rec.lock);
    close(fd);
    cr_assert(wait_for(&rec.unpublishes, 1, 3000));
    cr_assert_str_eq(rec.unpublish_reason, "closed by the peer");
    tp_free(&parser);
    tbuf_free(&out);
}

/* A connection waiting for data holds no receive buffer, only the few bytes of a chunk header it
 * could not use yet: they must survive every wait, however the bytes are split. */
Test(rtmp_server, chunk_headers_split_across_waits)
{
    int fd = client_handshake();
    tbuf_t out = {0};
    tc_obs_publish(&out, "live", "SPLITKEY");
    tc_media(&out, 128, RTMP_MSG_VIDEO, 1, 0, tc_avc_sequence_header,
             sizeof tc_avc_sequence_header);
    client_send_buf(fd, &out);
    cr_assert(wait_for(&rec.media_count, 1, 3000));
    /* A keyframe whose first chunk header arrives in two parts, with waits longer than the
     * receive timeout in between. */
    tc_media(&out, 128, RTMP_MSG_VIDEO, 1, 40, tc_avc_keyframe, sizeof tc_avc_keyframe);
    client_send(fd, out.data, 5);
    usleep(450 * 1000);
    client_send(fd, out.data + 5, out.len - 5);
    out.len = 0;
    cr_assert(wait_for(&rec.media_count, 2, 3000));
    /* Another, a byte at a time. */
    tc_media(&out, 128, RTMP_MSG_VIDEO, 1, 80, tc_avc_keyframe, sizeof tc_avc_keyframe);
    for (size_t i = 0; i < out.len; i++) {
        client_send(fd, out.data + i, 1);
        usleep(1000);
    }
    out.len = 0;
    cr_assert(wait_for(&rec.media_count, 3, 3000));
    tparser_t parser; /* read the replies, so that closing does not reset the connection */
    tp_init(&parser);
    cr_assert_not(client_read(fd, &parser, 300));
    cr_assert_not_null(tp_find_status(&parser, "NetStream.Publish.Start"));
    close(fd);
    cr_assert(wait_for(&rec.unpublishes, 1, 3000));
    cr_assert_str_eq(rec.unpublish_reason, "closed by the peer");
    tp_free(&parser);
    tbuf_free(&out);
}

/* A handshake that arrives in pieces (C0+C1 a hundred bytes at a time), then C2 in the same send
 * as the first commands: each phase takes exactly its bytes and hands on the rest. */
Test(rtmp_server, handshake_in_pieces_then_c2_with_commands)
{
    int fd = client_open();
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static uint8_t s0s1s2[RTMP_HANDSHAKE_S0S1S2_SIZE];
    client_send_c0c1(fd, 100, s0s1s2);
    tbuf_t out = {0};
    tbuf_put(&out, s0s1s2 + 1, RTMP_HANDSHAKE_PACKET_SIZE); /* C2 */
    tc_obs_publish(&out, "live", "PIECES");
    client_send_buf(fd, &out);
    cr_assert(wait_for(&rec.publishes, 1, 3000));
    tparser_t parser;
    tp_init(&parser);
    cr_assert_not(client_read(fd, &parser, 300));
    cr_assert_not_null(tp_find(&parser, "NetConnection.Connect.Success"));
    cr_assert_not_null(tp_find_status(&parser, "NetStream.Publish.Start"));
    pthread_mutex_lock(&rec.lock);
    cr_assert_str_eq(rec.key, "PIECES");
    pthread_mutex_unlock(&rec.lock);
    close(fd);
    cr_assert(wait_for(&rec.unpublishes, 1, 3000));
    tp_free(&parser);
    tbuf_free(&out);
}

Test(rtmp_server, refusal_reaches_the_raw_client_before_close)
{
    int fd = client_handshake();
    tbuf_t out = {0};
    tparser_t parser;
    tp_init(&parser);
    tc_obs_publish(&out, "live", "BADKEY");
    /* Keep sending after the refusal: the status must still arrive. */
    for (int i = 0; i < 50; i++)
        tc_media(&out, 128, RTMP_MSG_AUDIO, 1, (uint32_t)i, tc_aac_raw, sizeof tc_aac_raw);
    client_send_buf(fd, &out);
    cr_assert(client_read(fd, &parser, 3000), "the server closes after a refusal");
    const treply_t *bad = tp_find_status(&parser, "NetStream.Publish.BadName");
    cr_assert_not_null(bad);
    cr_assert_str_eq(bad->description, "unknown stream key");
    close(fd);
    tp_free(&parser);
    tbuf_free(&out);
}

static void expect_closed(int fd, int within_ms)
{
    int64_t start = clock_monotonic_ms();
    cr_assert(client_read(fd, NULL, within_ms), "still open after %d ms", within_ms);
    cr_assert_leq(clock_monotonic_ms() - start, within_ms);
    close(fd);
}

Test(rtmp_server, garbage_after_handshake_closes)
{
    int fd = client_handshake();
    uint8_t garbage[512];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 77 + 5);
    garbage[0] = 0x43; /* format 1 on a stream with no header */
    client_send(fd, garbage, sizeof garbage);
    expect_closed(fd, 2000);
}

Test(rtmp_server, oversize_chunk_size_closes)
{
    int fd = client_handshake();
    tbuf_t out = {0};
    tc_control32(&out, RTMP_MSG_SET_CHUNK_SIZE, 0x7FFFFFFF);
    client_send_buf(fd, &out);
    expect_closed(fd, 2000);
    tbuf_free(&out);
}

Test(rtmp_server, oversize_message_closes)
{
    int fd = client_handshake();
    const uint8_t header[] = {0x03, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x14, 0, 0, 0, 0};
    client_send(fd, header, sizeof header);
    expect_closed(fd, 2000);
}

Test(rtmp_server, bad_c0_closes_at_once)
{
    int fd = client_open();
    const char probe[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    client_send(fd, probe, sizeof probe - 1);
    expect_closed(fd, 500);
}

Test(rtmp_server, truncated_handshake_then_close_is_harmless)
{
    int fd = client_open();
    uint8_t partial[100] = {3};
    client_send(fd, partial, sizeof partial);
    close(fd);
    fd = client_handshake();
    tbuf_t out = {0};
    tc_connect(&out, "live");
    client_send_buf(fd, &out);
    tparser_t parser;
    tp_init(&parser);
    client_read(fd, &parser, 300);
    cr_assert_not_null(tp_find(&parser, "NetConnection.Connect.Success"));
    close(fd);
    tp_free(&parser);
    tbuf_free(&out);
}

static void tc_ping_request(tbuf_t *b, uint32_t value)
{
    uint8_t body[6] = {0,
                       6,
                       (uint8_t)(value >> 24),
                       (uint8_t)(value >> 16),
                       (uint8_t)(value >> 8),
                       (uint8_t)value};
    tc_message(b, RTMP_CHUNK_DEFAULT_SIZE, 2, RTMP_MSG_USER_CONTROL, 0, 0, body, sizeof body);
}

Test(rtmp_server, handshake_and_idle_timeouts)
{
    rtmp_limits_t limits;
    rtmp_limits_default(&limits);
    limits.handshake_timeout_ms = 300;
    limits.idle_timeout_ms = 500;
    restart(&limits);
    int fd = client_open();
    uint8_t c0 = 3;
    client_send(fd, &c0, 1);
    expect_closed(fd, 1500);

    fd = client_handshake();
    tbuf_t out = {0};
    tc_obs_publish(&out, "live", "KEY");
    client_send_buf(fd, &out);
    cr_assert(wait_for(&rec.unpublishes, 1, 3000));
    cr_assert_str_eq(rec.unpublish_reason, "idle timeout: no media");
    expect_closed(fd, 1500);
    tbuf_free(&out);
    peer_guard_counts_t counts;
    peer_guard_counts(guard, &counts);
    cr_assert_eq(counts.events[PEER_HANDSHAKE_TIMEOUT], 1);
    cr_assert_eq(counts.events[PEER_IDLE_TIMEOUT], 1);
}

/* Sends a ping request every 100 ms for ms, reading the answers; true when the server closed
 * meanwhile. */
static bool ping_for(int fd, int ms)
{
    int64_t deadline = clock_monotonic_ms() + ms;
    for (uint32_t i = 0; clock_monotonic_ms() < deadline; i++) {
        tbuf_t ping = {0};
        tc_ping_request(&ping, i);
        ssize_t sent = send(fd, ping.data, ping.len, MSG_NOSIGNAL);
        tbuf_free(&ping);
        if (sent <= 0)
            return true;
        int64_t next = clock_monotonic_ms() + 100;
        for (int64_t now = clock_monotonic_ms(); now < next; now = clock_monotonic_ms()) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            if (poll(&pfd, 1, (int)(next - now)) <= 0)
                continue;
            uint8_t sink[4096];
            if (recv(fd, sink, sizeof sink, 0) <= 0)
                return true;
        }
    }
    return false;
}

/* Only media keep a connection open: pings (or any other command) do not, before a publish or
 * during one. */
Test(rtmp_server, pings_do_not_hold_off_the_idle_timeout)
{
    rtmp_limits_t limits;
    rtmp_limits_default(&limits);
    limits.idle_timeout_ms = 600;
    restart(&limits);
    int fd = client_handshake();
    tbuf_t out = {0};
    tc_connect(&out, "live");
    client_send_buf(fd, &out);
    int64_t start = clock_monotonic_ms();
    cr_assert(ping_for(fd, 3000), "a connection that only pings must be closed");
    cr_assert_lt(clock_monotonic_ms() - start, 1500);
    close(fd);

    fd = client_handshake();
    tbuf_t publish = {0};
    tc_obs_publish(&publish, "live", "KEY");
    client_send_buf(fd, &publish);
    cr_assert(wait_for(&rec.publishes, 1, 3000));
    cr_assert(ping_for(fd, 3000), "a publish that only pings must be ended");
    cr_assert(wait_for(&rec.unpublishes, 1, 3000));
    cr_assert_str_eq(rec.unpublish_reason, "idle timeout: no media");
    close(fd);
    tbuf_free(&out);
    tbuf_free(&publish);
}

Test(rtmp_server, connection_limit)
{
    restart_guarded(&(peer_guard_limits_t){.max_connections = 2, .key_failures_allowed = 1000});
    int a = client_handshake();
    int b = client_handshake();
    int c = client_open();
    expect_closed(c, 1000);
    close(a);
    close(b);
    /* Slots free up once those connections are closed. */
    int64_t deadline = clock_monotonic_ms() + 3000;
    bool served = false;
    while (!served && clock_monotonic_ms() < deadline) {
        int d = client_open();
        uint8_t c0c1[RTMP_HANDSHAKE_C0C1_SIZE] = {3};
        send(d, c0c1, sizeof c0c1, MSG_NOSIGNAL);
        uint8_t s0;
        served = recv(d, &s0, 1, 0) == 1;
        close(d);
    }
    cr_assert(served);
    peer_guard_counts_t counts;
    peer_guard_counts(guard, &counts);
    cr_assert_geq(counts.refused_total, 1);
}

#define OTHER_ADDRESS 0x7f000002u /* 127.0.0.2: another client, on the same loopback */

/* The ms from C0+C1 to the server's answer. */
static int64_t handshake_answer_ms(int fd)
{
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int64_t start = clock_monotonic_ms();
    static uint8_t s0s1s2[RTMP_HANDSHAKE_S0S1S2_SIZE];
    client_send_c0c1(fd, RTMP_HANDSHAKE_C0C1_SIZE, s0s1s2);
    return clock_monotonic_ms() - start;
}

Test(rtmp_server, per_address_limit_leaves_other_addresses_alone)
{
    restart_guarded(
        &(peer_guard_limits_t){.max_connections_per_ip = 2, .key_failures_allowed = 1000});
    int a = client_handshake();
    int b = client_handshake();
    int c = client_open();
    expect_closed(c, 1000);
    int other = client_handshake_on(client_connect_from(0, OTHER_ADDRESS));
    close(other);
    close(a);
    close(b);
    peer_guard_counts_t counts;
    peer_guard_counts(guard, &counts);
    cr_assert_eq(counts.refused_address, 1);
    cr_assert_eq(counts.refused_total, 0);
}

/* After more wrong keys than allowed, an address's new connections wait before the handshake,
 * longer with each wrong key; other addresses do not wait. */
Test(rtmp_server, wrong_keys_slow_the_address_down)
{
    restart_guarded(&(peer_guard_limits_t){.key_failures_allowed = 2});
    int64_t now = clock_monotonic_ms();
    for (int i = 0; i < 2; i++)
        peer_guard_key_failed(guard, "127.0.0.1", now);
    int fd = client_open();
    cr_assert_lt(handshake_answer_ms(fd), PEER_GUARD_HOLD_FIRST_MS / 2, "not slowed yet");
    close(fd);
    peer_guard_key_failed(guard, "127.0.0.1", now);
    fd = client_open();
    int64_t first = handshake_answer_ms(fd);
    close(fd);
    cr_assert_geq(first, PEER_GUARD_HOLD_FIRST_MS - 10);
    cr_assert_lt(first, PEER_GUARD_HOLD_FIRST_MS * 2);
    peer_guard_key_failed(guard, "127.0.0.1", now);
    fd = client_open();
    cr_assert_geq(handshake_answer_ms(fd), PEER_GUARD_HOLD_FIRST_MS * 2 - 10, "doubled");
    close(fd);
    fd = client_connect_from(0, OTHER_ADDRESS);
    cr_assert_lt(handshake_answer_ms(fd), PEER_GUARD_HOLD_FIRST_MS / 2, "another address");
    close(fd);
    /* A good key ends the burst. */
    peer_guard_key_accepted(guard, "127.0.0.1", clock_monotonic_ms());
    fd = client_open();
    cr_assert_lt(handshake_answer_ms(fd), PEER_GUARD_HOLD_FIRST_MS / 2, "burst over");
    close(fd);
}

static void set_unpublish_delay(int ms)
{
    pthread_mutex_lock(&rec.lock);
    rec.unpublish_delay_ms = ms;
    pthread_mutex_unlock(&rec.lock);
}

/* Ending a publish can take seconds (a transcoder finishing its queue). It runs off the event
 * loops: another publisher served by the same loop keeps flowing meanwhile. */
Test(rtmp_server, slow_unpublish_does_not_hold_up_the_loop)
{
    rtmp_limits_t limits;
    rtmp_limits_default(&limits);
    limits.io_threads = 1;
    restart(&limits);
    set_unpublish_delay(2000);
    int first = client_handshake();
    tbuf_t out = {0};
    tc_obs_publish(&out, "live", "FIRST");
    client_send_buf(first, &out);
    cr_assert(wait_for(&rec.publishes, 1, 3000));
    client_read(first, NULL, 200); /* the replies: a close with unread data would be a reset */
    close(first);

    int second = client_handshake();
    tc_obs_publish(&out, "live", "SECOND");
    tc_media(&out, RTMP_CHUNK_DEFAULT_SIZE, RTMP_MSG_VIDEO, 1, 0, tc_avc_sequence_header,
             sizeof tc_avc_sequence_header);
    tc_media(&out, RTMP_CHUNK_DEFAULT_SIZE, RTMP_MSG_VIDEO, 1, 0, tc_avc_keyframe,
             sizeof tc_avc_keyframe);
    client_send_buf(second, &out);
    cr_assert(wait_for(&rec.media_count, 2, 1500));
    cr_assert_eq(recorded(&rec.publishes), 2);
    cr_assert_eq(recorded(&rec.unpublishes), 0, "the first publish is still ending");
    cr_assert(wait_for(&rec.unpublishes, 1, 3000));
    cr_assert_str_eq(rec.unpublish_reason, "closed by the peer");
    set_unpublish_delay(0);
    client_read(second, NULL, 200);
    close(second);
    cr_assert(wait_for(&rec.unpublishes, 2, 3000));
    tbuf_free(&out);
}

/* Slow ends of different publishes run side by side: three that take 1.5 s each are all done
 * well before the 4.5 s they would take one after the other. */
Test(rtmp_server, slow_unpublishes_run_side_by_side)
{
    set_unpublish_delay(1500);
    enum { PUBLISHERS = 3 };
    int clients[PUBLISHERS];
    tbuf_t out = {0};
    for (int i = 0; i < PUBLISHERS; i++) {
        char key[16];
        snprintf(key, sizeof key, "KEY%d", i);
        clients[i] = client_handshake();
        tc_obs_publish(&out, "live", key);
        client_send_buf(clients[i], &out);
        cr_assert(wait_for(&rec.publishes, i + 1, 3000));
        client_read(clients[i], NULL, 200);
    }
    int64_t closed_ms = clock_monotonic_ms();
    for (int i = 0; i < PUBLISHERS; i++)
        close(clients[i]);
    cr_assert(wait_for(&rec.unpublishes, PUBLISHERS, 6000));
    pthread_mutex_lock(&rec.lock);
    int64_t took = rec.unpublish_ms - closed_ms;
    pthread_mutex_unlock(&rec.lock);
    cr_assert_lt(took, 3000, "the ends took %lld ms", (long long)took);
    tbuf_free(&out);
}

/* A publish again on the same connection starts after its previous publish has ended, as when
 * the handlers run one after the other. */
Test(rtmp_server, publish_again_follows_the_unpublish)
{
    set_unpublish_delay(500);
    int fd = client_handshake();
    tbuf_t out = {0};
    tc_obs_publish(&out, "live", "KEY");
    tc_command(&out, 0, "FCUnpublish", 6, "KEY");
    tc_publish(&out, 1, "AGAIN");
    client_send_buf(fd, &out);
    cr_assert(wait_for(&rec.publishes, 2, 3000));
    pthread_mutex_lock(&rec.lock);
    cr_assert_eq(rec.unpublishes, 1);
    cr_assert_geq(rec.publish_ms, rec.unpublish_ms);
    cr_assert_str_eq(rec.key, "AGAIN");
    pthread_mutex_unlock(&rec.lock);
    close(fd);
    cr_assert(wait_for(&rec.unpublishes, 2, 3000));
    tbuf_free(&out);
}

/* Reads what the server sends for up to ms, until `want` Ping Responses came; checks that they
 * answer the requests 0, 1, 2... in order. Returns their count; *closed: the server closed. */
static int read_ping_responses(int fd, int want, int ms, bool *closed)
{
    rtmp_chunk_limits_t limits;
    rtmp_chunk_limits_default(&limits);
    rtmp_chunk_reader_t *reader = rtmp_chunk_reader_new(&limits);
    static uint8_t pending[1 << 16];
    size_t pending_len = 0;
    int count = 0;
    *closed = false;
    int64_t deadline = clock_monotonic_ms() + ms;
    while (count < want && clock_monotonic_ms() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        ssize_t n = recv(fd, pending + pending_len, sizeof pending - pending_len, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        pending_len += (size_t)n;
        for (;;) {
            size_t used = 0;
            rtmp_message_t m;
            int rc = rtmp_chunk_read(reader, pending, pending_len, &used, &m);
            memmove(pending, pending + used, pending_len - used);
            pending_len -= used;
            cr_assert_geq(rc, 0);
            if (rc == 0)
                break;
            uint32_t value = m.length >= 6
                                 ? (uint32_t)m.payload[2] << 24 | (uint32_t)m.payload[3] << 16 |
                                       (uint32_t)m.payload[4] << 8 | m.payload[5]
                                 : 0;
            if (m.type_id == RTMP_MSG_SET_CHUNK_SIZE)
                rtmp_chunk_reader_set_chunk_size(
                    reader, (uint32_t)m.payload[0] << 24 | (uint32_t)m.payload[1] << 16 |
                                (uint32_t)m.payload[2] << 8 | m.payload[3]);
            if (m.type_id == RTMP_MSG_USER_CONTROL && m.payload[1] == 7) {
                cr_assert_eq(value, (uint32_t)count, "ping response %d answers %u", count, value);
                count++;
            }
        }
    }
    rtmp_chunk_reader_free(reader);
    return count;
}

/* Replies the socket cannot take at once wait for it, in order: a client that reads late (a small
 * receive window, nothing read for half a second) still gets the answer to every ping. */
Test(rtmp_server, replies_wait_for_a_slow_reader)
{
    int fd = client_handshake_on(client_connect(2048));
    tbuf_t out = {0};
    tc_connect(&out, "live");
    enum { PINGS = 5000 }; /* 90 kB of answers: more than the socket buffers hold */
    for (uint32_t i = 0; i < PINGS; i++)
        tc_ping_request(&out, i);
    client_send_buf(fd, &out);
    struct timespec pause = {.tv_nsec = 500 * 1000 * 1000};
    nanosleep(&pause, NULL);
    bool closed;
    cr_assert_eq(read_ping_responses(fd, PINGS, 10000, &closed), PINGS);
    cr_assert_not(closed);
    close(fd);
    tbuf_free(&out);
}

/* A client that never reads its replies is disconnected once they pass the server's limit, and
 * its publish ends. The kernel holds little of the 720 kB of answers whatever its autotuning
 * (the client's receive buffer is set small before connecting, the server's send buffer is
 * fixed), so the server's own bound on queued replies is what ends the connection; queueing
 * must stay cheap per reply for that to happen within the wait (it once copied the whole queue
 * per reply, and took over 5 s under ASan). */
Test(rtmp_server, a_client_that_never_reads_is_disconnected)
{
    int fd = client_handshake_on(client_connect(2048));
    tbuf_t out = {0};
    tc_obs_publish(&out, "live", "KEY");
    for (uint32_t i = 0; i < 40000; i++) /* 720 kB of answers */
        tc_ping_request(&out, i);
    /* The server may close while this is still sending: errors are expected here. */
    for (size_t at = 0; at < out.len;) {
        ssize_t n = send(fd, out.data + at, out.len - at, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        at += (size_t)n;
    }
    cr_assert(wait_for(&rec.unpublishes, 1, 5000));
    cr_assert_str_eq(rec.unpublish_reason, "send failed");
    close(fd);
    tbuf_free(&out);
}

Test(rtmp_server, stop_ends_active_publishes)
{
    int fd = client_handshake();
    tbuf_t out = {0};
    tc_obs_publish(&out, "live", "KEY");
    client_send_buf(fd, &out);
    cr_assert(wait_for(&rec.publishes, 1, 3000));
    rtmp_server_stop(server);
    server = NULL;
    cr_assert_eq(recorded(&rec.unpublishes), 1);
    cr_assert_str_eq(rec.unpublish_reason, "server stopping");
    close(fd);
    tbuf_free(&out);
}

Test(rtmp_server, port_in_use_is_an_error)
{
    rtmp_publish_handlers_t handlers = {.on_publish = on_publish};
    char err[256] = "";
    rtmp_server_t *second = rtmp_server_start("127.0.0.1", (uint16_t)rtmp_server_port(server), NULL,
                                              NULL, &handlers, err, sizeof err);
    cr_assert_null(second);
    cr_assert(strstr(err, "cannot listen"), "%s", err);
    second = rtmp_server_start("no.such.host.invalid", 0, NULL, NULL, &handlers, err, sizeof err);
    cr_assert_null(second);
}
