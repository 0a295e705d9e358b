/* libFuzzer harness for ingest/flv: arbitrary bytes as audio and video tag bodies and as AVC /
 * AAC configuration records. Checks that every pointer handed out stays inside the input. */
/* fuzz-sources: src/ingest/flv.c src/util/log.c */
#include "ingest/flv.h"

#include <stdlib.h>

static void check_media(int rc, const flv_media_t *m, const uint8_t *data, size_t size)
{
    if (rc < 0 && !m->error)
        abort();
    if (rc == FLV_ERR_UNSUPPORTED && !m->codec_name)
        abort();
    if (rc != FLV_OK)
        return;
    if (m->message != data || m->message_size != size)
        abort();
    if (m->data < data || m->data > data + size || m->size > (size_t)(data + size - m->data))
        abort();
    if (m->codec != FLV_CODEC_H264 && m->codec != FLV_CODEC_AAC)
        abort();
    if (m->is_config && m->codec == FLV_CODEC_H264 &&
        (m->avc.sps_count == 0 || m->avc.pps_count == 0))
        abort();
    if (m->is_config && m->codec == FLV_CODEC_AAC && m->aac.sample_rate == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    flv_media_t m;
    check_media(flv_parse(8, data, size, 0, &m), &m, data, size);
    check_media(flv_parse(9, data, size, 0, &m), &m, data, size);
    flv_avc_config_t avc;
    const char *reason = NULL;
    if (flv_avc_config_parse(data, size, &avc, &reason) < 0 && !reason)
        abort();
    flv_aac_config_t aac;
    reason = NULL;
    if (flv_aac_config_parse(data, size, &aac, &reason) < 0 && !reason)
        abort();
    return 0;
}
