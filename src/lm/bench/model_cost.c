/* What one token costs a loaded model: the bytes of weights a decoded token must read and
 * the parameters it multiplies; plus timed lm_generate trials and the process's peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/lm_bench.h"
#include "cmlx/lm_generate.h"
#include "lm/models/model_impl.h"

static size_t nbytes(const mx_array *a) { return a ? mx_nbytes(a) : 0; }

static size_t linear_bytes(const lm_linear *l) {
    return nbytes(l->weight) + nbytes(l->bias) + nbytes(l->scales) + nbytes(l->biases);
}

/* Multiplied parameters (unquantized count) of a Linear or an expert stack. */
static double linear_params(const lm_linear *l, int experts) {
    if (!l->weight) return 0;
    return (double)l->out_features * (double)l->in_features * (experts > 0 ? experts : 1);
}

int lm_model_cost_of(const lm_model *m, lm_model_cost *c) {
    memset(c, 0, sizeof *c);
    const lm_config *cfg = &m->cfg;
    double per_tok = 0, total = 0; /* bytes read per token, all parameters */
    double mm = 0;
    for (int i = 0; i < cfg->num_layers; i++) {
        const lm_layer *L = &m->layers[i];
        const mx_array *norms[] = {L->input_norm, L->post_attn_norm, L->pre_ff_norm, L->post_ff_norm, L->q_norm, L->k_norm};
        for (size_t k = 0; k < sizeof norms / sizeof norms[0]; k++) {
            per_tok += (double)nbytes(norms[k]);
            total += norms[k] ? (double)mx_size(norms[k]) : 0;
        }
        const lm_linear *dense[] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down, &L->router};
        for (size_t k = 0; k < sizeof dense / sizeof dense[0]; k++) {
            per_tok += (double)linear_bytes(dense[k]);
            mm += linear_params(dense[k], 0);
            total += linear_params(dense[k], 0);
        }
        if (L->moe) {
            const lm_switch_linear *sw[] = {&L->sw_gate, &L->sw_up, &L->sw_down};
            double share = cfg->num_experts > 0 ? (double)cfg->experts_per_tok / cfg->num_experts : 1;
            for (int k = 0; k < 3; k++) {
                per_tok += share * (double)linear_bytes(&sw[k]->l);
                mm += share * linear_params(&sw[k]->l, sw[k]->num_experts);
                total += linear_params(&sw[k]->l, sw[k]->num_experts);
            }
        }
    }
    per_tok += (double)nbytes(m->final_norm);
    total += m->final_norm ? (double)mx_size(m->final_norm) : 0;
    /* the head reads its whole matrix; a separate embedding table only one row */
    per_tok += (double)linear_bytes(&m->lm_head);
    mm += linear_params(&m->lm_head, 0);
    total += linear_params(&m->lm_head, 0);
    if (!m->tied) {
        per_tok += (double)linear_bytes(&m->embed) / (double)(cfg->vocab_size > 0 ? cfg->vocab_size : 1);
        total += linear_params(&m->embed, 0);
    }
    /* the KV cache: keys and values of num_kv_heads x head_dim per attention layer */
    size_t per_layer = 2 * (size_t)cfg->num_kv_heads * (size_t)cfg->head_dim * mx_dtype_size(m->dtype);
    for (int i = 0; i < cfg->num_layers; i++) {
        if (cfg->sliding_window > 0 && cfg->layer_sliding[i]) c->kv_window_bytes_per_position += per_layer;
        else c->kv_bytes_per_position += per_layer;
    }
    c->sliding_window = cfg->sliding_window;
    c->weight_bytes = lm_model_weight_bytes(m);
    c->bytes_per_token = (size_t)per_tok;
    c->matmul_params = mm;
    c->total_params = total;
    return 0;
}

double lm_model_kv_bytes_per_step(const lm_model_cost *c, int64_t n_prompt, int64_t n_gen) {
    if (n_gen < 2) return 0;
    double sum = 0;
    for (int64_t j = 1; j < n_gen; j++) { /* the step that feeds token j: n_prompt + j positions */
        int64_t ctx = n_prompt + j, win = c->sliding_window > 0 && ctx > c->sliding_window ? c->sliding_window : ctx;
        sum += (double)c->kv_bytes_per_position * (double)ctx + (double)c->kv_window_bytes_per_position * (double)win;
    }
    return sum / (double)(n_gen - 1);
}

int lm_bench_trial(lm_model *m, const int32_t *prompt, size_t n_prompt, int n_gen, lm_bench_result *r) {
    memset(r, 0, sizeof *r);
    if (n_gen < 1) return mx_set_error("[bench] generation tokens must be at least 1 (got %d)", n_gen);
    lm_generate_params p = lm_generate_default();
    p.max_tokens = n_gen;
    p.sampler = lm_sampler_default();  /* greedy */
    /* mlx_lm.benchmark loads the tokenizer with no EOS ids so that every trial generates
     * exactly n_gen tokens; the model's own EOS ids are switched off the same way here. */
    int saved_n_eos = m->cfg.n_eos;
    m->cfg.n_eos = 0;
    lm_generation_stats st;
    memset(&st, 0, sizeof st);
    int rc = lm_generate(m, NULL, prompt, n_prompt, &p, NULL, NULL, &st);
    m->cfg.n_eos = saved_n_eos;
    if (rc) return -1;
    r->prompt_tokens = st.prompt_tokens;
    r->generation_tokens = st.generation_tokens;
    r->prompt_tps = st.prompt_tps;
    r->generation_tps = st.generation_tps;
    r->peak_memory_gb = st.peak_memory_gb;
    r->prompt_s = st.prompt_tps > 0 ? (double)st.prompt_tokens / st.prompt_tps : 0;
    r->generation_s = st.generation_tps > 0 ? (double)st.generation_tokens / st.generation_tps : 0;
    if (st.generation_tokens != n_gen)
        return mx_set_error("[bench] generated %lld tokens instead of %d", (long long)st.generation_tokens, n_gen);
    return 0;
}

int lm_bench_peak_rss_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return mx_set_error("[bench] cannot open /proc/self/clear_refs to reset the peak RSS");
    int ok = fputs("5", f) >= 0;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : mx_set_error("[bench] cannot reset the peak RSS through /proc/self/clear_refs");
}

/* A field of /proc/self/status (VmHWM, VmRSS: kB there) in bytes; 0 when unknown. */
static double status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    double v = 0;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = atof(line + kl + 1);
            break;
        }
    fclose(f);
    return v * 1024.0;
}

double lm_bench_peak_rss_gb(void) { return status_kb("VmHWM") / 1e9; }
double lm_bench_rss_gb(void) { return status_kb("VmRSS") / 1e9; }
