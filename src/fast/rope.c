/* mx_fast_rope / mx_fast_rope_dynamic: validation (as MLX) and the fused ROPE node.
 * float64 goes through the fallback. */
#include "cmlx/fast.h"
#include "cmlx/ops.h"
#include "core/array_impl.h"
#include "fast/rope.h"
#include "ops/ops_util.h"

/* Checks everything but the offset's value; 0 or -1. */
static int check_rope(const mx_array *x, int dims, const mx_array *offset, const mx_array *freqs) {
    if (x->ndim < 3) {
        mx_set_error("[rope] x must have at least 3 dimensions ([B, ..., T, D]), got %s", MX_SHAPE_STR(x));
        return -1;
    }
    if (!mx_dtype_is_float(x->dtype)) {
        mx_set_error("[rope] x must be floating, got %s", MX_SHAPE_STR(x));
        return -1;
    }
    int64_t d = x->shape[x->ndim - 1];
    if (dims <= 0 || dims % 2 || dims > d) {
        mx_set_error("[rope] dims must be even, positive and at most the last axis of x %s, got %d", MX_SHAPE_STR(x),
                     dims);
        return -1;
    }
    if (offset->ndim > 1 || (offset->size != 1 && offset->size != x->shape[0]) ||
        !mx_dtype_is_integer(offset->dtype)) {
        mx_set_error("[rope] offset must be an integer scalar or have one element per batch entry (%lld) of x %s, "
                     "got %s", (long long)x->shape[0], MX_SHAPE_STR(x), MX_SHAPE_STR(offset));
        return -1;
    }
    if (freqs && (freqs->ndim != 1 || freqs->shape[0] != dims / 2 || !mx_dtype_is_float(freqs->dtype))) {
        mx_set_error("[rope] freqs must be floating of shape [%d] (dims / 2), got %s", dims / 2, MX_SHAPE_STR(freqs));
        return -1;
    }
    return 0;
}

mx_array *mx_fast_rope_dynamic(const mx_array *x, int dims, int traditional, float base, float scale,
                               const mx_array *offset, const mx_array *freqs) {
    if (!x || !offset) return NULL;
    if (check_rope(x, dims, offset, freqs)) return NULL;
    if (x->dtype == MX_FLOAT64) return mx_fast_rope_fallback(x, dims, traditional, base, scale, offset, freqs);
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *in[3];
    in[0] = (mx_array *)x;
    in[1] = mx_reshape(offset->dtype == MX_INT32 ? offset : mx_astype(offset, MX_INT32), (int64_t[]){offset->size}, 1);
    in[2] = freqs ? mx_astype(freqs, MX_FLOAT32) : NULL;
    mx_array *r = NULL;
    if (in[1] && (!freqs || in[2])) {
        mx_rope_params prm = {dims, traditional != 0, freqs ? 1.0f : base, scale, freqs != NULL};
        r = mx_node_create1(MX_PRIM_ROPE, &prm, sizeof prm, in, freqs ? 3 : 2, x->dtype, x->shape, x->ndim);
    }
    return mx_composite_end(p, r);
}

mx_array *mx_fast_rope(const mx_array *x, int dims, int traditional, float base, float scale, int64_t offset,
                       const mx_array *freqs) {
    if (!x) return NULL;
    if (offset < INT32_MIN || offset > INT32_MAX) {
        mx_set_error("[rope] offset %lld does not fit in int32", (long long)offset);
        return NULL;
    }
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *r = mx_fast_rope_dynamic(x, dims, traditional, base, scale, mx_scalar_int(offset, MX_INT32), freqs);
    return mx_composite_end(p, r);
}
