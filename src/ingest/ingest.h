/* Ingest: binds the RTMP server to the live registry. Each accepted publish becomes a live
 * broadcast; its FLV media become media packets with unwrapped 64-bit timestamps. */
#ifndef STREAMD_INGEST_INGEST_H
#define STREAMD_INGEST_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "media/live.h"
#include "util/peer_guard.h"

typedef struct ingest ingest_t;

/* What ingest needs of the server's configuration. */
typedef struct ingest_config {
    const char *rtmp_host; /* address to bind; copied by ingest_start */
    uint16_t rtmp_port;    /* 0 = any free port */
    int rtmp_threads;      /* event loops; 0 = one per core (at most 16) */
    peer_guard_t *guard;   /* admits connections, counts wrong keys; NULL = no limits */
} ingest_config_t;

/* Starts RTMP ingest as config says, feeding live (which must outlive it). Returns NULL with a
 * message in err. */
ingest_t *ingest_start(live_t *live, const ingest_config_t *config, char *err, size_t err_size);

/* The bound RTMP port. */
unsigned ingest_rtmp_port(const ingest_t *ingest);

/* Disconnects every publisher (each broadcast ends) and frees; NULL is a no-op. */
void ingest_stop(ingest_t *ingest);

#endif
