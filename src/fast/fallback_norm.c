/* The norms from basic ops (MLX's fallbacks): normalise in float32 (float64 stays
 * float64), convert to the result dtype, then apply weight and bias in that dtype. */
#include "cmlx/fast.h"
#include "cmlx/ops.h"
#include "core/array_impl.h"
#include "ops/ops_util.h"

static mx_dtype compute_type(mx_dtype t) { return t == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32; }

static mx_dtype result_type(const mx_array *x, const mx_array *w, const mx_array *b) {
    mx_dtype t = x->dtype;
    if (w) t = mx_promote_types(t, w->dtype);
    if (b) t = mx_promote_types(t, b->dtype);
    return t;
}

mx_array *mx_fast_rms_norm_fallback(const mx_array *x, const mx_array *weight, float eps) {
    if (!x) return NULL;
    mx_dtype t = result_type(x, weight, NULL);
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *xf = mx_astype(x, compute_type(t));
    mx_array *ms = mx_mean(mx_square(xf), (int[]){-1}, 1, 1);
    mx_array *y = mx_astype(mx_multiply(xf, mx_rsqrt(mx_add_scalar(ms, eps))), t);
    if (weight) y = mx_multiply(y, mx_astype(weight, t));
    return mx_composite_end(p, y);
}

mx_array *mx_fast_layer_norm_fallback(const mx_array *x, const mx_array *weight, const mx_array *bias, float eps) {
    if (!x) return NULL;
    mx_dtype t = result_type(x, weight, bias);
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *xf = mx_astype(x, compute_type(t));
    mx_array *xc = mx_subtract(xf, mx_mean(xf, (int[]){-1}, 1, 1));
    mx_array *var = mx_mean(mx_square(xc), (int[]){-1}, 1, 1);
    mx_array *y = mx_astype(mx_multiply(xc, mx_rsqrt(mx_add_scalar(var, eps))), t);
    if (weight) y = mx_multiply(y, mx_astype(weight, t));
    if (bias) y = mx_add(y, mx_astype(bias, t));
    return mx_composite_end(p, y);
}
