/* Re-running the CLI with the OpenMP runtime's environment set (see runtime_env.h). */
#include "cli/runtime_env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_runtime_env(int argc, char **argv, int threads) {
    int changed = 0;
    if (!getenv("GOMP_SPINCOUNT") && !getenv("OMP_WAIT_POLICY")) {
        if (setenv("GOMP_SPINCOUNT", "10000", 1)) return;
        changed = 1;
    }
    if (threads > 0) {
        char want[16];
        snprintf(want, sizeof want, "%d", threads);
        const char *cur = getenv("OMP_NUM_THREADS"), *blas = getenv("OPENBLAS_NUM_THREADS");
        if (!cur || strcmp(cur, want) || !blas || strcmp(blas, want)) {
            if (setenv("OMP_NUM_THREADS", want, 1) || setenv("OPENBLAS_NUM_THREADS", want, 1)) return;
            changed = 1;
        }
    }
    if (!changed || argc < 1) return;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return; /* no /proc: go on with the defaults */
    self[n] = 0;
    fflush(NULL);
    execv(self, argv);
    fprintf(stderr, "cmlx: cannot re-run %s with the OpenMP settings (%s); going on without them\n", self,
            strerror(errno));
}
