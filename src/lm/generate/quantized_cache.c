/* The quantized KV cache (mlx-lm's QuantizedKVCache): keys and values are stored as
 * affine-quantized triples (packed uint32 words, scales, biases along the head dimension),
 * grown in steps of 256 positions and written in place, and attention runs directly on the
 * triples through quantized_matmul (mlx-lm's quantized_scaled_dot_product_attention), so
 * the history is never dequantized as a whole. */
#include <float.h>

#include "cmlx/fast.h"
#include "cmlx/ops.h"
#include "cmlx/quant.h"
#include "lm/generate/cache_impl.h"

/* Appends n zero positions to a triple (or creates it with n positions). */
static int grow_triple(mx_array **tr, const int64_t *shape3, const int64_t *last, const mx_dtype *dt, int64_t keep_prev) {
    for (int j = 0; j < 3; j++) {
        mx_array *z = mx_zeros((int64_t[]){shape3[0], shape3[1], shape3[2], last[j]}, 4, dt[j]);
        if (tr[j] && keep_prev > 0) {
            mx_array *old = mx_slice_axis(tr[j], 2, 0, keep_prev);
            z = mx_concatenate((const mx_array *[]){old, z}, 2, 2);
        }
        if (!z) return -1;
        lm_cache_store(&tr[j], z);
    }
    return 0;
}

static int quantize_triple(const mx_array *x, int group_size, int bits, mx_array **out) {
    return mx_quantize(x, group_size, bits, MX_QUANT_AFFINE, &out[0], &out[1], &out[2]);
}

int lm_quantized_update(lm_layer_cache *c, const mx_array *k, const mx_array *v, mx_array **k_all, mx_array **v_all) {
    const int64_t *ks = mx_shape(k), *vs = mx_shape(v);
    int64_t t = ks[2], prev = c->offset;
    if (ks[3] % c->group_size || vs[3] % c->group_size)
        return mx_set_error("[cache] cannot quantize keys/values of head dimension %lld/%lld with group size %d",
                            (long long)ks[3], (long long)vs[3], c->group_size);
    if (!c->qkeys[0] || prev + t > c->capacity) {
        int64_t grow = (t + LM_CACHE_STEP - 1) / LM_CACHE_STEP * LM_CACHE_STEP;
        mx_dtype dt_k[3] = {MX_UINT32, mx_array_dtype(k), mx_array_dtype(k)};
        mx_dtype dt_v[3] = {MX_UINT32, mx_array_dtype(v), mx_array_dtype(v)};
        if (c->qkeys[1]) dt_k[1] = dt_k[2] = dt_v[1] = dt_v[2] = mx_array_dtype(c->qkeys[1]);
        /* words per row: the packed bit stream of D values of `bits` bits */
        int64_t lk[3] = {ks[3] * c->bits / 32, ks[3] / c->group_size, ks[3] / c->group_size};
        int64_t lv[3] = {vs[3] * c->bits / 32, vs[3] / c->group_size, vs[3] / c->group_size};
        if (grow_triple(c->qkeys, (int64_t[]){ks[0], ks[1], grow}, lk, dt_k, prev) ||
            grow_triple(c->qvalues, (int64_t[]){vs[0], vs[1], grow}, lv, dt_v, prev))
            return -1;
        c->capacity = prev + grow;
    }
    mx_array *nk[3], *nv[3];
    if (quantize_triple(k, c->group_size, c->bits, nk) || quantize_triple(v, c->group_size, c->bits, nv)) return -1;
    for (int j = 0; j < 3; j++) {
        mx_array **slots[2] = {&c->qkeys[j], &c->qvalues[j]};
        mx_array *upd[2] = {nk[j], nv[j]};
        for (int s = 0; s < 2; s++) {
            mx_array *buf = *slots[s];
            const int64_t *bs = mx_shape(buf);
            int64_t st[4] = {0, 0, prev, 0}, sp[4] = {bs[0], bs[1], prev + t, bs[3]};
            mx_array *u = mx_slice_update(buf, upd[s], st, sp, NULL, 4);
            if (!u) return -1;
            lm_cache_store(slots[s], u);
        }
    }
    c->offset = prev + t;
    for (int j = 0; j < 3; j++) {
        k_all[j] = mx_slice_axis(c->qkeys[j], 2, 0, c->offset);
        v_all[j] = mx_slice_axis(c->qvalues[j], 2, 0, c->offset);
        if (!k_all[j] || !v_all[j]) return -1;
    }
    return 0;
}

int lm_layer_cache_quantize(lm_layer_cache *c, int bits, int group_size) {
    if (c->kind != LM_CACHE_STANDARD) return mx_set_error("[cache] only standard KV caches can be quantized");
    mx_pool *pool = mx_pool_begin();
    if (!pool) return -1;
    int rc = -1;
    mx_array *qk[3] = {0}, *qv[3] = {0};
    if (c->keys && c->offset > 0) {
        mx_array *k = mx_slice_axis(c->keys, 2, 0, c->offset), *v = mx_slice_axis(c->values, 2, 0, c->offset);
        if (!k || !v || quantize_triple(k, group_size, bits, qk) || quantize_triple(v, group_size, bits, qv)) goto out;
    }
    lm_layer_cache_clear(c);
    for (int j = 0; j < 3; j++) {
        lm_cache_store(&c->qkeys[j], qk[j]);
        lm_cache_store(&c->qvalues[j], qv[j]);
    }
    c->capacity = qk[0] ? c->offset : 0;
    c->kind = LM_CACHE_QUANTIZED;
    c->bits = bits;
    c->group_size = group_size;
    rc = 0;
out:
    mx_pool_end(pool);
    return rc;
}

/* mx.finfo(dtype).min: the most negative finite value (a masked score). */
static double finfo_min(mx_dtype t) {
    switch (t) {
    case MX_FLOAT16: return -65504.0;
    case MX_BFLOAT16: return -3.3895313892515355e38;
    default: return -(double)FLT_MAX;
    }
}

mx_array *lm_quantized_sdpa(const mx_array *q, mx_array *const *k, mx_array *const *v, float scale, int mode,
                            const mx_array *mask, int group_size, int bits) {
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    const int64_t *qs = mx_shape(q);
    int64_t b = qs[0], hq = qs[1], l = qs[2], d = qs[3], hkv = mx_dim(k[0], 1);
    int64_t reps = hq / hkv;
    mx_array *qq = mx_multiply_scalar(q, scale);
    mx_array *kk[3] = {k[0], k[1], k[2]}, *vv[3] = {v[0], v[1], v[2]};
    if (reps > 1) {
        /* grouped-query attention without repeating keys: queries [B, Hkv, reps, L, D] */
        qq = mx_reshape(qq, (int64_t[]){b, hkv, reps, l, d}, 5);
        for (int j = 0; j < 3; j++) {
            kk[j] = mx_expand_dims(k[j], (int[]){-3}, 1);
            vv[j] = mx_expand_dims(v[j], (int[]){-3}, 1);
        }
    }
    mx_array *scores = mx_quantized_matmul(qq, kk[0], kk[1], kk[2], 1, group_size, bits, MX_QUANT_AFFINE);
    if (scores && mode != MX_SDPA_NO_MASK) {
        int64_t kl = mx_dim(scores, -1);
        const mx_array *m = mask;
        if (mode == MX_SDPA_CAUSAL) m = lm_causal_mask(l, kl - l, 0);
        mx_dtype st = mx_array_dtype(scores);
        scores = mx_where(m, scores, mx_scalar(finfo_min(st), st));
    }
    scores = mx_softmax(scores, (int[]){-1}, 1, 1);
    mx_array *out = mx_quantized_matmul(scores, vv[0], vv[1], vv[2], 0, group_size, bits, MX_QUANT_AFFINE);
    if (reps > 1) out = mx_reshape(out, (int64_t[]){b, hq, l, mx_dim(out, -1)}, 4);
    return mx_pool_end_keep(pool, out);
}
