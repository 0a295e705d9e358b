/* Gated playback: whether a media request (a live playback, or a recording) may be served, from
 * its stream's playbackPolicy. Public streams pass; "jwt" streams need a playback JWT (see
 * playback_jwt.h) naming the playback id, unexpired, signed by an enabled signing key of the
 * stream's owner; "webhook" streams need an access key that the policy's webhook (one of the
 * owner's) accepts: the gate posts {accessKey, context, timestamp} to it, signed as a delivery
 * is, and a 2xx lets the key in for the policy's refreshInterval (600 s by default).
 *
 * A stream's policy is cached for PLAYBACK_GATE_POLICY_TTL_MS and a verified token for
 * PLAYBACK_GATE_TOKEN_TTL_MS (never past its exp), so a player's segment requests cost neither a
 * store read nor a signature check each; a policy change or a disabled key takes effect within
 * those times. A refused access key is asked about again after PLAYBACK_GATE_TOKEN_TTL_MS.
 *
 * Owns: its caches. store must outlive it. Thread-safe (HTTP workers). */
#ifndef STREAMD_WEB_PLAYBACK_GATE_H
#define STREAMD_WEB_PLAYBACK_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/ids.h"

#define PLAYBACK_GATE_POLICY_TTL_MS 2000
#define PLAYBACK_GATE_TOKEN_TTL_MS 10000

typedef struct playback_gate playback_gate_t;

/* What a media request asks for: a live playback (by playback id) or a recording (by session
 * id). */
typedef enum { WEB_AREA_LIVE, WEB_AREA_RECORDING } web_area_t;

#define PLAYBACK_GATE_ACCESS_KEY_MAX 1024 /* bytes of an access key */

/* What a media request carries; each NULL when absent. */
typedef struct playback_credentials {
    const char *token;      /* a playback JWT (?jwt= or Livepeer-Jwt) */
    const char *access_key; /* for a webhook policy (?accessKey= or Livepeer-Access-Key) */
} playback_credentials_t;

typedef struct playback_gate_decision {
    int status;             /* 0: serve it (unless wait); else the HTTP status to refuse with */
    char reason[160];       /* why it was refused, for the reply and the log */
    const char *pass_name;  /* the stream is gated: playlists pass this query parameter on... */
    const char *pass_value; /* ...with this value (the request's own credential); else NULL */
    bool wait;              /* the policy's webhook must be asked first: playback_gate_await */
    struct {                /* what the question needs */
        char hash[IDS_SHA256_HEX_LEN + 1];
        char owner[STORE_ID_SIZE];
        char playback_id[STORE_PLAYBACK_ID_SIZE];
        char webhook_id[STORE_ID_SIZE];
        int64_t refresh_ms;
        char access_key[PLAYBACK_GATE_ACCESS_KEY_MAX + 1];
    } ask;
} playback_gate_decision_t;

/* Told the answer of an access check: the response's HTTP status, or 0 and why none came. */
typedef void (*playback_access_done_t)(void *opaque, long status, const char *error);
/* Posts body (taken) to url signed with secret, without blocking, and calls done(context, ...)
 * once, from any thread; returns -1 (done never called) when it cannot. */
typedef int (*playback_access_post_t)(void *poster, const char *url, const char *secret, char *body,
                                      playback_access_done_t done, void *context);

/* post (with poster) makes the webhook policy's calls; NULL refuses those streams (503). NULL
 * when out of memory. */
playback_gate_t *playback_gate_new(store_t *store, playback_access_post_t post, void *poster);
void playback_gate_free(playback_gate_t *gate);

/* Decides a request for id in area with credentials at now_ms. Media that belongs to no stream
 * (an unknown id) passes: the file lookup answers 404. When out->wait is set the request must
 * wait for playback_gate_await and then be decided again with resumed set, which never waits. */
void playback_gate_check(playback_gate_t *gate, web_area_t area, const char *id,
                         const playback_credentials_t *credentials, int64_t now_ms, bool resumed,
                         playback_gate_decision_t *out);

/* Asks the webhook the waiting decision names and calls wake(opaque) exactly once when the
 * answer is kept (from any thread, or from this one before returning when it cannot ask). */
void playback_gate_await(playback_gate_t *gate, const playback_gate_decision_t *decision,
                         void (*wake)(void *opaque), void *opaque);

#endif
