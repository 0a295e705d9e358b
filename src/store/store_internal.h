/* Private to src/store/: what every backend shares about records (store.c), beyond the public
 * *_clear and *_list_free of store.h. Nothing outside src/store/ includes this. Pure functions
 * of their arguments; any thread may call them. */
#ifndef STREAMD_STORE_STORE_INTERNAL_H
#define STREAMD_STORE_STORE_INTERNAL_H

#include "store/store.h"
#include "store/store_webhooks.h"

#include <stdbool.h>
#include <stddef.h>

/* What generic row code needs to know about a record type: its size and how to clear one. */
typedef struct store_record_type {
    size_t size;
    void (*clear)(void *record);
} store_record_type_t;

/* The record types of store.h. */
extern const store_record_type_t store_user_record;
extern const store_record_type_t store_token_record;
extern const store_record_type_t store_stream_record;
extern const store_record_type_t store_session_record;
extern const store_record_type_t store_node_record;
extern const store_record_type_t store_signing_key_record;
extern const store_record_type_t store_controls_record; /* owns nothing */
/* store_webhooks.h's records (store_webhooks.c). */
extern const store_record_type_t store_webhook_record;
extern const store_record_type_t store_delivery_record; /* owns nothing */
extern const store_record_type_t store_webhook_log_record;

/* A growable array of records of one type, as a list call returns it (rows is the array). The
 * set owns rows and what each record owns until the caller takes rows over. */
typedef struct store_rows {
    void *rows;
    size_t count;
    size_t capacity;
} store_rows_t;

/* Appends a zeroed record to set and returns it, or NULL when out of memory (set unchanged). */
void *store_rows_add(store_rows_t *set, const store_record_type_t *type);

/* Clears every record of set, frees the array and empties set. */
void store_rows_free(store_rows_t *set, const store_record_type_t *type);

/* The stored text of a recording status: NULL for STORE_RECORDING_NONE_SET (the column is
 * NULL) and for a value outside the enum. */
const char *store_recording_status_name(store_recording_status_t status);

/* The status stored as text (NULL = not set). An unknown text is logged as a warning naming
 * session_id and read as STORE_RECORDING_NONE_SET. */
store_recording_status_t store_recording_status_parse(const char *text, const char *session_id);

/* The stored text of a delivery state (store_webhooks.h), and back; an unknown text reads as
 * pending, which only makes the delivery be attempted again. */
const char *store_delivery_state_name(store_delivery_state_t state);
store_delivery_state_t store_delivery_state_parse(const char *text);

/* True when a session can be written: it has a name and a recording status inside the enum. */
bool store_session_valid(const store_session_t *session);

/* Logs "what: out of memory" and returns STORE_ERR. */
int store_out_of_memory(const char *what);

#endif
