/* Time sources: wall clock for API timestamps, monotonic clock for durations and timeouts. */
#ifndef STREAMD_UTIL_CLOCK_H
#define STREAMD_UTIL_CLOCK_H

#include <stdint.h>

/* Wall-clock time in ms since the Unix epoch (the unit of every API timestamp). */
int64_t clock_now_ms(void);

/* Monotonic time in ms from an arbitrary origin; never goes back. */
int64_t clock_monotonic_ms(void);

/* The monotonic clock in seconds, for timing work to the microsecond. */
double clock_monotonic_s(void);

/* CPU seconds the calling thread has used; 0 where the clock is unavailable. */
double clock_thread_cpu_s(void);

#endif
