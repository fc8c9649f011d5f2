/* KV caches, private to src/lm. */
#ifndef CMLX_LM_CACHE_IMPL_H
#define CMLX_LM_CACHE_IMPL_H

#include "cmlx/lm_model.h"

#define LM_CACHE_STEP 256

typedef struct lm_layer_cache {
    mx_array *keys, *values;     /* [B, H, capacity, D]; valid prefix [0, offset) */
    int64_t offset;              /* positions held */
    int64_t capacity;
} lm_layer_cache;

struct lm_cache {
    int n_layers;
    lm_layer_cache *layers;
    int64_t offset;              /* tokens seen (same for every layer) */
    lm_cache_options opt;
};

/* Appends k, v ([B, H, T, D]) to the layer's cache; *k_all / *v_all receive the keys and
 * values to attend over (views [B, H, offset+T, D]). The arrays are new references owned by
 * the current pool. 0 or -1. */
int lm_layer_cache_update(lm_layer_cache *c, const mx_array *k, const mx_array *v, mx_array **k_all,
                          mx_array **v_all);

#endif
