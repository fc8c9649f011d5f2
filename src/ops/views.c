/* View op builders: reshape, transpose, slice, broadcast_to, and the shape helpers built
 * on them. Their kernels share the input's buffer whenever the layout allows. */
#include <string.h>

#include "cmlx/ops.h"
#include "ops/ops_util.h"
#include "ops/views.h"

mx_array *mx_reshape(const mx_array *a, const int64_t *shape, int ndim) {
    if (!a) return NULL;
    if (ndim < 0 || ndim > MX_MAX_NDIM) {
        mx_set_error("[reshape] %d dimensions; at most %d are supported", ndim, MX_MAX_NDIM);
        return NULL;
    }
    int64_t s[MX_MAX_NDIM], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1) {
            if (infer >= 0) {
                mx_set_error("[reshape] more than one -1 in shape %s", MX_FMT_SHAPE(shape, ndim));
                return NULL;
            }
            infer = i;
        } else if (s[i] < 0) {
            mx_set_error("[reshape] negative dimension in shape %s", MX_FMT_SHAPE(shape, ndim));
            return NULL;
        } else {
            known *= s[i];
        }
    }
    if (infer >= 0) {
        if (known == 0 || a->size % known) {
            mx_set_error("[reshape] cannot reshape array of shape %s into %s", MX_FMT_SHAPE(a->shape, a->ndim),
                         MX_FMT_SHAPE(shape, ndim));
            return NULL;
        }
        s[infer] = a->size / known;
        known *= s[infer];
    }
    if (known != a->size) {
        mx_set_error("[reshape] cannot reshape array of size %lld (shape %s) into shape %s", (long long)a->size,
                     MX_FMT_SHAPE(a->shape, a->ndim), MX_FMT_SHAPE(shape, ndim));
        return NULL;
    }
    mx_array *in = (mx_array *)a;
    return mx_node_create1(MX_PRIM_RESHAPE, NULL, 0, &in, 1, a->dtype, s, ndim);
}

mx_array *mx_flatten(const mx_array *a, int start_axis, int end_axis) {
    if (!a) return NULL;
    if (a->ndim == 0) return mx_reshape(a, (int64_t[]){1}, 1);
    int s = mx_norm_axis("flatten", start_axis, a->ndim), e = mx_norm_axis("flatten", end_axis, a->ndim);
    if (s < 0 || e < 0) return NULL;
    if (s > e) {
        mx_set_error("[flatten] start axis %d is after end axis %d", start_axis, end_axis);
        return NULL;
    }
    int64_t shape[MX_MAX_NDIM];
    int n = 0;
    for (int i = 0; i < s; i++) shape[n++] = a->shape[i];
    int64_t m = 1;
    for (int i = s; i <= e; i++) m *= a->shape[i];
    shape[n++] = m;
    for (int i = e + 1; i < a->ndim; i++) shape[n++] = a->shape[i];
    return mx_reshape(a, shape, n);
}

mx_array *mx_squeeze(const mx_array *a, const int *axes, int n_axes) {
    if (!a) return NULL;
    int drop[MX_MAX_NDIM] = {0};
    if (n_axes == 0) {
        for (int i = 0; i < a->ndim; i++) drop[i] = a->shape[i] == 1;
    } else {
        for (int i = 0; i < n_axes; i++) {
            int ax = mx_norm_axis("squeeze", axes[i], a->ndim);
            if (ax < 0) return NULL;
            if (a->shape[ax] != 1) {
                mx_set_error("[squeeze] cannot squeeze axis %d of size %lld", axes[i], (long long)a->shape[ax]);
                return NULL;
            }
            drop[ax] = 1;
        }
    }
    int64_t shape[MX_MAX_NDIM];
    int n = 0;
    for (int i = 0; i < a->ndim; i++)
        if (!drop[i]) shape[n++] = a->shape[i];
    return mx_reshape(a, shape, n);
}

mx_array *mx_expand_dims(const mx_array *a, const int *axes, int n_axes) {
    if (!a) return NULL;
    int out_nd = a->ndim + n_axes;
    if (out_nd > MX_MAX_NDIM) {
        mx_set_error("[expand_dims] result would have %d dimensions; at most %d are supported", out_nd, MX_MAX_NDIM);
        return NULL;
    }
    int is_new[MX_MAX_NDIM] = {0};
    for (int i = 0; i < n_axes; i++) {
        int ax = mx_norm_axis("expand_dims", axes[i], out_nd);
        if (ax < 0) return NULL;
        if (is_new[ax]) {
            mx_set_error("[expand_dims] axis %d given twice", axes[i]);
            return NULL;
        }
        is_new[ax] = 1;
    }
    int64_t shape[MX_MAX_NDIM];
    for (int i = 0, j = 0; i < out_nd; i++) shape[i] = is_new[i] ? 1 : a->shape[j++];
    return mx_reshape(a, shape, out_nd);
}

mx_array *mx_transpose(const mx_array *a, const int *perm, int n) {
    if (!a) return NULL;
    mx_transpose_params p;
    memset(&p, 0, sizeof p);
    if (!perm) {
        for (int i = 0; i < a->ndim; i++) p.perm[i] = a->ndim - 1 - i;
    } else {
        if (n != a->ndim) {
            mx_set_error("[transpose] %d axes given for an array with %d dimensions", n, a->ndim);
            return NULL;
        }
        int seen[MX_MAX_NDIM] = {0};
        for (int i = 0; i < n; i++) {
            int ax = mx_norm_axis("transpose", perm[i], a->ndim);
            if (ax < 0) return NULL;
            if (seen[ax]) {
                mx_set_error("[transpose] axis %d repeated in the permutation", perm[i]);
                return NULL;
            }
            seen[ax] = 1;
            p.perm[i] = ax;
        }
    }
    int64_t shape[MX_MAX_NDIM];
    for (int i = 0; i < a->ndim; i++) shape[i] = a->shape[p.perm[i]];
    mx_array *in = (mx_array *)a;
    return mx_node_create1(MX_PRIM_TRANSPOSE, &p, sizeof p, &in, 1, a->dtype, shape, a->ndim);
}

mx_array *mx_swapaxes(const mx_array *a, int axis1, int axis2) {
    if (!a) return NULL;
    int x = mx_norm_axis("swapaxes", axis1, a->ndim), y = mx_norm_axis("swapaxes", axis2, a->ndim);
    if (x < 0 || y < 0) return NULL;
    int perm[MX_MAX_NDIM];
    for (int i = 0; i < a->ndim; i++) perm[i] = i;
    perm[x] = y;
    perm[y] = x;
    return mx_transpose(a, perm, a->ndim);
}

mx_array *mx_moveaxis(const mx_array *a, int source, int destination) {
    if (!a) return NULL;
    int s = mx_norm_axis("moveaxis", source, a->ndim), d = mx_norm_axis("moveaxis", destination, a->ndim);
    if (s < 0 || d < 0) return NULL;
    int rest[MX_MAX_NDIM], n = 0, perm[MX_MAX_NDIM];
    for (int i = 0; i < a->ndim; i++)
        if (i != s) rest[n++] = i;
    for (int i = 0, j = 0; i < a->ndim; i++) perm[i] = i == d ? s : rest[j++];
    return mx_transpose(a, perm, a->ndim);
}

mx_array *mx_broadcast_to(const mx_array *a, const int64_t *shape, int ndim) {
    if (!a) return NULL;
    if (ndim < a->ndim || ndim > MX_MAX_NDIM) {
        mx_set_error("[broadcast_to] cannot broadcast shape %s to %s", MX_FMT_SHAPE(a->shape, a->ndim),
                     MX_FMT_SHAPE(shape, ndim));
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        int j = i - (ndim - a->ndim);
        if (j >= 0 && a->shape[j] != 1 && a->shape[j] != shape[i]) {
            mx_set_error("[broadcast_to] cannot broadcast shape %s to %s", MX_FMT_SHAPE(a->shape, a->ndim),
                         MX_FMT_SHAPE(shape, ndim));
            return NULL;
        }
        if (shape[i] < 0) {
            mx_set_error("[broadcast_to] negative dimension in %s", MX_FMT_SHAPE(shape, ndim));
            return NULL;
        }
    }
    mx_array *in = (mx_array *)a;
    return mx_node_create1(MX_PRIM_BROADCAST, NULL, 0, &in, 1, a->dtype, shape, ndim);
}

int mx_broadcast_arrays(const mx_array *const *in, int n, mx_array **outs) {
    int64_t shape[MX_MAX_NDIM];
    int nd = 0;
    for (int i = 0; i < n; i++) {
        if (!in[i]) return -1;
        if (mx_broadcast_shapes("broadcast_arrays", shape, nd, in[i]->shape, in[i]->ndim, shape, &nd)) return -1;
    }
    for (int i = 0; i < n; i++) {
        outs[i] = mx_broadcast_to(in[i], shape, nd);
        if (!outs[i]) return -1;
    }
    return 0;
}

/* Python slice semantics for one axis: normalised start, and the element count. */
static int64_t slice_axis(int64_t dim, int64_t start, int64_t stop, int64_t step, int64_t *first) {
    if (step > 0) {
        if (start < 0) start += dim;
        if (stop < 0) stop += dim;
        start = start < 0 ? 0 : start > dim ? dim : start;
        stop = stop < 0 ? 0 : stop > dim ? dim : stop;
        *first = start;
        return stop > start ? (stop - start + step - 1) / step : 0;
    }
    if (start < 0) start += dim;
    if (stop < 0) stop += dim;
    start = start < -1 ? -1 : start > dim - 1 ? dim - 1 : start;
    stop = stop < -1 ? -1 : stop > dim - 1 ? dim - 1 : stop;
    *first = start;
    return start > stop ? (start - stop + (-step) - 1) / (-step) : 0;
}

/* Shared by slice and slice_update: the normalised params and the slice's shape. */
int mx_slice_plan(const char *op, const mx_array *a, const int64_t *start, const int64_t *stop,
                  const int64_t *step, int n, mx_slice_params *p, int64_t *shape) {
    if (n != a->ndim)
        return mx_set_error("[%s] %d slice bounds given for an array with %d dimensions", op, n, a->ndim);
    memset(p, 0, sizeof *p);
    for (int i = 0; i < n; i++) {
        int64_t st = step ? step[i] : 1;
        if (st == 0) return mx_set_error("[%s] slice step of axis %d is 0", op, i);
        int64_t first;
        shape[i] = slice_axis(a->shape[i], start[i], stop[i], st, &first);
        p->start[i] = shape[i] ? first : 0;
        p->step[i] = st;
    }
    return 0;
}

mx_array *mx_slice(const mx_array *a, const int64_t *start, const int64_t *stop, const int64_t *step, int n) {
    if (!a) return NULL;
    mx_slice_params p;
    int64_t shape[MX_MAX_NDIM];
    if (mx_slice_plan("slice", a, start, stop, step, n, &p, shape)) return NULL;
    mx_array *in = (mx_array *)a;
    return mx_node_create1(MX_PRIM_SLICE, &p, sizeof p, &in, 1, a->dtype, shape, a->ndim);
}

mx_array *mx_slice_axis(const mx_array *a, int axis, int64_t start, int64_t stop) {
    if (!a) return NULL;
    int ax = mx_norm_axis("slice", axis, a->ndim);
    if (ax < 0) return NULL;
    int64_t st[MX_MAX_NDIM], sp[MX_MAX_NDIM];
    for (int i = 0; i < a->ndim; i++) {
        st[i] = 0;
        sp[i] = a->shape[i];
    }
    st[ax] = start;
    sp[ax] = stop;
    return mx_slice(a, st, sp, NULL, a->ndim);
}
