/* Text generation (mirrors mlx_lm.generate / stream_generate): samplers, logits processors,
 * chunked prefill and the double-buffered decode loop. */
#ifndef CMLX_LM_GENERATE_H
#define CMLX_LM_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "cmlx/array.h"
#include "cmlx/lm_model.h"
#include "cmlx/lm_tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sampling settings with mlx-lm's meanings and defaults (lm_sampler_default). Applied in
 * mlx-lm's order: top_p, min_p, xtc, top_k, then temperature; greedy when temp is 0. */
typedef struct lm_sampler_params {
    float temp;                  /* 0: argmax */
    float top_p;                 /* 0 or 1: off */
    float min_p;                 /* 0: off */
    int min_tokens_to_keep;      /* for min_p (default 1) */
    int top_k;                   /* 0: off */
    float xtc_probability, xtc_threshold;
    /* logits processors (applied first) */
    float repetition_penalty;    /* 0 or 1: off */
    int repetition_context_size; /* default 20 */
    float presence_penalty, frequency_penalty;
    int penalty_context_size;    /* for presence/frequency (default 20) */
    const int32_t *logit_bias_ids;
    const float *logit_bias_values;
    int n_logit_bias;
    uint64_t seed;
    int use_seed;                /* 0: global random state */
} lm_sampler_params;

lm_sampler_params lm_sampler_default(void);

/* One streamed step. */
typedef struct lm_response {
    const char *text;            /* newly final text (may be "") */
    int32_t token;
    int64_t prompt_tokens, generation_tokens;
    double prompt_tps, generation_tps;
    double peak_memory_gb;
    const char *finish_reason;   /* NULL while generating, then "stop" or "length" */
    int from_draft;              /* speculative decoding: the draft proposed this token */
} lm_response;

/* Return non-zero to stop generating. */
typedef int (*lm_response_fn)(const lm_response *r, void *ctx);

typedef struct lm_generate_params {
    int max_tokens;              /* default 256; -1: until EOS */
    lm_sampler_params sampler;
    int prefill_step_size;       /* default 2048 */
    const int32_t *extra_eos;    /* extra stop token ids */
    int n_extra_eos;
    const char *const *stop_strings;  /* stop when the text contains one (not printed) */
    int n_stop_strings;
    lm_cache *cache;             /* reuse this cache (a prompt cache); NULL: a fresh one */
    lm_cache_options cache_options;
    /* Speculative decoding (mlx-lm's speculative_generate_step): the draft model proposes
     * num_draft_tokens tokens, the model checks them in one forward pass and keeps the
     * agreeing prefix plus its own next token. Greedy output is the same as without a draft.
     * The draft must use the same tokenizer (vocabulary sizes may differ only by padding
     * beyond the tokenizer's ids). On return both caches hold the prompt and every
     * generated token, as the cache does without a draft. */
    lm_model *draft_model;       /* NULL: off */
    int num_draft_tokens;        /* default 3; 0 drafts nothing */
    lm_cache *draft_cache;       /* the draft's cache, kept like `cache` (NULL: a fresh one) */
    volatile int *interrupt;     /* when set non-zero, generation stops after the current token */
} lm_generate_params;

lm_generate_params lm_generate_default(void);

/* Statistics of a finished generation (what mlx-lm prints with --verbose). */
typedef struct lm_generation_stats {
    int64_t prompt_tokens, generation_tokens;
    double prompt_tps, generation_tps, peak_memory_gb;
    const char *finish_reason;
} lm_generation_stats;

/* Generates from prompt ids, calling fn for each token with the newly decoded text. The
 * tokenizer may be NULL (text is then ""). 0 or -1 (error set). */
int lm_generate(lm_model *m, const lm_tokenizer *tok, const int32_t *prompt, size_t n_prompt,
                const lm_generate_params *p, lm_response_fn fn, void *ctx, lm_generation_stats *stats);

/* Builds the sampling graph: int32 token ids [B] from logits [B, V]. `history` ([1, n] int32,
 * may be NULL) feeds the penalties. `key` may be NULL. Exposed for tests and the server. */
mx_array *lm_sample(const mx_array *logits, const mx_array *history, const lm_sampler_params *sp, const mx_array *key);

#ifdef __cplusplus
}
#endif
#endif
