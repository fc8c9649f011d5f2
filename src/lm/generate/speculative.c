/* Speculative decoding (mlx-lm's speculative_generate_step). Each round the draft model
 * proposes k tokens one at a time with the sampler; the model then runs once over its
 * unprocessed tokens plus the k proposals, samples a token after every position, and keeps
 * the proposals up to the first disagreement plus its own token there (the correction, or
 * a bonus token when all k agree). Both caches then drop what they processed beyond the
 * kept tokens (lm_cache_trim). At temperature 0 the model's own tokens decide everything,
 * so the output is exactly that of plain greedy decoding.
 *
 * Bookkeeping: `seq` holds the prompt and every token emitted so far; each side (model or
 * draft) knows how many of seq's tokens its cache holds (cache offset minus the offset it
 * started from), so the tokens to feed next are always seq[fed..] (plus fresh drafts). */
#include "lm/generate/speculative.h"

#include <stdlib.h>
#include <string.h>

#include "cmlx/memory.h"
#include "cmlx/ops.h"
#include "cmlx/random.h"
#include "lm/generate/token_stream.h"

typedef struct {
    lm_model *model;
    lm_cache *cache;
    int64_t base;                /* cache offset when generation started: seq[i] is at base + i */
} side;

typedef struct {
    side main, draft;
    int32_t *seq;                /* prompt + emitted tokens */
    size_t len, cap;
    const lm_generate_params *p;
    int64_t vocab;               /* the model's: draft logits beyond it are dropped */
    int use_history;             /* penalties need the preceding tokens */
    mx_array *key;               /* kept, when seeded */
} spec;

static int64_t fed(const side *s) { return lm_cache_offset(s->cache) - s->base; }

static int seq_push(spec *s, int32_t t) {
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        int32_t *n = realloc(s->seq, cap * sizeof *n);
        if (!n) return mx_set_error("[generate] out of memory (%zu tokens)", cap);
        s->seq = n;
        s->cap = cap;
    }
    s->seq[s->len++] = t;
    return 0;
}

/* seq[from..to) as int32 [1, to-from]. */
static mx_array *seq_array(const spec *s, size_t from, size_t to) {
    return mx_array_from_data(s->seq + from, (int64_t[]){1, (int64_t)(to - from)}, 2, MX_INT32);
}

/* Feeds seq[fed..upto) to one side in prefill-sized chunks, evaluating the cache after each. */
static int feed_until(spec *s, side *sd, size_t upto) {
    size_t chunk = s->p->prefill_step_size > 0 ? (size_t)s->p->prefill_step_size : 2048;
    while ((size_t)fed(sd) < upto) {
        size_t from = (size_t)fed(sd), to = upto - from > chunk ? from + chunk : upto;
        mx_pool *pool = mx_pool_begin();
        if (!pool) return -1;
        int bad = !lm_model_forward(sd->model, seq_array(s, from, to), sd->cache);
        mx_pool_end(pool);
        if (bad || lm_cache_eval(sd->cache)) return -1;
    }
    return 0;
}

/* A fresh subkey for one sampling call (NULL when unseeded), advancing the kept key. */
static mx_array *next_key(spec *s) {
    if (!s->key) return NULL;
    mx_array *ks = mx_random_split(s->key, 2);
    mx_array *old = s->key;
    s->key = mx_keep(mx_reshape(mx_slice_axis(ks, 0, 0, 1), (int64_t[]){2}, 1));
    mx_free(old);
    return mx_reshape(mx_slice_axis(ks, 0, 1, 2), (int64_t[]){2}, 1);
}

/* Appends a token ([1] or [1, 1]) to a history [1, n] (a lazy graph). */
static mx_array *hist_append(const mx_array *hist, const mx_array *tok) {
    const mx_array *parts[2] = {hist, mx_reshape(tok, (int64_t[]){1, 1}, 2)};
    return mx_concatenate(parts, 2, 1);
}

/* The draft's proposals: k lazy int32 [1] tokens into out[] (owned by the open pool). */
static int draft_tokens(spec *s, int k, mx_array **out) {
    side *d = &s->draft;
    mx_array *in = seq_array(s, (size_t)fed(d), s->len);
    mx_array *hist = s->use_history ? seq_array(s, 0, s->len) : NULL;
    for (int j = 0; j < k; j++) {
        mx_array *logits = lm_model_forward(d->model, in, d->cache);
        int64_t t = mx_dim(logits, 1), v = mx_dim(logits, 2);
        logits = mx_reshape(mx_slice_axis(logits, 1, t - 1, t), (int64_t[]){1, v}, 2);
        if (v > s->vocab) logits = mx_slice_axis(logits, 1, 0, s->vocab);
        out[j] = lm_sample(logits, hist, &s->p->sampler, next_key(s));
        if (!out[j]) return -1;
        if (hist) hist = hist_append(hist, out[j]);
        in = mx_reshape(out[j], (int64_t[]){1, 1}, 2);
    }
    return 0;
}

/* The model's tokens after each of the last k+1 positions of seq[fed..] ++ drafts: a lazy
 * int32 [k+1] (owned by the open pool). */
static mx_array *verify_tokens(spec *s, int k, mx_array *const *drafts) {
    side *m = &s->main;
    const mx_array *parts[1 + 64];
    int np = 0;
    parts[np++] = seq_array(s, (size_t)fed(m), s->len);
    for (int j = 0; j < k; j++) parts[np++] = mx_reshape(drafts[j], (int64_t[]){1, 1}, 2);
    mx_array *in = np > 1 ? mx_concatenate(parts, np, 1) : (mx_array *)parts[0];
    mx_array *logits = lm_model_forward(m->model, in, m->cache);
    if (!logits) return NULL;
    int64_t t = mx_dim(logits, 1), v = mx_dim(logits, 2);
    logits = mx_reshape(mx_slice_axis(logits, 1, t - (k + 1), t), (int64_t[]){k + 1, v}, 2);
    if (!s->use_history) return lm_sample(logits, NULL, &s->p->sampler, next_key(s));
    /* penalties: position i sees seq and the first i drafts, as plain decoding would */
    mx_array *hist = seq_array(s, 0, s->len);
    mx_array *rows[1 + 64];
    for (int i = 0; i <= k; i++) {
        rows[i] = lm_sample(mx_slice_axis(logits, 0, i, i + 1), hist, &s->p->sampler, next_key(s));
        if (i < k) hist = hist_append(hist, drafts[i]);
    }
    return mx_concatenate((const mx_array **)rows, k + 1, 0);
}

/* After a round that processed `extra` proposals beyond seq[0..len_old) and kept `agreed` of
 * them (they are seq[len_old..len_old+agreed) now), drops the cached tokens not in seq and
 * those past `want`. A rotating cache (sliding-window layers) that has wrapped cannot drop
 * positions: that is an error here, where mlx-lm would silently keep the rejected ones. */
static int rewind(side *sd, size_t len_old, int extra, int agreed, size_t want) {
    int64_t valid = (int64_t)len_old + (agreed < extra ? agreed : extra);
    int64_t f = fed(sd);
    if (f <= (int64_t)len_old) return 0; /* nothing speculative was processed */
    int64_t keep = valid < (int64_t)want ? valid : (int64_t)want;
    if (f > keep && lm_cache_trim(sd->cache, f - keep) != f - keep)
        return mx_set_error("[generate] speculative decoding: cannot drop %lld rejected positions from the KV cache "
                            "of %s (its rotating/sliding-window layers have wrapped after %lld positions)",
                            (long long)(f - keep), lm_model_dir(sd->model), (long long)lm_cache_offset(sd->cache));
    return 0;
}

static int check_draft(const lm_model *m, const lm_model *d, const lm_tokenizer *tok) {
    int vm = lm_model_vocab_size(m), vd = lm_model_vocab_size(d);
    if (vm == vd) return 0;
    /* Padded embeddings (e.g. Qwen's 151936 vs 152064) are fine as long as every id of the
     * tokenizer exists in both: the draft's extra logits are never sampled. */
    size_t tv = tok ? lm_tokenizer_vocab_size(tok) : 0;
    if (tok && tv <= (size_t)vm && tv <= (size_t)vd) return 0;
    return mx_set_error("[generate] the draft model (%s, vocabulary %d) does not share the model's vocabulary "
                        "(%s, %d)%s: speculative decoding needs a draft with the same tokenizer",
                        lm_model_dir(d), vd, lm_model_dir(m), vm,
                        tok ? "" : " (without a tokenizer the sizes must be equal)");
}

int lm_generate_speculative(lm_model *m, const lm_tokenizer *tok, const int32_t *prompt, size_t n_prompt,
                            const lm_generate_params *p, lm_response_fn fn, void *ctx, lm_generation_stats *stats) {
    if (n_prompt == 0) return mx_set_error("[generate] the prompt is empty");
    if (p->num_draft_tokens < 0 || p->num_draft_tokens > 64)
        return mx_set_error("[generate] num_draft_tokens is %d: use 0 to 64", p->num_draft_tokens);
    if (check_draft(m, p->draft_model, tok)) return -1;
    spec s;
    memset(&s, 0, sizeof s);
    s.p = p;
    s.vocab = lm_model_vocab_size(m);
    s.use_history = (p->sampler.repetition_penalty > 0 && p->sampler.repetition_penalty != 1) ||
                    p->sampler.presence_penalty != 0 || p->sampler.frequency_penalty != 0;
    /* like mlx-lm, max_kv_size does not apply: rejected drafts must stay trimmable */
    lm_cache_options co = p->cache_options;
    co.max_kv_size = 0;
    s.main = (side){m, p->cache ? p->cache : lm_cache_new(m, &co), 0};
    s.draft = (side){p->draft_model, p->draft_cache ? p->draft_cache : lm_cache_new(p->draft_model, &co), 0};
    lm_token_stream ts;
    int ts_ready = 0, rc = -1;
    if (!s.main.cache || !s.draft.cache) goto done;
    if (!lm_cache_is_trimmable(s.main.cache) || !lm_cache_is_trimmable(s.draft.cache)) {
        mx_set_error("[generate] speculative decoding needs trimmable KV caches");
        goto done;
    }
    s.main.base = lm_cache_offset(s.main.cache);
    s.draft.base = lm_cache_offset(s.draft.cache);
    int64_t maxpos = lm_model_max_position(m);
    if (maxpos > 0 && s.main.base + (int64_t)n_prompt > maxpos) {
        mx_set_error("[generate] the prompt has %zu tokens (plus %lld cached), more than the model's context of %lld "
                     "(max_position_embeddings)", n_prompt, (long long)s.main.base, (long long)maxpos);
        goto done;
    }
    for (size_t i = 0; i < n_prompt; i++)
        if (seq_push(&s, prompt[i])) goto done;
    if (lm_token_stream_init(&ts, m, tok, p, (int64_t)n_prompt, fn, ctx)) goto done;
    ts_ready = 1;
    if (p->sampler.use_seed) { /* kept past a pool of our own (mx_keep adds to the pool's reference) */
        mx_pool *pool = mx_pool_begin();
        s.key = mx_keep(mx_random_key(p->sampler.seed));
        mx_pool_end(pool);
        if (!s.key) goto done;
    }
    /* prefill all but the last prompt token: it starts the first round */
    if (feed_until(&s, &s.draft, n_prompt - 1) || feed_until(&s, &s.main, n_prompt - 1)) goto done;
    int stop = p->max_tokens == 0;
    if (stop) lm_token_stream_prompt_done(&ts);
    for (int round = 0; !stop; round++) {
        int k = p->num_draft_tokens;
        if (p->max_tokens >= 0 && p->max_tokens - ts.ntok < k) k = (int)(p->max_tokens - ts.ntok);
        mx_array *drafts[64], *kept[65];
        mx_pool *pool = mx_pool_begin();
        if (!pool) goto done;
        mx_array *toks = NULL;
        int bad = k > 0 && draft_tokens(&s, k, drafts);
        if (!bad) toks = verify_tokens(&s, k, drafts);
        if (toks) {
            kept[0] = mx_keep(toks);
            for (int j = 0; j < k; j++) kept[1 + j] = mx_keep(drafts[j]);
        }
        mx_pool_end(pool);
        if (!toks) goto done;
        int32_t got[65], proposed[64];
        int fail = mx_eval(kept, k + 1) || mx_read(kept[0], MX_INT32, got);
        for (int j = 0; j < k && !fail; j++) fail = mx_read(kept[1 + j], MX_INT32, &proposed[j]);
        for (int j = 0; j <= k; j++) mx_free(kept[j]);
        if (fail) goto done;
        if (round == 0) lm_token_stream_prompt_done(&ts);
        int n = 0;
        while (n < k && got[n] == proposed[n]) n++;
        size_t len_old = s.len;
        /* emit the agreeing proposals, then the model's own token */
        for (int i = 0; i <= n && !stop; i++) {
            int32_t t = i < n ? proposed[i] : got[n];
            if (seq_push(&s, t)) goto done;
            stop = lm_token_stream_push(&ts, t, i < n);
        }
        /* keep in each cache only tokens of seq, leaving the last one to be fed next round */
        size_t want = stop ? s.len : s.len - 1;
        if (rewind(&s.main, len_old, k, n, want) || rewind(&s.draft, len_old, k > 0 ? k - 1 : 0, n, want)) goto done;
        if (round % 64 == 0) mx_clear_cache();
    }
    /* as after plain decoding, both caches hold the prompt and every generated token */
    if (feed_until(&s, &s.main, s.len) || feed_until(&s, &s.draft, s.len)) goto done;
    lm_token_stream_finish(&ts, stats);
    rc = 0;
done:
    if (ts_ready) lm_token_stream_free(&ts);
    mx_free(s.key);
    free(s.seq);
    if (!p->cache) lm_cache_free(s.main.cache);
    if (!p->draft_cache) lm_cache_free(s.draft.cache);
    return rc;
}
