/* poll() and select() with a zero timeout. Some WASIX hosts (the wasmer-sdk sandbox, seen
 * with a piped stdin) block a zero-timeout poll_oneoff until the descriptor is ready instead
 * of answering at once, which freezes curses programs: they poll with timeout 0 on every
 * refresh. A 1 ms timeout is honoured, so "don't wait" becomes "wait at most 1 ms". */
#include <poll.h>
#include <sys/select.h>
#undef poll
#undef select

int __wasix_compat_poll(struct pollfd *fds, nfds_t n, int timeout) {
    return poll(fds, n, timeout == 0 ? 1 : timeout);
}

int __wasix_compat_select(int n, fd_set *restrict r, fd_set *restrict w, fd_set *restrict e,
                          struct timeval *restrict timeout) {
    struct timeval one_ms = {0, 1000};
    if (timeout && timeout->tv_sec == 0 && timeout->tv_usec == 0) timeout = &one_ms;
    return select(n, r, w, e, timeout);
}
