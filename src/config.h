/* Command line and environment -> configuration. Pure parsing: no I/O besides reading the given
 * argv and envp, so it is unit-tested directly. */
#ifndef STREAMD_CONFIG_H
#define STREAMD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/log.h"

typedef enum {
    CONFIG_COMMAND_SERVE,     /* run the server (default) */
    CONFIG_COMMAND_USERS_ADD, /* `streamd users add NAME`: create a user, print its key */
    CONFIG_COMMAND_MIGRATE,   /* `streamd migrate`: bring the database schema up to date, exit */
    CONFIG_COMMAND_HELP,
    CONFIG_COMMAND_VERSION,
} config_command_t;

typedef struct config_listen {
    char host[256]; /* numeric address or name to bind; "0.0.0.0" = every IPv4 address */
    uint16_t port;
} config_listen_t;

typedef struct config {
    config_command_t command;
    char data_dir[PATH_MAX];       /* --data, STREAMD_DATA; default ./data */
    config_listen_t http;          /* --http, STREAMD_HTTP; default 0.0.0.0:8935 */
    config_listen_t rtmp;          /* --rtmp, STREAMD_RTMP; default 0.0.0.0:1935 */
    char public_url[512];          /* --public-url, STREAMD_PUBLIC_URL; no trailing slash; default
                                      http://HOST:PORT of --http (localhost for 0.0.0.0) */
    char rtmp_public_url[512];     /* --rtmp-public-url; default rtmp://HOST:RTMP_PORT/live */
    char node_url[512];            /* --node-url: where other nodes and a proxy reach this node's
                                      HTTP (redirects to it); default the public URL */
    char db_url[PATH_MAX + 32];    /* --db, STREAMD_DB; default DATA/streamd.db */
    char api_key[256];             /* --api-key, STREAMD_API_KEY; "" = generate on first start */
    log_level_t log_level;         /* --log-level, STREAMD_LOG_LEVEL; default info */
    int http_threads;              /* --http-threads, STREAMD_HTTP_THREADS; 0 = one per core */
    int rtmp_threads;              /* --rtmp-threads: RTMP event loops; 0 = one per core (max 16) */
    double segment_seconds;        /* --segment-seconds: target segment duration, media seconds */
    int reconnect_window_s;        /* --reconnect-window: seconds a session waits for a reconnect */
    int hls_window_segments;       /* --hls-window: segments listed in a live playlist */
    char x264_preset[16];          /* --x264-preset: libx264 speed/quality preset */
    int64_t recordings_max_age_s;  /* --recordings-max-age: seconds; 0 = keep recordings forever */
    char recordings_dir[PATH_MAX]; /* --recordings-dir: where recordings live; default DATA/rec */
    char node_id[64];              /* --node-id, STREAMD_NODE_ID: [A-Za-z0-9._-]; "" = the host
                                      name (filled in by the server) */
    int node_timeout_s;            /* --node-timeout: seconds without a heartbeat before other
                                      nodes take over a node's sessions */
    int max_connections;           /* --max-connections: RTMP and HTTP connections open at once,
                                      in all; 0 = no limit */
    int max_connections_per_ip;    /* --max-connections-per-ip: of those, from one address */
    bool webhooks_allow_private;   /* --webhooks-allow-private: deliver to private addresses */
    int64_t webhook_log_max_age_s; /* --webhook-log-max-age: seconds; 0 = keep logs forever */
    bool public_url_derived;       /* no --public-url: made from --http (its port may be 0) */
    bool rtmp_public_url_derived;  /* no --rtmp-public-url: made from the public URL and --rtmp */
    char user_name[256];           /* the NAME of `users add` */
} config_t;

/* Fills *cfg from defaults, then envp (NULL-terminated "KEY=VALUE" strings; may be NULL), then
 * argv (flags as `--name value` or `--name=value`). Returns 0, or -1 with a message in err. */
int config_parse(config_t *cfg, int argc, char *const argv[], char *const envp[], char *err,
                 size_t err_size);

/* Writes the --help text into out. */
void config_usage(char *out, size_t out_size);

#endif
