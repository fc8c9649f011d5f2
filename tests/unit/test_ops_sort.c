/* sort, argsort, partition, argpartition, topk: order and stability rules (NaN last, -0.0
 * equal to 0.0, unsigned 64-bit above INT64_MAX), shapes, strided inputs, large lines and
 * the error messages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/cmlx.h"
#include "test.h"

static mx_array *f32(const float *v, const int64_t *shape, int nd) { return mx_array_from_data(v, shape, nd, MX_FLOAT32); }
static int readd(mx_array *a, double *out) { return a ? mx_read(a, MX_FLOAT64, out) : -1; }

static void test_order_rules(void) {
    mx_pool *p = mx_pool_begin();
    float v[] = {3, NAN, -1, INFINITY, -0.0f, 0.0f, -INFINITY, NAN, 2};
    mx_array *a = f32(v, (int64_t[]){9}, 1);
    double out[9];
    CHECK(readd(mx_sort(a, 0), out) == 0);
    CHECK(out[0] == -INFINITY && out[1] == -1 && out[2] == 0 && signbit(out[2]) && out[3] == 0 && !signbit(out[3]));
    CHECK(out[4] == 2 && out[5] == 3 && out[6] == INFINITY && isnan(out[7]) && isnan(out[8]));
    /* stable: equal keys (and both zeros, and both NaNs) keep their order */
    CHECK(readd(mx_argsort(a, 0), out) == 0);
    double want[] = {6, 2, 4, 5, 8, 0, 3, 1, 7};
    CHECK(memcmp(out, want, sizeof want) == 0);
    /* the same in float16 and bfloat16 */
    for (int t = 0; t < 2; t++) {
        mx_array *h = mx_astype(a, t ? MX_BFLOAT16 : MX_FLOAT16);
        CHECK(readd(mx_argsort(h, -1), out) == 0 && memcmp(out, want, sizeof want) == 0);
    }
    int32_t iv[] = {3, 1, 3, 1, 2, -7};
    CHECK(readd(mx_argsort(mx_array_from_data(iv, (int64_t[]){6}, 1, MX_INT32), 0), out) == 0);
    CHECK(out[0] == 5 && out[1] == 1 && out[2] == 3 && out[3] == 4 && out[4] == 0 && out[5] == 2);
    uint64_t uv[] = {0xFFFFFFFFFFFFFFFFull, 1, 0x8000000000000000ull, 0};
    uint64_t us[4];
    mx_array *u = mx_array_from_data(uv, (int64_t[]){4}, 1, MX_UINT64);
    CHECK(mx_read(mx_sort(u, 0), MX_UINT64, us) == 0);
    CHECK(us[0] == 0 && us[1] == 1 && us[2] == 0x8000000000000000ull && us[3] == 0xFFFFFFFFFFFFFFFFull);
    int64_t sv[] = {INT64_MAX, -5, INT64_MIN, 0};
    int64_t ss[4];
    CHECK(mx_read(mx_sort(mx_array_from_data(sv, (int64_t[]){4}, 1, MX_INT64), 0), MX_INT64, ss) == 0);
    CHECK(ss[0] == INT64_MIN && ss[1] == -5 && ss[2] == 0 && ss[3] == INT64_MAX);
    uint8_t bv[] = {1, 0, 1, 0};
    CHECK(readd(mx_argsort(mx_array_from_data(bv, (int64_t[]){4}, 1, MX_BOOL), 0), out) == 0);
    CHECK(out[0] == 1 && out[1] == 3 && out[2] == 0 && out[3] == 2);
    mx_pool_end(p);
}

static void test_axes_and_views(void) {
    mx_pool *p = mx_pool_begin();
    float v[] = {5, 1, 4, 2, 8, 0, 7, 3, 6, 9, -1, 11};
    mx_array *a = f32(v, (int64_t[]){3, 4}, 2);
    double out[12];
    CHECK(readd(mx_sort(a, 0), out) == 0);
    CHECK(out[0] == 5 && out[4] == 6 && out[8] == 8 && out[1] == 0 && out[10] == 7 && out[11] == 11);
    CHECK(readd(mx_argsort(a, -1), out) == 0 && out[0] == 1 && out[3] == 0 && out[8] == 2 && out[11] == 3);
    mx_array *t = mx_transpose(a, NULL, 0); /* [4, 3] view */
    CHECK(readd(mx_sort(t, 1), out) == 0 && out[0] == 5 && out[1] == 6 && out[2] == 8 && out[9] == 2);
    CHECK(mx_ndim(mx_sort(t, 1)) == 2 && mx_dim(mx_argsort(t, 0), 0) == 4);
    /* empty and size-1 lines */
    mx_array *e = mx_zeros((int64_t[]){0, 3}, 2, MX_FLOAT32);
    mx_array *se = mx_sort(e, 0);
    CHECK(se && mx_eval1(se) == 0 && mx_size(se) == 0);
    mx_array *one = mx_argsort(mx_zeros((int64_t[]){5, 1}, 2, MX_INT8), 1);
    CHECK(readd(one, out) == 0 && out[0] == 0 && out[4] == 0);
    mx_pool_end(p);
}

static void test_partition(void) {
    mx_pool *p = mx_pool_begin();
    float v[] = {9, 1, 8, 2, 7, 3, 6, 4, 5, 0};
    mx_array *a = f32(v, (int64_t[]){10}, 1);
    double out[10];
    CHECK(readd(mx_partition(a, 3, 0), out) == 0 && out[3] == 3);
    int ok = 1;
    for (int i = 0; i < 10; i++) ok &= i < 3 ? out[i] < 3 : i > 3 ? out[i] > 3 : 1;
    CHECK(ok);
    CHECK(readd(mx_argpartition(a, -2, 0), out) == 0 && out[8] == 2); /* 8 is at index 2 */
    ok = 1;
    for (int i = 0; i < 10; i++) ok &= i < 8 ? v[(int)out[i]] < 8 : i > 8 ? v[(int)out[i]] > 8 : 1;
    CHECK(ok);
    /* topk: the k largest; k = n returns the input; k = 0 is empty */
    mx_array *tk = mx_topk(a, 3, 0);
    CHECK(tk && mx_dim(tk, 0) == 3 && readd(mx_sort(tk, 0), out) == 0 && out[0] == 7 && out[1] == 8 && out[2] == 9);
    CHECK(mx_topk(a, 10, -1) == a);
    mx_array *t0 = mx_topk(a, 0, 0);
    CHECK(t0 && mx_dim(t0, 0) == 0 && mx_eval1(t0) == 0);
    float w[] = {1, 5, 2, 6, 3, 7, 4, 8};
    mx_array *m = f32(w, (int64_t[]){4, 2}, 2);
    CHECK(readd(mx_sort(mx_topk(m, 2, 0), 0), out) == 0 && out[0] == 3 && out[1] == 7 && out[2] == 4 && out[3] == 8);
    mx_pool_end(p);
}

/* A long random line: sort and argsort agree, partition at every kth tested here is right. */
static void test_large(void) {
    mx_pool *p = mx_pool_begin();
    int64_t n = 200003;
    float *v = malloc((size_t)n * sizeof *v);
    double *s = malloc((size_t)n * sizeof *s), *ix = malloc((size_t)n * sizeof *ix);
    uint64_t r = 88172645463325252ull;
    for (int64_t i = 0; i < n; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        v[i] = (float)(r % 5000) - 2500; /* many ties */
    }
    mx_array *a = f32(v, &n, 1);
    CHECK(readd(mx_sort(a, 0), s) == 0 && readd(mx_argsort(a, 0), ix) == 0);
    int ok = 1;
    for (int64_t i = 0; i < n; i++) {
        ok &= s[i] == v[(int64_t)ix[i]];
        if (i) ok &= s[i - 1] < s[i] || (s[i - 1] == s[i] && ix[i - 1] < ix[i]);
    }
    CHECK(ok);
    int64_t kths[] = {0, 1, n / 3, n - 2, n - 1};
    for (int k = 0; k < 5; k++) {
        CHECK(readd(mx_partition(a, (int)kths[k], 0), ix) == 0);
        ok = ix[kths[k]] == s[kths[k]];
        for (int64_t i = 0; i < n; i++) ok &= i < kths[k] ? ix[i] <= s[kths[k]] : ix[i] >= s[kths[k]];
        CHECK_MSG(ok, "partition at kth=%lld", (long long)kths[k]);
    }
    free(v), free(s), free(ix);
    mx_pool_end(p);
}

static void test_errors(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *a = mx_zeros((int64_t[]){2, 3}, 2, MX_INT32);
    mx_clear_error();
    CHECK(mx_sort(a, 2) == NULL && strstr(mx_last_error(), "[sort] axis 2 is out of bounds") &&
          strstr(mx_last_error(), "int32[2, 3]"));
    CHECK(mx_argsort(a, -3) == NULL && strstr(mx_last_error(), "[argsort] axis -3"));
    CHECK(mx_partition(a, 3, 1) == NULL && strstr(mx_last_error(), "[partition] kth 3 is out of range") &&
          strstr(mx_last_error(), "size 3"));
    CHECK(mx_argpartition(a, -4, 1) == NULL && strstr(mx_last_error(), "[argpartition] kth -4"));
    CHECK(mx_topk(a, 4, 1) == NULL && strstr(mx_last_error(), "[topk] k = 4"));
    CHECK(mx_topk(a, -1, 0) == NULL && strstr(mx_last_error(), "[topk]"));
    CHECK(mx_sort(mx_scalar(1, MX_FLOAT32), 0) == NULL && strstr(mx_last_error(), "[sort] axis 0"));
    mx_set_error("sentinel");
    CHECK(mx_sort(NULL, 0) == NULL && mx_argsort(NULL, 0) == NULL && mx_partition(NULL, 0, 0) == NULL &&
          mx_argpartition(NULL, 0, 0) == NULL && mx_topk(NULL, 1, 0) == NULL);
    CHECK(strcmp(mx_last_error(), "sentinel") == 0);
    mx_pool_end(p);
}

int main(void) {
    test_order_rules();
    test_axes_and_views();
    test_partition();
    test_large();
    test_errors();
    return test_finish();
}
