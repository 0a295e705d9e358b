/* Unit tests for util/fd_io: whole writes through short writes, and the errors it reports. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fd_io.h"

enum { BIG = 1 << 20 }; /* more than a pipe holds: the writer sees short writes */

typedef struct drain {
    int fd;
    size_t got;
    int mismatches;
} drain_t;

static void *drain_pipe(void *arg)
{
    drain_t *d = arg;
    unsigned char buf[4096];
    ssize_t n;
    while ((n = read(d->fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            d->mismatches += buf[i] != (unsigned char)((d->got + (size_t)i) % 251);
        d->got += (size_t)n;
    }
    return NULL;
}

Test(fd_io, writes_everything_through_short_writes)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    unsigned char *data = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        data[i] = (unsigned char)(i % 251);
    drain_t d = {.fd = fds[0]};
    pthread_t reader;
    cr_assert_eq(pthread_create(&reader, NULL, drain_pipe, &d), 0);
    cr_assert_eq(fd_write_all(fds[1], data, BIG), 0);
    close(fds[1]);
    pthread_join(reader, NULL);
    close(fds[0]);
    cr_assert_eq(d.got, (size_t)BIG);
    cr_assert_eq(d.mismatches, 0);
    free(data);
}

Test(fd_io, reports_the_errno_of_a_failed_write)
{
    cr_assert_eq(fd_write_all(-1, "x", 1), EBADF);
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    cr_assert_geq(full, 0);
    cr_assert_eq(fd_write_all(full, "x", 1), ENOSPC);
    close(full);
    cr_assert_eq(fd_write_all(-1, "", 0), 0, "nothing to write is not an error");
}
