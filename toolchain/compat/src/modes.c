/* The modes a program gives its files, for the wheel launcher.
 *
 * wasmer-sdk's sandbox keeps no permission bits: open(…, O_CREAT, 0755) and mkdir() drop the
 * mode, chmod() fails with ENOSYS and stat() answers 0. The launcher names a record file in
 * WASIX_HOST_MODES (in the sandbox's private area, never written back); with wasix-libc the
 * driver links with --wrap for the calls below, which append one record per mode asked for:
 * "c MODE PATH\0" when a file or directory is created (the host's umask is taken off it, as
 * natively), "m MODE PATH\0" when it is chmod'ed (exact). PATH is absolute, as the program saw
 * it; the launcher applies the last record of each path when it writes the file back.
 * Under the launcher chmod() and friends then succeed for an existing file, as natively;
 * without WASIX_HOST_MODES every call is the C library's own.
 * The offline provider's linker ignores --wrap: there this file is empty. */
#ifndef WASIX_COMPAT_LAYER
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int __real_open(const char *path, int flags, ...);
int __real_openat(int dirfd, const char *path, int flags, ...);
int __real_creat(const char *path, mode_t mode);
int __real___wasilibc_open_nomode(const char *path, int flags);
int __real_mkdir(const char *path, mode_t mode);
int __real_mkdirat(int dirfd, const char *path, mode_t mode);
int __real_chmod(const char *path, mode_t mode);
int __real_fchmod(int fd, mode_t mode);
int __real_fchmodat(int dirfd, const char *path, mode_t mode, int flags);

/* The absolute path of each descriptor opened through here, for fchmod() and *at() calls. */
#define KNOWN_FDS 1024
static char *fd_paths[KNOWN_FDS];

static const char *record_file(void) {
	const char *file = getenv("WASIX_HOST_MODES");
	return file && *file == '/' ? file : NULL;
}

/* `path` made absolute against `dirfd` (AT_FDCWD: the working directory) into `out`. */
static int absolute(int dirfd, const char *path, char *out, size_t size) {
	if (!path || !*path)
		return 0;
	if (path[0] == '/')
		return snprintf(out, size, "%s", path) < (int)size;
	char cwd[PATH_MAX];
	const char *base = cwd;
	if (dirfd == AT_FDCWD) {
		if (!getcwd(cwd, sizeof cwd))
			return 0;
	} else if (dirfd < 0 || dirfd >= KNOWN_FDS || !(base = fd_paths[dirfd])) {
		return 0;
	}
	return snprintf(out, size, "%s/%s", base, path) < (int)size;
}

static void record(char kind, mode_t mode, const char *path) {
	const char *file = record_file();
	if (!file)
		return;
	char line[PATH_MAX + 32];
	int n = snprintf(line, sizeof line, "%c %o %s", kind, (unsigned int)(mode & 07777), path);
	if (n < 0 || n >= (int)sizeof line)
		return;
	int saved = errno;
	int fd = __real_open(file, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (fd >= 0) {
		write(fd, line, (size_t)n + 1); /* with its '\0': a name may hold a newline */
		close(fd);
	}
	errno = saved;
}

static int exists(int dirfd, const char *path) {
	struct stat st;
	return fstatat(dirfd, path, &st, 0) == 0;
}

/* After an open: remember the descriptor's path, and record a creation. Only descriptors
 * fchmod() or a *at() call may be given (made, written, or a directory): a program reading
 * thousands of files pays no getcwd() for each. */
static int opened(int fd, int dirfd, const char *path, int flags, mode_t mode, int existed) {
	if (fd < 0 || (!(flags & (O_CREAT | O_DIRECTORY)) && (flags & O_ACCMODE) == O_RDONLY))
		return fd;
	if (!record_file())
		return fd;
	char full[PATH_MAX];
	if (!absolute(dirfd, path, full, sizeof full))
		return fd;
	if (fd < KNOWN_FDS) {
		free(fd_paths[fd]);
		fd_paths[fd] = strdup(full);
	}
	if ((flags & O_CREAT) && !existed)
		record('c', mode, full);
	return fd;
}

/* Whether an open with these flags finds the file there already (then it keeps its mode). */
static int existed_before(int dirfd, const char *path, int flags) {
	return (flags & O_CREAT) && record_file() && exists(dirfd, path);
}

int __wrap_open(const char *path, int flags, ...) {
	mode_t mode = 0;
	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	int existed = existed_before(AT_FDCWD, path, flags);
	return opened(__real_open(path, flags, mode), AT_FDCWD, path, flags, mode, existed);
}

int __wrap_openat(int dirfd, const char *path, int flags, ...) {
	mode_t mode = 0;
	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	int existed = existed_before(dirfd, path, flags);
	return opened(__real_openat(dirfd, path, flags, mode), dirfd, path, flags, mode, existed);
}

int __wrap_creat(const char *path, mode_t mode) {
	int existed = existed_before(AT_FDCWD, path, O_CREAT);
	return opened(__real_creat(path, mode), AT_FDCWD, path, O_CREAT, mode, existed);
}

/* fopen()'s and tmpfile()'s: files it creates get 0666, as natively. */
int __wrap___wasilibc_open_nomode(const char *path, int flags) {
	int existed = existed_before(AT_FDCWD, path, flags);
	return opened(__real___wasilibc_open_nomode(path, flags), AT_FDCWD, path, flags, 0666, existed);
}

int __wrap_mkdirat(int dirfd, const char *path, mode_t mode) {
	int r = __real_mkdirat(dirfd, path, mode);
	char full[PATH_MAX];
	if (r == 0 && record_file() && absolute(dirfd, path, full, sizeof full))
		record('c', mode, full);
	return r;
}

int __wrap_mkdir(const char *path, mode_t mode) {
	int r = __real_mkdir(path, mode);
	char full[PATH_MAX];
	if (r == 0 && record_file() && absolute(AT_FDCWD, path, full, sizeof full))
		record('c', mode, full);
	return r;
}

/* A chmod the sandbox cannot do (ENOSYS) succeeds once recorded, for an existing file. */
static int changed(int r, const char *full, mode_t mode) {
	if (r != 0 && errno != ENOSYS)
		return r;
	record('m', mode, full);
	return 0;
}

int __wrap_fchmodat(int dirfd, const char *path, mode_t mode, int flags) {
	char full[PATH_MAX];
	struct stat st;
	if (!record_file() || !absolute(dirfd, path, full, sizeof full))
		return __real_fchmodat(dirfd, path, mode, flags);
	if (fstatat(dirfd, path, &st, flags & AT_SYMLINK_NOFOLLOW) != 0)
		return -1;
	if (S_ISLNK(st.st_mode)) { /* as Linux: a symlink's mode cannot be changed */
		errno = EOPNOTSUPP;
		return -1;
	}
	return changed(__real_fchmodat(dirfd, path, mode, flags), full, mode);
}

int __wrap_chmod(const char *path, mode_t mode) {
	char full[PATH_MAX];
	struct stat st;
	if (!record_file() || !absolute(AT_FDCWD, path, full, sizeof full))
		return __real_chmod(path, mode);
	if (stat(path, &st) != 0)
		return -1;
	return changed(__real_chmod(path, mode), full, mode);
}

/* Only for a descriptor opened through here whose path still names the same file. */
int __wrap_fchmod(int fd, mode_t mode) {
	struct stat by_fd, by_path;
	const char *full = fd >= 0 && fd < KNOWN_FDS ? fd_paths[fd] : NULL;
	if (!full || !record_file() || fstat(fd, &by_fd) != 0 || stat(full, &by_path) != 0 ||
	    by_fd.st_dev != by_path.st_dev || by_fd.st_ino != by_path.st_ino)
		return __real_fchmod(fd, mode);
	return changed(__real_fchmod(fd, mode), full, mode);
}
#endif
