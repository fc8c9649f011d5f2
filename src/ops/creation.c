/* Creation ops: constants, ranges, identity and triangular matrices. */
#include <math.h>

#include "cmlx/ops.h"
#include "ops/ops_util.h"
#include "ops/views.h"

mx_array *mx_full_array(const int64_t *shape, int ndim, const mx_array *value) {
    if (!value) return NULL;
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    return mx_composite_end(p, mx_contiguous(mx_broadcast_to(value, shape, ndim)));
}

mx_array *mx_full(const int64_t *shape, int ndim, double value, mx_dtype dtype) {
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    return mx_composite_end(p, mx_full_array(shape, ndim, mx_scalar(value, dtype)));
}

mx_array *mx_zeros(const int64_t *shape, int ndim, mx_dtype dtype) { return mx_full(shape, ndim, 0, dtype); }
mx_array *mx_ones(const int64_t *shape, int ndim, mx_dtype dtype) { return mx_full(shape, ndim, 1, dtype); }
mx_array *mx_zeros_like(const mx_array *a) { return a ? mx_zeros(a->shape, a->ndim, a->dtype) : NULL; }
mx_array *mx_ones_like(const mx_array *a) { return a ? mx_ones(a->shape, a->ndim, a->dtype) : NULL; }
mx_array *mx_full_like(const mx_array *a, double v) { return a ? mx_full(a->shape, a->ndim, v, a->dtype) : NULL; }

mx_array *mx_arange(double start, double stop, double step, mx_dtype dtype) {
    if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
        mx_set_error("[arange] needs finite bounds and a non-zero step (start %g, stop %g, step %g)", start, stop, step);
        return NULL;
    }
    if (dtype == MX_BOOL) {
        mx_set_error("[arange] bool dtype is not supported");
        return NULL;
    }
    double n = ceil((stop - start) / step);
    if (n < 0) n = 0;
    if (n > 9e15) {
        mx_set_error("[arange] %g elements requested", n);
        return NULL;
    }
    int64_t shape[1] = {(int64_t)n};
    mx_arange_params p = {start, step};
    return mx_node_create1(MX_PRIM_ARANGE, &p, sizeof p, NULL, 0, dtype, shape, 1);
}

mx_array *mx_linspace(double start, double stop, int64_t num, mx_dtype dtype) {
    if (num < 0) {
        mx_set_error("[linspace] num must be non-negative, got %lld", (long long)num);
        return NULL;
    }
    if (!mx_dtype_is_float(dtype) && dtype != MX_INT32 && dtype != MX_INT64) {
        mx_set_error("[linspace] unsupported dtype %s", mx_dtype_name(dtype));
        return NULL;
    }
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    double step = num > 1 ? (stop - start) / (double)(num - 1) : 0;
    /* start + i*step computed in float32 (or float64), then cast, as MLX. */
    mx_dtype ct = dtype == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32;
    mx_array *i = mx_arange(0, (double)num, 1, ct);
    mx_array *r = mx_add_scalar(mx_multiply_scalar(i, step), start);
    return mx_composite_end(p, mx_astype(r, dtype));
}

mx_array *mx_tri(int64_t n, int64_t m, int k, mx_dtype dtype) {
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *rows = mx_reshape(mx_arange(0, (double)n, 1, MX_INT64), (int64_t[]){n, 1}, 2);
    mx_array *cols = mx_reshape(mx_arange(0, (double)m, 1, MX_INT64), (int64_t[]){1, m}, 2);
    mx_array *mask = mx_greater_equal(mx_add_scalar(rows, k), cols);
    return mx_composite_end(p, mx_astype(mask, dtype));
}

mx_array *mx_eye(int64_t n, int64_t m, int k, mx_dtype dtype) {
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *rows = mx_reshape(mx_arange(0, (double)n, 1, MX_INT64), (int64_t[]){n, 1}, 2);
    mx_array *cols = mx_reshape(mx_arange(0, (double)m, 1, MX_INT64), (int64_t[]){1, m}, 2);
    return mx_composite_end(p, mx_astype(mx_equal(mx_add_scalar(rows, k), cols), dtype));
}

static mx_array *triangle(const mx_array *a, int k, int lower) {
    if (!a) return NULL;
    if (a->ndim < 2) {
        mx_set_error("[%s] needs at least 2 dimensions, got %s", lower ? "tril" : "triu", MX_SHAPE_STR(a));
        return NULL;
    }
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    int64_t n = a->shape[a->ndim - 2], m = a->shape[a->ndim - 1];
    mx_array *mask = mx_tri(n, m, lower ? k : k - 1, MX_BOOL);
    if (!lower) mask = mx_logical_not(mask);
    return mx_composite_end(p, mx_where(mask, a, mx_zeros((int64_t[]){0}, 0, a->dtype)));
}

mx_array *mx_tril(const mx_array *a, int k) { return triangle(a, k, 1); }
mx_array *mx_triu(const mx_array *a, int k) { return triangle(a, k, 0); }

mx_array *mx_where(const mx_array *cond, const mx_array *a, const mx_array *b) {
    if (!cond || !a || !b) return NULL;
    int64_t s1[MX_MAX_NDIM], s2[MX_MAX_NDIM];
    int n1, n2;
    if (mx_broadcast_shapes("where", cond->shape, cond->ndim, a->shape, a->ndim, s1, &n1) ||
        mx_broadcast_shapes("where", s1, n1, b->shape, b->ndim, s2, &n2))
        return NULL;
    mx_array *in[3] = {(mx_array *)cond, (mx_array *)a, (mx_array *)b};
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_dtype t = mx_promote_types(a->dtype, b->dtype);
    in[1] = mx_astype(a, t);
    in[2] = mx_astype(b, t);
    return mx_composite_end(p, mx_node_create1(MX_PRIM_WHERE, NULL, 0, in, 3, t, s2, n2));
}

mx_array *mx_clip(const mx_array *a, const mx_array *lo, const mx_array *hi) {
    if (!a) return NULL;
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *r = (mx_array *)a;
    if (lo) r = mx_maximum(r, mx_astype(lo, a->dtype));
    if (hi) r = mx_minimum(r, mx_astype(hi, a->dtype));
    if (r == a) r = mx_retain(r), r = mx_pool_track(r);
    return mx_composite_end(p, r);
}

mx_array *mx_clip_scalar(const mx_array *a, double lo, double hi) {
    if (!a) return NULL;
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    return mx_composite_end(p, mx_minimum(mx_maximum(a, mx_scalar_like(a, lo)), mx_scalar_like(a, hi)));
}
