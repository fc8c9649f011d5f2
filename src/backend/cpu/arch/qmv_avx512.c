/* The AVX-512 VNNI path of the integer-dot quantized products (see qmv.h for the arithmetic
 * and the order of xq). Functions carry their own target attribute, so this file builds
 * with the project's baseline flags and runs only when the dispatcher picked it.
 *
 * Unit of work:
 *  - 4-bit: a chunk of 128 values (64 bytes) of the 4-bit order: the low nibbles (unsigned,
 *    vpdpbusd's FIRST operand) against the chunk's 64 even xq (signed), the high nibbles
 *    against the 64 odd ones, into one vector: int32 lane i sums the 8 products of bytes
 *    4i..4i+3, values 8i..8i+7, all of one group (lane i's group is i*8/gs: a permute of
 *    s * sx gives each lane its own). A row's last chunk of 64 values is 32 bytes made into
 *    one zmm [low | high nibbles].
 *  - 8-bit: 64 bytes against 64 xq in natural order (groups of 32: lanes 8-15 are the second).
 * The int32 lanes are converted to float and multiplied by the lane's s * sx. Two float accumulators per x row alternate between
 * blocks (the FMA latency would otherwise bound one row). s * sx and b * sum(x) are computed
 * 16 groups at a time before the block loop. */
#include <math.h>

#include "backend/cpu/arch/qmv.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "backend/cpu/arch/qmv_avx512_util.h"

#define QK_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")))
#define QK_INLINE static inline __attribute__((always_inline)) QK_TARGET

#define CHUNK_GROUPS 64 /* groups whose s * sx are prepared at once (a multiple of 16) */
/* Software prefetch of the weight stream (p: the line being loaded now); the hardware
 * prefetcher alone does not run far enough ahead of a loop this dense. Measured with cmlx
 * bench (Llama-3.2-1B, tg64 after a 32-token prompt) on the quiet 16-core Xeon host, tok/s:
 *  - distance, prefetcht0 (1 / 2 threads): q4 none 9.3 / 15.3, 512 B 10.4 / 16.7, 1 KB
 *    11.1 / 18.1, 2 KB 12.3 / 20.5, 4 KB 14.0 / 20.9, 8 KB 13.4 / 22.2; q8 none 5.7 / 7.9,
 *    2 KB 8.3 / 11.4, 4 KB 7.9 / 12.0, 8 KB 8.0 / 10.8 (one run each, +-10% between runs);
 *  - 4-bit, four alternating pairs, prefetcht0 4 KB vs prefetcht1 (to L2) 8 KB plus
 *    prefetcht0 1 KB: 2 threads +12% (19.1 -> 23.6, 21.6 -> 23.0, 19.0 -> 21.7, 20.4 ->
 *    20.6), 1 thread +1% (-2% .. +9%); 8-bit the same pairs: 1 thread -4%, 2 threads -3%.
 * The L1 fill buffers bound how far prefetcht0 can usefully run ahead; an L2 prefetch further
 * out plus a near one into L1 keeps more lines in flight where two cores share the memory. */
QK_INLINE void prefetch4(const uint8_t *p) {
    _mm_prefetch((const char *)(p + 8192), _MM_HINT_T1);
    _mm_prefetch((const char *)(p + 1024), _MM_HINT_T0);
}
QK_INLINE void prefetch8(const uint8_t *p) { _mm_prefetch((const char *)(p + 4096), _MM_HINT_T0); }

/* d << 8 on every int32 lane as a byte shuffle (shuffle port, not the shift port that
 * vpdpbusd and the conversions use). */
QK_INLINE __m512i shl8(__m512i d) {
    const __m512i idx = _mm512_set4_epi32(0x0e0d0c80, 0x0a090880, 0x06050480, 0x02010080);
    return _mm512_shuffle_epi8(d, idx);
}

/* idot of one 4-bit chunk from its low / high nibbles lo, hi (bytes 0..15) and the chunk's
 * activations: xh planes xe (meets lo) and xo (meets hi), xl planes le and lo_. Int32 lane i
 * holds values 8i..8i+7. The two planes run as separate chains, joined by one vpdpwssd:
 * 256 * d_h + d_l exactly, because a lane's d_h (8 products of at most 15 * 127 = 15240 in
 * size) fits the lane's low int16, which meets 256, while the high int16 (d_h's sign) meets 0.
 * Timed in one process against the chain through shl8 (a 512 x 2048 4-bit matrix in L2,
 * interleaved): 1.03-1.06x on one thread, 1.05-1.07x on two; from DRAM 1.00 / 1.03x. (Not
 * for 8 bits: there a lane's d_h reaches 4 * 255 * 127.) */
QK_INLINE __m512i idot4_planes(__m512i lo, __m512i hi, __m512i xe, __m512i xo, __m512i le, __m512i lo_) {
    __m512i dh = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, xe), hi, xo);
    __m512i dl = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, le), hi, lo_);
    return _mm512_dpwssd_epi32(dl, dh, _mm512_set1_epi32(256));
}

/* idot of one 4-bit chunk of 128 values (64 bytes wb) against xh / xl at v (idot4_planes). */
QK_INLINE __m512i idot4_chunk(__m512i wb, const int8_t *xh, const int8_t *xl) {
    const __m512i lo4 = _mm512_set1_epi8(15);
    __m512i lo = _mm512_and_si512(wb, lo4), hi = _mm512_and_si512(_mm512_srli_epi16(wb, 4), lo4);
    return idot4_planes(lo, hi, _mm512_loadu_si512(xh), _mm512_loadu_si512(xh + 64), _mm512_loadu_si512(xl),
                        _mm512_loadu_si512(xl + 64));
}

/* idot of 64 bytes of 8-bit weights (natural order) against xh / xl (lane i: values 4i..4i+3). */
QK_INLINE __m512i idot8_block(__m512i wz, const int8_t *xh, const int8_t *xl) {
    __m512i d = shl8(_mm512_dpbusd_epi32(_mm512_setzero_si512(), wz, _mm512_loadu_si512(xh)));
    return _mm512_dpbusd_epi32(d, wz, _mm512_loadu_si512(xl));
}

/* The per-lane s * sx of a 4-bit chunk whose first group is comb[0] (lane i: group i*8/GS). */
QK_INLINE __m512 scale4(const float *comb, const int GS) {
    const __m512i lane_group = GS == 32 ? _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3)
                                        : _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    if (GS == 128) return _mm512_set1_ps(comb[0]);
    return _mm512_permutexvar_ps(lane_group, _mm512_castps128_ps512(_mm_loadu_ps(comb)));
}

/* The per-lane s * sx of a 64-value block of 8-bit weights whose first group is comb[0]. */
QK_INLINE __m512 scale8(const float *comb, const int GS) {
    if (GS == 32) return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(comb[0]), _mm512_set1_ps(comb[1]));
    return _mm512_set1_ps(comb[0]);
}

/* FOR_M(X) expands X(0) .. X(3) guarded by m < MR: the per-x-row accumulators are separate
 * variables (acc0_m, acc1_m), which the compiler keeps in registers (arrays indexed in a loop
 * stay in memory at -O2: a store and reload in every FMA chain). */
#define FOR_M(X)          \
    if (MR > 0) { X(0) }  \
    if (MR > 1) { X(1) }  \
    if (MR > 2) { X(2) }  \
    if (MR > 3) { X(3) }

/* Weight rows [n0, n1) for x rows m0..m0+MR-1. Two accumulators per x row, so that
 * consecutive blocks do not wait on one FMA chain; b * sum(x) is folded into the first; one
 * horizontal sum per output. */
QK_INLINE void rows_kernel(const qk_weights *w, const qk_act *a, int64_t m0, int64_t n0, int64_t n1, float *y,
                           int64_t ldy, const int BITS, const int GS, const int MR) {
    const int64_t K = w->k, G = w->groups, rb = K * BITS / 8, full = K / 64 * 64, full128 = K / 128 * 128;
    const int8_t *xr[4], *xlr[4];
    const float *sx[4], *xs[4];
    qk_act_rows(a, m0, MR, xr, xlr, sx, xs);
    float comb[MR][CHUNK_GROUPS + 4]; /* + 4: _mm_loadu_ps(&comb[m][g]) near the end */
    for (int m = 0; m < MR; m++)
        for (int j = 0; j < CHUNK_GROUPS + 4; j++) comb[m][j] = 0.0f;
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *wrow = w->w + n * rb;
        __m512 acc0_0, acc0_1, acc0_2, acc0_3, acc1_0, acc1_1, acc1_2, acc1_3;
#define ZERO(m) acc0_##m = acc1_##m = _mm512_setzero_ps();
        FOR_M(ZERO)
        for (int64_t c0 = 0; c0 < G; c0 += CHUNK_GROUPS) {
            int64_t c1 = c0 + CHUNK_GROUPS < G ? c0 + CHUNK_GROUPS : G;
            for (int64_t g = c0; g < c1; g += 16) {
                int cnt = c1 - g < 16 ? (int)(c1 - g) : 16;
                __mmask16 k = (__mmask16)((1u << cnt) - 1);
                __m512 s = qk_load16_avx512(w->scales, w->sdt, n * G + g, cnt);
                __m512 b = qk_load16_avx512(w->biases, w->sdt, n * G + g, cnt);
#define PREP(m)                                                                                  \
    _mm512_storeu_ps(&comb[m][g - c0], _mm512_mul_ps(s, _mm512_maskz_loadu_ps(k, sx[m] + g))); \
    acc0_##m = _mm512_fmadd_ps(b, _mm512_maskz_loadu_ps(k, xs[m] + g), acc0_##m);
                FOR_M(PREP)
            }
            int64_t v0 = c0 * GS, v1 = c1 * GS;
            if (BITS == 4) {
                /* chunks of 128 values (64 bytes), two per step */
                int64_t vend = v1 < full128 ? v1 : full128, v = v0;
                for (; v + 256 <= vend; v += 256) {
                    prefetch4(wrow + v / 2);
                    prefetch4(wrow + v / 2 + 64);
                    __m512i wa = _mm512_loadu_si512(wrow + v / 2), wb = _mm512_loadu_si512(wrow + v / 2 + 64);
                    int64_t g = v / GS - c0;
#define STEP4x2(m)                                                                                              \
    acc0_##m = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot4_chunk(wa, xr[m] + v, xlr[m] + v)),                     \
                               scale4(&comb[m][g], GS), acc0_##m);                                            \
    acc1_##m = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot4_chunk(wb, xr[m] + v + 128, xlr[m] + v + 128)),         \
                               scale4(&comb[m][g + 128 / GS], GS), acc1_##m);
                    FOR_M(STEP4x2)
                }
                if (v < vend) {
                    prefetch4(wrow + v / 2);
                    __m512i wa = _mm512_loadu_si512(wrow + v / 2);
                    int64_t g = v / GS - c0;
#define STEP4(m)                                                                                                \
    acc0_##m = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot4_chunk(wa, xr[m] + v, xlr[m] + v)),                     \
                               scale4(&comb[m][g], GS), acc0_##m);
                    FOR_M(STEP4)
                }
                if (c1 == G && K - full128 >= 64) {
                    /* a last chunk of 64 values: 32 bytes as [low | high] nibbles against xq[v, v+64) */
                    const __m512i lo4 = _mm512_set1_epi8(15);
                    int64_t g = full128 / GS - c0;
                    __m256i w8 = _mm256_loadu_si256((const __m256i *)(wrow + full128 / 2));
                    __m512i wz = _mm512_and_si512(
                        _mm512_inserti64x4(_mm512_castsi256_si512(w8), _mm256_srli_epi16(w8, 4), 1), lo4);
#define LAST64(m)                                                                                             \
    acc1_##m = _mm512_fmadd_ps(                                                                               \
        _mm512_cvtepi32_ps(idot8_block(wz, xr[m] + full128, xlr[m] + full128)),                               \
        GS == 32 ? _mm512_mask_blend_ps(0xF0F0, _mm512_set1_ps(comb[m][g]), _mm512_set1_ps(comb[m][g + 1])) \
                 : _mm512_set1_ps(comb[m][g]),                                                                \
        acc1_##m);
                    FOR_M(LAST64)
                }
            } else {
                /* blocks of 64 values (64 bytes) in natural order, two per step */
                int64_t vend = v1 < full ? v1 : full, v = v0;
                for (; v + 128 <= vend; v += 128) {
                    prefetch8(wrow + v);
                    prefetch8(wrow + v + 64);
                    __m512i wa = _mm512_loadu_si512(wrow + v), wb = _mm512_loadu_si512(wrow + v + 64);
                    int64_t g = v / GS - c0;
                    if (GS == 128) { /* one group: the integers are added first */
#define STEP8_G128(m)                                                                                         \
    acc0_##m = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(idot8_block(wa, xr[m] + v, xlr[m] + v),    \
                                                                   idot8_block(wb, xr[m] + v + 64,            \
                                                                               xlr[m] + v + 64))),            \
                               _mm512_set1_ps(comb[m][g]), acc0_##m);
                        FOR_M(STEP8_G128)
                    } else {
#define STEP8x2(m)                                                                                            \
    acc0_##m = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot8_block(wa, xr[m] + v, xlr[m] + v)),                   \
                               scale8(&comb[m][g], GS), acc0_##m);                                          \
    acc1_##m = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot8_block(wb, xr[m] + v + 64, xlr[m] + v + 64)),         \
                               scale8(&comb[m][g + 64 / GS], GS), acc1_##m);
                        FOR_M(STEP8x2)
                    }
                }
                if (v < vend) { /* one block of 64 (groups of 32 or 64: with 128, 128 divides vend - v0) */
                    prefetch8(wrow + v);
                    __m512i wa = _mm512_loadu_si512(wrow + v);
                    int64_t g = v / GS - c0;
#define STEP8(m)                                                                                              \
    acc0_##m = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot8_block(wa, xr[m] + v, xlr[m] + v)),                   \
                               scale8(&comb[m][g], GS), acc0_##m);
                    FOR_M(STEP8)
                }
            }
        }
#define STORE(m) QK_STORE_ROW(m, _mm512_reduce_add_ps(_mm512_add_ps(acc0_##m, acc1_##m)))
        FOR_M(STORE)
    }
}
#undef ZERO
#undef PREP
#undef STEP4x2
#undef STEP4
#undef LAST64
#undef STEP8_G128
#undef STEP8x2
#undef STEP8
#undef STORE
#undef FOR_M

/* Decode's case, one x row, 4-bit rows whose K is a multiple of 128 (whole chunks): weight
 * rows in pairs, the x vectors of a chunk loaded once for both and the two rows' chains
 * interleaved. Measured from L2 on the shared 2-core Xeon (rows of 2048 values): 16.1 ->
 * 18.6 GB/s of weights; rows of 8192: unchanged (~20 GB/s); the per-row work (scales, the
 * horizontal sum) is what pairs hide. Same integers; an odd last row takes rows_kernel. */
QK_INLINE void rows2_b4(const qk_weights *w, const qk_act *a, int64_t m0, int64_t n0, int64_t n1, float *y,
                        int64_t ldy, const int GS) {
    const int64_t K = w->k, G = w->groups, rb = K / 2;
    const int8_t *xr = a->q + m0 * K, *xlr = a->ql + m0 * K;
    const float *sx = a->scale + m0 * G, *xs = a->sum + m0 * G;
    float comb[2][CHUNK_GROUPS + 4] = {{0}};
    for (int64_t n = n0; n + 1 < n1; n += 2) {
        const uint8_t *w0 = w->w + n * rb, *w1 = w0 + rb;
        __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
        for (int64_t c0 = 0; c0 < G; c0 += CHUNK_GROUPS) {
            int64_t c1 = c0 + CHUNK_GROUPS < G ? c0 + CHUNK_GROUPS : G;
            for (int64_t g = c0; g < c1; g += 16) {
                int cnt = c1 - g < 16 ? (int)(c1 - g) : 16;
                __mmask16 k = (__mmask16)((1u << cnt) - 1);
                __m512 vsx = _mm512_maskz_loadu_ps(k, sx + g), vxs = _mm512_maskz_loadu_ps(k, xs + g);
                __m512 s0 = qk_load16_avx512(w->scales, w->sdt, n * G + g, cnt);
                __m512 s1 = qk_load16_avx512(w->scales, w->sdt, (n + 1) * G + g, cnt);
                _mm512_storeu_ps(&comb[0][g - c0], _mm512_mul_ps(s0, vsx));
                _mm512_storeu_ps(&comb[1][g - c0], _mm512_mul_ps(s1, vsx));
                a00 = _mm512_fmadd_ps(qk_load16_avx512(w->biases, w->sdt, n * G + g, cnt), vxs, a00);
                a10 = _mm512_fmadd_ps(qk_load16_avx512(w->biases, w->sdt, (n + 1) * G + g, cnt), vxs, a10);
            }
            const __m512i lo4 = _mm512_set1_epi8(15);
            for (int64_t v = c0 * GS; v < c1 * GS; v += 128) {
                prefetch4(w0 + v / 2);
                prefetch4(w1 + v / 2);
                __m512i xe = _mm512_loadu_si512(xr + v), xo = _mm512_loadu_si512(xr + v + 64);
                __m512i le = _mm512_loadu_si512(xlr + v), lo_ = _mm512_loadu_si512(xlr + v + 64);
                __m512i wa = _mm512_loadu_si512(w0 + v / 2), wb = _mm512_loadu_si512(w1 + v / 2);
                __m512i la = _mm512_and_si512(wa, lo4), ha = _mm512_and_si512(_mm512_srli_epi16(wa, 4), lo4);
                __m512i lb = _mm512_and_si512(wb, lo4), hb = _mm512_and_si512(_mm512_srli_epi16(wb, 4), lo4);
                __m512i da = idot4_planes(la, ha, xe, xo, le, lo_), db = idot4_planes(lb, hb, xe, xo, le, lo_);
                int64_t g = v / GS - c0;
                if ((v / 128) & 1) {
                    a01 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(da), scale4(&comb[0][g], GS), a01);
                    a11 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(db), scale4(&comb[1][g], GS), a11);
                } else {
                    a00 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(da), scale4(&comb[0][g], GS), a00);
                    a10 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(db), scale4(&comb[1][g], GS), a10);
                }
            }
        }
        y[m0 * ldy + n] = _mm512_reduce_add_ps(_mm512_add_ps(a00, a01));
        y[m0 * ldy + n + 1] = _mm512_reduce_add_ps(_mm512_add_ps(a10, a11));
    }
}


/* Bytes ahead in each stream that rows_far asks the cache for (prefetcht0; the hardware
 * prefetcher alone keeps too few lines in flight while the 4-bit kernel computes). Timed in
 * one process interleaved with no prefetch, the Llama-3.2-1B-shaped 4-bit products of a 256 MB
 * matrix: 512 bytes 1.11-1.20x, 1 KB 1.17-1.27x, 2 KB 1.19-1.24x, 4 KB 1.19-1.28x (one and two
 * threads). */
#define FAR_PREFETCH 2048

/* qk_rows_far_avx512 (qmv.h): four rows from four places at once, each with the arithmetic of
 * the one-row kernels: 4-bit as rows2_b4 (two accumulators per row, even and odd chunks of 128,
 * b * sum(x) folded into the even one); 8-bit as rows_kernel (blocks of 64 two at a time, the
 * first into acc0 with b * sum(x), the second into acc1; groups of 128 add the two blocks'
 * integers first). K is a multiple of 128: no single blocks, no tail. */
QK_INLINE void rows_far(const qk_weights *w, const qk_act *a, const int64_t *start, int64_t count, float *y,
                        const int BITS, const int GS) {
    const int64_t K = w->k, G = w->groups, rb = K * BITS / 8;
    const int8_t *xr = a->q, *xlr = a->ql;
    const float *sx = a->scale, *xs = a->sum;
    float comb[4][CHUNK_GROUPS + 4] = {{0}};
    for (int64_t i = 0; i < count; i++) {
        const int64_t n0 = start[0] + i, n1 = start[1] + i, n2 = start[2] + i, n3 = start[3] + i;
        const uint8_t *w0 = w->w + n0 * rb, *w1 = w->w + n1 * rb, *w2 = w->w + n2 * rb, *w3 = w->w + n3 * rb;
        __m512 e0 = _mm512_setzero_ps(), e1 = e0, e2 = e0, e3 = e0, o0 = e0, o1 = e0, o2 = e0, o3 = e0;
        for (int64_t c0 = 0; c0 < G; c0 += CHUNK_GROUPS) {
            int64_t c1 = c0 + CHUNK_GROUPS < G ? c0 + CHUNK_GROUPS : G;
            for (int64_t g = c0; g < c1; g += 16) {
                int cnt = c1 - g < 16 ? (int)(c1 - g) : 16;
                __mmask16 k = (__mmask16)((1u << cnt) - 1);
                __m512 vsx = _mm512_maskz_loadu_ps(k, sx + g), vxs = _mm512_maskz_loadu_ps(k, xs + g);
#define FAR_PREP(r, N, E)                                                                                  \
    _mm512_storeu_ps(&comb[r][g - c0], _mm512_mul_ps(qk_load16_avx512(w->scales, w->sdt, (N) * G + g, cnt), vsx)); \
    E = _mm512_fmadd_ps(qk_load16_avx512(w->biases, w->sdt, (N) * G + g, cnt), vxs, E);
                FAR_PREP(0, n0, e0) FAR_PREP(1, n1, e1) FAR_PREP(2, n2, e2) FAR_PREP(3, n3, e3)
            }
            if (BITS == 4) {
                const __m512i lo4 = _mm512_set1_epi8(15);
                for (int64_t v = c0 * GS; v < c1 * GS; v += 128) {
                    __m512i xe = _mm512_loadu_si512(xr + v), xo = _mm512_loadu_si512(xr + v + 64);
                    __m512i le = _mm512_loadu_si512(xlr + v), lo_ = _mm512_loadu_si512(xlr + v + 64);
                    int64_t g = v / GS - c0;
                    int odd = (int)((v / 128) & 1);
#define FAR_ROW(r, W, E, O)                                                                                 \
    {                                                                                                       \
        __m512i wa = _mm512_loadu_si512(W + v / 2);                                                         \
        _mm_prefetch((const char *)(W + v / 2) + FAR_PREFETCH, _MM_HINT_T0);                                \
        __m512i la = _mm512_and_si512(wa, lo4), ha = _mm512_and_si512(_mm512_srli_epi16(wa, 4), lo4);       \
        __m512 t = _mm512_cvtepi32_ps(idot4_planes(la, ha, xe, xo, le, lo_)), sc = scale4(&comb[r][g], GS); \
        if (odd) O = _mm512_fmadd_ps(t, sc, O);                                                             \
        else E = _mm512_fmadd_ps(t, sc, E);                                                                 \
    }
                    FAR_ROW(0, w0, e0, o0) FAR_ROW(1, w1, e1, o1) FAR_ROW(2, w2, e2, o2) FAR_ROW(3, w3, e3, o3)
                }
            } else {
                for (int64_t v = c0 * GS; v < c1 * GS; v += 128) {
                    const int8_t *xh = xr + v, *xl = xlr + v;
                    int64_t g = v / GS - c0;
#define FAR_ROW8(r, W, E, O)                                                                                  \
    {                                                                                                         \
        __m512i wa = _mm512_loadu_si512(W + v), wb = _mm512_loadu_si512(W + v + 64);                          \
        _mm_prefetch((const char *)(W + v) + FAR_PREFETCH, _MM_HINT_T0);                                      \
        _mm_prefetch((const char *)(W + v) + FAR_PREFETCH + 64, _MM_HINT_T0);                                 \
        if (GS == 128) {                                                                                      \
            __m512i d = _mm512_add_epi32(idot8_block(wa, xh, xl), idot8_block(wb, xh + 64, xl + 64));         \
            E = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_set1_ps(comb[r][g]), E);                        \
        } else {                                                                                              \
            E = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot8_block(wa, xh, xl)), scale8(&comb[r][g], GS), E);     \
            O = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot8_block(wb, xh + 64, xl + 64)),                        \
                                scale8(&comb[r][g + 64 / GS], GS), O);                                        \
        }                                                                                                     \
    }
                    FAR_ROW8(0, w0, e0, o0) FAR_ROW8(1, w1, e1, o1) FAR_ROW8(2, w2, e2, o2) FAR_ROW8(3, w3, e3, o3)
                }
            }
        }
        y[n0] = _mm512_reduce_add_ps(_mm512_add_ps(e0, o0));
        y[n1] = _mm512_reduce_add_ps(_mm512_add_ps(e1, o1));
        y[n2] = _mm512_reduce_add_ps(_mm512_add_ps(e2, o2));
        y[n3] = _mm512_reduce_add_ps(_mm512_add_ps(e3, o3));
    }
}

#undef FAR_PREP
#undef FAR_ROW
#undef FAR_ROW8

QK_TARGET void qk_rows_far_avx512(const qk_weights *w, const qk_act *a, const int64_t *start, int64_t count, float *y) {
    if (w->bits == 4) {
        if (w->gs == 32) rows_far(w, a, start, count, y, 4, 32);
        else if (w->gs == 64) rows_far(w, a, start, count, y, 4, 64);
        else rows_far(w, a, start, count, y, 4, 128);
    } else {
        if (w->gs == 32) rows_far(w, a, start, count, y, 8, 32);
        else if (w->gs == 64) rows_far(w, a, start, count, y, 8, 64);
        else rows_far(w, a, start, count, y, 8, 128);
    }
}

#define ONE_ROW(B, G) QK_ONE_ROW_PAIRS(B, G, w->k % 128 == 0)

QK_DEFINE_ROWS_ENTRY(qk_rows_avx512)

/* The quantizer of qmv.h, 16 values at a time; the same bits as qk_quantize_act_portable:
 * amax and the rounding x * (32512 / amax) to nearest even are exact operations on the same
 * floats, the sum follows qk_group_sum's order (lane l adds values l, l + 16, ...; then the
 * halves are folded 8, 4, 2, 1 apart). 4-bit order: each 16 values lie in one chunk, their
 * 8 evens and 8 odds go to the chunk's two halves. */
QK_TARGET void qk_quantize_act_avx512(const float *x, int64_t M, int64_t K, int gs, int bits, int8_t *xq, int8_t *xl,
                                      float *scale, float *sum) {
    const int64_t G = K / gs;
    const __m512 lim = _mm512_set1_ps((float)QK_XI_MAX), nlim = _mm512_set1_ps(-(float)QK_XI_MAX);
    const __m512 fmax = _mm512_set1_ps(3.4028235e38f);
    const __m512i c128 = _mm512_set1_epi32(128);
    const __m128i split = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * K;
        int8_t *qr = xq + m * K, *lr = xl + m * K;
        for (int64_t g = 0; g < G; g++) {
            const float *xg = xr + g * gs;
            __m512 v = _mm512_loadu_ps(xg), acc = v, amax = _mm512_abs_ps(v);
            __mmask16 fin = _mm512_cmp_ps_mask(amax, fmax, _CMP_LE_OQ); /* false for inf and NaN */
            for (int j = 16; j < gs; j += 16) {
                v = _mm512_loadu_ps(xg + j);
                __m512 a = _mm512_abs_ps(v);
                acc = _mm512_add_ps(acc, v);
                fin &= _mm512_cmp_ps_mask(a, fmax, _CMP_LE_OQ);
                amax = _mm512_max_ps(amax, a);
            }
            acc = _mm512_add_ps(acc, _mm512_shuffle_f32x4(acc, acc, _MM_SHUFFLE(1, 0, 3, 2))); /* l + 8 */
            acc = _mm512_add_ps(acc, _mm512_shuffle_f32x4(acc, acc, _MM_SHUFFLE(2, 3, 0, 1))); /* l + 4 */
            acc = _mm512_add_ps(acc, _mm512_permute_ps(acc, _MM_SHUFFLE(1, 0, 3, 2)));          /* l + 2 */
            acc = _mm512_add_ps(acc, _mm512_permute_ps(acc, _MM_SHUFFLE(2, 3, 0, 1)));          /* l + 1 */
            sum[m * G + g] = _mm512_cvtss_f32(acc);
            float am = _mm512_reduce_max_ps(amax);
            int finite = fin == 0xFFFF, ok = finite && am != 0.0f;
            scale[m * G + g] = !finite ? NAN : am == 0.0f ? 0.0f : am / (float)QK_XI_MAX;
            __m512 inv = _mm512_set1_ps(ok ? (float)QK_XI_MAX / am : 0.0f);
            __mmask16 keep = ok ? (__mmask16)0xFFFF : 0; /* otherwise zeros */
            for (int j = 0; j < gs; j += 16) {
                __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_loadu_ps(xg + j), inv),
                                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                __m512i xi = _mm512_maskz_cvtps_epi32(keep, _mm512_max_ps(_mm512_min_ps(r, lim), nlim));
                __m512i hi = _mm512_srai_epi32(_mm512_add_epi32(xi, c128), 8);
                __m512i lo = _mm512_sub_epi32(xi, _mm512_slli_epi32(hi, 8));
                __m128i h8 = _mm512_cvtepi32_epi8(hi), l8 = _mm512_cvtepi32_epi8(lo);
                int64_t v0 = g * gs + j;
                if (bits != 4) {
                    _mm_storeu_si128((__m128i *)(qr + v0), h8);
                    _mm_storeu_si128((__m128i *)(lr + v0), l8);
                } else {
                    int64_t b0, len;
                    qk_chunk4(v0, K, &b0, &len);
                    int64_t pe = b0 + (v0 - b0) / 2, po = pe + len / 2;
                    h8 = _mm_shuffle_epi8(h8, split);
                    l8 = _mm_shuffle_epi8(l8, split);
                    _mm_storel_epi64((__m128i *)(qr + pe), h8);
                    _mm_storel_epi64((__m128i *)(qr + po), _mm_unpackhi_epi64(h8, h8));
                    _mm_storel_epi64((__m128i *)(lr + pe), l8);
                    _mm_storel_epi64((__m128i *)(lr + po), _mm_unpackhi_epi64(l8, l8));
                }
            }
        }
    }
}

#else
void qk_rows_far_avx512(const qk_weights *w, const qk_act *a, const int64_t *start, int64_t count, float *y) {
    for (int r = 0; r < QK_FAR_STREAMS; r++) /* never dispatched: cpu_path_supported says no */
        qk_rows_portable(w, a, 0, 1, start[r], start[r] + count, y, w->n);
}
void qk_rows_avx512(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                    int64_t ldy) {
    qk_rows_portable(w, a, m0, mr, n0, n1, y, ldy); /* never dispatched: cpu_path_supported says no */
}
void qk_quantize_act_avx512(const float *x, int64_t M, int64_t K, int gs, int bits, int8_t *xq, int8_t *xl,
                            float *scale, float *sum) {
    qk_quantize_act_portable(x, M, K, gs, bits, xq, xl, scale, sum); /* never dispatched */
}
#endif
