/* Unit tests for the peer guard: admissions in all and per address, the hold of an address that
 * guesses keys (doubling, capped, ended by a good key or a quiet minute), the counters, and the
 * address of a peer string. */
#include <criterion/criterion.h>

#include "util/peer_guard.h"

static peer_guard_t *guard_with(unsigned total, unsigned per_ip, unsigned keys)
{
    peer_guard_limits_t limits = {
        .max_connections = total, .max_connections_per_ip = per_ip, .key_failures_allowed = keys};
    peer_guard_t *guard = peer_guard_new(&limits);
    cr_assert_not_null(guard);
    return guard;
}

Test(peer_guard, per_address_and_total_limits)
{
    peer_guard_t *guard = guard_with(3, 2, 5);
    cr_assert_eq(peer_guard_enter(guard, "10.0.0.1", "rtmp", 0), PEER_ADMITTED);
    cr_assert_eq(peer_guard_enter(guard, "10.0.0.1", "http", 0), PEER_ADMITTED);
    cr_assert_eq(peer_guard_enter(guard, "10.0.0.1", "http", 0), PEER_REFUSED_ADDRESS);
    cr_assert_eq(peer_guard_enter(guard, "10.0.0.2", "http", 0), PEER_ADMITTED);
    cr_assert_eq(peer_guard_enter(guard, "10.0.0.3", "http", 0), PEER_REFUSED_TOTAL);
    peer_guard_leave(guard, "10.0.0.1");
    cr_assert_eq(peer_guard_enter(guard, "10.0.0.3", "http", 0), PEER_ADMITTED);
    cr_assert_eq(peer_guard_enter(guard, "10.0.0.1", "http", 0), PEER_REFUSED_TOTAL);
    peer_guard_counts_t counts;
    peer_guard_counts(guard, &counts);
    cr_assert_eq(counts.open, 3);
    cr_assert_eq(counts.refused_address, 1);
    cr_assert_eq(counts.refused_total, 2);
    peer_guard_leave(guard, "10.0.0.1");
    peer_guard_leave(guard, "10.0.0.2");
    peer_guard_leave(guard, "10.0.0.3");
    peer_guard_leave(guard, "10.0.0.3"); /* one too many: ignored */
    peer_guard_counts(guard, &counts);
    cr_assert_eq(counts.open, 0);
    peer_guard_free(guard);
}

Test(peer_guard, zero_means_no_limit)
{
    peer_guard_t *guard = guard_with(0, 0, 5);
    for (int i = 0; i < 5000; i++)
        cr_assert_eq(peer_guard_enter(guard, "10.0.0.1", "rtmp", 0), PEER_ADMITTED);
    for (int i = 0; i < 5000; i++)
        peer_guard_leave(guard, "10.0.0.1");
    peer_guard_free(guard);
}

Test(peer_guard, wrong_keys_hold_the_address_longer_each_time)
{
    peer_guard_t *guard = guard_with(0, 0, 3);
    int64_t now = 1000;
    for (int i = 0; i < 3; i++) {
        peer_guard_key_failed(guard, "10.0.0.9", now);
        cr_assert_eq(peer_guard_hold_ms(guard, "10.0.0.9", now), 0, "within the allowance");
    }
    int64_t expected = PEER_GUARD_HOLD_FIRST_MS;
    for (int i = 0; i < 12; i++) {
        peer_guard_key_failed(guard, "10.0.0.9", now);
        cr_assert_eq(peer_guard_hold_ms(guard, "10.0.0.9", now), expected, "after %d more", i + 1);
        expected = expected * 2 > PEER_GUARD_HOLD_MAX_MS ? PEER_GUARD_HOLD_MAX_MS : expected * 2;
    }
    cr_assert_eq(peer_guard_hold_ms(guard, "10.0.0.8", now), 0, "another address");
    /* A quiet burst window ends it. */
    now += PEER_GUARD_BURST_MS;
    cr_assert_eq(peer_guard_hold_ms(guard, "10.0.0.9", now), 0);
    peer_guard_key_failed(guard, "10.0.0.9", now);
    cr_assert_eq(peer_guard_hold_ms(guard, "10.0.0.9", now), 0, "a new burst starts from zero");
    peer_guard_counts_t counts;
    peer_guard_counts(guard, &counts);
    cr_assert_eq(counts.key_failures, 16);
    cr_assert_eq(counts.slowed, 12);
    peer_guard_free(guard);
}

Test(peer_guard, a_good_key_ends_the_burst)
{
    peer_guard_t *guard = guard_with(0, 0, 1);
    for (int i = 0; i < 4; i++)
        peer_guard_key_failed(guard, "10.0.0.9", 0);
    cr_assert_gt(peer_guard_hold_ms(guard, "10.0.0.9", 0), 0);
    peer_guard_key_accepted(guard, "10.0.0.9", 0);
    cr_assert_eq(peer_guard_hold_ms(guard, "10.0.0.9", 0), 0);
    peer_guard_free(guard);
}

Test(peer_guard, events_are_counted)
{
    peer_guard_t *guard = guard_with(0, 0, 1);
    peer_guard_count(guard, PEER_HEADER_TIMEOUT, 1);
    peer_guard_count(guard, PEER_HEADER_TIMEOUT, 1);
    peer_guard_count(guard, PEER_IDLE_TIMEOUT, 1);
    peer_guard_count(guard, PEER_EVENT_COUNT, 1); /* not an event: ignored */
    peer_guard_counts_t counts;
    peer_guard_counts(guard, &counts);
    cr_assert_eq(counts.events[PEER_HEADER_TIMEOUT], 2);
    cr_assert_eq(counts.events[PEER_IDLE_TIMEOUT], 1);
    cr_assert_eq(counts.events[PEER_HANDSHAKE_TIMEOUT], 0);
    peer_guard_free(guard);
}

Test(peer_guard, address_of_a_peer)
{
    char out[PEER_GUARD_ADDRESS_MAX];
    peer_guard_address_of("192.0.2.7:51234", out, sizeof out);
    cr_assert_str_eq(out, "192.0.2.7");
    peer_guard_address_of("[2001:db8::1]:1935", out, sizeof out);
    cr_assert_str_eq(out, "2001:db8::1");
    peer_guard_address_of("[2001:db8::1", out, sizeof out);
    cr_assert_str_eq(out, "2001:db8::1");
    peer_guard_address_of("no-port", out, sizeof out);
    cr_assert_str_eq(out, "no-port");
    peer_guard_address_of("", out, sizeof out);
    cr_assert_str_eq(out, "");
}
