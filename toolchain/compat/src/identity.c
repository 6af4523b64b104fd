/* Identity calls. A WASIX process runs as user and group 0 with no user database,
 * no login name and no terminal device name, exactly what the WASIX libc answers. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

uid_t getuid(void) { return 0; }
uid_t geteuid(void) { return 0; }
gid_t getgid(void) { return 0; }
gid_t getegid(void) { return 0; }
int getgroups(int size, gid_t list[]) { (void)size; (void)list; return 0; }
int setuid(uid_t uid) { return uid == 0 ? 0 : (errno = EPERM, -1); }
int seteuid(uid_t uid) { return setuid(uid); }
int setgid(gid_t gid) { return gid == 0 ? 0 : (errno = EPERM, -1); }
int setegid(gid_t gid) { return setgid(gid); }

pid_t getppid(void) { return 0; }
pid_t getpgrp(void) { return getpid(); }
pid_t getpgid(pid_t pid) { return pid == 0 || pid == getpid() ? getpid() : (errno = ESRCH, -1); }
int setpgid(pid_t pid, pid_t pgid) { (void)pid; (void)pgid; return 0; }
pid_t setsid(void) { errno = EPERM; return -1; }
pid_t getsid(pid_t pid) { return getpgid(pid); }

char *getlogin(void) { errno = ENXIO; return NULL; }
int getlogin_r(char *buf, size_t size) { (void)buf; (void)size; return ENXIO; }
char *ttyname(int fd) { errno = isatty(fd) ? ENODEV : ENOTTY; return NULL; }
int ttyname_r(int fd, char *buf, size_t size) { (void)buf; (void)size; return isatty(fd) ? ENODEV : ENOTTY; }

void setpwent(void) {}
void endpwent(void) {}
struct passwd *getpwent(void) { return NULL; }
struct passwd *getpwuid(uid_t uid) { (void)uid; return NULL; }
struct passwd *getpwnam(const char *name) { (void)name; return NULL; }
int getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t n, struct passwd **res) {
	(void)uid; (void)pw; (void)buf; (void)n;
	*res = NULL;
	return 0;
}
int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t n, struct passwd **res) {
	(void)name; (void)pw; (void)buf; (void)n;
	*res = NULL;
	return 0;
}

struct group *getgrgid(gid_t gid) { (void)gid; return NULL; }
struct group *getgrnam(const char *name) { (void)name; return NULL; }
int getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t n, struct group **res) {
	(void)gid; (void)gr; (void)buf; (void)n;
	*res = NULL;
	return 0;
}
int getgrnam_r(const char *name, struct group *gr, char *buf, size_t n, struct group **res) {
	(void)name; (void)gr; (void)buf; (void)n;
	*res = NULL;
	return 0;
}
struct group *getgrent(void) { return NULL; }
void endgrent(void) {}
void setgrent(void) {}

/* WASI has no owners or permission bits: accept changes to existing files. */
static int exists(const char *path) { struct stat st; return stat(path, &st); }
int chown(const char *path, uid_t u, gid_t g) { (void)u; (void)g; return exists(path); }
int lchown(const char *path, uid_t u, gid_t g) { (void)u; (void)g; return exists(path); }
int fchown(int fd, uid_t u, gid_t g) { struct stat st; (void)u; (void)g; return fstat(fd, &st); }

static mode_t current_umask = 022;
mode_t umask(mode_t mask) {
	mode_t old = current_umask;
	current_umask = mask & 0777;
	return old;
}
