/* The ticker's thread (ticker.h). */
#include "util/ticker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct ticker {
    int64_t interval_ms;
    ticker_fn_t fn;
    void *opaque;
    char name[16];
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

static void *ticker_main(void *arg)
{
    ticker_t *t = arg;
    pthread_setname_np(pthread_self(), t->name);
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        struct timespec deadline = deadline_after(t->interval_ms);
        pthread_cond_timedwait(&t->wake, &t->lock, &deadline);
        if (t->stopping)
            break;
        pthread_mutex_unlock(&t->lock);
        t->fn(t->opaque);
        atomic_fetch_add(&t->ticks, 1);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

ticker_t *ticker_start(const char *name, int64_t interval_ms, ticker_fn_t fn, void *opaque,
                       char *err, size_t err_size)
{
    if (interval_ms <= 0 || !fn) {
        snprintf(err, err_size, "ticker: no interval or function");
        return NULL;
    }
    ticker_t *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->opaque = opaque;
    snprintf(t->name, sizeof t->name, "%s", name ? name : "ticker");
    atomic_init(&t->ticks, 0);
    bool locked = pthread_mutex_init(&t->lock, NULL) == 0;
    bool waitable = locked && pthread_cond_init(&t->wake, NULL) == 0;
    if (waitable && pthread_create(&t->thread, NULL, ticker_main, t) == 0)
        return t;
    snprintf(err, err_size, "cannot start the %s thread", t->name);
    if (waitable)
        pthread_cond_destroy(&t->wake);
    if (locked)
        pthread_mutex_destroy(&t->lock);
    free(t);
    return NULL;
}

uint64_t ticker_ticks(const ticker_t *t)
{
    return atomic_load(&t->ticks);
}

void ticker_stop(ticker_t *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
