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
