/* Health of a live session: named conditions (Active, Transcoding, TranscodeRealTime,
 * TranscodeNoErrors, Multistreaming, Recording, SourcePlayable), each with a status (true / false /
 * null = unknown), the times it was last probed and last changed, and how often it was true over
 * the last minute and ten minutes. isHealthy and the human-readable issues derive from them, never
 * set by hand. Not thread-safe: the owner serializes calls (the live registry holds a lock). */
#ifndef STREAMD_STATS_HEALTH_H
#define STREAMD_STATS_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    HEALTH_ACTIVE,
    HEALTH_TRANSCODING,
    HEALTH_TRANSCODE_REALTIME,
    HEALTH_TRANSCODE_NO_ERRORS,
    HEALTH_MULTISTREAMING,
    HEALTH_RECORDING, /* streamd's own: null unless recorded; false once the recording failed */
    HEALTH_SOURCE_PLAYABLE, /* streamd's own: false when browsers cannot decode the source's video
                               (10-bit, 4:2:2, 4:4:4 H.264); says so without making the session
                               unhealthy, as other players and the renditions play */
    HEALTH_CONDITION_COUNT
} health_condition_id_t;

/* Probes are counted in time buckets spanning the longest frequency window (10 minutes). */
#define HEALTH_BUCKETS 60
#define HEALTH_BUCKET_MS 10000

/* Kept small: every live session carries HEALTH_BUCKETS of them per condition. A bucket's number
 * (time_ms / HEALTH_BUCKET_MS) is implied by its place in the ring and the condition's newest. */
typedef struct health_bucket {
    uint16_t probes;      /* non-null probes; counting stops at UINT16_MAX */
    uint16_t true_probes; /* of which true */
} health_bucket_t;

typedef struct health_condition {
    int status;                              /* -1 = null (unknown), 0 = false, 1 = true */
    int32_t newest_bucket;                   /* number of the newest bucket counted (ms since the
                                                epoch fit until the year 2650) */
    int64_t last_probe_ms;                   /* ms since epoch; 0 = never (null) */
    int64_t last_transition_ms;              /* ms since epoch; 0 = never (null) */
    health_bucket_t buckets[HEALTH_BUCKETS]; /* ring indexed by bucket number */
    char *detail; /* why it is false, appended to its issue; NULL = nothing to add (owned) */
} health_condition_t;

typedef struct health {
    health_condition_t conditions[HEALTH_CONDITION_COUNT];
    health_condition_t healthy; /* derived by health_probe */
} health_t;

/* Starts with every condition null. */
void health_init(health_t *health);

/* Frees what the conditions hold (their details); health_init makes it usable again. */
void health_release(health_t *health);

/* Records a probe of one condition at now_ms (status -1 = null) and re-derives `healthy`.
 * Becoming active resets the transcoding conditions to null, as a new broadcast is judged afresh.
 */
void health_probe(health_t *health, health_condition_id_t id, int status, int64_t now_ms);

/* Sets the detail shown after the condition's issue while it is false ("" clears it). Out of
 * memory, the condition is left without a detail. */
void health_set_detail(health_t *health, health_condition_id_t id, const char *detail);

/* The condition's detail; "" when it has none. */
const char *health_detail(const health_t *health, health_condition_id_t id);

/* isHealthy of the Stream/Session objects: null (-1) unless Active, else healthy's status. */
int health_is_healthy(const health_t *health);

/* The issues field: NULL (JSON null) unless Active and not healthy; else a new JSON array of
 * human-readable strings, one per failing condition (caller owns it). */
json_t *health_issues(const health_t *health);

/* The share of true probes of a condition within window_ms before now_ms, or a negative value
 * when there was no probe in the window. */
double health_frequency(const health_condition_t *condition, int64_t now_ms, int64_t window_ms);

/* The health document's "healthy" and "conditions" members (new object; caller owns it):
 * {"healthy":{...},"conditions":[{"type":"Active",...},...]}; a false condition with a detail has
 * it in "extraData":{"detail":...}. */
json_t *health_to_json(const health_t *health, int64_t now_ms);

/* The condition's name as the API spells it ("TranscodeRealTime"). */
const char *health_condition_name(health_condition_id_t id);

#endif
