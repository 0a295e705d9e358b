/* FLV tag bodies as carried by RTMP audio (type 8) and video (type 9) messages: which codec, which
 * packet kind, timing, and where the codec payload starts; plus validators for the H.264
 * AVCDecoderConfigurationRecord and the AAC AudioSpecificConfig. streamd accepts H.264 and AAC
 * (legacy FLV ids, and the enhanced-RTMP 'avc1' / 'mp4a' forms); everything else is reported as
 * unsupported with a readable codec name. Pure functions; any thread. */
#ifndef STREAMD_INGEST_FLV_H
#define STREAMD_INGEST_FLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum flv_media_kind {
    FLV_MEDIA_AUDIO = 8, /* the RTMP message type ids */
    FLV_MEDIA_VIDEO = 9,
} flv_media_kind_t;

typedef enum flv_codec {
    FLV_CODEC_NONE = 0, /* not identified (truncated, or unsupported: see codec_name) */
    FLV_CODEC_H264 = 1,
    FLV_CODEC_AAC = 2,
} flv_codec_t;

/* Results of flv_parse; the negative ones set media->error. */
enum {
    FLV_OK = 0,
    FLV_SKIP = 1,             /* well formed but carries no media (video info/command frame,
                                 enhanced-RTMP metadata): ignore it */
    FLV_ERR_TRUNCATED = -1,   /* shorter than its header */
    FLV_ERR_UNSUPPORTED = -2, /* a codec we do not accept; media->codec_name names it */
    FLV_ERR_BAD_CONFIG = -3,  /* invalid AVCDecoderConfigurationRecord or AudioSpecificConfig */
    FLV_ERR_BAD_PACKET = -4,  /* unknown frame or packet type */
};

typedef struct flv_avc_config {
    uint8_t profile;         /* AVCProfileIndication: 66 baseline, 77 main, 100 high, ... */
    uint8_t compatibility;   /* profile_compatibility flags */
    uint8_t level;           /* AVCLevelIndication: 31 = level 3.1 */
    uint8_t nal_length_size; /* bytes of each NAL unit length prefix: 1, 2 or 4 */
    uint8_t sps_count;
    uint8_t pps_count;
} flv_avc_config_t;

typedef struct flv_aac_config {
    uint8_t object_type;       /* audioObjectType: 2 = AAC LC, 5 = HE-AAC (SBR), 29 = HE-AACv2 */
    uint8_t sample_rate_index; /* 0..12, or 15 when the rate is explicit */
    uint32_t sample_rate;      /* Hz */
    uint8_t channel_config;    /* channelConfiguration: 0 = in-band PCE, 1..7, 11..14 */
} flv_aac_config_t;

/* One parsed audio or video message. Pointers point into the message payload given to flv_parse
 * (owned by the caller) and live as long as it does. */
typedef struct flv_media {
    flv_media_kind_t kind;
    flv_codec_t codec;
    const char *codec_name;  /* static text, e.g. "H.264", "Sorenson H.263", "MP3"; also set on
                                FLV_ERR_UNSUPPORTED; NULL when the codec byte was missing */
    char fourcc[5];          /* enhanced RTMP FourCC as sent (non-printables as '?'), or "" */
    bool is_keyframe;        /* video: key frame; audio: always true */
    bool is_config;          /* AVC sequence header / AAC AudioSpecificConfig; see avc / aac */
    bool is_end_of_sequence; /* AVC end of sequence: no data, nothing to decode */
    int64_t dts_ms;          /* decode time, ms (as passed to flv_parse) */
    int32_t cts_offset_ms;   /* presentation minus decode time, ms (video; 0 for audio) */
    const uint8_t *data;     /* codec payload after the FLV header bytes (NAL units with length
                                prefixes, raw AAC, or the configuration record) */
    size_t size;             /* bytes at data */
    const uint8_t *message;  /* the whole message payload (the FLV tag body) */
    size_t message_size;     /* bytes */
    flv_avc_config_t avc;    /* when codec == H264 and is_config */
    flv_aac_config_t aac;    /* when codec == AAC and is_config */
    const char *error;       /* static description when flv_parse failed, else NULL */
} flv_media_t;

/* Parses an RTMP audio (type_id 8) or video (9) message payload with timestamp dts_ms into *out.
 * Configuration records are validated. Returns FLV_OK, FLV_SKIP, or a negative FLV_ERR_*
 * (out->error says why; out->codec_name names an unsupported codec). Never reads past len. */
int flv_parse(uint8_t type_id, const uint8_t *payload, size_t len, int64_t dts_ms,
              flv_media_t *out);

/* Validates an AVCDecoderConfigurationRecord: version 1, NAL length size 1/2/4, at least one SPS
 * and one PPS, every parameter set inside the buffer with the right NAL type. 0 and *out filled,
 * or FLV_ERR_BAD_CONFIG with *reason (static text) set when reason is not NULL. */
int flv_avc_config_parse(const uint8_t *buf, size_t len, flv_avc_config_t *out,
                         const char **reason);

/* Validates an AudioSpecificConfig: object type, sampling frequency (index or explicit) and
 * channel configuration. 0 and *out filled, or FLV_ERR_BAD_CONFIG with *reason as above. */
int flv_aac_config_parse(const uint8_t *buf, size_t len, flv_aac_config_t *out,
                         const char **reason);

/* Checks a codec that onMetaData announces (videocodecid / audiocodecid), before any frame:
 * id is the FLV codec id (0 or negative when not a number), fourcc the FourCC when given as a
 * string (else NULL). Returns NULL when streamd accepts it or nothing is announced, else the
 * codec's name for the refusal. */
const char *flv_announced_codec_refused(flv_media_kind_t kind, double id, const char *fourcc);

#endif
