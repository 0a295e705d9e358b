/* Writable files as libavformat I/O contexts with a small write buffer. libavformat's own file
 * protocol buffers 256 kB per writable file; with one open segment per live stream and rendition
 * that would be most of a broadcast's memory, while segment writes gain little from buffers larger
 * than a few pages. A context belongs to the thread that opened it. */
#ifndef STREAMD_MEDIA_FILE_IO_H
#define STREAMD_MEDIA_FILE_IO_H

#include <libavformat/avio.h>

#define FILE_IO_BUFFER_SIZE (16 * 1024) /* bytes per write() */

/* Creates or truncates path (mode 0644) for writing and seeking; *pb is owned by the caller and
 * closed with file_io_close. 0, or a negative AVERROR (AVERROR(errno) when open fails). */
int file_io_open(AVIOContext **pb, const char *path);

/* Flushes *pb, closes its file, frees it and sets *pb to NULL; NULL or *pb NULL is a no-op.
 * 0, or the first write or close error as a negative AVERROR (the context is freed either way). */
int file_io_close(AVIOContext **pb);

#endif
