/* Codec configuration records as RTMP/FLV carries them: the H.264 AVCDecoderConfigurationRecord
 * (ISO/IEC 14496-15 "avcC") and the AAC AudioSpecificConfig (ISO/IEC 14496-3), plus the AVCC ->
 * Annex B conversion that MPEG-TS needs. Inputs come from the network: every length is checked
 * against the bytes received and against the limits below, and nothing is allocated beyond them.
 * No shared state: any thread may call any function on values it owns. */
#ifndef STREAMD_MEDIA_CODEC_H
#define STREAMD_MEDIA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CODEC_MAX_CONFIG_BYTES 65536      /* larger avcC / ASC records are refused */
#define CODEC_MAX_FRAME_BYTES (16u << 20) /* larger access units are refused */
#define CODEC_AAC_MAX_FRAME_BYTES 8184    /* ADTS frame length (13 bits) minus its 7-byte header */
#define CODEC_AAC_FRAME_SAMPLES 1024      /* core samples per AAC frame (960 is refused) */
#define CODEC_ADTS_HEADER_BYTES 7         /* an ADTS header without CRC */

/* A parsed avcC. Owns parameter_sets; release with codec_avc_config_clear. */
typedef struct codec_avc_config {
    uint8_t profile_idc;        /* AVCProfileIndication, e.g. 0x64 = High */
    uint8_t profile_compat;     /* profile_compatibility (constraint flags) */
    uint8_t level_idc;          /* AVCLevelIndication, e.g. 0x1f = 3.1 */
    int nal_length_size;        /* bytes of each NAL unit length prefix: 1, 2 or 4 */
    uint8_t *parameter_sets;    /* every SPS then every PPS, each behind a 4-byte start code */
    size_t parameter_sets_size; /* bytes at parameter_sets */
} codec_avc_config_t;

/* A parsed AudioSpecificConfig that MPEG-TS can carry (as ADTS). No allocation. */
typedef struct codec_aac_config {
    int object_type; /* audio object type as signalled: 2 = AAC-LC, 5 = HE-AAC, 29 = HE-AACv2 */
    int sample_rate; /* Hz of the decoded output (the SBR rate for explicit HE-AAC) */
    int core_sample_rate; /* Hz of the AAC core: CODEC_AAC_FRAME_SAMPLES at it make one frame */
    int channels;         /* from channelConfiguration; 0 = given in-band by a PCE */
    int core_object_type; /* the AAC core's object type: 1..4 (Main, LC, SSR, LTP) */
    int core_rate_index;  /* the core's samplingFrequencyIndex: 0..12 */
    int channel_config;   /* channelConfiguration: 0 (a PCE) .. 7 */
} codec_aac_config_t;

/* Parses an avcC record into *out (which the caller clears later); returns 0, or -1 with a message
 * in err when the record is truncated, malformed or lacks an SPS or PPS. *out is untouched on
 * failure. */
int codec_avc_config_parse(const uint8_t *buf, size_t len, codec_avc_config_t *out, char *err,
                           size_t err_size);

/* Frees what codec_avc_config_parse allocated and zeroes *config; NULL is a no-op. */
void codec_avc_config_clear(codec_avc_config_t *config);

/* Checks an AVCC access unit (length-prefixed NAL units) and returns the exact size of its Annex B
 * form as codec_avc_to_annexb writes it, or 0 with a message in err when a length runs past the
 * end, the unit holds no NAL unit, or it exceeds CODEC_MAX_FRAME_BYTES. */
size_t codec_avc_annexb_size(const codec_avc_config_t *config, const uint8_t *au, size_t len,
                             bool keyframe, char *err, size_t err_size);

/* Writes the Annex B form of an access unit that codec_avc_annexb_size accepted into out (at least
 * that many bytes): an access unit delimiter, then on keyframes the config's SPS/PPS unless the
 * unit carries its own, then the unit's NAL units (in-band delimiters dropped), each behind a
 * 4-byte start code. Returns the bytes written. */
size_t codec_avc_to_annexb(const codec_avc_config_t *config, const uint8_t *au, size_t len,
                           bool keyframe, uint8_t *out);

/* Parses an AudioSpecificConfig into *out; returns 0, or -1 with a message in err when it is
 * truncated, names a reserved sample rate or channel configuration, or is something ADTS cannot
 * signal: a core other than AAC Main/LC/SSR/LTP (HE-AAC v1/v2 over one is fine), an explicit core
 * sample rate, 960-sample frames, or the dependsOnCoreCoder / extension flags. */
int codec_aac_config_parse(const uint8_t *buf, size_t len, codec_aac_config_t *out, char *err,
                           size_t err_size);

/* Writes the ADTS header (no CRC) of a raw AAC frame of frame_size bytes into out, as MPEG-TS
 * carries AAC, and returns CODEC_ADTS_HEADER_BYTES; 0 when the header alone cannot describe the
 * frame: a channel layout given by a PCE, or a frame over CODEC_AAC_MAX_FRAME_BYTES. */
size_t codec_aac_adts_header(const codec_aac_config_t *config, size_t frame_size,
                             uint8_t out[CODEC_ADTS_HEADER_BYTES]);

/* The profile_idc of an RFC 6381 codecs list that starts with avc1.PPCCLL; -1 when it does not. */
int codec_avc_profile_of(const char *codecs);

/* Whether browsers (Media Source Extensions players) decode H.264 of this profile_idc: Baseline,
 * Main, Extended and High, the 8-bit 4:2:0 profiles. */
bool codec_avc_profile_browser_decodable(int profile_idc);

/* The profile's name ("High 4:4:4 Predictive"), or NULL when profile_idc is none of H.264's. */
const char *codec_avc_profile_name(int profile_idc);

/* Marks every High profile SPS of an Annex B access unit as Constrained High (constraint_set4 and
 * constraint_set5: progressive frames only, no B slices), which the caller's encoder settings
 * guarantee. The flags share a byte-aligned byte with no zero byte before it, so the NAL unit's
 * emulation prevention is unchanged. Returns the number of SPS marked. */
int codec_avc_mark_constrained_high(uint8_t *annexb, size_t len);

#endif
