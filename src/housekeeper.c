/* The server's housekeeping thread: a timed wait on a condition variable, so a stop wakes it at
 * once rather than after the tick. */
#include "housekeeper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "media/recordings.h"
#include "util/clock.h"

struct housekeeper {
    housekeeper_config_t config;
    live_t *live;
    store_t *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled (under lock) to stop */
    bool stopping;       /* guarded by lock */
    atomic_uint_fast64_t ticks;
};

/* The realtime clock (pthread_cond_timedwait's) after_ms from now. */
static struct timespec deadline_after(int64_t after_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += after_ms / 1000;
    deadline.tv_nsec += (long)(after_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    return deadline;
}

static void tick(housekeeper_t *h, int64_t *last_retention_ms)
{
    int64_t now = clock_now_ms();
    live_expire(h->live, now);
    if (now - *last_retention_ms >= h->config.retention_interval_ms) {
        recordings_expire(h->store, h->config.data_dir, h->config.recordings_max_age_s, now);
        *last_retention_ms = now;
    }
    atomic_fetch_add(&h->ticks, 1);
}

static void *housekeeper_main(void *arg)
{
    housekeeper_t *h = arg;
    int64_t last_retention_ms = 0;
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        struct timespec deadline = deadline_after(h->config.tick_ms);
        pthread_cond_timedwait(&h->wake, &h->lock, &deadline);
        if (h->stopping)
            break;
        pthread_mutex_unlock(&h->lock);
        tick(h, &last_retention_ms);
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
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
    atomic_init(&h->ticks, 0);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->wake, NULL);
    if (pthread_create(&h->thread, NULL, housekeeper_main, h) != 0) {
        snprintf(err, err_size, "cannot start the housekeeping thread");
        pthread_cond_destroy(&h->wake);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
}

uint64_t housekeeper_ticks(const housekeeper_t *h)
{
    return atomic_load(&h->ticks);
}

void housekeeper_stop(housekeeper_t *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
