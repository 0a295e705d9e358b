/* libFuzzer harness for api/query: arbitrary bytes as the filters and order parameters of both
 * resources, and as limit and cursor. Checks the invariants the store relies on. */
/* fuzz-sources: src/api/query.c */
#include "api/query.h"

#include <stdlib.h>
#include <string.h>

static void check_filters(const char *text, const query_field_t *fields, size_t field_count)
{
    query_filters_t filters;
    char err[256];
    if (query_parse_filters(text, fields, field_count, &filters, err, sizeof(err)) != 0) {
        if (filters.count != 0 || filters.items || strncmp(err, "error parsing filters: ", 23))
            abort();
        return;
    }
    for (size_t i = 0; i < filters.count; i++) {
        const store_filter_t *filter = &filters.items[i];
        bool known = false;
        for (size_t f = 0; f < field_count; f++)
            known |= filter->field == fields[f].name;
        if (!known || (filter->kind == STORE_VALUE_STRING && !filter->string_value))
            abort();
    }
    query_filters_clear(&filters);
}

static void check_order(const char *text, const query_field_t *fields, size_t field_count)
{
    query_order_t order;
    char err[256];
    if (query_parse_order(text, fields, field_count, &order, err, sizeof(err)) != 0) {
        if (order.count != 0 || order.items)
            abort();
        return;
    }
    for (size_t i = 0; i < order.count; i++) {
        if (!order.items[i].field)
            abort();
    }
    query_order_clear(&order);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    check_filters(text, query_stream_fields, query_stream_field_count);
    check_filters(text, query_session_fields, query_session_field_count);
    check_order(text, query_stream_fields, query_stream_field_count);
    check_order(text, query_session_fields, query_session_field_count);
    int64_t limit = query_parse_limit(text);
    if (limit < 1 || limit > QUERY_MAX_LIMIT)
        abort();
    if (query_parse_cursor(text) < 0)
        abort();
    (void)query_flag_set(text);
    free(text);
    return 0;
}
