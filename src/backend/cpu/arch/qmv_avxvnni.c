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
 * array of __m256 indexed in a loop in memory. Blocks go two per step (the first into acc0, the
 * second into acc1, the AVX2 kernel's alternation without a branch per block); << 8 is a byte
 * shuffle, off the ports of vpdpbusd; one x row of 4-bit weights takes weight rows in pairs
 * (rows2_b4: the x vectors loaded once for both).
 * Measured on the shared 2-core Xeon (AVX-512 host, both kernels called directly; 1 thread,
 * weights in L2, one x row, K = 2048, groups of 64), GB/s of weights, qk_rows_avx2 -> this
 * kernel: 4-bit 8.5 -> 11.8, with row pairs 8.2 -> 13.2; 8-bit 10.2 -> 25.5; 4 x rows, 4-bit
 * 2.5 -> 4.2. */
#include "backend/cpu/arch/qmv.h"

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 11 || defined(__clang__))
#include <immintrin.h>

#include "backend/cpu/arch/qmv_avx2_util.h"

#define QK_TARGET __attribute__((target("avx2,avxvnni,fma,f16c")))
#define QK_INLINE static inline __attribute__((always_inline)) QK_TARGET

#define CHUNK_GROUPS 64
#define PF 2048 /* software prefetch distance, as in qmv_avx2.c */


/* d << 8 on every int32 lane as a byte shuffle (the shuffle port, not the shift ports that
 * vpdpbusd, the conversion and the FMA use; as shl8 in qmv_avx512.c). */
QK_INLINE __m256i shl8(__m256i d) {
    const __m256i idx = _mm256_setr_epi32((int)0x02010080, (int)0x06050480, (int)0x0a090880, (int)0x0e0d0c80,
                                          (int)0x02010080, (int)0x06050480, (int)0x0a090880, (int)0x0e0d0c80);
    return _mm256_shuffle_epi8(d, idx);
}

QK_INLINE __m256i ld(const int8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* idot of a 4-bit block: nibbles lo / hi (unsigned) against xh / xl at xe (evens) and xo (odds). */
QK_INLINE __m256i idot4(__m256i lo, __m256i hi, const int8_t *xhe, const int8_t *xho, const int8_t *xle,
                        const int8_t *xlo) {
    __m256i d = _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), lo, ld(xhe));
    d = shl8(_mm256_dpbusd_avx_epi32(d, hi, ld(xho)));
    d = _mm256_dpbusd_avx_epi32(d, lo, ld(xle));
    return _mm256_dpbusd_avx_epi32(d, hi, ld(xlo));
}

/* idot of 32 bytes of 8-bit weights (natural order) against xh / xl. */
QK_INLINE __m256i idot8(__m256i w, const int8_t *xh, const int8_t *xl) {
    __m256i d = shl8(_mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), w, ld(xh)));
    return _mm256_dpbusd_avx_epi32(d, w, ld(xl));
}

/* idot of 64 bytes (two blocks, one group) of 8-bit weights against xh / xl: lane i sums both
 * blocks' lane i. */
QK_INLINE __m256i idot8x2(__m256i w0, __m256i w1, const int8_t *xh, const int8_t *xl) {
    __m256i d = _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), w0, ld(xh));
    d = shl8(_mm256_dpbusd_avx_epi32(d, w1, ld(xh + 32)));
    d = _mm256_dpbusd_avx_epi32(d, w0, ld(xl));
    return _mm256_dpbusd_avx_epi32(d, w1, ld(xl + 32));
}

#define FOR_M(X)          \
    if (MR > 0) { X(0) }  \
    if (MR > 1) { X(1) }  \
    if (MR > 2) { X(2) }  \
    if (MR > 3) { X(3) }

/* FOR_MA(X, A): X(0, A) .. X(3, A), for an accumulator prefix A (acc0 or acc1). */
#define FOR_MA(X, A)         \
    if (MR > 0) { X(0, A) }  \
    if (MR > 1) { X(1, A) }  \
    if (MR > 2) { X(2, A) }  \
    if (MR > 3) { X(3, A) }

/* 4-bit: the block's idot times the lane's s * sx (groups of 32: lanes 4-7 are the second). */
#define STEP4(m, A)                                                                                           \
    A##_##m = _mm256_fmadd_ps(                                                                                \
        _mm256_cvtepi32_ps(idot4(lo, hi, xr[m] + xlo, xr[m] + xhi, xlr[m] + xlo, xlr[m] + xhi)),             \
        GS == 32 ? _mm256_blend_ps(_mm256_set1_ps(comb[m][g]), _mm256_set1_ps(comb[m][g + 1]), 0xF0)         \
                 : _mm256_set1_ps(comb[m][g]),                                                                \
        A##_##m);
/* 8-bit, groups of 32: the block's halves are two groups, into acc0 and acc1 whatever A. */
#define STEP8_G32(m, A)                                                                                       \
    acc0_##m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(idot8(w0, xr[m] + vb, xlr[m] + vb)),                        \
                               _mm256_set1_ps(comb[m][g]), acc0_##m);                                        \
    acc1_##m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(idot8(w1, xr[m] + vb + 32, xlr[m] + vb + 32)),              \
                               _mm256_set1_ps(comb[m][g + 1]), acc1_##m);
/* 8-bit, groups of 64 or 128: one group, both halves in one chain. */
#define STEP8(m, A)                                                                                           \
    A##_##m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(idot8x2(w0, w1, xr[m] + vb, xlr[m] + vb)),                   \
                              _mm256_set1_ps(comb[m][g]), A##_##m);
/* One block of 64 values at VV into accumulators A. */
#define BLOCK(VV, A)                                                                                          \
    {                                                                                                         \
        const int64_t vb = (VV), g = vb / GS - c0;                                                            \
        if (BITS == 4) {                                                                                      \
            /* x offsets of these 32 bytes' low / high nibbles in the 4-bit order */                         \
            int64_t xlo = vb, xhi = vb + 32;                                                                  \
            if (vb < full128) xlo = vb / 128 * 128 + (vb & 64) / 2, xhi = xlo + 64;                           \
            _mm_prefetch((const char *)(wrow + vb / 2 + PF), _MM_HINT_T0);                                    \
            __m256i wb = _mm256_loadu_si256((const __m256i *)(wrow + vb / 2));                                \
            __m256i lo = _mm256_and_si256(wb, lo4), hi = _mm256_and_si256(_mm256_srli_epi16(wb, 4), lo4);     \
            FOR_MA(STEP4, A)                                                                                  \
        } else {                                                                                              \
            _mm_prefetch((const char *)(wrow + vb + PF), _MM_HINT_T0);                                        \
            __m256i w0 = _mm256_loadu_si256((const __m256i *)(wrow + vb));                                    \
            __m256i w1 = _mm256_loadu_si256((const __m256i *)(wrow + vb + 32));                               \
            if (GS == 32) { FOR_MA(STEP8_G32, A) }                                                            \
            else { FOR_MA(STEP8, A) }                                                                         \
        }                                                                                                     \
    }

QK_INLINE void rows_kernel(const qk_weights *w, const qk_act *a, int64_t m0, int64_t n0, int64_t n1, float *y,
                           int64_t ldy, const int BITS, const int GS, const int MR) {
    const int64_t K = w->k, G = w->groups, rb = K * BITS / 8, full = K / 64 * 64, full128 = K / 128 * 128;
    const __m256i lo4 = _mm256_set1_epi8(15);
    const int8_t *xr[4], *xlr[4];
    const float *sx[4], *xs[4];
    qk_act_rows(a, m0, MR, xr, xlr, sx, xs);
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
            /* blocks of 64 values, two per step: the first (v / 64 even: v0 = c0 * GS is a
             * multiple of 2048) into acc0, the second into acc1, as qmv_avx2.c alternates them */
            int64_t v = v0;
            for (; v + 128 <= v1; v += 128) {
                BLOCK(v, acc0)
                BLOCK(v + 64, acc1)
            }
            if (v < v1) BLOCK(v, acc0)
        }
#define STORE(m) QK_STORE_ROW(m, hsum(_mm256_add_ps(acc0_##m, acc1_##m)) + hsum(bacc_##m))
        FOR_M(STORE)
    }
}
#undef ZERO
#undef PREP
#undef STEP4
#undef STEP8_G32
#undef STEP8
#undef BLOCK
#undef STORE
#undef FOR_MA
#undef FOR_M

/* idot4 with the x vectors already in registers (shared by two weight rows). */
QK_INLINE __m256i idot4r(__m256i lo, __m256i hi, __m256i xhe, __m256i xho, __m256i xle, __m256i xlo) {
    __m256i d = _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), lo, xhe);
    d = shl8(_mm256_dpbusd_avx_epi32(d, hi, xho));
    d = _mm256_dpbusd_avx_epi32(d, lo, xle);
    return _mm256_dpbusd_avx_epi32(d, hi, xlo);
}

/* Decode's case, one x row of 4-bit weights: weight rows in pairs, each block's x vectors
 * loaded once for both rows. Each row's operations are rows_kernel's (MR = 1), in its order,
 * so the results are the same bits; an odd last row takes rows_kernel. */
QK_INLINE void rows2_b4(const qk_weights *w, const qk_act *a, int64_t m0, int64_t n0, int64_t n1, float *y,
                        int64_t ldy, const int GS) {
    const int64_t K = w->k, G = w->groups, rb = K / 2, full = K / 64 * 64, full128 = K / 128 * 128;
    const __m256i lo4 = _mm256_set1_epi8(15);
    const int8_t *xr = a->q + m0 * K, *xlr = a->ql + m0 * K;
    const float *sx = a->scale + m0 * G, *xs = a->sum + m0 * G;
    float comb0[CHUNK_GROUPS], comb1[CHUNK_GROUPS];
    for (int64_t n = n0; n + 1 < n1; n += 2) {
        const uint8_t *wr0 = w->w + n * rb, *wr1 = wr0 + rb;
        __m256 a00 = _mm256_setzero_ps(), a01 = a00, b0 = a00, a10 = a00, a11 = a00, b1 = a00;
        for (int64_t c0 = 0; c0 < G; c0 += CHUNK_GROUPS) {
            int64_t c1 = c0 + CHUNK_GROUPS < G ? c0 + CHUNK_GROUPS : G;
            for (int64_t g = c0; g < c1; g += 8) {
                int cnt = c1 - g < 8 ? (int)(c1 - g) : 8;
                __m256 vsx = loadf(sx + g, cnt), vxs = loadf(xs + g, cnt);
                _mm256_storeu_ps(&comb0[g - c0], _mm256_mul_ps(load8(w->scales, w->sdt, n * G + g, cnt), vsx));
                _mm256_storeu_ps(&comb1[g - c0], _mm256_mul_ps(load8(w->scales, w->sdt, (n + 1) * G + g, cnt), vsx));
                b0 = _mm256_fmadd_ps(load8(w->biases, w->sdt, n * G + g, cnt), vxs, b0);
                b1 = _mm256_fmadd_ps(load8(w->biases, w->sdt, (n + 1) * G + g, cnt), vxs, b1);
            }
            int64_t v0 = c0 * GS, v1 = c1 * GS < full ? c1 * GS : full;
#define PAIR(VV, A0, A1)                                                                                      \
    {                                                                                                         \
        const int64_t vb = (VV), g = vb / GS - c0;                                                            \
        int64_t xlo = vb, xhi = vb + 32;                                                                      \
        if (vb < full128) xlo = vb / 128 * 128 + (vb & 64) / 2, xhi = xlo + 64;                               \
        _mm_prefetch((const char *)(wr0 + vb / 2 + PF), _MM_HINT_T0);                                         \
        _mm_prefetch((const char *)(wr1 + vb / 2 + PF), _MM_HINT_T0);                                         \
        __m256i xhe = ld(xr + xlo), xho = ld(xr + xhi), xle = ld(xlr + xlo), xlo_ = ld(xlr + xhi);           \
        __m256i wa = _mm256_loadu_si256((const __m256i *)(wr0 + vb / 2));                                    \
        __m256i wb = _mm256_loadu_si256((const __m256i *)(wr1 + vb / 2));                                    \
        __m256i la = _mm256_and_si256(wa, lo4), ha = _mm256_and_si256(_mm256_srli_epi16(wa, 4), lo4);        \
        __m256i lb = _mm256_and_si256(wb, lo4), hb = _mm256_and_si256(_mm256_srli_epi16(wb, 4), lo4);        \
        __m256 sa = GS == 32 ? _mm256_blend_ps(_mm256_set1_ps(comb0[g]), _mm256_set1_ps(comb0[g + 1]), 0xF0)  \
                             : _mm256_set1_ps(comb0[g]);                                                      \
        __m256 sb = GS == 32 ? _mm256_blend_ps(_mm256_set1_ps(comb1[g]), _mm256_set1_ps(comb1[g + 1]), 0xF0)  \
                             : _mm256_set1_ps(comb1[g]);                                                      \
        A0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(idot4r(la, ha, xhe, xho, xle, xlo_)), sa, A0);                \
        A1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(idot4r(lb, hb, xhe, xho, xle, xlo_)), sb, A1);                \
    }
            int64_t v = v0;
            for (; v + 128 <= v1; v += 128) {
                PAIR(v, a00, a10)
                PAIR(v + 64, a01, a11)
            }
            if (v < v1) PAIR(v, a00, a10)
#undef PAIR
        }
        float r0 = hsum(_mm256_add_ps(a00, a01)) + hsum(b0), r1 = hsum(_mm256_add_ps(a10, a11)) + hsum(b1);
        if (full < K) { /* a last block of 32 values (groups of 32 only): one group */
            r0 += qk_load_float(w->scales, w->sdt, n * G + G - 1) * sx[G - 1] * (float)qk_tail_dot(wr0, xr, xlr, full, 4);
            r1 += qk_load_float(w->scales, w->sdt, (n + 1) * G + G - 1) * sx[G - 1] *
                  (float)qk_tail_dot(wr1, xr, xlr, full, 4);
        }
        y[m0 * ldy + n] = r0;
        y[m0 * ldy + n + 1] = r1;
    }
}

#define ONE_ROW(B, G) QK_ONE_ROW_PAIRS(B, G, 1)

QK_DEFINE_ROWS_ENTRY(qk_rows_avxvnni)

#else
void qk_rows_avxvnni(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                     int64_t ldy) {
    qk_rows_avx2(w, a, m0, mr, n0, n1, y, ldy); /* a compiler without AVX-VNNI: the same results */
}
#endif
