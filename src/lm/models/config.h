/* The model hyper-parameters read from config.json, in one struct for every architecture.
 * Both config forms are read: transformers 5 (rope_parameters, num_local_experts) and
 * transformers 4 / mlx-lm (rope_theta, rope_scaling, num_experts). */
#ifndef CMLX_LM_CONFIG_H
#define CMLX_LM_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#define LM_MAX_LAYERS 512
#define LM_MAX_EOS 16

typedef enum { LM_ACT_SILU, LM_ACT_GELU_TANH, LM_ACT_GELU } lm_activation;

typedef struct lm_rope_config {
    char type[24];               /* default, linear, dynamic, llama3, yarn */
    double theta;
    double factor;
    double low_freq_factor, high_freq_factor;
    double original_max_position;
    double beta_fast, beta_slow;  /* yarn */
    double mscale, mscale_all_dim;
    double attention_factor;      /* yarn: explicit attention scaling (0: derived) */
} lm_rope_config;

typedef struct lm_config {
    char model_type[64];
    int hidden_size, num_layers, num_heads, num_kv_heads, head_dim;
    int intermediate_size, vocab_size;
    double norm_eps;
    int tie_word_embeddings;
    int64_t max_position;
    lm_activation act;
    int attention_bias, mlp_bias;
    double partial_rotary_factor;
    lm_rope_config rope;          /* global (full attention) layers */
    lm_rope_config rope_local;    /* sliding layers when they differ (gemma3) */
    int has_rope_local;
    int sliding_window;           /* 0: none */
    unsigned char layer_sliding[LM_MAX_LAYERS];
    double query_pre_attn_scalar; /* gemma3: attention scale = this^-0.5 (0: head_dim) */
    double attn_softcap, final_softcap;
    /* mixture of experts */
    int num_experts, experts_per_tok, moe_intermediate_size, norm_topk_prob, decoder_sparse_step;
    unsigned char layer_dense[LM_MAX_LAYERS];  /* mlp_only_layers */
    /* quantization (MLX affine); bits 0: not quantized */
    int q_bits, q_group_size;
    char q_mode[16];
    json_t *quantization;         /* the whole "quantization" object, for per-layer overrides */
    int32_t eos_ids[LM_MAX_EOS];
    int n_eos;
    int32_t bos_id;
} lm_config;

/* Reads dir/config.json (and eos ids from generation_config.json). 0 or -1 (error set,
 * naming the file and the key). */
int lm_config_load(const char *dir, lm_config *cfg);
void lm_config_release(lm_config *cfg);
/* Per-module quantization: bits/group for the module at `path` ("model.layers.0.mlp.gate"). */
void lm_config_quant_for(const lm_config *cfg, const char *path, int *bits, int *group_size);

#endif
