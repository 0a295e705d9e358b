/* Unit tests for hooks/retry: the backoff schedule (5 s doubling, capped at 60 min), the number
 * of retries, and which results are retried. */
#include "hooks/retry.h"

#include <criterion/criterion.h>

Test(retry, schedule_doubles_from_5_s_to_a_60_min_cap)
{
    const int64_t expected[] = {5000,   10000,  20000,   40000,   80000,   160000,
                                320000, 640000, 1280000, 2560000, 3600000, 3600000};
    for (int i = 0; i < 12; i++)
        cr_assert_eq(retry_delay_ms(i + 1), expected[i], "retry %d", i + 1);
    cr_assert_eq(retry_delay_ms(33), 3600000);
    cr_assert_eq(retry_delay_ms(INT64_MAX), 3600000, "no overflow");
    int64_t total = 0;
    for (int i = 1; i <= RETRY_MAX; i++)
        total += retry_delay_ms(i);
    /* 5 s .. 2560 s (10 steps), then 23 retries an hour apart: about a day of trying. */
    cr_assert_eq(total, 5115000 + 23 * 3600000LL);
}

Test(retry, at_most_33_retries)
{
    cr_assert(retry_allowed(1));
    cr_assert(retry_allowed(33));
    cr_assert_not(retry_allowed(34), "34 attempts = the first and 33 retries");
    cr_assert_not(retry_allowed(0));
}

Test(retry, what_is_retried)
{
    cr_assert_eq(retry_outcome(200, false, false), RETRY_DELIVERED);
    cr_assert_eq(retry_outcome(204, false, false), RETRY_DELIVERED);
    cr_assert_eq(retry_outcome(500, false, false), RETRY_AGAIN);
    cr_assert_eq(retry_outcome(503, false, false), RETRY_AGAIN);
    cr_assert_eq(retry_outcome(0, true, false), RETRY_AGAIN, "timeout or connection error");
    cr_assert_eq(retry_outcome(404, false, false), RETRY_GIVE_UP, "never on 4xx");
    cr_assert_eq(retry_outcome(400, false, false), RETRY_GIVE_UP);
    cr_assert_eq(retry_outcome(429, false, false), RETRY_GIVE_UP);
    cr_assert_eq(retry_outcome(301, false, false), RETRY_GIVE_UP, "redirects are not followed");
    cr_assert_eq(retry_outcome(0, true, true), RETRY_GIVE_UP, "a refused address stays refused");
}
