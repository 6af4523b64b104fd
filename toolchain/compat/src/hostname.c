/* gethostname: WASIX has no host call for the machine's name, and a sandboxed program should
 * not learn it anyway; answer "localhost" (what nano shows in its lock files). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

int gethostname(char *name, size_t len) {
    static const char host[] = "localhost";
    if (len < sizeof host) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(name, host, sizeof host);
    return 0;
}
