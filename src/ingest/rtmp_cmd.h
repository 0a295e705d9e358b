/* RTMP commands (NetConnection / NetStream calls in AMF0) and data messages: decoding a command
 * into name, transaction id, command object and arguments; building the replies encoders wait
 * for (_result, _error, onStatus, onFCPublish, onBWDone); finding onMetaData; cleaning app and
 * stream names. Pure functions over caller buffers; any thread. */
#ifndef STREAMD_INGEST_RTMP_CMD_H
#define STREAMD_INGEST_RTMP_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "ingest/amf0.h"

#define RTMP_CMD_NAME_MAX 256 /* bytes of a cleaned app or stream name, without the NUL */

typedef struct rtmp_cmd {
    amf0_value_t *values;       /* every value of the message, in order (owned; see clear) */
    const char *name;           /* the first value, a string */
    double transaction_id;      /* the second value when it is a number, else 0 */
    const amf0_value_t *object; /* the third value (command object, often null), or NULL */
    size_t arg_count;           /* values after the command object */
} rtmp_cmd_t;

/* Decodes an AMF0 command message body (for AMF3 command messages, type 17, skip their leading 0
 * byte first). On success fills *out (free with rtmp_cmd_clear) and returns 0; returns a negative
 * AMF0_ERR_* when the body does not decode, or AMF0_ERR_SYNTAX when it does not start with a
 * string name. */
int rtmp_cmd_parse(const uint8_t *payload, size_t len, const amf0_limits_t *limits,
                   rtmp_cmd_t *out);

/* Argument index (0 = the first value after the command object), or NULL. */
const amf0_value_t *rtmp_cmd_arg(const rtmp_cmd_t *cmd, size_t index);

/* Frees what rtmp_cmd_parse allocated and zeroes *cmd; safe on a zeroed or cleared cmd. */
void rtmp_cmd_clear(rtmp_cmd_t *cmd);

/* The metadata object of a decoded data message ("@setDataFrame", "onMetaData", {..} or
 * "onMetaData", {..}): an OBJECT or ECMA_ARRAY inside values, or NULL when it is no metadata. */
const amf0_value_t *rtmp_cmd_find_metadata(const amf0_value_t *values);

/* Copies a client-supplied app or stream name into out (NUL-terminated) without any "?query"
 * part; with trim_slashes, leading and trailing '/' are dropped too. Returns 0, or -1 when the
 * result is empty, longer than RTMP_CMD_NAME_MAX or out, or holds control characters. */
int rtmp_cmd_clean_name(const char *in, bool trim_slashes, char *out, size_t out_size);

/* Reply bodies. Each writes AMF0 into buf[0..capacity) and returns the bytes written or
 * AMF0_ERR_NOSPACE. */

/* _result(txn, {fmsVer, capabilities, mode}, {level status, NetConnection.Connect.Success,
 * description, objectEncoding 0}). */
int rtmp_cmd_write_connect_result(uint8_t *buf, size_t capacity, double transaction_id);

/* _result(txn, null, number): the createStream answer (number = the new stream id). */
int rtmp_cmd_write_result_number(uint8_t *buf, size_t capacity, double transaction_id,
                                 double number);

/* _error(txn, null, {level error, code, description}). */
int rtmp_cmd_write_error(uint8_t *buf, size_t capacity, double transaction_id, const char *code,
                         const char *description);

/* onStatus(0, null, {level, code, description}). level is "status" or "error". */
int rtmp_cmd_write_on_status(uint8_t *buf, size_t capacity, const char *level, const char *code,
                             const char *description);

/* onFCPublish(0, null, {code, description}). */
int rtmp_cmd_write_on_fc_publish(uint8_t *buf, size_t capacity, const char *code,
                                 const char *description);

/* onBWDone(0, null, 8192): lets Flash-era encoders that wait for it go on. */
int rtmp_cmd_write_on_bw_done(uint8_t *buf, size_t capacity);

#endif
