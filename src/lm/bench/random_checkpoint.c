/* Random-weight checkpoints: a config.json becomes a directory the real loader reads, with
 * every tensor lm_model_load asks for, named and shaped as mlx-lm writes them (see
 * ../shared/formats/mlx-quant.md). The module list follows load.c's decisions (architecture
 * switches from the same registry), so a model benchmarked from random weights runs exactly
 * the code a downloaded checkpoint would.
 *
 * Memory: one shard per decoder layer, each generated, quantized, written and freed before
 * the next, so the largest resident set is one layer (plus the embedding shard). */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/io.h"
#include "cmlx/lm_bench.h"
#include "cmlx/ops.h"
#include "core/dtype.h"
#include "lm/bench/own_thread.h"
#include "lm/models/model_impl.h"

lm_random_options lm_random_options_default(void) {
    lm_random_options o = {0, 64, 0, 0.02, 0};
    return o;
}

/* ---- fast normal samples ----
 * The library's threefry sampler is exact but slow (about 3M values/s here: minutes for a
 * 1B model). These come from inverse-CDF sampling through a table of the exact normal
 * quantiles Phi^-1((k + 0.5) / 4097), k = 0..4096, interpolated linearly between
 * neighbours: the distribution matches N(0, 1) at every table point and is cut at the
 * extreme quantiles (+-3.67 sigma), which changes nothing a benchmark measures. About 2 ns a
 * value. */

enum { QTABLE = 4096 };
static float qtable[QTABLE + 1];
static pthread_once_t qtable_once = PTHREAD_ONCE_INIT;

static double normal_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

static void qtable_init(void) {
    for (int k = 0; k <= QTABLE; k++) {
        double p = (k + 0.5) / (QTABLE + 1), lo = -10, hi = 10;
        for (int it = 0; it < 80; it++) { /* bisection: exact to double precision */
            double mid = 0.5 * (lo + hi);
            if (normal_cdf(mid) < p) lo = mid;
            else hi = mid;
        }
        qtable[k] = (float)(0.5 * (lo + hi));
    }
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* One sample from 32 random bits: 12 pick the table interval, 20 the point within it. */
static inline float sample_normal(uint32_t r) {
    uint32_t k = r >> 20;
    float f = (float)(r & 0xFFFFF) * (1.0f / 1048576.0f);
    return qtable[k] + f * (qtable[k + 1] - qtable[k]);
}

/* A fill of n values from per-block streams (each block of 4096 has its own stream seeded by
 * (seed, block), so the values do not depend on the thread count): bf16 samples of
 * N(0, std^2) into bf16, else uniform 32-bit words (packed quantized codes) into words. Runs
 * on its own thread (own_thread.h). */
typedef struct {
    uint16_t *bf16;
    uint32_t *words;
    int64_t n;
    uint64_t seed;
    float std;
} fill_job;

static void fill_blocks(void *p) {
    const fill_job *j = p;
    const int64_t block = 4096, n = j->n;
    int64_t nblocks = (n + block - 1) / block;
#pragma omp parallel for schedule(static)
    for (int64_t bi = 0; bi < nblocks; bi++) {
        uint64_t s = j->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(bi + 1));
        int64_t lo = bi * block, hi = lo + block < n ? lo + block : n;
        if (j->bf16) {
            for (int64_t i = lo; i < hi; i += 2) {
                uint64_t r = splitmix64(&s);
                j->bf16[i] = mx_f32_to_bf16(j->std * sample_normal((uint32_t)r));
                if (i + 1 < hi) j->bf16[i + 1] = mx_f32_to_bf16(j->std * sample_normal((uint32_t)(r >> 32)));
            }
        } else {
            for (int64_t i = lo; i < hi; i++) j->words[i] = (uint32_t)splitmix64(&s);
        }
    }
}

/* n bf16 samples of N(0, std^2). */
static void fill_normal_bf16(uint16_t *dst, int64_t n, uint64_t seed, double std) {
    pthread_once(&qtable_once, qtable_init);
    fill_job job = {dst, NULL, n, seed, (float)std};
    bench_run_on_own_thread(fill_blocks, &job);
}

/* n random 32-bit words. */
static void fill_words(uint32_t *dst, int64_t n, uint64_t seed) {
    fill_job job = {NULL, dst, n, seed, 0};
    bench_run_on_own_thread(fill_blocks, &job);
}

/* ---- shards ---- */

typedef struct {
    char **names;
    mx_array **arrays;
    int n, cap;
} shard;

/* Takes over the reference `a` (freed here on failure). */
static int shard_add(shard *s, const char *name, mx_array *a) {
    if (!a) return -1;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 32;
        char **nn = realloc(s->names, (size_t)cap * sizeof *nn);
        if (nn) s->names = nn;
        mx_array **na = nn ? realloc(s->arrays, (size_t)cap * sizeof *na) : NULL;
        if (!na) {
            mx_free(a);
            return mx_set_error("[bench] out of memory");
        }
        s->arrays = na;
        s->cap = cap;
    }
    s->names[s->n] = strdup(name);
    if (!s->names[s->n]) {
        mx_free(a);
        return mx_set_error("[bench] out of memory");
    }
    s->arrays[s->n++] = a;
    return 0;
}

static void shard_clear(shard *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->names[i]);
        mx_free(s->arrays[i]);
    }
    s->n = 0;
}

static void shard_release(shard *s) {
    shard_clear(s);
    free(s->names);
    free(s->arrays);
    memset(s, 0, sizeof *s);
}

typedef struct {
    const lm_config *cfg;
    const lm_random_options *o;
    uint64_t counter;            /* one random stream per tensor */
    json_t *weight_map, *qcfg;   /* name -> shard file; per-module quantization overrides */
    size_t total_bytes;
    shard cur;
} writer;

static void release_free(void *p) { free(p); }

/* A bf16 tensor of N(0, std^2) samples, or filled with `value` when std is 0. */
static mx_array *make_tensor(writer *w, const int64_t *shape, int ndim, double std, float value) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    uint16_t *buf = malloc((size_t)n * sizeof *buf);
    if (!buf) {
        mx_set_error("[bench] cannot allocate %lld bfloat16 values", (long long)n);
        return NULL;
    }
    if (std > 0) {
        fill_normal_bf16(buf, n, w->o->seed * 0x2545F4914F6CDD1Dull + ++w->counter, std);
    } else {
        uint16_t v = mx_f32_to_bf16(value);
        for (int64_t i = 0; i < n; i++) buf[i] = v;
    }
    mx_array *a = mx_array_from_external(buf, shape, ndim, MX_BFLOAT16, release_free, buf);
    if (!a) free(buf);
    return a;
}

/* The packed codes, scales and biases of a quantized [.., out, in] stack drawn directly:
 * uniform codes, every group spanning +-3 std (scale 6 std / (2^bits - 1), bias -3 std).
 * Used for expert stacks, where quantizing N(0, std^2) samples with mx_quantize took ~40 min
 * for Qwen3-30B-A3B's 29 billion expert weights on this 2-core machine; what a decode step
 * reads (bytes per weight, layout) is the same either way. */
static int make_codes(writer *w, const int64_t *shape, int nd, int bits, int g, mx_array **q, mx_array **s,
                      mx_array **b) {
    int64_t qs[3], ss[3], n = 1;
    for (int i = 0; i < nd; i++) qs[i] = ss[i] = shape[i], n *= shape[i];
    qs[nd - 1] = shape[nd - 1] * bits / 32;
    ss[nd - 1] = shape[nd - 1] / g;
    int64_t nw = n * bits / 32, ng = n / g;
    uint32_t *words = malloc(sizeof(uint32_t) * (size_t)nw);
    uint16_t *sc = malloc(sizeof(uint16_t) * (size_t)ng), *bs = malloc(sizeof(uint16_t) * (size_t)ng);
    if (!words || !sc || !bs) {
        free(words), free(sc), free(bs);
        mx_set_error("[bench] cannot allocate %lld quantized codes", (long long)n);
        return -1;
    }
    fill_words(words, nw, w->o->seed * 0x2545F4914F6CDD1Dull + ++w->counter);
    uint16_t sv = mx_f32_to_bf16((float)(6.0 * w->o->std / ((1 << bits) - 1))), bv = mx_f32_to_bf16((float)(-3.0 * w->o->std));
    for (int64_t i = 0; i < ng; i++) sc[i] = sv, bs[i] = bv;
    *q = mx_array_from_external(words, qs, nd, MX_UINT32, release_free, words);
    *s = mx_array_from_external(sc, ss, nd, MX_BFLOAT16, release_free, sc);
    *b = mx_array_from_external(bs, ss, nd, MX_BFLOAT16, release_free, bs);
    if (!*q) free(words);
    if (!*s) free(sc);
    if (!*b) free(bs);
    return *q && *s && *b ? 0 : -1;
}

/* Every tensor is made inside a pool of its own and the shard takes an mx_keep reference:
 * temporaries (the bf16 source of a quantized matrix) are freed as soon as the module is
 * done, whatever pool the caller has open. */
static int add_kept(writer *w, const char *name, mx_array *a) { return a ? shard_add(&w->cur, name, mx_keep(a)) : -1; }

static int add_norm(writer *w, const char *name, int64_t dim, int plus_one) {
    mx_pool *pool = mx_pool_begin();
    if (!pool) return -1;
    int rc = add_kept(w, name, make_tensor(w, &dim, 1, 0, plus_one ? 0.0f : 1.0f));
    mx_pool_end(pool);
    return rc;
}

/* A Linear (or an expert stack when experts > 0) named prefix, [out, in]; quantized as
 * mlx-lm's default predicate decides, `bits_override` > 0 forcing the bits (the router). */
static int add_linear(writer *w, const char *prefix, int64_t experts, int64_t out, int64_t in, int bias,
                      int bits_override) {
    char name[512];
    int64_t shape[3];
    int nd = 0;
    if (experts > 0) shape[nd++] = experts;
    shape[nd++] = out;
    shape[nd++] = in;
    int bits = bits_override > 0 ? bits_override : w->o->bits, g = w->o->group_size;
    int quantize = w->o->bits > 0 && in % g == 0 && (in * bits) % 32 == 0;
    mx_pool *pool = mx_pool_begin();
    if (!pool) return -1;
    int rc = -1;
    mx_array *wt = quantize && experts > 0 ? NULL : make_tensor(w, shape, nd, w->o->std, 0);
    if (!wt && !(quantize && experts > 0)) goto out;
    if (quantize) {
        mx_array *q = NULL, *s = NULL, *b = NULL;
        if (experts > 0) {
            if (make_codes(w, shape, nd, bits, g, &q, &s, &b)) goto out;
        } else {
            if (mx_quantize(wt, g, bits, MX_QUANT_AFFINE, &q, &s, &b)) goto out;
            mx_array *all[3] = {q, s, b};
            if (mx_eval(all, 3)) goto out;
        }
        snprintf(name, sizeof name, "%s.weight", prefix);
        if (add_kept(w, name, q)) goto out;
        snprintf(name, sizeof name, "%s.scales", prefix);
        if (add_kept(w, name, s)) goto out;
        snprintf(name, sizeof name, "%s.biases", prefix);
        if (add_kept(w, name, b)) goto out;
        if (bits != w->o->bits) {
            json_t *ov = json_pack("{s:i, s:i}", "group_size", g, "bits", bits);
            if (!ov || json_object_set_new(w->qcfg, prefix, ov)) {
                mx_set_error("[bench] out of memory");
                goto out;
            }
        }
    } else {
        snprintf(name, sizeof name, "%s.weight", prefix);
        if (add_kept(w, name, wt)) goto out;
    }
    if (bias) {
        int64_t bshape[2] = {experts, out};
        snprintf(name, sizeof name, "%s.bias", prefix);
        if (add_kept(w, name, make_tensor(w, experts > 0 ? bshape : bshape + 1, experts > 0 ? 2 : 1, 0, 0.0f))) goto out;
    }
    rc = 0;
out:
    mx_pool_end(pool);
    return rc;
}

/* The tensors of decoder layer i, with load.c's decisions. */
static int add_layer(writer *w, const lm_arch *arch, int i) {
    const lm_config *c = w->cfg;
    char p[64], n[320];
    snprintf(p, sizeof p, "model.layers.%d", i);
#define NAME(fmt) (snprintf(n, sizeof n, "%s." fmt, p), n)
    int64_t h = c->hidden_size, hd = c->head_dim, qdim = (int64_t)c->num_heads * hd, kvdim = (int64_t)c->num_kv_heads * hd;
    int po = arch->norm_plus_one;
    if (add_norm(w, NAME("input_layernorm.weight"), h, po) || add_norm(w, NAME("post_attention_layernorm.weight"), h, po))
        return -1;
    if (arch->sandwich_norms && (add_norm(w, NAME("pre_feedforward_layernorm.weight"), h, po) ||
                                 add_norm(w, NAME("post_feedforward_layernorm.weight"), h, po)))
        return -1;
    int qkv_bias = c->attention_bias || !strcmp(c->model_type, "qwen2");
    if (arch->fused_qkv) {
        if (add_linear(w, NAME("self_attn.qkv_proj"), 0, qdim + 2 * kvdim, h, 0, 0)) return -1;
    } else if (add_linear(w, NAME("self_attn.q_proj"), 0, qdim, h, qkv_bias, 0) ||
               add_linear(w, NAME("self_attn.k_proj"), 0, kvdim, h, qkv_bias, 0) ||
               add_linear(w, NAME("self_attn.v_proj"), 0, kvdim, h, qkv_bias, 0)) {
        return -1;
    }
    if (add_linear(w, NAME("self_attn.o_proj"), 0, h, qdim, c->attention_bias, 0)) return -1;
    if (arch->qk_norm &&
        (add_norm(w, NAME("self_attn.q_norm.weight"), hd, po) || add_norm(w, NAME("self_attn.k_norm.weight"), hd, po)))
        return -1;
    int sparse = arch->moe && !c->layer_dense[i] && c->num_experts > 0 &&
                 (c->decoder_sparse_step <= 1 || (i + 1) % c->decoder_sparse_step == 0);
    if (sparse) {
        char sp[320];
        int64_t inter = c->moe_intermediate_size, e = c->num_experts;
        /* mlx-lm's qwen3_moe quant_predicate keeps the router at 8 bits */
        int router_bits = !strcmp(c->model_type, "qwen3_moe") ? 8 : 0;
        snprintf(sp, sizeof sp, "%s.%s.gate", p, arch->moe_prefix);
        if (add_linear(w, sp, 0, e, h, 0, router_bits)) return -1;
        static const char *names[3] = {"gate_proj", "up_proj", "down_proj"};
        for (int j = 0; j < 3; j++) {
            snprintf(sp, sizeof sp, "%s.%s.switch_mlp.%s", p, arch->moe_prefix, names[j]);
            if (add_linear(w, sp, e, j == 2 ? h : inter, j == 2 ? inter : h, 0, 0)) return -1;
        }
    } else if (arch->fused_gate_up) {
        if (add_linear(w, NAME("mlp.gate_up_proj"), 0, 2 * (int64_t)c->intermediate_size, h, 0, 0) ||
            add_linear(w, NAME("mlp.down_proj"), 0, h, c->intermediate_size, 0, 0))
            return -1;
    } else {
        int64_t f = c->intermediate_size;
        if (add_linear(w, NAME("mlp.gate_proj"), 0, f, h, c->mlp_bias, 0) ||
            add_linear(w, NAME("mlp.up_proj"), 0, f, h, c->mlp_bias, 0) ||
            add_linear(w, NAME("mlp.down_proj"), 0, h, f, c->mlp_bias, 0))
            return -1;
    }
#undef NAME
    return 0;
}

/* Writes the current shard as file `idx` of `count` and records its tensors in the map. */
static int flush_shard(writer *w, const char *dir, int idx, int count) {
    char file[64], path[4200];
    snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", idx, count);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    const char *meta_k[1] = {"format"}, *meta_v[1] = {"mlx"};
    if (mx_safetensors_save(path, (const char *const *)w->cur.names, w->cur.arrays, w->cur.n, meta_k, meta_v, 1))
        return -1;
    for (int i = 0; i < w->cur.n; i++) {
        w->total_bytes += mx_nbytes(w->cur.arrays[i]);
        if (json_object_set_new(w->weight_map, w->cur.names[i], json_string(file)))
            return mx_set_error("[bench] out of memory");
    }
    shard_clear(&w->cur);
    return 0;
}

/* config.json as mlx-lm convert writes it: the source plus the quantization objects. */
static int write_config(json_t *src, json_t *qcfg, const lm_random_options *o, const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (o->bits > 0) {
        json_t *q = json_deep_copy(qcfg);
        if (!q || json_object_set_new(q, "group_size", json_integer(o->group_size)) ||
            json_object_set_new(q, "bits", json_integer(o->bits)) ||
            json_object_set_new(q, "mode", json_string("affine")) || json_object_set(src, "quantization", q) ||
            json_object_set_new(src, "quantization_config", q)) {
            return mx_set_error("[bench] out of memory");
        }
    }
    if (json_dump_file(src, path, JSON_INDENT(4) | JSON_SORT_KEYS))
        return mx_set_error("[bench] %s: cannot write the config", path);
    return 0;
}

int lm_random_checkpoint_write(const char *config_path, const char *out_dir, const lm_random_options *opt) {
    lm_random_options o = opt ? *opt : lm_random_options_default();
    if (o.group_size <= 0) o.group_size = 64;
    if (o.std <= 0) o.std = 0.02;
    if (o.bits < 0 || o.bits > 8 || (o.bits && o.bits != 2 && o.bits != 3 && o.bits != 4 && o.bits != 5 &&
                                     o.bits != 6 && o.bits != 8))
        return mx_set_error("[bench] quantization bits %d: use 2, 3, 4, 5, 6 or 8", o.bits);
    if (o.group_size != 32 && o.group_size != 64 && o.group_size != 128)
        return mx_set_error("[bench] quantization group size %d: use 32, 64 or 128", o.group_size);
    json_error_t jerr;
    json_t *src = json_load_file(config_path, 0, &jerr);
    if (!src) return mx_set_error("[bench] %s: %s (line %d, column %d)", config_path, jerr.text, jerr.line, jerr.column);
    if (!json_is_object(src)) {
        json_decref(src);
        return mx_set_error("[bench] %s: the top level is not a JSON object", config_path);
    }
    json_object_del(src, "quantization");
    json_object_del(src, "quantization_config");
    if (o.num_layers > 0) {
        json_t *tc = json_object_get(src, "text_config");
        json_t *dst = json_is_object(tc) && json_object_get(tc, "num_hidden_layers") ? tc : src;
        json_t *lt = json_object_get(dst, "layer_types"); /* per-layer lists must match the count */
        if (json_is_array(lt) && (int)json_array_size(lt) > o.num_layers)
            while ((int)json_array_size(lt) > o.num_layers) json_array_remove(lt, json_array_size(lt) - 1);
        if (json_object_set_new(dst, "num_hidden_layers", json_integer(o.num_layers))) {
            json_decref(src);
            return mx_set_error("[bench] out of memory");
        }
    }
    /* the plain config first, so that the loader's own parser reads it */
    lm_model m;
    memset(&m, 0, sizeof m);
    m.dir = (char *)out_dir;
    writer w;
    memset(&w, 0, sizeof w);
    w.o = &o;
    w.cfg = &m.cfg;
    w.weight_map = json_object();
    w.qcfg = json_object();
    int rc = -1, have_cfg = 0;
    if (!w.weight_map || !w.qcfg) {
        mx_set_error("[bench] out of memory");
        goto out;
    }
    if (write_config(src, w.qcfg, &(lm_random_options){0, 64, 0, 0, 0}, out_dir)) goto out;
    if (lm_config_load(out_dir, &m.cfg)) goto out;
    have_cfg = 1;
    if (lm_arch_setup(&m)) goto out;
    const lm_config *c = &m.cfg;
    int count = c->num_layers + 1;
    for (int i = 0; i < c->num_layers; i++)
        if (add_layer(&w, &m.arch, i) || flush_shard(&w, out_dir, i + 1, count)) goto out;
    {
        int bad = add_linear(&w, "model.embed_tokens", 0, c->vocab_size, c->hidden_size, 0, 0) ||
                  add_norm(&w, "model.norm.weight", c->hidden_size, m.arch.norm_plus_one) ||
                  (!c->tie_word_embeddings && add_linear(&w, "lm_head", 0, c->vocab_size, c->hidden_size, 0, 0));
        if (bad || flush_shard(&w, out_dir, count, count)) goto out;
    }
    {
        char path[4200];
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", out_dir);
        json_t *idx = json_pack("{s:{s:I}, s:O}", "metadata", "total_size", (json_int_t)w.total_bytes, "weight_map",
                                w.weight_map);
        int bad = !idx || json_dump_file(idx, path, JSON_INDENT(4) | JSON_SORT_KEYS);
        json_decref(idx);
        if (bad) {
            mx_set_error("[bench] %s: cannot write the shard index", path);
            goto out;
        }
    }
    if (write_config(src, w.qcfg, &o, out_dir)) goto out;
    rc = 0;
out:
    shard_release(&w.cur);
    if (have_cfg) lm_config_release(&m.cfg);
    json_decref(w.weight_map);
    json_decref(w.qcfg);
    json_decref(src);
    return rc;
}
