/* The HTTP server: libmicrohttpd with its internal thread pool, request bodies read in full (up
 * to API_MAX_BODY_BYTES), each request handed to the router, replies with the common headers
 * (JSON content type, Vary, CORS). */
#ifndef STREAMD_API_HTTP_H
#define STREAMD_API_HTTP_H

#include <stddef.h>

#include "api/api.h"

typedef struct api_http api_http_t;

/* Starts listening on deps->config->http with threads workers (0 = one per core). deps must
 * outlive the server. Returns NULL with a message in err on failure. */
api_http_t *api_http_start(const api_deps_t *deps, int threads, char *err, size_t err_size);

/* The port actually bound (useful when the configured port was 0). */
unsigned api_http_port(const api_http_t *http);

/* Stops accepting, finishes in-flight requests, frees; NULL is a no-op. */
void api_http_stop(api_http_t *http);

#endif
