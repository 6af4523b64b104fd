/* Stream locking for single-threaded programs (the layer's programs have one thread) and
 * popen, which needs processes this layer does not provide: it fails cleanly. */
#include <errno.h>
#include <stdio.h>

void flockfile(FILE *f) { (void)f; }
int ftrylockfile(FILE *f) { (void)f; return 0; }
void funlockfile(FILE *f) { (void)f; }

FILE *popen(const char *command, const char *mode) {
	(void)command; (void)mode;
	errno = ENOSYS;
	return NULL;
}

int pclose(FILE *f) {
	(void)f;
	errno = ECHILD;
	return -1;
}
