/* FLV tag body parsing for RTMP media messages, and H.264 / AAC configuration validators.
 *
 * Layouts (FLV spec 10.1, enhanced RTMP v1/v2):
 *   legacy video: frameType(4) codecId(4) | AVC: packetType(8) cts(SI24) data
 *   enhanced video: 1(1) frameType(3) packetType(4) fourCC(32) | [cts(SI24) for CodedFrames] data
 *   legacy audio: soundFormat(4) rate(2) size(1) type(1) | AAC: packetType(8) data
 *   enhanced audio: 9(4) packetType(4) fourCC(32) data */
#include "ingest/flv.h"

#include <string.h>

#define VIDEO_CODEC_AVC 7
#define AUDIO_FORMAT_EX_HEADER 9
#define AUDIO_FORMAT_AAC 10
#define FRAME_KEY 1
#define FRAME_GENERATED_KEY 4
#define FRAME_COMMAND 5
#define AVC_SEQUENCE_HEADER 0
#define AVC_NALU 1
#define AVC_END_OF_SEQUENCE 2
/* Enhanced RTMP packet types. SequenceStart and CodedFrames have the values of the legacy
 * AACPacketType (0 = AudioSpecificConfig, 1 = raw), so both paths share parse_aac_packet. */
#define EX_SEQUENCE_START 0
#define EX_CODED_FRAMES 1
#define EX_SEQUENCE_END 2
#define EX_CODED_FRAMES_X 3 /* video only: no composition time */
#define EX_METADATA 4       /* video */
#define EX_AUDIO_MULTICHANNEL_CONFIG 4
#define EX_AUDIO_MULTITRACK 5
#define EX_VIDEO_MULTITRACK 6
#define EX_MOD_EX 7
#define NAL_SPS 7
#define NAL_PPS 8

static const char *const video_codec_names[16] = {"unknown video codec 0",
                                                  "JPEG",
                                                  "Sorenson H.263",
                                                  "Screen Video",
                                                  "On2 VP6",
                                                  "On2 VP6 alpha",
                                                  "Screen Video v2",
                                                  "H.264",
                                                  "unknown video codec 8",
                                                  "unknown video codec 9",
                                                  "unknown video codec 10",
                                                  "unknown video codec 11",
                                                  "HEVC (FLV codec id 12)",
                                                  "AV1 (FLV codec id 13)",
                                                  "unknown video codec 14",
                                                  "unknown video codec 15"};

static const char *const audio_format_names[16] = {"Linear PCM (platform endian)",
                                                   "ADPCM",
                                                   "MP3",
                                                   "Linear PCM (little endian)",
                                                   "Nellymoser 16 kHz mono",
                                                   "Nellymoser 8 kHz mono",
                                                   "Nellymoser",
                                                   "G.711 A-law",
                                                   "G.711 mu-law",
                                                   "enhanced RTMP audio",
                                                   "AAC",
                                                   "Speex",
                                                   "unknown audio format 12",
                                                   "unknown audio format 13",
                                                   "MP3 8 kHz",
                                                   "device-specific sound"};

typedef struct fourcc_name {
    const char fourcc[5];
    const char *name;
} fourcc_name_t;

static const fourcc_name_t video_fourccs[] = {
    {"avc1", "H.264"}, {"hvc1", "HEVC"}, {"av01", "AV1"}, {"vp09", "VP9"}, {"vp08", "VP8"},
};

static const fourcc_name_t audio_fourccs[] = {
    {"mp4a", "AAC"},  {"Opus", "Opus"},   {"fLaC", "FLAC"},
    {"ac-3", "AC-3"}, {"ec-3", "E-AC-3"}, {".mp3", "MP3"},
};

static const uint32_t aac_sample_rates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                              22050, 16000, 12000, 11025, 8000,  7350};

static uint32_t read_be(const uint8_t *p, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static int32_t read_si24(const uint8_t *p)
{
    uint32_t v = read_be(p, 3);
    return (v & 0x800000) ? (int32_t)v - 0x1000000 : (int32_t)v;
}

static int fail(flv_media_t *out, int rc, const char *error)
{
    out->error = error;
    return rc;
}

/* ---- AVCDecoderConfigurationRecord ---- */

static int config_fail(const char **reason, const char *why)
{
    if (reason)
        *reason = why;
    return FLV_ERR_BAD_CONFIG;
}

/* count parameter sets of NAL type nal_type at buf[*pos..len). */
static int parse_parameter_sets(const uint8_t *buf, size_t len, size_t *pos, unsigned count,
                                unsigned nal_type, const char **reason)
{
    for (unsigned i = 0; i < count; i++) {
        if (len - *pos < 2)
            return config_fail(reason, "AVC config: parameter set length truncated");
        size_t set_len = read_be(buf + *pos, 2);
        *pos += 2;
        if (set_len == 0 || len - *pos < set_len)
            return config_fail(reason, "AVC config: parameter set runs past the record");
        if ((buf[*pos] & 0x1F) != nal_type)
            return config_fail(reason, "AVC config: parameter set has the wrong NAL type");
        *pos += set_len;
    }
    return 0;
}

int flv_avc_config_parse(const uint8_t *buf, size_t len, flv_avc_config_t *out, const char **reason)
{
    memset(out, 0, sizeof *out);
    if (len < 7)
        return config_fail(reason, "AVC config: record truncated");
    if (buf[0] != 1)
        return config_fail(reason, "AVC config: configurationVersion is not 1");
    out->profile = buf[1];
    out->compatibility = buf[2];
    out->level = buf[3];
    unsigned length_size_minus_one = buf[4] & 0x03;
    if (length_size_minus_one == 2)
        return config_fail(reason, "AVC config: NAL length size 3 is not allowed");
    out->nal_length_size = (uint8_t)(length_size_minus_one + 1);
    out->sps_count = buf[5] & 0x1F;
    if (out->sps_count == 0)
        return config_fail(reason, "AVC config: no SPS");
    size_t pos = 6;
    int rc = parse_parameter_sets(buf, len, &pos, out->sps_count, NAL_SPS, reason);
    if (rc < 0)
        return rc;
    if (len - pos < 1)
        return config_fail(reason, "AVC config: PPS count truncated");
    out->pps_count = buf[pos++];
    if (out->pps_count == 0)
        return config_fail(reason, "AVC config: no PPS");
    /* Bytes after the PPS (high-profile chroma/bit-depth fields) are allowed and not needed. */
    return parse_parameter_sets(buf, len, &pos, out->pps_count, NAL_PPS, reason);
}

/* ---- AudioSpecificConfig ---- */

typedef struct bit_reader {
    const uint8_t *buf;
    size_t len;    /* bytes */
    size_t bitpos; /* bits consumed */
} bit_reader_t;

static bool read_bits(bit_reader_t *br, unsigned n, uint32_t *out)
{
    if (br->len * 8 - br->bitpos < n)
        return false;
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t bit = br->bitpos++;
        v = (v << 1) | ((br->buf[bit / 8] >> (7 - bit % 8)) & 1);
    }
    *out = v;
    return true;
}

static bool valid_channel_config(uint32_t channels)
{
    return channels <= 7 || (channels >= 11 && channels <= 14);
}

int flv_aac_config_parse(const uint8_t *buf, size_t len, flv_aac_config_t *out, const char **reason)
{
    memset(out, 0, sizeof *out);
    bit_reader_t br = {.buf = buf, .len = len};
    uint32_t object_type, index, rate = 0, channels;
    if (!read_bits(&br, 5, &object_type))
        return config_fail(reason, "AAC config: truncated");
    if (object_type == 31) {
        uint32_t extension;
        if (!read_bits(&br, 6, &extension))
            return config_fail(reason, "AAC config: truncated");
        object_type = 32 + extension;
    }
    if (object_type == 0)
        return config_fail(reason, "AAC config: object type 0");
    if (!read_bits(&br, 4, &index))
        return config_fail(reason, "AAC config: truncated");
    if (index == 15) {
        if (!read_bits(&br, 24, &rate))
            return config_fail(reason, "AAC config: truncated");
    } else if (index < 13) {
        rate = aac_sample_rates[index];
    }
    if (rate == 0)
        return config_fail(reason, "AAC config: invalid sampling frequency");
    if (!read_bits(&br, 4, &channels))
        return config_fail(reason, "AAC config: truncated");
    if (!valid_channel_config(channels))
        return config_fail(reason, "AAC config: reserved channel configuration");
    out->object_type = (uint8_t)object_type;
    out->sample_rate_index = (uint8_t)index;
    out->sample_rate = rate;
    out->channel_config = (uint8_t)channels;
    return 0;
}

/* ---- tag bodies ---- */

static void copy_fourcc(const uint8_t *p, char out[5])
{
    for (int i = 0; i < 4; i++)
        out[i] = (p[i] >= 0x20 && p[i] < 0x7F) ? (char)p[i] : '?';
    out[4] = '\0';
}

static const char *fourcc_lookup(const fourcc_name_t *table, size_t count, const char *fourcc,
                                 const char *unknown)
{
    for (size_t i = 0; i < count; i++) {
        if (memcmp(table[i].fourcc, fourcc, 4) == 0)
            return table[i].name;
    }
    return unknown;
}

static void set_data(flv_media_t *out, const uint8_t *payload, size_t len, size_t header)
{
    out->data = payload + header;
    out->size = len - header;
}

static int avc_config(flv_media_t *out)
{
    const char *reason = NULL;
    out->is_config = true;
    if (flv_avc_config_parse(out->data, out->size, &out->avc, &reason) < 0)
        return fail(out, FLV_ERR_BAD_CONFIG, reason);
    return FLV_OK;
}

static int aac_config(flv_media_t *out)
{
    const char *reason = NULL;
    out->is_config = true;
    if (flv_aac_config_parse(out->data, out->size, &out->aac, &reason) < 0)
        return fail(out, FLV_ERR_BAD_CONFIG, reason);
    return FLV_OK;
}

static int parse_legacy_avc(const uint8_t *payload, size_t len, flv_media_t *out)
{
    if (len < 5)
        return fail(out, FLV_ERR_TRUNCATED, "AVC video tag header truncated");
    out->cts_offset_ms = read_si24(payload + 2);
    set_data(out, payload, len, 5);
    switch (payload[1]) {
    case AVC_SEQUENCE_HEADER:
        out->cts_offset_ms = 0;
        return avc_config(out);
    case AVC_NALU:
        return FLV_OK;
    case AVC_END_OF_SEQUENCE:
        out->is_end_of_sequence = true;
        return FLV_OK;
    default:
        return fail(out, FLV_ERR_BAD_PACKET, "unknown AVC packet type");
    }
}

static int parse_enhanced_avc(const uint8_t *payload, size_t len, unsigned packet_type,
                              flv_media_t *out)
{
    switch (packet_type) {
    case EX_SEQUENCE_START:
        set_data(out, payload, len, 5);
        return avc_config(out);
    case EX_CODED_FRAMES:
        if (len < 8)
            return fail(out, FLV_ERR_TRUNCATED, "enhanced AVC composition time truncated");
        out->cts_offset_ms = read_si24(payload + 5);
        set_data(out, payload, len, 8);
        return FLV_OK;
    case EX_CODED_FRAMES_X:
        set_data(out, payload, len, 5);
        return FLV_OK;
    case EX_SEQUENCE_END:
        set_data(out, payload, len, 5);
        out->is_end_of_sequence = true;
        return FLV_OK;
    case EX_METADATA:
        return FLV_SKIP;
    default:
        return fail(out, FLV_ERR_BAD_PACKET, "unsupported enhanced RTMP video packet type");
    }
}

/* What an enhanced RTMP tag header of one media kind may name: streamd takes one track of one
 * codec; multitrack and ModEx packets are refused with a name the publisher's log can show. */
typedef struct enhanced_kind {
    unsigned multitrack_type; /* EX_VIDEO_MULTITRACK or EX_AUDIO_MULTITRACK */
    const char *multitrack_name, *modex_name, *truncated, *unsupported, *unknown;
    const fourcc_name_t *fourccs;
    size_t fourcc_count;
    const char *accepted_fourcc;
    flv_codec_t codec;
} enhanced_kind_t;

/* The messages name the kind ("video", "audio"). */
#define ENHANCED_KIND(kind, multitrack, table, fourcc, codec_id)                                   \
    {                                                                                              \
        .multitrack_type = (multitrack), .multitrack_name = "enhanced RTMP multitrack " kind,      \
        .modex_name = "enhanced RTMP ModEx " kind,                                                 \
        .truncated = "enhanced " kind " tag header truncated",                                     \
        .unsupported = "unsupported " kind " codec",                                               \
        .unknown = "unknown enhanced RTMP " kind " codec", .fourccs = (table),                     \
        .fourcc_count = sizeof(table) / sizeof *(table), .accepted_fourcc = (fourcc),              \
        .codec = (codec_id),                                                                       \
    }
static const enhanced_kind_t enhanced_video =
    ENHANCED_KIND("video", EX_VIDEO_MULTITRACK, video_fourccs, "avc1", FLV_CODEC_H264);
static const enhanced_kind_t enhanced_audio =
    ENHANCED_KIND("audio", EX_AUDIO_MULTITRACK, audio_fourccs, "mp4a", FLV_CODEC_AAC);

/* Reads the FourCC of an enhanced tag header (payload[1..4]) into out and accepts only the
 * kind's codec. Returns FLV_OK or the error set in out. */
static int parse_enhanced_codec(const uint8_t *payload, size_t len, unsigned packet_type,
                                const enhanced_kind_t *kind, flv_media_t *out)
{
    if (packet_type == kind->multitrack_type || packet_type == EX_MOD_EX) {
        out->codec_name = packet_type == EX_MOD_EX ? kind->modex_name : kind->multitrack_name;
        return fail(out, FLV_ERR_UNSUPPORTED, kind->unsupported);
    }
    if (len < 5)
        return fail(out, FLV_ERR_TRUNCATED, kind->truncated);
    copy_fourcc(payload + 1, out->fourcc);
    out->codec_name = fourcc_lookup(kind->fourccs, kind->fourcc_count, out->fourcc, kind->unknown);
    if (strcmp(out->fourcc, kind->accepted_fourcc) != 0)
        return fail(out, FLV_ERR_UNSUPPORTED, kind->unsupported);
    out->codec = kind->codec;
    return FLV_OK;
}

static int parse_enhanced_video(const uint8_t *payload, size_t len, flv_media_t *out)
{
    unsigned frame_type = (payload[0] >> 4) & 0x07;
    unsigned packet_type = payload[0] & 0x0F;
    out->is_keyframe = frame_type == FRAME_KEY || frame_type == FRAME_GENERATED_KEY;
    int rc = parse_enhanced_codec(payload, len, packet_type, &enhanced_video, out);
    if (rc != FLV_OK)
        return rc;
    if (frame_type == FRAME_COMMAND && packet_type != EX_METADATA)
        return FLV_SKIP;
    return parse_enhanced_avc(payload, len, packet_type, out);
}

static int parse_video(const uint8_t *payload, size_t len, flv_media_t *out)
{
    out->kind = FLV_MEDIA_VIDEO;
    if (len < 1)
        return fail(out, FLV_ERR_TRUNCATED, "empty video message");
    if (payload[0] & 0x80)
        return parse_enhanced_video(payload, len, out);
    unsigned frame_type = payload[0] >> 4;
    unsigned codec_id = payload[0] & 0x0F;
    out->codec_name = video_codec_names[codec_id];
    if (codec_id != VIDEO_CODEC_AVC)
        return fail(out, FLV_ERR_UNSUPPORTED, "unsupported video codec");
    out->codec = FLV_CODEC_H264;
    if (frame_type == FRAME_COMMAND)
        return FLV_SKIP; /* video info/command frame: seek markers, no picture */
    if (frame_type < FRAME_KEY || frame_type > FRAME_COMMAND)
        return fail(out, FLV_ERR_BAD_PACKET, "unknown video frame type");
    out->is_keyframe = frame_type == FRAME_KEY || frame_type == FRAME_GENERATED_KEY;
    return parse_legacy_avc(payload, len, out);
}

static int parse_aac_packet(const uint8_t *payload, size_t len, size_t header, unsigned type,
                            flv_media_t *out)
{
    set_data(out, payload, len, header);
    if (type == EX_SEQUENCE_START)
        return aac_config(out);
    if (type == EX_CODED_FRAMES)
        return FLV_OK;
    return fail(out, FLV_ERR_BAD_PACKET, "unknown AAC packet type");
}

static int parse_enhanced_audio(const uint8_t *payload, size_t len, flv_media_t *out)
{
    unsigned packet_type = payload[0] & 0x0F;
    int rc = parse_enhanced_codec(payload, len, packet_type, &enhanced_audio, out);
    if (rc != FLV_OK)
        return rc;
    if (packet_type == EX_SEQUENCE_END || packet_type == EX_AUDIO_MULTICHANNEL_CONFIG)
        return FLV_SKIP;
    return parse_aac_packet(payload, len, 5, packet_type, out);
}

static int parse_audio(const uint8_t *payload, size_t len, flv_media_t *out)
{
    out->kind = FLV_MEDIA_AUDIO;
    out->is_keyframe = true;
    if (len < 1)
        return fail(out, FLV_ERR_TRUNCATED, "empty audio message");
    unsigned format = payload[0] >> 4;
    if (format == AUDIO_FORMAT_EX_HEADER)
        return parse_enhanced_audio(payload, len, out);
    out->codec_name = audio_format_names[format];
    if (format != AUDIO_FORMAT_AAC)
        return fail(out, FLV_ERR_UNSUPPORTED, "unsupported audio codec");
    out->codec = FLV_CODEC_AAC;
    if (len < 2)
        return fail(out, FLV_ERR_TRUNCATED, "AAC audio tag header truncated");
    return parse_aac_packet(payload, len, 2, payload[1], out);
}

int flv_parse(uint8_t type_id, const uint8_t *payload, size_t len, int64_t dts_ms, flv_media_t *out)
{
    memset(out, 0, sizeof *out);
    out->dts_ms = dts_ms;
    out->message = payload;
    out->message_size = len;
    if (type_id == FLV_MEDIA_VIDEO)
        return parse_video(payload, len, out);
    if (type_id == FLV_MEDIA_AUDIO)
        return parse_audio(payload, len, out);
    return fail(out, FLV_ERR_BAD_PACKET, "not an audio or video message");
}

const char *flv_announced_codec_refused(flv_media_kind_t kind, double id, const char *fourcc)
{
    bool video = kind == FLV_MEDIA_VIDEO;
    if (fourcc) {
        if (strlen(fourcc) != 4 || strcmp(fourcc, video ? "avc1" : "mp4a") == 0)
            return NULL;
        return video ? fourcc_lookup(video_fourccs, sizeof video_fourccs / sizeof *video_fourccs,
                                     fourcc, "an unknown video FourCC")
                     : fourcc_lookup(audio_fourccs, sizeof audio_fourccs / sizeof *audio_fourccs,
                                     fourcc, "an unknown audio FourCC");
    }
    /* 0 is what encoders send when they do not say; ids past the table are not FLV's. */
    if (!(id >= 1 && id <= 15) || id != (double)(int)id)
        return NULL;
    int codec = (int)id;
    if (codec == (video ? VIDEO_CODEC_AVC : AUDIO_FORMAT_AAC))
        return NULL;
    return video ? video_codec_names[codec] : audio_format_names[codec];
}
