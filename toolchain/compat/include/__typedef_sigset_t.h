#pragma GCC system_header
/* wasix compat: a real signal set (wasi-libc's placeholder is one byte, too small for
 * signal numbers above 8, e.g. SIGWINCH). Same shape as musl's, so code that copies or
 * clears a sigset_t by size keeps working. Shadows wasi-libc's header of the same name. */
#ifndef __wasilibc___typedef_sigset_t_h
#define __wasilibc___typedef_sigset_t_h
typedef struct __sigset_t { unsigned long __bits[128 / sizeof(long)]; } sigset_t;
#endif
