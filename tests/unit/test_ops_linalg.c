/* matmul / addmm / gather_mm semantics: result shapes of 1-D and batched operands, dtype
 * promotion, empty dimensions, exact small products, transposed and broadcast views, and the
 * error messages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/cmlx.h"
#include "test.h"

static int shape_is(mx_array *a, const int64_t *s, int n) {
    if (!a || mx_ndim(a) != n) return 0;
    for (int i = 0; i < n; i++)
        if (mx_dim(a, i) != s[i]) return 0;
    return 1;
}

static void test_shapes(void) {
    mx_pool *pool = mx_pool_begin();
    mx_array *v = mx_ones((int64_t[]){4}, 1, MX_FLOAT32), *m = mx_ones((int64_t[]){4, 3}, 2, MX_FLOAT32);
    mx_array *mt = mx_ones((int64_t[]){3, 4}, 2, MX_FLOAT32);
    mx_array *b3 = mx_ones((int64_t[]){2, 1, 3, 4}, 4, MX_FLOAT32), *b2 = mx_ones((int64_t[]){5, 4, 6}, 3, MX_FLOAT32);
    CHECK(shape_is(mx_matmul(v, v), NULL, 0));
    CHECK(shape_is(mx_matmul(v, m), (int64_t[]){3}, 1));
    CHECK(shape_is(mx_matmul(mt, v), (int64_t[]){3}, 1));
    CHECK(shape_is(mx_matmul(b3, b2), (int64_t[]){2, 5, 3, 6}, 4));
    CHECK(shape_is(mx_matmul(v, b2), (int64_t[]){5, 6}, 2));
    mx_array *s = mx_matmul(v, v);
    CHECK(mx_item_double(s) == 4.0);
    mx_pool_end(pool);
}

static void test_values_and_views(void) {
    mx_pool *pool = mx_pool_begin();
    float av[6] = {1, 2, 3, 4, 5, 6}, bv[6] = {7, 8, 9, 10, 11, 12};
    mx_array *a = mx_array_from_data(av, (int64_t[]){2, 3}, 2, MX_FLOAT32);
    mx_array *b = mx_array_from_data(bv, (int64_t[]){3, 2}, 2, MX_FLOAT32);
    float r[4];
    CHECK(mx_read(mx_matmul(a, b), MX_FLOAT32, r) == 0);
    CHECK(r[0] == 58 && r[1] == 64 && r[2] == 139 && r[3] == 154);
    /* a @ a.T through a transposed view, and in float64 / bfloat16 */
    mx_dtype ts[] = {MX_FLOAT32, MX_FLOAT64, MX_BFLOAT16, MX_FLOAT16};
    for (int i = 0; i < 4; i++) {
        mx_array *x = mx_astype(a, ts[i]);
        mx_array *p = mx_matmul(x, mx_transpose(x, NULL, 0));
        CHECK(mx_array_dtype(p) == ts[i]);
        CHECK(mx_read(p, MX_FLOAT32, r) == 0 && r[0] == 14 && r[1] == 32 && r[2] == 32 && r[3] == 77);
    }
    /* a broadcast operand (stride 0 rows) and a stepped slice */
    mx_array *row = mx_broadcast_to(mx_array_from_data(bv, (int64_t[]){1, 3}, 2, MX_FLOAT32), (int64_t[]){3, 3}, 2);
    mx_array *sl = mx_slice(a, (int64_t[]){0, 0}, (int64_t[]){2, 3}, (int64_t[]){1, 2}, 2); /* [[1,3],[4,6]] */
    float q[6];
    CHECK(mx_read(mx_matmul(a, row), MX_FLOAT32, q) == 0 && q[0] == 42 && q[5] == 15 * 9);
    CHECK(mx_read(mx_matmul(sl, sl), MX_FLOAT32, r) == 0 && r[0] == 13 && r[1] == 21 && r[2] == 28 && r[3] == 48);
    mx_pool_end(pool);
}

static void test_promotion_and_empty(void) {
    mx_pool *pool = mx_pool_begin();
    mx_array *a = mx_ones((int64_t[]){2, 3}, 2, MX_BFLOAT16), *b = mx_ones((int64_t[]){3, 2}, 2, MX_FLOAT16);
    CHECK(mx_array_dtype(mx_matmul(a, b)) == MX_FLOAT32);
    CHECK(mx_array_dtype(mx_matmul(a, mx_ones((int64_t[]){3, 2}, 2, MX_BFLOAT16))) == MX_BFLOAT16);
    /* K = 0 gives zeros; M = 0 gives an empty result */
    mx_array *e = mx_matmul(mx_ones((int64_t[]){2, 0}, 2, MX_FLOAT32), mx_ones((int64_t[]){0, 3}, 2, MX_FLOAT32));
    float z[6] = {1, 1, 1, 1, 1, 1};
    CHECK(shape_is(e, (int64_t[]){2, 3}, 2) && mx_read(e, MX_FLOAT32, z) == 0 && z[0] == 0 && z[5] == 0);
    mx_array *e2 = mx_matmul(mx_ones((int64_t[]){0, 4}, 2, MX_FLOAT32), mx_ones((int64_t[]){4, 3}, 2, MX_FLOAT32));
    CHECK(shape_is(e2, (int64_t[]){0, 3}, 2) && mx_eval1(e2) == 0);
    mx_pool_end(pool);
}

static void test_addmm(void) {
    mx_pool *pool = mx_pool_begin();
    float av[4] = {1, 2, 3, 4}, cv[2] = {10, 20};
    mx_array *a = mx_array_from_data(av, (int64_t[]){2, 2}, 2, MX_FLOAT32);
    mx_array *c = mx_array_from_data(cv, (int64_t[]){2}, 1, MX_FLOAT32);
    float r[4];
    /* 2 * (a @ a) + 0.5 * c: a @ a = [[7, 10], [15, 22]] */
    CHECK(mx_read(mx_addmm(c, a, a, 2.0f, 0.5f), MX_FLOAT32, r) == 0);
    CHECK(r[0] == 19 && r[1] == 30 && r[2] == 35 && r[3] == 54);
    mx_array *bad = mx_ones((int64_t[]){3}, 1, MX_FLOAT32);
    CHECK(mx_addmm(bad, a, a, 1, 1) == NULL && strstr(mx_last_error(), "[addmm]"));
    mx_pool_end(pool);
}

static void test_gather_mm(void) {
    mx_pool *pool = mx_pool_begin();
    /* b: 3 matrices [2, 2]: k * identity */
    float bv[12] = {1, 0, 0, 1, 2, 0, 0, 2, 3, 0, 0, 3}, av[2] = {1, 2};
    mx_array *b = mx_array_from_data(bv, (int64_t[]){3, 2, 2}, 3, MX_FLOAT32);
    mx_array *a = mx_array_from_data(av, (int64_t[]){1, 1, 2}, 3, MX_FLOAT32);
    mx_array *ri = mx_array_from_data((int32_t[]){2, 0, 1, 2}, (int64_t[]){4}, 1, MX_INT32);
    mx_array *li = mx_array_from_data((uint32_t[]){0, 0, 0, 0}, (int64_t[]){4}, 1, MX_UINT32);
    mx_array *g = mx_gather_mm(a, b, li, ri);
    float r[8];
    CHECK(shape_is(g, (int64_t[]){4, 1, 2}, 3) && mx_read(g, MX_FLOAT32, r) == 0);
    CHECK(r[0] == 3 && r[1] == 6 && r[2] == 1 && r[3] == 2 && r[4] == 2 && r[5] == 4 && r[6] == 3 && r[7] == 6);
    mx_array *oob = mx_gather_mm(a, b, NULL, mx_array_from_data((int32_t[]){3}, (int64_t[]){1}, 1, MX_INT32));
    CHECK(oob && mx_eval1(oob) == -1 && strstr(mx_last_error(), "rhs 3 of 3"));
    CHECK(mx_gather_mm(a, b, mx_ones((int64_t[]){1}, 1, MX_FLOAT32), NULL) == NULL && strstr(mx_last_error(), "integers"));
    mx_pool_end(pool);
}

/* The decode product (one row against a 16-bit Linear weight, whose kernel reads each
 * thread's rows as far-apart streams) gives the values of the same row inside a batch of
 * rows (another kernel, the same operations per row), for row and K counts that leave
 * remainders at every level (streams, pairs of rows, 32-wide K blocks). The results are
 * rounded to 16 bits, so this guards which row lands where; op_conformance_linalg bounds the
 * values themselves. */
static void test_decode_rows_match_batch(void) {
    const int64_t shapes[][2] = {{2048, 40}, {300, 45}, {160, 7}, {1000, 131}, {4096, 256}};
    const mx_dtype dts[] = {MX_BFLOAT16, MX_FLOAT16};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int d = 0; d < 2; d++) {
            mx_pool *pool = mx_pool_begin();
            int64_t K = shapes[s][0], N = shapes[s][1];
            mx_array *x = mx_random_uniform(-1, 1, (int64_t[]){3, K}, 2, dts[d], NULL);
            mx_array *wt = mx_transpose(mx_random_uniform(-1, 1, (int64_t[]){N, K}, 2, dts[d], NULL), NULL, 0);
            float *all = malloc(sizeof(float) * (size_t)(3 * N)), *one = malloc(sizeof(float) * (size_t)N);
            CHECK(all && one && mx_read(mx_matmul(x, wt), MX_FLOAT32, all) == 0);
            for (int64_t m = 0; all && one && m < 3; m++)
                CHECK_MSG(mx_read(mx_matmul(mx_slice_axis(x, 0, m, m + 1), wt), MX_FLOAT32, one) == 0 &&
                              !memcmp(one, all + m * N, sizeof(float) * (size_t)N),
                          "%s K %lld N %lld row %lld", mx_dtype_name(dts[d]), (long long)K, (long long)N, (long long)m);
            free(all);
            free(one);
            mx_pool_end(pool);
        }
}

static void test_errors(void) {
    mx_pool *pool = mx_pool_begin();
    mx_array *a = mx_ones((int64_t[]){2, 3}, 2, MX_FLOAT32), *b = mx_ones((int64_t[]){4, 2}, 2, MX_FLOAT32);
    CHECK(mx_matmul(a, b) == NULL && strstr(mx_last_error(), "inner dimensions") && strstr(mx_last_error(), "float32[2, 3]"));
    mx_array *i = mx_ones((int64_t[]){3, 2}, 2, MX_INT32);
    CHECK(mx_matmul(a, i) == NULL || mx_array_dtype(mx_matmul(a, i)) == MX_FLOAT32);
    CHECK(mx_matmul(i, i) == NULL && strstr(mx_last_error(), "floating-point"));
    CHECK(mx_matmul(mx_scalar(1, MX_FLOAT32), a) == NULL && strstr(mx_last_error(), "at least one dimension"));
    mx_array *x = mx_ones((int64_t[]){2, 2, 3}, 3, MX_FLOAT32), *y = mx_ones((int64_t[]){3, 3, 1}, 3, MX_FLOAT32);
    CHECK(mx_matmul(x, y) == NULL && strstr(mx_last_error(), "broadcast"));
    CHECK(mx_matmul(NULL, a) == NULL);
    mx_pool_end(pool);
}

int main(void) {
    test_shapes();
    test_values_and_views();
    test_promotion_and_empty();
    test_addmm();
    test_gather_mm();
    test_decode_rows_match_batch();
    test_errors();
    return test_finish();
}
