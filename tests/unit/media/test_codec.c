/* Unit tests for avcC / AudioSpecificConfig parsing and AVCC -> Annex B conversion, including
 * every truncation of valid records. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "media/codec.h"

/* avcC: High 3.1, 4-byte lengths, one 4-byte SPS, one 2-byte PPS. */
static const uint8_t avcc[] = {0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x04, 0x67,
                               0x64, 0x00, 0x1f, 0x01, 0x00, 0x02, 0x68, 0xee};

Test(codec, avc_config_parses)
{
    codec_avc_config_t c;
    char err[128] = "";
    cr_assert_eq(codec_avc_config_parse(avcc, sizeof avcc, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.profile_idc, 0x64);
    cr_assert_eq(c.profile_compat, 0x00);
    cr_assert_eq(c.level_idc, 0x1f);
    cr_assert_eq(c.nal_length_size, 4);
    const uint8_t sets[] = {0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0, 0, 0, 1, 0x68, 0xee};
    cr_assert_eq(c.parameter_sets_size, sizeof sets);
    cr_assert_arr_eq(c.parameter_sets, sets, sizeof sets);
    codec_avc_config_clear(&c);
    cr_assert_null(c.parameter_sets);
    codec_avc_config_clear(NULL);
}

Test(codec, avc_config_rejects_every_truncation)
{
    for (size_t len = 0; len < sizeof avcc; len++) {
        codec_avc_config_t c;
        char err[128] = "";
        cr_assert_eq(codec_avc_config_parse(avcc, len, &c, err, sizeof err), -1, "len %zu", len);
        cr_assert_neq(err[0], '\0');
    }
}

Test(codec, avc_config_rejects_malformed)
{
    uint8_t bad[sizeof avcc];
    codec_avc_config_t c;
    char err[128];
    memcpy(bad, avcc, sizeof avcc);
    bad[4] = 0xfe; /* NAL length size 3 */
    cr_assert_eq(codec_avc_config_parse(bad, sizeof bad, &c, err, sizeof err), -1);
    memcpy(bad, avcc, sizeof avcc);
    bad[5] = 0xe0; /* no SPS */
    cr_assert_eq(codec_avc_config_parse(bad, sizeof bad, &c, err, sizeof err), -1);
    memcpy(bad, avcc, sizeof avcc);
    bad[8] = 0x68; /* SPS slot holds a PPS */
    cr_assert_eq(codec_avc_config_parse(bad, sizeof bad, &c, err, sizeof err), -1);
    memcpy(bad, avcc, sizeof avcc);
    bad[12] = 0; /* no PPS */
    cr_assert_eq(codec_avc_config_parse(bad, sizeof bad, &c, err, sizeof err), -1);
    memcpy(bad, avcc, sizeof avcc);
    bad[7] = 0xff; /* SPS length past the end */
    cr_assert_eq(codec_avc_config_parse(bad, sizeof bad, &c, err, sizeof err), -1);
    memcpy(bad, avcc, sizeof avcc);
    bad[7] = 0; /* empty SPS */
    cr_assert_eq(codec_avc_config_parse(bad, sizeof bad, &c, err, sizeof err), -1);
    uint8_t *huge = calloc(1, CODEC_MAX_CONFIG_BYTES + 1);
    memcpy(huge, avcc, sizeof avcc);
    cr_assert_eq(codec_avc_config_parse(huge, CODEC_MAX_CONFIG_BYTES + 1, &c, err, sizeof err), -1);
    free(huge);
    cr_assert_eq(codec_avc_config_parse(NULL, 10, &c, err, sizeof err), -1);
}

static codec_avc_config_t parsed_config(void)
{
    codec_avc_config_t c;
    cr_assert_eq(codec_avc_config_parse(avcc, sizeof avcc, &c, NULL, 0), 0);
    return c;
}

Test(codec, annexb_keyframe_gets_aud_and_parameter_sets)
{
    codec_avc_config_t c = parsed_config();
    /* an in-band AUD (dropped), an SEI, an IDR slice */
    const uint8_t au[] = {0,    0,    0, 2, 0x09, 0xf0, 0,    0,    0,    3,   0x06,
                          0x05, 0x80, 0, 0, 0,    4,    0x65, 0x88, 0x84, 0x00};
    char err[128] = "";
    size_t size = codec_avc_annexb_size(&c, au, sizeof au, true, err, sizeof err);
    const uint8_t want[] = {0, 0, 0, 1, 0x09, 0xf0, /* AUD */
                            0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f,
                            0, 0, 0, 1, 0x68, 0xee,              /* SPS PPS */
                            0, 0, 0, 1, 0x06, 0x05, 0x80,        /* SEI */
                            0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00}; /* IDR */
    cr_assert_eq(size, sizeof want, "%zu %s", size, err);
    uint8_t *out = malloc(size);
    cr_assert_eq(codec_avc_to_annexb(&c, au, sizeof au, true, out), size);
    cr_assert_arr_eq(out, want, size);
    free(out);
    codec_avc_config_clear(&c);
}

Test(codec, annexb_keeps_in_band_parameter_sets_and_skips_empty_units)
{
    codec_avc_config_t c = parsed_config();
    const uint8_t au[] = {0, 0, 0, 2, 0x67, 0x42, 0, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88};
    size_t size = codec_avc_annexb_size(&c, au, sizeof au, true, NULL, 0);
    const uint8_t want[] = {0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x65, 0x88};
    cr_assert_eq(size, sizeof want);
    uint8_t out[sizeof want];
    cr_assert_eq(codec_avc_to_annexb(&c, au, sizeof au, true, out), size);
    cr_assert_arr_eq(out, want, size);
    codec_avc_config_clear(&c);
}

Test(codec, annexb_rejects_every_truncation)
{
    codec_avc_config_t c = parsed_config();
    const uint8_t au[] = {0, 0, 0, 3, 0x06, 0x05, 0x80, 0, 0, 0, 4, 0x41, 0x9a, 0x02, 0x03};
    char err[128];
    cr_assert_gt(codec_avc_annexb_size(&c, au, sizeof au, false, err, sizeof err), 0);
    for (size_t len = 0; len < sizeof au; len++) {
        if (len == 7)
            continue; /* a whole SEI unit is a valid (if odd) access unit */
        err[0] = '\0';
        cr_assert_eq(codec_avc_annexb_size(&c, au, len, false, err, sizeof err), 0, "len %zu", len);
        cr_assert_neq(err[0], '\0');
    }
    const uint8_t only_aud[] = {0, 0, 0, 2, 0x09, 0xf0};
    cr_assert_eq(codec_avc_annexb_size(&c, only_aud, sizeof only_aud, false, err, sizeof err), 0);
    const uint8_t huge_length[] = {0xff, 0xff, 0xff, 0xff, 0x65};
    cr_assert_eq(codec_avc_annexb_size(&c, huge_length, sizeof huge_length, false, err, sizeof err),
                 0);
    codec_avc_config_clear(&c);
}

Test(codec, annexb_with_short_length_prefixes)
{
    uint8_t two_byte[sizeof avcc];
    memcpy(two_byte, avcc, sizeof avcc);
    two_byte[4] = 0xfd; /* lengthSizeMinusOne = 1 */
    codec_avc_config_t c;
    cr_assert_eq(codec_avc_config_parse(two_byte, sizeof two_byte, &c, NULL, 0), 0);
    cr_assert_eq(c.nal_length_size, 2);
    const uint8_t au[] = {0, 2, 0x41, 0x9a};
    const uint8_t want[] = {0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x41, 0x9a};
    uint8_t out[sizeof want];
    cr_assert_eq(codec_avc_annexb_size(&c, au, sizeof au, false, NULL, 0), sizeof want);
    cr_assert_eq(codec_avc_to_annexb(&c, au, sizeof au, false, out), sizeof want);
    cr_assert_arr_eq(out, want, sizeof want);
    codec_avc_config_clear(&c);
}

Test(codec, aac_config_parses)
{
    codec_aac_config_t c;
    char err[128] = "";
    const uint8_t lc_48k_stereo[] = {0x11, 0x90};
    cr_assert_eq(codec_aac_config_parse(lc_48k_stereo, 2, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.object_type, 2);
    cr_assert_eq(c.sample_rate, 48000);
    cr_assert_eq(c.core_sample_rate, 48000);
    cr_assert_eq(c.channels, 2);
    const uint8_t he[] = {0x2b, 0x92, 0x08, 0x00};
    cr_assert_eq(codec_aac_config_parse(he, sizeof he, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.object_type, 5);
    cr_assert_eq(c.core_sample_rate, 22050);
    cr_assert_eq(c.sample_rate, 44100);
    cr_assert_eq(c.channels, 2);
    const uint8_t seven_one[] = {0x11, 0xb8}; /* channel configuration 7: 8 channels */
    cr_assert_eq(codec_aac_config_parse(seven_one, 2, &c, err, sizeof err), 0);
    cr_assert_eq(c.channels, 8);
}

Test(codec, aac_adts_headers)
{
    codec_aac_config_t c;
    char err[128] = "";
    uint8_t out[CODEC_ADTS_HEADER_BYTES];
    const uint8_t lc_48k_stereo[] = {0x11, 0x90};
    cr_assert_eq(codec_aac_config_parse(lc_48k_stereo, 2, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(codec_aac_adts_header(&c, 256, out), CODEC_ADTS_HEADER_BYTES);
    const uint8_t lc_want[] = {0xFF, 0xF1, 0x4C, 0x80, 0x20, 0xFF, 0xFC}; /* 263 bytes in all */
    cr_assert_arr_eq(out, lc_want, sizeof lc_want);
    /* The largest frame: a 13-bit length of 8191. */
    cr_assert_eq(codec_aac_adts_header(&c, CODEC_AAC_MAX_FRAME_BYTES, out),
                 CODEC_ADTS_HEADER_BYTES);
    const uint8_t max_want[] = {0xFF, 0xF1, 0x4C, 0x83, 0xFF, 0xFF, 0xFC};
    cr_assert_arr_eq(out, max_want, sizeof max_want);
    cr_assert_eq(codec_aac_adts_header(&c, CODEC_AAC_MAX_FRAME_BYTES + 1, out), 0);
    /* HE-AAC: ADTS describes the AAC-LC core at 22050 Hz; the decoder finds SBR in-band. */
    const uint8_t he[] = {0x2b, 0x92, 0x08, 0x00};
    cr_assert_eq(codec_aac_config_parse(he, sizeof he, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(codec_aac_adts_header(&c, 100, out), CODEC_ADTS_HEADER_BYTES);
    const uint8_t he_want[] = {0xFF, 0xF1, 0x5C, 0x80, 0x0D, 0x7F, 0xFC};
    cr_assert_arr_eq(out, he_want, sizeof he_want);
    const uint8_t seven_one[] = {0x11, 0xb8}; /* channel configuration 7: its high bit in byte 2 */
    cr_assert_eq(codec_aac_config_parse(seven_one, 2, &c, err, sizeof err), 0);
    cr_assert_eq(codec_aac_adts_header(&c, 256, out), CODEC_ADTS_HEADER_BYTES);
    cr_assert_eq(out[2], 0x4D);
    cr_assert_eq(out[3] >> 6, 3);
    /* Channels given by a PCE: the header alone cannot say, libavformat writes the PCE. */
    const uint8_t pce[] = {0x11, 0x80};
    cr_assert_eq(codec_aac_config_parse(pce, 2, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(codec_aac_adts_header(&c, 256, out), 0);
}

Test(codec, aac_config_rejects_malformed)
{
    codec_aac_config_t c;
    char err[128];
    const uint8_t reserved_rate[] = {0x16, 0x90}; /* index 13 */
    const uint8_t null_object[] = {0x01, 0x90};   /* object type 0 */
    const uint8_t unsupported[] = {0x29, 0x90};   /* object type 5 over... truncated */
    const uint8_t escape[] = {0xf8, 0x00, 0x00};  /* object type 32 */
    const uint8_t er_aac[] = {0x89, 0x90};        /* object type 17 (ER AAC-LC) */
    const uint8_t channels_9[] = {0x11, 0xc8};    /* channel configuration 9 */
    cr_assert_eq(codec_aac_config_parse(reserved_rate, 2, &c, err, sizeof err), -1);
    cr_assert_eq(codec_aac_config_parse(null_object, 2, &c, err, sizeof err), -1);
    cr_assert_eq(codec_aac_config_parse(unsupported, 2, &c, err, sizeof err), -1);
    cr_assert_eq(codec_aac_config_parse(escape, 3, &c, err, sizeof err), -1);
    cr_assert_eq(codec_aac_config_parse(er_aac, 2, &c, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "object type 17"), "%s", err);
    cr_assert_eq(codec_aac_config_parse(channels_9, 2, &c, err, sizeof err), -1);
    cr_assert_eq(codec_aac_config_parse(NULL, 2, &c, err, sizeof err), -1);
    const uint8_t lc[] = {0x11, 0x90};
    cr_assert_eq(codec_aac_config_parse(lc, 1, &c, err, sizeof err), -1);
    /* ADTS cannot carry these: explicit 24-bit rate (12345 Hz), 960-sample frames, extension */
    const uint8_t explicit_rate[] = {0x17, 0x80, 0x18, 0x1c, 0x88};
    const uint8_t lc_960[] = {0x11, 0x94};
    const uint8_t extension[] = {0x11, 0x91};
    cr_assert_eq(codec_aac_config_parse(explicit_rate, sizeof explicit_rate, &c, err, sizeof err),
                 -1);
    cr_assert_not_null(strstr(err, "explicit sample rate"), "%s", err);
    cr_assert_eq(codec_aac_config_parse(lc_960, 2, &c, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "960"), "%s", err);
    cr_assert_eq(codec_aac_config_parse(extension, 2, &c, err, sizeof err), -1);
    for (size_t len = 0; len < sizeof explicit_rate; len++)
        cr_assert_eq(codec_aac_config_parse(explicit_rate, len, &c, err, sizeof err), -1, "%zu",
                     len);
}

Test(codec, constrained_high_marks_only_high_sps)
{
    uint8_t au[] = {0, 0, 0, 1,    0x67, 100,  0x00, 0x1f, 0xac, /* High SPS */
                    0, 0, 1, 0x68, 0xee, 0x3c, 0x80,             /* PPS */
                    0, 0, 1, 0x67, 77,   0x40, 0x1e,             /* Main SPS: left alone */
                    0, 0, 1, 0x65, 100,  0x00}; /* an IDR slice that looks like one */
    cr_assert_eq(codec_avc_mark_constrained_high(au, sizeof au), 1);
    cr_assert_eq(au[6], 0x0c);
    cr_assert_eq(au[21], 0x40);
    cr_assert_eq(au[28], 0x00);
    uint8_t cut[] = {0, 0, 1, 0x67, 100};
    cr_assert_eq(codec_avc_mark_constrained_high(cut, sizeof cut), 0, "too short to hold flags");
}

Test(codec, browser_decodable_profiles)
{
    cr_assert(codec_avc_profile_browser_decodable(codec_avc_profile_of("avc1.640c1f,mp4a.40.2")));
    cr_assert(codec_avc_profile_browser_decodable(codec_avc_profile_of("avc1.42e01e")));
    cr_assert_not(codec_avc_profile_browser_decodable(codec_avc_profile_of("avc1.f4001e")));
    cr_assert_not(codec_avc_profile_browser_decodable(codec_avc_profile_of("avc1.6e001e")));
    cr_assert_eq(codec_avc_profile_of("mp4a.40.2"), -1);
    cr_assert_eq(codec_avc_profile_of(""), -1);
    cr_assert_str_eq(codec_avc_profile_name(244), "High 4:4:4 Predictive");
    cr_assert_null(codec_avc_profile_name(1));
}
