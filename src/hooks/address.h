/* Where a webhook may be delivered: the address connected to. Loopback,
 * link-local, private (RFC 1918, unique local), carrier-grade NAT, unspecified, multicast and
 * reserved addresses are refused unless private ones are allowed, so a user cannot make the
 * server probe its own network. The check runs on the very address a connection is about to be
 * made to (hooks.c), so a name resolving elsewhere later (DNS rebinding) changes nothing. Pure
 * functions; any thread. */
#ifndef STREAMD_HOOKS_ADDRESS_H
#define STREAMD_HOOKS_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* True when addr (AF_INET or AF_INET6, len bytes) is a public unicast address. IPv4-mapped and
 * NAT64 IPv6 addresses are judged by the IPv4 address they carry. */
bool address_is_public(const struct sockaddr *addr, socklen_t len);

/* Writes addr's numeric form into out (at least 64 bytes); "?" when it cannot. */
void address_text(const struct sockaddr *addr, socklen_t len, char *out, size_t size);

#endif
