/* Transcoder internals shared by its two files: transcoder.c (the worker thread: queue, demux,
 * decode, dispatch, public API) and transcoder_rung.c (the rung threads: scale, encode, write and
 * list rendition segments). Nothing outside src/media/transcoder*.c includes this header.
 *
 * Ownership: the transcoder owns its outputs (one per profile, as long as the transcoder) and,
 * for the current run, its rungs; a rung owns its scaler, picture pool, encoder, muxer and the
 * message queue other threads push into. */
#ifndef STREAMD_MEDIA_TRANSCODER_INTERNAL_H
#define STREAMD_MEDIA_TRANSCODER_INTERNAL_H

#include "media/transcoder.h"

#include "media/ts_mux.h"
#include "util/errbuf.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>

#define LOG_MODULE "transcoder"

#define RUNG_QUEUE 8                       /* messages waiting per rung thread */
#define TS_HZ 90000                        /* MPEG-TS clock */
#define DIR_MAX (SEGMENTER_PATH_MAX - 128) /* room for "/{name}/NNNNN.ts.tmp" */
#define PRESET_MAX 32
#define LOG_ID_MAX 128
#define ERR_MAX TRANSCODER_ERROR_MAX

static const AVRational ts_time_base = {1, TS_HZ};

/* Every message of this module fits the callers' TRANSCODER_ERROR_MAX buffers. */
#define set_error(err, ...) errbuf_set((err), ERR_MAX, 0, __VA_ARGS__)

/* ---- per-rendition output: directory, playlist, counters (as long as the transcoder) ---- */

typedef struct output {
    char dir[DIR_MAX + 64];           /* live_dir/{name} */
    char playlist_path[DIR_MAX + 80]; /* live_dir/{name}/index.m3u8 */
    hls_playlist_t *playlist;         /* NULL until the first segment */
    bool listed_any;                  /* a segment has been listed */
    int64_t last_source_sequence;     /* source sequence of the last listed segment */
    int64_t last_playlist_sequence;   /* its media sequence number in our playlist */
    bool next_discontinuity;          /* the next segment follows a break (new run, failure) */
    segmenter_retired_t retired;      /* segments slid out of the playlist, deleted later */
    uint64_t bytes;                   /* all listed segments */
    double duration_s;                /* media seconds listed */
    transcoder_rendition_t info;      /* guarded by transcoder.lock */
    bool visible;                     /* the playlist is on disk; guarded by transcoder.lock */
} output_t;

/* ---- messages between the worker and the rung threads ---- */

typedef enum { MSG_START, MSG_FRAME, MSG_AUDIO, MSG_END, MSG_QUIT } msg_type_t;

typedef struct msg {
    msg_type_t type;
    AVFrame *frame;   /* MSG_FRAME: a reference the receiver owns */
    AVPacket *packet; /* MSG_AUDIO: a reference the receiver owns */
} msg_t;

typedef struct msg_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    msg_t items[RUNG_QUEUE];
    size_t head, count;
} msg_queue_t;

/* ---- the segment being transcoded (written by the worker before START, read-only after) ---- */

typedef struct job {
    segment_info_t info; /* the source segment */
    int64_t start_pts;   /* 90 kHz pts of its first decoded frame (unwrapped) */
    int source_fps_num;  /* source frame rate of the run; 0/0 unknown */
    int source_fps_den;
    enum AVColorSpace colorspace; /* of the first frame, for the encoders */
    enum AVColorPrimaries color_primaries;
    enum AVColorTransferCharacteristic color_trc;
} job_t;

/* What a rung reports to the worker at END. */
typedef struct rung_result {
    bool listed;          /* a segment was written and listed */
    bool failed;          /* the rung failed on this segment */
    char error[ERR_MAX];  /* why */
    segment_info_t info;  /* the rendition segment as listed */
    double cpu_s, wall_s; /* rung thread CPU and busy wall seconds on this segment */
} rung_result_t;

typedef struct rung {
    transcoder_t *t;
    ladder_rung_t plan;
    const ladder_profile_t *profile;
    output_t *out;
    struct rung *children[LADDER_MAX_RUNGS];
    size_t child_count;
    msg_queue_t queue;
    pthread_t thread;
    bool thread_started;

    /* picture */
    struct SwsContext *sws;
    AVBufferPool *pool;
    int pool_buffer_size; /* bytes of one pooled picture */

    /* encoder and muxer, kept across segments of a run */
    AVCodecContext *encoder;
    ts_mux_writer_t ts;           /* the run's muxer and the segment's file */
    AVCodecParameters *audio_par; /* NULL = no audio in the run */
    int mux_video, mux_audio;     /* stream indexes; -1 = none */
    int64_t last_audio_dts;       /* 90 kHz, last audio dts written by this muxer */
    AVPacket *packet;
    char codecs[2 * HLS_CODEC_MAX];

    /* the segment in progress */
    const job_t *job;
    bool seg_failed; /* this rung failed on the segment: it is thrown away at END */
    char seg_error[ERR_MAX];
    int64_t grid_next;         /* next output frame index on the rate grid */
    int64_t half_source_frame; /* 90 kHz; tolerance when picking frames for a lower rate */
    int frames_sent, packets_received;
    double cpu_start;    /* thread CPU seconds at START */
    double busy_wall;    /* wall seconds handling this segment's messages */
    double blocked_wall; /* of those, waiting for a child's full queue */
    rung_result_t result;
} rung_t;

/* The source properties a plan is made for; a change means a new run. */
typedef struct run_key {
    int width, height;
    int fps_num, fps_den;
    bool audio;
    int sample_rate, channels, audio_profile;
} run_key_t;

struct transcoder {
    /* settings (read-only after new) */
    char live_dir[DIR_MAX];
    char preset[PRESET_MAX];
    char log_id[LOG_ID_MAX];
    int threads;
    int window_segments;
    size_t queue_capacity;
    int extra_delay_ms;
    ladder_t ladder;
    transcoder_callbacks_t cb;

    /* queue and counters, guarded by lock */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the worker has something to do */
    pthread_cond_t idle; /* a finish request was served */
    segment_info_t *queue;
    size_t queue_head, queue_count;
    bool stopping;
    uint64_t finish_requested, finish_served;
    int finish_result;
    transcoder_stats_t stats;
    pthread_t worker;
    bool worker_started;

    /* END barrier: rungs that have not reported the current segment */
    pthread_mutex_t done_lock;
    pthread_cond_t done_cond;
    size_t rungs_pending;

    /* owned by the worker thread */
    output_t *outputs; /* ladder.count of them, by profile index; NULL for an empty ladder */
    AVCodecContext *decoder;
    bool have_run;
    run_key_t run;
    ladder_plan_t plan;
    rung_t *rungs[LADDER_MAX_RUNGS]; /* by plan index */
    size_t rung_count;
    job_t job;
    bool have_last_pts;
    int64_t last_pts;  /* largest unwrapped pts seen, to unwrap the next segment */
    int64_t ts_offset; /* added to the current segment's timestamps (multiple of 2^33) */
    AVFrame *frame;
};

/* ---- transcoder_rung.c, called by the worker thread ---- */

/* Plans the ladder for key and starts its rung threads. Returns 0 or -1 with err set (then
 * transcoder_stop_rungs frees what was started). */
int transcoder_start_rungs(transcoder_t *t, const run_key_t *key,
                           const AVCodecParameters *audio_par, char *err);

/* Stops every rung thread (QUIT flows down the tree) and frees the rungs. */
void transcoder_stop_rungs(transcoder_t *t);

/* Hands m to rung r, blocking while its queue is full; takes ownership of m's references. */
void transcoder_rung_send(rung_t *r, msg_t m);

#endif
