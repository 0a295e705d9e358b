/* Unit tests for the store's connection pool: last in, first out, and a taker waits for a put. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <unistd.h>

#include "store/store_pool.h"

Test(store_pool, takes_the_connection_put_back_last)
{
    store_pool_t pool;
    char err[64];
    cr_assert_eq(store_pool_init(&pool, err, sizeof err), 0, "%s", err);
    int a, b;
    store_pool_put(&pool, &a);
    store_pool_put(&pool, &b);
    cr_assert_eq(store_pool_take(&pool), &b);
    cr_assert_eq(store_pool_take(&pool), &a);
    store_pool_put(&pool, &a);
    cr_assert_eq(store_pool_take(&pool), &a);
    store_pool_destroy(&pool);
    store_pool_destroy(&pool); /* twice is harmless */
}

static void *put_later(void *arg)
{
    usleep(50 * 1000);
    static int conn;
    store_pool_put(arg, &conn);
    return &conn;
}

Test(store_pool, a_taker_waits_until_a_connection_is_put_back)
{
    store_pool_t pool;
    char err[64];
    cr_assert_eq(store_pool_init(&pool, err, sizeof err), 0, "%s", err);
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, put_later, &pool), 0);
    void *taken = store_pool_take(&pool);
    void *put = NULL;
    pthread_join(thread, &put);
    cr_assert_eq(taken, put);
    store_pool_destroy(&pool);
}
