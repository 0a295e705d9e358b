/* RTMP publish handlers -> live broadcasts: publish and unpublish go to the registry, media to
 * the broadcast's pipeline. */
#include "ingest/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/amf0.h"
#include "ingest/flv.h"
#include "ingest/rtmp_server.h"
#include "media/pipeline.h"
#include "util/clock.h"
#include "util/log.h"

struct ingest {
    live_t *live;
    peer_guard_t *guard;
    rtmp_server_t *rtmp;
};

/* The publish context handed back to every handler is the live broadcast itself. */
static int on_publish(void *opaque, const char *app, const char *stream_key, const char *peer,
                      void **publish_ctx, char *reason, size_t reason_size)
{
    ingest_t *ingest = opaque;
    live_broadcast_t *broadcast = NULL;
    char address[PEER_GUARD_ADDRESS_MAX];
    peer_guard_address_of(peer, address, sizeof address);
    int rc = live_publish(ingest->live, stream_key, peer, &broadcast, reason, reason_size);
    if (rc == LIVE_UNKNOWN_KEY && ingest->guard) {
        /* Key guessing comes in bursts: the guard logs the first of each and slows the rest. */
        peer_guard_key_failed(ingest->guard, address, clock_monotonic_ms());
        log_debug("ingest", "publish refused from %s (app \"%s\", key %.4s...): %s", peer, app,
                  stream_key, reason);
        return -1;
    }
    if (rc != 0) {
        /* The key itself is a secret: log only its shard prefix. */
        log_warn("ingest", "publish refused from %s (app \"%s\", key %.4s...): %s", peer, app,
                 stream_key, reason);
        return -1;
    }
    if (ingest->guard)
        peer_guard_key_accepted(ingest->guard, address, clock_monotonic_ms());
    *publish_ctx = broadcast;
    return 0;
}

static double metadata_number(const amf0_value_t *metadata, const char *key)
{
    double value = 0;
    return amf0_number(amf0_object_get(metadata, key), &value) ? value : 0;
}

static void on_metadata(void *publish_ctx, const amf0_value_t *metadata)
{
    pipeline_metadata(live_pipeline(publish_ctx), (int)metadata_number(metadata, "width"),
                      (int)metadata_number(metadata, "height"),
                      metadata_number(metadata, "framerate"));
}

static int on_media(void *publish_ctx, const flv_media_t *media)
{
    bool video = media->kind == FLV_MEDIA_VIDEO;
    int64_t dts = media->dts_ms; /* already unwrapped from RTMP's 32-bit clock by rtmp_conn */
    media_packet_t packet = {
        .codec = video ? MEDIA_CODEC_H264 : MEDIA_CODEC_AAC,
        .is_config = media->is_config,
        .is_keyframe = media->is_keyframe,
        .dts_ms = dts,
        .pts_ms = dts + media->cts_offset_ms,
        .data = media->data,
        .size = media->size,
    };
    return pipeline_media(live_pipeline(publish_ctx), &packet);
}

static void on_bytes(void *publish_ctx, uint64_t bytes)
{
    pipeline_bytes(live_pipeline(publish_ctx), bytes);
}

static bool should_stop(void *publish_ctx)
{
    return pipeline_poll(live_pipeline(publish_ctx));
}

static void on_unpublish(void *publish_ctx, const char *reason)
{
    live_unpublish(publish_ctx, reason);
}

ingest_t *ingest_start(live_t *live, const ingest_config_t *config, char *err, size_t err_size)
{
    ingest_t *ingest = calloc(1, sizeof *ingest);
    if (!ingest) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    ingest->live = live;
    ingest->guard = config->guard;
    rtmp_publish_handlers_t handlers = {
        .opaque = ingest,
        .on_publish = on_publish,
        .on_metadata = on_metadata,
        .on_media = on_media,
        .on_bytes = on_bytes,
        .should_stop = should_stop,
        .on_unpublish = on_unpublish,
    };
    rtmp_limits_t limits;
    rtmp_limits_default(&limits);
    limits.io_threads = (uint32_t)config->rtmp_threads;
    ingest->rtmp = rtmp_server_start(config->rtmp_host, config->rtmp_port, &limits, config->guard,
                                     &handlers, err, err_size);
    if (!ingest->rtmp) {
        free(ingest);
        return NULL;
    }
    return ingest;
}

unsigned ingest_rtmp_port(const ingest_t *ingest)
{
    return rtmp_server_port(ingest->rtmp);
}

void ingest_stop(ingest_t *ingest)
{
    if (!ingest)
        return;
    rtmp_server_stop(ingest->rtmp);
    free(ingest);
}
