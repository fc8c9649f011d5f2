/* Shape-building ops: concatenate, stack, split, tile, repeat, pad, flip, roll. Semantics on
 * small hand-checked cases, views that must not copy, and the error messages. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/cmlx.h"
#include "core/array_impl.h"
#include "test.h"




static void test_concatenate(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *a = test_iota((int64_t[]){2, 3}, 2, MX_FLOAT32);
    mx_array *b = mx_add_scalar(test_iota((int64_t[]){2, 2}, 2, MX_FLOAT32), 10);
    const mx_array *ab[2] = {a, b};
    test_expect(mx_concatenate(ab, 2, 1), (int64_t[]){2, 5}, 2, (double[]){0, 1, 2, 10, 11, 3, 4, 5, 12, 13}, "concat axis 1");
    test_expect(mx_concatenate(ab, 2, -1), (int64_t[]){2, 5}, 2, (double[]){0, 1, 2, 10, 11, 3, 4, 5, 12, 13}, "concat axis -1");
    /* transposed (strided) inputs along axis 0 */
    mx_array *at = mx_transpose(a, NULL, 0), *bt = mx_slice(test_iota((int64_t[]){4, 2}, 2, MX_FLOAT32), (int64_t[]){0, 0},
                                                          (int64_t[]){4, 2}, (int64_t[]){2, 1}, 2);
    const mx_array *tt[2] = {at, bt};
    test_expect(mx_concatenate(tt, 2, 0), (int64_t[]){5, 2}, 2, (double[]){0, 3, 1, 4, 2, 5, 0, 1, 4, 5}, "concat strided");
    /* promotion: int32 with float16 gives float16 */
    mx_array *i = test_iota((int64_t[]){2}, 1, MX_INT32), *h = mx_full((int64_t[]){1}, 1, 0.5, MX_FLOAT16);
    const mx_array *ih[2] = {i, h};
    mx_array *c = mx_concatenate(ih, 2, 0);
    CHECK(c && mx_array_dtype(c) == MX_FLOAT16);
    test_expect(c, (int64_t[]){3}, 1, (double[]){0, 1, 0.5}, "concat promotes");
    /* one input, and empty inputs */
    mx_array *e = mx_zeros((int64_t[]){2, 0}, 2, MX_FLOAT32);
    const mx_array *ae[3] = {e, a, e};
    test_expect(mx_concatenate(ae, 3, 1), (int64_t[]){2, 3}, 2, (double[]){0, 1, 2, 3, 4, 5}, "concat with empties");
    test_expect(mx_concatenate(ab, 1, 0), (int64_t[]){2, 3}, 2, (double[]){0, 1, 2, 3, 4, 5}, "concat of one");
    /* errors */
    mx_clear_error();
    CHECK(mx_concatenate(ab, 2, 0) == NULL);
    test_error_has("[concatenate] all dimensions except axis 0 must match: float32[2, 3] (array 0) and float32[2, 2] (array 1)");
    const mx_array *ai[2] = {a, i};
    CHECK(mx_concatenate(ai, 2, 0) == NULL);
    test_error_has("same number of dimensions");
    CHECK(mx_concatenate(ab, 2, 2) == NULL);
    test_error_has("[concatenate] axis 2 is out of bounds");
    CHECK(mx_concatenate(ab, 0, 0) == NULL);
    test_error_has("at least one array");
    mx_array *s = mx_scalar(1, MX_FLOAT32);
    const mx_array *ss[2] = {s, s};
    CHECK(mx_concatenate(ss, 2, 0) == NULL);
    test_error_has("0-d");
    const mx_array *an[2] = {a, NULL};
    mx_clear_error();
    CHECK(mx_concatenate(an, 2, 0) == NULL && mx_last_error()[0] == 0);
    mx_pool_end(p);
}

/* A KV-cache style concatenation along T of [B, H, T, D]: values, and one buffer written once. */
static void test_concatenate_cache(void) {
    mx_pool *p = mx_pool_begin();
    int64_t B = 2, H = 3, T1 = 5, T2 = 1, D = 4;
    mx_array *k1 = test_iota((int64_t[]){B, H, T1, D}, 4, MX_BFLOAT16);
    mx_array *k2 = mx_negative(test_iota((int64_t[]){B, H, T2, D}, 4, MX_BFLOAT16));
    const mx_array *kk[2] = {k1, k2};
    mx_array *k = mx_concatenate(kk, 2, 2);
    int64_t n = B * H * (T1 + T2) * D;
    double *want = malloc(sizeof(double) * (size_t)n);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < T1 + T2; t++)
                for (int64_t d = 0; d < D; d++)
                    want[((b * H + h) * (T1 + T2) + t) * D + d] =
                        t < T1 ? (double)(((b * H + h) * T1 + t) * D + d) : -(double)(((b * H + h) * T2 + t - T1) * D + d);
    test_expect(k, (int64_t[]){B, H, T1 + T2, D}, 4, want, "concat KV cache along T");
    CHECK(mx_array_dtype(k) == MX_BFLOAT16 && (k->flags & MX_FLAG_ROW_CONTIG));
    free(want);
    mx_pool_end(p);
}

static void test_stack(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *a = test_iota((int64_t[]){2, 2}, 2, MX_INT16), *b = mx_add_scalar(a, 4);
    const mx_array *ab[2] = {a, b};
    test_expect(mx_stack(ab, 2, 0), (int64_t[]){2, 2, 2}, 3, (double[]){0, 1, 2, 3, 4, 5, 6, 7}, "stack axis 0");
    test_expect(mx_stack(ab, 2, -1), (int64_t[]){2, 2, 2}, 3, (double[]){0, 4, 1, 5, 2, 6, 3, 7}, "stack axis -1");
    test_expect(mx_stack(ab, 2, 1), (int64_t[]){2, 2, 2}, 3, (double[]){0, 1, 4, 5, 2, 3, 6, 7}, "stack axis 1");
    mx_array *s = mx_scalar(3, MX_INT32);
    const mx_array *ss[3] = {s, s, s};
    test_expect(mx_stack(ss, 3, 0), (int64_t[]){3}, 1, (double[]){3, 3, 3}, "stack scalars");
    mx_array *c = test_iota((int64_t[]){4}, 1, MX_INT16);
    const mx_array *ac[2] = {a, c};
    CHECK(mx_stack(ac, 2, 0) == NULL);
    test_error_has("[stack] all arrays must have the same shape: int16[2, 2] (array 0) and int16[4] (array 1)");
    CHECK(mx_stack(ab, 2, 3) == NULL);
    test_error_has("[stack] axis 3 is out of bounds");
    mx_pool_end(p);
}

static void test_split(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *a = test_iota((int64_t[]){6, 2}, 2, MX_FLOAT32);
    CHECK(mx_eval1(a) == 0);
    mx_array *outs[8];
    CHECK(mx_split(a, 3, NULL, 0, 0, outs) == 3);
    test_expect(outs[0], (int64_t[]){2, 2}, 2, (double[]){0, 1, 2, 3}, "split 0");
    test_expect(outs[2], (int64_t[]){2, 2}, 2, (double[]){8, 9, 10, 11}, "split 2");
    test_expect(outs[1], (int64_t[]){2, 2}, 2, (double[]){4, 5, 6, 7}, "split 1");
    CHECK(outs[0]->buf == a->buf && outs[1]->buf == a->buf && outs[2]->buf == a->buf); /* views, not copies */
    CHECK(mx_split(a, 0, (int64_t[]){1, 4}, 2, -2, outs) == 3);
    test_expect(outs[0], (int64_t[]){1, 2}, 2, (double[]){0, 1}, "split at 1");
    test_expect(outs[1], (int64_t[]){3, 2}, 2, (double[]){2, 3, 4, 5, 6, 7}, "split 1..4");
    test_expect(outs[2], (int64_t[]){2, 2}, 2, (double[]){8, 9, 10, 11}, "split 4..");
    CHECK(outs[0]->buf == a->buf);
    /* indices past the end or decreasing give empty parts, as numpy */
    CHECK(mx_split(a, 0, (int64_t[]){5, 3, 9}, 3, 0, outs) == 4);
    CHECK(mx_dim(outs[0], 0) == 5 && mx_dim(outs[1], 0) == 0 && mx_dim(outs[2], 0) == 3 && mx_dim(outs[3], 0) == 0);
    CHECK(mx_split(a, 2, NULL, 0, 1, outs) == 2);
    test_expect(outs[1], (int64_t[]){6, 1}, 2, (double[]){1, 3, 5, 7, 9, 11}, "split axis 1");
    CHECK(mx_split(a, 4, NULL, 0, 0, outs) == -1);
    test_error_has("[split] array of shape float32[6, 2] cannot be split into 4 equal sections along axis 0");
    CHECK(mx_split(a, 2, NULL, 0, 2, outs) == -1);
    test_error_has("[split] axis 2 is out of bounds");
    CHECK(mx_split(a, 0, NULL, 0, 0, outs) == -1);
    test_error_has("must be positive");
    mx_pool_end(p);
    /* outside a pool the parts are the caller's */
    mx_array *b = mx_arange(0, 4, 1, MX_INT32), *parts[2];
    CHECK(mx_split(b, 2, NULL, 0, 0, parts) == 2);
    test_expect(parts[1], (int64_t[]){2}, 1, (double[]){2, 3}, "split owned");
    mx_free(parts[0]);
    mx_free(parts[1]);
    mx_free(b);
}

static void test_tile_repeat(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *v = test_iota((int64_t[]){3}, 1, MX_INT32);
    test_expect(mx_tile(v, (int64_t[]){2}, 1), (int64_t[]){6}, 1, (double[]){0, 1, 2, 0, 1, 2}, "tile 1-d");
    test_expect(mx_tile(v, (int64_t[]){2, 1}, 2), (int64_t[]){2, 3}, 2, (double[]){0, 1, 2, 0, 1, 2}, "tile adds dims");
    mx_array *m = test_iota((int64_t[]){2, 2}, 2, MX_UINT8);
    test_expect(mx_tile(m, (int64_t[]){2}, 1), (int64_t[]){2, 4}, 2, (double[]){0, 1, 0, 1, 2, 3, 2, 3}, "tile short reps");
    test_expect(mx_tile(m, (int64_t[]){2, 2}, 2), (int64_t[]){4, 4}, 2,
           (double[]){0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3}, "tile 2x2");
    test_expect(mx_tile(m, (int64_t[]){0, 1}, 2), (int64_t[]){0, 2}, 2, NULL, "tile 0");
    test_expect(mx_tile(m, NULL, 0), (int64_t[]){2, 2}, 2, (double[]){0, 1, 2, 3}, "tile no reps");
    CHECK(mx_tile(m, (int64_t[]){-1}, 1) == NULL);
    test_error_has("[tile] repetitions must be non-negative");
    /* ten dimensions: no room for broadcast axes */
    int64_t s10[10] = {1, 2, 1, 1, 1, 1, 1, 1, 1, 2}, r10[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 2};
    r10[1] = 2;
    mx_array *t10 = mx_tile(test_iota(s10, 10, MX_FLOAT32), r10, 10);
    int64_t o10[10] = {1, 4, 1, 1, 1, 1, 1, 1, 1, 4};
    test_expect(t10, o10, 10, (double[]){0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3}, "tile 10-d");

    test_expect(mx_repeat(v, 2, 0), (int64_t[]){6}, 1, (double[]){0, 0, 1, 1, 2, 2}, "repeat 1-d");
    test_expect(mx_repeat(m, 2, 0), (int64_t[]){4, 2}, 2, (double[]){0, 1, 0, 1, 2, 3, 2, 3}, "repeat rows");
    test_expect(mx_repeat(m, 3, -1), (int64_t[]){2, 6}, 2, (double[]){0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3}, "repeat cols");
    test_expect(mx_repeat(mx_transpose(m, NULL, 0), 2, 1), (int64_t[]){2, 4}, 2, (double[]){0, 0, 2, 2, 1, 1, 3, 3},
           "repeat strided");
    test_expect(mx_repeat(mx_scalar(5, MX_INT8), 3, 0), (int64_t[]){3}, 1, (double[]){5, 5, 5}, "repeat 0-d");
    test_expect(mx_repeat(m, 0, 1), (int64_t[]){2, 0}, 2, NULL, "repeat 0");
    mx_array *r10x = mx_repeat(test_iota(s10, 10, MX_FLOAT32), 2, 9);
    int64_t q10[10] = {1, 2, 1, 1, 1, 1, 1, 1, 1, 4};
    test_expect(r10x, q10, 10, (double[]){0, 0, 1, 1, 2, 2, 3, 3}, "repeat 10-d");
    CHECK(mx_repeat(m, -2, 0) == NULL);
    test_error_has("[repeat] repeats must be non-negative, got -2");
    CHECK(mx_repeat(m, 2, 2) == NULL);
    test_error_has("[repeat] axis 2 is out of bounds");
    mx_pool_end(p);
}

static void test_pad(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *m = mx_add_scalar(test_iota((int64_t[]){2, 3}, 2, MX_FLOAT16), 1);
    test_expect(mx_pad(m, NULL, 0, (int64_t[]){1, 0}, (int64_t[]){0, 2}, 9), (int64_t[]){3, 5}, 2,
           (double[]){9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 4, 5, 6, 9, 9}, "pad all axes");
    test_expect(mx_pad(m, (int[]){-1}, 1, (int64_t[]){1}, (int64_t[]){1}, -0.5), (int64_t[]){2, 5}, 2,
           (double[]){-0.5, 1, 2, 3, -0.5, -0.5, 4, 5, 6, -0.5}, "pad last axis");
    mx_array *b = mx_greater(test_iota((int64_t[]){3}, 1, MX_INT32), mx_scalar(0, MX_INT32));
    mx_array *pb = mx_pad(b, NULL, 0, (int64_t[]){2}, (int64_t[]){1}, 1);
    CHECK(pb && mx_array_dtype(pb) == MX_BOOL);
    test_expect(pb, (int64_t[]){6}, 1, (double[]){1, 1, 0, 1, 1, 1}, "pad bool");
    test_expect(mx_pad(mx_transpose(m, NULL, 0), NULL, 0, (int64_t[]){0, 1}, (int64_t[]){1, 0}, 0), (int64_t[]){4, 3}, 2,
           (double[]){0, 1, 4, 0, 2, 5, 0, 3, 6, 0, 0, 0}, "pad strided");
    test_expect(mx_pad(m, NULL, 0, (int64_t[]){0, 0}, (int64_t[]){0, 0}, 3), (int64_t[]){2, 3}, 2,
           (double[]){1, 2, 3, 4, 5, 6}, "pad nothing");
    CHECK(mx_pad(m, NULL, 0, (int64_t[]){-1, 0}, (int64_t[]){0, 0}, 0) == NULL);
    test_error_has("[pad] padding widths must be non-negative: low -1, high 0 for axis 0 of float16[2, 3]");
    CHECK(mx_pad(m, (int[]){0, 0}, 2, (int64_t[]){1, 1}, (int64_t[]){1, 1}, 0) == NULL);
    test_error_has("[pad] axis 0 given twice");
    CHECK(mx_pad(m, (int[]){3}, 1, (int64_t[]){1}, (int64_t[]){1}, 0) == NULL);
    test_error_has("[pad] axis 3 is out of bounds");
    CHECK(mx_pad(m, NULL, 1, (int64_t[]){1}, (int64_t[]){1}, 0) == NULL);
    test_error_has("[pad] 1 widths given for all axes");
    mx_pool_end(p);
}

static void test_flip_roll(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *m = test_iota((int64_t[]){2, 3}, 2, MX_INT64);
    CHECK(mx_eval1(m) == 0);
    mx_array *f0 = mx_flip(m, 0), *f1 = mx_flip(m, -1);
    test_expect(f0, (int64_t[]){2, 3}, 2, (double[]){3, 4, 5, 0, 1, 2}, "flip 0");
    test_expect(f1, (int64_t[]){2, 3}, 2, (double[]){2, 1, 0, 5, 4, 3}, "flip 1");
    CHECK(f0->buf == m->buf && f1->buf == m->buf); /* views */
    test_expect(mx_flip(mx_flip(m, 1), 1), (int64_t[]){2, 3}, 2, (double[]){0, 1, 2, 3, 4, 5}, "flip twice");
    test_expect(mx_contiguous(mx_reshape(f1, (int64_t[]){6}, 1)), (int64_t[]){6}, 1, (double[]){2, 1, 0, 5, 4, 3},
           "flip then reshape");
    test_expect(mx_flip(mx_zeros((int64_t[]){0}, 1, MX_INT8), 0), (int64_t[]){0}, 1, NULL, "flip empty");
    CHECK(mx_flip(m, 2) == NULL);
    test_error_has("[flip] axis 2 is out of bounds");

    test_expect(mx_roll(m, 1, 1), (int64_t[]){2, 3}, 2, (double[]){2, 0, 1, 5, 3, 4}, "roll 1");
    test_expect(mx_roll(m, -1, -1), (int64_t[]){2, 3}, 2, (double[]){1, 2, 0, 4, 5, 3}, "roll -1");
    test_expect(mx_roll(m, 7, 1), (int64_t[]){2, 3}, 2, (double[]){2, 0, 1, 5, 3, 4}, "roll 7");
    test_expect(mx_roll(m, 1, 0), (int64_t[]){2, 3}, 2, (double[]){3, 4, 5, 0, 1, 2}, "roll rows");
    test_expect(mx_roll(m, 3, 1), (int64_t[]){2, 3}, 2, (double[]){0, 1, 2, 3, 4, 5}, "roll full");
    CHECK(mx_roll(m, 1, -3) == NULL);
    test_error_has("[roll] axis -3 is out of bounds");
    mx_pool_end(p);
}

/* Past the threading threshold, with a strided input: matches a plain loop. */
static void test_concatenate_large(void) {
    mx_pool *p = mx_pool_begin();
    enum { B = 8, T1 = 100, T2 = 30, D = 64 };
    mx_array *x = test_iota((int64_t[]){B, T1, D}, 3, MX_INT32);
    mx_array *y = mx_transpose(test_iota((int64_t[]){B, D, T2}, 3, MX_INT32), (int[]){0, 2, 1}, 3); /* strided */
    const mx_array *xy[2] = {x, y};
    mx_array *r = mx_concatenate(xy, 2, 1);
    static int32_t got[B * (T1 + T2) * D];
    int ok = mx_read(r, MX_INT32, got) == 0;
    for (int b = 0; b < B && ok; b++)
        for (int t = 0; t < T1 + T2; t++)
            for (int d = 0; d < D; d++) {
                int32_t w = t < T1 ? (b * T1 + t) * D + d : (b * D + d) * T2 + (t - T1);
                ok &= got[(b * (T1 + T2) + t) * D + d] == w;
            }
    CHECK_MSG(ok, "large concatenate");
    mx_pool_end(p);
}

int main(void) {
    test_concatenate();
    test_concatenate_cache();
    test_concatenate_large();
    test_stack();
    test_split();
    test_tile_repeat();
    test_pad();
    test_flip_roll();
    return test_finish();
}
