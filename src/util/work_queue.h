/* A bounded work queue served by a fixed set of worker threads: work that may take its time
 * leaves the caller's thread (an event loop, say), which never waits for it.
 *
 * Ownership: the queue owns its worker threads and its bookkeeping. An item is the caller's
 * pointer: once work_queue_submit accepts it, the run function owns it (it frees the item when it
 * must); an item the queue refuses stays the caller's.
 * Threads: work_queue_new and work_queue_free are called by the queue's owner; work_queue_submit
 * and work_queue_wait by any thread, run functions included. The run function runs on the
 * workers, several items at a time when there are several workers: it must be thread-safe.
 * Order: items start in the order they were accepted (FIFO). With one worker they also end in
 * that order; with more, an item may end before one accepted earlier.
 * Bound: at most `capacity` items wait for a worker (those running do not count). When that many
 * wait, work_queue_submit refuses at once rather than blocking its caller.
 * Shutdown: work_queue_free drains the queue: every accepted item runs, including items that
 * running items submit meanwhile, before the workers are joined. No other thread may submit
 * once work_queue_free has begun.
 * Errors: functions that can fail return 0 or a negative errno value (strerror(-rc) says it). */
#ifndef STREAMD_UTIL_WORK_QUEUE_H
#define STREAMD_UTIL_WORK_QUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct work_queue work_queue_t;

/* Runs one item on a worker thread; opaque is the pointer given to work_queue_new. The function
 * owns item from the call on. */
typedef void (*work_queue_run_fn)(void *opaque, void *item);

/* Starts `threads` workers (at least 1) that serve a queue of at most `capacity` waiting items
 * (at least 1) with run(opaque, item). Returns NULL on a zero count, a NULL run, no memory, or a
 * thread that cannot start (the workers already started are joined first). */
work_queue_t *work_queue_new(size_t threads, size_t capacity, work_queue_run_fn run, void *opaque);

/* Queues item for a worker without waiting. Returns 0 and sets *ticket (when not NULL) to the
 * item's ticket (never 0, for work_queue_wait); -EAGAIN when `capacity` items wait already, or
 * -ENOMEM. On error the item stays the caller's and will not run. */
int work_queue_submit(work_queue_t *queue, void *item, uint64_t *ticket);

/* Blocks until the item of this ticket (from work_queue_submit on this queue) has run; returns at
 * once when it has, and for ticket 0. A run function must not wait for an item that has not
 * started: with every worker busy waiting, it never would. */
void work_queue_wait(work_queue_t *queue, uint64_t ticket);

/* Runs every accepted item (see Shutdown above), joins the workers and frees the queue. NULL is
 * a no-op. */
void work_queue_free(work_queue_t *queue);

#endif
