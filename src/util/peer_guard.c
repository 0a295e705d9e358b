/* Per-address connection counts and bursts (see peer_guard.h): a chained hash table of the
 * addresses that have a connection open or a burst going on, under one mutex. */
#include "util/peer_guard.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define LOG_MODULE "guard"
#define BUCKETS 1024
#define PRUNE_EVERY_MS 1000
/* Addresses with no connection open are kept for their bursts only, and only this many: a
 * stranger with many addresses cannot grow the table without bound. */
#define IDLE_ENTRIES_MAX 65536

/* A run of refusals or of wrong keys from one address (or from all, for the total limit). */
typedef struct burst {
    uint64_t count; /* events in the burst; 0 = no burst */
    int64_t first_ms, last_ms;
} burst_t;

typedef struct entry {
    struct entry *next;
    unsigned open;   /* admitted connections not yet left */
    burst_t refused; /* connections refused for this address's limit */
    burst_t keys;    /* wrong stream keys */
    char address[PEER_GUARD_ADDRESS_MAX];
} entry_t;

struct peer_guard {
    peer_guard_limits_t limits;
    pthread_mutex_t lock;
    entry_t *buckets[BUCKETS];
    size_t idle_entries; /* entries with open == 0 */
    unsigned open;
    burst_t refused_total;
    int64_t last_prune_ms;
    peer_guard_counts_t counts;
};

static unsigned bucket_of(const char *address)
{
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)address; *p; p++)
        hash = (hash ^ *p) * 16777619u;
    return hash % BUCKETS;
}

static entry_t **find_slot(peer_guard_t *guard, const char *address)
{
    entry_t **slot = &guard->buckets[bucket_of(address)];
    while (*slot && strcmp((*slot)->address, address) != 0)
        slot = &(*slot)->next;
    return slot;
}

/* The entry of address, created when create is set; NULL when there is none (or no memory). */
static entry_t *lookup(peer_guard_t *guard, const char *address, bool create)
{
    entry_t **slot = find_slot(guard, address);
    if (*slot || !create)
        return *slot;
    entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    snprintf(e->address, sizeof e->address, "%s", address);
    *slot = e;
    guard->idle_entries++;
    return e;
}

static bool burst_over(const burst_t *b, int64_t now_ms)
{
    return b->count > 0 && now_ms - b->last_ms >= PEER_GUARD_BURST_MS;
}

/* Adds one event to a burst; true when it starts one (the caller logs it). */
static bool burst_add(burst_t *b, int64_t now_ms)
{
    bool starts = b->count == 0;
    if (starts)
        b->first_ms = now_ms;
    b->count++;
    b->last_ms = now_ms;
    return starts;
}

static void end_refusals(const char *address, burst_t *b, const char *limit)
{
    if (b->count > 1)
        log_info(LOG_MODULE, "%s: %llu connections refused over %lld s (%s)", address,
                 (unsigned long long)b->count, (long long)((b->last_ms - b->first_ms) / 1000),
                 limit);
    *b = (burst_t){0};
}

static void end_keys(peer_guard_t *guard, entry_t *e)
{
    if (e->keys.count > 1)
        log_info(LOG_MODULE,
                 "%s: %llu publishes with wrong stream keys over %lld s%s; no longer slowed",
                 e->address, (unsigned long long)e->keys.count,
                 (long long)((e->keys.last_ms - e->keys.first_ms) / 1000),
                 e->keys.count > guard->limits.key_failures_allowed ? " (slowed down)" : "");
    e->keys = (burst_t){0};
}

/* Ends the bursts that are over and frees the entries left with nothing to hold. */
static void prune(peer_guard_t *guard, int64_t now_ms)
{
    if (now_ms - guard->last_prune_ms < PRUNE_EVERY_MS)
        return;
    guard->last_prune_ms = now_ms;
    if (burst_over(&guard->refused_total, now_ms))
        end_refusals("all addresses", &guard->refused_total, "--max-connections");
    for (size_t i = 0; i < BUCKETS; i++) {
        for (entry_t **slot = &guard->buckets[i]; *slot;) {
            entry_t *e = *slot;
            if (burst_over(&e->refused, now_ms))
                end_refusals(e->address, &e->refused, "--max-connections-per-ip");
            if (burst_over(&e->keys, now_ms))
                end_keys(guard, e);
            if (e->open == 0 && e->refused.count == 0 && e->keys.count == 0) {
                *slot = e->next;
                guard->idle_entries--;
                free(e);
            } else {
                slot = &e->next;
            }
        }
    }
}

void peer_guard_address_of(const char *peer, char *out, size_t size)
{
    const char *start = peer[0] == '[' ? peer + 1 : peer;
    const char *end = peer[0] == '[' ? strchr(start, ']') : strrchr(start, ':');
    size_t len = end ? (size_t)(end - start) : strlen(start);
    snprintf(out, size, "%.*s", (int)len, start);
}

peer_guard_t *peer_guard_new(const peer_guard_limits_t *limits)
{
    peer_guard_t *guard = calloc(1, sizeof *guard);
    if (!guard)
        return NULL;
    guard->limits = *limits;
    pthread_mutex_init(&guard->lock, NULL);
    return guard;
}

void peer_guard_free(peer_guard_t *guard)
{
    if (!guard)
        return;
    for (size_t i = 0; i < BUCKETS; i++) {
        while (guard->buckets[i]) {
            entry_t *e = guard->buckets[i];
            guard->buckets[i] = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&guard->lock);
    free(guard);
}

peer_admission_t peer_guard_enter(peer_guard_t *guard, const char *address, const char *protocol,
                                  int64_t now_ms)
{
    pthread_mutex_lock(&guard->lock);
    prune(guard, now_ms);
    peer_admission_t result = PEER_ADMITTED;
    const peer_guard_limits_t *limits = &guard->limits;
    entry_t *e = lookup(guard, address, true);
    if (limits->max_connections > 0 && guard->open >= limits->max_connections) {
        result = PEER_REFUSED_TOTAL;
        guard->counts.refused_total++;
        if (burst_add(&guard->refused_total, now_ms))
            log_warn(LOG_MODULE,
                     "%s: refusing %s connections: %u are open in all (--max-connections); "
                     "further refusals are counted and summed up when they stop",
                     address, protocol, guard->open);
    } else if (!e) {
        /* Out of memory: refuse rather than count nothing. */
        result = PEER_REFUSED_ADDRESS;
        guard->counts.refused_address++;
    } else if (limits->max_connections_per_ip > 0 && e->open >= limits->max_connections_per_ip) {
        result = PEER_REFUSED_ADDRESS;
        guard->counts.refused_address++;
        if (burst_add(&e->refused, now_ms))
            log_warn(LOG_MODULE,
                     "%s: refusing %s connections: %u are open from this address "
                     "(--max-connections-per-ip); further refusals are counted and summed up "
                     "when they stop",
                     address, protocol, e->open);
    } else {
        if (e->open++ == 0)
            guard->idle_entries--;
        guard->open++;
        guard->counts.open = guard->open;
    }
    pthread_mutex_unlock(&guard->lock);
    return result;
}

void peer_guard_leave(peer_guard_t *guard, const char *address)
{
    pthread_mutex_lock(&guard->lock);
    entry_t **slot = find_slot(guard, address);
    entry_t *e = *slot;
    if (e && e->open > 0) {
        guard->open--;
        guard->counts.open = guard->open;
        if (--e->open == 0) {
            if (e->refused.count == 0 && e->keys.count == 0) {
                *slot = e->next;
                free(e);
            } else {
                guard->idle_entries++;
            }
        }
    }
    pthread_mutex_unlock(&guard->lock);
}

void peer_guard_key_failed(peer_guard_t *guard, const char *address, int64_t now_ms)
{
    pthread_mutex_lock(&guard->lock);
    prune(guard, now_ms);
    guard->counts.key_failures++;
    entry_t *e = lookup(guard, address, guard->idle_entries < IDLE_ENTRIES_MAX);
    if (e && burst_over(&e->keys, now_ms))
        end_keys(guard, e);
    if (e && burst_add(&e->keys, now_ms))
        log_warn(LOG_MODULE,
                 "%s: publish refused: unknown stream key; further wrong keys from this address "
                 "are counted, slowed down after %u and summed up when they stop",
                 address, guard->limits.key_failures_allowed);
    pthread_mutex_unlock(&guard->lock);
}

void peer_guard_key_accepted(peer_guard_t *guard, const char *address, int64_t now_ms)
{
    pthread_mutex_lock(&guard->lock);
    prune(guard, now_ms);
    entry_t *e = lookup(guard, address, false);
    if (e && e->keys.count > 0)
        end_keys(guard, e);
    pthread_mutex_unlock(&guard->lock);
}

int64_t peer_guard_hold_ms(peer_guard_t *guard, const char *address, int64_t now_ms)
{
    pthread_mutex_lock(&guard->lock);
    prune(guard, now_ms);
    int64_t hold = 0;
    const entry_t *e = lookup(guard, address, false);
    if (e && !burst_over(&e->keys, now_ms) && e->keys.count > guard->limits.key_failures_allowed) {
        uint64_t doublings = e->keys.count - guard->limits.key_failures_allowed - 1;
        hold = PEER_GUARD_HOLD_MAX_MS;
        if (doublings < 8 && (PEER_GUARD_HOLD_FIRST_MS << doublings) < PEER_GUARD_HOLD_MAX_MS)
            hold = PEER_GUARD_HOLD_FIRST_MS << doublings;
        guard->counts.slowed++;
    }
    pthread_mutex_unlock(&guard->lock);
    return hold;
}

void peer_guard_count(peer_guard_t *guard, peer_event_t event, uint64_t n)
{
    if (event < 0 || event >= PEER_EVENT_COUNT)
        return;
    pthread_mutex_lock(&guard->lock);
    guard->counts.events[event] += n;
    pthread_mutex_unlock(&guard->lock);
}

void peer_guard_counts(peer_guard_t *guard, peer_guard_counts_t *out)
{
    pthread_mutex_lock(&guard->lock);
    *out = guard->counts;
    pthread_mutex_unlock(&guard->lock);
}
