/* mx_fast_scaled_dot_product_attention: validation (as MLX's fast.cpp) and the fused SDPA
 * node. The mask is handed to the kernel as a broadcast view [B, Hq, Lq, Lk] (no copy).
 * float64 goes through the fallback. */
#include "cmlx/fast.h"
#include "cmlx/ops.h"
#include "core/array_impl.h"
#include "fast/sdpa.h"
#include "ops/ops_util.h"

int mx_fast_sdpa_check(const mx_array *q, const mx_array *k, const mx_array *v, mx_sdpa_mask mode,
                       const mx_array *mask, const mx_array *sinks) {
    const char *op = "scaled_dot_product_attention";
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4) {
        mx_set_error("[%s] q, k, v must be 4-D [B, H, L, D], got %s, %s, %s", op, MX_SHAPE_STR(q), MX_SHAPE_STR(k),
                     MX_SHAPE_STR(v));
        return -1;
    }
    if (k->shape[0] != q->shape[0] || v->shape[0] != q->shape[0] || q->shape[3] != k->shape[3] ||
        k->shape[1] != v->shape[1] || k->shape[2] != v->shape[2] || k->shape[1] == 0 ||
        q->shape[1] % k->shape[1] != 0) {
        mx_set_error("[%s] incompatible shapes q %s, k %s, v %s: need equal batch, q and k head_dim equal, k and v "
                     "heads and lengths equal, q heads a multiple of kv heads", op, MX_SHAPE_STR(q), MX_SHAPE_STR(k),
                     MX_SHAPE_STR(v));
        return -1;
    }
    mx_dtype t = mx_promote_types(mx_promote_types(q->dtype, k->dtype), v->dtype);
    if (!mx_dtype_is_float(t)) {
        mx_set_error("[%s] needs floating q, k, v, got %s, %s, %s", op, MX_SHAPE_STR(q), MX_SHAPE_STR(k),
                     MX_SHAPE_STR(v));
        return -1;
    }
    if (mode != MX_SDPA_NO_MASK && mode != MX_SDPA_CAUSAL && mode != MX_SDPA_ARRAY) {
        mx_set_error("[%s] invalid mask mode %d", op, (int)mode);
        return -1;
    }
    if (mode == MX_SDPA_CAUSAL && mask) {
        mx_set_error("[%s] a causal mask takes no mask array (got %s)", op, MX_SHAPE_STR(mask));
        return -1;
    }
    if (mask) {
        int64_t full[4] = {q->shape[0], q->shape[1], q->shape[2], k->shape[2]}, bs[MX_MAX_NDIM];
        int bn;
        if (mask->ndim > 4 || mx_broadcast_shapes(op, mask->shape, mask->ndim, full, 4, bs, &bn) || bn != 4 ||
            bs[0] != full[0] || bs[1] != full[1] || bs[2] != full[2] || bs[3] != full[3]) {
            mx_set_error("[%s] mask %s does not broadcast to [B, Hq, Lq, Lk] = %s", op, MX_SHAPE_STR(mask),
                         MX_FMT_SHAPE(full, 4));
            return -1;
        }
        if (mask->dtype != MX_BOOL && mx_promote_types(mask->dtype, t) != t) {
            mx_set_error("[%s] an additive mask must promote to the result dtype %s, got %s", op, mx_dtype_name(t),
                         MX_SHAPE_STR(mask));
            return -1;
        }
    }
    if (sinks && (sinks->ndim != 1 || sinks->shape[0] != q->shape[1] || mx_promote_types(sinks->dtype, t) != t)) {
        mx_set_error("[%s] sinks must be [Hq] = [%lld] of a dtype promoting to %s, got %s", op,
                     (long long)q->shape[1], mx_dtype_name(t), MX_SHAPE_STR(sinks));
        return -1;
    }
    return (int)t;
}

mx_array *mx_fast_scaled_dot_product_attention(const mx_array *q, const mx_array *k, const mx_array *v,
                                               float scale, mx_sdpa_mask mask_mode, const mx_array *mask,
                                               const mx_array *sinks) {
    if (!q || !k || !v || (mask_mode == MX_SDPA_ARRAY && !mask)) return NULL;
    int t = mx_fast_sdpa_check(q, k, v, mask_mode, mask, sinks);
    if (t < 0) return NULL;
    if (t == MX_FLOAT64) return mx_fast_sdpa_fallback(q, k, v, scale, mask_mode, mask, sinks);
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *in[5];
    int n = 0;
    in[n++] = (mx_array *)q;
    in[n++] = (mx_array *)k;
    in[n++] = (mx_array *)v;
    if (mask) in[n++] = mx_broadcast_to(mask, (int64_t[]){q->shape[0], q->shape[1], q->shape[2], k->shape[2]}, 4);
    if (sinks) in[n++] = (mx_array *)sinks;
    mx_array *r = NULL;
    if (!mask || in[3]) {
        mx_sdpa_params prm = {scale, mask ? MX_SDPA_ARRAY : (int)mask_mode, sinks != NULL};
        r = mx_node_create1(MX_PRIM_SDPA, &prm, sizeof prm, in, n, (mx_dtype)t,
                            (int64_t[]){q->shape[0], q->shape[1], q->shape[2], v->shape[3]}, 4);
    }
    return mx_composite_end(p, r);
}
