/* Unit tests for the path checks of media file serving. */
#include <criterion/criterion.h>

#include "web/files.h"

Test(files, safe_paths)
{
    cr_assert(web_path_is_safe("index.m3u8", 2));
    cr_assert(web_path_is_safe("source/index.m3u8", 2));
    cr_assert(web_path_is_safe("source/00012.ts", 2));
    cr_assert(web_path_is_safe("720p0_x-y/00012.ts", 2));
}

Test(files, hostile_paths_are_refused)
{
    const char *bad[] = {
        "",          "../etc/passwd", "source/../../x", "..",          ".hidden",
        "source/.x", "a//b",          "/abs",           "a/b/",        "a\\b",
        "a b",       "a%2fb",         "a/b/c",          "source/\x01", "a?b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(web_path_is_safe(bad[i], 2), "accepted \"%s\"", bad[i]);
}
