/* List query parameters (filters, order, limit, cursor, flags) parsed the way Studio's
 * controllers/helpers.ts parses them, into the store's query types. Input is hostile: every count
 * and length is bounded before anything is allocated for it. */
#include "api/query.h"

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_MAX_FILTERS 32               /* filter items in one request */
#define QUERY_MAX_VALUE_BYTES 1024         /* a string filter value */
#define QUERY_MAX_FILTERS_TEXT (64 * 1024) /* the filters parameter as a whole */
#define QUERY_MAX_ORDER 16                 /* fields in one order parameter */
#define QUERY_MAX_CURSOR 1000000000000LL   /* 1e12: far past any real table, far from overflow */
#define NUMBER_OPS 4                       /* gt, gte, lt, lte: filters one item can expand to */

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

const query_field_t query_stream_fields[] = {
    {"id", QUERY_FIELD_STRING},
    {"name", QUERY_FIELD_FULLTEXT},
    {"sourceSegments", QUERY_FIELD_NUMBER},
    {"lastSeen", QUERY_FIELD_NUMBER},
    {"createdAt", QUERY_FIELD_NUMBER},
    {"userId", QUERY_FIELD_STRING},
    {"creatorId", QUERY_FIELD_STRING},
    {"pull.source", QUERY_FIELD_STRING},
    {"isActive", QUERY_FIELD_BOOL},
    {"user.email", QUERY_FIELD_FULLTEXT},
    {"parentId", QUERY_FIELD_STRING},
    {"playbackId", QUERY_FIELD_STRING},
    {"projectId", QUERY_FIELD_STRING},
    {"record", QUERY_FIELD_BOOL},
    {"suspended", QUERY_FIELD_BOOL},
    {"sourceSegmentsDuration", QUERY_FIELD_NUMBER},
    {"transcodedSegments", QUERY_FIELD_NUMBER},
    {"transcodedSegmentsDuration", QUERY_FIELD_NUMBER},
    {"isHealthy", QUERY_FIELD_BOOL},
};
const size_t query_stream_field_count = COUNT(query_stream_fields);

const query_field_t query_session_fields[] = {
    {"id", QUERY_FIELD_STRING},
    {"name", QUERY_FIELD_FULLTEXT},
    {"lastSeen", QUERY_FIELD_NUMBER},
    {"createdAt", QUERY_FIELD_NUMBER},
    {"userId", QUERY_FIELD_STRING},
    {"user.email", QUERY_FIELD_FULLTEXT},
    {"parentId", QUERY_FIELD_STRING},
    {"projectId", QUERY_FIELD_STRING},
    {"record", QUERY_FIELD_BOOL},
    {"sourceSegments", QUERY_FIELD_NUMBER},
    {"transcodedSegments", QUERY_FIELD_NUMBER},
    {"sourceSegmentsDuration", QUERY_FIELD_NUMBER},
    {"transcodedSegmentsDuration", QUERY_FIELD_NUMBER},
    {"sourceBytes", QUERY_FIELD_NUMBER},
    {"transcodedBytes", QUERY_FIELD_NUMBER},
    {"ingestRate", QUERY_FIELD_NUMBER},
    {"outgoingRate", QUERY_FIELD_NUMBER},
    {"recordingStatus", QUERY_FIELD_STRING},
};
const size_t query_session_field_count = COUNT(query_session_fields);

/* Fields that filter but do not sort: they live in joined or JSON columns. */
static const char *const unorderable_fields[] = {"user.email", "pull.source", "creatorId"};

static void set_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t err_size, const char *fmt, ...)
{
    if (!err || err_size == 0)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(err, err_size, fmt, args);
    va_end(args);
}

static const query_field_t *find_field(const query_field_t *fields, size_t field_count,
                                       const char *name, size_t name_len)
{
    for (size_t i = 0; i < field_count; i++) {
        if (strlen(fields[i].name) == name_len && memcmp(fields[i].name, name, name_len) == 0)
            return &fields[i];
    }
    return NULL;
}

/* ---- filters ---- */

static store_filter_t *add_filter(query_filters_t *out, const query_field_t *field, store_op_t op,
                                  store_value_kind_t kind)
{
    store_filter_t *filter = &out->items[out->count++];
    *filter = (store_filter_t){.field = field->name, .op = op, .kind = kind};
    return filter;
}

static int parse_bool_filter(const query_field_t *field, const json_t *value, query_filters_t *out,
                             char *err, size_t err_size)
{
    if (!json_is_boolean(value)) {
        set_error(err, err_size, "error parsing filters: Error: field \"%s\" needs a boolean value",
                  field->name);
        return -1;
    }
    add_filter(out, field, STORE_OP_EQ, STORE_VALUE_BOOL)->bool_value = json_is_true(value);
    return 0;
}

static const struct {
    const char *key;
    store_op_t op;
} number_ops[NUMBER_OPS] = {
    {"gt", STORE_OP_GT},
    {"gte", STORE_OP_GTE},
    {"lt", STORE_OP_LT},
    {"lte", STORE_OP_LTE},
};

static bool number_op(const char *key, store_op_t *op)
{
    for (size_t i = 0; i < NUMBER_OPS; i++) {
        if (strcmp(number_ops[i].key, key) == 0) {
            *op = number_ops[i].op;
            return true;
        }
    }
    return false;
}

/* A number is an equality; {"gt"|"gte"|"lt"|"lte": n, ...} is one range filter per key. */
static int parse_number_filter(const query_field_t *field, const json_t *value,
                               query_filters_t *out, char *err, size_t err_size)
{
    if (json_is_number(value)) {
        add_filter(out, field, STORE_OP_EQ, STORE_VALUE_NUMBER)->number_value =
            json_number_value(value);
        return 0;
    }
    if (!json_is_object(value) || json_object_size(value) == 0 ||
        json_object_size(value) > NUMBER_OPS)
        goto invalid;
    const char *key;
    const json_t *bound;
    json_object_foreach((json_t *)value, key, bound)
    {
        store_op_t op;
        if (!number_op(key, &op) || !json_is_number(bound))
            goto invalid;
        add_filter(out, field, op, STORE_VALUE_NUMBER)->number_value = json_number_value(bound);
    }
    return 0;
invalid:
    set_error(err, err_size,
              "error parsing filters: Error: field \"%s\" needs a number or an object of "
              "gt, gte, lt, lte numbers",
              field->name);
    return -1;
}

/* Writes a JSON number as text the way JavaScript's String() would for common values: integers
 * without a fraction, reals in their shortest round-tripping form. */
static void number_text(const json_t *value, char *buf, size_t size)
{
    if (json_is_integer(value)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        return;
    }
    double d = json_real_value(value);
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(buf, size, "%.*g", precision, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static int parse_string_filter(const query_field_t *field, const json_t *value,
                               query_filters_t *out, char *err, size_t err_size)
{
    char number[40];
    const char *text;
    size_t len;
    if (json_is_string(value)) {
        text = json_string_value(value);
        len = json_string_length(value);
    } else if (json_is_number(value)) {
        number_text(value, number, sizeof(number));
        text = number;
        len = strlen(number);
    } else {
        set_error(err, err_size, "error parsing filters: Error: field \"%s\" needs a string value",
                  field->name);
        return -1;
    }
    /* An embedded NUL would silently shorten the value the store compares against. */
    if (len > QUERY_MAX_VALUE_BYTES || memchr(text, '\0', len)) {
        set_error(err, err_size,
                  "error parsing filters: Error: value of field \"%s\" is longer than %d bytes "
                  "or holds a NUL",
                  field->name, QUERY_MAX_VALUE_BYTES);
        return -1;
    }
    char *copy = strndup(text, len);
    if (!copy) {
        set_error(err, err_size, "error parsing filters: out of memory");
        return -1;
    }
    out->owned_strings[out->owned_count++] = copy;
    store_op_t op = field->kind == QUERY_FIELD_FULLTEXT ? STORE_OP_CONTAINS : STORE_OP_EQ;
    add_filter(out, field, op, STORE_VALUE_STRING)->string_value = copy;
    return 0;
}

static int parse_filter_item(const json_t *item, const query_field_t *fields, size_t field_count,
                             query_filters_t *out, char *err, size_t err_size)
{
    if (!json_is_object(item)) {
        set_error(err, err_size, "error parsing filters: Error: each filter must be an object");
        return -1;
    }
    const json_t *id = json_object_get(item, "id");
    if (!json_is_string(id)) {
        set_error(err, err_size, "error parsing filters: Error: filter id must be a string");
        return -1;
    }
    const query_field_t *field =
        find_field(fields, field_count, json_string_value(id), json_string_length(id));
    if (!field) {
        /* Studio's exact wording; %.*s bounds how much of a hostile id is echoed. */
        set_error(err, err_size, "error parsing filters: Error: unknown field: \"%.*s\"", 200,
                  json_string_value(id));
        return -1;
    }
    const json_t *value = json_object_get(item, "value");
    if (!value) {
        set_error(err, err_size, "error parsing filters: Error: filter \"%s\" has no value",
                  field->name);
        return -1;
    }
    switch (field->kind) {
    case QUERY_FIELD_BOOL:
        return parse_bool_filter(field, value, out, err, err_size);
    case QUERY_FIELD_NUMBER:
        return parse_number_filter(field, value, out, err, err_size);
    case QUERY_FIELD_STRING:
    case QUERY_FIELD_FULLTEXT:
        return parse_string_filter(field, value, out, err, err_size);
    }
    set_error(err, err_size, "error parsing filters: Error: field \"%s\" cannot be filtered",
              field->name);
    return -1;
}

/* Parses and bounds the JSON array; NULL (with err set) when it is not one. */
static json_t *load_filter_array(const char *text, char *err, size_t err_size)
{
    size_t len = strnlen(text, QUERY_MAX_FILTERS_TEXT + 1);
    if (len > QUERY_MAX_FILTERS_TEXT) {
        set_error(err, err_size, "error parsing filters: filters longer than %d bytes",
                  QUERY_MAX_FILTERS_TEXT);
        return NULL;
    }
    json_error_t json_error;
    json_t *array = json_loadb(text, len, JSON_DECODE_ANY, &json_error);
    if (!array) {
        set_error(err, err_size, "error parsing filters: SyntaxError: %s", json_error.text);
        return NULL;
    }
    if (!json_is_array(array)) {
        set_error(err, err_size, "error parsing filters: Error: filters must be a JSON array");
        json_decref(array);
        return NULL;
    }
    if (json_array_size(array) > QUERY_MAX_FILTERS) {
        set_error(err, err_size, "error parsing filters: Error: more than %d filters",
                  QUERY_MAX_FILTERS);
        json_decref(array);
        return NULL;
    }
    return array;
}

int query_parse_filters(const char *text, const query_field_t *fields, size_t field_count,
                        query_filters_t *out, char *err, size_t err_size)
{
    *out = (query_filters_t){0};
    if (!text || !*text)
        return 0;
    json_t *array = load_filter_array(text, err, err_size);
    if (!array)
        return -1;
    size_t n = json_array_size(array);
    if (n == 0) {
        json_decref(array);
        return 0;
    }
    /* Worst case: every item is a range with all four operators, every item owns a string. */
    out->items = calloc(n * NUMBER_OPS, sizeof(*out->items));
    out->owned_strings = calloc(n, sizeof(*out->owned_strings));
    if (!out->items || !out->owned_strings) {
        set_error(err, err_size, "error parsing filters: out of memory");
        goto fail;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(array, i, item)
    {
        if (parse_filter_item(item, fields, field_count, out, err, err_size) != 0)
            goto fail;
    }
    json_decref(array);
    return 0;
fail:
    json_decref(array);
    query_filters_clear(out);
    return -1;
}

void query_filters_clear(query_filters_t *filters)
{
    if (!filters)
        return;
    for (size_t i = 0; i < filters->owned_count; i++)
        free(filters->owned_strings[i]);
    free(filters->owned_strings);
    free(filters->items);
    *filters = (query_filters_t){0};
}

/* ---- order ---- */

static bool orderable(const query_field_t *field)
{
    for (size_t i = 0; i < COUNT(unorderable_fields); i++) {
        if (strcmp(unorderable_fields[i], field->name) == 0)
            return false;
    }
    return true;
}

/* Parses one "field", "field-true" or "field-false" of length len into *order. */
static int parse_order_item(const char *item, size_t len, const query_field_t *fields,
                            size_t field_count, store_order_t *order, char *err, size_t err_size)
{
    const char *dash = memchr(item, '-', len);
    size_t name_len = dash ? (size_t)(dash - item) : len;
    bool descending = true;
    if (dash) {
        const char *suffix = dash + 1;
        size_t suffix_len = len - name_len - 1;
        if (suffix_len == 4 && memcmp(suffix, "true", 4) == 0) {
            descending = true;
        } else if (suffix_len == 5 && memcmp(suffix, "false", 5) == 0) {
            descending = false;
        } else {
            set_error(err, err_size, "bad order direction: \"%.*s\" (use -true or -false)",
                      (int)(len > 200 ? 200 : len), item);
            return -1;
        }
    }
    const query_field_t *field = find_field(fields, field_count, item, name_len);
    if (!field || !orderable(field)) {
        set_error(err, err_size, "unknown order field: \"%.*s\"",
                  (int)(name_len > 200 ? 200 : name_len), item);
        return -1;
    }
    *order = (store_order_t){.field = field->name, .descending = descending};
    return 0;
}

int query_parse_order(const char *text, const query_field_t *fields, size_t field_count,
                      query_order_t *out, char *err, size_t err_size)
{
    *out = (query_order_t){0};
    if (!text || !*text)
        return 0;
    size_t items = 1;
    for (const char *c = text; *c; c++)
        items += *c == ',';
    if (items > QUERY_MAX_ORDER) {
        set_error(err, err_size, "too many order fields (at most %d)", QUERY_MAX_ORDER);
        return -1;
    }
    out->items = calloc(items, sizeof(*out->items));
    if (!out->items) {
        set_error(err, err_size, "out of memory");
        return -1;
    }
    const char *item = text;
    for (size_t i = 0; i < items; i++) {
        size_t len = strcspn(item, ",");
        if (parse_order_item(item, len, fields, field_count, &out->items[i], err, err_size) != 0) {
            query_order_clear(out);
            return -1;
        }
        out->count++;
        item += len + 1;
    }
    return 0;
}

void query_order_clear(query_order_t *order)
{
    if (!order)
        return;
    free(order->items);
    *order = (query_order_t){0};
}

/* ---- limit, cursor, flags ---- */

/* Parses an optionally signed decimal that spans all of text. Returns false for anything else;
 * on overflow *value is clamped to LLONG_MIN / LLONG_MAX and true is returned. */
static bool parse_decimal(const char *text, long long *value)
{
    const char *digits = text + (*text == '-' || *text == '+');
    if (*digits < '0' || *digits > '9')
        return false; /* also rejects the leading spaces strtoll would skip */
    char *end;
    *value = strtoll(text, &end, 10);
    return *end == '\0';
}

int64_t query_parse_limit(const char *text)
{
    long long limit;
    if (!text || !parse_decimal(text, &limit) || limit < 1)
        return QUERY_DEFAULT_LIMIT;
    return limit > QUERY_MAX_LIMIT ? QUERY_MAX_LIMIT : limit;
}

int64_t query_parse_cursor(const char *text)
{
    if (!text || strncmp(text, "skip", 4) != 0)
        return 0;
    const char *digits = text + 4;
    /* Digits only: no sign, no space, and short enough that strtoll cannot overflow. */
    size_t len = strspn(digits, "0123456789");
    if (len == 0 || digits[len] != '\0' || len > 13)
        return 0;
    long long offset = strtoll(digits, NULL, 10);
    return offset > QUERY_MAX_CURSOR ? 0 : offset;
}

bool query_flag_set(const char *text)
{
    /* Studio tests `value && value !== "false"`; "" is falsy in JavaScript, so it is unset too. */
    return text && *text && strcmp(text, "false") != 0 && strcmp(text, "0") != 0;
}
