/* Test helpers shared by the ingest tests: a client that builds chunked messages (commands,
 * control, FLV tags), a parser for what the server sends back, and a way to run the ffmpeg CLI
 * as a publisher. Header-only (static inline) so each test binary compiles it alone. */
#ifndef STREAMD_TEST_RTMP_TEST_UTIL_H
#define STREAMD_TEST_RTMP_TEST_UTIL_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "ingest/amf0.h"
#include "ingest/rtmp_chunk.h"
#include "ingest/rtmp_cmd.h"
#include "util/clock.h"

extern char **environ;

typedef struct tbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
} tbuf_t;

static inline void tbuf_put(tbuf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->data = realloc(b->data, cap);
        cr_assert_not_null(b->data);
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void tbuf_free(tbuf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- client side ---- */

static inline void tc_message(tbuf_t *b, uint32_t chunk_size, uint32_t csid, uint8_t type,
                              uint32_t msid, uint32_t ts, const uint8_t *payload, size_t len)
{
    rtmp_message_t msg = {.csid = csid,
                          .type_id = type,
                          .stream_id = msid,
                          .timestamp = ts,
                          .payload = payload,
                          .length = len};
    size_t need = rtmp_chunk_encoded_size(chunk_size, csid, ts, len);
    uint8_t *out = malloc(need);
    int n = rtmp_chunk_write(chunk_size, &msg, out, need);
    cr_assert_eq((size_t)n, need);
    tbuf_put(b, out, need);
    free(out);
}

static inline void tc_amf(tbuf_t *b, uint32_t msid, uint8_t type, amf0_writer_t *w)
{
    int n = amf0_writer_finish(w);
    cr_assert_gt(n, 0);
    tc_message(b, RTMP_CHUNK_DEFAULT_SIZE, msid ? 8 : 3, type, msid, 0, w->buf, (size_t)n);
}

static inline void tc_connect(tbuf_t *b, const char *app)
{
    uint8_t body[512];
    amf0_writer_t w;
    amf0_writer_init(&w, body, sizeof body);
    amf0_write_string(&w, "connect");
    amf0_write_number(&w, 1);
    amf0_write_object_start(&w);
    if (app)
        amf0_write_prop_string(&w, "app", app);
    amf0_write_prop_string(&w, "type", "nonprivate");
    amf0_write_prop_string(&w, "flashVer", "FMLE/3.0 (compatible; test)");
    amf0_write_prop_string(&w, "tcUrl", "rtmp://127.0.0.1/live");
    amf0_write_object_end(&w);
    tc_amf(b, 0, RTMP_MSG_COMMAND_AMF0, &w);
}

/* name(txn, null[, arg]) on message stream msid. */
static inline void tc_command(tbuf_t *b, uint32_t msid, const char *name, double txn,
                              const char *arg)
{
    uint8_t body[1024];
    amf0_writer_t w;
    amf0_writer_init(&w, body, sizeof body);
    amf0_write_string(&w, name);
    amf0_write_number(&w, txn);
    amf0_write_null(&w);
    if (arg)
        amf0_write_string(&w, arg);
    tc_amf(b, msid, RTMP_MSG_COMMAND_AMF0, &w);
}

static inline void tc_publish(tbuf_t *b, uint32_t msid, const char *key)
{
    uint8_t body[1024];
    amf0_writer_t w;
    amf0_writer_init(&w, body, sizeof body);
    amf0_write_string(&w, "publish");
    amf0_write_number(&w, 5);
    amf0_write_null(&w);
    amf0_write_string(&w, key);
    amf0_write_string(&w, "live");
    tc_amf(b, msid, RTMP_MSG_COMMAND_AMF0, &w);
}

/* connect, releaseStream, FCPublish, createStream, publish: what OBS sends. */
static inline void tc_obs_publish(tbuf_t *b, const char *app, const char *key)
{
    tc_connect(b, app);
    tc_command(b, 0, "releaseStream", 2, key);
    tc_command(b, 0, "FCPublish", 3, key);
    tc_command(b, 0, "createStream", 4, NULL);
    tc_publish(b, 1, key);
}

static inline void tc_control32(tbuf_t *b, uint8_t type, uint32_t value)
{
    uint8_t body[4] = {(uint8_t)(value >> 24), (uint8_t)(value >> 16), (uint8_t)(value >> 8),
                       (uint8_t)value};
    tc_message(b, RTMP_CHUNK_DEFAULT_SIZE, 2, type, 0, 0, body, 4);
}

static inline void tc_metadata(tbuf_t *b, uint32_t msid, double width)
{
    uint8_t body[512];
    amf0_writer_t w;
    amf0_writer_init(&w, body, sizeof body);
    amf0_write_string(&w, "@setDataFrame");
    amf0_write_string(&w, "onMetaData");
    amf0_write_ecma_array_start(&w, 2);
    amf0_write_prop_number(&w, "width", width);
    amf0_write_prop_number(&w, "videocodecid", 7);
    amf0_write_object_end(&w);
    tc_amf(b, msid, RTMP_MSG_DATA_AMF0, &w);
}

/* A valid H.264 sequence header tag body (High, level 3.0). */
__attribute__((unused)) static const uint8_t tc_avc_sequence_header[] = {
    0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x1E, 0xFF, 0xE1, 0x00, 0x0F,
    0x67, 0x64, 0x00, 0x1E, 0xAC, 0xD9, 0x40, 0xA0, 0x2F, 0xF9, 0x70, 0x11, 0x00,
    0x00, 0x03, 0x01, 0x00, 0x06, 0x68, 0xEB, 0xE3, 0xCB, 0x22, 0xC0};
__attribute__((unused)) static const uint8_t tc_avc_keyframe[] = {
    0x17, 0x01, 0x00, 0x00, 0x21, 0x00, 0x00, 0x00, 0x02, 0x65, 0x88};
__attribute__((unused)) static const uint8_t tc_avc_inter[] = {0x27, 0x01, 0x00, 0x00, 0x00, 0x00,
                                                               0x00, 0x00, 0x02, 0x41, 0x9A};
__attribute__((unused)) static const uint8_t tc_avc_end[] = {0x17, 0x02, 0x00, 0x00, 0x00};
__attribute__((unused)) static const uint8_t tc_aac_config[] = {0xAF, 0x00, 0x11, 0x90};
__attribute__((unused)) static const uint8_t tc_aac_raw[] = {0xAF, 0x01, 0x21, 0x10, 0x04, 0x60};
__attribute__((unused)) static const uint8_t tc_sorenson_frame[] = {0x12, 0x00, 0x00, 0x84, 0x00};
__attribute__((unused)) static const uint8_t tc_mp3_frame[] = {0x2F, 0xFF, 0xFB, 0x90, 0x64};

static inline void tc_media(tbuf_t *b, uint32_t chunk_size, uint8_t type, uint32_t msid,
                            uint32_t ts, const uint8_t *tag, size_t len)
{
    tc_message(b, chunk_size, type == RTMP_MSG_VIDEO ? 6 : 4, type, msid, ts, tag, len);
}

/* ---- server replies ---- */

typedef struct treply {
    uint8_t type;
    uint32_t msid;
    uint32_t value; /* control messages: the first 32 bits; user control: the event data */
    uint16_t event; /* user control event */
    char name[64];  /* commands */
    double number;  /* commands: a number as 4th value (createStream _result) */
    char level[16];
    char code[128];
    char description[512];
} treply_t;

typedef struct tparser {
    rtmp_chunk_reader_t *reader;
    uint8_t pending[1 << 16];
    size_t pending_len;
    treply_t replies[256];
    size_t count;
    int error;
} tparser_t;

static inline void tp_init(tparser_t *p)
{
    memset(p, 0, sizeof *p);
    rtmp_chunk_limits_t l;
    rtmp_chunk_limits_default(&l);
    p->reader = rtmp_chunk_reader_new(&l);
}

static inline void tp_free(tparser_t *p)
{
    rtmp_chunk_reader_free(p->reader);
    p->reader = NULL;
}

static inline void tp_copy_field(const amf0_value_t *obj, const char *key, char *out, size_t size)
{
    const char *s = amf0_string(amf0_object_get(obj, key));
    snprintf(out, size, "%s", s ? s : "");
}

static inline void tp_decode(tparser_t *p, treply_t *r, const rtmp_message_t *m)
{
    r->type = m->type_id;
    r->msid = m->stream_id;
    if (m->type_id == RTMP_MSG_USER_CONTROL && m->length >= 6) {
        r->event = (uint16_t)(m->payload[0] << 8 | m->payload[1]);
        r->value = (uint32_t)m->payload[2] << 24 | (uint32_t)m->payload[3] << 16 |
                   (uint32_t)m->payload[4] << 8 | m->payload[5];
    } else if (m->type_id != RTMP_MSG_COMMAND_AMF0 && m->length >= 4) {
        r->value = (uint32_t)m->payload[0] << 24 | (uint32_t)m->payload[1] << 16 |
                   (uint32_t)m->payload[2] << 8 | m->payload[3];
        if (m->type_id == RTMP_MSG_SET_CHUNK_SIZE)
            cr_assert_eq(rtmp_chunk_reader_set_chunk_size(p->reader, r->value), 0);
    }
    if (m->type_id != RTMP_MSG_COMMAND_AMF0)
        return;
    amf0_limits_t l;
    amf0_limits_default(&l);
    rtmp_cmd_t cmd;
    cr_assert_eq(rtmp_cmd_parse(m->payload, m->length, &l, &cmd), 0);
    snprintf(r->name, sizeof r->name, "%s", cmd.name);
    const amf0_value_t *info = rtmp_cmd_arg(&cmd, 0);
    amf0_number(info, &r->number);
    tp_copy_field(info, "level", r->level, sizeof r->level);
    tp_copy_field(info, "code", r->code, sizeof r->code);
    tp_copy_field(info, "description", r->description, sizeof r->description);
    rtmp_cmd_clear(&cmd);
}

static inline void tp_feed(tparser_t *p, const uint8_t *buf, size_t len)
{
    cr_assert_leq(p->pending_len + len, sizeof p->pending);
    memcpy(p->pending + p->pending_len, buf, len);
    p->pending_len += len;
    for (;;) {
        size_t used = 0;
        rtmp_message_t m;
        int rc = rtmp_chunk_read(p->reader, p->pending, p->pending_len, &used, &m);
        memmove(p->pending, p->pending + used, p->pending_len - used);
        p->pending_len -= used;
        if (rc < 0)
            p->error = rc;
        if (rc <= 0)
            return;
        cr_assert_lt(p->count, 256);
        tp_decode(p, &p->replies[p->count++], &m);
    }
}

/* The first reply whose command name or status code is text, or NULL. */
static inline const treply_t *tp_find(const tparser_t *p, const char *text)
{
    for (size_t i = 0; i < p->count; i++) {
        if (strcmp(p->replies[i].name, text) == 0 || strcmp(p->replies[i].code, text) == 0)
            return &p->replies[i];
    }
    return NULL;
}

/* The first onStatus reply with this code, or NULL. */
static inline const treply_t *tp_find_status(const tparser_t *p, const char *code)
{
    for (size_t i = 0; i < p->count; i++) {
        if (strcmp(p->replies[i].name, "onStatus") == 0 && strcmp(p->replies[i].code, code) == 0)
            return &p->replies[i];
    }
    return NULL;
}

static inline const treply_t *tp_find_type(const tparser_t *p, uint8_t type)
{
    for (size_t i = 0; i < p->count; i++) {
        if (p->replies[i].type == type)
            return &p->replies[i];
    }
    return NULL;
}

/* ---- a publisher process ---- */

/* Starts the ffmpeg CLI publishing `seconds` of a 640x360 30 fps test picture (a key frame a
 * second) and a tone to url, in real time; returns its pid. */
static inline pid_t tc_spawn_ffmpeg(const char *video_codec, const char *audio_codec,
                                    const char *seconds, const char *url)
{
    char *argv[] = {"ffmpeg",       "-nostdin",
                    "-hide_banner", "-loglevel",
                    "error",        "-re",
                    "-f",           "lavfi",
                    "-i",           "testsrc2=size=640x360:rate=30",
                    "-f",           "lavfi",
                    "-i",           "sine=frequency=440:sample_rate=48000",
                    "-t",           (char *)seconds,
                    "-c:v",         (char *)video_codec,
                    "-preset",      "ultrafast",
                    "-g",           "30",
                    "-c:a",         (char *)audio_codec,
                    "-f",           "flv",
                    (char *)url,    NULL};
    if (strcmp(video_codec, "libx264") != 0) {
        /* "-preset" is an x264 option: drop it for other encoders. */
        const size_t count = sizeof argv / sizeof *argv; /* with the final NULL */
        memmove(&argv[18], &argv[20], (count - 20) * sizeof *argv);
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    /* ffmpeg's errors ("Server error: <our onStatus description>") go to STREAMD_TEST_FFMPEG_LOG
     * when set, for debugging. */
    const char *log_path = getenv("STREAMD_TEST_FFMPEG_LOG");
    posix_spawn_file_actions_addopen(&actions, 2, log_path ? log_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid;
    int rc = posix_spawnp(&pid, "ffmpeg", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    cr_assert_eq(rc, 0, "cannot run ffmpeg: %s", strerror(rc));
    return pid;
}

/* Exit status of pid, killing it after timeout_ms; -1 when it had to be killed. */
static inline int tc_wait_exit(pid_t pid, int timeout_ms)
{
    int64_t deadline = clock_monotonic_ms() + timeout_ms;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (clock_monotonic_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
