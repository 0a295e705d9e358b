/* The list planner shared by every backend: filters, order, scope and paging of a store_query_t
 * become the SQL of a page and of its total, with typed values for the placeholders. */
#include "store/store_query.h"

#include "store/store_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Resources and their fields ------------------------------------------------------------- */

typedef enum {
    FIELD_EXPR,        /* sql is an expression over the table, the same in every dialect */
    FIELD_JSON_MEMBER, /* the member named member of the JSON object in column sql */
    FIELD_ABSENT,      /* the resource has no such value: always NULL */
} field_shape_t;

typedef struct field_def {
    const char *name; /* API name */
    field_shape_t shape;
    const char *sql;
    const char *member; /* FIELD_JSON_MEMBER: an identifier (no quote to escape) */
} field_def_t;

#define EXPR(name, sql)                                                                            \
    {                                                                                              \
        name, FIELD_EXPR, sql, NULL                                                                \
    }
#define JSON_MEMBER(name, column, member)                                                          \
    {                                                                                              \
        name, FIELD_JSON_MEMBER, column, member                                                    \
    }
#define ABSENT(name)                                                                               \
    {                                                                                              \
        name, FIELD_ABSENT, NULL, NULL                                                             \
    }

static const field_def_t stream_fields[] = {
    EXPR("id", "id"),
    EXPR("name", "name"),
    EXPR("sourceSegments", "source_segments"),
    EXPR("lastSeen", "last_seen"),
    EXPR("createdAt", "created_at"),
    EXPR("userId", "user_id"),
    JSON_MEMBER("creatorId", "creator_id", "value"),
    JSON_MEMBER("pull.source", "pull", "source"),
    EXPR("isActive", "is_active"),
    EXPR("user.email", "(SELECT users.email FROM users WHERE users.id = streams.user_id)"),
    ABSENT("parentId"), /* streams have no parent */
    EXPR("playbackId", "playback_id"),
    EXPR("projectId", "project_id"),
    EXPR("record", "record"),
    EXPR("suspended", "suspended"),
    EXPR("sourceSegmentsDuration", "source_segments_duration"),
    EXPR("transcodedSegments", "transcoded_segments"),
    EXPR("transcodedSegmentsDuration", "transcoded_segments_duration"),
    EXPR("isHealthy", "is_healthy"),
    EXPR("sourceBytes", "source_bytes"),
    EXPR("transcodedBytes", "transcoded_bytes"),
    EXPR("ingestRate", "ingest_rate"),
    EXPR("outgoingRate", "outgoing_rate"),
    EXPR("lastTerminatedAt", "last_terminated_at"),
};

static const field_def_t session_fields[] = {
    EXPR("id", "id"),
    EXPR("name", "name"),
    EXPR("lastSeen", "last_seen"),
    EXPR("createdAt", "created_at"),
    EXPR("userId", "user_id"),
    EXPR("user.email", "(SELECT users.email FROM users WHERE users.id = sessions.user_id)"),
    EXPR("parentId", "parent_id"),
    EXPR("projectId", "project_id"),
    EXPR("record", "record"),
    EXPR("sourceSegments", "source_segments"),
    EXPR("transcodedSegments", "transcoded_segments"),
    EXPR("sourceSegmentsDuration", "source_segments_duration"),
    EXPR("transcodedSegmentsDuration", "transcoded_segments_duration"),
    EXPR("sourceBytes", "source_bytes"),
    EXPR("transcodedBytes", "transcoded_bytes"),
    EXPR("ingestRate", "ingest_rate"),
    EXPR("outgoingRate", "outgoing_rate"),
    EXPR("recordingStatus", "recording_status"),
    EXPR("playbackId", "playback_id"),
    EXPR("isActive", "is_active"),
};

typedef struct resource {
    const char *what; /* for logs */
    const char *table;
    field_def_t parent; /* what q->parent_id compares with */
    const field_def_t *fields;
    size_t field_count;
} resource_t;

static const resource_t resources[] = {
    [STORE_QUERY_STREAMS] =
        {
            .what = "stream list",
            .table = "streams",
            .parent =
                ABSENT("parentId"), /* streams have no parent: a parent scope matches nothing */
            .fields = stream_fields,
            .field_count = sizeof stream_fields / sizeof stream_fields[0],
        },
    [STORE_QUERY_SESSIONS] =
        {
            .what = "session list",
            .table = "sessions",
            .parent = EXPR("parentId", "parent_id"),
            .fields = session_fields,
            .field_count = sizeof session_fields / sizeof session_fields[0],
        },
};

static const field_def_t *field_find(const resource_t *res, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < res->field_count; i++) {
        if (strcmp(res->fields[i].name, name) == 0)
            return &res->fields[i];
    }
    return NULL;
}

/* ---- Dialects -------------------------------------------------------------------------------- */

typedef struct dialect {
    bool numbered_params;  /* "$N" rather than "?" */
    bool jsonb_members;    /* a JSON member is ->> on jsonb, not a guarded json_extract */
    const char *false_sql; /* boolean literals in scope terms */
    const char *true_sql;
    const char *absent_sql; /* the NULL of a field a resource lacks */
    const char *find_fn;    /* (haystack, needle) -> 1-based position, 0 when absent */
    const char *asc_sql;    /* order suffixes; NULLs sort first ascending, last descending */
    const char *desc_sql;
} dialect_t;

static const dialect_t dialects[] = {
    [STORE_QUERY_SQLITE] =
        {
            .numbered_params = false,
            .jsonb_members = false,
            .false_sql = "0",
            .true_sql = "1",
            .absent_sql = "NULL",
            .find_fn = "instr",
            .asc_sql = " ASC", /* SQLite's NULLs already sort first ascending */
            .desc_sql = " DESC",
        },
    [STORE_QUERY_POSTGRES] =
        {
            .numbered_params = true,
            .jsonb_members = true,
            .false_sql = "FALSE",
            .true_sql = "TRUE",
            .absent_sql = "CAST(NULL AS text)",
            .find_fn = "strpos",
            .asc_sql = " ASC NULLS FIRST",
            .desc_sql = " DESC NULLS LAST",
        },
};

/* ---- SQL text -------------------------------------------------------------------------------- */

/* A growable SQL string; after an allocation failure it stays failed and appends do nothing. */
typedef struct sql_buf {
    char *text;
    size_t len;
    size_t capacity;
    bool failed;
} sql_buf_t;

/* Appends every string up to the NULL sentinel; call it through sql_append, which adds one. */
__attribute__((sentinel)) static void sql_append_parts(sql_buf_t *buf, ...)
{
    va_list args;
    va_start(args, buf);
    for (const char *part = va_arg(args, const char *); part && !buf->failed;
         part = va_arg(args, const char *)) {
        size_t n = strlen(part);
        if (buf->len + n + 1 > buf->capacity) {
            size_t capacity = (buf->len + n + 1) * 2;
            char *text = realloc(buf->text, capacity);
            if (!text) {
                buf->failed = true;
                break;
            }
            buf->text = text;
            buf->capacity = capacity;
        }
        memcpy(buf->text + buf->len, part, n + 1);
        buf->len += n;
    }
    va_end(args);
}

#define sql_append(buf, ...) sql_append_parts((buf), __VA_ARGS__, (const char *)NULL)

/* The text so far; "" when nothing was appended. */
static const char *sql_text(const sql_buf_t *buf)
{
    return buf->text ? buf->text : "";
}

/* ---- Planning -------------------------------------------------------------------------------- */

/* The pieces of a plan while it is built. */
typedef struct builder {
    const dialect_t *dialect;
    const resource_t *res;
    store_query_plan_t *plan;
    sql_buf_t where;
    sql_buf_t order;
    bool too_many_binds;
} builder_t;

/* Appends the next placeholder to buf and records the value it takes. */
static void emit_param(builder_t *b, sql_buf_t *buf, store_query_bind_t value)
{
    store_query_plan_t *plan = b->plan;
    if (plan->bind_count == STORE_QUERY_MAX_BINDS) {
        b->too_many_binds = true;
        return;
    }
    plan->binds[plan->bind_count++] = value;
    if (!b->dialect->numbered_params) {
        sql_append(buf, "?");
        return;
    }
    char number[16];
    snprintf(number, sizeof number, "$%d", plan->bind_count);
    sql_append(buf, number);
}

static void emit_text(builder_t *b, sql_buf_t *buf, const char *text)
{
    emit_param(b, buf, (store_query_bind_t){.kind = STORE_QUERY_BIND_TEXT, .text = text});
}

static void emit_int(builder_t *b, sql_buf_t *buf, int64_t value)
{
    emit_param(b, buf, (store_query_bind_t){.kind = STORE_QUERY_BIND_INT, .int_value = value});
}

static void emit_bool(builder_t *b, sql_buf_t *buf, bool value)
{
    emit_param(b, buf, (store_query_bind_t){.kind = STORE_QUERY_BIND_BOOL, .bool_value = value});
}

/* Integral numbers are bound as integers so they compare exactly with INTEGER columns
 * (timestamps beyond 2^53 do not occur; the range check keeps the cast defined). */
static void emit_number(builder_t *b, sql_buf_t *buf, double value)
{
    if (value >= -9.0e15 && value <= 9.0e15 && (double)(int64_t)value == value)
        emit_int(b, buf, (int64_t)value);
    else
        emit_param(b, buf,
                   (store_query_bind_t){.kind = STORE_QUERY_BIND_DOUBLE, .double_value = value});
}

/* json_valid guards json_extract, which fails the whole query on a malformed value (a row seeded
 * by hand); such a row then simply has no value there. PostgreSQL keeps JSON as jsonb, which
 * cannot hold a malformed value. */
static void emit_field(builder_t *b, sql_buf_t *buf, const field_def_t *f)
{
    switch (f->shape) {
    case FIELD_EXPR:
        sql_append(buf, f->sql);
        break;
    case FIELD_JSON_MEMBER:
        if (b->dialect->jsonb_members)
            sql_append(buf, "(", f->sql, "::jsonb ->> '", f->member, "')");
        else
            sql_append(buf, "CASE WHEN json_valid(", f->sql, ") THEN json_extract(", f->sql,
                       ", '$.", f->member, "') END");
        break;
    case FIELD_ABSENT:
        sql_append(buf, b->dialect->absent_sql);
        break;
    }
}

/* Starts the next condition: " WHERE " for the first, " AND " after. */
static void where_and(builder_t *b)
{
    sql_append(&b->where, b->where.len ? " AND " : " WHERE ");
}

/* The conditions every list has: owner, project, parent, deleted, active, record, used. */
static void plan_scope(builder_t *b, const store_query_t *q)
{
    const dialect_t *d = b->dialect;
    if (q->user_id) {
        where_and(b);
        sql_append(&b->where, "user_id = ");
        emit_text(b, &b->where, q->user_id);
    }
    if (q->project_id) {
        where_and(b);
        sql_append(&b->where, "project_id = ");
        emit_text(b, &b->where, q->project_id);
    }
    if (q->parent_id) {
        where_and(b);
        emit_field(b, &b->where, &b->res->parent);
        sql_append(&b->where, " = ");
        emit_text(b, &b->where, q->parent_id);
    }
    if (!q->include_deleted) {
        where_and(b);
        sql_append(&b->where, "deleted = ", d->false_sql);
    }
    if (q->active_only) {
        where_and(b);
        sql_append(&b->where, "is_active = ", d->true_sql);
    }
    if (q->record >= 0) {
        where_and(b);
        sql_append(&b->where, "record = ");
        emit_bool(b, &b->where, q->record == 1);
    }
    if (q->only_used) {
        where_and(b);
        sql_append(&b->where, "last_seen > 0 AND source_segments_duration > 0");
    }
}

static const char *comparison_sql(store_op_t op)
{
    switch (op) {
    case STORE_OP_EQ:
        return " = ";
    case STORE_OP_GT:
        return " > ";
    case STORE_OP_GTE:
        return " >= ";
    case STORE_OP_LT:
        return " < ";
    case STORE_OP_LTE:
        return " <= ";
    default:
        return NULL;
    }
}

/* A filter's value must be there and of a known kind. */
static bool filter_value_valid(const store_filter_t *f)
{
    if (f->kind == STORE_VALUE_STRING)
        return f->string_value != NULL;
    return f->kind == STORE_VALUE_NUMBER || f->kind == STORE_VALUE_BOOL;
}

static void emit_filter_value(builder_t *b, const store_filter_t *f)
{
    if (f->kind == STORE_VALUE_STRING)
        emit_text(b, &b->where, f->string_value);
    else if (f->kind == STORE_VALUE_NUMBER)
        emit_number(b, &b->where, f->number_value);
    else
        emit_bool(b, &b->where, f->bool_value);
}

/* CONTAINS finds the value's position, not LIKE, so '%' and '_' in it are literal characters.
 * lower() folds ASCII only in SQLite (no ICU), which covers the fields it serves: names, ids,
 * emails. */
static int plan_filter(builder_t *b, const store_filter_t *f)
{
    const field_def_t *field = field_find(b->res, f->field);
    if (!field || !filter_value_valid(f))
        return STORE_INVALID;
    where_and(b);
    if (f->op == STORE_OP_CONTAINS) {
        if (f->kind != STORE_VALUE_STRING)
            return STORE_INVALID;
        sql_append(&b->where, b->dialect->find_fn, "(lower(");
        emit_field(b, &b->where, field);
        sql_append(&b->where, "), lower(");
        emit_filter_value(b, f);
        sql_append(&b->where, ")) > 0");
        return STORE_OK;
    }
    const char *comparison = comparison_sql(f->op);
    if (!comparison)
        return STORE_INVALID;
    emit_field(b, &b->where, field);
    sql_append(&b->where, comparison);
    emit_filter_value(b, f);
    return STORE_OK;
}

static int plan_order_term(builder_t *b, bool first, const char *name, bool descending)
{
    const field_def_t *field = field_find(b->res, name);
    if (!field)
        return STORE_INVALID;
    sql_append(&b->order, first ? " ORDER BY " : ", ");
    emit_field(b, &b->order, field);
    sql_append(&b->order, descending ? b->dialect->desc_sql : b->dialect->asc_sql);
    return STORE_OK;
}

/* The id tiebreaker makes the order total, so offset pages neither repeat nor skip rows. */
static int plan_order(builder_t *b, const store_query_t *q)
{
    static const store_order_t default_order[] = {{"lastSeen", true}, {"createdAt", true}};
    const store_order_t *order = q->order_count ? q->order : default_order;
    size_t count = q->order_count ? q->order_count : 2;
    for (size_t i = 0; i < count; i++) {
        int rc = plan_order_term(b, i == 0, order[i].field, order[i].descending);
        if (rc != STORE_OK)
            return rc;
    }
    return plan_order_term(b, false, "id", false);
}

static int query_check(const store_query_t *q)
{
    if (!q || q->limit <= 0 || q->offset < 0 || q->record > 1)
        return STORE_INVALID;
    if ((q->filter_count > 0 && !q->filters) || q->filter_count > STORE_QUERY_MAX_TERMS)
        return STORE_INVALID;
    if ((q->order_count > 0 && !q->order) || q->order_count > STORE_QUERY_MAX_TERMS)
        return STORE_INVALID;
    return STORE_OK;
}

/* The WHERE and ORDER BY of q into b. */
static int plan_terms(builder_t *b, const store_query_t *q)
{
    plan_scope(b, q);
    for (size_t i = 0; i < q->filter_count; i++) {
        int rc = plan_filter(b, &q->filters[i]);
        if (rc != STORE_OK)
            return rc;
    }
    return plan_order(b, q);
}

/* Joins the pieces into the two statements; limit and offset are the last placeholders. */
static int plan_statements(builder_t *b, const char *columns, const store_query_t *q)
{
    store_query_plan_t *plan = b->plan;
    const char *table = b->res->table;
    sql_buf_t count = {0};
    sql_append(&count, "SELECT COUNT(*) FROM ", table, sql_text(&b->where));
    plan->count_bind_count = plan->bind_count;
    sql_buf_t select = {0};
    sql_append(&select, "SELECT ", columns, " FROM ", table, sql_text(&b->where),
               sql_text(&b->order), " LIMIT ");
    emit_int(b, &select, q->limit);
    sql_append(&select, " OFFSET ");
    emit_int(b, &select, q->offset);
    plan->count_sql = count.text;
    plan->select_sql = select.text;
    if (b->too_many_binds)
        return STORE_INVALID;
    if (b->where.failed || b->order.failed || count.failed || select.failed)
        return store_out_of_memory(b->res->what);
    return STORE_OK;
}

int store_query_plan(store_query_plan_t *plan, store_query_dialect_t dialect,
                     store_query_list_t list, const char *columns, const store_query_t *q)
{
    if (!plan)
        return STORE_INVALID;
    *plan = (store_query_plan_t){0};
    if ((int)dialect < 0 || (size_t)dialect >= sizeof dialects / sizeof dialects[0])
        return STORE_INVALID;
    if ((int)list < 0 || (size_t)list >= sizeof resources / sizeof resources[0] || !columns)
        return STORE_INVALID;
    int rc = query_check(q);
    if (rc != STORE_OK)
        return rc;
    builder_t b = {.dialect = &dialects[dialect], .res = &resources[list], .plan = plan};
    plan->what = b.res->what;
    rc = plan_terms(&b, q);
    if (rc == STORE_OK && b.too_many_binds)
        rc = STORE_INVALID;
    if (rc == STORE_OK)
        rc = plan_statements(&b, columns, q);
    free(b.where.text);
    free(b.order.text);
    if (rc != STORE_OK)
        store_query_plan_free(plan);
    return rc;
}

void store_query_plan_free(store_query_plan_t *plan)
{
    if (!plan)
        return;
    free(plan->select_sql);
    free(plan->count_sql);
    *plan = (store_query_plan_t){0};
}
