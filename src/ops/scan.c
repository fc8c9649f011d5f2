/* Scan op builders: cumsum, cumprod, cummax, cummin along one axis (MLX's rules: the
 * result keeps the input dtype, except cumsum of bool, which counts in int32). */
#include <string.h>

#include "cmlx/ops.h"
#include "core/array_impl.h"
#include "ops/scan.h"

static mx_array *scan(const char *name, int op, const mx_array *a, int axis, int reverse, int inclusive) {
    if (!a) return NULL;
    int ax = axis < 0 ? axis + a->ndim : axis;
    if (ax < 0 || ax >= a->ndim) {
        mx_set_error("[%s] axis %d is out of bounds for an array of shape %s (%d dimensions)", name, axis,
                     MX_SHAPE_STR(a), a->ndim);
        return NULL;
    }
    mx_dtype out = op == MX_SCAN_SUM && a->dtype == MX_BOOL ? MX_INT32 : a->dtype;
    mx_scan_params p;
    memset(&p, 0, sizeof p);
    p.op = op;
    p.axis = ax;
    p.reverse = reverse != 0;
    p.inclusive = inclusive != 0;
    mx_array *in = (mx_array *)a;
    return mx_node_create1(MX_PRIM_SCAN, &p, sizeof p, &in, 1, out, a->shape, a->ndim);
}

mx_array *mx_cumsum(const mx_array *a, int axis, int reverse, int inclusive) {
    return scan("cumsum", MX_SCAN_SUM, a, axis, reverse, inclusive);
}

mx_array *mx_cumprod(const mx_array *a, int axis, int reverse, int inclusive) {
    return scan("cumprod", MX_SCAN_PROD, a, axis, reverse, inclusive);
}

mx_array *mx_cummax(const mx_array *a, int axis, int reverse, int inclusive) {
    return scan("cummax", MX_SCAN_MAX, a, axis, reverse, inclusive);
}

mx_array *mx_cummin(const mx_array *a, int axis, int reverse, int inclusive) {
    return scan("cummin", MX_SCAN_MIN, a, axis, reverse, inclusive);
}
