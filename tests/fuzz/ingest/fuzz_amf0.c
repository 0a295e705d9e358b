/* libFuzzer harness for ingest/amf0: arbitrary bytes as one value and as a command sequence,
 * under small limits. A decoded tree must re-encode, and encoding is stable:
 * encode(decode(encode(tree))) == encode(tree). */
/* fuzz-sources: src/ingest/amf0.c src/util/log.c */
#include "ingest/amf0.h"

#include <stdlib.h>
#include <string.h>

static uint8_t first[1 << 20], second[1 << 20];

static size_t encode(const amf0_value_t *v, uint8_t *out, size_t cap)
{
    amf0_writer_t w;
    amf0_writer_init(&w, out, cap);
    amf0_write_value(&w, v);
    int n = amf0_writer_finish(&w);
    if (n < 0)
        abort(); /* the tree came from at most len input bytes: it must fit in 1 MiB */
    return (size_t)n;
}

static void check_stable(const amf0_value_t *v, const amf0_limits_t *limits)
{
    size_t n1 = encode(v, first, sizeof first);
    amf0_value_t *again = NULL;
    int rc = amf0_decode(first, n1, limits, &again);
    if (rc != (int)n1 || !again)
        abort();
    size_t n2 = encode(again, second, sizeof second);
    if (n1 != n2 || memcmp(first, second, n1) != 0)
        abort();
    amf0_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    amf0_limits_t limits = {.max_depth = 8, .max_nodes = 256, .max_string_len = 1024};
    amf0_value_t *v = (amf0_value_t *)1;
    int rc = amf0_decode(data, size, &limits, &v);
    if (rc < 0) {
        if (v != NULL)
            abort();
    } else {
        if (rc == 0 || (size_t)rc > size || !v)
            abort();
        check_stable(v, &limits);
        amf0_free(v);
    }
    rc = amf0_decode_sequence(data, size, &limits, &v);
    if (rc >= 0) {
        if ((size_t)rc != size || v->type != AMF0_STRICT_ARRAY)
            abort();
        for (size_t i = 0; i < v->item_count; i++)
            check_stable(v->items[i], &limits);
        amf0_free(v);
    }
    return 0;
}
