/* The README's C API example: build a small graph lazily, evaluate it, read the result.
 * Built and run by the tests (tests/cmake/examples.cmake), so it stays correct. */
#include <stdio.h>

#include "cmlx/cmlx.h"

int main(void) {
    mx_pool *pool = mx_pool_begin();                      /* temporaries belong to the pool */
    float w[6] = {1, 2, 3, 4, 5, 6};
    mx_array *a = mx_array_from_data(w, (int64_t[]){2, 3}, 2, MX_FLOAT32);
    mx_array *b = mx_arange(0, 3, 1, MX_FLOAT32);          /* [0, 1, 2] */
    mx_array *c = mx_exp(mx_multiply_scalar(mx_add(a, b), 0.5)); /* nothing computed yet */
    mx_array *t = mx_transpose(c, NULL, 0);                /* a view: no copy */
    if (mx_eval1(t)) {                                     /* errors name the op and shapes */
        fprintf(stderr, "eval failed: %s\n", mx_last_error());
        mx_pool_end(pool);
        return 1;
    }
    float out[6];
    mx_read(t, MX_FLOAT32, out);                           /* row-major copy of the view */
    printf("shape (%lld, %lld):", (long long)mx_dim(t, 0), (long long)mx_dim(t, 1));
    for (int i = 0; i < 6; i++) printf(" %.4f", out[i]);
    printf("\n");
    mx_array *bad = mx_add(a, mx_ones((int64_t[]){4}, 1, MX_FLOAT32));
    printf("bad add -> %s: %s\n", bad ? "array" : "NULL", mx_last_error());
    mx_pool_end(pool);                                     /* frees everything above */
    return bad == NULL ? 0 : 1;
}
