/* Health conditions and the derived healthy status, with Studio's rules: healthy is false when
 * Transcoding or TranscodeRealTime (required) or Multistreaming (optional) is false, null when a
 * required one is null, else true. Recording is optional like Multistreaming; SourcePlayable is
 * shown only, as TranscodeNoErrors is. */
#include "stats/health.h"

#include <stdlib.h>
#include <string.h>

static const char *const condition_names[HEALTH_CONDITION_COUNT] = {
    "Active",         "Transcoding", "TranscodeRealTime", "TranscodeNoErrors",
    "Multistreaming", "Recording",   "SourcePlayable",
};

/* What a user reads in `issues` when the condition is false. */
static const char *const condition_issues[HEALTH_CONDITION_COUNT] = {
    "Stream is not active",
    "Transcoding is failing",
    "Transcoding is slower than real time",
    "Transcoding had errors",
    "Multistream targets are not connected",
    "Recording failed",
    "Browsers cannot decode the source",
};

const char *health_condition_name(health_condition_id_t id)
{
    return condition_names[id];
}

static void condition_reset(health_condition_t *c)
{
    free(c->detail);
    memset(c, 0, sizeof *c);
    c->status = -1;
}

void health_init(health_t *health)
{
    memset(health, 0, sizeof *health);
    for (int i = 0; i < HEALTH_CONDITION_COUNT; i++)
        health->conditions[i].status = -1;
    health->healthy.status = -1;
}

void health_release(health_t *health)
{
    for (int i = 0; i < HEALTH_CONDITION_COUNT; i++) {
        free(health->conditions[i].detail);
        health->conditions[i].detail = NULL;
    }
}

static void condition_set(health_condition_t *c, int status, int64_t now_ms)
{
    if (status != c->status)
        c->last_transition_ms = now_ms;
    c->status = status;
    c->last_probe_ms = now_ms;
    if (status < 0)
        return;
    int32_t number = (int32_t)(now_ms / HEALTH_BUCKET_MS);
    if (number > c->newest_bucket) {
        /* The buckets between hold older numbers: they start again empty. */
        for (int32_t n = c->newest_bucket + 1;
             n <= number && n - c->newest_bucket <= HEALTH_BUCKETS; n++)
            c->buckets[n % HEALTH_BUCKETS] = (health_bucket_t){0};
        c->newest_bucket = number;
    } else if (number <= c->newest_bucket - HEALTH_BUCKETS) {
        return; /* the clock went back further than any window reaches */
    }
    health_bucket_t *bucket = &c->buckets[number % HEALTH_BUCKETS];
    if (bucket->probes == UINT16_MAX)
        return;
    bucket->probes++;
    bucket->true_probes += status == 1;
}

static int derive_healthy(const health_t *health)
{
    int transcoding = health->conditions[HEALTH_TRANSCODING].status;
    int realtime = health->conditions[HEALTH_TRANSCODE_REALTIME].status;
    int multistreaming = health->conditions[HEALTH_MULTISTREAMING].status;
    int recording = health->conditions[HEALTH_RECORDING].status;
    if (transcoding == 0 || realtime == 0 || multistreaming == 0 || recording == 0)
        return 0;
    if (transcoding < 0 || realtime < 0)
        return -1;
    return 1;
}

void health_probe(health_t *health, health_condition_id_t id, int status, int64_t now_ms)
{
    health_condition_t *c = &health->conditions[id];
    if (id == HEALTH_ACTIVE && status == 1 && c->status != 1) {
        /* A failed recording stays failed: the session keeps one recording across reconnects. */
        for (int i = 0; i < HEALTH_CONDITION_COUNT; i++) {
            if (i != HEALTH_ACTIVE && i != HEALTH_RECORDING)
                condition_reset(&health->conditions[i]);
        }
    }
    condition_set(c, status, now_ms);
    condition_set(&health->healthy, derive_healthy(health), now_ms);
}

void health_set_detail(health_t *health, health_condition_id_t id, const char *detail)
{
    health_condition_t *c = &health->conditions[id];
    free(c->detail);
    c->detail = detail[0] ? strdup(detail) : NULL;
}

const char *health_detail(const health_t *health, health_condition_id_t id)
{
    const char *detail = health->conditions[id].detail;
    return detail ? detail : "";
}

int health_is_healthy(const health_t *health)
{
    if (health->conditions[HEALTH_ACTIVE].status != 1)
        return -1;
    return health->healthy.status;
}

json_t *health_issues(const health_t *health)
{
    if (health_is_healthy(health) != 0)
        return NULL;
    json_t *issues = json_array();
    for (int i = 0; i < HEALTH_CONDITION_COUNT; i++) {
        const health_condition_t *c = &health->conditions[i];
        if (c->status != 0)
            continue;
        json_array_append_new(issues, c->detail
                                          ? json_sprintf("%s: %s", condition_issues[i], c->detail)
                                          : json_string(condition_issues[i]));
    }
    return issues;
}

double health_frequency(const health_condition_t *c, int64_t now_ms, int64_t window_ms)
{
    int64_t newest = now_ms / HEALTH_BUCKET_MS;
    int64_t window_buckets = (window_ms + HEALTH_BUCKET_MS - 1) / HEALTH_BUCKET_MS;
    int64_t oldest = newest - window_buckets + 1;
    if (oldest <= c->newest_bucket - HEALTH_BUCKETS)
        oldest = c->newest_bucket - HEALTH_BUCKETS + 1;
    if (oldest < 0)
        oldest = 0;
    if (newest > c->newest_bucket)
        newest = c->newest_bucket;
    uint64_t probes = 0, true_probes = 0;
    for (int64_t n = oldest; n <= newest; n++) {
        const health_bucket_t *bucket = &c->buckets[n % HEALTH_BUCKETS];
        probes += bucket->probes;
        true_probes += bucket->true_probes;
    }
    return probes ? (double)true_probes / (double)probes : -1;
}

static json_t *time_or_null(int64_t ms)
{
    return ms ? json_integer(ms) : json_null();
}

static json_t *condition_json(const health_condition_t *c, const char *type, int64_t now_ms)
{
    json_t *o = json_object();
    if (type)
        json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "status", c->status < 0 ? json_null() : json_boolean(c->status));
    if (c->status == 0 && c->detail)
        json_object_set_new(o, "extraData", json_pack("{s:s}", "detail", c->detail));
    static const struct {
        const char *name;
        int64_t window_ms;
    } windows[] = {{"1m", 60000}, {"10m", 600000}};
    json_t *frequency = json_object();
    for (size_t i = 0; i < 2; i++) {
        double f = health_frequency(c, now_ms, windows[i].window_ms);
        if (f >= 0)
            json_object_set_new(frequency, windows[i].name, json_real(f));
    }
    if (json_object_size(frequency) > 0)
        json_object_set_new(o, "frequency", frequency);
    else
        json_decref(frequency);
    json_object_set_new(o, "lastProbeTime", time_or_null(c->last_probe_ms));
    json_object_set_new(o, "lastTransitionTime", time_or_null(c->last_transition_ms));
    return o;
}

json_t *health_to_json(const health_t *health, int64_t now_ms)
{
    json_t *conditions = json_array();
    for (int i = 0; i < HEALTH_CONDITION_COUNT; i++)
        json_array_append_new(conditions,
                              condition_json(&health->conditions[i], condition_names[i], now_ms));
    return json_pack("{s:o,s:o}", "healthy", condition_json(&health->healthy, NULL, now_ms),
                     "conditions", conditions);
}
