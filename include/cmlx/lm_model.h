/* Language models: loading checkpoints and running the forward pass (mirrors mlx-lm's
 * models and load()).
 *
 * A model is loaded from a local directory or a Hugging Face repo id (through the hub
 * cache, see lm_hub.h): config.json picks the architecture by model_type; weights are
 * memory-mapped safetensors (bf16/f16/f32, or MLX affine-quantized as mlx-community
 * publishes them) and stay mapped: nothing is copied unless a dtype change is asked for.
 */
#ifndef CMLX_LM_MODEL_H
#define CMLX_LM_MODEL_H

#include <stdint.h>

#include "cmlx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lm_model lm_model;
typedef struct lm_cache lm_cache;

typedef struct lm_load_options {
    /* Float weights are used in this dtype: MX_DTYPE_COUNT keeps the checkpoint's
     * (bfloat16 for most), MX_FLOAT32 widens them (more memory, reference accuracy). */
    mx_dtype dtype;
    const char *revision;      /* hub revision for repo ids (NULL: main) */
    int quiet;                 /* no download progress on stderr */
} lm_load_options;

/* Defaults: checkpoint dtype, main revision. */
lm_load_options lm_load_options_default(void);

/* Loads a model from a directory or "org/name". NULL with mx_last_error() naming what was
 * wrong (missing config.json, unsupported model_type with the supported list, a missing or
 * mis-shaped tensor with expected and found shapes). */
lm_model *lm_model_load(const char *model, const lm_load_options *opt);
void lm_model_free(lm_model *m);

const char *lm_model_dir(const lm_model *m);          /* the local directory */
const char *lm_model_type(const lm_model *m);
int lm_model_vocab_size(const lm_model *m);
int lm_model_num_layers(const lm_model *m);
int64_t lm_model_max_position(const lm_model *m);      /* max_position_embeddings (0: unknown) */
/* Bytes of weights read per decoded token (all weights, or the active experts' share). */
size_t lm_model_weight_bytes(const lm_model *m);
/* EOS ids from config.json and generation_config.json (n set to the count). */
const int32_t *lm_model_eos_ids(const lm_model *m, int *n);
/* The supported model_type names, NULL-terminated. */
const char *const *lm_supported_model_types(void);

/* ---- KV caches ---- */
typedef struct lm_cache_options {
    int64_t max_kv_size;       /* > 0: rotating caches of this many positions (keep the first `keep`) */
    int64_t keep;
    int kv_bits;               /* 0: float; 4 or 8: quantized keys/values */
    int kv_group_size;         /* default 64 */
    int64_t quantized_kv_start;/* quantize once the cache holds this many positions */
} lm_cache_options;

lm_cache_options lm_cache_options_default(void);
/* One cache per layer, of the kind each layer needs (sliding-window layers get rotating ones). */
lm_cache *lm_cache_new(const lm_model *m, const lm_cache_options *opt);
void lm_cache_free(lm_cache *c);
int64_t lm_cache_offset(const lm_cache *c);            /* tokens processed so far */
int lm_cache_is_trimmable(const lm_cache *c);
/* Drops the last n positions (speculative decoding, prompt reuse); returns how many were dropped. */
int64_t lm_cache_trim(lm_cache *c, int64_t n);
/* Evaluates the cache's arrays (so that the next step's graph does not carry them). */
int lm_cache_eval(lm_cache *c);
/* Switches KV quantization on for a cache (a loaded prompt cache): standard layers become
 * quantized ones once they hold quantized_kv_start positions (kv_bits 0: off). Layers that
 * are already quantized must have the same bits and group size. 0 or -1. */
int lm_cache_set_quantization(lm_cache *c, int kv_bits, int kv_group_size, int64_t quantized_kv_start);
/* mlx-lm's class name of layer i's cache ("KVCache", "RotatingKVCache", "QuantizedKVCache"). */
const char *lm_cache_layer_class(const lm_cache *c, int layer);
/* Bits of layer i's quantized cache (its group size in *group_size), or 0 when not quantized. */
int lm_cache_layer_bits(const lm_cache *c, int layer, int *group_size);

/* ---- prompt caches: files in mlx-lm's save_prompt_cache / load_prompt_cache format ----
 * A safetensors file: layer i's state arrays under "i.0", "i.1" (keys, values; quantized
 * caches "i.0.0".."i.1.2": packed, scales, biases of keys then values), and string metadata
 * "0.i" (the cache's meta_state: "" for KVCache, "i.j" = keep, max_size, offset, _idx for
 * RotatingKVCache, offset, group_size, bits for QuantizedKVCache), "1.KEY" (user metadata)
 * and "2.i" (the class name). Files written by either mlx-lm or cmlx load in both. */
typedef struct lm_cache_metadata {
    int n;
    char **keys, **values;
} lm_cache_metadata;

/* Saves the cache (evaluated here; layers due for quantization are quantized first, as
 * mlx-lm's generate_step leaves them). Like MLX, ".safetensors" is appended to a path that
 * does not end with it. The user metadata (n pairs; may be 0) is stored under "1.KEY".
 * 0 or -1 (an empty cache cannot be saved, as in MLX). */
int lm_cache_save(lm_cache *c, const char *path, const char *const *keys, const char *const *values, int n);
/* Loads a prompt cache for model m, checking it against the model (layer count, each
 * layer's kind and shapes, offsets) and for corruption; errors name the file and what is
 * wrong. metadata (may be NULL) receives the user metadata; free it with
 * lm_cache_metadata_free. */
lm_cache *lm_cache_load(const lm_model *m, const char *path, lm_cache_metadata *metadata);
/* Only the user metadata of a prompt-cache file (e.g. to find the model it was made with). */
int lm_cache_read_metadata(const char *path, lm_cache_metadata *metadata);
/* The value for key, or NULL. */
const char *lm_cache_metadata_get(const lm_cache_metadata *md, const char *key);
void lm_cache_metadata_free(lm_cache_metadata *md);

/* ---- forward ---- */
/* Logits [B, T, vocab] (lazy) for int32 token ids [B, T], continuing from the cache's
 * state and appending to it. cache may be NULL (no history). */
mx_array *lm_model_forward(lm_model *m, const mx_array *tokens, lm_cache *cache);
/* The same pass, returning only the last position's logits [B, 1, vocab]: what generation
 * needs, without running the LM head over every prompt position. */
mx_array *lm_model_forward_last(lm_model *m, const mx_array *tokens, lm_cache *cache);

#ifdef __cplusplus
}
#endif
#endif
