/* Private to src/store/: the connection pool both backends share. A thread takes a connection,
 * runs its statements on it and puts it back; taking waits while every connection is in use.
 * The pool holds pointers to the backend's own connections and never looks inside them. LIFO:
 * the connection used last is taken first, so its caches are warm. Thread-safe. Nothing outside
 * src/store/ includes this. */
#ifndef STREAMD_STORE_STORE_POOL_H
#define STREAMD_STORE_STORE_POOL_H

#include <pthread.h>
#include <stddef.h>

#define STORE_POOL_MAX 4 /* covers the HTTP pool's concurrent reads; writers queue anyway */

typedef struct store_pool {
    pthread_mutex_t lock;     /* guards free and free_count */
    pthread_cond_t available; /* signalled when a connection is put back */
    void *free[STORE_POOL_MAX];
    size_t free_count;
    int ready; /* lock and available were created */
} store_pool_t;

/* An empty pool; 0, or -1 with a message in err. */
int store_pool_init(store_pool_t *pool, char *err, size_t err_size);

/* Frees what store_pool_init made (the connections are the backend's); safe on a zeroed pool. */
void store_pool_destroy(store_pool_t *pool);

/* A free connection, waiting for one when all are in use. */
void *store_pool_take(store_pool_t *pool);

/* Puts conn back (or in, at open: at most STORE_POOL_MAX in all). */
void store_pool_put(store_pool_t *pool, void *conn);

#endif
