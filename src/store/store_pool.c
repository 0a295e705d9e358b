/* The shared connection pool (store_pool.h). */
#include "store/store_pool.h"

#include <stdio.h>
#include <string.h>

int store_pool_init(store_pool_t *pool, char *err, size_t err_size)
{
    memset(pool, 0, sizeof *pool);
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        snprintf(err, err_size, "creating the pool lock failed");
        return -1;
    }
    if (pthread_cond_init(&pool->available, NULL) != 0) {
        pthread_mutex_destroy(&pool->lock);
        snprintf(err, err_size, "creating the pool condition failed");
        return -1;
    }
    pool->ready = 1;
    return 0;
}

void store_pool_destroy(store_pool_t *pool)
{
    if (!pool->ready)
        return;
    pthread_cond_destroy(&pool->available);
    pthread_mutex_destroy(&pool->lock);
    pool->ready = 0;
}

void *store_pool_take(store_pool_t *pool)
{
    pthread_mutex_lock(&pool->lock);
    while (pool->free_count == 0)
        pthread_cond_wait(&pool->available, &pool->lock);
    void *conn = pool->free[--pool->free_count];
    pthread_mutex_unlock(&pool->lock);
    return conn;
}

void store_pool_put(store_pool_t *pool, void *conn)
{
    pthread_mutex_lock(&pool->lock);
    if (pool->free_count < STORE_POOL_MAX)
        pool->free[pool->free_count++] = conn;
    pthread_cond_signal(&pool->available);
    pthread_mutex_unlock(&pool->lock);
}
