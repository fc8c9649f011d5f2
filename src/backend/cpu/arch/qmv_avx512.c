/* The AVX-512 VNNI path of the integer-dot quantized products (see qmv.h for the arithmetic
 * and the order of xq). Functions carry their own target attribute, so this file builds
 * with the project's baseline flags and runs only when the dispatcher picked it.
 *
 * Unit of work: a block of 64 values of one weight row (32 bytes at 4 bits, 64 at 8 bits).
 *  - 4-bit: the 32 bytes become one zmm [low nibbles | high nibbles], multiplied with
 *    vpdpbusd (weights unsigned, the FIRST operand; activations signed) against the block's
 *    64 xq [evens | odds]: each int32 lane sums 4 products of one group.
 *  - 8-bit: the 64 bytes against 64 xq in natural order.
 * The int32 lanes are converted to float and multiplied by the lane's s * sx (one value for
 * groups of 64 and 128; for groups of 32 the block holds two groups: lanes 4-7 and 12-15 (4-bit)
 * or 8-15 (8-bit) belong to the second). Two float accumulators per x row alternate between
 * blocks (the FMA latency would otherwise bound one row). s * sx and b * sum(x) are computed
 * 16 groups at a time before the block loop. */
#include "backend/cpu/arch/qmv.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define QK_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")))
#define QK_INLINE static inline __attribute__((always_inline)) QK_TARGET

#define CHUNK_GROUPS 64 /* groups whose s * sx are prepared at once (a multiple of 16) */

/* n (<= 16) scales / biases of type t from p as floats; the rest zero. */
QK_INLINE __m512 load16(const void *p, qk_float t, int64_t i, int n) {
    __mmask16 k = (__mmask16)((1u << n) - 1);
    if (t == QK_F32) return _mm512_maskz_loadu_ps(k, (const float *)p + i);
    __m256i h = _mm256_maskz_loadu_epi16(k, (const uint16_t *)p + i);
    if (t == QK_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

QK_INLINE void rows_kernel(const qk_weights *w, const qk_act *a, int64_t m0, int64_t n0, int64_t n1, float *y,
                           int64_t ldy, const int BITS, const int GS, const int MR) {
    const int64_t K = w->k, G = w->groups, rb = K * BITS / 8, full = K / 64 * 64;
    const __m512i lo4 = _mm512_set1_epi8(15), zero = _mm512_setzero_si512();
    const __mmask16 second = BITS == 4 ? 0xF0F0 : 0xFF00;
    const int8_t *xr[MR];
    const float *sx[MR], *xs[MR];
    for (int m = 0; m < MR; m++) {
        xr[m] = a->q + (m0 + m) * K;
        sx[m] = a->scale + (m0 + m) * G;
        xs[m] = a->sum + (m0 + m) * G;
    }
    float comb[MR][CHUNK_GROUPS];
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *wrow = w->w + n * rb;
        __m512 acc0[MR], acc1[MR], bacc[MR];
        for (int m = 0; m < MR; m++) acc0[m] = acc1[m] = bacc[m] = _mm512_setzero_ps();
        for (int64_t c0 = 0; c0 < G; c0 += CHUNK_GROUPS) {
            int64_t c1 = c0 + CHUNK_GROUPS < G ? c0 + CHUNK_GROUPS : G;
            for (int64_t g = c0; g < c1; g += 16) {
                int cnt = c1 - g < 16 ? (int)(c1 - g) : 16;
                __mmask16 k = (__mmask16)((1u << cnt) - 1);
                __m512 s = load16(w->scales, w->sdt, n * G + g, cnt), b = load16(w->biases, w->sdt, n * G + g, cnt);
                for (int m = 0; m < MR; m++) {
                    _mm512_storeu_ps(&comb[m][g - c0], _mm512_mul_ps(s, _mm512_maskz_loadu_ps(k, sx[m] + g)));
                    bacc[m] = _mm512_fmadd_ps(b, _mm512_maskz_loadu_ps(k, xs[m] + g), bacc[m]);
                }
            }
            /* the blocks of 64 values inside this chunk's groups */
            int64_t v0 = c0 * GS, v1 = c1 * GS < full ? c1 * GS : full;
            int odd = 0;
            for (int64_t v = v0; v < v1; v += (GS == 128 ? 128 : 64), odd ^= 1) {
                __m512i wz = BITS == 4 ? _mm512_and_si512(
                                             _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(
                                                                    (const __m256i *)(wrow + v / 2))),
                                                                _mm256_srli_epi16(_mm256_loadu_si256(
                                                                                      (const __m256i *)(wrow + v / 2)),
                                                                                  4),
                                                                1),
                                             lo4)
                                       : _mm512_loadu_si512(wrow + v);
                __m512i wz2 = zero;
                if (GS == 128)
                    wz2 = BITS == 4 ? _mm512_and_si512(
                                          _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(
                                                                 (const __m256i *)(wrow + v / 2 + 32))),
                                                             _mm256_srli_epi16(_mm256_loadu_si256(
                                                                                   (const __m256i *)(wrow + v / 2 + 32)),
                                                                               4),
                                                             1),
                                          lo4)
                                    : _mm512_loadu_si512(wrow + v + 64);
                int64_t g = v / GS - c0;
                for (int m = 0; m < MR; m++) {
                    __m512i d = _mm512_dpbusd_epi32(zero, wz, _mm512_loadu_si512(xr[m] + v));
                    if (GS == 128) d = _mm512_dpbusd_epi32(d, wz2, _mm512_loadu_si512(xr[m] + v + 64));
                    __m512 sc = GS == 32 ? _mm512_mask_blend_ps(second, _mm512_set1_ps(comb[m][g]),
                                                                _mm512_set1_ps(comb[m][g + 1]))
                                         : _mm512_set1_ps(comb[m][g]);
                    if (odd) acc1[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), sc, acc1[m]);
                    else acc0[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), sc, acc0[m]);
                }
            }
        }
        for (int m = 0; m < MR; m++) {
            float r = _mm512_reduce_add_ps(_mm512_add_ps(acc0[m], acc1[m])) + _mm512_reduce_add_ps(bacc[m]);
            if (full < K) /* a last block of 32 values (groups of 32 only): one group */
                r += qk_load_float(w->scales, w->sdt, n * G + G - 1) * sx[m][G - 1] *
                     (float)qk_tail_dot(wrow, xr[m], full, BITS);
            y[(m0 + m) * ldy + n] = r;
        }
    }
}

#define CASE_MR(B, G)                                                              \
    switch (mr) {                                                                  \
    case 1: rows_kernel(w, a, m0, n0, n1, y, ldy, B, G, 1); return;                \
    case 2: rows_kernel(w, a, m0, n0, n1, y, ldy, B, G, 2); return;                \
    case 3: rows_kernel(w, a, m0, n0, n1, y, ldy, B, G, 3); return;                \
    default: rows_kernel(w, a, m0, n0, n1, y, ldy, B, G, 4); return;               \
    }

#define DEFINE_BG(B, G)                                                                                   \
    QK_TARGET static void rows_b##B##_g##G(const qk_weights *w, const qk_act *a, int64_t m0, int mr,     \
                                           int64_t n0, int64_t n1, float *y, int64_t ldy) {              \
        CASE_MR(B, G)                                                                                     \
    }
DEFINE_BG(4, 32)
DEFINE_BG(4, 64)
DEFINE_BG(4, 128)
DEFINE_BG(8, 32)
DEFINE_BG(8, 64)
DEFINE_BG(8, 128)

void qk_rows_avx512(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                    int64_t ldy) {
    if (w->bits == 4) {
        if (w->gs == 32) rows_b4_g32(w, a, m0, mr, n0, n1, y, ldy);
        else if (w->gs == 64) rows_b4_g64(w, a, m0, mr, n0, n1, y, ldy);
        else rows_b4_g128(w, a, m0, mr, n0, n1, y, ldy);
    } else {
        if (w->gs == 32) rows_b8_g32(w, a, m0, mr, n0, n1, y, ldy);
        else if (w->gs == 64) rows_b8_g64(w, a, m0, mr, n0, n1, y, ldy);
        else rows_b8_g128(w, a, m0, mr, n0, n1, y, ldy);
    }
}

#else
void qk_rows_avx512(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                    int64_t ldy) {
    qk_rows_portable(w, a, m0, mr, n0, n1, y, ldy); /* never dispatched: cpu_path_supported says no */
}
#endif
