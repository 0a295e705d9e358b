/* The route table: path patterns to handlers, 404/405 for the rest, CORS preflight. Planes add
 * their routes at start (before the server runs); dispatch then only reads the table, from any
 * HTTP worker thread. */
#ifndef STREAMD_HTTP_ROUTER_H
#define STREAMD_HTTP_ROUTER_H

#include "http/request.h"

typedef struct http_router http_router_t;

/* Handles req: req->context and req->route_data are the route's; on return req holds the reply. */
typedef void (*http_handler_fn)(http_request_t *req);

http_router_t *http_router_new(void);

/* NULL is a no-op. */
void http_router_free(http_router_t *router);

/* Adds a route. pattern is "/"-separated segments, where ":x" matches any one non-empty segment
 * and a final "*" the rest of the path (one segment or more); method, pattern and route_data
 * must outlive the router. The first route added that matches wins, so add literal segments
 * before parameters where two patterns overlap. Returns 0, or -1 when out of memory. */
int http_router_add(http_router_t *router, const char *method, const char *pattern,
                    http_handler_fn handler, const void *context, const void *route_data);

/* Runs the handler for req->method and req->path; on return req holds the reply. */
void http_router_dispatch(const http_router_t *router, http_request_t *req);

#endif
