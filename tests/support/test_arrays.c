/* Array helpers shared by the op unit tests. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/cmlx.h"
#include "test.h"

/* Evaluates a and compares shape and values (read as float64) exactly. */
int test_expect(mx_array *a, const int64_t *shape, int ndim, const double *want, const char *what) {
    if (!a) return CHECK_MSG(0, "%s: NULL (%s)", what, mx_last_error());
    if (mx_ndim(a) != ndim) return CHECK_MSG(0, "%s: ndim %d, want %d", what, mx_ndim(a), ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (mx_dim(a, i) != shape[i])
            return CHECK_MSG(0, "%s: dim %d is %lld, want %lld", what, i, (long long)mx_dim(a, i), (long long)shape[i]);
        n *= shape[i];
    }
    double *got = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (mx_read(a, MX_FLOAT64, got)) {
        free(got);
        return CHECK_MSG(0, "%s: eval failed: %s", what, mx_last_error());
    }
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            CHECK_MSG(0, "%s: element %lld is %g, want %g", what, (long long)i, got[i], want[i]);
            free(got);
            return 0;
        }
    free(got);
    return CHECK_MSG(1, "%s", what);
}

mx_array *test_iota(const int64_t *shape, int ndim, int dtype) {
    mx_dtype t = (mx_dtype)dtype;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return mx_reshape(mx_arange(0, (double)n, 1, t), shape, ndim);
}

int test_error_has(const char *s) {
    return CHECK_MSG(strstr(mx_last_error(), s) != NULL, "error \"%s\" lacks \"%s\"", mx_last_error(), s);
}
