/* Unit tests for ingest/amf0: every type, limits (depth, nodes, string length), hostile lengths,
 * unsupported markers, truncation at every byte, the writer and round trips. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "ingest/amf0.h"

static amf0_limits_t limits(void)
{
    amf0_limits_t l;
    amf0_limits_default(&l);
    return l;
}

static int decode(const uint8_t *buf, size_t len, amf0_value_t **out)
{
    amf0_limits_t l = limits();
    return amf0_decode(buf, len, &l, out);
}

Test(amf0, number_boolean_null_undefined)
{
    const uint8_t number[] = {0x00, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0}; /* 1.5 */
    amf0_value_t *v;
    cr_assert_eq(decode(number, sizeof number, &v), 9);
    double d = 0;
    cr_assert(amf0_number(v, &d));
    cr_assert_float_eq(d, 1.5, 1e-12);
    amf0_free(v);

    const uint8_t boolean[] = {0x01, 0x02};
    cr_assert_eq(decode(boolean, sizeof boolean, &v), 2);
    cr_assert_eq(v->type, AMF0_BOOLEAN);
    cr_assert(v->boolean);
    amf0_free(v);

    const uint8_t null_value[] = {0x05};
    cr_assert_eq(decode(null_value, 1, &v), 1);
    cr_assert_eq(v->type, AMF0_NULL);
    amf0_free(v);

    const uint8_t undefined[] = {0x06};
    cr_assert_eq(decode(undefined, 1, &v), 1);
    cr_assert_eq(v->type, AMF0_UNDEFINED);
    amf0_free(v);
}

Test(amf0, strings_long_strings_xml_and_date)
{
    const uint8_t s[] = {0x02, 0x00, 0x04, 'l', 'i', 'v', 'e', 0xFF};
    amf0_value_t *v;
    cr_assert_eq(decode(s, sizeof s, &v), 7);
    cr_assert_str_eq(amf0_string(v), "live");
    cr_assert_eq(v->string_len, 4);
    amf0_free(v);

    const uint8_t ls[] = {0x0C, 0, 0, 0, 3, 'a', 'b', 'c'};
    cr_assert_eq(decode(ls, sizeof ls, &v), 8);
    cr_assert_str_eq(amf0_string(v), "abc");
    cr_assert_eq(v->type, AMF0_LONG_STRING);
    amf0_free(v);

    const uint8_t xml[] = {0x0F, 0, 0, 0, 2, '<', '>'};
    cr_assert_eq(decode(xml, sizeof xml, &v), 7);
    cr_assert_eq(v->type, AMF0_XML_DOCUMENT);
    cr_assert_null(amf0_string(v)); /* not a plain string */
    amf0_free(v);

    const uint8_t date[] = {0x0B, 0x42, 0x77, 0x8C, 0x4A, 0x1D, 0x40, 0, 0, 0xFF, 0xC4};
    cr_assert_eq(decode(date, sizeof date, &v), 11);
    cr_assert_eq(v->type, AMF0_DATE);
    cr_assert_eq(v->timezone, -60);
    cr_assert(v->number > 1e12);
    amf0_free(v);
}

Test(amf0, empty_string_and_embedded_nul)
{
    const uint8_t empty[] = {0x02, 0, 0};
    amf0_value_t *v;
    cr_assert_eq(decode(empty, 3, &v), 3);
    cr_assert_str_eq(amf0_string(v), "");
    amf0_free(v);

    const uint8_t nul[] = {0x02, 0, 3, 'a', 0, 'b'};
    cr_assert_eq(decode(nul, sizeof nul, &v), 6);
    cr_assert_eq(v->string_len, 3);
    cr_assert_eq(memcmp(v->string, "a\0b", 3), 0);
    amf0_free(v);
}

static size_t build_connect(uint8_t *buf, size_t cap)
{
    amf0_writer_t w;
    amf0_writer_init(&w, buf, cap);
    amf0_write_string(&w, "connect");
    amf0_write_number(&w, 1);
    amf0_write_object_start(&w);
    amf0_write_prop_string(&w, "app", "live");
    amf0_write_prop_string(&w, "tcUrl", "rtmp://127.0.0.1/live");
    amf0_write_prop_boolean(&w, "fpad", false);
    amf0_write_prop_number(&w, "audioCodecs", 4071);
    amf0_write_key(&w, "nested");
    amf0_write_ecma_array_start(&w, 2);
    amf0_write_prop_number(&w, "width", 640);
    amf0_write_key(&w, "list");
    amf0_write_strict_array_start(&w, 3);
    amf0_write_number(&w, 1);
    amf0_write_null(&w);
    amf0_write_undefined(&w);
    amf0_write_object_end(&w);
    amf0_write_key(&w, "when");
    amf0_write_date(&w, 1700000000000.0, 0);
    amf0_write_object_end(&w);
    amf0_write_null(&w);
    int n = amf0_writer_finish(&w);
    cr_assert_gt(n, 0);
    return (size_t)n;
}

Test(amf0, sequence_with_nested_containers)
{
    uint8_t buf[1024];
    size_t len = build_connect(buf, sizeof buf);
    amf0_limits_t l = limits();
    amf0_value_t *seq;
    cr_assert_eq(amf0_decode_sequence(buf, len, &l, &seq), (int)len);
    cr_assert_eq(seq->item_count, 4);
    cr_assert_str_eq(amf0_string(amf0_item(seq, 0)), "connect");
    const amf0_value_t *obj = amf0_item(seq, 2);
    cr_assert_eq(obj->type, AMF0_OBJECT);
    cr_assert_str_eq(amf0_string(amf0_object_get(obj, "app")), "live");
    cr_assert_null(amf0_object_get(obj, "missing"));
    const amf0_value_t *nested = amf0_object_get(obj, "nested");
    cr_assert_eq(nested->type, AMF0_ECMA_ARRAY);
    double width;
    cr_assert(amf0_number(amf0_object_get(nested, "width"), &width));
    cr_assert_float_eq(width, 640, 0);
    const amf0_value_t *list = amf0_object_get(nested, "list");
    cr_assert_eq(list->item_count, 3);
    cr_assert_eq(amf0_item(list, 2)->type, AMF0_UNDEFINED);
    cr_assert_null(amf0_item(list, 3));
    cr_assert_eq(amf0_item(seq, 3)->type, AMF0_NULL);
    amf0_free(seq);
}

Test(amf0, round_trip_is_byte_exact)
{
    uint8_t buf[1024], again[1024];
    size_t len = build_connect(buf, sizeof buf);
    amf0_limits_t l = limits();
    amf0_value_t *seq;
    cr_assert_eq(amf0_decode_sequence(buf, len, &l, &seq), (int)len);
    amf0_writer_t w;
    amf0_writer_init(&w, again, sizeof again);
    for (size_t i = 0; i < seq->item_count; i++)
        amf0_write_value(&w, seq->items[i]);
    cr_assert_eq(amf0_writer_finish(&w), (int)len);
    cr_assert_eq(memcmp(buf, again, len), 0);
    amf0_free(seq);
}

Test(amf0, typed_object)
{
    const uint8_t typed[] = {0x10, 0, 1, 'C', 0, 1, 'x', 0x05, 0, 0, 0x09};
    amf0_value_t *v;
    cr_assert_eq(decode(typed, sizeof typed, &v), (int)sizeof typed);
    cr_assert_eq(v->type, AMF0_TYPED_OBJECT);
    cr_assert_str_eq(v->string, "C");
    cr_assert_eq(amf0_object_get(v, "x")->type, AMF0_NULL);
    amf0_free(v);
}

Test(amf0, truncated_at_every_offset_fails_cleanly)
{
    uint8_t buf[1024];
    amf0_writer_t w;
    amf0_writer_init(&w, buf, sizeof buf);
    amf0_write_object_start(&w);
    amf0_write_prop_string(&w, "app", "live");
    amf0_write_key(&w, "arr");
    amf0_write_strict_array_start(&w, 2);
    amf0_write_number(&w, 3);
    amf0_write_string(&w, "x");
    amf0_write_key(&w, "ecma");
    amf0_write_ecma_array_start(&w, 1);
    amf0_write_prop_boolean(&w, "b", true);
    amf0_write_object_end(&w);
    amf0_write_key(&w, "d");
    amf0_write_date(&w, 1, 2);
    amf0_write_object_end(&w);
    int len = amf0_writer_finish(&w);
    cr_assert_gt(len, 0);
    for (int cut = 0; cut < len; cut++) {
        amf0_value_t *v = (amf0_value_t *)1;
        int rc = decode(buf, (size_t)cut, &v);
        cr_assert_lt(rc, 0, "prefix %d decoded", cut);
        cr_assert_null(v);
    }
    amf0_value_t *v;
    cr_assert_eq(decode(buf, (size_t)len, &v), len);
    amf0_free(v);
}

static size_t nested_objects(uint8_t *buf, size_t cap, int depth)
{
    amf0_writer_t w;
    amf0_writer_init(&w, buf, cap);
    for (int i = 0; i < depth - 1; i++) {
        amf0_write_object_start(&w);
        amf0_write_key(&w, "k");
    }
    amf0_write_null(&w);
    for (int i = 0; i < depth - 1; i++)
        amf0_write_object_end(&w);
    return (size_t)amf0_writer_finish(&w);
}

Test(amf0, nesting_limit)
{
    uint8_t buf[4096];
    amf0_value_t *v;
    size_t len = nested_objects(buf, sizeof buf, 16);
    cr_assert_eq(decode(buf, len, &v), (int)len);
    amf0_free(v);
    len = nested_objects(buf, sizeof buf, 17);
    cr_assert_eq(decode(buf, len, &v), AMF0_ERR_DEPTH);
    cr_assert_null(v);
    /* Deep strict arrays too, and far beyond the limit. */
    uint8_t arrays[5 * 1000 + 1];
    for (int i = 0; i < 1000; i++) {
        uint8_t item[5] = {0x0A, 0, 0, 0, 1};
        memcpy(arrays + 5 * i, item, 5);
    }
    arrays[5000] = 0x05;
    cr_assert_eq(decode(arrays, sizeof arrays, &v), AMF0_ERR_DEPTH);
}

Test(amf0, huge_declared_lengths)
{
    amf0_value_t *v;
    const uint8_t short_string[] = {0x02, 0xFF, 0xFF, 'a'}; /* 65535 bytes declared, 1 sent */
    cr_assert_eq(decode(short_string, sizeof short_string, &v), AMF0_ERR_TRUNCATED);
    const uint8_t long_string[] = {0x0C, 0xFF, 0xFF, 0xFF, 0xFF, 'a'};
    cr_assert_eq(decode(long_string, sizeof long_string, &v), AMF0_ERR_LIMIT);
    const uint8_t within_limit[] = {0x0C, 0, 0, 0x10, 0, 'a'};
    cr_assert_eq(decode(within_limit, sizeof within_limit, &v), AMF0_ERR_TRUNCATED);
    const uint8_t strict[] = {0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05};
    cr_assert_eq(decode(strict, sizeof strict, &v), AMF0_ERR_TRUNCATED);
    const uint8_t key[] = {0x03, 0xFF, 0xF0, 'a'};
    cr_assert_lt(decode(key, sizeof key, &v), 0);
    /* ECMA count is advisory: a lying count with a proper end marker is fine. */
    const uint8_t ecma[] = {0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x09};
    cr_assert_eq(decode(ecma, sizeof ecma, &v), (int)sizeof ecma);
    cr_assert_eq(v->property_count, 0);
    amf0_free(v);
}

Test(amf0, string_limit_is_configurable)
{
    amf0_limits_t l = limits();
    l.max_string_len = 3;
    const uint8_t ok[] = {0x02, 0, 3, 'a', 'b', 'c'};
    const uint8_t over[] = {0x02, 0, 4, 'a', 'b', 'c', 'd'};
    amf0_value_t *v;
    cr_assert_eq(amf0_decode(ok, sizeof ok, &l, &v), 6);
    amf0_free(v);
    cr_assert_eq(amf0_decode(over, sizeof over, &l, &v), AMF0_ERR_LIMIT);
}

Test(amf0, node_limit)
{
    amf0_limits_t l = limits();
    l.max_nodes = 10;
    uint8_t buf[256];
    amf0_writer_t w;
    amf0_writer_init(&w, buf, sizeof buf);
    amf0_write_strict_array_start(&w, 20);
    for (int i = 0; i < 20; i++)
        amf0_write_null(&w);
    int len = amf0_writer_finish(&w);
    amf0_value_t *v;
    cr_assert_eq(amf0_decode(buf, (size_t)len, &l, &v), AMF0_ERR_LIMIT);
    amf0_writer_init(&w, buf, sizeof buf);
    amf0_write_object_start(&w);
    for (int i = 0; i < 20; i++)
        amf0_write_prop_number(&w, "n", i);
    amf0_write_object_end(&w);
    len = amf0_writer_finish(&w);
    cr_assert_eq(amf0_decode(buf, (size_t)len, &l, &v), AMF0_ERR_LIMIT);
    cr_assert_null(v);
}

Test(amf0, unsupported_markers_and_misplaced_end)
{
    const uint8_t markers[] = {0x04, 0x07, 0x0D, 0x0E, 0x11, 0x12, 0x7F, 0xFF};
    amf0_value_t *v;
    for (size_t i = 0; i < sizeof markers; i++) {
        uint8_t buf[8] = {markers[i], 0, 0, 0, 0, 0, 0, 0};
        cr_assert_eq(decode(buf, sizeof buf, &v), AMF0_ERR_TYPE, "marker %#x", markers[i]);
    }
    const uint8_t end[] = {0x09};
    cr_assert_eq(decode(end, 1, &v), AMF0_ERR_SYNTAX);
    const uint8_t empty_key_value[] = {0x03, 0, 0, 0x05, 0, 0, 0x09};
    cr_assert_eq(decode(empty_key_value, sizeof empty_key_value, &v), AMF0_ERR_SYNTAX);
    const uint8_t end_as_property_value[] = {0x03, 0, 1, 'a', 0x09, 0, 0, 0x09};
    cr_assert_eq(decode(end_as_property_value, sizeof end_as_property_value, &v), AMF0_ERR_SYNTAX);
    cr_assert_eq(decode(end, 0, &v), AMF0_ERR_TRUNCATED);
}

Test(amf0, accessors_reject_wrong_types)
{
    const uint8_t number[] = {0x00, 0, 0, 0, 0, 0, 0, 0, 0};
    amf0_value_t *v;
    cr_assert_eq(decode(number, sizeof number, &v), 9);
    cr_assert_null(amf0_string(v));
    cr_assert_null(amf0_object_get(v, "x"));
    cr_assert_null(amf0_item(v, 0));
    amf0_free(v);
    const uint8_t s[] = {0x02, 0, 1, '1'};
    cr_assert_eq(decode(s, sizeof s, &v), 4);
    double d;
    cr_assert_not(amf0_number(v, &d));
    amf0_free(v);
    cr_assert_null(amf0_string(NULL));
    cr_assert_not(amf0_number(NULL, &d));
    amf0_free(NULL);
}

Test(amf0, sequence_errors_free_everything)
{
    const uint8_t bad[] = {0x02, 0, 1, 'a', 0x03, 0, 1, 'k', 0x02, 0, 9};
    amf0_limits_t l = limits();
    amf0_value_t *v = (amf0_value_t *)1;
    cr_assert_eq(amf0_decode_sequence(bad, sizeof bad, &l, &v), AMF0_ERR_TRUNCATED);
    cr_assert_null(v);
    cr_assert_eq(amf0_decode_sequence(bad, 0, &l, &v), 0);
    cr_assert_eq(v->item_count, 0);
    amf0_free(v);
}

Test(amf0, writer_overflow_is_sticky)
{
    uint8_t buf[8];
    amf0_writer_t w;
    amf0_writer_init(&w, buf, sizeof buf);
    amf0_write_string(&w, "too long for eight");
    amf0_write_null(&w);
    cr_assert_eq(amf0_writer_finish(&w), AMF0_ERR_NOSPACE);
    amf0_writer_init(&w, buf, sizeof buf);
    amf0_write_number(&w, 2);
    cr_assert_eq(amf0_writer_finish(&w), AMF0_ERR_NOSPACE);
    amf0_writer_init(&w, buf, 9);
    cr_assert_eq(w.capacity, 9);
}

Test(amf0, writer_uses_long_string_over_64k)
{
    static uint8_t buf[70000 + 16];
    static char text[70001];
    memset(text, 'x', 70000);
    text[70000] = '\0';
    amf0_writer_t w;
    amf0_writer_init(&w, buf, sizeof buf);
    amf0_write_string(&w, text);
    cr_assert_eq(amf0_writer_finish(&w), 70005);
    cr_assert_eq(buf[0], AMF0_LONG_STRING);
    amf0_limits_t l = limits();
    l.max_string_len = 100000;
    amf0_value_t *v;
    cr_assert_eq(amf0_decode(buf, 70005, &l, &v), 70005);
    cr_assert_eq(v->string_len, 70000);
    amf0_free(v);
}

Test(amf0, numbers_keep_their_bits)
{
    const double values[] = {0.0, -0.0, 1e308, -1.25, INFINITY};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        uint8_t buf[9];
        amf0_writer_t w;
        amf0_writer_init(&w, buf, sizeof buf);
        amf0_write_number(&w, values[i]);
        cr_assert_eq(amf0_writer_finish(&w), 9);
        amf0_value_t *v;
        cr_assert_eq(decode(buf, 9, &v), 9);
        cr_assert_eq(memcmp(&v->number, &values[i], sizeof(double)), 0);
        amf0_free(v);
    }
    cr_assert_str_eq(amf0_strerror(AMF0_ERR_DEPTH), "AMF0 nesting too deep");
    cr_assert_str_eq(amf0_strerror(12345), "unknown AMF0 error");
}
