/* The retry policy of webhook deliveries (retry.h). */
#include "hooks/retry.h"

retry_outcome_t retry_outcome(long http_status, bool transport_failed, bool refused)
{
    if (refused)
        return RETRY_GIVE_UP;
    if (transport_failed || http_status >= 500 || http_status <= 0)
        return RETRY_AGAIN;
    if (http_status >= 200 && http_status < 300)
        return RETRY_DELIVERED;
    return RETRY_GIVE_UP; /* 1xx as a final answer, 3xx, 4xx */
}

int64_t retry_delay_ms(int64_t retry)
{
    int64_t delay = RETRY_FIRST_DELAY_MS;
    for (int64_t i = 1; i < retry && delay < RETRY_MAX_DELAY_MS; i++)
        delay *= 2;
    return delay < RETRY_MAX_DELAY_MS ? delay : RETRY_MAX_DELAY_MS;
}

bool retry_allowed(int64_t attempts)
{
    return attempts >= 1 && attempts <= RETRY_MAX;
}
