/* A session row for a stream, as the tests of several folders build one. Header-only. */
#ifndef STREAMD_TESTS_SESSION_TEST_UTIL_H
#define STREAMD_TESTS_SESSION_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/ids.h"

/* A session of stream with a fresh id: the stream's ids, playback id and name, health unknown,
 * everything else zero. The caller clears it. */
__attribute__((unused)) static void session_of_stream(store_session_t *s,
                                                      const store_stream_t *stream)
{
    memset(s, 0, sizeof *s);
    cr_assert_eq(ids_uuid_v4(s->id), 0);
    memcpy(s->parent_id, stream->id, STORE_ID_SIZE);
    memcpy(s->user_id, stream->user_id, STORE_ID_SIZE);
    memcpy(s->project_id, stream->project_id, STORE_ID_SIZE);
    memcpy(s->playback_id, stream->playback_id, STORE_PLAYBACK_ID_SIZE);
    s->name = strdup(stream->name ? stream->name : "");
    cr_assert_not_null(s->name);
    s->is_healthy = -1;
}

#endif
