/* Resource limits: fixed values that describe a WASIX process. Lowering a limit is
 * remembered (and reported back); raising one above its maximum is refused. */
#include <errno.h>
#include <sys/resource.h>

/* Descriptors: Wasmer has no small per-process table limit; 1024 is what programs expect. */
static struct rlimit limits[RLIM_NLIMITS] = {
	[RLIMIT_CPU] = {RLIM_INFINITY, RLIM_INFINITY},
	[RLIMIT_FSIZE] = {RLIM_INFINITY, RLIM_INFINITY},
	[RLIMIT_DATA] = {RLIM_INFINITY, RLIM_INFINITY},
	[RLIMIT_STACK] = {8 * 1024 * 1024, 8 * 1024 * 1024},
	[RLIMIT_CORE] = {0, 0},
	[RLIMIT_RSS] = {RLIM_INFINITY, RLIM_INFINITY},
	[RLIMIT_NPROC] = {RLIM_INFINITY, RLIM_INFINITY},
	[RLIMIT_NOFILE] = {1024, 1024},
	[RLIMIT_MEMLOCK] = {RLIM_INFINITY, RLIM_INFINITY},
	[RLIMIT_AS] = {4ULL * 1024 * 1024 * 1024, 4ULL * 1024 * 1024 * 1024},
};

int getrlimit(int resource, struct rlimit *rl) {
	if (resource < 0 || resource >= RLIM_NLIMITS) {
		errno = EINVAL;
		return -1;
	}
	*rl = limits[resource];
	if (rl->rlim_cur == 0 && rl->rlim_max == 0 && resource != RLIMIT_CORE)
		rl->rlim_cur = rl->rlim_max = RLIM_INFINITY;
	return 0;
}

int setrlimit(int resource, const struct rlimit *rl) {
	struct rlimit now;
	if (getrlimit(resource, &now) != 0)
		return -1;
	if (rl->rlim_cur > rl->rlim_max) {
		errno = EINVAL;
		return -1;
	}
	if (rl->rlim_max > now.rlim_max) {
		errno = EPERM;
		return -1;
	}
	limits[resource] = *rl;
	return 0;
}

int getpriority(int which, id_t who) { (void)which; (void)who; errno = 0; return 0; }
int setpriority(int which, id_t who, int prio) { (void)which; (void)who; return prio >= 0 ? 0 : (errno = EACCES, -1); }
