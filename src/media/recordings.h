/* Recordings of finished sessions: the final status of a session's recording, finalization after
 * an unclean stop, and retention. Runs on the thread that calls it (start-up, housekeeping);
 * every function blocks on disk and media work. */
#ifndef STREAMD_MEDIA_RECORDINGS_H
#define STREAMD_MEDIA_RECORDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/recorder.h"
#include "store/store.h"

/* Writes root/{session_id} (root: the recordings directory) into out; -1 when it does not fit. */
int recordings_dir(const char *root, const char *session_id, char *out, size_t size);

/* Sets session's recording_status from the result of finalizing its recording (rc and reason
 * from recorder_finish or recorder_recover): ready, none when nothing was ever recorded, or
 * failed with the reason as the session's issue. Does not write the store. */
void recordings_set_result(store_session_t *session, int rc, const char *reason);

/* Finalizes from disk the recordings of node_id still waiting (its process was stopped uncleanly,
 * or inside a reconnect window), so no session waits forever; the session's source counters
 * become those of the segments on disk. own: node_id is this node at its start, and the
 * recordings no node owns are its too; otherwise node_id is a dead node, and only the
 * recordings whose directory is under root here (a shared directory) are finalized, the others
 * wait for their node. Returns how many were finalized. */
int recordings_recover(store_t *store, const char *root, const char *node_id, bool own);

/* Deletes the recordings under root of sessions last seen more than max_age_s seconds before
 * now_ms (status `deleted`); does nothing when the age is 0. Returns how many were deleted. */
int recordings_expire(store_t *store, const char *root, int64_t max_age_s, int64_t now_ms);

#endif
