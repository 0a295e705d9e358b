/* Validation of request bodies against the Studio API schemas (new-stream-payload,
 * stream-patch-payload and the objects inside them). Errors are reported the way Studio reports
 * them: a JSON array of strings, each a JSON-stringified AJV-style error object such as
 * {"instancePath":"/profiles/0/width","keyword":"minimum","params":{"limit":128},
 *  "message":"must be >= 128"}. Pure functions; any thread may call them. */
#ifndef STREAMD_API_VALIDATE_H
#define STREAMD_API_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>

/* Validates a POST /stream body. Returns NULL when valid, else a new JSON array of error strings
 * (caller owns it). Checks: object; required name (string, non-empty); no unknown properties;
 * the type and range of every known field (profiles, recordingSpec, pull, playbackPolicy,
 * multistream, creatorId, userTags, record); profile names that can name a rendition directory
 * (store/rendition_name.h: pattern, at most 63 characters, not "source"). */
json_t *validate_new_stream(const json_t *body);

/* Validates a PATCH /stream/{id} body: same rules, every field optional. */
json_t *validate_stream_patch(const json_t *body);

/* Validates a webhook body (POST and PUT /webhook: name and url required; partial, for PATCH:
 * every field optional): known fields only, url ^http(s)?://, events from Studio's enum. */
json_t *validate_webhook(const json_t *body, bool partial);

/* Validates an array of ffmpeg-profile (stream profiles); instance_path prefixes error paths.
 * Returns NULL when valid, else a new JSON array of error strings. */
json_t *validate_profiles(const json_t *profiles, const char *instance_path);

#endif
