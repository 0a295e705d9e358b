/* Configuration from flags and environment; flags win over environment, which wins over
 * defaults. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/errbuf.h"

/* OPT_FLAG is a switch: `--name` alone sets it; `--name=false` (or the environment's 0, false)
 * clears it. */
typedef enum {
    OPT_STRING,
    OPT_LISTEN,
    OPT_LOG_LEVEL,
    OPT_INT,
    OPT_SECONDS,
    OPT_AGE,
    OPT_FLAG
} option_kind_t;

typedef struct option_spec {
    const char *flag; /* without the leading dashes */
    const char *env;  /* environment variable or NULL */
    option_kind_t kind;
    size_t offset; /* of the field in config_t */
    size_t size;   /* of the field, for strings */
    const char *help;
} option_spec_t;

#define STRING_OPTION(flag, env, field, help)                                                      \
    {                                                                                              \
        flag, env, OPT_STRING, offsetof(config_t, field), sizeof(((config_t *)0)->field), help     \
    }

static const option_spec_t options[] = {
    STRING_OPTION("data", "STREAMD_DATA", data_dir, "data directory (default ./data)"),
    {"http", "STREAMD_HTTP", OPT_LISTEN, offsetof(config_t, http), 0,
     "HTTP API listen address (default 0.0.0.0:8935)"},
    {"rtmp", "STREAMD_RTMP", OPT_LISTEN, offsetof(config_t, rtmp), 0,
     "RTMP ingest listen address (default 0.0.0.0:1935)"},
    STRING_OPTION("public-url", "STREAMD_PUBLIC_URL", public_url,
                  "base of every URL the API returns (default http://localhost:8935)"),
    STRING_OPTION("rtmp-public-url", "STREAMD_RTMP_PUBLIC_URL", rtmp_public_url,
                  "RTMP ingest base announced by /api/ingest (default rtmp://HOST:PORT/live)"),
    STRING_OPTION("db", "STREAMD_DB", db_url,
                  "SQLite database path, or postgres://... (default DATA/streamd.db)"),
    STRING_OPTION("api-key", "STREAMD_API_KEY", api_key,
                  "the admin user's API key, created on first start if given"),
    {"log-level", "STREAMD_LOG_LEVEL", OPT_LOG_LEVEL, offsetof(config_t, log_level), 0,
     "debug, info, warn or error (default info)"},
    {"http-threads", "STREAMD_HTTP_THREADS", OPT_INT, offsetof(config_t, http_threads), 0,
     "HTTP worker threads (default: one per core)"},
    {"rtmp-threads", "STREAMD_RTMP_THREADS", OPT_INT, offsetof(config_t, rtmp_threads), 0,
     "RTMP event-loop threads, each serving many publishers (default: one per core, at most 16)"},
    {"segment-seconds", "STREAMD_SEGMENT_SECONDS", OPT_SECONDS, offsetof(config_t, segment_seconds),
     0, "target HLS segment duration (default 2)"},
    {"reconnect-window", "STREAMD_RECONNECT_WINDOW", OPT_INT,
     offsetof(config_t, reconnect_window_s), 0,
     "seconds a reconnect continues the same session (default 60)"},
    {"hls-window", "STREAMD_HLS_WINDOW", OPT_INT, offsetof(config_t, hls_window_segments), 0,
     "segments in a live playlist (default 10)"},
    STRING_OPTION("x264-preset", "STREAMD_X264_PRESET", x264_preset,
                  "libx264 preset of the transcoding ladder (default veryfast)"),
    {"recordings-max-age", "STREAMD_RECORDINGS_MAX_AGE", OPT_AGE,
     offsetof(config_t, recordings_max_age_s), 0,
     "delete recordings older than this: 90d, 12h, 30m or seconds (default: keep)"},
    STRING_OPTION("recordings-dir", "STREAMD_RECORDINGS_DIR", recordings_dir,
                  "recordings directory, shared by every node if it can be (default DATA/rec)"),
    STRING_OPTION("node-id", "STREAMD_NODE_ID", node_id,
                  "this node's id among those sharing the database (default: the host name)"),
    STRING_OPTION(
        "node-url", "STREAMD_NODE_URL", node_url,
        "this node's own HTTP base, for redirects from other nodes (default --public-url)"),
    {"node-timeout", "STREAMD_NODE_TIMEOUT", OPT_INT, offsetof(config_t, node_timeout_s), 0,
     "seconds without a heartbeat before other nodes end a node's sessions (default 30)"},
    {"max-connections", "STREAMD_MAX_CONNECTIONS", OPT_INT, offsetof(config_t, max_connections), 0,
     "RTMP and HTTP connections open at once, in all (default 4096; 0 = no limit)"},
    {"max-connections-per-ip", "STREAMD_MAX_CONNECTIONS_PER_IP", OPT_INT,
     offsetof(config_t, max_connections_per_ip), 0,
     "of those, from one client address (default 256; 0 = no limit; raise it behind a proxy)"},
    {"webhooks-allow-private", "STREAMD_WEBHOOKS_ALLOW_PRIVATE", OPT_FLAG,
     offsetof(config_t, webhooks_allow_private), 0,
     "deliver webhooks to loopback, link-local and private addresses too (default: refused)"},
    {"webhook-log-max-age", "STREAMD_WEBHOOK_LOG_MAX_AGE", OPT_AGE,
     offsetof(config_t, webhook_log_max_age_s), 0,
     "delete webhook attempt logs older than this: 30d, 12h or seconds (default 30d)"},
};
#define OPTION_COUNT (sizeof options / sizeof options[0])

/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT" (every address). */
static int parse_listen(const char *text, config_listen_t *out)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon[1] == '\0')
        return -1;
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || port < 0 || port > 65535)
        return -1;
    const char *host = text;
    size_t host_len = (size_t)(colon - text);
    if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
        host++;
        host_len -= 2;
    }
    if (host_len >= sizeof out->host)
        return -1;
    if (host_len == 0) {
        snprintf(out->host, sizeof out->host, "0.0.0.0");
    } else {
        memcpy(out->host, host, host_len);
        out->host[host_len] = '\0';
    }
    out->port = (uint16_t)port;
    return 0;
}

static int apply_option(config_t *cfg, const option_spec_t *opt, const char *value, char *err,
                        size_t err_size)
{
    char *field = (char *)cfg + opt->offset;
    switch (opt->kind) {
    case OPT_STRING:
        if (strlen(value) >= opt->size)
            return errbuf_set(err, err_size, -1, "--%s: value too long", opt->flag);
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case OPT_LISTEN:
        if (parse_listen(value, (config_listen_t *)field) != 0)
            return errbuf_set(err, err_size, -1, "--%s: expected ADDR:PORT", opt->flag);
        return 0;
    case OPT_LOG_LEVEL: {
        int level = log_level_parse(value);
        if (level < 0)
            return errbuf_set(err, err_size, -1, "--%s: expected debug, info, warn or error",
                              opt->flag);
        *(log_level_t *)field = (log_level_t)level;
        return 0;
    }
    case OPT_SECONDS: {
        char *end = NULL;
        errno = 0;
        double seconds = strtod(value, &end);
        if (errno != 0 || end == value || *end != '\0' || !(seconds >= 0.5 && seconds <= 60))
            return errbuf_set(err, err_size, -1, "--%s: expected seconds from 0.5 to 60",
                              opt->flag);
        *(double *)field = seconds;
        return 0;
    }
    case OPT_AGE: {
        char *end = NULL;
        errno = 0;
        long long amount = strtoll(value, &end, 10);
        static const struct {
            char suffix;
            int64_t seconds;
        } units[] = {{'\0', 1}, {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
        int64_t unit = 0;
        for (size_t i = 0; end && i < sizeof units / sizeof units[0]; i++) {
            if (*end == units[i].suffix && (*end == '\0' || end[1] == '\0'))
                unit = units[i].seconds;
        }
        if (errno != 0 || end == value || unit == 0 || amount < 0 || amount > 36500LL * 86400)
            return errbuf_set(err, err_size, -1,
                              "--%s: expected an age like 90d, 12h, 30m or seconds", opt->flag);
        *(int64_t *)field = amount * unit;
        return 0;
    }
    case OPT_FLAG:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
            *(bool *)field = true;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
            *(bool *)field = false;
        else
            return errbuf_set(err, err_size, -1, "--%s: expected true or false", opt->flag);
        return 0;
    case OPT_INT: {
        char *end = NULL;
        errno = 0;
        long number = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || number < 0 || number > 86400)
            return errbuf_set(err, err_size, -1, "--%s: expected a number from 0 to 86400",
                              opt->flag);
        *(int *)field = (int)number;
        return 0;
    }
    }
    return -1;
}

static const option_spec_t *find_flag(const char *name, size_t name_len)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (strlen(options[i].flag) == name_len && strncmp(options[i].flag, name, name_len) == 0)
            return &options[i];
    }
    return NULL;
}

static int apply_environment(config_t *cfg, char *const envp[], char *err, size_t err_size)
{
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *eq = strchr(envp[i], '=');
        if (!eq)
            continue;
        for (size_t j = 0; j < OPTION_COUNT; j++) {
            const char *env = options[j].env;
            if (env && strlen(env) == (size_t)(eq - envp[i]) &&
                strncmp(env, envp[i], strlen(env)) == 0 &&
                apply_option(cfg, &options[j], eq + 1, err, err_size) != 0)
                return -1;
        }
    }
    return 0;
}

/* Handles the positional words: none (serve) or `users add NAME`. */
static int apply_positionals(config_t *cfg, char *const words[], int count, char *err,
                             size_t err_size)
{
    if (count == 0)
        return 0;
    if (count == 3 && strcmp(words[0], "users") == 0 && strcmp(words[1], "add") == 0) {
        if (words[2][0] == '\0' || strlen(words[2]) >= sizeof cfg->user_name)
            return errbuf_set(err, err_size, -1, "users add: invalid name");
        snprintf(cfg->user_name, sizeof cfg->user_name, "%s", words[2]);
        cfg->command = CONFIG_COMMAND_USERS_ADD;
        return 0;
    }
    if (count == 1 && strcmp(words[0], "migrate") == 0) {
        cfg->command = CONFIG_COMMAND_MIGRATE;
        return 0;
    }
    return errbuf_set(err, err_size, -1, "unknown command: %s (see --help)", words[0]);
}

static void apply_defaults(config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->command = CONFIG_COMMAND_SERVE;
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "./data");
    snprintf(cfg->http.host, sizeof cfg->http.host, "0.0.0.0");
    cfg->http.port = 8935;
    snprintf(cfg->rtmp.host, sizeof cfg->rtmp.host, "0.0.0.0");
    cfg->rtmp.port = 1935;
    cfg->log_level = LOG_INFO;
    cfg->segment_seconds = 2.0;
    cfg->reconnect_window_s = 60;
    cfg->node_timeout_s = 30;
    cfg->hls_window_segments = 10;
    cfg->max_connections = 4096;
    cfg->max_connections_per_ip = 256;
    cfg->webhook_log_max_age_s = 30 * 86400;
    snprintf(cfg->x264_preset, sizeof cfg->x264_preset, "veryfast");
}

static bool is_x264_preset(const char *name)
{
    static const char *const presets[] = {"ultrafast", "superfast", "veryfast", "faster",  "fast",
                                          "medium",    "slow",      "slower",   "veryslow"};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(name, presets[i]) == 0)
            return true;
    }
    return false;
}

/* A node id goes into URLs and logs as it is. */
static bool is_node_id(const char *id)
{
    for (const char *p = id; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    }
    return true;
}

/* Checks the values that depend on others and fills the derived ones: the database path, the
 * recordings directory and the RTMP announce URL. */
static int derive_values(config_t *cfg, char *err, size_t err_size)
{
    if (!is_node_id(cfg->node_id))
        return errbuf_set(err, err_size, -1,
                          "--node-id: letters, digits, '.', '_' and '-' only (got %s)",
                          cfg->node_id);
    if (cfg->node_timeout_s < 3)
        return errbuf_set(err, err_size, -1, "--node-timeout: at least 3 seconds (got %d)",
                          cfg->node_timeout_s);
    if (cfg->recordings_dir[0] == '\0' &&
        snprintf(cfg->recordings_dir, sizeof cfg->recordings_dir, "%s/rec", cfg->data_dir) >=
            (int)sizeof cfg->recordings_dir)
        return errbuf_set(err, err_size, -1, "--data: path too long");
    if (!is_x264_preset(cfg->x264_preset))
        return errbuf_set(err, err_size, -1,
                          "--x264-preset: expected ultrafast, superfast, veryfast, faster, fast, "
                          "medium, slow, slower or veryslow (got %s)",
                          cfg->x264_preset);
    if (cfg->public_url[0] == '\0') {
        /* From --http: a wildcard address is reached as localhost. */
        const char *host = cfg->http.host;
        bool wildcard = !host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
        bool v6 = !wildcard && strchr(host, ':');
        snprintf(cfg->public_url, sizeof cfg->public_url, "http://%s%s%s:%u", v6 ? "[" : "",
                 wildcard ? "localhost" : host, v6 ? "]" : "", (unsigned)cfg->http.port);
        cfg->public_url_derived = true;
    }
    size_t len = strlen(cfg->public_url);
    while (len > 0 && cfg->public_url[len - 1] == '/')
        cfg->public_url[--len] = '\0';
    if (strncmp(cfg->public_url, "http://", 7) != 0 && strncmp(cfg->public_url, "https://", 8) != 0)
        return errbuf_set(err, err_size, -1,
                          "--public-url must start with http:// or https:// (got %s)",
                          cfg->public_url);
    len = strlen(cfg->node_url);
    while (len > 0 && cfg->node_url[len - 1] == '/')
        cfg->node_url[--len] = '\0';
    if (cfg->node_url[0] == '\0')
        snprintf(cfg->node_url, sizeof cfg->node_url, "%s", cfg->public_url);
    if (strncmp(cfg->node_url, "http://", 7) != 0 && strncmp(cfg->node_url, "https://", 8) != 0)
        return errbuf_set(err, err_size, -1,
                          "--node-url must start with http:// or https:// (got %s)", cfg->node_url);
    if (cfg->db_url[0] == '\0' && snprintf(cfg->db_url, sizeof cfg->db_url, "%s/streamd.db",
                                           cfg->data_dir) >= (int)sizeof cfg->db_url)
        return errbuf_set(err, err_size, -1, "--data: path too long");
    if (cfg->rtmp_public_url[0] == '\0') {
        cfg->rtmp_public_url_derived = true;
        /* The host part of the public URL, without scheme, port or path. */
        const char *host = strstr(cfg->public_url, "://") + 3;
        size_t host_len = strcspn(host, "/");
        const char *port_colon = NULL;
        if (host[0] == '[') {
            const char *bracket = memchr(host, ']', host_len);
            if (bracket && bracket + 1 < host + host_len && bracket[1] == ':')
                port_colon = bracket + 1;
        } else {
            port_colon = memchr(host, ':', host_len);
        }
        if (port_colon)
            host_len = (size_t)(port_colon - host);
        snprintf(cfg->rtmp_public_url, sizeof cfg->rtmp_public_url, "rtmp://%.*s:%u/live",
                 (int)host_len, host, (unsigned)cfg->rtmp.port);
    }
    return 0;
}

int config_parse(config_t *cfg, int argc, char *const argv[], char *const envp[], char *err,
                 size_t err_size)
{
    apply_defaults(cfg);
    if (apply_environment(cfg, envp, err, err_size) != 0)
        return -1;
    char *positionals[8];
    int positional_count = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            cfg->command = CONFIG_COMMAND_HELP;
            return 0;
        }
        if (strcmp(arg, "--version") == 0) {
            cfg->command = CONFIG_COMMAND_VERSION;
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (positional_count == 8)
                return errbuf_set(err, err_size, -1, "too many arguments");
            positionals[positional_count++] = argv[i];
            continue;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const option_spec_t *opt = find_flag(name, name_len);
        if (!opt)
            return errbuf_set(err, err_size, -1, "unknown flag: %s (see --help)", arg);
        const char *value = eq ? eq + 1 : opt->kind == OPT_FLAG ? "true" : NULL;
        if (!value) {
            if (i + 1 >= argc)
                return errbuf_set(err, err_size, -1, "%s needs a value", arg);
            value = argv[++i];
        }
        if (apply_option(cfg, opt, value, err, err_size) != 0)
            return -1;
    }
    if (apply_positionals(cfg, positionals, positional_count, err, err_size) != 0)
        return -1;
    return derive_values(cfg, err, err_size);
}

void config_usage(char *out, size_t out_size)
{
    size_t used = (size_t)snprintf(out, out_size,
                                   "usage: streamd [flags]            run the server\n"
                                   "       streamd users add NAME [flags]  create a user and "
                                   "print its API key\n"
                                   "       streamd migrate [flags]    apply the database "
                                   "schema and exit\n\nflags (environment):\n");
    for (size_t i = 0; i < OPTION_COUNT && used < out_size; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", options[i].flag);
        used += (size_t)snprintf(out + used, out_size - used, "  %-18s %-24s %s\n", flag,
                                 options[i].env ? options[i].env : "", options[i].help);
    }
    if (used < out_size)
        snprintf(out + used, out_size - used, "  --help, --version\n");
}
