/* Batched forward passes (what `cmlx bench -b N` decodes with), on the shared tiny models:
 * - the logits of [B, T] prompts through one cache equal those of each row alone through its
 *   own cache, for the prompt and for two decode steps of [B, 1] ids (bf16 and 4-bit weights,
 *   so the quantized products with several activation rows are covered);
 * - lm_bench_trial_batch counts every sequence and its greedy decode runs the requested steps;
 *   batch 1 is lm_bench_trial; bad arguments are errors naming the value. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cmlx/lm.h"
#include "cmlx/lm_bench.h"
#include "cmlx/ops.h"
#include "test.h"

#define B 3
#define T 9

static lm_model *load(const char *shared, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/models/%s", shared, name);
    lm_load_options lo = lm_load_options_default();
    lo.quiet = 1;
    lm_model *m = lm_model_load(path, &lo);
    CHECK_MSG(m != NULL, "load %s: %s", name, mx_last_error());
    return m;
}

/* The float32 logits [rows, 1, V] of ids [rows, len] through cache, into out. */
static int logits_of(lm_model *m, lm_cache *cache, const int32_t *ids, int rows, int len, float *out) {
    mx_array *a = mx_array_from_data(ids, (int64_t[]){rows, len}, 2, MX_INT32);
    mx_array *l = lm_model_forward_last(m, a, cache);
    int rc = !l || mx_read(l, MX_FLOAT32, out) ? -1 : 0;
    mx_free(l);
    mx_free(a);
    return rc;
}

static void check_model(const char *shared, const char *name) {
    lm_model *m = load(shared, name);
    if (!m) return;
    int V = lm_model_vocab_size(m);
    int32_t prompt[B][T], steps[2][B];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) prompt[b][t] = 3 + (b * 131 + t * 37) % (V - 3);
    for (int s = 0; s < 2; s++)
        for (int b = 0; b < B; b++) steps[s][b] = 3 + (b * 53 + s * 11 + 7) % (V - 3);
    static float batched[3][B * 512 * 8], alone[3][B * 512 * 8];
    CHECK(V <= 512 * 8);
    lm_cache *cb = lm_cache_new(m, NULL);
    CHECK(logits_of(m, cb, &prompt[0][0], B, T, batched[0]) == 0);
    for (int s = 0; s < 2; s++) CHECK(logits_of(m, cb, steps[s], B, 1, batched[s + 1]) == 0);
    CHECK(lm_cache_offset(cb) == T + 2);
    for (int b = 0; b < B; b++) {
        lm_cache *c1 = lm_cache_new(m, NULL);
        CHECK(logits_of(m, c1, prompt[b], 1, T, alone[0] + b * V) == 0);
        for (int s = 0; s < 2; s++) CHECK(logits_of(m, c1, &steps[s][b], 1, 1, alone[s + 1] + b * V) == 0);
        lm_cache_free(c1);
    }
    /* the same arithmetic per row (a row's products do not depend on the other rows beyond
     * float summation order): relative error against the largest logit */
    for (int s = 0; s < 3; s++) {
        double worst = 0, scale = 0;
        for (int i = 0; i < B * V; i++) {
            worst = fmax(worst, fabs((double)batched[s][i] - alone[s][i]));
            scale = fmax(scale, fabs((double)alone[s][i]));
        }
        CHECK_MSG(worst <= 0.02 * scale, "%s step %d: batched logits differ by %g (largest %g)", name, s, worst, scale);
    }
    lm_cache_free(cb);

    /* the bench trial: totals over the batch */
    lm_bench_result r;
    CHECK_MSG(lm_bench_trial_batch(m, &prompt[0][0], B, T, 5, &r) == 0, "%s", mx_last_error());
    CHECK(r.prompt_tokens == B * T && r.generation_tokens == B * 5);
    CHECK(r.prompt_tps > 0 && r.generation_tps > 0 && r.prompt_s > 0 && r.generation_s > 0);
    CHECK(fabs(r.generation_tps * r.generation_s - B * 5) < 1e-6 * B * 5);
    CHECK_MSG(lm_bench_trial_batch(m, &prompt[0][0], 1, T, 4, &r) == 0 && r.generation_tokens == 4, "%s",
              mx_last_error());
    CHECK(lm_bench_trial_batch(m, &prompt[0][0], 0, T, 4, &r) == -1 && strstr(mx_last_error(), "got 0"));
    CHECK(lm_bench_trial_batch(m, &prompt[0][0], 2, T, 0, &r) == -1 && strstr(mx_last_error(), "got 0"));
    lm_model_free(m);
}

int main(void) {
    const char *shared = test_shared_dir("batched forward passes need the shared tiny models");
    if (shared) {
        check_model(shared, "llama-tiny");
        check_model(shared, "llama-tiny-4bit");
        check_model(shared, "qwen3-tiny");
    }
    return test_finish();
}
