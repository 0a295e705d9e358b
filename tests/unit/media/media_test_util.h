/* Helpers shared by the media unit tests: text and file checks, and ffprobe. Header-only so
 * each test binary stays one file; every function is static and may go unused. */
#ifndef STREAMD_TESTS_MEDIA_TEST_UTIL_H
#define STREAMD_TESTS_MEDIA_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

__attribute__((unused)) static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

__attribute__((unused)) static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

__attribute__((unused)) static uint64_t file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "missing %s", path);
    return (uint64_t)st.st_size;
}

__attribute__((unused)) static double probe_duration(const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 %s", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[128] = "";
    char *got = fgets(line, sizeof line, p);
    int status = pclose(p);
    cr_assert(got && WEXITSTATUS(status) == 0, "ffprobe failed on %s", path);
    return strtod(line, NULL);
}

#endif
