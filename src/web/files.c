/* Static media files from the data directory, served read-only with path checks. */
#include "web/files.h"

#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/url.h"
#include "web/playback_jwt.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLAYLIST_MAX (1024 * 1024) /* bytes of a playlist rewritten for a token */

typedef struct media_type {
    const char *extension;
    const char *content_type;
    const char *cache_control;
} media_type_t;

/* Live playlists change every segment, so caches must revalidate them; a segment's content
 * never changes while it is listed, but names restart with each new session, so caches keep
 * segments only briefly. */
static const media_type_t live_types[] = {
    {".m3u8", "application/vnd.apple.mpegurl", "no-cache"},
    {".ts", "video/mp2t", "public, max-age=20"},
};

/* A recording's files never change once written; its playlists grow until it is final. */
static const media_type_t recording_types[] = {
    {".m3u8", "application/vnd.apple.mpegurl", "no-cache"},
    {".ts", "video/mp2t", "public, max-age=86400"},
    {".mp4", "video/mp4", "public, max-age=3600"},
};

static const media_type_t *type_of(const char *path, const media_type_t *types, size_t count)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < count; i++) {
        size_t ext_len = strlen(types[i].extension);
        if (len > ext_len && strcmp(path + len - ext_len, types[i].extension) == 0)
            return &types[i];
    }
    return NULL;
}

/* Replies with the file at path, or 404. */
static void serve_file(http_request_t *req, const char *path, const media_type_t *type)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        http_reply_error(req, 404, "not found");
        return;
    }
    http_reply_file(req, fd, (uint64_t)st.st_size, type->content_type, type->cache_control);
}

/* The credential a gated stream's URLs pass on: "name=value", the value escaped. */
#define PASS_MAX (32 + 3 * PLAYBACK_JWT_MAX)

/* pass as the query parameter URLs carry, or "" when the stream is not gated; -1 when too long. */
static int pass_param(const playback_gate_decision_t *gate, char pass[PASS_MAX])
{
    pass[0] = '\0';
    if (!gate->pass_name || !gate->pass_value)
        return 0;
    int len = snprintf(pass, PASS_MAX, "%s=", gate->pass_name);
    int escaped = url_escape(gate->pass_value, pass + len, PASS_MAX - (size_t)len);
    return escaped < 0 ? -1 : len + escaped;
}

/* Redirects to the node that owns the media, keeping the path and the credential (pass);
 * false when it is this node's. */
static bool redirected(http_request_t *req, const web_deps_t *deps, web_area_t area, const char *id,
                       const char *pass)
{
    char base[512], url[1024 + PASS_MAX];
    if (!deps->locator.owner ||
        deps->locator.owner(deps->locator.opaque, area, id, base, sizeof base) != 1)
        return false;
    int len = pass[0] ? snprintf(url, sizeof url, "%s%s?%s", base, req->path, pass)
                      : snprintf(url, sizeof url, "%s%s", base, req->path);
    if (len < 0 || (size_t)len >= sizeof url)
        return false;
    http_add_header(req, "Location", url);
    http_add_header(req, "Cache-Control", "no-cache");
    http_reply(req, 302, NULL);
    return true;
}

/* The playlist at path with ?pass (or &pass) after every URI it lists, so that the player's
 * next requests carry the credential; 404 when it cannot be read. */
static void serve_playlist_passing(http_request_t *req, const char *path, const media_type_t *type,
                                   const char *pass)
{
    size_t len = 0;
    char *text = fs_read_file(path, PLAYLIST_MAX, &len);
    size_t pass_len = strlen(pass);
    size_t lines = 1;
    for (size_t i = 0; text && i < len; i++)
        lines += text[i] == '\n';
    char *out = text ? malloc(len + lines * (pass_len + 1) + 1) : NULL;
    if (!out) {
        free(text);
        http_reply_error(req, 404, "not found");
        return;
    }
    size_t used = 0;
    for (const char *line = text; line < text + len;) {
        const char *end = memchr(line, '\n', (size_t)(text + len - line));
        size_t line_len = end ? (size_t)(end - line) : (size_t)(text + len - line);
        size_t content = line_len > 0 && line[line_len - 1] == '\r' ? line_len - 1 : line_len;
        memcpy(out + used, line, content);
        used += content;
        if (content > 0 && line[0] != '#') {
            out[used++] = memchr(line, '?', content) ? '&' : '?';
            memcpy(out + used, pass, pass_len);
            used += pass_len;
        }
        memcpy(out + used, line + content, line_len - content);
        used += line_len - content;
        if (end)
            out[used++] = '\n';
        line = end ? end + 1 : text + len;
    }
    free(text);
    http_reply_text(req, 200, out, used, type->content_type, type->cache_control);
}

/* The credential of a query parameter, else of a header; NULL when neither has one. */
static const char *credential(http_request_t *req, const char *query, const char *header)
{
    const char *value = http_query(req, query);
    if (!value || !value[0])
        value = http_header(req, header);
    return value && value[0] ? value : NULL;
}

static void wake_request(void *later)
{
    http_deferred_dispatch_again(later);
}

static void refuse_with(playback_gate_decision_t *gate, int status, const char *reason)
{
    gate->status = status;
    snprintf(gate->reason, sizeof gate->reason, "%s", reason);
}

/* Serves ROOT/{id}/{rest} when id and rest are safe, rest has a known type and the stream's
 * playback policy lets this request in. A live playback is asked for its owner first (a stale
 * directory of an earlier broadcast here must not hide the live one elsewhere); a recording only
 * when it is not here. */
static void serve_under(http_request_t *req, const char *root, web_area_t area,
                        const media_type_t *types, size_t type_count)
{
    const web_deps_t *deps = req->context;
    const char *id = req->params[0];
    const char *rest = req->params[1];
    const media_type_t *type = type_of(rest, types, type_count);
    char path[PATH_MAX];
    int len = snprintf(path, sizeof path, "%s/%s/%s", root, id, rest);
    if (!fs_path_is_safe(id, 1) || !fs_path_is_safe(rest, 2) || !type || len < 0 ||
        (size_t)len >= sizeof path) {
        http_reply_error(req, 404, "not found");
        return;
    }
    playback_credentials_t credentials = {
        .token = credential(req, "jwt", "Livepeer-Jwt"),
        .access_key = credential(req, "accessKey", "Livepeer-Access-Key"),
    };
    playback_gate_decision_t gate = {0};
    if (deps->gate)
        playback_gate_check(deps->gate, area, id, &credentials, clock_now_ms(), req->resumed,
                            &gate);
    if (gate.wait) { /* the stream's webhook is asked; this request is dispatched again after */
        http_deferred_t *later = http_defer_dispatch(req);
        if (later)
            playback_gate_await(deps->gate, &gate, wake_request, later);
        else
            http_reply_error(req, 503, "out of memory, retry");
        return;
    }
    char pass[PASS_MAX];
    if (!gate.status && pass_param(&gate, pass) < 0)
        refuse_with(&gate, 401, "the credential is too long to pass on");
    if (gate.status) {
        log_info("web", "%s %s refused (%d): %s", req->method, req->path, gate.status, gate.reason);
        http_reply_error(req, gate.status, "%s", gate.reason);
        return;
    }
    bool elsewhere = area == WEB_AREA_LIVE || access(path, F_OK) != 0;
    if (elsewhere && redirected(req, deps, area, id, pass))
        return;
    if (pass[0] && strcmp(type->extension, ".m3u8") == 0)
        serve_playlist_passing(req, path, type, pass);
    else
        serve_file(req, path, type);
}

/* GET /hls/{playbackId}/{path}: params[0] = playback id, params[1] = path inside it. */
static void serve_live(http_request_t *req)
{
    const web_deps_t *deps = req->context;
    char root[PATH_MAX];
    if (snprintf(root, sizeof root, "%s/live", deps->data_dir) >= (int)sizeof root) {
        http_reply_error(req, 404, "not found");
        return;
    }
    serve_under(req, root, WEB_AREA_LIVE, live_types, sizeof live_types / sizeof live_types[0]);
}

/* GET /recordings/{sessionId}/{path}: a recording's VOD playlists, segments and output.mp4. */
static void serve_recording(http_request_t *req)
{
    const web_deps_t *deps = req->context;
    serve_under(req, deps->recordings_dir, WEB_AREA_RECORDING, recording_types,
                sizeof recording_types / sizeof recording_types[0]);
}

int web_register_routes(http_router_t *router, const web_deps_t *deps)
{
    if (http_router_add(router, "GET", "/hls/:id/*", serve_live, deps, NULL) != 0 ||
        http_router_add(router, "GET", "/recordings/:id/*", serve_recording, deps, NULL) != 0)
        return -1;
    return 0;
}
