/* The modes a program gives its files, for the wheel launcher.
 *
 * wasmer-sdk's sandbox keeps no permission bits: open(…, O_CREAT, 0755) and mkdir() drop the
 * mode, chmod() does nothing (wasix-libc's answers 0, even for a missing file)
 * and stat() answers 0. The launcher names a record file in
 * WASIX_HOST_MODES (in the sandbox's private area, never written back); the driver links
 * with --wrap for the calls below, which append one record per mode asked for:
 * "c MODE PATH\0" when a file or directory is created (the host's umask is taken off it, as
 * natively), "m MODE PATH\0" when it is chmod'ed (exact). PATH is absolute, as the program saw
 * it; the launcher applies the last record of each path when it writes the file back.
 * Under the launcher chmod() and friends then succeed for an existing file, as natively;
 * without WASIX_HOST_MODES every call is the C library's own.
 * stat() and friends answer with the modes too, which the sandbox reports as 0: a program
 * computes a mode from them (`chmod +x`, cp, gzip copying its input's), and one built on 0
 * would make host files unreadable. The launcher starts the record with the host's modes of
 * what it copied in ("h MODE PATH\0") and its umask ("u MASK /\0"); a file known nowhere
 * (made by a call not wrapped) answers what the launcher will give it: 0666 (a directory
 * 0777) less the umask. */
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
int __real_stat(const char *restrict path, struct stat *restrict st);
int __real_lstat(const char *restrict path, struct stat *restrict st);
int __real_fstat(int fd, struct stat *st);
int __real_fstatat(int dirfd, const char *restrict path, struct stat *restrict st, int flags);

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

#define GUEST_ROOT "/workspace/.host"

/* `path` (absolute) without GUEST_ROOT and with no ".", ".." or repeated '/', in place. */
static void normalise(char *path) {
	size_t root = strlen(GUEST_ROOT);
	if (strncmp(path, GUEST_ROOT, root) == 0 && (path[root] == '/' || !path[root]))
		memmove(path, path + root, strlen(path + root) + 1);
	char *out = path;
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (out > path && *--out != '/') {
			}
		} else {
			*out++ = '/';
			memmove(out, p, n);
			out += n;
		}
		p += n;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

/* What each known path's mode is: an open-addressing table, by normalised absolute path. */
typedef struct {
	char *path;
	mode_t mode;
} known_mode;
static known_mode *known;
static size_t known_size, known_used;
static off_t record_read; /* how much of the record file the table holds */
static mode_t host_umask = 022;

static size_t hash(const char *path) {
	size_t h = 2166136261u;
	for (; *path; path++)
		h = (h ^ (unsigned char)*path) * 16777619u;
	return h;
}

static void remember(const char *path, mode_t mode) {
	if (known_used * 2 >= known_size) {
		size_t size = known_size ? known_size * 2 : 1024;
		known_mode *grown = calloc(size, sizeof *grown);
		if (!grown)
			return;
		for (size_t i = 0; i < known_size; i++) {
			if (!known[i].path)
				continue;
			size_t j = hash(known[i].path) & (size - 1);
			while (grown[j].path)
				j = (j + 1) & (size - 1);
			grown[j] = known[i];
		}
		free(known);
		known = grown;
		known_size = size;
	}
	size_t i = hash(path) & (known_size - 1);
	while (known[i].path && strcmp(known[i].path, path) != 0)
		i = (i + 1) & (known_size - 1);
	if (!known[i].path) {
		if (!(known[i].path = strdup(path)))
			return;
		known_used++;
	}
	known[i].mode = mode & 07777;
}

static void take(char kind, mode_t mode, char *path) {
	if (kind == 'u') {
		host_umask = mode & 0777;
		return;
	}
	if (path[0] != '/')
		return;
	normalise(path);
	remember(path, kind == 'c' ? mode & ~host_umask : mode);
}

/* Read the records added since the last time (by this program or another one). */
static void catch_up(const char *file) {
	int fd = __real_open(file, O_RDONLY);
	if (fd < 0)
		return;
	static char *pending;
	static size_t pending_len;
	char chunk[8192];
	if (lseek(fd, record_read, SEEK_SET) == record_read) {
		ssize_t n;
		while ((n = read(fd, chunk, sizeof chunk)) > 0) {
			record_read += n;
			char *joined = realloc(pending, pending_len + (size_t)n + 1);
			if (!joined)
				break;
			pending = joined;
			memcpy(pending + pending_len, chunk, (size_t)n);
			pending_len += (size_t)n;
			size_t start = 0;
			for (size_t i = 0; i < pending_len; i++) {
				if (pending[i] != '\0')
					continue;
				char kind = pending[start];
				unsigned int mode;
				int used = 0;
				if (sscanf(pending + start, "%*c %o %n", &mode, &used) == 1 && used > 0)
					take(kind, (mode_t)mode, pending + start + used);
				start = i + 1;
			}
			memmove(pending, pending + start, pending_len - start);
			pending_len -= start;
		}
	}
	close(fd);
}

/* Fill in the permission bits the sandbox left 0 in `st`, for `full` (NULL: not known). */
static void fill_mode(struct stat *st, char *full) {
	if (st->st_mode & 07777 || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)))
		return;
	const char *file = record_file();
	mode_t mode = (S_ISDIR(st->st_mode) ? 0777 : 0666) & ~host_umask;
	if (file && full) {
		normalise(full);
		for (int pass = 0; pass < 2; pass++) {
			if (pass || !known_size)
				catch_up(file);
			if (!known_size)
				break;
			size_t i = hash(full) & (known_size - 1);
			while (known[i].path && strcmp(known[i].path, full) != 0)
				i = (i + 1) & (known_size - 1);
			if (known[i].path) {
				mode = known[i].mode;
				break;
			}
		}
	}
	st->st_mode |= mode;
}

static void stat_of(int dirfd, const char *path, struct stat *st) {
	if (!record_file() || st->st_mode & 07777 || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)))
		return; /* nothing to fill in: no getcwd() */
	char full[PATH_MAX];
	fill_mode(st, absolute(dirfd, path, full, sizeof full) ? full : NULL);
}

int __wrap_stat(const char *restrict path, struct stat *restrict st) {
	int r = __real_stat(path, st);
	if (r == 0)
		stat_of(AT_FDCWD, path, st);
	return r;
}

int __wrap_lstat(const char *restrict path, struct stat *restrict st) {
	int r = __real_lstat(path, st);
	if (r == 0)
		stat_of(AT_FDCWD, path, st);
	return r;
}

int __wrap_fstatat(int dirfd, const char *restrict path, struct stat *restrict st, int flags) {
	int r = __real_fstatat(dirfd, path, st, flags);
	if (r == 0)
		stat_of(dirfd, path, st);
	return r;
}

int __wrap_fstat(int fd, struct stat *st) {
	int r = __real_fstat(fd, st);
	if (r == 0 && record_file()) {
		char full[PATH_MAX];
		const char *known_path = fd >= 0 && fd < KNOWN_FDS ? fd_paths[fd] : NULL;
		fill_mode(st, known_path && snprintf(full, sizeof full, "%s", known_path) < (int)sizeof full ? full : NULL);
	}
	return r;
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
	char copy[PATH_MAX];
	snprintf(copy, sizeof copy, "%s", path);
	if (known_size || (catch_up(file), known_size))
		take(kind, mode, copy);
	errno = saved;
}

static int exists(int dirfd, const char *path) {
	struct stat st;
	return __real_fstatat(dirfd, path, &st, 0) == 0;
}

/* After an open: remember the descriptor's path (for fchmod, fstat and *at calls), and
 * record a creation. */
static int opened(int fd, int dirfd, const char *path, int flags, mode_t mode, int existed) {
	if (fd < 0 || !record_file())
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
	if (__real_fstatat(dirfd, path, &st, flags & AT_SYMLINK_NOFOLLOW) != 0)
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
	if (__real_stat(path, &st) != 0)
		return -1;
	return changed(__real_chmod(path, mode), full, mode);
}

/* Only for a descriptor opened through here whose path still names the same file. */
int __wrap_fchmod(int fd, mode_t mode) {
	struct stat by_fd, by_path;
	const char *full = fd >= 0 && fd < KNOWN_FDS ? fd_paths[fd] : NULL;
	if (!full || !record_file() || __real_fstat(fd, &by_fd) != 0 || __real_stat(full, &by_path) != 0 ||
	    by_fd.st_dev != by_path.st_dev || by_fd.st_ino != by_path.st_ino)
		return __real_fchmod(fd, mode);
	return changed(__real_fchmod(fd, mode), full, mode);
}
