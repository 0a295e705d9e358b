#include "media/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "util/fd_io.h"

/* libavformat hands over what its buffer holds at every flush point (the mpegts muxer sets one
 * after each PES packet), so without a second buffer every packet would be its own write(). */
#define AVIO_BUFFER_SIZE 2048

typedef struct file_io {
    int fd;
    size_t len; /* bytes waiting in buf */
    uint8_t buf[FILE_IO_BUFFER_SIZE];
} file_io_t;

/* 0, or a negative AVERROR. */
static int write_fd(int fd, const uint8_t *data, size_t size)
{
    int error = fd_write_all(fd, data, size);
    return error ? AVERROR(error) : 0;
}

static int drain(file_io_t *f)
{
    int ret = write_fd(f->fd, f->buf, f->len);
    f->len = 0;
    return ret;
}

static int write_buffered(void *opaque, uint8_t *data, int size)
{
    file_io_t *f = opaque;
    size_t n = (size_t)size;
    if (f->len + n > sizeof f->buf) {
        int ret = drain(f);
        if (ret < 0)
            return ret;
    }
    if (n >= sizeof f->buf) {
        int ret = write_fd(f->fd, data, n);
        return ret < 0 ? ret : size;
    }
    memcpy(f->buf + f->len, data, n);
    f->len += n;
    return size;
}

static int64_t seek(void *opaque, int64_t offset, int whence)
{
    file_io_t *f = opaque;
    int ret = drain(f);
    if (ret < 0)
        return ret;
    if (whence == AVSEEK_SIZE) {
        struct stat st;
        return fstat(f->fd, &st) < 0 ? AVERROR(errno) : st.st_size;
    }
    off_t at = lseek(f->fd, (off_t)offset, whence & ~AVSEEK_FORCE);
    return at < 0 ? AVERROR(errno) : at;
}

int file_io_open(AVIOContext **pb, const char *path)
{
    *pb = NULL;
    file_io_t *f = malloc(sizeof *f);
    unsigned char *buffer = av_malloc(AVIO_BUFFER_SIZE);
    AVIOContext *ctx =
        f && buffer ? avio_alloc_context(buffer, AVIO_BUFFER_SIZE, 1, f, NULL, write_buffered, seek)
                    : NULL;
    if (!ctx) {
        av_free(buffer);
        free(f);
        return AVERROR(ENOMEM);
    }
    *f = (file_io_t){.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (f->fd < 0) {
        int ret = AVERROR(errno);
        av_freep(&ctx->buffer);
        avio_context_free(&ctx);
        free(f);
        return ret;
    }
    *pb = ctx;
    return 0;
}

int file_io_close(AVIOContext **pb)
{
    if (!pb || !*pb)
        return 0;
    AVIOContext *ctx = *pb;
    file_io_t *f = ctx->opaque;
    *pb = NULL;
    avio_flush(ctx);
    int ret = ctx->error < 0 ? ctx->error : drain(f);
    if (close(f->fd) < 0 && ret == 0)
        ret = AVERROR(errno);
    free(f);
    av_freep(&ctx->buffer);
    avio_context_free(&ctx);
    return ret;
}
