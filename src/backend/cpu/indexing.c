/* CPU kernels of the indexing primitives: slice_update, take, take_along_axis,
 * put_along_axis (SCATTER_ALONG_AXIS) and scatter.
 *
 * Indices may have any integer dtype and any layout; they are read as int64 in chunks.
 * Every index is checked before anything is written: one outside [-dim, dim) makes the
 * kernel fail with a message naming the op, the index and the axis (MLX does not check;
 * reading or writing out of bounds is never an option here). Negative indices wrap.
 *
 * The kernels that write into a copy of `a` (slice_update, put_along_axis, scatter) take
 * over a's buffer when nothing else uses it, so an update of a cache costs O(update). */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/chunk.h"
#include "backend/cpu/kernels.h"
#include "cmlx/ops.h"
#include "core/dtype.h"
#include "core/strided.h"
#include "ops/indexing.h"
#include "ops/views.h"

static inline void copy_elem(char *dst, const char *src, size_t es) {
    switch (es) {
    case 1: memcpy(dst, src, 1); break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    default: memcpy(dst, src, 8); break;
    }
}

static int index_error(const char *op, const mx_array *idx, int64_t v, int axis, int64_t dim) {
    if (!mx_dtype_is_signed(idx->dtype))
        return mx_set_error("[%s] index %llu is out of bounds for axis %d with size %lld (indices %s)", op,
                            (unsigned long long)v, axis, (long long)dim, MX_SHAPE_STR(idx));
    return mx_set_error("[%s] index %lld is out of bounds for axis %d with size %lld (indices %s)", op, (long long)v,
                        axis, (long long)dim, MX_SHAPE_STR(idx));
}

/* Whether v (read from an index array; unsigned when !is_signed) lies in [-dim, dim). */
static inline int index_ok(int64_t v, int is_signed, int64_t dim) {
    return is_signed ? v >= -dim && v < dim : (uint64_t)v < (uint64_t)dim;
}

/* Reads elements [start, start+n) of idx as int64 and wraps negatives into [0, dim);
 * -1 with the error set when one is out of range. */
static int load_indices(const char *op, const mx_array *idx, int64_t start, int64_t n, int64_t dim, int axis,
                        int64_t *dst) {
    mx_copy_strided(idx, MX_INT64, dst, start, n);
    int sg = mx_dtype_is_signed(idx->dtype);
    for (int64_t i = 0; i < n; i++) {
        if (!index_ok(dst[i], sg, dim)) return index_error(op, idx, dst[i], axis, dim);
        if (dst[i] < 0) dst[i] += dim;
    }
    return 0;
}

/* Checks every index of idx (any layout, broadcast included). */
static int validate_indices(const char *op, const mx_array *idx, int64_t dim, int axis) {
    int64_t buf[CPU_CHUNK];
    for (int64_t s = 0; s < idx->size; s += CPU_CHUNK) {
        int64_t m = idx->size - s < CPU_CHUNK ? idx->size - s : CPU_CHUNK;
        if (load_indices(op, idx, s, m, dim, axis, buf)) return -1;
    }
    return 0;
}

/* Whether every element of a is the same one (a broadcast scalar, e.g. pad's fill value). */
static int is_broadcast_scalar(const mx_array *a) {
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] > 1 && a->strides[d] != 0) return 0;
    return 1;
}

/* out := a, taking over a's buffer when it has no other user. */
static int copy_or_donate(mx_array *out, mx_array *a) {
    int r = mx_out_alloc_donate(out, a);
    if (r < 0) return -1;
    if (r == 1) return 0;
    int64_t n = out->size, step = CPU_CHUNK * 8, nchunks = (n + step - 1) / step;
    char *o = mx_array_ptr(out);
    size_t es = mx_dtype_size(out->dtype);
    if (n > 0 && is_broadcast_scalar(a)) { /* fill: one element, then doubling copies */
        memcpy(o, mx_array_ptr(a), es);
        for (int64_t have = 1; have < n; have *= 2)
            memcpy(o + have * (int64_t)es, o, (size_t)(have < n - have ? have : n - have) * es);
        return 0;
    }
#pragma omp parallel for if (cpu_parallel_worth(n))
    for (int64_t k = 0; k < nchunks; k++) {
        int64_t s = k * step, m = n - s < step ? n - s : step;
        mx_copy_strided(a, out->dtype, o + s * (int64_t)es, s, m);
    }
    return 0;
}

static void split_axis(const mx_array *a, int ax, int64_t *before, int64_t *after) {
    *before = *after = 1;
    for (int d = 0; d < ax; d++) *before *= a->shape[d];
    for (int d = ax + 1; d < a->ndim; d++) *after *= a->shape[d];
}

/* ---- slice_update: out = a; out[start::step] = update (update already has the slice's shape) ---- */

int cpu_slice_update(const mx_kernel_ctx *c) {
    const mx_slice_params *p = c->params;
    mx_array *a = c->inputs[0], *upd = c->inputs[1], *out = c->outputs[0];
    if (copy_or_donate(out, a)) return -1;
    int64_t n = upd->size;
    if (n == 0) return 0;
    int nd = out->ndim;
    int64_t dst_strides[MX_MAX_NDIM], base = 0;
    for (int d = 0; d < nd; d++) {
        dst_strides[d] = out->strides[d] * p->step[d];
        base += p->start[d] * out->strides[d];
    }
    size_t es = mx_dtype_size(out->dtype);
    char *o = mx_array_ptr(out) + base * (int64_t)es;
    mx_nditer it;
    mx_nditer_init(&it, nd, upd->shape, dst_strides);
    int64_t inner = it.ndim ? it.shape[it.ndim - 1] : 1;
    int64_t istride = it.ndim ? it.strides[it.ndim - 1] : 1;
    if (istride == 1) {
        /* Runs of the slice are contiguous in out: one strided-to-dense copy per run. */
        int64_t rows = n / inner;
#pragma omp parallel for if (cpu_parallel_worth(n) && rows > 1)
        for (int64_t r = 0; r < rows; r++) {
            mx_nditer ri = it;
            mx_nditer_seek(&ri, r * inner);
            mx_copy_strided(upd, out->dtype, o + ri.off * (int64_t)es, r * inner, inner);
        }
        return 0;
    }
    mx_nditer iu;
    mx_nditer_init(&iu, nd, upd->shape, upd->strides);
    const char *u = mx_array_ptr(upd);
    for (int64_t i = 0; i < n; i++) {
        copy_elem(o + it.off * (int64_t)es, u + iu.off * (int64_t)es, es);
        mx_nditer_next(&it);
        mx_nditer_next(&iu);
    }
    return 0;
}

/* ---- take: out[before, i..., after] = a[before, indices[i...], after] ---- */

int cpu_take(const mx_kernel_ctx *c) {
    const mx_axis_params *p = c->params;
    mx_array *a = c->inputs[0], *idx = c->inputs[1], *out = c->outputs[0];
    int ax = p->axis;
    int64_t before, after, dim = a->shape[ax], n = idx->size;
    split_axis(a, ax, &before, &after);
    int64_t *ix = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!ix) return mx_set_error("[take] out of memory reading %lld indices", (long long)n);
    if (load_indices("take", idx, 0, n, dim, ax, ix) || mx_out_alloc(out)) {
        free(ix);
        return -1;
    }
    size_t es = mx_dtype_size(out->dtype);
    char *o = mx_array_ptr(out);
    const char *src = mx_array_ptr(a);
    int contig = (a->flags & MX_FLAG_ROW_CONTIG) != 0;
    int64_t total = before * n;
    if (after > 0) {
#pragma omp parallel for if (cpu_parallel_worth(out->size))
        for (int64_t t = 0; t < total; t++) {
            int64_t b = t / n, from = (b * dim + ix[t % n]) * after;
            char *dst = o + t * after * (int64_t)es;
            if (!contig) mx_copy_strided(a, out->dtype, dst, from, after);
            else if (after == 1) copy_elem(dst, src + from * (int64_t)es, es);
            else memcpy(dst, src + from * (int64_t)es, (size_t)after * es);
        }
    }
    free(ix);
    return 0;
}

/* ---- take_along_axis: out[..., j, ...] = a[..., indices[..., j, ...], ...] ---- */

int cpu_take_along_axis(const mx_kernel_ctx *c) {
    const mx_axis_params *p = c->params;
    mx_array *a = c->inputs[0], *idx = c->inputs[1], *out = c->outputs[0];
    int ax = p->axis;
    int64_t dim = a->shape[ax];
    if (validate_indices("take_along_axis", idx, dim, ax) || mx_out_alloc(out)) return -1;
    /* a's offset of each output position with the axis coordinate left at 0. */
    int64_t base_strides[MX_MAX_NDIM];
    for (int d = 0; d < out->ndim; d++) base_strides[d] = d == ax ? 0 : a->strides[d];
    mx_nditer it0;
    mx_nditer_init(&it0, out->ndim, out->shape, base_strides);
    int64_t n = out->size, nchunks = (n + CPU_CHUNK - 1) / CPU_CHUNK, astride = a->strides[ax];
    size_t es = mx_dtype_size(out->dtype);
    char *o = mx_array_ptr(out);
    const char *src = mx_array_ptr(a);
#pragma omp parallel for if (cpu_parallel_worth(n))
    for (int64_t k = 0; k < nchunks; k++) {
        int64_t ix[CPU_CHUNK];
        int64_t s = k * CPU_CHUNK, m = n - s < CPU_CHUNK ? n - s : CPU_CHUNK;
        mx_copy_strided(idx, MX_INT64, ix, s, m);
        mx_nditer it = it0;
        mx_nditer_seek(&it, s);
        for (int64_t j = 0; j < m; j++) {
            int64_t v = ix[j] < 0 ? ix[j] + dim : ix[j];
            copy_elem(o + (s + j) * (int64_t)es, src + (it.off + v * astride) * (int64_t)es, es);
            mx_nditer_next(&it);
        }
    }
    return 0;
}

/* ---- put_along_axis: out = a; out[..., indices[..., j, ...], ...] = values[..., j, ...] ---- */

int cpu_put_along_axis(const mx_kernel_ctx *c) {
    const mx_axis_params *p = c->params;
    mx_array *a = c->inputs[0], *idx = c->inputs[1], *vals = c->inputs[2], *out = c->outputs[0];
    int ax = p->axis;
    int64_t dim = a->shape[ax];
    if (validate_indices("put_along_axis", idx, dim, ax) || copy_or_donate(out, a)) return -1;
    int64_t base_strides[MX_MAX_NDIM];
    for (int d = 0; d < out->ndim; d++) base_strides[d] = d == ax ? 0 : out->strides[d];
    mx_nditer it, iv;
    mx_nditer_init(&it, idx->ndim, idx->shape, base_strides);
    mx_nditer_init(&iv, vals->ndim, vals->shape, vals->strides);
    int64_t n = idx->size, ostride = out->strides[ax];
    size_t es = mx_dtype_size(out->dtype);
    char *o = mx_array_ptr(out);
    const char *v = mx_array_ptr(vals);
    /* In order, so that with repeated indices the last value wins. */
    int64_t ix[CPU_CHUNK];
    for (int64_t s = 0; s < n; s += CPU_CHUNK) {
        int64_t m = n - s < CPU_CHUNK ? n - s : CPU_CHUNK;
        mx_copy_strided(idx, MX_INT64, ix, s, m);
        for (int64_t j = 0; j < m; j++) {
            int64_t w = ix[j] < 0 ? ix[j] + dim : ix[j];
            copy_elem(o + (it.off + w * ostride) * (int64_t)es, v + iv.off * (int64_t)es, es);
            mx_nditer_next(&it);
            mx_nditer_next(&iv);
        }
    }
    return 0;
}

/* ---- scatter: out = a; out[before, indices[i], after] (op)= updates[i, before, after] ---- */

/* Combines the update y into element k of out (dtype t) with op. Floats compute in double,
 * NaN propagating through max/min as in mx_maximum; integers wrap; bools: add/max = or,
 * prod/min = and. */
static void combine(char *out, int64_t k, mx_dtype t, int op, const char *upd, int64_t j) {
    if (mx_dtype_is_float(t)) {
        double x = mx_load_double(out, t, k), y = mx_load_double(upd, t, j), r;
        switch (op) {
        case MX_SCATTER_ADD: r = x + y; break;
        case MX_SCATTER_PROD: r = x * y; break;
        case MX_SCATTER_MAX: r = x != x || x > y ? x : y; break;
        default: r = x != x || x < y ? x : y; break;
        }
        mx_store_double(out, t, k, r);
        return;
    }
    int64_t x = mx_load_int(out, t, k), y = mx_load_int(upd, t, j), r;
    int u = t == MX_UINT64;
    switch (op) {
    case MX_SCATTER_ADD: r = (int64_t)((uint64_t)x + (uint64_t)y); break;
    case MX_SCATTER_PROD: r = (int64_t)((uint64_t)x * (uint64_t)y); break;
    case MX_SCATTER_MAX: r = (u ? (uint64_t)x > (uint64_t)y : x > y) ? x : y; break;
    default: r = (u ? (uint64_t)x < (uint64_t)y : x < y) ? x : y; break;
    }
    mx_store_int(out, t, k, r);
}

/* Combines a run of n updates into a run of out with op, in the element type T; integer
 * sums and products are done in the unsigned type W, so they wrap without undefined
 * behaviour. */
#define COMBINE_RUN(T, W, MAXC, MINC)                                                             \
    do {                                                                                       \
        T *x = (T *)o;                                                                         \
        const T *y = (const T *)u;                                                             \
        switch (op) {                                                                          \
        case MX_SCATTER_ADD: for (int64_t i = 0; i < n; i++) x[i] = (T)((W)x[i] + (W)y[i]); break; \
        case MX_SCATTER_PROD: for (int64_t i = 0; i < n; i++) x[i] = (T)((W)x[i] * (W)y[i]); break; \
        case MX_SCATTER_MAX: for (int64_t i = 0; i < n; i++) x[i] = MAXC ? x[i] : y[i]; break; \
        default: for (int64_t i = 0; i < n; i++) x[i] = MINC ? x[i] : y[i]; break;             \
        }                                                                                      \
    } while (0)
#define FMAX (x[i] != x[i] || x[i] > y[i])
#define FMIN (x[i] != x[i] || x[i] < y[i])
#define IMAX (x[i] > y[i])
#define IMIN (x[i] < y[i])

static void combine_run(char *o, const char *u, int64_t n, mx_dtype t, int op) {
    switch (t) {
    case MX_FLOAT32: COMBINE_RUN(float, float, FMAX, FMIN); return;
    case MX_FLOAT64: COMBINE_RUN(double, double, FMAX, FMIN); return;
    case MX_UINT8: COMBINE_RUN(uint8_t, uint32_t, IMAX, IMIN); return;
    case MX_UINT16: COMBINE_RUN(uint16_t, uint32_t, IMAX, IMIN); return;
    case MX_UINT32: COMBINE_RUN(uint32_t, uint32_t, IMAX, IMIN); return;
    case MX_UINT64: COMBINE_RUN(uint64_t, uint64_t, IMAX, IMIN); return;
    case MX_INT8: COMBINE_RUN(int8_t, uint32_t, IMAX, IMIN); return;
    case MX_INT16: COMBINE_RUN(int16_t, uint32_t, IMAX, IMIN); return;
    case MX_INT32: COMBINE_RUN(int32_t, uint32_t, IMAX, IMIN); return;
    case MX_INT64: COMBINE_RUN(int64_t, uint64_t, IMAX, IMIN); return;
    default:
        for (int64_t i = 0; i < n; i++) combine(o, i, t, op, u, i);
        return;
    }
}

int cpu_scatter(const mx_kernel_ctx *c) {
    const mx_scatter_params *p = c->params;
    mx_array *a = c->inputs[0], *idx = c->inputs[1], *upd = c->inputs[2], *out = c->outputs[0];
    int ax = p->axis;
    int64_t before, after, dim = a->shape[ax], n = idx->size;
    split_axis(a, ax, &before, &after);
    int64_t rest = before * after;
    int64_t *ix = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!ix) return mx_set_error("[scatter] out of memory reading %lld indices", (long long)n);
    if (load_indices("scatter", idx, 0, n, dim, ax, ix) || copy_or_donate(out, a)) {
        free(ix);
        return -1;
    }
    size_t es = mx_dtype_size(out->dtype);
    char *o = mx_array_ptr(out);
    /* Work units are (row b, run of `after`): distinct units write distinct elements, and each
     * unit applies the updates in index order, so repeated indices accumulate (add, prod, max,
     * min) or the last one wins (none) whatever the threads do. */
    int64_t runs_per_row = after ? (after + CPU_CHUNK - 1) / CPU_CHUNK : 0, units = before * runs_per_row;
#pragma omp parallel for if (cpu_parallel_worth(n * rest) && units > 1)
    for (int64_t w = 0; w < units; w++) {
        _Alignas(64) unsigned char buf[CPU_CHUNK * 8];
        int64_t b = w / runs_per_row, q0 = (w % runs_per_row) * CPU_CHUNK;
        int64_t m = after - q0 < CPU_CHUNK ? after - q0 : CPU_CHUNK;
        for (int64_t i = 0; i < n; i++) {
            char *dst = o + (((b * dim + ix[i]) * after) + q0) * (int64_t)es;
            if (p->op == MX_SCATTER_NONE) {
                mx_copy_strided(upd, out->dtype, dst, i * rest + b * after + q0, m);
            } else {
                mx_copy_strided(upd, out->dtype, buf, i * rest + b * after + q0, m);
                combine_run(dst, (const char *)buf, m, out->dtype, p->op);
            }
        }
    }
    free(ix);
    return 0;
}
