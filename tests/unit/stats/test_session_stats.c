/* Unit tests for a session's accounting: counters, the increments a store write hands the
 * stream, rates, and the health document, driven by plain numbers with no store or media. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "stats/session_stats.h"

#define T0 1700000000000LL /* ms since epoch */
#define M0 100000LL        /* monotonic ms */

static store_stream_t stream;
static session_stats_t *stats;

static void setup(void)
{
    memset(&stream, 0, sizeof stream);
    snprintf(stream.id, sizeof stream.id, "11111111-2222-3333-4444-555555555555");
    snprintf(stream.user_id, sizeof stream.user_id, "user");
    snprintf(stream.playback_id, sizeof stream.playback_id, "abcd1234");
    stream.name = "show";
    stream.profiles_json = "[]";
    stats = session_stats_new(&stream, T0, M0);
    cr_assert_not_null(stats);
}

static void teardown(void)
{
    session_stats_free(stats);
}

TestSuite(session_stats, .init = setup, .fini = teardown);

/* Prepares a write at (now, mono) and returns the row; *live gets the stream's part. */
static const store_session_t *prepare(bool active, int64_t now, int64_t mono,
                                      store_stream_live_t *live)
{
    return session_stats_prepare_write(stats, active, now, mono, live);
}

/* The health document of the row, parsed (caller frees). */
static json_t *health_doc(const store_session_t *row)
{
    cr_assert_not_null(row->health_json);
    json_error_t error;
    json_t *doc = json_loads(row->health_json, 0, &error);
    cr_assert_not_null(doc, "%s: %s", error.text, row->health_json);
    return doc;
}

Test(session_stats, a_new_session_copies_the_stream)
{
    store_session_t *s = session_stats_session(stats);
    cr_assert_neq(s->id[0], '\0');
    cr_assert_str_eq(s->parent_id, stream.id);
    cr_assert_str_eq(s->user_id, "user");
    cr_assert_str_eq(s->playback_id, "abcd1234");
    cr_assert_str_eq(s->name, "show");
    cr_assert_str_eq(s->profiles_json, "[]");
    cr_assert_null(s->recording_spec_json);
    cr_assert_eq(s->created_at_ms, T0);
    cr_assert(s->is_active);
    cr_assert_eq(s->recording_status, STORE_RECORDING_NONE_SET);
    session_stats_t *other = session_stats_new(&stream, T0, M0);
    cr_assert_str_neq(session_stats_session(other)->id, s->id, "every session has its own id");
    session_stats_free(other);
    stream.record = true;
    other = session_stats_new(&stream, T0, M0);
    cr_assert_eq(session_stats_session(other)->recording_status, STORE_RECORDING_WAITING);
    session_stats_free(other);
    session_stats_free(NULL);
}

Test(session_stats, counters_add_up)
{
    session_stats_add_source_segment(stats, 1000, 2.0);
    session_stats_add_source_segment(stats, 1500, 2.5);
    session_stats_add_source_segment(stats, 500, 0.5);
    session_stats_add_rendition_segment(stats, "360p", 400, 2.0, 0.1, M0 + 100);
    session_stats_add_rendition_segment(stats, "240p", 200, 2.0, 0.05, M0 + 200);
    store_stream_live_t live;
    const store_session_t *row = prepare(true, T0 + 1000, M0 + 1000, &live);
    cr_assert_eq(row->counters.source_segments, 3);
    cr_assert_eq(row->counters.source_bytes, 3000);
    cr_assert_float_eq(row->counters.source_segments_duration_s, 5.0, 1e-9);
    cr_assert_eq(row->counters.transcoded_segments, 2);
    cr_assert_eq(row->counters.transcoded_bytes, 600);
    cr_assert_float_eq(row->counters.transcoded_segments_duration_s, 4.0, 1e-9);
    cr_assert_eq(live.added.source_segments, 3, "nothing was written yet: all of it is new");
    cr_assert_eq(live.added.source_bytes, 3000);
    cr_assert_float_eq(live.added.source_segments_duration_s, 5.0, 1e-9);
    cr_assert_eq(live.added.transcoded_segments, 2);
    cr_assert_eq(live.added.transcoded_bytes, 600);
    cr_assert_float_eq(live.added.transcoded_segments_duration_s, 4.0, 1e-9);
}

Test(session_stats, increments_reset_after_a_written_stream_and_stay_after_a_failed_one)
{
    store_stream_live_t live;
    session_stats_add_source_segment(stats, 1000, 2.0);
    prepare(true, T0 + 1000, M0 + 1000, &live);
    cr_assert_eq(live.added.source_segments, 1);
    session_stats_written(stats, false, M0 + 1000); /* the stream's totals did not take them */

    session_stats_add_source_segment(stats, 700, 1.0);
    prepare(true, T0 + 2000, M0 + 2000, &live);
    cr_assert_eq(live.added.source_segments, 2, "the failed write's increment is kept");
    cr_assert_eq(live.added.source_bytes, 1700);
    cr_assert_float_eq(live.added.source_segments_duration_s, 3.0, 1e-9);
    session_stats_written(stats, true, M0 + 2000);

    const store_session_t *row = prepare(true, T0 + 3000, M0 + 3000, &live);
    cr_assert_eq(live.added.source_segments, 0, "written: nothing is new");
    cr_assert_eq(live.added.source_bytes, 0);
    cr_assert_float_eq(live.added.source_segments_duration_s, 0, 1e-9);
    cr_assert_eq(row->counters.source_segments, 2, "the session's own counters go on");
    cr_assert_eq(row->counters.source_bytes, 1700);
}

Test(session_stats, a_write_is_due_once_a_second)
{
    cr_assert(session_stats_write_due(stats, M0), "never written");
    store_stream_live_t live;
    prepare(true, T0, M0, &live);
    session_stats_written(stats, true, M0);
    cr_assert_not(session_stats_write_due(stats, M0 + SESSION_STATS_FLUSH_INTERVAL_MS - 1));
    cr_assert(session_stats_write_due(stats, M0 + SESSION_STATS_FLUSH_INTERVAL_MS));
    session_stats_written(stats, false, M0 + 5000);
    cr_assert_not(session_stats_write_due(stats, M0 + 5001), "a failed write counts as a try");
}

Test(session_stats, rates_follow_the_bytes_and_fall_to_zero_when_inactive)
{
    for (int64_t t = 0; t < 3000; t += 100) {
        session_stats_add_received(stats, 1000, T0 + t, M0 + t);
        session_stats_add_rendition_segment(stats, "360p", 500, 0.1, 0.01, M0 + t);
    }
    store_stream_live_t live;
    const store_session_t *row = prepare(true, T0 + 3000, M0 + 3000, &live);
    cr_assert_float_eq(row->counters.ingest_rate_bps, 10000, 1500);
    cr_assert_float_eq(row->counters.outgoing_rate_bps, 5000, 750);
    cr_assert_float_eq(live.ingest_rate_bps, row->counters.ingest_rate_bps, 1e-9);
    cr_assert_float_eq(live.outgoing_rate_bps, row->counters.outgoing_rate_bps, 1e-9);
    cr_assert_eq(row->last_seen_ms, T0 + 2900, "lastSeen is the last bytes received");
    cr_assert_eq(live.last_seen_ms, T0 + 2900);

    row = prepare(false, T0 + 3000, M0 + 3000, &live);
    cr_assert_float_eq(row->counters.ingest_rate_bps, 0, 1e-9, "inactive: no rate");
    cr_assert_float_eq(row->counters.outgoing_rate_bps, 0, 1e-9);
    cr_assert_float_eq(live.ingest_rate_bps, 0, 1e-9);
    cr_assert_not(row->is_active);
    cr_assert_not(live.is_active);

    row = prepare(true, T0 + 20000, M0 + 20000, &live);
    cr_assert_float_eq(row->counters.ingest_rate_bps, 0, 1e-9, "the feed stopped a window ago");
    cr_assert_float_eq(row->counters.outgoing_rate_bps, 0, 1e-9);
}

Test(session_stats, a_continued_session_is_open_and_measured_afresh)
{
    session_stats_add_received(stats, 100000, T0 + 100, M0 + 100);
    session_stats_end(stats, T0 + 500);
    store_stream_live_t live;
    const store_session_t *row = prepare(false, T0 + 500, M0 + 500, &live);
    cr_assert_eq(row->ended_at_ms, T0 + 500);
    cr_assert_eq(row->is_healthy, -1, "not active: no verdict");

    session_stats_continue(stats, T0 + 1000, M0 + 1000);
    row = prepare(true, T0 + 1000, M0 + 1000, &live);
    cr_assert_eq(row->ended_at_ms, 0);
    cr_assert(row->is_active);
    cr_assert_eq(row->last_seen_ms, T0 + 1000);
    cr_assert_float_eq(row->counters.ingest_rate_bps, 0, 1e-9, "the old bytes are not counted");
}

/* The value of a metric point {"name", "dimensions", "last": [ms, value]}. */
static double value_of(const json_t *point)
{
    return json_real_value(json_array_get(json_object_get(point, "last"), 1));
}

/* A dimension of a metric point ("stage", "rendition"); NULL when absent. */
static const char *dimension(const json_t *point, const char *key)
{
    return json_string_value(json_object_get(json_object_get(point, "dimensions"), key));
}

/* The health document: the conditions, and only the metrics there is something to say about. */
Test(session_stats, health_document_has_the_metrics_that_apply)
{
    session_stats_add_source_segment(stats, 1000, 2.0);
    store_stream_live_t live;
    const store_session_t *row = prepare(true, T0 + 2000, M0 + 2000, &live);
    json_t *doc = health_doc(row);
    cr_assert(json_is_object(json_object_get(doc, "healthy")));
    cr_assert(json_is_array(json_object_get(doc, "conditions")));
    json_t *metrics = json_object_get(doc, "metrics");
    cr_assert_eq(json_object_size(metrics), 1, "%s", row->health_json);
    json_t *media = json_array_get(json_object_get(metrics, "MediaTimeMillis"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(media, "name")), "MediaTimeMillis");
    cr_assert(json_is_object(json_object_get(media, "dimensions")));
    cr_assert_eq(json_integer_value(json_array_get(json_object_get(media, "last"), 0)), T0 + 2000);
    cr_assert_float_eq(value_of(media), 2000, 1e-9);
    json_decref(doc);

    session_stats_add_rendition_segment(stats, "360p", 400, 2.0, 0.5, M0 + 2100);
    session_stats_add_rendition_segment(stats, "240p", 200, 2.0, 0.2, M0 + 2100);
    session_stats_add_rendition_segment(stats, "360p", 400, 2.0, 0.3, M0 + 2200);
    session_stats_transcoded(stats, 2.0, 0.5, true, 0.25, T0 + 2200);
    cr_assert_eq(session_stats_add_dropped(stats, T0 + 2300), 1);
    cr_assert_eq(session_stats_add_dropped(stats, T0 + 2400), 2);
    row = prepare(true, T0 + 2500, M0 + 2500, &live);
    doc = health_doc(row);
    metrics = json_object_get(doc, "metrics");
    cr_assert_eq(json_object_size(metrics), 4, "%s", row->health_json);
    json_t *ratio = json_array_get(json_object_get(metrics, "TranscodeRealtimeRatio"), 0);
    cr_assert_float_eq(value_of(ratio), 4.0, 1e-9);
    json_t *dropped = json_array_get(json_object_get(metrics, "TranscodeDroppedSegments"), 0);
    cr_assert_float_eq(value_of(dropped), 2, 1e-9);
    json_t *cpu = json_object_get(metrics, "TranscodeCpuSecondsPerMediaSecond");
    cr_assert_eq(json_array_size(cpu), 3, "decode, then one per rendition");
    cr_assert_str_eq(dimension(json_array_get(cpu, 0), "stage"), "decode");
    cr_assert_null(dimension(json_array_get(cpu, 0), "rendition"));
    cr_assert_float_eq(value_of(json_array_get(cpu, 0)), 0.25, 1e-9);
    cr_assert_str_eq(dimension(json_array_get(cpu, 1), "stage"), "encode");
    cr_assert_str_eq(dimension(json_array_get(cpu, 1), "rendition"), "360p");
    cr_assert_float_eq(value_of(json_array_get(cpu, 1)), 0.8 / 4.0, 1e-9);
    cr_assert_str_eq(dimension(json_array_get(cpu, 2), "rendition"), "240p");
    cr_assert_float_eq(value_of(json_array_get(cpu, 2)), 0.1, 1e-9);
    json_decref(doc);
}

/* isHealthy and issues follow the conditions, in the row and in the stream's live state. */
Test(session_stats, is_healthy_and_issues_derive_from_the_conditions)
{
    store_stream_live_t live;
    const store_session_t *row = prepare(true, T0, M0, &live);
    cr_assert_eq(row->is_healthy, -1, "active, nothing judged yet");
    cr_assert_null(row->issues_json);

    session_stats_passthrough(stats, T0 + 2000);
    row = prepare(true, T0 + 2000, M0 + 2000, &live);
    cr_assert_eq(row->is_healthy, 1);
    cr_assert_null(row->issues_json);
    cr_assert_eq(live.is_healthy, 1);
    cr_assert_null(live.issues_json);

    session_stats_add_dropped(stats, T0 + 3000);
    row = prepare(true, T0 + 3000, M0 + 3000, &live);
    cr_assert_eq(row->is_healthy, 0);
    cr_assert_not_null(row->issues_json);
    cr_assert(strstr(row->issues_json, "slower than real time"), "%s", row->issues_json);
    cr_assert_eq(live.is_healthy, 0);
    cr_assert_str_eq(live.issues_json, row->issues_json);

    session_stats_transcoded(stats, 2.0, 1.0, true, 0.1, T0 + 4000);
    row = prepare(true, T0 + 4000, M0 + 4000, &live);
    cr_assert_eq(row->is_healthy, 1, "back within real time");

    session_stats_transcoded(stats, 2.0, 3.0, false, 0.1, T0 + 5000);
    row = prepare(true, T0 + 5000, M0 + 5000, &live);
    cr_assert_eq(row->is_healthy, 0);
    cr_assert(strstr(row->issues_json, "slower than real time"), "%s", row->issues_json);

    session_stats_end(stats, T0 + 6000);
    row = prepare(false, T0 + 6000, M0 + 6000, &live);
    cr_assert_eq(row->is_healthy, -1, "ended: no verdict");
    cr_assert_null(row->issues_json);
}

Test(session_stats, a_transcoder_that_cannot_start_is_unhealthy)
{
    session_stats_transcoding_failed(stats, T0 + 10);
    store_stream_live_t live;
    const store_session_t *row = prepare(true, T0 + 10, M0 + 10, &live);
    cr_assert_eq(row->is_healthy, 0);
    cr_assert(strstr(row->issues_json, "ranscod"), "%s", row->issues_json);
}

Test(session_stats, a_failed_recording_says_why_once)
{
    session_stats_recording_started(stats, T0);
    cr_assert_str_eq(session_stats_recording_issue(stats), "");
    cr_assert(session_stats_recording_failed(stats, "disk full", T0 + 100));
    cr_assert_not(session_stats_recording_failed(stats, "again", T0 + 200), "already failed");
    cr_assert_str_eq(session_stats_recording_issue(stats), "disk full");
    store_stream_live_t live;
    const store_session_t *row = prepare(true, T0 + 300, M0 + 300, &live);
    cr_assert_eq(row->recording_status, STORE_RECORDING_FAILED);
    cr_assert_eq(row->is_healthy, 0);
    cr_assert(strstr(row->issues_json, "disk full"), "%s", row->issues_json);
}

/* Every rendition done, no error, but slower than the media: not healthy, and issues say why. */
Test(session_stats, a_segment_transcoded_slower_than_real_time_is_unhealthy)
{
    session_stats_transcoded(stats, 2.0, 2.3, true, 0.1, T0 + 100);
    store_stream_live_t live;
    const store_session_t *row = prepare(true, T0 + 100, M0 + 100, &live);
    cr_assert_eq(row->is_healthy, 0);
    cr_assert(strstr(row->issues_json, "slower than real time"), "%s", row->issues_json);
    cr_assert(strstr(row->health_json, "\"type\":\"TranscodeRealTime\",\"status\":false"), "%s",
              row->health_json);
}

/* A source browsers cannot decode is said in the health document, with why, but leaves the
 * session healthy: the renditions and other players play. */
Test(session_stats, an_undecodable_source_is_shown_not_judged)
{
    session_stats_transcoded(stats, 2.0, 1.0, true, 0.1, T0 + 100);
    session_stats_source_playable(stats, false, "10-bit 4:4:4", T0 + 100);
    store_stream_live_t live;
    const store_session_t *row = prepare(true, T0 + 100, M0 + 100, &live);
    cr_assert_eq(row->is_healthy, 1);
    cr_assert(strstr(row->health_json, "\"type\":\"SourcePlayable\",\"status\":false,"
                                       "\"extraData\":{\"detail\":\"10-bit 4:4:4\"}"),
              "%s", row->health_json);
    session_stats_source_playable(stats, true, "", T0 + 200);
    row = prepare(true, T0 + 200, M0 + 200, &live);
    cr_assert(strstr(row->health_json, "\"type\":\"SourcePlayable\",\"status\":true,"), "%s",
              row->health_json);
}
