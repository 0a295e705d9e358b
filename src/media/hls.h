/* HLS playlists (RFC 8216): the model of a media playlist (live with a sliding window, or an
 * EVENT / VOD recording), its writer and its parser, the master playlist writer, and RFC 6381
 * codec strings. Every file is written atomically
 * (PATH.tmp, then rename over PATH) so a player reads the old or the new playlist, never half of
 * one; there must be one writer per path. A playlist object belongs to one thread; the other
 * functions keep no state and any thread may call them. */
#ifndef STREAMD_MEDIA_HLS_H
#define STREAMD_MEDIA_HLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HLS_URI_MAX 128  /* bytes of a segment or variant URI, with the NUL */
#define HLS_CODEC_MAX 32 /* bytes of one codec string such as "avc1.64001f", with the NUL */
#define HLS_DURATION_MAX_S 3600.0 /* media seconds: a longer #EXTINF is not ours */

/* Error codes (negative). */
enum {
    HLS_ERR_IO = -1,      /* the file could not be written or renamed into place */
    HLS_ERR_INVALID = -2, /* bad argument: sequence gap, URI with a newline or quote, ... */
    HLS_ERR_NOMEM = -3,
};

/* One segment as the media playlist lists it. */
typedef struct hls_segment {
    int64_t sequence;             /* media sequence number */
    double duration_s;            /* media seconds; #EXTINF shows it with 3 decimals */
    int64_t program_date_time_ms; /* ms since epoch of the first sample; 0 = no date tag */
    bool discontinuity;           /* preceded by #EXT-X-DISCONTINUITY */
    char uri[HLS_URI_MAX];        /* relative to the playlist, e.g. "00012.ts" */
} hls_segment_t;

/* #EXT-X-PLAYLIST-TYPE: none for a live window, EVENT for a recording that grows, VOD once final.
 */
typedef enum hls_playlist_type {
    HLS_PLAYLIST_TYPE_NONE = 0, /* no tag */
    HLS_PLAYLIST_TYPE_EVENT,
    HLS_PLAYLIST_TYPE_VOD,
} hls_playlist_type_t;

typedef struct hls_playlist hls_playlist_t;

/* Writes the file name of segment `sequence` ("00012.ts": at least five digits) into out, the
 * one naming every rendition, live and recorded, shares. */
void hls_segment_name(int64_t sequence, char *out, size_t size);

/* The sequence in a segment file name of len bytes ("00012.ts": digits only, then ".ts", at most
 * 18 digits), or -1 when name is not one. */
int64_t hls_segment_number(const char *name, size_t len);

/* Creates an empty live media playlist that lists at most window_segments segments (0 = all of
 * them) and whose target duration is at least min_target_duration_s seconds. Returns NULL when out
 * of memory or when an argument is negative. The caller owns it and frees it with
 * hls_playlist_free. */
hls_playlist_t *hls_playlist_new(int window_segments, int min_target_duration_s);

/* Frees the playlist; NULL is a no-op. Files already written stay. */
void hls_playlist_free(hls_playlist_t *playlist);

/* Appends a copy of segment, whose sequence must follow the last one listed. When that pushes the
 * oldest segment out of the window, copies it to *evicted (when not NULL) and returns 1; returns 0
 * when nothing slid out, or HLS_ERR_INVALID / HLS_ERR_NOMEM. */
int hls_playlist_append(hls_playlist_t *playlist, const hls_segment_t *segment,
                        hls_segment_t *evicted);

/* Sets whether the playlist ends with #EXT-X-ENDLIST (the broadcast is over). */
void hls_playlist_set_ended(hls_playlist_t *playlist, bool ended);

/* Sets the #EXT-X-PLAYLIST-TYPE the playlist renders (HLS_PLAYLIST_TYPE_NONE, the default at
 * creation, renders none). */
void hls_playlist_set_type(hls_playlist_t *playlist, hls_playlist_type_t type);

/* Number of segments listed now. */
size_t hls_playlist_count(const hls_playlist_t *playlist);

/* #EXT-X-TARGETDURATION in seconds: the ceiling of the longest segment ever listed, and at least
 * the minimum given at creation. It never decreases. */
int hls_playlist_target_duration(const hls_playlist_t *playlist);

/* Returns the playlist text (NUL-terminated, caller frees with free()), or NULL when out of
 * memory. */
char *hls_playlist_render(const hls_playlist_t *playlist);

/* Writes the playlist atomically to path; returns 0, or HLS_ERR_IO / HLS_ERR_NOMEM with a message
 * in err. */
int hls_playlist_write(const hls_playlist_t *playlist, const char *path, char *err,
                       size_t err_size);

/* What the header tags of a parsed media playlist say; a tag absent or not understood leaves its
 * field 0 / NONE / false. */
typedef struct hls_playlist_header {
    int version;                    /* #EXT-X-VERSION */
    int target_duration_s;          /* #EXT-X-TARGETDURATION, seconds */
    int64_t media_sequence;         /* #EXT-X-MEDIA-SEQUENCE: the first segment's sequence */
    int64_t discontinuity_sequence; /* #EXT-X-DISCONTINUITY-SEQUENCE */
    hls_playlist_type_t type;       /* #EXT-X-PLAYLIST-TYPE */
    bool ended;                     /* #EXT-X-ENDLIST */
} hls_playlist_header_t;

/* Receives one parsed segment (valid during the call only); a negative return stops the parse. */
typedef int (*hls_segment_fn)(void *opaque, const hls_segment_t *segment);

/* Parses a media playlist of len bytes, as a crash may leave it or as anyone may have written it:
 * only complete lines count (a last line without its newline is ignored), a segment is an
 * #EXTINF of 0 to HLS_DURATION_MAX_S seconds followed by its URI line (at most HLS_URI_MAX - 1
 * bytes, no NUL), and every line not understood is skipped. Calls on_segment for each segment in
 * order, with its sequence counted from #EXT-X-MEDIA-SEQUENCE, its #EXT-X-DISCONTINUITY and
 * #EXT-X-PROGRAM-DATE-TIME. Allocates nothing. Fills *header when header is not NULL. Returns 0,
 * HLS_ERR_INVALID when text is NULL or on_segment is NULL, or the first negative value
 * on_segment returned. */
int hls_playlist_parse(const char *text, size_t len, hls_segment_fn on_segment, void *opaque,
                       hls_playlist_header_t *header);

/* One rendition as the master playlist lists it. */
typedef struct hls_variant {
    const char *uri;            /* media playlist relative to the master, "source/index.m3u8" */
    uint64_t bandwidth;         /* peak bits per second (BANDWIDTH) */
    uint64_t average_bandwidth; /* average bits per second; 0 = omit AVERAGE-BANDWIDTH */
    int width, height;          /* pixels; 0 = unknown, RESOLUTION omitted */
    double frame_rate;          /* frames per second; 0 = omit FRAME-RATE */
    const char *codecs;         /* "avc1.64001f,mp4a.40.2"; NULL or "" = omit CODECS */
} hls_variant_t;

/* Returns the master playlist text for count variants (caller frees with free()), or NULL with a
 * message in err when count is 0, a URI is empty, starts with '#' or holds a line break, the codecs
 * string holds a quote or line break, or a number is negative. */
char *hls_master_render(const hls_variant_t *variants, size_t count, char *err, size_t err_size);

/* Writes the master playlist atomically to path; returns 0, or HLS_ERR_INVALID / HLS_ERR_IO /
 * HLS_ERR_NOMEM with a message in err. */
int hls_write_master(const char *path, const hls_variant_t *variants, size_t count, char *err,
                     size_t err_size);

/* Writes the RFC 6381 string "avc1.PPCCLL" (lowercase hex profile, constraint flags, level) into
 * out, from an avcC record (version 1, as FLV carries it) or from Annex B bytes holding an SPS
 * (an MPEG-TS stream's extradata, a keyframe). Returns 0, or -1 with out empty when data is
 * neither. */
int hls_codec_avc1(const uint8_t *data, size_t len, char out[HLS_CODEC_MAX]);

/* Writes "mp4a.40.N" (N = audio object type) of an AudioSpecificConfig into out; returns 0, or -1
 * when the config does not parse. */
int hls_codec_mp4a(const uint8_t *asc, size_t len, char out[HLS_CODEC_MAX]);

#endif
