/* URL checks shared by the planes that take URLs from users. Pure functions; any thread. */
#ifndef STREAMD_UTIL_URL_H
#define STREAMD_UTIL_URL_H

#include <stdbool.h>

/* True when url is an absolute http:// or https:// URL with a host, as libcurl parses it (a
 * pattern alone lets "http://" through). */
bool url_is_http(const char *url);

#endif
