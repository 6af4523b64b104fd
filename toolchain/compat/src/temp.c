/* mkstemp and friends: replace the template's XXXXXX with random characters until an
 * exclusive create succeeds (as POSIX describes; wasi-libc leaves them out). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fill(char *template, int suffixlen) {
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t len = strlen(template);
    if (suffixlen < 0 || len < (size_t)suffixlen + 6 ||
        memcmp(template + len - suffixlen - 6, "XXXXXX", 6) != 0) {
        errno = EINVAL;
        return -1;
    }
    unsigned char random[6];
    if (getentropy(random, sizeof random) != 0) return -1;
    char *x = template + len - suffixlen - 6;
    for (int i = 0; i < 6; i++) x[i] = chars[random[i] % (sizeof chars - 1)];
    return 0;
}

int mkostemps(char *template, int suffixlen, int flags) {
    for (int tries = 0; tries < 100; tries++) {
        if (fill(template, suffixlen) != 0) return -1;
        int fd = open(template, O_RDWR | O_CREAT | O_EXCL | (flags & ~O_ACCMODE), 0600);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

int mkstemp(char *template) { return mkostemps(template, 0, 0); }
int mkostemp(char *template, int flags) { return mkostemps(template, 0, flags); }
int mkstemps(char *template, int suffixlen) { return mkostemps(template, suffixlen, 0); }

char *mkdtemp(char *template) {
    for (int tries = 0; tries < 100; tries++) {
        if (fill(template, 0) != 0) return NULL;
        if (mkdir(template, 0700) == 0) return template;
        if (errno != EEXIST) return NULL;
    }
    errno = EEXIST;
    return NULL;
}
