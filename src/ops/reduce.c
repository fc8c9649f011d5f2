/* Reduction op builders: sum, prod, mean, var, std, max, min, all, any, logsumexp, argmax,
 * argmin and softmax. Validation and the output dtype rules are MLX's; every reduction is one
 * node whose kernel handles any set of axes, so nothing here is composite except softmax
 * over axes other than the last. */
#include <string.h>

#include "cmlx/ops.h"
#include "core/array_impl.h"
#include "ops/ops_util.h"
#include "ops/reduce.h"

static const char *reduce_names[MX_RED_COUNT] = {"sum", "prod", "max", "min", "all",
                                                 "any", "mean", "var", "std", "logsumexp"};

const char *mx_reduce_name(int op) { return op >= 0 && op < MX_RED_COUNT ? reduce_names[op] : "?"; }

/* The reduced axes of `a` as a bit mask, or -1 with an error naming op and input.
 * axes == NULL: every axis; axes != NULL with n_axes == 0: no axis (MLX's axis=[]). */
static int64_t reduce_mask(const char *op, const mx_array *a, const int *axes, int n_axes) {
    if (!axes) return a->ndim ? (int64_t)((1u << a->ndim) - 1) : 0;
    if (n_axes < 0) {
        mx_set_error("[%s] negative axis count %d", op, n_axes);
        return -1;
    }
    uint32_t mask = 0;
    for (int i = 0; i < n_axes; i++) {
        int ax = axes[i] < 0 ? axes[i] + a->ndim : axes[i];
        if (ax < 0 || ax >= a->ndim) {
            mx_set_error("[%s] axis %d is out of bounds for an array of shape %s (%d dimensions)", op, axes[i],
                         MX_SHAPE_STR(a), a->ndim);
            return -1;
        }
        if (mask & (1u << ax)) {
            mx_set_error("[%s] axis %d is given twice for an array of shape %s", op, axes[i], MX_SHAPE_STR(a));
            return -1;
        }
        mask |= 1u << ax;
    }
    return mask;
}

/* MLX's accumulation dtype of sum and prod: small integers widen to 32 bits, bool to int32. */
static mx_dtype sum_dtype(mx_dtype t) {
    switch (t) {
    case MX_BOOL: case MX_INT8: case MX_INT16: case MX_INT32: return MX_INT32;
    case MX_UINT8: case MX_UINT16: case MX_UINT32: return MX_UINT32;
    default: return t;
    }
}

static mx_dtype at_least_float(mx_dtype t) { return mx_dtype_is_float(t) ? t : MX_FLOAT32; }

/* One REDUCE / LOGSUMEXP node. `no_identity`: the op has no value for an empty axis (max,
 * min), so reducing a size-0 axis is an error. */
static mx_array *reduce_node(int prim, int op, int ddof, const mx_array *a, const int *axes, int n_axes,
                             int keepdims, mx_dtype out_dtype, int no_identity) {
    if (!a) return NULL;
    const char *name = reduce_names[op];
    int64_t mask = reduce_mask(name, a, axes, n_axes);
    if (mask < 0) return NULL;
    int64_t shape[MX_MAX_NDIM];
    int nd = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (mask & (1 << i)) {
            if (no_identity && a->shape[i] == 0) {
                mx_set_error("[%s] cannot %s-reduce axis %d of size 0 (input %s)", name, name, i, MX_SHAPE_STR(a));
                return NULL;
            }
            if (keepdims) shape[nd++] = 1;
        } else {
            shape[nd++] = a->shape[i];
        }
    }
    mx_reduce_params p;
    memset(&p, 0, sizeof p);
    p.op = op;
    p.ddof = ddof;
    p.axes = (uint32_t)mask;
    mx_array *in = (mx_array *)a;
    return mx_node_create1(prim, &p, sizeof p, &in, 1, out_dtype, shape, nd);
}

mx_array *mx_sum(const mx_array *a, const int *axes, int n_axes, int keepdims) {
    return a ? reduce_node(MX_PRIM_REDUCE, MX_RED_SUM, 0, a, axes, n_axes, keepdims, sum_dtype(a->dtype), 0) : NULL;
}

mx_array *mx_prod(const mx_array *a, const int *axes, int n_axes, int keepdims) {
    return a ? reduce_node(MX_PRIM_REDUCE, MX_RED_PROD, 0, a, axes, n_axes, keepdims, sum_dtype(a->dtype), 0) : NULL;
}

mx_array *mx_mean(const mx_array *a, const int *axes, int n_axes, int keepdims) {
    return a ? reduce_node(MX_PRIM_REDUCE, MX_RED_MEAN, 0, a, axes, n_axes, keepdims, at_least_float(a->dtype), 0)
             : NULL;
}

mx_array *mx_var(const mx_array *a, const int *axes, int n_axes, int keepdims, int ddof) {
    return a ? reduce_node(MX_PRIM_REDUCE, MX_RED_VAR, ddof, a, axes, n_axes, keepdims, at_least_float(a->dtype), 0)
             : NULL;
}

mx_array *mx_std(const mx_array *a, const int *axes, int n_axes, int keepdims, int ddof) {
    return a ? reduce_node(MX_PRIM_REDUCE, MX_RED_STD, ddof, a, axes, n_axes, keepdims, at_least_float(a->dtype), 0)
             : NULL;
}

mx_array *mx_max(const mx_array *a, const int *axes, int n_axes, int keepdims) {
    return a ? reduce_node(MX_PRIM_REDUCE, MX_RED_MAX, 0, a, axes, n_axes, keepdims, a->dtype, 1) : NULL;
}

mx_array *mx_min(const mx_array *a, const int *axes, int n_axes, int keepdims) {
    return a ? reduce_node(MX_PRIM_REDUCE, MX_RED_MIN, 0, a, axes, n_axes, keepdims, a->dtype, 1) : NULL;
}

mx_array *mx_all(const mx_array *a, const int *axes, int n_axes, int keepdims) {
    return reduce_node(MX_PRIM_REDUCE, MX_RED_ALL, 0, a, axes, n_axes, keepdims, MX_BOOL, 0);
}

mx_array *mx_any(const mx_array *a, const int *axes, int n_axes, int keepdims) {
    return reduce_node(MX_PRIM_REDUCE, MX_RED_ANY, 0, a, axes, n_axes, keepdims, MX_BOOL, 0);
}

mx_array *mx_logsumexp(const mx_array *a, const int *axes, int n_axes, int keepdims) {
    if (!a) return NULL;
    if (a->size == 0) {
        mx_set_error("[logsumexp] received an empty array %s", MX_SHAPE_STR(a));
        return NULL;
    }
    return reduce_node(MX_PRIM_LOGSUMEXP, MX_RED_LOGSUMEXP, 0, a, axes, n_axes, keepdims, at_least_float(a->dtype), 0);
}

static mx_array *arg_reduce(const char *name, int op, const mx_array *a, int axis, int keepdims) {
    if (!a) return NULL;
    if (a->size == 0) {
        mx_set_error("[%s] cannot %s-reduce an empty array %s", name, name, MX_SHAPE_STR(a));
        return NULL;
    }
    int ax = axis < 0 ? axis + a->ndim : axis;
    if (ax < 0 || ax >= a->ndim) {
        mx_set_error("[%s] axis %d is out of bounds for an array of shape %s (%d dimensions)", name, axis,
                     MX_SHAPE_STR(a), a->ndim);
        return NULL;
    }
    if (a->shape[ax] > (int64_t)UINT32_MAX) {
        mx_set_error("[%s] axis %d of %s is too long for uint32 indices", name, axis, MX_SHAPE_STR(a));
        return NULL;
    }
    int64_t shape[MX_MAX_NDIM];
    int nd = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (i != ax) shape[nd++] = a->shape[i];
        else if (keepdims) shape[nd++] = 1;
    }
    mx_arg_reduce_params p = {op, ax};
    mx_array *in = (mx_array *)a;
    return mx_node_create1(MX_PRIM_ARG_REDUCE, &p, sizeof p, &in, 1, MX_UINT32, shape, nd);
}

mx_array *mx_argmax(const mx_array *a, int axis, int keepdims) { return arg_reduce("argmax", MX_ARG_MAX, a, axis, keepdims); }

mx_array *mx_argmin(const mx_array *a, int axis, int keepdims) { return arg_reduce("argmin", MX_ARG_MIN, a, axis, keepdims); }

/* Softmax over axes that are not (equivalent to) the last one: exp(x - max) / sum, built
 * from the reductions in float32 (float64 for float64) and cast back. */
static mx_array *softmax_composite(const mx_array *a, const int *axes, int n) {
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    mx_dtype out = at_least_float(a->dtype), work = a->dtype == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32;
    int none = 0;
    const int *ax = n ? axes : &none; /* non-NULL with count 0: reduce nothing */
    mx_array *x = mx_astype(a, work);
    mx_array *m = mx_max(x, ax, n, 1);
    mx_array *e = mx_exp(mx_subtract(x, m));
    mx_array *r = mx_astype(mx_divide(e, mx_sum(e, ax, n, 1)), out);
    return mx_composite_end(pool, r);
}

mx_array *mx_softmax(const mx_array *a, const int *axes, int n_axes, int precise) {
    if (!a) return NULL;
    int64_t mask = reduce_mask("softmax", a, axes, n_axes);
    if (mask < 0) return NULL;
    if (a->size == 0) return mx_pool_track(mx_retain((mx_array *)a));
    /* The fused kernel works on the last axis; other reduced axes of size 1 change nothing. */
    int last = a->ndim - 1, fused = a->ndim > 0 && (mask & (1 << last));
    for (int i = 0; fused && i < last; i++)
        if ((mask & (1 << i)) && a->shape[i] != 1) fused = 0;
    if (!fused) {
        int list[MX_MAX_NDIM], n = 0;
        for (int i = 0; i < a->ndim; i++)
            if (mask & (1 << i)) list[n++] = i;
        return softmax_composite(a, list, n);
    }
    mx_softmax_params p = {precise ? 1 : 0};
    mx_array *in = (mx_array *)a;
    return mx_node_create1(MX_PRIM_SOFTMAX, &p, sizeof p, &in, 1, at_least_float(a->dtype), a->shape, a->ndim);
}
