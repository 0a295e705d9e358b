/* The statements of every backend (statements.h), in one place for both dialects. */
#include "store/statements.h"

#include "store/dialect.h"
#include "store/store_rows.h"

typedef struct statement {
    const char *name;
    const char *sql;
} statement_t;

/* The end of a stream's live update (STMT_STREAM_LIVE's parameters): last_seen, the totals grown
 * by the counters added (?8..?13), and the controls back. */
#define STREAM_ADD_TOTALS                                                                          \
    "last_seen = {max}(last_seen, ?3), source_segments = source_segments + ?8, "                   \
    "transcoded_segments = transcoded_segments + ?9, "                                             \
    "source_segments_duration = source_segments_duration + ?10, "                                  \
    "transcoded_segments_duration = transcoded_segments_duration + ?11, "                          \
    "source_bytes = source_bytes + ?12, transcoded_bytes = transcoded_bytes + ?13 WHERE id = ?1 "  \
    "RETURNING suspended, deleted, last_terminated_at"

static const statement_t statements[STMT_COUNT] = {
    [STMT_USER_INSERT] = {"user insert", "INSERT INTO users (" STORE_ROWS_USER_COLUMNS
                                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    [STMT_USER_GET] = {"user get", "SELECT " STORE_ROWS_USER_COLUMNS " FROM users WHERE id = ?1"},
    [STMT_USER_COUNT] = {"user count", "SELECT COUNT(*) FROM users"},
    [STMT_TOKEN_INSERT] = {"token insert", "INSERT INTO api_tokens (" STORE_ROWS_TOKEN_COLUMNS
                                           ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    [STMT_TOKEN_FIND] = {"token find",
                         "SELECT " STORE_ROWS_TOKEN_COLUMNS " FROM api_tokens WHERE key_hash = ?1"},
    /* Concurrent requests may touch out of order; last_used never goes back. */
    [STMT_TOKEN_TOUCH] = {"token touch",
                          "UPDATE api_tokens SET last_used = {max}(last_used, ?2) WHERE id = ?1"},
    /* rowid breaks created_at ties in insertion order: "oldest first" even within one ms. */
    [STMT_TOKEN_LIST] = {"token list", "SELECT " STORE_ROWS_TOKEN_COLUMNS " FROM api_tokens "
                                       "WHERE user_id = ?1 ORDER BY created_at, rowid"},
    [STMT_TOKEN_DELETE] = {"token delete", "DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2"},
    [STMT_STREAM_INSERT] = {"stream insert",
                            "INSERT INTO streams (" STORE_ROWS_STREAM_COLUMNS
                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                            "?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, "
                            "?27, ?28, ?29, ?30, ?31)"},
    /* Identity columns (id, owner, keys, creation) never change after insert. Settings only: the
     * live columns belong to STMT_STREAM_LIVE, so an API edit racing a broadcast's stats update
     * loses neither. */
    [STMT_STREAM_UPDATE] = {"stream update",
                            "UPDATE streams SET name = ?6, last_terminated_at = ?10, record = ?12, "
                            "suspended = ?13, deleted = ?14, profiles = ?25, user_tags = ?26, "
                            "creator_id = ?27, pull = ?28, playback_policy = ?29, "
                            "recording_spec = ?30, multistream = ?31 WHERE id = ?1"},
    /* Totals grow by increments so concurrent broadcasts' updates never overwrite each other. The
     * controls come back with it: the owner of a broadcast learns of a terminate on another node
     * at its next write. */
    [STMT_STREAM_LIVE] = {"stream live update",
                          "UPDATE streams SET is_active = ?2, is_healthy = ?4, issues = ?5, "
                          "ingest_rate = ?6, outgoing_rate = ?7, " STREAM_ADD_TOTALS},
    /* ?1 = the node whose broadcasts ended; ?2 = 1 to include the rows no node holds (written
     * before nodes existed), which only a node's own start-up may close. */
    [STMT_STREAM_CLOSE_OPEN] = {"stream close open",
                                "UPDATE streams SET is_active = FALSE, ingest_rate = 0, "
                                "outgoing_rate = 0, publisher_node = NULL WHERE publisher_node = "
                                "?1 OR (?2 = 1 AND publisher_node IS NULL AND is_active)"},
    [STMT_STREAM_GET] = {"stream get",
                         "SELECT " STORE_ROWS_STREAM_COLUMNS " FROM streams WHERE id = ?1"},
    [STMT_STREAM_GET_BY_KEY] = {"stream get by key", "SELECT " STORE_ROWS_STREAM_COLUMNS
                                                     " FROM streams WHERE stream_key = ?1"},
    [STMT_STREAM_GET_BY_PLAYBACK_ID] = {"stream get by playback id",
                                        "SELECT " STORE_ROWS_STREAM_COLUMNS
                                        " FROM streams WHERE playback_id = ?1"},
    /* One conditional update decides between publishers on different nodes: the row lock
     * serializes them, and the loser sees the winner's node. A holder whose heartbeat is older
     * than ?3, or that is down, holds nothing. */
    [STMT_STREAM_CLAIM] = {"stream claim",
                           "UPDATE streams SET publisher_node = ?2 WHERE id = ?1 AND "
                           "(publisher_node IS NULL OR publisher_node = ?2 OR NOT EXISTS "
                           "(SELECT 1 FROM nodes WHERE nodes.id = streams.publisher_node AND "
                           "NOT nodes.down AND nodes.heartbeat_at >= ?3))"},
    [STMT_STREAM_RELEASE] = {"stream release", "UPDATE streams SET publisher_node = NULL "
                                               "WHERE id = ?1 AND publisher_node = ?2"},
    [STMT_SESSION_INSERT] = {"session insert",
                             "INSERT INTO sessions (" STORE_ROWS_SESSION_COLUMNS
                             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                             "?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, "
                             "?27)"},
    /* The owner node (?27) changes only through STMT_SESSION_ADOPT. */
    [STMT_SESSION_UPDATE] = {"session update",
                             "UPDATE sessions SET name = ?6, last_seen = ?8, ended_at = ?9, "
                             "is_active = ?10, record = ?11, deleted = ?12, is_healthy = ?13, "
                             "issues = ?14, recording_status = ?15, source_segments = ?16, "
                             "transcoded_segments = ?17, source_segments_duration = ?18, "
                             "transcoded_segments_duration = ?19, source_bytes = ?20, "
                             "transcoded_bytes = ?21, ingest_rate = ?22, outgoing_rate = ?23, "
                             "profiles = ?24, recording_spec = ?25, health = ?26 WHERE id = ?1"},
    [STMT_SESSION_GET] = {"session get",
                          "SELECT " STORE_ROWS_SESSION_COLUMNS " FROM sessions WHERE id = ?1"},
    [STMT_SESSION_LATEST] = {"session latest", "SELECT " STORE_ROWS_SESSION_COLUMNS
                                               " FROM sessions WHERE parent_id = ?1 "
                                               "ORDER BY created_at DESC, rowid DESC LIMIT 1"},
    /* Same arguments as STMT_STREAM_CLOSE_OPEN. */
    [STMT_SESSION_CLOSE_OPEN] = {"session close open",
                                 "UPDATE sessions SET is_active = FALSE, ingest_rate = 0, "
                                 "outgoing_rate = 0, ended_at = CASE WHEN last_seen > 0 THEN "
                                 "last_seen ELSE created_at END WHERE is_active AND (node_id = ?1 "
                                 "OR (?2 = 1 AND node_id IS NULL))"},
    /* A reconnect on node ?2 takes over session ?1 if it ended no earlier than ?3 and no node
     * took it since: it is active again, and its old node leaves it alone. */
    [STMT_SESSION_ADOPT] = {"session adopt",
                            "UPDATE sessions SET node_id = ?2, is_active = TRUE WHERE id = ?1 AND "
                            "NOT is_active AND ended_at >= ?3 AND ended_at > 0 AND "
                            "(node_id IS NULL OR node_id <> ?2)"},
    [STMT_NODE_UPSERT] = {"node heartbeat",
                          "INSERT INTO nodes (" STORE_ROWS_NODE_COLUMNS
                          ") VALUES (?1, ?2, ?3, ?4, ?5, FALSE) ON CONFLICT (id) DO UPDATE SET "
                          "http_url = ?2, rtmp_url = ?3, started_at = ?4, heartbeat_at = ?5, "
                          "down = FALSE"},
    [STMT_NODE_GET] = {"node get", "SELECT " STORE_ROWS_NODE_COLUMNS " FROM nodes WHERE id = ?1"},
    [STMT_NODE_OF_PLAYBACK] = {"node of playback",
                               "SELECT " STORE_ROWS_NODE_COLUMNS " FROM nodes WHERE id = (SELECT "
                               "node_id FROM sessions WHERE playback_id = ?1 ORDER BY created_at "
                               "DESC, rowid DESC LIMIT 1)"},
    [STMT_NODE_OF_SESSION] = {"node of session",
                              "SELECT " STORE_ROWS_NODE_COLUMNS " FROM nodes WHERE id = (SELECT "
                              "node_id FROM sessions WHERE id = ?1)"},
    [STMT_NODE_LIST_ALIVE] = {"node list alive",
                              "SELECT " STORE_ROWS_NODE_COLUMNS " FROM nodes WHERE NOT down AND "
                              "heartbeat_at >= ?1 ORDER BY id"},
    [STMT_NODE_LIST_STALE] = {"node list stale",
                              "SELECT " STORE_ROWS_NODE_COLUMNS " FROM nodes WHERE NOT down AND "
                              "heartbeat_at < ?1 ORDER BY id"},
    /* Exactly one caller sees a row change: the node that takes the dead one's sessions. */
    [STMT_NODE_MARK_DOWN] = {"node mark down", "UPDATE nodes SET down = TRUE WHERE id = ?1 AND "
                                               "NOT down AND heartbeat_at < ?2"},
    [STMT_SIGNING_KEY_INSERT] = {"signing key insert",
                                 "INSERT INTO signing_keys (" STORE_ROWS_SIGNING_KEY_COLUMNS
                                 ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    [STMT_SIGNING_KEY_GET] = {"signing key get",
                              "SELECT " STORE_ROWS_SIGNING_KEY_COLUMNS
                              " FROM signing_keys WHERE id = ?1 AND user_id = ?2"},
    [STMT_SIGNING_KEY_FIND] = {"signing key find", "SELECT " STORE_ROWS_SIGNING_KEY_COLUMNS
                                                   " FROM signing_keys WHERE public_key = ?1"},
    [STMT_SIGNING_KEY_LIST] = {"signing key list",
                               "SELECT " STORE_ROWS_SIGNING_KEY_COLUMNS " FROM signing_keys "
                               "WHERE user_id = ?1 ORDER BY created_at, rowid"},
    [STMT_SIGNING_KEY_UPDATE] = {"signing key update",
                                 "UPDATE signing_keys SET name = ?4, disabled = ?6 "
                                 "WHERE id = ?1 AND user_id = ?2"},
    [STMT_SIGNING_KEY_DELETE] = {"signing key delete",
                                 "DELETE FROM signing_keys WHERE id = ?1 AND user_id = ?2"},
    /* Changes a row only when isActive really flips: the row lock orders concurrent writers, so
     * exactly one of them raises stream.started or stream.idle. */
    [STMT_STREAM_FLIP] = {"stream flip",
                          "UPDATE streams SET is_active = ?2 WHERE id = ?1 AND is_active <> ?2"},
    /* A broadcast closed for its node: the stream goes idle, once. */
    [STMT_STREAM_IDLE] = {"stream idle", "UPDATE streams SET is_active = FALSE, ingest_rate = 0, "
                                         "outgoing_rate = 0 WHERE id = ?1 AND is_active"},
    /* Same parameters as STMT_STREAM_LIVE; the live columns stay as they are. */
    [STMT_STREAM_ADD_TOTALS] = {"stream add totals", "UPDATE streams SET " STREAM_ADD_TOTALS},
    /* Once per session, when it is over and its recording is still to be made from what was
     * recorded: the moment recording.waiting is raised. */
    [STMT_SESSION_MARK_WAITING] = {"session mark waiting",
                                   "UPDATE sessions SET recording_waiting_at = ?2 WHERE id = ?1 "
                                   "AND recording_waiting_at = 0 AND record AND NOT is_active AND "
                                   "recording_status = 'waiting' AND source_segments > 0"},
    /* The recording leaves "waiting" for ?2 (ready, failed, none, deleted): exactly once. */
    [STMT_SESSION_END_RECORDING] = {"session end recording",
                                    "UPDATE sessions SET recording_status = ?2 WHERE id = ?1 AND "
                                    "recording_status = 'waiting'"},
    /* The sessions STMT_SESSION_CLOSE_OPEN closes, same arguments. */
    [STMT_SESSION_LIST_OPEN] = {"session list open",
                                "SELECT " STORE_ROWS_SESSION_COLUMNS " FROM sessions WHERE "
                                "is_active AND (node_id = ?1 OR (?2 = 1 AND node_id IS NULL))"},
    /* One delivery per webhook of the stream's owner subscribed to the event (?2, matched as
     * ?6 = '%"<event>"%' in the JSON text of its events) and to this stream or every stream.
     * The casts let PostgreSQL type the selected parameters. */
    [STMT_EVENT_RAISE] = {"event raise",
                          "INSERT INTO webhook_deliveries (" STORE_ROWS_DELIVERY_COLUMNS
                          ", claimed_until) SELECT CAST(?1 AS TEXT) || ':' || w.id, "
                          "CAST(?1 AS TEXT), w.id, CAST(?2 AS TEXT), CAST(?3 AS TEXT), "
                          "CAST(?4 AS TEXT), CAST(?5 AS {int}), 0, TRUE, 'pending', "
                          "CAST(?5 AS {int}), 0 FROM webhooks w JOIN streams s ON s.id = ?3 "
                          "WHERE w.user_id = s.user_id AND w.project_id = s.project_id AND "
                          "w.events LIKE ?6 AND (w.stream_id IS NULL OR w.stream_id = ?3)"},
    [STMT_WEBHOOK_INSERT] = {"webhook insert", "INSERT INTO webhooks (" STORE_ROWS_WEBHOOK_COLUMNS
                                               ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                                               "?10, ?11)"},
    [STMT_WEBHOOK_GET] = {"webhook get", "SELECT " STORE_ROWS_WEBHOOK_COLUMNS
                                         " FROM webhooks WHERE id = ?1 AND user_id = ?2"},
    [STMT_WEBHOOK_GET_ANY] = {"webhook get any",
                              "SELECT " STORE_ROWS_WEBHOOK_COLUMNS " FROM webhooks WHERE id = ?1"},
    [STMT_WEBHOOK_LIST] = {"webhook list",
                           "SELECT " STORE_ROWS_WEBHOOK_COLUMNS " FROM webhooks WHERE "
                           "user_id = ?1 ORDER BY created_at DESC, rowid DESC"},
    [STMT_WEBHOOK_UPDATE] = {"webhook update",
                             "UPDATE webhooks SET stream_id = ?4, name = ?5, url = ?6, events = "
                             "?7, shared_secret = ?8 WHERE id = ?1 AND user_id = ?2"},
    [STMT_WEBHOOK_DELETE] = {"webhook delete",
                             "DELETE FROM webhooks WHERE id = ?1 AND user_id = ?2"},
    /* Attempts on other threads may finish out of order: lastTriggeredAt never goes back. A
     * NULL failure (a success) leaves the last failure as it was. */
    [STMT_WEBHOOK_STATUS] = {"webhook status",
                             "UPDATE webhooks SET last_triggered_at = {max}(last_triggered_at, "
                             "?2), last_failure = COALESCE(?3, last_failure) WHERE id = ?1"},
    /* Due, unclaimed (or the claim ran out), and first in line: no earlier pending delivery of
     * the same stream to the same webhook, so a stream's events arrive in order. */
    [STMT_DELIVERY_DUE] = {"delivery due",
                           "SELECT " STORE_ROWS_DELIVERY_COLUMNS " FROM webhook_deliveries d "
                           "WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 AND "
                           "d.claimed_until <= ?1 AND NOT EXISTS (SELECT 1 FROM "
                           "webhook_deliveries e WHERE e.webhook_id = d.webhook_id AND "
                           "e.stream_id = d.stream_id AND e.state = 'pending' AND "
                           "e.rowid < d.rowid) ORDER BY d.rowid LIMIT ?2"},
    /* ?1 id, ?2 node, ?3 claimed until, ?4 now: one node wins a delivery. */
    [STMT_DELIVERY_CLAIM] = {"delivery claim",
                             "UPDATE webhook_deliveries SET claimed_by = ?2, claimed_until = ?3 "
                             "WHERE id = ?1 AND state = 'pending' AND claimed_until <= ?4"},
    [STMT_DELIVERY_DONE] = {"delivery done",
                            "UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?2, "
                            "next_attempt_at = ?3, claimed_by = NULL, claimed_until = 0 "
                            "WHERE id = ?1"},
    [STMT_DELIVERY_RELEASE] = {"delivery release",
                               "UPDATE webhook_deliveries SET claimed_by = NULL, "
                               "claimed_until = 0 WHERE claimed_by = ?1"},
    /* ?1 new delivery id, ?2 log id, ?3 webhook id, ?4 now. */
    [STMT_DELIVERY_RESEND] = {"delivery resend",
                              "INSERT INTO webhook_deliveries (" STORE_ROWS_DELIVERY_COLUMNS
                              ", claimed_until) SELECT CAST(?1 AS TEXT), event_id, webhook_id, "
                              "event, stream_id, session_id, created_at, 0, FALSE, 'pending', "
                              "CAST(?4 AS {int}), 0 FROM webhook_logs WHERE id = ?2 AND "
                              "webhook_id = ?3"},
    [STMT_DELIVERY_DELETE_OF_WEBHOOK] = {"delivery delete of webhook",
                                         "DELETE FROM webhook_deliveries WHERE webhook_id = ?1"},
    /* A finished delivery's next_attempt_at is when it finished. */
    [STMT_DELIVERY_PRUNE] = {"delivery prune", "DELETE FROM webhook_deliveries WHERE state <> "
                                               "'pending' AND next_attempt_at < ?1"},
    [STMT_LOG_INSERT] = {"log insert", "INSERT INTO webhook_logs (" STORE_ROWS_WEBHOOK_LOG_COLUMNS
                                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
    [STMT_LOG_LIST] = {"log list", "SELECT " STORE_ROWS_WEBHOOK_LOG_COLUMNS
                                   " FROM webhook_logs WHERE webhook_id = ?1 ORDER BY "
                                   "created_at DESC, rowid DESC LIMIT ?2 OFFSET ?3"},
    [STMT_LOG_GET] = {"log get", "SELECT " STORE_ROWS_WEBHOOK_LOG_COLUMNS
                                 " FROM webhook_logs WHERE id = ?1 AND webhook_id = ?2"},
    [STMT_LOG_DELETE_OF_WEBHOOK] = {"log delete of webhook",
                                    "DELETE FROM webhook_logs WHERE webhook_id = ?1"},
    [STMT_LOG_PRUNE] = {"log prune", "DELETE FROM webhook_logs WHERE created_at < ?1"},
    [STMT_SCHEMA_VERSION] = {"schema version", "{schema_version}"},
};

const char *statement_name(stmt_id_t id)
{
    return statements[id].name;
}

char *statement_sql(stmt_id_t id, store_query_dialect_t dialect)
{
    return dialect_render(statements[id].sql, dialect);
}

int statement_param_count(stmt_id_t id)
{
    return dialect_param_count(statements[id].sql);
}
