/* Floating-point arithmetic ceilings: float32 FMA and bf16 dot-product (vdpbf16ps) rates of
 * register-blocked micro-kernels whose operands stay in L1 (the same 4-row x 4-vector
 * structure as int8_peak.c), so only the arithmetic instructions limit them. They bound what
 * any GEMM can reach; the sgemm figure in roofline.c is what OpenBLAS reaches.
 *
 * Counting: an FMA is 2 flops per lane; vdpbf16ps does 2 products and 2 adds per float32
 * lane (4 flops). */
#include <stdint.h>
#include <string.h>

#include "cmlx/lm_bench.h"
#include "lm/bench/peak_timer.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

enum { KSTEPS = 64 };

typedef double (*kernel_fn)(const float *a, const float *b, long iters); /* returns a checksum */

#if HAVE_X86
/* a: KSTEPS x 4 floats, b: KSTEPS x 64 floats; 16 accumulators of 16 lanes. */
__attribute__((target("avx512f"))) static double fma_avx512(const float *a, const float *b, long iters) {
    __m512 z = _mm512_setzero_ps();
    __m512 c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
    __m512 c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
    for (long it = 0; it < iters; it++)
        for (int k = 0; k < KSTEPS; k++) {
            const float *bp = b + k * 64, *ap = a + k * 4;
            __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16), b2 = _mm512_loadu_ps(bp + 32),
                   b3 = _mm512_loadu_ps(bp + 48);
            __m512 x = _mm512_set1_ps(ap[0]);
            c00 = _mm512_fmadd_ps(x, b0, c00), c01 = _mm512_fmadd_ps(x, b1, c01);
            c02 = _mm512_fmadd_ps(x, b2, c02), c03 = _mm512_fmadd_ps(x, b3, c03);
            x = _mm512_set1_ps(ap[1]);
            c10 = _mm512_fmadd_ps(x, b0, c10), c11 = _mm512_fmadd_ps(x, b1, c11);
            c12 = _mm512_fmadd_ps(x, b2, c12), c13 = _mm512_fmadd_ps(x, b3, c13);
            x = _mm512_set1_ps(ap[2]);
            c20 = _mm512_fmadd_ps(x, b0, c20), c21 = _mm512_fmadd_ps(x, b1, c21);
            c22 = _mm512_fmadd_ps(x, b2, c22), c23 = _mm512_fmadd_ps(x, b3, c23);
            x = _mm512_set1_ps(ap[3]);
            c30 = _mm512_fmadd_ps(x, b0, c30), c31 = _mm512_fmadd_ps(x, b1, c31);
            c32 = _mm512_fmadd_ps(x, b2, c32), c33 = _mm512_fmadd_ps(x, b3, c33);
        }
    __m512 s = _mm512_add_ps(_mm512_add_ps(c00, c01), _mm512_add_ps(c02, c03));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c10, c11), _mm512_add_ps(c12, c13)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c20, c21), _mm512_add_ps(c22, c23)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c30, c31), _mm512_add_ps(c32, c33)));
    return _mm512_reduce_add_ps(s);
}

/* 256-bit: 4 rows x 2 vectors, the 64 columns walked in four strips of 16. */
__attribute__((target("avx2,fma"))) static double fma_avx2(const float *a, const float *b, long iters) {
    __m256 z = _mm256_setzero_ps(), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
    for (long it = 0; it < iters; it++)
        for (int sub = 0; sub < 4; sub++)
            for (int k = 0; k < KSTEPS; k++) {
                const float *bp = b + k * 64 + sub * 16, *ap = a + k * 4;
                __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
                __m256 x = _mm256_set1_ps(ap[0]);
                c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
                x = _mm256_set1_ps(ap[1]);
                c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
                x = _mm256_set1_ps(ap[2]);
                c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
                x = _mm256_set1_ps(ap[3]);
                c30 = _mm256_fmadd_ps(x, b0, c30), c31 = _mm256_fmadd_ps(x, b1, c31);
            }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c00, c01), _mm256_add_ps(c10, c11)),
                             _mm256_add_ps(_mm256_add_ps(c20, c21), _mm256_add_ps(c30, c31)));
    float v[8];
    _mm256_storeu_ps(v, s);
    double t = 0;
    for (int i = 0; i < 8; i++) t += v[i];
    return t;
}

/* bf16 pairs: each float of a/b is read as two bf16 values (the result is a checksum). */
__attribute__((target("avx512f,avx512bf16"))) static double bf16_avx512(const float *a, const float *b, long iters) {
    __m512 z = _mm512_setzero_ps();
    __m512 c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
    __m512 c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
    for (long it = 0; it < iters; it++)
        for (int k = 0; k < KSTEPS; k++) {
            const float *bp = b + k * 64, *ap = a + k * 4;
            __m512bh b0 = (__m512bh)_mm512_loadu_ps(bp), b1 = (__m512bh)_mm512_loadu_ps(bp + 16);
            __m512bh b2 = (__m512bh)_mm512_loadu_ps(bp + 32), b3 = (__m512bh)_mm512_loadu_ps(bp + 48);
            __m512bh x = (__m512bh)_mm512_set1_ps(ap[0]);
            c00 = _mm512_dpbf16_ps(c00, x, b0), c01 = _mm512_dpbf16_ps(c01, x, b1);
            c02 = _mm512_dpbf16_ps(c02, x, b2), c03 = _mm512_dpbf16_ps(c03, x, b3);
            x = (__m512bh)_mm512_set1_ps(ap[1]);
            c10 = _mm512_dpbf16_ps(c10, x, b0), c11 = _mm512_dpbf16_ps(c11, x, b1);
            c12 = _mm512_dpbf16_ps(c12, x, b2), c13 = _mm512_dpbf16_ps(c13, x, b3);
            x = (__m512bh)_mm512_set1_ps(ap[2]);
            c20 = _mm512_dpbf16_ps(c20, x, b0), c21 = _mm512_dpbf16_ps(c21, x, b1);
            c22 = _mm512_dpbf16_ps(c22, x, b2), c23 = _mm512_dpbf16_ps(c23, x, b3);
            x = (__m512bh)_mm512_set1_ps(ap[3]);
            c30 = _mm512_dpbf16_ps(c30, x, b0), c31 = _mm512_dpbf16_ps(c31, x, b1);
            c32 = _mm512_dpbf16_ps(c32, x, b2), c33 = _mm512_dpbf16_ps(c33, x, b3);
        }
    __m512 s = _mm512_add_ps(_mm512_add_ps(c00, c01), _mm512_add_ps(c02, c03));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c10, c11), _mm512_add_ps(c12, c13)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c20, c21), _mm512_add_ps(c22, c23)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c30, c31), _mm512_add_ps(c32, c33)));
    return _mm512_reduce_add_ps(s);
}
#endif

static double fma_portable(const float *a, const float *b, long iters) {
    float c[4][64];
    memset(c, 0, sizeof c);
    for (long it = 0; it < iters; it++)
        for (int k = 0; k < KSTEPS; k++)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 64; j++) c[i][j] += a[k * 4 + i] * b[k * 64 + j];
    double t = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 64; j++) t += c[i][j];
    return t;
}

typedef struct {
    kernel_fn f;
    const float *a, *b;
} float_pass;

static double run_float_pass(const void *ctx, long iters) {
    const float_pass *p = ctx;
    return p->f(p->a, p->b, iters);
}

/* Runs f on `threads` threads for about `seconds`; flops of one pass given. */
static double measure(kernel_fn f, double flops_per_iter, int threads, double seconds) {
    static float a[KSTEPS * 4], b[KSTEPS * 64];
    /* small values exact in bf16 (so each float read as two bf16 is (x, 0)) that neither
     * overflow nor become denormal over billions of steps */
    for (int i = 0; i < KSTEPS * 4; i++) a[i] = (float)(i % 7 + 1) / 1024.0f;
    for (int i = 0; i < KSTEPS * 64; i++) b[i] = (float)(i % 5 + 1) / 1024.0f;
    float_pass p = {f, a, b};
    return flops_per_iter * peak_passes_per_second(run_float_pass, &p, threads, seconds) / 1e9;
}

const char *lm_bench_fma_path(void) {
#if HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
#endif
    return "portable";
}

double lm_bench_f32_fma_peak(int threads, double seconds) {
    if (threads < 1) threads = 1;
    double flops = 2.0 * KSTEPS * 4 * 64;
    const char *p = lm_bench_fma_path();
#if HAVE_X86
    if (!strcmp(p, "avx512")) return measure(fma_avx512, flops, threads, seconds);
    if (!strcmp(p, "avx2")) return measure(fma_avx2, flops, threads, seconds);
#endif
    return measure(fma_portable, flops, threads, seconds);
}

double lm_bench_bf16_dot_peak(int threads, double seconds) {
    if (threads < 1) threads = 1;
#if HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512bf16"))
        return measure(bf16_avx512, 4.0 * KSTEPS * 4 * 64, threads, seconds); /* 2 bf16 pairs per lane */
#endif
    (void)seconds;
    return 0;
}
