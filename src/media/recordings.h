/* Recordings of finished sessions: the final status of a session's recording, finalization after
 * an unclean stop, and retention. Runs on the thread that calls it (start-up, housekeeping);
 * every function blocks on disk and media work. */
#ifndef STREAMD_MEDIA_RECORDINGS_H
#define STREAMD_MEDIA_RECORDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "media/recorder.h"
#include "store/store.h"

/* Writes data_dir/rec/{session_id} into out; -1 when it does not fit. */
int recordings_dir(const char *data_dir, const char *session_id, char *out, size_t size);

/* Sets session's recording_status from the result of finalizing its recording (rc and reason
 * from recorder_finish or recorder_recover): ready, none when nothing was ever recorded, or
 * failed with the reason as the session's issue. Does not write the store. */
void recordings_set_result(store_session_t *session, int rc, const char *reason);

/* At start: finalizes from disk every recording still waiting (its process was stopped
 * uncleanly, or stopped inside a reconnect window), so no session waits forever; the session's
 * source counters become those of the segments on disk. Returns how many were finalized. */
int recordings_recover_all(store_t *store, const char *data_dir);

/* Deletes the recordings under data_dir of sessions last seen more than max_age_s seconds before
 * now_ms (status `deleted`); does nothing when the age is 0. Returns how many were deleted. */
int recordings_expire(store_t *store, const char *data_dir, int64_t max_age_s, int64_t now_ms);

#endif
