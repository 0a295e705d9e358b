/* Unit tests for health conditions driven by synthetic probes. */
#include <criterion/criterion.h>
#include <string.h>

#include "stats/health.h"

static health_t health;

Test(health, starts_null_everywhere)
{
    health_init(&health);
    cr_assert_eq(health_is_healthy(&health), -1);
    cr_assert_null(health_issues(&health));
    json_t *doc = health_to_json(&health, 1000);
    cr_assert(json_is_null(json_object_get(json_object_get(doc, "healthy"), "status")));
    json_t *conditions = json_object_get(doc, "conditions");
    cr_assert_eq(json_array_size(conditions), HEALTH_CONDITION_COUNT);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(conditions, 2), "type")),
                     "TranscodeRealTime");
    cr_assert(json_is_null(json_object_get(json_array_get(conditions, 0), "lastProbeTime")));
    json_decref(doc);
}

Test(health, active_and_transcoding_in_time_is_healthy)
{
    health_init(&health);
    health_probe(&health, HEALTH_ACTIVE, 1, 1000);
    cr_assert_eq(health_is_healthy(&health), -1, "nothing judged yet");
    health_probe(&health, HEALTH_TRANSCODING, 1, 3000);
    health_probe(&health, HEALTH_TRANSCODE_REALTIME, 1, 3000);
    health_probe(&health, HEALTH_TRANSCODE_NO_ERRORS, 1, 3000);
    cr_assert_eq(health_is_healthy(&health), 1);
    cr_assert_null(health_issues(&health));
}

Test(health, slow_transcoding_is_unhealthy_with_an_issue_then_recovers)
{
    health_init(&health);
    health_probe(&health, HEALTH_ACTIVE, 1, 1000);
    health_probe(&health, HEALTH_TRANSCODING, 1, 3000);
    health_probe(&health, HEALTH_TRANSCODE_REALTIME, 0, 3000);
    cr_assert_eq(health_is_healthy(&health), 0);
    json_t *issues = health_issues(&health);
    cr_assert_eq(json_array_size(issues), 1);
    cr_assert_str_eq(json_string_value(json_array_get(issues, 0)),
                     "Transcoding is slower than real time");
    json_decref(issues);
    cr_assert_eq(health.healthy.last_transition_ms, 3000);

    health_probe(&health, HEALTH_TRANSCODE_REALTIME, 1, 5000);
    cr_assert_eq(health_is_healthy(&health), 1);
    cr_assert_eq(health.conditions[HEALTH_TRANSCODE_REALTIME].last_transition_ms, 5000);
    cr_assert_eq(health.healthy.last_transition_ms, 5000);
}

Test(health, multistreaming_false_is_unhealthy_null_is_not)
{
    health_init(&health);
    health_probe(&health, HEALTH_ACTIVE, 1, 1000);
    health_probe(&health, HEALTH_TRANSCODING, 1, 2000);
    health_probe(&health, HEALTH_TRANSCODE_REALTIME, 1, 2000);
    cr_assert_eq(health_is_healthy(&health), 1);
    health_probe(&health, HEALTH_MULTISTREAMING, 0, 2500);
    cr_assert_eq(health_is_healthy(&health), 0);
    health_probe(&health, HEALTH_MULTISTREAMING, -1, 2600);
    cr_assert_eq(health_is_healthy(&health), 1);
}

Test(health, inactive_means_null_and_reactivation_resets)
{
    health_init(&health);
    health_probe(&health, HEALTH_ACTIVE, 1, 1000);
    health_probe(&health, HEALTH_TRANSCODING, 0, 2000);
    health_probe(&health, HEALTH_TRANSCODE_REALTIME, 1, 2000);
    cr_assert_eq(health_is_healthy(&health), 0);
    health_probe(&health, HEALTH_ACTIVE, 0, 3000);
    cr_assert_eq(health_is_healthy(&health), -1);
    cr_assert_null(health_issues(&health));
    health_probe(&health, HEALTH_ACTIVE, 1, 4000);
    cr_assert_eq(health.conditions[HEALTH_TRANSCODING].status, -1);
    cr_assert_eq(health_is_healthy(&health), -1);
}

Test(health, frequency_over_windows)
{
    health_init(&health);
    health_probe(&health, HEALTH_ACTIVE, 1, 1000);
    /* 10 probes over 20 s: the first 5 false, the last 5 true. */
    for (int i = 0; i < 10; i++)
        health_probe(&health, HEALTH_TRANSCODE_REALTIME, i >= 5, 2000 + i * 2000);
    health_condition_t *c = &health.conditions[HEALTH_TRANSCODE_REALTIME];
    cr_assert_float_eq(health_frequency(c, 20000, 60000), 0.5, 1e-9);
    cr_assert_float_eq(health_frequency(c, 20000, 9000), 1.0, 1e-9);
    cr_assert_lt(health_frequency(c, 200000, 60000), 0, "no probe in the window");
    json_t *doc = health_to_json(&health, 20000);
    json_t *realtime = json_array_get(json_object_get(doc, "conditions"), 2);
    cr_assert_float_eq(
        json_real_value(json_object_get(json_object_get(realtime, "frequency"), "1m")), 0.5, 1e-9);
    json_decref(doc);
}

Test(health, old_buckets_are_reused_not_summed)
{
    health_init(&health);
    /* False probes long ago, then one true probe now: the old ones are out of every window. */
    for (int i = 0; i < 1000; i++)
        health_probe(&health, HEALTH_TRANSCODING, 0, 1000 + i);
    int64_t later = 1000 + (int64_t)HEALTH_BUCKETS * HEALTH_BUCKET_MS * 3;
    health_probe(&health, HEALTH_TRANSCODING, 1, later);
    cr_assert_float_eq(health_frequency(&health.conditions[HEALTH_TRANSCODING], later, 600000), 1.0,
                       1e-9);
}

Test(health, failed_recording_is_an_issue_with_its_reason)
{
    health_init(&health);
    health_probe(&health, HEALTH_ACTIVE, 1, 1000);
    health_probe(&health, HEALTH_TRANSCODING, 1, 2000);
    health_probe(&health, HEALTH_TRANSCODE_REALTIME, 1, 2000);
    health_set_detail(&health, HEALTH_RECORDING, "No space left on device");
    health_probe(&health, HEALTH_RECORDING, 0, 2500);
    cr_assert_eq(health_is_healthy(&health), 0);
    json_t *issues = health_issues(&health);
    cr_assert_eq(json_array_size(issues), 1);
    cr_assert_str_eq(json_string_value(json_array_get(issues, 0)),
                     "Recording failed: No space left on device");
    json_decref(issues);
    health_release(&health);
}

Test(health, details_are_kept_whole_replaced_and_cleared)
{
    health_init(&health);
    health_probe(&health, HEALTH_ACTIVE, 1, 1000);
    char reason[1001];
    memset(reason, 'x', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    health_set_detail(&health, HEALTH_TRANSCODING, "first");
    health_set_detail(&health, HEALTH_TRANSCODING, reason);
    health_probe(&health, HEALTH_TRANSCODING, 0, 2000);
    json_t *issues = health_issues(&health);
    const char *text = json_string_value(json_array_get(issues, 0));
    cr_assert_eq(strlen(text), strlen("Transcoding is failing: ") + 1000);
    json_decref(issues);
    cr_assert_str_eq(health_detail(&health, HEALTH_TRANSCODING), reason);
    health_set_detail(&health, HEALTH_TRANSCODING, "");
    cr_assert_str_eq(health_detail(&health, HEALTH_TRANSCODING), "");
    /* A new broadcast judges transcoding afresh, its old detail with it. */
    health_set_detail(&health, HEALTH_TRANSCODING, "encoder gone");
    health_probe(&health, HEALTH_ACTIVE, 0, 3000);
    health_probe(&health, HEALTH_ACTIVE, 1, 4000);
    cr_assert_str_eq(health_detail(&health, HEALTH_TRANSCODING), "");
    health_release(&health);
}

Test(health, buckets_skipped_over_start_empty)
{
    health_init(&health);
    /* False probes in buckets 0..4, then nothing until bucket 62: the ring wrapped, and of the
     * old buckets only 3 and 4 are still inside the ten minute window. */
    for (int i = 0; i < 5; i++)
        health_probe(&health, HEALTH_TRANSCODING, 0, i * HEALTH_BUCKET_MS);
    int64_t later = 62 * HEALTH_BUCKET_MS;
    health_probe(&health, HEALTH_TRANSCODING, 1, later);
    health_condition_t *c = &health.conditions[HEALTH_TRANSCODING];
    cr_assert_float_eq(health_frequency(c, later, 600000), 1.0 / 3.0, 1e-9);
    cr_assert_float_eq(health_frequency(c, later, 60000), 1.0, 1e-9);
    /* A probe from a clock that went back a little still counts; one from before the window
     * does not. */
    health_probe(&health, HEALTH_TRANSCODING, 0, later - 2 * HEALTH_BUCKET_MS);
    cr_assert_float_eq(health_frequency(c, later, 60000), 0.5, 1e-9);
    health_probe(&health, HEALTH_TRANSCODING, 0, later - HEALTH_BUCKETS * HEALTH_BUCKET_MS);
    cr_assert_float_eq(health_frequency(c, later, 600000), 1.0 / 4.0, 1e-9);
    /* Asked about a time before the newest bucket, the newer probes are left out. */
    cr_assert_float_eq(health_frequency(c, 4 * HEALTH_BUCKET_MS, 60000), 0.0, 1e-9);
}

Test(health, counts_stop_at_the_bucket_limit_and_keep_the_share)
{
    health_init(&health);
    /* Today's clock (ms since the epoch): the bucket number must hold it. */
    int64_t now = INT64_C(1795000000000);
    for (int i = 0; i < 3 * UINT16_MAX; i++)
        health_probe(&health, HEALTH_TRANSCODE_REALTIME, i % 3 == 0, now);
    health_condition_t *c = &health.conditions[HEALTH_TRANSCODE_REALTIME];
    cr_assert_float_eq(health_frequency(c, now, 60000), 1.0 / 3.0, 1e-4);
    cr_assert_float_eq(health_frequency(c, now + HEALTH_BUCKET_MS * 5, 60000), 1.0 / 3.0, 1e-4);
}
