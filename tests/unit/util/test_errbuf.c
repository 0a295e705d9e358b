/* Unit tests for util/errbuf: messages into a caller's buffer, cut to fit, NULL-safe. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <string.h>

#include "util/errbuf.h"

Test(errbuf, formats_and_returns_the_code)
{
    char err[64] = "";
    cr_assert_eq(errbuf_set(err, sizeof err, -7, "cannot open %s: %d", "x.ts", 2), -7);
    cr_assert_str_eq(err, "cannot open x.ts: 2");
    cr_assert_eq(errbuf_set(err, sizeof err, 0, "%s", "plain"), 0);
    cr_assert_str_eq(err, "plain");
    cr_assert_eq(errbuf_set(err, sizeof err, 42, "no arguments"), 42);
    cr_assert_str_eq(err, "no arguments");
}

Test(errbuf, long_messages_are_cut_and_terminated)
{
    char err[8];
    memset(err, 'z', sizeof err);
    errbuf_set(err, sizeof err, -1, "%s", "a message longer than the buffer");
    cr_assert_str_eq(err, "a messa");
    char one[1] = {'z'};
    errbuf_set(one, sizeof one, -1, "anything");
    cr_assert_eq(one[0], '\0');
}

Test(errbuf, null_or_empty_buffer_writes_nothing)
{
    cr_assert_eq(errbuf_set(NULL, 100, -3, "ignored %d", 1), -3);
    char err[4] = "abc";
    cr_assert_eq(errbuf_set(err, 0, -4, "ignored"), -4);
    cr_assert_str_eq(err, "abc");
    cr_assert_eq(errbuf_set(err, sizeof err, -5, NULL), -5);
    cr_assert_str_eq(err, "abc");
}

static int wrapper(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int wrapper(char *err, size_t err_size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int code = errbuf_vset(err, err_size, -9, fmt, args);
    va_end(args);
    return code;
}

Test(errbuf, va_list_form_for_wrappers)
{
    char err[32] = "";
    cr_assert_eq(wrapper(err, sizeof err, "%d + %d", 1, 2), -9);
    cr_assert_str_eq(err, "1 + 2");
    cr_assert_eq(wrapper(NULL, 0, "%s", "x"), -9);
}
