/* Unit tests for flag and environment parsing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static int parse(config_t *cfg, char *const argv[], char *const envp[], char *err)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return config_parse(cfg, argc, argv, envp, err, 256);
}

Test(config, defaults)
{
    config_t cfg;
    char err[256];
    char *argv[] = {"streamd", NULL};
    cr_assert_eq(parse(&cfg, argv, NULL, err), 0);
    cr_assert_eq(cfg.command, CONFIG_COMMAND_SERVE);
    cr_assert_str_eq(cfg.data_dir, "./data");
    cr_assert_str_eq(cfg.http.host, "0.0.0.0");
    cr_assert_eq(cfg.http.port, 8935);
    cr_assert_eq(cfg.rtmp.port, 1935);
    cr_assert_str_eq(cfg.public_url, "http://localhost:8935");
    cr_assert_str_eq(cfg.db_url, "./data/streamd.db");
    cr_assert_str_eq(cfg.rtmp_public_url, "rtmp://localhost:1935/live");
    cr_assert_str_eq(cfg.api_key, "");
    cr_assert_eq(cfg.log_level, LOG_INFO);
    cr_assert_float_eq(cfg.segment_seconds, 2.0, 1e-9);
    cr_assert_eq(cfg.reconnect_window_s, 60);
    cr_assert_eq(cfg.hls_window_segments, 10);
    cr_assert_str_eq(cfg.x264_preset, "veryfast");
    cr_assert_str_eq(cfg.recordings_dir, "./data/rec");
    cr_assert_str_eq(cfg.node_id, "");
    cr_assert_eq(cfg.node_timeout_s, 30);
    cr_assert_str_eq(cfg.node_url, "http://localhost:8935", "the public URL");
}

Test(config, media_flags)
{
    config_t cfg;
    char err[256];
    char *argv[] = {
        "streamd", "--segment-seconds", "1.5",       "--reconnect-window=5", "--hls-window",
        "0",       "--x264-preset",     "ultrafast", "--rtmp-threads",       "3",
        NULL};
    cr_assert_eq(parse(&cfg, argv, NULL, err), 0, "%s", err);
    cr_assert_float_eq(cfg.segment_seconds, 1.5, 1e-9);
    cr_assert_eq(cfg.reconnect_window_s, 5);
    cr_assert_eq(cfg.hls_window_segments, 0);
    cr_assert_str_eq(cfg.x264_preset, "ultrafast");
    cr_assert_eq(cfg.rtmp_threads, 3);
    cr_assert_eq(cfg.recordings_max_age_s, 0);
    const struct {
        const char *text;
        int64_t seconds;
    } ages[] = {{"90d", 90 * 86400}, {"12h", 43200}, {"30m", 1800}, {"45s", 45}, {"600", 600}};
    for (size_t i = 0; i < sizeof ages / sizeof ages[0]; i++) {
        char *age_argv[] = {"streamd", "--recordings-max-age", (char *)ages[i].text, NULL};
        cr_assert_eq(parse(&cfg, age_argv, NULL, err), 0, "%s", err);
        cr_assert_eq(cfg.recordings_max_age_s, ages[i].seconds, "%s", ages[i].text);
    }
}

Test(config, flags_override_environment)
{
    config_t cfg;
    char err[256];
    char *envp[] = {"STREAMD_DATA=/env/data", "STREAMD_HTTP=127.0.0.1:9000",
                    "STREAMD_API_KEY=envkey", "UNRELATED=1", NULL};
    char *argv[] = {"streamd",           "--data",       "/flag/data",
                    "--rtmp=[::1]:2000", "--public-url", "https://video.example.com/",
                    "--log-level",       "debug",        NULL};
    cr_assert_eq(parse(&cfg, argv, envp, err), 0, "%s", err);
    cr_assert_str_eq(cfg.data_dir, "/flag/data");
    cr_assert_str_eq(cfg.http.host, "127.0.0.1");
    cr_assert_eq(cfg.http.port, 9000);
    cr_assert_str_eq(cfg.rtmp.host, "::1");
    cr_assert_eq(cfg.rtmp.port, 2000);
    cr_assert_str_eq(cfg.api_key, "envkey");
    cr_assert_str_eq(cfg.public_url, "https://video.example.com");
    cr_assert_str_eq(cfg.rtmp_public_url, "rtmp://video.example.com:2000/live");
    cr_assert_str_eq(cfg.db_url, "/flag/data/streamd.db");
    cr_assert_eq(cfg.log_level, LOG_DEBUG);
}

Test(config, rtmp_url_host_from_public_url_with_port_and_ipv6)
{
    config_t cfg;
    char err[256];
    char *argv[] = {"streamd", "--public-url", "http://[::1]:8080/base", NULL};
    cr_assert_eq(parse(&cfg, argv, NULL, err), 0, "%s", err);
    cr_assert_str_eq(cfg.rtmp_public_url, "rtmp://[::1]:1935/live");
}

Test(config, users_add_command)
{
    config_t cfg;
    char err[256];
    char *argv[] = {"streamd", "users", "add", "alice", "--data", "/d", NULL};
    cr_assert_eq(parse(&cfg, argv, NULL, err), 0, "%s", err);
    cr_assert_eq(cfg.command, CONFIG_COMMAND_USERS_ADD);
    cr_assert_str_eq(cfg.user_name, "alice");
}

Test(config, the_default_public_url_follows_http)
{
    config_t cfg;
    char err[256];
    char *v4[] = {"streamd", "--http", "127.0.0.1:9000", "--rtmp", ":1940", NULL};
    cr_assert_eq(parse(&cfg, v4, NULL, err), 0, "%s", err);
    cr_assert_str_eq(cfg.public_url, "http://127.0.0.1:9000");
    cr_assert(cfg.public_url_derived);
    cr_assert_str_eq(cfg.rtmp_public_url, "rtmp://127.0.0.1:1940/live");
    cr_assert(cfg.rtmp_public_url_derived);
    char *v6[] = {"streamd", "--http", "[::1]:9001", NULL};
    cr_assert_eq(parse(&cfg, v6, NULL, err), 0, "%s", err);
    cr_assert_str_eq(cfg.public_url, "http://[::1]:9001");
    char *any[] = {"streamd", "--http", ":9002", NULL};
    cr_assert_eq(parse(&cfg, any, NULL, err), 0, "%s", err);
    cr_assert_str_eq(cfg.public_url, "http://localhost:9002");
    char *given[] = {"streamd", "--http", ":9003", "--public-url", "https://v.example.com", NULL};
    cr_assert_eq(parse(&cfg, given, NULL, err), 0, "%s", err);
    cr_assert_str_eq(cfg.public_url, "https://v.example.com");
    cr_assert_not(cfg.public_url_derived);
}

Test(config, cluster_flags_and_migrate_command)
{
    config_t cfg;
    char err[256];
    char *argv[] = {"streamd",          "migrate",        "--node-id",
                    "edge-1.eu_west",   "--node-timeout", "10",
                    "--recordings-dir", "/shared/rec",    NULL};
    char *envp[] = {"STREAMD_NODE_ID=ignored", NULL};
    cr_assert_eq(parse(&cfg, argv, envp, err), 0, "%s", err);
    cr_assert_eq(cfg.command, CONFIG_COMMAND_MIGRATE);
    cr_assert_str_eq(cfg.node_id, "edge-1.eu_west");
    cr_assert_eq(cfg.node_timeout_s, 10);
    cr_assert_str_eq(cfg.recordings_dir, "/shared/rec");

    char *node_url[] = {"streamd",    "--public-url",          "https://video.example.com",
                        "--node-url", "http://10.0.0.5:8935/", NULL};
    cr_assert_eq(parse(&cfg, node_url, NULL, err), 0, "%s", err);
    cr_assert_str_eq(cfg.node_url, "http://10.0.0.5:8935");
    char *bad_url[] = {"streamd", "--node-url", "10.0.0.5:8935", NULL};
    cr_assert_eq(parse(&cfg, bad_url, NULL, err), -1);

    char *bad_id[] = {"streamd", "--node-id", "a/b", NULL};
    cr_assert_eq(parse(&cfg, bad_id, NULL, err), -1);
    cr_assert(strstr(err, "--node-id"), "%s", err);
    char *short_timeout[] = {"streamd", "--node-timeout", "1", NULL};
    cr_assert_eq(parse(&cfg, short_timeout, NULL, err), -1);
    cr_assert(strstr(err, "--node-timeout"), "%s", err);
    char *extra_word[] = {"streamd", "migrate", "now", NULL};
    cr_assert_eq(parse(&cfg, extra_word, NULL, err), -1);
}

Test(config, help_and_version)
{
    config_t cfg;
    char err[256];
    char *help[] = {"streamd", "--help", NULL};
    cr_assert_eq(parse(&cfg, help, NULL, err), 0);
    cr_assert_eq(cfg.command, CONFIG_COMMAND_HELP);
    char *version[] = {"streamd", "--version", NULL};
    cr_assert_eq(parse(&cfg, version, NULL, err), 0);
    cr_assert_eq(cfg.command, CONFIG_COMMAND_VERSION);
    char usage[4096];
    config_usage(usage, sizeof usage);
    cr_assert(strstr(usage, "--public-url") && strstr(usage, "STREAMD_DB"));
}

Test(config, malformed_inputs_are_refused_with_a_message)
{
    struct {
        char *argv[5];
        const char *expected;
    } cases[] = {
        {{"streamd", "--bogus", NULL}, "unknown flag: --bogus"},
        {{"streamd", "--data", NULL}, "--data needs a value"},
        {{"streamd", "--http", "nocolon", NULL}, "--http: expected ADDR:PORT"},
        {{"streamd", "--http", "1.2.3.4:70000", NULL}, "--http: expected ADDR:PORT"},
        {{"streamd", "--http", "1.2.3.4:12x", NULL}, "--http: expected ADDR:PORT"},
        {{"streamd", "--log-level", "loud", NULL}, "--log-level: expected"},
        {{"streamd", "--public-url", "ftp://x", NULL}, "--public-url must start with"},
        {{"streamd", "--http-threads", "-1", NULL}, "--http-threads: expected"},
        {{"streamd", "frobnicate", NULL}, "unknown command: frobnicate"},
        {{"streamd", "--segment-seconds", "0.1", NULL}, "--segment-seconds: expected"},
        {{"streamd", "--segment-seconds", "2s", NULL}, "--segment-seconds: expected"},
        {{"streamd", "--x264-preset", "warp", NULL}, "--x264-preset: expected"},
        {{"streamd", "--recordings-max-age", "3w", NULL}, "--recordings-max-age: expected"},
        {{"streamd", "--recordings-max-age", "-1d", NULL}, "--recordings-max-age: expected"},
        {{"streamd", "--recordings-max-age", "5dd", NULL}, "--recordings-max-age: expected"},
        {{"streamd", "users", "add", NULL}, "unknown command: users"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config_t cfg;
        char err[256] = "";
        cr_assert_eq(parse(&cfg, cases[i].argv, NULL, err), -1, "case %zu", i);
        cr_assert(strstr(err, cases[i].expected), "case %zu: got \"%s\"", i, err);
    }
}

Test(config, overlong_values_are_refused)
{
    config_t cfg;
    char err[256];
    char long_value[8192];
    memset(long_value, 'a', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    char *argv[] = {"streamd", "--api-key", long_value, NULL};
    cr_assert_eq(parse(&cfg, argv, NULL, err), -1);
    cr_assert(strstr(err, "too long"));
    char env_entry[8300];
    snprintf(env_entry, sizeof env_entry, "STREAMD_DATA=%s", long_value);
    char *envp[] = {env_entry, NULL};
    char *plain[] = {"streamd", NULL};
    cr_assert_eq(parse(&cfg, plain, envp, err), -1);
}
