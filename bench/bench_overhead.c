/* Per-op overhead of the array core: what a decode token costs besides its kernels.
 *
 *   bench_overhead [--tokens N] [--chain N]
 *
 * Threads: OMP_NUM_THREADS. Medians; all sections single process.
 *  (a) graph building: the decode graph of a Llama-3.2-1B-shaped model (16 layers: rms_norm,
 *      q/k/v/o, rope, KV concatenation, sdpa, SwiGLU MLP, residuals; untied head) built N
 *      times on lazy (never evaluated) bf16 weights, then dropped: us per token, per node.
 *  (b) dispatch: a chain of 10,000 adds on 16 float32 elements, evaluated at once: us per node
 *      (task allocation, queueing, the worker's wait/publish, kernel call, release).
 *  (c) a "tiny model" token: the same graph as (a) with every dimension divided by 32 (hidden
 *      64, 1 kv head, MLP 256, vocab 4008), built and evaluated: the whole per-token overhead
 *      where kernels cost almost nothing.
 *  (d) OpenMP: an empty `omp parallel` region and an `omp parallel for` over 2048 floats,
 *      timed 100,000 times (the fork/join a kernel pays when it threads). */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmlx/cmlx.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    return t[n / 2];
}

typedef struct {
    int64_t hidden, heads, kv_heads, head_dim, inter, vocab, layers, ctx;
    mx_dtype dt;
} shape_cfg;

typedef struct {
    mx_array *wq, *wk, *wv, *wo, *wg, *wu, *wd, *n1, *n2;
    mx_array *kc, *vc; /* cached keys / values [1, kvh, ctx, hd] */
} layer_w;

typedef struct {
    shape_cfg c;
    layer_w *L;
    mx_array *emb_row, *head, *norm;
} model_w;

static mx_array *lazy(const int64_t *shape, int nd, mx_dtype dt, int evaluate) {
    mx_array *a = mx_zeros(shape, nd, dt);
    if (evaluate) mx_eval1(a);
    return a;
}

static void model_init(model_w *m, shape_cfg c, int evaluate) {
    m->c = c;
    m->L = calloc((size_t)c.layers, sizeof *m->L);
    int64_t qd = c.heads * c.head_dim, kd = c.kv_heads * c.head_dim;
    for (int i = 0; i < c.layers; i++) {
        layer_w *L = &m->L[i];
        L->wq = lazy((int64_t[]){qd, c.hidden}, 2, c.dt, evaluate);
        L->wk = lazy((int64_t[]){kd, c.hidden}, 2, c.dt, evaluate);
        L->wv = lazy((int64_t[]){kd, c.hidden}, 2, c.dt, evaluate);
        L->wo = lazy((int64_t[]){c.hidden, qd}, 2, c.dt, evaluate);
        L->wg = lazy((int64_t[]){c.inter, c.hidden}, 2, c.dt, evaluate);
        L->wu = lazy((int64_t[]){c.inter, c.hidden}, 2, c.dt, evaluate);
        L->wd = lazy((int64_t[]){c.hidden, c.inter}, 2, c.dt, evaluate);
        L->n1 = mx_ones((int64_t[]){c.hidden}, 1, c.dt);
        L->n2 = mx_ones((int64_t[]){c.hidden}, 1, c.dt);
        L->kc = lazy((int64_t[]){1, c.kv_heads, c.ctx, c.head_dim}, 4, c.dt, evaluate);
        L->vc = lazy((int64_t[]){1, c.kv_heads, c.ctx, c.head_dim}, 4, c.dt, evaluate);
        if (evaluate) mx_eval((mx_array *[]){L->n1, L->n2}, 2);
    }
    m->emb_row = mx_ones((int64_t[]){1, 1, c.hidden}, 3, c.dt);
    m->norm = mx_ones((int64_t[]){c.hidden}, 1, c.dt);
    m->head = lazy((int64_t[]){c.vocab, c.hidden}, 2, c.dt, evaluate);
    if (evaluate) mx_eval((mx_array *[]){m->emb_row, m->norm}, 2);
}

static void model_free(model_w *m) {
    for (int i = 0; i < m->c.layers; i++) {
        layer_w *L = &m->L[i];
        mx_array *all[] = {L->wq, L->wk, L->wv, L->wo, L->wg, L->wu, L->wd, L->n1, L->n2, L->kc, L->vc};
        for (size_t j = 0; j < sizeof all / sizeof all[0]; j++) mx_free(all[j]);
    }
    free(m->L);
    mx_free(m->emb_row), mx_free(m->head), mx_free(m->norm);
}

static mx_array *linear(const mx_array *x, mx_array *w) { return mx_matmul(x, mx_transpose(w, NULL, 0)); }

/* One decode token (x: [1, 1, hidden]) as mlx-lm's llama builds it; returns the logits
 * (kept), the pool freed. */
static mx_array *decode_graph(model_w *m, int64_t offset) {
    shape_cfg c = m->c;
    mx_pool *p = mx_pool_begin();
    mx_array *h = m->emb_row;
    for (int i = 0; i < c.layers; i++) {
        layer_w *L = &m->L[i];
        mx_array *x = mx_fast_rms_norm(h, L->n1, 1e-5f);
        mx_array *q = mx_reshape(linear(x, L->wq), (int64_t[]){1, 1, c.heads, c.head_dim}, 4);
        mx_array *k = mx_reshape(linear(x, L->wk), (int64_t[]){1, 1, c.kv_heads, c.head_dim}, 4);
        mx_array *v = mx_reshape(linear(x, L->wv), (int64_t[]){1, 1, c.kv_heads, c.head_dim}, 4);
        q = mx_transpose(q, (int[]){0, 2, 1, 3}, 4);
        k = mx_transpose(k, (int[]){0, 2, 1, 3}, 4);
        v = mx_transpose(v, (int[]){0, 2, 1, 3}, 4);
        q = mx_fast_rope(q, (int)c.head_dim, 0, 500000.0f, 1.0f, offset, NULL);
        k = mx_fast_rope(k, (int)c.head_dim, 0, 500000.0f, 1.0f, offset, NULL);
        mx_array *ka = mx_concatenate((const mx_array *[]){L->kc, k}, 2, 2);
        mx_array *va = mx_concatenate((const mx_array *[]){L->vc, v}, 2, 2);
        mx_array *o = mx_fast_scaled_dot_product_attention(q, ka, va, 0.125f, MX_SDPA_NO_MASK, NULL, NULL);
        o = mx_reshape(mx_transpose(o, (int[]){0, 2, 1, 3}, 4), (int64_t[]){1, 1, c.heads * c.head_dim}, 3);
        h = mx_add(h, linear(o, L->wo));
        mx_array *x2 = mx_fast_rms_norm(h, L->n2, 1e-5f);
        mx_array *g = linear(x2, L->wg);
        g = mx_multiply(g, mx_sigmoid(g));
        h = mx_add(h, linear(mx_multiply(g, linear(x2, L->wu)), L->wd));
    }
    mx_array *logits = linear(mx_fast_rms_norm(h, m->norm, 1e-5f), m->head);
    mx_keep(logits);
    mx_pool_end(p);
    return logits;
}

static shape_cfg llama1b = {2048, 32, 8, 64, 8192, 128256, 16, 256, MX_BFLOAT16};

int main(int argc, char **argv) {
    int tokens = 200, chain = 10000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokens") && i + 1 < argc) tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--chain") && i + 1 < argc) chain = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_overhead [--tokens N] [--chain N]\n");
            return 2;
        }
    }
    printf("bench_overhead: %d threads (OMP_NUM_THREADS), medians\n", omp_get_max_threads());

    /* (a) graph building on lazy weights */
    model_w m;
    model_init(&m, llama1b, 0);
    double *t = malloc(sizeof(double) * (size_t)(tokens > 50 ? tokens : 50));
    for (int i = -5; i < tokens; i++) {
        double t0 = now();
        mx_array *r = decode_graph(&m, 100);
        mx_free(r);
        if (i >= 0) t[i] = now() - t0;
    }
    /* nodes per token: 16 x (norm, 3 linear (transpose view + matmul), 3 reshape, 3 transpose,
     * 2 rope, 2 concat, sdpa, transpose, reshape, o linear, add, norm, gate/up/down linear,
     * sigmoid, 2 multiply, add) + final norm + head */
    int ops = 16 * (1 + 3 * 2 + 3 + 3 + 2 + 2 + 1 + 2 + 2 + 1 + 1 + 3 * 2 + 3 + 1) + 1 + 2;
    double tb = median(t, tokens);
    printf("(a) build decode graph (llama-3.2-1b shape, %d op calls): %.1f us/token, %.0f ns per op call\n", ops,
           tb * 1e6, tb * 1e9 / ops);
    model_free(&m);

    /* (b) dispatch: a chain of adds */
    {
        mx_array *x = mx_ones((int64_t[]){16}, 1, MX_FLOAT32);
        mx_eval1(x);
        double tt[7];
        for (int rep = 0; rep < 7; rep++) {
            double t0 = now();
            mx_pool *p = mx_pool_begin();
            mx_array *y = x;
            for (int i = 0; i < chain; i++) y = mx_add_scalar(y, 1.0);
            mx_keep(y);
            mx_pool_end(p);
            double t1 = now();
            mx_eval1(y);
            double t2 = now();
            mx_free(y);
            tt[rep] = t2 - t1;
            if (rep == 6) printf("(b) chain of %d adds on 16 floats: build %.2f us/node, ", chain, (t1 - t0) * 1e6 / chain);
        }
        printf("eval %.2f us/node (median of 7)\n", median(tt, 7) * 1e6 / chain);
        mx_free(x);
    }

    /* (c) tiny model: overhead of a whole token */
    {
        shape_cfg tiny = {64, 1, 1, 64, 256, 4008, 16, 256, MX_BFLOAT16};
        model_w mt;
        model_init(&mt, tiny, 1);
        double *te = malloc(sizeof(double) * (size_t)tokens), *tbld = malloc(sizeof(double) * (size_t)tokens);
        for (int i = -5; i < tokens; i++) {
            double t0 = now();
            mx_array *r = decode_graph(&mt, 100);
            double t1 = now();
            if (mx_eval1(r)) {
                fprintf(stderr, "bench_overhead: %s\n", mx_last_error());
                return 1;
            }
            double t2 = now();
            mx_free(r);
            if (i >= 0) tbld[i] = t1 - t0, te[i] = t2 - t1;
        }
        double b = median(tbld, tokens), e = median(te, tokens);
        printf("(c) tiny-model token (%d op calls): build %.1f us + eval %.1f us = %.1f us (%.2f us per op call)\n",
               ops, b * 1e6, e * 1e6, (b + e) * 1e6, (b + e) * 1e6 / ops);
        model_free(&mt);
        free(te), free(tbld);
    }

    /* (d) OpenMP fork/join */
    {
        int n = 100000;
        float *v = calloc(2048, sizeof *v);
        volatile int sink = 0;
        double t0 = now();
        for (int i = 0; i < n; i++) {
#pragma omp parallel
            {
                if (omp_get_thread_num() == 0) sink++;
            }
        }
        double t1 = now();
        for (int i = 0; i < n; i++) {
#pragma omp parallel for
            for (int j = 0; j < 2048; j++) v[j] += 1.0f;
        }
        double t2 = now();
        for (int i = 0; i < n; i++)
            for (int j = 0; j < 2048; j++) v[j] += 1.0f;
        double t3 = now();
        printf("(d) OpenMP, %d threads: empty parallel region %.2f us, parallel for over 2048 floats %.2f us, "
               "the same loop serial %.2f us\n",
               omp_get_max_threads(), (t1 - t0) * 1e6 / n, (t2 - t1) * 1e6 / n, (t3 - t2) * 1e6 / n);
        free(v);
        (void)sink;
    }
    free(t);
    return 0;
}
