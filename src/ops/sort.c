/* Sorting op builders: sort, argsort, partition, argpartition, topk (MLX's semantics; the
 * order is total and stable, NaN last: see ops/sort.h). */
#include <string.h>

#include "cmlx/ops.h"
#include "core/array_impl.h"
#include "ops/ops_util.h"
#include "ops/sort.h"

/* Normalised axis of a, or -1 with an error naming op and input. */
static int sort_axis(const char *name, const mx_array *a, int axis) {
    int ax = axis < 0 ? axis + a->ndim : axis;
    if (ax < 0 || ax >= a->ndim) {
        mx_set_error("[%s] axis %d is out of bounds for an array of shape %s (%d dimensions)", name, axis,
                     MX_SHAPE_STR(a), a->ndim);
        return -1;
    }
    if (a->shape[ax] > (int64_t)UINT32_MAX) {
        mx_set_error("[%s] axis %d of %s is too long for uint32 indices", name, axis, MX_SHAPE_STR(a));
        return -1;
    }
    return ax;
}

static mx_array *sort_node(const char *name, int prim, const mx_array *a, int axis, int has_kth, int kth,
                           mx_dtype out) {
    if (!a) return NULL;
    int ax = sort_axis(name, a, axis);
    if (ax < 0) return NULL;
    mx_sort_params p;
    memset(&p, 0, sizeof p);
    p.axis = ax;
    if (has_kth) {
        int64_t n = a->shape[ax], k = kth < 0 ? kth + n : kth;
        if (k < 0 || k >= n) {
            mx_set_error("[%s] kth %d is out of range for axis %d of size %lld (input %s)", name, kth, axis,
                         (long long)n, MX_SHAPE_STR(a));
            return NULL;
        }
        p.kth = (int)k;
    }
    mx_array *in = (mx_array *)a;
    return mx_node_create1(prim, &p, sizeof p, &in, 1, out, a->shape, a->ndim);
}

mx_array *mx_sort(const mx_array *a, int axis) {
    return a ? sort_node("sort", MX_PRIM_SORT, a, axis, 0, 0, a->dtype) : NULL;
}

mx_array *mx_argsort(const mx_array *a, int axis) { return sort_node("argsort", MX_PRIM_ARGSORT, a, axis, 0, 0, MX_UINT32); }

mx_array *mx_partition(const mx_array *a, int kth, int axis) {
    return a ? sort_node("partition", MX_PRIM_PARTITION, a, axis, 1, kth, a->dtype) : NULL;
}

mx_array *mx_argpartition(const mx_array *a, int kth, int axis) {
    return sort_node("argpartition", MX_PRIM_ARGPARTITION, a, axis, 1, kth, MX_UINT32);
}

/* As MLX: partition so that the k largest come last, and slice them off (unordered). */
mx_array *mx_topk(const mx_array *a, int k, int axis) {
    if (!a) return NULL;
    int ax = sort_axis("topk", a, axis);
    if (ax < 0) return NULL;
    int64_t n = a->shape[ax];
    if (k < 0 || k > n) {
        mx_set_error("[topk] k = %d is out of range for axis %d of size %lld (input %s)", k, axis, (long long)n,
                     MX_SHAPE_STR(a));
        return NULL;
    }
    if (k == n) return mx_pool_track(mx_retain((mx_array *)a));
    if (k == 0) return mx_slice_axis(a, ax, n, n);
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    mx_array *part = mx_partition(a, (int)(n - k), ax);
    return mx_composite_end(pool, mx_slice_axis(part, ax, n - k, n));
}
