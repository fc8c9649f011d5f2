/* The blocked bf16 GEMM driver and the decode GEMV dispatcher (see gemm_b16.h), with the
 * portable C kernels. The vector kernels live in gemm_bf16_avx512.c and gemm_bf16_avx2.c. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/arch/gemm_b16.h"
#include "backend/cpu/chunk.h"
#include "cmlx/error.h"
#include "core/dtype.h"

/* K is processed KC_PAIRS pairs at a time: the B panel (KC_PAIRS x NR words, 16 KB for NR 32)
 * stays in L1 while the A panels of up to MC_BYTES pass through L2. */
#define KC_PAIRS 128
#define MC_BYTES (256 * 1024)
#define NR_MAX 32

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static int cpu_has(int avx2, int bf16) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (bf16) return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    if (avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#endif
    (void)avx2, (void)bf16;
    return 0;
}

cpu_path gemm_b16_path(cpu_path active) {
    if (active == CPU_PATH_AVX512) return cpu_has(0, 1) ? CPU_PATH_AVX512 : CPU_PATH_AVX2;
    if (active == CPU_PATH_AVX2) return CPU_PATH_AVX2;
    return CPU_PATH_PORTABLE;
}

int gemm_bf16_use_dp(void) {
    static int decided = -1;
    int d = __atomic_load_n(&decided, __ATOMIC_RELAXED);
    if (d < 0) {
        const char *e = getenv("CMLX_BF16_DOT");
#if defined(__x86_64__) && defined(__GNUC__)
        d = __builtin_cpu_is("amd") ? 1 : 0;
#else
        d = 0;
#endif
        if (e && !strcmp(e, "dp")) d = 1;
        else if (e && !strcmp(e, "fma")) d = 0;
        __atomic_store_n(&decided, d, __ATOMIC_RELAXED);
    }
    return d;
}

int gemm_bf16_preferred(cpu_path active) {
    /* Measured on an Intel Xeon (Emerald Rapids class, 1 thread, Llama-3.2-1B layer shapes at
     * 512 rows): this GEMM's FMA kernel 92 GFLOP/s, OpenBLAS sgemm 115 (its conversions of
     * the weight panels cost ~5% more): OpenBLAS stays the default there. The vdpbf16ps
     * kernel ran at 72-84% of the vdpbf16ps peak, so where that instruction does twice the
     * work of an FMA (AMD Zen 4/5) it is the faster route: it is the default there.
     * A forced path (CMLX_CPU_PATH or CMLX_BF16_DOT) always takes these kernels (tests). */
    const char *e1 = getenv("CMLX_CPU_PATH"), *e2 = getenv("CMLX_BF16_DOT");
    if ((e1 && *e1) || (e2 && *e2)) return 1;
    (void)cpu_has;
    return gemm_b16_path(active) == CPU_PATH_AVX512 && gemm_bf16_use_dp();
}

/* The bf16 pair (A[i, 2p], A[i, 2p+1]) as one word, low half first (zero past K). */
static inline uint32_t pair_at(const b16_mat *m, int64_t i, int64_t k, int64_t K) {
    uint32_t lo = m->p[i * m->rs + k * m->cs];
    uint32_t hi = k + 1 < K ? m->p[i * m->rs + (k + 1) * m->cs] : 0;
    return lo | hi << 16;
}

/* A [M, K] into panels of mr rows: panel i holds [kp][mr] words. */
static void pack_a(const b16_mat *A, int64_t M, int64_t K, int mr, uint32_t *ap) {
    int64_t kp = (K + 1) / 2, panels = (M + mr - 1) / mr;
#pragma omp parallel for if (cpu_parallel_worth(M * K))
    for (int64_t pi = 0; pi < panels; pi++) {
        uint32_t *dst = ap + pi * kp * mr;
        for (int m = 0; m < mr; m++) {
            int64_t i = pi * mr + m;
            if (i >= M) {
                for (int64_t p = 0; p < kp; p++) dst[p * mr + m] = 0;
            } else if (A->cs == 1 && (K & 1) == 0) {
                const uint16_t *row = A->p + i * A->rs;
                for (int64_t p = 0; p < kp; p++) {
                    uint32_t w;
                    memcpy(&w, row + 2 * p, 4);
                    dst[p * mr + m] = w;
                }
            } else {
                for (int64_t p = 0; p < kp; p++) dst[p * mr + m] = pair_at(A, i, 2 * p, K);
            }
        }
    }
}

/* A [M, K] into panels of mr rows of widened pairs: panel i holds [kp][mr][2] float32. */
static void pack_a_f32(const b16_mat *A, int64_t M, int64_t K, int mr, float *ap) {
    int64_t kp = (K + 1) / 2, panels = (M + mr - 1) / mr;
#pragma omp parallel for if (cpu_parallel_worth(M * K))
    for (int64_t pi = 0; pi < panels; pi++) {
        float *dst = ap + pi * kp * mr * 2;
        for (int m = 0; m < mr; m++) {
            int64_t i = pi * mr + m;
            for (int64_t p = 0; p < kp; p++) {
                uint32_t w = i < M ? pair_at(A, i, 2 * p, K) : 0;
                dst[(p * mr + m) * 2] = mx_bf16_to_f32((uint16_t)w);
                dst[(p * mr + m) * 2 + 1] = mx_bf16_to_f32((uint16_t)(w >> 16));
            }
        }
    }
}

/* Columns [n0, n0 + NR) of B, pairs [p0, p0 + pc), into bp [pc][nr] (zero past N or K). */
static void pack_b(const b16_mat *B, int64_t N, int64_t K, int64_t n0, int nr, int64_t p0, int64_t pc, uint32_t *bp) {
    /* pair_at reads B transposed: element (n, k) of B^T is B(k, n) */
    b16_mat bt = {B->p, B->cs, B->rs};
    for (int j = 0; j < nr; j++) {
        int64_t n = n0 + j;
        if (n >= N) {
            for (int64_t p = 0; p < pc; p++) bp[p * nr + j] = 0;
        } else if (B->rs == 1 && (K & 1) == 0) { /* the Linear layout: a W row is contiguous */
            const uint16_t *row = B->p + n * B->cs + 2 * p0;
            for (int64_t p = 0; p < pc; p++) {
                uint32_t w;
                memcpy(&w, row + 2 * p, 4);
                bp[p * nr + j] = w;
            }
        } else {
            for (int64_t p = 0; p < pc; p++) bp[p * nr + j] = pair_at(&bt, n, 2 * (p0 + p), K);
        }
    }
}

/* Portable micro-kernel: a bf16 pair is two float32 values (the high and the low half). */
static void ukernel_portable(int64_t kp, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc, int mr,
                             int nr, float alpha, int overwrite) {
    enum { MR = GEMM_PORTABLE_MR, NR = GEMM_PORTABLE_NR };
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int64_t p = 0; p < kp; p++) {
        float b0[NR], b1[NR];
        for (int j = 0; j < NR; j++) {
            b0[j] = mx_bf16_to_f32((uint16_t)bp[p * NR + j]);
            b1[j] = mx_bf16_to_f32((uint16_t)(bp[p * NR + j] >> 16));
        }
        for (int m = 0; m < MR; m++) {
            float a0 = mx_bf16_to_f32((uint16_t)ap[p * MR + m]), a1 = mx_bf16_to_f32((uint16_t)(ap[p * MR + m] >> 16));
            for (int j = 0; j < NR; j++) acc[m][j] += a0 * b0[j] + a1 * b1[j];
        }
    }
    for (int m = 0; m < mr; m++)
        for (int j = 0; j < nr; j++)
            c[m * ldc + j] = alpha * acc[m][j] + (overwrite ? 0.0f : c[m * ldc + j]);
}

int gemm_bf16(cpu_path path, int64_t M, int64_t N, int64_t K, b16_mat A, b16_mat B, float alpha, float *C,
              int64_t ldc, int accumulate) {
    int mr, nr;
    gemm_bf16_ukernel uk;
    path = gemm_b16_path(path);
    int a_words = 1; /* 32-bit words per packed pair of A: 2 when widened to float32 */
    if (path == CPU_PATH_AVX512) {
        mr = GEMM_AVX512_MR, nr = GEMM_AVX512_NR;
        uk = gemm_bf16_use_dp() ? gemm_bf16_ukernel_avx512 : gemm_bf16_ukernel_avx512_fma;
        a_words = gemm_bf16_use_dp() ? 1 : 2;
    }
    else if (path == CPU_PATH_AVX2) mr = GEMM_AVX2_MR, nr = GEMM_AVX2_NR, uk = gemm_bf16_ukernel_avx2;
    else mr = GEMM_PORTABLE_MR, nr = GEMM_PORTABLE_NR, uk = ukernel_portable;
    if (M <= 0 || N <= 0) return 0;
    int64_t kp = (K + 1) / 2, panels = (M + mr - 1) / mr;
    uint32_t *ap = malloc(sizeof(uint32_t) * (size_t)(panels * kp * mr * a_words + 1));
    if (!ap) {
        mx_set_error("[matmul] out of memory packing a %lld x %lld bfloat16 operand", (long long)M, (long long)K);
        return -1;
    }
    if (a_words == 2) pack_a_f32(&A, M, K, mr, (float *)ap);
    else pack_a(&A, M, K, mr, ap);
    int64_t nblocks = (N + nr - 1) / nr;
    int64_t mc_panels = MC_BYTES / (KC_PAIRS * mr * 4 * a_words);
    if (mc_panels < 1) mc_panels = 1;
    int parallel = cpu_parallel_worth(M * N * (K > 0 ? K : 1) / 16);
#pragma omp parallel if (parallel)
    {
        _Alignas(64) uint32_t bp[KC_PAIRS * NR_MAX];
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int64_t b0 = nblocks * t / nt, b1 = nblocks * (t + 1) / nt;
        if (kp == 0) { /* K == 0: C = 0 (or unchanged) */
            for (int64_t nb = b0; nb < b1 && !accumulate; nb++)
                for (int64_t i = 0; i < M; i++)
                    memset(C + i * ldc + nb * nr, 0, sizeof(float) * (size_t)min64(nr, N - nb * nr));
        }
        for (int64_t p0 = 0; p0 < kp; p0 += KC_PAIRS) {
            int64_t pc = min64(KC_PAIRS, kp - p0);
            int overwrite = p0 == 0 && !accumulate;
            for (int64_t m0 = 0; m0 < panels; m0 += mc_panels) {
                int64_t m1 = min64(panels, m0 + mc_panels);
                for (int64_t nb = b0; nb < b1; nb++) {
                    int ncols = (int)min64(nr, N - nb * nr);
                    pack_b(&B, N, K, nb * nr, nr, p0, pc, bp);
                    for (int64_t pi = m0; pi < m1; pi++) {
                        int rows = (int)min64(mr, M - pi * mr);
                        uk(pc, ap + (pi * kp * mr + p0 * mr) * a_words, bp, C + pi * mr * ldc + nb * nr, ldc, rows, ncols, alpha,
                           overwrite);
                    }
                }
            }
        }
    }
    free(ap);
    return 0;
}

/* ---- decode ---- */

static void gemv_f32x_portable(int64_t M, int64_t n0, int64_t n1, int64_t K, const float *x, const uint16_t *w,
                               int64_t ldw, int w_bf16, float alpha, float *C, int64_t ldc, int accumulate) {
    for (int64_t n = n0; n < n1; n++) {
        const uint16_t *row = w + n * ldw;
        for (int64_t i = 0; i < M; i++) {
            const float *xr = x + i * K;
            float acc[16] = {0}, s = 0;
            int64_t k = 0;
            if (w_bf16) {
                for (; k + 16 <= K; k += 16)
                    for (int j = 0; j < 16; j++) acc[j] += xr[k + j] * mx_bf16_to_f32(row[k + j]);
                for (; k < K; k++) s += xr[k] * mx_bf16_to_f32(row[k]);
            } else {
                for (; k + 16 <= K; k += 16)
                    for (int j = 0; j < 16; j++) acc[j] += xr[k + j] * mx_f16_to_f32(row[k + j]);
                for (; k < K; k++) s += xr[k] * mx_f16_to_f32(row[k]);
            }
            for (int j = 0; j < 16; j++) s += acc[j];
            C[i * ldc + n] = alpha * s + (accumulate ? C[i * ldc + n] : 0.0f);
        }
    }
}

#define GEMV_BLOCK 64

void gemv_b16(cpu_path path, int64_t M, int64_t N, int64_t K, const float *x, const uint16_t *xb,
              const uint16_t *w, int64_t ldw, int w_bf16, float alpha, float *C, int64_t ldc, int accumulate) {
    int64_t nblk = (N + GEMV_BLOCK - 1) / GEMV_BLOCK;
    path = gemm_b16_path(path);
    if (M == 1 && K > DP_SHORT_K && path == CPU_PATH_AVX512) {
        /* decode: each thread's contiguous share of the rows as far-apart streams */
        if (!gemv_b16_takes_bf16_x(path, w_bf16)) xb = NULL;
#pragma omp parallel if (cpu_parallel_worth(N * K))
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            int64_t lo = N * t / nt, hi = N * (t + 1) / nt, part = (hi - lo) / B16_FAR_STREAMS;
            int64_t start[B16_FAR_STREAMS];
            for (int s = 0; s < B16_FAR_STREAMS; s++) start[s] = lo + s * part;
            gemv_b16_far_avx512(K, x, xb, w, ldw, w_bf16, start, part, alpha, C, accumulate);
            gemv_b16_rows(path, 1, lo + B16_FAR_STREAMS * part, hi, K, x, xb, w, ldw, w_bf16, alpha, C, ldc, accumulate);
        }
        return;
    }
#pragma omp parallel for schedule(static) if (cpu_parallel_worth(N * K))
    for (int64_t b = 0; b < nblk; b++) {
        int64_t n0 = b * GEMV_BLOCK, n1 = min64(N, n0 + GEMV_BLOCK);
        gemv_b16_rows(path, M, n0, n1, K, x, xb, w, ldw, w_bf16, alpha, C, ldc, accumulate);
    }
}

int gemv_b16_takes_bf16_x(cpu_path path, int w_bf16) { return w_bf16 && gemm_b16_path(path) == CPU_PATH_AVX512; }

void gemv_b16_rows(cpu_path path, int64_t M, int64_t n0, int64_t n1, int64_t K, const float *x, const uint16_t *xb,
                   const uint16_t *w, int64_t ldw, int w_bf16, float alpha, float *C, int64_t ldc, int accumulate) {
    path = gemm_b16_path(path);
    if (xb && gemv_b16_takes_bf16_x(path, w_bf16)) /* bf16 rows: half the re-reads of x */
        gemv_bf16dp_avx512(M, n0, n1, K, xb, w, ldw, alpha, C, ldc, accumulate);
    else if (path == CPU_PATH_AVX512)
        gemv_f32x_avx512(M, n0, n1, K, x, w, ldw, w_bf16, alpha, C, ldc, accumulate);
    else if (path == CPU_PATH_AVX2)
        gemv_f32x_avx2(M, n0, n1, K, x, w, ldw, w_bf16, alpha, C, ldc, accumulate);
    else
        gemv_f32x_portable(M, n0, n1, K, x, w, ldw, w_bf16, alpha, C, ldc, accumulate);
}
