/* The server's housekeeping: one ticker (util/ticker.h) whose every call expires sessions and,
 * every retention interval, old recordings. */
#include "housekeeper.h"

#include <stdio.h>
#include <stdlib.h>

#include "media/recordings.h"
#include "util/clock.h"
#include "util/ticker.h"

struct housekeeper {
    housekeeper_config_t config;
    live_t *live;
    store_t *store;
    int64_t last_retention_ms; /* the ticker's thread only */
    ticker_t *ticker;
};

static void tick(void *opaque)
{
    housekeeper_t *h = opaque;
    int64_t now = clock_now_ms();
    live_expire(h->live, now);
    if (now - h->last_retention_ms >= h->config.retention_interval_ms) {
        recordings_expire(h->store, h->config.recordings_dir, h->config.recordings_max_age_s, now);
        h->last_retention_ms = now;
    }
}

housekeeper_t *housekeeper_start(const housekeeper_config_t *config, live_t *live, store_t *store,
                                 char *err, size_t err_size)
{
    housekeeper_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    h->config = *config;
    if (h->config.tick_ms <= 0)
        h->config.tick_ms = HOUSEKEEPER_TICK_MS;
    if (h->config.retention_interval_ms <= 0)
        h->config.retention_interval_ms = HOUSEKEEPER_RETENTION_INTERVAL_MS;
    h->live = live;
    h->store = store;
    h->ticker = ticker_start("housekeeper", h->config.tick_ms, tick, h, err, err_size);
    if (!h->ticker) {
        free(h);
        return NULL;
    }
    return h;
}

uint64_t housekeeper_ticks(const housekeeper_t *h)
{
    return ticker_ticks(h->ticker);
}

void housekeeper_stop(housekeeper_t *h)
{
    if (!h)
        return;
    ticker_stop(h->ticker);
    free(h);
}
