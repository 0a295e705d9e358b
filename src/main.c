/* streamd: flags and environment -> config; start the server, wait for SIGINT/SIGTERM, stop. */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "config.h"
#include "server.h"
#include "util/log.h"

extern char **environ;

static int run_users_add(const config_t *config)
{
    char err[512], key[128];
    server_t *server = server_new(config, err, sizeof err);
    if (!server ||
        server_add_user(server, config->user_name, key, sizeof key, err, sizeof err) != 0) {
        fprintf(stderr, "streamd: %s\n", err);
        server_free(server);
        return 1;
    }
    server_free(server);
    printf("user %s created\nAPI key: %s\n", config->user_name, key);
    return 0;
}

/* The store applies the schema history when it opens; a deploy runs this once before starting
 * the nodes of a new version. */
static int run_migrate(const config_t *config)
{
    char err[512];
    server_t *server = server_new(config, err, sizeof err);
    int version = server ? server_schema_version(server) : -1;
    if (version < 0) {
        fprintf(stderr, "streamd: %s\n", server ? "cannot read the schema version" : err);
        server_free(server);
        return 1;
    }
    char store_name[512];
    server_describe_store(server, store_name, sizeof store_name);
    server_free(server);
    printf("%s: schema at version %d\n", store_name, version);
    return 0;
}

/* base with its port replaced by port: a derived URL names the port the server bound (--http or
 * --rtmp may say 0). */
static void with_port(const char *base, unsigned port, const char *path, char *out, size_t size)
{
    const char *host = strstr(base, "://");
    host = host ? host + 3 : base;
    const char *colon = strrchr(host, ':');
    const char *bracket = strrchr(host, ']');
    size_t keep = colon && (!bracket || colon > bracket) ? (size_t)(colon - base) : strlen(base);
    snprintf(out, size, "%.*s:%u%s", (int)keep, base, port, path);
}

static void print_banner(const config_t *config, const server_t *server, const char *new_key)
{
    char api[600], rtmp[600];
    if (config->public_url_derived)
        with_port(config->public_url, server_http_port(server), "/api", api, sizeof api);
    else
        snprintf(api, sizeof api, "%s/api", config->public_url);
    if (config->rtmp_public_url_derived)
        with_port(config->rtmp_public_url, server_rtmp_port(server), "/live", rtmp, sizeof rtmp);
    else
        snprintf(rtmp, sizeof rtmp, "%s", config->rtmp_public_url);
    printf("streamd %s ready\n", STREAMD_VERSION);
    printf("  API:          %s\n", api);
    printf("  RTMP ingest:  %s  (stream key as the last path part, or OBS \"Stream Key\")\n", rtmp);
    printf("  Data:         %s\n", config->data_dir);
    if (new_key[0])
        printf("  API key:      %s  (shown once: it is stored hashed)\n", new_key);
    else if (config->api_key[0])
        printf("  API key:      the one given with --api-key\n");
    else
        printf("  API key:      created on first start; `streamd users add NAME` makes more\n");
    fflush(stdout);
}

/* glibc gives every thread that allocates an arena of its own (up to 8 per core), each keeping
 * its own free space: fixed overhead for the RTMP loops and the other threads. One arena per core
 * is enough for the threads that run at once not to wait for each other: one arena in all cost the
 * HTTP API up to half again the CPU per request (bench/RESULTS.md). MALLOC_ARENA_MAX or a
 * GLIBC_TUNABLES arena_max in the environment still wins. */
static void use_one_malloc_arena_per_core(void)
{
    const char *tunables = getenv("GLIBC_TUNABLES");
    if (getenv("MALLOC_ARENA_MAX") || (tunables && strstr(tunables, "arena_max")))
        return;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    mallopt(M_ARENA_MAX, cores < 1 ? 1 : cores > 64 ? 64 : (int)cores);
}

static int run_server(const config_t *config)
{
    use_one_malloc_arena_per_core();
    /* Block the stop signals in every thread the server starts; main waits for them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512], new_key[128];
    server_t *server = server_new(config, err, sizeof err);
    if (!server || server_start(server, new_key, sizeof new_key, err, sizeof err) != 0) {
        fprintf(stderr, "streamd: %s\n", err);
        server_free(server);
        return 1;
    }
    char store_name[512];
    server_describe_store(server, store_name, sizeof store_name);
    log_info("server", "listening: http %s:%u, rtmp %s:%u, store %s", config->http.host,
             server_http_port(server), config->rtmp.host, server_rtmp_port(server), store_name);
    print_banner(config, server, new_key);
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    log_info("server", "%s received, shutting down", strsignal(signal_number));
    server_free(server);
    log_info("server", "stopped");
    return 0;
}

int main(int argc, char **argv)
{
    config_t config;
    char err[512];
    if (config_parse(&config, argc, argv, environ, err, sizeof err) != 0) {
        fprintf(stderr, "streamd: %s\n", err);
        return 2;
    }
    log_set_level(config.log_level);
    /* FFmpeg's own chatter (x264 statistics at every encoder close) only at debug level. */
    av_log_set_level(config.log_level == LOG_DEBUG ? AV_LOG_INFO : AV_LOG_WARNING);
    switch (config.command) {
    case CONFIG_COMMAND_HELP: {
        char usage[4096];
        config_usage(usage, sizeof usage);
        fputs(usage, stdout);
        return 0;
    }
    case CONFIG_COMMAND_VERSION:
        printf("streamd %s\n", STREAMD_VERSION);
        return 0;
    case CONFIG_COMMAND_USERS_ADD:
        return run_users_add(&config);
    case CONFIG_COMMAND_MIGRATE:
        return run_migrate(&config);
    case CONFIG_COMMAND_SERVE:
        break;
    }
    return run_server(&config);
}
