/* The list parameters shared by every list endpoint: filters, order, limit, cursor, count. */
#ifndef STREAMD_API_LISTING_H
#define STREAMD_API_LISTING_H

#include "api/api.h"
#include "api/query.h"

typedef struct api_list {
    query_filters_t filters;
    query_order_t order;
    bool want_total; /* `count` asked for X-Total-Count */
} api_list_t;

/* Parses the request's list parameters against the resource's fields into q (which then points
 * into list). Replies 400 and returns -1 on a bad parameter; on success the caller calls
 * api_list_end once q is no longer used. */
int api_list_begin(api_request_t *req, const query_field_t *fields, size_t field_count,
                   store_query_t *q, api_list_t *list);
void api_list_end(api_list_t *list);

#endif
