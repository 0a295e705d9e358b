/* Unit tests of the SQLite store's stream lists (store_stream_list): scope, filters, order,
 * pages and refusals, over the dataset of store_test_util.h. */
#include "store/store.h"
#include "store_test_util.h"
#include "util/ids.h"
#include "util/log.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

TestSuite(store_list, .init = dataset_setup, .fini = dataset_teardown);

/* Lists with q and checks the names of the rows, in order, and the total. */
static void expect_streams(const store_query_t *q, const char *const *names, size_t count)
{
    store_stream_t *rows = NULL;
    size_t row_count = 0;
    int64_t total = -1;
    cr_assert_eq(store_stream_list(store, q, &rows, &row_count, &total), STORE_OK);
    cr_assert_eq(row_count, count, "expected %zu rows, got %zu", count, row_count);
    cr_assert_eq(total, (int64_t)count);
    for (size_t i = 0; i < count; i++)
        cr_assert_str_eq(rows[i].name, names[i], "row %zu", i);
    store_stream_list_free(rows, row_count);
}

#define EXPECT_STREAMS(q, ...)                                                                     \
    do {                                                                                           \
        const char *const expected_[] = {__VA_ARGS__};                                             \
        expect_streams(q, expected_, sizeof expected_ / sizeof expected_[0]);                      \
    } while (0)

static void expect_no_streams(const store_query_t *q)
{
    expect_streams(q, NULL, 0);
}

/* Lists with one filter, every user, ordered by name. */
static void expect_filtered(store_filter_t filter, const char *const *names, size_t count)
{
    store_order_t order = {"name", false};
    store_query_t q = query_all();
    q.filters = &filter;
    q.filter_count = 1;
    q.order = &order;
    q.order_count = 1;
    expect_streams(&q, names, count);
}

#define EXPECT_FILTERED(filter, ...)                                                               \
    do {                                                                                           \
        const char *const expected_[] = {__VA_ARGS__};                                             \
        expect_filtered(filter, expected_, sizeof expected_ / sizeof expected_[0]);                \
    } while (0)

Test(store_list, default_order_and_id_tiebreak)
{
    store_query_t q = query_all();
    const char *tie_first = strcmp(data.beta.id, data.delta.id) < 0 ? "beta_cam" : "delta";
    const char *tie_second = strcmp(data.beta.id, data.delta.id) < 0 ? "delta" : "beta_cam";
    EXPECT_STREAMS(&q, "Bob's stream", "Alpha 100%", tie_first, tie_second);
}

Test(store_list, scope_by_user_and_project)
{
    store_order_t order = {"name", false};
    store_query_t q = query_all();
    q.order = &order;
    q.order_count = 1;
    q.user_id = data.alice.id;
    EXPECT_STREAMS(&q, "Alpha 100%", "beta_cam", "delta");
    q.user_id = NULL;
    q.project_id = data.bob.project_id;
    EXPECT_STREAMS(&q, "Bob's stream");
    q.user_id = "nobody";
    expect_no_streams(&q);
}

Test(store_list, deleted_hidden_unless_included)
{
    store_order_t order = {"name", false};
    store_query_t q = query_all();
    q.user_id = data.alice.id;
    q.order = &order;
    q.order_count = 1;
    EXPECT_STREAMS(&q, "Alpha 100%", "beta_cam", "delta");
    q.include_deleted = true;
    EXPECT_STREAMS(&q, "Alpha 100%", "Gamma", "beta_cam", "delta");
}

Test(store_list, active_only_and_record)
{
    store_query_t q = query_all();
    q.active_only = true;
    EXPECT_STREAMS(&q, "Bob's stream", "Alpha 100%");
    q.active_only = false;
    q.record = 1;
    EXPECT_STREAMS(&q, "Alpha 100%");
    q.record = 0;
    q.user_id = data.alice.id;
    store_order_t order = {"name", false};
    q.order = &order;
    q.order_count = 1;
    EXPECT_STREAMS(&q, "beta_cam", "delta");
}

Test(store_list, eq_filters_on_strings_numbers_bools)
{
    EXPECT_FILTERED(text_filter("name", STORE_OP_EQ, "delta"), "delta");
    expect_filtered(text_filter("name", STORE_OP_EQ, "Delta"), NULL, 0); /* exact */
    EXPECT_FILTERED(text_filter("id", STORE_OP_EQ, data.beta.id), "beta_cam");
    EXPECT_FILTERED(text_filter("playbackId", STORE_OP_EQ, data.alpha.playback_id), "Alpha 100%");
    EXPECT_FILTERED(text_filter("userId", STORE_OP_EQ, data.bob.id), "Bob's stream");
    EXPECT_FILTERED(number_filter("sourceSegments", STORE_OP_EQ, 5), "beta_cam");
    EXPECT_FILTERED(number_filter("sourceSegmentsDuration", STORE_OP_EQ, 20.5), "Alpha 100%");
    EXPECT_FILTERED(bool_filter("isActive", true), "Alpha 100%", "Bob's stream");
    EXPECT_FILTERED(bool_filter("record", true), "Alpha 100%");
    EXPECT_FILTERED(bool_filter("suspended", true), "beta_cam");
    EXPECT_FILTERED(bool_filter("isHealthy", true), "Alpha 100%");
    EXPECT_FILTERED(bool_filter("isHealthy", false), "beta_cam");
}

Test(store_list, contains_is_case_insensitive_and_literal)
{
    EXPECT_FILTERED(text_filter("name", STORE_OP_CONTAINS, "ALPHA"), "Alpha 100%");
    EXPECT_FILTERED(text_filter("name", STORE_OP_CONTAINS, "100%"), "Alpha 100%");
    EXPECT_FILTERED(text_filter("name", STORE_OP_CONTAINS, "%"), "Alpha 100%");
    EXPECT_FILTERED(text_filter("name", STORE_OP_CONTAINS, "_"), "beta_cam");
    EXPECT_FILTERED(text_filter("name", STORE_OP_CONTAINS, "a_c"), "beta_cam");
    expect_filtered(text_filter("name", STORE_OP_CONTAINS, "a%c"), NULL, 0);
    EXPECT_FILTERED(text_filter("name", STORE_OP_CONTAINS, "'s"), "Bob's stream");
}

Test(store_list, comparison_filters)
{
    EXPECT_FILTERED(number_filter("sourceSegments", STORE_OP_GT, 5), "Alpha 100%", "delta");
    EXPECT_FILTERED(number_filter("sourceSegments", STORE_OP_GTE, 5), "Alpha 100%", "beta_cam",
                    "delta");
    EXPECT_FILTERED(number_filter("sourceSegments", STORE_OP_LT, 5), "Bob's stream");
    EXPECT_FILTERED(number_filter("sourceSegments", STORE_OP_LTE, 5), "Bob's stream", "beta_cam");
    EXPECT_FILTERED(number_filter("sourceSegmentsDuration", STORE_OP_GT, 10.25), "Alpha 100%");
    EXPECT_FILTERED(number_filter("lastSeen", STORE_OP_GTE, 5000), "Alpha 100%", "Bob's stream");
    EXPECT_FILTERED(number_filter("createdAt", STORE_OP_LT, 1000), "Bob's stream");
}

Test(store_list, joined_and_json_fields)
{
    EXPECT_FILTERED(text_filter("user.email", STORE_OP_EQ, "bob@Example.org"), "Bob's stream");
    EXPECT_FILTERED(text_filter("user.email", STORE_OP_CONTAINS, "EXAMPLE.org"), "Bob's stream");
    EXPECT_FILTERED(text_filter("user.email", STORE_OP_CONTAINS, "example"), "Alpha 100%",
                    "Bob's stream", "beta_cam", "delta");
    EXPECT_FILTERED(text_filter("creatorId", STORE_OP_EQ, "creator-1"), "Alpha 100%");
    EXPECT_FILTERED(text_filter("pull.source", STORE_OP_EQ, "rtmp://origin/a"), "Alpha 100%");
    expect_filtered(text_filter("parentId", STORE_OP_EQ, data.alpha.id), NULL, 0);

    store_query_t q = query_all();
    q.parent_id = data.alpha.id; /* streams have no parent */
    expect_no_streams(&q);
}

Test(store_list, filters_combine_with_and)
{
    store_filter_t filters[] = {
        text_filter("user.email", STORE_OP_CONTAINS, "alice"),
        number_filter("sourceSegments", STORE_OP_GTE, 5),
        bool_filter("isActive", false),
    };
    store_query_t q = query_all();
    q.filters = filters;
    q.filter_count = 3;
    store_order_t order = {"sourceSegments", false};
    q.order = &order;
    q.order_count = 1;
    EXPECT_STREAMS(&q, "beta_cam", "delta");
}

Test(store_list, order_by_fields)
{
    store_query_t q = query_all();
    store_order_t order[2] = {{"name", false}, {"createdAt", false}};
    q.order = order;
    q.order_count = 1;
    /* Binary collation: upper case sorts before lower case. */
    EXPECT_STREAMS(&q, "Alpha 100%", "Bob's stream", "beta_cam", "delta");
    order[0].descending = true;
    EXPECT_STREAMS(&q, "delta", "beta_cam", "Bob's stream", "Alpha 100%");
    order[0] = (store_order_t){"sourceSegments", true};
    EXPECT_STREAMS(&q, "Alpha 100%", "delta", "beta_cam", "Bob's stream");
    order[0] = (store_order_t){"lastSeen", false};
    order[1] = (store_order_t){"sourceSegments", true};
    q.order_count = 2;
    EXPECT_STREAMS(&q, "delta", "beta_cam", "Alpha 100%", "Bob's stream");
    order[0] = (store_order_t){"user.email", true};
    EXPECT_STREAMS(&q, "Bob's stream", "Alpha 100%", "delta", "beta_cam");
}

Test(store_list, limit_offset_and_total)
{
    store_query_t q = query_all();
    q.limit = 3;
    store_stream_t *rows = NULL;
    size_t count = 0;
    int64_t total = 0;
    char seen[8][STORE_ID_SIZE];
    size_t seen_count = 0;
    for (q.offset = 0; q.offset < 6; q.offset += q.limit) {
        cr_assert_eq(store_stream_list(store, &q, &rows, &count, &total), STORE_OK);
        cr_assert_eq(total, 4);
        cr_assert_eq(count, q.offset == 0 ? 3u : q.offset == 3 ? 1u : 0u);
        for (size_t i = 0; i < count; i++) {
            for (size_t j = 0; j < seen_count; j++)
                cr_assert_str_neq(seen[j], rows[i].id, "row repeated across pages");
            memcpy(seen[seen_count++], rows[i].id, STORE_ID_SIZE);
        }
        store_stream_list_free(rows, count);
    }
    cr_assert_eq(seen_count, 4);

    /* The total is optional. */
    q.offset = 0;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_OK);
    cr_assert_eq(count, 3);
    store_stream_list_free(rows, count);
}

Test(store_list, invalid_queries)
{
    store_stream_t *rows = (store_stream_t *)1;
    size_t count = 9;
    store_query_t q = query_all();
    store_filter_t unknown = text_filter("streamKey", STORE_OP_EQ, "x");
    q.filters = &unknown;
    q.filter_count = 1;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);
    cr_assert_null(rows);
    cr_assert_eq(count, 0);

    store_filter_t contains_number = number_filter("name", STORE_OP_CONTAINS, 1);
    q.filters = &contains_number;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);

    store_filter_t null_string = text_filter("name", STORE_OP_EQ, NULL);
    q.filters = &null_string;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);

    q = query_all();
    store_order_t bad_order = {"name; DROP TABLE streams", false};
    q.order = &bad_order;
    q.order_count = 1;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);

    /* recordingStatus is a session field only. */
    q = query_all();
    store_filter_t session_only = text_filter("recordingStatus", STORE_OP_EQ, "ready");
    q.filters = &session_only;
    q.filter_count = 1;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);

    q = query_all();
    q.limit = 0;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);
    q.limit = 10;
    q.offset = -1;
    cr_assert_eq(store_stream_list(store, &q, &rows, &count, NULL), STORE_INVALID);
}

Test(store_list, sql_injection_matches_nothing_and_does_no_harm)
{
    const char *attacks[] = {
        "x' OR '1'='1",
        "'; DROP TABLE streams; --",
        "\" OR 1=1 --",
        "%' OR name LIKE '%",
    };
    for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++) {
        expect_filtered(text_filter("name", STORE_OP_EQ, attacks[i]), NULL, 0);
        expect_filtered(text_filter("name", STORE_OP_CONTAINS, attacks[i]), NULL, 0);
        expect_filtered(text_filter("user.email", STORE_OP_EQ, attacks[i]), NULL, 0);
    }
    store_query_t q = query_all();
    q.user_id = "x' OR '1'='1";
    expect_no_streams(&q);
    q = query_all();
    EXPECT_STREAMS(&q, "Bob's stream", "Alpha 100%",
                   strcmp(data.beta.id, data.delta.id) < 0 ? "beta_cam" : "delta",
                   strcmp(data.beta.id, data.delta.id) < 0 ? "delta" : "beta_cam");
}
