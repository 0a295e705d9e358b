/* One compressed media packet as ingest hands it to the media plane: H.264 (AVCC, as in FLV) or
 * AAC (raw frames), with millisecond timestamps. A plain value type: the caller owns the payload
 * and keeps it valid only for the duration of the call it is passed to. */
#ifndef STREAMD_MEDIA_MEDIA_PACKET_H
#define STREAMD_MEDIA_MEDIA_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { MEDIA_CODEC_H264, MEDIA_CODEC_AAC } media_codec_t;

typedef struct media_packet {
    media_codec_t codec;
    bool is_config;      /* payload is the AVCDecoderConfigurationRecord (H.264) or the
                            AudioSpecificConfig (AAC), not a frame */
    bool is_keyframe;    /* video: IDR / FLV keyframe; ignored for audio */
    int64_t dts_ms;      /* decode time, ms, monotonic 64-bit (the caller unwraps RTMP's clock) */
    int64_t pts_ms;      /* presentation time, ms (dts + composition offset) */
    const uint8_t *data; /* H.264: AVCC (length-prefixed NAL units); AAC: one raw frame */
    size_t size;         /* bytes at data */
} media_packet_t;

#endif
