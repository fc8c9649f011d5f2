/* logits_conformance MODEL_DIR REFERENCE.safetensors [--dtype bfloat16]
 *
 * Loads the model through the public API (float32 by default), and checks against Hugging
 * Face's reference: the logits of `input_ids` as one prefill, token by token through the KV
 * cache, and through chunked prefill (chunks of 5); then greedy decoding from
 * `greedy_prompt` against `greedy_ids`. Relative error max|diff| / max|ref| must be <= 1e-4
 * in float32 (8e-2 in bfloat16: every op rounds to 8 bits of mantissa), and the top-1 token
 * must agree wherever the reference's margin exceeds 1e-3 (0.5 in bfloat16). Ends with
 * "N passed, M failed". */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/cmlx.h"
#include "cmlx/lm.h"

static int passed, failed;
static double tol_rel = 1e-4, tol_margin = 1e-3;

static void result(int ok, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void result(int ok, const char *what, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s %-28s ", ok ? "PASS" : "FAIL", what);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok) passed++;
    else failed++;
}

static float *read_f32(mx_safetensors *st, const char *name, int64_t *n) {
    mx_array *a = mx_safetensors_get(st, name);
    if (!a) return NULL;
    *n = mx_size(a);
    float *v = malloc((size_t)*n * sizeof *v);
    if (!v || mx_read(a, MX_FLOAT32, v)) {
        free(v);
        v = NULL;
    }
    mx_free(a);
    return v;
}

static int32_t *read_i32(mx_safetensors *st, const char *name, int64_t *n) {
    mx_array *a = mx_safetensors_get(st, name);
    if (!a) return NULL;
    *n = mx_size(a);
    int32_t *v = malloc((size_t)*n * sizeof *v);
    if (!v || mx_read(a, MX_INT32, v)) {
        free(v);
        v = NULL;
    }
    mx_free(a);
    return v;
}

/* Compares rows [r0, r0+rows) of the reference logits with got (rows x vocab). */
static void compare(const char *what, const float *got, const float *ref, const float *margin, int64_t r0, int64_t rows,
                    int64_t vocab) {
    double maxref = 0, maxdiff = 0;
    int disagree = 0, worst_pos = -1;
    for (int64_t r = 0; r < rows; r++) {
        const float *g = got + r * vocab, *f = ref + (r0 + r) * vocab;
        int ga = 0, fa = 0;
        for (int64_t j = 0; j < vocab; j++) {
            double d = fabs((double)g[j] - f[j]);
            if (!(d <= maxdiff)) maxdiff = d;
            if (fabs(f[j]) > maxref) maxref = fabs(f[j]);
            if (g[j] > g[ga]) ga = (int)j;
            if (f[j] > f[fa]) fa = (int)j;
        }
        if (ga != fa && margin[r0 + r] > tol_margin) {
            disagree++;
            worst_pos = (int)(r0 + r);
        }
    }
    double rel = maxdiff / (maxref > 0 ? maxref : 1);
    int ok = rel <= tol_rel && disagree == 0;
    result(ok, what, "max abs err %.3g, rel err %.3g (limit %.0e), top-1 disagreements %d%s", maxdiff, rel, tol_rel,
           disagree, disagree ? " (e.g. at position shown)" : "");
    if (disagree) printf("     first top-1 disagreement at position %d\n", worst_pos);
}

static float *logits_of(lm_model *m, lm_cache *c, const int32_t *ids, int64_t n) {
    mx_array *tok = mx_array_from_data(ids, (int64_t[]){1, n}, 2, MX_INT32);
    mx_array *lg = lm_model_forward(m, tok, c);
    float *out = NULL;
    if (lg) {
        out = malloc((size_t)mx_size(lg) * sizeof *out);
        if (out && mx_read(lg, MX_FLOAT32, out)) {
            free(out);
            out = NULL;
        }
    }
    if (!out) fprintf(stderr, "forward failed: %s\n", mx_last_error());
    mx_free(tok);
    mx_free(lg);
    return out;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: logits_conformance MODEL_DIR REFERENCE.safetensors [--dtype bfloat16|float32]\n");
        return 2;
    }
    lm_load_options lo = lm_load_options_default();
    lo.dtype = MX_FLOAT32;
    lo.quiet = 1;
    for (int i = 3; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--dtype")) {
            const char *d = argv[++i];
            if (!strcmp(d, "bfloat16")) {
                lo.dtype = MX_BFLOAT16;
                tol_rel = 8e-2;
                tol_margin = 0.5;
            } else if (!strcmp(d, "float16")) {
                lo.dtype = MX_FLOAT16;
                tol_rel = 1e-2;
                tol_margin = 0.1;
            }
        }
    lm_model *m = lm_model_load(argv[1], &lo);
    if (!m) {
        printf("FAIL load: %s\n0 passed, 1 failed\n", mx_last_error());
        return 1;
    }
    mx_safetensors *ref = mx_safetensors_open(argv[2]);
    if (!ref) {
        printf("FAIL reference: %s\n0 passed, 1 failed\n", mx_last_error());
        lm_model_free(m);
        return 1;
    }
    int64_t n_ids, n_logits, n_margin, n_gp, n_gi, n_gm;
    int32_t *ids = read_i32(ref, "input_ids", &n_ids);
    float *rlog = read_f32(ref, "logits", &n_logits);
    float *margin = read_f32(ref, "top1_margin", &n_margin);
    int32_t *gp = read_i32(ref, "greedy_prompt", &n_gp);
    int32_t *gi = read_i32(ref, "greedy_ids", &n_gi);
    float *gm = read_f32(ref, "greedy_margin", &n_gm);
    if (!ids || !rlog || !margin || !gp || !gi || !gm) {
        printf("FAIL reference tensors: %s\n0 passed, 1 failed\n", mx_last_error());
        return 1;
    }
    int64_t vocab = n_logits / n_ids;
    printf("model %s (%s), %lld tokens, vocab %lld, dtype %s\n", argv[1], lm_model_type(m), (long long)n_ids,
           (long long)vocab, mx_dtype_name(lo.dtype));

    /* 1. one prefill, no cache */
    float *g = logits_of(m, NULL, ids, n_ids);
    if (g) compare("prefill", g, rlog, margin, 0, n_ids, vocab);
    else result(0, "prefill", "%s", mx_last_error());
    free(g);

    /* 1b. only the last position's logits (what generation asks for) */
    {
        mx_array *tok = mx_array_from_data(ids, (int64_t[]){1, n_ids}, 2, MX_INT32);
        mx_array *lg = lm_model_forward_last(m, tok, NULL);
        float *last = malloc((size_t)vocab * sizeof *last);
        if (lg && last && mx_dim(lg, 1) == 1 && mx_read(lg, MX_FLOAT32, last) == 0)
            compare("last-position logits", last, rlog, margin, n_ids - 1, 1, vocab);
        else
            result(0, "last-position logits", "%s", mx_last_error());
        free(last);
        mx_free(lg);
        mx_free(tok);
    }

    /* 2. token by token through the cache */
    lm_cache *c = lm_cache_new(m, NULL);
    float *all = malloc((size_t)n_logits * sizeof *all);
    int ok = c && all;
    for (int64_t t = 0; ok && t < n_ids; t++) {
        float *row = logits_of(m, c, ids + t, 1);
        if (!row) ok = 0;
        else memcpy(all + t * vocab, row, (size_t)vocab * sizeof *row);
        free(row);
    }
    if (ok) compare("decode with KV cache", all, rlog, margin, 0, n_ids, vocab);
    else result(0, "decode with KV cache", "%s", mx_last_error());
    lm_cache_free(c);

    /* 3. chunked prefill (chunks of 5) */
    c = lm_cache_new(m, NULL);
    ok = c != NULL;
    for (int64_t t = 0; ok && t < n_ids; t += 5) {
        int64_t len = n_ids - t < 5 ? n_ids - t : 5;
        float *rows = logits_of(m, c, ids + t, len);
        if (!rows) ok = 0;
        else memcpy(all + t * vocab, rows, (size_t)(len * vocab) * sizeof *rows);
        free(rows);
    }
    if (ok) compare("chunked prefill (5)", all, rlog, margin, 0, n_ids, vocab);
    else result(0, "chunked prefill (5)", "%s", mx_last_error());
    lm_cache_free(c);
    free(all);

    /* 4. greedy decoding */
    c = lm_cache_new(m, NULL);
    int32_t *out = calloc((size_t)n_gi, sizeof *out);
    int64_t produced = 0;
    float *lg = c && out ? logits_of(m, c, gp, n_gp) : NULL;
    const float *last = lg ? lg + (n_gp - 1) * vocab : NULL;
    while (last && produced < n_gi) {
        int32_t best = 0;
        for (int64_t j = 1; j < vocab; j++)
            if (last[j] > last[best]) best = (int32_t)j;
        out[produced++] = best;
        if (produced == n_gi) break;
        float *nx = logits_of(m, c, &best, 1);
        free(lg);
        lg = nx;
        last = lg;
    }
    free(lg);
    if (produced == n_gi) {
        int64_t k = 0;
        while (k < n_gi && out[k] == gi[k]) k++;
        int good = k == n_gi || gm[k] < tol_margin;
        result(good, "greedy decoding", "%lld/%lld tokens match%s", (long long)k, (long long)n_gi,
               k < n_gi ? (good ? " (then a near-tie in the reference)" : "") : "");
        if (k < n_gi) printf("     position %lld: got %d, expected %d (reference margin %.3g)\n", (long long)k, out[k],
                             gi[k], gm[k]);
    } else {
        result(0, "greedy decoding", "%s", mx_last_error());
    }
    lm_cache_free(c);
    free(out);
    free(ids);
    free(rlog);
    free(margin);
    free(gp);
    free(gi);
    free(gm);
    mx_safetensors_close(ref);
    lm_model_free(m);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
