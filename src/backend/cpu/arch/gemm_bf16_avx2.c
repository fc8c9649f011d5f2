/* AVX2 + FMA (+ F16C) kernels of the 16-bit weight products (see gemm_b16.h): 16-bit values
 * are widened to float32 in registers (a bf16 is the high half of a float32: shift or mask;
 * float16 through vcvtph2ps) and multiplied with FMA. Same packed layout as the AVX-512
 * kernel, so the GEMM driver is shared. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/arch/gemm_b16.h"
#include "core/dtype.h"

#if defined(__x86_64__) && defined(__GNUC__)

#define T2 __attribute__((target("avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))

/* 4 x 16 block: each pair word becomes two float32 vectors (low element, high element). */
T2 void gemm_bf16_ukernel_avx2(int64_t kp, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc, int mr,
                               int nr, float alpha, int overwrite) {
    enum { MR = GEMM_AVX2_MR, NR = GEMM_AVX2_NR };
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
    __m256 acc[MR][2];
#pragma GCC unroll 4
    for (int m = 0; m < MR; m++) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
    for (int64_t p = 0; p < kp; p++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(bp + p * NR));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + p * NR + 8));
        __m256 b0l = _mm256_castsi256_ps(_mm256_slli_epi32(b0, 16)), b0h = _mm256_castsi256_ps(_mm256_and_si256(b0, hi));
        __m256 b1l = _mm256_castsi256_ps(_mm256_slli_epi32(b1, 16)), b1h = _mm256_castsi256_ps(_mm256_and_si256(b1, hi));
        const uint32_t *a = ap + p * MR;
#pragma GCC unroll 4
        for (int m = 0; m < MR; m++) {
            uint32_t lo = a[m] << 16, hw = a[m] & 0xffff0000u;
            float fl, fh;
            memcpy(&fl, &lo, 4);
            memcpy(&fh, &hw, 4);
            __m256 al = _mm256_set1_ps(fl), ah = _mm256_set1_ps(fh);
            acc[m][0] = _mm256_fmadd_ps(al, b0l, acc[m][0]);
            acc[m][1] = _mm256_fmadd_ps(al, b1l, acc[m][1]);
            acc[m][0] = _mm256_fmadd_ps(ah, b0h, acc[m][0]);
            acc[m][1] = _mm256_fmadd_ps(ah, b1h, acc[m][1]);
        }
    }
    __m256 va = _mm256_set1_ps(alpha);
#pragma GCC unroll 4
    for (int m = 0; m < MR; m++) {
        if (m < mr) {
            float *cr = c + m * ldc;
            __m256 v0 = _mm256_mul_ps(acc[m][0], va), v1 = _mm256_mul_ps(acc[m][1], va);
            if (nr == NR) {
                if (!overwrite) {
                    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));
                    v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8));
                }
                _mm256_storeu_ps(cr, v0);
                _mm256_storeu_ps(cr + 8, v1);
            } else {
                float t[NR];
                _mm256_storeu_ps(t, v0);
                _mm256_storeu_ps(t + 8, v1);
                for (int j = 0; j < nr; j++) cr[j] = t[j] + (overwrite ? 0.0f : cr[j]);
            }
        }
    }
}

INLINE T2 __m256 widen8(const uint16_t *p, int w_bf16) {
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    return w_bf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16)) : _mm256_cvtph_ps(v);
}

INLINE T2 float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE T2 void fx_tile(int MM, int R, int64_t K, const float *x, const uint16_t *w, int64_t ldw, int w_bf16, int64_t n,
                       float alpha, float *C, int64_t ldc, int accumulate) {
    __m256 acc[8][4];
    for (int m = 0; m < MM; m++)
        for (int r = 0; r < R; r++) acc[m][r] = _mm256_setzero_ps();
    const uint16_t *wr = w + n * ldw;
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 wv[4];
        for (int r = 0; r < R; r++) wv[r] = widen8(wr + r * ldw + k, w_bf16);
        for (int m = 0; m < MM; m++) {
            __m256 xv = _mm256_loadu_ps(x + m * K + k);
            for (int r = 0; r < R; r++) acc[m][r] = _mm256_fmadd_ps(xv, wv[r], acc[m][r]);
        }
    }
    for (int m = 0; m < MM; m++)
        for (int r = 0; r < R; r++) {
            float s = hsum8(acc[m][r]);
            for (int64_t j = k; j < K; j++)
                s += x[m * K + j] * (w_bf16 ? mx_bf16_to_f32(wr[r * ldw + j]) : mx_f16_to_f32(wr[r * ldw + j]));
            float *d = C + m * ldc + n + r;
            *d = alpha * s + (accumulate ? *d : 0.0f);
        }
}

#define ROWS(MM, R, ...)                                                         \
    do {                                                                         \
        int64_t n = n0;                                                          \
        for (; n + (R) <= n1; n += (R)) fx_tile(MM, R, __VA_ARGS__);             \
        for (; n < n1; n++) fx_tile(MM, 1, __VA_ARGS__);                         \
    } while (0)
#define GEMV_CASES(...)                                                          \
    switch (M) {                                                                 \
    case 1: ROWS(1, 4, __VA_ARGS__); break;                                      \
    case 2: ROWS(2, 2, __VA_ARGS__); break;                                      \
    case 3: ROWS(3, 2, __VA_ARGS__); break;                                      \
    case 4: ROWS(4, 2, __VA_ARGS__); break;                                      \
    case 5: ROWS(5, 1, __VA_ARGS__); break;                                      \
    case 6: ROWS(6, 1, __VA_ARGS__); break;                                      \
    case 7: ROWS(7, 1, __VA_ARGS__); break;                                      \
    default: ROWS(8, 1, __VA_ARGS__); break;                                     \
    }

T2 void gemv_f32x_avx2(int64_t M, int64_t n0, int64_t n1, int64_t K, const float *x, const uint16_t *w, int64_t ldw,
                       int w_bf16, float alpha, float *C, int64_t ldc, int accumulate) {
    if (w_bf16) GEMV_CASES(K, x, w, ldw, 1, n, alpha, C, ldc, accumulate)
    else GEMV_CASES(K, x, w, ldw, 0, n, alpha, C, ldc, accumulate)
}

#else /* not x86-64: never called */
void gemm_bf16_ukernel_avx2(int64_t kp, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc, int mr,
                            int nr, float alpha, int overwrite) {
    (void)kp, (void)ap, (void)bp, (void)c, (void)ldc, (void)mr, (void)nr, (void)alpha, (void)overwrite;
}
void gemv_f32x_avx2(int64_t M, int64_t n0, int64_t n1, int64_t K, const float *x, const uint16_t *w, int64_t ldw,
                    int w_bf16, float alpha, float *C, int64_t ldc, int accumulate) {
    (void)M, (void)n0, (void)n1, (void)K, (void)x, (void)w, (void)ldw, (void)w_bf16, (void)alpha, (void)C, (void)ldc,
        (void)accumulate;
}
#endif
