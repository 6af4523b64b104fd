/* The WASIX host calls the compatibility layer is built on (module "wasix_32v1"). Only
 * calls whose signatures are stable across Wasmer releases are used. */
#ifndef WASIX_COMPAT_HOST_H
#define WASIX_COMPAT_HOST_H
#include <stdint.h>

#define WASIX_IMPORT(name) __attribute__((import_module("wasix_32v1"), import_name(name)))

/* Layout of WASIX's `tty` record: four u32 then five one-byte booleans. The tail is room
 * for fields newer hosts may append, so a larger write never lands outside the object. */
typedef struct {
	uint32_t cols, rows, width, height;
	uint8_t stdin_tty, stdout_tty, stderr_tty, echo, line_buffered;
	uint8_t reserved[11];
} wasix_tty_t;

int32_t wasix_tty_get(wasix_tty_t *state) WASIX_IMPORT("tty_get");
int32_t wasix_tty_set(const wasix_tty_t *state) WASIX_IMPORT("tty_set");
int32_t wasix_fd_dup(uint32_t fd, uint32_t *ret_fd) WASIX_IMPORT("fd_dup");
int32_t wasix_fd_pipe(uint32_t *fd1, uint32_t *fd2) WASIX_IMPORT("fd_pipe");

#endif
