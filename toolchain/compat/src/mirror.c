/* Host paths at their real place in wasmer-sdk's sandbox.
 *
 * The sandbox accepts files only under /workspace and gives every run a fresh in-memory
 * root, so the wheel launcher copies the host's working directory (and the paths named on
 * the command line) to WASIX_HOST_ROOT/<real path> and lists the real paths in
 * WASIX_HOST_PATHS (one per line). Before main() this links each real path to its copy, so the
 * program reads and writes the host's own paths (writes land in /workspace, which the
 * launcher copies back), then enters WASIX_HOST_CWD: the C library's working directory starts
 * at "/" whatever the runtime was told. Without WASIX_HOST_PATHS nothing happens.
 * The launcher recognises programs carrying this step by the export below.
 *
 * The sandbox also reports its standard streams as terminals when the launcher's are pipes
 * or files, so programs would colour what they write into a pipe, start a pager, or refuse
 * to write compressed data there. The launcher lists in WASIX_HOST_TTYS which of descriptors
 * 0, 1 and 2 are terminals on the host ("-": none); isatty() says no for the others. It
 * only ever says no: under a host pipe nothing is a terminal, whatever the sandbox reports.
 * The variable stays set, for the programs this one starts on the same streams. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((export_name("__wasix_mirror_v1"))) int __wasix_mirror_v1(void) { return 1; }

int __isatty(int fd); /* the C library's own; its isatty is a weak alias this replaces */

int isatty(int fd) {
	const char *host = getenv("WASIX_HOST_TTYS");
	if (host && fd >= 0 && fd <= 2 && !strchr(host, '0' + fd)) {
		errno = ENOTTY;
		return 0;
	}
	/* A terminal is a character device. The sandbox also calls a pipe between two of its
	 * programs a terminal, but gives it no file type: tar's gzip, writing into tar, refused
	 * "compressed data not written to a terminal" when the launcher's stdout was one. */
	struct stat st;
	if (fstat(fd, &st) == 0 && !S_ISCHR(st.st_mode)) {
		errno = ENOTTY;
		return 0;
	}
	return __isatty(fd);
}

static void make_parents(char *path) {
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755); /* EEXIST is fine; a real failure shows at symlink() */
		*p = '/';
	}
}

/* Returns 0 when the link was there already: a program started by another one in the same
 * sandbox inherits these variables (Wasmer starts it with the environment the sandbox was
 * given) and finds the links its parent made. */
static int link_one(const char *root, const char *real) {
	char copy[PATH_MAX], target[PATH_MAX], seen[PATH_MAX];
	if (real[0] != '/' || snprintf(copy, sizeof copy, "%s", real) >= (int)sizeof copy ||
	    snprintf(target, sizeof target, "%s%s", root, real) >= (int)sizeof target)
		return 1;
	ssize_t n = readlink(real, seen, sizeof seen - 1);
	if (n >= 0 && (seen[n] = '\0', strcmp(seen, target) == 0))
		return 0;
	make_parents(copy);
	/* An empty directory of the fresh root (/tmp) gives way to the copy. Wasmer fills in
	 * the root's own directories when they are first looked up: stat() before rmdir(). */
	struct stat st;
	if (lstat(real, &st) == 0 && S_ISDIR(st.st_mode))
		rmdir(real);
	if (symlink(target, real) != 0)
		fprintf(stderr, "wasix: cannot show %s at its host path: %s\n", real, strerror(errno));
	return 1;
}

__attribute__((constructor)) void __wasix_mirror_init(void) {
	const char *root = getenv("WASIX_HOST_ROOT");
	const char *list = getenv("WASIX_HOST_PATHS");
	if (!root || !list)
		return;
	char *paths = strdup(list);
	int made = 0;
	for (char *line = paths, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		made |= link_one(root, line);
	}
	free(paths);
	/* Only the first program enters the host's directory; one it starts keeps the directory
	 * it was started in (`cd sub && ls` lists sub). */
	const char *cwd = getenv("WASIX_HOST_CWD");
	if (made && cwd && chdir(cwd) != 0)
		fprintf(stderr, "wasix: cannot enter %s: %s\n", cwd, strerror(errno));
	unsetenv("WASIX_HOST_PATHS");
	unsetenv("WASIX_HOST_ROOT");
	unsetenv("WASIX_HOST_CWD");
}
