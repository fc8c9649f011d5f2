/* Prompt caches on disk, in mlx-lm's format (models/cache.py save_prompt_cache /
 * load_prompt_cache). mlx-lm flattens three Python trees with mlx.utils.tree_flatten:
 *   arrays:   [c.state for c in cache]            -> tensors "i.0", "i.1" (keys, values), or
 *             "i.0.0".."i.1.2" for a quantized layer (packed, scales, biases of keys, values);
 *   metadata: [[c.meta_state ...], user, classes] -> "0.i" = "" (KVCache) or "0.i.j" (the
 *             meta_state tuple of strings), "1.KEY" = user value, "2.i" = class name.
 * RotatingKVCache's meta_state is (keep, max_size, offset, _idx); QuantizedKVCache's is
 * (offset, group_size, bits); a state holds [:offset] of the buffers (rotating: the whole
 * buffer once it is full). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/io.h"
#include "cmlx/ops.h"
#include "lm/generate/cache_impl.h"
#include "lm/models/model_impl.h"

#define PC_MAX_ARRAYS 6

/* ---- saving ---- */

typedef struct {
    char **names, **mkeys, **mvals;
    mx_array **arrays;
    int n, n_meta, cap, cap_meta;
} save_lists;

static int add_array(save_lists *s, mx_array *a, const char *fmt, int i, int j, int k) {
    if (s->n == s->cap) return mx_set_error("[prompt cache] internal: too many arrays");
    char buf[64];
    if (k >= 0) snprintf(buf, sizeof buf, fmt, i, j, k);
    else snprintf(buf, sizeof buf, fmt, i, j);
    if (!a || !(s->names[s->n] = strdup(buf))) return mx_set_error("[prompt cache] out of memory");
    s->arrays[s->n++] = a;
    return 0;
}

static int add_meta(save_lists *s, const char *key, const char *value) {
    if (s->n_meta == s->cap_meta) return mx_set_error("[prompt cache] internal: too much metadata");
    s->mkeys[s->n_meta] = strdup(key);
    s->mvals[s->n_meta] = strdup(value);
    if (!s->mkeys[s->n_meta] || !s->mvals[s->n_meta]) return mx_set_error("[prompt cache] out of memory");
    s->n_meta++;
    return 0;
}

static int add_meta_ints(save_lists *s, int layer, const int64_t *v, int n) {
    for (int j = 0; j < n; j++) {
        char key[48], val[32];
        snprintf(key, sizeof key, "0.%d.%d", layer, j);
        snprintf(val, sizeof val, "%lld", (long long)v[j]);
        if (add_meta(s, key, val)) return -1;
    }
    return 0;
}

static int save_layer(save_lists *s, const lm_layer_cache *l, int i) {
    char key[32];
    snprintf(key, sizeof key, "2.%d", i);
    if (add_meta(s, key, lm_layer_cache_class(l))) return -1;
    switch (l->kind) {
    case LM_CACHE_STANDARD:
        snprintf(key, sizeof key, "0.%d", i);
        if (add_meta(s, key, "")) return -1;
        return add_array(s, mx_slice_axis(l->keys, 2, 0, l->offset), "%d.%d", i, 0, -1) ||
                       add_array(s, mx_slice_axis(l->values, 2, 0, l->offset), "%d.%d", i, 1, -1)
                   ? -1
                   : 0;
    case LM_CACHE_ROTATING: {
        int64_t len = mx_dim(l->keys, 2), n = l->offset < len ? l->offset : len;
        if (add_meta_ints(s, i, (int64_t[]){l->keep, l->max_size, l->offset, l->idx}, 4)) return -1;
        return add_array(s, mx_slice_axis(l->keys, 2, 0, n), "%d.%d", i, 0, -1) ||
                       add_array(s, mx_slice_axis(l->values, 2, 0, n), "%d.%d", i, 1, -1)
                   ? -1
                   : 0;
    }
    case LM_CACHE_QUANTIZED:
        if (add_meta_ints(s, i, (int64_t[]){l->offset, l->group_size, l->bits}, 3)) return -1;
        for (int j = 0; j < 3; j++)
            if (add_array(s, mx_slice_axis(l->qkeys[j], 2, 0, l->offset), "%d.%d.%d", i, 0, j) ||
                add_array(s, mx_slice_axis(l->qvalues[j], 2, 0, l->offset), "%d.%d.%d", i, 1, j))
                return -1;
        return 0;
    }
    return mx_set_error("[prompt cache] internal: unknown cache kind");
}

int lm_cache_save(lm_cache *c, const char *path, const char *const *keys, const char *const *values, int n) {
    if (!c || !path) return mx_set_error("[prompt cache] save: no cache or no path");
    if (n < 0 || (n > 0 && (!keys || !values))) return mx_set_error("[prompt cache] save: bad metadata arguments");
    for (int i = 0; i < c->n_layers; i++) {
        lm_layer_cache *l = &c->layers[i];
        if (l->offset <= 0 || (!l->keys && !l->qkeys[0]))
            return mx_set_error("[prompt cache] %s: cannot save an empty cache (layer %d holds no positions)", path, i);
        /* generate_step quantizes after each model call: the saved cache is what it left */
        if (l->kind == LM_CACHE_STANDARD && l->bits > 0 && l->offset >= l->quantized_start &&
            lm_layer_cache_quantize(l, l->bits, l->group_size))
            return -1;
    }
    /* MLX's save_safetensors appends the extension */
    size_t pl = strlen(path);
    int add_ext = pl < 12 || strcmp(path + pl - 12, ".safetensors") != 0;
    char *file = malloc(pl + 13);
    int cap = c->n_layers * PC_MAX_ARRAYS, cap_meta = c->n_layers * 6 + n;
    save_lists s = {calloc((size_t)cap + 1, sizeof(char *)), calloc((size_t)cap_meta + 1, sizeof(char *)),
                    calloc((size_t)cap_meta + 1, sizeof(char *)), calloc((size_t)cap + 1, sizeof(mx_array *)),
                    0, 0, cap, cap_meta};
    int rc = -1;
    mx_pool *pool = mx_pool_begin();
    if (!file || !s.names || !s.mkeys || !s.mvals || !s.arrays || !pool) {
        mx_set_error("[prompt cache] out of memory");
        goto out;
    }
    snprintf(file, pl + 13, "%s%s", path, add_ext ? ".safetensors" : "");
    for (int i = 0; i < c->n_layers; i++)
        if (save_layer(&s, &c->layers[i], i)) goto out;
    for (int i = 0; i < n; i++) {
        if (!keys[i] || !values[i]) {
            mx_set_error("[prompt cache] save: metadata entry %d is NULL", i);
            goto out;
        }
        char *k = malloc(strlen(keys[i]) + 3);
        if (!k) {
            mx_set_error("[prompt cache] out of memory");
            goto out;
        }
        sprintf(k, "1.%s", keys[i]);
        int bad = add_meta(&s, k, values[i]);
        free(k);
        if (bad) goto out;
    }
    rc = mx_safetensors_save(file, (const char *const *)s.names, s.arrays, s.n, (const char *const *)s.mkeys,
                             (const char *const *)s.mvals, s.n_meta);
out:
    if (pool) mx_pool_end(pool);
    for (int i = 0; i < s.n; i++) free(s.names[i]);
    for (int i = 0; i < s.n_meta; i++) {
        free(s.mkeys[i]);
        free(s.mvals[i]);
    }
    free(s.names);
    free(s.mkeys);
    free(s.mvals);
    free(s.arrays);
    free(file);
    return rc;
}

/* ---- metadata ---- */

void lm_cache_metadata_free(lm_cache_metadata *md) {
    if (!md) return;
    for (int i = 0; i < md->n; i++) {
        free(md->keys[i]);
        free(md->values[i]);
    }
    free(md->keys);
    free(md->values);
    memset(md, 0, sizeof *md);
}

const char *lm_cache_metadata_get(const lm_cache_metadata *md, const char *key) {
    if (!md || !key) return NULL;
    for (int i = 0; i < md->n; i++)
        if (!strcmp(md->keys[i], key)) return md->values[i];
    return NULL;
}

/* The "1.KEY" entries of an open file. */
static int read_user_metadata(const mx_safetensors *st, lm_cache_metadata *md) {
    memset(md, 0, sizeof *md);
    int n = mx_safetensors_metadata_count(st);
    md->keys = calloc((size_t)n + 1, sizeof(char *));
    md->values = calloc((size_t)n + 1, sizeof(char *));
    if (!md->keys || !md->values) {
        lm_cache_metadata_free(md);
        return mx_set_error("[prompt cache] out of memory");
    }
    for (int i = 0; i < n; i++) {
        const char *k = mx_safetensors_metadata_key(st, i);
        if (strncmp(k, "1.", 2) != 0) continue;
        md->keys[md->n] = strdup(k + 2);
        md->values[md->n] = strdup(mx_safetensors_metadata(st, k));
        if (!md->keys[md->n] || !md->values[md->n]) {
            md->n++;
            lm_cache_metadata_free(md);
            return mx_set_error("[prompt cache] out of memory");
        }
        md->n++;
    }
    return 0;
}

static mx_safetensors *open_cache_file(const char *path) {
    mx_safetensors *st = mx_safetensors_open(path);
    if (!st) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", mx_last_error());
        mx_set_error("[prompt cache] cannot read %s: %s", path, msg);
        return NULL;
    }
    if (!mx_safetensors_metadata(st, "2.0")) {
        mx_set_error("[prompt cache] %s is not a prompt cache: its metadata has no cache class '2.0' (files come from "
                     "cmlx cache-prompt or mlx_lm.cache_prompt)", path);
        mx_safetensors_close(st);
        return NULL;
    }
    return st;
}

int lm_cache_read_metadata(const char *path, lm_cache_metadata *md) {
    if (!path || !md) return mx_set_error("[prompt cache] no path or no metadata");
    mx_safetensors *st = open_cache_file(path);
    if (!st) return -1;
    int rc = read_user_metadata(st, md);
    mx_safetensors_close(st);
    return rc;
}

/* ---- loading ---- */

/* Parses metadata "0.i.j" as a non-negative integer. */
static int meta_int(const mx_safetensors *st, const char *path, int i, int j, const char *what, int64_t *out) {
    char key[48];
    snprintf(key, sizeof key, "0.%d.%d", i, j);
    const char *v = mx_safetensors_metadata(st, key);
    if (!v) return mx_set_error("[prompt cache] %s: layer %d: metadata '%s' (%s) is missing", path, i, key, what);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < 0)
        return mx_set_error("[prompt cache] %s: layer %d: metadata '%s' (%s) is '%s', not a non-negative integer", path,
                            i, key, what, v);
    *out = x;
    return 0;
}

/* The tensor "i.j" or "i.j.k" (k < 0: none), checked: 4 dimensions [B, heads, len, last]. */
static mx_array *layer_tensor(const mx_safetensors *st, const char *path, int i, int j, int k, int64_t heads,
                              int64_t last, int64_t len, int want_float, const char *what) {
    char name[48];
    if (k >= 0) snprintf(name, sizeof name, "%d.%d.%d", i, j, k);
    else snprintf(name, sizeof name, "%d.%d", i, j);
    if (!mx_safetensors_has(st, name)) {
        mx_set_error("[prompt cache] %s: layer %d: tensor '%s' (%s) is missing", path, i, name, what);
        return NULL;
    }
    mx_array *a = mx_safetensors_get(st, name);
    if (!a) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", mx_last_error());
        mx_set_error("[prompt cache] %s: %s", path, msg);
        return NULL;
    }
    const int64_t *s = mx_shape(a);
    mx_dtype t = mx_array_dtype(a);
    int is_float = t == MX_FLOAT32 || t == MX_FLOAT16 || t == MX_BFLOAT16;
    if (mx_ndim(a) != 4 || s[1] != heads || s[2] != len || s[3] != last || s[0] < 1) {
        char got[128] = "";
        int o = 0;
        for (int d = 0; d < mx_ndim(a) && o < 100; d++) o += snprintf(got + o, sizeof got - o, "%s%lld", d ? ", " : "", (long long)s[d]);
        mx_set_error("[prompt cache] %s: layer %d: tensor '%s' (%s) has shape [%s], the model needs [B, %lld, %lld, %lld]",
                     path, i, name, what, got, (long long)heads, (long long)len, (long long)last);
        return NULL;
    }
    if (want_float ? !is_float : t != MX_UINT32) {
        mx_set_error("[prompt cache] %s: layer %d: tensor '%s' (%s) has dtype %s, expected %s", path, i, name, what,
                     mx_dtype_name(t), want_float ? "a float type" : "uint32");
        return NULL;
    }
    return a;
}

static int load_layer(const lm_model *m, const mx_safetensors *st, const char *path, int i, lm_layer_cache *l) {
    char key[32];
    snprintf(key, sizeof key, "2.%d", i);
    const char *cls = mx_safetensors_metadata(st, key);
    if (!cls) return mx_set_error("[prompt cache] %s: layer %d: the class '%s' is missing", path, i, key);
    const lm_config *cfg = &m->cfg;
    int64_t h = cfg->num_kv_heads, d = cfg->head_dim;
    int64_t len;
    if (!strcmp(cls, "KVCache")) {
        l->kind = LM_CACHE_STANDARD;
        snprintf(key, sizeof key, "0.%d", i);
        const char *ms = mx_safetensors_metadata(st, key);
        if (ms && *ms) return mx_set_error("[prompt cache] %s: layer %d: a KVCache has no meta_state, found '%s'", path, i, ms);
        char name[32];
        snprintf(name, sizeof name, "%d.0", i);
        if (!mx_safetensors_has(st, name))
            return mx_set_error("[prompt cache] %s: layer %d: tensor '%s' (keys) is missing", path, i, name);
        mx_array *probe = mx_safetensors_get(st, name);
        len = probe && mx_ndim(probe) == 4 ? mx_dim(probe, 2) : -1;
        l->offset = len;
    } else if (!strcmp(cls, "RotatingKVCache")) {
        l->kind = LM_CACHE_ROTATING;
        if (meta_int(st, path, i, 0, "keep", &l->keep) || meta_int(st, path, i, 1, "max_size", &l->max_size) ||
            meta_int(st, path, i, 2, "offset", &l->offset) || meta_int(st, path, i, 3, "_idx", &l->idx))
            return -1;
        if (l->max_size < 1 || l->keep >= l->max_size)
            return mx_set_error("[prompt cache] %s: layer %d: RotatingKVCache with keep %lld and max_size %lld", path,
                                i, (long long)l->keep, (long long)l->max_size);
        char name[32];
        snprintf(name, sizeof name, "%d.0", i);
        mx_array *probe = mx_safetensors_has(st, name) ? mx_safetensors_get(st, name) : NULL;
        len = probe && mx_ndim(probe) == 4 ? mx_dim(probe, 2) : -1;
        /* the state is the buffer's used part: [:offset] until full, then all of it
         * (up to max_size - 1 + the last chunk's length after a multi-token update) */
        if (len >= 0 && (len > l->offset || (l->offset < l->max_size && len != l->offset) ||
                         (l->offset >= l->max_size && len < l->max_size - 1) || l->idx > len || l->idx < 0))
            return mx_set_error("[prompt cache] %s: layer %d: RotatingKVCache state of %lld positions does not agree "
                                "with its offset %lld, _idx %lld and max_size %lld", path, i, (long long)len,
                                (long long)l->offset, (long long)l->idx, (long long)l->max_size);
        if (m->layers[i].sliding && cfg->sliding_window > 0 && l->max_size < cfg->sliding_window)
            return mx_set_error("[prompt cache] %s: layer %d uses a sliding window of %d positions but its "
                                "RotatingKVCache holds only %lld", path, i, cfg->sliding_window, (long long)l->max_size);
    } else if (!strcmp(cls, "QuantizedKVCache")) {
        l->kind = LM_CACHE_QUANTIZED;
        int64_t gs, bits;
        if (meta_int(st, path, i, 0, "offset", &l->offset) || meta_int(st, path, i, 1, "group_size", &gs) ||
            meta_int(st, path, i, 2, "bits", &bits))
            return -1;
        if ((gs != 32 && gs != 64 && gs != 128) || bits < 2 || bits > 8 || bits == 7 || d % gs)
            return mx_set_error("[prompt cache] %s: layer %d: QuantizedKVCache with group_size %lld and bits %lld does "
                                "not fit head_dim %lld", path, i, (long long)gs, (long long)bits, (long long)d);
        l->group_size = (int)gs;
        l->bits = (int)bits;
        len = l->offset;
    } else {
        return mx_set_error("[prompt cache] %s: layer %d: unsupported cache class '%s' (cmlx reads KVCache, "
                            "RotatingKVCache and QuantizedKVCache)", path, i, cls);
    }
    if (len <= 0 && l->kind != LM_CACHE_QUANTIZED)
        return mx_set_error("[prompt cache] %s: layer %d: the keys tensor '%d.0' is missing or not [B, heads, len, dim]",
                            path, i, i);
    if (len <= 0) return mx_set_error("[prompt cache] %s: layer %d: offset 0 (an empty cache)", path, i);
    if (l->kind == LM_CACHE_QUANTIZED) {
        int64_t last[3] = {d * l->bits / 32, d / l->group_size, d / l->group_size};
        for (int j = 0; j < 3; j++) {
            static const char *const what_k[3] = {"packed keys", "key scales", "key biases"};
            static const char *const what_v[3] = {"packed values", "value scales", "value biases"};
            mx_array *a = layer_tensor(st, path, i, 0, j, h, last[j], len, j > 0, what_k[j]);
            mx_array *b = a ? layer_tensor(st, path, i, 1, j, h, last[j], len, j > 0, what_v[j]) : NULL;
            if (!a || !b) return -1;
            if (j > 0) {
                a = mx_astype(a, m->dtype);
                b = mx_astype(b, m->dtype);
            }
            lm_cache_store(&l->qkeys[j], a);
            lm_cache_store(&l->qvalues[j], b);
        }
        l->capacity = len;
    } else {
        mx_array *k = layer_tensor(st, path, i, 0, -1, h, d, len, 1, "keys");
        mx_array *v = k ? layer_tensor(st, path, i, 1, -1, h, d, len, 1, "values") : NULL;
        if (!k || !v) return -1;
        if (mx_dim(k, 0) != mx_dim(v, 0))
            return mx_set_error("[prompt cache] %s: layer %d: keys and values have batch sizes %lld and %lld", path, i,
                                (long long)mx_dim(k, 0), (long long)mx_dim(v, 0));
        lm_cache_store(&l->keys, mx_astype(k, m->dtype));
        lm_cache_store(&l->values, mx_astype(v, m->dtype));
        l->capacity = len;
    }
    return 0;
}

lm_cache *lm_cache_load(const lm_model *m, const char *path, lm_cache_metadata *metadata) {
    if (metadata) memset(metadata, 0, sizeof *metadata);
    if (!m || !path) {
        mx_set_error("[prompt cache] load: no model or no path");
        return NULL;
    }
    mx_safetensors *st = open_cache_file(path);
    if (!st) return NULL;
    lm_cache *c = NULL;
    mx_pool *pool = mx_pool_begin();
    int n_layers = 0;
    while (n_layers <= m->cfg.num_layers) {
        char key[32];
        snprintf(key, sizeof key, "2.%d", n_layers);
        if (!mx_safetensors_metadata(st, key)) break;
        n_layers++;
    }
    if (!pool) goto fail;
    if (n_layers != m->cfg.num_layers) {
        mx_set_error("[prompt cache] %s holds %s%d layers but the model (%s) has %d", path,
                     n_layers > m->cfg.num_layers ? "more than " : "", n_layers > m->cfg.num_layers ? n_layers - 1 : n_layers,
                     m->dir, m->cfg.num_layers);
        goto fail;
    }
    /* every tensor must belong to a layer: a stray one means another format or a mismatch */
    for (int i = 0; i < mx_safetensors_count(st); i++) {
        const char *name = mx_safetensors_name(st, i);
        char *end;
        long layer = strtol(name, &end, 10);
        if (end == name || *end != '.' || layer < 0 || layer >= n_layers) {
            mx_set_error("[prompt cache] %s: unexpected tensor '%s' (expected 'LAYER.I' for %d layers)", path, name,
                         n_layers);
            goto fail;
        }
    }
    lm_cache_options o = lm_cache_options_default();
    c = lm_cache_alloc(n_layers, &o);
    if (!c) goto fail;
    for (int i = 0; i < n_layers; i++) {
        c->layers[i].bits = 0; /* no quantization switch unless asked (lm_cache_set_quantization) */
        if (load_layer(m, st, path, i, &c->layers[i])) goto fail;
        if (c->layers[i].offset != c->layers[0].offset) {
            mx_set_error("[prompt cache] %s: layer %d has seen %lld tokens but layer 0 %lld", path, i,
                         (long long)c->layers[i].offset, (long long)c->layers[0].offset);
            goto fail;
        }
    }
    c->offset = c->layers[0].offset;
    if (metadata && read_user_metadata(st, metadata)) goto fail;
    mx_pool_end(pool);
    mx_safetensors_close(st);
    return c;
fail:
    lm_cache_free(c);
    if (pool) mx_pool_end(pool);
    mx_safetensors_close(st);
    return NULL;
}
