/* lm_model_load: directory or hub id -> config -> architecture -> weights per layer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmlx/lm_hub.h"
#include "cmlx/ops.h"
#include "lm/models/model_impl.h"

lm_load_options lm_load_options_default(void) {
    lm_load_options o;
    memset(&o, 0, sizeof o);
    o.dtype = MX_DTYPE_COUNT;
    return o;
}

/* Gemma's norms scale by (1 + w): fold the 1 in once at load. */
static mx_array *norm_weight(lm_model *m, const char *name, int64_t dim) {
    mx_array *w = lm_weight(m, name, (int64_t[]){dim}, 1);
    if (!w || !m->arch.norm_plus_one) return w;
    mx_array *p = mx_astype(mx_add_scalar(mx_astype(w, MX_FLOAT32), 1.0), m->dtype);
    mx_free(w);
    if (!p || mx_eval1(p)) return NULL;
    return mx_keep(p);
}

static int load_layer(lm_model *m, int i) {
    const lm_config *c = &m->cfg;
    lm_layer *L = &m->layers[i];
    char p[256], n[320];
    int64_t hd = c->head_dim, qdim = (int64_t)c->num_heads * hd, kvdim = (int64_t)c->num_kv_heads * hd;
    snprintf(p, sizeof p, "model.layers.%d", i);
#define NAME(fmt) (snprintf(n, sizeof n, "%s." fmt, p), n)
    if (!(L->input_norm = norm_weight(m, NAME("input_layernorm.weight"), c->hidden_size))) return -1;
    if (!(L->post_attn_norm = norm_weight(m, NAME("post_attention_layernorm.weight"), c->hidden_size))) return -1;
    if (m->arch.sandwich_norms) {
        if (!(L->pre_ff_norm = norm_weight(m, NAME("pre_feedforward_layernorm.weight"), c->hidden_size))) return -1;
        if (!(L->post_ff_norm = norm_weight(m, NAME("post_feedforward_layernorm.weight"), c->hidden_size))) return -1;
    }
    int qkv_bias = c->attention_bias || lm_has_weight(m, NAME("self_attn.q_proj.bias"));
    if (m->arch.fused_qkv) {
        lm_linear fused;
        if (lm_linear_load(m, NAME("self_attn.qkv_proj"), qdim + 2 * kvdim, c->hidden_size, 0, &fused)) return -1;
        int rc = lm_linear_rows(&fused, 0, qdim, &L->q) || lm_linear_rows(&fused, qdim, kvdim, &L->k) ||
                 lm_linear_rows(&fused, qdim + kvdim, kvdim, &L->v);
        lm_linear_release(&fused);
        if (rc) return -1;
    } else {
        if (lm_linear_load(m, NAME("self_attn.q_proj"), qdim, c->hidden_size, qkv_bias, &L->q)) return -1;
        if (lm_linear_load(m, NAME("self_attn.k_proj"), kvdim, c->hidden_size, qkv_bias, &L->k)) return -1;
        if (lm_linear_load(m, NAME("self_attn.v_proj"), kvdim, c->hidden_size, qkv_bias, &L->v)) return -1;
    }
    if (lm_linear_load(m, NAME("self_attn.o_proj"), c->hidden_size, qdim, c->attention_bias && lm_has_weight(m, NAME("self_attn.o_proj.bias")), &L->o))
        return -1;
    if (m->arch.qk_norm) {
        if (!(L->q_norm = norm_weight(m, NAME("self_attn.q_norm.weight"), hd))) return -1;
        if (!(L->k_norm = norm_weight(m, NAME("self_attn.k_norm.weight"), hd))) return -1;
    }
    L->sliding = c->layer_sliding[i];
    L->rope = L->sliding && c->has_rope_local ? &m->rope_local : &m->rope_global;
    int sparse = m->arch.moe && !c->layer_dense[i] && c->num_experts > 0 &&
                 (c->decoder_sparse_step <= 1 || (i + 1) % c->decoder_sparse_step == 0);
    if (sparse) {
        L->moe = 1;
        const char *mp = m->arch.moe_prefix;
        char sp[320], ef[384];
        int64_t inter = c->moe_intermediate_size;
        snprintf(sp, sizeof sp, "%s.%s.gate", p, mp);
        if (lm_linear_load(m, sp, c->num_experts, c->hidden_size, 0, &L->router)) return -1;
        lm_switch_linear *sw[3] = {&L->sw_gate, &L->sw_up, &L->sw_down};
        const char *mlx_names[3] = {"gate_proj", "up_proj", "down_proj"};
        for (int j = 0; j < 3; j++) {
            int64_t out = j == 2 ? c->hidden_size : inter, in = j == 2 ? inter : c->hidden_size;
            snprintf(sp, sizeof sp, "%s.%s.switch_mlp.%s", p, mp, mlx_names[j]);
            snprintf(ef, sizeof ef, "%s.%s.experts.%%d.%s.weight", p, mp, m->arch.expert_names[j]);
            if (lm_switch_load(m, sp, ef, c->num_experts, out, in, sw[j])) return -1;
        }
    } else if (m->arch.fused_gate_up) {
        lm_linear fused;
        if (lm_linear_load(m, NAME("mlp.gate_up_proj"), 2 * (int64_t)c->intermediate_size, c->hidden_size, 0, &fused))
            return -1;
        int rc = lm_linear_rows(&fused, 0, c->intermediate_size, &L->gate) ||
                 lm_linear_rows(&fused, c->intermediate_size, c->intermediate_size, &L->up);
        lm_linear_release(&fused);
        if (rc) return -1;
        if (lm_linear_load(m, NAME("mlp.down_proj"), c->hidden_size, c->intermediate_size, 0, &L->down)) return -1;
    } else {
        if (lm_linear_load(m, NAME("mlp.gate_proj"), c->intermediate_size, c->hidden_size, c->mlp_bias, &L->gate)) return -1;
        if (lm_linear_load(m, NAME("mlp.up_proj"), c->intermediate_size, c->hidden_size, c->mlp_bias, &L->up)) return -1;
        if (lm_linear_load(m, NAME("mlp.down_proj"), c->hidden_size, c->intermediate_size, c->mlp_bias, &L->down)) return -1;
    }
#undef NAME
    return 0;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int load_all(lm_model *m, const lm_load_options *o) {
    if (lm_config_load(m->dir, &m->cfg) || lm_arch_setup(m)) return -1;
    const lm_config *c = &m->cfg;
    m->st = mx_safetensors_open(m->dir);
    if (!m->st) return -1;
    if (!mx_safetensors_has(m->st, "model.embed_tokens.weight") &&
        mx_safetensors_has(m->st, "language_model.model.embed_tokens.weight"))
        snprintf(m->weight_prefix, sizeof m->weight_prefix, "language_model.");
    /* float dtype: the requested one, else the checkpoint's (from the embedding / a norm) */
    m->dtype = o->dtype;
    if (m->dtype == MX_DTYPE_COUNT) {
        char pn[64];
        snprintf(pn, sizeof pn, "%smodel.norm.weight", m->weight_prefix);
        mx_array *probe = mx_safetensors_has(m->st, pn) ? mx_safetensors_get(m->st, pn) : NULL;
        m->dtype = probe && mx_dtype_is_float(mx_array_dtype(probe)) ? mx_array_dtype(probe) : MX_BFLOAT16;
    }
    if (!mx_dtype_is_float(m->dtype))
        return mx_set_error("[load] dtype %s is not a float type", mx_dtype_name(m->dtype));
    if (lm_linear_load(m, "model.embed_tokens", c->vocab_size, c->hidden_size, 0, &m->embed)) return -1;
    m->tied = c->tie_word_embeddings || !lm_has_weight(m, "lm_head.weight");
    if (m->tied) {
        m->lm_head = m->embed;
        m->lm_head.weight = mx_retain(m->embed.weight);
        m->lm_head.scales = mx_retain(m->embed.scales);
        m->lm_head.biases = mx_retain(m->embed.biases);
    } else if (lm_linear_load(m, "lm_head", c->vocab_size, c->hidden_size, 0, &m->lm_head)) {
        return -1;
    }
    if (!(m->final_norm = norm_weight(m, "model.norm.weight", c->hidden_size))) return -1;
    if (lm_rope_init(&m->rope_global, &c->rope, c->head_dim, c->partial_rotary_factor, c->max_position)) return -1;
    if (c->has_rope_local &&
        lm_rope_init(&m->rope_local, &c->rope_local, c->head_dim, c->partial_rotary_factor, c->max_position))
        return -1;
    m->attn_scale = (float)(1.0 / sqrt(c->query_pre_attn_scalar > 0 ? c->query_pre_attn_scalar : c->head_dim));
    m->layers = calloc((size_t)c->num_layers, sizeof *m->layers);
    if (!m->layers) return mx_set_error("[load] out of memory");
    for (int i = 0; i < c->num_layers; i++)
        if (load_layer(m, i)) return -1;
    return 0;
}

lm_model *lm_model_load(const char *model, const lm_load_options *opt) {
    lm_load_options o = opt ? *opt : lm_load_options_default();
    if (!model || !*model) {
        mx_set_error("[load] no model given");
        return NULL;
    }
    lm_model *m = calloc(1, sizeof *m);
    if (!m) {
        mx_set_error("[load] out of memory");
        return NULL;
    }
    if (is_dir(model)) {
        m->dir = strdup(model);
    } else if (lm_hub_is_repo_id(model)) {
        lm_hub_options ho;
        memset(&ho, 0, sizeof ho);
        if (!o.quiet) ho.progress = lm_hub_progress_stderr;
        if (lm_hub_resolve(model, o.revision, &ho, &m->dir)) {
            free(m);
            return NULL;
        }
    } else {
        mx_set_error("[load] \"%s\" is neither a directory nor a Hugging Face repo id (org/name)", model);
        free(m);
        return NULL;
    }
    if (!m->dir) {
        free(m);
        mx_set_error("[load] out of memory");
        return NULL;
    }
    mx_pool *pool = mx_pool_begin();
    int rc = pool ? load_all(m, &o) : -1;
    mx_pool_end(pool);
    if (rc) {
        lm_model_free(m);
        return NULL;
    }
    return m;
}

static void free_layer(lm_layer *L) {
    mx_array *arrs[] = {L->input_norm, L->post_attn_norm, L->pre_ff_norm, L->post_ff_norm, L->q_norm, L->k_norm};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) mx_free(arrs[i]);
    lm_linear *ls[] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down, &L->router,
                       &L->sw_gate.l, &L->sw_up.l, &L->sw_down.l};
    for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++) lm_linear_release(ls[i]);
}

void lm_model_free(lm_model *m) {
    if (!m) return;
    if (m->layers)
        for (int i = 0; i < m->cfg.num_layers; i++) free_layer(&m->layers[i]);
    free(m->layers);
    lm_linear_release(&m->embed);
    lm_linear_release(&m->lm_head);
    mx_free(m->final_norm);
    mx_free(m->rope_global.freqs);
    mx_free(m->rope_local.freqs);
    if (m->st) mx_safetensors_close(m->st);
    lm_config_release(&m->cfg);
    free(m->dir);
    free(m);
}

const char *lm_model_dir(const lm_model *m) { return m->dir; }
const char *lm_model_type(const lm_model *m) { return m->cfg.model_type; }
int lm_model_vocab_size(const lm_model *m) { return m->cfg.vocab_size; }
int lm_model_num_layers(const lm_model *m) { return m->cfg.num_layers; }
int64_t lm_model_max_position(const lm_model *m) { return m->cfg.max_position; }
size_t lm_model_weight_bytes(const lm_model *m) { return m->weight_bytes; }
const int32_t *lm_model_eos_ids(const lm_model *m, int *n) {
    *n = m->cfg.n_eos;
    return m->cfg.eos_ids;
}
