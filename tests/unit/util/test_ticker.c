/* Unit tests for the ticker: it calls at its interval, and a stop returns at once. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/ticker.h"

static void count(void *opaque)
{
    atomic_fetch_add((atomic_int *)opaque, 1);
}

Test(ticker, calls_at_its_interval_until_stopped)
{
    atomic_int calls = 0;
    char err[128];
    ticker_t *t = ticker_start("test", 10, count, &calls, err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    for (int i = 0; i < 200 && ticker_ticks(t) < 3; i++)
        usleep(10 * 1000);
    cr_assert_geq(ticker_ticks(t), 3);
    ticker_stop(t);
    int after_stop = atomic_load(&calls);
    cr_assert_geq(after_stop, 3);
    usleep(30 * 1000);
    cr_assert_eq(atomic_load(&calls), after_stop, "no call after the stop");
}

Test(ticker, a_stop_does_not_wait_for_the_interval)
{
    atomic_int calls = 0;
    char err[128];
    ticker_t *t = ticker_start("test", 60 * 1000, count, &calls, err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    int64_t before = clock_monotonic_ms();
    ticker_stop(t);
    cr_assert_lt(clock_monotonic_ms() - before, 500);
    cr_assert_eq(atomic_load(&calls), 0);
    ticker_stop(NULL);
}

Test(ticker, refuses_a_missing_interval_or_function)
{
    char err[128] = "";
    cr_assert_null(ticker_start("test", 0, count, NULL, err, sizeof err));
    cr_assert_null(ticker_start("test", 10, NULL, NULL, err, sizeof err));
    cr_assert(err[0]);
}
