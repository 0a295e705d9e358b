/* Unit tests for the bounded work queue: items run, workers run side by side, FIFO order with
 * one worker, a full queue refuses at once, tickets to wait for, and shutdown that runs what was
 * accepted. Run functions only record; the checks run on the test's thread. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "util/clock.h"
#include "util/work_queue.h"

/* What the run function saw, and a gate that holds every item until it opens. */
typedef struct probe {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool gate_open;
    int ran;
    int running, most_running; /* items inside run now, and the most at once */
    int order[256];            /* item values in the order runs started */
    int started;
    int delay_ms;   /* each run sleeps this long after the gate */
    int bad_opaque; /* runs that were not given &probe (asserted on the test's thread) */
} probe_t;

static probe_t probe;

static void probe_init(bool gate_open)
{
    pthread_mutex_init(&probe.lock, NULL);
    pthread_cond_init(&probe.changed, NULL);
    probe.gate_open = gate_open;
    probe.ran = probe.running = probe.most_running = probe.started = 0;
    probe.delay_ms = 0;
    probe.bad_opaque = 0;
}

static void open_gate(void)
{
    pthread_mutex_lock(&probe.lock);
    probe.gate_open = true;
    pthread_cond_broadcast(&probe.changed);
    pthread_mutex_unlock(&probe.lock);
}

static void sleep_ms(int ms)
{
    struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L};
    nanosleep(&pause, NULL);
}

/* The run function: items are malloc'ed ints it frees, as the queue's contract hands them over. */
static void run_item(void *opaque, void *item)
{
    int value = *(int *)item;
    free(item);
    pthread_mutex_lock(&probe.lock);
    probe.bad_opaque += opaque != &probe;
    if (probe.started < 256)
        probe.order[probe.started] = value;
    probe.started++;
    probe.running++;
    if (probe.running > probe.most_running)
        probe.most_running = probe.running;
    pthread_cond_broadcast(&probe.changed);
    while (!probe.gate_open)
        pthread_cond_wait(&probe.changed, &probe.lock);
    int delay_ms = probe.delay_ms;
    pthread_mutex_unlock(&probe.lock);
    sleep_ms(delay_ms);
    pthread_mutex_lock(&probe.lock);
    probe.running--;
    probe.ran++;
    pthread_cond_broadcast(&probe.changed);
    pthread_mutex_unlock(&probe.lock);
}

static int *new_item(int value)
{
    int *item = malloc(sizeof *item);
    cr_assert_not_null(item);
    *item = value;
    return item;
}

static void submit(work_queue_t *q, int value, uint64_t *ticket)
{
    cr_assert_eq(work_queue_submit(q, new_item(value), ticket), 0);
}

/* Waits up to 5 s until *field >= value; returns whether it got there. */
static bool wait_until(const int *field, int value)
{
    int64_t deadline = clock_monotonic_ms() + 5000;
    pthread_mutex_lock(&probe.lock);
    while (*field < value && clock_monotonic_ms() < deadline) {
        pthread_mutex_unlock(&probe.lock);
        sleep_ms(2);
        pthread_mutex_lock(&probe.lock);
    }
    bool reached = *field >= value;
    pthread_mutex_unlock(&probe.lock);
    return reached;
}

static int probed(const int *field)
{
    pthread_mutex_lock(&probe.lock);
    int value = *field;
    pthread_mutex_unlock(&probe.lock);
    return value;
}

Test(work_queue, every_item_runs_once)
{
    probe_init(true);
    work_queue_t *q = work_queue_new(2, 64, run_item, &probe);
    cr_assert_not_null(q);
    for (int i = 0; i < 50; i++)
        submit(q, i, NULL);
    cr_assert(wait_until(&probe.ran, 50));
    work_queue_free(q);
    cr_assert_eq(probe.ran, 50);
    cr_assert_eq(probe.bad_opaque, 0);
}

Test(work_queue, workers_run_side_by_side)
{
    probe_init(false);
    work_queue_t *q = work_queue_new(4, 16, run_item, &probe);
    cr_assert_not_null(q);
    for (int i = 0; i < 6; i++)
        submit(q, i, NULL);
    /* With the gate shut, four items are inside run at once and two wait. */
    cr_assert(wait_until(&probe.running, 4));
    sleep_ms(50);
    cr_assert_eq(probed(&probe.running), 4, "no more than the four workers");
    open_gate();
    work_queue_free(q);
    cr_assert_eq(probe.ran, 6);
    cr_assert_eq(probe.most_running, 4);
}

/* Slow items overlap: four that take 300 ms each take far less than 1.2 s on four workers. */
Test(work_queue, slow_items_overlap)
{
    probe_init(true);
    probe.delay_ms = 300;
    work_queue_t *q = work_queue_new(4, 16, run_item, &probe);
    cr_assert_not_null(q);
    int64_t start = clock_monotonic_ms();
    for (int i = 0; i < 4; i++)
        submit(q, i, NULL);
    cr_assert(wait_until(&probe.ran, 4));
    int64_t took = clock_monotonic_ms() - start;
    cr_assert_lt(took, 900, "took %lld ms", (long long)took);
    work_queue_free(q);
}

Test(work_queue, items_start_in_the_order_they_were_submitted)
{
    probe_init(true);
    work_queue_t *q = work_queue_new(1, 256, run_item, &probe);
    cr_assert_not_null(q);
    for (int i = 0; i < 200; i++)
        submit(q, i, NULL);
    work_queue_free(q);
    cr_assert_eq(probe.started, 200);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(probe.order[i], i, "item %d started as number %d", probe.order[i], i);
}

/* A full queue refuses at once; the refused item stays the caller's, and the queue takes items
 * again once a worker made room. */
Test(work_queue, a_full_queue_refuses_at_once)
{
    probe_init(false);
    work_queue_t *q = work_queue_new(2, 3, run_item, &probe);
    cr_assert_not_null(q);
    submit(q, 0, NULL);
    submit(q, 1, NULL);
    cr_assert(wait_until(&probe.running, 2)); /* both workers hold an item: none waits */
    for (int i = 2; i < 5; i++)
        submit(q, i, NULL); /* three wait: the capacity */
    int *refused = new_item(99);
    int64_t start = clock_monotonic_ms();
    cr_assert_eq(work_queue_submit(q, refused, NULL), -EAGAIN);
    cr_assert_lt(clock_monotonic_ms() - start, 100, "submit does not block");
    cr_assert_eq(*refused, 99, "a refused item is not touched");
    open_gate();
    cr_assert(wait_until(&probe.ran, 5));
    cr_assert_eq(work_queue_submit(q, refused, NULL), 0, "room again");
    work_queue_free(q);
    cr_assert_eq(probe.ran, 6);
}

Test(work_queue, wait_returns_once_the_item_has_run)
{
    probe_init(true);
    probe.delay_ms = 100;
    work_queue_t *q = work_queue_new(2, 16, run_item, &probe);
    cr_assert_not_null(q);
    uint64_t first = 0, second = 0;
    submit(q, 1, &first);
    submit(q, 2, &second);
    cr_assert_neq(first, 0);
    cr_assert_gt(second, first);
    work_queue_wait(q, second);
    cr_assert_geq(probed(&probe.ran), 1, "the second item has run");
    work_queue_wait(q, first);
    cr_assert_eq(probed(&probe.ran), 2);
    int64_t start = clock_monotonic_ms();
    work_queue_wait(q, first); /* long done */
    work_queue_wait(q, 0);     /* no item */
    cr_assert_lt(clock_monotonic_ms() - start, 50);
    work_queue_free(q);
}

/* Shutdown drains: the items still waiting when work_queue_free starts all run before it
 * returns. */
Test(work_queue, free_runs_every_waiting_item)
{
    probe_init(false);
    probe.delay_ms = 5;
    work_queue_t *q = work_queue_new(2, 64, run_item, &probe);
    cr_assert_not_null(q);
    for (int i = 0; i < 40; i++)
        submit(q, i, NULL);
    cr_assert(wait_until(&probe.running, 2));
    cr_assert_eq(probed(&probe.ran), 0);
    open_gate();
    work_queue_free(q);
    cr_assert_eq(probe.ran, 40);
    cr_assert_eq(probe.running, 0);
}

/* An item that submits another while the queue drains: that one runs too. */
static work_queue_t *chained_queue;
static int chained_runs;
static int chained_refused;

static void run_chained(void *opaque, void *item)
{
    (void)opaque;
    int left = *(int *)item;
    chained_runs++; /* one worker: no other thread touches it */
    if (left > 0) {
        *(int *)item = left - 1;
        if (work_queue_submit(chained_queue, item, NULL) == 0)
            return;
        chained_refused++;
    }
    free(item);
}

Test(work_queue, items_submitted_while_draining_run_too)
{
    chained_runs = chained_refused = 0;
    chained_queue = work_queue_new(1, 4, run_chained, NULL);
    cr_assert_not_null(chained_queue);
    cr_assert_eq(work_queue_submit(chained_queue, new_item(5), NULL), 0);
    work_queue_free(chained_queue);
    cr_assert_eq(chained_runs, 6);
    cr_assert_eq(chained_refused, 0);
}

Test(work_queue, bad_arguments_and_free_null)
{
    cr_assert_null(work_queue_new(0, 4, run_item, &probe));
    cr_assert_null(work_queue_new(2, 0, run_item, &probe));
    cr_assert_null(work_queue_new(2, 4, NULL, &probe));
    work_queue_free(NULL);
}

Test(work_queue, an_idle_queue_starts_and_stops)
{
    probe_init(true);
    work_queue_t *q = work_queue_new(8, 1, run_item, &probe);
    cr_assert_not_null(q);
    work_queue_free(q);
    cr_assert_eq(probe.ran, 0);
}
