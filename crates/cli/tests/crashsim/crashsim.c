/* crashsim: an LD_PRELOAD shim that records what a power cut would undo.
 *
 * For every file under $CRASHSIM_DIR it appends to $CRASHSIM_LOG, before the
 * real call, what the call overwrites: the old bytes of a write, the old tail
 * of a truncate, the creation of a file, a rename; and every fsync/fdatasync
 * of a file or directory. It changes nothing the process sees. After the
 * process is killed, the test replays the log and undoes, newest first,
 * everything not made durable by a later fsync of that file (data) or of its
 * directory (creations, renames): the disk as a power cut that kept no
 * unflushed page would leave it. SQLite's shared-memory index (-shm) is not
 * tracked: SQLite rebuilds it after a crash.
 *
 * Record: u8 type, u32 path length, path, u32 second path length, second
 * path, u64 a, u64 b, u64 data length, data. Little endian (the host's).
 *   'W' write:    path, a = offset, b = size before, data = old bytes there
 *   'T' truncate: path, a = new size, b = size before, data = old tail
 *   'C' create:   path (did not exist before the open)
 *   'R' rename:   path = from, second = to
 *   'S' sync:     path (a file or a directory)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS 65536

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *paths[MAX_FDS];
static char dir[PATH_MAX];
static size_t dir_len;
static int log_fd = -1;
static int ready;

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);

static void init(void) {
    if (ready) return;
    real_open = dlsym(RTLD_NEXT, "open");
    real_open64 = dlsym(RTLD_NEXT, "open64");
    real_openat = dlsym(RTLD_NEXT, "openat");
    real_openat64 = dlsym(RTLD_NEXT, "openat64");
    real_close = dlsym(RTLD_NEXT, "close");
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_writev = dlsym(RTLD_NEXT, "writev");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_rename = dlsym(RTLD_NEXT, "rename");
    real_renameat = dlsym(RTLD_NEXT, "renameat");
    const char *d = getenv("CRASHSIM_DIR");
    const char *l = getenv("CRASHSIM_LOG");
    if (d && l && strlen(d) < sizeof dir - 1) {
        strcpy(dir, d);
        dir_len = strlen(dir);
        log_fd = real_open(l, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    }
    ready = 1;
}

static void die(const char *what) {
    /* A record we cannot write would make the replay lie: stop hard. */
    char msg[256];
    int n = snprintf(msg, sizeof msg, "crashsim: %s: %s\n", what, strerror(errno));
    if (n > 0) real_write(2, msg, (size_t)n);
    abort();
}

static void put(const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t k = real_write(log_fd, c, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            die("writing the log");
        }
        c += k;
        n -= (size_t)k;
    }
}

static void record(char type, const char *path, const char *second, uint64_t a, uint64_t b,
                   const void *data, uint64_t len) {
    uint32_t n1 = (uint32_t)strlen(path), n2 = second ? (uint32_t)strlen(second) : 0;
    put(&type, 1);
    put(&n1, 4);
    put(path, n1);
    put(&n2, 4);
    if (n2) put(second, n2);
    put(&a, 8);
    put(&b, 8);
    put(&len, 8);
    if (len) put(data, len);
}

static int tracked_path(const char *p) {
    size_t n;
    if (log_fd < 0 || !p) return 0;
    if (strncmp(p, dir, dir_len) != 0 || (p[dir_len] != '/' && p[dir_len] != 0)) return 0;
    n = strlen(p);
    return !(n >= 4 && strcmp(p + n - 4, "-shm") == 0);
}

/* Absolute path of `p` relative to `dirfd` (AT_FDCWD or a tracked fd). */
static int absolute(int dirfd, const char *p, char *out) {
    if (p[0] == '/') {
        if (strlen(p) >= PATH_MAX) return 0;
        strcpy(out, p);
        return 1;
    }
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
        if (!getcwd(base, sizeof base)) return 0;
    } else if (dirfd >= 0 && dirfd < MAX_FDS && paths[dirfd]) {
        strcpy(base, paths[dirfd]);
    } else {
        return 0;
    }
    size_t nb = strlen(base), np = strlen(p);
    if (nb + 1 + np >= PATH_MAX) return 0;
    memcpy(out, base, nb);
    out[nb] = '/';
    memcpy(out + nb + 1, p, np + 1);
    return 1;
}

static void opened(int fd, int dirfd, const char *p, int existed, int flags) {
    char abs[PATH_MAX];
    if (fd < 0 || fd >= MAX_FDS || log_fd < 0 || !absolute(dirfd, p, abs)) return;
    if (!tracked_path(abs)) return;
    pthread_mutex_lock(&lock);
    free(paths[fd]);
    paths[fd] = strdup(abs);
    if (!existed && (flags & O_CREAT)) record('C', abs, NULL, 0, 0, NULL, 0);
    pthread_mutex_unlock(&lock);
}

static int exists_at(int dirfd, const char *p) {
    return faccessat(dirfd, p, F_OK, 0) == 0;
}

#define OPEN_BODY(call, dirfd)                                        \
    init();                                                           \
    mode_t mode = 0;                                                  \
    if (flags & (O_CREAT | O_TMPFILE)) {                              \
        va_list ap;                                                   \
        va_start(ap, flags);                                          \
        mode = va_arg(ap, mode_t);                                    \
        va_end(ap);                                                   \
    }                                                                 \
    int existed = (flags & O_CREAT) ? exists_at(dirfd, path) : 1;     \
    int fd = call;                                                    \
    if (fd >= 0) opened(fd, dirfd, path, existed, flags);             \
    return fd;

int open(const char *path, int flags, ...) { OPEN_BODY(real_open(path, flags, mode), AT_FDCWD) }
int open64(const char *path, int flags, ...) { OPEN_BODY(real_open64(path, flags, mode), AT_FDCWD) }
int openat(int dirfd, const char *path, int flags, ...) {
    OPEN_BODY(real_openat(dirfd, path, flags, mode), dirfd)
}
int openat64(int dirfd, const char *path, int flags, ...) {
    OPEN_BODY(real_openat64(dirfd, path, flags, mode), dirfd)
}

int close(int fd) {
    init();
    if (fd >= 0 && fd < MAX_FDS && paths[fd]) {
        pthread_mutex_lock(&lock);
        free(paths[fd]);
        paths[fd] = NULL;
        pthread_mutex_unlock(&lock);
    }
    return real_close(fd);
}

/* Records the old bytes of [off, off+len) of fd's file. Holds `lock`. */
static void before_write(int fd, off_t off, size_t len) {
    struct stat st;
    if (fstat(fd, &st) != 0) die("fstat");
    uint64_t size = (uint64_t)st.st_size, o = (uint64_t)off;
    uint64_t keep = o >= size ? 0 : (size - o < len ? size - o : len);
    char *old = keep ? malloc(keep) : NULL;
    if (keep && !old) die("malloc");
    uint64_t got = 0;
    while (got < keep) {
        ssize_t k = pread(fd, old + got, keep - got, (off_t)(o + got));
        if (k <= 0) die("reading old bytes");
        got += (uint64_t)k;
    }
    record('W', paths[fd], NULL, o, size, old, keep);
    free(old);
}

static int tracked(int fd) { return fd >= 0 && fd < MAX_FDS && paths[fd] != NULL; }

static off_t write_offset(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_APPEND)) {
        struct stat st;
        if (fstat(fd, &st) != 0) die("fstat");
        return st.st_size;
    }
    return lseek(fd, 0, SEEK_CUR);
}

ssize_t write(int fd, const void *buf, size_t n) {
    init();
    if (!tracked(fd)) return real_write(fd, buf, n);
    pthread_mutex_lock(&lock);
    before_write(fd, write_offset(fd), n);
    ssize_t r = real_write(fd, buf, n);
    pthread_mutex_unlock(&lock);
    return r;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    init();
    if (!tracked(fd)) return real_writev(fd, iov, cnt);
    size_t n = 0;
    for (int i = 0; i < cnt; i++) n += iov[i].iov_len;
    pthread_mutex_lock(&lock);
    before_write(fd, write_offset(fd), n);
    ssize_t r = real_writev(fd, iov, cnt);
    pthread_mutex_unlock(&lock);
    return r;
}

#define PWRITE_BODY(real)                                  \
    init();                                                \
    if (!tracked(fd)) return real(fd, buf, n, off);        \
    pthread_mutex_lock(&lock);                             \
    before_write(fd, off, n);                              \
    ssize_t r = real(fd, buf, n, off);                     \
    pthread_mutex_unlock(&lock);                           \
    return r;

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) { PWRITE_BODY(real_pwrite) }
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) { PWRITE_BODY(real_pwrite64) }

#define TRUNC_BODY(real)                                                      \
    init();                                                                   \
    if (!tracked(fd)) return real(fd, len);                                   \
    pthread_mutex_lock(&lock);                                                \
    struct stat st;                                                           \
    if (fstat(fd, &st) != 0) die("fstat");                                    \
    uint64_t size = (uint64_t)st.st_size, to = (uint64_t)len;                 \
    uint64_t tail = to < size ? size - to : 0;                                \
    char *old = tail ? malloc(tail) : NULL;                                   \
    if (tail && !old) die("malloc");                                          \
    for (uint64_t got = 0; got < tail;) {                                     \
        ssize_t k = pread(fd, old + got, tail - got, (off_t)(to + got));      \
        if (k <= 0) die("reading the old tail");                              \
        got += (uint64_t)k;                                                   \
    }                                                                         \
    record('T', paths[fd], NULL, to, size, old, tail);                        \
    free(old);                                                                \
    int r = real(fd, len);                                                    \
    pthread_mutex_unlock(&lock);                                              \
    return r;

int ftruncate(int fd, off_t len) { TRUNC_BODY(real_ftruncate) }
int ftruncate64(int fd, off_t len) { TRUNC_BODY(real_ftruncate64) }

#define SYNC_BODY(real)                                       \
    init();                                                   \
    int r = real(fd);                                         \
    if (r == 0 && tracked(fd)) {                              \
        pthread_mutex_lock(&lock);                            \
        record('S', paths[fd], NULL, 0, 0, NULL, 0);          \
        pthread_mutex_unlock(&lock);                          \
    }                                                         \
    return r;

int fsync(int fd) { SYNC_BODY(real_fsync) }
int fdatasync(int fd) { SYNC_BODY(real_fdatasync) }

static int rename_common(int olddirfd, const char *from, int newdirfd, const char *to) {
    char a[PATH_MAX], b[PATH_MAX];
    int track = log_fd >= 0 && absolute(olddirfd, from, a) && absolute(newdirfd, to, b) &&
                (tracked_path(a) || tracked_path(b));
    if (!track) return real_renameat(olddirfd, from, newdirfd, to);
    pthread_mutex_lock(&lock);
    if (exists_at(newdirfd, to)) {
        /* The replay cannot bring back a replaced file; nothing here does it. */
        errno = EEXIST;
        die("rename over an existing file is not modelled");
    }
    record('R', a, b, 0, 0, NULL, 0);
    int r = real_renameat(olddirfd, from, newdirfd, to);
    pthread_mutex_unlock(&lock);
    return r;
}

int rename(const char *from, const char *to) {
    init();
    return rename_common(AT_FDCWD, from, AT_FDCWD, to);
}

int renameat(int olddirfd, const char *from, int newdirfd, const char *to) {
    init();
    return rename_common(olddirfd, from, newdirfd, to);
}
