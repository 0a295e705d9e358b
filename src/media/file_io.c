#include "media/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

static int file_descriptor(void *opaque)
{
    return (int)(intptr_t)opaque;
}

static int write_all(void *opaque, uint8_t *buf, int size)
{
    int fd = file_descriptor(opaque);
    int left = size;
    while (left > 0) {
        ssize_t n = write(fd, buf, (size_t)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return AVERROR(errno);
        buf += n;
        left -= (int)n;
    }
    return size;
}

static int64_t seek(void *opaque, int64_t offset, int whence)
{
    int fd = file_descriptor(opaque);
    if (whence == AVSEEK_SIZE) {
        off_t here = lseek(fd, 0, SEEK_CUR);
        off_t end = here < 0 ? -1 : lseek(fd, 0, SEEK_END);
        if (end < 0 || lseek(fd, here, SEEK_SET) < 0)
            return AVERROR(errno);
        return end;
    }
    off_t at = lseek(fd, (off_t)offset, whence & ~AVSEEK_FORCE);
    return at < 0 ? AVERROR(errno) : at;
}

int file_io_open(AVIOContext **pb, const char *path)
{
    *pb = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return AVERROR(errno);
    unsigned char *buffer = av_malloc(FILE_IO_BUFFER_SIZE);
    AVIOContext *ctx = buffer ? avio_alloc_context(buffer, FILE_IO_BUFFER_SIZE, 1,
                                                   (void *)(intptr_t)fd, NULL, write_all, seek)
                              : NULL;
    if (!ctx) {
        av_free(buffer);
        close(fd);
        return AVERROR(ENOMEM);
    }
    *pb = ctx;
    return 0;
}

int file_io_close(AVIOContext **pb)
{
    if (!pb || !*pb)
        return 0;
    AVIOContext *ctx = *pb;
    *pb = NULL;
    avio_flush(ctx);
    int ret = ctx->error < 0 ? ctx->error : 0;
    if (close(file_descriptor(ctx->opaque)) < 0 && ret == 0)
        ret = AVERROR(errno);
    av_freep(&ctx->buffer);
    avio_context_free(&ctx);
    return ret;
}
