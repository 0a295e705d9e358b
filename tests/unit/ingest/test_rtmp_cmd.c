/* Unit tests for ingest/rtmp_cmd: command decoding, metadata lookup, name cleaning and the reply
 * bodies (decoded back and checked field by field). */
#include <criterion/criterion.h>
#include <string.h>

#include "ingest/rtmp_cmd.h"

static amf0_limits_t limits(void)
{
    amf0_limits_t l;
    amf0_limits_default(&l);
    return l;
}

Test(rtmp_cmd, parse_connect_and_publish)
{
    uint8_t buf[512];
    amf0_writer_t w;
    amf0_writer_init(&w, buf, sizeof buf);
    amf0_write_string(&w, "connect");
    amf0_write_number(&w, 1);
    amf0_write_object_start(&w);
    amf0_write_prop_string(&w, "app", "live");
    amf0_write_object_end(&w);
    int len = amf0_writer_finish(&w);
    amf0_limits_t l = limits();
    rtmp_cmd_t cmd;
    cr_assert_eq(rtmp_cmd_parse(buf, (size_t)len, &l, &cmd), 0);
    cr_assert_str_eq(cmd.name, "connect");
    cr_assert_float_eq(cmd.transaction_id, 1, 0);
    cr_assert_str_eq(amf0_string(amf0_object_get(cmd.object, "app")), "live");
    cr_assert_eq(cmd.arg_count, 0);
    cr_assert_null(rtmp_cmd_arg(&cmd, 0));
    rtmp_cmd_clear(&cmd);
    rtmp_cmd_clear(&cmd);

    amf0_writer_init(&w, buf, sizeof buf);
    amf0_write_string(&w, "publish");
    amf0_write_number(&w, 5);
    amf0_write_null(&w);
    amf0_write_string(&w, "KEY");
    amf0_write_string(&w, "live");
    len = amf0_writer_finish(&w);
    cr_assert_eq(rtmp_cmd_parse(buf, (size_t)len, &l, &cmd), 0);
    cr_assert_eq(cmd.arg_count, 2);
    cr_assert_eq(cmd.object->type, AMF0_NULL);
    cr_assert_str_eq(amf0_string(rtmp_cmd_arg(&cmd, 0)), "KEY");
    cr_assert_str_eq(amf0_string(rtmp_cmd_arg(&cmd, 1)), "live");
    cr_assert_null(rtmp_cmd_arg(&cmd, 2));
    rtmp_cmd_clear(&cmd);
}

Test(rtmp_cmd, parse_rejects_non_commands)
{
    amf0_limits_t l = limits();
    rtmp_cmd_t cmd;
    const uint8_t number_first[] = {0x00, 0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(rtmp_cmd_parse(number_first, sizeof number_first, &l, &cmd), AMF0_ERR_SYNTAX);
    cr_assert_null(cmd.values);
    cr_assert_eq(rtmp_cmd_parse(number_first, 0, &l, &cmd), AMF0_ERR_SYNTAX);
    const uint8_t truncated[] = {0x02, 0, 7, 'c', 'o', 'n'};
    cr_assert_eq(rtmp_cmd_parse(truncated, sizeof truncated, &l, &cmd), AMF0_ERR_TRUNCATED);
    /* A name without transaction id parses; the id defaults to 0. */
    const uint8_t name_only[] = {0x02, 0, 1, 'x'};
    cr_assert_eq(rtmp_cmd_parse(name_only, sizeof name_only, &l, &cmd), 0);
    cr_assert_float_eq(cmd.transaction_id, 0, 0);
    cr_assert_null(cmd.object);
    rtmp_cmd_clear(&cmd);
}

static amf0_value_t *decode_all(const uint8_t *buf, int len)
{
    cr_assert_gt(len, 0);
    amf0_limits_t l = limits();
    amf0_value_t *v;
    cr_assert_eq(amf0_decode_sequence(buf, (size_t)len, &l, &v), len);
    return v;
}

Test(rtmp_cmd, find_metadata)
{
    uint8_t buf[256];
    amf0_writer_t w;
    amf0_writer_init(&w, buf, sizeof buf);
    amf0_write_string(&w, "@setDataFrame");
    amf0_write_string(&w, "onMetaData");
    amf0_write_ecma_array_start(&w, 1);
    amf0_write_prop_number(&w, "width", 1280);
    amf0_write_object_end(&w);
    amf0_value_t *v = decode_all(buf, amf0_writer_finish(&w));
    const amf0_value_t *meta = rtmp_cmd_find_metadata(v);
    cr_assert_not_null(meta);
    double width;
    cr_assert(amf0_number(amf0_object_get(meta, "width"), &width));
    cr_assert_float_eq(width, 1280, 0);
    amf0_free(v);

    amf0_writer_init(&w, buf, sizeof buf);
    amf0_write_string(&w, "onMetaData");
    amf0_write_object_start(&w);
    amf0_write_object_end(&w);
    v = decode_all(buf, amf0_writer_finish(&w));
    cr_assert_not_null(rtmp_cmd_find_metadata(v));
    amf0_free(v);

    amf0_writer_init(&w, buf, sizeof buf);
    amf0_write_string(&w, "@setDataFrame");
    amf0_write_string(&w, "onCuePoint");
    amf0_write_object_start(&w);
    amf0_write_object_end(&w);
    v = decode_all(buf, amf0_writer_finish(&w));
    cr_assert_null(rtmp_cmd_find_metadata(v));
    amf0_free(v);

    amf0_writer_init(&w, buf, sizeof buf);
    amf0_write_string(&w, "onMetaData");
    amf0_write_number(&w, 1);
    v = decode_all(buf, amf0_writer_finish(&w));
    cr_assert_null(rtmp_cmd_find_metadata(v));
    amf0_free(v);
    cr_assert_null(rtmp_cmd_find_metadata(NULL));
}

Test(rtmp_cmd, clean_name)
{
    char out[RTMP_CMD_NAME_MAX + 1];
    cr_assert_eq(rtmp_cmd_clean_name("live", true, out, sizeof out), 0);
    cr_assert_str_eq(out, "live");
    cr_assert_eq(rtmp_cmd_clean_name("/live/?token=1", true, out, sizeof out), 0);
    cr_assert_str_eq(out, "live");
    cr_assert_eq(rtmp_cmd_clean_name("live/sub", true, out, sizeof out), 0);
    cr_assert_str_eq(out, "live/sub");
    cr_assert_eq(rtmp_cmd_clean_name("KEY?token=abc&x=1", false, out, sizeof out), 0);
    cr_assert_str_eq(out, "KEY");
    cr_assert_eq(rtmp_cmd_clean_name("/KEY", false, out, sizeof out), 0);
    cr_assert_str_eq(out, "/KEY");
    cr_assert_eq(rtmp_cmd_clean_name("", false, out, sizeof out), -1);
    cr_assert_eq(rtmp_cmd_clean_name("?only=query", false, out, sizeof out), -1);
    cr_assert_eq(rtmp_cmd_clean_name("///", true, out, sizeof out), -1);
    cr_assert_eq(rtmp_cmd_clean_name("a\nb", false, out, sizeof out), -1);
    cr_assert_eq(rtmp_cmd_clean_name("a\x7f", false, out, sizeof out), -1);
    char long_name[300];
    memset(long_name, 'k', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_assert_eq(rtmp_cmd_clean_name(long_name, false, out, sizeof out), -1);
    long_name[RTMP_CMD_NAME_MAX] = '\0';
    cr_assert_eq(rtmp_cmd_clean_name(long_name, false, out, sizeof out), 0);
    char small[4];
    cr_assert_eq(rtmp_cmd_clean_name("abcd", false, small, sizeof small), -1);
    cr_assert_eq(rtmp_cmd_clean_name("abc", false, small, sizeof small), 0);
}

Test(rtmp_cmd, connect_result)
{
    uint8_t buf[512];
    amf0_value_t *v = decode_all(buf, rtmp_cmd_write_connect_result(buf, sizeof buf, 1));
    cr_assert_eq(v->item_count, 4);
    cr_assert_str_eq(amf0_string(amf0_item(v, 0)), "_result");
    double n;
    cr_assert(amf0_number(amf0_item(v, 1), &n));
    cr_assert_float_eq(n, 1, 0);
    cr_assert_not_null(amf0_string(amf0_object_get(amf0_item(v, 2), "fmsVer")));
    cr_assert(amf0_number(amf0_object_get(amf0_item(v, 2), "capabilities"), &n));
    const amf0_value_t *info = amf0_item(v, 3);
    cr_assert_str_eq(amf0_string(amf0_object_get(info, "level")), "status");
    cr_assert_str_eq(amf0_string(amf0_object_get(info, "code")), "NetConnection.Connect.Success");
    cr_assert_not_null(amf0_string(amf0_object_get(info, "description")));
    cr_assert(amf0_number(amf0_object_get(info, "objectEncoding"), &n));
    cr_assert_float_eq(n, 0, 0);
    amf0_free(v);
}

Test(rtmp_cmd, status_result_error_and_friends)
{
    uint8_t buf[512];
    amf0_value_t *v = decode_all(buf, rtmp_cmd_write_on_status(buf, sizeof buf, "error",
                                                               "NetStream.Publish.BadName",
                                                               "unknown stream key"));
    cr_assert_str_eq(amf0_string(amf0_item(v, 0)), "onStatus");
    cr_assert_eq(amf0_item(v, 2)->type, AMF0_NULL);
    const amf0_value_t *info = amf0_item(v, 3);
    cr_assert_str_eq(amf0_string(amf0_object_get(info, "level")), "error");
    cr_assert_str_eq(amf0_string(amf0_object_get(info, "code")), "NetStream.Publish.BadName");
    cr_assert_str_eq(amf0_string(amf0_object_get(info, "description")), "unknown stream key");
    amf0_free(v);

    v = decode_all(buf, rtmp_cmd_write_result_number(buf, sizeof buf, 4, 1));
    double n;
    cr_assert_str_eq(amf0_string(amf0_item(v, 0)), "_result");
    cr_assert(amf0_number(amf0_item(v, 1), &n) && n == 4);
    cr_assert(amf0_number(amf0_item(v, 3), &n) && n == 1);
    amf0_free(v);

    v = decode_all(buf, rtmp_cmd_write_error(buf, sizeof buf, 9, "NetConnection.Call.Failed",
                                             "too many streams"));
    cr_assert_str_eq(amf0_string(amf0_item(v, 0)), "_error");
    cr_assert_str_eq(amf0_string(amf0_object_get(amf0_item(v, 3), "level")), "error");
    amf0_free(v);

    v = decode_all(buf,
                   rtmp_cmd_write_on_fc_publish(buf, sizeof buf, "NetStream.Publish.Start", "KEY"));
    cr_assert_str_eq(amf0_string(amf0_item(v, 0)), "onFCPublish");
    cr_assert_null(amf0_object_get(amf0_item(v, 3), "level"));
    amf0_free(v);

    v = decode_all(buf, rtmp_cmd_write_on_bw_done(buf, sizeof buf));
    cr_assert_str_eq(amf0_string(amf0_item(v, 0)), "onBWDone");
    amf0_free(v);

    cr_assert_eq(rtmp_cmd_write_connect_result(buf, 20, 1), AMF0_ERR_NOSPACE);
    cr_assert_eq(rtmp_cmd_write_on_status(buf, 10, "a", "b", "c"), AMF0_ERR_NOSPACE);
}
