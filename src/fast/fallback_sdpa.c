/* Attention from basic ops (MLX's fallback), computed in float32 (float64 for float64):
 * scores = (q * scale) k^T per kv group without repeating k/v (q viewed as
 * [B, Hkv, Hq/Hkv, Lq, D]); a causal or boolean mask replaces dropped scores by the
 * dtype's lowest finite value, an additive mask is added; sinks join as a leading column
 * of the softmax and are sliced off; then softmax(scores) v. */
#include <float.h>

#include "cmlx/fast.h"
#include "cmlx/ops.h"
#include "core/array_impl.h"
#include "fast/sdpa.h"
#include "ops/ops_util.h"

mx_array *mx_fast_sdpa_fallback(const mx_array *q, const mx_array *k, const mx_array *v, float scale,
                                mx_sdpa_mask mask_mode, const mx_array *mask, const mx_array *sinks) {
    if (!q || !k || !v || (mask_mode == MX_SDPA_ARRAY && !mask)) return NULL;
    int t = mx_fast_sdpa_check(q, k, v, mask_mode, mask, sinks);
    if (t < 0) return NULL;
    mx_dtype ct = t == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32;
    double lowest = ct == MX_FLOAT64 ? -DBL_MAX : -FLT_MAX;
    int64_t B = q->shape[0], Hq = q->shape[1], Lq = q->shape[2], Hkv = k->shape[1], Lk = k->shape[2];
    int64_t rep = Hq / Hkv;
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *qs = mx_multiply_scalar(mx_astype(q, ct), scale);
    mx_array *kf = mx_astype(k, ct), *vf = mx_astype(v, ct);
    qs = mx_reshape(qs, (int64_t[]){B, Hkv, rep, Lq, q->shape[3]}, 5);
    kf = mx_expand_dims(kf, (int[]){2}, 1);
    vf = mx_expand_dims(vf, (int[]){2}, 1);
    mx_array *scores = mx_matmul(qs, mx_swapaxes(kf, -1, -2));          /* [B, Hkv, rep, Lq, Lk] */
    mx_array *m = NULL;
    if (mask_mode == MX_SDPA_CAUSAL) {
        mx_array *qi = mx_reshape(mx_arange((double)(Lk - Lq), (double)Lk, 1, MX_INT32), (int64_t[]){Lq, 1}, 2);
        mx_array *ki = mx_reshape(mx_arange(0, (double)Lk, 1, MX_INT32), (int64_t[]){1, Lk}, 2);
        m = mx_greater_equal(qi, ki);
    } else if (mask) {
        m = mx_reshape(mx_broadcast_to(mask, (int64_t[]){B, Hq, Lq, Lk}, 4), (int64_t[]){B, Hkv, rep, Lq, Lk}, 5);
    }
    if (m) {
        if (m->dtype == MX_BOOL) scores = mx_where(m, scores, mx_scalar(lowest, ct));
        else scores = mx_add(scores, mx_astype(m, ct));
    }
    if (sinks) {
        mx_array *s = mx_reshape(mx_astype(sinks, ct), (int64_t[]){1, Hkv, rep, 1, 1}, 5);
        s = mx_broadcast_to(s, (int64_t[]){B, Hkv, rep, Lq, 1}, 5);
        mx_array *parts[2] = {s, scores};
        scores = mx_concatenate((const mx_array *const *)parts, 2, -1);
    }
    mx_array *probs = mx_softmax(scores, (int[]){-1}, 1, 1);
    if (sinks) probs = mx_slice_axis(probs, 4, 1, INT64_MAX);
    mx_array *out = mx_matmul(probs, vf);                                /* [B, Hkv, rep, Lq, Dv] */
    out = mx_astype(mx_reshape(out, (int64_t[]){B, Hq, Lq, v->shape[3]}, 4), (mx_dtype)t);
    return mx_composite_end(p, out);
}
