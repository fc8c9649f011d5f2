/* Core kernel benchmark: what a decode step is bound by (matrix-vector products, measured
 * as GB/s of weight bytes read against this machine's memory read bandwidth) and the float
 * GEMM rate against the BLAS peak measured in the same run.
 *
 *   bench_matvec [iterations]      (default 20; OMP_NUM_THREADS sets the thread count)
 *
 * Prints, one line each: the streaming read bandwidth with 1 and N threads; for each shape
 * (out x in) the bf16 / q4 / q8 (affine, group 64) products of one row through mx_matmul /
 * mx_quantized_matmul, as GB/s of weight bytes and the fraction of the N-thread bandwidth;
 * mx_matmul float32 512x2048x2048 GFLOP/s and cblas_sgemm called directly on the same operands
 * (the BLAS peak for that shape). Times are medians after two warm-up runs. */
#include <cblas.h>
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

/* Streaming read of n bytes with `threads` threads: best GB/s of reps passes. */
static double read_bandwidth(const uint64_t *buf, size_t n_words, int threads, int reps) {
    double best = 0;
    volatile uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        uint64_t s = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : s) schedule(static)
        for (size_t i = 0; i < n_words; i++) s += buf[i];
        double dt = now() - t0;
        sink += s;
        double gbs = (double)(n_words * 8) / dt / 1e9;
        if (gbs > best) best = gbs;
    }
    (void)sink;
    return best;
}

/* Median seconds of `iters` evaluations of f(ctx). */
typedef mx_array *(*op_fn)(void *ctx);
static double time_op(op_fn f, void *ctx, int iters) {
    double *t = malloc(sizeof(double) * (size_t)iters);
    for (int i = -2; i < iters; i++) { /* two warm-up runs */
        double t0 = now();
        mx_array *r = f(ctx);
        if (!r || mx_eval1(r)) {
            fprintf(stderr, "bench_matvec: %s\n", mx_last_error());
            exit(1);
        }
        mx_free(r);
        if (i >= 0) t[i] = now() - t0;
    }
    for (int i = 1; i < iters; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    double m = t[iters / 2];
    free(t);
    return m;
}

typedef struct {
    mx_array *x, *w, *wt, *q, *s, *b;
    int bits;
} mv_ctx;

static mx_array *run_bf16(void *p) {
    mv_ctx *c = p;
    return mx_matmul(c->x, c->wt);
}
static mx_array *run_q(void *p) {
    mv_ctx *c = p;
    return mx_quantized_matmul(c->x, c->q, c->s, c->b, 1, 64, c->bits, MX_QUANT_AFFINE);
}

typedef struct {
    mx_array *a, *b;
} mm_ctx;
static mx_array *run_mm(void *p) {
    mm_ctx *c = p;
    return mx_matmul(c->a, c->b);
}

static mx_array *random_matrix(int64_t rows, int64_t cols, mx_dtype t, unsigned seed) {
    float *v = malloc(sizeof(float) * (size_t)(rows * cols));
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < rows * cols; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5) * 0.1f;
    }
    mx_array *f = mx_array_from_data(v, (int64_t[]){rows, cols}, 2, MX_FLOAT32);
    free(v);
    mx_array *r = mx_astype(f, t);
    mx_free(f);
    mx_eval1(r);
    return r;
}

int main(int argc, char **argv) {
    int iters = argc > 1 ? atoi(argv[1]) : 20;
    if (iters < 1) iters = 1;
    int nthreads = omp_get_max_threads();
    printf("bench_matvec: %d threads (OMP_NUM_THREADS), %d iterations, median times\n", nthreads, iters);

    size_t bytes = (size_t)1 << 30;
    uint64_t *buf = malloc(bytes);
    if (!buf) return 1;
    size_t nw = bytes / 8;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < nw; i++) buf[i] = i;
    double bw1 = read_bandwidth(buf, nw, 1, 5), bwn = read_bandwidth(buf, nw, nthreads, 5);
    free(buf);
    printf("memory read bandwidth (1 GiB stream): 1 thread %.2f GB/s, %d threads %.2f GB/s\n", bw1, nthreads, bwn);

    const int64_t shapes[2][2] = {{2048, 8192}, {8192, 2048}}; /* out x in */
    for (int si = 0; si < 2; si++) {
        int64_t N = shapes[si][0], K = shapes[si][1];
        mv_ctx c = {0};
        c.w = random_matrix(N, K, MX_BFLOAT16, 1);
        c.wt = mx_transpose(c.w, NULL, 0);
        c.x = random_matrix(1, K, MX_BFLOAT16, 2);
        double t = time_op(run_bf16, &c, iters), gb = (double)(N * K * 2) / 1e9;
        printf("matvec %lldx%lld bf16: %.3f ms, %.2f GB/s of weights, %.0f%% of bandwidth\n", (long long)N,
               (long long)K, t * 1e3, gb / t, 100 * gb / t / bwn);
        for (int bits = 4; bits <= 8; bits += 4) {
            c.bits = bits;
            if (mx_quantize(c.w, 64, bits, MX_QUANT_AFFINE, &c.q, &c.s, &c.b)) return 1;
            mx_array *all[3] = {c.q, c.s, c.b};
            mx_eval(all, 3);
            t = time_op(run_q, &c, iters);
            gb = (double)(mx_nbytes(c.q) + mx_nbytes(c.s) + mx_nbytes(c.b)) / 1e9;
            printf("matvec %lldx%lld q%d:   %.3f ms, %.2f GB/s of weights, %.0f%% of bandwidth\n", (long long)N,
                   (long long)K, bits, t * 1e3, gb / t, 100 * gb / t / bwn);
            mx_free(c.q), mx_free(c.s), mx_free(c.b);
        }
        mx_free(c.x), mx_free(c.w), mx_free(c.wt);
    }

    /* float32 GEMM: mx_matmul vs cblas_sgemm on the same operands */
    int64_t M = 512, K = 2048, N = 2048;
    mm_ctx m = {random_matrix(M, K, MX_FLOAT32, 3), random_matrix(K, N, MX_FLOAT32, 4)};
    double flops = 2.0 * (double)M * (double)N * (double)K;
    double t_mx = time_op(run_mm, &m, iters);
    float *cbuf = malloc(sizeof(float) * (size_t)(M * N));
    const float *ap = mx_data(m.a), *bp = mx_data(m.b);
    double *tb = malloc(sizeof(double) * (size_t)iters);
    for (int i = -2; i < iters; i++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, ap, (int)K, bp, (int)N,
                    0.0f, cbuf, (int)N);
        if (i >= 0) tb[i] = now() - t0;
    }
    for (int i = 1; i < iters; i++)
        for (int j = i; j > 0 && tb[j] < tb[j - 1]; j--) {
            double x = tb[j];
            tb[j] = tb[j - 1];
            tb[j - 1] = x;
        }
    double best_blas = tb[iters / 2];
    free(tb);
    free(cbuf);
    printf("sgemm %lldx%lldx%lld: mx_matmul %.1f GFLOP/s (median), cblas_sgemm %.1f GFLOP/s (median, the peak), ratio %.0f%%\n",
           (long long)M, (long long)K, (long long)N, flops / t_mx / 1e9, flops / best_blas / 1e9,
           100 * best_blas / t_mx);
    mx_free(m.a), mx_free(m.b);
    return 0;
}
