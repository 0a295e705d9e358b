/* AMF0 (Action Message Format 0): the value encoding of RTMP commands and metadata.
 * Decoding builds a small tree of values under hard limits (depth, node count, string length); the
 * caller owns the tree and frees it with amf0_free. Encoding writes into a caller-owned buffer.
 * No shared state: any thread may call any function on values and writers it owns. */
#ifndef STREAMD_INGEST_AMF0_H
#define STREAMD_INGEST_AMF0_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Type markers, as on the wire. */
typedef enum amf0_type {
    AMF0_NUMBER = 0x00,
    AMF0_BOOLEAN = 0x01,
    AMF0_STRING = 0x02,
    AMF0_OBJECT = 0x03,
    AMF0_NULL = 0x05,
    AMF0_UNDEFINED = 0x06,
    AMF0_ECMA_ARRAY = 0x08,
    AMF0_OBJECT_END = 0x09,
    AMF0_STRICT_ARRAY = 0x0A,
    AMF0_DATE = 0x0B,
    AMF0_LONG_STRING = 0x0C,
    AMF0_XML_DOCUMENT = 0x0F,
    AMF0_TYPED_OBJECT = 0x10,
} amf0_type_t;

/* Error codes (negative), see amf0_strerror. */
enum {
    AMF0_ERR_TRUNCATED = -1, /* the value runs past the end of the buffer */
    AMF0_ERR_TYPE = -2,      /* unknown or unsupported type marker (reference, AMF3 switch, ...) */
    AMF0_ERR_DEPTH = -3,     /* nesting deeper than limits.max_depth */
    AMF0_ERR_LIMIT = -4,     /* more values than limits.max_nodes or a string over max_string_len */
    AMF0_ERR_SYNTAX = -5,    /* object end marker where a value was expected, and the like */
    AMF0_ERR_NOMEM = -6,
    AMF0_ERR_NOSPACE = -7, /* encoder: the output buffer is too small */
};

typedef struct amf0_limits {
    uint32_t max_depth;      /* nesting levels; a top-level scalar is depth 1 */
    uint32_t max_nodes;      /* values and properties per decode call */
    uint32_t max_string_len; /* bytes, for strings, long strings and property names */
} amf0_limits_t;

typedef struct amf0_value amf0_value_t;

typedef struct amf0_property {
    char *key; /* NUL-terminated copy; may hold embedded NULs, key_len is authoritative */
    size_t key_len;
    amf0_value_t *value;
} amf0_property_t;

/* A decoded value. Read-only for callers; owned by whoever owns the root. */
struct amf0_value {
    amf0_type_t type;
    double number;               /* NUMBER; DATE: ms since the Unix epoch */
    int16_t timezone;            /* DATE: minutes, as sent (the spec says to ignore it) */
    bool boolean;                /* BOOLEAN */
    char *string;                /* STRING, LONG_STRING, XML_DOCUMENT; TYPED_OBJECT: class name.
                                    NUL-terminated copy, NULL for other types */
    size_t string_len;           /* bytes, without the NUL */
    amf0_property_t *properties; /* OBJECT, ECMA_ARRAY, TYPED_OBJECT, in wire order */
    size_t property_count;
    amf0_value_t **items; /* STRICT_ARRAY */
    size_t item_count;
};

/* Writer over a caller-owned buffer. Errors are sticky: after an overflow every write is a no-op
 * and amf0_writer_finish reports AMF0_ERR_NOSPACE. */
typedef struct amf0_writer {
    uint8_t *buf;
    size_t capacity; /* bytes */
    size_t len;      /* bytes written */
    bool overflow;
} amf0_writer_t;

/* Fills limits with the defaults: depth 16, 4096 nodes, 64 KiB strings. */
void amf0_limits_default(amf0_limits_t *limits);

/* Decodes one value from buf[0..len). On success stores a new tree in *out (caller frees with
 * amf0_free) and returns the bytes consumed (> 0); on failure returns a negative AMF0_ERR_* and
 * leaves *out NULL. Never reads past len; allocations are bounded by len and limits. */
int amf0_decode(const uint8_t *buf, size_t len, const amf0_limits_t *limits, amf0_value_t **out);

/* Decodes every value in buf[0..len) (an RTMP command or data message body) into one
 * STRICT_ARRAY whose items are the values in order; the node budget is shared. Returns len or a
 * negative AMF0_ERR_*; *out as for amf0_decode. */
int amf0_decode_sequence(const uint8_t *buf, size_t len, const amf0_limits_t *limits,
                         amf0_value_t **out);

/* Frees a tree returned by the decoder; NULL is a no-op. */
void amf0_free(amf0_value_t *value);

/* The value of key in an OBJECT, ECMA_ARRAY or TYPED_OBJECT (first match), or NULL. */
const amf0_value_t *amf0_object_get(const amf0_value_t *object, const char *key);

/* The NUL-terminated text of a STRING or LONG_STRING value, or NULL for any other value. */
const char *amf0_string(const amf0_value_t *value);

/* Stores the number of a NUMBER value in *out and returns true; false for any other value. */
bool amf0_number(const amf0_value_t *value, double *out);

/* Item index of a STRICT_ARRAY, or NULL when out of range or not an array. */
const amf0_value_t *amf0_item(const amf0_value_t *array, size_t index);

/* A static description of an AMF0_ERR_* code. */
const char *amf0_strerror(int err);

/* Starts a writer over buf[0..capacity). */
void amf0_writer_init(amf0_writer_t *w, uint8_t *buf, size_t capacity);

void amf0_write_number(amf0_writer_t *w, double number);
void amf0_write_boolean(amf0_writer_t *w, bool value);
/* Writes s as a STRING, or as a LONG_STRING when it is 64 KiB or longer. */
void amf0_write_string(amf0_writer_t *w, const char *s);
void amf0_write_string_len(amf0_writer_t *w, const char *s, size_t len);
void amf0_write_null(amf0_writer_t *w);
void amf0_write_undefined(amf0_writer_t *w);
/* Milliseconds since the epoch and a timezone in minutes. */
void amf0_write_date(amf0_writer_t *w, double ms, int16_t timezone);
void amf0_write_object_start(amf0_writer_t *w);
/* Starts an ECMA array; count is the advisory property count put on the wire. */
void amf0_write_ecma_array_start(amf0_writer_t *w, uint32_t count);
/* Writes a property name inside an object or ECMA array (the value follows). */
void amf0_write_key(amf0_writer_t *w, const char *key);
/* Ends an object or ECMA array (empty name + end marker). */
void amf0_write_object_end(amf0_writer_t *w);
/* Starts a strict array of count values (the values follow). */
void amf0_write_strict_array_start(amf0_writer_t *w, uint32_t count);
/* Property helpers: key then value. */
void amf0_write_prop_string(amf0_writer_t *w, const char *key, const char *value);
void amf0_write_prop_number(amf0_writer_t *w, const char *key, double value);
void amf0_write_prop_boolean(amf0_writer_t *w, const char *key, bool value);
/* Writes a decoded tree back (round trips, tests). */
void amf0_write_value(amf0_writer_t *w, const amf0_value_t *value);

/* Bytes written, or AMF0_ERR_NOSPACE when any write did not fit. */
int amf0_writer_finish(const amf0_writer_t *w);

#endif
