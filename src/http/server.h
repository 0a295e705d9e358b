/* The HTTP server: libmicrohttpd with its internal thread pool, request bodies read in full (up
 * to HTTP_MAX_BODY_BYTES), each request handed to the router, replies with the common headers
 * (JSON content type, Vary, CORS). Each connection is admitted by its address (peer_guard), and
 * one whose request header is not complete in time is closed: HTTP_HEADER_TIMEOUT_MS after it
 * opened, HTTP_KEEPALIVE_TIMEOUT_MS after its previous request; HTTP_IDLE_TIMEOUT_S without a byte
 * either way closes it too. */
#ifndef STREAMD_HTTP_SERVER_H
#define STREAMD_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "http/router.h"
#include "util/peer_guard.h"

#define HTTP_HEADER_TIMEOUT_MS 10000
#define HTTP_KEEPALIVE_TIMEOUT_MS 30000
#define HTTP_IDLE_TIMEOUT_S 30

typedef struct http_server http_server_t;

/* Starts listening on host:port (port 0 = any free port) with threads workers (0 = one per
 * core). router must outlive the server and not change while it runs; so must guard, which
 * admits the connections (NULL = no limits). Returns NULL with a message in err on failure. */
http_server_t *http_server_start(const char *host, uint16_t port, int threads,
                                 const http_router_t *router, peer_guard_t *guard, char *err,
                                 size_t err_size);

/* The port actually bound (useful when the configured port was 0). */
unsigned http_server_port(const http_server_t *server);

/* Stops accepting, finishes in-flight requests, frees; NULL is a no-op. */
void http_server_stop(http_server_t *server);

#endif
