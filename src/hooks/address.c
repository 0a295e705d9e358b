/* Webhook address checks (address.h). */
#include "hooks/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* a in network order; true when its first bits equal net's over prefix bits. */
static bool in_v4(uint32_t a, uint32_t net, int prefix)
{
    uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
    return (a & mask) == (net & mask);
}

static bool v4_is_public(uint32_t a)
{
    static const struct {
        uint32_t net;
        int prefix;
    } blocked[] = {
        {0x00000000, 8},  /* "this" network, unspecified */
        {0x0a000000, 8},  /* private */
        {0x64400000, 10}, /* carrier-grade NAT */
        {0x7f000000, 8},  /* loopback */
        {0xa9fe0000, 16}, /* link-local (and cloud metadata) */
        {0xac100000, 12}, /* private */
        {0xc0000000, 24}, /* IETF protocol assignments */
        {0xc0000200, 24}, /* documentation */
        {0xc0a80000, 16}, /* private */
        {0xc6120000, 15}, /* benchmarking */
        {0xc6336400, 24}, /* documentation */
        {0xcb007100, 24}, /* documentation */
        {0xe0000000, 4},  /* multicast */
        {0xf0000000, 4},  /* reserved, broadcast */
    };
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++) {
        if (in_v4(a, blocked[i].net, blocked[i].prefix))
            return false;
    }
    return true;
}

static bool v6_is_public(const uint8_t *b)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0) {
        uint32_t a =
            ((uint32_t)b[12] << 24) | ((uint32_t)b[13] << 16) | ((uint32_t)b[14] << 8) | b[15];
        return v4_is_public(a);
    }
    static const uint8_t zero[15] = {0};
    if (memcmp(b, zero, 15) == 0) /* :: and ::1 */
        return false;
    if (memcmp(b, zero, 12) == 0) /* IPv4-compatible, deprecated */
        return false;
    if ((b[0] & 0xfe) == 0xfc) /* fc00::/7 unique local */
        return false;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
        return false;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* fec0::/10 site-local, deprecated */
        return false;
    if (b[0] == 0xff) /* multicast */
        return false;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) /* documentation */
        return false;
    return (b[0] & 0xe0) == 0x20; /* 2000::/3: the global unicast space */
}

bool address_is_public(const struct sockaddr *addr, socklen_t len)
{
    if (!addr)
        return false;
    if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        return v4_is_public(ntohl(in->sin_addr.s_addr));
    }
    if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        return v6_is_public(in6->sin6_addr.s6_addr);
    }
    return false;
}

void address_text(const struct sockaddr *addr, socklen_t len, char *out, size_t size)
{
    const void *raw = NULL;
    if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
        raw = &((const struct sockaddr_in *)addr)->sin_addr;
    else if (addr && addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
        raw = &((const struct sockaddr_in6 *)addr)->sin6_addr;
    if (!raw || !inet_ntop(addr->sa_family, raw, out, (socklen_t)size))
        snprintf(out, size, "?");
}
