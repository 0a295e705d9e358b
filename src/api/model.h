/* The Stream and Session objects of the API as JSON, built from store records. Fields follow
 * API.md: numbers are numbers, timestamps are ms, nullable fields are null, private fields are
 * never emitted. Pure functions; any thread may call them. */
#ifndef STREAMD_API_MODEL_H
#define STREAMD_API_MODEL_H

#include <jansson.h>

#include "store/store.h"

/* A new JSON object for the stream (caller owns it), or NULL when out of memory. */
json_t *model_stream_json(const store_stream_t *stream);

/* A new JSON object for the session; recording URLs are built on public_url. */
json_t *model_session_json(const store_session_t *session, const char *public_url);

/* The default profile ladder (240p0 .. 720p0) as a new JSON array. */
json_t *model_default_profiles(void);

/* Compact JSON text of value (caller frees), or NULL when value is NULL. */
char *model_json_text(const json_t *value);

/* The recordingStatus string for a status, or NULL when the field is absent. */
const char *model_recording_status_name(store_recording_status_t status);

#endif
