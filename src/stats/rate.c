/* Sliding-window byte rate with fixed buckets. */
#include "stats/rate.h"

#include <string.h>

void rate_init(rate_window_t *rate, int64_t window_ms)
{
    memset(rate, 0, sizeof *rate);
    rate->bucket_ms = window_ms / RATE_BUCKETS > 0 ? window_ms / RATE_BUCKETS : 1;
    rate->first_ms = -1;
}

/* Moves the window so its newest bucket is the one holding now_ms, emptying the buckets that
 * it passes. */
static void advance(rate_window_t *rate, int64_t now_bucket)
{
    if (now_bucket <= rate->newest_bucket)
        return;
    int64_t steps = now_bucket - rate->newest_bucket;
    if (steps >= RATE_BUCKETS) {
        memset(rate->buckets, 0, sizeof rate->buckets);
    } else {
        for (int64_t b = rate->newest_bucket + 1; b <= now_bucket; b++)
            rate->buckets[b % RATE_BUCKETS] = 0;
    }
    rate->newest_bucket = now_bucket;
}

void rate_start(rate_window_t *rate, int64_t now_ms)
{
    memset(rate->buckets, 0, sizeof rate->buckets);
    rate->newest_bucket = now_ms / rate->bucket_ms;
    rate->first_ms = now_ms;
}

void rate_add(rate_window_t *rate, int64_t now_ms, uint64_t bytes)
{
    int64_t now_bucket = now_ms / rate->bucket_ms;
    if (rate->first_ms < 0)
        rate_start(rate, now_ms);
    advance(rate, now_bucket);
    rate->buckets[now_bucket % RATE_BUCKETS] += bytes;
}

double rate_bytes_per_s(const rate_window_t *rate, int64_t now_ms)
{
    if (rate->first_ms < 0)
        return 0;
    int64_t now_bucket = now_ms / rate->bucket_ms;
    uint64_t total = 0;
    for (int64_t b = now_bucket - RATE_BUCKETS + 1; b <= now_bucket; b++) {
        if (b >= 0 && b <= rate->newest_bucket && rate->newest_bucket - b < RATE_BUCKETS)
            total += rate->buckets[b % RATE_BUCKETS];
    }
    int64_t window_ms = rate->bucket_ms * RATE_BUCKETS;
    int64_t span_ms = now_ms - rate->first_ms + rate->bucket_ms;
    if (span_ms > window_ms)
        span_ms = window_ms;
    return (double)total * 1000.0 / (double)span_ms;
}
