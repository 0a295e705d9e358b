/* Error messages into a caller's (err, err_size) buffer. */
#include "util/errbuf.h"

#include <stdio.h>

int errbuf_vset(char *err, size_t err_size, int code, const char *fmt, va_list args)
{
    if (err && err_size > 0 && fmt)
        vsnprintf(err, err_size, fmt, args);
    return code;
}

int errbuf_set(char *err, size_t err_size, int code, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    errbuf_vset(err, err_size, code, fmt, args);
    va_end(args);
    return code;
}
