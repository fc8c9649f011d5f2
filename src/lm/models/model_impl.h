/* The loaded model: configuration, weights per layer, architecture switches. Private to
 * src/lm. Every mx_array here is owned by the model. */
#ifndef CMLX_LM_MODEL_IMPL_H
#define CMLX_LM_MODEL_IMPL_H

#include "cmlx/io.h"
#include "cmlx/lm_model.h"
#include "cmlx/quant.h"
#include "lm/models/config.h"

/* A Linear layer, float or MLX-quantized (weight packed uint32 + scales + biases). */
typedef struct lm_linear {
    mx_array *weight, *bias, *scales, *biases;
    int bits, group_size;
    mx_quant_mode mode;
    int64_t in_features, out_features;
} lm_linear;

/* Stacked expert weights [E, out, in] (float or quantized), for gather_mm / gather_qmm. */
typedef struct lm_switch_linear {
    lm_linear l;
    int num_experts;
} lm_switch_linear;

typedef struct lm_layer {
    mx_array *input_norm, *post_attn_norm, *pre_ff_norm, *post_ff_norm;
    lm_linear q, k, v, o;
    mx_array *q_norm, *k_norm;
    int sliding;                 /* uses the sliding window */
    const struct lm_rope *rope;
    /* dense MLP */
    lm_linear gate, up, down;
    /* mixture of experts */
    int moe;
    lm_linear router;
    lm_switch_linear sw_gate, sw_up, sw_down;
} lm_layer;

typedef struct lm_rope {
    int dims;
    float base, scale;           /* positions are multiplied by scale */
    mx_array *freqs;             /* explicit frequencies (llama3, yarn), or NULL */
    float attn_scale;            /* yarn's mscale applied to queries (1: none) */
} lm_rope;

/* Architecture switches set by each model file (src/lm/models/<arch>.c). */
typedef struct lm_arch {
    int norm_plus_one;           /* gemma: RMSNorm weight is (1 + w) */
    int sandwich_norms;          /* gemma3: post-attention / pre+post feed-forward norms */
    int qk_norm;                 /* qwen3, gemma3 */
    int embed_scale;             /* gemma: embeddings * sqrt(hidden) */
    int fused_qkv, fused_gate_up;/* phi3 */
    int moe;                     /* qwen3_moe, mixtral */
    int moe_softmax_after_topk;  /* mixtral: softmax over the selected logits */
    const char *moe_prefix;      /* "mlp" or "block_sparse_moe" */
    const char *expert_names[3]; /* HF per-expert names of gate, up, down */
} lm_arch;

struct lm_model {
    char *dir;
    lm_config cfg;
    lm_arch arch;
    mx_safetensors *st;
    char weight_prefix[32];      /* "language_model." in multimodal checkpoints (gemma3) */
    mx_dtype dtype;              /* float weights' dtype */
    lm_linear embed;             /* [vocab, hidden]; quantized embeddings use scales/biases */
    lm_linear lm_head;           /* shares embed when tied */
    int tied;
    mx_array *final_norm;
    lm_layer *layers;
    lm_rope rope_global, rope_local;
    float attn_scale;
    size_t weight_bytes;
};

/* ---- loading helpers (src/lm/models/weights.c) ---- */
/* The tensor `name`, checked against the expected shape (ndim < 0: any), converted to the
 * model dtype when it is a float tensor. NULL with an error naming tensor and shapes. */
mx_array *lm_weight(lm_model *m, const char *name, const int64_t *shape, int ndim);
/* Optional tensor: NULL without error when absent. */
mx_array *lm_weight_opt(lm_model *m, const char *name, const int64_t *shape, int ndim);
int lm_has_weight(const lm_model *m, const char *name);
/* A Linear named prefix ("model.layers.0.self_attn.q_proj") of [out, in]. */
int lm_linear_load(lm_model *m, const char *prefix, int64_t out, int64_t in, int has_bias, lm_linear *l);
/* Rows [start, start+rows) of a loaded Linear (phi3's fused projections): views, no copy. */
int lm_linear_rows(const lm_linear *src, int64_t start, int64_t rows, lm_linear *dst);
/* Experts [E, out, in]: stacked (prefix.weight) or per-expert HF tensors (stacked at load). */
int lm_switch_load(lm_model *m, const char *stacked_prefix, const char *expert_fmt, int num_experts,
                   int64_t out, int64_t in, lm_switch_linear *s);
void lm_linear_release(lm_linear *l);

/* ---- blocks (src/lm/blocks) ---- */
mx_array *lm_linear_forward(const lm_linear *l, const mx_array *x);
/* Embedding rows for token ids (dequantized for quantized embeddings). */
mx_array *lm_embedding_forward(const lm_linear *e, const mx_array *ids, mx_dtype dtype);
mx_array *lm_switch_forward(const lm_switch_linear *s, const mx_array *x, const mx_array *indices, int sorted);
int lm_rope_init(lm_rope *r, const lm_rope_config *rc, int head_dim, double partial, int64_t max_position);
mx_array *lm_rope_apply(const lm_rope *r, const mx_array *x, int64_t offset);
mx_array *lm_rms_norm(const mx_array *x, const mx_array *w, float eps);

/* ---- architectures (src/lm/models/registry.c) ---- */
/* Fills m->arch for m->cfg.model_type; -1 with the supported list when unknown. */
int lm_arch_setup(lm_model *m);

#endif
