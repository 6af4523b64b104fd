#pragma GCC system_header
/* wasix compat: wasi-libc's stdio.h plus what it leaves out although POSIX programs expect
 * it: P_tmpdir (nano's temporary files, for one), stream locking, popen. */
#ifndef _WASIX_COMPAT_STDIO_H
#define _WASIX_COMPAT_STDIO_H
#include_next <stdio.h>
#ifndef P_tmpdir
#define P_tmpdir "/tmp"
#endif

#ifdef __cplusplus
extern "C" {
#endif
#ifndef _REENTRANT
void flockfile(FILE *);
int ftrylockfile(FILE *);
void funlockfile(FILE *);
#endif
FILE *popen(const char *, const char *);
int pclose(FILE *);
#ifdef __cplusplus
}
#endif
#endif
