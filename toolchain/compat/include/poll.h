#pragma GCC system_header
/* wasix compat: wasi-libc's poll.h, with poll() routed through the layer: a zero timeout
 * ("is input waiting?", as curses asks on every refresh) must not block. See src/poll.c. */
#ifndef _WASIX_COMPAT_POLL_H
#define _WASIX_COMPAT_POLL_H
#include_next <poll.h>

#ifdef __cplusplus
extern "C" {
#endif
int __wasix_compat_poll(struct pollfd *, nfds_t, int);
#ifdef __cplusplus
}
#endif
#define poll __wasix_compat_poll
#endif
