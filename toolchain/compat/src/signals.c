/* POSIX signal calls on wasi-libc's in-process signal emulation (signal/raise): handlers
 * are kept here so sigaction can report and honour flags, and a process mask holds
 * signals sent while blocked until they are unblocked. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NSIG_COMPAT 65
#define WORD_BITS (8 * sizeof(unsigned long))

static struct sigaction actions[NSIG_COMPAT];
static sigset_t blocked, pending;

static int valid(int sig) { return sig > 0 && sig < NSIG_COMPAT; }
static unsigned long bit(int sig) { return 1UL << ((sig - 1) % WORD_BITS); }
static size_t word(int sig) { return (size_t)(sig - 1) / WORD_BITS; }

int sigemptyset(sigset_t *set) { memset(set, 0, sizeof *set); return 0; }
int sigfillset(sigset_t *set) {
	memset(set, 0, sizeof *set);
	for (int s = 1; s < NSIG_COMPAT; s++)
		set->__bits[word(s)] |= bit(s);
	return 0;
}
int sigaddset(sigset_t *set, int sig) {
	if (!valid(sig)) { errno = EINVAL; return -1; }
	set->__bits[word(sig)] |= bit(sig);
	return 0;
}
int sigdelset(sigset_t *set, int sig) {
	if (!valid(sig)) { errno = EINVAL; return -1; }
	set->__bits[word(sig)] &= ~bit(sig);
	return 0;
}
int sigismember(const sigset_t *set, int sig) {
	if (!valid(sig)) { errno = EINVAL; return -1; }
	return (set->__bits[word(sig)] & bit(sig)) != 0;
}

static void trampoline(int sig) {
	struct sigaction act = actions[sig];
	if (act.sa_flags & SA_RESETHAND) {
		actions[sig].sa_handler = SIG_DFL;
		signal(sig, SIG_DFL);
	} else {
		/* wasi-libc's emulation may reset the disposition before calling: re-arm it. */
		signal(sig, trampoline);
	}
	if (act.sa_flags & SA_SIGINFO) {
		siginfo_t info;
		memset(&info, 0, sizeof info);
		info.si_signo = sig;
		info.si_pid = getpid();
		act.sa_sigaction(sig, &info, NULL);
	} else {
		act.sa_handler(sig);
	}
}

int sigaction(int sig, const struct sigaction *restrict act, struct sigaction *restrict old) {
	if (!valid(sig) || (act && (sig == SIGKILL || sig == SIGSTOP))) {
		errno = EINVAL;
		return -1;
	}
	struct sigaction previous = actions[sig];
	if (act) {
		void (*handler)(int) = act->sa_handler;
		int custom = (act->sa_flags & SA_SIGINFO) ||
		             (handler != SIG_DFL && handler != SIG_IGN && handler != SIG_ERR);
		void (*prev)(int) = signal(sig, custom ? trampoline : handler);
		if (prev == SIG_ERR)
			return -1;
		if (prev != trampoline) {
			/* Installed with signal() behind our back: report that one. */
			memset(&previous, 0, sizeof previous);
			previous.sa_handler = prev;
		}
		actions[sig] = *act;
	} else if (old) {
		void (*prev)(int) = signal(sig, SIG_DFL);
		signal(sig, prev);
		if (prev != trampoline) {
			memset(&previous, 0, sizeof previous);
			previous.sa_handler = prev;
		}
	}
	if (old)
		*old = previous;
	return 0;
}

static void deliver_pending(void) {
	for (int s = 1; s < NSIG_COMPAT; s++) {
		if (sigismember(&pending, s) == 1 && sigismember(&blocked, s) == 0) {
			sigdelset(&pending, s);
			raise(s);
		}
	}
}

int sigprocmask(int how, const sigset_t *restrict set, sigset_t *restrict old) {
	if (old)
		*old = blocked;
	if (!set)
		return 0;
	for (size_t i = 0; i < sizeof blocked.__bits / sizeof blocked.__bits[0]; i++) {
		switch (how) {
		case SIG_BLOCK: blocked.__bits[i] |= set->__bits[i]; break;
		case SIG_UNBLOCK: blocked.__bits[i] &= ~set->__bits[i]; break;
		case SIG_SETMASK: blocked.__bits[i] = set->__bits[i]; break;
		default: errno = EINVAL; return -1;
		}
	}
	sigdelset(&blocked, SIGKILL);
	sigdelset(&blocked, SIGSTOP);
	deliver_pending();
	return 0;
}

int pthread_sigmask(int how, const sigset_t *restrict set, sigset_t *restrict old) {
	return sigprocmask(how, set, old) == 0 ? 0 : errno;
}

int sigpending(sigset_t *set) { *set = pending; return 0; }

int sigsuspend(const sigset_t *mask) {
	sigset_t saved;
	sigprocmask(SIG_SETMASK, mask, &saved);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	errno = EINTR;
	return -1;
}

int siginterrupt(int sig, int flag) {
	struct sigaction act;
	if (sigaction(sig, NULL, &act) != 0)
		return -1;
	act.sa_flags = flag ? act.sa_flags & ~SA_RESTART : act.sa_flags | SA_RESTART;
	return sigaction(sig, &act, NULL);
}

int kill(pid_t pid, int sig) {
	if (sig != 0 && !valid(sig)) {
		errno = EINVAL;
		return -1;
	}
	if (pid != 0 && pid != -1 && pid != getpid() && pid != -getpid()) {
		errno = ESRCH;
		return -1;
	}
	if (sig == 0)
		return 0;
	/* There is no job control: a process told to stop (SIGSTOP, or a stop signal left at
	 * its default) is "stopped and continued" at once, so a program that suspends itself
	 * (nano's ^Z) gets its SIGCONT and carries on. wasi-libc's default for these aborts,
	 * which ends the program with a trap and loses its unsaved work. */
	if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
		void (*h)(int) = sig == SIGSTOP ? SIG_DFL : signal(sig, SIG_DFL);
		if (sig != SIGSTOP)
			signal(sig, h);
		if (h == SIG_IGN)
			return 0;
		if (h == SIG_DFL)
			return kill(pid, SIGCONT);
	}
	if (sig == SIGCONT) {
		void (*h)(int) = signal(sig, SIG_DFL);
		signal(sig, h);
		if (h == SIG_DFL || h == SIG_IGN)
			return 0;
	}
	if (sigismember(&blocked, sig) == 1) {
		sigaddset(&pending, sig);
		return 0;
	}
	return raise(sig);
}

int killpg(pid_t pgrp, int sig) { return kill(pgrp == 0 ? 0 : -pgrp, sig); }

void psignal(int sig, const char *msg) {
	if (msg && *msg)
		fprintf(stderr, "%s: %s\n", msg, strsignal(sig));
	else
		fprintf(stderr, "%s\n", strsignal(sig));
}
