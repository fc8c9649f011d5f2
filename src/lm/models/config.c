/* config.json parsing with the defaults transformers and mlx-lm apply. */
#include "lm/models/config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cmlx/error.h"

static int get_int(json_t *o, const char *key, int def) {
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) return (int)json_integer_value(v);
    if (json_is_real(v)) return (int)json_real_value(v);
    return def;
}

static double get_num(json_t *o, const char *key, double def) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

static int get_bool(json_t *o, const char *key, int def) {
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

static void read_rope(json_t *r, double default_theta, lm_rope_config *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->type, sizeof out->type, "default");
    out->theta = default_theta;
    out->factor = 1;
    if (!json_is_object(r)) return;
    const char *t = json_string_value(json_object_get(r, "rope_type"));
    if (!t) t = json_string_value(json_object_get(r, "type"));
    if (t) snprintf(out->type, sizeof out->type, "%s", t);
    out->theta = get_num(r, "rope_theta", default_theta);
    out->factor = get_num(r, "factor", 1);
    out->low_freq_factor = get_num(r, "low_freq_factor", 1);
    out->high_freq_factor = get_num(r, "high_freq_factor", 4);
    out->original_max_position = get_num(r, "original_max_position_embeddings", 0);
    out->beta_fast = get_num(r, "beta_fast", 32);
    out->beta_slow = get_num(r, "beta_slow", 1);
    out->mscale = get_num(r, "mscale", 1);
    out->mscale_all_dim = get_num(r, "mscale_all_dim", 0);
    out->attention_factor = get_num(r, "attention_factor", 0);
}

static void read_eos(json_t *v, lm_config *cfg) {
    if (json_is_integer(v)) {
        cfg->n_eos = 0;
        cfg->eos_ids[cfg->n_eos++] = (int32_t)json_integer_value(v);
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        cfg->n_eos = 0;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (json_is_integer(e) && cfg->n_eos < LM_MAX_EOS)
            cfg->eos_ids[cfg->n_eos++] = (int32_t)json_integer_value(e);
    }
}

int lm_config_load(const char *dir, lm_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_error_t jerr;
    json_t *c = json_load_file(path, 0, &jerr);
    if (!c) {
        FILE *f = fopen(path, "rb");
        if (!f) return mx_set_error("[load] %s: no config.json in the model directory", path);
        fclose(f);
        return mx_set_error("[load] %s: invalid JSON at line %d, column %d: %s", path, jerr.line, jerr.column, jerr.text);
    }
    if (!json_is_object(c)) {
        json_decref(c);
        return mx_set_error("[load] %s: the top level is not a JSON object", path);
    }
    /* gemma3 multimodal checkpoints keep the language model's settings in text_config */
    json_t *tc = json_object_get(c, "text_config");
    json_t *o = json_is_object(tc) ? tc : c;
    const char *mt = json_string_value(json_object_get(c, "model_type"));
    if (!mt) {
        json_decref(c);
        return mx_set_error("[load] %s: missing \"model_type\"", path);
    }
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", mt);
    static const char *required[] = {"hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!json_is_integer(json_object_get(o, required[i]))) {
            json_decref(c);
            return mx_set_error("[load] %s: missing or non-integer \"%s\"", path, required[i]);
        }
    cfg->hidden_size = get_int(o, "hidden_size", 0);
    cfg->num_layers = get_int(o, "num_hidden_layers", 0);
    cfg->num_heads = get_int(o, "num_attention_heads", 0);
    cfg->num_kv_heads = get_int(o, "num_key_value_heads", cfg->num_heads);
    cfg->vocab_size = get_int(o, "vocab_size", 0);
    cfg->head_dim = get_int(o, "head_dim", cfg->num_heads ? cfg->hidden_size / cfg->num_heads : 0);
    cfg->intermediate_size = get_int(o, "intermediate_size", 4 * cfg->hidden_size);
    if (cfg->hidden_size <= 0 || cfg->num_layers <= 0 || cfg->num_heads <= 0 || cfg->num_kv_heads <= 0 ||
        cfg->vocab_size <= 0 || cfg->head_dim <= 0 || cfg->num_heads % cfg->num_kv_heads) {
        json_decref(c);
        return mx_set_error("[load] %s: inconsistent sizes (hidden %d, layers %d, heads %d, kv heads %d, head_dim %d, "
                            "vocab %d)", path, cfg->hidden_size, cfg->num_layers, cfg->num_heads, cfg->num_kv_heads,
                            cfg->head_dim, cfg->vocab_size);
    }
    if (cfg->num_layers > LM_MAX_LAYERS) {
        json_decref(c);
        return mx_set_error("[load] %s: %d layers; at most %d are supported", path, cfg->num_layers, LM_MAX_LAYERS);
    }
    cfg->norm_eps = get_num(o, "rms_norm_eps", get_num(o, "layer_norm_eps", 1e-6));
    cfg->tie_word_embeddings = get_bool(c, "tie_word_embeddings", get_bool(o, "tie_word_embeddings", 0));
    cfg->max_position = get_int(o, "max_position_embeddings", 0);
    const char *act = json_string_value(json_object_get(o, "hidden_activation"));
    if (!act) act = json_string_value(json_object_get(o, "hidden_act"));
    cfg->act = !act || !strcmp(act, "silu") || !strcmp(act, "swish") ? LM_ACT_SILU
               : strstr(act, "tanh") || !strcmp(act, "gelu_new") || !strcmp(act, "gelu_fast") ? LM_ACT_GELU_TANH
                                                                                               : LM_ACT_GELU;
    cfg->attention_bias = get_bool(o, "attention_bias", 0);
    cfg->mlp_bias = get_bool(o, "mlp_bias", 0);

    /* RoPE: transformers 5 puts everything in rope_parameters (gemma3: one dict per layer
     * type); transformers 4 uses rope_theta + rope_scaling. */
    json_t *rp = json_object_get(o, "rope_parameters");
    double theta = get_num(o, "rope_theta", 10000);
    cfg->partial_rotary_factor = get_num(o, "partial_rotary_factor", 1);
    if (json_is_object(rp) && json_is_object(json_object_get(rp, "full_attention"))) {
        read_rope(json_object_get(rp, "full_attention"), theta, &cfg->rope);
        read_rope(json_object_get(rp, "sliding_attention"), get_num(o, "rope_local_base_freq", 10000), &cfg->rope_local);
        cfg->has_rope_local = 1;
    } else if (json_is_object(rp)) {
        read_rope(rp, theta, &cfg->rope);
        cfg->partial_rotary_factor = get_num(rp, "partial_rotary_factor", cfg->partial_rotary_factor);
    } else {
        read_rope(json_object_get(o, "rope_scaling"), theta, &cfg->rope);
        cfg->rope.theta = theta;
    }
    if (!strcmp(cfg->model_type, "gemma3_text") || !strcmp(cfg->model_type, "gemma3")) {
        if (!cfg->has_rope_local) {
            read_rope(NULL, get_num(o, "rope_local_base_freq", 10000), &cfg->rope_local);
            if (!json_object_get(o, "rope_theta")) cfg->rope.theta = 1000000;
            cfg->has_rope_local = 1;
        }
    }
    /* sliding windows: layer_types, else a pattern (every n-th layer global) */
    json_t *sw = json_object_get(o, "sliding_window");
    cfg->sliding_window = json_is_integer(sw) ? (int)json_integer_value(sw) : 0;
    int use_sw = get_bool(o, "use_sliding_window", 1);
    json_t *lt = json_object_get(o, "layer_types");
    if (json_is_array(lt) && (int)json_array_size(lt) == cfg->num_layers) {
        for (int i = 0; i < cfg->num_layers; i++) {
            const char *s = json_string_value(json_array_get(lt, (size_t)i));
            cfg->layer_sliding[i] = s && !strcmp(s, "sliding_attention");
        }
    } else if (json_is_integer(json_object_get(o, "sliding_window_pattern"))) {
        int p = get_int(o, "sliding_window_pattern", 1);
        for (int i = 0; i < cfg->num_layers; i++) cfg->layer_sliding[i] = p > 0 && (i + 1) % p != 0;
    } else if (cfg->sliding_window > 0 && use_sw) {
        /* mistral-style: every layer uses the window */
        for (int i = 0; i < cfg->num_layers; i++) cfg->layer_sliding[i] = 1;
    }
    if (!use_sw || cfg->sliding_window <= 0)
        for (int i = 0; i < cfg->num_layers; i++) cfg->layer_sliding[i] = 0;
    cfg->query_pre_attn_scalar = get_num(o, "query_pre_attn_scalar", 0);
    cfg->attn_softcap = get_num(o, "attn_logit_softcapping", 0);
    cfg->final_softcap = get_num(o, "final_logit_softcapping", 0);
    /* mixture of experts */
    cfg->num_experts = get_int(o, "num_experts", get_int(o, "num_local_experts", 0));
    cfg->experts_per_tok = get_int(o, "num_experts_per_tok", 0);
    cfg->moe_intermediate_size = get_int(o, "moe_intermediate_size", cfg->intermediate_size);
    cfg->norm_topk_prob = get_bool(o, "norm_topk_prob", 0);
    cfg->decoder_sparse_step = get_int(o, "decoder_sparse_step", 1);
    json_t *mol = json_object_get(o, "mlp_only_layers");
    if (json_is_array(mol)) {
        size_t i;
        json_t *e;
        json_array_foreach(mol, i, e) {
            json_int_t l = json_integer_value(e);
            if (l >= 0 && l < cfg->num_layers) cfg->layer_dense[l] = 1;
        }
    }
    /* quantization */
    json_t *q = json_object_get(c, "quantization");
    if (!json_is_object(q)) q = json_object_get(c, "quantization_config");
    if (json_is_object(q) && json_is_integer(json_object_get(q, "bits"))) {
        cfg->q_bits = get_int(q, "bits", 0);
        cfg->q_group_size = get_int(q, "group_size", 64);
        const char *m = json_string_value(json_object_get(q, "mode"));
        snprintf(cfg->q_mode, sizeof cfg->q_mode, "%s", m ? m : "affine");
        cfg->quantization = json_incref(q);
    }
    cfg->bos_id = get_int(c, "bos_token_id", -1);
    cfg->n_eos = 0;
    read_eos(json_object_get(c, "eos_token_id"), cfg);
    json_decref(c);
    /* generation_config.json's eos_token_id wins (mlx-lm copies it into the config) */
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    json_t *g = json_load_file(path, 0, &jerr);
    if (g) {
        read_eos(json_object_get(g, "eos_token_id"), cfg);
        json_decref(g);
    }
    return 0;
}

void lm_config_release(lm_config *cfg) {
    if (cfg->quantization) json_decref(cfg->quantization);
    cfg->quantization = NULL;
}

void lm_config_quant_for(const lm_config *cfg, const char *path, int *bits, int *group_size) {
    *bits = cfg->q_bits;
    *group_size = cfg->q_group_size;
    json_t *o = cfg->quantization ? json_object_get(cfg->quantization, path) : NULL;
    if (json_is_object(o)) {
        *bits = get_int(o, "bits", *bits);
        *group_size = get_int(o, "group_size", *group_size);
    }
}
