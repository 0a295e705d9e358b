/* Unit tests for api/query: filters of each kind, order, limit, cursor and flags, including
 * malformed and hostile input. */
#include "api/query.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static int stream_filters(const char *text, query_filters_t *out)
{
    err[0] = '\0';
    return query_parse_filters(text, query_stream_fields, query_stream_field_count, out, err,
                               sizeof(err));
}

static int session_filters(const char *text, query_filters_t *out)
{
    err[0] = '\0';
    return query_parse_filters(text, query_session_fields, query_session_field_count, out, err,
                               sizeof(err));
}

static void expect_filter_error(const char *text, const char *message_prefix)
{
    query_filters_t filters;
    cr_assert_eq(stream_filters(text, &filters), -1, "accepted: %s", text);
    cr_assert_eq(filters.count, 0);
    cr_assert_null(filters.items);
    cr_assert_eq(strncmp(err, message_prefix, strlen(message_prefix)), 0, "message \"%s\" for %s",
                 err, text);
}

static bool in_table(const char *name, const query_field_t *fields, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (fields[i].name == name)
            return true;
    }
    return false;
}

/* ---- field tables ---- */

Test(query, field_tables)
{
    cr_assert_eq(query_stream_field_count, 19);
    cr_assert_eq(query_session_field_count, 18);
    const char *stream_names = "id,name,sourceSegments,lastSeen,createdAt,userId,creatorId,"
                               "pull.source,isActive,user.email,parentId,playbackId,projectId,"
                               "record,suspended,sourceSegmentsDuration,transcodedSegments,"
                               "transcodedSegmentsDuration,isHealthy,";
    char joined[1024] = "";
    for (size_t i = 0; i < query_stream_field_count; i++) {
        strcat(joined, query_stream_fields[i].name);
        strcat(joined, ",");
    }
    cr_assert_str_eq(joined, stream_names);
    const char *session_names = "id,name,lastSeen,createdAt,userId,user.email,parentId,projectId,"
                                "record,sourceSegments,transcodedSegments,sourceSegmentsDuration,"
                                "transcodedSegmentsDuration,sourceBytes,transcodedBytes,"
                                "ingestRate,outgoingRate,recordingStatus,";
    joined[0] = '\0';
    for (size_t i = 0; i < query_session_field_count; i++) {
        strcat(joined, query_session_fields[i].name);
        strcat(joined, ",");
    }
    cr_assert_str_eq(joined, session_names);
}

/* ---- filters ---- */

Test(query, no_filters)
{
    query_filters_t filters;
    cr_assert_eq(stream_filters(NULL, &filters), 0);
    cr_assert_eq(filters.count, 0);
    cr_assert_eq(stream_filters("", &filters), 0);
    cr_assert_eq(filters.count, 0);
    cr_assert_eq(stream_filters("[]", &filters), 0);
    cr_assert_eq(filters.count, 0);
    query_filters_clear(&filters);
    query_filters_clear(NULL);
}

Test(query, string_filter)
{
    query_filters_t filters;
    cr_assert_eq(stream_filters("[{\"id\":\"playbackId\",\"value\":\"abc\"}]", &filters), 0);
    cr_assert_eq(filters.count, 1);
    cr_assert_str_eq(filters.items[0].field, "playbackId");
    cr_assert(in_table(filters.items[0].field, query_stream_fields, query_stream_field_count),
              "field must point into the static table");
    cr_assert_eq(filters.items[0].op, STORE_OP_EQ);
    cr_assert_eq(filters.items[0].kind, STORE_VALUE_STRING);
    cr_assert_str_eq(filters.items[0].string_value, "abc");
    cr_assert_eq(filters.owned_count, 1);
    cr_assert_eq(filters.items[0].string_value, filters.owned_strings[0]);
    query_filters_clear(&filters);
    cr_assert_eq(filters.count, 0);
}

Test(query, string_filter_accepts_numbers)
{
    query_filters_t filters;
    cr_assert_eq(stream_filters("[{\"id\":\"id\",\"value\":42},{\"id\":\"userId\",\"value\":1.5}]",
                                &filters),
                 0);
    cr_assert_eq(filters.count, 2);
    cr_assert_str_eq(filters.items[0].string_value, "42");
    cr_assert_str_eq(filters.items[1].string_value, "1.5");
    query_filters_clear(&filters);
}

Test(query, fulltext_filter)
{
    query_filters_t filters;
    cr_assert_eq(stream_filters("[{\"id\":\"name\",\"value\":\"Live\"},{\"id\":\"user.email\","
                                "\"value\":\"@example.com\"}]",
                                &filters),
                 0);
    cr_assert_eq(filters.count, 2);
    cr_assert_eq(filters.items[0].op, STORE_OP_CONTAINS);
    cr_assert_str_eq(filters.items[0].string_value, "Live");
    cr_assert_str_eq(filters.items[1].field, "user.email");
    cr_assert_eq(filters.items[1].op, STORE_OP_CONTAINS);
    query_filters_clear(&filters);
}

Test(query, bool_filter)
{
    query_filters_t filters;
    cr_assert_eq(stream_filters("[{\"id\":\"isActive\",\"value\":true},{\"id\":\"record\","
                                "\"value\":false}]",
                                &filters),
                 0);
    cr_assert_eq(filters.count, 2);
    cr_assert_eq(filters.items[0].kind, STORE_VALUE_BOOL);
    cr_assert_eq(filters.items[0].op, STORE_OP_EQ);
    cr_assert(filters.items[0].bool_value);
    cr_assert_not(filters.items[1].bool_value);
    cr_assert_eq(filters.owned_count, 0);
    query_filters_clear(&filters);

    expect_filter_error("[{\"id\":\"isActive\",\"value\":\"true\"}]", "error parsing filters: ");
    expect_filter_error("[{\"id\":\"suspended\",\"value\":1}]", "error parsing filters: ");
}

Test(query, number_equality)
{
    query_filters_t filters;
    cr_assert_eq(stream_filters("[{\"id\":\"sourceSegments\",\"value\":7}]", &filters), 0);
    cr_assert_eq(filters.count, 1);
    cr_assert_eq(filters.items[0].kind, STORE_VALUE_NUMBER);
    cr_assert_eq(filters.items[0].op, STORE_OP_EQ);
    cr_assert_float_eq(filters.items[0].number_value, 7.0, 1e-9);
    query_filters_clear(&filters);
}

Test(query, number_ops)
{
    const struct {
        const char *key;
        store_op_t op;
    } cases[] = {
        {"gt", STORE_OP_GT}, {"gte", STORE_OP_GTE}, {"lt", STORE_OP_LT}, {"lte", STORE_OP_LTE}};
    for (size_t i = 0; i < 4; i++) {
        char text[128];
        snprintf(text, sizeof(text), "[{\"id\":\"lastSeen\",\"value\":{\"%s\":1.5}}]",
                 cases[i].key);
        query_filters_t filters;
        cr_assert_eq(stream_filters(text, &filters), 0, "%s: %s", text, err);
        cr_assert_eq(filters.count, 1);
        cr_assert_eq(filters.items[0].op, cases[i].op);
        cr_assert_float_eq(filters.items[0].number_value, 1.5, 1e-9);
        query_filters_clear(&filters);
    }
}

Test(query, number_range_gives_one_filter_per_bound)
{
    query_filters_t filters;
    cr_assert_eq(
        stream_filters("[{\"id\":\"createdAt\",\"value\":{\"gte\":1,\"lt\":5}}]", &filters), 0);
    cr_assert_eq(filters.count, 2);
    cr_assert_eq(filters.items[0].op, STORE_OP_GTE);
    cr_assert_float_eq(filters.items[0].number_value, 1.0, 1e-9);
    cr_assert_eq(filters.items[1].op, STORE_OP_LT);
    cr_assert_float_eq(filters.items[1].number_value, 5.0, 1e-9);
    query_filters_clear(&filters);

    cr_assert_eq(stream_filters("[{\"id\":\"createdAt\",\"value\":{\"gt\":1,\"gte\":2,\"lt\":3,"
                                "\"lte\":4}},{\"id\":\"lastSeen\",\"value\":{\"gt\":0}}]",
                                &filters),
                 0);
    cr_assert_eq(filters.count, 5);
    query_filters_clear(&filters);
}

Test(query, bad_number_filters)
{
    expect_filter_error("[{\"id\":\"lastSeen\",\"value\":\"5\"}]", "error parsing filters: ");
    expect_filter_error("[{\"id\":\"lastSeen\",\"value\":{}}]", "error parsing filters: ");
    expect_filter_error("[{\"id\":\"lastSeen\",\"value\":{\"eq\":5}}]", "error parsing filters: ");
    expect_filter_error("[{\"id\":\"lastSeen\",\"value\":{\"gt\":\"5\"}}]",
                        "error parsing filters: ");
    expect_filter_error("[{\"id\":\"lastSeen\",\"value\":{\"gt\":1,\"x\":2}}]",
                        "error parsing filters: ");
    expect_filter_error("[{\"id\":\"lastSeen\",\"value\":null}]", "error parsing filters: ");
}

Test(query, unknown_field_message_is_exact)
{
    query_filters_t filters;
    cr_assert_eq(stream_filters("[{\"id\":\"x\",\"value\":1}]", &filters), -1);
    cr_assert_str_eq(err, "error parsing filters: Error: unknown field: \"x\"");
    /* A session-only field is unknown for streams, and the other way round. */
    cr_assert_eq(stream_filters("[{\"id\":\"sourceBytes\",\"value\":1}]", &filters), -1);
    cr_assert_str_eq(err, "error parsing filters: Error: unknown field: \"sourceBytes\"");
    cr_assert_eq(session_filters("[{\"id\":\"isActive\",\"value\":true}]", &filters), -1);
    cr_assert_str_eq(err, "error parsing filters: Error: unknown field: \"isActive\"");
    cr_assert_eq(session_filters("[{\"id\":\"sourceBytes\",\"value\":{\"gt\":1}}]", &filters), 0);
    query_filters_clear(&filters);
    cr_assert_eq(session_filters("[{\"id\":\"recordingStatus\",\"value\":\"ready\"}]", &filters),
                 0);
    cr_assert_eq(filters.items[0].op, STORE_OP_EQ);
    query_filters_clear(&filters);
}

Test(query, unknown_field_after_valid_frees_everything)
{
    /* Runs under ASan: the earlier, owned string must be freed on the error path. */
    expect_filter_error("[{\"id\":\"id\",\"value\":\"a\"},{\"id\":\"nope\",\"value\":1}]",
                        "error parsing filters: Error: unknown field: \"nope\"");
}

Test(query, malformed_filters)
{
    expect_filter_error("[{\"id\":", "error parsing filters: ");
    expect_filter_error("not json", "error parsing filters: ");
    expect_filter_error("{\"id\":\"name\",\"value\":\"a\"}", "error parsing filters: ");
    expect_filter_error("\"name\"", "error parsing filters: ");
    expect_filter_error("[1]", "error parsing filters: ");
    expect_filter_error("[[\"name\",\"a\"]]", "error parsing filters: ");
    expect_filter_error("[{\"id\":5,\"value\":\"a\"}]", "error parsing filters: ");
    expect_filter_error("[{\"value\":\"a\"}]", "error parsing filters: ");
    expect_filter_error("[{\"id\":\"name\"}]", "error parsing filters: ");
    expect_filter_error("[{\"id\":\"name\",\"value\":null}]", "error parsing filters: ");
    expect_filter_error("[{\"id\":\"name\",\"value\":[\"a\"]}]", "error parsing filters: ");
    expect_filter_error("[{\"id\":\"name\",\"value\":true}]", "error parsing filters: ");
}

Test(query, too_many_filters)
{
    char text[4096] = "[";
    for (int i = 0; i < 33; i++)
        strcat(text,
               i ? ",{\"id\":\"record\",\"value\":true}" : "{\"id\":\"record\",\"value\":true}");
    strcat(text, "]");
    expect_filter_error(text, "error parsing filters: ");

    /* 32 is still fine. */
    char *last = strrchr(text, '{');
    strcpy(last - 1, "]");
    query_filters_t filters;
    cr_assert_eq(stream_filters(text, &filters), 0, "%s", err);
    cr_assert_eq(filters.count, 32);
    query_filters_clear(&filters);
}

Test(query, long_values)
{
    char text[3000];
    char value[1100];
    memset(value, 'v', 1024);
    value[1024] = '\0';
    snprintf(text, sizeof(text), "[{\"id\":\"name\",\"value\":\"%s\"}]", value);
    query_filters_t filters;
    cr_assert_eq(stream_filters(text, &filters), 0);
    cr_assert_eq(strlen(filters.items[0].string_value), 1024);
    query_filters_clear(&filters);

    value[1024] = 'v';
    value[1025] = '\0';
    snprintf(text, sizeof(text), "[{\"id\":\"name\",\"value\":\"%s\"}]", value);
    expect_filter_error(text, "error parsing filters: ");

    /* A huge unknown field name is echoed only in part. */
    size_t len = 100000;
    char *huge = malloc(len + 64);
    strcpy(huge, "[{\"id\":\"");
    memset(huge + strlen(huge), 'x', 50000);
    strcpy(huge + 8 + 50000, "\",\"value\":1}]");
    cr_assert_eq(stream_filters(huge, &filters), -1);
    cr_assert_eq(strncmp(err, "error parsing filters: Error: unknown field: \"xxx", 48), 0);
    free(huge);

    /* The parameter as a whole is bounded before it is parsed. */
    char *too_long = malloc(70000);
    memset(too_long, ' ', 69998);
    too_long[0] = '[';
    too_long[69998] = ']';
    too_long[69999] = '\0';
    expect_filter_error(too_long, "error parsing filters: ");
    free(too_long);
}

Test(query, embedded_nul_rejected)
{
    expect_filter_error("[{\"id\":\"name\",\"value\":\"a\\u0000b\"}]", "error parsing filters: ");
}

Test(query, null_error_buffer)
{
    query_filters_t filters;
    cr_assert_eq(query_parse_filters("[1]", query_stream_fields, query_stream_field_count, &filters,
                                     NULL, 0),
                 -1);
    query_order_t order;
    cr_assert_eq(
        query_parse_order("x", query_stream_fields, query_stream_field_count, &order, NULL, 0), -1);
}

/* ---- order ---- */

static int stream_order(const char *text, query_order_t *out)
{
    err[0] = '\0';
    return query_parse_order(text, query_stream_fields, query_stream_field_count, out, err,
                             sizeof(err));
}

Test(query, order_empty)
{
    query_order_t order;
    cr_assert_eq(stream_order(NULL, &order), 0);
    cr_assert_eq(order.count, 0);
    cr_assert_eq(stream_order("", &order), 0);
    cr_assert_eq(order.count, 0);
    query_order_clear(&order);
    query_order_clear(NULL);
}

Test(query, order_multiple_fields)
{
    query_order_t order;
    cr_assert_eq(stream_order("lastSeen-true,createdAt-false,name", &order), 0, "%s", err);
    cr_assert_eq(order.count, 3);
    cr_assert_str_eq(order.items[0].field, "lastSeen");
    cr_assert(order.items[0].descending);
    cr_assert_str_eq(order.items[1].field, "createdAt");
    cr_assert_not(order.items[1].descending);
    cr_assert_str_eq(order.items[2].field, "name");
    cr_assert(order.items[2].descending, "a bare field sorts descending");
    cr_assert(in_table(order.items[0].field, query_stream_fields, query_stream_field_count));
    query_order_clear(&order);
    cr_assert_eq(order.count, 0);
    cr_assert_null(order.items);
}

Test(query, order_unknown_field)
{
    query_order_t order;
    cr_assert_eq(stream_order("lastSeen-true,bogus-false", &order), -1);
    cr_assert_str_eq(err, "unknown order field: \"bogus\"");
    cr_assert_eq(order.count, 0);
    cr_assert_null(order.items);
    cr_assert_eq(stream_order("user.email-true", &order), -1);
    cr_assert_str_eq(err, "unknown order field: \"user.email\"");
    cr_assert_eq(stream_order("pull.source", &order), -1);
    cr_assert_eq(stream_order("creatorId-false", &order), -1);
    cr_assert_eq(stream_order("sourceBytes-true", &order), -1, "a session-only field");
    cr_assert_eq(query_parse_order("sourceBytes-true", query_session_fields,
                                   query_session_field_count, &order, err, sizeof(err)),
                 0);
    query_order_clear(&order);
}

Test(query, order_bad_syntax)
{
    query_order_t order;
    cr_assert_eq(stream_order("lastSeen-yes", &order), -1);
    cr_assert_eq(stream_order("lastSeen-", &order), -1);
    cr_assert_eq(stream_order("lastSeen-true-true", &order), -1);
    cr_assert_eq(stream_order("lastSeen,", &order), -1);
    cr_assert_eq(stream_order(",lastSeen", &order), -1);
    cr_assert_eq(stream_order("-true", &order), -1);
    cr_assert_eq(stream_order("LASTSEEN-true", &order), -1);

    char many[512] = "";
    for (int i = 0; i < 17; i++)
        strcat(many, i ? ",id" : "id");
    cr_assert_eq(stream_order(many, &order), -1);
}

/* ---- limit ---- */

Test(query, limit)
{
    cr_assert_eq(query_parse_limit(NULL), 20);
    cr_assert_eq(query_parse_limit(""), 20);
    cr_assert_eq(query_parse_limit("0"), 20);
    cr_assert_eq(query_parse_limit("-5"), 20);
    cr_assert_eq(query_parse_limit("abc"), 20);
    cr_assert_eq(query_parse_limit("50"), 50);
    cr_assert_eq(query_parse_limit("1"), 1);
    cr_assert_eq(query_parse_limit("1000"), 1000);
    cr_assert_eq(query_parse_limit("5000"), 1000);
    cr_assert_eq(query_parse_limit("99999999999999999999"), 1000);
    cr_assert_eq(query_parse_limit("-99999999999999999999"), 20);
    cr_assert_eq(query_parse_limit("50abc"), 20);
    cr_assert_eq(query_parse_limit(" 50"), 20);
    cr_assert_eq(query_parse_limit("5.5"), 20);
}

/* ---- cursor ---- */

Test(query, cursor)
{
    cr_assert_eq(query_parse_cursor(NULL), 0);
    cr_assert_eq(query_parse_cursor(""), 0);
    cr_assert_eq(query_parse_cursor("skip20"), 20);
    cr_assert_eq(query_parse_cursor("skip0"), 0);
    cr_assert_eq(query_parse_cursor("skip"), 0);
    cr_assert_eq(query_parse_cursor("skip-1"), 0);
    cr_assert_eq(query_parse_cursor("skip+1"), 0);
    cr_assert_eq(query_parse_cursor("skip 1"), 0);
    cr_assert_eq(query_parse_cursor("skip1x"), 0);
    cr_assert_eq(query_parse_cursor("20"), 0);
    cr_assert_eq(query_parse_cursor("SKIP20"), 0);
    cr_assert_eq(query_parse_cursor("skip99999999999999999999"), 0);
    cr_assert_eq(query_parse_cursor("skip1000000000000"), 1000000000000LL);
    cr_assert_eq(query_parse_cursor("skip1000000000001"), 0);
    cr_assert_eq(query_parse_cursor("skip0000000000000000000020"), 0);
}

/* ---- flags ---- */

Test(query, flags)
{
    cr_assert_not(query_flag_set(NULL));
    cr_assert_not(query_flag_set(""));
    cr_assert_not(query_flag_set("false"));
    cr_assert_not(query_flag_set("0"));
    cr_assert(query_flag_set("true"));
    cr_assert(query_flag_set("1"));
    cr_assert(query_flag_set("yes"));
}
