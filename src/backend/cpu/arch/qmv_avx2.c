/* The AVX2 path of the integer-dot quantized products (see qmv.h for the arithmetic and the
 * order of xq), for x86-64 CPUs without AVX-512 VNNI. Functions carry their own target
 * attribute; the dispatcher runs them only where AVX2 + FMA + F16C exist.
 *
 * Unit of work: a block of 64 values of one weight row.
 *  - 4-bit (32 bytes, half a chunk of the 4-bit order or a chunk of 64): low and high nibbles (unsigned, 0..15) times the block's xh (or xl)
 *    evens / odds with vpmaddubsw (unsigned first operand; a pair sums to at most 2 * 15 * 128,
 *    and the two nibble halves added stay below 2^15: exact), then vpmaddwd by ones into int32 lanes:
 *    lane i holds the 8 products of bytes 4i..4i+3, all of one group (lanes 4-7 are the second
 *    group when groups are 32 values).
 *  - 8-bit (2 x 32 bytes): vpmaddubsw could saturate (255 * 127 * 2 > 2^15), so the bytes are
 *    split into even / odd 16-bit words and multiplied with vpmaddwd (exact).
 * int32 lanes are converted to float and multiplied by the lane's s * sx. */
#include "backend/cpu/arch/qmv.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "backend/cpu/arch/qmv_avx2_util.h"

#define QK_TARGET __attribute__((target("avx2,fma,f16c")))
#define QK_INLINE static inline __attribute__((always_inline)) QK_TARGET

#define CHUNK_GROUPS 64
#define PF 2048 /* software prefetch distance, as in qmv_avx512.c (where it was measured) */


/* 8-bit: int32 lanes of 32 weight bytes times 32 xq (lane i: bytes 4i..4i+3). */
QK_INLINE __m256i dot8_32(__m256i w, __m256i x) {
    const __m256i lowb = _mm256_set1_epi16(0xff);
    __m256i we = _mm256_and_si256(w, lowb), wo = _mm256_srli_epi16(w, 8);
    __m256i xe = _mm256_srai_epi16(_mm256_slli_epi16(x, 8), 8), xo = _mm256_srai_epi16(x, 8);
    return _mm256_add_epi32(_mm256_madd_epi16(we, xe), _mm256_madd_epi16(wo, xo));
}

QK_INLINE void rows_kernel(const qk_weights *w, const qk_act *a, int64_t m0, int64_t n0, int64_t n1, float *y,
                           int64_t ldy, const int BITS, const int GS, const int MR) {
    const int64_t K = w->k, G = w->groups, rb = K * BITS / 8, full = K / 64 * 64, full128 = K / 128 * 128;
    const __m256i lo4 = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    const int8_t *xr[MR], *xlr[MR];
    const float *sx[MR], *xs[MR];
    for (int m = 0; m < MR; m++) {
        xr[m] = a->q + (m0 + m) * K;
        xlr[m] = a->ql + (m0 + m) * K;
        sx[m] = a->scale + (m0 + m) * G;
        xs[m] = a->sum + (m0 + m) * G;
    }
    float comb[MR][CHUNK_GROUPS];
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *wrow = w->w + n * rb;
        __m256 acc0[MR], acc1[MR], bacc[MR];
        for (int m = 0; m < MR; m++) acc0[m] = acc1[m] = bacc[m] = _mm256_setzero_ps();
        for (int64_t c0 = 0; c0 < G; c0 += CHUNK_GROUPS) {
            int64_t c1 = c0 + CHUNK_GROUPS < G ? c0 + CHUNK_GROUPS : G;
            for (int64_t g = c0; g < c1; g += 8) {
                int cnt = c1 - g < 8 ? (int)(c1 - g) : 8;
                __m256 s = load8(w->scales, w->sdt, n * G + g, cnt), b = load8(w->biases, w->sdt, n * G + g, cnt);
                for (int m = 0; m < MR; m++) {
                    _mm256_storeu_ps(&comb[m][g - c0], _mm256_mul_ps(s, loadf(sx[m] + g, cnt)));
                    bacc[m] = _mm256_fmadd_ps(b, loadf(xs[m] + g, cnt), bacc[m]);
                }
            }
            int64_t v0 = c0 * GS, v1 = c1 * GS < full ? c1 * GS : full;
            for (int64_t v = v0; v < v1; v += 64) {
                int64_t g = v / GS - c0;
                if (BITS == 4) {
                    /* x offsets of these 32 bytes' low / high nibbles in the 4-bit order */
                    int64_t xlo = v, xhi = v + 32;
                    if (v < full128) xlo = v / 128 * 128 + (v & 64) / 2, xhi = xlo + 64;
                    _mm_prefetch((const char *)(wrow + v / 2 + PF), _MM_HINT_T0);
                    __m256i wb = _mm256_loadu_si256((const __m256i *)(wrow + v / 2));
                    __m256i lo = _mm256_and_si256(wb, lo4), hi = _mm256_and_si256(_mm256_srli_epi16(wb, 4), lo4);
                    for (int m = 0; m < MR; m++) {
                        __m256i p = _mm256_add_epi16(
                            _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(xr[m] + xlo))),
                            _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xr[m] + xhi))));
                        __m256i pl = _mm256_add_epi16(
                            _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(xlr[m] + xlo))),
                            _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xlr[m] + xhi))));
                        __m256 d = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_slli_epi32(_mm256_madd_epi16(p, ones), 8),
                                                                       _mm256_madd_epi16(pl, ones)));
                        __m256 sc = GS == 32 ? _mm256_blend_ps(_mm256_set1_ps(comb[m][g]), _mm256_set1_ps(comb[m][g + 1]),
                                                               0xF0)
                                             : _mm256_set1_ps(comb[m][g]);
                        if ((v / 64) & 1) acc1[m] = _mm256_fmadd_ps(d, sc, acc1[m]);
                        else acc0[m] = _mm256_fmadd_ps(d, sc, acc0[m]);
                    }
                } else {
                    _mm_prefetch((const char *)(wrow + v + PF), _MM_HINT_T0);
                    __m256i w0 = _mm256_loadu_si256((const __m256i *)(wrow + v));
                    __m256i w1 = _mm256_loadu_si256((const __m256i *)(wrow + v + 32));
                    for (int m = 0; m < MR; m++) {
                        __m256i d0 = _mm256_add_epi32(
                            _mm256_slli_epi32(dot8_32(w0, _mm256_loadu_si256((const __m256i *)(xr[m] + v))), 8),
                            dot8_32(w0, _mm256_loadu_si256((const __m256i *)(xlr[m] + v))));
                        __m256i d1 = _mm256_add_epi32(
                            _mm256_slli_epi32(dot8_32(w1, _mm256_loadu_si256((const __m256i *)(xr[m] + v + 32))), 8),
                            dot8_32(w1, _mm256_loadu_si256((const __m256i *)(xlr[m] + v + 32))));
                        if (GS == 32) {
                            acc0[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d0), _mm256_set1_ps(comb[m][g]), acc0[m]);
                            acc1[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d1), _mm256_set1_ps(comb[m][g + 1]), acc1[m]);
                        } else {
                            __m256 d = _mm256_cvtepi32_ps(_mm256_add_epi32(d0, d1));
                            if ((v / 64) & 1) acc1[m] = _mm256_fmadd_ps(d, _mm256_set1_ps(comb[m][g]), acc1[m]);
                            else acc0[m] = _mm256_fmadd_ps(d, _mm256_set1_ps(comb[m][g]), acc0[m]);
                        }
                    }
                }
            }
        }
        for (int m = 0; m < MR; m++) {
            float r = hsum(_mm256_add_ps(acc0[m], acc1[m])) + hsum(bacc[m]);
            if (full < K)
                r += qk_tail_term(w, n, wrow, xr[m], xlr[m], sx[m][G - 1], full);
            y[(m0 + m) * ldy + n] = r;
        }
    }
}

#define ONE_ROW(B, G) rows_kernel(w, a, m0, n0, n1, y, ldy, B, G, 1)

QK_DEFINE_ROWS_ENTRY(qk_rows_avx2)

#else
void qk_rows_avx2(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                  int64_t ldy) {
    qk_rows_portable(w, a, m0, mr, n0, n1, y, ldy); /* never dispatched: cpu_path_supported says no */
}
#endif
