/* RoPE from basic ops (MLX's fallback), computed in float32 (float64 for float64 x):
 * angles (t + offset) * scale * inv_freq[i], rotate (x1, x2) -> (x1 c - x2 s, x1 s + x2 c)
 * over halves or adjacent pairs, features past `dims` unchanged. */
#include <math.h>

#include "cmlx/fast.h"
#include "cmlx/ops.h"
#include "core/array_impl.h"
#include "ops/ops_util.h"

/* x[..., start:stop:step] */
static mx_array *last_axis_slice(const mx_array *x, int64_t start, int64_t stop, int64_t step) {
    if (!x) return NULL;
    int64_t b[MX_MAX_NDIM], e[MX_MAX_NDIM], s[MX_MAX_NDIM];
    for (int i = 0; i < x->ndim; i++) b[i] = 0, e[i] = x->shape[i], s[i] = 1;
    b[x->ndim - 1] = start;
    e[x->ndim - 1] = stop;
    s[x->ndim - 1] = step;
    return mx_slice(x, b, e, s, x->ndim);
}

mx_array *mx_fast_rope_fallback(const mx_array *x, int dims, int traditional, float base, float scale,
                                const mx_array *offset, const mx_array *freqs) {
    if (!x || !offset) return NULL;
    if (x->ndim < 3 || dims <= 0 || dims % 2 || dims > x->shape[x->ndim - 1]) {
        mx_set_error("[rope] x %s must have at least 3 dimensions and dims (%d) must be even, positive and at most "
                     "its last axis", MX_SHAPE_STR(x), dims);
        return NULL;
    }
    mx_dtype ct = x->dtype == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32;
    int64_t nd = x->ndim, T = x->shape[nd - 2], D = x->shape[nd - 1], B = x->shape[0], half = dims / 2;
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    /* [B, N, T, D] */
    mx_array *xf = mx_reshape(mx_astype(x, ct), (int64_t[]){B, -1, T, D}, 4);
    mx_array *pos = mx_arange(0, (double)T, 1, ct);
    mx_array *off = mx_astype(offset, ct);
    if (offset->size > 1) off = mx_reshape(off, (int64_t[]){B, 1, 1}, 3);   /* positions [B, 1, T] */
    pos = mx_multiply_scalar(mx_add(pos, off), scale);
    mx_array *inv;
    if (freqs) inv = mx_reciprocal(mx_astype(freqs, ct));
    else inv = mx_exp(mx_multiply_scalar(mx_arange(0, (double)-half, -1, ct), log((double)base) / (double)half));
    mx_array *theta = mx_multiply(mx_expand_dims(pos, (int[]){-1}, 1), inv);   /* [.., T, half] */
    mx_array *c = mx_cos(theta), *s = mx_sin(theta);
    mx_array *x1, *x2;
    if (traditional) {
        x1 = last_axis_slice(xf, 0, dims, 2);
        x2 = last_axis_slice(xf, 1, dims, 2);
    } else {
        x1 = last_axis_slice(xf, 0, half, 1);
        x2 = last_axis_slice(xf, half, dims, 1);
    }
    mx_array *o1 = mx_subtract(mx_multiply(x1, c), mx_multiply(x2, s));
    mx_array *o2 = mx_add(mx_multiply(x1, s), mx_multiply(x2, c));
    mx_array *rot;
    if (traditional) {
        mx_array *pair[2] = {o1, o2};
        mx_array *st = mx_stack((const mx_array *const *)pair, 2, -1);    /* [.., half, 2] */
        rot = st ? mx_reshape(st, (int64_t[]){B, xf ? xf->shape[1] : 1, T, dims}, 4) : NULL;
    } else {
        mx_array *pair[2] = {o1, o2};
        rot = mx_concatenate((const mx_array *const *)pair, 2, -1);
    }
    if (rot && dims < D) {
        mx_array *parts[2] = {rot, last_axis_slice(xf, dims, D, 1)};
        rot = mx_concatenate((const mx_array *const *)parts, 2, -1);
    }
    mx_array *r = mx_astype(mx_reshape(rot, x->shape, x->ndim), x->dtype);
    return mx_composite_end(p, r);
}
