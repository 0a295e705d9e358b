/* The part of the store every backend shares: record lifetimes (clear, list free), growable row
 * arrays, recording status names and record validation. No database code here. */
#include "store/store.h"

#include "store/store_internal.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

/* ---- Clearing -------------------------------------------------------------------------------- */

void store_user_clear(store_user_t *user)
{
    if (!user)
        return;
    free(user->name);
    free(user->email);
    memset(user, 0, sizeof *user);
}

void store_api_token_clear(store_api_token_t *token)
{
    if (!token)
        return;
    free(token->name);
    memset(token, 0, sizeof *token);
}

void store_stream_clear(store_stream_t *stream)
{
    if (!stream)
        return;
    free(stream->name);
    free(stream->created_by_token_name);
    free(stream->issues_json);
    free(stream->profiles_json);
    free(stream->user_tags_json);
    free(stream->creator_id_json);
    free(stream->pull_json);
    free(stream->playback_policy_json);
    free(stream->recording_spec_json);
    free(stream->multistream_json);
    memset(stream, 0, sizeof *stream);
}

void store_session_clear(store_session_t *session)
{
    if (!session)
        return;
    free(session->name);
    free(session->issues_json);
    free(session->profiles_json);
    free(session->recording_spec_json);
    free(session->health_json);
    memset(session, 0, sizeof *session);
}

/* ---- Record types and row arrays ------------------------------------------------------------- */

static void clear_user(void *record)
{
    store_user_clear(record);
}

static void clear_token(void *record)
{
    store_api_token_clear(record);
}

static void clear_stream(void *record)
{
    store_stream_clear(record);
}

static void clear_session(void *record)
{
    store_session_clear(record);
}

const store_record_type_t store_user_record = {sizeof(store_user_t), clear_user};
const store_record_type_t store_token_record = {sizeof(store_api_token_t), clear_token};
const store_record_type_t store_stream_record = {sizeof(store_stream_t), clear_stream};
const store_record_type_t store_session_record = {sizeof(store_session_t), clear_session};

void store_rows_free(store_rows_t *set, const store_record_type_t *type)
{
    for (size_t i = 0; i < set->count; i++)
        type->clear((char *)set->rows + i * type->size);
    free(set->rows);
    *set = (store_rows_t){0};
}

void *store_rows_add(store_rows_t *set, const store_record_type_t *type)
{
    if (set->count == set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 16;
        void *rows = realloc(set->rows, capacity * type->size);
        if (!rows)
            return NULL;
        set->rows = rows;
        set->capacity = capacity;
    }
    void *slot = (char *)set->rows + set->count * type->size;
    memset(slot, 0, type->size);
    set->count++;
    return slot;
}

void store_api_token_list_free(store_api_token_t *tokens, size_t count)
{
    store_rows_t set = {tokens, tokens ? count : 0, count};
    store_rows_free(&set, &store_token_record);
}

void store_stream_list_free(store_stream_t *streams, size_t count)
{
    store_rows_t set = {streams, streams ? count : 0, count};
    store_rows_free(&set, &store_stream_record);
}

void store_session_list_free(store_session_t *sessions, size_t count)
{
    store_rows_t set = {sessions, sessions ? count : 0, count};
    store_rows_free(&set, &store_session_record);
}

/* ---- Recording status ------------------------------------------------------------------------ */

static const char *const recording_status_names[] = {
    [STORE_RECORDING_NONE_SET] = NULL,     [STORE_RECORDING_WAITING] = "waiting",
    [STORE_RECORDING_READY] = "ready",     [STORE_RECORDING_FAILED] = "failed",
    [STORE_RECORDING_DELETED] = "deleted", [STORE_RECORDING_NONE] = "none",
};

#define RECORDING_STATUS_COUNT                                                                     \
    ((int)(sizeof recording_status_names / sizeof recording_status_names[0]))

const char *store_recording_status_name(store_recording_status_t status)
{
    if ((int)status < 0 || (int)status >= RECORDING_STATUS_COUNT)
        return NULL;
    return recording_status_names[status];
}

store_recording_status_t store_recording_status_parse(const char *text, const char *session_id)
{
    if (!text)
        return STORE_RECORDING_NONE_SET;
    for (int i = 1; i < RECORDING_STATUS_COUNT; i++) {
        if (strcmp(text, recording_status_names[i]) == 0)
            return (store_recording_status_t)i;
    }
    log_warn("store", "session %s: unknown recording_status \"%s\" read as not set", session_id,
             text);
    return STORE_RECORDING_NONE_SET;
}

/* ---- Validation and errors ------------------------------------------------------------------- */

bool store_session_valid(const store_session_t *session)
{
    return session->name && (int)session->recording_status >= 0 &&
           (int)session->recording_status < RECORDING_STATUS_COUNT;
}

int store_out_of_memory(const char *what)
{
    log_error("store", "%s: out of memory", what);
    return STORE_ERR;
}
