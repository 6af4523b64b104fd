#pragma GCC system_header
/* wasix compat: wasi-libc's sys/stat.h plus umask (WASI has no permission mask; the
 * call records the value so that a later umask() returns it). */
#ifndef _WASIX_COMPAT_SYS_STAT_H
#define _WASIX_COMPAT_SYS_STAT_H
#include_next <sys/stat.h>

#ifdef __cplusplus
extern "C" {
#endif
mode_t umask(mode_t);
#ifdef __cplusplus
}
#endif
#endif
