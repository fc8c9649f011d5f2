/* Reductions, arg reductions, softmax/logsumexp and scans: MLX's dtype and shape rules,
 * empty and 0-d inputs, NaN and infinities, wrapping integers, accumulation accuracy,
 * strided and broadcast inputs, and the error messages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/cmlx.h"
#include "test.h"

static mx_array *f32(const float *v, const int64_t *shape, int nd) { return mx_array_from_data(v, shape, nd, MX_FLOAT32); }

/* Reads a (forcing evaluation) as doubles into out; returns 0 on success. */
static int readd(mx_array *a, double *out) { return a ? mx_read(a, MX_FLOAT64, out) : -1; }

static int shape_is(const mx_array *a, int nd, const int64_t *want) {
    if (!a || mx_ndim(a) != nd) return 0;
    for (int i = 0; i < nd; i++)
        if (mx_shape(a)[i] != want[i]) return 0;
    return 1;
}

static void test_dtypes(void) {
    mx_pool *p = mx_pool_begin();
    int64_t sh[] = {2, 3};
    const struct {
        mx_dtype in, sum, mean;
    } cases[] = {
        {MX_BOOL, MX_INT32, MX_FLOAT32},     {MX_INT8, MX_INT32, MX_FLOAT32},     {MX_INT16, MX_INT32, MX_FLOAT32},
        {MX_INT32, MX_INT32, MX_FLOAT32},    {MX_INT64, MX_INT64, MX_FLOAT32},    {MX_UINT8, MX_UINT32, MX_FLOAT32},
        {MX_UINT16, MX_UINT32, MX_FLOAT32},  {MX_UINT32, MX_UINT32, MX_FLOAT32},  {MX_UINT64, MX_UINT64, MX_FLOAT32},
        {MX_FLOAT16, MX_FLOAT16, MX_FLOAT16}, {MX_BFLOAT16, MX_BFLOAT16, MX_BFLOAT16},
        {MX_FLOAT32, MX_FLOAT32, MX_FLOAT32}, {MX_FLOAT64, MX_FLOAT64, MX_FLOAT64},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mx_array *a = mx_ones(sh, 2, cases[i].in);
        CHECK_MSG(mx_array_dtype(mx_sum(a, NULL, 0, 0)) == cases[i].sum, "sum of %s", mx_dtype_name(cases[i].in));
        CHECK_MSG(mx_array_dtype(mx_prod(a, NULL, 0, 0)) == cases[i].sum, "prod of %s", mx_dtype_name(cases[i].in));
        CHECK_MSG(mx_array_dtype(mx_mean(a, NULL, 0, 0)) == cases[i].mean, "mean of %s", mx_dtype_name(cases[i].in));
        CHECK(mx_array_dtype(mx_var(a, NULL, 0, 0, 0)) == cases[i].mean);
        CHECK(mx_array_dtype(mx_std(a, NULL, 0, 0, 0)) == cases[i].mean);
        CHECK(mx_array_dtype(mx_logsumexp(a, NULL, 0, 0)) == cases[i].mean);
        CHECK(mx_array_dtype(mx_softmax(a, NULL, 0, 0)) == cases[i].mean);
        CHECK(mx_array_dtype(mx_max(a, NULL, 0, 0)) == cases[i].in);
        CHECK(mx_array_dtype(mx_min(a, NULL, 0, 0)) == cases[i].in);
        CHECK(mx_array_dtype(mx_all(a, NULL, 0, 0)) == MX_BOOL);
        CHECK(mx_array_dtype(mx_any(a, NULL, 0, 0)) == MX_BOOL);
        CHECK(mx_array_dtype(mx_argmax(a, 1, 0)) == MX_UINT32);
        CHECK(mx_array_dtype(mx_cumsum(a, 0, 0, 1)) == (cases[i].in == MX_BOOL ? MX_INT32 : cases[i].in));
        CHECK(mx_array_dtype(mx_cumprod(a, 0, 0, 1)) == cases[i].in);
        CHECK(mx_array_dtype(mx_cummax(a, 0, 0, 1)) == cases[i].in);
        /* the value: six ones */
        CHECK(mx_item_double(mx_sum(a, NULL, 0, 0)) == 6);
        CHECK(mx_item_double(mx_mean(a, NULL, 0, 0)) == 1);
    }
    mx_pool_end(p);
}

static void test_shapes_and_axes(void) {
    mx_pool *p = mx_pool_begin();
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i;
    mx_array *a = f32(v, (int64_t[]){2, 3, 4}, 3);
    CHECK(shape_is(mx_sum(a, NULL, 0, 0), 0, NULL));
    CHECK(shape_is(mx_sum(a, NULL, 0, 1), 3, (int64_t[]){1, 1, 1}));
    CHECK(shape_is(mx_sum(a, (int[]){1}, 1, 0), 2, (int64_t[]){2, 4}));
    CHECK(shape_is(mx_sum(a, (int[]){-1, 0}, 2, 1), 3, (int64_t[]){1, 3, 1}));
    CHECK(shape_is(mx_argmax(a, -2, 1), 3, (int64_t[]){2, 1, 4}));
    CHECK(shape_is(mx_argmin(a, 0, 0), 2, (int64_t[]){3, 4}));
    /* axes given with count 0: nothing reduced (MLX's axis=[]), dtype rule still applies */
    mx_array *none = mx_sum(mx_astype(a, MX_INT8), (int[]){0}, 0, 0);
    CHECK(shape_is(none, 3, (int64_t[]){2, 3, 4}) && mx_array_dtype(none) == MX_INT32);
    double out[24];
    CHECK(readd(none, out) == 0 && out[23] == 23);
    /* values: sum over axes 0 and 2 of 0..23 */
    CHECK(readd(mx_sum(a, (int[]){2, 0}, 2, 0), out) == 0);
    CHECK(out[0] == 0 + 1 + 2 + 3 + 12 + 13 + 14 + 15 && out[2] == 8 + 9 + 10 + 11 + 20 + 21 + 22 + 23);
    CHECK(readd(mx_max(a, (int[]){1}, 1, 0), out) == 0 && out[0] == 8 && out[7] == 23);
    CHECK(readd(mx_argmax(a, 1, 0), out) == 0 && out[0] == 2 && out[7] == 2);
    CHECK(readd(mx_argmin(a, 2, 0), out) == 0 && out[0] == 0 && out[5] == 0);
    /* 0-d input */
    mx_array *s = mx_scalar(3.5, MX_FLOAT32);
    CHECK(mx_item_double(mx_sum(s, NULL, 0, 0)) == 3.5);
    CHECK(mx_item_double(mx_max(s, NULL, 0, 1)) == 3.5);
    CHECK(mx_item_double(mx_softmax(s, NULL, 0, 0)) == 1);
    CHECK(mx_item_double(mx_logsumexp(s, NULL, 0, 0)) == 3.5);
    mx_pool_end(p);
}

static void test_empty(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *e = mx_zeros((int64_t[]){0, 3}, 2, MX_FLOAT32);
    double out[3];
    mx_array *s = mx_sum(e, (int[]){0}, 1, 0);
    CHECK(shape_is(s, 1, (int64_t[]){3}) && readd(s, out) == 0 && out[0] == 0 && out[2] == 0);
    CHECK(readd(mx_prod(e, (int[]){0}, 1, 0), out) == 0 && out[1] == 1);
    CHECK(readd(mx_mean(e, (int[]){0}, 1, 0), out) == 0 && isnan(out[0]));
    CHECK(readd(mx_all(e, (int[]){0}, 1, 0), out) == 0 && out[0] == 1);
    CHECK(readd(mx_any(e, (int[]){0}, 1, 0), out) == 0 && out[0] == 0);
    CHECK(mx_item_double(mx_sum(e, NULL, 0, 0)) == 0);
    /* max over a non-empty axis of an empty array is an empty result, not an error */
    mx_array *m = mx_max(e, (int[]){1}, 1, 0);
    CHECK(shape_is(m, 1, (int64_t[]){0}) && mx_eval1(m) == 0);
    mx_clear_error();
    CHECK(mx_max(e, (int[]){0}, 1, 0) == NULL);
    CHECK(strstr(mx_last_error(), "[max]") && strstr(mx_last_error(), "size 0") && strstr(mx_last_error(), "float32[0, 3]"));
    CHECK(mx_min(e, NULL, 0, 0) == NULL && strstr(mx_last_error(), "[min]"));
    CHECK(mx_argmax(e, 1, 0) == NULL && strstr(mx_last_error(), "[argmax]") && strstr(mx_last_error(), "empty"));
    CHECK(mx_logsumexp(e, NULL, 0, 0) == NULL && strstr(mx_last_error(), "[logsumexp]"));
    /* softmax, scans and sorts of empty arrays are empty */
    CHECK(shape_is(mx_softmax(e, NULL, 0, 0), 2, (int64_t[]){0, 3}));
    mx_array *cs = mx_cumsum(e, 0, 0, 1);
    CHECK(shape_is(cs, 2, (int64_t[]){0, 3}) && mx_eval1(cs) == 0);
    mx_pool_end(p);
}

static void test_nan_inf(void) {
    mx_pool *p = mx_pool_begin();
    float v[] = {1, NAN, 5, NAN, -2, 7};
    mx_array *a = f32(v, (int64_t[]){6}, 1);
    CHECK(isnan(mx_item_double(mx_max(a, NULL, 0, 0))));
    CHECK(isnan(mx_item_double(mx_min(a, NULL, 0, 0))));
    CHECK(mx_item_int(mx_argmax(a, 0, 0)) == 1); /* the first NaN wins, as NumPy */
    CHECK(mx_item_int(mx_argmin(a, 0, 0)) == 1);
    double out[6];
    CHECK(readd(mx_cummax(a, 0, 0, 1), out) == 0 && out[0] == 1 && isnan(out[1]) && isnan(out[5]));
    CHECK(readd(mx_cummin(a, 0, 1, 1), out) == 0 && isnan(out[0]) && isnan(out[3]) && out[4] == -2 && out[5] == 7);
    /* NaN as the first element of a bf16 argmax in a column layout */
    float w[] = {NAN, 1, 2, 9, 3, NAN};
    mx_array *b = mx_astype(f32(w, (int64_t[]){3, 2}, 2), MX_BFLOAT16);
    CHECK(readd(mx_argmax(b, 0, 0), out) == 0 && out[0] == 0 && out[1] == 2);
    CHECK(readd(mx_argmin(b, 0, 0), out) == 0 && out[0] == 0 && out[1] == 2);
    /* logsumexp with infinities */
    float ninf[] = {-INFINITY, -INFINITY, 1, INFINITY};
    mx_array *x = f32(ninf, (int64_t[]){2, 2}, 2);
    CHECK(readd(mx_logsumexp(x, (int[]){1}, 1, 0), out) == 0 && out[0] == -INFINITY && out[1] == INFINITY);
    /* softmax stays finite for large inputs */
    float big[] = {1000, 1000, 999, -1000};
    CHECK(readd(mx_softmax(f32(big, (int64_t[]){4}, 1), NULL, 0, 0), out) == 0);
    CHECK(fabs(out[0] - 0.4223187982) < 1e-6 && fabs(out[2] - 0.1553624) < 1e-6 && out[3] == 0);
    mx_pool_end(p);
}

static void test_integers(void) {
    mx_pool *p = mx_pool_begin();
    /* sums of small integers widen: 300 * 100 fits in int32 */
    mx_array *a = mx_full((int64_t[]){300}, 1, 100, MX_INT8);
    CHECK(mx_item_int(mx_sum(a, NULL, 0, 0)) == 30000);
    mx_array *u = mx_full((int64_t[]){300}, 1, 250, MX_UINT8);
    CHECK(mx_item_int(mx_sum(u, NULL, 0, 0)) == 75000);
    CHECK(mx_item_double(mx_mean(u, NULL, 0, 0)) == 250);
    /* scans keep the dtype and wrap like MLX's int8 arithmetic */
    double out[300];
    CHECK(readd(mx_cumsum(a, 0, 0, 1), out) == 0 && out[0] == 100 && out[1] == -56);
    /* uint64 above INT64_MAX compares as unsigned */
    uint64_t big[] = {1, 0xFFFFFFFFFFFFFFF0ull, 5};
    mx_array *b = mx_array_from_data(big, (int64_t[]){3}, 1, MX_UINT64);
    uint64_t r = 0;
    CHECK(mx_read(mx_max(b, NULL, 0, 0), MX_UINT64, &r) == 0 && r == 0xFFFFFFFFFFFFFFF0ull);
    CHECK(mx_read(mx_min(b, NULL, 0, 0), MX_UINT64, &r) == 0 && r == 1);
    CHECK(mx_item_int(mx_argmax(b, 0, 0)) == 1);
    uint64_t cm[3];
    CHECK(mx_read(mx_cummax(b, 0, 1, 0), MX_UINT64, cm) == 0 && cm[2] == 0 && cm[1] == 5 && cm[0] == 0xFFFFFFFFFFFFFFF0ull);
    /* exclusive scans start from the identity of their dtype */
    int8_t i8[] = {3, -4, 9};
    mx_array *c = mx_array_from_data(i8, (int64_t[]){3}, 1, MX_INT8);
    CHECK(readd(mx_cummax(c, 0, 0, 0), out) == 0 && out[0] == -128 && out[1] == 3 && out[2] == 3);
    CHECK(readd(mx_cummin(c, 0, 0, 0), out) == 0 && out[0] == 127 && out[2] == -4);
    CHECK(readd(mx_cumprod(c, 0, 0, 0), out) == 0 && out[0] == 1 && out[1] == 3 && out[2] == -12);
    /* bool: cumsum counts (int32), cumprod stays bool, all/any */
    uint8_t bv[] = {1, 1, 0, 1};
    mx_array *bb = mx_array_from_data(bv, (int64_t[]){4}, 1, MX_BOOL);
    CHECK(readd(mx_cumsum(bb, 0, 0, 1), out) == 0 && out[3] == 3);
    CHECK(readd(mx_cumprod(bb, 0, 0, 1), out) == 0 && out[1] == 1 && out[2] == 0 && out[3] == 0);
    CHECK(mx_item_int(mx_all(bb, NULL, 0, 0)) == 0 && mx_item_int(mx_any(bb, NULL, 0, 0)) == 1);
    CHECK(mx_item_int(mx_sum(bb, NULL, 0, 0)) == 3);
    mx_pool_end(p);
}

static void test_scan_modes(void) {
    mx_pool *p = mx_pool_begin();
    float v[] = {1, 2, 3};
    mx_array *a = f32(v, (int64_t[]){3}, 1);
    double out[3];
    CHECK(readd(mx_cumsum(a, 0, 0, 1), out) == 0 && out[0] == 1 && out[1] == 3 && out[2] == 6);
    CHECK(readd(mx_cumsum(a, 0, 0, 0), out) == 0 && out[0] == 0 && out[1] == 1 && out[2] == 3);
    CHECK(readd(mx_cumsum(a, 0, 1, 1), out) == 0 && out[0] == 6 && out[1] == 5 && out[2] == 3);
    CHECK(readd(mx_cumsum(a, 0, 1, 0), out) == 0 && out[0] == 5 && out[1] == 3 && out[2] == 0);
    CHECK(readd(mx_cumprod(a, -1, 1, 1), out) == 0 && out[0] == 6 && out[1] == 6 && out[2] == 3);
    CHECK(readd(mx_cummin(a, 0, 0, 0), out) == 0 && out[0] == INFINITY && out[2] == 1);
    CHECK(readd(mx_cummax(a, 0, 1, 0), out) == 0 && out[2] == -INFINITY && out[0] == 3);
    mx_pool_end(p);
}

static void test_accuracy(void) {
    mx_pool *p = mx_pool_begin();
    /* 4096 bf16 ones: a bf16 accumulator would stop at 256 */
    mx_array *ones = mx_ones((int64_t[]){4096}, 1, MX_BFLOAT16);
    CHECK(mx_item_double(mx_sum(ones, NULL, 0, 0)) == 4096);
    CHECK(mx_item_double(mx_mean(ones, NULL, 0, 0)) == 1);
    /* ten million float32 0.1s, and over a leading axis */
    mx_array *t = mx_full((int64_t[]){10000000}, 1, 0.1, MX_FLOAT32);
    double s = mx_item_double(mx_sum(t, NULL, 0, 0));
    CHECK_MSG(fabs(s - 1e6 * (double)0.1f * 10) / 1e6 < 1e-6, "sum of 1e7 x 0.1f = %.9g", s);
    mx_array *t2 = mx_full((int64_t[]){1000000, 4}, 2, 0.1, MX_FLOAT32);
    double col[4];
    CHECK(readd(mx_sum(t2, (int[]){0}, 1, 0), col) == 0);
    CHECK_MSG(fabs(col[3] - 1e6 * (double)0.1f) / 1e5 < 1e-6, "column sum %.9g", col[3]);
    /* variance of values far from zero: two passes keep the digits */
    float v[1000];
    for (int i = 0; i < 1000; i++) v[i] = 10000.0f + (float)(i % 2);
    double var = mx_item_double(mx_var(f32(v, (int64_t[]){1000}, 1), NULL, 0, 0, 0));
    CHECK_MSG(fabs(var - 0.25) < 1e-6, "var = %.9g", var);
    double sd = mx_item_double(mx_std(f32(v, (int64_t[]){1000}, 1), NULL, 0, 0, 1));
    CHECK_MSG(fabs(sd - sqrt(250.0 / 999)) < 1e-6, "std(ddof=1) = %.9g", sd);
    /* ddof >= N divides by max(N - ddof, 0): inf or NaN as MLX */
    CHECK(isinf(mx_item_double(mx_var(f32(v, (int64_t[]){2}, 1), NULL, 0, 0, 2))));
    /* softmax rows sum to one for bf16 input computed in float32 */
    mx_array *x = mx_astype(mx_arange(-8, 8, 0.01, MX_FLOAT32), MX_BFLOAT16);
    double total = mx_item_double(mx_sum(mx_astype(mx_softmax(x, (int[]){0}, 1, 1), MX_FLOAT32), NULL, 0, 0));
    CHECK_MSG(fabs(total - 1) < 1e-2, "softmax sums to %.6g", total);
    mx_pool_end(p);
}

static void test_strided_and_broadcast(void) {
    mx_pool *p = mx_pool_begin();
    float v[12];
    for (int i = 0; i < 12; i++) v[i] = (float)(i + 1);
    mx_array *a = f32(v, (int64_t[]){3, 4}, 2);
    mx_array *t = mx_transpose(a, NULL, 0); /* [4, 3] view */
    double out[20];
    CHECK(readd(mx_sum(t, (int[]){1}, 1, 0), out) == 0 && out[0] == 1 + 5 + 9 && out[3] == 4 + 8 + 12);
    CHECK(readd(mx_cumsum(t, 1, 0, 1), out) == 0 && out[2] == 15 && out[5] == 2 + 6 + 10);
    CHECK(readd(mx_softmax(t, (int[]){-1}, 1, 0), out) == 0 && fabs(out[0] + out[1] + out[2] - 1) < 1e-6);
    /* a broadcast input: stride 0 along the reduced axis */
    mx_array *row = f32(v, (int64_t[]){1, 4}, 2);
    mx_array *bc = mx_broadcast_to(row, (int64_t[]){5, 4}, 2);
    CHECK(readd(mx_sum(bc, (int[]){0}, 1, 0), out) == 0 && out[0] == 5 && out[3] == 20);
    CHECK(readd(mx_argmax(bc, 1, 0), out) == 0 && out[4] == 3);
    CHECK(readd(mx_cumsum(bc, 0, 0, 1), out) == 0 && out[4 * 4 + 2] == 15);
    /* a reversed view */
    mx_array *rev = mx_slice(a, (int64_t[]){INT64_MAX, INT64_MAX}, (int64_t[]){INT64_MIN, INT64_MIN}, (int64_t[]){-1, -1}, 2);
    CHECK(readd(mx_argmax(rev, 1, 0), out) == 0 && out[0] == 0 && out[2] == 0);
    CHECK(readd(mx_cumsum(rev, 1, 0, 1), out) == 0 && out[3] == 12 + 11 + 10 + 9);
    mx_pool_end(p);
}

static void test_errors(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *a = mx_zeros((int64_t[]){2, 3}, 2, MX_FLOAT32);
    mx_clear_error();
    CHECK(mx_sum(a, (int[]){2}, 1, 0) == NULL);
    CHECK(strstr(mx_last_error(), "[sum] axis 2 is out of bounds") && strstr(mx_last_error(), "float32[2, 3]"));
    CHECK(mx_mean(a, (int[]){-3}, 1, 0) == NULL && strstr(mx_last_error(), "[mean] axis -3"));
    CHECK(mx_var(a, (int[]){0, -2}, 2, 0, 0) == NULL && strstr(mx_last_error(), "[var] axis -2 is given twice"));
    CHECK(mx_argmin(a, 5, 0) == NULL && strstr(mx_last_error(), "[argmin] axis 5"));
    CHECK(mx_softmax(a, (int[]){4}, 1, 0) == NULL && strstr(mx_last_error(), "[softmax] axis 4"));
    CHECK(mx_logsumexp(a, (int[]){1, 1}, 2, 0) == NULL && strstr(mx_last_error(), "[logsumexp]"));
    CHECK(mx_cumsum(a, 2, 0, 1) == NULL && strstr(mx_last_error(), "[cumsum] axis 2") &&
          strstr(mx_last_error(), "float32[2, 3]"));
    CHECK(mx_cummax(mx_scalar(1, MX_FLOAT32), 0, 0, 1) == NULL && strstr(mx_last_error(), "[cummax]"));
    CHECK(mx_argmax(mx_scalar(1, MX_FLOAT32), 0, 0) == NULL && strstr(mx_last_error(), "[argmax] axis 0"));
    /* NULL in, NULL out, error untouched */
    mx_set_error("sentinel");
    CHECK(mx_sum(NULL, NULL, 0, 0) == NULL && mx_max(NULL, NULL, 0, 0) == NULL && mx_argmax(NULL, 0, 0) == NULL &&
          mx_softmax(NULL, NULL, 0, 0) == NULL && mx_cumsum(NULL, 0, 0, 1) == NULL && mx_all(NULL, NULL, 0, 0) == NULL &&
          mx_logsumexp(NULL, NULL, 0, 0) == NULL && mx_var(NULL, NULL, 0, 0, 0) == NULL);
    CHECK(strcmp(mx_last_error(), "sentinel") == 0);
    mx_pool_end(p);
}

/* The softmax over axes other than the last (composite) and the fused last-axis kernel
 * agree, and size-1 extra axes still use the fused path. */
static void test_softmax_axes(void) {
    mx_pool *p = mx_pool_begin();
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = sinf((float)i) * 3;
    mx_array *a = f32(v, (int64_t[]){2, 3, 4}, 3);
    double x[24], y[24];
    mx_array *t = mx_transpose(a, (int[]){0, 2, 1}, 3);
    CHECK(readd(mx_softmax(a, (int[]){1}, 1, 0), x) == 0);
    CHECK(readd(mx_transpose(mx_softmax(t, (int[]){2}, 1, 0), (int[]){0, 2, 1}, 3), y) == 0);
    int ok = 1;
    for (int i = 0; i < 24; i++) ok &= fabs(x[i] - y[i]) < 1e-6;
    CHECK(ok);
    CHECK(readd(mx_softmax(a, NULL, 0, 0), x) == 0);
    double s = 0;
    for (int i = 0; i < 24; i++) s += x[i];
    CHECK(fabs(s - 1) < 1e-6);
    mx_array *b = mx_reshape(a, (int64_t[]){1, 24}, 2);
    CHECK(readd(mx_softmax(b, NULL, 0, 0), y) == 0);
    ok = 1;
    for (int i = 0; i < 24; i++) ok &= fabs(x[i] - y[i]) < 1e-7;
    CHECK(ok);
    mx_pool_end(p);
}

int main(void) {
    test_dtypes();
    test_shapes_and_axes();
    test_empty();
    test_nan_inf();
    test_integers();
    test_scan_modes();
    test_accuracy();
    test_strided_and_broadcast();
    test_errors();
    test_softmax_axes();
    return test_finish();
}
