/* The AVX-VNNI variant of the AVX2 path of the integer-dot quantized products (see qmv.h for
 * the arithmetic and the order of xq), for x86-64 CPUs with AVX2 and the VEX-encoded 256-bit
 * vpdpbusd (AVX-VNNI) but no AVX-512 (Alder / Raptor / Arrow Lake, Zen 5 client parts with
 * AVX-512 off). Functions carry their own target attribute; the dispatcher
 * (cpu_avx_vnni_active(), cpu_features.h) runs them only where AVX2 + FMA + F16C + AVX-VNNI exist.
 *
 * Same units of work and the same float arithmetic, in the same order, as qmv_avx2.c: only the
 * int8 dot products differ. There, vpmaddubsw + vpmaddwd (and for 8-bit weights a split into
 * 16-bit words, because vpmaddubsw would saturate); here one vpdpbusd per 32 bytes, which sums
 * the four u8 x s8 products of bytes 4i..4i+3 into int32 lane i: the very integers of the
 * AVX2 kernel's lanes, so that each lane's float value, every FMA and the final sums are
 * bit-identical to qk_rows_avx2 (tests/unit/test_qmv_paths.c checks it).
 *  - 4-bit (a block of 64 values, 32 bytes): low nibbles against the block's even xq, high
 *    nibbles against the odd ones, into one chain: d = (dpbusd(lo, xh_e) + dpbusd(hi, xh_o)) << 8,
 *    then the xl products are added to d (256 * d_h + d_l, the same integers without an add).
 *  - 8-bit (two blocks of 32 bytes in natural order): likewise, one chain per block for groups
 *    of 32; for groups of 64 and 128 both blocks share one chain (their integers added first,
 *    as the AVX2 kernel adds d0 + d1).
 * Per-x-row accumulators are named variables (FOR_M, as in qmv_avx512.c): gcc -O2 keeps an
 * array of __m256 indexed in a loop in memory. */
#include "backend/cpu/arch/qmv.h"

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 11 || defined(__clang__))
#include <immintrin.h>

#define QK_TARGET __attribute__((target("avx2,avxvnni,fma,f16c")))
#define QK_INLINE static inline __attribute__((always_inline)) QK_TARGET

#define CHUNK_GROUPS 64
#define PF 2048 /* software prefetch distance, as in qmv_avx2.c */

/* n (<= 8) scales / biases of type t as floats; the rest zero. */
QK_INLINE __m256 load8(const void *p, qk_float t, int64_t i, int n) {
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

QK_INLINE __m256 loadf(const float *p, int n) {
    if (n == 8) return _mm256_loadu_ps(p);
    float v[8] = {0};
    for (int j = 0; j < n; j++) v[j] = p[j];
    return _mm256_loadu_ps(v);
}

QK_INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

QK_INLINE __m256i ld(const int8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* idot of a 4-bit block: nibbles lo / hi (unsigned) against xh / xl at xe (evens) and xo (odds). */
QK_INLINE __m256i idot4(__m256i lo, __m256i hi, const int8_t *xhe, const int8_t *xho, const int8_t *xle,
                        const int8_t *xlo) {
    __m256i d = _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), lo, ld(xhe));
    d = _mm256_slli_epi32(_mm256_dpbusd_avx_epi32(d, hi, ld(xho)), 8);
    d = _mm256_dpbusd_avx_epi32(d, lo, ld(xle));
    return _mm256_dpbusd_avx_epi32(d, hi, ld(xlo));
}

/* idot of 32 bytes of 8-bit weights (natural order) against xh / xl. */
QK_INLINE __m256i idot8(__m256i w, const int8_t *xh, const int8_t *xl) {
    __m256i d = _mm256_slli_epi32(_mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), w, ld(xh)), 8);
    return _mm256_dpbusd_avx_epi32(d, w, ld(xl));
}

/* idot of 64 bytes (two blocks, one group) of 8-bit weights against xh / xl: lane i sums both
 * blocks' lane i. */
QK_INLINE __m256i idot8x2(__m256i w0, __m256i w1, const int8_t *xh, const int8_t *xl) {
    __m256i d = _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), w0, ld(xh));
    d = _mm256_slli_epi32(_mm256_dpbusd_avx_epi32(d, w1, ld(xh + 32)), 8);
    d = _mm256_dpbusd_avx_epi32(d, w0, ld(xl));
    return _mm256_dpbusd_avx_epi32(d, w1, ld(xl + 32));
}

#define FOR_M(X)          \
    if (MR > 0) { X(0) }  \
    if (MR > 1) { X(1) }  \
    if (MR > 2) { X(2) }  \
    if (MR > 3) { X(3) }

QK_INLINE void rows_kernel(const qk_weights *w, const qk_act *a, int64_t m0, int64_t n0, int64_t n1, float *y,
                           int64_t ldy, const int BITS, const int GS, const int MR) {
    const int64_t K = w->k, G = w->groups, rb = K * BITS / 8, full = K / 64 * 64, full128 = K / 128 * 128;
    const __m256i lo4 = _mm256_set1_epi8(15);
    const int8_t *xr[4], *xlr[4];
    const float *sx[4], *xs[4];
    for (int m = 0; m < 4; m++) {
        int64_t r = m0 + (m < MR ? m : 0);
        xr[m] = a->q + r * K;
        xlr[m] = a->ql + r * K;
        sx[m] = a->scale + r * G;
        xs[m] = a->sum + r * G;
    }
    float comb[MR][CHUNK_GROUPS];
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *wrow = w->w + n * rb;
        __m256 acc0_0, acc0_1, acc0_2, acc0_3, acc1_0, acc1_1, acc1_2, acc1_3, bacc_0, bacc_1, bacc_2, bacc_3;
#define ZERO(m) acc0_##m = acc1_##m = bacc_##m = _mm256_setzero_ps();
        FOR_M(ZERO)
        for (int64_t c0 = 0; c0 < G; c0 += CHUNK_GROUPS) {
            int64_t c1 = c0 + CHUNK_GROUPS < G ? c0 + CHUNK_GROUPS : G;
            for (int64_t g = c0; g < c1; g += 8) {
                int cnt = c1 - g < 8 ? (int)(c1 - g) : 8;
                __m256 s = load8(w->scales, w->sdt, n * G + g, cnt), b = load8(w->biases, w->sdt, n * G + g, cnt);
#define PREP(m)                                                                \
    _mm256_storeu_ps(&comb[m][g - c0], _mm256_mul_ps(s, loadf(sx[m] + g, cnt))); \
    bacc_##m = _mm256_fmadd_ps(b, loadf(xs[m] + g, cnt), bacc_##m);
                FOR_M(PREP)
            }
            int64_t v0 = c0 * GS, v1 = c1 * GS < full ? c1 * GS : full;
            for (int64_t v = v0; v < v1; v += 64) {
                int64_t g = v / GS - c0;
                const int odd = (int)((v / 64) & 1);
                if (BITS == 4) {
                    /* x offsets of these 32 bytes' low / high nibbles in the 4-bit order */
                    int64_t xlo = v, xhi = v + 32;
                    if (v < full128) xlo = v / 128 * 128 + (v & 64) / 2, xhi = xlo + 64;
                    _mm_prefetch((const char *)(wrow + v / 2 + PF), _MM_HINT_T0);
                    __m256i wb = _mm256_loadu_si256((const __m256i *)(wrow + v / 2));
                    __m256i lo = _mm256_and_si256(wb, lo4), hi = _mm256_and_si256(_mm256_srli_epi16(wb, 4), lo4);
#define STEP4(m)                                                                                              \
    {                                                                                                         \
        __m256 d = _mm256_cvtepi32_ps(idot4(lo, hi, xr[m] + xlo, xr[m] + xhi, xlr[m] + xlo, xlr[m] + xhi));   \
        __m256 sc = GS == 32 ? _mm256_blend_ps(_mm256_set1_ps(comb[m][g]), _mm256_set1_ps(comb[m][g + 1]), 0xF0) \
                             : _mm256_set1_ps(comb[m][g]);                                                    \
        if (odd) acc1_##m = _mm256_fmadd_ps(d, sc, acc1_##m);                                                 \
        else acc0_##m = _mm256_fmadd_ps(d, sc, acc0_##m);                                                     \
    }
                    FOR_M(STEP4)
                } else {
                    _mm_prefetch((const char *)(wrow + v + PF), _MM_HINT_T0);
                    __m256i w0 = _mm256_loadu_si256((const __m256i *)(wrow + v));
                    __m256i w1 = _mm256_loadu_si256((const __m256i *)(wrow + v + 32));
                    if (GS == 32) {
#define STEP8_G32(m)                                                                                          \
    acc0_##m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(idot8(w0, xr[m] + v, xlr[m] + v)),                          \
                               _mm256_set1_ps(comb[m][g]), acc0_##m);                                        \
    acc1_##m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(idot8(w1, xr[m] + v + 32, xlr[m] + v + 32)),                \
                               _mm256_set1_ps(comb[m][g + 1]), acc1_##m);
                        FOR_M(STEP8_G32)
                    } else {
#define STEP8(m)                                                                                              \
    {                                                                                                         \
        __m256 d = _mm256_cvtepi32_ps(idot8x2(w0, w1, xr[m] + v, xlr[m] + v));                                \
        if (odd) acc1_##m = _mm256_fmadd_ps(d, _mm256_set1_ps(comb[m][g]), acc1_##m);                         \
        else acc0_##m = _mm256_fmadd_ps(d, _mm256_set1_ps(comb[m][g]), acc0_##m);                             \
    }
                        FOR_M(STEP8)
                    }
                }
            }
        }
#define STORE(m)                                                                                              \
    {                                                                                                         \
        float r = hsum(_mm256_add_ps(acc0_##m, acc1_##m)) + hsum(bacc_##m);                                  \
        if (full < K) /* a last block of 32 values (groups of 32 only): one group */                          \
            r += qk_load_float(w->scales, w->sdt, n * G + G - 1) * sx[m][G - 1] *                             \
                 (float)qk_tail_dot(wrow, xr[m], xlr[m], full, BITS);                                         \
        y[(m0 + m) * ldy + n] = r;                                                                            \
    }
        FOR_M(STORE)
    }
}
#undef ZERO
#undef PREP
#undef STEP4
#undef STEP8_G32
#undef STEP8
#undef STORE
#undef FOR_M

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

void qk_rows_avxvnni(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
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
void qk_rows_avxvnni(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                     int64_t ldy) {
    qk_rows_avx2(w, a, m0, mr, n0, n1, y, ldy); /* never dispatched: cpu_avx_vnni_active says no */
}
#endif
