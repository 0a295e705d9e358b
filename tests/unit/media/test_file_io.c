#include "media/file_io.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <libavutil/avutil.h>
#include <libavutil/error.h>

static char dir[] = "/tmp/streamd-file-io-XXXXXX";
static char path[sizeof dir + 16];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/out.ts", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

TestSuite(file_io, .init = setup, .fini = teardown);

static size_t read_back(uint8_t *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, size, f);
    fclose(f);
    return n;
}

Test(file_io, writes_more_than_its_buffer_in_order)
{
    enum { TOTAL = 3 * FILE_IO_BUFFER_SIZE + 123 };
    static uint8_t data[TOTAL], back[TOTAL + 1];
    for (size_t i = 0; i < TOTAL; i++)
        data[i] = (uint8_t)(i * 7 + i / 251);
    AVIOContext *pb = NULL;
    cr_assert_eq(file_io_open(&pb, path, NULL), 0);
    for (size_t at = 0; at < TOTAL; at += 188)
        avio_write(pb, data + at, TOTAL - at < 188 ? (int)(TOTAL - at) : 188);
    cr_assert_eq(file_io_close(&pb, NULL), 0);
    cr_assert_null(pb);
    cr_assert_eq(read_back(back, sizeof back), TOTAL);
    cr_assert_eq(memcmp(data, back, TOTAL), 0);
}

static off_t size_on_disk(void)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    return st.st_size;
}

/* The mpegts muxer marks a flush point after every PES packet; each must not become a write(). */
Test(file_io, flush_points_wait_for_a_full_buffer)
{
    uint8_t packet[188] = {0x47};
    AVIOContext *pb = NULL;
    cr_assert_eq(file_io_open(&pb, path, NULL), 0);
    size_t written = 0;
    while (written + sizeof packet <= FILE_IO_BUFFER_SIZE) {
        avio_write(pb, packet, sizeof packet);
        avio_write_marker(pb, AV_NOPTS_VALUE, AVIO_DATA_MARKER_FLUSH_POINT);
        written += sizeof packet;
    }
    cr_assert_eq(size_on_disk(), 0);
    for (int i = 0; i < 2; i++) {
        avio_write(pb, packet, sizeof packet);
        avio_write_marker(pb, AV_NOPTS_VALUE, AVIO_DATA_MARKER_FLUSH_POINT);
        written += sizeof packet;
    }
    cr_assert_gt(size_on_disk(), 0);
    cr_assert_lt(size_on_disk(), (off_t)written);
    cr_assert_eq(file_io_close(&pb, NULL), 0);
    cr_assert_eq(size_on_disk(), (off_t)written);
}

Test(file_io, seeks_back_and_overwrites)
{
    AVIOContext *pb = NULL;
    cr_assert_eq(file_io_open(&pb, path, NULL), 0);
    avio_write(pb, (const uint8_t *)"0123456789", 10);
    cr_assert_eq(avio_seek(pb, 2, SEEK_SET), 2);
    avio_write(pb, (const uint8_t *)"ab", 2);
    avio_flush(pb);
    cr_assert_eq(avio_size(pb), 10);
    cr_assert_eq(file_io_close(&pb, NULL), 0);
    uint8_t back[16] = {0};
    cr_assert_eq(read_back(back, sizeof back), 10);
    cr_assert_str_eq((const char *)back, "01ab456789");
}

Test(file_io, truncates_an_existing_file)
{
    FILE *f = fopen(path, "wb");
    fputs("old content that is longer", f);
    fclose(f);
    AVIOContext *pb = NULL;
    cr_assert_eq(file_io_open(&pb, path, NULL), 0);
    avio_write(pb, (const uint8_t *)"new", 3);
    cr_assert_eq(file_io_close(&pb, NULL), 0);
    uint8_t back[64] = {0};
    cr_assert_eq(read_back(back, sizeof back), 3);
}

Test(file_io, open_in_a_missing_directory_fails_with_errno)
{
    char missing[sizeof path + 16];
    snprintf(missing, sizeof missing, "%s/nope/out.ts", dir);
    AVIOContext *pb = (AVIOContext *)1;
    cr_assert_eq(file_io_open(&pb, missing, NULL), AVERROR(ENOENT));
    cr_assert_null(pb);
}

Test(file_io, a_full_device_is_reported_at_close)
{
    AVIOContext *pb = NULL;
    cr_assert_eq(file_io_open(&pb, "/dev/full", NULL), 0);
    avio_write(pb, (const uint8_t *)"x", 1);
    cr_assert_eq(file_io_close(&pb, NULL), AVERROR(ENOSPC));
    cr_assert_null(pb);
}

Test(file_io, close_of_nothing_is_a_no_op)
{
    AVIOContext *pb = NULL;
    cr_assert_eq(file_io_close(&pb, NULL), 0);
    cr_assert_eq(file_io_close(NULL, NULL), 0);
}

/* A stream writing file after file keeps one buffer. A second file open at the same time gets one
 * of its own: of the two, the buffer closed first is kept and the other freed (ASan would report a
 * leak). */
Test(file_io, the_buffer_goes_from_file_to_file)
{
    uint8_t *buffer = NULL;
    AVIOContext *pb = NULL, *second = NULL;
    cr_assert_eq(file_io_open(&pb, path, &buffer), 0);
    cr_assert_null(buffer, "the open file owns the buffer");
    const uint8_t *in_use = pb->buffer;
    avio_write(pb, (const uint8_t *)"first", 5);
    cr_assert_eq(file_io_close(&pb, &buffer), 0);
    cr_assert_eq(buffer, in_use, "handed back at close");

    cr_assert_eq(file_io_open(&pb, path, &buffer), 0);
    cr_assert_eq(pb->buffer, in_use, "the next file writes through it");
    char other[sizeof path + 8];
    snprintf(other, sizeof other, "%s.2", path);
    cr_assert_eq(file_io_open(&second, other, &buffer), 0);
    cr_assert_neq(second->buffer, in_use);
    avio_write(pb, (const uint8_t *)"again", 5);
    avio_write(second, (const uint8_t *)"other", 5);
    cr_assert_eq(file_io_close(&second, &buffer), 0);
    cr_assert_neq(buffer, in_use);
    cr_assert_eq(file_io_close(&pb, &buffer), 0);
    cr_assert_neq(buffer, in_use, "one buffer kept, the other freed");
    file_io_buffer_free(&buffer);
    cr_assert_null(buffer);
    file_io_buffer_free(&buffer);

    uint8_t back[16] = {0};
    cr_assert_eq(read_back(back, sizeof back), 5);
    cr_assert_str_eq((const char *)back, "again");
    unlink(other);
}

Test(file_io, a_failed_open_leaves_the_buffer_alone)
{
    uint8_t *buffer = NULL;
    AVIOContext *pb = NULL;
    cr_assert_eq(file_io_open(&pb, path, &buffer), 0);
    cr_assert_eq(file_io_close(&pb, &buffer), 0);
    uint8_t *kept = buffer;
    char missing[sizeof path + 16];
    snprintf(missing, sizeof missing, "%s/nope/out.ts", dir);
    cr_assert_eq(file_io_open(&pb, missing, &buffer), AVERROR(ENOENT));
    cr_assert_eq(buffer, kept);
    file_io_buffer_free(&buffer);
}
