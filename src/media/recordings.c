/* Final recording states, crash recovery and retention, over the store's session rows. */
#include "media/recordings.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/recorder_recover.h"
#include "util/log.h"

#define PAGE 100

/* What a pass over the sessions needs to know. */
typedef struct job {
    const char *root;    /* the recordings directory */
    int64_t max_age_s;   /* seconds; retention only */
    const char *node_id; /* recovery: the node whose recordings are finalized */
    bool own;            /* recovery: node_id is this node, at its start */
    int done;            /* recordings handled */
} job_t;

int recordings_dir(const char *root, const char *session_id, char *out, size_t size)
{
    int len = snprintf(out, size, "%s/%s", root, session_id);
    return len < 0 || (size_t)len >= size ? -1 : 0;
}

void recordings_set_result(store_session_t *session, int rc, const char *reason)
{
    free(session->issues_json);
    session->issues_json = NULL;
    if (rc == 0) {
        session->recording_status = STORE_RECORDING_READY;
        return;
    }
    if (session->counters.source_segments == 0) {
        session->recording_status = STORE_RECORDING_NONE; /* nothing was ever recorded */
        return;
    }
    session->recording_status = STORE_RECORDING_FAILED;
    json_t *issues =
        json_pack("[s+]", "Recording failed: ", reason && reason[0] ? reason : "unknown error");
    session->issues_json = json_dumps(issues, JSON_COMPACT);
    json_decref(issues);
}

/* Makes the session's source counters those of the recording on disk and adds the difference to
 * the stream's totals (a segment may have been recorded just before the crash, uncounted). */
static void take_counters(store_t *store, store_session_t *s, const recorder_summary_t *summary)
{
    store_counters_t *c = &s->counters;
    store_stream_live_t live = {
        .totals_only = true, /* the stream may be live again, elsewhere */
        .last_seen_ms = s->last_seen_ms,
        .added =
            {
                .source_segments = (int64_t)summary->source_segments - c->source_segments,
                .source_segments_duration_s =
                    summary->source_duration_s - c->source_segments_duration_s,
                .source_bytes = (int64_t)summary->source_bytes - c->source_bytes,
            },
    };
    c->source_segments = (int64_t)summary->source_segments;
    c->source_segments_duration_s = summary->source_duration_s;
    c->source_bytes = (int64_t)summary->source_bytes;
    store_stream_update_live(store, s->parent_id, &live, NULL);
}

/* A node finalizes its own recordings (and those no node owns) at its start; another node's
 * only when their directory is here too (a shared recordings directory): one on the dead node's
 * own disk waits for that node to return. */
static bool recovers(const job_t *job, const store_session_t *s, const char *dir)
{
    if (job->own)
        return !s->node_id[0] || strcmp(s->node_id, job->node_id) == 0;
    return strcmp(s->node_id, job->node_id) == 0 && access(dir, F_OK) == 0;
}

static void recover_one(store_t *store, job_t *job, store_session_t *s)
{
    char dir[PATH_MAX], err[RECORDER_ERROR_MAX] = "";
    recorder_summary_t summary = {0};
    bool dir_ok = recordings_dir(job->root, s->id, dir, sizeof dir) == 0;
    if (dir_ok && !recovers(job, s, dir))
        return;
    int rc = dir_ok ? recorder_recover(dir, &summary, err, sizeof err) : RECORDER_ERR_INVALID;
    if (rc == 0)
        take_counters(store, s, &summary);
    recordings_set_result(s, rc, err);
    if (store_session_update(store, s) != STORE_OK)
        log_error("recordings", "session %s: recovered status not saved", s->id);
    log_info("recordings",
             "session %s: recording of node %s finalized after an unclean stop: %s%s%s", s->id,
             s->node_id[0] ? s->node_id : "(none)", rc == 0 ? "ready" : "not recovered",
             rc == 0 ? "" : ": ", rc == 0 ? "" : err);
    job->done++;
}

/* Hands every session matching q to handle. The matching rows are read first, page by page,
 * and handled after, since handling changes the very status the query selects on. */
static void for_each_session(store_t *store, store_query_t *q,
                             void (*handle)(store_t *, job_t *, store_session_t *), job_t *job)
{
    store_session_t *all = NULL;
    size_t total = 0;
    for (q->offset = 0;; q->offset += PAGE) {
        store_session_t *rows = NULL;
        size_t count = 0;
        if (store_session_list(store, q, &rows, &count, NULL) != STORE_OK || count == 0) {
            store_session_list_free(rows, count);
            break;
        }
        store_session_t *grown = realloc(all, (total + count) * sizeof *all);
        if (!grown) {
            store_session_list_free(rows, count);
            break;
        }
        all = grown;
        memcpy(all + total, rows, count * sizeof *rows);
        total += count;
        free(rows); /* the records moved into all */
    }
    for (size_t i = 0; i < total; i++)
        handle(store, job, &all[i]);
    store_session_list_free(all, total);
}

int recordings_recover(store_t *store, const char *root, const char *node_id, bool own)
{
    store_filter_t waiting = {.field = "recordingStatus",
                              .op = STORE_OP_EQ,
                              .kind = STORE_VALUE_STRING,
                              .string_value = "waiting"};
    store_query_t q = {.record = 1, .filters = &waiting, .filter_count = 1, .limit = PAGE};
    job_t job = {.root = root, .node_id = node_id, .own = own};
    for_each_session(store, &q, recover_one, &job);
    return job.done;
}

static void delete_one(store_t *store, job_t *job, store_session_t *s)
{
    char dir[PATH_MAX], err[RECORDER_ERROR_MAX] = "";
    if (recordings_dir(job->root, s->id, dir, sizeof dir) != 0 ||
        recorder_delete(dir, err, sizeof err) != 0) {
        log_error("recordings", "session %s: recording not deleted: %s", s->id, err);
        return;
    }
    s->recording_status = STORE_RECORDING_DELETED;
    if (store_session_update(store, s) != STORE_OK)
        log_error("recordings", "session %s: deleted status not saved", s->id);
    else
        log_info("recordings", "session %s: recording deleted (older than %lld s)", s->id,
                 (long long)job->max_age_s);
    job->done++;
}

int recordings_expire(store_t *store, const char *root, int64_t max_age_s, int64_t now_ms)
{
    if (max_age_s <= 0)
        return 0;
    store_filter_t filters[2] = {
        {.field = "recordingStatus",
         .op = STORE_OP_EQ,
         .kind = STORE_VALUE_STRING,
         .string_value = "ready"},
        {.field = "lastSeen",
         .op = STORE_OP_LT,
         .kind = STORE_VALUE_NUMBER,
         .number_value = (double)(now_ms - max_age_s * 1000)},
    };
    store_query_t q = {.record = 1, .filters = filters, .filter_count = 2, .limit = PAGE};
    job_t job = {.root = root, .max_age_s = max_age_s};
    for_each_session(store, &q, delete_one, &job);
    return job.done;
}
