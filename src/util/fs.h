/* Files and directories on the data directory: mkdir -p, atomic writes, renames into place, copies,
 * tree removal and safe path names. This module holds the rule every writer of the data directory
 * follows: a file only ever appears under its final name complete. It is written (or linked, or
 * copied) to NAME.tmp and renamed over NAME, so a reader or a process restarted after a kill -9
 * sees the old file, the new one, or none, never part of one. Nothing is fsync'ed: a killed process
 * leaves complete files, a power loss may lose the newest ones.
 *
 * Stateless: any thread may call any function; two writers of one path must not overlap. Strings
 * are only read during a call, except fs_join's result, which the caller frees. Functions that can
 * fail return 0 or a negative errno value (-ENOENT, -ENOMEM, ...) and put a message naming the file
 * into err (NULL or err_size 0: no message). */
#ifndef STREAMD_UTIL_FS_H
#define STREAMD_UTIL_FS_H

#include <stdbool.h>
#include <stddef.h>

#define FS_TMP_SUFFIX ".tmp" /* what NAME becomes while it is being written */

/* Creates directory path (mode 0755) and its missing parents; existing ones are fine. -EINVAL for
 * an empty path, -ENAMETOOLONG past PATH_MAX, -ENOTDIR when path (or a parent) is not a
 * directory, else the errno of the mkdir that failed. */
int fs_mkdir_p(const char *path, char *err, size_t err_size);

/* True when path is a directory (or a symbolic link to one). */
bool fs_is_dir(const char *path);

/* Writes len bytes of data to path through path.tmp (mode 0644) renamed over path: readers see
 * the old content or all of the new, never part of it. On failure path is as it was and no
 * path.tmp is left. -ENOMEM, or the errno of the open, write, close or rename that failed. */
int fs_write_atomic(const char *path, const void *data, size_t len, char *err, size_t err_size);

/* Renames the complete file tmp over path; on failure tmp is removed (path is as it was) and the
 * rename's errno is returned. */
int fs_rename_into_place(const char *tmp, const char *path, char *err, size_t err_size);

/* Copies the file from to to (mode 0644) through to.tmp renamed into place, so to appears whole or
 * not at all; a to.tmp left by an earlier attempt is replaced. -ENOMEM, or the errno of the
 * failed step; no to.tmp is left. */
int fs_copy_file(const char *from, const char *to, char *err, size_t err_size);

/* Puts a hard link to from at to, or a copy of it when linking fails (another file system, no
 * link support), through to.tmp as fs_copy_file does. The message of a failed copy names both
 * errors; the copy's errno is returned. */
int fs_link_or_copy(const char *from, const char *to, char *err, size_t err_size);

/* Deletes directory path and everything in it. Never leaves path: symbolic links are removed, not
 * followed, and a directory of another file system mounted inside is not entered (-EXDEV).
 * Descends at most max_depth levels of subdirectories (-ELOOP past that). 0, also when path does
 * not exist; -EINVAL for "", "/", a symbolic link or anything not a directory; else the errno of
 * the step that failed (what was deleted before it stays deleted). */
int fs_remove_tree(const char *path, int max_depth, char *err, size_t err_size);

/* Deletes everything but directories (files, symbolic links: never followed) inside directory dir
 * and inside its subdirectories down to max_depth levels (0 = dir only), keeping the directories
 * themselves; deeper directories and other file systems are left alone. Goes on past a failure and
 * returns the first errno (negative), or 0. */
int fs_remove_files(const char *dir, int max_depth, char *err, size_t err_size);

/* True when name is one plain path component: 1 to NAME_MAX bytes of [A-Za-z0-9_.-], not starting
 * with '.' (so never ".", ".." or a hidden file), no '/'. */
bool fs_name_is_safe(const char *name);

/* True when path is 1 to max_components safe names (fs_name_is_safe) joined by single '/', with
 * no leading or trailing '/': joined to a directory, it cannot lead out of it. */
bool fs_path_is_safe(const char *path, int max_components);

/* "a/b" in a new string sized to fit (caller frees); NULL when out of memory. */
char *fs_join(const char *a, const char *b);

/* The first max bytes (at most) of the file at path, NUL-terminated, for the caller to free;
 * *len gets their count. NULL when it cannot be opened or when out of memory. */
char *fs_read_file(const char *path, size_t max, size_t *len);

/* Formats a path into out (size bytes with the NUL); 0, or -ENAMETOOLONG when it does not fit
 * (out then holds the cut path). */
int fs_path_format(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
