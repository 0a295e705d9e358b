/* HLS media and master playlists, following RFC 8216: a media playlist model (a sliding window,
 * or a recording's EVENT / VOD list) rendered to text and written atomically (util/fs), and the
 * parser that reads a media playlist back. */
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
    hls_playlist_type_t type;       /* #EXT-X-PLAYLIST-TYPE */
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

void hls_playlist_set_type(hls_playlist_t *playlist, hls_playlist_type_t type)
{
    playlist->type = type;
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
    fputs("#EXTM3U\n", out);
    /* Right after #EXTM3U, where recordings have always had it. */
    if (playlist->type == HLS_PLAYLIST_TYPE_EVENT)
        fputs("#EXT-X-PLAYLIST-TYPE:EVENT\n", out);
    else if (playlist->type == HLS_PLAYLIST_TYPE_VOD)
        fputs("#EXT-X-PLAYLIST-TYPE:VOD\n", out);
    fprintf(out, "#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%" PRId64 "\n",
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

/* ---- parsing ---- */

/* A media playlist being parsed: the header so far and the segment its tags are assembling. */
typedef struct parser {
    hls_playlist_header_t header;
    hls_segment_fn on_segment;
    void *opaque;
    hls_segment_t pending; /* duration, date and discontinuity of the next URI line */
    bool have_duration;    /* pending has a valid #EXTINF */
    int64_t delivered;     /* segments handed to on_segment */
} parser_t;

int64_t hls_segment_number(const char *name, size_t len)
{
    if (!name || len < 4 || len > 18 + 3 || memcmp(name + len - 3, ".ts", 3) != 0)
        return -1;
    int64_t number = 0;
    for (size_t i = 0; i < len - 3; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        number = number * 10 + (name[i] - '0');
    }
    return number;
}

/* A decimal integer of len bytes (digits only) up to max; -1 when it is not one. */
static int64_t parse_integer(const char *text, size_t len, int64_t max)
{
    if (len == 0)
        return -1;
    int64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        int digit = text[i] - '0';
        if (value > (max - digit) / 10)
            return -1;
        value = value * 10 + digit;
    }
    return value;
}

/* Sets *out to the integer value of an attribute when it is one up to max (else keeps it). */
static void take_integer(const char *value, size_t len, int64_t max, int64_t *out)
{
    int64_t parsed = parse_integer(value, len, max);
    if (parsed >= 0)
        *out = parsed;
}

static void take_int(const char *value, size_t len, int *out)
{
    int64_t parsed = parse_integer(value, len, INT_MAX);
    if (parsed >= 0)
        *out = (int)parsed;
}

/* Parses "2024-05-01T12:00:00.123Z" into ms since epoch; 0 when it does not parse. */
static int64_t parse_date_time(const char *text, size_t len)
{
    char buf[64];
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, text, len);
    buf[len] = '\0';
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest || rest[0] != '.' || strlen(rest) != 5 || rest[4] != 'Z')
        return 0;
    int ms = 0;
    for (int i = 1; i <= 3; i++) {
        if (rest[i] < '0' || rest[i] > '9')
            return 0;
        ms = ms * 10 + (rest[i] - '0');
    }
    time_t seconds = timegm(&tm);
    return seconds > 0 ? (int64_t)seconds * 1000 + ms : 0;
}

/* "#EXTINF:<duration>,[<title>]": the duration when it is a number from 0 to the maximum. */
static void parse_extinf(parser_t *p, const char *value, size_t len)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return;
    memcpy(buf, value, len);
    buf[len] = '\0';
    char *end = NULL;
    double duration = strtod(buf, &end);
    if (end != buf && (*end == ',' || *end == '\0') && isfinite(duration) && duration >= 0 &&
        duration <= HLS_DURATION_MAX_S) {
        p->pending.duration_s = duration;
        p->have_duration = true;
    }
}

static void parse_type(parser_t *p, const char *value, size_t len)
{
    if (len == 5 && memcmp(value, "EVENT", 5) == 0)
        p->header.type = HLS_PLAYLIST_TYPE_EVENT;
    else if (len == 3 && memcmp(value, "VOD", 3) == 0)
        p->header.type = HLS_PLAYLIST_TYPE_VOD;
}

/* A URI line completes the pending segment (when it has a duration) and starts the next. */
static int parse_uri(parser_t *p, const char *line, size_t len)
{
    int ret = 0;
    if (p->have_duration && len < HLS_URI_MAX && !memchr(line, '\0', len) &&
        p->header.media_sequence <= INT64_MAX - p->delivered) {
        memcpy(p->pending.uri, line, len);
        p->pending.uri[len] = '\0';
        p->pending.sequence = p->header.media_sequence + p->delivered;
        ret = p->on_segment(p->opaque, &p->pending);
        p->delivered++;
    }
    memset(&p->pending, 0, sizeof p->pending);
    p->have_duration = false;
    return ret;
}

/* The value after tag when line is tag followed by a value, else NULL. */
static const char *tag_value(const char *line, size_t len, const char *tag, size_t *value_len)
{
    size_t tag_len = strlen(tag);
    if (len < tag_len || memcmp(line, tag, tag_len) != 0)
        return NULL;
    *value_len = len - tag_len;
    return line + tag_len;
}

static bool line_equals(const char *line, size_t len, const char *tag)
{
    return len == strlen(tag) && memcmp(line, tag, len) == 0;
}

/* Handles one complete line (without its line break). */
static int parse_line(parser_t *p, const char *line, size_t len)
{
    const char *v;
    size_t n = 0;
    if (len == 0)
        return 0;
    if (line[0] != '#')
        return parse_uri(p, line, len);
    if ((v = tag_value(line, len, "#EXTINF:", &n)))
        parse_extinf(p, v, n);
    else if (line_equals(line, len, "#EXT-X-DISCONTINUITY"))
        p->pending.discontinuity = true;
    else if ((v = tag_value(line, len, "#EXT-X-PROGRAM-DATE-TIME:", &n)))
        p->pending.program_date_time_ms = parse_date_time(v, n);
    else if (line_equals(line, len, "#EXT-X-ENDLIST"))
        p->header.ended = true;
    else if ((v = tag_value(line, len, "#EXT-X-PLAYLIST-TYPE:", &n)))
        parse_type(p, v, n);
    else if ((v = tag_value(line, len, "#EXT-X-MEDIA-SEQUENCE:", &n)))
        take_integer(v, n, INT64_MAX, &p->header.media_sequence);
    else if ((v = tag_value(line, len, "#EXT-X-DISCONTINUITY-SEQUENCE:", &n)))
        take_integer(v, n, INT64_MAX, &p->header.discontinuity_sequence);
    else if ((v = tag_value(line, len, "#EXT-X-TARGETDURATION:", &n)))
        take_int(v, n, &p->header.target_duration_s);
    else if ((v = tag_value(line, len, "#EXT-X-VERSION:", &n)))
        take_int(v, n, &p->header.version);
    return 0;
}

int hls_playlist_parse(const char *text, size_t len, hls_segment_fn on_segment, void *opaque,
                       hls_playlist_header_t *header)
{
    if (header)
        memset(header, 0, sizeof *header);
    if (!text || !on_segment)
        return HLS_ERR_INVALID;
    parser_t p = {.on_segment = on_segment, .opaque = opaque};
    int ret = 0;
    for (size_t pos = 0; pos < len && ret == 0;) {
        const char *line = text + pos;
        const char *newline = memchr(line, '\n', len - pos);
        if (!newline)
            break; /* the last line was cut short */
        size_t line_len = (size_t)(newline - line);
        pos += line_len + 1;
        if (line_len > 0 && line[line_len - 1] == '\r')
            line_len--;
        ret = parse_line(&p, line, line_len);
    }
    if (header)
        *header = p.header;
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

static bool browser_decodable(const hls_variant_t *v)
{
    int profile_idc = codec_avc_profile_of(v->codecs ? v->codecs : "");
    return profile_idc < 0 || codec_avc_profile_browser_decodable(profile_idc);
}

int hls_write_master(const char *path, const hls_variant_t *variants, size_t count, char *err,
                     size_t err_size)
{
    if (!master_valid(variants, count, err, err_size))
        return HLS_ERR_INVALID;
    /* A player would pick a variant it cannot decode (a 10-bit or 4:4:4 source), and fail,
     * rather than skip it: such a variant is left out while another one remains. */
    hls_variant_t *kept = malloc((count ? count : 1) * sizeof *kept);
    if (!kept)
        return errbuf_set(err, err_size, HLS_ERR_NOMEM, "out of memory writing %s", path);
    size_t decodable = 0;
    for (size_t i = 0; i < count; i++)
        if (browser_decodable(&variants[i]))
            kept[decodable++] = variants[i];
    if (decodable == 0) {
        memcpy(kept, variants, count * sizeof *kept);
        decodable = count;
    }
    char *text = hls_master_render(kept, decodable, err, err_size);
    free(kept);
    if (!text)
        return HLS_ERR_NOMEM;
    int ret = write_atomic(path, text, err, err_size);
    free(text);
    return ret;
}

/* ---- codec strings ---- */

int hls_codec_avc1(const uint8_t *data, size_t len, char out[HLS_CODEC_MAX])
{
    const uint8_t *sps = NULL; /* profile_idc, constraint flags, level_idc */
    if (data && len >= 4 && data[0] == 1) {
        sps = data + 1;
    } else {
        for (size_t i = 0; data && i + 6 < len && !sps; i++) {
            bool start_code = data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1;
            if (start_code && (data[i + 3] & 0x1f) == 7) /* NAL unit type 7: an SPS */
                sps = data + i + 4;
        }
    }
    out[0] = '\0';
    if (!sps)
        return -1;
    snprintf(out, HLS_CODEC_MAX, "avc1.%02x%02x%02x", sps[0], sps[1], sps[2]);
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
