/* Routes a complete request to its handler: path matching, authentication of protected routes,
 * 404/405 for the rest. Called on an HTTP worker thread. */
#ifndef STREAMD_API_ROUTER_H
#define STREAMD_API_ROUTER_H

#include "api/api.h"

/* Runs the handler for req->method and req->path; on return req holds the reply. */
void router_dispatch(api_request_t *req);

#endif
