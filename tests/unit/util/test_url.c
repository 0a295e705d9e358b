/* Unit tests for util/url. */
#include "util/url.h"

#include <criterion/criterion.h>

Test(url, http_urls_with_a_host)
{
    cr_assert(url_is_http("http://example.com/hook"));
    cr_assert(url_is_http("https://127.0.0.1:8080/x?y=1"));
    cr_assert(url_is_http("http://[::1]:9/"));
    cr_assert_not(url_is_http("http://"));
    cr_assert_not(url_is_http("https:///path"));
    cr_assert_not(url_is_http("ftp://example.com/"));
    cr_assert_not(url_is_http("example.com"));
    cr_assert_not(url_is_http("http://exa mple.com/"));
    cr_assert_not(url_is_http(""));
    cr_assert_not(url_is_http(NULL));
}

Test(url, escape_keeps_unreserved_and_encodes_the_rest)
{
    char out[64];
    cr_assert_eq(url_escape("aZ09-._~", out, sizeof out), 8);
    cr_assert_str_eq(out, "aZ09-._~");
    cr_assert_eq(url_escape("a b&c=d/\xc3\xa9", out, sizeof out), 22);
    cr_assert_str_eq(out, "a%20b%26c%3Dd%2F%C3%A9");
    cr_assert_eq(url_escape("", out, sizeof out), 0);
    cr_assert_str_eq(out, "");
}

Test(url, escape_refuses_what_does_not_fit)
{
    char out[4];
    cr_assert_eq(url_escape("abc", out, sizeof out), 3);
    cr_assert_eq(url_escape("abcd", out, sizeof out), -1);
    cr_assert_eq(url_escape("a b", out, sizeof out), -1); /* "a%20b" is 5 */
    cr_assert_eq(url_escape("%", out, sizeof out), 3);
}
