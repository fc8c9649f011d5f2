/* The cache object (one layer cache per model layer, of the kind each layer needs), the
 * standard KV cache (mlx-lm's KVCache: buffers grown in steps of 256 positions and written
 * in place with slice_update, so a decode step copies one position, not the whole history)
 * and the attention step that dispatches on the layer's kind. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/fast.h"
#include "cmlx/ops.h"
#include "lm/generate/cache_impl.h"
#include "lm/models/model_impl.h"

lm_cache_options lm_cache_options_default(void) {
    lm_cache_options o;
    memset(&o, 0, sizeof o);
    o.kv_group_size = 64;
    o.keep = 4;  /* mlx-lm's make_prompt_cache: RotatingKVCache(max_size, keep=4) */
    return o;
}

void lm_cache_store(mx_array **slot, mx_array *a) {
    mx_array *old = *slot;
    *slot = a ? mx_keep(a) : NULL;
    mx_free(old);
}

lm_cache *lm_cache_alloc(int n_layers, const lm_cache_options *opt) {
    lm_cache *c = calloc(1, sizeof *c);
    if (c) c->layers = calloc(n_layers > 0 ? (size_t)n_layers : 1, sizeof *c->layers);
    if (!c || !c->layers) {
        free(c);
        mx_set_error("[cache] out of memory");
        return NULL;
    }
    c->n_layers = n_layers;
    c->opt = opt ? *opt : lm_cache_options_default();
    if (c->opt.kv_group_size <= 0) c->opt.kv_group_size = 64;
    for (int i = 0; i < n_layers; i++) {
        c->layers[i].bits = c->opt.kv_bits;
        c->layers[i].group_size = c->opt.kv_group_size;
        c->layers[i].quantized_start = c->opt.quantized_kv_start;
    }
    return c;
}

lm_cache *lm_cache_new(const lm_model *m, const lm_cache_options *opt) {
    if (!m) return NULL;
    lm_cache_options o = opt ? *opt : lm_cache_options_default();
    if (o.kv_bits && (o.kv_bits < 2 || o.kv_bits > 8 || o.kv_bits == 7)) {
        mx_set_error("[cache] kv_bits must be 2, 3, 4, 5, 6 or 8 (got %d)", o.kv_bits);
        return NULL;
    }
    if (o.kv_bits) {
        int gs = o.kv_group_size > 0 ? o.kv_group_size : 64;
        if (gs != 32 && gs != 64 && gs != 128) {
            mx_set_error("[cache] kv_group_size must be 32, 64 or 128 (got %d)", gs);
            return NULL;
        }
        if (m->cfg.head_dim % gs) {
            mx_set_error("[cache] cannot quantize the KV cache: head_dim %d is not a multiple of kv_group_size %d",
                         m->cfg.head_dim, gs);
            return NULL;
        }
    }
    if (o.kv_bits && o.max_kv_size > 0) {
        /* mlx-lm: RotatingKVCache.to_quantized raises NotImplementedError */
        mx_set_error("[cache] a rotating KV cache (max_kv_size %lld) cannot be quantized (kv_bits %d): use one or the other",
                     (long long)o.max_kv_size, o.kv_bits);
        return NULL;
    }
    if (o.max_kv_size > 0 && (o.keep < 0 || o.keep >= o.max_kv_size)) {
        mx_set_error("[cache] keep (%lld) must be in [0, max_kv_size) (max_kv_size %lld)", (long long)o.keep,
                     (long long)o.max_kv_size);
        return NULL;
    }
    lm_cache *c = lm_cache_alloc(m->cfg.num_layers, &o);
    if (!c) return NULL;
    for (int i = 0; i < c->n_layers; i++) {
        lm_layer_cache *l = &c->layers[i];
        if (m->layers[i].sliding && m->cfg.sliding_window > 0) {
            /* as mlx-lm's make_cache for sliding-window models: RotatingKVCache(window) */
            l->kind = LM_CACHE_ROTATING;
            l->max_size = m->cfg.sliding_window;
            l->keep = 0;
        } else if (o.max_kv_size > 0) {
            l->kind = LM_CACHE_ROTATING;
            l->max_size = o.max_kv_size;
            l->keep = o.keep;
        }
    }
    return c;
}

void lm_layer_cache_clear(lm_layer_cache *c) {
    lm_cache_store(&c->keys, NULL);
    lm_cache_store(&c->values, NULL);
    for (int j = 0; j < 3; j++) {
        lm_cache_store(&c->qkeys[j], NULL);
        lm_cache_store(&c->qvalues[j], NULL);
    }
    c->capacity = 0;
}

void lm_cache_free(lm_cache *c) {
    if (!c) return;
    for (int i = 0; i < c->n_layers; i++) lm_layer_cache_clear(&c->layers[i]);
    free(c->layers);
    free(c);
}

int64_t lm_cache_offset(const lm_cache *c) { return c ? c->offset : 0; }

static int layer_trimmable(const lm_layer_cache *l) {
    /* a rotating cache that has wrapped no longer knows the positions it overwrote */
    return l->kind != LM_CACHE_ROTATING || l->offset < l->max_size;
}

int lm_cache_is_trimmable(const lm_cache *c) {
    if (!c) return 0;
    for (int i = 0; i < c->n_layers; i++)
        if (!layer_trimmable(&c->layers[i])) return 0;
    return 1;
}

int64_t lm_cache_trim(lm_cache *c, int64_t n) {
    /* mlx-lm's trim_prompt_cache: nothing unless every layer can be trimmed */
    if (!c || n <= 0 || !lm_cache_is_trimmable(c)) return 0;
    if (n > c->offset) n = c->offset;
    for (int i = 0; i < c->n_layers; i++) {
        lm_layer_cache *l = &c->layers[i];
        int64_t k = n < l->offset ? n : l->offset;
        l->offset -= k;
        if (l->kind == LM_CACHE_ROTATING) l->idx -= k;
    }
    c->offset -= n;
    return n;
}

int lm_cache_eval(lm_cache *c) {
    if (!c) return 0;
    for (int i = 0; i < c->n_layers; i++) {
        lm_layer_cache *l = &c->layers[i];
        mx_array *a[6];
        int n = 0;
        if (l->keys) a[n++] = l->keys;
        if (l->values) a[n++] = l->values;
        for (int j = 0; j < 3; j++) {
            if (l->qkeys[j]) a[n++] = l->qkeys[j];
            if (l->qvalues[j]) a[n++] = l->qvalues[j];
        }
        if (n && mx_eval(a, n)) return -1;
    }
    return 0;
}

const char *lm_layer_cache_class(const lm_layer_cache *c) {
    switch (c->kind) {
    case LM_CACHE_ROTATING: return "RotatingKVCache";
    case LM_CACHE_QUANTIZED: return "QuantizedKVCache";
    default: return "KVCache";
    }
}

const char *lm_cache_layer_class(const lm_cache *c, int layer) {
    if (!c || layer < 0 || layer >= c->n_layers) return NULL;
    return lm_layer_cache_class(&c->layers[layer]);
}

int lm_cache_layer_bits(const lm_cache *c, int layer, int *group_size) {
    if (group_size) *group_size = 0;
    if (!c || layer < 0 || layer >= c->n_layers || c->layers[layer].kind != LM_CACHE_QUANTIZED) return 0;
    if (group_size) *group_size = c->layers[layer].group_size;
    return c->layers[layer].bits;
}

int lm_cache_set_quantization(lm_cache *c, int kv_bits, int kv_group_size, int64_t quantized_kv_start) {
    if (!c) return -1;
    if (kv_bits && (kv_bits < 2 || kv_bits > 8 || kv_bits == 7))
        return mx_set_error("[cache] kv_bits must be 2, 3, 4, 5, 6 or 8 (got %d)", kv_bits);
    if (kv_group_size <= 0) kv_group_size = 64;
    for (int i = 0; i < c->n_layers; i++) {
        lm_layer_cache *l = &c->layers[i];
        if (l->kind == LM_CACHE_QUANTIZED) {
            if (kv_bits && (kv_bits != l->bits || kv_group_size != l->group_size))
                return mx_set_error("[cache] layer %d is already quantized with %d bits, group size %d; asked for %d "
                                    "bits, group size %d", i, l->bits, l->group_size, kv_bits, kv_group_size);
            continue;
        }
        l->bits = kv_bits;
        l->group_size = kv_group_size;
        l->quantized_start = quantized_kv_start;
    }
    c->opt.kv_bits = kv_bits;
    c->opt.kv_group_size = kv_group_size;
    c->opt.quantized_kv_start = quantized_kv_start;
    return 0;
}

/* ---- the standard cache ---- */

int lm_standard_update(lm_layer_cache *c, const mx_array *k, const mx_array *v, mx_array **k_all, mx_array **v_all) {
    const int64_t *ks = mx_shape(k), *vs = mx_shape(v);
    int64_t t = ks[2], prev = c->offset;
    if (!c->keys || prev + t > c->capacity) {
        int64_t n_steps = (t + LM_CACHE_STEP - 1) / LM_CACHE_STEP;
        int64_t grow = n_steps * LM_CACHE_STEP;
        mx_array *nk = mx_zeros((int64_t[]){ks[0], ks[1], grow, ks[3]}, 4, mx_array_dtype(k));
        mx_array *nv = mx_zeros((int64_t[]){vs[0], vs[1], grow, vs[3]}, 4, mx_array_dtype(v));
        if (c->keys && prev > 0) {
            mx_array *ok = mx_slice_axis(c->keys, 2, 0, prev), *ov = mx_slice_axis(c->values, 2, 0, prev);
            nk = mx_concatenate((const mx_array *[]){ok, nk}, 2, 2);
            nv = mx_concatenate((const mx_array *[]){ov, nv}, 2, 2);
        }
        if (!nk || !nv) return -1;
        lm_cache_store(&c->keys, nk);
        lm_cache_store(&c->values, nv);
        c->capacity = prev + grow;
    }
    int64_t st[4] = {0, 0, prev, 0}, sp_k[4] = {ks[0], ks[1], prev + t, ks[3]}, sp_v[4] = {vs[0], vs[1], prev + t, vs[3]};
    mx_array *uk = mx_slice_update(c->keys, k, st, sp_k, NULL, 4);
    mx_array *uv = mx_slice_update(c->values, v, st, sp_v, NULL, 4);
    if (!uk || !uv) return -1;
    lm_cache_store(&c->keys, uk);
    lm_cache_store(&c->values, uv);
    c->offset = prev + t;
    *k_all = mx_slice_axis(c->keys, 2, 0, c->offset);
    *v_all = mx_slice_axis(c->values, 2, 0, c->offset);
    return *k_all && *v_all ? 0 : -1;
}

/* ---- masks and the attention step ---- */

mx_array *lm_causal_mask(int64_t n, int64_t offset, int64_t window) {
    mx_array *q = mx_reshape(mx_arange((double)offset, (double)(offset + n), 1, MX_INT32), (int64_t[]){n, 1}, 2);
    mx_array *k = mx_reshape(mx_arange(0, (double)(offset + n), 1, MX_INT32), (int64_t[]){1, offset + n}, 2);
    mx_array *mask = mx_greater_equal(q, k);
    if (window > 0) mask = mx_logical_and(mask, mx_less(q, mx_add_scalar(k, (double)window)));
    return mask;
}

mx_array *lm_layer_cache_attention(lm_layer_cache *c, const mx_array *q, const mx_array *k, const mx_array *v,
                                   float scale, int64_t window) {
    if (!c || !q || !k || !v) return NULL;
    int64_t t = mx_dim(k, 2);
    /* maybe_quantize_kv_cache: mlx-lm converts after each model call once the layer holds
     * quantized_kv_start positions; converting before the next update is the same. */
    if (c->kind == LM_CACHE_STANDARD && c->bits > 0 && c->keys && c->offset >= c->quantized_start &&
        lm_layer_cache_quantize(c, c->bits, c->group_size))
        return NULL;
    /* the mask, from the state before the update (mlx-lm's make_mask) */
    int mode;
    mx_array *mask = NULL;
    if (c->kind == LM_CACHE_ROTATING) {
        mask = lm_rotating_mask(c, t, window, &mode);
        if (mode == MX_SDPA_ARRAY && !mask) return NULL;
    } else if (window > 0) {
        mode = MX_SDPA_ARRAY;
        if (!(mask = lm_causal_mask(t, c->offset, window))) return NULL;
    } else {
        mode = t > 1 ? MX_SDPA_CAUSAL : MX_SDPA_NO_MASK;
    }
    if (c->kind == LM_CACHE_QUANTIZED) {
        mx_array *qk[3], *qv[3];
        if (lm_quantized_update(c, k, v, qk, qv)) return NULL;
        return lm_quantized_sdpa(q, qk, qv, scale, mode, mask, c->group_size, c->bits);
    }
    mx_array *ka, *va;
    int rc = c->kind == LM_CACHE_ROTATING ? lm_rotating_update(c, k, v, &ka, &va) : lm_standard_update(c, k, v, &ka, &va);
    if (rc) return NULL;
    return mx_fast_scaled_dot_product_attention(q, ka, va, scale, (mx_sdpa_mask)mode, mask, NULL);
}
