/* Gated playback: whether a media request (a live playback, or a recording) may be served, from
 * its stream's playbackPolicy. Public streams pass; "jwt" streams need a playback JWT (see
 * playback_jwt.h) naming the playback id, unexpired, signed by an enabled signing key of the
 * stream's owner; "webhook" streams are refused for now (never served to anyone unasked).
 *
 * A stream's policy is cached for PLAYBACK_GATE_POLICY_TTL_MS and a verified token for
 * PLAYBACK_GATE_TOKEN_TTL_MS (never past its exp), so a player's segment requests cost neither a
 * store read nor a signature check each; a policy change or a disabled key takes effect within
 * those times.
 *
 * Owns: its caches. store must outlive it. Thread-safe (HTTP workers). */
#ifndef STREAMD_WEB_PLAYBACK_GATE_H
#define STREAMD_WEB_PLAYBACK_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define PLAYBACK_GATE_POLICY_TTL_MS 2000
#define PLAYBACK_GATE_TOKEN_TTL_MS 10000

typedef struct playback_gate playback_gate_t;

/* What a media request asks for: a live playback (by playback id) or a recording (by session
 * id). */
typedef enum { WEB_AREA_LIVE, WEB_AREA_RECORDING } web_area_t;

typedef struct playback_gate_decision {
    int status;       /* 0: serve it; else the HTTP status to refuse with (401, 403, 503) */
    char reason[160]; /* why it was refused, for the reply and the log */
    int needs_token;  /* the stream is gated: playlists must pass the token on */
} playback_gate_decision_t;

/* NULL when out of memory. */
playback_gate_t *playback_gate_new(store_t *store);
void playback_gate_free(playback_gate_t *gate);

/* Decides a request for id in area carrying token (NULL or "" when none) at now_ms. Media that
 * belongs to no stream (an unknown id) passes: the file lookup answers 404. */
void playback_gate_check(playback_gate_t *gate, web_area_t area, const char *id, const char *token,
                         int64_t now_ms, playback_gate_decision_t *out);

#endif
