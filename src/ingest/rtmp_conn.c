/* The RTMP connection state machine: connect -> createStream -> publish -> media -> unpublish.
 * Replies follow what OBS, ffmpeg and Flash-era encoders wait for (FMS and nginx-rtmp answer
 * the same way). Every reply is a few hundred bytes, built on the stack. */
#include "ingest/rtmp_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/rtmp_cmd.h"
#include "util/log.h"

#define LOG_MODULE "rtmp"
#define CSID_CONTROL 2
#define CSID_COMMAND 3
#define CSID_STATUS 5
#define WINDOW_ACK_SIZE 2500000  /* bytes we let the peer send between acknowledgements */
#define PEER_BANDWIDTH 2500000   /* bytes, the Set Peer Bandwidth we announce */
#define PEER_BANDWIDTH_DYNAMIC 2 /* limit type */
#define OUT_CHUNK_SIZE 4096      /* bytes, our chunk size after connect */
#define BYTES_REPORT_MS 500      /* on_bytes at least this often while data flows */
#define STOP_POLL_MS 250         /* should_stop at least this often */
#define REPLY_MAX 2048           /* bytes of one reply body */
#define UC_STREAM_BEGIN 0
#define UC_PING_REQUEST 6
#define UC_PING_RESPONSE 7
#define REASON_MAX 256

struct rtmp_conn {
    rtmp_limits_t limits;
    rtmp_publish_handlers_t handlers;
    char peer[64];
    rtmp_conn_send_fn send;
    void *send_opaque;
    rtmp_chunk_reader_t *reader;
    uint32_t out_chunk_size; /* bytes */

    bool connected;
    char app[RTMP_CMD_NAME_MAX + 1];
    uint32_t streams_created; /* ids 1..streams_created exist */

    bool publishing;
    void *publish_ctx;
    uint32_t publish_stream_id;
    char key_log[16];        /* the stream key as logged: a prefix only, keys are credentials */
    bool has_timestamp;      /* last_timestamp is set */
    uint32_t last_timestamp; /* ms, 32-bit wire time of the last media message */
    int64_t last_dts_ms;     /* ms, the same time unwrapped */
    int64_t last_media_ms;   /* now_ms of the last media message or the publish start; 0 = none */

    uint64_t bytes_in;         /* bytes fed since the handshake */
    uint64_t bytes_unreported; /* not yet given to on_bytes */
    uint64_t bytes_acked;      /* bytes_in at the last Acknowledgement */
    uint32_t peer_window;      /* bytes; the peer's Window Acknowledgement Size, 0 = none */
    int64_t last_report_ms;
    int64_t last_stop_poll_ms;

    bool closing;
    char close_reason[REASON_MAX];
};

void rtmp_limits_default(rtmp_limits_t *limits)
{
    limits->io_threads = 0;
    limits->handshake_timeout_ms = 10000;
    limits->idle_timeout_ms = 10000;
    limits->max_streams_per_connection = 8;
    rtmp_chunk_limits_default(&limits->chunk);
    amf0_limits_default(&limits->amf0);
}

rtmp_conn_t *rtmp_conn_new(const rtmp_limits_t *limits, const rtmp_publish_handlers_t *handlers,
                           const char *peer_addr, rtmp_conn_send_fn send, void *send_opaque)
{
    rtmp_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->limits = *limits;
    c->handlers = *handlers;
    snprintf(c->peer, sizeof c->peer, "%s", peer_addr ? peer_addr : "?");
    c->send = send;
    c->send_opaque = send_opaque;
    c->out_chunk_size = RTMP_CHUNK_DEFAULT_SIZE;
    c->reader = rtmp_chunk_reader_new(&limits->chunk);
    if (!c->reader) {
        free(c);
        return NULL;
    }
    return c;
}

void rtmp_conn_free(rtmp_conn_t *c)
{
    if (!c)
        return;
    rtmp_conn_end_publish(c, "connection closed");
    rtmp_chunk_reader_free(c->reader);
    free(c);
}

const char *rtmp_conn_close_reason(const rtmp_conn_t *c)
{
    return c->closing ? c->close_reason : NULL;
}

bool rtmp_conn_is_publishing(const rtmp_conn_t *c)
{
    return c->publishing;
}

int64_t rtmp_conn_last_media_ms(const rtmp_conn_t *c)
{
    return c->last_media_ms;
}

size_t rtmp_conn_bytes_missing(const rtmp_conn_t *c)
{
    return rtmp_chunk_reader_bytes_missing(c->reader);
}

/* Marks the connection for closing (the first reason wins) and returns RTMP_CONN_CLOSE. */
static int close_with(rtmp_conn_t *c, const char *reason)
{
    if (!c->closing) {
        c->closing = true;
        snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    }
    return RTMP_CONN_CLOSE;
}

static void report_bytes(rtmp_conn_t *c, int64_t now_ms)
{
    c->last_report_ms = now_ms;
    if (!c->publishing || c->bytes_unreported == 0 || !c->handlers.on_bytes)
        return;
    c->handlers.on_bytes(c->publish_ctx, c->bytes_unreported);
    c->bytes_unreported = 0;
}

void rtmp_conn_end_publish(rtmp_conn_t *c, const char *reason)
{
    if (!c->publishing)
        return;
    report_bytes(c, c->last_report_ms);
    log_info(LOG_MODULE, "%s: publish of key %s ended: %s", c->peer, c->key_log, reason);
    c->publishing = false;
    void *ctx = c->publish_ctx;
    c->publish_ctx = NULL;
    if (c->handlers.on_unpublish)
        c->handlers.on_unpublish(ctx, reason);
}

/* ---- sending ---- */

static int send_message(rtmp_conn_t *c, uint32_t csid, uint8_t type_id, uint32_t stream_id,
                        const uint8_t *payload, size_t len)
{
    uint8_t out[2 * REPLY_MAX];
    rtmp_message_t msg = {.csid = csid,
                          .type_id = type_id,
                          .stream_id = stream_id,
                          .payload = payload,
                          .length = len};
    int n = rtmp_chunk_write(c->out_chunk_size, &msg, out, sizeof out);
    if (n < 0 || c->send(c->send_opaque, out, (size_t)n) < 0)
        return close_with(c, "send failed");
    return RTMP_CONN_CONTINUE;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int send_control32(rtmp_conn_t *c, uint8_t type_id, uint32_t value)
{
    uint8_t body[4];
    put_be32(body, value);
    return send_message(c, CSID_CONTROL, type_id, 0, body, sizeof body);
}

static int send_user_control(rtmp_conn_t *c, uint16_t event, uint32_t value)
{
    uint8_t body[6] = {(uint8_t)(event >> 8), (uint8_t)event};
    put_be32(body + 2, value);
    return send_message(c, CSID_CONTROL, RTMP_MSG_USER_CONTROL, 0, body, sizeof body);
}

/* Sends a command reply built by rtmp_cmd (n = its length or a negative error). */
static int send_command(rtmp_conn_t *c, uint32_t csid, uint32_t stream_id, const uint8_t *body,
                        int n)
{
    if (n < 0)
        return close_with(c, "reply too large");
    return send_message(c, csid, RTMP_MSG_COMMAND_AMF0, stream_id, body, (size_t)n);
}

static int send_on_status(rtmp_conn_t *c, uint32_t stream_id, const char *level, const char *code,
                          const char *description)
{
    uint8_t body[REPLY_MAX];
    int n = rtmp_cmd_write_on_status(body, sizeof body, level, code, description);
    return send_command(c, CSID_STATUS, stream_id, body, n);
}

/* Sends an error onStatus and asks for the connection to close with reason. */
static int refuse(rtmp_conn_t *c, uint32_t stream_id, const char *code, const char *reason)
{
    send_on_status(c, stream_id, "error", code, reason);
    return close_with(c, reason);
}

/* ---- commands ---- */

/* A string argument without embedded NULs, or NULL. */
static const char *plain_string(const amf0_value_t *value)
{
    const char *s = amf0_string(value);
    return s && strlen(s) == value->string_len ? s : NULL;
}

static int on_connect(rtmp_conn_t *c, const rtmp_cmd_t *cmd)
{
    uint8_t body[REPLY_MAX];
    if (c->connected)
        return close_with(c, "second connect on one connection");
    const char *app = plain_string(amf0_object_get(cmd->object, "app"));
    if (!app || rtmp_cmd_clean_name(app, true, c->app, sizeof c->app) < 0) {
        int n = rtmp_cmd_write_error(body, sizeof body, cmd->transaction_id,
                                     "NetConnection.Connect.Rejected", "invalid app name");
        send_command(c, CSID_COMMAND, 0, body, n);
        return close_with(c, "connect with an invalid app name");
    }
    c->connected = true;
    log_debug(LOG_MODULE, "%s: connect app=%s", c->peer, c->app);
    if (send_control32(c, RTMP_MSG_WINDOW_ACK_SIZE, WINDOW_ACK_SIZE) != RTMP_CONN_CONTINUE)
        return RTMP_CONN_CLOSE;
    uint8_t bandwidth[5];
    put_be32(bandwidth, PEER_BANDWIDTH);
    bandwidth[4] = PEER_BANDWIDTH_DYNAMIC;
    if (send_message(c, CSID_CONTROL, RTMP_MSG_SET_PEER_BANDWIDTH, 0, bandwidth,
                     sizeof bandwidth) != RTMP_CONN_CONTINUE)
        return RTMP_CONN_CLOSE;
    if (send_control32(c, RTMP_MSG_SET_CHUNK_SIZE, OUT_CHUNK_SIZE) != RTMP_CONN_CONTINUE)
        return RTMP_CONN_CLOSE;
    c->out_chunk_size = OUT_CHUNK_SIZE;
    int n = rtmp_cmd_write_connect_result(body, sizeof body, cmd->transaction_id);
    return send_command(c, CSID_COMMAND, 0, body, n);
}

static int on_create_stream(rtmp_conn_t *c, const rtmp_cmd_t *cmd)
{
    uint8_t body[REPLY_MAX];
    int n;
    if (!c->connected)
        return close_with(c, "createStream before connect");
    if (c->streams_created >= c->limits.max_streams_per_connection) {
        n = rtmp_cmd_write_error(body, sizeof body, cmd->transaction_id,
                                 "NetConnection.Call.Failed", "too many streams");
        return send_command(c, CSID_COMMAND, 0, body, n);
    }
    c->streams_created++;
    n = rtmp_cmd_write_result_number(body, sizeof body, cmd->transaction_id, c->streams_created);
    return send_command(c, CSID_COMMAND, 0, body, n);
}

static int on_fc_publish(rtmp_conn_t *c, const rtmp_cmd_t *cmd)
{
    const char *name = plain_string(rtmp_cmd_arg(cmd, 0));
    uint8_t body[REPLY_MAX];
    int n = rtmp_cmd_write_on_fc_publish(body, sizeof body, "NetStream.Publish.Start",
                                         name && strlen(name) < 256 ? name : "");
    return send_command(c, CSID_COMMAND, 0, body, n);
}

/* A prefix of the key for logs. */
static void set_key_log(rtmp_conn_t *c, const char *key)
{
    if (strlen(key) > 8)
        snprintf(c->key_log, sizeof c->key_log, "%.4s...", key);
    else
        snprintf(c->key_log, sizeof c->key_log, "***");
}

/* Checks that a publish may be asked of the handler; NULL or the refusal reason. */
static const char *publish_precondition(const rtmp_conn_t *c, uint32_t stream_id)
{
    if (!c->connected)
        return "publish before connect";
    if (stream_id == 0 || stream_id > c->streams_created)
        return "publish on a stream that was not created";
    if (c->publishing)
        return "this connection is already publishing";
    if (!c->handlers.on_publish)
        return "publishing is not enabled";
    return NULL;
}

static int accept_publish(rtmp_conn_t *c, uint32_t stream_id, void *ctx, int64_t now_ms)
{
    c->publishing = true;
    c->publish_ctx = ctx;
    c->publish_stream_id = stream_id;
    c->has_timestamp = false;
    c->last_report_ms = now_ms;
    c->last_stop_poll_ms = now_ms;
    c->last_media_ms = now_ms;
    log_info(LOG_MODULE, "%s: publishing app=%s key=%s", c->peer, c->app, c->key_log);
    if (send_user_control(c, UC_STREAM_BEGIN, stream_id) != RTMP_CONN_CONTINUE)
        return RTMP_CONN_CLOSE;
    return send_on_status(c, stream_id, "status", "NetStream.Publish.Start", "Publishing started.");
}

static int on_publish(rtmp_conn_t *c, const rtmp_cmd_t *cmd, uint32_t stream_id, int64_t now_ms)
{
    const char *problem = publish_precondition(c, stream_id);
    if (problem)
        return refuse(c, stream_id, "NetStream.Publish.BadName", problem);
    char key[RTMP_CMD_NAME_MAX + 1];
    const char *name = plain_string(rtmp_cmd_arg(cmd, 0));
    if (!name || rtmp_cmd_clean_name(name, false, key, sizeof key) < 0)
        return refuse(c, stream_id, "NetStream.Publish.BadName", "invalid stream key");
    set_key_log(c, key);
    char reason[REASON_MAX] = "";
    void *ctx = NULL;
    if (c->handlers.on_publish(c->handlers.opaque, c->app, key, c->peer, &ctx, reason,
                               sizeof reason) != 0) {
        reason[sizeof reason - 1] = '\0';
        if (!reason[0])
            snprintf(reason, sizeof reason, "stream key refused");
        /* The handler logged why (and a guessing burst only once). */
        log_debug(LOG_MODULE, "%s: publish app=%s key=%s refused: %s", c->peer, c->app, c->key_log,
                  reason);
        return refuse(c, stream_id, "NetStream.Publish.BadName", reason);
    }
    return accept_publish(c, stream_id, ctx, now_ms);
}

static int on_unpublish_command(rtmp_conn_t *c, const char *name)
{
    log_debug(LOG_MODULE, "%s: %s", c->peer, name);
    rtmp_conn_end_publish(c, "unpublished by the client");
    return RTMP_CONN_CONTINUE;
}

static int dispatch_command(rtmp_conn_t *c, const rtmp_cmd_t *cmd, uint32_t stream_id,
                            int64_t now_ms)
{
    const char *name = cmd->name;
    if (strcmp(name, "connect") == 0)
        return on_connect(c, cmd);
    if (strcmp(name, "createStream") == 0)
        return on_create_stream(c, cmd);
    if (strcmp(name, "FCPublish") == 0)
        return on_fc_publish(c, cmd);
    if (strcmp(name, "publish") == 0)
        return on_publish(c, cmd, stream_id, now_ms);
    if (strcmp(name, "FCUnpublish") == 0 || strcmp(name, "deleteStream") == 0 ||
        strcmp(name, "closeStream") == 0)
        return on_unpublish_command(c, name);
    if (strcmp(name, "play") == 0 || strcmp(name, "play2") == 0)
        return refuse(c, stream_id, "NetStream.Play.Failed",
                      "playback is served over HLS, not RTMP");
    /* releaseStream, _checkbw, getStreamLength, ...: nothing to answer. */
    log_debug(LOG_MODULE, "%s: ignoring command %.64s", c->peer, name);
    return RTMP_CONN_CONTINUE;
}

static int handle_command(rtmp_conn_t *c, const rtmp_message_t *msg, int64_t now_ms)
{
    const uint8_t *body = msg->payload;
    size_t len = msg->length;
    if (msg->type_id == RTMP_MSG_COMMAND_AMF3 && len > 0) {
        body++; /* AMF3 command messages start with a 0 byte, then AMF0 */
        len--;
    }
    rtmp_cmd_t cmd;
    int rc = rtmp_cmd_parse(body, len, &c->limits.amf0, &cmd);
    if (rc < 0) {
        log_warn(LOG_MODULE, "%s: malformed command: %s", c->peer, amf0_strerror(rc));
        return close_with(c, "malformed command");
    }
    rc = dispatch_command(c, &cmd, msg->stream_id, now_ms);
    rtmp_cmd_clear(&cmd);
    return rc;
}

/* Refuses a codec that onMetaData announces before any frame of it arrives: audio often comes
 * first, and the broadcast must not start counting media it will refuse a moment later. */
static int check_announced_codecs(rtmp_conn_t *c, const amf0_value_t *metadata)
{
    static const struct {
        const char *key;
        flv_media_kind_t kind;
    } announced[] = {{"videocodecid", FLV_MEDIA_VIDEO}, {"audiocodecid", FLV_MEDIA_AUDIO}};
    for (size_t i = 0; i < sizeof announced / sizeof announced[0]; i++) {
        const amf0_value_t *value = amf0_object_get(metadata, announced[i].key);
        double id = 0;
        bool is_number = amf0_number(value, &id);
        const char *fourcc = amf0_string(value);
        if (!is_number && !fourcc)
            continue;
        const char *refused = flv_announced_codec_refused(announced[i].kind, id, fourcc);
        if (!refused)
            continue;
        const char *kind = announced[i].kind == FLV_MEDIA_VIDEO ? "video" : "audio";
        char reason[REASON_MAX];
        snprintf(reason, sizeof reason,
                 "unsupported %s codec %s: streamd accepts H.264 video and AAC audio", kind,
                 refused);
        log_warn(LOG_MODULE, "%s: key %s: %s (announced in onMetaData); closing", c->peer,
                 c->key_log, reason);
        return refuse(c, c->publish_stream_id, "NetStream.Publish.Rejected", reason);
    }
    return RTMP_CONN_CONTINUE;
}

static int handle_data(rtmp_conn_t *c, const rtmp_message_t *msg)
{
    const uint8_t *body = msg->payload;
    size_t len = msg->length;
    if (msg->type_id == RTMP_MSG_DATA_AMF3 && len > 0) {
        body++;
        len--;
    }
    if (!c->publishing || msg->stream_id != c->publish_stream_id)
        return RTMP_CONN_CONTINUE;
    amf0_value_t *values;
    int rc = amf0_decode_sequence(body, len, &c->limits.amf0, &values);
    if (rc < 0) {
        log_warn(LOG_MODULE, "%s: key %s: ignoring malformed data message: %s", c->peer, c->key_log,
                 amf0_strerror(rc));
        return RTMP_CONN_CONTINUE;
    }
    const amf0_value_t *metadata = rtmp_cmd_find_metadata(values);
    rc = metadata ? check_announced_codecs(c, metadata) : RTMP_CONN_CONTINUE;
    if (rc == RTMP_CONN_CONTINUE && metadata && c->handlers.on_metadata)
        c->handlers.on_metadata(c->publish_ctx, metadata);
    amf0_free(values);
    return rc;
}

/* ---- media ---- */

/* Unwraps the 32-bit wire time: each step is the signed 32-bit difference to the last one, so
 * wrap-around after 49.7 days and small backward steps (interleaving) both come out right. */
static int64_t unwrap_timestamp(rtmp_conn_t *c, uint32_t timestamp)
{
    if (!c->has_timestamp) {
        c->has_timestamp = true;
        c->last_dts_ms = timestamp;
    } else {
        c->last_dts_ms += (int32_t)(timestamp - c->last_timestamp);
    }
    c->last_timestamp = timestamp;
    return c->last_dts_ms;
}

static int refuse_media(rtmp_conn_t *c, int rc, const flv_media_t *media)
{
    const char *kind = media->kind == FLV_MEDIA_VIDEO ? "video" : "audio";
    char reason[REASON_MAX];
    if (rc == FLV_ERR_UNSUPPORTED) {
        snprintf(reason, sizeof reason,
                 "unsupported %s codec %s%s%s%s: streamd accepts H.264 video and AAC audio", kind,
                 media->codec_name ? media->codec_name : "?", media->fourcc[0] ? " ('" : "",
                 media->fourcc, media->fourcc[0] ? "')" : "");
        log_warn(LOG_MODULE, "%s: key %s: %s; closing", c->peer, c->key_log, reason);
        return refuse(c, c->publish_stream_id, "NetStream.Publish.Rejected", reason);
    }
    snprintf(reason, sizeof reason, "invalid %s message: %s", kind,
             media->error ? media->error : "?");
    log_warn(LOG_MODULE, "%s: key %s: %s; closing", c->peer, c->key_log, reason);
    return refuse(c, c->publish_stream_id, "NetStream.Failed", reason);
}

static int handle_media(rtmp_conn_t *c, const rtmp_message_t *msg)
{
    if (!c->publishing || msg->stream_id != c->publish_stream_id || msg->length == 0)
        return RTMP_CONN_CONTINUE;
    flv_media_t media;
    int64_t dts_ms = unwrap_timestamp(c, msg->timestamp);
    int rc = flv_parse(msg->type_id, msg->payload, msg->length, dts_ms, &media);
    if (rc == FLV_SKIP || (rc == FLV_OK && media.is_end_of_sequence))
        return RTMP_CONN_CONTINUE;
    if (rc != FLV_OK)
        return refuse_media(c, rc, &media);
    if (c->handlers.on_media && c->handlers.on_media(c->publish_ctx, &media) < 0)
        return close_with(c, "ended by the media pipeline");
    return RTMP_CONN_CONTINUE;
}

/* Aggregate messages pack FLV tags: type(1) size(3) time(3) time_high(1) stream(3) body
 * back_pointer(4). Tag times are relative to the first tag and anchored at the aggregate's own
 * time; only audio, video and data tags are taken, on the aggregate's message stream. */
static int handle_aggregate(rtmp_conn_t *c, const rtmp_message_t *msg)
{
    const uint8_t *p = msg->payload;
    size_t left = msg->length;
    bool first = true;
    uint32_t first_time = 0;
    while (left > 0 && !c->closing) {
        if (left < 15)
            return close_with(c, "malformed aggregate message");
        size_t size = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        uint32_t time = (uint32_t)p[4] << 16 | (uint32_t)p[5] << 8 | p[6] | (uint32_t)p[7] << 24;
        if (size > left - 15)
            return close_with(c, "malformed aggregate message");
        if (first)
            first_time = time;
        first = false;
        rtmp_message_t tag = {.csid = msg->csid,
                              .type_id = p[0],
                              .stream_id = msg->stream_id,
                              .timestamp = msg->timestamp + (time - first_time),
                              .payload = p + 11,
                              .length = size};
        if (tag.type_id == RTMP_MSG_AUDIO || tag.type_id == RTMP_MSG_VIDEO)
            handle_media(c, &tag);
        else if (tag.type_id == RTMP_MSG_DATA_AMF0)
            handle_data(c, &tag);
        p += 15 + size;
        left -= 15 + size;
    }
    return c->closing ? RTMP_CONN_CLOSE : RTMP_CONN_CONTINUE;
}

/* ---- protocol control ---- */

static int handle_user_control(rtmp_conn_t *c, const rtmp_message_t *msg)
{
    if (msg->length < 6)
        return RTMP_CONN_CONTINUE;
    unsigned event = (unsigned)msg->payload[0] << 8 | msg->payload[1];
    if (event == UC_PING_REQUEST)
        return send_user_control(c, UC_PING_RESPONSE, get_be32(msg->payload + 2));
    return RTMP_CONN_CONTINUE;
}

static int handle_control(rtmp_conn_t *c, const rtmp_message_t *msg)
{
    if (msg->length < 4)
        return msg->type_id == RTMP_MSG_SET_CHUNK_SIZE ? close_with(c, "short Set Chunk Size")
                                                       : RTMP_CONN_CONTINUE;
    uint32_t value = get_be32(msg->payload);
    switch (msg->type_id) {
    case RTMP_MSG_SET_CHUNK_SIZE:
        if (rtmp_chunk_reader_set_chunk_size(c->reader, value) < 0) {
            log_warn(LOG_MODULE, "%s: refusing chunk size %u", c->peer, value);
            return close_with(c, "chunk size out of range");
        }
        return RTMP_CONN_CONTINUE;
    case RTMP_MSG_ABORT:
        rtmp_chunk_reader_abort(c->reader, value);
        return RTMP_CONN_CONTINUE;
    case RTMP_MSG_WINDOW_ACK_SIZE:
        c->peer_window = value;
        return RTMP_CONN_CONTINUE;
    default: /* Acknowledgement, Set Peer Bandwidth: nothing to do for a receiver */
        return RTMP_CONN_CONTINUE;
    }
}

static int handle_message(rtmp_conn_t *c, const rtmp_message_t *msg, int64_t now_ms)
{
    switch (msg->type_id) {
    case RTMP_MSG_SET_CHUNK_SIZE:
    case RTMP_MSG_ABORT:
    case RTMP_MSG_ACKNOWLEDGEMENT:
    case RTMP_MSG_WINDOW_ACK_SIZE:
    case RTMP_MSG_SET_PEER_BANDWIDTH:
        return handle_control(c, msg);
    case RTMP_MSG_USER_CONTROL:
        return handle_user_control(c, msg);
    case RTMP_MSG_AUDIO:
    case RTMP_MSG_VIDEO:
        return handle_media(c, msg);
    case RTMP_MSG_COMMAND_AMF0:
    case RTMP_MSG_COMMAND_AMF3:
        return handle_command(c, msg, now_ms);
    case RTMP_MSG_DATA_AMF0:
    case RTMP_MSG_DATA_AMF3:
        return handle_data(c, msg);
    case RTMP_MSG_AGGREGATE:
        return handle_aggregate(c, msg);
    default:
        return RTMP_CONN_CONTINUE;
    }
}

/* Media of the publish: what keeps a connection from its idle timeout. */
static bool is_publish_media(const rtmp_conn_t *c, const rtmp_message_t *msg)
{
    return c->publishing && msg->stream_id == c->publish_stream_id && msg->length > 0 &&
           (msg->type_id == RTMP_MSG_AUDIO || msg->type_id == RTMP_MSG_VIDEO ||
            msg->type_id == RTMP_MSG_AGGREGATE);
}

/* Acknowledges when the peer's window is reached. */
static int maybe_acknowledge(rtmp_conn_t *c)
{
    if (c->peer_window == 0 || c->bytes_in - c->bytes_acked < c->peer_window)
        return RTMP_CONN_CONTINUE;
    c->bytes_acked = c->bytes_in;
    return send_control32(c, RTMP_MSG_ACKNOWLEDGEMENT, (uint32_t)c->bytes_in);
}

int rtmp_conn_feed(rtmp_conn_t *c, const uint8_t *buf, size_t len, size_t *consumed, int64_t now_ms)
{
    size_t pos = 0;
    while (!c->closing) {
        size_t used = 0;
        rtmp_message_t msg;
        int rc = rtmp_chunk_read(c->reader, buf + pos, len - pos, &used, &msg);
        pos += used;
        c->bytes_in += used;
        c->bytes_unreported += used;
        if (rc < 0) {
            log_warn(LOG_MODULE, "%s: chunk stream error: %s", c->peer, rtmp_chunk_strerror(rc));
            close_with(c, rtmp_chunk_strerror(rc));
            break;
        }
        if (rc == 0)
            break;
        handle_message(c, &msg, now_ms);
        if (is_publish_media(c, &msg))
            c->last_media_ms = now_ms;
        if (!c->closing)
            maybe_acknowledge(c);
    }
    *consumed = pos;
    return c->closing ? RTMP_CONN_CLOSE : RTMP_CONN_CONTINUE;
}

int rtmp_conn_tick(rtmp_conn_t *c, int64_t now_ms)
{
    if (c->closing)
        return RTMP_CONN_CLOSE;
    if (!c->publishing)
        return RTMP_CONN_CONTINUE;
    if (now_ms - c->last_report_ms >= BYTES_REPORT_MS)
        report_bytes(c, now_ms);
    if (now_ms - c->last_stop_poll_ms >= STOP_POLL_MS) {
        c->last_stop_poll_ms = now_ms;
        if (c->handlers.should_stop && c->handlers.should_stop(c->publish_ctx)) {
            log_info(LOG_MODULE, "%s: key %s: stopping the publish on the server's request",
                     c->peer, c->key_log);
            return refuse(c, c->publish_stream_id, "NetStream.Publish.Rejected",
                          "stream stopped by the server");
        }
    }
    return RTMP_CONN_CONTINUE;
}
