/* Conformance cases: slice_update, take / gather, take_along_axis, put_along_axis, scatter
 * (none/add/prod/max/min). Every data dtype (bool and 16-bit floats included), every integer
 * index dtype, negative indices and axes, strided arrays and updates, broadcast updates.
 * Values are small integers so that even accumulated 16-bit results are exact; references
 * apply the writes in order (repeated indices: last wins / accumulate), compared exactly. */
#include <string.h>

#include "conformance.h"

static const mx_dtype index_dtypes[8] = {MX_UINT8, MX_UINT16, MX_UINT32, MX_UINT64,
                                         MX_INT8,  MX_INT16,  MX_INT32,  MX_INT64};

static int next_index(int64_t *idx, const int64_t *shape, int nd) {
    for (int d = nd - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) return 1;
        idx[d] = 0;
    }
    return 0;
}

/* Arrays this file creates outside the harness's tracking, freed by end_case. */
static mx_array *extras[16];
static int n_extras;

static mx_array *keep_for_case(mx_array *a) {
    if (a && n_extras < 16) extras[n_extras++] = a;
    return a;
}

static void end_case(conf_ctx *c) {
    conf_end_case(c);
    while (n_extras) mx_free(extras[--n_extras]);
}

static int is_unsigned(mx_dtype t) { return t == MX_UINT8 || t == MX_UINT16 || t == MX_UINT32 || t == MX_UINT64; }

/* Small integer values (bool 0/1, unsigned 1..hi, signed lo..hi) as dtype t; strided: a view
 * taking every other element of the last axis of a twice-as-wide array. */
static mx_array *small_ints(conf_ctx *c, const int64_t *shape, int nd, mx_dtype t, int64_t lo, int64_t hi,
                            int strided, ref_tensor *ref) {
    if (t == MX_BOOL) lo = 0, hi = 1;
    else if (is_unsigned(t) && lo < 1) lo = 1;
    if (!strided || nd == 0) return conf_random_int(c, shape, nd, t, lo, hi, ref);
    int64_t wide[MX_MAX_NDIM], start[MX_MAX_NDIM] = {0}, step[MX_MAX_NDIM];
    for (int i = 0; i < nd; i++) wide[i] = shape[i], step[i] = 1;
    wide[nd - 1] *= 2;
    step[nd - 1] = 2;
    ref_tensor w;
    mx_array *base = conf_random_int(c, wide, nd, t, lo, hi, &w);
    *ref = conf_ref_alloc(c, shape, nd);
    for (int64_t i = 0; i < ref->size; i++) {
        int64_t row = i / shape[nd - 1], col = i % shape[nd - 1];
        ref->data[i] = w.data[row * wide[nd - 1] + 2 * col];
    }
    mx_array *v = mx_slice(base, start, wide, step, nd);
    if (!v || mx_eval1(v)) return NULL;
    return keep_for_case(v);
}

/* Index values in [-dim, dim) (only non-negative for unsigned index dtypes). */
static mx_array *index_array(conf_ctx *c, const int64_t *shape, int nd, mx_dtype t, int64_t dim, ref_tensor *ref) {
    /* within the index dtype too: a dim of 129 in int8 would draw 128 (stored as -128, which
     * wraps to 1) or -129 (stored as 127), and the reference would look elsewhere */
    int64_t lo = is_unsigned(t) ? 0 : -dim, hi = dim - 1;
    if (t == MX_INT8) lo = lo < -128 ? -128 : lo, hi = hi > 127 ? 127 : hi;
    if (t == MX_UINT8) hi = hi > 255 ? 255 : hi;
    mx_array *a = conf_random_int(c, shape, nd, t, lo, hi, ref);
    for (int64_t i = 0; i < ref->size; i++)
        if (ref->data[i] < 0) ref->data[i] += dim; /* the reference sees wrapped indices */
    return a;
}

static double at(const ref_tensor *t, const int64_t *idx) { return t->data[conf_ref_index(t, idx)]; }

/* ---- slice_update ---- */

static int64_t py_slice(int64_t dim, int64_t start, int64_t stop, int64_t step, int64_t *pos) {
    int64_t n = 0;
    if (start < 0) start += dim;
    if (stop < 0) stop += dim;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        stop = stop < 0 ? 0 : stop > dim ? dim : stop;
        for (int64_t i = start; i < stop; i += step) pos[n++] = i;
    } else {
        start = start < -1 ? -1 : start > dim - 1 ? dim - 1 : start;
        stop = stop < -1 ? -1 : stop > dim - 1 ? dim - 1 : stop;
        for (int64_t i = start; i > stop; i += step) pos[n++] = i;
    }
    return n;
}

typedef struct {
    int64_t start[3], stop[3], step[3];
    int bcast; /* 0: update has the slice shape; 1: leading axis 1 dropped; 2: 0-d update */
} su_case;

static const su_case su_cases[] = {
    {{1, 0, 2}, {4, 7, 9}, {1, 1, 1}, 0},           {{0, -3, 8}, {5, 7, 0}, {2, 2, -3}, 0},
    {{-1, 6, 0}, {INT64_MIN, INT64_MIN, 9}, {-1, -2, 4}, 1}, {{2, 0, 0}, {3, 7, 9}, {1, 1, 1}, 2},
    {{0, 0, 0}, {5, 7, 9}, {1, 1, 1}, 1},           {{3, 3, 3}, {3, 7, 9}, {1, 1, 1}, 0},
};

static void run_slice_update(conf_ctx *c) {
    const int64_t shape[3] = {5, 7, 9};
    for (size_t k = 0; k < sizeof su_cases / sizeof su_cases[0]; k++)
        for (int d = 0; d < 13; d++)
            for (int strided = 0; strided < 2; strided++) {
                const su_case *sc = &su_cases[k];
                mx_dtype t = conf_all_dtypes[d];
                ref_tensor ra, ru;
                mx_array *a = small_ints(c, shape, 3, t, -50, 50, strided, &ra);
                int64_t pos[3][9], cnt[3];
                for (int i = 0; i < 3; i++) cnt[i] = py_slice(shape[i], sc->start[i], sc->stop[i], sc->step[i], pos[i]);
                int64_t ushape[3] = {cnt[0], cnt[1], cnt[2]};
                int und = 3;
                const int64_t *us = ushape;
                if (sc->bcast == 1) us = ushape + 1, und = 2;
                if (sc->bcast == 2) und = 0;
                /* the update is int32 for float data (cast on the way in), else the same dtype */
                mx_dtype ut = mx_dtype_is_float(t) ? MX_INT32 : t;
                mx_array *u = small_ints(c, us, und, ut, -50, 50, !strided && und > 0, &ru);
                ref_tensor out = conf_ref_alloc(c, shape, 3);
                memcpy(out.data, ra.data, sizeof(double) * (size_t)ra.size);
                int64_t idx[3] = {0};
                if (cnt[0] && cnt[1] && cnt[2])
                    do {
                        int64_t dst[3] = {pos[0][idx[0]], pos[1][idx[1]], pos[2][idx[2]]};
                        double v = conf_ref_at_broadcast(&ru, 3, idx);
                        out.data[conf_ref_index(&out, dst)] = t == MX_BOOL ? v != 0 : v;
                    } while (next_index(idx, ushape, 3));
                mx_array *got = mx_slice_update(a, u, sc->start, sc->stop, sc->step, 3);
                conf_check_exact(c, "slice_update", got, &out);
                end_case(c);
            }
}

/* ---- take / gather ---- */

typedef struct {
    int nd, ind;
    int64_t shape[3], ishape[2];
} take_case;

static const take_case take_cases[] = {
    {1, 1, {7}, {4}},          {2, 2, {3, 5}, {2, 3}},   {3, 0, {2, 3, 17}, {0}},
    {3, 1, {2, 3, 17}, {129}}, {2, 2, {1, 129}, {1, 1}}, {2, 1, {4, 8}, {0}},
};

static void run_take(conf_ctx *c) {
    int n_cases = (int)(sizeof take_cases / sizeof take_cases[0]);
    for (int k = 0; k < n_cases; k++)
        for (int axis = -take_cases[k].nd; axis < take_cases[k].nd; axis++)
            for (int d = 0; d < 13; d++) {
                const take_case *tc = &take_cases[k];
                mx_dtype t = conf_all_dtypes[d], it = index_dtypes[(d + k + axis + 8) % 8];
                int ax = axis < 0 ? axis + tc->nd : axis;
                ref_tensor ra, ri;
                int strided = (d + axis) % 2 != 0;
                mx_array *a = small_ints(c, tc->shape, tc->nd, t, -100, 100, strided, &ra);
                mx_array *ix = index_array(c, tc->ishape, tc->ind, it, tc->shape[ax], &ri);
                int64_t oshape[MX_MAX_NDIM];
                int ond = 0;
                for (int i = 0; i < ax; i++) oshape[ond++] = tc->shape[i];
                for (int i = 0; i < tc->ind; i++) oshape[ond++] = tc->ishape[i];
                for (int i = ax + 1; i < tc->nd; i++) oshape[ond++] = tc->shape[i];
                ref_tensor out = conf_ref_alloc(c, oshape, ond);
                int64_t idx[MX_MAX_NDIM] = {0};
                for (int64_t e = 0; e < out.size; e++, next_index(idx, oshape, ond)) {
                    int64_t src[3];
                    for (int i = 0; i < ax; i++) src[i] = idx[i];
                    src[ax] = (int64_t)ri.data[tc->ind ? conf_ref_index(&ri, idx + ax) : 0];
                    for (int i = ax + 1; i < tc->nd; i++) src[i] = idx[i - 1 + tc->ind];
                    out.data[e] = at(&ra, src);
                }
                conf_check_exact(c, (k + d) % 2 ? "take" : "gather",
                                 (k + d) % 2 ? mx_take(a, ix, axis) : mx_gather(a, ix, axis), &out);
                end_case(c);
            }
}

/* ---- take_along_axis / put_along_axis ---- */

static void run_along_axis(conf_ctx *c) {
    const int64_t shape[3] = {3, 5, 7};
    /* index shapes for axis 1 (broadcast on the others); permuted for other axes */
    const int64_t ishapes[4][3] = {{3, 4, 7}, {1, 6, 7}, {3, 2, 1}, {1, 1, 1}};
    for (int axis = -3; axis < 3; axis++)
        for (int s = 0; s < 4; s++)
            for (int d = 0; d < 13; d++) {
                mx_dtype t = conf_all_dtypes[d], it = index_dtypes[(d + s) % 8];
                int ax = axis < 0 ? axis + 3 : axis;
                /* ishapes[s][1] is the length along the axis; 1s elsewhere broadcast */
                int64_t ish[3];
                for (int i = 0; i < 3; i++) ish[i] = i == ax ? ishapes[s][1] : (ishapes[s][0] == 1 ? 1 : shape[i]);
                if (s == 2) ish[(ax + 1) % 3] = 1;
                ref_tensor ra, ri, rv;
                int strided = (d + s) % 2;
                mx_array *a = small_ints(c, shape, 3, t, -100, 100, strided, &ra);
                mx_array *ix = index_array(c, ish, 3, it, shape[ax], &ri);
                int64_t oshape[3];
                for (int i = 0; i < 3; i++) oshape[i] = i == ax ? ish[i] : shape[i];
                ref_tensor out = conf_ref_alloc(c, oshape, 3);
                int64_t idx[3] = {0};
                for (int64_t e = 0; e < out.size; e++, next_index(idx, oshape, 3)) {
                    int64_t src[3] = {idx[0], idx[1], idx[2]};
                    src[ax] = (int64_t)conf_ref_at_broadcast(&ri, 3, idx);
                    out.data[e] = at(&ra, src);
                }
                conf_check_exact(c, "take_along_axis", mx_take_along_axis(a, ix, axis), &out);

                /* put: values of the written shape (or one per position along the axis),
                 * applied in order so a repeated index keeps its last value */
                int64_t vshape[3] = {1, 1, 1};
                if (s % 2 == 0) memcpy(vshape, oshape, sizeof vshape);
                else vshape[ax] = ish[ax];
                mx_array *v = small_ints(c, vshape, 3, t, -100, 100, 0, &rv);
                ref_tensor put = conf_ref_alloc(c, shape, 3);
                memcpy(put.data, ra.data, sizeof(double) * (size_t)ra.size);
                memset(idx, 0, sizeof idx);
                for (int64_t e = 0; e < out.size; e++, next_index(idx, oshape, 3)) {
                    int64_t dst[3] = {idx[0], idx[1], idx[2]};
                    dst[ax] = (int64_t)conf_ref_at_broadcast(&ri, 3, idx);
                    put.data[conf_ref_index(&put, dst)] = conf_ref_at_broadcast(&rv, 3, idx);
                }
                conf_check_exact(c, "put_along_axis", mx_put_along_axis(a, ix, v, axis), &put);
                end_case(c);
            }
}

/* ---- scatter ---- */

static double apply_op(int op, double x, double y, mx_dtype t) {
    double r;
    switch (op) {
    case MX_SCATTER_NONE: r = y; break;
    case MX_SCATTER_ADD: r = x + y; break;
    case MX_SCATTER_PROD: r = x * y; break;
    case MX_SCATTER_MAX: r = x > y ? x : y; break;
    default: r = x < y ? x : y; break;
    }
    return t == MX_BOOL ? r != 0 : r;
}

static void run_scatter(conf_ctx *c) {
    const int64_t shapes[2][3] = {{6, 4, 1}, {3, 5, 7}};
    const int nds[2] = {2, 3};
    const char *names[5] = {"scatter(none)", "scatter(add)", "scatter(prod)", "scatter(max)", "scatter(min)"};
    for (int s = 0; s < 2; s++)
        for (int axis = -nds[s]; axis < nds[s]; axis++)
            for (int op = 0; op < 5; op++)
                for (int d = 0; d < 13; d++) {
                    mx_dtype t = conf_all_dtypes[d], it = index_dtypes[(d + op) % 8];
                    int nd = nds[s], ax = axis < 0 ? axis + nd : axis;
                    int64_t dim = shapes[s][ax];
                    ref_tensor ra, ri, ru;
                    int strided = (d + op + s) % 2;
                    /* results stay within int8 with up to 5 repeats of one index: |a| <= 50 plus
                     * updates |u| <= 10, or for prod |a| <= 3 times updates in 1..2 */
                    int64_t alo = op == MX_SCATTER_PROD ? -3 : -50, ahi = op == MX_SCATTER_PROD ? 3 : 50;
                    int64_t ulo = op == MX_SCATTER_PROD ? 1 : -10, uhi = op == MX_SCATTER_PROD ? 2 : 10;
                    mx_array *a = small_ints(c, shapes[s], nd, t, alo, ahi, strided, &ra);
                    /* 1-D indices with repeats (and 2-D ones for the 3-d array) */
                    int64_t ish[2] = {s ? 2 : 5, s ? 2 : 1};
                    int ind = s ? 2 : 1;
                    mx_array *ix = index_array(c, ish, ind, it, dim, &ri);
                    int64_t ushape[MX_MAX_NDIM];
                    int und = 0;
                    for (int i = 0; i < ind; i++) ushape[und++] = ish[i];
                    for (int i = 0; i < nd; i++)
                        if (i != ax) ushape[und++] = shapes[s][i];
                    /* broadcast updates (a size-1 leading index axis) every other case */
                    int bc = (d + axis + 10) % 2;
                    int64_t us2[MX_MAX_NDIM];
                    memcpy(us2, ushape, sizeof us2);
                    if (bc) us2[0] = 1;
                    mx_array *u = small_ints(c, us2, und, t, ulo, uhi, !strided, &ru);
                    ref_tensor out = conf_ref_alloc(c, shapes[s], nd);
                    memcpy(out.data, ra.data, sizeof(double) * (size_t)ra.size);
                    int64_t uidx[MX_MAX_NDIM] = {0};
                    int64_t un = 1;
                    for (int i = 0; i < und; i++) un *= ushape[i];
                    for (int64_t e = 0; e < un; e++, next_index(uidx, ushape, und)) {
                        int64_t dst[3], j = ind;
                        for (int i = 0; i < nd; i++) dst[i] = i == ax ? (int64_t)ri.data[conf_ref_index(&ri, uidx)] : uidx[j++];
                        int64_t o = conf_ref_index(&out, dst);
                        out.data[o] = apply_op(op, out.data[o], conf_ref_at_broadcast(&ru, und, uidx), t);
                    }
                    conf_check_exact(c, names[op], mx_scatter(a, ix, u, axis, (mx_scatter_op)op), &out);
                    end_case(c);
                }
}

void conf_family_indexing(conf_ctx *c) {
    run_slice_update(c);
    run_take(c);
    run_along_axis(c);
    run_scatter(c);
}
