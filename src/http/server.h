/* The HTTP server: libmicrohttpd with its internal thread pool, request bodies read in full (up
 * to HTTP_MAX_BODY_BYTES), each request handed to the router, replies with the common headers
 * (JSON content type, Vary, CORS). */
#ifndef STREAMD_HTTP_SERVER_H
#define STREAMD_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "http/router.h"

typedef struct http_server http_server_t;

/* Starts listening on host:port (port 0 = any free port) with threads workers (0 = one per
 * core). router must outlive the server and not change while it runs. Returns NULL with a
 * message in err on failure. */
http_server_t *http_server_start(const char *host, uint16_t port, int threads,
                                 const http_router_t *router, char *err, size_t err_size);

/* The port actually bound (useful when the configured port was 0). */
unsigned http_server_port(const http_server_t *server);

/* Stops accepting, finishes in-flight requests, frees; NULL is a no-op. */
void http_server_stop(http_server_t *server);

#endif
