/* The int8 arithmetic ceiling: a GEMM micro-kernel (6 rows of A broadcast against a panel of
 * B, every accumulator independent) whose operands stay in L1, so that only the dot-product
 * instructions limit it. One version per instruction set, chosen at run time with
 * __builtin_cpu_supports; the portable one is plain C.
 *
 * Counting: one u8 x s8 multiply-add = 2 ops (as GEMM GFLOP/s counts an FMA). */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmlx/lm_bench.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

enum { ROWS = 6, KSTEPS = 64 }; /* A: 6 x 256 bytes, B: 64 steps x 256 bytes = 16 KiB */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *lm_int8_path_name(lm_int8_path p) {
    static const char *names[] = {"avx512-vnni", "avx-vnni", "avx2", "portable"};
    return p >= 0 && p < LM_INT8_PATH_COUNT ? names[p] : "unknown";
}

static int path_supported(lm_int8_path p) {
#if HAVE_X86
    __builtin_cpu_init();
    switch (p) {
    case LM_INT8_AVX512_VNNI:
        return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
    case LM_INT8_AVX_VNNI:
        return __builtin_cpu_supports("avxvnni") != 0;
    case LM_INT8_AVX2:
        return __builtin_cpu_supports("avx2") != 0;
    default:
        break;
    }
#endif
    return p == LM_INT8_PORTABLE;
}

lm_int8_path lm_int8_best_path(void) {
    for (int p = 0; p < LM_INT8_PATH_COUNT; p++)
        if (path_supported((lm_int8_path)p)) return (lm_int8_path)p;
    return LM_INT8_PORTABLE;
}

#if HAVE_X86
/* Each kernel runs `iters` passes over the panel and returns a checksum (so nothing is
 * optimised away). a: ROWS x (4*KSTEPS) bytes, row-major by k-step (4 bytes per row per
 * step); b: KSTEPS x 256 bytes. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static int64_t
kernel_avx512_vnni(const uint8_t *a, const int8_t *b, long iters) {
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00,
            c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00,
            c40 = c00, c41 = c00, c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00, c53 = c00;
    for (long it = 0; it < iters; it++) {
        const int8_t *bp = b;
        const uint8_t *ap = a;
        for (int k = 0; k < KSTEPS; k++, bp += 256, ap += 4 * ROWS) {
            __m512i b0 = _mm512_loadu_si512(bp), b1 = _mm512_loadu_si512(bp + 64);
            __m512i b2 = _mm512_loadu_si512(bp + 128), b3 = _mm512_loadu_si512(bp + 192);
            int32_t w[ROWS];
            memcpy(w, ap, sizeof w);
            __m512i x = _mm512_set1_epi32(w[0]);
            c00 = _mm512_dpbusd_epi32(c00, x, b0), c01 = _mm512_dpbusd_epi32(c01, x, b1);
            c02 = _mm512_dpbusd_epi32(c02, x, b2), c03 = _mm512_dpbusd_epi32(c03, x, b3);
            x = _mm512_set1_epi32(w[1]);
            c10 = _mm512_dpbusd_epi32(c10, x, b0), c11 = _mm512_dpbusd_epi32(c11, x, b1);
            c12 = _mm512_dpbusd_epi32(c12, x, b2), c13 = _mm512_dpbusd_epi32(c13, x, b3);
            x = _mm512_set1_epi32(w[2]);
            c20 = _mm512_dpbusd_epi32(c20, x, b0), c21 = _mm512_dpbusd_epi32(c21, x, b1);
            c22 = _mm512_dpbusd_epi32(c22, x, b2), c23 = _mm512_dpbusd_epi32(c23, x, b3);
            x = _mm512_set1_epi32(w[3]);
            c30 = _mm512_dpbusd_epi32(c30, x, b0), c31 = _mm512_dpbusd_epi32(c31, x, b1);
            c32 = _mm512_dpbusd_epi32(c32, x, b2), c33 = _mm512_dpbusd_epi32(c33, x, b3);
            x = _mm512_set1_epi32(w[4]);
            c40 = _mm512_dpbusd_epi32(c40, x, b0), c41 = _mm512_dpbusd_epi32(c41, x, b1);
            c42 = _mm512_dpbusd_epi32(c42, x, b2), c43 = _mm512_dpbusd_epi32(c43, x, b3);
            x = _mm512_set1_epi32(w[5]);
            c50 = _mm512_dpbusd_epi32(c50, x, b0), c51 = _mm512_dpbusd_epi32(c51, x, b1);
            c52 = _mm512_dpbusd_epi32(c52, x, b2), c53 = _mm512_dpbusd_epi32(c53, x, b3);
        }
    }
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c00, c01), _mm512_add_epi32(c02, c03)),
                                 _mm512_add_epi32(_mm512_add_epi32(c10, c11), _mm512_add_epi32(c12, c13)));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c20, c21), _mm512_add_epi32(c22, c23)));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c30, c31), _mm512_add_epi32(c32, c33)));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c40, c41), _mm512_add_epi32(c42, c43)));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c50, c51), _mm512_add_epi32(c52, c53)));
    return _mm512_reduce_add_epi32(s);
}

/* 256-bit versions: 16 registers, so 6 rows x 2 vectors of accumulators; each k-step's
 * 256 bytes of B are taken 64 at a time, with the same broadcasts of A. */
static inline __attribute__((always_inline, target("avx2"))) int64_t sum256(const __m256i *c0, const __m256i *c1) {
    __m256i s = _mm256_setzero_si256();
    for (int i = 0; i < ROWS; i++) s = _mm256_add_epi32(s, _mm256_add_epi32(c0[i], c1[i]));
    int32_t v[8];
    _mm256_storeu_si256((__m256i *)v, s);
    int64_t t = 0;
    for (int i = 0; i < 8; i++) t += v[i];
    return t;
}

__attribute__((target("avx2,avxvnni"))) static int64_t kernel_avx_vnni(const uint8_t *a, const int8_t *b, long iters) {
    __m256i c0[ROWS], c1[ROWS];
    for (int i = 0; i < ROWS; i++) c0[i] = c1[i] = _mm256_setzero_si256();
    for (long it = 0; it < iters; it++) {
        const int8_t *bp = b;
        const uint8_t *ap = a;
        for (int k = 0; k < KSTEPS; k++, ap += 4 * ROWS) {
            int32_t w[ROWS];
            memcpy(w, ap, sizeof w);
            for (int sub = 0; sub < 4; sub++, bp += 64) {
                __m256i b0 = _mm256_loadu_si256((const __m256i *)bp), b1 = _mm256_loadu_si256((const __m256i *)(bp + 32));
#pragma GCC unroll 6
                for (int i = 0; i < ROWS; i++) {
                    __m256i x = _mm256_set1_epi32(w[i]);
                    c0[i] = _mm256_dpbusd_avx_epi32(c0[i], x, b0);
                    c1[i] = _mm256_dpbusd_avx_epi32(c1[i], x, b1);
                }
            }
        }
    }
    return sum256(c0, c1);
}

__attribute__((target("avx2"))) static int64_t kernel_avx2(const uint8_t *a, const int8_t *b, long iters) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c0[ROWS], c1[ROWS];
    for (int i = 0; i < ROWS; i++) c0[i] = c1[i] = _mm256_setzero_si256();
    for (long it = 0; it < iters; it++) {
        const int8_t *bp = b;
        const uint8_t *ap = a;
        for (int k = 0; k < KSTEPS; k++, ap += 4 * ROWS) {
            int32_t w[ROWS];
            memcpy(w, ap, sizeof w);
            for (int sub = 0; sub < 4; sub++, bp += 64) {
                __m256i b0 = _mm256_loadu_si256((const __m256i *)bp), b1 = _mm256_loadu_si256((const __m256i *)(bp + 32));
#pragma GCC unroll 6
                for (int i = 0; i < ROWS; i++) {
                    __m256i x = _mm256_set1_epi32(w[i]);
                    /* u8*s8 pairs -> s16 (saturating; the inputs are small), pairs -> s32 */
                    c0[i] = _mm256_add_epi32(c0[i], _mm256_madd_epi16(_mm256_maddubs_epi16(x, b0), ones));
                    c1[i] = _mm256_add_epi32(c1[i], _mm256_madd_epi16(_mm256_maddubs_epi16(x, b1), ones));
                }
            }
        }
    }
    return sum256(c0, c1);
}
#endif

/* Plain C: the same multiply-adds, unsigned accumulators (wrap-around is defined). */
static int64_t kernel_portable(const uint8_t *a, const int8_t *b, long iters) {
    uint32_t c[ROWS][64];
    memset(c, 0, sizeof c);
    for (long it = 0; it < iters; it++)
        for (int k = 0; k < KSTEPS; k++)
            for (int i = 0; i < ROWS; i++)
                for (int j = 0; j < 64; j++)
                    for (int q = 0; q < 4; q++)
                        c[i][j] += (uint32_t)a[k * 4 * ROWS + 4 * i + q] * (uint32_t)(int32_t)b[k * 256 + 4 * j + q];
    uint64_t t = 0;
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < 64; j++) t += c[i][j];
    return (int64_t)t;
}

/* Multiply-adds of one pass over the panel. */
static double macs_per_iter(void) { return (double)KSTEPS * ROWS * 256; }

static int64_t run_kernel(lm_int8_path p, const uint8_t *a, const int8_t *b, long iters) {
#if HAVE_X86
    if (p == LM_INT8_AVX512_VNNI) return kernel_avx512_vnni(a, b, iters);
    if (p == LM_INT8_AVX_VNNI) return kernel_avx_vnni(a, b, iters);
    if (p == LM_INT8_AVX2) return kernel_avx2(a, b, iters);
#endif
    return kernel_portable(a, b, iters);
}

double lm_bench_int8_peak(lm_int8_path path, int threads, double seconds) {
    if (path < 0 || path >= LM_INT8_PATH_COUNT || !path_supported(path)) {
        mx_set_error("[bench] the int8 path %s is not supported by this CPU", lm_int8_path_name(path));
        return -1;
    }
    if (threads < 1) threads = 1;
    uint8_t a[ROWS * 4 * KSTEPS];
    int8_t b[KSTEPS * 256];
    for (size_t i = 0; i < sizeof a; i++) a[i] = (uint8_t)(i * 7 % 5);
    for (size_t i = 0; i < sizeof b; i++) b[i] = (int8_t)((int)(i * 13 % 7) - 3);
    /* calibrate on one thread: passes for about `seconds` */
    long iters = 16;
    double t0, dt;
    for (;;) {
        t0 = now_s();
        (void)run_kernel(path, a, b, iters);
        dt = now_s() - t0;
        if (dt > 0.02 || iters > (1L << 30)) break;
        iters *= 4;
    }
    long n = (long)((double)iters * seconds / (dt > 0 ? dt : 1e-3));
    if (n < 1) n = 1;
    volatile int64_t sink = 0;
    int used = 1;
    t0 = now_s();
#pragma omp parallel num_threads(threads)
    {
        int64_t s = run_kernel(path, a, b, n);
#pragma omp atomic
        sink += s;
#pragma omp single
        used = omp_get_num_threads();
    }
    dt = now_s() - t0;
    return 2.0 * macs_per_iter() * (double)n * used / dt / 1e9;
}
