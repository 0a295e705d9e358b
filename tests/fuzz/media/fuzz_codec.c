/* libFuzzer harness for media/codec: avcC and AudioSpecificConfig parsing, and AVCC -> Annex B
 * conversion of an access unit under the parsed config. The first two bytes (little endian) give
 * the length of the config part; the rest is the access unit. */
/* fuzz-sources: src/media/codec.c src/util/log.c */
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
    (void)codec_aac_config_parse(config_bytes, config_len, &aac, err, sizeof err);

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
