/* The decoder forward pass shared by every architecture: embeddings, then per layer
 * attention (GQA, RoPE, optional qk-norm, sliding windows) and an MLP or a mixture of
 * experts, each in a residual branch; final norm; LM head. Architecture differences are
 * the switches in lm_arch. The whole pass is built in one pool and only the logits kept. */
#include <math.h>
#include <pthread.h>

#include "cmlx/fast.h"
#include "cmlx/ops.h"
#include "cmlx/transforms.h"
#include "lm/generate/cache_impl.h"
#include "lm/models/model_impl.h"

static mx_array *norm(const lm_model *m, const mx_array *x, const mx_array *w) {
    return lm_rms_norm(x, w, (float)m->cfg.norm_eps);
}

static mx_array *activation(int act, mx_array *x) {
    switch (act) {
    case LM_ACT_SILU: return mx_multiply(x, mx_sigmoid(x));
    case LM_ACT_GELU_TANH: {
        /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
        mx_array *x3 = mx_multiply(mx_square(x), x);
        mx_array *in = mx_multiply_scalar(mx_add(x, mx_multiply_scalar(x3, 0.044715)), sqrt(2.0 / M_PI));
        return mx_multiply(mx_multiply_scalar(x, 0.5), mx_add_scalar(mx_tanh(in), 1.0));
    }
    case LM_ACT_GELU:
    default:
        return mx_multiply(mx_multiply_scalar(x, 0.5), mx_add_scalar(mx_erf(mx_multiply_scalar(x, M_SQRT1_2)), 1.0));
    }
}

/* act(gate) * up, the gated MLP's elementwise part, compiled once per activation (as
 * mlx-lm compiles swiglu): one fused node instead of 3 (silu) to 9 (gelu) elementwise ops,
 * with the same bits. */
static int gated_fn(mx_array *const *in, int n_in, mx_array **out, int n_out, void *ctx) {
    (void)n_in, (void)n_out;
    out[0] = mx_multiply(activation(*(const int *)ctx, in[0]), in[1]);
    return out[0] ? 0 : -1;
}

static const int act_ids[3] = {LM_ACT_SILU, LM_ACT_GELU_TANH, LM_ACT_GELU}; /* ctx of each: its own id */
static mx_compiled *gated_compiled[3]; /* indexed by lm_activation */
static pthread_once_t gated_once = PTHREAD_ONCE_INIT;
static void make_gated(void) {
    for (int i = 0; i < 3; i++) gated_compiled[i] = mx_compile(gated_fn, (void *)&act_ids[i], 2, 1);
}

static mx_array *gated(const lm_model *m, mx_array *gate, mx_array *up) {
    pthread_once(&gated_once, make_gated);
    int act = (int)m->cfg.act;
    if (act >= 0 && act < 3 && gated_compiled[act]) {
        mx_array *out = NULL;
        mx_array *in[2] = {gate, up};
        return mx_compiled_call(gated_compiled[act], in, &out) ? NULL : out;
    }
    return mx_multiply(activation(m->cfg.act, gate), up); /* compile could not be set up (out of memory) */
}

/* Bool mask [T, L] for queries at offset..offset+T-1 over keys 0..L-1 with a window. */
static mx_array *window_mask(int64_t t, int64_t offset, int64_t l, int64_t window) {
    mx_array *q = mx_reshape(mx_arange((double)offset, (double)(offset + t), 1, MX_INT32), (int64_t[]){t, 1}, 2);
    mx_array *k = mx_reshape(mx_arange(0, (double)l, 1, MX_INT32), (int64_t[]){1, l}, 2);
    mx_array *causal = mx_less_equal(k, q);
    mx_array *inside = mx_greater(k, mx_subtract_scalar(q, (double)window));
    return mx_logical_and(causal, inside);
}

static mx_array *attention(lm_model *m, lm_layer *L, const mx_array *x, lm_layer_cache *lc, int64_t offset) {
    const lm_config *c = &m->cfg;
    int64_t b = mx_dim(x, 0), t = mx_dim(x, 1);
    mx_array *q = lm_linear_forward(&L->q, x), *k = lm_linear_forward(&L->k, x), *v = lm_linear_forward(&L->v, x);
    q = mx_reshape(q, (int64_t[]){b, t, c->num_heads, c->head_dim}, 4);
    k = mx_reshape(k, (int64_t[]){b, t, c->num_kv_heads, c->head_dim}, 4);
    v = mx_reshape(v, (int64_t[]){b, t, c->num_kv_heads, c->head_dim}, 4);
    if (L->q_norm) {
        q = norm(m, q, L->q_norm);
        k = norm(m, k, L->k_norm);
    }
    q = mx_transpose(q, (int[]){0, 2, 1, 3}, 4);
    k = mx_transpose(k, (int[]){0, 2, 1, 3}, 4);
    v = mx_transpose(v, (int[]){0, 2, 1, 3}, 4);
    q = lm_rope_apply(L->rope, q, offset);
    k = lm_rope_apply(L->rope, k, offset);
    mx_array *ka = k, *va = v;
    int64_t l = mx_dim(ka, 2);
    mx_array *o;
    if (lc) {
        /* with a cache, the cache attends: its layout (rotating, quantized) decides the mask */
        o = lm_layer_cache_attention(lc, q, k, v, m->attn_scale, L->sliding ? c->sliding_window : 0);
    } else if (L->sliding && l > c->sliding_window) {
        mx_array *mask = window_mask(t, offset, l, c->sliding_window);
        o = mx_fast_scaled_dot_product_attention(q, ka, va, m->attn_scale, MX_SDPA_ARRAY, mask, NULL);
    } else {
        o = mx_fast_scaled_dot_product_attention(q, ka, va, m->attn_scale, t > 1 ? MX_SDPA_CAUSAL : MX_SDPA_NO_MASK,
                                                 NULL, NULL);
    }
    o = mx_reshape(mx_transpose(o, (int[]){0, 2, 1, 3}, 4), (int64_t[]){b, t, (int64_t)c->num_heads * c->head_dim}, 3);
    return lm_linear_forward(&L->o, o);
}

static mx_array *mlp(const lm_model *m, const lm_layer *L, const mx_array *x) {
    return lm_linear_forward(&L->down, gated(m, lm_linear_forward(&L->gate, x), lm_linear_forward(&L->up, x)));
}

/* Router -> top-k experts -> gathered expert MLPs -> weighted sum (mlx-lm's SwitchGLU). */
static mx_array *moe(const lm_model *m, const lm_layer *L, const mx_array *x) {
    const lm_config *c = &m->cfg;
    int k = c->experts_per_tok;
    /* The router decides which experts run: near-ties flip in 16-bit arithmetic, so its
     * (small) product is computed in float32 whatever the model dtype. */
    mx_array *logits;
    if (L->router.scales) {
        logits = mx_astype(lm_linear_forward(&L->router, mx_astype(x, MX_FLOAT32)), MX_FLOAT32);
    } else {
        mx_array *w = mx_astype(L->router.weight, MX_FLOAT32);
        logits = mx_matmul(mx_astype(x, MX_FLOAT32), mx_transpose(w, NULL, 0)); /* [B, T, E] */
    }
    mx_array *idx = mx_slice_axis(mx_argpartition(mx_negative(logits), k - 1, -1), -1, 0, k);
    mx_array *scores;
    if (m->arch.moe_softmax_after_topk) {
        scores = mx_softmax(mx_take_along_axis(logits, idx, -1), (int[]){-1}, 1, 1);
    } else {
        scores = mx_take_along_axis(mx_softmax(logits, (int[]){-1}, 1, 1), idx, -1);
        if (c->norm_topk_prob) scores = mx_divide(scores, mx_sum(scores, (int[]){-1}, 1, 1));
    }
    /* x [B, T, 1, 1, H] against experts idx [B, T, k] -> [B, T, k, 1, out] */
    mx_array *xe = mx_expand_dims(x, (int[]){-2, -3}, 2);
    mx_array *g = lm_switch_forward(&L->sw_gate, xe, idx, 0), *u = lm_switch_forward(&L->sw_up, xe, idx, 0);
    mx_array *d = lm_switch_forward(&L->sw_down, gated(m, g, u), idx, 0);
    d = mx_squeeze(d, (int[]){-2}, 1); /* [B, T, k, H] */
    mx_array *w = mx_expand_dims(mx_astype(scores, mx_array_dtype(d)), (int[]){-1}, 1);
    return mx_sum(mx_multiply(d, w), (int[]){-2}, 1, 0);
}

static mx_array *forward(lm_model *m, const mx_array *tokens, lm_cache *cache, int last_only) {
    if (!m || !tokens) return NULL;
    if (mx_ndim(tokens) != 2) {
        mx_set_error("[forward] tokens must be [batch, length], got %d dimensions", mx_ndim(tokens));
        return NULL;
    }
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    const lm_config *c = &m->cfg;
    int64_t offset = cache ? cache->offset : 0;
    mx_array *h = lm_embedding_forward(&m->embed, tokens, m->dtype);
    if (m->arch.embed_scale) h = mx_multiply(h, mx_astype(mx_scalar(sqrt((double)c->hidden_size), MX_FLOAT32), m->dtype));
    for (int i = 0; i < c->num_layers && h; i++) {
        lm_layer *L = &m->layers[i];
        lm_layer_cache *lc = cache ? &cache->layers[i] : NULL;
        mx_array *a = attention(m, L, norm(m, h, L->input_norm), lc, offset);
        if (m->arch.sandwich_norms) {
            h = mx_add(h, norm(m, a, L->post_attn_norm));
            mx_array *f = L->moe ? moe(m, L, norm(m, h, L->pre_ff_norm)) : mlp(m, L, norm(m, h, L->pre_ff_norm));
            h = mx_add(h, norm(m, f, L->post_ff_norm));
        } else {
            h = mx_add(h, a);
            mx_array *n2 = norm(m, h, L->post_attn_norm);
            h = mx_add(h, L->moe ? moe(m, L, n2) : mlp(m, L, n2));
        }
    }
    /* Generation needs only the last position's logits: the head (vocab x hidden, the
     * largest product of a prompt chunk) then runs on one row instead of all of them. */
    if (last_only && h) {
        int64_t t = mx_dim(h, 1);
        h = mx_slice_axis(h, 1, t - 1, t);
    }
    h = norm(m, h, m->final_norm);
    mx_array *logits = lm_linear_forward(&m->lm_head, h);
    if (c->final_softcap > 0)
        logits = mx_multiply_scalar(mx_tanh(mx_divide_scalar(logits, c->final_softcap)), c->final_softcap);
    if (cache && logits) cache->offset += mx_dim(tokens, 1);
    return mx_pool_end_keep(pool, logits);
}

mx_array *lm_model_forward(lm_model *m, const mx_array *tokens, lm_cache *cache) {
    return forward(m, tokens, cache, 0);
}

mx_array *lm_model_forward_last(lm_model *m, const mx_array *tokens, lm_cache *cache) {
    return forward(m, tokens, cache, 1);
}
