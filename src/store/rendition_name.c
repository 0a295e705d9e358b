/* Rendition names: one rule for the API and the ladder (see rendition_name.h). */
#include "store/rendition_name.h"

#include <stdbool.h>
#include <string.h>

#define TEXT(x) #x
#define NUMBER_TEXT(x) TEXT(x)

static bool name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

int rendition_name_check(const char *name, size_t len)
{
    if (len == 0)
        return RENDITION_NAME_ERR_EMPTY;
    /* A leading '.' rules out "." and "..", which would climb out of the session directory, and
     * hidden directories. */
    if (name[0] == '.')
        return RENDITION_NAME_ERR_PATTERN;
    for (size_t i = 0; i < len; i++) {
        if (!name_char_ok(name[i]))
            return RENDITION_NAME_ERR_PATTERN;
    }
    if (len > RENDITION_NAME_MAX_LEN)
        return RENDITION_NAME_ERR_LENGTH;
    if (len == strlen(RENDITION_NAME_SOURCE) && memcmp(name, RENDITION_NAME_SOURCE, len) == 0)
        return RENDITION_NAME_ERR_RESERVED;
    return RENDITION_NAME_OK;
}

const char *rendition_name_strerror(int code)
{
    static const char rule[] = "must be 1 to " NUMBER_TEXT(
        RENDITION_NAME_MAX_LEN) " characters of A-Z a-z 0-9 _ - . not starting with '.'";
    switch (code) {
    case RENDITION_NAME_OK:
        return "";
    case RENDITION_NAME_ERR_RESERVED:
        return "must not be \"" RENDITION_NAME_SOURCE "\" (reserved for the source rendition)";
    default:
        return rule;
    }
}
