/* Transcoding ladder: parses a stream's `profiles` (API.md section 1, ffmpeg-profile) into a fixed
 * array, and plans the renditions for a given source: output sizes that keep the source aspect
 * ratio and never upscale, output frame rates, which earlier picture each rung is scaled from
 * (the scale cascade) and the order to encode them in.
 *
 * Pure functions on caller-owned values: no allocation that outlives a call, no I/O, no logging
 * (the plan carries the reasons for what it clamped or skipped; the caller logs them). Any thread
 * may call them. */
#ifndef STREAMD_MEDIA_LADDER_H
#define STREAMD_MEDIA_LADDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/rendition_name.h"

#define LADDER_MAX_RUNGS RENDITION_LADDER_MAX /* profiles accepted in one ladder */
#define LADDER_NAME_MAX RENDITION_NAME_MAX    /* bytes of a profile name, with the NUL */
#define LADDER_NOTE_MAX 192                   /* bytes of a plan note, with the NUL */
#define LADDER_MIN_BOX 128   /* smallest width / height a profile may ask for (schema) */
#define LADDER_MAX_BOX 8192  /* largest width / height a profile may ask for */
#define LADDER_MIN_OUTPUT 16 /* smaller planned pictures are skipped */
#define LADDER_MAX_SCALE_STEP                                                                      \
    2 /* a rung is scaled from a larger rung only when it is at most                               \
         this many times smaller in each dimension */

/* H.264 profile of a rung (the `profile` field). */
typedef enum {
    LADDER_H264_DEFAULT = 0,      /* absent: the encoder's choice (x264: High) */
    LADDER_H264_BASELINE,         /* "H264Baseline" */
    LADDER_H264_MAIN,             /* "H264Main" */
    LADDER_H264_HIGH,             /* "H264High" */
    LADDER_H264_CONSTRAINED_HIGH, /* "H264ConstrainedHigh": High without B-frames */
} ladder_h264_profile_t;

/* One parsed profile, as the user asked for it. */
typedef struct ladder_profile {
    char name[LADDER_NAME_MAX]; /* rendition name and directory (rendition_name_check) */
    int width, height;          /* pixels: the box the picture must fit in */
    int64_t bitrate;            /* bits per second */
    int fps;                    /* frames per second numerator; 0 = keep the source rate */
    int fps_den;                /* frame rate denominator, >= 1 (1 when absent) */
    double gop_s;               /* media seconds between keyframes; 0 = absent (one keyframe per
                                   segment, at its start) */
    ladder_h264_profile_t profile;
    int quality; /* 0..44, CRF-like; -1 = absent (bitrate-driven) */
} ladder_profile_t;

/* A parsed ladder: profiles in the order the user gave them. */
typedef struct ladder {
    size_t count; /* 0 = passthrough: the source is the only rendition */
    ladder_profile_t profiles[LADDER_MAX_RUNGS];
} ladder_t;

/* The JSON text of Studio's default ladder (240p0, 360p0, 480p0, 720p0; ConstrainedHigh). */
extern const char ladder_default_json[];

/* Parses `profiles` JSON text (len bytes, need not be NUL-terminated) into *out. NULL or JSON
 * null means the default ladder; [] is passthrough. Returns 0, or -1 with a message naming the
 * profile and field in err when the text is not a JSON array of valid profiles (unknown fields are
 * ignored). *out is zeroed on failure. */
int ladder_parse(const char *json, size_t len, ladder_t *out, char *err, size_t err_size);

/* True when the `profiles` JSON text (NUL-terminated; NULL = the default ladder) is the empty
 * array: passthrough, nothing to transcode. */
bool ladder_is_passthrough(const char *json);

/* The H.264 profile's API name ("H264Main", ...); "" for LADDER_H264_DEFAULT. */
const char *ladder_profile_name(ladder_h264_profile_t profile);

/* What the plan knows of the source picture. */
typedef struct ladder_source {
    int width, height;    /* decoded picture, pixels */
    int fps_num, fps_den; /* frames per second; 0/0 = unknown */
} ladder_source_t;

/* One rung of a plan. */
typedef struct ladder_rung {
    size_t profile;             /* index into ladder->profiles */
    int width, height;          /* output pixels, even */
    int fps_num, fps_den;       /* output frames per second (the source's when it keeps it; 0/1
                                   when the source rate is unknown and the profile says 0) */
    bool source_rate;           /* takes every source frame (no frame is dropped) */
    bool clamped;               /* the profile asked for more than the source: source size */
    int parent;                 /* index in plan->rungs of the rung whose picture this one is scaled
                                   from (always earlier in the order); -1 = the decoded source */
    char note[LADDER_NOTE_MAX]; /* why it was clamped or its rate lowered; "" when as asked */
} ladder_rung_t;

/* A profile the plan left out, and why. */
typedef struct ladder_skip {
    size_t profile; /* index into ladder->profiles */
    char reason[LADDER_NOTE_MAX];
} ladder_skip_t;

/* The ladder planned for one source. */
typedef struct ladder_plan {
    size_t count;                          /* rungs to encode */
    ladder_rung_t rungs[LADDER_MAX_RUNGS]; /* encoding order: largest picture first, so every
                                             parent comes before the rungs scaled from it */
    size_t skipped_count;
    ladder_skip_t skipped[LADDER_MAX_RUNGS];
} ladder_plan_t;

/* Plans ladder for source into *out. Each rung fits its profile's box (turned to portrait for a
 * portrait source) with the source aspect ratio, the box's short side first; sizes are even. A
 * rung larger than the source is clamped to the source size (even), or skipped when a rung of the
 * same size and rate already exists (profiles that fit are kept before clamped ones). Frame rate:
 * fps 0 = the source's; otherwise fps/fpsDen, never above the source's. Each rung is scaled from
 * the smallest larger-or-equal rung at most LADDER_MAX_SCALE_STEP times its size whose frames it
 * can use (one that keeps the source rate, or has the same rate), else from the source. Returns 0,
 * or -1 with a message in err when the source size is invalid. */
int ladder_plan(const ladder_t *ladder, const ladder_source_t *source, ladder_plan_t *out,
                char *err, size_t err_size);

#endif
