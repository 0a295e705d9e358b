/* Unit tests for ingest/flv: H.264 and AAC tags (legacy and enhanced RTMP), every unsupported
 * codec by name, truncated headers, bad packet types, and the AVC / AAC configuration
 * validators with broken records. */
#include <criterion/criterion.h>
#include <string.h>

#include "ingest/flv.h"

/* A real x264 High profile level 3.0 record: 1 SPS, 1 PPS, 4-byte NAL lengths. */
static const uint8_t avc_record[] = {
    0x01, 0x64, 0x00, 0x1E, 0xFF, 0xE1, 0x00, 0x0F, /* header, 1 SPS of 15 */
    0x67, 0x64, 0x00, 0x1E, 0xAC, 0xD9, 0x40, 0xA0, 0x2F,
    0xF9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x01, 0x00, 0x06, /* 1 PPS of 6 */
    0x68, 0xEB, 0xE3, 0xCB, 0x22, 0xC0};

static size_t video_tag(uint8_t *buf, uint8_t first, uint8_t packet_type, uint32_t cts,
                        const uint8_t *data, size_t len)
{
    buf[0] = first;
    buf[1] = packet_type;
    buf[2] = (uint8_t)(cts >> 16);
    buf[3] = (uint8_t)(cts >> 8);
    buf[4] = (uint8_t)cts;
    if (len)
        memcpy(buf + 5, data, len);
    return 5 + len;
}

Test(flv, avc_sequence_header)
{
    uint8_t tag[64];
    size_t len = video_tag(tag, 0x17, 0, 0, avc_record, sizeof avc_record);
    flv_media_t m;
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_OK);
    cr_assert_eq(m.kind, FLV_MEDIA_VIDEO);
    cr_assert_eq(m.codec, FLV_CODEC_H264);
    cr_assert_str_eq(m.codec_name, "H.264");
    cr_assert(m.is_config);
    cr_assert(m.is_keyframe);
    cr_assert_eq(m.data, tag + 5);
    cr_assert_eq(m.size, sizeof avc_record);
    cr_assert_eq(m.message, tag);
    cr_assert_eq(m.message_size, len);
    cr_assert_eq(m.avc.profile, 100);
    cr_assert_eq(m.avc.level, 30);
    cr_assert_eq(m.avc.nal_length_size, 4);
    cr_assert_eq(m.avc.sps_count, 1);
    cr_assert_eq(m.avc.pps_count, 1);
    cr_assert_null(m.error);
}

Test(flv, avc_frames_and_composition_time)
{
    const uint8_t nal[] = {0, 0, 0, 2, 0x65, 0x88};
    uint8_t tag[64];
    flv_media_t m;
    size_t len = video_tag(tag, 0x17, 1, 66, nal, sizeof nal);
    cr_assert_eq(flv_parse(9, tag, len, 1234, &m), FLV_OK);
    cr_assert(m.is_keyframe);
    cr_assert_not(m.is_config);
    cr_assert_eq(m.dts_ms, 1234);
    cr_assert_eq(m.cts_offset_ms, 66);
    cr_assert_eq(m.size, sizeof nal);
    cr_assert_eq(memcmp(m.data, nal, sizeof nal), 0);

    len = video_tag(tag, 0x27, 1, 0xFFFFFF, nal, sizeof nal); /* inter frame, cts -1 */
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_OK);
    cr_assert_not(m.is_keyframe);
    cr_assert_eq(m.cts_offset_ms, -1);
    len = video_tag(tag, 0x37, 1, 0x800000, nal, sizeof nal); /* disposable, most negative */
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_OK);
    cr_assert_not(m.is_keyframe);
    cr_assert_eq(m.cts_offset_ms, -8388608);
    len = video_tag(tag, 0x47, 1, 0x7FFFFF, nal, sizeof nal); /* generated key frame */
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_OK);
    cr_assert(m.is_keyframe);
    cr_assert_eq(m.cts_offset_ms, 8388607);
    len = video_tag(tag, 0x17, 1, 0, NULL, 0); /* an empty NALU packet is well formed */
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_OK);
    cr_assert_eq(m.size, 0);
}

Test(flv, avc_end_of_sequence_command_frame_and_bad_types)
{
    uint8_t tag[16];
    flv_media_t m;
    size_t len = video_tag(tag, 0x17, 2, 0, NULL, 0);
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_OK);
    cr_assert(m.is_end_of_sequence);
    len = video_tag(tag, 0x57, 0, 0, NULL, 0);
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_SKIP);
    cr_assert_eq(flv_parse(9, tag, 1, 0, &m), FLV_SKIP, "command frames may be one byte");
    len = video_tag(tag, 0x17, 3, 0, NULL, 0);
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_ERR_BAD_PACKET);
    cr_assert_not_null(m.error);
    len = video_tag(tag, 0x07, 1, 0, NULL, 0);
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_ERR_BAD_PACKET);
    len = video_tag(tag, 0x67, 1, 0, NULL, 0);
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_ERR_BAD_PACKET);
    cr_assert_eq(flv_parse(18, tag, len, 0, &m), FLV_ERR_BAD_PACKET);
}

Test(flv, truncated_headers)
{
    uint8_t tag[64];
    flv_media_t m;
    size_t len = video_tag(tag, 0x17, 0, 0, avc_record, sizeof avc_record);
    cr_assert_eq(flv_parse(9, tag, 0, 0, &m), FLV_ERR_TRUNCATED);
    for (size_t cut = 1; cut < 5; cut++)
        cr_assert_eq(flv_parse(9, tag, cut, 0, &m), FLV_ERR_TRUNCATED, "cut %zu", cut);
    for (size_t cut = 5; cut < len; cut++)
        cr_assert_eq(flv_parse(9, tag, cut, 0, &m), FLV_ERR_BAD_CONFIG, "cut %zu", cut);
    const uint8_t aac[] = {0xAF, 0x00, 0x12, 0x10};
    cr_assert_eq(flv_parse(8, aac, 0, 0, &m), FLV_ERR_TRUNCATED);
    cr_assert_eq(flv_parse(8, aac, 1, 0, &m), FLV_ERR_TRUNCATED);
    cr_assert_eq(flv_parse(8, aac, 2, 0, &m), FLV_ERR_BAD_CONFIG);
    cr_assert_eq(flv_parse(8, aac, 3, 0, &m), FLV_ERR_BAD_CONFIG);
    cr_assert_eq(flv_parse(8, aac, 4, 0, &m), FLV_OK);
}

Test(flv, every_unsupported_video_codec_is_named)
{
    const char *names[16] = {[1] = "JPEG",
                             [2] = "Sorenson H.263",
                             [3] = "Screen Video",
                             [4] = "On2 VP6",
                             [5] = "On2 VP6 alpha",
                             [6] = "Screen Video v2",
                             [12] = "HEVC (FLV codec id 12)",
                             [13] = "AV1 (FLV codec id 13)"};
    for (unsigned id = 0; id < 16; id++) {
        if (id == 7)
            continue;
        uint8_t tag[8] = {(uint8_t)(0x10 | id), 0, 0, 0, 0, 1, 2, 3};
        flv_media_t m;
        cr_assert_eq(flv_parse(9, tag, sizeof tag, 0, &m), FLV_ERR_UNSUPPORTED, "id %u", id);
        cr_assert_not_null(m.codec_name);
        cr_assert_eq(m.codec, FLV_CODEC_NONE);
        if (names[id])
            cr_assert_str_eq(m.codec_name, names[id]);
        else
            cr_assert(strstr(m.codec_name, "unknown video codec"), "%s", m.codec_name);
    }
}

Test(flv, every_unsupported_audio_codec_is_named)
{
    const char *names[16] = {[0] = "Linear PCM (platform endian)",
                             [1] = "ADPCM",
                             [2] = "MP3",
                             [3] = "Linear PCM (little endian)",
                             [4] = "Nellymoser 16 kHz mono",
                             [5] = "Nellymoser 8 kHz mono",
                             [6] = "Nellymoser",
                             [7] = "G.711 A-law",
                             [8] = "G.711 mu-law",
                             [11] = "Speex",
                             [14] = "MP3 8 kHz",
                             [15] = "device-specific sound"};
    for (unsigned format = 0; format < 16; format++) {
        if (format == 10 || format == 9)
            continue;
        uint8_t tag[4] = {(uint8_t)(format << 4 | 0x0F), 1, 2, 3};
        flv_media_t m;
        cr_assert_eq(flv_parse(8, tag, sizeof tag, 0, &m), FLV_ERR_UNSUPPORTED, "%u", format);
        cr_assert_eq(m.kind, FLV_MEDIA_AUDIO);
        if (names[format])
            cr_assert_str_eq(m.codec_name, names[format]);
        else
            cr_assert(strstr(m.codec_name, "unknown audio format"));
    }
}

Test(flv, aac_config_and_raw)
{
    const uint8_t config[] = {0xAF, 0x00, 0x11, 0x90}; /* LC, 48 kHz, stereo */
    flv_media_t m;
    cr_assert_eq(flv_parse(8, config, sizeof config, 20, &m), FLV_OK);
    cr_assert_eq(m.codec, FLV_CODEC_AAC);
    cr_assert_str_eq(m.codec_name, "AAC");
    cr_assert(m.is_config);
    cr_assert(m.is_keyframe);
    cr_assert_eq(m.aac.object_type, 2);
    cr_assert_eq(m.aac.sample_rate, 48000);
    cr_assert_eq(m.aac.channel_config, 2);
    cr_assert_eq(m.data, config + 2);
    cr_assert_eq(m.size, 2);
    cr_assert_eq(m.dts_ms, 20);
    cr_assert_eq(m.cts_offset_ms, 0);
    const uint8_t raw[] = {0xAF, 0x01, 0x21, 0x10, 0x05};
    cr_assert_eq(flv_parse(8, raw, sizeof raw, 0, &m), FLV_OK);
    cr_assert_not(m.is_config);
    cr_assert_eq(m.size, 3);
    const uint8_t bad_type[] = {0xAF, 0x02, 0x00};
    cr_assert_eq(flv_parse(8, bad_type, sizeof bad_type, 0, &m), FLV_ERR_BAD_PACKET);
}

static size_t ex_video(uint8_t *buf, unsigned frame_type, unsigned packet_type, const char *fourcc)
{
    buf[0] = (uint8_t)(0x80 | frame_type << 4 | packet_type);
    memcpy(buf + 1, fourcc, 4);
    return 5;
}

Test(flv, enhanced_rtmp_video)
{
    uint8_t tag[64];
    flv_media_t m;
    const struct {
        const char *fourcc, *name;
    } unsupported[] = {{"hvc1", "HEVC"},
                       {"av01", "AV1"},
                       {"vp09", "VP9"},
                       {"vp08", "VP8"},
                       {"abcd", "unknown enhanced RTMP video codec"}};
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++) {
        size_t len = ex_video(tag, 1, 0, unsupported[i].fourcc);
        cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_ERR_UNSUPPORTED);
        cr_assert_str_eq(m.codec_name, unsupported[i].name);
        cr_assert_str_eq(m.fourcc, unsupported[i].fourcc);
    }
    size_t len = ex_video(tag, 1, 0, "\x01\xFF\x20z");
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_ERR_UNSUPPORTED);
    cr_assert_str_eq(m.fourcc, "?? z");

    len = ex_video(tag, 1, 0, "avc1");
    memcpy(tag + len, avc_record, sizeof avc_record);
    cr_assert_eq(flv_parse(9, tag, len + sizeof avc_record, 0, &m), FLV_OK);
    cr_assert(m.is_config);
    cr_assert_eq(m.codec, FLV_CODEC_H264);

    len = ex_video(tag, 1, 1, "avc1");
    const uint8_t cts_and_nal[] = {0, 0, 40, 0, 0, 0, 1, 0x65};
    memcpy(tag + len, cts_and_nal, sizeof cts_and_nal);
    cr_assert_eq(flv_parse(9, tag, len + sizeof cts_and_nal, 0, &m), FLV_OK);
    cr_assert(m.is_keyframe);
    cr_assert_eq(m.cts_offset_ms, 40);
    cr_assert_eq(m.size, 5);
    cr_assert_eq(flv_parse(9, tag, len + 2, 0, &m), FLV_ERR_TRUNCATED);

    len = ex_video(tag, 2, 3, "avc1"); /* CodedFramesX: no composition time */
    cr_assert_eq(flv_parse(9, tag, len + 3, 0, &m), FLV_OK);
    cr_assert_not(m.is_keyframe);
    cr_assert_eq(m.size, 3);
    len = ex_video(tag, 1, 2, "avc1");
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_OK);
    cr_assert(m.is_end_of_sequence);
    len = ex_video(tag, 1, 4, "avc1");
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_SKIP);
    len = ex_video(tag, 5, 1, "avc1");
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_SKIP);
    len = ex_video(tag, 1, 6, "avc1");
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_ERR_UNSUPPORTED);
    cr_assert_str_eq(m.codec_name, "enhanced RTMP multitrack video");
    len = ex_video(tag, 1, 9, "avc1");
    cr_assert_eq(flv_parse(9, tag, len, 0, &m), FLV_ERR_BAD_PACKET);
    for (size_t cut = 1; cut < 5; cut++)
        cr_assert_eq(flv_parse(9, tag, cut, 0, &m), FLV_ERR_TRUNCATED);
}

Test(flv, enhanced_rtmp_audio)
{
    uint8_t tag[16] = {0x90, 'O', 'p', 'u', 's', 1, 2};
    flv_media_t m;
    cr_assert_eq(flv_parse(8, tag, 7, 0, &m), FLV_ERR_UNSUPPORTED);
    cr_assert_str_eq(m.codec_name, "Opus");
    memcpy(tag + 1, "fLaC", 4);
    cr_assert_eq(flv_parse(8, tag, 7, 0, &m), FLV_ERR_UNSUPPORTED);
    cr_assert_str_eq(m.codec_name, "FLAC");
    memcpy(tag + 1, "mp4a", 4);
    tag[5] = 0x12, tag[6] = 0x10;
    cr_assert_eq(flv_parse(8, tag, 7, 0, &m), FLV_OK);
    cr_assert(m.is_config);
    cr_assert_eq(m.aac.sample_rate, 44100);
    tag[0] = 0x91;
    cr_assert_eq(flv_parse(8, tag, 7, 0, &m), FLV_OK);
    cr_assert_not(m.is_config);
    tag[0] = 0x95;
    cr_assert_eq(flv_parse(8, tag, 7, 0, &m), FLV_ERR_UNSUPPORTED);
    tag[0] = 0x92;
    cr_assert_eq(flv_parse(8, tag, 7, 0, &m), FLV_SKIP);
    tag[0] = 0x90;
    cr_assert_eq(flv_parse(8, tag, 4, 0, &m), FLV_ERR_TRUNCATED);
}

Test(flv, avc_config_validator_rejects_broken_records)
{
    flv_avc_config_t c;
    const char *why = NULL;
    uint8_t r[sizeof avc_record];
    cr_assert_eq(flv_avc_config_parse(avc_record, sizeof avc_record, &c, &why), 0);
    /* Trailing bytes (high profile extension) are fine. */
    uint8_t longer[sizeof avc_record + 4];
    memcpy(longer, avc_record, sizeof avc_record);
    memset(longer + sizeof avc_record, 0xFC, 4);
    cr_assert_eq(flv_avc_config_parse(longer, sizeof longer, &c, NULL), 0);

#define BROKEN(index, value)                                                                       \
    do {                                                                                           \
        memcpy(r, avc_record, sizeof r);                                                           \
        r[index] = value;                                                                          \
        why = NULL;                                                                                \
        cr_assert_eq(flv_avc_config_parse(r, sizeof r, &c, &why), FLV_ERR_BAD_CONFIG,              \
                     "byte %d = %d", index, value);                                                \
        cr_assert_not_null(why);                                                                   \
    } while (0)
    BROKEN(0, 0);     /* version */
    BROKEN(0, 2);     /* version */
    BROKEN(4, 0xFE);  /* NAL length size 3 */
    BROKEN(5, 0xE0);  /* no SPS */
    BROKEN(5, 0xE2);  /* two SPS declared, one present */
    BROKEN(7, 0xFF);  /* SPS length past the end */
    BROKEN(7, 0x00);  /* empty SPS */
    BROKEN(8, 0x68);  /* SPS with the PPS NAL type */
    BROKEN(23, 0);    /* no PPS */
    BROKEN(23, 2);    /* two PPS declared, one present */
    BROKEN(25, 0x20); /* PPS length past the end */
    BROKEN(26, 0x67); /* PPS with the SPS NAL type */
#undef BROKEN
    for (size_t cut = 0; cut < sizeof avc_record; cut++)
        cr_assert_eq(flv_avc_config_parse(avc_record, cut, &c, NULL), FLV_ERR_BAD_CONFIG);
}

Test(flv, aac_config_validator)
{
    flv_aac_config_t c;
    const char *why = NULL;
    const uint8_t lc_44k_stereo[] = {0x12, 0x10};
    cr_assert_eq(flv_aac_config_parse(lc_44k_stereo, 2, &c, &why), 0);
    cr_assert_eq(c.object_type, 2);
    cr_assert_eq(c.sample_rate_index, 4);
    cr_assert_eq(c.sample_rate, 44100);
    cr_assert_eq(c.channel_config, 2);
    const uint8_t he_aac[] = {0x2B, 0x8A, 0x08, 0x00}; /* object type 5, 22.05 kHz, mono */
    cr_assert_eq(flv_aac_config_parse(he_aac, sizeof he_aac, &c, NULL), 0);
    cr_assert_eq(c.object_type, 5);
    cr_assert_eq(c.sample_rate, 22050);
    /* Explicit 24-bit rate: type 2, index 15, rate 44100 (0x00AC44), 1 channel. */
    const uint8_t explicit_rate[] = {0x17, 0x80, 0x56, 0x22, 0x08};
    cr_assert_eq(flv_aac_config_parse(explicit_rate, sizeof explicit_rate, &c, NULL), 0);
    cr_assert_eq(c.sample_rate_index, 15);
    cr_assert_eq(c.sample_rate, 44100);
    cr_assert_eq(c.channel_config, 1);
    /* Escaped object type 31 + 6 bits: 32 + 10 = 42 (USAC), 48 kHz, stereo. */
    const uint8_t escaped[] = {0xF9, 0x46, 0x40};
    cr_assert_eq(flv_aac_config_parse(escaped, sizeof escaped, &c, NULL), 0);
    cr_assert_eq(c.object_type, 42);
    cr_assert_eq(c.sample_rate, 48000);

    const uint8_t zero_type[] = {0x02, 0x10};
    cr_assert_eq(flv_aac_config_parse(zero_type, 2, &c, &why), FLV_ERR_BAD_CONFIG);
    cr_assert_str_eq(why, "AAC config: object type 0");
    const uint8_t reserved_rate[] = {0x16, 0x90}; /* index 13 */
    cr_assert_eq(flv_aac_config_parse(reserved_rate, 2, &c, NULL), FLV_ERR_BAD_CONFIG);
    const uint8_t zero_rate[] = {0x17, 0x80, 0x00, 0x00, 0x08};
    cr_assert_eq(flv_aac_config_parse(zero_rate, sizeof zero_rate, &c, NULL), FLV_ERR_BAD_CONFIG);
    const uint8_t reserved_channels[] = {0x12, 0x40}; /* channel configuration 8 */
    cr_assert_eq(flv_aac_config_parse(reserved_channels, 2, &c, NULL), FLV_ERR_BAD_CONFIG);
    const uint8_t seven_one[] = {0x12, 0x60}; /* channel configuration 12 is valid */
    cr_assert_eq(flv_aac_config_parse(seven_one, 2, &c, NULL), 0);
    cr_assert_eq(flv_aac_config_parse(lc_44k_stereo, 1, &c, NULL), FLV_ERR_BAD_CONFIG);
    cr_assert_eq(flv_aac_config_parse(lc_44k_stereo, 0, &c, NULL), FLV_ERR_BAD_CONFIG);
    cr_assert_eq(flv_aac_config_parse(explicit_rate, 4, &c, NULL), FLV_ERR_BAD_CONFIG);
}
