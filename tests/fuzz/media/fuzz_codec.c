/* libFuzzer harness for media/codec: avcC and AudioSpecificConfig parsing, the ADTS header of a
 * frame and AVCC -> Annex B conversion of an access unit under the parsed config. The first two
 * bytes (little endian) give the length of the config part; the rest is the access unit. */
/* fuzz-sources: src/media/codec.c src/util/errbuf.c src/util/log.c */
#include <stdint.h>
#include <stdlib.h>

#include "media/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t config_len = (size_t)data[0] | (size_t)data[1] << 8;
    if (config_len > size - 2)
        config_len = size - 2;
    const uint8_t *config_bytes = data + 2;
    const uint8_t *au = config_bytes + config_len;
    size_t au_len = size - 2 - config_len;
    char err[256];

    codec_aac_config_t aac;
    if (codec_aac_config_parse(config_bytes, config_len, &aac, err, sizeof err) == 0) {
        uint8_t adts[CODEC_ADTS_HEADER_BYTES];
        size_t header = codec_aac_adts_header(&aac, au_len, adts);
        if (header != 0 &&
            (header != sizeof adts || adts[0] != 0xFF || (adts[1] & 0xF6) != 0xF0 ||
             (size_t)((adts[3] & 3) << 11 | adts[4] << 3 | adts[5] >> 5) != au_len + sizeof adts))
            abort(); /* a header must be ADTS and give the frame's length */
    }

    codec_avc_config_t avc = {0};
    if (codec_avc_config_parse(config_bytes, config_len, &avc, err, sizeof err) == 0) {
        for (int keyframe = 0; keyframe < 2; keyframe++) {
            size_t need = codec_avc_annexb_size(&avc, au, au_len, keyframe, err, sizeof err);
            if (need == 0)
                continue;
            uint8_t *out = malloc(need);
            if (out) {
                size_t written = codec_avc_to_annexb(&avc, au, au_len, keyframe, out);
                if (written != need)
                    abort(); /* the size function must agree with the writer */
                free(out);
            }
        }
        codec_avc_config_clear(&avc);
    }
    return 0;
}
