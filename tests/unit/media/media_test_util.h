/* Helpers shared by the media unit tests: shell commands, text and file checks, and ffprobe.
 * Header-only so each test binary stays one file; every function is static and may go unused. */
#ifndef STREAMD_TESTS_MEDIA_TEST_UTIL_H
#define STREAMD_TESTS_MEDIA_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* Runs a shell command made from fmt; its exit status, or -1 when it could not run. */
__attribute__((unused, format(printf, 1, 2))) static int run(const char *fmt, ...)
{
    char cmd[4096];
    va_list args;
    va_start(args, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, args);
    va_end(args);
    int status = system(cmd);
    return status == -1 ? -1 : WEXITSTATUS(status);
}

/* The text of a file of up to 1 MiB (caller frees). */
__attribute__((unused)) static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    char *text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

__attribute__((unused)) static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

__attribute__((unused)) static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

__attribute__((unused)) static uint64_t file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "missing %s", path);
    return (uint64_t)st.st_size;
}

/* A number of the file's format section as ffprobe reports it ("duration", "start_time"). */
__attribute__((unused)) static double probe_format_number(const char *path, const char *field)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ffprobe -v error -show_entries format=%s -of default=nw=1:nk=1 %s",
             field, path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[128] = "";
    char *got = fgets(line, sizeof line, p);
    int status = pclose(p);
    cr_assert(got && WEXITSTATUS(status) == 0, "ffprobe failed on %s", path);
    return strtod(line, NULL);
}

__attribute__((unused)) static double probe_duration(const char *path)
{
    return probe_format_number(path, "duration");
}

/* One stream's packets as ffprobe reads them back (frames that share a PES packet get the
 * timestamps libavformat derives for them). */
typedef struct probed_packets {
    size_t count;
    int64_t first_pts, last_pts; /* 90 kHz, smallest and largest */
} probed_packets_t;

/* The packets of stream SELECT ("a:0", "v:0") of a file. */
__attribute__((unused)) static probed_packets_t probe_packets(const char *path, const char *select)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -select_streams %s -show_entries packet=pts -of csv=p=0 %s", select,
             path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    probed_packets_t out = {.first_pts = INT64_MAX, .last_pts = INT64_MIN};
    char line[128];
    while (fgets(line, sizeof line, p)) {
        char *end;
        int64_t pts = strtoll(line, &end, 10);
        if (end == line)
            continue; /* the blank line ffprobe prints after a packet with side data */
        out.first_pts = pts < out.first_pts ? pts : out.first_pts;
        out.last_pts = pts > out.last_pts ? pts : out.last_pts;
        out.count++;
    }
    int status = pclose(p);
    cr_assert(WEXITSTATUS(status) == 0, "ffprobe failed on %s", path);
    return out;
}

/* What an MPEG-TS file carries, read from its 188-byte packets. */
typedef struct ts_scan {
    size_t pes_starts;   /* PES packets started on the PID asked for */
    size_t pcrs;         /* PCRs, on any PID */
    int64_t min_pcr;     /* 90 kHz PCR base; a value written from a negative PCR (upper half of
                            the 33-bit range) reads as negative */
    int64_t max_pcr_gap; /* 90 kHz, largest step between consecutive PCRs */
} ts_scan_t;

__attribute__((unused)) static ts_scan_t ts_scan_file(const char *path, int pid)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    ts_scan_t out = {.min_pcr = INT64_MAX};
    uint8_t p[188];
    int64_t last_pcr = 0;
    while (fread(p, 1, sizeof p, f) == sizeof p) {
        cr_assert_eq(p[0], 0x47, "%s: lost TS sync", path);
        if ((((p[1] & 0x1f) << 8) | p[2]) == pid && (p[1] & 0x40))
            out.pes_starts++;
        bool adaptation = p[3] & 0x20;
        if (!adaptation || p[4] == 0 || !(p[5] & 0x10))
            continue;
        int64_t base =
            ((int64_t)p[6] << 25) | (p[7] << 17) | (p[8] << 9) | (p[9] << 1) | (p[10] >> 7);
        if (base >= (int64_t)1 << 32)
            base -= (int64_t)1 << 33;
        if (out.pcrs > 0 && base - last_pcr > out.max_pcr_gap)
            out.max_pcr_gap = base - last_pcr;
        out.min_pcr = base < out.min_pcr ? base : out.min_pcr;
        last_pcr = base;
        out.pcrs++;
    }
    fclose(f);
    return out;
}

#endif
