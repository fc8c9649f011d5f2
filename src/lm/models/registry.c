/* model_type -> architecture switches. One entry per supported family; aliases share one. */
#include <string.h>

#include "lm/models/model_impl.h"
#include "util/strbuf.h"

typedef struct {
    const char *model_type;
    void (*setup)(lm_arch *a);
} arch_entry;

static void llama(lm_arch *a) { (void)a; }

static void qwen3(lm_arch *a) { a->qk_norm = 1; }

static void qwen3_moe(lm_arch *a) {
    a->qk_norm = 1;
    a->moe = 1;
    a->moe_prefix = "mlp";
    a->expert_names[0] = "gate_proj";
    a->expert_names[1] = "up_proj";
    a->expert_names[2] = "down_proj";
}

static void mixtral(lm_arch *a) {
    a->moe = 1;
    a->moe_softmax_after_topk = 1;
    a->moe_prefix = "block_sparse_moe";
    a->expert_names[0] = "w1";
    a->expert_names[1] = "w3";
    a->expert_names[2] = "w2";
}

static void gemma3(lm_arch *a) {
    a->norm_plus_one = 1;
    a->sandwich_norms = 1;
    a->qk_norm = 1;
    a->embed_scale = 1;
}

static void phi3(lm_arch *a) {
    a->fused_qkv = 1;
    a->fused_gate_up = 1;
}

static const arch_entry archs[] = {
    {"llama", llama},     {"mistral", llama},     {"qwen2", llama},         {"qwen3", qwen3},
    {"qwen3_moe", qwen3_moe}, {"mixtral", mixtral}, {"gemma3_text", gemma3}, {"gemma3", gemma3},
    {"phi3", phi3},
};

static const char *const names[] = {"llama", "mistral", "qwen2", "qwen3", "qwen3_moe", "mixtral",
                                    "gemma3_text", "gemma3", "phi3", NULL};

const char *const *lm_supported_model_types(void) { return names; }

int lm_arch_setup(lm_model *m) {
    memset(&m->arch, 0, sizeof m->arch);
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (!strcmp(archs[i].model_type, m->cfg.model_type)) {
            archs[i].setup(&m->arch);
            return 0;
        }
    strbuf sb = STRBUF_INIT;
    for (int i = 0; names[i]; i++) strbuf_printf(&sb, "%s%s", i ? ", " : "", names[i]);
    mx_set_error("[load] %s: model_type \"%s\" is not supported (supported: %s)", m->dir, m->cfg.model_type,
                 sb.data ? sb.data : "");
    strbuf_free(&sb);
    return -1;
}
