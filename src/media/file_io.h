/* Writable files as libavformat I/O contexts with a small write buffer. libavformat's own file
 * protocol buffers 256 kB per writable file; with one open segment per live stream and rendition
 * that would be most of a broadcast's memory, while segment writes gain little from buffers larger
 * than a few pages. A context belongs to the thread that opened it. */
#ifndef STREAMD_MEDIA_FILE_IO_H
#define STREAMD_MEDIA_FILE_IO_H

#include <libavformat/avio.h>

#define FILE_IO_BUFFER_SIZE (16 * 1024) /* bytes per write() */

/* Creates or truncates path (mode 0644) for writing and seeking; *pb is owned by the caller and
 * closed with file_io_close. The write buffer is *buffer when it holds one (handed back by an
 * earlier file_io_close), else a new one; the context owns it while open and *buffer is NULL
 * meanwhile. buffer may be NULL. 0, or a negative AVERROR (AVERROR(errno) when open fails); on
 * failure *buffer is left as it was. */
int file_io_open(AVIOContext **pb, const char *path, uint8_t **buffer);

/* Flushes *pb, closes its file, frees it and sets *pb to NULL; NULL or *pb NULL is a no-op. The
 * write buffer goes back to *buffer when buffer is not NULL and *buffer is NULL, else it is freed.
 * A stream that writes file after file keeps one buffer this way: 16 kB allocated and freed per
 * file, among the small allocations of hundreds of other streams, fragments the heap.
 * 0, or the first write or close error as a negative AVERROR (the context is freed either way). */
int file_io_close(AVIOContext **pb, uint8_t **buffer);

/* Frees a buffer file_io_close handed back and sets *buffer to NULL; *buffer NULL is a no-op. */
void file_io_buffer_free(uint8_t **buffer);

#endif
