/* Wall and monotonic clocks in milliseconds; monotonic and thread CPU clocks in seconds. */
#include "util/clock.h"

#include <time.h>

static int64_t clock_read_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_now_ms(void)
{
    return clock_read_ms(CLOCK_REALTIME);
}

int64_t clock_monotonic_ms(void)
{
    return clock_read_ms(CLOCK_MONOTONIC);
}

static double clock_read_s(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_monotonic_s(void)
{
    return clock_read_s(CLOCK_MONOTONIC);
}

double clock_thread_cpu_s(void)
{
    return clock_read_s(CLOCK_THREAD_CPUTIME_ID);
}
