/*
 * Exercises every wasi_snapshot_preview1 function through its raw call, success and error
 * paths, inside the layout the engine tests prepare:
 *
 *   /in/data.txt        "hello, world\n"   program rights: r
 *   /out/               empty              program rights: rwa
 *   /out/ro/keep.txt    "keep"             program rights: r
 *   /secret/key.txt     "top secret"       program rights: none
 *   stdin               "line one\nline two\n"
 *
 * Usage: wasi_suite GROUP [ARG]. Each check prints `ok LABEL` or `FAIL LABEL: ...`; the exit
 * code is the number of failed checks, so a run that exits 0 passed every check.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

static int failures;

static void expect(const char *label, long long got, long long want) {
    if (got == want) {
        printf("ok %s\n", label);
    } else {
        printf("FAIL %s: got %lld, want %lld\n", label, got, want);
        failures++;
    }
}

/* An error, one of two acceptable codes (WASI leaves some choices to the runtime). */
static void expect_either(const char *label, long long got, long long a, long long b) {
    if (got == a || got == b) {
        printf("ok %s\n", label);
    } else {
        printf("FAIL %s: got %lld, want %lld or %lld\n", label, got, a, b);
        failures++;
    }
}

static void expect_error(const char *label, long long got) {
    if (got != 0) {
        printf("ok %s (errno %lld)\n", label, got);
    } else {
        printf("FAIL %s: succeeded, want an error\n", label);
        failures++;
    }
}

static void expect_bytes(const char *label, const void *got, size_t got_len, const char *want) {
    size_t want_len = strlen(want);
    if (got_len == want_len && memcmp(got, want, want_len) == 0) {
        printf("ok %s\n", label);
    } else {
        printf("FAIL %s: got %zu bytes \"%.*s\", want \"%s\"\n", label, got_len, (int)got_len,
               (const char *)got, want);
        failures++;
    }
}

static const __wasi_rights_t ALL = ~0ULL;
/* Rights for opening a directory: asking to write to a directory is EISDIR, as in wasmtime. */
static const __wasi_rights_t DIR_RIGHTS = ~(__WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_DATASYNC |
                                            __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE);

/* The pre-opened directory whose name is `name`, or -1. */
static int preopen(const char *name) {
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_prestat_t pre;
        if (__wasi_fd_prestat_get(fd, &pre) != 0) continue;
        char buf[256];
        size_t len = pre.u.dir.pr_name_len;
        if (len >= sizeof buf) continue;
        if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, len) != 0) continue;
        buf[len] = 0;
        if (strcmp(buf, name) == 0) return (int)fd;
    }
    return -1;
}

/* A directory of the layout as a descriptor: its own pre-open, or opened from `/`. */
static int dir_fd(const char *abs) {
    int fd = preopen(abs);
    if (fd >= 0) return fd;
    int root = preopen("/");
    if (root < 0) return -1;
    __wasi_fd_t out;
    if (__wasi_path_open(root, 0, abs + 1, __WASI_OFLAGS_DIRECTORY, DIR_RIGHTS, ~0ULL, 0, &out) != 0)
        return -1;
    return (int)out;
}


static __wasi_errno_t open_at(int dir, const char *path, __wasi_oflags_t oflags,
                              __wasi_rights_t rights, __wasi_fd_t *fd) {
    return __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, path, oflags, rights, rights,
                            0, fd);
}

static __wasi_errno_t write_all(__wasi_fd_t fd, const char *s, __wasi_size_t *n) {
    __wasi_ciovec_t iov = {(const uint8_t *)s, strlen(s)};
    return __wasi_fd_write(fd, &iov, 1, n);
}

static size_t read_at(__wasi_fd_t fd, char *buf, size_t cap, __wasi_filesize_t off,
                      __wasi_errno_t *err) {
    __wasi_iovec_t iov = {(uint8_t *)buf, cap};
    __wasi_size_t n = 0;
    *err = __wasi_fd_pread(fd, &iov, 1, off, &n);
    return n;
}

/* ---- args, environ, exit ---- */
static void group_args(int argc, char **argv) {
    __wasi_size_t count, size;
    expect("args_sizes_get", __wasi_args_sizes_get(&count, &size), 0);
    expect("args count", count, argc);
    char *ptrs[16];
    char buf[512];
    if (count <= 16 && size <= sizeof buf) {
        expect("args_get", __wasi_args_get((uint8_t **)ptrs, (uint8_t *)buf), 0);
        for (int i = 0; i < argc; i++) expect_bytes("args_get value", ptrs[i], strlen(ptrs[i]), argv[i]);
    }
    expect("environ_sizes_get", __wasi_environ_sizes_get(&count, &size), 0);
    expect("environ count", count, 2);
    if (count <= 16 && size <= sizeof buf) {
        expect("environ_get", __wasi_environ_get((uint8_t **)ptrs, (uint8_t *)buf), 0);
        expect_bytes("environ 0", ptrs[0], strlen(ptrs[0]), "GREETING=hello");
        expect_bytes("environ 1", ptrs[1], strlen(ptrs[1]), "EMPTY=");
    }
    const char *g = getenv("GREETING");
    expect_bytes("getenv", g ? g : "", g ? strlen(g) : 0, "hello");
}

/* ---- clocks, random, poll, yield ---- */
static void group_clock(int enabled) {
    __wasi_timestamp_t t1 = 0, t2 = 0, res = 0;
    __wasi_errno_t e = __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t1);
    __wasi_errno_t r = __wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &res);
    if (enabled) {
        expect("clock_time_get monotonic", e, 0);
        expect("clock_res_get realtime", r, 0);
        expect("clock resolution positive", res > 0, 1);
        expect("clock_time_get again", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t2), 0);
        expect("monotonic clock does not go back", t2 >= t1, 1);
        __wasi_timestamp_t now = 0;
        expect("clock_time_get realtime", __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &now), 0);
        expect("realtime after 2020", now > 1577836800000000000ULL, 1);
    } else {
        expect_error("clock_time_get refused", e);
        expect_error("clock_res_get refused", r);
    }
    expect("clock_time_get bad id", __wasi_clock_time_get(99, 1, &t1), __WASI_ERRNO_INVAL);
    expect("clock_res_get bad id", __wasi_clock_res_get(99, &res), __WASI_ERRNO_INVAL);

    uint8_t rnd[64] = {0};
    expect("random_get", __wasi_random_get(rnd, sizeof rnd), 0);
    int nonzero = 0;
    for (size_t i = 0; i < sizeof rnd; i++) nonzero |= rnd[i];
    expect("random bytes not all zero", nonzero != 0, 1);
    expect("random_get empty", __wasi_random_get(rnd, 0), 0);
    expect("sched_yield", __wasi_sched_yield(), 0);

    /* stdin has data: a read subscription on it is ready at once. */
    __wasi_subscription_t subs[2];
    __wasi_event_t events[2];
    __wasi_size_t nevents = 0;
    memset(subs, 0, sizeof subs);
    subs[0].userdata = 42;
    subs[0].u.tag = __WASI_EVENTTYPE_FD_READ;
    subs[0].u.u.fd_read.file_descriptor = 0;
    expect("poll_oneoff stdin", __wasi_poll_oneoff(subs, events, 1, &nevents), 0);
    expect("poll_oneoff stdin events", nevents, 1);
    expect("poll_oneoff stdin userdata", events[0].userdata, 42);
    expect("poll_oneoff stdin type", events[0].type, __WASI_EVENTTYPE_FD_READ);
    expect("poll_oneoff stdin error", events[0].error, 0);
    expect("poll_oneoff stdin nbytes", events[0].fd_readwrite.nbytes, 18);

    /* A relative clock timeout of 1 ms. */
    memset(subs, 0, sizeof subs);
    subs[0].userdata = 7;
    subs[0].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    subs[0].u.u.clock.timeout = 1000000;
    nevents = 0;
    e = __wasi_poll_oneoff(subs, events, 1, &nevents);
    if (enabled) {
        expect("poll_oneoff clock", e, 0);
        expect("poll_oneoff clock events", nevents, 1);
        expect("poll_oneoff clock userdata", events[0].userdata, 7);
        expect("poll_oneoff clock type", events[0].type, __WASI_EVENTTYPE_CLOCK);
        expect("poll_oneoff clock error", events[0].error, 0);
    } else {
        /* Refused as a whole or per event, but never a silent success. */
        int refused = e != 0 || (nevents == 1 && events[0].error != 0);
        expect("poll_oneoff clock refused", refused, 1);
    }
    expect("poll_oneoff no subscriptions", __wasi_poll_oneoff(subs, events, 0, &nevents),
           __WASI_ERRNO_INVAL);
    subs[0].u.tag = __WASI_EVENTTYPE_FD_READ;
    subs[0].u.u.fd_read.file_descriptor = 99;
    e = __wasi_poll_oneoff(subs, events, 1, &nevents);
    int badf = e == __WASI_ERRNO_BADF || (e == 0 && nevents == 1 && events[0].error == __WASI_ERRNO_BADF);
    expect("poll_oneoff bad fd", badf, 1);
}

/* ---- descriptors on regular files and streams ---- */
static void group_fd(void) {
    int out = dir_fd("/out");
    int in = dir_fd("/in");
    expect("pre-open /out found", out >= 0, 1);
    expect("pre-open /in found", in >= 0, 1);
    if (out < 0 || in < 0) return;

    __wasi_fd_t fd;
    expect("path_open create", open_at(out, "f.txt", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, ALL, &fd), 0);
    __wasi_ciovec_t iov[2] = {{(const uint8_t *)"abc", 3}, {(const uint8_t *)"defg", 4}};
    __wasi_size_t n = 0;
    expect("fd_write two iovecs", __wasi_fd_write(fd, iov, 2, &n), 0);
    expect("fd_write count", n, 7);
    __wasi_filesize_t pos = 0;
    expect("fd_tell", __wasi_fd_tell(fd, &pos), 0);
    expect("fd_tell value", pos, 7);
    expect("fd_seek set", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos), 0);
    expect("fd_seek set value", pos, 0);
    expect("fd_seek negative", __wasi_fd_seek(fd, -1, __WASI_WHENCE_SET, &pos), __WASI_ERRNO_INVAL);
    expect("fd_seek cur", __wasi_fd_seek(fd, 2, __WASI_WHENCE_CUR, &pos), 0);
    expect("fd_seek cur value", pos, 2);
    expect("fd_seek end", __wasi_fd_seek(fd, -1, __WASI_WHENCE_END, &pos), 0);
    expect("fd_seek end value", pos, 6);
    expect("fd_seek bad whence", __wasi_fd_seek(fd, 0, 7, &pos), __WASI_ERRNO_INVAL);

    char buf[64];
    __wasi_iovec_t rio = {(uint8_t *)buf, sizeof buf};
    expect("fd_read", __wasi_fd_read(fd, &rio, 1, &n), 0);
    expect_bytes("fd_read data", buf, n, "g");
    expect("fd_read at end", __wasi_fd_read(fd, &rio, 1, &n), 0);
    expect("fd_read at end count", n, 0);

    __wasi_errno_t e;
    size_t got = read_at(fd, buf, 3, 2, &e);
    expect("fd_pread", e, 0);
    expect_bytes("fd_pread data", buf, got, "cde");
    __wasi_ciovec_t xy = {(const uint8_t *)"XY", 2};
    expect("fd_pwrite", __wasi_fd_pwrite(fd, &xy, 1, 1, &n), 0);
    expect("fd_pwrite count", n, 2);
    got = read_at(fd, buf, sizeof buf, 0, &e);
    expect_bytes("fd_pwrite result", buf, got, "aXYdefg");
    expect("fd_tell after pread/pwrite", (__wasi_fd_tell(fd, &pos), pos), 7);

    __wasi_filestat_t st;
    expect("fd_filestat_get", __wasi_fd_filestat_get(fd, &st), 0);
    expect("fd_filestat_get size", st.size, 7);
    expect("fd_filestat_get type", st.filetype, __WASI_FILETYPE_REGULAR_FILE);
    expect("fd_filestat_get nlink", st.nlink, 1);

    expect("fd_filestat_set_size shrink", __wasi_fd_filestat_set_size(fd, 3), 0);
    got = read_at(fd, buf, sizeof buf, 0, &e);
    expect_bytes("fd_filestat_set_size shrink result", buf, got, "aXY");
    expect("fd_filestat_set_size grow", __wasi_fd_filestat_set_size(fd, 5), 0);
    got = read_at(fd, buf, sizeof buf, 0, &e);
    expect("fd_filestat_set_size grow length", got, 5);
    expect("fd_filestat_set_size zero fill", buf[3] == 0 && buf[4] == 0, 1);

    expect("fd_allocate", __wasi_fd_allocate(fd, 0, 20), 0);
    __wasi_fd_filestat_get(fd, &st);
    expect("fd_allocate size", st.size, 20);
    expect("fd_allocate within size", __wasi_fd_allocate(fd, 0, 4), 0);
    __wasi_fd_filestat_get(fd, &st);
    expect("fd_allocate keeps size", st.size, 20);

    expect("fd_advise", __wasi_fd_advise(fd, 0, 10, __WASI_ADVICE_SEQUENTIAL), 0);
    expect("fd_advise bad advice", __wasi_fd_advise(fd, 0, 10, 99), __WASI_ERRNO_INVAL);
    expect("fd_sync", __wasi_fd_sync(fd), 0);
    expect("fd_datasync", __wasi_fd_datasync(fd), 0);

    expect("fd_filestat_set_times", __wasi_fd_filestat_set_times(fd, 1000, 2000, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM), 0);
    __wasi_fd_filestat_get(fd, &st);
    expect("fd_filestat_set_times atim", st.atim, 1000);
    expect("fd_filestat_set_times mtim", st.mtim, 2000);
    expect("fd_filestat_set_times conflicting flags",
           __wasi_fd_filestat_set_times(fd, 1, 1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW),
           __WASI_ERRNO_INVAL);

    __wasi_fdstat_t fs;
    expect("fd_fdstat_get", __wasi_fd_fdstat_get(fd, &fs), 0);
    expect("fd_fdstat_get type", fs.fs_filetype, __WASI_FILETYPE_REGULAR_FILE);
    expect("fd_fdstat_get can read", (fs.fs_rights_base & __WASI_RIGHTS_FD_READ) != 0, 1);
    expect("fd_fdstat_set_flags append", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND), 0);
    __wasi_fd_fdstat_get(fd, &fs);
    expect("fd_fdstat_get append flag", fs.fs_flags & __WASI_FDFLAGS_APPEND, __WASI_FDFLAGS_APPEND);
    __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos);
    expect("append write", write_all(fd, "Z", &n), 0);
    __wasi_fd_filestat_get(fd, &st);
    expect("append write goes to the end", st.size, 21);

    expect("fd_fdstat_set_rights drop read",
           __wasi_fd_fdstat_set_rights(fd, fs.fs_rights_base & ~__WASI_RIGHTS_FD_READ, 0), 0);
    expect_either("fd_read without the right", __wasi_fd_read(fd, &rio, 1, &n),
                  __WASI_ERRNO_NOTCAPABLE, __WASI_ERRNO_BADF);
    expect("fd_fdstat_set_rights cannot add", __wasi_fd_fdstat_set_rights(fd, ALL, 0),
           __WASI_ERRNO_NOTCAPABLE);

    __wasi_fd_t fd2;
    expect("path_open second", open_at(out, "g.txt", __WASI_OFLAGS_CREAT, ALL, &fd2), 0);
    expect("fd_renumber", __wasi_fd_renumber(fd, fd2), 0);
    expect("fd_renumber closes the source", __wasi_fd_fdstat_get(fd, &fs), __WASI_ERRNO_BADF);
    __wasi_fd_filestat_get(fd2, &st);
    expect("fd_renumber target is the file", st.size, 21);
    expect("fd_renumber bad source", __wasi_fd_renumber(77, fd2), __WASI_ERRNO_BADF);
    expect("fd_close", __wasi_fd_close(fd2), 0);
    expect("fd_close twice", __wasi_fd_close(fd2), __WASI_ERRNO_BADF);
    expect("fd_write bad fd", write_all(99, "x", &n), __WASI_ERRNO_BADF);
    expect("fd_filestat_get bad fd", __wasi_fd_filestat_get(99, &st), __WASI_ERRNO_BADF);

    __wasi_prestat_t pre;
    expect("fd_prestat_get", __wasi_fd_prestat_get(out, &pre), 0);
    expect("fd_prestat_get name length", pre.u.dir.pr_name_len, 4);
    char name[8] = {0};
    expect("fd_prestat_dir_name", __wasi_fd_prestat_dir_name(out, (uint8_t *)name, 4), 0);
    expect_bytes("fd_prestat_dir_name value", name, 4, "/out");
    expect_error("fd_prestat_dir_name short buffer", __wasi_fd_prestat_dir_name(out, (uint8_t *)name, 2));
    expect("fd_prestat_get stdout", __wasi_fd_prestat_get(1, &pre), __WASI_ERRNO_BADF);
    expect("fd_prestat_get bad fd", __wasi_fd_prestat_get(99, &pre), __WASI_ERRNO_BADF);

    /* A read-only file: reading works, writing is refused. */
    __wasi_fd_t ro;
    expect("path_open read-only", open_at(in, "data.txt", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_FILESTAT_GET, &ro), 0);
    got = read_at(ro, buf, sizeof buf, 0, &e);
    expect_bytes("read-only file data", buf, got, "hello, world\n");
    expect_either("fd_write on read-only descriptor", write_all(ro, "x", &n), __WASI_ERRNO_NOTCAPABLE, __WASI_ERRNO_BADF);
    expect_error("path_open for writing without w", open_at(in, "data.txt", 0, __WASI_RIGHTS_FD_WRITE, &fd));
    expect_error("path_open truncate without w", open_at(in, "data.txt", __WASI_OFLAGS_TRUNC, ALL, &fd));
    expect("fd_close read-only", __wasi_fd_close(ro), 0);

    /* Streams. */
    rio.buf_len = sizeof buf;
    expect("fd_read stdin", __wasi_fd_read(0, &rio, 1, &n), 0);
    expect_bytes("fd_read stdin data", buf, n, "line one\nline two\n");
    expect("fd_read stdin at end", __wasi_fd_read(0, &rio, 1, &n), 0);
    expect("fd_read stdin at end count", n, 0);
    /* A stream has no seek right (ENOTCAPABLE) or cannot seek (ESPIPE). */
    expect_either("fd_seek on stdout", __wasi_fd_seek(1, 0, __WASI_WHENCE_SET, &pos), __WASI_ERRNO_SPIPE, __WASI_ERRNO_NOTCAPABLE);
    expect("fd_fdstat_get stdout", __wasi_fd_fdstat_get(1, &fs), 0);
    expect("fd_write stderr", write_all(2, "to stderr\n", &n), 0);
    expect("fd_write stderr count", n, 10);
}

/* ---- path operations ---- */
static void group_path(void) {
    int out = dir_fd("/out");
    expect("pre-open /out found", out >= 0, 1);
    if (out < 0) return;
    __wasi_fd_t fd;
    __wasi_size_t n;
    __wasi_filestat_t st;
    char buf[64];

    expect("path_create_directory", __wasi_path_create_directory(out, "d"), 0);
    expect("path_create_directory existing", __wasi_path_create_directory(out, "d"), __WASI_ERRNO_EXIST);
    expect("path_create_directory missing parent", __wasi_path_create_directory(out, "nope/d"), __WASI_ERRNO_NOENT);
    expect("path_filestat_get dir", __wasi_path_filestat_get(out, 0, "d", &st), 0);
    expect("path_filestat_get dir type", st.filetype, __WASI_FILETYPE_DIRECTORY);
    expect("path_filestat_get missing", __wasi_path_filestat_get(out, 0, "missing", &st), __WASI_ERRNO_NOENT);

    expect("path_open create in subdir", open_at(out, "d/a.txt", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, ALL, &fd), 0);
    write_all(fd, "aaa", &n);
    __wasi_fd_close(fd);
    expect("path_open exclusive existing", open_at(out, "d/a.txt", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, ALL, &fd), __WASI_ERRNO_EXIST);
    expect("path_open missing", open_at(out, "d/none.txt", 0, ALL, &fd), __WASI_ERRNO_NOENT);
    expect("path_open file as directory", open_at(out, "d/a.txt", __WASI_OFLAGS_DIRECTORY, ALL, &fd), __WASI_ERRNO_NOTDIR);
    expect("path_open through a file", open_at(out, "d/a.txt/x", 0, ALL, &fd), __WASI_ERRNO_NOTDIR);
    expect("path_open inner dotdot", open_at(out, "d/../d/./a.txt", 0, ALL, &fd), 0);
    __wasi_fd_close(fd);

    expect("path_link", __wasi_path_link(out, 0, "d/a.txt", out, "d/b.txt"), 0);
    __wasi_path_filestat_get(out, 0, "d/a.txt", &st);
    expect("path_link nlink", st.nlink, 2);
    __wasi_inode_t ino_a = st.ino;
    __wasi_path_filestat_get(out, 0, "d/b.txt", &st);
    expect("path_link same inode", st.ino, ino_a);
    expect("path_link onto existing", __wasi_path_link(out, 0, "d/a.txt", out, "d/b.txt"), __WASI_ERRNO_EXIST);
    expect("path_link missing source", __wasi_path_link(out, 0, "d/zz", out, "d/yy"), __WASI_ERRNO_NOENT);
    expect_either("path_link directory", __wasi_path_link(out, 0, "d", out, "d2"), __WASI_ERRNO_PERM, __WASI_ERRNO_ISDIR);

    expect("path_symlink", __wasi_path_symlink("a.txt", out, "d/s"), 0);
    expect("path_symlink existing", __wasi_path_symlink("a.txt", out, "d/s"), __WASI_ERRNO_EXIST);
    __wasi_size_t used = 0;
    expect("path_readlink", __wasi_path_readlink(out, "d/s", (uint8_t *)buf, sizeof buf, &used), 0);
    expect_bytes("path_readlink target", buf, used, "a.txt");
    expect("path_readlink truncated", __wasi_path_readlink(out, "d/s", (uint8_t *)buf, 2, &used), 0);
    expect("path_readlink truncated length", used, 2);
    expect("path_readlink not a link", __wasi_path_readlink(out, "d/a.txt", (uint8_t *)buf, sizeof buf, &used), __WASI_ERRNO_INVAL);
    expect("path_filestat_get link", __wasi_path_filestat_get(out, 0, "d/s", &st), 0);
    expect("path_filestat_get link type", st.filetype, __WASI_FILETYPE_SYMBOLIC_LINK);
    expect("path_filestat_get follow", __wasi_path_filestat_get(out, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "d/s", &st), 0);
    expect("path_filestat_get follow type", st.filetype, __WASI_FILETYPE_REGULAR_FILE);
    expect("path_filestat_get follow size", st.size, 3);
    expect("path_open through link", open_at(out, "d/s", 0, ALL, &fd), 0);
    __wasi_iovec_t rio = {(uint8_t *)buf, sizeof buf};
    __wasi_fd_read(fd, &rio, 1, &n);
    expect_bytes("path_open through link data", buf, n, "aaa");
    __wasi_fd_close(fd);
    expect("path_open link without follow", __wasi_path_open(out, 0, "d/s", 0, ALL, ALL, 0, &fd), __WASI_ERRNO_LOOP);
    expect("path_symlink loop", __wasi_path_symlink("loop", out, "loop"), 0);
    expect("path_open symlink loop", open_at(out, "loop", 0, ALL, &fd), __WASI_ERRNO_LOOP);

    expect("path_rename", __wasi_path_rename(out, "d/a.txt", out, "d/c.txt"), 0);
    expect("path_rename source gone", __wasi_path_filestat_get(out, 0, "d/a.txt", &st), __WASI_ERRNO_NOENT);
    expect("path_rename target there", __wasi_path_filestat_get(out, 0, "d/c.txt", &st), 0);
    expect("path_rename missing", __wasi_path_rename(out, "d/none", out, "d/x"), __WASI_ERRNO_NOENT);
    expect("path_rename dir into itself", __wasi_path_rename(out, "d", out, "d/sub"), __WASI_ERRNO_INVAL);
    expect("path_rename file over dir", __wasi_path_rename(out, "d/c.txt", out, "d"), __WASI_ERRNO_ISDIR);
    __wasi_path_create_directory(out, "e");
    expect("path_rename dir to new name", __wasi_path_rename(out, "e", out, "e2"), 0);

    expect("path_filestat_set_times", __wasi_path_filestat_set_times(out, 0, "d/c.txt", 5, 6, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM), 0);
    __wasi_path_filestat_get(out, 0, "d/c.txt", &st);
    expect("path_filestat_set_times atim", st.atim, 5);
    expect("path_filestat_set_times mtim", st.mtim, 6);
    expect("path_filestat_set_times missing", __wasi_path_filestat_set_times(out, 0, "d/none", 5, 6, __WASI_FSTFLAGS_ATIM), __WASI_ERRNO_NOENT);
    expect("path_filestat_set_times conflicting flags",
           __wasi_path_filestat_set_times(out, 0, "d/c.txt", 1, 1, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW),
           __WASI_ERRNO_INVAL);

    expect("path_remove_directory not empty", __wasi_path_remove_directory(out, "d"), __WASI_ERRNO_NOTEMPTY);
    expect("path_remove_directory on file", __wasi_path_remove_directory(out, "d/c.txt"), __WASI_ERRNO_NOTDIR);
    expect_either("path_unlink_file on dir", __wasi_path_unlink_file(out, "d"), __WASI_ERRNO_ISDIR, __WASI_ERRNO_PERM);
    expect("path_unlink_file", __wasi_path_unlink_file(out, "d/c.txt"), 0);
    expect("path_unlink_file again", __wasi_path_unlink_file(out, "d/c.txt"), __WASI_ERRNO_NOENT);
    __wasi_path_filestat_get(out, 0, "d/b.txt", &st);
    expect("path_unlink_file keeps other link", st.nlink, 1);
    expect("path_unlink_file link", __wasi_path_unlink_file(out, "d/s"), 0);
    expect("path_unlink_file b", __wasi_path_unlink_file(out, "d/b.txt"), 0);
    expect("path_remove_directory", __wasi_path_remove_directory(out, "d"), 0);
    expect("path_remove_directory again", __wasi_path_remove_directory(out, "d"), __WASI_ERRNO_NOENT);

    /* An open file survives its unlinking. */
    expect("open then unlink: open", open_at(out, "tmp.txt", __WASI_OFLAGS_CREAT, ALL, &fd), 0);
    write_all(fd, "still here", &n);
    expect("open then unlink: unlink", __wasi_path_unlink_file(out, "tmp.txt"), 0);
    __wasi_errno_t e;
    size_t got = read_at(fd, buf, sizeof buf, 0, &e);
    expect_bytes("open then unlink: data", buf, got, "still here");
    __wasi_fd_close(fd);

    /* Files the run leaves behind, for the test to find in the VFS. */
    expect("path_create_directory result", __wasi_path_create_directory(out, "result"), 0);
    expect("path_open result", open_at(out, "result/file.txt", __WASI_OFLAGS_CREAT, ALL, &fd), 0);
    write_all(fd, "written by the program\n", &n);
    __wasi_fd_close(fd);
}

/* ---- directory listing ---- */
static void group_dir(void) {
    int out = dir_fd("/out");
    expect("pre-open /out found", out >= 0, 1);
    if (out < 0) return;
    __wasi_fd_t fd, dir;
    __wasi_size_t n;
    expect("mkdir r", __wasi_path_create_directory(out, "r"), 0);
    const char *names[] = {"r/x", "r/yy", "r/zzz"};
    for (int i = 0; i < 3; i++) {
        expect("create entry", open_at(out, names[i], __WASI_OFLAGS_CREAT, ALL, &fd), 0);
        __wasi_fd_close(fd);
    }
    expect("path_open directory", open_at(out, "r", __WASI_OFLAGS_DIRECTORY, DIR_RIGHTS, &dir), 0);
    expect("path_open directory for writing", open_at(out, "r", __WASI_OFLAGS_DIRECTORY, ALL, &fd), __WASI_ERRNO_ISDIR);
    uint8_t buf[1024];
    __wasi_size_t used = 0;
    expect("fd_readdir", __wasi_fd_readdir(dir, buf, sizeof buf, 0, &used), 0);
    int seen = 0, count = 0;
    __wasi_dircookie_t first_next = 0;
    char first_name[32] = {0};
    for (size_t off = 0; off + sizeof(__wasi_dirent_t) <= used;) {
        __wasi_dirent_t ent;
        memcpy(&ent, buf + off, sizeof ent);
        const char *name = (const char *)buf + off + sizeof ent;
        if (count == 0) {
            first_next = ent.d_next;
            snprintf(first_name, sizeof first_name, "%.*s", (int)ent.d_namlen, name);
        }
        count++;
        if (ent.d_namlen == 1 && memcmp(name, "x", 1) == 0 && ent.d_type == __WASI_FILETYPE_REGULAR_FILE) seen |= 1;
        if (ent.d_namlen == 2 && memcmp(name, "yy", 2) == 0) seen |= 2;
        if (ent.d_namlen == 3 && memcmp(name, "zzz", 3) == 0) seen |= 4;
        off += sizeof ent + ent.d_namlen;
    }
    expect("fd_readdir lists every file", seen, 7);
    /* Resuming from the first entry's cookie skips exactly that entry. */
    __wasi_size_t used2 = 0;
    expect("fd_readdir resume", __wasi_fd_readdir(dir, buf, sizeof buf, first_next, &used2), 0);
    int count2 = 0, first_again = 0;
    for (size_t off = 0; off + sizeof(__wasi_dirent_t) <= used2;) {
        __wasi_dirent_t ent;
        memcpy(&ent, buf + off, sizeof ent);
        const char *name = (const char *)buf + off + sizeof ent;
        if (strlen(first_name) == ent.d_namlen && memcmp(name, first_name, ent.d_namlen) == 0) first_again = 1;
        count2++;
        off += sizeof ent + ent.d_namlen;
    }
    expect("fd_readdir resume count", count2, count - 1);
    expect("fd_readdir resume skips the first", first_again, 0);
    expect("fd_readdir small buffer", __wasi_fd_readdir(dir, buf, 30, 0, &used), 0);
    expect("fd_readdir small buffer is full", used, 30);
    expect("fd_readdir past the end", __wasi_fd_readdir(dir, buf, sizeof buf, 1000000, &used), 0);
    expect("fd_readdir past the end is empty", used, 0);
    expect("open file for readdir", open_at(out, "r/x", 0, ALL, &fd), 0);
    expect_either("fd_readdir on a file", __wasi_fd_readdir(fd, buf, sizeof buf, 0, &used), __WASI_ERRNO_NOTDIR, __WASI_ERRNO_NOTCAPABLE);
    __wasi_fd_close(fd);
    __wasi_fdstat_t fs;
    __wasi_fd_fdstat_get(dir, &fs);
    expect("fd_fdstat_get directory type", fs.fs_filetype, __WASI_FILETYPE_DIRECTORY);
    __wasi_filestat_t st;
    expect("fd_filestat_get directory", __wasi_fd_filestat_get(dir, &st), 0);
    expect("fd_filestat_get directory type", st.filetype, __WASI_FILETYPE_DIRECTORY);
    __wasi_iovec_t rio = {buf, sizeof buf};
    expect_either("fd_read on a directory", __wasi_fd_read(dir, &rio, 1, &n), __WASI_ERRNO_ISDIR, __WASI_ERRNO_NOTCAPABLE);
    __wasi_fd_close(dir);

    /* The same through libc. */
    DIR *d = opendir("/out/r");
    expect("opendir", d != NULL, 1);
    int libc_seen = 0;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, "x") == 0 || strcmp(de->d_name, "yy") == 0 || strcmp(de->d_name, "zzz") == 0) libc_seen++;
        }
        closedir(d);
    }
    expect("readdir through libc", libc_seen, 3);
}

/* ---- sockets: none exist ---- */
static void group_sock(void) {
    __wasi_fd_t fd;
    __wasi_size_t n;
    __wasi_roflags_t roflags;
    uint8_t b[4];
    __wasi_iovec_t iov = {b, sizeof b};
    __wasi_ciovec_t ciov = {b, sizeof b};
    expect("sock_accept bad fd", __wasi_sock_accept(99, 0, &fd), __WASI_ERRNO_BADF);
    expect("sock_recv bad fd", __wasi_sock_recv(99, &iov, 1, 0, &n, &roflags), __WASI_ERRNO_BADF);
    expect("sock_send bad fd", __wasi_sock_send(99, &ciov, 1, 0, &n), __WASI_ERRNO_BADF);
    expect("sock_shutdown bad fd", __wasi_sock_shutdown(99, __WASI_SDFLAGS_RD), __WASI_ERRNO_BADF);
    expect_either("sock_accept not a socket", __wasi_sock_accept(1, 0, &fd), __WASI_ERRNO_NOTSUP, __WASI_ERRNO_NOTSOCK);
    expect_either("sock_recv not a socket", __wasi_sock_recv(0, &iov, 1, 0, &n, &roflags), __WASI_ERRNO_NOTSUP, __WASI_ERRNO_NOTSOCK);
    expect_either("sock_send not a socket", __wasi_sock_send(1, &ciov, 1, 0, &n), __WASI_ERRNO_NOTSUP, __WASI_ERRNO_NOTSOCK);
    expect_either("sock_shutdown not a socket", __wasi_sock_shutdown(1, __WASI_SDFLAGS_WR), __WASI_ERRNO_NOTSUP, __WASI_ERRNO_NOTSOCK);
}

/* ---- capabilities: nothing outside the program's rights is reachable ---- */
static int leaks(const char *data, size_t len) {
    return len >= 3 && memmem(data, len, "top", 3) != NULL;
}

static void group_caps(void) {
    int out = dir_fd("/out");
    int in = dir_fd("/in");
    expect("pre-open /out found", out >= 0, 1);
    expect("pre-open /in found", in >= 0, 1);
    if (out < 0 || in < 0) return;
    __wasi_fd_t fd;
    __wasi_size_t n;
    __wasi_filestat_t st;
    char buf[128];
    __wasi_errno_t e;

    expect("no pre-open for /secret", preopen("/secret"), -1);
    FILE *f = fopen("/secret/key.txt", "r");
    expect("fopen absolute secret", f == NULL, 1);
    if (f) fclose(f);
    expect_error("path_open dotdot to secret", open_at(out, "../secret/key.txt", 0, ALL, &fd));
    expect_error("path_open dotdot to sibling pre-open", open_at(out, "../in/data.txt", 0, ALL, &fd));
    expect_error("path_open deep dotdot", open_at(out, "ro/../../secret/key.txt", 0, ALL, &fd));
    expect_error("path_open absolute", open_at(out, "/secret/key.txt", 0, ALL, &fd));
    expect_error("path_open absolute in", open_at(in, "/in/data.txt", 0, ALL, &fd));
    expect_error("path_filestat_get dotdot", __wasi_path_filestat_get(out, 0, "../secret/key.txt", &st));
    expect_error("path_filestat_get dotdot dir", __wasi_path_filestat_get(out, 0, "..", &st));
    expect_error("path_open dotdot dir", open_at(out, "..", __WASI_OFLAGS_DIRECTORY, ALL, &fd));
    DIR *d = opendir("/secret");
    expect("opendir secret", d == NULL, 1);
    if (d) closedir(d);
    struct stat sst;
    expect("stat secret", stat("/secret/key.txt", &sst), -1);

    /* Symbolic links pointing outside resolve to nothing. */
    if (__wasi_path_symlink("../secret/key.txt", out, "l_rel") == 0) {
        e = open_at(out, "l_rel", 0, ALL, &fd);
        expect_error("open relative escaping link", e);
        if (e == 0) {
            size_t got = read_at(fd, buf, sizeof buf, 0, &e);
            expect("escaping link leaks nothing", leaks(buf, got), 0);
        }
    }
    if (__wasi_path_symlink("/secret/key.txt", out, "l_abs") == 0) {
        expect_error("open absolute link", open_at(out, "l_abs", 0, ALL, &fd));
        expect_error("stat through absolute link", __wasi_path_filestat_get(out, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "l_abs", &st));
    }
    if (__wasi_path_symlink("..", out, "up") == 0) {
        expect_error("open through dotdot link", open_at(out, "up/secret/key.txt", 0, ALL, &fd));
        expect_error("open dir through dotdot link", open_at(out, "up", __WASI_OFLAGS_DIRECTORY, ALL, &fd));
    }
    f = fopen("/out/up/in/data.txt", "r");
    expect("fopen through dotdot link", f == NULL, 1);
    if (f) fclose(f);

    /* Read-only places stay read-only. */
    expect_error("create in read-only dir", open_at(in, "new.txt", __WASI_OFLAGS_CREAT, ALL, &fd));
    expect_error("mkdir in read-only dir", __wasi_path_create_directory(in, "newdir"));
    expect_error("unlink read-only file", __wasi_path_unlink_file(in, "data.txt"));
    expect_error("set size of read-only file", (open_at(in, "data.txt", 0, __WASI_RIGHTS_FD_READ, &fd) == 0)
                                                    ? __wasi_fd_filestat_set_size(fd, 0) : 1);
    expect_error("set times on read-only file", __wasi_path_filestat_set_times(in, 0, "data.txt", 1, 1, __WASI_FSTFLAGS_MTIM));
    expect_error("symlink in read-only dir", __wasi_path_symlink("x", in, "link"));
    expect_error("create in read-only subtree", open_at(out, "ro/new.txt", __WASI_OFLAGS_CREAT, ALL, &fd));
    expect_error("write read-only subtree file", open_at(out, "ro/keep.txt", __WASI_OFLAGS_TRUNC, ALL, &fd));

    /* Renames and links cannot carry a file to a path with more rights, or away. */
    expect_error("rename out of read-only dir", __wasi_path_rename(in, "data.txt", out, "stolen.txt"));
    expect_error("rename out of read-only subtree", __wasi_path_rename(out, "ro/keep.txt", out, "keep.txt"));
    expect_error("rename read-only subtree", __wasi_path_rename(out, "ro", out, "rw"));
    open_at(out, "mine.txt", __WASI_OFLAGS_CREAT, ALL, &fd);
    __wasi_fd_close(fd);
    expect_error("rename into read-only dir", __wasi_path_rename(out, "mine.txt", in, "data.txt"));
    expect_error("rename into read-only subtree", __wasi_path_rename(out, "mine.txt", out, "ro/keep.txt"));
    e = __wasi_path_link(in, 0, "data.txt", out, "hard");
    if (e == 0) {
        /* If a runtime allows the link, writing through it must not change the original. */
        if (open_at(out, "hard", __WASI_OFLAGS_TRUNC, ALL, &fd) == 0) {
            write_all(fd, "overwritten", &n);
            __wasi_fd_close(fd);
        }
        __wasi_fd_t ro;
        open_at(in, "data.txt", 0, __WASI_RIGHTS_FD_READ, &ro);
        size_t got = read_at(ro, buf, sizeof buf, 0, &e);
        expect_bytes("hard link cannot change a read-only file", buf, got, "hello, world\n");
    } else {
        expect_error("hard link of read-only file refused", e);
    }
    expect_error("hard link into read-only subtree", __wasi_path_link(out, 0, "mine.txt", out, "ro/mine.txt"));

    /* Renaming a writable file keeps it writable and readable under its new name only. */
    expect("rename own file", __wasi_path_rename(out, "mine.txt", out, "renamed.txt"), 0);
    expect("renamed file readable", open_at(out, "renamed.txt", 0, ALL, &fd), 0);
    __wasi_fd_close(fd);
    expect("old name gone", open_at(out, "mine.txt", 0, ALL, &fd), __WASI_ERRNO_NOENT);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: wasi_suite args|clock [on]|fd|path|dir|sock|caps\n");
        return 100;
    }
    const char *g = argv[1];
    if (strcmp(g, "args") == 0) group_args(argc, argv);
    else if (strcmp(g, "clock") == 0) group_clock(argc > 2 && strcmp(argv[2], "on") == 0);
    else if (strcmp(g, "fd") == 0) group_fd();
    else if (strcmp(g, "path") == 0) group_path();
    else if (strcmp(g, "dir") == 0) group_dir();
    else if (strcmp(g, "sock") == 0) group_sock();
    else if (strcmp(g, "caps") == 0) group_caps();
    else {
        fprintf(stderr, "unknown group %s\n", g);
        return 100;
    }
    printf("%d failed\n", failures);
    fflush(stdout);
    /* Through proc_exit, so the exit path is the explicit one. */
    __wasi_proc_exit(failures);
}
