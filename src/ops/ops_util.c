#include "ops/ops_util.h"

#include <stdio.h>

int mx_norm_axis(const char *op, int axis, int ndim) {
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim) {
        mx_set_error("[%s] axis %d is out of bounds for an array with %d dimensions", op, axis, ndim);
        return -1;
    }
    return a;
}

int mx_norm_axes(const char *op, const int *axes, int n_axes, int ndim, int *out) {
    if (!axes || n_axes == 0) {
        if (axes && n_axes == 0) return 0;
        for (int i = 0; i < ndim; i++) out[i] = i;
        return ndim;
    }
    int seen[MX_MAX_NDIM] = {0}, n = 0;
    for (int i = 0; i < n_axes; i++) {
        int a = mx_norm_axis(op, axes[i], ndim);
        if (a < 0) return -1;
        if (seen[a]) {
            mx_set_error("[%s] axis %d given twice", op, axes[i]);
            return -1;
        }
        seen[a] = 1;
    }
    for (int i = 0; i < ndim; i++)
        if (seen[i]) out[n++] = i;
    return n;
}

const char *mx_fmt_shape(const int64_t *shape, int ndim, char *buf, size_t len) {
    size_t o = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (o < len) snprintf(buf + o, len - o, ndim == 1 ? ",)" : ")");
    return buf;
}

int mx_broadcast_shapes(const char *op, const int64_t *a, int an, const int64_t *b, int bn,
                        int64_t *out, int *out_n) {
    int n = an > bn ? an : bn;
    for (int i = 0; i < n; i++) {
        int ia = an - n + i, ib = bn - n + i;
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return mx_set_error("[%s] shapes %s and %s cannot be broadcast", op, MX_FMT_SHAPE(a, an),
                                MX_FMT_SHAPE(b, bn));
        out[i] = da == 1 ? db : da;
    }
    *out_n = n;
    return 0;
}

mx_array *mx_composite_end(mx_pool *p, mx_array *result) { return mx_pool_end_keep(p, result); }
