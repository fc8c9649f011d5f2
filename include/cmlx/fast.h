/* Fused ops (mirrors mlx.core.fast). Each has a fallback built from basic ops with the same
 * semantics; the tests compare the fused kernels with it. Computation is in float32 for
 * 16-bit and float32 inputs; float64 inputs take the fallback, computed in float64. The
 * result dtype is the promotion of the floating inputs (x with weight/bias; q, k, v), as
 * in MLX, which is the input's dtype when they agree. */
#ifndef CMLX_FAST_H
#define CMLX_FAST_H

#include "cmlx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x * rsqrt(mean(x^2, -1) + eps) * weight over the last axis; x has at least 1 dimension,
 * weight is [D] or NULL. */
mx_array *mx_fast_rms_norm(const mx_array *x, const mx_array *weight, float eps);
/* (x - mean) * rsqrt(var + eps) * weight + bias over the last axis; weight/bias may be NULL. */
mx_array *mx_fast_layer_norm(const mx_array *x, const mx_array *weight, const mx_array *bias, float eps);
/* Rotary embedding of the first `dims` features (even, <= D) of the last axis of
 * x [B, ..., T, D] (at least 3 dimensions, as MLX; positions along the second-to-last axis
 * start at `offset`, which must fit in int32); features past `dims` are unchanged.
 * traditional: rotate adjacent pairs (x0,x1); else the two halves. Frequencies:
 * base^(-2i/dims), or 1/freqs[i] when freqs ([dims/2]) is given (base ignored). Positions
 * are multiplied by scale. */
mx_array *mx_fast_rope(const mx_array *x, int dims, int traditional, float base, float scale, int64_t offset,
                       const mx_array *freqs);
/* Same with the offset as an integer array (converted to int32): a scalar / [1], or one
 * offset per batch element [B] (B = x's first axis). */
mx_array *mx_fast_rope_dynamic(const mx_array *x, int dims, int traditional, float base, float scale,
                               const mx_array *offset, const mx_array *freqs);

typedef enum mx_sdpa_mask {
    MX_SDPA_NO_MASK = 0,
    MX_SDPA_CAUSAL = 1,   /* query i may see keys j <= i + (Lk - Lq): aligned lower-right */
    MX_SDPA_ARRAY = 2,    /* `mask`: bool (true = keep) or additive, broadcastable to [B, Hq, Lq, Lk] */
} mx_sdpa_mask;

/* softmax(q k^T * scale + mask) v with q [B, Hq, Lq, D], k/v [B, Hkv, Lk, D(v)], Hq a multiple of
 * Hkv (grouped-query attention without repeating k/v). Softmax in float32. `sinks` ([Hq], may
 * be NULL): per-head logits that join the softmax's denominator (attention sinks, as gpt-oss
 * and MLX: an extra, unscaled score column whose probability is dropped). `mask` is used with
 * MX_SDPA_ARRAY (a mask given with MX_SDPA_NO_MASK counts as an array mask, as in MLX); an
 * additive mask's dtype must promote to the result dtype. Dropped scores (causal or false)
 * get the lowest finite float, as MLX's fallback: a query row that sees no key at all
 * averages every value (or gives 0 with a sink). */
mx_array *mx_fast_scaled_dot_product_attention(const mx_array *q, const mx_array *k, const mx_array *v,
                                               float scale, mx_sdpa_mask mask_mode, const mx_array *mask,
                                               const mx_array *sinks);

/* The fallbacks, built from basic ops (for tests and for back ends without a kernel). */
mx_array *mx_fast_rms_norm_fallback(const mx_array *x, const mx_array *weight, float eps);
mx_array *mx_fast_layer_norm_fallback(const mx_array *x, const mx_array *weight, const mx_array *bias, float eps);
mx_array *mx_fast_rope_fallback(const mx_array *x, int dims, int traditional, float base, float scale,
                                const mx_array *offset, const mx_array *freqs);
mx_array *mx_fast_sdpa_fallback(const mx_array *q, const mx_array *k, const mx_array *v, float scale,
                                mx_sdpa_mask mask_mode, const mx_array *mask, const mx_array *sinks);

#ifdef __cplusplus
}
#endif
#endif
