/* Unit tests for the sliding-window byte rate. */
#include <criterion/criterion.h>

#include "stats/rate.h"

Test(rate, empty_window_is_zero)
{
    rate_window_t r;
    rate_init(&r, 5000);
    cr_assert_float_eq(rate_bytes_per_s(&r, 12345), 0, 1e-9);
}

Test(rate, steady_flow_gives_its_rate)
{
    rate_window_t r;
    rate_init(&r, 5000);
    /* 1000 bytes every 100 ms = 10000 B/s, for 10 s. */
    for (int64_t t = 100000; t < 110000; t += 100)
        rate_add(&r, t, 1000);
    cr_assert_float_eq(rate_bytes_per_s(&r, 109999), 10000, 300);
}

Test(rate, short_history_is_not_diluted_by_the_full_window)
{
    rate_window_t r;
    rate_init(&r, 5000);
    for (int64_t t = 1000; t < 2000; t += 100)
        rate_add(&r, t, 1000);
    /* 10000 bytes over about one second, not over five. */
    double rate = rate_bytes_per_s(&r, 1999);
    cr_assert(rate > 6000 && rate < 11000, "rate %f", rate);
}

Test(rate, falls_to_zero_once_bytes_stop)
{
    rate_window_t r;
    rate_init(&r, 5000);
    for (int64_t t = 0; t < 3000; t += 100)
        rate_add(&r, t, 500);
    cr_assert(rate_bytes_per_s(&r, 3000) > 0);
    cr_assert(rate_bytes_per_s(&r, 6000) > 0); /* part of the window still holds bytes */
    cr_assert_float_eq(rate_bytes_per_s(&r, 8100), 0, 1e-9);
    /* And a long gap followed by new bytes counts only the new ones. */
    rate_add(&r, 60000, 5000);
    double rate = rate_bytes_per_s(&r, 60000);
    cr_assert(rate > 0 && rate <= 5000 * 1000.0 / 500, "rate %f", rate);
}

Test(rate, a_burst_after_start_spreads_over_the_time_since_start)
{
    rate_window_t r;
    rate_init(&r, 5000);
    rate_start(&r, 10000);
    /* A 2 s segment's 500 kB lands at once, 2 s after the start: about 250 kB/s, not 4x. */
    rate_add(&r, 12000, 500000);
    double rate = rate_bytes_per_s(&r, 12000);
    cr_assert(rate > 180000 && rate < 260000, "rate %f", rate);
}
