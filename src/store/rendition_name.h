/* Rendition names: the one rule for the profile names that become rendition directories
 * (data/live/{playbackId}/{name}/) and playlist URIs. The API validates stream profiles with it
 * and the transcoding ladder parses them with it, so a name the API accepts never fails later.
 * Pure functions; any thread. */
#ifndef STREAMD_STORE_RENDITION_NAME_H
#define STREAMD_STORE_RENDITION_NAME_H

#include <stddef.h>

#define RENDITION_NAME_MAX_LEN 63                       /* bytes of a name, without the NUL */
#define RENDITION_NAME_MAX (RENDITION_NAME_MAX_LEN + 1) /* bytes of a name, with the NUL */
#define RENDITION_LADDER_MAX 16 /* profiles in one stream's ladder, each a rendition */
#define RENDITION_NAME_SOURCE                                                                      \
    "source" /* the source rendition's directory: no profile may take it */
/* The characters as a JSON-Schema pattern: a plain file name that is not hidden, "." or "..". */
#define RENDITION_NAME_PATTERN "^[A-Za-z0-9_-][A-Za-z0-9._-]*$"

/* Why a name is not usable: the first failing rule, in this order. */
enum {
    RENDITION_NAME_OK = 0,
    RENDITION_NAME_ERR_EMPTY = -1,    /* no characters */
    RENDITION_NAME_ERR_PATTERN = -2,  /* a byte outside RENDITION_NAME_PATTERN (a leading '.', a
                                         NUL, non-ASCII) */
    RENDITION_NAME_ERR_LENGTH = -3,   /* more than RENDITION_NAME_MAX_LEN bytes */
    RENDITION_NAME_ERR_RESERVED = -4, /* RENDITION_NAME_SOURCE */
};

/* Checks the len bytes at name (need not be NUL-terminated). Returns RENDITION_NAME_OK or a
 * RENDITION_NAME_ERR_* code. */
int rendition_name_check(const char *name, size_t len);

/* The rule a name broke, to follow "name " in a message ("must be 1 to 63 characters of ...");
 * "" for RENDITION_NAME_OK. Static text. */
const char *rendition_name_strerror(int code);

#endif
