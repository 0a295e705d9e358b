/* The server context: owns the configuration, the store, the live registry (and through it the
 * media pipelines) with its housekeeper, the HTTP API and ingest. Created and freed by main on the
 * main thread. */
#ifndef STREAMD_SERVER_H
#define STREAMD_SERVER_H

#include <stddef.h>

#include "config.h"

typedef struct server server_t;

/* Creates the data directory if needed and opens the store. Returns NULL with a message in
 * err on failure. The config is copied. */
server_t *server_new(const config_t *config, char *err, size_t err_size);

/* On first start, creates the admin user with --api-key or a generated key (written to
 * new_key, else new_key is ""). Then closes what an unclean stop left open (sessions, waiting
 * recordings), starts the live registry, its housekeeper, the HTTP API and ingest. Returns 0, or
 * -1 with a message. */
int server_start(server_t *server, char *new_key, size_t new_key_size, char *err, size_t err_size);

/* The HTTP port actually bound (after server_start). */
unsigned server_http_port(const server_t *server);

/* The RTMP port actually bound (after server_start). */
unsigned server_rtmp_port(const server_t *server);

/* The store's database in words, for logs (no password). */
void server_describe_store(const server_t *server, char *out, size_t size);

/* The schema version the store is at (after server_new applied the history), or -1. */
int server_schema_version(const server_t *server);

/* Creates a (non-admin) user named name with a first API key, written to key_out. */
int server_add_user(server_t *server, const char *name, char *key_out, size_t key_out_size,
                    char *err, size_t err_size);

/* Stops every plane and frees the server; NULL is a no-op. */
void server_free(server_t *server);

#endif
