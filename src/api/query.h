/* List query parameters of the Studio API: filters, order, limit and cursor, parsed into the
 * store's query types. Pure functions of their input; any thread may call them. */
#ifndef STREAMD_API_QUERY_H
#define STREAMD_API_QUERY_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define QUERY_DEFAULT_LIMIT 20
#define QUERY_MAX_LIMIT 1000

typedef enum {
    QUERY_FIELD_STRING,   /* exact match */
    QUERY_FIELD_FULLTEXT, /* case-insensitive substring */
    QUERY_FIELD_BOOL,     /* value must be a JSON boolean */
    QUERY_FIELD_NUMBER,   /* a JSON number (equality) or {"gt"|"gte"|"lt"|"lte": n} */
} query_field_kind_t;

typedef struct query_field {
    const char *name; /* API field name, e.g. "sourceSegments" */
    query_field_kind_t kind;
} query_field_t;

/* The filterable (and orderable) fields of streams and of sessions, as API.md lists them. */
extern const query_field_t query_stream_fields[];
extern const size_t query_stream_field_count;
extern const query_field_t query_session_fields[];
extern const size_t query_session_field_count;

/* Parsed filters. Owns items and the string values they point at (owned_strings); each
 * filter's field points into the static field table. */
typedef struct query_filters {
    store_filter_t *items;
    size_t count;
    char **owned_strings;
    size_t owned_count;
} query_filters_t;

/* Parsed order. Owns items; each field points into the static field table. */
typedef struct query_order {
    store_order_t *items;
    size_t count;
} query_order_t;

/* Parses the `filters` parameter (URL-decoded JSON array of {"id": field, "value": v}); NULL or
 * "" gives no filters. Returns 0, or -1 with a message in err, which for an unknown field is
 * exactly `error parsing filters: Error: unknown field: "x"`. The caller calls
 * query_filters_clear on success. */
int query_parse_filters(const char *text, const query_field_t *fields, size_t field_count,
                        query_filters_t *out, char *err, size_t err_size);
void query_filters_clear(query_filters_t *filters);

/* Parses `order` ("field-true,createdAt-false": true = descending; a bare field = descending).
 * NULL or "" gives the empty order (the store's default). Returns 0, or -1 with a message. */
int query_parse_order(const char *text, const query_field_t *fields, size_t field_count,
                      query_order_t *out, char *err, size_t err_size);
void query_order_clear(query_order_t *order);

/* `limit`: NULL, non-numeric or < 1 gives 20; larger than 1000 gives 1000. */
int64_t query_parse_limit(const char *text);

/* `cursor` ("skip<N>"): returns the offset N, or 0 for NULL, "" or anything malformed. */
int64_t query_parse_cursor(const char *text);

/* True when a query flag is set the way Studio reads it: present and not "false" / "0". */
bool query_flag_set(const char *text);

#endif
