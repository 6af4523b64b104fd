#pragma GCC system_header
/* wasix compat: wasi-libc's stdlib.h plus the temporary-file functions it leaves out ("WASI
 * has no temp directories"); WASIX has a writable /tmp, and editors such as nano use them. */
#ifndef _WASIX_COMPAT_STDLIB_H
#define _WASIX_COMPAT_STDLIB_H
#include_next <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif
int mkstemp(char *);
int mkostemp(char *, int);
int mkstemps(char *, int);
char *mkdtemp(char *);
#ifdef __cplusplus
}
#endif
#endif
