/* The int8 arithmetic ceiling: a GEMM micro-kernel (4 rows of A broadcast against a panel of
 * B, every accumulator independent) whose operands stay in L1, so that only the dot-product
 * instructions limit it. One version per instruction set, chosen at run time with
 * __builtin_cpu_supports; the portable one is plain C.
 *
 * Counting: one u8 x s8 multiply-add = 2 ops (as GEMM GFLOP/s counts an FMA). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/lm_bench.h"
#include "lm/bench/peak_timer.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

enum { ROWS = 4, KSTEPS = 64 }; /* A: 4 rows x 256 bytes, B: 64 steps x 256 bytes = 16 KiB */

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
    case LM_INT8_AVX_VNNI: { /* CPUID.(7,1):EAX bit 4 (older compilers lack the builtin's name) */
        unsigned a = 0, b = 0, c = 0, d = 0;
        return __builtin_cpu_supports("avx2") && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4));
    }
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
static inline int32_t load32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Each kernel runs `iters` passes over the panel and returns a checksum (so nothing is
 * optimised away). a: KSTEPS x ROWS x 4 bytes (4 bytes of each row per step); b: KSTEPS x
 * 256 bytes. The accumulators are named variables, not an array, so that the compiler
 * keeps all of them in registers (16 of 32 zmm; with 24 GCC 12 spilled them every step). */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static int64_t
kernel_avx512_vnni(const uint8_t *a, const int8_t *b, long iters) {
    __m512i z = _mm512_setzero_si512();
    __m512i c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
    __m512i c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
    for (long it = 0; it < iters; it++) {
        const int8_t *bp = b;
        const uint8_t *ap = a;
        for (int k = 0; k < KSTEPS; k++, bp += 256, ap += 4 * ROWS) {
            __m512i b0 = _mm512_loadu_si512(bp), b1 = _mm512_loadu_si512(bp + 64);
            __m512i b2 = _mm512_loadu_si512(bp + 128), b3 = _mm512_loadu_si512(bp + 192);
            __m512i x = _mm512_set1_epi32(load32(ap));
            c00 = _mm512_dpbusd_epi32(c00, x, b0), c01 = _mm512_dpbusd_epi32(c01, x, b1);
            c02 = _mm512_dpbusd_epi32(c02, x, b2), c03 = _mm512_dpbusd_epi32(c03, x, b3);
            x = _mm512_set1_epi32(load32(ap + 4));
            c10 = _mm512_dpbusd_epi32(c10, x, b0), c11 = _mm512_dpbusd_epi32(c11, x, b1);
            c12 = _mm512_dpbusd_epi32(c12, x, b2), c13 = _mm512_dpbusd_epi32(c13, x, b3);
            x = _mm512_set1_epi32(load32(ap + 8));
            c20 = _mm512_dpbusd_epi32(c20, x, b0), c21 = _mm512_dpbusd_epi32(c21, x, b1);
            c22 = _mm512_dpbusd_epi32(c22, x, b2), c23 = _mm512_dpbusd_epi32(c23, x, b3);
            x = _mm512_set1_epi32(load32(ap + 12));
            c30 = _mm512_dpbusd_epi32(c30, x, b0), c31 = _mm512_dpbusd_epi32(c31, x, b1);
            c32 = _mm512_dpbusd_epi32(c32, x, b2), c33 = _mm512_dpbusd_epi32(c33, x, b3);
        }
    }
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(c00, c01), _mm512_add_epi32(c02, c03));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c10, c11), _mm512_add_epi32(c12, c13)));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c20, c21), _mm512_add_epi32(c22, c23)));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c30, c31), _mm512_add_epi32(c32, c33)));
    return _mm512_reduce_add_epi32(s);
}

static inline __attribute__((always_inline, target("avx2"))) int64_t sum256(__m256i s) {
    int32_t v[8];
    _mm256_storeu_si256((__m256i *)v, s);
    int64_t t = 0;
    for (int i = 0; i < 8; i++) t += v[i];
    return t;
}

/* 256-bit versions (16 registers): 4 rows x 2 vectors of accumulators; the panel is walked
 * in four 64-byte column strips (the same multiply-adds; a strip-inner order made GCC hoist
 * the broadcasts and spill). */
__attribute__((target("avx2,avxvnni"))) static int64_t kernel_avx_vnni(const uint8_t *a, const int8_t *b, long iters) {
    __m256i z = _mm256_setzero_si256(), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
    for (long it = 0; it < iters; it++) {
        for (int sub = 0; sub < 4; sub++)
            for (int k = 0; k < KSTEPS; k++) {
                const int8_t *bp = b + k * 256 + sub * 64;
                const uint8_t *ap = a + k * 4 * ROWS;
                __m256i b0 = _mm256_loadu_si256((const __m256i *)bp), b1 = _mm256_loadu_si256((const __m256i *)(bp + 32));
                __m256i x = _mm256_set1_epi32(load32(ap));
                c00 = _mm256_dpbusd_avx_epi32(c00, x, b0), c01 = _mm256_dpbusd_avx_epi32(c01, x, b1);
                x = _mm256_set1_epi32(load32(ap + 4));
                c10 = _mm256_dpbusd_avx_epi32(c10, x, b0), c11 = _mm256_dpbusd_avx_epi32(c11, x, b1);
                x = _mm256_set1_epi32(load32(ap + 8));
                c20 = _mm256_dpbusd_avx_epi32(c20, x, b0), c21 = _mm256_dpbusd_avx_epi32(c21, x, b1);
                x = _mm256_set1_epi32(load32(ap + 12));
                c30 = _mm256_dpbusd_avx_epi32(c30, x, b0), c31 = _mm256_dpbusd_avx_epi32(c31, x, b1);
            }
    }
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c00, c01), _mm256_add_epi32(c10, c11)),
                                 _mm256_add_epi32(_mm256_add_epi32(c20, c21), _mm256_add_epi32(c30, c31)));
    return sum256(s);
}

/* u8 x s8 pairs -> s16 (saturating; the inputs are small), then pairs -> s32, then add. */
static inline __attribute__((always_inline, target("avx2"))) __m256i madd_u8s8(__m256i c, __m256i x, __m256i b) {
    return _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(x, b), _mm256_set1_epi16(1)));
}

__attribute__((target("avx2"))) static int64_t kernel_avx2(const uint8_t *a, const int8_t *b, long iters) {
    __m256i z = _mm256_setzero_si256(), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
    for (long it = 0; it < iters; it++) {
        for (int sub = 0; sub < 4; sub++)
            for (int k = 0; k < KSTEPS; k++) {
                const int8_t *bp = b + k * 256 + sub * 64;
                const uint8_t *ap = a + k * 4 * ROWS;
                __m256i b0 = _mm256_loadu_si256((const __m256i *)bp), b1 = _mm256_loadu_si256((const __m256i *)(bp + 32));
                __m256i x = _mm256_set1_epi32(load32(ap));
                c00 = madd_u8s8(c00, x, b0), c01 = madd_u8s8(c01, x, b1);
                x = _mm256_set1_epi32(load32(ap + 4));
                c10 = madd_u8s8(c10, x, b0), c11 = madd_u8s8(c11, x, b1);
                x = _mm256_set1_epi32(load32(ap + 8));
                c20 = madd_u8s8(c20, x, b0), c21 = madd_u8s8(c21, x, b1);
                x = _mm256_set1_epi32(load32(ap + 12));
                c30 = madd_u8s8(c30, x, b0), c31 = madd_u8s8(c31, x, b1);
            }
    }
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c00, c01), _mm256_add_epi32(c10, c11)),
                                 _mm256_add_epi32(_mm256_add_epi32(c20, c21), _mm256_add_epi32(c30, c31)));
    return sum256(s);
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

typedef struct {
    lm_int8_path path;
    const uint8_t *a;
    const int8_t *b;
} int8_pass;

static double run_int8_pass(const void *ctx, long iters) {
    const int8_pass *p = ctx;
    return (double)run_kernel(p->path, p->a, p->b, iters);
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
    int8_pass p = {path, a, b};
    return 2.0 * macs_per_iter() * peak_passes_per_second(run_int8_pass, &p, threads, seconds) / 1e9;
}
