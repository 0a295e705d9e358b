/* Files and directories on the data directory; the one place that writes a file so that it only
 * ever appears complete (see fs.h). */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/errbuf.h"
#include "util/fd_io.h"

#define COPY_CHUNK (64 * 1024) /* bytes per read when copying a file */

/* ---- paths ---- */

int fs_path_format(char *out, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(out, size, fmt, args);
    va_end(args);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

char *fs_join(const char *a, const char *b)
{
    size_t size = strlen(a) + 1 + strlen(b) + 1;
    char *out = malloc(size);
    if (out)
        snprintf(out, size, "%s/%s", a, b);
    return out;
}

/* path + ".tmp" in a new string (caller frees), sized to fit: paths are written deep in media
 * threads, where PATH_MAX arrays on the stack add up. NULL when out of memory. */
static char *tmp_path_of(const char *path)
{
    size_t size = strlen(path) + sizeof FS_TMP_SUFFIX;
    char *tmp = malloc(size);
    if (tmp)
        snprintf(tmp, size, "%s%s", path, FS_TMP_SUFFIX);
    return tmp;
}

/* One path component of len bytes at name: see fs_name_is_safe. */
static bool component_is_safe(const char *name, size_t len)
{
    if (len == 0 || len > NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool fs_name_is_safe(const char *name)
{
    return name && component_is_safe(name, strnlen(name, NAME_MAX + 1));
}

bool fs_path_is_safe(const char *path, int max_components)
{
    if (!path || path[0] == '\0')
        return false;
    int components = 0;
    for (const char *p = path;; p++) {
        size_t len = strcspn(p, "/");
        if (++components > max_components || !component_is_safe(p, len))
            return false;
        p += len;
        if (*p == '\0')
            return true;
    }
}

/* ---- directories ---- */

bool fs_is_dir(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int make_one(const char *path, char *err, size_t err_size)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    int code = -errno;
    return errbuf_set(err, err_size, code, "cannot create %s: %s", path, strerror(-code));
}

int fs_mkdir_p(const char *path, char *err, size_t err_size)
{
    if (!path || path[0] == '\0')
        return errbuf_set(err, err_size, -EINVAL, "invalid directory path \"\"");
    size_t len = strlen(path);
    if (len >= PATH_MAX)
        return errbuf_set(err, err_size, -ENAMETOOLONG, "path too long: %.64s...", path);
    char *partial = strdup(path);
    if (!partial)
        return errbuf_set(err, err_size, -ENOMEM, "out of memory creating %s", path);
    int ret = 0;
    for (char *p = partial + 1; *p && ret == 0; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        ret = make_one(partial, err, err_size);
        *p = '/';
    }
    if (ret == 0)
        ret = make_one(partial, err, err_size);
    if (ret == 0 && !fs_is_dir(partial))
        ret = errbuf_set(err, err_size, -ENOTDIR, "cannot create %s: not a directory", partial);
    free(partial);
    return ret;
}

/* ---- writing files whole ---- */

int fs_rename_into_place(const char *tmp, const char *path, char *err, size_t err_size)
{
    if (rename(tmp, path) == 0)
        return 0;
    int rename_errno = errno;
    unlink(tmp);
    return errbuf_set(err, err_size, -rename_errno, "cannot rename %s into place: %s", tmp,
                      strerror(rename_errno));
}

/* Writes data into a new tmp; on failure tmp is removed. */
static int write_new(const char *tmp, const void *data, size_t len, char *err, size_t err_size)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return errbuf_set(err, err_size, -errno, "cannot create %s: %s", tmp, strerror(errno));
    int write_errno = fd_write_all(fd, data, len);
    if (close(fd) != 0 && !write_errno)
        write_errno = errno;
    if (!write_errno)
        return 0;
    unlink(tmp);
    return errbuf_set(err, err_size, -write_errno, "cannot write %s: %s", tmp,
                      strerror(write_errno));
}

int fs_write_atomic(const char *path, const void *data, size_t len, char *err, size_t err_size)
{
    char *tmp = tmp_path_of(path);
    if (!tmp)
        return errbuf_set(err, err_size, -ENOMEM, "out of memory writing %s", path);
    int ret = write_new(tmp, data, len, err, err_size);
    if (ret == 0)
        ret = fs_rename_into_place(tmp, path, err, err_size);
    free(tmp);
    return ret;
}

static int copy_fd(int from, int to)
{
    char *buf = malloc(COPY_CHUNK);
    if (!buf)
        return ENOMEM;
    int result = 0;
    for (;;) {
        ssize_t n = read(from, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            result = n < 0 ? errno : 0;
            break;
        }
        result = fd_write_all(to, buf, (size_t)n);
        if (result)
            break;
    }
    free(buf);
    return result;
}

/* Copies from into to (created or truncated); returns 0 or an errno value. */
static int copy_into(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        int open_errno = errno;
        close(in);
        return open_errno;
    }
    int result = copy_fd(in, out);
    if (close(out) != 0 && !result)
        result = errno;
    close(in);
    return result;
}

/* Puts from at to through to.tmp: a hard link when try_link and linking works, else a copy. */
static int place_file(const char *from, const char *to, bool try_link, char *err, size_t err_size)
{
    char *tmp = tmp_path_of(to);
    if (!tmp)
        return errbuf_set(err, err_size, -ENOMEM, "out of memory copying %s", from);
    unlink(tmp); /* a leftover of an earlier attempt */
    int ret = 0;
    if (!try_link || link(from, tmp) != 0) {
        int link_errno = try_link ? errno : 0;
        int copy_errno = copy_into(from, tmp);
        if (copy_errno) {
            unlink(tmp);
            ret = link_errno ? errbuf_set(err, err_size, -copy_errno,
                                          "cannot copy %s to %s: %s (link: %s)", from, tmp,
                                          strerror(copy_errno), strerror(link_errno))
                             : errbuf_set(err, err_size, -copy_errno, "cannot copy %s to %s: %s",
                                          from, tmp, strerror(copy_errno));
        }
    }
    if (ret == 0)
        ret = fs_rename_into_place(tmp, to, err, err_size);
    free(tmp);
    return ret;
}

int fs_copy_file(const char *from, const char *to, char *err, size_t err_size)
{
    return place_file(from, to, false, err, err_size);
}

int fs_link_or_copy(const char *from, const char *to, char *err, size_t err_size)
{
    return place_file(from, to, true, err, err_size);
}

/* ---- removing trees ---- */

/* One removal: what it may touch and the first error. */
typedef struct removal {
    const char *root; /* as given, for messages */
    dev_t dev;        /* the root's file system: never left */
    int max_depth;    /* levels of subdirectories entered */
    bool keep_dirs;   /* fs_remove_files: directories stay, going on past failures */
    char *err;
    size_t err_size;
    int first_error; /* negative errno, 0 = none yet */
} removal_t;

/* Records a failure to do what with entry name (NULL: the directory itself) and why (NULL: the
 * errno text of code); returns whether the walk stops (fs_remove_tree stops at the first). */
static bool removal_failed(removal_t *r, int code, const char *what, const char *name,
                           const char *why)
{
    if (r->first_error == 0) {
        r->first_error = code;
        errbuf_set(r->err, r->err_size, code, "%s %s%s%s: %s", what, r->root, name ? "/" : "",
                   name ? name : "", why ? why : strerror(-code));
    }
    return !r->keep_dirs;
}

static bool remove_contents(removal_t *r, int fd, int depth);

/* Handles a subdirectory name of the open directory fd; returns whether the walk stops. */
static bool remove_subdir(removal_t *r, int fd, const char *name, const struct stat *st, int depth)
{
    if (st->st_dev != r->dev)
        return r->keep_dirs
                   ? false
                   : removal_failed(r, -EXDEV, "cannot enter", name, "another file system");
    if (depth + 1 > r->max_depth)
        return r->keep_dirs
                   ? false
                   : removal_failed(r, -ELOOP, "cannot enter", name, "directories nested too deep");
    int child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0)
        return removal_failed(r, -errno, "cannot open", name, NULL);
    bool stop = remove_contents(r, child, depth + 1);
    close(child);
    return stop;
}

/* Deletes the entries of the open directory fd (depth levels below the root); returns whether the
 * walk stopped at a failure. */
static bool remove_contents(removal_t *r, int fd, int depth)
{
    int dup_fd = dup(fd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        int code = -errno;
        if (dup_fd >= 0)
            close(dup_fd);
        return removal_failed(r, code, "cannot read", NULL, NULL);
    }
    bool stop = false;
    struct dirent *e;
    while (!stop && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* gone meanwhile */
        bool is_dir = S_ISDIR(st.st_mode);
        if (is_dir)
            stop = remove_subdir(r, fd, e->d_name, &st, depth);
        if (stop || (is_dir && r->keep_dirs))
            continue;
        if (unlinkat(fd, e->d_name, is_dir ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT)
            stop = removal_failed(r, -errno, "cannot delete", e->d_name, NULL);
    }
    closedir(d);
    return stop;
}

int fs_remove_tree(const char *path, int max_depth, char *err, size_t err_size)
{
    if (!path || path[0] == '\0' || strcmp(path, "/") == 0)
        return errbuf_set(err, err_size, -EINVAL, "refusing to delete \"%s\"",
                          path ? path : "(null)");
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return errbuf_set(err, err_size, -errno, "cannot delete %s: %s", path, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return errbuf_set(err, err_size, -EINVAL, "refusing to delete %s: not a directory", path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errbuf_set(err, err_size, -errno, "cannot open %s: %s", path, strerror(errno));
    removal_t r = {
        .root = path, .dev = st.st_dev, .max_depth = max_depth, .err = err, .err_size = err_size};
    remove_contents(&r, fd, 0);
    close(fd);
    if (r.first_error)
        return r.first_error;
    if (rmdir(path) != 0 && errno != ENOENT)
        return errbuf_set(err, err_size, -errno, "cannot delete %s: %s", path, strerror(errno));
    return 0;
}

int fs_remove_files(const char *dir, int max_depth, char *err, size_t err_size)
{
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd < 0) {
        int code = dir ? -errno : -EINVAL;
        return errbuf_set(err, err_size, code, "cannot open %s: %s", dir ? dir : "(null)",
                          strerror(-code));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int code = -errno;
        close(fd);
        return errbuf_set(err, err_size, code, "cannot read %s: %s", dir, strerror(-code));
    }
    removal_t r = {.root = dir,
                   .dev = st.st_dev,
                   .max_depth = max_depth,
                   .keep_dirs = true,
                   .err = err,
                   .err_size = err_size};
    remove_contents(&r, fd, 0);
    close(fd);
    return r.first_error;
}

char *fs_read_file(const char *path, size_t max, size_t *len)
{
    *len = 0;
    FILE *file = fopen(path, "rbe");
    if (!file)
        return NULL;
    struct stat st;
    size_t size = fstat(fileno(file), &st) == 0 && st.st_size > 0 ? (size_t)st.st_size : 0;
    if (size > max)
        size = max;
    char *buf = malloc(size + 1);
    if (buf) {
        *len = fread(buf, 1, size, file);
        buf[*len] = '\0';
    }
    fclose(file);
    return buf;
}
