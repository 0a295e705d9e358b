/* Recovery of cut recordings: finalizes a recording directory a killed process left unfinished,
 * from what is on disk. Keeps no state: any thread may call it, but never on a directory a live
 * recorder is writing. Blocking (seconds for a long recording). */
#ifndef STREAMD_MEDIA_RECORDER_RECOVER_H
#define STREAMD_MEDIA_RECORDER_RECOVER_H

#include <stddef.h>

#include "media/recorder.h"

/* Finalizes a recording directory left by a killed process, from what is on disk: per rendition
 * directory, the segments listed in its playlist whose files exist, then the NNNNN.ts files after
 * the last listed one (all of them when the playlist is missing; a file whose size is not a whole
 * number of 188-byte TS packets, or that libavformat cannot read, was cut short and is left out;
 * durations are probed); *.tmp leftovers are deleted. Then writes the VOD playlists, output.mp4
 * and the master as recorder_finish does; an already final directory is rewritten the same.
 * Fills *out (may be NULL) with what the recording holds. Returns 0 when ready, or
 * RECORDER_ERR_IO / _MEDIA / _NOMEM / _INVALID with the reason in err. */
int recorder_recover(const char *dir, recorder_summary_t *out, char *err, size_t err_size);

#endif
