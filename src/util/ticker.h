/* A ticker: one thread that calls a function every interval until it is stopped. The wait is a
 * timed wait on a condition variable, so a stop wakes it at once rather than after the interval;
 * a call in progress finishes first.
 *
 * Owns: its thread. ticker_start and ticker_stop are called by one thread (the owner's). */
#ifndef STREAMD_UTIL_TICKER_H
#define STREAMD_UTIL_TICKER_H

#include <stddef.h>
#include <stdint.h>

typedef struct ticker ticker_t;

/* Called on the ticker's thread, once per interval. */
typedef void (*ticker_fn_t)(void *opaque);

/* Starts the thread: fn(opaque) runs interval_ms (> 0) after the start, then every interval_ms
 * after the previous call returned. name (copied; at most 15 bytes are kept) names the thread.
 * Returns NULL with a message in err. */
ticker_t *ticker_start(const char *name, int64_t interval_ms, ticker_fn_t fn, void *opaque,
                       char *err, size_t err_size);

/* Calls done so far: a plain monotonic counter (tests, diagnostics). Any thread. */
uint64_t ticker_ticks(const ticker_t *ticker);

/* Wakes the thread, waits for the call in progress (if any) to finish and frees; NULL is a
 * no-op. */
void ticker_stop(ticker_t *ticker);

#endif
