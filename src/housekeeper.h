/* The housekeeper: one thread owned by the server that finalizes the sessions whose reconnect
 * window has passed (live_expire, every tick) and deletes recordings older than their maximum
 * age (recordings_expire, every retention interval, starting with the first tick).
 *
 * Owns: its thread. live and store must outlive it; the server starts it once the registry
 * exists and stops it before freeing the registry. housekeeper_start and housekeeper_stop are
 * called by one thread (the server's). */
#ifndef STREAMD_HOUSEKEEPER_H
#define STREAMD_HOUSEKEEPER_H

#include <stddef.h>
#include <stdint.h>

#include "media/live.h"
#include "store/store.h"

#define HOUSEKEEPER_TICK_MS 1000                /* between expiry passes */
#define HOUSEKEEPER_RETENTION_INTERVAL_MS 60000 /* between retention passes */

typedef struct housekeeper housekeeper_t;

typedef struct housekeeper_config {
    int64_t tick_ms;               /* ms between expiry passes; 0 = HOUSEKEEPER_TICK_MS */
    int64_t retention_interval_ms; /* ms between retention passes; 0 =
                                      HOUSEKEEPER_RETENTION_INTERVAL_MS */
    const char *recordings_dir;    /* the recordings directory (borrowed) */
    int64_t recordings_max_age_s;  /* seconds; 0 = keep recordings forever */
} housekeeper_config_t;

/* Starts the thread; config is copied (its recordings_dir must outlive the housekeeper). Returns
 * NULL with a message in err. */
housekeeper_t *housekeeper_start(const housekeeper_config_t *config, live_t *live, store_t *store,
                                 char *err, size_t err_size);

/* Ticks done so far: a plain monotonic counter (tests, diagnostics). Any thread. */
uint64_t housekeeper_ticks(const housekeeper_t *housekeeper);

/* Wakes the thread, waits for the pass in progress (if any) to finish and frees; NULL is a
 * no-op. */
void housekeeper_stop(housekeeper_t *housekeeper);

#endif
