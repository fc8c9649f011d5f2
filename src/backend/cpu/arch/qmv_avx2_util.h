/* Helpers of the 256-bit row kernels (qmv_avx2.c, qmv_avxvnni.c): compiled for AVX2 + FMA +
 * F16C, so they inline into either kernel (a callee's target must be a subset of its caller's). */
#ifndef CMLX_CPU_ARCH_QMV_AVX2_UTIL_H
#define CMLX_CPU_ARCH_QMV_AVX2_UTIL_H

#include <immintrin.h>

#include "backend/cpu/arch/qmv.h"

#define QK256_INLINE static inline __attribute__((always_inline, target("avx2,fma,f16c")))

/* n (<= 8) scales / biases of type t as floats; the rest zero. */
QK256_INLINE __m256 load8(const void *p, qk_float t, int64_t i, int n) {
    if (n == 8) {
        if (t == QK_F32) return _mm256_loadu_ps((const float *)p + i);
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
        if (t == QK_F16) return _mm256_cvtph_ps(h);
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    float v[8] = {0};
    for (int j = 0; j < n; j++) v[j] = qk_load_float(p, t, i + j);
    return _mm256_loadu_ps(v);
}

/* n (<= 8) floats from p; the rest zero. */
QK256_INLINE __m256 loadf(const float *p, int n) {
    if (n == 8) return _mm256_loadu_ps(p);
    float v[8] = {0};
    for (int j = 0; j < n; j++) v[j] = p[j];
    return _mm256_loadu_ps(v);
}

QK256_INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#endif
