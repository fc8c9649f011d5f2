/* Helpers of the AVX-512 code that reads MLX affine weights (qmv_avx512.c, gemm_amx.c):
 * compiled for AVX-512 F/BW/VL only, so they inline into either file's functions (a callee's
 * target must be a subset of its caller's). Include inside an x86-64 GCC/clang block. */
#ifndef CMLX_CPU_ARCH_QMV_AVX512_UTIL_H
#define CMLX_CPU_ARCH_QMV_AVX512_UTIL_H

#include <immintrin.h>

#include "backend/cpu/arch/qmv.h"

/* n (<= 16) scales / biases of type t from p + i as float32; the rest zero. */
static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl"))) __m512
qk_load16_avx512(const void *p, qk_float t, int64_t i, int n) {
    __mmask16 k = (__mmask16)((1u << n) - 1);
    if (t == QK_F32) return _mm512_maskz_loadu_ps(k, (const float *)p + i);
    __m256i h = _mm256_maskz_loadu_epi16(k, (const uint16_t *)p + i);
    if (t == QK_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

#endif
