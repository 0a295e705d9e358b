/* The server context and its start-up and shutdown order: store first, then crash recovery, the
 * live registry and its housekeeper, then the API and ingest; shut down in reverse so no request
 * finds the store gone. */
#include "server.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/api.h"
#include "api/auth.h"
#include "api/auth_cache.h"
#include "cluster.h"
#include "hooks/hooks.h"
#include "housekeeper.h"
#include "http/router.h"
#include "http/server.h"
#include "ingest/ingest.h"
#include "media/live.h"
#include "media/recordings.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/peer_guard.h"
#include "web/files.h"

struct server {
    config_t config;
    store_t *store;
    live_config_t live_config; /* read by the registry at every use: lives as long as it */
    live_t *live;
    cluster_t *cluster;
    housekeeper_t *housekeeper;
    hooks_t *hooks; /* webhook delivery */
    ingest_t *ingest;
    auth_cache_t *auth_cache;       /* cleared by the store's watcher; freed after the store */
    playback_gate_t *playback_gate; /* read by the web routes; freed after HTTP stops */
    api_deps_t api_deps;
    web_deps_t web_deps;
    http_router_t *router;    /* filled before the HTTP server starts, read-only after */
    peer_guard_t *peer_guard; /* shared by HTTP and ingest; freed after both stop */
    http_server_t *http;
};

static char *render_webhook_body(void *opaque, const store_webhook_delivery_t *delivery,
                                 int64_t timestamp_ms)
{
    const server_t *server = opaque;
    return api_webhook_body(&server->api_deps, delivery, timestamp_ms);
}

static int resend_hook(void *deliveries, const char *webhook_id, const char *log_id,
                       void (*done)(void *context, const char *log_id), void *context)
{
    return hooks_resend(deliveries, webhook_id, log_id, done, context);
}

static int post_access_check(void *opaque, const char *url, const char *secret, char *body,
                             playback_access_done_t done, void *context)
{
    const server_t *server = opaque;
    if (!server->hooks) {
        free(body);
        return -1;
    }
    return hooks_access_check(server->hooks, url, secret, body, done, context);
}

static void stop_stream_hook(void *opaque, const char *stream_id)
{
    live_stop_stream(opaque, stream_id);
}

/* The host name as a node id: the characters --node-id allows, at most 63 of them. */
static void default_node_id(char *out, size_t size)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "streamd");
    size_t len = 0;
    for (const char *p = host; *p && len + 1 < size; p++)
        out[len++] = isalnum((unsigned char)*p) || strchr("._-", *p) ? *p : '-';
    out[len] = '\0';
}

server_t *server_new(const config_t *config, char *err, size_t err_size)
{
    server_t *server = calloc(1, sizeof *server);
    if (!server) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    server->config = *config;
    if (!server->config.node_id[0])
        default_node_id(server->config.node_id, sizeof server->config.node_id);
    if (fs_mkdir_p(server->config.data_dir, err, err_size) != 0)
        goto fail;
    server->store = store_open(server->config.db_url, err, err_size);
    if (!server->store)
        goto fail;
    server->auth_cache = auth_cache_new();
    if (!server->auth_cache) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    server->api_deps.auth_cache = server->auth_cache;
    server->playback_gate = playback_gate_new(server->store, post_access_check, server);
    if (!server->playback_gate) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    server->web_deps.gate = server->playback_gate;
    server->api_deps.store = server->store;
    server->api_deps.public_url = server->config.public_url;
    server->api_deps.rtmp_public_url = server->config.rtmp_public_url;
    server->api_deps.node_id = server->config.node_id;
    server->api_deps.node_timeout_s = server->config.node_timeout_s;
    server->web_deps.data_dir = server->config.data_dir;
    server->web_deps.recordings_dir = server->config.recordings_dir;
    return server;
fail:
    server_free(server);
    return NULL;
}

static void clear_auth_cache(void *opaque)
{
    auth_cache_clear(opaque);
}

static int create_user(server_t *server, const char *name, bool admin, store_user_t *user,
                       char *err, size_t err_size)
{
    memset(user, 0, sizeof *user);
    user->name = strdup(name);
    user->admin = admin;
    if (!user->name || store_user_create(server->store, user) != STORE_OK) {
        snprintf(err, err_size, "cannot create user %s (see the store's log line)", name);
        store_user_clear(user);
        return -1;
    }
    return 0;
}

/* First start: the admin user and its key. Later starts: warn when --api-key is unknown. */
static int bootstrap_admin(server_t *server, char *new_key, size_t new_key_size, char *err,
                           size_t err_size)
{
    new_key[0] = '\0';
    int64_t users = 0;
    if (store_user_count(server->store, &users) != STORE_OK) {
        snprintf(err, err_size, "cannot read users from the store");
        return -1;
    }
    const char *given_key = server->config.api_key;
    if (users > 0) {
        char hash[IDS_SHA256_HEX_LEN + 1];
        store_api_token_t token = {0};
        ids_sha256_hex(given_key, strlen(given_key), hash);
        if (given_key[0] && store_api_token_find(server->store, hash, &token) != STORE_OK)
            log_warn("server", "--api-key is not a key of this data directory; it applies only "
                               "on first start");
        store_api_token_clear(&token);
        return 0;
    }
    store_user_t admin;
    if (create_user(server, "admin", true, &admin, err, err_size) != 0)
        return -1;
    int rc;
    if (given_key[0]) {
        rc = auth_store_key(server->store, &admin, "admin", given_key, NULL);
    } else {
        char key[AUTH_KEY_SIZE];
        rc = auth_create_key(server->store, &admin, "admin", key, NULL);
        snprintf(new_key, new_key_size, "%s", key);
    }
    log_info("server", "first start: admin user %s created", admin.id);
    store_user_clear(&admin);
    if (rc != STORE_OK) {
        snprintf(err, err_size, "cannot store the admin API key");
        return -1;
    }
    return 0;
}

/* What an unclean stop of this node left: sessions still open, recordings still waiting (also
 * those it owned when it died, which no other node could finalize). Before any broadcast starts,
 * so none of them is one of this run's. */
static void recover_unclean_stop(server_t *server)
{
    const char *node_id = server->config.node_id;
    int64_t closed = 0;
    if (store_close_open_sessions(server->store, node_id, true, &closed) == STORE_OK && closed > 0)
        log_warn("live", "%lld session(s) left open by an unclean stop were closed",
                 (long long)closed);
    int recovered = recordings_recover(server->store, server->config.recordings_dir, node_id, true);
    if (recovered > 0)
        log_info("live", "%d recording(s) waiting from an earlier run were finalized", recovered);
}

/* Where a playback or a recording request belongs (web_locator_t): a broadcast of this node is
 * served here without asking the store; anything else is looked up. */
static int locate(void *opaque, web_area_t area, const char *id, char *url, size_t size)
{
    server_t *server = opaque;
    if (area == WEB_AREA_LIVE)
        return live_has_playback(server->live, id)
                   ? 0
                   : cluster_playback_owner(server->cluster, id, url, size);
    return cluster_session_owner(server->cluster, id, url, size);
}

/* The live registry and its housekeeper, configured from the server's settings. */
static int start_live(server_t *server, char *err, size_t err_size)
{
    const config_t *config = &server->config;
    server->live_config = (live_config_t){
        .pipeline =
            {
                .data_dir = config->data_dir,
                .recordings_dir = config->recordings_dir,
                .node_id = config->node_id,
                .segment_seconds = config->segment_seconds,
                .hls_window_segments = config->hls_window_segments,
                .x264_preset = config->x264_preset,
            },
        .reconnect_window_s = config->reconnect_window_s,
        .node_timeout_s = config->node_timeout_s,
    };
    server->live = live_new(server->store, &server->live_config, err, err_size);
    if (!server->live)
        return -1;
    housekeeper_config_t housekeeping = {
        .recordings_dir = config->recordings_dir,
        .recordings_max_age_s = config->recordings_max_age_s,
    };
    server->housekeeper =
        housekeeper_start(&housekeeping, server->live, server->store, err, err_size);
    return server->housekeeper ? 0 : -1;
}

/* Descriptors the server keeps for itself besides its connections: store, recordings, segment
 * files, transcoders, logs. */
#define RESERVED_DESCRIPTORS 256
#define WRONG_KEYS_BEFORE_SLOWDOWN 10

/* Raises the descriptor limit as far as the system lets a process, and keeps --max-connections
 * inside it: a connection accepted without a descriptor to spare would fail worse. */
static unsigned connection_limit_within_descriptors(int configured)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return (unsigned)configured;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
            getrlimit(RLIMIT_NOFILE, &limit);
    }
    rlim_t room = limit.rlim_cur > RESERVED_DESCRIPTORS * 2 ? limit.rlim_cur - RESERVED_DESCRIPTORS
                                                            : limit.rlim_cur / 2;
    if (room > UINT_MAX)
        room = UINT_MAX;
    if (configured == 0) /* no limit but the descriptors */
        return (unsigned)room;
    if ((rlim_t)configured > room) {
        log_warn("server",
                 "at most %llu connections (--max-connections %d): the process may open %llu "
                 "descriptors (ulimit -n)",
                 (unsigned long long)room, configured, (unsigned long long)limit.rlim_cur);
        return (unsigned)room;
    }
    return (unsigned)configured;
}

static peer_guard_t *start_peer_guard(const config_t *config)
{
    peer_guard_limits_t limits = {
        .max_connections = connection_limit_within_descriptors(config->max_connections),
        .max_connections_per_ip = (unsigned)config->max_connections_per_ip,
        .key_failures_allowed = WRONG_KEYS_BEFORE_SLOWDOWN,
    };
    return peer_guard_new(&limits);
}

int server_start(server_t *server, char *new_key, size_t new_key_size, char *err, size_t err_size)
{
    if (bootstrap_admin(server, new_key, new_key_size, err, err_size) != 0)
        return -1;
    if (store_watch_auth(server->store, clear_auth_cache, server->auth_cache) != STORE_OK) {
        snprintf(err, err_size, "cannot watch the store for key changes");
        return -1;
    }
    /* Only a serving process owns broadcasts (`users add` opens the store too). */
    recover_unclean_stop(server);
    cluster_config_t cluster = {
        .node_id = server->config.node_id,
        .http_url = server->config.node_url,
        .rtmp_url = server->config.rtmp_public_url,
        .node_timeout_s = server->config.node_timeout_s,
        .recordings_dir = server->config.recordings_dir,
    };
    server->cluster = cluster_start(server->store, &cluster, err, err_size);
    if (!server->cluster || start_live(server, err, err_size) != 0)
        return -1;
    hooks_config_t hooks = {
        .node_id = server->config.node_id,
        .allow_private = server->config.webhooks_allow_private,
        .log_max_age_s = server->config.webhook_log_max_age_s,
        .render = render_webhook_body,
        .render_opaque = server,
    };
    server->hooks = hooks_start(&hooks, server->store, err, err_size);
    if (!server->hooks)
        return -1;
    server->web_deps.locator = (web_locator_t){.opaque = server, .owner = locate};
    server->api_deps.hooks.opaque = server->live;
    server->api_deps.hooks.stream_stop = stop_stream_hook;
    server->api_deps.hooks.deliveries = server->hooks;
    server->api_deps.hooks.resend = resend_hook;
    server->router = http_router_new();
    if (!server->router || web_register_routes(server->router, &server->web_deps) != 0 ||
        api_register_routes(server->router, &server->api_deps) != 0) {
        snprintf(err, err_size, "http: out of memory");
        return -1;
    }
    server->peer_guard = start_peer_guard(&server->config);
    if (!server->peer_guard) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    server->http = http_server_start(server->config.http.host, server->config.http.port,
                                     server->config.http_threads, server->router,
                                     server->peer_guard, err, err_size);
    if (!server->http)
        return -1;
    ingest_config_t ingest_config = {
        .rtmp_host = server->config.rtmp.host,
        .rtmp_port = server->config.rtmp.port,
        .rtmp_threads = server->config.rtmp_threads,
        .guard = server->peer_guard,
    };
    server->ingest = ingest_start(server->live, &ingest_config, err, err_size);
    return server->ingest ? 0 : -1;
}

unsigned server_rtmp_port(const server_t *server)
{
    return server->ingest ? ingest_rtmp_port(server->ingest) : 0;
}

void server_describe_store(const server_t *server, char *out, size_t size)
{
    store_describe(server->store, out, size);
}

int server_schema_version(const server_t *server)
{
    int version = 0;
    return store_schema_version(server->store, &version) == STORE_OK ? version : -1;
}

unsigned server_http_port(const server_t *server)
{
    return server->http ? http_server_port(server->http) : 0;
}

int server_add_user(server_t *server, const char *name, char *key_out, size_t key_out_size,
                    char *err, size_t err_size)
{
    store_user_t user;
    if (create_user(server, name, false, &user, err, err_size) != 0)
        return -1;
    char key[AUTH_KEY_SIZE];
    int rc = auth_create_key(server->store, &user, name, key, NULL);
    log_info("server", "user %s (%s) created", user.id, name);
    store_user_clear(&user);
    if (rc != STORE_OK) {
        snprintf(err, err_size, "cannot store the API key of user %s", name);
        return -1;
    }
    snprintf(key_out, key_out_size, "%s", key);
    return 0;
}

/* What the guard turned away over the server's life (until the metrics show it live). */
static void log_guard_counts(peer_guard_t *guard)
{
    if (!guard)
        return;
    peer_guard_counts_t c;
    peer_guard_counts(guard, &c);
    log_info("server",
             "connections refused: %llu at --max-connections, %llu at --max-connections-per-ip; "
             "timeouts: %llu RTMP handshakes, %llu HTTP headers, %llu RTMP idle; %llu wrong "
             "stream keys, %llu connections slowed",
             (unsigned long long)c.refused_total, (unsigned long long)c.refused_address,
             (unsigned long long)c.events[PEER_HANDSHAKE_TIMEOUT],
             (unsigned long long)c.events[PEER_HEADER_TIMEOUT],
             (unsigned long long)c.events[PEER_IDLE_TIMEOUT], (unsigned long long)c.key_failures,
             (unsigned long long)c.slowed);
}

void server_free(server_t *server)
{
    if (!server)
        return;
    /* Outside in: no more webhook attempts (what is queued stays in the outbox for the next
     * start), no new requests or publishers, no more expiry, then end broadcasts, then the
     * store. */
    hooks_stop(server->hooks);
    http_server_stop(server->http);
    hooks_free(server->hooks); /* no request calls it now */
    http_router_free(server->router);
    ingest_stop(server->ingest);
    log_guard_counts(server->peer_guard);
    peer_guard_free(server->peer_guard);
    housekeeper_stop(server->housekeeper);
    live_free(server->live);
    cluster_stop(server->cluster);
    playback_gate_free(server->playback_gate);
    store_close(server->store);
    auth_cache_free(server->auth_cache);
    free(server);
}
