/* Unit tests for hooks/address: which addresses a webhook may be delivered to. */
#include "hooks/address.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

static bool v4(const char *text)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    cr_assert_eq(inet_pton(AF_INET, text, &a.sin_addr), 1, "%s", text);
    return address_is_public((struct sockaddr *)&a, sizeof a);
}

static bool v6(const char *text)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    cr_assert_eq(inet_pton(AF_INET6, text, &a.sin6_addr), 1, "%s", text);
    return address_is_public((struct sockaddr *)&a, sizeof a);
}

Test(address, private_ipv4_ranges_are_refused)
{
    const char *refused[] = {"127.0.0.1",    "127.255.0.9", "10.1.2.3",        "172.16.0.1",
                             "172.31.255.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",
                             "100.64.0.1",   "224.0.0.1",   "255.255.255.255", "192.0.2.1",
                             "198.18.0.1",   "240.0.0.1"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_assert_not(v4(refused[i]), "%s", refused[i]);
    const char *allowed[] = {"8.8.8.8",     "1.1.1.1",       "172.32.0.1", "172.15.255.255",
                             "100.128.0.1", "93.184.216.34", "11.0.0.1"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        cr_assert(v4(allowed[i]), "%s", allowed[i]);
}

Test(address, private_ipv6_ranges_are_refused)
{
    const char *refused[] = {"::1",
                             "::",
                             "fe80::1",
                             "fc00::1",
                             "fd12:3456::1",
                             "ff02::1",
                             "::ffff:127.0.0.1",
                             "::ffff:10.0.0.1",
                             "64:ff9b::a00:1",
                             "2001:db8::1",
                             "::127.0.0.1",
                             "fec0::1"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_assert_not(v6(refused[i]), "%s", refused[i]);
    const char *allowed[] = {"2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        cr_assert(v6(allowed[i]), "%s", allowed[i]);
}

Test(address, malformed_input_is_refused)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "8.8.8.8", &a.sin_addr);
    cr_assert_not(address_is_public(NULL, 0));
    cr_assert_not(address_is_public((struct sockaddr *)&a, 4), "short length");
    struct sockaddr unix_like = {.sa_family = AF_UNIX};
    cr_assert_not(address_is_public(&unix_like, sizeof unix_like));
    char text[64];
    address_text((struct sockaddr *)&a, sizeof a, text, sizeof text);
    cr_assert_str_eq(text, "8.8.8.8");
    address_text(NULL, 0, text, sizeof text);
    cr_assert_str_eq(text, "?");
}
