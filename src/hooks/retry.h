/* When a webhook attempt counts as delivered, is tried again, or is given up, and when the next
 * try is: 5 s, doubling, at most 60 min apart, at most RETRY_MAX retries. Timeouts, connection
 * errors and 5xx are retried; a 4xx (the receiver refused it), a redirect (never followed) and a
 * refused address are not. Pure functions; any thread. */
#ifndef STREAMD_HOOKS_RETRY_H
#define STREAMD_HOOKS_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#define RETRY_FIRST_DELAY_MS 5000
#define RETRY_MAX_DELAY_MS (60 * 60 * 1000)
#define RETRY_MAX 33

typedef enum {
    RETRY_DELIVERED, /* 2xx */
    RETRY_AGAIN,     /* worth another attempt */
    RETRY_GIVE_UP,   /* another attempt would fail the same way */
} retry_outcome_t;

/* What an attempt's result means: http_status is the response's status (0 when none came);
 * transport_failed: no response (timeout, connection, TLS, DNS); refused: the address was not
 * allowed. */
retry_outcome_t retry_outcome(long http_status, bool transport_failed, bool refused);

/* The wait before retry number retry (1 = the first retry), in ms. */
int64_t retry_delay_ms(int64_t retry);

/* True when a delivery that has had attempts attempts (this one included) may be retried. */
bool retry_allowed(int64_t attempts);

#endif
