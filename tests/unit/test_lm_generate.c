/* lm_generate and lm_sample through the C API:
 * - the sampler on hand-made logits: greedy, top-k/top-p/min-p masks (sampled many times:
 *   tokens outside the allowed set never appear, allowed ones do), penalties and logit bias
 *   with mlx-lm's formulas (decided by where an argmax flips), seeds;
 * - speculative decoding on ../shared/models: greedy output identical to plain greedy for
 *   several model pairs, prompts and num_draft_tokens, which tokens came from the draft,
 *   cache offsets afterwards, vocabulary checks (on checkpoints derived from llama-tiny);
 * - stopping: EOS ids, extra EOS ids, stop strings (never printed), max_tokens, the
 *   callback and the interrupt flag, on stories260K with its tokenizer, with and without a
 *   draft;
 * - a conversation kept in the cache across calls (what cmlx chat does). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/io.h"
#include "cmlx/lm.h"
#include "cmlx/ops.h"
#include "cmlx/random.h"
#include "test.h"
#include "util/strbuf.h"

#define MAXTOK 512

/* ---------------------------------------------------------------- sampler */

/* n samples from one row of logits (repeated n times), with key seed (or the global state). */
static void sample_rows(const float *row, int v, int n, const lm_sampler_params *sp, int seed, int32_t *out) {
    float *data = malloc(sizeof(float) * (size_t)v * (size_t)n);
    for (int i = 0; i < n; i++) memcpy(data + (size_t)i * v, row, sizeof(float) * (size_t)v);
    mx_pool *pool = mx_pool_begin();
    mx_array *logits = mx_array_from_data(data, (int64_t[]){n, v}, 2, MX_FLOAT32);
    mx_array *key = seed >= 0 ? mx_random_key((uint64_t)seed) : NULL;
    mx_array *t = lm_sample(logits, NULL, sp, key);
    CHECK(t && mx_dim(t, 0) == n && mx_array_dtype(t) == MX_INT32);
    if (!t || mx_read(t, MX_INT32, out)) memset(out, 0xff, sizeof(int32_t) * (size_t)n);
    mx_pool_end(pool);
    free(data);
}

/* Samples n times and checks that exactly the tokens in allowed[] appear (each at least once). */
static void check_support(const char *what, const float *row, int v, const lm_sampler_params *sp, const int *allowed,
                          int n_allowed) {
    enum { N = 3000 };
    static int32_t out[N];
    sample_rows(row, v, N, sp, 1234, out);
    int seen[64] = {0}, bad = -1;
    for (int i = 0; i < N; i++) {
        int ok = 0;
        for (int j = 0; j < n_allowed; j++)
            if (out[i] == allowed[j]) ok = 1;
        if (!ok) bad = out[i];
        else seen[out[i]]++;
    }
    CHECK_MSG(bad < 0, "%s: token %d sampled but not allowed", what, bad);
    for (int j = 0; j < n_allowed; j++)
        CHECK_MSG(seen[allowed[j]] > 0, "%s: allowed token %d never sampled in %d draws", what, allowed[j], N);
}

static int32_t greedy1(const float *row, int v, const int32_t *hist, int n_hist, const lm_sampler_params *sp) {
    mx_pool *pool = mx_pool_begin();
    mx_array *logits = mx_array_from_data(row, (int64_t[]){1, v}, 2, MX_FLOAT32);
    mx_array *h = n_hist ? mx_array_from_data(hist, (int64_t[]){1, n_hist}, 2, MX_INT32) : NULL;
    mx_array *t = lm_sample(logits, h, sp, NULL);
    int32_t r = -1;
    if (!t || mx_read(t, MX_INT32, &r)) r = -1;
    mx_pool_end(pool);
    return r;
}

static void test_sampler_masks(void) {
    /* probabilities 0.4 0.3 0.2 0.06 0.04 (then nothing): logits are their logs */
    const float p[5] = {0.4f, 0.3f, 0.2f, 0.06f, 0.04f};
    float row[8];
    int order[5] = {2, 0, 4, 1, 3}; /* token ids of p[0..4]: not sorted, so masks must follow ids */
    for (int i = 0; i < 8; i++) row[i] = -INFINITY;
    for (int i = 0; i < 5; i++) row[order[i]] = logf(p[i]);
    lm_sampler_params sp = lm_sampler_default();

    /* temp 0 and top_k 1: the argmax, always */
    CHECK(greedy1(row, 8, NULL, 0, &sp) == 2);
    sp.temp = 1.0f;
    sp.top_k = 1;
    check_support("top_k=1", row, 8, &sp, (int[]){2}, 1);
    sp.top_k = 3;
    check_support("top_k=3", row, 8, &sp, (int[]){2, 0, 4}, 3);
    sp.top_k = 8; /* k >= vocabulary: no mask */
    check_support("top_k=8", row, 8, &sp, (int[]){2, 0, 4, 1, 3}, 5);
    sp.top_k = 0;
    /* top_p keeps the tokens whose ascending cumulative probability exceeds 1 - top_p:
     * ascending 0.04 0.10 0.30 0.60 1.00; top_p 0.75 -> > 0.25 -> 0.2, 0.3, 0.4 */
    sp.top_p = 0.75f;
    check_support("top_p=0.75", row, 8, &sp, (int[]){2, 0, 4}, 3);
    sp.top_p = 0.5f; /* > 0.5: 0.3 and 0.4 */
    check_support("top_p=0.5", row, 8, &sp, (int[]){2, 0}, 2);
    sp.top_p = 1.0f; /* off */
    check_support("top_p=1", row, 8, &sp, (int[]){2, 0, 4, 1, 3}, 5);
    sp.top_p = 0;
    /* min_p: keep p >= min_p * p_max; 0.2 * 0.4 = 0.08 -> 0.4 0.3 0.2 */
    sp.min_p = 0.2f;
    check_support("min_p=0.2", row, 8, &sp, (int[]){2, 0, 4}, 3);
    sp.min_p = 0.9f; /* only the top token ... */
    check_support("min_p=0.9", row, 8, &sp, (int[]){2}, 1);
    sp.min_tokens_to_keep = 2; /* ... unless two must be kept */
    check_support("min_p=0.9 keep 2", row, 8, &sp, (int[]){2, 0}, 2);
    sp.min_tokens_to_keep = 1;
    sp.min_p = 0;
    /* combined (mlx-lm's order: top_p, min_p, top_k): top_p 0.75 leaves 3, top_k 2 leaves 2 */
    sp.top_p = 0.75f;
    sp.top_k = 2;
    check_support("top_p+top_k", row, 8, &sp, (int[]){2, 0}, 2);
    sp.top_p = 0;
    sp.top_k = 0;
    /* plain sampling never picks a -inf logit and finds every finite one */
    check_support("temp=1", row, 8, &sp, (int[]){2, 0, 4, 1, 3}, 5);
    /* a low temperature concentrates on the argmax */
    {
        enum { N = 2000 };
        static int32_t out[N];
        sp.temp = 0.05f;
        sample_rows(row, 8, N, &sp, 99, out);
        int top = 0;
        for (int i = 0; i < N; i++) top += out[i] == 2;
        CHECK_MSG(top > N * 99 / 100, "temp 0.05: the argmax drawn %d of %d times", top, N);
        sp.temp = 1.0f;
        sample_rows(row, 8, N, &sp, 99, out);
        top = 0;
        for (int i = 0; i < N; i++) top += out[i] == 2;
        /* p = 0.4: 800 expected, standard deviation about 22 */
        CHECK_MSG(top > 680 && top < 920, "temp 1: the argmax (p=0.4) drawn %d of %d times", top, N);
    }
}

static void test_sampler_seeds(void) {
    enum { N = 500 };
    float row[16];
    for (int i = 0; i < 16; i++) row[i] = (float)(i % 5) * 0.3f;
    lm_sampler_params sp = lm_sampler_default();
    sp.temp = 1.0f;
    static int32_t a[N], b[N], c[N];
    sample_rows(row, 16, N, &sp, 7, a);
    sample_rows(row, 16, N, &sp, 7, b);
    sample_rows(row, 16, N, &sp, 8, c);
    CHECK_MSG(!memcmp(a, b, sizeof a), "the same key gives the same samples");
    CHECK_MSG(memcmp(a, c, sizeof a) != 0, "another key gives other samples");
    /* the global state (no key) advances: two draws differ */
    mx_random_seed(3);
    sample_rows(row, 16, N, &sp, -1, a);
    sample_rows(row, 16, N, &sp, -1, b);
    CHECK(memcmp(a, b, sizeof a) != 0);
    mx_random_seed(3);
    sample_rows(row, 16, N, &sp, -1, c);
    CHECK_MSG(!memcmp(a, c, sizeof a), "mx_random_seed makes keyless sampling reproducible");
}

/* Penalties and bias change logits exactly as mlx-lm's processors: checked at temp 0 where
 * the argmax flips (just above / just below the threshold each formula predicts). */
static void test_sampler_processors(void) {
    lm_sampler_params sp = lm_sampler_default();
    /* repetition penalty, positive logit: divided. 3.0/1.4 = 2.14 > 2.0; 3.0/1.6 = 1.875 < 2.0 */
    float r1[4] = {3.0f, 2.0f, -7.0f, -7.0f};
    int32_t h0[1] = {0};
    sp.repetition_penalty = 1.4f;
    CHECK(greedy1(r1, 4, h0, 1, &sp) == 0);
    sp.repetition_penalty = 1.6f;
    CHECK(greedy1(r1, 4, h0, 1, &sp) == 1);
    /* ... negative logit: multiplied. -1.0*1.1 = -1.1 > -1.15; -1.0*1.2 = -1.2 < -1.15 */
    float r2[4] = {-1.0f, -1.15f, -7.0f, -7.0f};
    sp.repetition_penalty = 1.1f;
    CHECK(greedy1(r2, 4, h0, 1, &sp) == 0);
    sp.repetition_penalty = 1.2f;
    CHECK(greedy1(r2, 4, h0, 1, &sp) == 1);
    /* applied once however often the token occurs */
    int32_t h000[3] = {0, 0, 0};
    sp.repetition_penalty = 1.4f;
    CHECK(greedy1(r1, 4, h000, 3, &sp) == 0);
    /* only the last repetition_context_size tokens count */
    int32_t hctx[4] = {0, 3, 3, 3};
    sp.repetition_penalty = 1.6f;
    sp.repetition_context_size = 3;
    CHECK(greedy1(r1, 4, hctx, 4, &sp) == 0);
    sp.repetition_context_size = 4;
    CHECK(greedy1(r1, 4, hctx, 4, &sp) == 1);
    sp = lm_sampler_default();
    /* presence: subtracted once. 3.0-0.4 = 2.6 > 2.5; 3.0-0.6 = 2.4 < 2.5 (token seen 3 times) */
    float r3[4] = {3.0f, 2.5f, -7.0f, -7.0f};
    sp.presence_penalty = 0.4f;
    CHECK(greedy1(r3, 4, h000, 3, &sp) == 0);
    sp.presence_penalty = 0.6f;
    CHECK(greedy1(r3, 4, h000, 3, &sp) == 1);
    sp.presence_penalty = 0;
    /* frequency: subtracted per occurrence. 3.0-3*0.15 = 2.55 > 2.5; 3.0-3*0.2 = 2.4 < 2.5 */
    sp.frequency_penalty = 0.15f;
    CHECK(greedy1(r3, 4, h000, 3, &sp) == 0);
    sp.frequency_penalty = 0.2f;
    CHECK(greedy1(r3, 4, h000, 3, &sp) == 1);
    /* frequency counts only the context window: one occurrence in the last 1 -> 3.0-0.2 */
    sp.penalty_context_size = 1;
    CHECK(greedy1(r3, 4, h000, 3, &sp) == 0);
    sp = lm_sampler_default();
    /* no history: penalties do nothing */
    sp.repetition_penalty = 10.0f;
    sp.presence_penalty = 10.0f;
    CHECK(greedy1(r3, 4, NULL, 0, &sp) == 0);
    sp = lm_sampler_default();
    /* logit bias: added. 2.5+0.4 = 2.9 < 3.0; 2.5+0.6 = 3.1 > 3.0; negative bias on the top */
    int32_t ids[2] = {1, 3};
    float vals[2] = {0.4f, 0.0f};
    sp.logit_bias_ids = ids;
    sp.logit_bias_values = vals;
    sp.n_logit_bias = 2;
    CHECK(greedy1(r3, 4, NULL, 0, &sp) == 0);
    vals[0] = 0.6f;
    CHECK(greedy1(r3, 4, NULL, 0, &sp) == 1);
    ids[0] = 0;
    vals[0] = -0.6f;
    CHECK(greedy1(r3, 4, NULL, 0, &sp) == 1);
    vals[1] = 20.0f; /* token 3 from -7 to 13 */
    CHECK(greedy1(r3, 4, NULL, 0, &sp) == 3);
    /* bias comes first, then the repetition penalty (mlx-lm's order): 3.0+1.0 = 4.0, /2 = 2.0 < 2.5 */
    ids[0] = 0;
    vals[0] = 1.0f;
    vals[1] = 0;
    sp.repetition_penalty = 2.0f;
    CHECK(greedy1(r3, 4, h0, 1, &sp) == 1);
    sp.repetition_penalty = 1.5f; /* 4.0/1.5 = 2.67 > 2.5 */
    CHECK(greedy1(r3, 4, h0, 1, &sp) == 0);
}

/* ---------------------------------------------------------------- generation helpers */

typedef struct {
    int32_t tok[MAXTOK];
    int from_draft[MAXTOK];
    int n;
    strbuf text;
    const char *finish;
    int64_t final_gen_tokens;
    int n_final;
    int stop_after;              /* callback returns 1 after this many tokens (0: never) */
    volatile int *interrupt;
    int interrupt_after;
} collect;

static int on_resp(const lm_response *r, void *ctx) {
    collect *c = ctx;
    if (r->text && *r->text) strbuf_puts(&c->text, r->text);
    if (r->finish_reason) {
        c->finish = r->finish_reason;
        c->final_gen_tokens = r->generation_tokens;
        c->n_final++;
        return 0;
    }
    if (c->n < MAXTOK) {
        c->tok[c->n] = r->token;
        c->from_draft[c->n] = r->from_draft;
    }
    c->n++;
    if (c->interrupt && c->n == c->interrupt_after) *c->interrupt = 1;
    return c->stop_after && c->n >= c->stop_after;
}

static void collect_free(collect *c) { strbuf_free(&c->text); }

static int run_gen(lm_model *m, const lm_tokenizer *tok, const int32_t *prompt, size_t n, const lm_generate_params *p,
                   collect *c) {
    memset(c, 0, sizeof *c);
    return lm_generate(m, tok, prompt, n, p, on_resp, c, NULL);
}

static int same_tokens(const collect *a, const collect *b) {
    return a->n == b->n && !memcmp(a->tok, b->tok, sizeof(int32_t) * (size_t)(a->n < MAXTOK ? a->n : MAXTOK));
}

static lm_model *load_model(const char *shared, const char *name, mx_dtype dtype) {
    char path[4096];
    snprintf(path, sizeof path, "%s/models/%s", shared, name);
    lm_load_options lo = lm_load_options_default();
    lo.dtype = dtype;
    lo.quiet = 1;
    lm_model *m = lm_model_load(path, &lo);
    CHECK_MSG(m != NULL, "load %s: %s", name, mx_last_error());
    return m;
}

/* Prompts of random ids in [3, 512) (no BOS/EOS), fixed. */
static void make_prompt(int32_t *out, int n, unsigned seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        out[i] = 3 + (int32_t)((seed >> 8) % 509);
    }
}

/* ---------------------------------------------------------------- speculative == greedy */

static void check_pair(const char *shared, const char *main_name, const char *draft_name, int same_pointer) {
    lm_model *m = load_model(shared, main_name, MX_FLOAT32);
    lm_model *d = same_pointer ? m : load_model(shared, draft_name, MX_FLOAT32);
    if (!m || !d) goto out;
    const int lens[3] = {1, 8, 19};
    int total = 0, from_draft = 0;
    for (int pi = 0; pi < 3; pi++) {
        int32_t prompt[32];
        make_prompt(prompt, lens[pi], 17u + (unsigned)pi);
        lm_generate_params gp = lm_generate_default();
        gp.max_tokens = 24;
        gp.prefill_step_size = pi == 2 ? 5 : 2048; /* chunked prefill on the long prompt */
        collect plain, spec;
        lm_cache *pc = lm_cache_new(m, NULL);
        gp.cache = pc;
        CHECK(run_gen(m, NULL, prompt, (size_t)lens[pi], &gp, &plain) == 0);
        /* plain decoding leaves prompt + every generated token in the cache */
        CHECK_MSG(lm_cache_offset(pc) == lens[pi] + plain.final_gen_tokens,
                  "%s plain: cache offset %lld, prompt %d + %lld tokens", main_name, (long long)lm_cache_offset(pc),
                  lens[pi], (long long)plain.final_gen_tokens);
        for (int k = 0; k <= 4; k++) {
            lm_cache *mc = lm_cache_new(m, NULL), *dc = lm_cache_new(d, NULL);
            gp.cache = mc;
            gp.draft_cache = dc;
            gp.draft_model = d;
            gp.num_draft_tokens = k;
            int rc = run_gen(m, NULL, prompt, (size_t)lens[pi], &gp, &spec);
            CHECK_MSG(rc == 0, "%s/%s k=%d: %s", main_name, draft_name, k, mx_last_error());
            int same = same_tokens(&plain, &spec);
            CHECK_MSG(same, "%s with draft %s, prompt %d tokens, k=%d: %d tokens vs plain %d (first %d vs %d)", main_name,
                      draft_name, lens[pi], k, spec.n, plain.n, spec.tok[0], plain.tok[0]);
            CHECK(spec.finish && plain.finish && !strcmp(spec.finish, plain.finish));
            CHECK(spec.n_final == 1 && spec.final_gen_tokens == plain.final_gen_tokens);
            /* (the generated tokens include an EOS that ends generation: it is in the cache) */
            int64_t want1 = lens[pi] + spec.final_gen_tokens;
            CHECK_MSG(lm_cache_offset(mc) == want1 && lm_cache_offset(dc) == want1,
                      "%s k=%d: cache offsets %lld (draft %lld), want %lld", main_name, k, (long long)lm_cache_offset(mc),
                      (long long)lm_cache_offset(dc), (long long)want1);
            /* a draft identical to the model has every proposal accepted: each round gives k
             * draft tokens then one of the model's */
            if (same_pointer || !strcmp(main_name, draft_name)) {
                int pattern = 1;
                for (int i = 0; i < spec.n && i < MAXTOK; i++) pattern &= spec.from_draft[i] == (k > 0 && i % (k + 1) != k);
                CHECK_MSG(pattern, "%s self-draft k=%d: from_draft pattern broken", main_name, k);
            }
            for (int i = 0; i < spec.n && i < MAXTOK; i++) from_draft += spec.from_draft[i];
            total += spec.n;
            /* second turn on the same caches: still identical to plain decoding continuing its cache */
            if (k == 3) {
                int32_t p2[6];
                make_prompt(p2, 6, 99u + (unsigned)pi);
                collect plain2, spec2;
                lm_generate_params g2 = gp;
                g2.draft_model = NULL;
                g2.cache = pc;
                CHECK(run_gen(m, NULL, p2, 6, &g2, &plain2) == 0);
                CHECK(run_gen(m, NULL, p2, 6, &gp, &spec2) == 0);
                CHECK_MSG(same_tokens(&plain2, &spec2), "%s k=3: second turn differs", main_name);
                int64_t want = lens[pi] + spec.final_gen_tokens + 6 + spec2.final_gen_tokens;
                CHECK_MSG(lm_cache_offset(mc) == want && lm_cache_offset(dc) == want && lm_cache_offset(pc) == want,
                          "%s: after two turns offsets %lld, draft %lld, plain %lld; want %lld", main_name,
                          (long long)lm_cache_offset(mc), (long long)lm_cache_offset(dc),
                          (long long)lm_cache_offset(pc), (long long)want);
                collect_free(&plain2);
                collect_free(&spec2);
            }
            collect_free(&spec);
            lm_cache_free(mc);
            lm_cache_free(dc);
        }
        lm_cache_free(pc);
        collect_free(&plain);
    }
    printf("  %s + draft %s: %d of %d tokens from the draft\n", main_name, same_pointer ? "(itself)" : draft_name,
           from_draft, total);
out:
    if (d != m) lm_model_free(d);
    lm_model_free(m);
}

static void test_speculative_pairs(const char *shared) {
    check_pair(shared, "qwen3-tiny", "qwen3-tiny-8bit", 0);
    check_pair(shared, "llama-tiny", "llama-tiny", 0);
    check_pair(shared, "llama-tiny", NULL, 1);
    check_pair(shared, "llama-tiny", "llama-tiny-4bit", 0);
    check_pair(shared, "mistral-tiny", "qwen2-tiny", 0);
    check_pair(shared, "qwen3_moe-tiny", "qwen3_moe-tiny-4bit", 0);
}

/* Sampling (temp > 0) with a seed is reproducible with a draft too, and penalties keep
 * speculative greedy output equal to plain greedy output (each verified position sees the
 * tokens before it). */
static void test_speculative_sampling(const char *shared) {
    lm_model *m = load_model(shared, "llama-tiny", MX_FLOAT32);
    lm_model *d = load_model(shared, "llama-tiny-8bit", MX_FLOAT32);
    if (!m || !d) goto out;
    int32_t prompt[8];
    make_prompt(prompt, 8, 5);
    lm_generate_params gp = lm_generate_default();
    gp.max_tokens = 20;
    gp.sampler.repetition_penalty = 1.3f;
    gp.sampler.presence_penalty = 0.5f;
    gp.sampler.frequency_penalty = 0.3f;
    gp.sampler.repetition_context_size = 6;
    collect plain, spec;
    CHECK(run_gen(m, NULL, prompt, 8, &gp, &plain) == 0);
    gp.draft_model = d;
    for (int k = 1; k <= 4; k++) {
        gp.num_draft_tokens = k;
        CHECK(run_gen(m, NULL, prompt, 8, &gp, &spec) == 0);
        CHECK_MSG(same_tokens(&plain, &spec), "penalties, k=%d: speculative greedy differs from plain", k);
        collect_free(&spec);
    }
    /* and the penalties did something */
    gp.draft_model = NULL;
    gp.sampler = lm_sampler_default();
    collect nopen;
    CHECK(run_gen(m, NULL, prompt, 8, &gp, &nopen) == 0);
    CHECK(!same_tokens(&plain, &nopen));
    collect_free(&nopen);
    /* seeded sampling */
    gp.draft_model = d;
    gp.sampler.temp = 1.0f;
    gp.sampler.use_seed = 1;
    gp.sampler.seed = 11;
    collect a, b, c;
    CHECK(run_gen(m, NULL, prompt, 8, &gp, &a) == 0);
    CHECK(run_gen(m, NULL, prompt, 8, &gp, &b) == 0);
    gp.sampler.seed = 12;
    CHECK(run_gen(m, NULL, prompt, 8, &gp, &c) == 0);
    CHECK_MSG(same_tokens(&a, &b), "same seed, same speculative samples");
    CHECK_MSG(!same_tokens(&a, &c), "another seed, other samples");
    collect_free(&a);
    collect_free(&b);
    collect_free(&c);
    /* the same without a draft (and with penalties: the kept key and history must not leak) */
    gp.draft_model = NULL;
    gp.sampler.repetition_penalty = 1.2f;
    CHECK(run_gen(m, NULL, prompt, 8, &gp, &a) == 0);
    CHECK(run_gen(m, NULL, prompt, 8, &gp, &b) == 0);
    gp.sampler.seed = 13;
    CHECK(run_gen(m, NULL, prompt, 8, &gp, &c) == 0);
    CHECK_MSG(same_tokens(&a, &b) && a.n == 20, "same seed, same plain samples");
    CHECK_MSG(!same_tokens(&a, &c), "another seed, other plain samples");
    collect_free(&a);
    collect_free(&b);
    collect_free(&c);
    collect_free(&plain);
out:
    lm_model_free(d);
    lm_model_free(m);
}

/* ---------------------------------------------------------------- vocabulary checks */

/* Writes a copy of llama-tiny whose vocabulary has `vocab` rows: truncated, or padded with
 * zero embeddings and lm_head rows that score 20x the first rows (so that an unsliced draft
 * would always propose a padded id). Returns 0 on success. */
static int write_variant(const char *shared, const char *dir, int vocab) {
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/models/llama-tiny/config.json", shared);
    json_error_t je;
    json_t *cfg = json_load_file(src, 0, &je);
    if (!cfg) return -1;
    json_object_set_new(cfg, "vocab_size", json_integer(vocab));
    snprintf(dst, sizeof dst, "%s/config.json", dir);
    int rc = json_dump_file(cfg, dst, JSON_INDENT(2));
    json_decref(cfg);
    if (rc) return -1;
    snprintf(src, sizeof src, "%s/models/llama-tiny/model.safetensors", shared);
    mx_safetensors *st = mx_safetensors_open(src);
    if (!st) return -1;
    int n = mx_safetensors_count(st);
    const char **names = calloc((size_t)n, sizeof *names);
    mx_array **arrays = calloc((size_t)n, sizeof *arrays);
    mx_pool *pool = mx_pool_begin();
    for (int i = 0; i < n; i++) {
        names[i] = mx_safetensors_name(st, i);
        mx_array *a = mx_safetensors_get(st, names[i]);
        int emb = !strcmp(names[i], "model.embed_tokens.weight"), head = !strcmp(names[i], "lm_head.weight");
        if ((emb || head) && vocab < 512) {
            a = mx_slice_axis(a, 0, 0, vocab);
        } else if (emb || head) {
            int64_t extra = vocab - 512;
            mx_array *pad = emb ? mx_zeros((int64_t[]){extra, 64}, 2, mx_array_dtype(a))
                                : mx_multiply_scalar(mx_slice_axis(a, 0, 0, extra), 20.0);
            a = mx_concatenate((const mx_array *[]){a, pad}, 2, 0);
        }
        arrays[i] = a;
    }
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    rc = mx_safetensors_save(dst, names, arrays, n, (const char *[]){"format"}, (const char *[]){"pt"}, 1);
    mx_pool_end(pool);
    free(names);
    free(arrays);
    mx_safetensors_close(st);
    return rc;
}

static void rm_variant(const char *dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unlink(p);
    rmdir(dir);
}

static void test_vocab_checks(const char *shared) {
    char small[] = "/tmp/cmlx_spec_small_XXXXXX", padded[] = "/tmp/cmlx_spec_pad_XXXXXX";
    if (!mkdtemp(small) || !mkdtemp(padded)) {
        CHECK_MSG(0, "mkdtemp failed");
        return;
    }
    CHECK(write_variant(shared, small, 500) == 0);
    CHECK(write_variant(shared, padded, 600) == 0);
    lm_model *m = load_model(shared, "stories260K", MX_FLOAT32);
    lm_load_options lo = lm_load_options_default();
    lo.dtype = MX_FLOAT32;
    lm_model *ds = lm_model_load(small, &lo), *dp = lm_model_load(padded, &lo);
    CHECK_MSG(ds && dp, "variants load: %s", mx_last_error());
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K", shared);
    lm_tokenizer *tok = lm_tokenizer_load(path);
    CHECK(tok != NULL);
    if (m && ds && dp && tok) {
        CHECK(lm_model_vocab_size(ds) == 500 && lm_model_vocab_size(dp) == 600);
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK(lm_tokenizer_encode(tok, "Once upon a time", 16, 1, &ids, &n) == 0);
        lm_generate_params gp = lm_generate_default();
        gp.max_tokens = 16;
        collect plain, c;
        CHECK(run_gen(m, tok, ids, n, &gp, &plain) == 0);
        /* a smaller vocabulary than the tokenizer's: refused, naming both sizes */
        gp.draft_model = ds;
        CHECK(run_gen(m, tok, ids, n, &gp, &c) == -1);
        CHECK_MSG(strstr(mx_last_error(), "vocabulary 500") && strstr(mx_last_error(), "512") &&
                      strstr(mx_last_error(), "same tokenizer"),
                  "error: %s", mx_last_error());
        CHECK(c.n == 0 && c.n_final == 0);
        collect_free(&c);
        /* without a tokenizer, sizes must be equal */
        gp.draft_model = dp;
        CHECK(run_gen(m, NULL, ids, n, &gp, &c) == -1 && strstr(mx_last_error(), "vocabulary 600"));
        collect_free(&c);
        /* padding beyond the tokenizer's ids is fine: the padded ids (which this draft
         * prefers) are never proposed, and the output is the model's */
        CHECK_MSG(run_gen(m, tok, ids, n, &gp, &c) == 0, "padded draft: %s", mx_last_error());
        CHECK(same_tokens(&plain, &c) && plain.text.data && c.text.data && !strcmp(plain.text.data, c.text.data));
        collect_free(&c);
        /* bad num_draft_tokens */
        gp.num_draft_tokens = -1;
        CHECK(run_gen(m, tok, ids, n, &gp, &c) == -1 && strstr(mx_last_error(), "num_draft_tokens"));
        collect_free(&c);
        collect_free(&plain);
        free(ids);
    }
    lm_tokenizer_free(tok);
    lm_model_free(ds);
    lm_model_free(dp);
    lm_model_free(m);
    rm_variant(small);
    rm_variant(padded);
}

/* A model with sliding-window layers (rotating caches) cannot drop rejected drafts once the
 * window has wrapped: a clear error, not a wrong continuation. */
static void test_rotating_main(const char *shared) {
    lm_model *m = load_model(shared, "gemma3_text-tiny", MX_FLOAT32);
    lm_model *d = load_model(shared, "llama-tiny", MX_FLOAT32);
    if (m && d) {
        int32_t prompt[12];
        make_prompt(prompt, 12, 3);
        lm_generate_params gp = lm_generate_default();
        gp.max_tokens = 40;
        gp.draft_model = d;
        collect c;
        int rc = run_gen(m, NULL, prompt, 12, &gp, &c);
        printf("  gemma3 (sliding window 8) + llama-tiny draft: %s\n", rc ? mx_last_error() : "all drafts accepted");
        if (rc == 0) {
            /* every proposal happened to be accepted: then the output must be the plain one */
            collect plain;
            gp.draft_model = NULL;
            CHECK(run_gen(m, NULL, prompt, 12, &gp, &plain) == 0);
            CHECK(same_tokens(&plain, &c));
            collect_free(&plain);
        } else {
            CHECK_MSG(strstr(mx_last_error(), "cannot drop") && strstr(mx_last_error(), "sliding-window"), "error: %s",
                      mx_last_error());
        }
        collect_free(&c);
    }
    lm_model_free(d);
    lm_model_free(m);
}

/* ---------------------------------------------------------------- stopping (stories260K) */

typedef struct {
    lm_model *m, *draft;
    lm_tokenizer *tok;
    int32_t *prompt;
    size_t n_prompt;
    collect full;                /* 60 greedy tokens, no stops */
} stories;

/* Tokens needed until the decoded text contains s (0: never within the full run). */
static int tokens_until(const stories *st, const char *s) {
    for (int t = 1; t <= st->full.n; t++) {
        char *txt = lm_tokenizer_decode(st->tok, st->full.tok, (size_t)t, 1);
        int hit = txt && strstr(txt, s);
        free(txt);
        if (hit) return t;
    }
    return 0;
}

static void check_stop_strings(stories *st, lm_model *draft, int k) {
    const char *single[] = {"Lily", "little girl", "park.", "\nLily", "a big", "zzz", ", ", " t"};
    const char *full = st->full.text.data;
    for (size_t i = 0; i < sizeof single / sizeof *single; i++) {
        lm_generate_params gp = lm_generate_default();
        gp.max_tokens = st->full.n;
        gp.stop_strings = &single[i];
        gp.n_stop_strings = 1;
        gp.draft_model = draft;
        gp.num_draft_tokens = k;
        collect c;
        CHECK(run_gen(st->m, st->tok, st->prompt, st->n_prompt, &gp, &c) == 0);
        const char *hit = strstr(full, single[i]);
        size_t want_len = hit ? (size_t)(hit - full) : strlen(full);
        const char *got = c.text.data ? c.text.data : "";
        CHECK_MSG(strlen(got) == want_len && !strncmp(got, full, want_len),
                  "stop '%s' (draft %s k=%d): got [%s], want the first %zu bytes of [%s]", single[i],
                  draft ? "yes" : "no", k, got, want_len, full);
        int until = tokens_until(st, single[i]);
        if (hit) {
            CHECK_MSG(c.n == until && c.final_gen_tokens == until && c.finish && !strcmp(c.finish, "stop"),
                      "stop '%s': %d tokens (want %d), finish %s", single[i], c.n, until, c.finish ? c.finish : "?");
        } else {
            CHECK(c.n == st->full.n && c.finish && !strcmp(c.finish, "length"));
        }
        collect_free(&c);
    }
    /* several stop strings: the earliest occurrence wins */
    const char *two[] = {"ball", "girl"};
    lm_generate_params gp = lm_generate_default();
    gp.max_tokens = st->full.n;
    gp.stop_strings = two;
    gp.n_stop_strings = 2;
    gp.draft_model = draft;
    gp.num_draft_tokens = k;
    collect c;
    CHECK(run_gen(st->m, st->tok, st->prompt, st->n_prompt, &gp, &c) == 0);
    size_t want = (size_t)(strstr(full, "girl") - full);
    CHECK(c.text.data && strlen(c.text.data) == want && !strncmp(c.text.data, full, want));
    collect_free(&c);
}

static void check_eos_and_limits(stories *st, lm_model *draft, int k) {
    /* an extra EOS id: the first generated token not seen before position j */
    int j = 5;
    for (int i = 0; i < j; i++)
        if (st->full.tok[i] == st->full.tok[j]) j++, i = -1;
    lm_generate_params gp = lm_generate_default();
    gp.max_tokens = st->full.n;
    gp.extra_eos = &st->full.tok[j];
    gp.n_extra_eos = 1;
    gp.draft_model = draft;
    gp.num_draft_tokens = k;
    collect c;
    CHECK(run_gen(st->m, st->tok, st->prompt, st->n_prompt, &gp, &c) == 0);
    char *want = lm_tokenizer_decode(st->tok, st->full.tok, (size_t)j, 1);
    /* the EOS token is counted in the statistics (as mlx-lm does) but neither streamed nor printed */
    CHECK_MSG(c.n == j && c.final_gen_tokens == j + 1 && c.finish && !strcmp(c.finish, "stop"),
              "extra eos %d at %d: %d tokens, finish %s", st->full.tok[j], j, c.n, c.finish ? c.finish : "?");
    CHECK_MSG(want && c.text.data && !strcmp(c.text.data, want), "extra eos text [%s] want [%s]",
              c.text.data ? c.text.data : "", want ? want : "");
    free(want);
    collect_free(&c);
    gp.extra_eos = NULL;
    gp.n_extra_eos = 0;
    /* max_tokens */
    const int limits[] = {0, 1, 7, 13};
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        gp.max_tokens = limits[i];
        CHECK(run_gen(st->m, st->tok, st->prompt, st->n_prompt, &gp, &c) == 0);
        CHECK_MSG(c.n == limits[i] && c.final_gen_tokens == limits[i] && c.n_final == 1 && c.finish &&
                      !strcmp(c.finish, "length"),
                  "max_tokens %d (draft %s, k %d): %d tokens, finish %s", limits[i], draft ? "yes" : "no", k, c.n,
                  c.finish ? c.finish : "?");
        CHECK(!memcmp(c.tok, st->full.tok, sizeof(int32_t) * (size_t)c.n));
        collect_free(&c);
    }
    /* the callback asks to stop; the interrupt flag stops after the current token */
    gp.max_tokens = st->full.n;
    memset(&c, 0, sizeof c);
    c.stop_after = 3;
    CHECK(lm_generate(st->m, st->tok, st->prompt, st->n_prompt, &gp, on_resp, &c, NULL) == 0);
    CHECK(c.n == 3 && c.finish && !strcmp(c.finish, "stop"));
    collect_free(&c);
    volatile int flag = 0;
    gp.interrupt = &flag;
    memset(&c, 0, sizeof c);
    c.interrupt = &flag;
    c.interrupt_after = 4;
    CHECK(lm_generate(st->m, st->tok, st->prompt, st->n_prompt, &gp, on_resp, &c, NULL) == 0);
    CHECK_MSG(c.n == 4 && c.finish && !strcmp(c.finish, "stop"), "interrupt: %d tokens", c.n);
    collect_free(&c);
}

static void test_stopping(const char *shared) {
    stories st;
    memset(&st, 0, sizeof st);
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K", shared);
    st.m = load_model(shared, "stories260K", MX_DTYPE_COUNT);
    st.draft = load_model(shared, "stories260K", MX_DTYPE_COUNT);
    st.tok = lm_tokenizer_load(path);
    CHECK(st.tok != NULL);
    if (!st.m || !st.draft || !st.tok) goto out;
    CHECK(lm_tokenizer_encode(st.tok, "Once upon a time", 16, 1, &st.prompt, &st.n_prompt) == 0);
    lm_generate_params gp = lm_generate_default();
    gp.max_tokens = 60;
    CHECK(run_gen(st.m, st.tok, st.prompt, st.n_prompt, &gp, &st.full) == 0);
    /* llama2.c's greedy continuation (shared/reference/stories260K.json) */
    CHECK_MSG(st.full.text.data && !strncmp(st.full.text.data, ", there was a little girl named Lily.", 37),
              "greedy text: %s", st.full.text.data ? st.full.text.data : "");
    CHECK(st.full.n == 60 && st.full.finish && !strcmp(st.full.finish, "length"));
    check_stop_strings(&st, NULL, 0);
    check_eos_and_limits(&st, NULL, 0);
    for (int k = 1; k <= 4; k += 3) {
        check_stop_strings(&st, st.draft, k);
        check_eos_and_limits(&st, st.draft, k);
    }
    /* the model's own EOS id (2) stops generation too: force it with a logit bias */
    {
        int32_t id = 2;
        float big = 100.0f;
        gp.sampler.logit_bias_ids = &id;
        gp.sampler.logit_bias_values = &big;
        gp.sampler.n_logit_bias = 1;
        collect c;
        CHECK(run_gen(st.m, st.tok, st.prompt, st.n_prompt, &gp, &c) == 0);
        CHECK(c.n == 0 && c.final_gen_tokens == 1 && c.finish && !strcmp(c.finish, "stop") && c.text.len == 0);
        collect_free(&c);
    }
out:
    free(st.prompt);
    collect_free(&st.full);
    lm_tokenizer_free(st.tok);
    lm_model_free(st.draft);
    lm_model_free(st.m);
}

/* ---------------------------------------------------------------- a conversation in the cache */

/* What cmlx chat does: each turn's prompt continues the cache. The second turn must equal
 * generating from the whole conversation at once, and the offset grows by each turn. */
static void test_conversation_cache(const char *shared) {
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K", shared);
    lm_model *m = load_model(shared, "stories260K", MX_DTYPE_COUNT);
    lm_tokenizer *tok = lm_tokenizer_load(path);
    if (!m || !tok) goto out;
    int32_t *p1 = NULL, *p2 = NULL;
    size_t n1 = 0, n2 = 0;
    CHECK(lm_tokenizer_encode(tok, "Once upon a time", 16, 1, &p1, &n1) == 0);
    CHECK(lm_tokenizer_encode(tok, "The dog", 7, 1, &p2, &n2) == 0);
    lm_cache *cache = lm_cache_new(m, NULL);
    lm_generate_params gp = lm_generate_default();
    gp.max_tokens = 20;
    gp.cache = cache;
    collect t1, t2, whole, fresh;
    CHECK(run_gen(m, tok, p1, n1, &gp, &t1) == 0);
    CHECK(lm_cache_offset(cache) == (int64_t)n1 + t1.final_gen_tokens);
    CHECK(run_gen(m, tok, p2, n2, &gp, &t2) == 0);
    CHECK_MSG(lm_cache_offset(cache) == (int64_t)(n1 + n2) + t1.final_gen_tokens + t2.final_gen_tokens,
              "offset %lld after two turns",
              (long long)lm_cache_offset(cache));
    /* the whole conversation in one prompt, fresh cache */
    size_t nw = n1 + (size_t)t1.n + n2;
    int32_t *w = malloc(nw * sizeof *w);
    memcpy(w, p1, n1 * sizeof *w);
    memcpy(w + n1, t1.tok, (size_t)t1.n * sizeof *w);
    memcpy(w + n1 + t1.n, p2, n2 * sizeof *w);
    gp.cache = NULL;
    CHECK(run_gen(m, tok, w, nw, &gp, &whole) == 0);
    CHECK_MSG(same_tokens(&t2, &whole), "turn 2 [%s] vs whole conversation [%s]", t2.text.data ? t2.text.data : "",
              whole.text.data ? whole.text.data : "");
    /* and the history matters: turn 2 alone continues differently */
    CHECK(run_gen(m, tok, p2, n2, &gp, &fresh) == 0);
    CHECK_MSG(!same_tokens(&t2, &fresh), "turn 2 equals a fresh start: the cache was not used");
    free(w);
    collect_free(&t1);
    collect_free(&t2);
    collect_free(&whole);
    collect_free(&fresh);
    lm_cache_free(cache);
    free(p1);
    free(p2);
out:
    lm_tokenizer_free(tok);
    lm_model_free(m);
}

int main(void) {
    test_sampler_masks();
    test_sampler_seeds();
    test_sampler_processors();
    const char *shared = test_shared_dir("speculative decoding and stopping need the shared models");
    if (shared) {
        test_speculative_pairs(shared);
        test_speculative_sampling(shared);
        test_vocab_checks(shared);
        test_rotating_main(shared);
        test_stopping(shared);
        test_conversation_cache(shared);
    }
    return test_finish();
}
