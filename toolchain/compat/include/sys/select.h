#pragma GCC system_header
/* wasix compat: wasi-libc's sys/select.h, with select() routed through the layer for the
 * same reason as poll() (see src/poll.c). */
#ifndef _WASIX_COMPAT_SYS_SELECT_H
#define _WASIX_COMPAT_SYS_SELECT_H
#include_next <sys/select.h>

#ifdef __cplusplus
extern "C" {
#endif
int __wasix_compat_select(int, fd_set *__restrict, fd_set *__restrict, fd_set *__restrict, struct timeval *__restrict);
#ifdef __cplusplus
}
#endif
#define select __wasix_compat_select
#endif
