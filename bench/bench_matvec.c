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
 * (the BLAS peak for that shape). Times are medians after two warm-up runs.
 *
 * Quantized kernels (docs/performance.md, "Quantized kernels"):
 *  - the read bandwidth is also measured with AVX-512 / AVX2 loads (8 independent streams),
 *    and the larger of the two figures is the ceiling the ratios use;
 *  - "decode stack": every Linear of a Llama-3.2-1B-shaped model (16 layers of q/k/v/o/gate/
 *    up/down plus the untied head, 1.24e9 weights, separate copies so nothing stays in cache),
 *    x one bfloat16 row, q4 / q8 affine group 64: GB/s of weight bytes per token and its share
 *    of the bandwidth, and the tokens/s those products alone allow;
 *  - "prefill": 512 bfloat16 rows through one layer's gate projection (2048 -> 8192) and down
 *    projection (8192 -> 2048), 4-bit: GFLOP/s (2 * M * N * K) against the int8 dot-product
 *    peak measured in the same run (vpdpbusd / vpmaddubsw in registers), and the tokens/s of a
 *    1.24e9-weight model at that rate.
 * Environment: BENCH_SKIP_STACK=1 skips the decode stack (it needs ~1.6 GB); BENCH_ONLY_STACK=1
 * runs the bandwidth and the decode stack only. */
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

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static uint64_t sum_avx512(const uint64_t *buf, size_t n_words) {
    __m512i a[8];
    for (int j = 0; j < 8; j++) a[j] = _mm512_setzero_si512();
    for (size_t i = 0; i + 64 <= n_words; i += 64)
        for (int j = 0; j < 8; j++) a[j] = _mm512_add_epi64(a[j], _mm512_loadu_si512(buf + i + 8 * j));
    for (int j = 1; j < 8; j++) a[0] = _mm512_add_epi64(a[0], a[j]);
    return (uint64_t)_mm512_reduce_add_epi64(a[0]);
}
__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint64_t *buf, size_t n_words) {
    __m256i a[8];
    for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_si256();
    for (size_t i = 0; i + 32 <= n_words; i += 32)
        for (int j = 0; j < 8; j++) a[j] = _mm256_add_epi64(a[j], _mm256_loadu_si256((const __m256i *)(buf + i + 4 * j)));
    for (int j = 1; j < 8; j++) a[0] = _mm256_add_epi64(a[0], a[j]);
    uint64_t t[4];
    _mm256_storeu_si256((__m256i *)t, a[0]);
    return t[0] + t[1] + t[2] + t[3];
}
/* int8 dot-product peak of one thread: GOP/s (2 per multiply-add) of independent vpdpbusd
 * (AVX-512 VNNI) chains in registers. */
__attribute__((target("avx512f,avx512vnni"))) static double int8_peak_vnni(long reps) {
    __m512i acc[12], a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
    for (int j = 0; j < 12; j++) acc[j] = _mm512_set1_epi32(j);
    double t0 = now();
    for (long r = 0; r < reps; r++) {
        for (int j = 0; j < 12; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
        __asm__ volatile("" : "+v"(a));
    }
    double dt = now() - t0;
    volatile int sink = 0;
    for (int j = 0; j < 12; j++) sink += _mm512_reduce_add_epi32(acc[j]);
    (void)sink;
    return (double)reps * 12 * 64 * 2 / dt / 1e9;
}
#endif

static double simd_bandwidth(const uint64_t *buf, size_t n_words, int threads, int reps) {
#if defined(__x86_64__) && defined(__GNUC__)
    int w512 = __builtin_cpu_supports("avx512f"), w256 = __builtin_cpu_supports("avx2");
    if (!w512 && !w256) return 0;
    double best = 0;
    volatile uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        uint64_t s = 0;
#pragma omp parallel num_threads(threads) reduction(+ : s)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            size_t per = n_words / (size_t)nt / 64 * 64, lo = (size_t)t * per;
            s += w512 ? sum_avx512(buf + lo, per) : sum_avx2(buf + lo, per);
        }
        double dt = now() - t0;
        sink += s;
        double gbs = (double)(n_words / 64 * 64 * 8) / dt / 1e9;
        if (gbs > best) best = gbs;
    }
    (void)sink;
    return best;
#else
    (void)buf, (void)n_words, (void)threads, (void)reps;
    return 0;
#endif
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

/* Every Linear of one token of a Llama-3.2-1B shape (hidden 2048, intermediate 8192, 32 query
 * and 8 KV heads of 64, 16 layers, vocabulary 128256, untied head). */
static void decode_stack(int iters, double bw) {
    const int64_t layer[7][2] = {{2048, 2048}, {512, 2048}, {512, 2048}, {2048, 2048},
                                 {8192, 2048}, {8192, 2048}, {2048, 8192}};
    const int L = 16;
    int nmat = 7 * L + 1;
    mx_array *x = random_matrix(1, 2048, MX_BFLOAT16, 7);
    mx_array *x8 = random_matrix(1, 8192, MX_BFLOAT16, 8);
    for (int bits = 4; bits <= 8; bits += 4) {
        mx_array **q = calloc((size_t)nmat * 3, sizeof(mx_array *));
        int64_t (*shape)[2] = malloc(sizeof(int64_t[2]) * (size_t)nmat);
        double bytes = 0;
        for (int i = 0; i < nmat; i++) {
            int64_t N = i == nmat - 1 ? 128256 : layer[i % 7][0], K = i == nmat - 1 ? 2048 : layer[i % 7][1];
            shape[i][0] = N, shape[i][1] = K;
            if (i < 7 || i == nmat - 1) {
                mx_array *w = random_matrix(N, K, MX_BFLOAT16, (unsigned)(100 + i));
                if (mx_quantize(w, 64, bits, MX_QUANT_AFFINE, &q[3 * i], &q[3 * i + 1], &q[3 * i + 2])) exit(1);
                mx_eval(&q[3 * i], 3);
                mx_free(w);
            } else { /* a separate copy of layer 0's matrix: distinct memory, same values */
                for (int j = 0; j < 3; j++) {
                    mx_array *src = q[3 * (i % 7) + j];
                    int64_t sh[2] = {mx_dim(src, 0), mx_dim(src, 1)};
                    q[3 * i + j] = mx_array_from_data(mx_data(src), sh, 2, mx_array_dtype(src));
                    mx_eval1(q[3 * i + j]);
                }
            }
            for (int j = 0; j < 3; j++) bytes += (double)mx_nbytes(q[3 * i + j]);
        }
        double *t = malloc(sizeof(double) * (size_t)iters);
        for (int it = -1; it < iters; it++) {
            double t0 = now();
            for (int i = 0; i < nmat; i++) {
                mx_array *r = mx_quantized_matmul(shape[i][1] == 8192 ? x8 : x, q[3 * i], q[3 * i + 1], q[3 * i + 2], 1,
                                                  64, bits, MX_QUANT_AFFINE);
                if (!r || mx_eval1(r)) {
                    fprintf(stderr, "bench_matvec: %s\n", mx_last_error());
                    exit(1);
                }
                mx_free(r);
            }
            if (it >= 0) t[it] = now() - t0;
        }
        for (int i = 1; i < iters; i++)
            for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
                double v = t[j];
                t[j] = t[j - 1];
                t[j - 1] = v;
            }
        double med = t[iters / 2];
        printf("decode stack q%d (Llama-3.2-1B Linears, %.0f MB of weights): %.2f ms per token, %.2f GB/s, %.0f%% of "
               "bandwidth, %.1f tok/s from these products\n",
               bits, bytes / 1e6, med * 1e3, bytes / med / 1e9, 100 * bytes / med / 1e9 / bw, 1 / med);
        for (int i = 0; i < 3 * nmat; i++) mx_free(q[i]);
        free(q), free(shape), free(t);
    }
    mx_free(x), mx_free(x8);
}

typedef struct {
    mx_array *x, *q, *s, *b;
} pf_ctx;
static mx_array *run_pf(void *p) {
    pf_ctx *c = p;
    return mx_quantized_matmul(c->x, c->q, c->s, c->b, 1, 64, 4, MX_QUANT_AFFINE);
}

static void prefill(int iters, int nthreads) {
    double peak = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512vnni")) {
        double best = 0;
        for (int r = 0; r < 3; r++) {
            double sum = 0;
#pragma omp parallel num_threads(nthreads) reduction(+ : sum)
            sum += int8_peak_vnni(20000000);
            if (sum > best) best = sum;
        }
        peak = best;
        printf("int8 dot-product peak (vpdpbusd zmm in registers, %d threads): %.0f GOP/s\n", nthreads, peak);
    }
#endif
    const int64_t shapes[2][2] = {{8192, 2048}, {2048, 8192}};
    for (int si = 0; si < 2; si++) {
        int64_t M = 512, N = shapes[si][0], K = shapes[si][1];
        pf_ctx c;
        mx_array *w = random_matrix(N, K, MX_BFLOAT16, 11);
        c.x = random_matrix(M, K, MX_BFLOAT16, 12);
        if (mx_quantize(w, 64, 4, MX_QUANT_AFFINE, &c.q, &c.s, &c.b)) exit(1);
        mx_array *all[3] = {c.q, c.s, c.b};
        mx_eval(all, 3);
        double t = time_op(run_pf, &c, iters), gf = 2.0 * (double)(M * N * K) / t / 1e9;
        printf("prefill %lldx%lldx%lld q4 (bf16 x): %.2f ms, %.0f GFLOP/s", (long long)M, (long long)K, (long long)N,
               t * 1e3, gf);
        if (peak > 0) printf(", %.0f%% of the int8 peak", 100 * gf / peak);
        printf(", = %.0f tok/s for 1.24e9 weights\n", gf * 1e9 / (2 * 1.24e9));
        mx_free(w), mx_free(c.x), mx_free(c.q), mx_free(c.s), mx_free(c.b);
    }
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
    double sbw1 = simd_bandwidth(buf, nw, 1, 5), sbwn = simd_bandwidth(buf, nw, nthreads, 5);
    free(buf);
    printf("memory read bandwidth (1 GiB stream): 1 thread %.2f GB/s, %d threads %.2f GB/s\n", bw1, nthreads, bwn);
    printf("memory read bandwidth (1 GiB, SIMD loads, 8 streams): 1 thread %.2f GB/s, %d threads %.2f GB/s\n", sbw1,
           nthreads, sbwn);
    if (sbwn > bwn) bwn = sbwn;
    printf("ceiling used below: %.2f GB/s (%d threads)\n", bwn, nthreads);

    const int64_t shapes[2][2] = {{2048, 8192}, {8192, 2048}}; /* out x in */
    int only_stack = getenv("BENCH_ONLY_STACK") != NULL;
    if (only_stack) {
        decode_stack(iters, bwn);
        return 0;
    }
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

    /* decode stack of a Llama-3.2-1B-shaped model, and 4-bit prefill */
    if (!getenv("BENCH_SKIP_STACK")) decode_stack(iters, bwn);
    prefill(iters, nthreads);

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
