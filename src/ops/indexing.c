/* Indexing op builders: slice_update, take (gather), take_along_axis, put_along_axis and
 * scatter. Values are cast to the array's dtype and broadcast (as views) here, so the
 * kernels see operands of one dtype and matching shapes. Index ranges are checked by the
 * kernels at eval time (the values are not known before). */
#include <string.h>

#include "cmlx/ops.h"
#include "ops/indexing.h"
#include "ops/ops_util.h"
#include "ops/views.h"

static int check_indices(const char *op, const mx_array *indices) {
    if (!mx_dtype_is_integer(indices->dtype))
        return mx_set_error("[%s] indices must have an integer dtype, got %s", op, MX_SHAPE_STR(indices));
    return 0;
}

/* Whether `from` broadcasts to `to` (numpy rules, right-aligned). */
static int broadcastable(const int64_t *from, int fn, const int64_t *to, int tn) {
    if (fn > tn) return 0;
    for (int i = 0; i < fn; i++) {
        int64_t f = from[i], t = to[tn - fn + i];
        if (f != 1 && f != t) return 0;
    }
    return 1;
}

mx_array *mx_slice_update(const mx_array *a, const mx_array *update, const int64_t *start, const int64_t *stop,
                          const int64_t *step, int n) {
    if (!a || !update) return NULL;
    mx_slice_params p;
    int64_t shape[MX_MAX_NDIM];
    if (mx_slice_plan("slice_update", a, start, stop, step, n, &p, shape)) return NULL;
    if (!broadcastable(update->shape, update->ndim, shape, a->ndim)) {
        mx_set_error("[slice_update] update %s cannot be broadcast to the slice shape %s of %s", MX_SHAPE_STR(update),
                     MX_FMT_SHAPE(shape, a->ndim), MX_SHAPE_STR(a));
        return NULL;
    }
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    /* The kernel sees the update as a view with exactly the slice's shape. */
    mx_array *in[2] = {(mx_array *)a, mx_broadcast_to(mx_astype(update, a->dtype), shape, a->ndim)};
    return mx_composite_end(pool, mx_node_create1(MX_PRIM_SLICE_UPDATE, &p, sizeof p, in, 2, a->dtype, a->shape,
                                                  a->ndim));
}

mx_array *mx_take(const mx_array *a, const mx_array *indices, int axis) {
    if (!a || !indices) return NULL;
    if (check_indices("take", indices)) return NULL;
    int ax = mx_norm_axis("take", axis, a->ndim);
    if (ax < 0) return NULL;
    int nd = a->ndim - 1 + indices->ndim;
    if (nd > MX_MAX_NDIM) {
        mx_set_error("[take] result of taking %s from %s would have %d dimensions; at most %d are supported",
                     MX_SHAPE_STR(indices), MX_SHAPE_STR(a), nd, MX_MAX_NDIM);
        return NULL;
    }
    int64_t shape[MX_MAX_NDIM];
    int m = 0;
    for (int d = 0; d < ax; d++) shape[m++] = a->shape[d];
    for (int d = 0; d < indices->ndim; d++) shape[m++] = indices->shape[d];
    for (int d = ax + 1; d < a->ndim; d++) shape[m++] = a->shape[d];
    mx_axis_params prm = {ax};
    mx_array *in[2] = {(mx_array *)a, (mx_array *)indices};
    return mx_node_create1(MX_PRIM_TAKE, &prm, sizeof prm, in, 2, a->dtype, shape, nd);
}

mx_array *mx_gather(const mx_array *a, const mx_array *indices, int axis) { return mx_take(a, indices, axis); }

/* The shape indices (ndim == a's) select over along axis: every other axis broadcast
 * between a and indices. */
static int along_axis_shape(const char *op, const mx_array *a, const mx_array *indices, int axis, int *ax,
                            int64_t *shape) {
    if (check_indices(op, indices)) return -1;
    if (indices->ndim != a->ndim)
        return mx_set_error("[%s] indices %s must have as many dimensions as the array %s", op,
                            MX_SHAPE_STR(indices), MX_SHAPE_STR(a));
    *ax = mx_norm_axis(op, axis, a->ndim);
    if (*ax < 0) return -1;
    for (int d = 0; d < a->ndim; d++) {
        int64_t x = a->shape[d], y = indices->shape[d];
        if (d == *ax) shape[d] = y;
        else if (x == y || x == 1 || y == 1) shape[d] = x == 1 ? y : x;
        else
            return mx_set_error("[%s] indices %s and array %s do not broadcast on axis %d (only axis %d may differ)",
                                op, MX_SHAPE_STR(indices), MX_SHAPE_STR(a), d, axis);
    }
    return 0;
}

mx_array *mx_take_along_axis(const mx_array *a, const mx_array *indices, int axis) {
    if (!a || !indices) return NULL;
    int ax;
    int64_t shape[MX_MAX_NDIM], ashape[MX_MAX_NDIM];
    if (along_axis_shape("take_along_axis", a, indices, axis, &ax, shape)) return NULL;
    memcpy(ashape, shape, sizeof shape);
    ashape[ax] = a->shape[ax];
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_axis_params prm = {ax};
    mx_array *in[2] = {mx_broadcast_to(a, ashape, a->ndim), mx_broadcast_to(indices, shape, a->ndim)};
    return mx_composite_end(p, mx_node_create1(MX_PRIM_TAKE_ALONG_AXIS, &prm, sizeof prm, in, 2, a->dtype, shape,
                                               a->ndim));
}

mx_array *mx_put_along_axis(const mx_array *a, const mx_array *indices, const mx_array *values, int axis) {
    if (!a || !indices || !values) return NULL;
    int ax;
    int64_t shape[MX_MAX_NDIM];
    if (along_axis_shape("put_along_axis", a, indices, axis, &ax, shape)) return NULL;
    /* The written positions: indices broadcast with values, spanning a on every other axis. */
    int64_t s2[MX_MAX_NDIM];
    int n2;
    if (mx_broadcast_shapes("put_along_axis", shape, a->ndim, values->shape, values->ndim, s2, &n2)) return NULL;
    if (n2 != a->ndim) {
        mx_set_error("[put_along_axis] values %s have more dimensions than the array %s", MX_SHAPE_STR(values),
                     MX_SHAPE_STR(a));
        return NULL;
    }
    for (int d = 0; d < a->ndim; d++)
        if (d != ax && s2[d] != a->shape[d]) {
            if (s2[d] != 1) {
                mx_set_error("[put_along_axis] indices %s and values %s do not fit array %s on axis %d",
                             MX_SHAPE_STR(indices), MX_SHAPE_STR(values), MX_SHAPE_STR(a), d);
                return NULL;
            }
            s2[d] = a->shape[d];
        }
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_axis_params prm = {ax};
    mx_array *in[3] = {(mx_array *)a, mx_broadcast_to(indices, s2, a->ndim),
                       mx_broadcast_to(mx_astype(values, a->dtype), s2, a->ndim)};
    return mx_composite_end(p, mx_node_create1(MX_PRIM_SCATTER_ALONG_AXIS, &prm, sizeof prm, in, 3, a->dtype,
                                               a->shape, a->ndim));
}

mx_array *mx_scatter(const mx_array *a, const mx_array *indices, const mx_array *updates, int axis,
                     mx_scatter_op op) {
    if (!a || !indices || !updates) return NULL;
    if (check_indices("scatter", indices)) return NULL;
    if ((unsigned)op > MX_SCATTER_MIN) {
        mx_set_error("[scatter] unknown scatter op %d", (int)op);
        return NULL;
    }
    int ax = mx_norm_axis("scatter", axis, a->ndim);
    if (ax < 0) return NULL;
    int nd = indices->ndim + a->ndim - 1;
    if (nd > MX_MAX_NDIM) {
        mx_set_error("[scatter] updates for indices %s into %s would need %d dimensions; at most %d are supported",
                     MX_SHAPE_STR(indices), MX_SHAPE_STR(a), nd, MX_MAX_NDIM);
        return NULL;
    }
    int64_t ushape[MX_MAX_NDIM];
    int m = 0;
    for (int d = 0; d < indices->ndim; d++) ushape[m++] = indices->shape[d];
    for (int d = 0; d < a->ndim; d++)
        if (d != ax) ushape[m++] = a->shape[d];
    if (!broadcastable(updates->shape, updates->ndim, ushape, nd)) {
        mx_set_error("[scatter] updates %s do not broadcast to %s (indices %s followed by %s without axis %d)",
                     MX_SHAPE_STR(updates), MX_FMT_SHAPE(ushape, nd), MX_SHAPE_STR(indices), MX_SHAPE_STR(a), axis);
        return NULL;
    }
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_scatter_params prm = {ax, (int)op};
    mx_array *in[3] = {(mx_array *)a, (mx_array *)indices, mx_broadcast_to(mx_astype(updates, a->dtype), ushape, nd)};
    return mx_composite_end(p, mx_node_create1(MX_PRIM_SCATTER, &prm, sizeof prm, in, 3, a->dtype, a->shape,
                                               a->ndim));
}
