/* The host terminal's modes and size in wasmer-sdk's sandbox.
 *
 * The sandbox has no terminal of its own: the wheel launcher forwards the host terminal
 * through pipes and keeps it in the mode the program asks for (the normal line discipline
 * until then). WASIX's tty_set carries only echo and line buffering and the runtime reaches
 * no host, so tcgetattr/tcsetattr go through here first (the driver links with
 * --wrap=tcgetattr --wrap=tcsetattr):
 * - WASIX_HOST_TERMIOS holds the host terminal's modes at the start ("iflag oflag cflag lflag
 *   cc", hexadecimal, in this C library's numbering): tcgetattr answers from a per-process
 *   copy of them, so a program saves and later restores real modes (cooked, echoing), not the
 *   sandbox's raw-looking default;
 * - tcsetattr updates that copy and tells the launcher in band, as one private escape
 *   sequence (APC "wasix-tty", which the launcher removes) on the first of descriptors 1 and 2
 *   that is a host terminal: it comes after what the program wrote before, as a terminal
 *   applies TCSADRAIN.
 * WASIX_HOST_WINSIZE ("columns rows") is the host's window size at the start: the runtime's
 * terminal record is set to it before main(), so TIOCGWINSZ reports it.
 * WASIX_HOST_ONE_TTY says the host's stdout and stderr are one terminal: the sandbox gives
 * them two pipes, whose order the launcher cannot know (a shell's prompt on stderr came
 * before the command's output on stdout), so stderr is made a copy of stdout before main(),
 * as on that terminal. The variable is removed: a program started with stderr elsewhere
 * (`cmd 2>file`) keeps it there.
 * Without these variables (another runtime, a host without a terminal) both calls are the C
 * library's own. The launcher recognises programs carrying this step by the export below. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

__attribute__((export_name("__wasix_host_tty_v1"))) int __wasix_host_tty_v1(void) { return 1; }

int __real_tcgetattr(int fd, struct termios *tio);
int __real_tcsetattr(int fd, int action, const struct termios *tio);

/* WASIX's tty record: four u32, then one-byte flags; the tail is room for newer fields. */
typedef struct {
	uint32_t cols, rows, width, height;
	uint8_t flags[16];
} host_tty_record;
int32_t host_tty_get(host_tty_record *state) __attribute__((import_module("wasix_32v1"), import_name("tty_get")));
int32_t host_tty_set(const host_tty_record *state) __attribute__((import_module("wasix_32v1"), import_name("tty_set")));

static struct termios modes;
static int modes_state; /* 0: not read yet, 1: the host's, -1: no host terminal */

static int host_modes(void) {
	if (modes_state)
		return modes_state > 0;
	modes_state = -1;
	const char *text = getenv("WASIX_HOST_TERMIOS");
	unsigned long flag[4];
	int used = 0;
	if (!text || sscanf(text, "%lx %lx %lx %lx %n", &flag[0], &flag[1], &flag[2], &flag[3], &used) != 4)
		return 0;
	memset(&modes, 0, sizeof modes);
	modes.c_iflag = (tcflag_t)flag[0];
	modes.c_oflag = (tcflag_t)flag[1];
	modes.c_cflag = (tcflag_t)flag[2];
	modes.c_lflag = (tcflag_t)flag[3];
	for (size_t i = 0; i < NCCS && text[used] && text[used + 1]; i++, used += 2) {
		unsigned int byte;
		if (sscanf(text + used, "%2x", &byte) != 1)
			break;
		modes.c_cc[i] = (cc_t)byte;
	}
	modes_state = 1;
	return 1;
}

/* The launcher's descriptor for requests: the first host terminal among stdout and stderr. */
static int channel(void) {
	const char *ttys = getenv("WASIX_HOST_TTYS");
	if (!ttys)
		return -1;
	return strchr(ttys, '1') ? 1 : strchr(ttys, '2') ? 2 : -1;
}

/* isatty() first: wasix-libc's own calls answer for any descriptor, and under the launcher
 * isatty() knows which standard streams are the host's terminals. */
int __wrap_tcgetattr(int fd, struct termios *tio) {
	if (!isatty(fd))
		return -1; /* errno: ENOTTY, from isatty */
	if (!host_modes())
		return __real_tcgetattr(fd, tio);
	*tio = modes;
	return 0;
}

int __wrap_tcsetattr(int fd, int action, const struct termios *tio) {
	if (action != TCSANOW && action != TCSADRAIN && action != TCSAFLUSH) {
		errno = EINVAL;
		return -1;
	}
	if (!isatty(fd))
		return -1;
	if (!host_modes())
		return __real_tcsetattr(fd, action, tio);
	modes = *tio;
	int out = channel();
	if (out < 0)
		return 0;
	char message[64 + 2 * NCCS];
	int n = snprintf(message, sizeof message, "\033_wasix-tty %d %lx %lx %lx %lx ", action,
	                 (unsigned long)tio->c_iflag, (unsigned long)tio->c_oflag, (unsigned long)tio->c_cflag,
	                 (unsigned long)tio->c_lflag);
	for (size_t i = 0; i < NCCS; i++)
		n += snprintf(message + n, sizeof message - (size_t)n, "%02x", (unsigned int)tio->c_cc[i]);
	n += snprintf(message + n, sizeof message - (size_t)n, "\033\\");
	for (int done = 0; done < n;) {
		ssize_t w = write(out, message + done, (size_t)(n - done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (int)w;
	}
	return 0;
}

__attribute__((constructor)) void __wasix_host_tty_init(void) {
	if (getenv("WASIX_HOST_ONE_TTY")) {
		dup2(1, 2);
		unsetenv("WASIX_HOST_ONE_TTY");
	}
	const char *size = getenv("WASIX_HOST_WINSIZE");
	unsigned int cols, rows;
	if (!size || sscanf(size, "%u %u", &cols, &rows) != 2 || !cols || !rows)
		return;
	host_tty_record tty;
	memset(&tty, 0, sizeof tty);
	if (host_tty_get(&tty) != 0)
		return;
	tty.cols = cols;
	tty.rows = rows;
	host_tty_set(&tty);
}
