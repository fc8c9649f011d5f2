/* Indexing ops: slice_update (broadcasting, negative steps, in-place donation for cache
 * updates), take/gather, take_along_axis, put_along_axis, scatter (every combine op,
 * duplicates), index dtypes, negative and out-of-range indices, and the error messages. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/cmlx.h"
#include "core/array_impl.h"
#include "test.h"



/* Integer array of dtype t (inside a pool: both arrays belong to it). */
static mx_array *ints(const int64_t *v, int64_t n, mx_dtype t) {
    return mx_astype(mx_array_from_data(v, (int64_t[]){n}, 1, MX_INT64), t);
}


static void test_slice_update(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *a = test_iota((int64_t[]){3, 4}, 2, MX_FLOAT32);
    mx_array *u = mx_negative(mx_add_scalar(test_iota((int64_t[]){2, 2}, 2, MX_FLOAT32), 1));
    test_expect(mx_slice_update(a, u, (int64_t[]){1, 1}, (int64_t[]){3, 3}, NULL, 2), (int64_t[]){3, 4}, 2,
           (double[]){0, 1, 2, 3, 4, -1, -2, 7, 8, -3, -4, 11}, "slice_update block");
    /* a is unchanged (it is still held, so nothing was donated) */
    test_expect(a, (int64_t[]){3, 4}, 2, (double[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, "a kept");
    /* broadcast scalar and row, stepped and negative-stepped slices */
    test_expect(mx_slice_update(a, mx_scalar(9, MX_INT32), (int64_t[]){0, 0}, (int64_t[]){3, 4}, (int64_t[]){2, 3}, 2),
           (int64_t[]){3, 4}, 2, (double[]){9, 1, 2, 9, 4, 5, 6, 7, 9, 9, 10, 9}, "slice_update stepped scalar");
    test_expect(mx_slice_update(a, ints((int64_t[]){70, 80}, 2, MX_INT8), (int64_t[]){-1, 3},
                           (int64_t[]){INT64_MIN, 0}, (int64_t[]){-1, -2}, 2),
           (int64_t[]){3, 4}, 2, (double[]){0, 80, 2, 70, 4, 80, 6, 70, 8, 80, 10, 70}, "slice_update negative steps");
    /* strided a and strided update */
    mx_array *at = mx_transpose(a, NULL, 0); /* 4x3 */
    mx_array *ut = mx_transpose(u, NULL, 0);
    test_expect(mx_slice_update(at, ut, (int64_t[]){0, 0}, (int64_t[]){2, 2}, NULL, 2), (int64_t[]){4, 3}, 2,
           (double[]){-1, -3, 8, -2, -4, 9, 2, 6, 10, 3, 7, 11}, "slice_update strided");
    /* empty slice: a copy of a */
    test_expect(mx_slice_update(a, mx_scalar(1, MX_FLOAT32), (int64_t[]){2, 0}, (int64_t[]){2, 4}, NULL, 2),
           (int64_t[]){3, 4}, 2, (double[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, "slice_update empty");
    /* bool and 16-bit floats, exact */
    mx_array *bz = mx_zeros((int64_t[]){5}, 1, MX_BOOL);
    test_expect(mx_slice_update(bz, mx_scalar(1, MX_BOOL), (int64_t[]){1}, (int64_t[]){5}, (int64_t[]){2}, 1),
           (int64_t[]){5}, 1, (double[]){0, 1, 0, 1, 0}, "slice_update bool");
    mx_array *h = mx_full((int64_t[]){4}, 1, 0.1, MX_BFLOAT16);
    mx_array *hu = mx_slice_update(h, mx_full((int64_t[]){1}, 1, 3.140625, MX_BFLOAT16), (int64_t[]){2},
                                   (int64_t[]){3}, NULL, 1);
    double h01 = mx_item_double(mx_slice_axis(h, 0, 0, 1));
    test_expect(hu, (int64_t[]){4}, 1, (double[]){h01, h01, 3.140625, h01}, "slice_update bfloat16");
    CHECK(mx_array_dtype(hu) == MX_BFLOAT16);
    /* errors */
    CHECK(mx_slice_update(a, u, (int64_t[]){0, 0}, (int64_t[]){3, 3}, NULL, 2) == NULL);
    test_error_has("[slice_update] update float32[2, 2] cannot be broadcast to the slice shape (3, 3) of float32[3, 4]");
    CHECK(mx_slice_update(a, u, (int64_t[]){0}, (int64_t[]){3}, NULL, 1) == NULL);
    test_error_has("[slice_update] 1 slice bounds given for an array with 2 dimensions");
    CHECK(mx_slice_update(a, u, (int64_t[]){0, 0}, (int64_t[]){2, 2}, (int64_t[]){1, 0}, 2) == NULL);
    test_error_has("[slice_update] slice step of axis 1 is 0");
    mx_array *u3 = mx_reshape(u, (int64_t[]){1, 2, 2}, 3);
    CHECK(mx_slice_update(a, u3, (int64_t[]){1, 1}, (int64_t[]){3, 3}, NULL, 2) == NULL);
    test_error_has("cannot be broadcast");
    mx_pool_end(p);
}

/* A KV-cache update: once the caller lets go of the old cache, the update is written in
 * place (the result shares the old buffer) and no cache-sized buffer is allocated. */
static void test_slice_update_donates(void) {
    int64_t B = 1, H = 4, T = 1024, D = 64;
    int64_t shape[4] = {B, H, T, D};
    mx_array *cache = mx_zeros(shape, 4, MX_FLOAT16);
    CHECK(mx_eval1(cache) == 0);
    mx_buffer *old = cache->buf;
    mx_array *kv = mx_ones((int64_t[]){B, H, 3, D}, 4, MX_FLOAT16);
    CHECK(mx_eval1(kv) == 0);
    size_t cache_bytes = mx_nbytes(cache);
    mx_reset_peak_memory();
    size_t before = mx_get_active_memory();
    mx_array *next = mx_slice_update(cache, kv, (int64_t[]){0, 0, 10, 0}, (int64_t[]){B, H, 13, D}, NULL, 4);
    mx_free(cache); /* the new node now holds the only reference */
    CHECK(mx_eval1(next) == 0);
    CHECK_MSG(next->buf == old, "slice_update did not reuse the cache buffer");
    CHECK_MSG(mx_get_peak_memory() < before + cache_bytes / 2, "peak %zu grew by a cache copy (%zu before)",
              mx_get_peak_memory(), before);
    mx_pool *p = mx_pool_begin();
    mx_array *win = mx_slice(next, (int64_t[]){0, 2, 9, 5}, (int64_t[]){1, 3, 14, 6}, NULL, 4);
    test_expect(win, (int64_t[]){1, 1, 5, 1}, 4, (double[]){0, 1, 1, 1, 0}, "updated window");
    mx_pool_end(p);
    /* a view of the result is alive: the next update must copy, leaving the view intact */
    mx_array *view = mx_slice_axis(next, 2, 10, 11);
    CHECK(mx_eval1(view) == 0);
    mx_array *five = mx_scalar(5, MX_FLOAT16);
    mx_array *next2 = mx_slice_update(next, five, (int64_t[]){0, 0, 10, 0}, (int64_t[]){B, H, 11, D}, NULL, 4);
    mx_free(next);
    mx_free(five);
    CHECK(mx_eval1(next2) == 0);
    CHECK(next2->buf != old);
    p = mx_pool_begin();
    CHECK(mx_item_double(mx_slice(view, (int64_t[]){0, 0, 0, 0}, (int64_t[]){1, 1, 1, 1}, NULL, 4)) == 1);
    CHECK(mx_item_double(mx_slice(next2, (int64_t[]){0, 3, 10, 63}, (int64_t[]){1, 4, 11, 64}, NULL, 4)) == 5);
    mx_pool_end(p);
    mx_free(view);
    mx_free(next2);
    mx_free(kv);
}

static void test_take(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *a = test_iota((int64_t[]){3, 4}, 2, MX_INT32);
    mx_dtype idx_types[] = {MX_UINT8, MX_UINT16, MX_UINT32, MX_UINT64, MX_INT8, MX_INT16, MX_INT32, MX_INT64};
    for (int i = 0; i < 8; i++) {
        mx_array *ix = ints((int64_t[]){2, 0, 2}, 3, idx_types[i]);
        test_expect(mx_take(a, ix, 0), (int64_t[]){3, 4}, 2, (double[]){8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11},
               mx_dtype_name(idx_types[i]));
    }
    mx_array *neg = ints((int64_t[]){-1, 1, -4}, 3, MX_INT64);
    test_expect(mx_take(a, neg, 1), (int64_t[]){3, 3}, 2, (double[]){3, 1, 0, 7, 5, 4, 11, 9, 8}, "take negative axis 1");
    test_expect(mx_gather(a, neg, -1), (int64_t[]){3, 3}, 2, (double[]){3, 1, 0, 7, 5, 4, 11, 9, 8}, "gather alias");
    /* 2-D indices and 0-d indices */
    mx_array *ix2 = mx_reshape(ints((int64_t[]){0, 2, 1, 1}, 4, MX_INT32), (int64_t[]){2, 2}, 2);
    test_expect(mx_take(a, ix2, 0), (int64_t[]){2, 2, 4}, 3,
           (double[]){0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 4, 5, 6, 7}, "take 2-d indices");
    test_expect(mx_take(a, ix2, 1), (int64_t[]){3, 2, 2}, 3, (double[]){0, 2, 1, 1, 4, 6, 5, 5, 8, 10, 9, 9},
           "take 2-d indices axis 1");
    test_expect(mx_take(a, mx_scalar_int(-2, MX_INT16), 0), (int64_t[]){4}, 1, (double[]){4, 5, 6, 7}, "take 0-d");
    /* strided a, strided indices */
    mx_array *at = mx_transpose(a, NULL, 0);
    mx_array *six = mx_slice(ints((int64_t[]){3, 9, 0, 9, 2}, 5, MX_UINT8), (int64_t[]){0}, (int64_t[]){5},
                             (int64_t[]){2}, 1);
    test_expect(mx_take(at, six, 0), (int64_t[]){3, 3}, 2, (double[]){3, 7, 11, 0, 4, 8, 2, 6, 10}, "take strided");
    /* axis 1 of at has size 3: index 3 is out of range */
    mx_clear_error();
    CHECK(mx_eval1(mx_take(at, six, 1)) == -1);
    test_error_has("[take] index 3 is out of bounds for axis 1 with size 3");
    CHECK(mx_eval1(mx_take(a, ints((int64_t[]){-4}, 1, MX_INT8), 0)) == -1);
    test_error_has("[take] index -4 is out of bounds for axis 0 with size 3");
    CHECK(mx_eval1(mx_take(a, ints((int64_t[]){-1}, 1, MX_UINT64), 0)) == -1);
    test_error_has("[take] index 18446744073709551615 is out of bounds");
    CHECK(mx_take(a, mx_scalar(1, MX_FLOAT32), 0) == NULL);
    test_error_has("[take] indices must have an integer dtype, got float32[]");
    CHECK(mx_take(a, mx_scalar(1, MX_BOOL), 0) == NULL);
    test_error_has("integer dtype");
    CHECK(mx_take(a, neg, 2) == NULL);
    test_error_has("[take] axis 2 is out of bounds");
    /* bool and float16 data */
    mx_array *bb = mx_greater(test_iota((int64_t[]){4}, 1, MX_INT32), mx_scalar(1, MX_INT32));
    test_expect(mx_take(bb, ints((int64_t[]){3, 0, 2, 1}, 4, MX_INT32), 0), (int64_t[]){4}, 1, (double[]){1, 0, 1, 0},
           "take bool");
    mx_array *hh = mx_multiply_scalar(test_iota((int64_t[]){5}, 1, MX_FLOAT16), 0.5);
    test_expect(mx_take(hh, ints((int64_t[]){4, 4, 1}, 3, MX_INT32), 0), (int64_t[]){3}, 1, (double[]){2, 2, 0.5},
           "take float16");
    /* empty indices */
    test_expect(mx_take(a, mx_zeros((int64_t[]){0}, 1, MX_INT32), 1), (int64_t[]){3, 0}, 2, NULL, "take none");
    mx_pool_end(p);
}

static void test_take_put_along_axis(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *a = mx_array_from_data((float[]){10, 30, 20, 60, 50, 40}, (int64_t[]){2, 3}, 2, MX_FLOAT32);
    mx_array *ix = mx_array_from_data((int32_t[]){1, 2, 0, 0}, (int64_t[]){2, 2}, 2, MX_INT32);
    test_expect(mx_take_along_axis(a, ix, 1), (int64_t[]){2, 2}, 2, (double[]){30, 20, 60, 60}, "take_along_axis 1");
    mx_array *col = mx_array_from_data((int64_t[]){1, -2, 0}, (int64_t[]){1, 3}, 2, MX_INT64);
    test_expect(mx_take_along_axis(a, col, 0), (int64_t[]){1, 3}, 2, (double[]){60, 30, 20}, "take_along_axis 0 neg");
    /* indices broadcast over the other axis */
    mx_array *one = mx_array_from_data((uint8_t[]){2}, (int64_t[]){1, 1}, 2, MX_UINT8);
    test_expect(mx_take_along_axis(a, one, 1), (int64_t[]){2, 1}, 2, (double[]){20, 40}, "take_along_axis broadcast");
    test_expect(mx_take_along_axis(mx_transpose(a, NULL, 0), mx_transpose(ix, NULL, 0), 0), (int64_t[]){2, 2}, 2,
           (double[]){30, 60, 20, 60}, "take_along_axis strided");
    CHECK(mx_eval1(mx_take_along_axis(a, one, 0)) == -1);
    test_error_has("[take_along_axis] index 2 is out of bounds for axis 0 with size 2");
    CHECK(mx_take_along_axis(a, test_iota((int64_t[]){2}, 1, MX_INT32), 1) == NULL);
    test_error_has("[take_along_axis] indices int32[2] must have as many dimensions as the array float32[2, 3]");
    CHECK(mx_take_along_axis(a, test_iota((int64_t[]){3, 1}, 2, MX_INT32), 1) == NULL);
    test_error_has("do not broadcast on axis 0");

    test_expect(mx_put_along_axis(a, ix, mx_scalar(-1, MX_FLOAT32), 1), (int64_t[]){2, 3}, 2,
           (double[]){10, -1, -1, -1, 50, 40}, "put_along_axis scalar");
    mx_array *vals = mx_array_from_data((double[]){7, 8, 9, 6}, (int64_t[]){2, 2}, 2, MX_FLOAT64);
    /* repeated index 0 in row 1: the last value wins */
    test_expect(mx_put_along_axis(a, ix, vals, 1), (int64_t[]){2, 3}, 2, (double[]){10, 7, 8, 6, 50, 40},
           "put_along_axis values");
    test_expect(mx_put_along_axis(a, col, mx_scalar(0, MX_INT32), 0), (int64_t[]){2, 3}, 2, (double[]){10, 0, 0, 0, 50, 40},
           "put_along_axis axis 0");
    test_expect(mx_put_along_axis(a, one, mx_array_from_data((float[]){1, 2}, (int64_t[]){2, 1}, 2, MX_FLOAT32), 1),
           (int64_t[]){2, 3}, 2, (double[]){10, 30, 1, 60, 50, 2}, "put_along_axis broadcast index");
    mx_clear_error();
    CHECK(mx_put_along_axis(a, one, vals, 0) == NULL);
    test_error_has("[put_along_axis] shapes (1, 3) and (2, 2) cannot be broadcast");
    mx_array *bad = mx_reshape(ints((int64_t[]){-4}, 1, MX_INT16), (int64_t[]){1, 1}, 2);
    CHECK(mx_eval1(mx_put_along_axis(a, bad, mx_scalar(0, MX_INT32), 1)) == -1);
    test_error_has("[put_along_axis] index -4 is out of bounds for axis 1 with size 3");
    CHECK(mx_put_along_axis(a, ix, test_iota((int64_t[]){2, 3}, 2, MX_FLOAT32), 1) == NULL);
    test_error_has("[put_along_axis]");
    mx_pool_end(p);
}

static void test_scatter(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *a = mx_add_scalar(test_iota((int64_t[]){4, 2}, 2, MX_FLOAT32), 1); /* 1..8 */
    mx_array *ix = ints((int64_t[]){1, 3, 1}, 3, MX_INT32);
    mx_array *u = mx_array_from_data((float[]){10, 20, 30, 40, 50, 60}, (int64_t[]){3, 2}, 2, MX_FLOAT32);
    test_expect(mx_scatter(a, ix, u, 0, MX_SCATTER_NONE), (int64_t[]){4, 2}, 2, (double[]){1, 2, 50, 60, 5, 6, 30, 40},
           "scatter none (last wins)");
    test_expect(mx_scatter(a, ix, u, 0, MX_SCATTER_ADD), (int64_t[]){4, 2}, 2, (double[]){1, 2, 63, 84, 5, 6, 37, 48},
           "scatter add duplicates");
    test_expect(mx_scatter(a, ix, u, 0, MX_SCATTER_PROD), (int64_t[]){4, 2}, 2,
           (double[]){1, 2, 1500, 4800, 5, 6, 210, 320}, "scatter prod");
    test_expect(mx_scatter(a, ix, mx_negative(u), 0, MX_SCATTER_MAX), (int64_t[]){4, 2}, 2,
           (double[]){1, 2, 3, 4, 5, 6, 7, 8}, "scatter max");
    test_expect(mx_scatter(a, ix, mx_negative(u), 0, MX_SCATTER_MIN), (int64_t[]){4, 2}, 2,
           (double[]){1, 2, -50, -60, 5, 6, -30, -40}, "scatter min");
    /* axis 1: updates are (indices, rows) */
    mx_array *c = ints((int64_t[]){-1}, 1, MX_INT64);
    test_expect(mx_scatter(a, c, mx_array_from_data((float[]){0, 0, 0, 9}, (int64_t[]){1, 4}, 2, MX_FLOAT32), 1,
                      MX_SCATTER_ADD),
           (int64_t[]){4, 2}, 2, (double[]){1, 2, 3, 4, 5, 6, 7, 17}, "scatter axis 1");
    /* broadcast updates, integer wrap, uint64 max, bool or */
    mx_array *ai = mx_full((int64_t[]){3}, 1, 250, MX_UINT8);
    test_expect(mx_scatter(ai, ints((int64_t[]){0, 0, 2}, 3, MX_UINT8), mx_scalar(5, MX_UINT8), 0, MX_SCATTER_ADD),
           (int64_t[]){3}, 1, (double[]){4, 250, 255}, "scatter uint8 wraps");
    mx_array *au = ints((int64_t[]){1, -1}, 2, MX_UINT64); /* -1 is 2^64-1 */
    mx_array *maxed = mx_scatter(au, ints((int64_t[]){0, 1}, 2, MX_INT8), ints((int64_t[]){5, 5}, 2, MX_UINT64), 0,
                                 MX_SCATTER_MAX);
    uint64_t mu[2];
    CHECK(mx_read(maxed, MX_UINT64, mu) == 0 && mu[0] == 5 && mu[1] == UINT64_MAX);
    mx_array *bz = mx_zeros((int64_t[]){3}, 1, MX_BOOL);
    test_expect(mx_scatter(bz, ints((int64_t[]){2, 2}, 2, MX_INT32), mx_scalar(1, MX_BOOL), 0, MX_SCATTER_ADD),
           (int64_t[]){3}, 1, (double[]){0, 0, 1}, "scatter bool add");
    mx_array *hf = mx_full((int64_t[]){2}, 1, 1.5, MX_FLOAT16);
    test_expect(mx_scatter(hf, ints((int64_t[]){1, 1, 1}, 3, MX_INT16), mx_scalar(0.25, MX_FLOAT16), 0, MX_SCATTER_ADD),
           (int64_t[]){2}, 1, (double[]){1.5, 2.25}, "scatter float16 add");
    /* errors */
    CHECK(mx_scatter(a, ix, test_iota((int64_t[]){3, 3}, 2, MX_FLOAT32), 0, MX_SCATTER_ADD) == NULL);
    test_error_has("[scatter] updates float32[3, 3] do not broadcast to (3, 2)");
    CHECK(mx_scatter(a, ix, u, 0, (mx_scatter_op)9) == NULL);
    test_error_has("[scatter] unknown scatter op 9");
    CHECK(mx_eval1(mx_scatter(a, ints((int64_t[]){4}, 1, MX_INT32), mx_scalar(1, MX_FLOAT32), 0, MX_SCATTER_ADD)) ==
          -1);
    test_error_has("[scatter] index 4 is out of bounds for axis 0 with size 4");
    mx_pool_end(p);
}

/* Scatter into a buffer nobody else holds is in place as well. */
static void test_scatter_donates(void) {
    mx_array *a = mx_zeros((int64_t[]){1000, 16}, 2, MX_FLOAT32);
    CHECK(mx_eval1(a) == 0);
    mx_buffer *old = a->buf;
    mx_pool *p = mx_pool_begin();
    mx_array *r = mx_keep(mx_scatter(a, ints((int64_t[]){7}, 1, MX_INT32), mx_scalar(2, MX_FLOAT32), 0, MX_SCATTER_ADD));
    mx_pool_end(p);
    mx_free(a);
    CHECK(mx_eval1(r) == 0 && r->buf == old);
    p = mx_pool_begin();
    CHECK(mx_item_double(mx_slice(r, (int64_t[]){7, 15}, (int64_t[]){8, 16}, NULL, 2)) == 2);
    mx_pool_end(p);
    mx_free(r);
}

/* Sizes past the threading threshold: the parallel paths agree with plain loops. */
static void test_large_parallel(void) {
    mx_pool *p = mx_pool_begin();
    enum { B = 64, N = 50, Q = 300, K = 7 };
    static float av[B * N * Q], uv[K * B * Q], want[B * N * Q];
    static int32_t iv[K] = {3, -1, 3, 0, 49, 3, 17};
    for (int i = 0; i < B * N * Q; i++) av[i] = (float)(i % 97);
    for (int i = 0; i < K * B * Q; i++) uv[i] = (float)(i % 13) - 6;
    mx_array *a = mx_array_from_data(av, (int64_t[]){B, N, Q}, 3, MX_FLOAT32);
    mx_array *ix = mx_array_from_data(iv, (int64_t[]){K}, 1, MX_INT32);
    mx_array *u = mx_array_from_data(uv, (int64_t[]){K, B, Q}, 3, MX_FLOAT32);
    /* scatter add along axis 1 */
    memcpy(want, av, sizeof av);
    for (int k = 0; k < K; k++)
        for (int b = 0; b < B; b++)
            for (int q = 0; q < Q; q++) want[(b * N + (iv[k] + N) % N) * Q + q] += uv[(k * B + b) * Q + q];
    mx_array *r = mx_scatter(a, ix, u, 1, MX_SCATTER_ADD);
    static float got[B * N * Q];
    CHECK(mx_read(r, MX_FLOAT32, got) == 0 && memcmp(got, want, sizeof want) == 0);
    /* take along axis 1 */
    mx_array *t = mx_take(a, ix, 1);
    static float tg[B * K * Q];
    int ok = mx_read(t, MX_FLOAT32, tg) == 0;
    for (int b = 0; b < B && ok; b++)
        for (int k = 0; k < K; k++)
            for (int q = 0; q < Q; q++) ok &= tg[(b * K + k) * Q + q] == av[(b * N + (iv[k] + N) % N) * Q + q];
    CHECK_MSG(ok, "large take");
    /* take_along_axis with indices [B, 5, Q] on a transposed view */
    static int16_t jv[B * 5 * Q];
    for (int i = 0; i < B * 5 * Q; i++) jv[i] = (int16_t)((i * 7) % (2 * N) - N);
    mx_array *jx = mx_array_from_data(jv, (int64_t[]){B, 5, Q}, 3, MX_INT16);
    mx_array *at = mx_transpose(mx_transpose(a, (int[]){2, 1, 0}, 3), (int[]){2, 1, 0}, 3);
    mx_array *g = mx_take_along_axis(mx_contiguous(at), jx, 1);
    static float gg[B * 5 * Q];
    ok = mx_read(g, MX_FLOAT32, gg) == 0;
    for (int b = 0; b < B && ok; b++)
        for (int j = 0; j < 5; j++)
            for (int q = 0; q < Q; q++) {
                int v = jv[(b * 5 + j) * Q + q];
                ok &= gg[(b * 5 + j) * Q + q] == av[(b * N + (v + N) % N) * Q + q];
            }
    CHECK_MSG(ok, "large take_along_axis");
    mx_pool_end(p);
}

int main(void) {
    test_slice_update();
    test_slice_update_donates();
    test_take();
    test_take_put_along_axis();
    test_scatter();
    test_scatter_donates();
    test_large_parallel();
    return test_finish();
}
