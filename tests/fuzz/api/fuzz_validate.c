/* libFuzzer harness for api/validate: arbitrary bytes parsed as JSON, then run through every
 * validator. Any crash, leak or sanitizer report is a bug; the results themselves are not judged
 * beyond their shape. */
/* fuzz-sources: src/api/validate.c src/store/rendition_name.c */
#include "api/validate.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Every error entry must be a string of valid JSON; anything else is a bug in the reporter. */
static void check_errors(json_t *errors)
{
    if (!errors)
        return;
    if (!json_is_array(errors) || json_array_size(errors) == 0)
        abort();
    size_t i;
    json_t *entry;
    json_array_foreach(errors, i, entry)
    {
        json_t *error = json_loads(json_string_value(entry), 0, NULL);
        if (!json_is_object(error))
            abort();
        json_decref(error);
    }
    json_decref(errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!body)
        return 0;
    check_errors(validate_new_stream(body));
    check_errors(validate_stream_patch(body));
    check_errors(validate_profiles(body, "/profiles"));
    check_errors(validate_webhook(body, false));
    check_errors(validate_webhook(body, true));
    json_decref(body);
    return 0;
}
