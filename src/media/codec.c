/* avcC and AudioSpecificConfig parsing and AVCC -> Annex B conversion, for the segmenter and the
 * HLS codec strings. Every read is bounds-checked; allocations are bounded by the input size. */
#include "media/codec.h"

#include "util/errbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AVC_NAL_SPS 7
#define AVC_NAL_PPS 8
#define AVC_NAL_AUD 9
#define START_CODE_BYTES 4

static const uint8_t start_code[START_CODE_BYTES] = {0x00, 0x00, 0x00, 0x01};
/* Access unit delimiter with primary_pic_type 7 (any slice type) and its stop bit. */
static const uint8_t avc_aud[] = {0x00, 0x00, 0x00, 0x01, AVC_NAL_AUD, 0xf0};

/* ---- avcC ---- */

/* Walks one parameter set array of the record: count sets of (u16 length, NAL unit) whose NAL
 * type must be nal_type. Adds their Annex B size to *annexb_size and, when out is given, copies
 * them there. Returns the position after the array, or 0 when the array is malformed. */
static size_t avcc_walk_sets(const uint8_t *buf, size_t len, size_t pos, unsigned count,
                             int nal_type, size_t *annexb_size, uint8_t *out)
{
    for (unsigned i = 0; i < count; i++) {
        if (len - pos < 2)
            return 0;
        size_t set_len = ((size_t)buf[pos] << 8) | buf[pos + 1];
        pos += 2;
        if (set_len == 0 || set_len > len - pos || (buf[pos] & 0x1f) != nal_type)
            return 0;
        if (out) {
            memcpy(out + *annexb_size, start_code, START_CODE_BYTES);
            memcpy(out + *annexb_size + START_CODE_BYTES, buf + pos, set_len);
        }
        *annexb_size += START_CODE_BYTES + set_len;
        pos += set_len;
    }
    return pos;
}

/* Walks the SPS and PPS arrays from byte 5; returns 0 when they are malformed or empty. */
static int avcc_walk_all_sets(const uint8_t *buf, size_t len, size_t *annexb_size, uint8_t *out,
                              char *err, size_t err_size)
{
    unsigned sps_count = buf[5] & 0x1f;
    size_t pos = avcc_walk_sets(buf, len, 6, sps_count, AVC_NAL_SPS, annexb_size, out);
    if (sps_count == 0 || pos == 0)
        return errbuf_set(err, err_size, -1, "avcC: missing, truncated or mistyped SPS");
    if (pos >= len)
        return errbuf_set(err, err_size, -1, "avcC: truncated before the PPS count");
    unsigned pps_count = buf[pos];
    pos = avcc_walk_sets(buf, len, pos + 1, pps_count, AVC_NAL_PPS, annexb_size, out);
    if (pps_count == 0 || pos == 0)
        return errbuf_set(err, err_size, -1, "avcC: missing, truncated or mistyped PPS");
    return 0;
}

int codec_avc_config_parse(const uint8_t *buf, size_t len, codec_avc_config_t *out, char *err,
                           size_t err_size)
{
    if (!buf || len < 7)
        return errbuf_set(err, err_size, -1, "avcC: record shorter than 7 bytes");
    if (len > CODEC_MAX_CONFIG_BYTES)
        return errbuf_set(err, err_size, -1, "avcC: record larger than 64 KiB");
    if (buf[0] != 1)
        return errbuf_set(err, err_size, -1, "avcC: configurationVersion is not 1");
    int nal_length_size = (buf[4] & 0x03) + 1;
    if (nal_length_size == 3)
        return errbuf_set(err, err_size, -1, "avcC: invalid NAL length size 3");
    size_t annexb_size = 0;
    if (avcc_walk_all_sets(buf, len, &annexb_size, NULL, err, err_size) < 0)
        return -1;
    uint8_t *sets = malloc(annexb_size);
    if (!sets)
        return errbuf_set(err, err_size, -1, "avcC: out of memory");
    size_t written = 0;
    avcc_walk_all_sets(buf, len, &written, sets, NULL, 0);
    *out = (codec_avc_config_t){
        .profile_idc = buf[1],
        .profile_compat = buf[2],
        .level_idc = buf[3],
        .nal_length_size = nal_length_size,
        .parameter_sets = sets,
        .parameter_sets_size = written,
    };
    return 0;
}

void codec_avc_config_clear(codec_avc_config_t *config)
{
    if (!config)
        return;
    free(config->parameter_sets);
    memset(config, 0, sizeof *config);
}

/* ---- AVCC access units ---- */

static size_t read_be(const uint8_t *p, int bytes)
{
    size_t value = 0;
    for (int i = 0; i < bytes; i++)
        value = (value << 8) | p[i];
    return value;
}

/* Calls visit for every non-empty NAL unit of an AVCC access unit; returns the number of units,
 * or -1 with a message when a length prefix or a unit runs past the end. */
typedef void (*nal_visit_fn)(void *ctx, const uint8_t *nal, size_t nal_len);

static long avcc_each_nal(int length_size, const uint8_t *au, size_t len, nal_visit_fn visit,
                          void *ctx, char *err, size_t err_size)
{
    long count = 0;
    size_t pos = 0;
    while (pos < len) {
        if (len - pos < (size_t)length_size)
            return errbuf_set(err, err_size, -1, "H.264: truncated NAL unit length prefix");
        size_t nal_len = read_be(au + pos, length_size);
        pos += (size_t)length_size;
        if (nal_len > len - pos) {
            if (err && err_size > 0)
                snprintf(err, err_size,
                         "H.264: NAL unit length %zu runs past the packet (%zu left)", nal_len,
                         len - pos);
            return -1;
        }
        if (nal_len > 0) {
            visit(ctx, au + pos, nal_len);
            count++;
        }
        pos += nal_len;
    }
    return count;
}

typedef struct annexb_sizer {
    size_t size;  /* bytes of the NAL units kept, with start codes */
    size_t kept;  /* NAL units kept (all but delimiters) */
    bool has_sps; /* the unit carries its own SPS */
} annexb_sizer_t;

static void annexb_size_visit(void *ctx, const uint8_t *nal, size_t nal_len)
{
    annexb_sizer_t *sizer = ctx;
    int type = nal[0] & 0x1f;
    if (type == AVC_NAL_AUD)
        return;
    if (type == AVC_NAL_SPS)
        sizer->has_sps = true;
    sizer->size += START_CODE_BYTES + nal_len;
    sizer->kept++;
}

size_t codec_avc_annexb_size(const codec_avc_config_t *config, const uint8_t *au, size_t len,
                             bool keyframe, char *err, size_t err_size)
{
    if (!au || len == 0)
        return errbuf_set(err, err_size, 0, "H.264: empty access unit");
    if (len > CODEC_MAX_FRAME_BYTES)
        return errbuf_set(err, err_size, 0, "H.264: access unit larger than 16 MiB");
    annexb_sizer_t sizer = {0};
    if (avcc_each_nal(config->nal_length_size, au, len, annexb_size_visit, &sizer, err, err_size) <
        0)
        return 0;
    if (sizer.kept == 0)
        return errbuf_set(err, err_size, 0, "H.264: access unit without a NAL unit");
    size_t size = sizeof avc_aud + sizer.size;
    if (keyframe && !sizer.has_sps)
        size += config->parameter_sets_size;
    return size;
}

typedef struct annexb_writer {
    uint8_t *out;
    size_t pos;
} annexb_writer_t;

static void annexb_write_visit(void *ctx, const uint8_t *nal, size_t nal_len)
{
    annexb_writer_t *writer = ctx;
    if ((nal[0] & 0x1f) == AVC_NAL_AUD)
        return;
    memcpy(writer->out + writer->pos, start_code, START_CODE_BYTES);
    memcpy(writer->out + writer->pos + START_CODE_BYTES, nal, nal_len);
    writer->pos += START_CODE_BYTES + nal_len;
}

static void has_sps_visit(void *ctx, const uint8_t *nal, size_t nal_len)
{
    (void)nal_len;
    if ((nal[0] & 0x1f) == AVC_NAL_SPS)
        *(bool *)ctx = true;
}

size_t codec_avc_to_annexb(const codec_avc_config_t *config, const uint8_t *au, size_t len,
                           bool keyframe, uint8_t *out)
{
    annexb_writer_t writer = {.out = out, .pos = sizeof avc_aud};
    memcpy(out, avc_aud, sizeof avc_aud);
    if (keyframe) {
        bool has_sps = false;
        avcc_each_nal(config->nal_length_size, au, len, has_sps_visit, &has_sps, NULL, 0);
        if (!has_sps) {
            memcpy(out + writer.pos, config->parameter_sets, config->parameter_sets_size);
            writer.pos += config->parameter_sets_size;
        }
    }
    avcc_each_nal(config->nal_length_size, au, len, annexb_write_visit, &writer, NULL, 0);
    return writer.pos;
}

/* ---- AudioSpecificConfig ---- */

typedef struct bit_reader {
    const uint8_t *buf;
    size_t len_bits;
    size_t pos_bits;
} bit_reader_t;

/* Reads n (<= 24) bits MSB first into *value; false when the buffer ends first. */
static bool bits_read(bit_reader_t *bits, int n, unsigned *value)
{
    if (bits->len_bits - bits->pos_bits < (size_t)n)
        return false;
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        size_t pos = bits->pos_bits++;
        v = (v << 1) | ((bits->buf[pos / 8] >> (7 - pos % 8)) & 1u);
    }
    *value = v;
    return true;
}

static bool aac_read_object_type(bit_reader_t *bits, int *object_type)
{
    unsigned v;
    if (!bits_read(bits, 5, &v))
        return false;
    if (v == 31) {
        unsigned ext;
        if (!bits_read(bits, 6, &ext))
            return false;
        v = 32 + ext;
    }
    *object_type = (int)v;
    return true;
}

/* Reads samplingFrequencyIndex into *index (and the 24-bit rate after index 15, flagged in
 * *explicit_rate). */
static bool aac_read_sample_rate(bit_reader_t *bits, int *sample_rate, unsigned *index_out,
                                 bool *explicit_rate)
{
    static const int rates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                  22050, 16000, 12000, 11025, 8000,  7350};
    unsigned index;
    if (!bits_read(bits, 4, &index))
        return false;
    *index_out = index;
    *explicit_rate = index == 15;
    if (index == 15) {
        unsigned rate;
        if (!bits_read(bits, 24, &rate))
            return false;
        *sample_rate = (int)rate;
    } else {
        *sample_rate = index < 13 ? rates[index] : 0;
    }
    return *sample_rate > 0;
}

/* Object types ADTS (and so MPEG-TS) can carry as the AAC core: Main, LC, SSR, LTP. */
static bool aac_core_supported(int object_type)
{
    return object_type >= 1 && object_type <= 4;
}

/* Reads the object type and sample rate(s) up to the core's GASpecificConfig. */
static int aac_read_header(bit_reader_t *bits, codec_aac_config_t *config, int *core_type,
                           unsigned *channels, char *err, size_t err_size)
{
    bool explicit_core_rate = false, explicit_sbr_rate = false;
    unsigned core_rate_index = 0, sbr_rate_index = 0;
    if (!aac_read_object_type(bits, &config->object_type) ||
        !aac_read_sample_rate(bits, &config->core_sample_rate, &core_rate_index,
                              &explicit_core_rate) ||
        !bits_read(bits, 4, channels))
        return errbuf_set(err, err_size, -1,
                          "AAC: truncated AudioSpecificConfig or reserved sample rate");
    config->sample_rate = config->core_sample_rate;
    *core_type = config->object_type;
    if (*core_type == 5 || *core_type == 29) { /* explicit SBR / PS: output rate, then the core */
        if (!aac_read_sample_rate(bits, &config->sample_rate, &sbr_rate_index,
                                  &explicit_sbr_rate) ||
            !aac_read_object_type(bits, core_type))
            return errbuf_set(err, err_size, -1, "AAC: truncated HE-AAC AudioSpecificConfig");
    }
    if (explicit_core_rate)
        return errbuf_set(err, err_size, -1,
                          "AAC: an explicit sample rate cannot be carried in ADTS");
    config->core_rate_index = (int)core_rate_index;
    return 0;
}

int codec_aac_config_parse(const uint8_t *buf, size_t len, codec_aac_config_t *out, char *err,
                           size_t err_size)
{
    if (!buf || len < 2)
        return errbuf_set(err, err_size, -1, "AAC: AudioSpecificConfig shorter than 2 bytes");
    if (len > CODEC_MAX_CONFIG_BYTES)
        return errbuf_set(err, err_size, -1, "AAC: AudioSpecificConfig larger than 64 KiB");
    bit_reader_t bits = {.buf = buf, .len_bits = len * 8};
    codec_aac_config_t config = {0};
    unsigned channels = 0, ga_flags = 0;
    int core_type = 0;
    if (aac_read_header(&bits, &config, &core_type, &channels, err, err_size) < 0)
        return -1;
    if (!aac_core_supported(core_type) || config.object_type == 0) {
        if (err && err_size > 0)
            snprintf(err, err_size, "AAC: unsupported audio object type %d", core_type);
        return -1;
    }
    if (channels > 7 || !bits_read(&bits, 3, &ga_flags))
        return errbuf_set(err, err_size, -1,
                          "AAC: reserved channel configuration or truncated GA config");
    /* frameLengthFlag (960-sample frames), dependsOnCoreCoder, extensionFlag */
    if (ga_flags != 0)
        return errbuf_set(err, err_size, -1,
                          "AAC: 960-sample frames or core/extension flags (not in ADTS)");
    static const int channel_counts[8] = {0, 1, 2, 3, 4, 5, 6, 8};
    config.channels = channel_counts[channels];
    config.channel_config = (int)channels;
    config.core_object_type = core_type;
    *out = config;
    return 0;
}

size_t codec_aac_adts_header(const codec_aac_config_t *config, size_t frame_size,
                             uint8_t out[CODEC_ADTS_HEADER_BYTES])
{
    if (config->channel_config == 0 || !aac_core_supported(config->core_object_type) ||
        config->core_rate_index > 12 || frame_size > CODEC_AAC_MAX_FRAME_BYTES)
        return 0;
    unsigned profile = (unsigned)config->core_object_type - 1;
    unsigned rate = (unsigned)config->core_rate_index;
    unsigned channels = (unsigned)config->channel_config;
    unsigned length = (unsigned)frame_size + CODEC_ADTS_HEADER_BYTES; /* 13 bits, with header */
    unsigned fullness = 0x7FF; /* buffer fullness: variable bit rate */
    out[0] = 0xFF;             /* syncword */
    out[1] = 0xF1;             /* syncword, MPEG-4, layer 0, no CRC */
    out[2] = (uint8_t)(profile << 6 | rate << 2 | channels >> 2);
    out[3] = (uint8_t)((channels & 3) << 6 | length >> 11);
    out[4] = (uint8_t)(length >> 3);
    out[5] = (uint8_t)((length & 7) << 5 | fullness >> 6);
    out[6] = (uint8_t)((fullness & 0x3F) << 2); /* one raw data block */
    return CODEC_ADTS_HEADER_BYTES;
}

int codec_avc_mark_constrained_high(uint8_t *annexb, size_t len)
{
    enum { NAL_SPS = 7, PROFILE_HIGH = 100, CONSTRAINT_SET4_SET5 = 0x0c };
    int marked = 0;
    for (size_t i = 0; i + 5 < len; i++) {
        bool start_code = annexb[i] == 0 && annexb[i + 1] == 0 && annexb[i + 2] == 1;
        if (start_code && (annexb[i + 3] & 0x1f) == NAL_SPS && annexb[i + 4] == PROFILE_HIGH) {
            annexb[i + 5] |= CONSTRAINT_SET4_SET5;
            marked++;
        }
    }
    return marked;
}

bool codec_avc_profile_browser_decodable(int profile_idc)
{
    return profile_idc == 66 || profile_idc == 77 || profile_idc == 88 || profile_idc == 100;
}

const char *codec_avc_profile_name(int profile_idc)
{
    static const struct {
        int idc;
        const char *name;
    } profiles[] = {{66, "Baseline"},
                    {77, "Main"},
                    {88, "Extended"},
                    {100, "High"},
                    {110, "High 10"},
                    {122, "High 4:2:2"},
                    {244, "High 4:4:4 Predictive"},
                    {44, "CAVLC 4:4:4 Intra"},
                    {83, "Scalable Baseline"},
                    {86, "Scalable High"},
                    {118, "Multiview High"},
                    {128, "Stereo High"}};
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
        if (profiles[i].idc == profile_idc)
            return profiles[i].name;
    return NULL;
}

int codec_avc_profile_of(const char *codecs)
{
    unsigned profile_idc = 0;
    return sscanf(codecs, "avc1.%2x", &profile_idc) == 1 ? (int)profile_idc : -1;
}
