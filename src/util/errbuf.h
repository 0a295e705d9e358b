/* Error messages into a caller's buffer: the one formatter behind every "(char *err, size_t
 * err_size)" pair. Stateless; any thread may call it. The caller owns the buffer. */
#ifndef STREAMD_UTIL_ERRBUF_H
#define STREAMD_UTIL_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>

/* Formats fmt into err (at most err_size bytes with the NUL; longer messages are cut) and returns
 * code, so that `return errbuf_set(err, err_size, CODE, "...")` reports and fails in one line.
 * err NULL or err_size 0 writes nothing. */
int errbuf_set(char *err, size_t err_size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* errbuf_set with a va_list, for modules that wrap it in a formatter of their own. */
int errbuf_vset(char *err, size_t err_size, int code, const char *fmt, va_list args)
    __attribute__((format(printf, 4, 0)));

#endif
