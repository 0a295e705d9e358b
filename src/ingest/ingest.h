/* Ingest: binds the RTMP server to the live registry. Each accepted publish becomes a live
 * broadcast; its FLV media become media packets with unwrapped 64-bit timestamps. */
#ifndef STREAMD_INGEST_INGEST_H
#define STREAMD_INGEST_INGEST_H

#include <stddef.h>

#include "config.h"
#include "media/live.h"

typedef struct ingest ingest_t;

/* Starts RTMP ingest on config->rtmp feeding live (both must outlive it). Returns NULL with a
 * message in err. */
ingest_t *ingest_start(live_t *live, const config_t *config, char *err, size_t err_size);

/* The bound RTMP port. */
unsigned ingest_rtmp_port(const ingest_t *ingest);

/* Disconnects every publisher (each broadcast ends) and frees; NULL is a no-op. */
void ingest_stop(ingest_t *ingest);

#endif
