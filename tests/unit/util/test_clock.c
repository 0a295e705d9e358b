/* Unit tests for the clocks: units, monotonicity, and that thread CPU time counts only work. */
#include <criterion/criterion.h>
#include <time.h>

#include "util/clock.h"

Test(clock, wall_clock_is_in_epoch_milliseconds)
{
    int64_t now = clock_now_ms();
    int64_t from_time = (int64_t)time(NULL) * 1000;
    cr_assert(now > from_time - 2000 && now < from_time + 2000, "now=%lld", (long long)now);
}

Test(clock, monotonic_clocks_agree_and_never_go_back)
{
    double s0 = clock_monotonic_s();
    int64_t ms0 = clock_monotonic_ms();
    for (int i = 0; i < 1000; i++) {
        double s = clock_monotonic_s();
        cr_assert_geq(s, s0);
        s0 = s;
    }
    int64_t ms1 = clock_monotonic_ms();
    cr_assert_geq(ms1, ms0);
    cr_assert_lt(s0 * 1000 - (double)ms1, 1000.0);
    cr_assert_gt(s0 * 1000 - (double)ms1, -1000.0);
}

Test(clock, thread_cpu_counts_work_not_sleep)
{
    double cpu0 = clock_thread_cpu_s(), wall0 = clock_monotonic_s();
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
    nanosleep(&pause, NULL);
    double slept_cpu = clock_thread_cpu_s() - cpu0;
    cr_assert_geq(clock_monotonic_s() - wall0, 0.19);
    cr_assert_lt(slept_cpu, 0.1, "sleeping used %f CPU seconds", slept_cpu);

    volatile double sink = 0;
    double busy0 = clock_thread_cpu_s();
    while (clock_thread_cpu_s() - busy0 < 0.05)
        sink += 1;
    cr_assert_gt(clock_thread_cpu_s() - busy0, 0.049);
    cr_assert_gt(sink, 0);
}
