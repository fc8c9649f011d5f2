/* Batched greedy decoding for `cmlx bench -b N` (mlx_lm.benchmark's batch size): N prompts of
 * the same length decoded together, one forward pass of [N, T] ids a step through one cache.
 * Equal lengths need no padding or masks, so this is the model's ordinary batched forward;
 * the loop mirrors lm_generate's (the next step is scheduled before the current one is
 * waited for, so graph building overlaps computation). */
#include <string.h>
#include <time.h>

#include "cmlx/cmlx.h"
#include "cmlx/lm_bench.h"
#include "cmlx/lm_model.h"
#include "lm/generate/drain.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The model on ids [B, T] from the cache's state, and the greedy next ids [B, 1] (int32, kept:
 * the caller frees them). */
static mx_array *greedy_step(lm_model *m, const mx_array *ids, lm_cache *cache) {
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    mx_array *logits = lm_model_forward_last(m, ids, cache); /* [B, 1, V] */
    mx_array *y = mx_keep(mx_astype(mx_argmax(logits, -1, 0), MX_INT32));
    mx_pool_end(pool);
    return y;
}

int lm_bench_trial_batch(lm_model *m, const int32_t *prompts, int batch, size_t n_prompt, int n_gen,
                         lm_bench_result *r) {
    memset(r, 0, sizeof *r);
    if (batch < 1) return mx_set_error("[bench] the batch size must be at least 1 (got %d)", batch);
    if (batch == 1) return lm_bench_trial(m, prompts, n_prompt, n_gen, r);
    if (n_gen < 1) return mx_set_error("[bench] generation tokens must be at least 1 (got %d)", n_gen);
    if (n_prompt == 0) return mx_set_error("[bench] the prompts are empty");
    lm_cache *cache = lm_cache_new(m, NULL);
    if (!cache) return -1;
    mx_reset_peak_memory();
    int rc = -1;
    mx_array *y = NULL, *next = NULL;
    double t0 = now_s(), t_first = 0;
    /* the prompts in chunks of 2048 positions (lm_generate's prefill step), the cache
     * evaluated after each but the last */
    const size_t chunk = 2048;
    for (size_t pos = 0; pos < n_prompt;) {
        size_t len = n_prompt - pos > chunk ? chunk : n_prompt - pos;
        mx_pool *pool = mx_pool_begin();
        if (!pool) goto done;
        /* rows [pos, pos + len) of every prompt, as [batch, len] */
        mx_array *all = mx_array_from_data(prompts, (int64_t[]){batch, (int64_t)n_prompt}, 2, MX_INT32);
        mx_array *ids = mx_slice_axis(all, 1, (int64_t)pos, (int64_t)(pos + len));
        pos += len;
        int last = pos == n_prompt, bad = !ids;
        if (!bad && last) bad = !(y = greedy_step(m, ids, cache));
        else if (!bad) bad = !lm_model_forward(m, ids, cache);
        mx_pool_end(pool);
        if (bad || (!last && lm_cache_eval(cache))) goto done;
    }
    if (mx_eval1(y)) goto done;
    t_first = now_s();
    for (int n = 1; n < n_gen; n++) {
        if (!(next = greedy_step(m, y, cache)) || mx_async_eval(&next, 1)) goto done;
        if (mx_eval1(y)) goto done;
        mx_free(y);
        y = next;
        next = NULL;
    }
    if (mx_eval1(y)) goto done;
    double t_end = now_s();
    r->prompt_tokens = (int64_t)batch * (int64_t)n_prompt;
    r->generation_tokens = (int64_t)batch * n_gen;
    r->prompt_s = t_first - t0;
    r->generation_s = t_end - t_first;
    r->prompt_tps = r->prompt_s > 0 ? (double)r->prompt_tokens / r->prompt_s : 0;
    r->generation_tps = r->generation_s > 0 ? (double)r->generation_tokens / r->generation_s : 0;
    r->peak_memory_gb = (double)mx_get_peak_memory() / 1e9;
    rc = 0;
done:
    lm_drain_steps(y, next, rc != 0);
    mx_free(next);
    mx_free(y);
    lm_cache_free(cache);
    return rc;
}
