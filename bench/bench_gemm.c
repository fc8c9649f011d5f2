/* Float GEMM benchmark for 16-bit weights: decode (1-8 rows against every Linear weight of
 * a Llama-3.2-1B-shaped model, as GB/s of weight bytes vs the DRAM read bandwidth) and
 * prefill (512 rows, GFLOP/s vs peaks measured in the same run).
 *
 *   bench_gemm [--layers L] [--iters N] [--skip-decode] [--skip-prefill]
 *
 * Threads: OMP_NUM_THREADS (set OPENBLAS_NUM_THREADS to the same). Ceilings measured here:
 *   - read bandwidth: streaming 64-byte loads over 1 GiB, 1 thread and all threads (best of 5);
 *   - vdpbf16ps peak: 24 independent accumulators in registers (64 FLOP per instruction),
 *     and the float32 FMA peak the same way (32 FLOP per instruction), all threads;
 *   - cblas_sgemm 512x2048x2048 on float32 operands (OpenBLAS's rate for that shape).
 * Decode: L layers of q,k,v,o (2048->2048/512/512/2048), gate, up (2048->8192), down
 * (8192->2048), plus the untied head (2048->128256): distinct bf16 buffers, so every token
 * reads them from DRAM. One "token" = all products of x [M, 2048] (bf16) in one mx_eval;
 * "kernel" = the same products through gemv_b16 directly (no graph, no dispatch).
 * Prefill: each layer shape with x [512, K] bf16 via mx_matmul(x, W^T) (the blocked bf16
 * GEMM) and, for comparison, cblas_sgemm on float32 copies. Medians after 2 warm-ups. */
#include <cblas.h>
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/arch/cpu_features.h"
#include "backend/cpu/arch/gemm_b16.h"
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

/* ---- ceilings ---- */

typedef uint64_t v8u64 __attribute__((vector_size(64)));
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static uint64_t sum_range(const v8u64 *p, size_t n) {
    v8u64 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (size_t i = 0; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    v8u64 s = s0 + s1 + s2 + s3;
    uint64_t t = 0;
    for (int i = 0; i < 8; i++) t += s[i];
    return t;
}

static double read_bw(const v8u64 *buf, size_t n, int threads) {
    double best = 0;
    volatile uint64_t sink = 0;
    for (int r = 0; r < 5; r++) {
        uint64_t s = 0;
        double t0 = now();
#pragma omp parallel num_threads(threads) reduction(+ : s)
        {
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            size_t a = n * (size_t)t / (size_t)nt, b = n * (size_t)(t + 1) / (size_t)nt;
            s += sum_range(buf + a, b - a);
        }
        double dt = now() - t0;
        sink += s;
        if (n * 64 / dt / 1e9 > best) best = (double)n * 64 / dt / 1e9;
    }
    (void)sink;
    return best;
}

#define ITERS_PEAK 20000000L
__attribute__((target("avx512f,avx512bf16"))) static float dp_peak_thread(void) {
    __m512 a[24];
    for (int i = 0; i < 24; i++) a[i] = _mm512_set1_ps((float)i);
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = (__m512bh)_mm512_set1_epi32(0x3c003c00);
    for (long it = 0; it < ITERS_PEAK / 24; it++) {
#pragma GCC unroll 24
        for (int i = 0; i < 24; i++) a[i] = _mm512_dpbf16_ps(a[i], x, y);
        __asm__ volatile("" : "+v"(x));
    }
    __m512 s = a[0];
    for (int i = 1; i < 24; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}
__attribute__((target("avx512f,fma"))) static float fma_peak_thread(void) {
    __m512 a[24];
    for (int i = 0; i < 24; i++) a[i] = _mm512_set1_ps((float)i);
    __m512 x = _mm512_set1_ps(1.0f), y = _mm512_set1_ps(1e-7f);
    for (long it = 0; it < ITERS_PEAK / 24; it++) {
#pragma GCC unroll 24
        for (int i = 0; i < 24; i++) a[i] = _mm512_fmadd_ps(x, y, a[i]);
        __asm__ volatile("" : "+v"(x));
    }
    __m512 s = a[0];
    for (int i = 1; i < 24; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}
/* GFLOP/s of all threads running the register-only loop (flop per instruction given). */
static double reg_peak(int bf16) {
    volatile float sink = 0;
    double t0 = now();
#pragma omp parallel
    {
        float r = bf16 ? dp_peak_thread() : fma_peak_thread();
#pragma omp atomic
        sink += r;
    }
    double dt = now() - t0;
    return (double)omp_get_max_threads() * (double)(ITERS_PEAK / 24 * 24) * (bf16 ? 64.0 : 32.0) / dt / 1e9;
}

/* ---- data ---- */

static uint16_t *random_bf16(int64_t n, uint32_t seed) {
    uint16_t *p = malloc(sizeof(uint16_t) * (size_t)n);
    if (!p) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        exit(1);
    }
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int64_t a = n * t / nt, b = n * (t + 1) / nt;
        uint32_t s = seed * 2654435761u + (uint32_t)t * 97u + 1;
        for (int64_t i = a; i < b; i++) {
            s = s * 1664525u + 1013904223u;
            /* uniform in +-0.05: sign, exponent 0x3d (1/8..1/4) scaled by the mantissa */
            float f = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.1f;
            uint32_t u;
            memcpy(&u, &f, 4);
            p[i] = (uint16_t)(u >> 16);
        }
    }
    return p;
}

static void free_ctx(void *p) { free(p); }

static mx_array *wrap(uint16_t *p, int64_t r, int64_t c) {
    return mx_array_from_external(p, (int64_t[]){r, c}, 2, MX_BFLOAT16, free_ctx, p);
}

typedef struct {
    const char *name;
    int64_t out, in;
} lin_shape;
static const lin_shape layer_shapes[7] = {{"q", 2048, 2048}, {"k", 512, 2048},  {"v", 512, 2048},  {"o", 2048, 2048},
                                          {"gate", 8192, 2048}, {"up", 8192, 2048}, {"down", 2048, 8192}};
static const lin_shape head_shape = {"head", 128256, 2048};

int main(int argc, char **argv) {
    int layers = 16, iters = 10, do_decode = 1, do_prefill = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--layers") && i + 1 < argc) layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--skip-decode")) do_decode = 0;
        else if (!strcmp(argv[i], "--skip-prefill")) do_prefill = 0;
        else {
            fprintf(stderr, "usage: bench_gemm [--layers L] [--iters N] [--skip-decode] [--skip-prefill]\n");
            return 2;
        }
    }
    if (iters < 1) iters = 1;
    int T = omp_get_max_threads();
    cpu_path path = cpu_path_active();
    printf("bench_gemm: %d threads, path %s (kernels: %s), %d layers, %d iterations, medians\n", T,
           cpu_path_name(path), cpu_path_name(gemm_b16_path(path)), layers, iters);

    size_t nbuf = ((size_t)1 << 30) / 64;
    v8u64 *buf = aligned_alloc(64, nbuf * 64);
    if (!buf) return 1;
#pragma omp parallel for
    for (size_t i = 0; i < nbuf; i++)
        for (int j = 0; j < 8; j++) buf[i][j] = i + (size_t)j;
    double bw1 = read_bw(buf, nbuf, 1), bwT = read_bw(buf, nbuf, T);
    free(buf);
    printf("read bandwidth (1 GiB, 64-byte loads): 1 thread %.1f GB/s, %d threads %.1f GB/s\n", bw1, T, bwT);
    int has512 = __builtin_cpu_supports("avx512bf16") != 0;
    double dp_peak = has512 ? reg_peak(1) : 0, fma_peak = has512 ? reg_peak(0) : 0;
    printf("register peaks, %d threads: vdpbf16ps %.0f GFLOP/s, float32 FMA (zmm) %.0f GFLOP/s\n", T, dp_peak,
           fma_peak);

    if (do_decode) {
        int nmat = layers * 7 + 1;
        mx_array **w = malloc(sizeof *w * (size_t)nmat), **wt = malloc(sizeof *wt * (size_t)nmat);
        const lin_shape **shp = malloc(sizeof *shp * (size_t)nmat);
        double bytes = 0;
        for (int i = 0; i < nmat; i++) {
            shp[i] = i < layers * 7 ? &layer_shapes[i % 7] : &head_shape;
            w[i] = wrap(random_bf16(shp[i]->out * shp[i]->in, (uint32_t)i + 7), shp[i]->out, shp[i]->in);
            wt[i] = mx_transpose(w[i], NULL, 0);
            bytes += 2.0 * (double)(shp[i]->out * shp[i]->in);
        }
        printf("decode: %d weight matrices, %.2f GB of bf16 weights per token\n", nmat, bytes / 1e9);
        for (int M = 1; M <= 8; M *= 2) {
            mx_array *xs[2];
            for (int kin = 0; kin < 2; kin++)
                xs[kin] = wrap(random_bf16(M * (kin ? 8192 : 2048), 99u + (uint32_t)kin), M, kin ? 8192 : 2048);
            double *t = malloc(sizeof(double) * (size_t)iters), *tk = malloc(sizeof(double) * (size_t)iters);
            mx_array **outs = malloc(sizeof *outs * (size_t)nmat);
            for (int it = -2; it < iters; it++) {
                double t0 = now();
                for (int i = 0; i < nmat; i++) outs[i] = mx_matmul(xs[shp[i]->in == 8192], wt[i]);
                if (mx_eval(outs, nmat)) {
                    fprintf(stderr, "bench_gemm: %s\n", mx_last_error());
                    return 1;
                }
                double dt = now() - t0;
                for (int i = 0; i < nmat; i++) mx_free(outs[i]);
                if (it >= 0) t[it] = dt;
            }
            /* the kernel alone: x as float32 and bf16 rows, y float32 */
            float *xf[2], *y = malloc(sizeof(float) * (size_t)(M * head_shape.out));
            uint16_t *xb[2];
            for (int kin = 0; kin < 2; kin++) {
                int64_t K = kin ? 8192 : 2048;
                xb[kin] = (uint16_t *)mx_data(xs[kin]);
                xf[kin] = malloc(sizeof(float) * (size_t)(M * K));
                for (int64_t e = 0; e < M * K; e++) {
                    uint32_t u = (uint32_t)xb[kin][e] << 16;
                    memcpy(&xf[kin][e], &u, 4);
                }
            }
            for (int it = -2; it < iters; it++) {
                double t0 = now();
                for (int i = 0; i < nmat; i++) {
                    int kin = shp[i]->in == 8192;
                    gemv_b16(path, M, shp[i]->out, shp[i]->in, xf[kin], xb[kin], (const uint16_t *)mx_data(w[i]),
                             shp[i]->in, 1, 1.0f, y, shp[i]->out, 0);
                }
                if (it >= 0) tk[it] = now() - t0;
            }
            double tm = median(t, iters), tkm = median(tk, iters);
            printf("decode M=%d: graph %.2f ms/token (%.1f GB/s, %.0f%% of %d-thread bw), kernel %.2f ms (%.1f GB/s, "
                   "%.0f%%)\n",
                   M, tm * 1e3, bytes / tm / 1e9, 100 * bytes / tm / 1e9 / bwT, T, tkm * 1e3, bytes / tkm / 1e9,
                   100 * bytes / tkm / 1e9 / bwT);
            fflush(stdout);
            for (int kin = 0; kin < 2; kin++) free(xf[kin]), mx_free(xs[kin]);
            free(y), free(t), free(tk), free(outs);
        }
        for (int i = 0; i < nmat; i++) mx_free(w[i]), mx_free(wt[i]);
        free(w), free(wt), free(shp);
    }

    if (do_prefill) {
        const int64_t M = 512;
        /* float32 BLAS peak for reference: 512 x 2048 x 2048 */
        float *fa = malloc(sizeof(float) * 512 * 8192), *fb = malloc(sizeof(float) * 8192 * 8192),
              *fc = malloc(sizeof(float) * 512 * 8192);
        for (int64_t i = 0; i < 512 * 8192; i++) fa[i] = (float)((i * 7) % 13) * 0.01f;
        for (int64_t i = 0; i < 8192 * 8192; i++) fb[i] = (float)((i * 5) % 11) * 0.01f;
        double layer_t = 0, layer_blas = 0, layer_flop = 0;
        for (int s = 0; s < 7; s++) {
            int64_t N = layer_shapes[s].out, K = layer_shapes[s].in;
            mx_array *x = wrap(random_bf16(M * K, 5u + (uint32_t)s), M, K);
            mx_array *w = wrap(random_bf16(N * K, 50u + (uint32_t)s), N, K);
            mx_array *wt = mx_transpose(w, NULL, 0);
            double *t = malloc(sizeof(double) * (size_t)iters), *tb = malloc(sizeof(double) * (size_t)iters);
            for (int it = -2; it < iters; it++) {
                double t0 = now();
                mx_array *r = mx_matmul(x, wt);
                if (!r || mx_eval1(r)) {
                    fprintf(stderr, "bench_gemm: %s\n", mx_last_error());
                    return 1;
                }
                double dt = now() - t0;
                mx_free(r);
                if (it >= 0) t[it] = dt;
            }
            for (int it = -2; it < iters; it++) {
                double t0 = now();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, fa, (int)K, fb,
                            (int)K, 0.0f, fc, (int)N);
                if (it >= 0) tb[it] = now() - t0;
            }
            double flop = 2.0 * (double)M * (double)N * (double)K, tm = median(t, iters), tbm = median(tb, iters);
            layer_t += tm, layer_blas += tbm, layer_flop += flop;
            printf("prefill %s %lldx%lldx%lld: bf16 GEMM %.1f ms %.0f GFLOP/s (%.0f%% of vdpbf16ps peak); "
                   "sgemm on float32 %.1f ms %.0f GFLOP/s\n",
                   layer_shapes[s].name, (long long)M, (long long)K, (long long)N, tm * 1e3, flop / tm / 1e9,
                   dp_peak > 0 ? 100 * flop / tm / 1e9 / dp_peak : 0, tbm * 1e3, flop / tbm / 1e9);
            fflush(stdout);
            free(t), free(tb);
            mx_free(x), mx_free(w), mx_free(wt);
        }
        double per_tok = 2.0 * 1.24e9;
        printf("prefill layer (7 products): bf16 GEMM %.0f GFLOP/s, sgemm %.0f GFLOP/s; at that rate a 2*1.24e9 "
               "FLOP token gives %.0f tok/s (bf16) vs %.0f (sgemm)\n",
               layer_flop / layer_t / 1e9, layer_flop / layer_blas / 1e9, layer_flop / layer_t / per_tok,
               layer_flop / layer_blas / per_tok);
        free(fa), free(fb), free(fc);
    }
    return 0;
}
