/* AMF0 decoding into a bounded value tree, and encoding into a caller buffer.
 * Invariant of the decoder: a length read from the wire is checked against the bytes left and
 * the limits before anything is allocated for it, so memory stays proportional to the input. */
#include "ingest/amf0.h"

#include <stdlib.h>
#include <string.h>

#define AMF0_SHORT_STRING_MAX 0xFFFF

typedef struct decoder {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    const amf0_limits_t *limits;
    uint32_t nodes; /* values and properties created so far */
} decoder_t;

static int decode_value(decoder_t *d, uint32_t depth, amf0_value_t **out);

void amf0_limits_default(amf0_limits_t *limits)
{
    limits->max_depth = 16;
    limits->max_nodes = 4096;
    limits->max_string_len = 64 * 1024;
}

const char *amf0_strerror(int err)
{
    switch (err) {
    case AMF0_ERR_TRUNCATED:
        return "AMF0 value truncated";
    case AMF0_ERR_TYPE:
        return "unsupported AMF0 type";
    case AMF0_ERR_DEPTH:
        return "AMF0 nesting too deep";
    case AMF0_ERR_LIMIT:
        return "AMF0 value over a size limit";
    case AMF0_ERR_SYNTAX:
        return "malformed AMF0 value";
    case AMF0_ERR_NOMEM:
        return "out of memory";
    case AMF0_ERR_NOSPACE:
        return "AMF0 output buffer too small";
    default:
        return "unknown AMF0 error";
    }
}

/* ---- decoding ---- */

static size_t remaining(const decoder_t *d)
{
    return d->len - d->pos;
}

static uint32_t read_be(const uint8_t *p, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static int take_uint(decoder_t *d, size_t n, uint32_t *out)
{
    if (remaining(d) < n)
        return AMF0_ERR_TRUNCATED;
    *out = read_be(d->buf + d->pos, n);
    d->pos += n;
    return 0;
}

static int take_double(decoder_t *d, double *out)
{
    if (remaining(d) < 8)
        return AMF0_ERR_TRUNCATED;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = (bits << 8) | d->buf[d->pos + (size_t)i];
    memcpy(out, &bits, sizeof *out);
    d->pos += 8;
    return 0;
}

/* Reads a string whose length prefix is prefix_bytes (2 or 4) wide into a new NUL-terminated
 * copy. Length is checked against the limit and the bytes left before allocating. */
static int take_string(decoder_t *d, size_t prefix_bytes, char **out, size_t *out_len)
{
    uint32_t len;
    int rc = take_uint(d, prefix_bytes, &len);
    if (rc < 0)
        return rc;
    if (len > d->limits->max_string_len)
        return AMF0_ERR_LIMIT;
    if (remaining(d) < len)
        return AMF0_ERR_TRUNCATED;
    char *copy = malloc((size_t)len + 1);
    if (!copy)
        return AMF0_ERR_NOMEM;
    memcpy(copy, d->buf + d->pos, len);
    copy[len] = '\0';
    d->pos += len;
    *out = copy;
    *out_len = len;
    return 0;
}

static int count_node(decoder_t *d)
{
    if (d->nodes >= d->limits->max_nodes)
        return AMF0_ERR_LIMIT;
    d->nodes++;
    return 0;
}

static int new_value(decoder_t *d, amf0_type_t type, amf0_value_t **out)
{
    int rc = count_node(d);
    if (rc < 0)
        return rc;
    amf0_value_t *v = calloc(1, sizeof *v);
    if (!v)
        return AMF0_ERR_NOMEM;
    v->type = type;
    *out = v;
    return 0;
}

/* Grows an array of elem_size elements so that index count fits. */
static int grow(void **array, size_t *capacity, size_t count, size_t elem_size)
{
    if (count < *capacity)
        return 0;
    size_t next = *capacity ? *capacity * 2 : 4;
    void *grown = realloc(*array, next * elem_size);
    if (!grown)
        return AMF0_ERR_NOMEM;
    *array = grown;
    *capacity = next;
    return 0;
}

/* True (and consumes it) when the next bytes are the object end: empty name + 0x09. */
static int at_object_end(decoder_t *d, bool *end)
{
    if (remaining(d) < 2)
        return AMF0_ERR_TRUNCATED;
    if (read_be(d->buf + d->pos, 2) != 0) {
        *end = false;
        return 0;
    }
    if (remaining(d) < 3)
        return AMF0_ERR_TRUNCATED;
    /* An empty name is only valid as the start of the end marker. */
    if (d->buf[d->pos + 2] != AMF0_OBJECT_END)
        return AMF0_ERR_SYNTAX;
    d->pos += 3;
    *end = true;
    return 0;
}

static int decode_property(decoder_t *d, uint32_t depth, amf0_property_t *prop)
{
    int rc = count_node(d);
    if (rc < 0)
        return rc;
    rc = take_string(d, 2, &prop->key, &prop->key_len);
    if (rc < 0)
        return rc;
    rc = decode_value(d, depth + 1, &prop->value);
    if (rc < 0) {
        free(prop->key);
        prop->key = NULL;
    }
    return rc;
}

/* Name/value pairs up to the end marker, appended to v->properties. */
static int decode_properties(decoder_t *d, uint32_t depth, amf0_value_t *v)
{
    size_t capacity = 0;
    for (;;) {
        bool end;
        int rc = at_object_end(d, &end);
        if (rc < 0 || end)
            return rc;
        rc = grow((void **)&v->properties, &capacity, v->property_count, sizeof *v->properties);
        if (rc < 0)
            return rc;
        amf0_property_t *prop = &v->properties[v->property_count];
        memset(prop, 0, sizeof *prop);
        rc = decode_property(d, depth, prop);
        if (rc < 0)
            return rc;
        v->property_count++;
    }
}

static int decode_strict_array(decoder_t *d, uint32_t depth, amf0_value_t *v)
{
    uint32_t count;
    int rc = take_uint(d, 4, &count);
    if (rc < 0)
        return rc;
    /* Every item takes at least one byte and one node: a larger count cannot be honest. */
    if (count > remaining(d))
        return AMF0_ERR_TRUNCATED;
    if (count > d->limits->max_nodes - d->nodes)
        return AMF0_ERR_LIMIT;
    if (count == 0)
        return 0;
    v->items = calloc(count, sizeof *v->items);
    if (!v->items)
        return AMF0_ERR_NOMEM;
    for (uint32_t i = 0; i < count; i++) {
        rc = decode_value(d, depth + 1, &v->items[i]);
        if (rc < 0)
            return rc;
        v->item_count++;
    }
    return 0;
}

static int decode_scalar(decoder_t *d, amf0_value_t *v)
{
    uint32_t u = 0;
    int rc;
    switch (v->type) {
    case AMF0_NUMBER:
        return take_double(d, &v->number);
    case AMF0_BOOLEAN:
        rc = take_uint(d, 1, &u);
        v->boolean = u != 0;
        return rc;
    case AMF0_STRING:
        return take_string(d, 2, &v->string, &v->string_len);
    case AMF0_LONG_STRING:
    case AMF0_XML_DOCUMENT:
        return take_string(d, 4, &v->string, &v->string_len);
    case AMF0_DATE:
        rc = take_double(d, &v->number);
        if (rc == 0)
            rc = take_uint(d, 2, &u);
        v->timezone = (int16_t)(uint16_t)u;
        return rc;
    default: /* NULL, UNDEFINED: no payload */
        return 0;
    }
}

static int decode_body(decoder_t *d, uint32_t depth, amf0_value_t *v)
{
    uint32_t ignored_count;
    int rc;
    switch (v->type) {
    case AMF0_OBJECT:
        return decode_properties(d, depth, v);
    case AMF0_ECMA_ARRAY:
        /* The count is advisory; the end marker is what ends the array. */
        rc = take_uint(d, 4, &ignored_count);
        return rc < 0 ? rc : decode_properties(d, depth, v);
    case AMF0_TYPED_OBJECT:
        rc = take_string(d, 2, &v->string, &v->string_len);
        return rc < 0 ? rc : decode_properties(d, depth, v);
    case AMF0_STRICT_ARRAY:
        return decode_strict_array(d, depth, v);
    default:
        return decode_scalar(d, v);
    }
}

/* Movie clip (0x04), reference (0x07), unsupported (0x0D), record set (0x0E) and the switch to
 * AMF3 (0x11) never occur in what encoders send to an ingest server: they are refused. */
static bool known_marker(uint8_t marker)
{
    switch (marker) {
    case AMF0_NUMBER:
    case AMF0_BOOLEAN:
    case AMF0_STRING:
    case AMF0_OBJECT:
    case AMF0_NULL:
    case AMF0_UNDEFINED:
    case AMF0_ECMA_ARRAY:
    case AMF0_STRICT_ARRAY:
    case AMF0_DATE:
    case AMF0_LONG_STRING:
    case AMF0_XML_DOCUMENT:
    case AMF0_TYPED_OBJECT:
        return true;
    default:
        return false;
    }
}

static int decode_value(decoder_t *d, uint32_t depth, amf0_value_t **out)
{
    *out = NULL;
    if (depth > d->limits->max_depth)
        return AMF0_ERR_DEPTH;
    if (remaining(d) < 1)
        return AMF0_ERR_TRUNCATED;
    uint8_t marker = d->buf[d->pos];
    if (marker == AMF0_OBJECT_END)
        return AMF0_ERR_SYNTAX;
    if (!known_marker(marker))
        return AMF0_ERR_TYPE;
    d->pos++;
    amf0_value_t *v;
    int rc = new_value(d, (amf0_type_t)marker, &v);
    if (rc < 0)
        return rc;
    rc = decode_body(d, depth, v);
    if (rc < 0) {
        amf0_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int amf0_decode(const uint8_t *buf, size_t len, const amf0_limits_t *limits, amf0_value_t **out)
{
    *out = NULL;
    if (len > (size_t)INT32_MAX)
        return AMF0_ERR_LIMIT;
    decoder_t d = {.buf = buf, .len = len, .limits = limits};
    int rc = decode_value(&d, 1, out);
    return rc < 0 ? rc : (int)d.pos;
}

int amf0_decode_sequence(const uint8_t *buf, size_t len, const amf0_limits_t *limits,
                         amf0_value_t **out)
{
    *out = NULL;
    if (len > (size_t)INT32_MAX)
        return AMF0_ERR_LIMIT;
    decoder_t d = {.buf = buf, .len = len, .limits = limits};
    amf0_value_t *list;
    int rc = new_value(&d, AMF0_STRICT_ARRAY, &list);
    if (rc < 0)
        return rc;
    size_t capacity = 0;
    while (remaining(&d) > 0) {
        rc = grow((void **)&list->items, &capacity, list->item_count, sizeof *list->items);
        if (rc == 0)
            rc = decode_value(&d, 1, &list->items[list->item_count]);
        if (rc < 0) {
            amf0_free(list);
            return rc;
        }
        list->item_count++;
    }
    *out = list;
    return (int)len;
}

void amf0_free(amf0_value_t *value)
{
    if (!value)
        return;
    for (size_t i = 0; i < value->property_count; i++) {
        free(value->properties[i].key);
        amf0_free(value->properties[i].value);
    }
    free(value->properties);
    for (size_t i = 0; i < value->item_count; i++)
        amf0_free(value->items[i]);
    free(value->items);
    free(value->string);
    free(value);
}

/* ---- accessors ---- */

const amf0_value_t *amf0_object_get(const amf0_value_t *object, const char *key)
{
    if (!object || !key)
        return NULL;
    size_t key_len = strlen(key);
    for (size_t i = 0; i < object->property_count; i++) {
        const amf0_property_t *prop = &object->properties[i];
        if (prop->key_len == key_len && memcmp(prop->key, key, key_len) == 0)
            return prop->value;
    }
    return NULL;
}

const char *amf0_string(const amf0_value_t *value)
{
    if (!value || (value->type != AMF0_STRING && value->type != AMF0_LONG_STRING))
        return NULL;
    return value->string;
}

bool amf0_number(const amf0_value_t *value, double *out)
{
    if (!value || value->type != AMF0_NUMBER)
        return false;
    *out = value->number;
    return true;
}

const amf0_value_t *amf0_item(const amf0_value_t *array, size_t index)
{
    if (!array || array->type != AMF0_STRICT_ARRAY || index >= array->item_count)
        return NULL;
    return array->items[index];
}

/* ---- encoding ---- */

void amf0_writer_init(amf0_writer_t *w, uint8_t *buf, size_t capacity)
{
    w->buf = buf;
    w->capacity = capacity;
    w->len = 0;
    w->overflow = false;
}

static void put_bytes(amf0_writer_t *w, const void *data, size_t n)
{
    if (w->overflow || w->capacity - w->len < n) {
        w->overflow = true;
        return;
    }
    if (n)
        memcpy(w->buf + w->len, data, n);
    w->len += n;
}

static void put_be(amf0_writer_t *w, uint64_t v, size_t n)
{
    uint8_t bytes[8];
    for (size_t i = 0; i < n; i++)
        bytes[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    put_bytes(w, bytes, n);
}

static void put_double(amf0_writer_t *w, double number)
{
    uint64_t bits;
    memcpy(&bits, &number, sizeof bits);
    put_be(w, bits, 8);
}

/* A length-prefixed UTF-8 name (property key or class name): at most 64 KiB - 1. */
static void put_name(amf0_writer_t *w, const char *s, size_t len)
{
    if (len > AMF0_SHORT_STRING_MAX) {
        w->overflow = true;
        return;
    }
    put_be(w, len, 2);
    put_bytes(w, s, len);
}

void amf0_write_number(amf0_writer_t *w, double number)
{
    put_be(w, AMF0_NUMBER, 1);
    put_double(w, number);
}

void amf0_write_boolean(amf0_writer_t *w, bool value)
{
    put_be(w, AMF0_BOOLEAN, 1);
    put_be(w, value ? 1 : 0, 1);
}

void amf0_write_string_len(amf0_writer_t *w, const char *s, size_t len)
{
    if (len <= AMF0_SHORT_STRING_MAX) {
        put_be(w, AMF0_STRING, 1);
        put_name(w, s, len);
        return;
    }
    if (len > UINT32_MAX) {
        w->overflow = true;
        return;
    }
    put_be(w, AMF0_LONG_STRING, 1);
    put_be(w, len, 4);
    put_bytes(w, s, len);
}

void amf0_write_string(amf0_writer_t *w, const char *s)
{
    amf0_write_string_len(w, s, strlen(s));
}

void amf0_write_null(amf0_writer_t *w)
{
    put_be(w, AMF0_NULL, 1);
}

void amf0_write_undefined(amf0_writer_t *w)
{
    put_be(w, AMF0_UNDEFINED, 1);
}

void amf0_write_date(amf0_writer_t *w, double ms, int16_t timezone)
{
    put_be(w, AMF0_DATE, 1);
    put_double(w, ms);
    put_be(w, (uint16_t)timezone, 2);
}

void amf0_write_object_start(amf0_writer_t *w)
{
    put_be(w, AMF0_OBJECT, 1);
}

void amf0_write_ecma_array_start(amf0_writer_t *w, uint32_t count)
{
    put_be(w, AMF0_ECMA_ARRAY, 1);
    put_be(w, count, 4);
}

void amf0_write_key(amf0_writer_t *w, const char *key)
{
    put_name(w, key, strlen(key));
}

void amf0_write_object_end(amf0_writer_t *w)
{
    put_be(w, 0, 2);
    put_be(w, AMF0_OBJECT_END, 1);
}

void amf0_write_strict_array_start(amf0_writer_t *w, uint32_t count)
{
    put_be(w, AMF0_STRICT_ARRAY, 1);
    put_be(w, count, 4);
}

void amf0_write_prop_string(amf0_writer_t *w, const char *key, const char *value)
{
    amf0_write_key(w, key);
    amf0_write_string(w, value);
}

void amf0_write_prop_number(amf0_writer_t *w, const char *key, double value)
{
    amf0_write_key(w, key);
    amf0_write_number(w, value);
}

void amf0_write_prop_boolean(amf0_writer_t *w, const char *key, bool value)
{
    amf0_write_key(w, key);
    amf0_write_boolean(w, value);
}

static void write_properties(amf0_writer_t *w, const amf0_value_t *value)
{
    for (size_t i = 0; i < value->property_count; i++) {
        put_name(w, value->properties[i].key, value->properties[i].key_len);
        amf0_write_value(w, value->properties[i].value);
    }
    amf0_write_object_end(w);
}

void amf0_write_value(amf0_writer_t *w, const amf0_value_t *value)
{
    switch (value->type) {
    case AMF0_NUMBER:
        amf0_write_number(w, value->number);
        return;
    case AMF0_BOOLEAN:
        amf0_write_boolean(w, value->boolean);
        return;
    case AMF0_STRING:
    case AMF0_LONG_STRING:
        amf0_write_string_len(w, value->string, value->string_len);
        return;
    case AMF0_XML_DOCUMENT:
        put_be(w, AMF0_XML_DOCUMENT, 1);
        put_be(w, value->string_len, 4);
        put_bytes(w, value->string, value->string_len);
        return;
    case AMF0_DATE:
        amf0_write_date(w, value->number, value->timezone);
        return;
    case AMF0_OBJECT:
        amf0_write_object_start(w);
        write_properties(w, value);
        return;
    case AMF0_ECMA_ARRAY:
        amf0_write_ecma_array_start(w, (uint32_t)value->property_count);
        write_properties(w, value);
        return;
    case AMF0_TYPED_OBJECT:
        put_be(w, AMF0_TYPED_OBJECT, 1);
        put_name(w, value->string, value->string_len);
        write_properties(w, value);
        return;
    case AMF0_STRICT_ARRAY:
        amf0_write_strict_array_start(w, (uint32_t)value->item_count);
        for (size_t i = 0; i < value->item_count; i++)
            amf0_write_value(w, value->items[i]);
        return;
    case AMF0_UNDEFINED:
        amf0_write_undefined(w);
        return;
    default:
        amf0_write_null(w);
        return;
    }
}

int amf0_writer_finish(const amf0_writer_t *w)
{
    if (w->overflow || w->len > (size_t)INT32_MAX)
        return AMF0_ERR_NOSPACE;
    return (int)w->len;
}
