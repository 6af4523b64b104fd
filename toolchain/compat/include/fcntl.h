#pragma GCC system_header
/* wasix compat: wasi-libc's fcntl.h plus F_DUPFD (Linux's value; without it gnulib picks
 * one that collides with F_GETFD) and an fcntl() that implements descriptor duplication. */
#ifndef _WASIX_COMPAT_FCNTL_H
#define _WASIX_COMPAT_FCNTL_H
#include_next <fcntl.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef F_DUPFD
#define F_DUPFD 0
#endif
#ifndef F_DUPFD_CLOEXEC
#define F_DUPFD_CLOEXEC 1030
#endif

int __wasix_compat_fcntl(int, int, ...);
#define fcntl __wasix_compat_fcntl

#ifdef __cplusplus
}
#endif
#endif
