/* The peer guard: what one client address may take of the server. It owns the count of open
 * connections (RTMP and HTTP together) in all and per address, the bursts of wrong stream keys
 * from an address (which slow its new connections down), and the count of every refusal and
 * timeout. A burst, of refusals or of wrong keys, is logged once when it starts and once, at info,
 * when it is over (no event from that address for PEER_GUARD_BURST_MS).
 *
 * Owns: its table of addresses. Every call is thread-safe (one mutex); none blocks on I/O. */
#ifndef STREAMD_UTIL_PEER_GUARD_H
#define STREAMD_UTIL_PEER_GUARD_H

#include <stddef.h>
#include <stdint.h>

#define PEER_GUARD_BURST_MS 60000    /* quiet time that ends a burst */
#define PEER_GUARD_HOLD_FIRST_MS 500 /* the first slowed connection waits this long */
#define PEER_GUARD_HOLD_MAX_MS 4000  /* each further wrong key doubles it, up to this */
#define PEER_GUARD_ADDRESS_MAX 64    /* bytes of an address, with its NUL */

typedef struct peer_guard peer_guard_t;

typedef struct peer_guard_limits {
    unsigned max_connections;        /* open at once in all; 0 = no limit */
    unsigned max_connections_per_ip; /* open at once from one address; 0 = no limit */
    unsigned key_failures_allowed;   /* wrong stream keys in a burst before it is slowed */
} peer_guard_limits_t;

typedef enum peer_admission {
    PEER_ADMITTED,        /* counted: release it with peer_guard_leave */
    PEER_REFUSED_TOTAL,   /* max_connections are open */
    PEER_REFUSED_ADDRESS, /* max_connections_per_ip are open from this address */
} peer_admission_t;

/* What is counted besides the admissions, by the code that sees it. */
typedef enum peer_event {
    PEER_HANDSHAKE_TIMEOUT, /* RTMP: no complete handshake in time */
    PEER_HEADER_TIMEOUT,    /* HTTP: no complete request header in time */
    PEER_IDLE_TIMEOUT,      /* RTMP: no media (or no publish) in time */
    PEER_EVENT_COUNT
} peer_event_t;

typedef struct peer_guard_counts {
    uint64_t open;            /* connections open now */
    uint64_t refused_total;   /* PEER_REFUSED_TOTAL answers */
    uint64_t refused_address; /* PEER_REFUSED_ADDRESS answers */
    uint64_t key_failures;    /* wrong stream keys */
    uint64_t slowed;          /* connections held back for their address's wrong keys */
    uint64_t events[PEER_EVENT_COUNT];
} peer_guard_counts_t;

/* The address of peer ("ip:port" or "[v6]:port") into out: the guard's key. */
void peer_guard_address_of(const char *peer, char *out, size_t size);

/* A guard with these limits (copied); NULL when out of memory. */
peer_guard_t *peer_guard_new(const peer_guard_limits_t *limits);

/* Frees the guard; every admitted connection must have left. NULL is a no-op. */
void peer_guard_free(peer_guard_t *guard);

/* A connection from address (numeric, no port) wants in; protocol ("rtmp", "http") is for the
 * log. now_ms is the monotonic clock. */
peer_admission_t peer_guard_enter(peer_guard_t *guard, const char *address, const char *protocol,
                                  int64_t now_ms);

/* An admitted connection from address closed. */
void peer_guard_leave(peer_guard_t *guard, const char *address);

/* A publish from address named a stream key nobody has. Logs the first of a burst. */
void peer_guard_key_failed(peer_guard_t *guard, const char *address, int64_t now_ms);

/* A publish from address named a good key: its burst of wrong keys, if any, is over. */
void peer_guard_key_accepted(peer_guard_t *guard, const char *address, int64_t now_ms);

/* How long a new connection from address waits before it is served (0: not at all), from the
 * wrong keys of its current burst; a wait is counted as slowed. */
int64_t peer_guard_hold_ms(peer_guard_t *guard, const char *address, int64_t now_ms);

/* Counts n events. */
void peer_guard_count(peer_guard_t *guard, peer_event_t event, uint64_t n);

/* A copy of the counters. */
void peer_guard_counts(peer_guard_t *guard, peer_guard_counts_t *out);

#endif
