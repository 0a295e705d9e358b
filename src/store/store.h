/* The store: the single source of truth for users, API keys, streams and sessions.
 * One interface, backends behind it (SQLite now; PostgreSQL later). A store_t is thread-safe:
 * any thread may call any function concurrently. Records returned to the caller are owned by the
 * caller and released with the matching *_clear / *_list_free. Functions return 0 on success or a
 * negative store_status_t; details of an unexpected failure are logged by the store. */
#ifndef STREAMD_STORE_STORE_H
#define STREAMD_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_ID_SIZE 37          /* UUID string + NUL */
#define STORE_STREAM_KEY_SIZE 20  /* "xxxx-xxxx-xxxx-xxxx" + NUL */
#define STORE_PLAYBACK_ID_SIZE 17 /* 16 base36 chars + NUL */
#define STORE_HASH_SIZE 65        /* SHA-256 hex + NUL */
#define STORE_NODE_ID_SIZE 64     /* a node id: [A-Za-z0-9._-], at most 63 bytes, + NUL */

typedef enum {
    STORE_OK = 0,
    STORE_ERR = -1,         /* backend failure (I/O, corrupt database, out of memory) */
    STORE_NOT_FOUND = -2,   /* no such row (or not visible in the given scope) */
    STORE_CONFLICT = -3,    /* a unique value already exists */
    STORE_INVALID = -4,     /* the request names an unknown field or an impossible value */
    STORE_UNAVAILABLE = -5, /* the database cannot be reached now (down, restarting): retry */
    STORE_FULL = -6,        /* the database's disk is full: nothing written; retry once freed */
} store_status_t;

typedef struct store store_t;

typedef struct store_user {
    char id[STORE_ID_SIZE];
    char project_id[STORE_ID_SIZE]; /* the user's default (and, for now, only) project */
    char *name;                     /* owned */
    char *email;                    /* owned; NULL when none */
    bool admin;
    bool suspended;
    int64_t created_at_ms; /* ms since epoch */
} store_user_t;

typedef struct store_api_token {
    char id[STORE_ID_SIZE]; /* public id used to list and revoke; not the secret */
    char user_id[STORE_ID_SIZE];
    char project_id[STORE_ID_SIZE];
    char *name;                     /* owned */
    char key_hash[STORE_HASH_SIZE]; /* SHA-256 hex of the secret key */
    int64_t created_at_ms;          /* ms since epoch */
    int64_t last_used_ms;           /* ms since epoch; 0 = never */
} store_api_token_t;

/* Live statistics shared by streams (running totals) and sessions (one broadcast). */
typedef struct store_counters {
    int64_t source_segments;
    int64_t transcoded_segments;
    double source_segments_duration_s;     /* media seconds */
    double transcoded_segments_duration_s; /* media seconds */
    int64_t source_bytes;
    int64_t transcoded_bytes;
    double ingest_rate_bps;   /* bytes per second */
    double outgoing_rate_bps; /* bytes per second */
} store_counters_t;

/* JSON-valued fields are kept as compact JSON text, validated by the API layer before they are
 * stored; NULL means absent. */
typedef struct store_stream {
    char id[STORE_ID_SIZE];
    char user_id[STORE_ID_SIZE];
    char project_id[STORE_ID_SIZE];
    char stream_key[STORE_STREAM_KEY_SIZE];
    char playback_id[STORE_PLAYBACK_ID_SIZE];
    char *name;                    /* owned */
    char *created_by_token_name;   /* owned; NULL when none */
    int64_t created_at_ms;         /* ms since epoch */
    int64_t last_seen_ms;          /* ms since epoch; 0 = never */
    int64_t last_terminated_at_ms; /* ms since epoch; 0 = never (JSON null) */
    bool is_active;
    bool record;
    bool suspended;
    bool deleted;
    int is_healthy;    /* -1 = null (unknown), 0 = false, 1 = true */
    char *issues_json; /* owned JSON array of strings; NULL = null */
    store_counters_t counters;
    char *profiles_json;        /* owned JSON array of ffmpeg-profile */
    char *user_tags_json;       /* owned JSON object */
    char *creator_id_json;      /* owned JSON object {type, value} */
    char *pull_json;            /* owned JSON object */
    char *playback_policy_json; /* owned JSON object or "null" */
    char *recording_spec_json;  /* owned JSON object */
    char *multistream_json;     /* owned JSON object */
} store_stream_t;

typedef enum {
    STORE_RECORDING_NONE_SET = 0, /* not recorded: the field is absent */
    STORE_RECORDING_WAITING,
    STORE_RECORDING_READY,
    STORE_RECORDING_FAILED,
    STORE_RECORDING_DELETED,
    STORE_RECORDING_NONE, /* recorded stream, but nothing was recorded */
} store_recording_status_t;

typedef struct store_session {
    char id[STORE_ID_SIZE];
    char parent_id[STORE_ID_SIZE]; /* the stream this broadcast belongs to */
    char user_id[STORE_ID_SIZE];
    char project_id[STORE_ID_SIZE];
    char playback_id[STORE_PLAYBACK_ID_SIZE];
    char *name;            /* owned; the parent stream's name */
    int64_t created_at_ms; /* ms since epoch */
    int64_t last_seen_ms;  /* ms since epoch; 0 = never */
    int64_t ended_at_ms;   /* ms since epoch when the last broadcast ended; 0 = live or never */
    bool is_active;        /* a publisher is connected right now */
    bool record;
    bool deleted;
    int is_healthy;    /* -1 = null, 0 = false, 1 = true */
    char *issues_json; /* owned JSON array of strings; NULL = null */
    store_recording_status_t recording_status;
    store_counters_t counters;
    char *profiles_json;              /* owned JSON array, copied from the stream */
    char *recording_spec_json;        /* owned JSON object, copied from the stream; NULL = absent */
    char *health_json;                /* owned health document (conditions, metrics); NULL = none */
    char node_id[STORE_NODE_ID_SIZE]; /* the node that owns its pipeline; "" = none recorded */
} store_session_t;

/* A streamd node sharing the database: its public URLs and its heartbeat. */
typedef struct store_node {
    char id[STORE_NODE_ID_SIZE];
    char *http_url;          /* owned; base of its API and playback URLs, no trailing slash */
    char *rtmp_url;          /* owned; where encoders publish to it */
    int64_t started_at_ms;   /* ms since epoch */
    int64_t heartbeat_at_ms; /* ms since epoch: last sign of life */
    bool down;               /* another node took over its sessions (until it beats again) */
} store_node_t;

/* A key that signs playback JWTs (gated playback, playbackPolicy type "jwt"). */
typedef struct store_signing_key {
    char id[STORE_ID_SIZE];
    char user_id[STORE_ID_SIZE];
    char project_id[STORE_ID_SIZE];
    char *name;            /* owned */
    char *public_key;      /* owned; base64 of the PEM, as the API shows it and a JWT's "pub" */
    bool disabled;         /* a disabled key signs nothing valid */
    int64_t created_at_ms; /* ms since epoch */
    int64_t last_seen_ms;  /* ms since epoch; 0 = never */
} store_signing_key_t;

/* Query over streams or sessions. Field names are the API's (e.g. "sourceSegments",
 * "user.email"); the API layer checks them against its allowed list, the store (store_query.c) maps
 * them to columns and answers STORE_INVALID for a name it does not know. */
typedef enum {
    STORE_OP_EQ,       /* exact match (strings, numbers, booleans) */
    STORE_OP_CONTAINS, /* case-insensitive substring (strings) */
    STORE_OP_GT,
    STORE_OP_GTE,
    STORE_OP_LT,
    STORE_OP_LTE,
} store_op_t;

typedef enum { STORE_VALUE_STRING, STORE_VALUE_NUMBER, STORE_VALUE_BOOL } store_value_kind_t;

typedef struct store_filter {
    const char *field; /* API field name; borrowed */
    store_op_t op;
    store_value_kind_t kind;
    const char *string_value; /* borrowed; when kind is STRING */
    double number_value;      /* when kind is NUMBER */
    bool bool_value;          /* when kind is BOOL */
} store_filter_t;

typedef struct store_order {
    const char *field; /* API field name; borrowed */
    bool descending;
} store_order_t;

typedef struct store_query {
    const char *user_id;    /* only this user's rows; NULL = every user (admin) */
    const char *project_id; /* only this project's rows; NULL = any */
    const char *parent_id;  /* sessions: only this stream's; NULL = any */
    bool include_deleted;
    bool active_only; /* only rows with is_active */
    int record;       /* -1 = any, 0 = only record=false, 1 = only record=true */
    bool only_used;   /* sessions: only those with last_seen > 0 and media duration > 0 */
    const store_filter_t *filters;
    size_t filter_count;
    const store_order_t *order; /* empty = lastSeen DESC, createdAt DESC */
    size_t order_count;
    int64_t limit;  /* rows at most, > 0 */
    int64_t offset; /* rows to skip */
} store_query_t;

/* Opens the store named by url: a SQLite file path or sqlite: URL (created with its schema if
 * missing), or a postgres:// / postgresql:// URL (libpq's form) of an existing database. The
 * schema history is applied in both. Returns NULL and writes a message into err on failure. */
store_t *store_open(const char *url, char *err, size_t err_size);

/* The database the store uses, for logs: the SQLite file, or PostgreSQL's user, host, port and
 * database, never a password. */
void store_describe(store_t *store, char *out, size_t size);

/* Closes the store; store_close(NULL) is a no-op. No call may be in flight. */
void store_close(store_t *store);

/* Releases the strings a record owns and zeroes it; NULL is a no-op. */
void store_user_clear(store_user_t *user);
void store_api_token_clear(store_api_token_t *token);
void store_stream_clear(store_stream_t *stream);
void store_session_clear(store_session_t *session);
void store_node_clear(store_node_t *node);
void store_signing_key_clear(store_signing_key_t *key);

/* Releases an array returned by a list call and its records; NULL is a no-op. */
void store_api_token_list_free(store_api_token_t *tokens, size_t count);
void store_stream_list_free(store_stream_t *streams, size_t count);
void store_session_list_free(store_session_t *sessions, size_t count);
void store_node_list_free(store_node_t *nodes, size_t count);
void store_signing_key_list_free(store_signing_key_t *keys, size_t count);

/* Users. store_user_create fills in id, project_id and created_at_ms of *user (name, email,
 * admin, suspended are read from it) and inserts it. */
int store_user_create(store_t *store, store_user_t *user);
int store_user_get(store_t *store, const char *user_id, store_user_t *out);
int store_user_count(store_t *store, int64_t *out_count);

/* API tokens. store_api_token_create fills id and created_at_ms of *token and inserts it
 * (user_id, project_id, name, key_hash are read from it). */
int store_api_token_create(store_t *store, store_api_token_t *token);
/* Finds the token whose key_hash equals key_hash (STORE_NOT_FOUND when none). */
int store_api_token_find(store_t *store, const char *key_hash, store_api_token_t *out);
/* Records a use of the token (last_used_ms). */
int store_api_token_touch(store_t *store, const char *token_id, int64_t now_ms);
/* The user's tokens, oldest first; the caller frees *out with store_api_token_list_free. */
int store_api_token_list(store_t *store, const char *user_id, store_api_token_t **out,
                         size_t *out_count);
/* Deletes the user's token; STORE_NOT_FOUND when it is not the user's. */
int store_api_token_delete(store_t *store, const char *user_id, const char *token_id);

/* Signing keys. store_signing_key_create fills id and created_at_ms of *key and inserts it
 * (user_id, project_id, name, public_key, disabled are read from it); STORE_CONFLICT when the
 * public key exists. Get, update and delete answer STORE_NOT_FOUND for a key that is not
 * user_id's; update writes name and disabled. */
int store_signing_key_create(store_t *store, store_signing_key_t *key);
int store_signing_key_get(store_t *store, const char *user_id, const char *key_id,
                          store_signing_key_t *out);
/* The key whose public key is public_key, whoever owns it (verification checks the owner). */
int store_signing_key_find(store_t *store, const char *public_key, store_signing_key_t *out);
/* The user's keys, oldest first; the caller frees *out with store_signing_key_list_free. */
int store_signing_key_list(store_t *store, const char *user_id, store_signing_key_t **out,
                           size_t *out_count);
int store_signing_key_update(store_t *store, const store_signing_key_t *key);
int store_signing_key_delete(store_t *store, const char *user_id, const char *key_id);

/* Streams. Insert takes every field as given (the API layer fills ids, keys and defaults);
 * STORE_CONFLICT when id, stream_key or playback_id is taken. Update writes the settings of the
 * row with that id (name, record, suspended, deleted, last_terminated_at and the JSON fields);
 * the live fields are written only by store_stream_update_live. Getters return deleted rows
 * too: the caller decides visibility. */
int store_stream_insert(store_t *store, const store_stream_t *stream);
int store_stream_update(store_t *store, const store_stream_t *stream);
int store_stream_get(store_t *store, const char *id, store_stream_t *out);
int store_stream_get_by_key(store_t *store, const char *stream_key, store_stream_t *out);
int store_stream_get_by_playback_id(store_t *store, const char *playback_id, store_stream_t *out);
/* Rows matching q; *out_total (when not NULL) gets the count of all matching rows, ignoring
 * limit and offset. The caller frees *out with store_stream_list_free. */
int store_stream_list(store_t *store, const store_query_t *q, store_stream_t **out,
                      size_t *out_count, int64_t *out_total);

/* The live state of a stream, written by the media plane while it broadcasts. */
typedef struct store_stream_live {
    bool totals_only;         /* only add to the totals and last_seen: the live fields stay */
    bool is_active;           /* a flip raises stream.started / stream.idle */
    const char *session_id;   /* borrowed; the broadcast's session, named by those events */
    int64_t last_seen_ms;     /* ms since epoch; the stored value never goes back */
    int is_healthy;           /* -1 = null, 0 = false, 1 = true */
    const char *issues_json;  /* borrowed JSON array text; NULL = null */
    double ingest_rate_bps;   /* bytes per second */
    double outgoing_rate_bps; /* bytes per second */
    store_counters_t added;   /* added to the stream's running totals (its rates are ignored) */
} store_stream_live_t;

/* What the API may have changed about a live stream, on any node: its broadcast must end when
 * the stream is suspended or deleted, or was terminated after the publish began. */
typedef struct store_stream_controls {
    bool suspended;
    bool deleted;
    int64_t last_terminated_at_ms; /* ms since epoch; 0 = never */
} store_stream_controls_t;

/* Writes the live fields of the stream and adds to its totals in one statement, so concurrent
 * writers never lose an increment; *controls (may be NULL) gets the stream's controls as that
 * statement left them. */
int store_stream_update_live(store_t *store, const char *stream_id, const store_stream_live_t *live,
                             store_stream_controls_t *controls);

/* Sessions: same contract as streams (update writes every mutable field). An insert of an active
 * session makes its stream active (stream.started) and, recorded, raises recording.started; an
 * update whose recording status leaves "waiting" raises recording.ready or recording.failed
 * (after recording.waiting, when store_session_final did not raise it). */
int store_session_insert(store_t *store, const store_session_t *session);
int store_session_update(store_t *store, const store_session_t *session);
int store_session_get(store_t *store, const char *id, store_session_t *out);
int store_session_list(store_t *store, const store_query_t *q, store_session_t **out,
                       size_t *out_count, int64_t *out_total);

/* The session is over for good (its reconnect window passed): a recorded one with media raises
 * recording.waiting, once. Reads id and parent_id. */
int store_session_final(store_t *store, const store_session_t *session);

/* The stream's most recent session (STORE_NOT_FOUND when it never broadcast). */
int store_session_get_latest(store_t *store, const char *stream_id, store_session_t *out);

/* Ends the broadcasts node_id left behind (it stopped uncleanly, or died): its sessions still
 * active are closed at their last_seen with rates at 0, and the streams it held go inactive and
 * free. include_unowned adds the rows no node holds (written before nodes existed): for a node's
 * own start-up only. *out_closed (may be NULL) gets the session count. */
int store_close_open_sessions(store_t *store, const char *node_id, bool include_unowned,
                              int64_t *out_closed);

/* One publisher per stream across every node. node_id takes the stream's publish unless
 * another node holds it and is alive (not down, heartbeat at or after alive_since_ms):
 * STORE_CONFLICT then. Holding it already is fine. */
int store_stream_claim(store_t *store, const char *stream_id, const char *node_id,
                       int64_t alive_since_ms);
/* node_id lets the stream's publish go (nothing when another node holds it). */
int store_stream_release(store_t *store, const char *stream_id, const char *node_id);

/* A reconnect on node_id continues session_id, which ended on another node no earlier than
 * ended_since_ms: the session is active again and owned by node_id. STORE_NOT_FOUND when it is
 * not so (live, ended too long ago, or taken by someone else first). */
int store_session_adopt(store_t *store, const char *session_id, const char *node_id,
                        int64_t ended_since_ms);

/* Nodes. store_node_heartbeat inserts or updates the node's row (every field of *node is
 * written; down becomes false). */
int store_node_heartbeat(store_t *store, const store_node_t *node);
int store_node_get(store_t *store, const char *node_id, store_node_t *out);
/* The node of the latest session of playback_id, or of session_id (STORE_NOT_FOUND when the
 * session has no node, or its node has no row). */
int store_node_of_playback(store_t *store, const char *playback_id, store_node_t *out);
int store_node_of_session(store_t *store, const char *session_id, store_node_t *out);
/* Nodes alive (not down, heartbeat at or after since_ms), by id; the caller frees *out with
 * store_node_list_free. */
int store_node_list_alive(store_t *store, int64_t since_ms, store_node_t **out, size_t *out_count);
/* Nodes not down whose heartbeat is older than before_ms, by id. */
int store_node_list_stale(store_t *store, int64_t before_ms, store_node_t **out, size_t *out_count);
/* Marks node_id down if it is still stale (heartbeat older than before_ms) and not down: exactly
 * one caller gets STORE_OK and takes over its sessions; the others STORE_NOT_FOUND. */
int store_node_mark_down(store_t *store, const char *node_id, int64_t before_ms);

/* Called when an API key or a user changed, here or on any node sharing the database, and when
 * the store cannot tell whether it missed such a change (its notification channel reconnected):
 * whatever was cached about keys and users must be dropped. Runs on the changing thread or on
 * the store's listener thread. */
typedef void (*store_auth_changed_t)(void *opaque);

/* Sets the one watcher of key and user changes (NULL fn: none); before serving, from one
 * thread. On PostgreSQL this listens (LISTEN/NOTIFY) on a connection of its own. Returns a
 * store_status_t. */
int store_watch_auth(store_t *store, store_auth_changed_t fn, void *opaque);

/* The schema version the store is at (for tests and logs). */
int store_schema_version(store_t *store, int *out_version);

#endif
