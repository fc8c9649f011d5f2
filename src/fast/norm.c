/* mx_fast_rms_norm and mx_fast_layer_norm: validation and the fused RMS_NORM / LAYER_NORM
 * nodes. float64 goes through the fallback (the kernels compute in float32). */
#include "cmlx/fast.h"
#include "core/array_impl.h"
#include "fast/norm.h"

/* weight/bias must be 1-D with the size of x's last axis. */
static int check_vector(const char *op, const char *what, const mx_array *x, const mx_array *w) {
    if (!w) return 0;
    if (w->ndim != 1 || w->shape[0] != x->shape[x->ndim - 1]) {
        mx_set_error("[%s] %s must be 1-D with %lld elements (the last axis of x %s), got %s", op, what,
                     (long long)x->shape[x->ndim - 1], MX_SHAPE_STR(x), MX_SHAPE_STR(w));
        return -1;
    }
    return 0;
}

/* The result dtype (x promoted with weight and bias, as MLX), or -1 when not floating. */
static int norm_dtype(const char *op, const mx_array *x, const mx_array *w, const mx_array *b) {
    if (x->ndim == 0) {
        mx_set_error("[%s] x must have at least 1 dimension, got %s", op, MX_SHAPE_STR(x));
        return -1;
    }
    mx_dtype t = x->dtype;
    if (w) t = mx_promote_types(t, w->dtype);
    if (b) t = mx_promote_types(t, b->dtype);
    if (!mx_dtype_is_float(t)) {
        mx_set_error("[%s] needs floating inputs, got x %s%s%s", op, MX_SHAPE_STR(x), w ? " and weight " : "",
                     w ? MX_SHAPE_STR(w) : "");
        return -1;
    }
    return (int)t;
}

mx_array *mx_fast_rms_norm(const mx_array *x, const mx_array *weight, float eps) {
    if (!x) return NULL;
    int t = norm_dtype("rms_norm", x, weight, NULL);
    if (t < 0 || check_vector("rms_norm", "weight", x, weight)) return NULL;
    if (t == MX_FLOAT64) return mx_fast_rms_norm_fallback(x, weight, eps);
    mx_norm_params p = {eps, weight != NULL, 0};
    mx_array *in[2] = {(mx_array *)x, (mx_array *)weight};
    return mx_node_create1(MX_PRIM_RMS_NORM, &p, sizeof p, in, weight ? 2 : 1, (mx_dtype)t, x->shape, x->ndim);
}

mx_array *mx_fast_layer_norm(const mx_array *x, const mx_array *weight, const mx_array *bias, float eps) {
    if (!x) return NULL;
    int t = norm_dtype("layer_norm", x, weight, bias);
    if (t < 0 || check_vector("layer_norm", "weight", x, weight) || check_vector("layer_norm", "bias", x, bias))
        return NULL;
    if (t == MX_FLOAT64) return mx_fast_layer_norm_fallback(x, weight, bias, eps);
    mx_norm_params p = {eps, weight != NULL, bias != NULL};
    mx_array *in[3];
    int n = 0;
    in[n++] = (mx_array *)x;
    if (weight) in[n++] = (mx_array *)weight;
    if (bias) in[n++] = (mx_array *)bias;
    return mx_node_create1(MX_PRIM_LAYER_NORM, &p, sizeof p, in, n, (mx_dtype)t, x->shape, x->ndim);
}
