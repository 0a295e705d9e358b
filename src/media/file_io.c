#include "media/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "util/fd_io.h"

/* The file descriptor travels as the context's opaque pointer. */
static int fd_of(void *opaque)
{
    return (int)(intptr_t)opaque;
}

/* libavformat writes its buffer whole: see file_io_open. */
static int write_packet(void *opaque, uint8_t *data, int size)
{
    int error = fd_write_all(fd_of(opaque), data, (size_t)size);
    return error ? AVERROR(error) : size;
}

static int64_t seek(void *opaque, int64_t offset, int whence)
{
    if (whence == AVSEEK_SIZE) {
        struct stat st;
        return fstat(fd_of(opaque), &st) < 0 ? AVERROR(errno) : st.st_size;
    }
    off_t at = lseek(fd_of(opaque), (off_t)offset, whence & ~AVSEEK_FORCE);
    return at < 0 ? AVERROR(errno) : at;
}

int file_io_open(AVIOContext **pb, const char *path, uint8_t **buffer)
{
    *pb = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return AVERROR(errno);
    bool reused = buffer && *buffer;
    uint8_t *data = reused ? *buffer : av_malloc(FILE_IO_BUFFER_SIZE);
    AVIOContext *ctx = data ? avio_alloc_context(data, FILE_IO_BUFFER_SIZE, 1, (void *)(intptr_t)fd,
                                                 NULL, write_packet, seek)
                            : NULL;
    if (!ctx) {
        if (!reused)
            av_free(data);
        close(fd);
        return AVERROR(ENOMEM);
    }
    if (reused)
        *buffer = NULL;
    /* The mpegts muxer marks a flush point after every PES packet; a flush point only writes a
     * buffer holding at least min_packet_size bytes, so each frame does not become a write(). */
    ctx->min_packet_size = FILE_IO_BUFFER_SIZE;
    *pb = ctx;
    return 0;
}

int file_io_close(AVIOContext **pb, uint8_t **buffer)
{
    if (!pb || !*pb)
        return 0;
    AVIOContext *ctx = *pb;
    *pb = NULL;
    avio_flush(ctx);
    int ret = ctx->error < 0 ? ctx->error : 0;
    if (close(fd_of(ctx->opaque)) < 0 && ret == 0)
        ret = AVERROR(errno);
    /* libavformat may have put a buffer of another size in place of ours; only ours goes back. */
    if (buffer && !*buffer && ctx->buffer_size == FILE_IO_BUFFER_SIZE) {
        *buffer = ctx->buffer;
        ctx->buffer = NULL;
    }
    av_freep(&ctx->buffer);
    avio_context_free(&ctx);
    return ret;
}

void file_io_buffer_free(uint8_t **buffer)
{
    av_freep(buffer);
}
