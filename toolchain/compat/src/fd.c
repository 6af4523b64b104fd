/* Descriptor calls WASI preview 1 lacks, on WASIX's fd_dup and fd_pipe. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>
#include <wasi/api.h>

#include "wasix_host.h"

#undef fcntl
int fcntl(int, int, ...);

/* Asked of the host directly: wasi-libc's fcntl(F_GETFD) does not report closed slots. */
static int is_open(int fd) {
	__wasi_fdstat_t st;
	return fd >= 0 && __wasi_fd_fdstat_get((__wasi_fd_t)fd, &st) == 0;
}

int dup(int fd) {
	uint32_t out;
	int err = wasix_fd_dup((uint32_t)fd, &out);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return (int)out;
}

/* Move the descriptor `copy` onto `target` (closing whatever target was): target, or -1. */
static int move_onto(int copy, int target) {
	int err = __wasi_fd_renumber((__wasi_fd_t)copy, (__wasi_fd_t)target);
	if (err != 0) {
		close(copy);
		errno = err;
		return -1;
	}
	return target;
}

int dup2(int fd, int target) {
	if (fd == target) {
		/* POSIX: only check that fd is open. */
		return is_open(fd) ? target : (errno = EBADF, -1);
	}
	int copy = dup(fd);
	return copy < 0 ? -1 : move_onto(copy, target);
}

int dup3(int fd, int target, int flags) {
	if (fd == target || (flags & ~O_CLOEXEC)) {
		errno = EINVAL;
		return -1;
	}
	return dup2(fd, target);
}

int pipe(int fds[2]) {
	uint32_t a, b;
	int err = wasix_fd_pipe(&a, &b);
	if (err != 0) {
		errno = err;
		return -1;
	}
	fds[0] = (int)a;
	fds[1] = (int)b;
	return 0;
}

int pipe2(int fds[2], int flags) {
	if (pipe(fds) != 0)
		return -1;
	if (flags & O_NONBLOCK) {
		fcntl(fds[0], F_SETFL, O_NONBLOCK);
		fcntl(fds[1], F_SETFL, O_NONBLOCK);
	}
	return 0;
}

/* The lowest free descriptor >= min, holding a duplicate of fd. */
static int dup_at_least(int fd, int min) {
	int copy = dup(fd);
	if (copy < 0 || copy >= min)
		return copy;
	for (int target = min; target < min + 4096; target++) {
		if (!is_open(target))
			return move_onto(copy, target);
	}
	close(copy);
	errno = EMFILE;
	return -1;
}

int __wasix_compat_fcntl(int fd, int cmd, ...) {
	va_list ap;
	va_start(ap, cmd);
	int arg = va_arg(ap, int);
	va_end(ap);
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		if (arg < 0) {
			errno = EINVAL;
			return -1;
		}
		return dup_at_least(fd, arg);
	default:
		return fcntl(fd, cmd, arg);
	}
}
