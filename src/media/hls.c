/* HLS media and master playlists: a sliding-window model rendered to text and written atomically
 * (write PATH.tmp, rename over PATH), following RFC 8216. */
#include "media/hls.h"

#include "media/codec.h"
#include "util/errbuf.h"
#include "util/fs.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hls_playlist {
    int window_segments;            /* 0 = unlimited */
    hls_segment_t *segments;        /* oldest first */
    size_t count, capacity;         /* entries used / allocated */
    int64_t discontinuity_sequence; /* discontinuity tags that slid out of the window */
    int target_duration_s;          /* seconds, never decreases */
    bool ended;                     /* #EXT-X-ENDLIST */
};

/* Milliseconds of a duration as shown by #EXTINF (3 decimals); negative and NaN count as 0. */
static long long duration_ms(double duration_s)
{
    if (!(duration_s > 0))
        return 0;
    return llround(duration_s * 1000.0);
}

/* A URI goes on its own line: it must not be empty, look like a tag, or break the line. */
static bool uri_valid(const char *uri, size_t max)
{
    if (!uri || uri[0] == '\0' || uri[0] == '#')
        return false;
    size_t len = strnlen(uri, max);
    return len < max && strpbrk(uri, "\r\n") == NULL;
}

hls_playlist_t *hls_playlist_new(int window_segments, int min_target_duration_s)
{
    if (window_segments < 0 || min_target_duration_s < 0)
        return NULL;
    hls_playlist_t *playlist = calloc(1, sizeof *playlist);
    if (!playlist)
        return NULL;
    playlist->window_segments = window_segments;
    playlist->target_duration_s = min_target_duration_s > 0 ? min_target_duration_s : 1;
    return playlist;
}

void hls_playlist_free(hls_playlist_t *playlist)
{
    if (!playlist)
        return;
    free(playlist->segments);
    free(playlist);
}

static int playlist_reserve(hls_playlist_t *playlist)
{
    if (playlist->count < playlist->capacity)
        return 0;
    size_t capacity = playlist->capacity ? playlist->capacity * 2 : 16;
    if (playlist->window_segments > 0 && capacity > (size_t)playlist->window_segments)
        capacity = (size_t)playlist->window_segments;
    hls_segment_t *grown = realloc(playlist->segments, capacity * sizeof *grown);
    if (!grown)
        return HLS_ERR_NOMEM;
    playlist->segments = grown;
    playlist->capacity = capacity;
    return 0;
}

/* Drops the oldest segment, counting its discontinuity tag as RFC 8216 6.2.1 asks. */
static void playlist_evict_oldest(hls_playlist_t *playlist, hls_segment_t *evicted)
{
    if (playlist->segments[0].discontinuity)
        playlist->discontinuity_sequence++;
    if (evicted)
        *evicted = playlist->segments[0];
    playlist->count--;
    memmove(playlist->segments, playlist->segments + 1, playlist->count * sizeof(hls_segment_t));
}

int hls_playlist_append(hls_playlist_t *playlist, const hls_segment_t *segment,
                        hls_segment_t *evicted)
{
    if (!playlist || !segment || !uri_valid(segment->uri, HLS_URI_MAX) || segment->sequence < 0 ||
        isnan(segment->duration_s) || segment->duration_s < 0)
        return HLS_ERR_INVALID;
    if (playlist->count > 0 &&
        segment->sequence != playlist->segments[playlist->count - 1].sequence + 1)
        return HLS_ERR_INVALID;
    int slid = 0;
    if (playlist->window_segments > 0 && playlist->count == (size_t)playlist->window_segments) {
        playlist_evict_oldest(playlist, evicted);
        slid = 1;
    }
    if (playlist_reserve(playlist) < 0)
        return HLS_ERR_NOMEM;
    playlist->segments[playlist->count++] = *segment;
    long long seconds = (duration_ms(segment->duration_s) + 999) / 1000;
    if (seconds > playlist->target_duration_s)
        playlist->target_duration_s = seconds > INT_MAX ? INT_MAX : (int)seconds;
    return slid;
}

void hls_playlist_set_ended(hls_playlist_t *playlist, bool ended)
{
    playlist->ended = ended;
}

size_t hls_playlist_count(const hls_playlist_t *playlist)
{
    return playlist->count;
}

int hls_playlist_target_duration(const hls_playlist_t *playlist)
{
    return playlist->target_duration_s;
}

/* Writes "2024-05-01T12:00:00.123Z" for ms since epoch. */
static void format_date_time(int64_t ms, char *out, size_t size)
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm utc;
    if (!gmtime_r(&seconds, &utc)) {
        snprintf(out, size, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
             utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, (int)(ms % 1000));
}

static void render_segment(FILE *out, const hls_segment_t *segment)
{
    if (segment->discontinuity)
        fputs("#EXT-X-DISCONTINUITY\n", out);
    if (segment->program_date_time_ms > 0) {
        char date[80]; /* the longest struct tm fields could print, not just real dates */
        format_date_time(segment->program_date_time_ms, date, sizeof date);
        fprintf(out, "#EXT-X-PROGRAM-DATE-TIME:%s\n", date);
    }
    long long ms = duration_ms(segment->duration_s);
    fprintf(out, "#EXTINF:%lld.%03lld,\n%s\n", ms / 1000, ms % 1000, segment->uri);
}

/* Renders through a memory stream; returns the text or NULL when out of memory. */
typedef void (*render_fn)(FILE *out, const void *ctx);

static char *render_text(render_fn render, const void *ctx)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return NULL;
    render(out, ctx);
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed) {
        free(text);
        return NULL;
    }
    return text;
}

static void render_media(FILE *out, const void *ctx)
{
    const hls_playlist_t *playlist = ctx;
    int64_t first_sequence = playlist->count ? playlist->segments[0].sequence : 0;
    fprintf(out,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%" PRId64
            "\n",
            playlist->target_duration_s, first_sequence);
    if (playlist->discontinuity_sequence > 0)
        fprintf(out, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRId64 "\n",
                playlist->discontinuity_sequence);
    /* Every segment starts with a keyframe (or is audio), so each decodes on its own. */
    fputs("#EXT-X-INDEPENDENT-SEGMENTS\n", out);
    for (size_t i = 0; i < playlist->count; i++)
        render_segment(out, &playlist->segments[i]);
    if (playlist->ended)
        fputs("#EXT-X-ENDLIST\n", out);
}

char *hls_playlist_render(const hls_playlist_t *playlist)
{
    return render_text(render_media, playlist);
}

/* Writes text to path through path.tmp (see fs_write_atomic). */
static int write_atomic(const char *path, const char *text, char *err, size_t err_size)
{
    int ret = fs_write_atomic(path, text, strlen(text), err, err_size);
    return ret == -ENOMEM ? HLS_ERR_NOMEM : ret < 0 ? HLS_ERR_IO : 0;
}

int hls_playlist_write(const hls_playlist_t *playlist, const char *path, char *err, size_t err_size)
{
    char *text = hls_playlist_render(playlist);
    if (!text) {
        errbuf_set(err, err_size, 0, "out of memory rendering %s", path);
        return HLS_ERR_NOMEM;
    }
    int ret = write_atomic(path, text, err, err_size);
    free(text);
    return ret;
}

/* ---- master playlist ---- */

typedef struct master_ctx {
    const hls_variant_t *variants;
    size_t count;
} master_ctx_t;

static void render_variant(FILE *out, const hls_variant_t *variant)
{
    fprintf(out, "#EXT-X-STREAM-INF:BANDWIDTH=%" PRIu64, variant->bandwidth);
    if (variant->average_bandwidth > 0)
        fprintf(out, ",AVERAGE-BANDWIDTH=%" PRIu64, variant->average_bandwidth);
    if (variant->codecs && variant->codecs[0])
        fprintf(out, ",CODECS=\"%s\"", variant->codecs);
    if (variant->width > 0 && variant->height > 0)
        fprintf(out, ",RESOLUTION=%dx%d", variant->width, variant->height);
    if (variant->frame_rate > 0)
        fprintf(out, ",FRAME-RATE=%.3f", variant->frame_rate);
    fprintf(out, "\n%s\n", variant->uri);
}

static void render_master(FILE *out, const void *ctx)
{
    const master_ctx_t *master = ctx;
    fputs("#EXTM3U\n#EXT-X-VERSION:3\n", out);
    for (size_t i = 0; i < master->count; i++)
        render_variant(out, &master->variants[i]);
}

static bool variant_valid(const hls_variant_t *variant, char *err, size_t err_size)
{
    if (!uri_valid(variant->uri, HLS_URI_MAX)) {
        errbuf_set(err, err_size, 0, "invalid variant URI: %s",
                   variant->uri ? variant->uri : "(null)");
        return false;
    }
    if (variant->codecs && strpbrk(variant->codecs, "\"\r\n")) {
        errbuf_set(err, err_size, 0, "invalid codecs string for %s", variant->uri);
        return false;
    }
    if (variant->width < 0 || variant->height < 0 || isnan(variant->frame_rate) ||
        variant->frame_rate < 0 || variant->frame_rate > 1000) {
        errbuf_set(err, err_size, 0, "invalid resolution or frame rate for %s", variant->uri);
        return false;
    }
    return true;
}

static bool master_valid(const hls_variant_t *variants, size_t count, char *err, size_t err_size)
{
    if (!variants || count == 0) {
        errbuf_set(err, err_size, 0, "master playlist without variants");
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        if (!variant_valid(&variants[i], err, err_size))
            return false;
    }
    return true;
}

char *hls_master_render(const hls_variant_t *variants, size_t count, char *err, size_t err_size)
{
    if (!master_valid(variants, count, err, err_size))
        return NULL;
    master_ctx_t master = {.variants = variants, .count = count};
    char *text = render_text(render_master, &master);
    if (!text)
        errbuf_set(err, err_size, 0, "out of memory rendering the master playlist");
    return text;
}

int hls_write_master(const char *path, const hls_variant_t *variants, size_t count, char *err,
                     size_t err_size)
{
    if (!master_valid(variants, count, err, err_size))
        return HLS_ERR_INVALID;
    char *text = hls_master_render(variants, count, err, err_size);
    if (!text)
        return HLS_ERR_NOMEM;
    int ret = write_atomic(path, text, err, err_size);
    free(text);
    return ret;
}

/* ---- codec strings ---- */

int hls_codec_avc1(const uint8_t *avcc, size_t len, char out[HLS_CODEC_MAX])
{
    if (!avcc || len < 4 || avcc[0] != 1)
        return -1;
    snprintf(out, HLS_CODEC_MAX, "avc1.%02x%02x%02x", avcc[1], avcc[2], avcc[3]);
    return 0;
}

int hls_codec_mp4a(const uint8_t *asc, size_t len, char out[HLS_CODEC_MAX])
{
    codec_aac_config_t config;
    if (codec_aac_config_parse(asc, len, &config, NULL, 0) < 0)
        return -1;
    snprintf(out, HLS_CODEC_MAX, "mp4a.40.%d", config.object_type);
    return 0;
}

void hls_segment_name(int64_t sequence, char *out, size_t size)
{
    snprintf(out, size, "%05" PRId64 ".ts", sequence);
}
