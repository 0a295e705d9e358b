/* Writing to file descriptors: the one loop that writes a whole buffer through short writes and
 * signals. Stateless. */
#ifndef STREAMD_UTIL_FD_IO_H
#define STREAMD_UTIL_FD_IO_H

#include <stddef.h>

/* Writes all size bytes of data to fd, retrying after EINTR and short writes. Returns 0, or the
 * errno value of the failed write (EIO when write() wrote nothing without an error). */
int fd_write_all(int fd, const void *data, size_t size);

#endif
