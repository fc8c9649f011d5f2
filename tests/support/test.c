#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cmlx/error.h"

int test_checks_passed, test_checks_failed;

int test_check(int ok, const char *expr, const char *file, int line) {
    if (ok) {
        test_checks_passed++;
        return 1;
    }
    test_checks_failed++;
    fprintf(stderr, "%s:%d: CHECK failed: %s", file, line, expr);
    if (mx_last_error()[0]) fprintf(stderr, " (last error: %s)", mx_last_error());
    fprintf(stderr, "\n");
    return 0;
}

int test_check_msg(int ok, const char *file, int line, const char *fmt, ...) {
    if (ok) {
        test_checks_passed++;
        return 1;
    }
    test_checks_failed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 0;
}

int test_finish(void) {
    printf("%d passed, %d failed\n", test_checks_passed, test_checks_failed);
    return test_checks_failed ? 1 : 0;
}

const char *test_shared_dir(const char *why) {
    const char *d = getenv("CMLX_SHARED");
    struct stat st;
    if (!d || stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIPPED: shared reference data not found (CMLX_SHARED=%s); %s\n", d ? d : "(unset)", why);
        return NULL;
    }
    return d;
}
