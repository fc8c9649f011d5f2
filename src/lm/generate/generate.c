/* The generation loop (mlx-lm's generate_step + stream_generate): chunked prefill, then a
 * double-buffered decode loop in which token n+1's graph is built and scheduled
 * (async_eval) before token n is read, so graph building overlaps computation. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/lm_generate.h"
#include "cmlx/memory.h"
#include "cmlx/ops.h"
#include "cmlx/random.h"
#include "lm/generate/drain.h"
#include "lm/generate/speculative.h"
#include "lm/generate/token_stream.h"

lm_generate_params lm_generate_default(void) {
    lm_generate_params p;
    memset(&p, 0, sizeof p);
    p.max_tokens = 256;
    p.sampler = lm_sampler_default();
    p.prefill_step_size = 2048;
    p.cache_options = lm_cache_options_default();
    p.num_draft_tokens = 3;
    return p;
}

typedef struct {
    lm_model *m;
    lm_cache *cache;
    const lm_sampler_params *sp;
    mx_array *history;           /* [1, L] int32 (kept), when penalties need it */
    mx_array *key;               /* kept, when seeded */
} stepper;

static int needs_history(const lm_sampler_params *sp) {
    return (sp->repetition_penalty > 0 && sp->repetition_penalty != 1) || sp->presence_penalty != 0 ||
           sp->frequency_penalty != 0;
}

static void set_kept(mx_array **slot, mx_array *a) {
    mx_array *old = *slot;
    *slot = mx_keep(a);
    mx_free(old);
}

/* Runs the model on tokens [1, T] and samples the next token: a kept int32 [1] array. */
static mx_array *step(stepper *s, const mx_array *tokens) {
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    mx_array *logits = mx_squeeze(lm_model_forward_last(s->m, tokens, s->cache), (int[]){1}, 1);
    if (s->history) set_kept(&s->history, mx_concatenate((const mx_array *[]){s->history, tokens}, 2, 1));
    mx_array *key = NULL;
    if (s->key) {
        mx_array *ks = mx_random_split(s->key, 2);
        set_kept(&s->key, mx_reshape(mx_slice_axis(ks, 0, 0, 1), (int64_t[]){2}, 1));
        key = mx_reshape(mx_slice_axis(ks, 0, 1, 2), (int64_t[]){2}, 1);
    }
    mx_array *y = mx_keep(lm_sample(logits, s->history, s->sp, key));
    mx_pool_end(pool);
    return y;
}

int lm_generate(lm_model *m, const lm_tokenizer *tok, const int32_t *prompt, size_t n_prompt,
                const lm_generate_params *p_in, lm_response_fn fn, void *ctx, lm_generation_stats *stats) {
    lm_generate_params p = p_in ? *p_in : lm_generate_default();
    if (n_prompt == 0) return mx_set_error("[generate] the prompt is empty");
    if (p.draft_model) return lm_generate_speculative(m, tok, prompt, n_prompt, &p, fn, ctx, stats);
    int64_t maxpos = lm_model_max_position(m);
    lm_cache *cache = p.cache ? p.cache : lm_cache_new(m, &p.cache_options);
    if (!cache) return -1;
    int64_t cached = lm_cache_offset(cache);
    if (maxpos > 0 && p.cache_options.max_kv_size <= 0 && cached + (int64_t)n_prompt > maxpos) {
        if (!p.cache) lm_cache_free(cache);
        return mx_set_error("[generate] the prompt has %zu tokens (plus %lld cached), more than the model's context "
                            "of %lld (max_position_embeddings)", n_prompt, (long long)cached, (long long)maxpos);
    }
    int rc = -1;
    stepper s = {m, cache, &p.sampler, NULL, NULL};
    mx_array *y = NULL, *next = NULL;
    lm_token_stream ts; /* EOS, detokenizing, stop strings, statistics */
    int ts_ready = lm_token_stream_init(&ts, m, tok, &p, (int64_t)n_prompt, fn, ctx) == 0;
    if (!ts_ready) goto done;
    {
        /* mx_keep takes a reference on top of the pool's: without a pool of our own the
         * creator's reference would leak (or belong to a caller's pool) */
        mx_pool *pool = mx_pool_begin();
        if (p.sampler.use_seed) s.key = mx_keep(mx_random_key(p.sampler.seed));
        if (needs_history(&p.sampler))
            s.history = mx_keep(mx_array_from_data(prompt, (int64_t[]){1, (int64_t)n_prompt - 1}, 2, MX_INT32));
        mx_pool_end(pool);
        if ((p.sampler.use_seed && !s.key) || (needs_history(&p.sampler) && !s.history)) goto done;
    }
    /* prefill all but the last chunk, evaluating the cache after each chunk */
    size_t pos = 0, chunk = p.prefill_step_size > 0 ? (size_t)p.prefill_step_size : 2048;
    while (n_prompt - pos > chunk) {
        mx_pool *pool = mx_pool_begin();
        mx_array *t = mx_array_from_data(prompt + pos, (int64_t[]){1, (int64_t)chunk}, 2, MX_INT32);
        mx_array *lg = lm_model_forward(m, t, cache);
        int bad = !lg;
        mx_pool_end(pool);
        if (bad || lm_cache_eval(cache)) goto done;
        pos += chunk;
    }
    {
        mx_pool *pool = mx_pool_begin();
        mx_array *t = mx_array_from_data(prompt + pos, (int64_t[]){1, (int64_t)(n_prompt - pos)}, 2, MX_INT32);
        if (s.history) { /* the last prompt token joins the history inside step() */
            set_kept(&s.history, mx_array_from_data(prompt, (int64_t[]){1, (int64_t)pos}, 2, MX_INT32));
        }
        y = t ? step(&s, t) : NULL;
        mx_pool_end(pool);
    }
    if (!y || mx_async_eval(&y, 1)) goto done;
    for (int64_t n = 0;; n++) {
        /* The step after the last token only puts that token into the KV cache: kept for a
         * caller's cache (a conversation continues from it, as with mlx-lm), skipped otherwise
         * (one whole forward pass: a second token's time in a one-token generation). */
        if (n + 1 < p.max_tokens || (p.cache && n < p.max_tokens)) {
            mx_pool *pool = mx_pool_begin();
            next = step(&s, mx_reshape(y, (int64_t[]){1, 1}, 2));
            mx_pool_end(pool);
            if (!next || mx_async_eval(&next, 1)) goto done;
        }
        if (n == 0) {
            if (mx_eval1(y)) goto done;
            lm_token_stream_prompt_done(&ts);
        }
        if (n == p.max_tokens) break;
        int32_t token = (int32_t)mx_item_int(y);
        if (!mx_is_available(y)) goto done;
        if (lm_token_stream_push(&ts, token, 0)) break;
        if (n % 256 == 0) mx_clear_cache();
        mx_free(y);
        y = next;
        next = NULL;
    }
    lm_token_stream_finish(&ts, stats);
    rc = 0;
done:
    lm_drain_steps(y, next, rc != 0);
    mx_free(next);
    mx_free(y);
    mx_free(s.history);
    mx_free(s.key);
    if (ts_ready) lm_token_stream_free(&ts);
    if (!p.cache) lm_cache_free(cache);
    return rc;
}
