/* The bounded work queue: a FIFO of waiting items and a fixed set of workers that take them one at
 * a time. A waiting item costs one small node, allocated at submit, so an idle queue holds
 * nothing but its threads.
 *
 * Tickets: items are numbered in the order they are accepted and start in that order, so the item
 * of ticket t has started once `started` >= t, and has run once it has started and no worker runs
 * it any more. That is all work_queue_wait has to look at: the workers' current tickets. */
#include "util/work_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct work_node work_node_t;

struct work_node {
    work_node_t *next;
    void *item;
};

typedef struct worker {
    work_queue_t *queue;
    pthread_t thread;
    uint64_t running; /* ticket of the item this worker runs, 0 = none; guarded by queue->lock */
} worker_t;

struct work_queue {
    work_queue_run_fn run;
    void *opaque;
    size_t capacity;
    worker_t *workers;
    size_t worker_count;
    size_t workers_started;

    pthread_mutex_t lock;     /* guards everything below, and each worker's running */
    pthread_cond_t has_work;  /* an item was queued, or the queue is shutting down */
    pthread_cond_t item_done; /* a worker finished an item */
    work_node_t *head, *tail; /* waiting items, oldest first */
    size_t waiting;
    uint64_t accepted; /* tickets handed out: the newest item's */
    uint64_t started;  /* the ticket of the newest item a worker took */
    bool draining;     /* work_queue_free has begun: workers exit once nothing waits */
};

/* Takes the oldest waiting item, or NULL when none waits. Called with the lock held. */
static void *take_item(work_queue_t *q)
{
    work_node_t *node = q->head;
    if (!node)
        return NULL;
    q->head = node->next;
    if (!q->head)
        q->tail = NULL;
    q->waiting--;
    q->started++;
    void *item = node->item;
    free(node);
    return item;
}

static void *worker_thread(void *arg)
{
    worker_t *w = arg;
    work_queue_t *q = w->queue;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (!q->head) {
            if (q->draining)
                break;
            pthread_cond_wait(&q->has_work, &q->lock);
            continue;
        }
        void *item = take_item(q);
        w->running = q->started;
        pthread_mutex_unlock(&q->lock);
        q->run(q->opaque, item);
        pthread_mutex_lock(&q->lock);
        w->running = 0;
        pthread_cond_broadcast(&q->item_done);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* Ends the started workers once nothing waits, joins them and frees the queue. */
static void shut_down(work_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->draining = true;
    pthread_cond_broadcast(&q->has_work);
    pthread_mutex_unlock(&q->lock);
    for (size_t i = 0; i < q->workers_started; i++)
        pthread_join(q->workers[i].thread, NULL);
    pthread_cond_destroy(&q->item_done);
    pthread_cond_destroy(&q->has_work);
    pthread_mutex_destroy(&q->lock);
    free(q->workers);
    free(q);
}

work_queue_t *work_queue_new(size_t threads, size_t capacity, work_queue_run_fn run, void *opaque)
{
    if (threads == 0 || capacity == 0 || !run)
        return NULL;
    work_queue_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->workers = calloc(threads, sizeof *q->workers);
    if (!q->workers) {
        free(q);
        return NULL;
    }
    q->run = run;
    q->opaque = opaque;
    q->capacity = capacity;
    q->worker_count = threads;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->has_work, NULL);
    pthread_cond_init(&q->item_done, NULL);
    for (; q->workers_started < threads; q->workers_started++) {
        worker_t *w = &q->workers[q->workers_started];
        w->queue = q;
        if (pthread_create(&w->thread, NULL, worker_thread, w) != 0) {
            shut_down(q);
            return NULL;
        }
    }
    return q;
}

int work_queue_submit(work_queue_t *q, void *item, uint64_t *ticket)
{
    work_node_t *node = malloc(sizeof *node);
    if (!node)
        return -ENOMEM;
    node->next = NULL;
    node->item = item;
    pthread_mutex_lock(&q->lock);
    if (q->waiting >= q->capacity) {
        pthread_mutex_unlock(&q->lock);
        free(node);
        return -EAGAIN;
    }
    if (q->tail)
        q->tail->next = node;
    else
        q->head = node;
    q->tail = node;
    q->waiting++;
    q->accepted++;
    if (ticket)
        *ticket = q->accepted;
    pthread_cond_signal(&q->has_work);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

/* Whether the item of ticket has not run yet. Called with the lock held. */
static bool not_run_yet(const work_queue_t *q, uint64_t ticket)
{
    if (ticket > q->started)
        return true;
    for (size_t i = 0; i < q->worker_count; i++)
        if (q->workers[i].running == ticket)
            return true;
    return false;
}

void work_queue_wait(work_queue_t *q, uint64_t ticket)
{
    if (ticket == 0)
        return;
    pthread_mutex_lock(&q->lock);
    while (not_run_yet(q, ticket))
        pthread_cond_wait(&q->item_done, &q->lock);
    pthread_mutex_unlock(&q->lock);
}

void work_queue_free(work_queue_t *q)
{
    if (q)
        shut_down(q);
}
