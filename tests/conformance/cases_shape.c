/* Conformance cases: concatenate, stack, split, tile, repeat, pad, flip, roll. Every dtype
 * (bool and the 16-bit floats included), odd shapes, contiguous and strided inputs, negative
 * axes. These ops only move data, so results are compared exactly with references that
 * compute each output element's source index naively. */
#include <string.h>

#include "conformance.h"

/* Steps idx through shape in row-major order; 0 when done. */
static int next_index(int64_t *idx, const int64_t *shape, int nd) {
    for (int d = nd - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) return 1;
        idx[d] = 0;
    }
    return 0;
}

static double at(const ref_tensor *t, const int64_t *idx) { return t->data[conf_ref_index(t, idx)]; }

static int norm(int axis, int nd) { return axis < 0 ? axis + nd : axis; }

static int is_unsigned(mx_dtype t) { return t == MX_UINT8 || t == MX_UINT16 || t == MX_UINT32 || t == MX_UINT64; }

/* Random values every dtype holds exactly (bool: 0/1; unsigned: positive). */
static mx_array *rnd(conf_ctx *c, const int64_t *shape, int nd, mx_dtype t, int strided, ref_tensor *r) {
    return conf_random(c, shape, nd, t, t == MX_BOOL ? 0 : is_unsigned(t) ? 1 : -60, t == MX_BOOL ? 1 : 100, strided,
                       r);
}

typedef struct {
    int n, nd, axis;
    int64_t shapes[3][4];
} concat_case;

static const concat_case concat_cases[] = {
    {3, 2, 1, {{3, 5}, {3, 2}, {3, 7}}},
    {2, 3, 0, {{2, 3, 17}, {1, 3, 17}}},
    {2, 3, -2, {{4, 1, 33}, {4, 2, 33}}},
    {3, 1, 0, {{7}, {1}, {129}}},
    {2, 4, 2, {{1, 2, 5, 8}, {1, 2, 1, 8}}}, /* a [B, H, T, D] cache and one new step */
    {2, 2, 0, {{0, 3}, {2, 3}}},
};

static void run_concatenate(conf_ctx *c) {
    for (size_t k = 0; k < sizeof concat_cases / sizeof concat_cases[0]; k++)
        for (int d = 0; d < 13; d++)
            for (int strided = 0; strided < 2; strided++) {
                const concat_case *cc = &concat_cases[k];
                mx_dtype t = conf_all_dtypes[d];
                ref_tensor in[3];
                const mx_array *arr[3];
                int ax = norm(cc->axis, cc->nd);
                int64_t oshape[4];
                memcpy(oshape, cc->shapes[0], sizeof oshape);
                for (int i = 0; i < cc->n; i++) {
                    arr[i] = rnd(c, cc->shapes[i], cc->nd, t, (strided + i) % 2, &in[i]);
                    if (i) oshape[ax] += cc->shapes[i][ax];
                }
                ref_tensor out = conf_ref_alloc(c, oshape, cc->nd);
                int64_t idx[4] = {0};
                for (int64_t e = 0; e < out.size; e++, next_index(idx, oshape, cc->nd)) {
                    int64_t src[4], off = idx[ax];
                    memcpy(src, idx, sizeof src);
                    int i = 0;
                    while (off >= cc->shapes[i][ax]) off -= cc->shapes[i++][ax];
                    src[ax] = off;
                    out.data[e] = at(&in[i], src);
                }
                conf_check_exact(c, "concatenate", mx_concatenate(arr, cc->n, cc->axis), &out);
                conf_end_case(c);
            }
}

static void run_stack(conf_ctx *c) {
    const int64_t shape[3] = {2, 3, 17};
    for (int axis = -4; axis < 4; axis++)
        for (int d = 0; d < 13; d++) {
            mx_dtype t = conf_all_dtypes[d];
            ref_tensor in[3];
            const mx_array *arr[3];
            for (int i = 0; i < 3; i++) arr[i] = rnd(c, shape, 3, t, (i + d) % 2, &in[i]);
            int ax = norm(axis, 4);
            int64_t oshape[4];
            for (int i = 0, j = 0; i < 4; i++) oshape[i] = i == ax ? 3 : shape[j++];
            ref_tensor out = conf_ref_alloc(c, oshape, 4);
            int64_t idx[4] = {0};
            for (int64_t e = 0; e < out.size; e++, next_index(idx, oshape, 4)) {
                int64_t src[3];
                for (int i = 0, j = 0; i < 4; i++)
                    if (i != ax) src[j++] = idx[i];
                out.data[e] = at(&in[idx[ax]], src);
            }
            conf_check_exact(c, "stack", mx_stack(arr, 3, axis), &out);
            conf_end_case(c);
        }
}

/* Checks part `got` against in[lo:hi] along axis. */
static void check_part(conf_ctx *c, const char *op, mx_array *got, const ref_tensor *in, int ax, int64_t lo,
                       int64_t hi) {
    int64_t shape[MX_MAX_NDIM];
    memcpy(shape, in->shape, sizeof shape);
    shape[ax] = hi > lo ? hi - lo : 0;
    ref_tensor out = conf_ref_alloc(c, shape, in->ndim);
    int64_t idx[MX_MAX_NDIM] = {0};
    for (int64_t e = 0; e < out.size; e++, next_index(idx, shape, in->ndim)) {
        int64_t src[MX_MAX_NDIM];
        memcpy(src, idx, sizeof src);
        src[ax] += lo;
        out.data[e] = at(in, src);
    }
    conf_check_exact(c, op, got, &out);
}

static void run_split(conf_ctx *c) {
    const int64_t shape[3] = {6, 4, 9};
    for (int axis = -3; axis < 3; axis++)
        for (int d = 0; d < 13; d++) {
            mx_dtype t = conf_all_dtypes[d];
            int ax = norm(axis, 3);
            ref_tensor in;
            mx_array *a = rnd(c, shape, 3, t, d % 2, &in);
            int64_t dim = shape[ax];
            mx_array *parts[8];
            int sections = dim % 3 == 0 ? 3 : 2;
            if (mx_split(a, sections, NULL, 0, axis, parts) != sections) {
                conf_fail(c, "split", "sections failed: %s", mx_last_error());
            } else {
                for (int i = 0; i < sections; i++)
                    check_part(c, "split(sections)", parts[i], &in, ax, dim / sections * i, dim / sections * (i + 1));
            }
            int64_t cuts[3] = {1, dim - 1, dim + 5};
            if (mx_split(a, 0, cuts, 3, axis, parts) != 4) {
                conf_fail(c, "split", "indices failed: %s", mx_last_error());
            } else {
                check_part(c, "split(indices)", parts[0], &in, ax, 0, 1);
                check_part(c, "split(indices)", parts[1], &in, ax, 1, dim - 1);
                check_part(c, "split(indices)", parts[2], &in, ax, dim - 1, dim);
                check_part(c, "split(indices)", parts[3], &in, ax, dim, dim);
            }
            conf_end_case(c);
        }
}

typedef struct {
    int nd, nr;
    int64_t shape[3], reps[4];
} tile_case;

static const tile_case tile_cases[] = {
    {2, 3, {3, 5}, {2, 1, 3}}, {1, 1, {7}, {3}}, {3, 2, {2, 3, 17}, {2, 1}}, {3, 3, {1, 4, 3}, {3, 0, 2}},
    {2, 1, {1, 129}, {1}},
};

static void run_tile_repeat(conf_ctx *c) {
    for (size_t k = 0; k < sizeof tile_cases / sizeof tile_cases[0]; k++)
        for (int d = 0; d < 13; d++) {
            const tile_case *tc = &tile_cases[k];
            mx_dtype t = conf_all_dtypes[d];
            ref_tensor in;
            mx_array *a = rnd(c, tc->shape, tc->nd, t, (int)(k + (size_t)d) % 2, &in);
            int nd = tc->nd > tc->nr ? tc->nd : tc->nr;
            int64_t ishape[4], oshape[4];
            for (int i = 0; i < nd; i++) {
                int ia = i - (nd - tc->nd), ir = i - (nd - tc->nr);
                ishape[i] = ia >= 0 ? tc->shape[ia] : 1;
                oshape[i] = ishape[i] * (ir >= 0 ? tc->reps[ir] : 1);
            }
            ref_tensor out = conf_ref_alloc(c, oshape, nd);
            int64_t idx[4] = {0};
            for (int64_t e = 0; e < out.size; e++, next_index(idx, oshape, nd)) {
                int64_t src[4];
                for (int i = nd - tc->nd; i < nd; i++) src[i - (nd - tc->nd)] = idx[i] % ishape[i];
                out.data[e] = at(&in, src);
            }
            conf_check_exact(c, "tile", mx_tile(a, tc->reps, tc->nr), &out);
            conf_end_case(c);
        }
    const int64_t shape[3] = {2, 3, 17};
    for (int axis = -3; axis < 3; axis++)
        for (int d = 0; d < 13; d++)
            for (int64_t reps = 0; reps < 4; reps += 3) {
                mx_dtype t = conf_all_dtypes[d];
                ref_tensor in;
                mx_array *a = rnd(c, shape, 3, t, (axis + d) % 2 != 0, &in);
                int ax = norm(axis, 3);
                int64_t r = reps ? reps : 1, oshape[3];
                memcpy(oshape, shape, sizeof oshape);
                oshape[ax] *= r;
                ref_tensor out = conf_ref_alloc(c, oshape, 3);
                int64_t idx[3] = {0};
                for (int64_t e = 0; e < out.size; e++, next_index(idx, oshape, 3)) {
                    int64_t src[3] = {idx[0], idx[1], idx[2]};
                    src[ax] /= r;
                    out.data[e] = at(&in, src);
                }
                conf_check_exact(c, "repeat", mx_repeat(a, r, axis), &out);
                conf_end_case(c);
            }
}

static void run_pad(conf_ctx *c) {
    const int64_t shape[3] = {2, 3, 17};
    const int64_t lows[2][3] = {{1, 0, 2}, {0, 0, 1}}, highs[2][3] = {{0, 3, 1}, {2, 1, 0}};
    for (int k = 0; k < 2; k++)
        for (int d = 0; d < 13; d++) {
            mx_dtype t = conf_all_dtypes[d];
            ref_tensor in;
            mx_array *a = rnd(c, shape, 3, t, (k + d) % 2, &in);
            double value = t == MX_BOOL ? 1 : is_unsigned(t) ? 7 : -5;
            int64_t oshape[3];
            for (int i = 0; i < 3; i++) oshape[i] = shape[i] + lows[k][i] + highs[k][i];
            ref_tensor out = conf_ref_alloc(c, oshape, 3);
            int64_t idx[3] = {0};
            for (int64_t e = 0; e < out.size; e++, next_index(idx, oshape, 3)) {
                int64_t src[3];
                int inside = 1;
                for (int i = 0; i < 3; i++) {
                    src[i] = idx[i] - lows[k][i];
                    inside &= src[i] >= 0 && src[i] < shape[i];
                }
                out.data[e] = inside ? at(&in, src) : value;
            }
            conf_check_exact(c, "pad", mx_pad(a, NULL, 0, lows[k], highs[k], value), &out);
            /* the same widths given per axis, in another order */
            int axes[3] = {2, -3, 1};
            int64_t lo2[3] = {lows[k][2], lows[k][0], lows[k][1]}, hi2[3] = {highs[k][2], highs[k][0], highs[k][1]};
            conf_check_exact(c, "pad(axes)", mx_pad(a, axes, 3, lo2, hi2, value), &out);
            conf_end_case(c);
        }
}

static void run_flip_roll(conf_ctx *c) {
    const int64_t shapes[3][3] = {{2, 3, 17}, {1, 129, 1}, {4, 1, 33}};
    for (int s = 0; s < 3; s++)
        for (int axis = -3; axis < 3; axis++)
            for (int d = 0; d < 13; d++) {
                mx_dtype t = conf_all_dtypes[d];
                ref_tensor in;
                mx_array *a = rnd(c, shapes[s], 3, t, (s + d) % 2, &in);
                int ax = norm(axis, 3);
                int64_t dim = shapes[s][ax];
                ref_tensor out = conf_ref_alloc(c, shapes[s], 3);
                int64_t idx[3] = {0};
                for (int64_t e = 0; e < out.size; e++, next_index(idx, shapes[s], 3)) {
                    int64_t src[3] = {idx[0], idx[1], idx[2]};
                    src[ax] = dim - 1 - idx[ax];
                    out.data[e] = at(&in, src);
                }
                conf_check_exact(c, "flip", mx_flip(a, axis), &out);
                const int64_t shifts[] = {1, -7, 40, 0};
                for (int k = 0; k < 4; k++) {
                    int64_t sh = ((shifts[k] % dim) + dim) % dim;
                    int64_t id2[3] = {0};
                    for (int64_t e = 0; e < out.size; e++, next_index(id2, shapes[s], 3)) {
                        int64_t src[3] = {id2[0], id2[1], id2[2]};
                        src[ax] = (id2[ax] - sh + dim) % dim;
                        out.data[e] = at(&in, src);
                    }
                    conf_check_exact(c, "roll", mx_roll(a, shifts[k], axis), &out);
                }
                conf_end_case(c);
            }
}

void conf_family_shape(conf_ctx *c) {
    run_concatenate(c);
    run_stack(c);
    run_split(c);
    run_tile_repeat(c);
    run_pad(c);
    run_flip_roll(c);
}
