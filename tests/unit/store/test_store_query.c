/* Unit tests of the list planner (src/store/store_query.c) on its own: the SQL text and the bind
 * values it plans for each scope, filter, order and page, in both dialects, and what it refuses. */
#include "store/store_query.h"

#include "util/log.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* A short column list keeps the expected texts readable; the planner copies it verbatim. */
#define COLUMNS "c1, c2"

static store_query_plan_t plan;

static void setup(void)
{
    log_set_level(LOG_WARN);
    memset(&plan, 0, sizeof plan);
}

static void teardown(void)
{
    store_query_plan_free(&plan);
}

TestSuite(store_query, .init = setup, .fini = teardown);

static store_query_t query_all(void)
{
    return (store_query_t){.record = -1, .limit = 20};
}

static int plan_streams(store_query_dialect_t dialect, const store_query_t *q)
{
    store_query_plan_free(&plan);
    return store_query_plan(&plan, dialect, STORE_QUERY_STREAMS, COLUMNS, q);
}

static int plan_sessions(store_query_dialect_t dialect, const store_query_t *q)
{
    store_query_plan_free(&plan);
    return store_query_plan(&plan, dialect, STORE_QUERY_SESSIONS, COLUMNS, q);
}

/* Plans q over streams and checks the WHERE text (between FROM streams and ORDER BY). */
static void expect_where(store_query_dialect_t dialect, const store_query_t *q, const char *where)
{
    cr_assert_eq(plan_streams(dialect, q), STORE_OK);
    char count_sql[2048];
    snprintf(count_sql, sizeof count_sql, "SELECT COUNT(*) FROM streams%s", where);
    cr_assert_str_eq(plan.count_sql, count_sql);
    const char *from = strstr(plan.select_sql, " FROM streams");
    cr_assert_not_null(from);
    cr_assert_eq(strncmp(from + strlen(" FROM streams"), where, strlen(where)), 0, "select: %s",
                 plan.select_sql);
}

static void expect_text_bind(int index, const char *text)
{
    cr_assert_lt(index, plan.bind_count);
    cr_assert_eq(plan.binds[index].kind, STORE_QUERY_BIND_TEXT, "bind %d", index);
    cr_assert_str_eq(plan.binds[index].text, text, "bind %d", index);
}

static void expect_int_bind(int index, int64_t value)
{
    cr_assert_lt(index, plan.bind_count);
    cr_assert_eq(plan.binds[index].kind, STORE_QUERY_BIND_INT, "bind %d", index);
    cr_assert_eq(plan.binds[index].int_value, value, "bind %d", index);
}

static void expect_double_bind(int index, double value)
{
    cr_assert_lt(index, plan.bind_count);
    cr_assert_eq(plan.binds[index].kind, STORE_QUERY_BIND_DOUBLE, "bind %d", index);
    cr_assert_float_eq(plan.binds[index].double_value, value, 1e-12, "bind %d", index);
}

static void expect_bool_bind(int index, bool value)
{
    cr_assert_lt(index, plan.bind_count);
    cr_assert_eq(plan.binds[index].kind, STORE_QUERY_BIND_BOOL, "bind %d", index);
    cr_assert_eq(plan.binds[index].bool_value, value, "bind %d", index);
}

/* The page values close every select: limit then offset, after the count's binds. */
static void expect_page(int64_t limit, int64_t offset)
{
    cr_assert_eq(plan.bind_count, plan.count_bind_count + 2);
    expect_int_bind(plan.count_bind_count, limit);
    expect_int_bind(plan.count_bind_count + 1, offset);
}

static store_filter_t text_filter(const char *field, store_op_t op, const char *value)
{
    return (store_filter_t){
        .field = field, .op = op, .kind = STORE_VALUE_STRING, .string_value = value};
}

static store_filter_t number_filter(const char *field, store_op_t op, double value)
{
    return (store_filter_t){
        .field = field, .op = op, .kind = STORE_VALUE_NUMBER, .number_value = value};
}

static store_filter_t bool_filter(const char *field, bool value)
{
    return (store_filter_t){
        .field = field, .op = STORE_OP_EQ, .kind = STORE_VALUE_BOOL, .bool_value = value};
}

/* Plans one filter over streams and checks the WHERE it adds after "deleted = ...". */
static void expect_filter(store_query_dialect_t dialect, store_filter_t filter, const char *term)
{
    store_query_t q = query_all();
    q.filters = &filter;
    q.filter_count = 1;
    char where[1024];
    snprintf(where, sizeof where, " WHERE deleted = %s AND %s",
             dialect == STORE_QUERY_SQLITE ? "0" : "FALSE", term);
    expect_where(dialect, &q, where);
    cr_assert_eq(plan.count_bind_count, 1);
}

/* ---- Whole statements ----------------------------------------------------------------------- */

Test(store_query, default_sqlite_streams)
{
    store_query_t q = query_all();
    cr_assert_eq(plan_streams(STORE_QUERY_SQLITE, &q), STORE_OK);
    cr_assert_str_eq(plan.what, "stream list");
    cr_assert_str_eq(plan.select_sql, "SELECT c1, c2 FROM streams WHERE deleted = 0 "
                                      "ORDER BY last_seen DESC, created_at DESC, id ASC "
                                      "LIMIT ? OFFSET ?");
    cr_assert_str_eq(plan.count_sql, "SELECT COUNT(*) FROM streams WHERE deleted = 0");
    cr_assert_eq(plan.count_bind_count, 0);
    expect_page(20, 0);
}

Test(store_query, default_postgres_sessions)
{
    store_query_t q = query_all();
    cr_assert_eq(plan_sessions(STORE_QUERY_POSTGRES, &q), STORE_OK);
    cr_assert_str_eq(plan.what, "session list");
    cr_assert_str_eq(plan.select_sql,
                     "SELECT c1, c2 FROM sessions WHERE deleted = FALSE "
                     "ORDER BY last_seen DESC NULLS LAST, created_at DESC NULLS LAST, "
                     "id ASC NULLS FIRST LIMIT $1 OFFSET $2");
    cr_assert_str_eq(plan.count_sql, "SELECT COUNT(*) FROM sessions WHERE deleted = FALSE");
    expect_page(20, 0);
}

Test(store_query, include_deleted_leaves_no_where)
{
    store_query_t q = query_all();
    q.include_deleted = true;
    cr_assert_eq(plan_streams(STORE_QUERY_SQLITE, &q), STORE_OK);
    cr_assert_str_eq(plan.count_sql, "SELECT COUNT(*) FROM streams");
    cr_assert_str_eq(plan.select_sql, "SELECT c1, c2 FROM streams "
                                      "ORDER BY last_seen DESC, created_at DESC, id ASC "
                                      "LIMIT ? OFFSET ?");
}

/* ---- Scope ---------------------------------------------------------------------------------- */

/* Every scope term set: user u, project p, parent s, active, record as given, used. */
static store_query_t full_scope(int record)
{
    store_query_t q = query_all();
    q.user_id = "u";
    q.project_id = "p";
    q.parent_id = "s";
    q.active_only = true;
    q.record = record;
    q.only_used = true;
    return q;
}

Test(store_query, full_scope_binds_in_order_sqlite)
{
    store_query_t q = full_scope(1);
    cr_assert_eq(plan_sessions(STORE_QUERY_SQLITE, &q), STORE_OK);
    cr_assert_str_eq(plan.count_sql,
                     "SELECT COUNT(*) FROM sessions WHERE user_id = ? AND project_id = ? AND "
                     "parent_id = ? AND deleted = 0 AND is_active = 1 AND record = ? AND "
                     "last_seen > 0 AND source_segments_duration > 0");
    cr_assert_eq(plan.count_bind_count, 4);
    expect_text_bind(0, "u");
    expect_text_bind(1, "p");
    expect_text_bind(2, "s");
    expect_bool_bind(3, true);
    expect_page(20, 0);
}

Test(store_query, full_scope_numbers_placeholders_postgres)
{
    store_query_t q = full_scope(0);
    q.limit = 7;
    q.offset = 14;
    cr_assert_eq(plan_sessions(STORE_QUERY_POSTGRES, &q), STORE_OK);
    cr_assert_str_eq(plan.count_sql,
                     "SELECT COUNT(*) FROM sessions WHERE user_id = $1 AND project_id = $2 AND "
                     "parent_id = $3 AND deleted = FALSE AND is_active = TRUE AND record = $4 "
                     "AND last_seen > 0 AND source_segments_duration > 0");
    cr_assert_not_null(strstr(plan.select_sql, " LIMIT $5 OFFSET $6"));
    expect_text_bind(0, "u");
    expect_text_bind(1, "p");
    expect_text_bind(2, "s");
    expect_bool_bind(3, false);
    expect_page(7, 14);
}

Test(store_query, streams_have_no_parent)
{
    store_query_t q = query_all();
    q.parent_id = "s";
    expect_where(STORE_QUERY_SQLITE, &q, " WHERE NULL = ? AND deleted = 0");
    expect_text_bind(0, "s");
    expect_where(STORE_QUERY_POSTGRES, &q, " WHERE CAST(NULL AS text) = $1 AND deleted = FALSE");
}

Test(store_query, record_any_adds_nothing)
{
    store_query_t q = query_all();
    q.record = -1;
    expect_where(STORE_QUERY_SQLITE, &q, " WHERE deleted = 0");
    cr_assert_eq(plan.count_bind_count, 0);
}

/* ---- Filters -------------------------------------------------------------------------------- */

Test(store_query, comparison_operators_in_both_dialects)
{
    static const struct {
        store_op_t op;
        const char *sqlite_term;
        const char *postgres_term;
    } cases[] = {
        {STORE_OP_EQ, "source_segments = ?", "source_segments = $1"},
        {STORE_OP_GT, "source_segments > ?", "source_segments > $1"},
        {STORE_OP_GTE, "source_segments >= ?", "source_segments >= $1"},
        {STORE_OP_LT, "source_segments < ?", "source_segments < $1"},
        {STORE_OP_LTE, "source_segments <= ?", "source_segments <= $1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        store_filter_t filter = number_filter("sourceSegments", cases[i].op, 5);
        expect_filter(STORE_QUERY_SQLITE, filter, cases[i].sqlite_term);
        expect_int_bind(0, 5);
        expect_filter(STORE_QUERY_POSTGRES, filter, cases[i].postgres_term);
        expect_int_bind(0, 5);
    }
}

Test(store_query, value_kinds_bind_typed)
{
    expect_filter(STORE_QUERY_SQLITE, text_filter("name", STORE_OP_EQ, "x' OR '1'='1"), "name = ?");
    expect_text_bind(0, "x' OR '1'='1"); /* the value is bound, never in the text */
    cr_assert_null(strstr(plan.select_sql, "OR '1'"));

    expect_filter(STORE_QUERY_SQLITE, bool_filter("isActive", true), "is_active = ?");
    expect_bool_bind(0, true);
    expect_filter(STORE_QUERY_POSTGRES, bool_filter("suspended", false), "suspended = $1");
    expect_bool_bind(0, false);

    /* Integral numbers bind as integers, others as reals. */
    expect_filter(STORE_QUERY_SQLITE, number_filter("createdAt", STORE_OP_LT, 1700000000123),
                  "created_at < ?");
    expect_int_bind(0, 1700000000123);
    expect_filter(STORE_QUERY_SQLITE, number_filter("createdAt", STORE_OP_LT, -4),
                  "created_at < ?");
    expect_int_bind(0, -4);
    expect_filter(STORE_QUERY_SQLITE, number_filter("sourceSegmentsDuration", STORE_OP_GT, 10.25),
                  "source_segments_duration > ?");
    expect_double_bind(0, 10.25);
    /* Beyond the range a cast keeps exact, and NaN, stay reals. */
    expect_filter(STORE_QUERY_SQLITE, number_filter("sourceBytes", STORE_OP_GT, 1e17),
                  "source_bytes > ?");
    expect_double_bind(0, 1e17);
    expect_filter(STORE_QUERY_SQLITE, number_filter("sourceBytes", STORE_OP_GT, NAN),
                  "source_bytes > ?");
    cr_assert_eq(plan.binds[0].kind, STORE_QUERY_BIND_DOUBLE);
    cr_assert(isnan(plan.binds[0].double_value));
}

Test(store_query, contains_per_dialect)
{
    expect_filter(STORE_QUERY_SQLITE, text_filter("name", STORE_OP_CONTAINS, "100%"),
                  "instr(lower(name), lower(?)) > 0");
    expect_text_bind(0, "100%");
    expect_filter(STORE_QUERY_POSTGRES, text_filter("name", STORE_OP_CONTAINS, "a_c"),
                  "strpos(lower(name), lower($1)) > 0");
    expect_text_bind(0, "a_c");
}

Test(store_query, joined_json_and_absent_fields)
{
    expect_filter(STORE_QUERY_SQLITE, text_filter("user.email", STORE_OP_EQ, "a@b"),
                  "(SELECT users.email FROM users WHERE users.id = streams.user_id) = ?");
    expect_filter(STORE_QUERY_POSTGRES, text_filter("user.email", STORE_OP_EQ, "a@b"),
                  "(SELECT users.email FROM users WHERE users.id = streams.user_id) = $1");
    expect_filter(STORE_QUERY_SQLITE, text_filter("creatorId", STORE_OP_EQ, "c"),
                  "CASE WHEN json_valid(creator_id) THEN json_extract(creator_id, '$.value') "
                  "END = ?");
    expect_filter(STORE_QUERY_POSTGRES, text_filter("creatorId", STORE_OP_EQ, "c"),
                  "(creator_id::jsonb ->> 'value') = $1");
    expect_filter(STORE_QUERY_SQLITE, text_filter("pull.source", STORE_OP_CONTAINS, "rtmp"),
                  "instr(lower(CASE WHEN json_valid(pull) THEN json_extract(pull, '$.source') "
                  "END), lower(?)) > 0");
    expect_filter(STORE_QUERY_POSTGRES, text_filter("pull.source", STORE_OP_EQ, "rtmp"),
                  "(pull::jsonb ->> 'source') = $1");
    expect_filter(STORE_QUERY_SQLITE, text_filter("parentId", STORE_OP_EQ, "s"), "NULL = ?");
    expect_filter(STORE_QUERY_POSTGRES, text_filter("parentId", STORE_OP_EQ, "s"),
                  "CAST(NULL AS text) = $1");
}

Test(store_query, session_fields_map_to_their_columns)
{
    store_filter_t filters[] = {
        text_filter("recordingStatus", STORE_OP_EQ, "ready"),
        text_filter("parentId", STORE_OP_EQ, "s"),
        text_filter("user.email", STORE_OP_CONTAINS, "bob"),
    };
    store_query_t q = query_all();
    q.filters = filters;
    q.filter_count = 3;
    cr_assert_eq(plan_sessions(STORE_QUERY_SQLITE, &q), STORE_OK);
    cr_assert_str_eq(plan.count_sql,
                     "SELECT COUNT(*) FROM sessions WHERE deleted = 0 AND recording_status = ? "
                     "AND parent_id = ? AND instr(lower((SELECT users.email FROM users WHERE "
                     "users.id = sessions.user_id)), lower(?)) > 0");
}

Test(store_query, filters_follow_scope_in_bind_order)
{
    store_filter_t filters[] = {
        text_filter("name", STORE_OP_CONTAINS, "cam"),
        number_filter("sourceSegments", STORE_OP_GTE, 5),
        bool_filter("isActive", false),
        number_filter("ingestRate", STORE_OP_LT, 0.5),
    };
    store_query_t q = query_all();
    q.user_id = "u";
    q.record = 1;
    q.filters = filters;
    q.filter_count = 4;
    q.limit = 3;
    q.offset = 6;
    expect_where(STORE_QUERY_POSTGRES, &q,
                 " WHERE user_id = $1 AND deleted = FALSE AND record = $2 AND "
                 "strpos(lower(name), lower($3)) > 0 AND source_segments >= $4 AND "
                 "is_active = $5 AND ingest_rate < $6");
    cr_assert_not_null(strstr(plan.select_sql, " LIMIT $7 OFFSET $8"));
    cr_assert_eq(plan.count_bind_count, 6);
    expect_text_bind(0, "u");
    expect_bool_bind(1, true);
    expect_text_bind(2, "cam");
    expect_int_bind(3, 5);
    expect_bool_bind(4, false);
    expect_double_bind(5, 0.5);
    expect_page(3, 6);
}

Test(store_query, most_terms_number_every_placeholder)
{
    store_filter_t filters[STORE_QUERY_MAX_TERMS];
    for (size_t i = 0; i < STORE_QUERY_MAX_TERMS; i++)
        filters[i] = number_filter("sourceBytes", STORE_OP_GT, (double)i);
    store_query_t q = full_scope(0);
    q.filters = filters;
    q.filter_count = STORE_QUERY_MAX_TERMS;
    cr_assert_eq(plan_sessions(STORE_QUERY_POSTGRES, &q), STORE_OK);
    cr_assert_eq(plan.bind_count, STORE_QUERY_MAX_BINDS);
    cr_assert_not_null(strstr(plan.count_sql, "source_bytes > $68"));
    cr_assert_null(strstr(plan.count_sql, "$69"));
    cr_assert_not_null(strstr(plan.select_sql, " LIMIT $69 OFFSET $70"));
    expect_int_bind(4 + STORE_QUERY_MAX_TERMS - 1, STORE_QUERY_MAX_TERMS - 1);
}

/* ---- Order ---------------------------------------------------------------------------------- */

Test(store_query, sort_keys_and_id_tiebreak)
{
    store_order_t order[] = {{"sourceSegments", true}, {"name", false}};
    store_query_t q = query_all();
    q.order = order;
    q.order_count = 2;
    cr_assert_eq(plan_streams(STORE_QUERY_SQLITE, &q), STORE_OK);
    cr_assert_not_null(strstr(plan.select_sql, " ORDER BY source_segments DESC, name ASC, "
                                               "id ASC LIMIT ? OFFSET ?"));
    cr_assert_null(strstr(plan.count_sql, "ORDER BY"));
    cr_assert_eq(plan_streams(STORE_QUERY_POSTGRES, &q), STORE_OK);
    cr_assert_not_null(strstr(plan.select_sql, " ORDER BY source_segments DESC NULLS LAST, "
                                               "name ASC NULLS FIRST, id ASC NULLS FIRST "
                                               "LIMIT $1 OFFSET $2"));
}

Test(store_query, sort_by_json_joined_and_absent_fields)
{
    store_order_t order[] = {{"creatorId", false}, {"user.email", true}, {"parentId", false}};
    store_query_t q = query_all();
    q.order = order;
    q.order_count = 3;
    cr_assert_eq(plan_streams(STORE_QUERY_SQLITE, &q), STORE_OK);
    cr_assert_not_null(strstr(plan.select_sql,
                              " ORDER BY CASE WHEN json_valid(creator_id) THEN "
                              "json_extract(creator_id, '$.value') END ASC, (SELECT users.email "
                              "FROM users WHERE users.id = streams.user_id) DESC, NULL ASC, "
                              "id ASC LIMIT"));
    cr_assert_eq(plan_streams(STORE_QUERY_POSTGRES, &q), STORE_OK);
    cr_assert_not_null(strstr(plan.select_sql,
                              " ORDER BY (creator_id::jsonb ->> 'value') ASC NULLS FIRST, "
                              "(SELECT users.email FROM users WHERE users.id = streams.user_id) "
                              "DESC NULLS LAST, CAST(NULL AS text) ASC NULLS FIRST, id ASC "
                              "NULLS FIRST LIMIT"));
}

/* ---- Pages (the API's cursor is an offset) --------------------------------------------------- */

Test(store_query, limit_and_offset_are_the_last_binds)
{
    store_query_t q = query_all();
    q.user_id = "u";
    q.limit = 1000;
    q.offset = 5000;
    cr_assert_eq(plan_streams(STORE_QUERY_SQLITE, &q), STORE_OK);
    cr_assert_eq(plan.count_bind_count, 1);
    expect_page(1000, 5000);
}

/* ---- Refusals ------------------------------------------------------------------------------- */

/* Plans q in both dialects over both lists and expects every one refused with nothing held. */
static void expect_refused(const store_query_t *q)
{
    for (int d = STORE_QUERY_SQLITE; d <= STORE_QUERY_POSTGRES; d++) {
        cr_assert_eq(plan_streams((store_query_dialect_t)d, q), STORE_INVALID);
        cr_assert_null(plan.select_sql);
        cr_assert_null(plan.count_sql);
        cr_assert_eq(plan.bind_count, 0);
        cr_assert_eq(plan_sessions((store_query_dialect_t)d, q), STORE_INVALID);
        cr_assert_null(plan.select_sql);
    }
}

static void expect_filter_refused(store_filter_t filter)
{
    store_query_t q = query_all();
    q.filters = &filter;
    q.filter_count = 1;
    expect_refused(&q);
}

Test(store_query, unknown_fields_are_refused)
{
    expect_filter_refused(text_filter("streamKey", STORE_OP_EQ, "k"));
    expect_filter_refused(text_filter("name; DROP TABLE streams", STORE_OP_EQ, "k"));
    expect_filter_refused(text_filter("", STORE_OP_EQ, "k"));
    expect_filter_refused(text_filter(NULL, STORE_OP_EQ, "k"));
    expect_filter_refused(text_filter("Name", STORE_OP_EQ, "k")); /* names are case-sensitive */

    /* recordingStatus belongs to sessions only. */
    store_query_t q = query_all();
    store_filter_t session_only = text_filter("recordingStatus", STORE_OP_EQ, "ready");
    q.filters = &session_only;
    q.filter_count = 1;
    cr_assert_eq(plan_streams(STORE_QUERY_SQLITE, &q), STORE_INVALID);
    cr_assert_eq(plan_sessions(STORE_QUERY_SQLITE, &q), STORE_OK);
    /* ...and suspended to streams only. */
    store_filter_t stream_only = bool_filter("suspended", true);
    q.filters = &stream_only;
    cr_assert_eq(plan_sessions(STORE_QUERY_POSTGRES, &q), STORE_INVALID);
    cr_assert_eq(plan_streams(STORE_QUERY_POSTGRES, &q), STORE_OK);
}

Test(store_query, bad_operators_and_values_are_refused)
{
    expect_filter_refused(number_filter("name", STORE_OP_CONTAINS, 1));
    store_filter_t contains_bool = bool_filter("isActive", true);
    contains_bool.op = STORE_OP_CONTAINS;
    expect_filter_refused(contains_bool);
    expect_filter_refused(text_filter("name", (store_op_t)99, "x"));
    expect_filter_refused(text_filter("name", (store_op_t)-1, "x"));
    expect_filter_refused(text_filter("name", STORE_OP_EQ, NULL));
    expect_filter_refused(text_filter("name", STORE_OP_CONTAINS, NULL));
    store_filter_t bad_kind = {.field = "name", .op = STORE_OP_EQ, .kind = (store_value_kind_t)7};
    expect_filter_refused(bad_kind);
}

Test(store_query, a_bad_term_after_good_ones_is_refused)
{
    store_filter_t filters[] = {
        text_filter("name", STORE_OP_EQ, "a"),
        text_filter("nope", STORE_OP_EQ, "b"),
    };
    store_query_t q = query_all();
    q.user_id = "u";
    q.filters = filters;
    q.filter_count = 2;
    expect_refused(&q);
}

Test(store_query, bad_sort_keys_are_refused)
{
    store_order_t unknown = {"name; DROP TABLE streams", false};
    store_query_t q = query_all();
    q.order = &unknown;
    q.order_count = 1;
    expect_refused(&q);
    store_order_t null_field[] = {{"name", false}, {NULL, true}};
    q.order = null_field;
    q.order_count = 2;
    expect_refused(&q);
}

Test(store_query, malformed_queries_are_refused)
{
    expect_refused(NULL);

    store_query_t q = query_all();
    q.limit = 0;
    expect_refused(&q);
    q.limit = -5;
    expect_refused(&q);

    q = query_all();
    q.offset = -1;
    expect_refused(&q);

    q = query_all();
    q.record = 2;
    expect_refused(&q);

    q = query_all();
    q.filter_count = 1; /* and no filters */
    expect_refused(&q);

    q = query_all();
    q.order_count = 1; /* and no order */
    expect_refused(&q);

    store_filter_t filters[STORE_QUERY_MAX_TERMS + 1];
    for (size_t i = 0; i <= STORE_QUERY_MAX_TERMS; i++)
        filters[i] = text_filter("name", STORE_OP_EQ, "x");
    q = query_all();
    q.filters = filters;
    q.filter_count = STORE_QUERY_MAX_TERMS + 1;
    expect_refused(&q);

    store_order_t order[STORE_QUERY_MAX_TERMS + 1];
    for (size_t i = 0; i <= STORE_QUERY_MAX_TERMS; i++)
        order[i] = (store_order_t){"name", false};
    q = query_all();
    q.order = order;
    q.order_count = STORE_QUERY_MAX_TERMS + 1;
    expect_refused(&q);
    q.order_count = STORE_QUERY_MAX_TERMS;
    cr_assert_eq(plan_streams(STORE_QUERY_SQLITE, &q), STORE_OK);
}

Test(store_query, bad_arguments_are_refused)
{
    store_query_t q = query_all();
    cr_assert_eq(store_query_plan(NULL, STORE_QUERY_SQLITE, STORE_QUERY_STREAMS, COLUMNS, &q),
                 STORE_INVALID);
    cr_assert_eq(store_query_plan(&plan, STORE_QUERY_SQLITE, STORE_QUERY_STREAMS, NULL, &q),
                 STORE_INVALID);
    cr_assert_eq(
        store_query_plan(&plan, (store_query_dialect_t)5, STORE_QUERY_STREAMS, COLUMNS, &q),
        STORE_INVALID);
    cr_assert_eq(
        store_query_plan(&plan, (store_query_dialect_t)-1, STORE_QUERY_STREAMS, COLUMNS, &q),
        STORE_INVALID);
    cr_assert_eq(store_query_plan(&plan, STORE_QUERY_SQLITE, (store_query_list_t)2, COLUMNS, &q),
                 STORE_INVALID);
    cr_assert_null(plan.select_sql);
}

Test(store_query, free_is_safe_twice_and_on_null)
{
    store_query_t q = query_all();
    cr_assert_eq(plan_streams(STORE_QUERY_SQLITE, &q), STORE_OK);
    store_query_plan_free(&plan);
    cr_assert_null(plan.select_sql);
    store_query_plan_free(&plan);
    store_query_plan_free(NULL);
}
