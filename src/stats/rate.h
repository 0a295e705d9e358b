/* Byte rates over a sliding window: bytes per second over the last few seconds, so a rate falls
 * to 0 within one window once the bytes stop. Not thread-safe: a window has one owner thread. */
#ifndef STREAMD_STATS_RATE_H
#define STREAMD_STATS_RATE_H

#include <stdint.h>

#define RATE_BUCKETS 10

typedef struct rate_window {
    int64_t bucket_ms;              /* width of one bucket, ms */
    uint64_t buckets[RATE_BUCKETS]; /* bytes counted in each bucket */
    int64_t newest_bucket;          /* absolute number (time / bucket_ms) of the newest bucket */
    int64_t first_ms;               /* monotonic ms of the first add; -1 before it */
} rate_window_t;

/* Sets up an empty window spanning window_ms (at least RATE_BUCKETS ms). */
void rate_init(rate_window_t *rate, int64_t window_ms);

/* Starts the measured span at now_ms with no bytes yet, so a first burst (a whole segment
 * arriving at once) is spread over the time since the start rather than over one bucket. */
void rate_start(rate_window_t *rate, int64_t now_ms);

/* Counts bytes at monotonic time now_ms (times must not go back). */
void rate_add(rate_window_t *rate, int64_t now_ms, uint64_t bytes);

/* Bytes per second over the window ending at now_ms; over the time since the first add while
 * that is shorter than the window. 0 when nothing was counted within the window. */
double rate_bytes_per_s(const rate_window_t *rate, int64_t now_ms);

#endif
