/* The standard KV cache (mlx-lm's KVCache): buffers grown in steps of 256 positions and
 * written in place with slice_update, so a decode step copies one position, not the
 * whole history. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/ops.h"
#include "lm/generate/cache_impl.h"
#include "lm/models/model_impl.h"

lm_cache_options lm_cache_options_default(void) {
    lm_cache_options o;
    memset(&o, 0, sizeof o);
    o.kv_group_size = 64;
    o.keep = 4;
    return o;
}

lm_cache *lm_cache_new(const lm_model *m, const lm_cache_options *opt) {
    lm_cache *c = calloc(1, sizeof *c);
    if (!c) {
        mx_set_error("[cache] out of memory");
        return NULL;
    }
    c->opt = opt ? *opt : lm_cache_options_default();
    if (c->opt.kv_bits || c->opt.max_kv_size > 0) {
        mx_set_error("[cache] %s KV caches are not available yet (kv_bits %d, max_kv_size %lld)",
                     c->opt.kv_bits ? "quantized" : "rotating", c->opt.kv_bits, (long long)c->opt.max_kv_size);
        free(c);
        return NULL;
    }
    c->n_layers = m->cfg.num_layers;
    c->layers = calloc((size_t)c->n_layers, sizeof *c->layers);
    if (!c->layers) {
        free(c);
        mx_set_error("[cache] out of memory");
        return NULL;
    }
    return c;
}

void lm_cache_free(lm_cache *c) {
    if (!c) return;
    for (int i = 0; i < c->n_layers; i++) {
        mx_free(c->layers[i].keys);
        mx_free(c->layers[i].values);
    }
    free(c->layers);
    free(c);
}

int64_t lm_cache_offset(const lm_cache *c) { return c ? c->offset : 0; }
int lm_cache_is_trimmable(const lm_cache *c) { return c != NULL; }

int64_t lm_cache_trim(lm_cache *c, int64_t n) {
    if (!c || n <= 0) return 0;
    if (n > c->offset) n = c->offset;
    for (int i = 0; i < c->n_layers; i++) c->layers[i].offset -= n;
    c->offset -= n;
    return n;
}

int lm_cache_eval(lm_cache *c) {
    if (!c) return 0;
    for (int i = 0; i < c->n_layers; i++) {
        mx_array *kv[2] = {c->layers[i].keys, c->layers[i].values};
        if (kv[0] && mx_eval(kv, 2)) return -1;
    }
    return 0;
}

/* Replaces *slot (a kept reference) with a kept reference to a. */
static void store(mx_array **slot, mx_array *a) {
    mx_array *old = *slot;
    *slot = mx_keep(a);
    mx_free(old);
}

int lm_layer_cache_update(lm_layer_cache *c, const mx_array *k, const mx_array *v, mx_array **k_all,
                          mx_array **v_all) {
    const int64_t *ks = mx_shape(k), *vs = mx_shape(v);
    int64_t t = ks[2], prev = c->offset;
    if (!c->keys || prev + t > c->capacity) {
        int64_t n_steps = (t + LM_CACHE_STEP - 1) / LM_CACHE_STEP;
        int64_t grow = n_steps * LM_CACHE_STEP;
        mx_array *nk = mx_zeros((int64_t[]){ks[0], ks[1], grow, ks[3]}, 4, mx_array_dtype(k));
        mx_array *nv = mx_zeros((int64_t[]){vs[0], vs[1], grow, vs[3]}, 4, mx_array_dtype(v));
        if (c->keys) {
            mx_array *ok = mx_slice_axis(c->keys, 2, 0, prev), *ov = mx_slice_axis(c->values, 2, 0, prev);
            nk = mx_concatenate((const mx_array *[]){ok, nk}, 2, 2);
            nv = mx_concatenate((const mx_array *[]){ov, nv}, 2, 2);
        }
        if (!nk || !nv) return -1;
        store(&c->keys, nk);
        store(&c->values, nv);
        c->capacity = prev + grow;
    }
    int64_t st[4] = {0, 0, prev, 0}, sp_k[4] = {ks[0], ks[1], prev + t, ks[3]}, sp_v[4] = {vs[0], vs[1], prev + t, vs[3]};
    mx_array *uk = mx_slice_update(c->keys, k, st, sp_k, NULL, 4);
    mx_array *uv = mx_slice_update(c->values, v, st, sp_v, NULL, 4);
    if (!uk || !uv) return -1;
    store(&c->keys, uk);
    store(&c->values, uv);
    c->offset = prev + t;
    *k_all = mx_slice_axis(c->keys, 2, 0, c->offset);
    *v_all = mx_slice_axis(c->values, 2, 0, c->offset);
    return *k_all && *v_all ? 0 : -1;
}
