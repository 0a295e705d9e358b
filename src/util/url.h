/* URL checks and escaping shared by the planes that take URLs from users. Pure functions; any
 * thread. */
#ifndef STREAMD_UTIL_URL_H
#define STREAMD_UTIL_URL_H

#include <stdbool.h>
#include <stddef.h>

/* True when url is an absolute http:// or https:// URL with a host, as libcurl parses it (a
 * pattern alone lets "http://" through). */
bool url_is_http(const char *url);

/* in percent-encoded for a query value (all but RFC 3986's unreserved characters) into out, NUL
 * terminated; returns the length, or -1 when it does not fit in size. */
int url_escape(const char *in, char *out, size_t size);

#endif
