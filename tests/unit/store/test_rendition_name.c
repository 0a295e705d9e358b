/* Unit tests for store/rendition_name: the profile names usable as rendition directories. */
#include "store/rendition_name.h"

#include <criterion/criterion.h>
#include <string.h>

static int check(const char *name)
{
    return rendition_name_check(name, strlen(name));
}

Test(rendition_name, plain_file_names_pass)
{
    const char *good[] = {"720p0", "a", "A_b-1", "x.y", "x..", "sources", "Source", "_", "-"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert_eq(check(good[i]), RENDITION_NAME_OK, "%s", good[i]);
    char longest[RENDITION_NAME_MAX];
    memset(longest, 'n', RENDITION_NAME_MAX_LEN);
    longest[RENDITION_NAME_MAX_LEN] = '\0';
    cr_assert_eq(check(longest), RENDITION_NAME_OK);
}

Test(rendition_name, what_is_not_a_directory_name_fails)
{
    cr_assert_eq(check(""), RENDITION_NAME_ERR_EMPTY);
    const char *bad[] = {".",   "..",   ".hidden",  "../x", "x/y",
                         "a b", "a\\b", "\xc3\xa9", "a\tb", "?"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(check(bad[i]), RENDITION_NAME_ERR_PATTERN, "%s", bad[i]);
    cr_assert_eq(rendition_name_check("a\0b", 3), RENDITION_NAME_ERR_PATTERN, "a NUL inside");
    char too_long[RENDITION_NAME_MAX + 1];
    memset(too_long, 'n', RENDITION_NAME_MAX);
    too_long[RENDITION_NAME_MAX] = '\0';
    cr_assert_eq(check(too_long), RENDITION_NAME_ERR_LENGTH);
    cr_assert_eq(check("source"), RENDITION_NAME_ERR_RESERVED);
    cr_assert_eq(rendition_name_check("sources", 6), RENDITION_NAME_ERR_RESERVED, "len bounds it");
}

Test(rendition_name, messages)
{
    cr_assert_str_eq(rendition_name_strerror(RENDITION_NAME_OK), "");
    cr_assert_str_eq(rendition_name_strerror(RENDITION_NAME_ERR_PATTERN),
                     "must be 1 to 63 characters of A-Z a-z 0-9 _ - . not starting with '.'");
    cr_assert_str_eq(rendition_name_strerror(RENDITION_NAME_ERR_EMPTY),
                     rendition_name_strerror(RENDITION_NAME_ERR_LENGTH));
    cr_assert_str_eq(rendition_name_strerror(RENDITION_NAME_ERR_RESERVED),
                     "must not be \"source\" (reserved for the source rendition)");
}
