/* KV caches, private to src/lm. Three kinds, with mlx-lm's (models/cache.py) semantics:
 *  - standard (KVCache): buffers grown in steps of 256 positions, written in place;
 *  - rotating (RotatingKVCache): at most max_size positions, the first `keep` never
 *    evicted; used for sliding-window layers (max_size = window, keep 0) and for every
 *    other layer when lm_cache_options.max_kv_size > 0;
 *  - quantized (QuantizedKVCache): keys and values stored as affine-quantized triples
 *    (packed uint32, scales, biases); a standard layer becomes one once it holds
 *    quantized_kv_start positions (mlx-lm's maybe_quantize_kv_cache).
 * The model asks the layer's cache for the whole attention step (lm_layer_cache_attention):
 * the mask depends on the cache's layout and quantized caches attend through
 * quantized_matmul. */
#ifndef CMLX_LM_CACHE_IMPL_H
#define CMLX_LM_CACHE_IMPL_H

#include "cmlx/lm_model.h"

#define LM_CACHE_STEP 256

typedef enum lm_cache_kind { LM_CACHE_STANDARD = 0, LM_CACHE_ROTATING, LM_CACHE_QUANTIZED } lm_cache_kind;

typedef struct lm_layer_cache {
    lm_cache_kind kind;
    /* standard and rotating: [B, H, len, D] (kept references, NULL while empty).
     * standard: valid prefix [0, offset) of a buffer of `capacity` positions.
     * rotating: the whole buffer is valid once offset >= its length (mlx-lm's layout). */
    mx_array *keys, *values;
    /* quantized: {packed uint32 [B, H, capacity, D*bits/32], scales, biases [B, H, capacity, D/group]} */
    mx_array *qkeys[3], *qvalues[3];
    int64_t offset;              /* positions seen by this layer */
    int64_t capacity;            /* standard / quantized buffer length */
    /* rotating */
    int64_t max_size, keep, idx; /* idx: the next write position (mlx-lm's _idx) */
    /* quantized, and when a standard layer switches to it */
    int bits, group_size;
    int64_t quantized_start;     /* standard layers: quantize once offset >= this (bits > 0) */
} lm_layer_cache;

struct lm_cache {
    int n_layers;
    lm_layer_cache *layers;
    int64_t offset;              /* tokens seen (same for every layer) */
    lm_cache_options opt;
};

/* An empty cache of n layers, all standard; the caller sets each layer's kind. */
lm_cache *lm_cache_alloc(int n_layers, const lm_cache_options *opt);

/* The attention step of one layer (mlx-lm: make_mask, update_and_fetch, then
 * scaled_dot_product_attention): appends k, v ([B, Hkv, T, D], already rotated) to the
 * cache and attends q ([B, Hq, T, D]) over what the cache then holds, masked as the cache's
 * layout needs (causal, the sliding window `window` when > 0, the rotated order).
 * Returns [B, Hq, T, D] owned by the current pool, or NULL (error set). */
mx_array *lm_layer_cache_attention(lm_layer_cache *c, const mx_array *q, const mx_array *k, const mx_array *v,
                                   float scale, int64_t window);

/* mlx-lm's create_causal_mask(N, offset, window_size): bool [n, offset + n], query i (at
 * position offset + i) sees key j when j <= offset + i and (window <= 0 or offset + i < j + window). */
mx_array *lm_causal_mask(int64_t n, int64_t offset, int64_t window);

/* ---- per kind (kv_cache.c, rotating_cache.c, quantized_cache.c) ---- */
/* Appends and returns views of the keys / values to attend over (pool-owned). 0 or -1. */
int lm_standard_update(lm_layer_cache *c, const mx_array *k, const mx_array *v, mx_array **k_all, mx_array **v_all);
int lm_rotating_update(lm_layer_cache *c, const mx_array *k, const mx_array *v, mx_array **k_all, mx_array **v_all);
/* The rotating cache's mask for n new queries (computed before the update, as mlx-lm does):
 * *mode receives MX_SDPA_NO_MASK / MX_SDPA_CAUSAL / MX_SDPA_ARRAY (then the mask is returned). */
mx_array *lm_rotating_mask(const lm_layer_cache *c, int64_t n, int64_t window, int *mode);
/* Appends to a quantized layer; k_all / v_all receive 3 pool-owned arrays each. */
int lm_quantized_update(lm_layer_cache *c, const mx_array *k, const mx_array *v, mx_array **k_all, mx_array **v_all);
/* mlx-lm's quantized_scaled_dot_product_attention; mask as lm_rotating_mask's mode. */
mx_array *lm_quantized_sdpa(const mx_array *q, mx_array *const *k, mx_array *const *v, float scale, int mode,
                            const mx_array *mask, int group_size, int bits);
/* KVCache.to_quantized: turns a standard layer into a quantized one in place. 0 or -1. */
int lm_layer_cache_quantize(lm_layer_cache *c, int bits, int group_size);

/* Releases the layer's arrays (leaves it empty, kind unchanged). */
void lm_layer_cache_clear(lm_layer_cache *c);
/* Replaces *slot (a kept reference or NULL) with a kept reference to a (may be NULL). */
void lm_cache_store(mx_array **slot, mx_array *a);

/* mlx-lm's class name of a layer's cache: "KVCache", "RotatingKVCache", "QuantizedKVCache". */
const char *lm_layer_cache_class(const lm_layer_cache *c);

#endif
