/* Terminal control on WASIX's tty_get/tty_set: the host knows echo, line buffering and
 * the window size; every other termios field is kept in a per-process shadow copy so a
 * program reads back what it set. tcgetattr/tcsetattr are host_tty.c's, which call these
 * (as __real_…) outside the wheel launcher. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "wasix_host.h"

#undef ioctl
int ioctl(int, int, ...);

static struct termios shadow;
static int shadow_ready;
/* Once the program has set modes, the shadow is authoritative: hosts may accept tty_set
 * without reflecting it in tty_get. */
static int modes_set;

static int tty_state(int fd, wasix_tty_t *tty) {
	memset(tty, 0, sizeof *tty);
	int err = wasix_tty_get(tty);
	if (err != 0) {
		errno = err;
		return -1;
	}
	if (fd < 0 || !isatty(fd)) {
		errno = ENOTTY;
		return -1;
	}
	return 0;
}

static void init_shadow(void) {
	if (shadow_ready)
		return;
	/* The usual defaults of a cooked terminal. */
	memset(&shadow, 0, sizeof shadow);
	shadow.c_iflag = ICRNL | IXON | IUTF8;
	shadow.c_oflag = OPOST | ONLCR;
	shadow.c_cflag = CS8 | CREAD | B38400;
	shadow.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
	shadow.c_cc[VINTR] = 3;
	shadow.c_cc[VQUIT] = 034;
	shadow.c_cc[VERASE] = 0177;
	shadow.c_cc[VKILL] = 025;
	shadow.c_cc[VEOF] = 4;
	shadow.c_cc[VMIN] = 1;
	shadow.c_cc[VSTART] = 021;
	shadow.c_cc[VSTOP] = 023;
	shadow.c_cc[VSUSP] = 032;
	shadow.c_cc[VREPRINT] = 022;
	shadow.c_cc[VDISCARD] = 017;
	shadow.c_cc[VWERASE] = 027;
	shadow.c_cc[VLNEXT] = 026;
	shadow.__c_ispeed = shadow.__c_ospeed = B38400;
	shadow_ready = 1;
}

int __real_tcgetattr(int fd, struct termios *tio) {
	wasix_tty_t tty;
	if (tty_state(fd, &tty) != 0)
		return -1;
	init_shadow();
	*tio = shadow;
	if (modes_set)
		return 0;
	/* Until then the host is the authority on the two modes it implements. */
	tio->c_lflag = (tio->c_lflag & ~(tcflag_t)(ECHO | ICANON)) | (tty.echo ? ECHO : 0) |
	               (tty.line_buffered ? ICANON : 0);
	return 0;
}

int __real_tcsetattr(int fd, int action, const struct termios *tio) {
	wasix_tty_t tty;
	if (action != TCSANOW && action != TCSADRAIN && action != TCSAFLUSH) {
		errno = EINVAL;
		return -1;
	}
	if (tty_state(fd, &tty) != 0)
		return -1;
	init_shadow();
	shadow = *tio;
	tty.echo = (tio->c_lflag & ECHO) != 0;
	tty.line_buffered = (tio->c_lflag & ICANON) != 0;
	int err = wasix_tty_set(&tty);
	if (err != 0) {
		errno = err;
		return -1;
	}
	modes_set = 1;
	return 0;
}

speed_t cfgetospeed(const struct termios *tio) { return tio->c_cflag & CBAUD; }
speed_t cfgetispeed(const struct termios *tio) { return cfgetospeed(tio); }

int cfsetospeed(struct termios *tio, speed_t speed) {
	if (speed & ~(speed_t)CBAUD) {
		errno = EINVAL;
		return -1;
	}
	tio->c_cflag = (tio->c_cflag & ~(tcflag_t)CBAUD) | speed;
	tio->__c_ospeed = speed;
	return 0;
}

int cfsetispeed(struct termios *tio, speed_t speed) {
	return speed ? cfsetospeed(tio, speed) : 0;
}

int cfsetspeed(struct termios *tio, speed_t speed) { return cfsetospeed(tio, speed); }

void cfmakeraw(struct termios *t) {
	t->c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t->c_oflag &= ~(tcflag_t)OPOST;
	t->c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t->c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	t->c_cflag |= CS8;
	t->c_cc[VMIN] = 1;
	t->c_cc[VTIME] = 0;
}

/* The host has no output queue, flow control or break: succeed on a terminal. */
static int on_tty(int fd) {
	wasix_tty_t tty;
	return tty_state(fd, &tty);
}
int tcdrain(int fd) { return on_tty(fd); }
int tcflush(int fd, int queue) { (void)queue; return on_tty(fd); }
int tcflow(int fd, int action) { (void)action; return on_tty(fd); }
int tcsendbreak(int fd, int duration) { (void)duration; return on_tty(fd); }

pid_t tcgetsid(int fd) { return on_tty(fd) == 0 ? getpid() : -1; }
pid_t tcgetpgrp(int fd) { return on_tty(fd) == 0 ? getpid() : -1; }
int tcsetpgrp(int fd, pid_t pgrp) { (void)pgrp; return on_tty(fd); }

int __wasix_compat_ioctl(int fd, int request, ...) {
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	wasix_tty_t tty;
	switch (request) {
	case TIOCGWINSZ: {
		if (tty_state(fd, &tty) != 0)
			return -1;
		struct winsize *ws = arg;
		ws->ws_row = (unsigned short)tty.rows;
		ws->ws_col = (unsigned short)tty.cols;
		ws->ws_xpixel = (unsigned short)tty.width;
		ws->ws_ypixel = (unsigned short)tty.height;
		return 0;
	}
	case TIOCSWINSZ:
		return on_tty(fd);
	case TCGETS:
		return tcgetattr(fd, arg);
	case TCSETS:
		return tcsetattr(fd, TCSANOW, arg);
	case TCSETSW:
		return tcsetattr(fd, TCSADRAIN, arg);
	case TCSETSF:
		return tcsetattr(fd, TCSAFLUSH, arg);
	case TIOCGPGRP:
		if (on_tty(fd) != 0)
			return -1;
		*(pid_t *)arg = getpid();
		return 0;
	case TIOCSPGRP:
	case TIOCSCTTY:
	case TIOCNOTTY:
		return on_tty(fd);
	case FIOCLEX:
	case FIONCLEX:
		return 0;
	default:
		return ioctl(fd, request, arg);
	}
}
