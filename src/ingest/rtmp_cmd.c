/* RTMP command decoding and reply building on top of amf0. */
#include "ingest/rtmp_cmd.h"

#include <string.h>

#define FMS_VERSION "FMS/3,5,7,7009"
#define FMS_CAPABILITIES 31
#define FMS_MODE 1
#define BANDWIDTH_HINT_KBPS 8192

int rtmp_cmd_parse(const uint8_t *payload, size_t len, const amf0_limits_t *limits, rtmp_cmd_t *out)
{
    memset(out, 0, sizeof *out);
    amf0_value_t *values;
    int rc = amf0_decode_sequence(payload, len, limits, &values);
    if (rc < 0)
        return rc;
    const char *name = amf0_string(amf0_item(values, 0));
    if (!name) {
        amf0_free(values);
        return AMF0_ERR_SYNTAX;
    }
    out->values = values;
    out->name = name;
    double txn;
    if (amf0_number(amf0_item(values, 1), &txn))
        out->transaction_id = txn;
    out->object = amf0_item(values, 2);
    out->arg_count = values->item_count > 3 ? values->item_count - 3 : 0;
    return 0;
}

const amf0_value_t *rtmp_cmd_arg(const rtmp_cmd_t *cmd, size_t index)
{
    if (index >= cmd->arg_count)
        return NULL;
    return amf0_item(cmd->values, index + 3);
}

void rtmp_cmd_clear(rtmp_cmd_t *cmd)
{
    amf0_free(cmd->values);
    memset(cmd, 0, sizeof *cmd);
}

static bool is_map(const amf0_value_t *v)
{
    return v && (v->type == AMF0_OBJECT || v->type == AMF0_ECMA_ARRAY);
}

const amf0_value_t *rtmp_cmd_find_metadata(const amf0_value_t *values)
{
    size_t index = 0;
    const char *first = amf0_string(amf0_item(values, 0));
    if (first && strcmp(first, "@setDataFrame") == 0)
        index = 1;
    const char *name = amf0_string(amf0_item(values, index));
    if (!name || strcmp(name, "onMetaData") != 0)
        return NULL;
    const amf0_value_t *metadata = amf0_item(values, index + 1);
    return is_map(metadata) ? metadata : NULL;
}

int rtmp_cmd_clean_name(const char *in, bool trim_slashes, char *out, size_t out_size)
{
    size_t len = strcspn(in, "?");
    size_t start = 0;
    if (trim_slashes) {
        while (start < len && in[start] == '/')
            start++;
        while (len > start && in[len - 1] == '/')
            len--;
    }
    len -= start;
    if (len == 0 || len > RTMP_CMD_NAME_MAX || len >= out_size)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[start + i];
        if (c < 0x20 || c == 0x7F)
            return -1;
    }
    memcpy(out, in + start, len);
    out[len] = '\0';
    return 0;
}

static void write_status_object(amf0_writer_t *w, const char *level, const char *code,
                                const char *description)
{
    amf0_write_object_start(w);
    if (level)
        amf0_write_prop_string(w, "level", level);
    amf0_write_prop_string(w, "code", code);
    amf0_write_prop_string(w, "description", description);
    amf0_write_object_end(w);
}

/* name, transaction id, null, then the status object: _error, onStatus and onFCPublish. */
static int write_status_command(uint8_t *buf, size_t capacity, const char *name,
                                double transaction_id, const char *level, const char *code,
                                const char *description)
{
    amf0_writer_t w;
    amf0_writer_init(&w, buf, capacity);
    amf0_write_string(&w, name);
    amf0_write_number(&w, transaction_id);
    amf0_write_null(&w);
    write_status_object(&w, level, code, description);
    return amf0_writer_finish(&w);
}

int rtmp_cmd_write_connect_result(uint8_t *buf, size_t capacity, double transaction_id)
{
    amf0_writer_t w;
    amf0_writer_init(&w, buf, capacity);
    amf0_write_string(&w, "_result");
    amf0_write_number(&w, transaction_id);
    amf0_write_object_start(&w);
    amf0_write_prop_string(&w, "fmsVer", FMS_VERSION);
    amf0_write_prop_number(&w, "capabilities", FMS_CAPABILITIES);
    amf0_write_prop_number(&w, "mode", FMS_MODE);
    amf0_write_object_end(&w);
    amf0_write_object_start(&w);
    amf0_write_prop_string(&w, "level", "status");
    amf0_write_prop_string(&w, "code", "NetConnection.Connect.Success");
    amf0_write_prop_string(&w, "description", "Connection succeeded.");
    amf0_write_prop_number(&w, "objectEncoding", 0);
    amf0_write_object_end(&w);
    return amf0_writer_finish(&w);
}

int rtmp_cmd_write_result_number(uint8_t *buf, size_t capacity, double transaction_id,
                                 double number)
{
    amf0_writer_t w;
    amf0_writer_init(&w, buf, capacity);
    amf0_write_string(&w, "_result");
    amf0_write_number(&w, transaction_id);
    amf0_write_null(&w);
    amf0_write_number(&w, number);
    return amf0_writer_finish(&w);
}

int rtmp_cmd_write_error(uint8_t *buf, size_t capacity, double transaction_id, const char *code,
                         const char *description)
{
    return write_status_command(buf, capacity, "_error", transaction_id, "error", code,
                                description);
}

int rtmp_cmd_write_on_status(uint8_t *buf, size_t capacity, const char *level, const char *code,
                             const char *description)
{
    return write_status_command(buf, capacity, "onStatus", 0, level, code, description);
}

int rtmp_cmd_write_on_fc_publish(uint8_t *buf, size_t capacity, const char *code,
                                 const char *description)
{
    return write_status_command(buf, capacity, "onFCPublish", 0, NULL, code, description);
}

int rtmp_cmd_write_on_bw_done(uint8_t *buf, size_t capacity)
{
    amf0_writer_t w;
    amf0_writer_init(&w, buf, capacity);
    amf0_write_string(&w, "onBWDone");
    amf0_write_number(&w, 0);
    amf0_write_null(&w);
    amf0_write_number(&w, BANDWIDTH_HINT_KBPS);
    return amf0_writer_finish(&w);
}
