#pragma GCC system_header
/* wasix compat: wasi-libc's ioctl (FIONREAD, FIONBIO) plus the terminal requests
 * (window size, termios get/set) that WASIX answers through tty_get/tty_set. */
#ifndef _WASIX_COMPAT_SYS_IOCTL_H
#define _WASIX_COMPAT_SYS_IOCTL_H
#include_next <sys/ioctl.h>

#ifdef __cplusplus
extern "C" {
#endif

struct winsize {
	unsigned short ws_row;
	unsigned short ws_col;
	unsigned short ws_xpixel;
	unsigned short ws_ypixel;
};

#define TCGETS     0x5401
#define TCSETS     0x5402
#define TCSETSW    0x5403
#define TCSETSF    0x5404
#define TIOCSCTTY  0x540E
#define TIOCGPGRP  0x540F
#define TIOCSPGRP  0x5410
#define TIOCOUTQ   0x5411
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define TIOCNOTTY  0x5422
#define FIOCLEX    0x5451
#define FIONCLEX   0x5450

/* Every ioctl() call of a program compiled with these headers goes through the compat
 * layer, which answers the terminal requests and hands the rest to wasi-libc. */
int __wasix_compat_ioctl(int, int, ...);
#define ioctl __wasix_compat_ioctl

#ifdef __cplusplus
}
#endif
#endif
