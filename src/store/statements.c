/* The statements of every backend (statements.h), in one place for both dialects. */
#include "store/statements.h"

#include "store/dialect.h"
#include "store/store_rows.h"

typedef struct statement {
    const char *name;
    const char *sql;
} statement_t;

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
                          "UPDATE streams SET is_active = ?2, last_seen = {max}(last_seen, ?3), "
                          "is_healthy = ?4, issues = ?5, ingest_rate = ?6, outgoing_rate = ?7, "
                          "source_segments = source_segments + ?8, "
                          "transcoded_segments = transcoded_segments + ?9, "
                          "source_segments_duration = source_segments_duration + ?10, "
                          "transcoded_segments_duration = transcoded_segments_duration + ?11, "
                          "source_bytes = source_bytes + ?12, "
                          "transcoded_bytes = transcoded_bytes + ?13 WHERE id = ?1 "
                          "RETURNING suspended, deleted, last_terminated_at"},
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
