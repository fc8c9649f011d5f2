/* KV caches and prompt caches (mlx-lm's models/cache.py semantics) on real models:
 *  - rotating caches at least as long as the sequence give the standard cache's logits;
 *    shorter ones (keep 0) give sliding-window attention, whose reference is the model run
 *    without a cache over the whole sequence with a window mask in every layer (what a
 *    rotating cache computes: each position's keys were made when it was processed, seeing
 *    its own window), for decoding and for prefill chunks alike;
 *  - gemma3's sliding layers (rotating caches) against its cache-less forward;
 *  - the quantized cache's attention equals float attention over the dequantized keys and
 *    values, and its logits stay close to the float cache's;
 *  - trimming, and the file format: a saved cache reloads to identical next-token logits,
 *    the file holds exactly mlx-lm's keys, and bad files are refused with clear messages.
 * Quantized caches need head_dim divisible by the group size (32 at least), which the shared
 * tiny models (head_dim 16) do not have: a small llama with head_dim 32 is written to a
 * temporary directory for them. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/cmlx.h"
#include "cmlx/lm.h"
#include "lm/generate/cache_impl.h"
#include "lm/models/model_impl.h"
#include "test.h"
#include "util/strbuf.h"

static char tmpdir[256];
static const char *shared;

static lm_model *load(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/models/%s", shared, name);
    lm_load_options lo = lm_load_options_default();
    lo.dtype = MX_FLOAT32;
    lo.quiet = 1;
    lm_model *m = lm_model_load(p, &lo);
    CHECK_MSG(m != NULL, "load %s: %s", name, mx_last_error());
    return m;
}

/* Runs ids through the model in chunks (sizes from `sched`, cycled; 0-terminated) and
 * returns all logits [n, vocab] (malloc'd), or NULL. cache may be NULL (one pass). */
static float *run(lm_model *m, lm_cache *c, const int32_t *ids, int n, const int *sched) {
    int vocab = lm_model_vocab_size(m);
    float *out = malloc((size_t)n * vocab * sizeof *out);
    int pos = 0, si = 0;
    while (out && pos < n) {
        int len = c ? sched[si] : n;
        if (c && !sched[++si]) si = 0;
        if (len > n - pos) len = n - pos;
        mx_pool *p = mx_pool_begin();
        mx_array *t = mx_array_from_data(ids + pos, (int64_t[]){1, len}, 2, MX_INT32);
        mx_array *lg = lm_model_forward(m, t, c);
        int bad = !lg || mx_read(lg, MX_FLOAT32, out + (size_t)pos * vocab);
        mx_pool_end(p);
        if (bad || lm_cache_eval(c)) {
            fprintf(stderr, "forward failed at %d: %s\n", pos, mx_last_error());
            free(out);
            return NULL;
        }
        pos += len;
    }
    return out;
}

/* max |a - b| / max |b| over n values */
static double rel_err(const float *a, const float *b, size_t n) {
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > md || isnan(d)) md = isnan(d) ? INFINITY : d;
        if (fabs(b[i]) > mr) mr = fabs(b[i]);
    }
    return md / (mr > 0 ? mr : 1);
}

static void make_ids(int32_t *ids, int n, int vocab, unsigned seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        ids[i] = 3 + (int32_t)((seed >> 8) % (unsigned)(vocab - 3));
    }
}

static const int SCHED_DECODE[] = {1, 0};
static const int SCHED_MIXED[] = {13, 1, 1, 1, 5, 1, 9, 1, 1, 0};

/* ---- rotating caches ---- */

static void test_rotating_long_equals_standard(lm_model *m) {
    int32_t ids[48];
    int vocab = lm_model_vocab_size(m);
    make_ids(ids, 48, vocab, 7);
    lm_cache *std_c = lm_cache_new(m, NULL);
    float *ref = run(m, std_c, ids, 48, SCHED_MIXED);
    const int *scheds[2] = {SCHED_DECODE, SCHED_MIXED};
    for (int s = 0; s < 2; s++) {
        lm_cache_options o = lm_cache_options_default();
        o.max_kv_size = 48; /* >= the sequence: nothing is ever evicted */
        lm_cache *c = lm_cache_new(m, &o);
        CHECK(c && !strcmp(lm_cache_layer_class(c, 0), "RotatingKVCache"));
        float *got = run(m, c, ids, 48, scheds[s]);
        double e = got && ref ? rel_err(got, ref, (size_t)48 * vocab) : INFINITY;
        CHECK_MSG(e <= 1e-5, "rotating(48) vs standard, schedule %d: rel err %.3g", s, e);
        CHECK(lm_cache_is_trimmable(c) == 0); /* offset 48 == max_size: full */
        free(got);
        lm_cache_free(c);
    }
    free(ref);
    lm_cache_free(std_c);
}

/* Sliding-window attention of `window` positions in every layer, without a cache. */
static float *sliding_reference(lm_model *m, const int32_t *ids, int n, int window) {
    int saved_window = m->cfg.sliding_window;
    int *saved = malloc(sizeof(int) * (size_t)m->cfg.num_layers);
    for (int i = 0; i < m->cfg.num_layers; i++) {
        saved[i] = m->layers[i].sliding;
        m->layers[i].sliding = 1;
    }
    m->cfg.sliding_window = window;
    float *r = run(m, NULL, ids, n, NULL);
    for (int i = 0; i < m->cfg.num_layers; i++) m->layers[i].sliding = saved[i];
    m->cfg.sliding_window = saved_window;
    free(saved);
    return r;
}

static void test_rotating_short_is_sliding_window(lm_model *m) {
    enum { N = 40, W = 8 };
    int32_t ids[N];
    int vocab = lm_model_vocab_size(m);
    make_ids(ids, N, vocab, 11);
    float *ref = sliding_reference(m, ids, N, W);
    float *full = run(m, NULL, ids, N, NULL);
    const int *scheds[2] = {SCHED_DECODE, SCHED_MIXED};
    for (int s = 0; s < 2; s++) {
        lm_cache_options o = lm_cache_options_default();
        o.max_kv_size = W;
        o.keep = 0;
        lm_cache *c = lm_cache_new(m, &o);
        float *got = run(m, c, ids, N, scheds[s]);
        double e = got && ref ? rel_err(got, ref, (size_t)N * vocab) : INFINITY;
        CHECK_MSG(e <= 1e-5, "rotating(%d) vs sliding-window reference, schedule %d: rel err %.3g", W, s, e);
        /* the window matters: past it the logits differ from full attention */
        double d = got && full ? rel_err(got + (size_t)(N - 1) * vocab, full + (size_t)(N - 1) * vocab, vocab) : 0;
        CHECK_MSG(d > 1e-3, "last position should differ from full attention (rel %.3g)", d);
        /* the buffer never grows past max_size + chunk - 1 */
        CHECK(c && mx_dim(c->layers[0].keys, 2) <= W + 9 - 1);
        CHECK(!lm_cache_is_trimmable(c) && lm_cache_trim(c, 2) == 0 && lm_cache_offset(c) == N);
        free(got);
        lm_cache_free(c);
    }
    free(ref);
    free(full);
}

/* keep > 0: the first positions survive rotation (attention sinks). */
static void test_rotating_keep(lm_model *m) {
    enum { N = 30 };
    int32_t ids[N];
    make_ids(ids, N, lm_model_vocab_size(m), 5);
    lm_cache_options o = lm_cache_options_default();
    o.max_kv_size = 10; /* keep stays 4, mlx-lm's default */
    CHECK(o.keep == 4);
    lm_cache *c = lm_cache_new(m, &o), *s = lm_cache_new(m, NULL);
    float *a = run(m, c, ids, N, SCHED_DECODE), *b = run(m, s, ids, N, SCHED_DECODE);
    if (a && b) {
        /* within the first 10 positions nothing was evicted */
        CHECK(rel_err(a, b, (size_t)10 * lm_model_vocab_size(m)) <= 1e-5);
        /* the first 4 keys of every layer are still the standard cache's */
        mx_pool *p = mx_pool_begin();
        for (int i = 0; i < c->n_layers; i++) {
            mx_array *x = mx_slice_axis(c->layers[i].keys, 2, 0, 4), *y = mx_slice_axis(s->layers[i].keys, 2, 0, 4);
            mx_array *eq = mx_all(mx_equal(x, y), NULL, 0, 0);
            CHECK_MSG(eq && mx_item_int(eq) == 1, "layer %d: kept positions were overwritten", i);
        }
        mx_pool_end(p);
        CHECK(mx_dim(c->layers[0].keys, 2) == 10);
    }
    free(a);
    free(b);
    lm_cache_free(c);
    lm_cache_free(s);
}

/* gemma3: sliding layers get rotating caches of the window, the global one a standard cache. */
static void test_gemma3(lm_model *g) {
    enum { N = 36 };
    int32_t ids[N];
    int vocab = lm_model_vocab_size(g);
    make_ids(ids, N, vocab, 3);
    float *ref = run(g, NULL, ids, N, NULL);
    lm_cache *c = lm_cache_new(g, NULL);
    CHECK(c && !strcmp(lm_cache_layer_class(c, 0), "RotatingKVCache") && !strcmp(lm_cache_layer_class(c, 2), "KVCache"));
    CHECK(c && c->layers[0].max_size == 8 && c->layers[0].keep == 0);
    const int *scheds[2] = {SCHED_DECODE, SCHED_MIXED};
    for (int s = 0; s < 2; s++) {
        lm_cache *cc = lm_cache_new(g, NULL);
        float *got = run(g, cc, ids, N, scheds[s]);
        double e = got && ref ? rel_err(got, ref, (size_t)N * vocab) : INFINITY;
        CHECK_MSG(e <= 1e-5, "gemma3 rotating sliding layers, schedule %d: rel err %.3g", s, e);
        /* memory stays bounded for the sliding layers */
        CHECK(cc && mx_dim(cc->layers[0].keys, 2) <= 8 + 13 - 1);
        free(got);
        lm_cache_free(cc);
    }
    /* sliding layers whose rotating buffer is longer than the window (a file made with a
     * larger max_size): the window is then masked inside the rotated buffer */
    for (int s = 0; s < 2; s++) {
        lm_cache *cc = lm_cache_new(g, NULL);
        for (int i = 0; cc && i < 2; i++) cc->layers[i].max_size = 12;
        float *got = run(g, cc, ids, N, scheds[s]);
        double e = got && ref ? rel_err(got, ref, (size_t)N * vocab) : INFINITY;
        CHECK_MSG(e <= 1e-5, "gemma3, rotating buffers of 12 for a window of 8, schedule %d: rel err %.3g", s, e);
        free(got);
        lm_cache_free(cc);
    }
    lm_cache_free(c);
    free(ref);
}

/* Decoding writes the new position into the cache's buffer in place (slice_update donates
 * it): the buffer's address stays the same from step to step, for standard caches and for
 * rotating ones once full. */
static void test_decode_in_place(lm_model *m) {
    int32_t ids[40];
    make_ids(ids, 40, lm_model_vocab_size(m), 12);
    lm_cache_options o = lm_cache_options_default();
    o.max_kv_size = 16;
    for (int kind = 0; kind < 2; kind++) {
        lm_cache *c = lm_cache_new(m, kind ? &o : NULL);
        free(run(m, c, ids, 20, SCHED_DECODE));
        const void *before = c ? mx_data(c->layers[1].keys) : NULL;
        int moved = 0;
        for (int i = 20; c && i < 40; i++) {
            free(run(m, c, ids + i, 1, SCHED_DECODE));
            const void *now = mx_data(c->layers[1].keys);
            moved += now != before;
            before = now;
        }
        CHECK_MSG(before && moved == 0, "%s cache: the buffer moved %d times in 20 decode steps",
                  kind ? "rotating" : "standard", moved);
        lm_cache_free(c);
    }
}

/* ---- trimming ---- */

static void test_trim(lm_model *m) {
    enum { N = 20 };
    int32_t ids[N], alt[N];
    int vocab = lm_model_vocab_size(m);
    make_ids(ids, N, vocab, 21);
    memcpy(alt, ids, sizeof ids);
    make_ids(alt + 15, 5, vocab, 99);
    lm_cache_options ro = lm_cache_options_default();
    ro.max_kv_size = 64;
    for (int kind = 0; kind < 2; kind++) {
        lm_cache *c = lm_cache_new(m, kind ? &ro : NULL);
        float *a = run(m, c, ids, N, SCHED_MIXED);
        CHECK(lm_cache_is_trimmable(c));
        CHECK(lm_cache_trim(c, 5) == 5 && lm_cache_offset(c) == 15);
        float *b = run(m, c, alt + 15, 5, SCHED_DECODE);
        lm_cache *f = lm_cache_new(m, NULL);
        float *ref = run(m, f, alt, N, SCHED_MIXED);
        double e = b && ref ? rel_err(b, ref + (size_t)15 * vocab, (size_t)5 * vocab) : INFINITY;
        CHECK_MSG(e <= 1e-5, "%s cache: trim then continue differs (rel %.3g)", kind ? "rotating" : "standard", e);
        CHECK(lm_cache_trim(c, 100) == 20 && lm_cache_offset(c) == 0);
        free(a), free(b), free(ref);
        lm_cache_free(c);
        lm_cache_free(f);
    }
}

/* ---- a tiny llama with head_dim 32, for quantized caches ---- */

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static char *make_qmodel(void) {
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/qllama", tmpdir);
    mkdir(dir, 0700);
    enum { H = 128, L = 2, NH = 4, NKV = 2, HD = 32, I = 96, V = 96 };
    char cfg[1024], p[600];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"llama\", \"hidden_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": %d, "
             "\"num_key_value_heads\": %d, \"head_dim\": %d, \"intermediate_size\": %d, \"vocab_size\": %d, "
             "\"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0, \"tie_word_embeddings\": true, "
             "\"max_position_embeddings\": 4096, \"eos_token_id\": 2, \"bos_token_id\": 1}",
             H, L, NH, NKV, HD, I, V);
    snprintf(p, sizeof p, "%s/config.json", dir);
    if (write_text(p, cfg)) return NULL;
    const char *names[2 + 9 * L];
    char namebuf[2 + 9 * L][96];
    mx_array *arrs[2 + 9 * L];
    int n = 0;
    mx_pool *pool = mx_pool_begin();
    mx_array *key = mx_random_key(1234);
    struct { const char *fmt; int64_t r, c; double sd; } specs[] = {
        {"model.layers.%d.self_attn.q_proj.weight", NH * HD, H, 0.1}, {"model.layers.%d.self_attn.k_proj.weight", NKV * HD, H, 0.1},
        {"model.layers.%d.self_attn.v_proj.weight", NKV * HD, H, 0.1}, {"model.layers.%d.self_attn.o_proj.weight", H, NH * HD, 0.1},
        {"model.layers.%d.mlp.gate_proj.weight", I, H, 0.1}, {"model.layers.%d.mlp.up_proj.weight", I, H, 0.1},
        {"model.layers.%d.mlp.down_proj.weight", H, I, 0.1}, {"model.layers.%d.input_layernorm.weight", 0, H, 0},
        {"model.layers.%d.post_attention_layernorm.weight", 0, H, 0},
    };
    int k = 0;
    for (int l = 0; l < L; l++)
        for (int s = 0; s < 9; s++) {
            snprintf(namebuf[n], sizeof namebuf[n], specs[s].fmt, l);
            mx_array *sub = mx_random_split(key, 2);
            key = mx_reshape(mx_slice_axis(sub, 0, 0, 1), (int64_t[]){2}, 1);
            mx_array *use = mx_reshape(mx_slice_axis(sub, 0, 1, 2), (int64_t[]){2}, 1);
            arrs[n] = specs[s].r ? mx_random_normal((int64_t[]){specs[s].r, specs[s].c}, 2, MX_FLOAT32, 0, specs[s].sd, use)
                                 : mx_ones((int64_t[]){specs[s].c}, 1, MX_FLOAT32);
            names[n] = namebuf[n];
            n++, k++;
        }
    snprintf(namebuf[n], sizeof namebuf[n], "model.embed_tokens.weight");
    arrs[n] = mx_random_normal((int64_t[]){V, H}, 2, MX_FLOAT32, 0, 1.0, key);
    names[n] = namebuf[n], n++;
    snprintf(namebuf[n], sizeof namebuf[n], "model.norm.weight");
    arrs[n] = mx_ones((int64_t[]){H}, 1, MX_FLOAT32);
    names[n] = namebuf[n], n++;
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    int rc = mx_safetensors_save(p, names, arrs, n, NULL, NULL, 0);
    mx_pool_end(pool);
    CHECK_MSG(rc == 0, "writing the head_dim-32 model: %s", mx_last_error());
    return rc ? NULL : dir;
}

/* The quantized attention equals float attention over the dequantized keys and values. */
static void test_quantized_sdpa_exact(void) {
    mx_pool *pool = mx_pool_begin();
    mx_array *key = mx_random_key(77);
    mx_array *ks = mx_random_split(key, 3);
    mx_array *k0 = mx_reshape(mx_slice_axis(ks, 0, 0, 1), (int64_t[]){2}, 1);
    mx_array *k1 = mx_reshape(mx_slice_axis(ks, 0, 1, 2), (int64_t[]){2}, 1);
    mx_array *k2 = mx_reshape(mx_slice_axis(ks, 0, 2, 3), (int64_t[]){2}, 1);
    int bits_list[2] = {4, 8};
    for (int bi = 0; bi < 2; bi++)
        for (int causal = 0; causal < 2; causal++) {
            int bits = bits_list[bi], gs = 32;
            int64_t lq = causal ? 5 : 1, lk = 19;
            mx_array *q = mx_random_normal((int64_t[]){1, 4, lq, 64}, 4, MX_FLOAT32, 0, 1, k0);
            mx_array *k = mx_random_normal((int64_t[]){1, 2, lk, 64}, 4, MX_FLOAT32, 0, 1, k1);
            mx_array *v = mx_random_normal((int64_t[]){1, 2, lk, 64}, 4, MX_FLOAT32, 0, 1, k2);
            mx_array *qk[3], *qv[3];
            mx_quantize(k, gs, bits, MX_QUANT_AFFINE, &qk[0], &qk[1], &qk[2]);
            mx_quantize(v, gs, bits, MX_QUANT_AFFINE, &qv[0], &qv[1], &qv[2]);
            mx_array *dk = mx_dequantize(qk[0], qk[1], qk[2], gs, bits, MX_QUANT_AFFINE, MX_DTYPE_COUNT);
            mx_array *dv = mx_dequantize(qv[0], qv[1], qv[2], gs, bits, MX_QUANT_AFFINE, MX_DTYPE_COUNT);
            int mode = causal ? MX_SDPA_CAUSAL : MX_SDPA_NO_MASK;
            mx_array *got = lm_quantized_sdpa(q, qk, qv, 0.125f, mode, NULL, gs, bits);
            mx_array *ref = mx_fast_scaled_dot_product_attention(q, dk, dv, 0.125f, (mx_sdpa_mask)mode, NULL, NULL);
            mx_array *e = mx_max(mx_abs(mx_subtract(got, ref)), NULL, 0, 0);
            double err = e ? mx_item_double(e) : INFINITY;
            CHECK_MSG(err <= 1e-5, "quantized sdpa (%d bits, causal %d) vs float sdpa on dequantized k/v: %.3g", bits,
                      causal, err);
        }
    mx_pool_end(pool);
}

static void test_quantized_cache(lm_model *qm) {
    enum { N = 40 };
    int32_t ids[N];
    int vocab = lm_model_vocab_size(qm);
    make_ids(ids, N, vocab, 17);
    lm_cache *f = lm_cache_new(qm, NULL);
    float *ref = run(qm, f, ids, N, SCHED_MIXED);
    /* tolerance: 8-bit keys/values are rounded to 1/255 of each group's range (4 bits:
     * 1/15, 17x coarser), about 0.4% (6.7%) of a typical element; through two layers the
     * logits move by the same order: measured 2.6e-3 (8 bits) and 4.5e-2 (4 bits) of their
     * largest magnitude, so 1e-2 and 1e-1 leave ~2-4x headroom without hiding a real bug
     * (a wrong mask or position gives errors of order 1, see the rotating tests) */
    int bits_list[2] = {8, 4};
    double tol[2] = {1e-2, 1e-1};
    for (int bi = 0; bi < 2; bi++) {
        lm_cache_options o = lm_cache_options_default();
        o.kv_bits = bits_list[bi];
        o.kv_group_size = 32;
        o.quantized_kv_start = 0;
        lm_cache *c = lm_cache_new(qm, &o);
        float *got = run(qm, c, ids, N, SCHED_MIXED);
        /* the first chunk (13 tokens) runs before the cache is quantized: identical */
        double e0 = got && ref ? rel_err(got, ref, (size_t)13 * vocab) : INFINITY;
        double e = got && ref ? rel_err(got, ref, (size_t)N * vocab) : INFINITY;
        int agree = 0;
        for (int i = 0; got && ref && i < N; i++) {
            int a = 0, b = 0;
            for (int v = 1; v < vocab; v++) {
                if (got[(size_t)i * vocab + v] > got[(size_t)i * vocab + a]) a = v;
                if (ref[(size_t)i * vocab + v] > ref[(size_t)i * vocab + b]) b = v;
            }
            agree += a == b;
        }
        printf("quantized KV cache %d bits: logits rel err %.3g vs float cache, top-1 agreement %d/%d\n", bits_list[bi],
               e, agree, N);
        CHECK_MSG(e0 <= 1e-6, "%d bits: first chunk should run unquantized (rel %.3g)", bits_list[bi], e0);
        CHECK_MSG(e > 0 && e <= tol[bi], "%d bits: rel err %.3g (tolerance %.3g)", bits_list[bi], e, tol[bi]);
        CHECK(!strcmp(lm_cache_layer_class(c, 0), "QuantizedKVCache"));
        CHECK(c && mx_array_dtype(c->layers[0].qkeys[0]) == MX_UINT32 && mx_dim(c->layers[0].qkeys[0], 3) == 32 * bits_list[bi] / 32);
        CHECK(lm_cache_is_trimmable(c) && lm_cache_trim(c, 3) == 3 && lm_cache_offset(c) == N - 3);
        free(got);
        lm_cache_free(c);
    }
    /* quantized_kv_start: standard until the layer holds that many positions */
    lm_cache_options o = lm_cache_options_default();
    o.kv_bits = 8;
    o.kv_group_size = 32;
    o.quantized_kv_start = 20;
    lm_cache *c = lm_cache_new(qm, &o);
    float *got = run(qm, c, ids, 20, SCHED_DECODE);
    CHECK(c && !strcmp(lm_cache_layer_class(c, 0), "KVCache"));
    CHECK(got && ref && rel_err(got, ref, (size_t)20 * vocab) <= 1e-5);
    free(got);
    got = run(qm, c, ids + 20, 1, SCHED_DECODE);
    CHECK(c && !strcmp(lm_cache_layer_class(c, 0), "QuantizedKVCache"));
    free(got);
    lm_cache_free(c);
    /* as in mlx-lm, rotating caches are not quantized */
    o.max_kv_size = 64;
    mx_clear_error();
    c = lm_cache_new(qm, &o);
    CHECK(!c && strstr(mx_last_error(), "cannot be quantized"));
    o.max_kv_size = 0;
    /* group sizes that do not divide head_dim are refused up front */
    o.kv_group_size = 64;
    mx_clear_error();
    c = lm_cache_new(qm, &o);
    CHECK(!c && strstr(mx_last_error(), "head_dim 32"));
    lm_cache_free(f);
    free(ref);
}

/* ---- prompt-cache files ---- */

static void path_in_tmp(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmpdir, name); }

/* Saves c after prefix tokens, reloads it, and compares the next chunk's logits. */
static void roundtrip(lm_model *m, lm_cache *c, const int32_t *ids, int prefix, int next, const char *what) {
    char path[512];
    path_in_tmp(path, sizeof path, "rt.safetensors");
    int vocab = lm_model_vocab_size(m);
    free(run(m, c, ids, prefix, SCHED_MIXED));
    const char *mk[2] = {"model", "tokenizer_config"}, *mv[2] = {"some/model", "{\"trust_remote_code\": false}"};
    CHECK_MSG(lm_cache_save(c, path, mk, mv, 2) == 0, "%s: save: %s", what, mx_last_error());
    lm_cache_metadata md;
    lm_cache *l = lm_cache_load(m, path, &md);
    CHECK_MSG(l != NULL, "%s: load: %s", what, mx_last_error());
    if (!l) return;
    CHECK(lm_cache_offset(l) == prefix);
    CHECK(md.n == 2 && !strcmp(lm_cache_metadata_get(&md, "model"), "some/model") &&
          !strcmp(lm_cache_metadata_get(&md, "tokenizer_config"), mv[1]));
    for (int i = 0; i < c->n_layers; i++)
        CHECK_MSG(!strcmp(lm_cache_layer_class(l, i), lm_cache_layer_class(c, i)), "%s: layer %d class", what, i);
    float *a = run(m, c, ids + prefix, next, SCHED_MIXED), *b = run(m, l, ids + prefix, next, SCHED_MIXED);
    int same = a && b && !memcmp(a, b, (size_t)next * vocab * sizeof *a);
    CHECK_MSG(same, "%s: logits after reload differ (rel %.3g)", what, a && b ? rel_err(b, a, (size_t)next * vocab) : -1.0);
    free(a), free(b);
    lm_cache_metadata_free(&md);
    lm_cache_free(l);
}

static void test_roundtrips(lm_model *m, lm_model *g, lm_model *qm) {
    int32_t ids[64];
    make_ids(ids, 64, 512, 41);
    lm_cache *c = lm_cache_new(m, NULL);
    roundtrip(m, c, ids, 23, 9, "standard");
    lm_cache_free(c);
    lm_cache_options o = lm_cache_options_default();
    o.max_kv_size = 10;
    c = lm_cache_new(m, &o);
    roundtrip(m, c, ids, 27, 9, "rotating (wrapped, keep 4)");
    lm_cache_free(c);
    c = lm_cache_new(m, &o);
    roundtrip(m, c, ids, 6, 9, "rotating (not yet full)");
    lm_cache_free(c);
    c = lm_cache_new(g, NULL);
    roundtrip(g, c, ids, 30, 9, "gemma3 (rotating sliding layers + standard)");
    lm_cache_free(c);
    if (qm) {
        int32_t q[64];
        make_ids(q, 64, 96, 43);
        lm_cache_options qo = lm_cache_options_default();
        qo.kv_bits = 4;
        qo.kv_group_size = 32;
        c = lm_cache_new(qm, &qo);
        roundtrip(qm, c, q, 25, 9, "quantized");
        lm_cache_free(c);
    }
}

/* The file holds exactly the keys mlx-lm's tree_flatten produces. */
static void test_file_layout(lm_model *g) {
    char path[512];
    path_in_tmp(path, sizeof path, "layout");
    int32_t ids[12];
    make_ids(ids, 12, 512, 8);
    lm_cache *c = lm_cache_new(g, NULL);
    free(run(g, c, ids, 12, SCHED_MIXED));
    const char *mk[1] = {"model"}, *mv[1] = {"gemma"};
    CHECK(lm_cache_save(c, path, mk, mv, 1) == 0);
    /* as MLX, the extension is added */
    path_in_tmp(path, sizeof path, "layout.safetensors");
    mx_safetensors *st = mx_safetensors_open(path);
    CHECK_MSG(st != NULL, "%s", mx_last_error());
    if (st) {
        const char *want_t[] = {"0.0", "0.1", "1.0", "1.1", "2.0", "2.1"};
        CHECK(mx_safetensors_count(st) == 6);
        for (int i = 0; i < 6; i++) CHECK_MSG(mx_safetensors_has(st, want_t[i]), "tensor %s", want_t[i]);
        struct { const char *k, *v; } want_m[] = {
            {"0.0.0", "0"}, {"0.0.1", "8"}, {"0.0.2", "12"}, {"0.0.3", "12"}, {"0.1.0", "0"}, {"0.1.1", "8"},
            {"0.1.2", "12"}, {"0.1.3", "12"}, {"0.2", ""}, {"1.model", "gemma"}, {"2.0", "RotatingKVCache"},
            {"2.1", "RotatingKVCache"}, {"2.2", "KVCache"},
        };
        int nm = (int)(sizeof want_m / sizeof want_m[0]);
        CHECK(mx_safetensors_metadata_count(st) == nm);
        for (int i = 0; i < nm; i++) {
            const char *v = mx_safetensors_metadata(st, want_m[i].k);
            CHECK_MSG(v && !strcmp(v, want_m[i].v), "metadata %s = '%s', expected '%s'", want_m[i].k, v ? v : "(none)",
                      want_m[i].v);
        }
        mx_array *k0 = mx_safetensors_get(st, "0.0"), *k2 = mx_safetensors_get(st, "2.0");
        /* the chunk of 12 arrived in one concatenating update: all 12 positions kept */
        CHECK(k0 && mx_ndim(k0) == 4 && mx_dim(k0, 1) == 2 && mx_dim(k0, 2) == 12 && mx_dim(k0, 3) == 16);
        CHECK(k2 && mx_dim(k2, 2) == 12);
        mx_free(k0), mx_free(k2);
        mx_safetensors_close(st);
    }
    lm_cache_free(c);
}

static const char *st_dtype(mx_dtype t) {
    switch (t) {
    case MX_FLOAT32: return "F32";
    case MX_BFLOAT16: return "BF16";
    case MX_FLOAT16: return "F16";
    case MX_UINT32: return "U32";
    default: return "?";
    }
}

/* Rewrites a cmlx prompt-cache file byte for byte as MLX's save_safetensors lays one out:
 * the header is nlohmann::json's compact dump (keys sorted, "__metadata__" among them), not
 * padded, and the tensor data in another order than the header's keys (MLX iterates an
 * unordered_map). 0 or -1. */
static int rewrite_as_mlx(const char *src, const char *dst) {
    mx_safetensors *st = mx_safetensors_open(src);
    if (!st) return -1;
    int n = mx_safetensors_count(st);
    json_t *hdr = json_object(), *meta = json_object();
    strbuf data = STRBUF_INIT;
    mx_pool *p = mx_pool_begin();
    for (int i = n - 1; i >= 0; i--) { /* data in reverse name order */
        const char *name = mx_safetensors_name(st, i);
        mx_array *a = mx_safetensors_get(st, name);
        size_t nb = mx_nbytes(a);
        char *buf = malloc(nb);
        if (!buf || mx_read(a, mx_array_dtype(a), buf)) {
            free(buf);
            continue;
        }
        json_t *shape = json_array();
        for (int d = 0; d < mx_ndim(a); d++) json_array_append_new(shape, json_integer(mx_dim(a, d)));
        json_object_set_new(hdr, name, json_pack("{s:[I,I], s:s, s:o}", "data_offsets", (json_int_t)data.len,
                                                 (json_int_t)(data.len + nb), "dtype", st_dtype(mx_array_dtype(a)),
                                                 "shape", shape));
        strbuf_append(&data, buf, nb);
        free(buf);
    }
    mx_pool_end(p);
    for (int i = 0; i < mx_safetensors_metadata_count(st); i++) {
        const char *k = mx_safetensors_metadata_key(st, i);
        json_object_set_new(meta, k, json_string(mx_safetensors_metadata(st, k)));
    }
    json_object_set_new(hdr, "__metadata__", meta);
    char *h = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(hdr);
    mx_safetensors_close(st);
    FILE *f = h ? fopen(dst, "wb") : NULL;
    int rc = -1;
    if (f) {
        uint64_t hl = strlen(h);
        rc = fwrite(&hl, 8, 1, f) == 1 && fwrite(h, 1, hl, f) == hl && fwrite(data.data, 1, data.len, f) == data.len ? 0 : -1;
        if (fclose(f)) rc = -1;
    }
    free(h);
    strbuf_free(&data);
    return rc;
}

/* A file laid out as MLX writes it loads, and continues exactly as the cache it came from. */
static void test_mlx_layout_loads(lm_model *g, lm_model *qm) {
    char src[512], dst[512];
    path_in_tmp(src, sizeof src, "cmlx.safetensors");
    path_in_tmp(dst, sizeof dst, "mlx.safetensors");
    for (int which = 0; which < 2; which++) {
        lm_model *m = which ? qm : g;
        if (!m) continue;
        int vocab = lm_model_vocab_size(m);
        int32_t ids[30];
        make_ids(ids, 30, vocab, 4);
        lm_cache_options o = lm_cache_options_default();
        if (which) o.kv_bits = 8, o.kv_group_size = 32;
        lm_cache *c = lm_cache_new(m, &o);
        free(run(m, c, ids, 21, SCHED_MIXED));
        CHECK(lm_cache_save(c, src, NULL, NULL, 0) == 0);
        CHECK_MSG(rewrite_as_mlx(src, dst) == 0, "rewrite %s", src);
        lm_cache *l = lm_cache_load(m, dst, NULL);
        CHECK_MSG(l != NULL, "MLX-laid-out file: %s", mx_last_error());
        if (l) {
            CHECK(!strcmp(lm_cache_layer_class(l, 0), which ? "QuantizedKVCache" : "RotatingKVCache"));
            float *a = run(m, c, ids + 21, 9, SCHED_DECODE), *b = run(m, l, ids + 21, 9, SCHED_DECODE);
            CHECK_MSG(a && b && !memcmp(a, b, (size_t)9 * vocab * sizeof *a), "MLX-laid-out %s cache continues differently",
                      which ? "quantized" : "gemma3");
            free(a), free(b);
        }
        lm_cache_free(l);
        lm_cache_free(c);
    }
}

static int load_fails_with(lm_model *m, const char *path, const char *needle, const char *needle2) {
    mx_clear_error();
    lm_cache_metadata md;
    lm_cache *c = lm_cache_load(m, path, &md);
    if (c) {
        lm_cache_free(c);
        lm_cache_metadata_free(&md);
        fprintf(stderr, "loaded %s, expected an error with '%s'\n", path, needle);
        return 0;
    }
    const char *e = mx_last_error();
    int ok = strstr(e, needle) && (!needle2 || strstr(e, needle2));
    if (!ok) fprintf(stderr, "error '%s' lacks '%s'/'%s'\n", e, needle, needle2 ? needle2 : "");
    return ok;
}

/* Rewrites src with one tensor replaced (or dropped: rep NULL) and/or one metadata value changed. */
static int rewrite(const char *src, const char *dst, const char *tname, mx_array *rep, const char *mkey, const char *mval) {
    mx_safetensors *st = mx_safetensors_open(src);
    if (!st) return -1;
    int n = mx_safetensors_count(st), nm = mx_safetensors_metadata_count(st), k = 0, km = 0;
    const char *names[64], *mk[128], *mv[128];
    mx_array *arrs[64];
    mx_pool *p = mx_pool_begin();
    for (int i = 0; i < n && i < 64; i++) {
        const char *nm_i = mx_safetensors_name(st, i);
        if (tname && !strcmp(nm_i, tname)) {
            if (!rep) continue;
            arrs[k] = rep;
        } else {
            arrs[k] = mx_safetensors_get(st, nm_i);
        }
        names[k++] = nm_i;
    }
    for (int i = 0; i < nm && i < 128; i++) {
        mk[km] = mx_safetensors_metadata_key(st, i);
        mv[km] = mkey && !strcmp(mk[km], mkey) ? mval : mx_safetensors_metadata(st, mk[km]);
        if (mv[km]) km++;
    }
    int rc = mx_safetensors_save(dst, names, arrs, k, mk, mv, km);
    mx_pool_end(p);
    mx_safetensors_close(st);
    return rc;
}

static void test_bad_files(lm_model *m, lm_model *g, lm_model *stories) {
    char good[512], bad[512];
    path_in_tmp(good, sizeof good, "good.safetensors");
    path_in_tmp(bad, sizeof bad, "bad.safetensors");
    int32_t ids[12];
    make_ids(ids, 12, 512, 2);
    lm_cache *c = lm_cache_new(m, NULL);
    free(run(m, c, ids, 12, SCHED_MIXED));
    CHECK(lm_cache_save(c, good, NULL, NULL, 0) == 0);
    lm_cache_free(c);
    /* an empty cache cannot be saved (MLX refuses empty arrays) */
    c = lm_cache_new(m, NULL);
    mx_clear_error();
    CHECK(lm_cache_save(c, bad, NULL, NULL, 0) == -1 && strstr(mx_last_error(), "empty cache"));
    lm_cache_free(c);

    CHECK(load_fails_with(m, "/nonexistent/x.safetensors", "/nonexistent/x.safetensors", NULL));
    /* garbage */
    FILE *f = fopen(bad, "wb");
    if (f) {
        fputs("this is not a safetensors file at all, just text", f);
        fclose(f);
    }
    CHECK(load_fails_with(m, bad, bad, "cannot read"));
    /* truncated: the good file cut in half */
    struct stat sb;
    if (stat(good, &sb) == 0) {
        FILE *in = fopen(good, "rb");
        char *buf = malloc((size_t)sb.st_size);
        size_t got = in && buf ? fread(buf, 1, (size_t)sb.st_size, in) : 0;
        if (in) fclose(in);
        f = fopen(bad, "wb");
        if (f && got) {
            fwrite(buf, 1, got / 2, f);
            fclose(f);
        } else if (f) {
            fclose(f);
        }
        free(buf);
        CHECK(load_fails_with(m, bad, bad, "cannot read"));
    }
    /* a safetensors file that is not a prompt cache: the model's own weights */
    char wpath[512];
    snprintf(wpath, sizeof wpath, "%s/models/llama-tiny/model.safetensors", shared);
    CHECK(load_fails_with(m, wpath, "is not a prompt cache", NULL));
    /* another model: layer counts differ (stories260K has 5) */
    CHECK(load_fails_with(stories, good, "holds 3 layers but the model", "has 5"));
    /* same layer count, but gemma3's sliding layers need a window the KVCache file lacks: it
     * loads (a KVCache with a window mask is correct), so instead check shapes: */
    mx_pool *p = mx_pool_begin();
    rewrite(good, bad, "1.0", mx_zeros((int64_t[]){1, 2, 12, 8}, 4, MX_FLOAT32), NULL, NULL);
    CHECK(load_fails_with(m, bad, "tensor '1.0' (keys) has shape [1, 2, 12, 8]", "[B, 2, 12, 16]"));
    rewrite(good, bad, "2.1", mx_zeros((int64_t[]){1, 2, 11, 16}, 4, MX_FLOAT32), NULL, NULL);
    CHECK(load_fails_with(m, bad, "tensor '2.1' (values) has shape [1, 2, 11, 16]", NULL));
    rewrite(good, bad, "0.1", mx_zeros((int64_t[]){1, 2, 12, 16}, 4, MX_INT32), NULL, NULL);
    CHECK(load_fails_with(m, bad, "dtype int32", NULL));
    rewrite(good, bad, "1.1", NULL, NULL, NULL);
    CHECK(load_fails_with(m, bad, "tensor '1.1' (values) is missing", NULL));
    rewrite(good, bad, NULL, NULL, "2.1", "ArraysCache");
    CHECK(load_fails_with(m, bad, "unsupported cache class 'ArraysCache'", bad));
    rewrite(good, bad, NULL, NULL, "2.2", NULL);
    CHECK(load_fails_with(m, bad, "holds 2 layers", NULL));
    mx_pool_end(p);
    /* rotating metadata that does not fit the state */
    char rgood[512];
    path_in_tmp(rgood, sizeof rgood, "rgood.safetensors");
    lm_cache_options o = lm_cache_options_default();
    o.max_kv_size = 6;
    c = lm_cache_new(m, &o);
    free(run(m, c, ids, 12, SCHED_DECODE));
    CHECK(lm_cache_save(c, rgood, NULL, NULL, 0) == 0);
    lm_cache_free(c);
    rewrite(rgood, bad, NULL, NULL, "0.1.2", "x12");
    CHECK(load_fails_with(m, bad, "'0.1.2' (offset) is 'x12'", NULL));
    rewrite(rgood, bad, NULL, NULL, "0.0.3", "9");
    CHECK(load_fails_with(m, bad, "does not agree", NULL));
    rewrite(rgood, bad, NULL, NULL, "0.2.2", "13");
    CHECK(load_fails_with(m, bad, "layer 2 has seen 13 tokens but layer 0 12", NULL));
    /* a gemma3 cache whose sliding layers hold fewer positions than the window */
    c = lm_cache_new(g, NULL);
    free(run(g, c, ids, 12, SCHED_DECODE));
    CHECK(lm_cache_save(c, rgood, NULL, NULL, 0) == 0);
    lm_cache_free(c);
    rewrite(rgood, bad, NULL, NULL, "0.0.1", "4");
    CHECK(load_fails_with(g, bad, "sliding window of 8", NULL));
}

int main(void) {
    shared = test_shared_dir("test_lm_cache needs models/llama-tiny, gemma3_text-tiny, stories260K");
    if (!shared) return test_finish();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cmlx_test_lm_cache_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    lm_model *m = load("llama-tiny"), *g = load("gemma3_text-tiny"), *s = load("stories260K");
    char *qdir = make_qmodel();
    lm_model *qm = NULL;
    if (qdir) {
        lm_load_options lo = lm_load_options_default();
        lo.quiet = 1;
        qm = lm_model_load(qdir, &lo);
        CHECK_MSG(qm != NULL, "load the head_dim-32 model: %s", mx_last_error());
    }
    if (m && g && s) {
        test_rotating_long_equals_standard(m);
        test_rotating_short_is_sliding_window(m);
        test_rotating_keep(m);
        test_gemma3(g);
        test_trim(m);
        test_decode_in_place(m);
        test_quantized_sdpa_exact();
        if (qm) test_quantized_cache(qm);
        test_roundtrips(m, g, qm);
        test_file_layout(g);
        test_mlx_layout_loads(g, qm);
        test_bad_files(m, g, s);
    }
    lm_model_free(qm);
    lm_model_free(m);
    lm_model_free(g);
    lm_model_free(s);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_finish();
}
