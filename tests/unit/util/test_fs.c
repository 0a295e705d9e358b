/* Unit tests for util/fs: mkdir -p, files that only ever appear complete (atomic writes, renames,
 * copies, links), tree removal that never leaves its directory, and safe names. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

static char *make_root(const char *base)
{
    char *dir = NULL;
    cr_assert_geq(asprintf(&dir, "%s/streamd-fs-XXXXXX", base), 0);
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static void drop_root(char *root)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "chmod -R u+w %s 2>/dev/null; rm -rf %s", root, root);
    cr_assert_eq(system(cmd), 0);
    free(root);
}

static char *path_in(const char *root, const char *rest)
{
    char *path = fs_join(root, rest);
    cr_assert_not_null(path);
    return path;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot create %s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* The whole content of a file (caller frees); *len gets its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    struct stat st;
    cr_assert_eq(fstat(fileno(f), &st), 0);
    char *data = malloc((size_t)st.st_size + 1);
    *len = fread(data, 1, (size_t)st.st_size, f);
    data[*len] = '\0';
    fclose(f);
    return data;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static bool exists_in(const char *root, const char *rest)
{
    char *path = path_in(root, rest);
    bool found = exists(path);
    free(path);
    return found;
}

/* Files may not grow past limit bytes: writes fail with EFBIG as they would with ENOSPC. */
static void limit_file_size(rlim_t limit)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = limit, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/* ---- mkdir -p ---- */

Test(fs, mkdir_p_creates_nested_and_accepts_existing)
{
    char *root = make_root("/tmp");
    char *deep = path_in(root, "a/b/c/d"), err[256] = "";
    cr_assert_eq(fs_mkdir_p(deep, err, sizeof err), 0, "%s", err);
    cr_assert(fs_is_dir(deep));
    cr_assert_eq(fs_mkdir_p(deep, err, sizeof err), 0, "an existing directory is fine");
    char *slash = path_in(root, "a/b/x/");
    cr_assert_eq(fs_mkdir_p(slash, err, sizeof err), 0, "%s", err);
    cr_assert(exists_in(root, "a/b/x"));
    char *doubled = path_in(root, "a//y");
    cr_assert_eq(fs_mkdir_p(doubled, err, sizeof err), 0, "%s", err);
    cr_assert(exists_in(root, "a/y"));
    cr_assert_eq(fs_mkdir_p(root, err, sizeof err), 0);
    free(deep);
    free(slash);
    free(doubled);
    drop_root(root);
}

Test(fs, mkdir_p_reports_a_file_in_the_way)
{
    char *root = make_root("/tmp");
    char *file = path_in(root, "file"), *under = path_in(root, "file/sub/dir"), err[256] = "";
    write_text(file, "x");
    cr_assert_eq(fs_mkdir_p(file, err, sizeof err), -ENOTDIR);
    cr_assert_not_null(strstr(err, file), "%s", err);
    cr_assert_not_null(strstr(err, "not a directory"), "%s", err);
    cr_assert_eq(fs_mkdir_p(under, err, sizeof err), -ENOTDIR);
    cr_assert_not_null(strstr(err, "Not a directory"), "%s", err);
    cr_assert_not_null(strstr(err, "/file/sub"), "names the level that failed: %s", err);
    cr_assert_not(fs_is_dir(file));
    if (geteuid() != 0) {
        char *locked = path_in(root, "locked"), *inside = path_in(root, "locked/x");
        cr_assert_eq(mkdir(locked, 0500), 0);
        cr_assert_eq(fs_mkdir_p(inside, err, sizeof err), -EACCES);
        cr_assert_not_null(strstr(err, "Permission denied"), "%s", err);
        free(locked);
        free(inside);
    }
    free(file);
    free(under);
    drop_root(root);
}

Test(fs, mkdir_p_refuses_bad_paths)
{
    char err[256] = "";
    cr_assert_eq(fs_mkdir_p("", err, sizeof err), -EINVAL);
    cr_assert_neq(err[0], '\0');
    cr_assert_eq(fs_mkdir_p(NULL, NULL, 0), -EINVAL);
    char *huge = malloc(PATH_MAX + 10);
    memset(huge, 'a', PATH_MAX + 9);
    huge[PATH_MAX + 9] = '\0';
    cr_assert_eq(fs_mkdir_p(huge, err, sizeof err), -ENAMETOOLONG);
    cr_assert_not_null(strstr(err, "too long"), "%s", err);
    free(huge);
    cr_assert_not(fs_is_dir(NULL));
    cr_assert_not(fs_is_dir("/nonexistent/streamd"));
    cr_assert(fs_is_dir("/"));
}

/* ---- atomic writes and renames ---- */

Test(fs, write_atomic_replaces_whole_and_leaves_no_temporary)
{
    char *root = make_root("/tmp");
    char *path = path_in(root, "index.m3u8"), *tmp = path_in(root, "index.m3u8.tmp");
    char err[256] = "";
    size_t len = 0;
    cr_assert_eq(fs_write_atomic(path, "first\n", 6, err, sizeof err), 0, "%s", err);
    char *text = slurp(path, &len);
    cr_assert_str_eq(text, "first\n");
    free(text);
    cr_assert_not(exists(tmp));
    write_text(tmp, "a leftover of a killed writer");
    cr_assert_eq(fs_write_atomic(path, "second", 6, err, sizeof err), 0, "%s", err);
    text = slurp(path, &len);
    cr_assert_str_eq(text, "second");
    free(text);
    cr_assert_not(exists(tmp));
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    mode_t mask = umask(0);
    umask(mask);
    cr_assert_eq(st.st_mode & 0777, 0644 & ~mask, "mode %o", st.st_mode & 0777);
    cr_assert_eq(fs_write_atomic(path, "", 0, err, sizeof err), 0, "%s", err);
    text = slurp(path, &len);
    cr_assert_eq(len, 0);
    free(text);
    free(path);
    free(tmp);
    drop_root(root);
}

Test(fs, write_atomic_failure_keeps_the_old_file)
{
    char *root = make_root("/tmp");
    char *path = path_in(root, "data.bin"), *tmp = path_in(root, "data.bin.tmp");
    char err[256] = "";
    size_t len = 0;
    write_text(path, "old");
    /* the write itself fails (as on a full disk): no partial target, no temporary */
    size_t big_len = 1 << 20;
    char *big = calloc(1, big_len);
    limit_file_size(64 * 1024);
    int rc = fs_write_atomic(path, big, big_len, err, sizeof err);
    limit_file_size(RLIM_INFINITY);
    cr_assert_eq(rc, -EFBIG, "%d", rc);
    cr_assert_not_null(strstr(err, "cannot write"), "%s", err);
    cr_assert_not_null(strstr(err, tmp), "%s", err);
    cr_assert_not_null(strstr(err, "File too large"), "%s", err);
    char *text = slurp(path, &len);
    cr_assert_str_eq(text, "old");
    free(text);
    cr_assert_not(exists(tmp));
    /* the rename fails: a directory sits where the file goes */
    char *blocked = path_in(root, "blocked"), *blocked_tmp = path_in(root, "blocked.tmp");
    cr_assert_eq(mkdir(blocked, 0755), 0);
    char *inner = path_in(blocked, "keep");
    write_text(inner, "kept");
    rc = fs_write_atomic(blocked, "x", 1, err, sizeof err);
    cr_assert_lt(rc, 0);
    cr_assert_not_null(strstr(err, "into place"), "%s", err);
    cr_assert(fs_is_dir(blocked));
    cr_assert(exists(inner));
    cr_assert_not(exists(blocked_tmp));
    /* the directory is missing */
    cr_assert_eq(fs_write_atomic("/nonexistent/dir/index.m3u8", "x", 1, err, sizeof err), -ENOENT);
    cr_assert_not_null(strstr(err, "/nonexistent/dir/index.m3u8.tmp"), "%s", err);
    cr_assert_not_null(strstr(err, "No such file"), "%s", err);
    cr_assert_eq(fs_write_atomic("/nonexistent/x", "x", 1, NULL, 0), -ENOENT);
    free(big);
    free(path);
    free(tmp);
    free(blocked);
    free(blocked_tmp);
    free(inner);
    drop_root(root);
}

Test(fs, rename_into_place_in_the_same_directory)
{
    char *root = make_root("/tmp");
    char *tmp = path_in(root, "00001.ts.tmp"), *path = path_in(root, "00001.ts"), err[256] = "";
    size_t len = 0;
    write_text(path, "old");
    write_text(tmp, "new");
    cr_assert_eq(fs_rename_into_place(tmp, path, err, sizeof err), 0, "%s", err);
    char *text = slurp(path, &len);
    cr_assert_str_eq(text, "new");
    free(text);
    cr_assert_not(exists(tmp));
    /* failure: the temporary goes, the error names it */
    write_text(tmp, "again");
    char *nowhere = path_in(root, "missing/00001.ts");
    cr_assert_eq(fs_rename_into_place(tmp, nowhere, err, sizeof err), -ENOENT);
    cr_assert_not(exists(tmp));
    cr_assert_not_null(strstr(err, "cannot rename"), "%s", err);
    cr_assert_not_null(strstr(err, tmp), "%s", err);
    cr_assert_eq(fs_rename_into_place(tmp, path, err, sizeof err), -ENOENT, "tmp is gone");
    free(tmp);
    free(path);
    free(nowhere);
    drop_root(root);
}

/* ---- copies and links ---- */

Test(fs, copy_of_large_and_empty_files)
{
    char *root = make_root("/tmp");
    char *from = path_in(root, "big.in"), *to = path_in(root, "big.out"), err[256] = "";
    size_t size = 3 * 1024 * 1024 + 17; /* not a multiple of the copy chunk */
    char *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i * 31 % 251);
    cr_assert_eq(fs_write_atomic(from, data, size, err, sizeof err), 0, "%s", err);
    cr_assert_eq(fs_copy_file(from, to, err, sizeof err), 0, "%s", err);
    size_t len = 0;
    char *copied = slurp(to, &len);
    cr_assert_eq(len, size);
    cr_assert_eq(memcmp(copied, data, size), 0);
    free(copied);
    struct stat a, b;
    cr_assert_eq(stat(from, &a), 0);
    cr_assert_eq(stat(to, &b), 0);
    cr_assert_neq(a.st_ino, b.st_ino, "a copy, not a link");
    char *empty = path_in(root, "empty.in"), *empty_out = path_in(root, "empty.out");
    write_text(empty, "");
    cr_assert_eq(fs_copy_file(empty, empty_out, err, sizeof err), 0, "%s", err);
    cr_assert(exists(empty_out));
    copied = slurp(empty_out, &len);
    cr_assert_eq(len, 0);
    free(copied);
    cr_assert_not(exists_in(root, "big.out.tmp"));
    cr_assert_not(exists_in(root, "empty.out.tmp"));
    free(data);
    free(from);
    free(to);
    free(empty);
    free(empty_out);
    drop_root(root);
}

Test(fs, failed_copy_leaves_nothing)
{
    char *root = make_root("/tmp");
    char *from = path_in(root, "in"), *to = path_in(root, "out"), *tmp = path_in(root, "out.tmp");
    char err[256] = "";
    cr_assert_eq(fs_copy_file(from, to, err, sizeof err), -ENOENT, "missing source");
    cr_assert_not_null(strstr(err, from), "%s", err);
    cr_assert_not(exists(to));
    cr_assert_not(exists(tmp));
    char *data = calloc(1, 1 << 20);
    cr_assert_eq(fs_write_atomic(from, data, 1 << 20, err, sizeof err), 0, "%s", err);
    write_text(tmp, "stale");
    limit_file_size(100000);
    int rc = fs_copy_file(from, to, err, sizeof err);
    limit_file_size(RLIM_INFINITY);
    cr_assert_eq(rc, -EFBIG, "%d %s", rc, err);
    cr_assert_not_null(strstr(err, "File too large"), "%s", err);
    cr_assert_not(exists(to), "never a partial copy");
    cr_assert_not(exists(tmp));
    free(data);
    free(from);
    free(to);
    free(tmp);
    drop_root(root);
}

Test(fs, link_or_copy_links_on_one_file_system)
{
    char *root = make_root("/tmp");
    char *from = path_in(root, "live.ts"), *to = path_in(root, "rec.ts"), err[256] = "";
    write_text(from, "segment");
    cr_assert_eq(fs_link_or_copy(from, to, err, sizeof err), 0, "%s", err);
    struct stat a, b;
    cr_assert_eq(stat(from, &a), 0);
    cr_assert_eq(stat(to, &b), 0);
    cr_assert_eq(a.st_ino, b.st_ino, "a hard link");
    cr_assert_not(exists_in(root, "rec.ts.tmp"));
    char *missing = path_in(root, "none.ts");
    cr_assert_eq(fs_link_or_copy(missing, to, err, sizeof err), -ENOENT);
    cr_assert_not_null(strstr(err, "none.ts"), "%s", err);
    cr_assert_not_null(strstr(err, "(link: "), "both errors are named: %s", err);
    cr_assert(exists(to), "the earlier file stays");
    free(from);
    free(to);
    free(missing);
    drop_root(root);
}

Test(fs, link_or_copy_copies_across_file_systems)
{
    struct stat shm, tmp;
    if (stat("/dev/shm", &shm) != 0 || stat("/tmp", &tmp) != 0 || shm.st_dev == tmp.st_dev)
        cr_skip_test("needs /dev/shm on another file system than /tmp");
    char *live = make_root("/dev/shm"), *rec = make_root("/tmp");
    char *from = path_in(live, "live.ts"), *to = path_in(rec, "rec.ts"), err[256] = "";
    write_text(from, "segment bytes");
    cr_assert_eq(fs_link_or_copy(from, to, err, sizeof err), 0, "%s", err);
    size_t len = 0;
    char *text = slurp(to, &len);
    cr_assert_str_eq(text, "segment bytes");
    free(text);
    cr_assert_not(exists_in(rec, "rec.ts.tmp"));
    free(from);
    free(to);
    drop_root(live);
    drop_root(rec);
}

/* ---- removing trees ---- */

/* ROOT/outside.txt and ROOT/outside/inner.txt, which no removal inside ROOT/t may touch, and the
 * tree ROOT/t: files at every level down to t/a/b/c, links out to both. */
static void make_tree(const char *root)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && echo o > outside.txt && mkdir outside && echo i > outside/inner.txt && "
             "mkdir -p t/a/b/c && echo 0 > t/f0 && echo 1 > t/a/f1 && echo 2 > t/a/b/f2 && "
             "echo 3 > t/a/b/c/f3 && echo h > t/.hidden && ln -s ../outside.txt t/link-file && "
             "ln -s ../../outside t/a/link-dir",
             root);
    cr_assert_eq(system(cmd), 0);
}

static void assert_outside_intact(const char *root)
{
    cr_assert(exists_in(root, "outside.txt"));
    cr_assert(exists_in(root, "outside/inner.txt"), "symbolic links are not followed");
}

Test(fs, remove_tree_deletes_everything_and_follows_no_link)
{
    char *root = make_root("/tmp");
    make_tree(root);
    char *tree = path_in(root, "t"), err[256] = "";
    cr_assert_eq(fs_remove_tree(tree, 8, err, sizeof err), 0, "%s", err);
    cr_assert_not(exists(tree));
    assert_outside_intact(root);
    cr_assert_eq(fs_remove_tree(tree, 8, err, sizeof err), 0, "already gone is fine");
    free(tree);
    drop_root(root);
}

Test(fs, remove_tree_stops_at_the_depth_limit)
{
    char *root = make_root("/tmp");
    make_tree(root);
    char *tree = path_in(root, "t"), err[256] = "";
    /* t/a/b/c is three levels below t */
    cr_assert_eq(fs_remove_tree(tree, 2, err, sizeof err), -ELOOP);
    cr_assert_not_null(strstr(err, "nested too deep"), "%s", err);
    cr_assert(exists(tree), "a tree too deep is not deleted");
    cr_assert(exists_in(root, "t/a/b/c/f3"));
    assert_outside_intact(root);
    cr_assert_eq(fs_remove_tree(tree, 3, err, sizeof err), 0, "%s", err);
    cr_assert_not(exists(tree));
    assert_outside_intact(root);
    free(tree);
    drop_root(root);
}

Test(fs, remove_tree_refuses_what_is_not_a_directory)
{
    char *root = make_root("/tmp");
    make_tree(root);
    char err[256] = "";
    cr_assert_eq(fs_remove_tree("/", 8, err, sizeof err), -EINVAL);
    cr_assert_not_null(strstr(err, "refusing"), "%s", err);
    cr_assert_eq(fs_remove_tree("", 8, err, sizeof err), -EINVAL);
    cr_assert_eq(fs_remove_tree(NULL, 8, NULL, 0), -EINVAL);
    char *file = path_in(root, "outside.txt"), *link = path_in(root, "link");
    cr_assert_eq(fs_remove_tree(file, 8, err, sizeof err), -EINVAL);
    cr_assert_not_null(strstr(err, "not a directory"), "%s", err);
    char *outside = path_in(root, "outside");
    cr_assert_eq(symlink(outside, link), 0);
    cr_assert_eq(fs_remove_tree(link, 8, err, sizeof err), -EINVAL,
                 "a link is not deleted through");
    assert_outside_intact(root);
    cr_assert(exists(link));
    free(file);
    free(link);
    free(outside);
    drop_root(root);
}

Test(fs, remove_files_keeps_the_directories)
{
    char *root = make_root("/tmp");
    make_tree(root);
    char *tree = path_in(root, "t"), err[256] = "";
    cr_assert_eq(fs_remove_files(tree, 1, err, sizeof err), 0, "%s", err);
    cr_assert(fs_is_dir(tree));
    cr_assert(exists_in(root, "t/a/b/c"));
    cr_assert_not(exists_in(root, "t/f0"));
    cr_assert_not(exists_in(root, "t/.hidden"));
    cr_assert_not(exists_in(root, "t/a/f1"));
    cr_assert_not(exists_in(root, "t/link-file"), "links are removed");
    cr_assert_not(exists_in(root, "t/a/link-dir"));
    cr_assert(exists_in(root, "t/a/b/f2"), "deeper than max_depth: left alone");
    cr_assert(exists_in(root, "t/a/b/c/f3"));
    assert_outside_intact(root);
    cr_assert_eq(fs_remove_files(tree, 0, err, sizeof err), 0, "%s", err);
    cr_assert(exists_in(root, "t/a/b/f2"));
    cr_assert_eq(fs_remove_files(tree, 8, err, sizeof err), 0, "%s", err);
    cr_assert_not(exists_in(root, "t/a/b/f2"));
    cr_assert_not(exists_in(root, "t/a/b/c/f3"));
    cr_assert(exists_in(root, "t/a/b/c"));
    char *missing = path_in(root, "missing");
    cr_assert_eq(fs_remove_files(missing, 1, err, sizeof err), -ENOENT);
    cr_assert_not_null(strstr(err, "missing"), "%s", err);
    cr_assert_eq(fs_remove_files(NULL, 1, NULL, 0), -EINVAL);
    free(tree);
    free(missing);
    drop_root(root);
}

/* ---- names and paths ---- */

Test(fs, safe_names)
{
    const char *good[] = {"source", "720p0", "a_b-c.d", "00012.ts", "index.m3u8", "x", "a..b"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(fs_name_is_safe(good[i]), "refused \"%s\"", good[i]);
    const char *bad[] = {"",     ".",    "..",  ".hidden", "a/b",  "/a",   "a/",
                         "../x", "a b",  "x\n", "\x01",    "a\\b", "a%2f", "a?b",
                         "é",    "a\tb", "a:b", "*",       "~x",   "a\"b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(fs_name_is_safe(bad[i]), "accepted \"%s\"", bad[i]);
    cr_assert_not(fs_name_is_safe(NULL));
    char longest[NAME_MAX + 2];
    memset(longest, 'a', sizeof longest);
    longest[NAME_MAX] = '\0';
    cr_assert(fs_name_is_safe(longest), "NAME_MAX bytes fit");
    longest[NAME_MAX] = 'a';
    longest[NAME_MAX + 1] = '\0';
    cr_assert_not(fs_name_is_safe(longest), "longer than NAME_MAX");
}

Test(fs, safe_paths)
{
    cr_assert(fs_path_is_safe("index.m3u8", 2));
    cr_assert(fs_path_is_safe("source/index.m3u8", 2));
    cr_assert(fs_path_is_safe("720p0_x-y/00012.ts", 2));
    cr_assert(fs_path_is_safe("a/b/c", 3));
    cr_assert_not(fs_path_is_safe("a/b/c", 2), "too many components");
    cr_assert_not(fs_path_is_safe("a", 0));
    const char *bad[] = {"",          "../etc/passwd", "source/../../x", "..", ".hidden",
                         "source/.x", "a//b",          "/abs",           "a/", "a\\b",
                         "a b",       "a%2fb",         "source/\x01",    "/",  "//"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(fs_path_is_safe(bad[i], 2), "accepted \"%s\"", bad[i]);
    cr_assert_not(fs_path_is_safe(NULL, 2));
}

Test(fs, join_and_format_paths)
{
    char *joined = fs_join("data/live", "abc");
    cr_assert_str_eq(joined, "data/live/abc");
    free(joined);
    char out[16];
    cr_assert_eq(fs_path_format(out, sizeof out, "%s/%05d.ts", "dir", 7), 0);
    cr_assert_str_eq(out, "dir/00007.ts");
    cr_assert_eq(fs_path_format(out, sizeof out, "%s/%s", "a-long-directory", "x"), -ENAMETOOLONG);
    cr_assert_eq(fs_path_format(out, 16, "%s", "exactly15bytes!"), 0);
    cr_assert_eq(fs_path_format(out, 16, "%s", "exactly16bytes!!"), -ENAMETOOLONG);
}
