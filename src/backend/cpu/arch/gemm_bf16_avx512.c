/* AVX512-BF16 kernels of the 16-bit weight products (see gemm_b16.h). Compiled for the
 * baseline target like the rest of the library; the functions carry their own target
 * attribute and are only called when cpu_features says the CPU has AVX512-BF16. */
#include <immintrin.h>
#include <stdint.h>

#include "backend/cpu/arch/gemm_b16.h"

#if defined(__x86_64__) && defined(__GNUC__)

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))

/* 12 x 32 block: per pair of K, two 16-lane B vectors and 12 broadcast A pairs feed 24
 * vdpbf16ps (24 accumulators, 768 multiply-adds). */
T512 void gemm_bf16_ukernel_avx512(int64_t kp, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc, int mr,
                                   int nr, float alpha, int overwrite) {
    enum { MR = GEMM_AVX512_MR, NR = GEMM_AVX512_NR };
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int m = 0; m < MR; m++) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kp; p++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + p * NR), b1 = (__m512bh)_mm512_loadu_si512(bp + p * NR + 16);
        const uint32_t *a = ap + p * MR;
#pragma GCC unroll 12
        for (int m = 0; m < MR; m++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[m]);
            acc[m][0] = _mm512_dpbf16_ps(acc[m][0], av, b0);
            acc[m][1] = _mm512_dpbf16_ps(acc[m][1], av, b1);
        }
    }
    __mmask16 k0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 k1 = nr >= 32 ? (__mmask16)0xffff : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : (__mmask16)0;
    __m512 va = _mm512_set1_ps(alpha);
#pragma GCC unroll 12
    for (int m = 0; m < MR; m++) {
        if (m < mr) {
            float *cr = c + m * ldc;
            __m512 v0 = _mm512_mul_ps(acc[m][0], va), v1 = _mm512_mul_ps(acc[m][1], va);
            if (!overwrite) {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(k0, cr));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(k1, cr + 16));
            }
            _mm512_mask_storeu_ps(cr, k0, v0);
            _mm512_mask_storeu_ps(cr + 16, k1, v1);
        }
    }
}

/* The same 12 x 32 block with float32 FMA, for CPUs whose vdpbf16ps issues at a quarter of
 * the FMA rate (Intel Sapphire/Emerald Rapids: measured 84 vs 174 GFLOP/s per core). A is
 * packed already widened ([kp][MR][2] float32: the low then the high element of each pair),
 * B pairs are widened in registers once per pair for all 12 rows. */
T512 void gemm_bf16_ukernel_avx512_fma(int64_t kp, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc,
                                       int mr, int nr, float alpha, int overwrite) {
    enum { MR = GEMM_AVX512_MR, NR = GEMM_AVX512_NR };
    const float *af = (const float *)ap;
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int m = 0; m < MR; m++) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kp; p++) {
        __m512i b0 = _mm512_loadu_si512(bp + p * NR), b1 = _mm512_loadu_si512(bp + p * NR + 16);
        __m512 b0l = _mm512_castsi512_ps(_mm512_slli_epi32(b0, 16)), b0h = _mm512_castsi512_ps(_mm512_and_si512(b0, hi));
        __m512 b1l = _mm512_castsi512_ps(_mm512_slli_epi32(b1, 16)), b1h = _mm512_castsi512_ps(_mm512_and_si512(b1, hi));
        const float *a = af + p * MR * 2;
#pragma GCC unroll 12
        for (int m = 0; m < MR; m++) {
            __m512 al = _mm512_set1_ps(a[2 * m]), ah = _mm512_set1_ps(a[2 * m + 1]);
            acc[m][0] = _mm512_fmadd_ps(al, b0l, acc[m][0]);
            acc[m][1] = _mm512_fmadd_ps(al, b1l, acc[m][1]);
            acc[m][0] = _mm512_fmadd_ps(ah, b0h, acc[m][0]);
            acc[m][1] = _mm512_fmadd_ps(ah, b1h, acc[m][1]);
        }
    }
    __mmask16 k0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 k1 = nr >= 32 ? (__mmask16)0xffff : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : (__mmask16)0;
    __m512 va = _mm512_set1_ps(alpha);
#pragma GCC unroll 12
    for (int m = 0; m < MR; m++) {
        if (m < mr) {
            float *cr = c + m * ldc;
            __m512 v0 = _mm512_mul_ps(acc[m][0], va), v1 = _mm512_mul_ps(acc[m][1], va);
            if (!overwrite) {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(k0, cr));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(k1, cr + 16));
            }
            _mm512_mask_storeu_ps(cr, k0, v0);
            _mm512_mask_storeu_ps(cr + 16, k1, v1);
        }
    }
}

INLINE T512 __mmask32 tail_mask32(int64_t n) { return _cvtu32_mask32(n >= 32 ? 0xffffffffu : (1u << n) - 1); }
INLINE T512 __mmask16 tail_mask16(int64_t n) { return (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1); }

/* acc[m][r * U + u]: U partial sums of weight row r for activation row m. */
INLINE T512 void store_sums(int MM, int R, int U, __m512 acc[8][8], int64_t n, float alpha, float *C, int64_t ldc,
                            int accumulate) {
    for (int m = 0; m < MM; m++)
        for (int r = 0; r < R; r++) {
            __m512 v = acc[m][r * U];
            for (int u = 1; u < U; u++) v = _mm512_add_ps(v, acc[m][r * U + u]);
            float s = alpha * _mm512_reduce_add_ps(v);
            float *d = C + m * ldc + n + r;
            *d = s + (accumulate ? *d : 0.0f);
        }
}

/* MM activation rows (bf16) against R weight rows from n: 32 K values per vdpbf16ps, U
 * independent accumulators per pair of rows (K unrolled U times). */
INLINE T512 void dp_tile(int MM, int R, int U, int64_t K, const uint16_t *xb, const uint16_t *w, int64_t ldw,
                         int64_t n, float alpha, float *C, int64_t ldc, int accumulate) {
    __m512 acc[8][8];
    for (int m = 0; m < MM; m++)
        for (int j = 0; j < R * U; j++) acc[m][j] = _mm512_setzero_ps();
    const uint16_t *wr = w + n * ldw;
    int64_t k = 0;
    for (; k + 32 * U <= K; k += 32 * U)
        for (int u = 0; u < U; u++) {
            __m512bh wv[8];
            for (int r = 0; r < R; r++) wv[r] = (__m512bh)_mm512_loadu_si512(wr + r * ldw + k + 32 * u);
            for (int m = 0; m < MM; m++) {
                __m512bh xv = (__m512bh)_mm512_loadu_si512(xb + m * K + k + 32 * u);
                for (int r = 0; r < R; r++) acc[m][r * U + u] = _mm512_dpbf16_ps(acc[m][r * U + u], xv, wv[r]);
            }
        }
    for (; k < K; k += 32) {
        __mmask32 km = tail_mask32(K - k);
        __m512bh wv[8];
        for (int r = 0; r < R; r++) wv[r] = (__m512bh)_mm512_maskz_loadu_epi16(km, wr + r * ldw + k);
        for (int m = 0; m < MM; m++) {
            __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(km, xb + m * K + k);
            for (int r = 0; r < R; r++) acc[m][r * U] = _mm512_dpbf16_ps(acc[m][r * U], xv, wv[r]);
        }
    }
    store_sums(MM, R, U, acc, n, alpha, C, ldc, accumulate);
}

/* Shared by dp_row8 and fx_row8: accumulator a<r> and weight row pointer w<r> per row, and
 * the stores of the 8 sums; each row's data asked for ROW8_PREFETCH bytes ahead. */
#define ROW8_PREFETCH 2048
#define ROW8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define ROW8_DECL(r)                                                                                           \
    __m512 a##r = _mm512_setzero_ps();                                                                         \
    const uint16_t *w##r = w + row[r] * ldw;
#define ROW8_SUM(r)                                                                                            \
    {                                                                                                          \
        float s = alpha * _mm512_reduce_add_ps(a##r);                                                          \
        C[row[r]] = s + (accumulate ? C[row[r]] : 0.0f);                                                       \
    }
/* Decode (one bf16 activation row) against the 8 weight rows row[0..7]: dp_tile(1, 8, 1)
 * with the accumulators as named variables. The tile's acc[8][8] array stays in memory at -O2
 * (a store and a reload around every vdpbf16ps); here they stay in registers. Same operations
 * in the same order as dp_tile(1, 8, 1), so the same results (checked bit for bit, K and N
 * tails). Measured with cmlx bench, Llama-3.2-1B bf16, tg32, three alternating pairs on the
 * quiet lent Xeon: 1 thread 4.71 / 5.64 / 4.98 -> 6.11 / 6.25 / 5.73 tok/s, 2 threads 9.19 /
 * 9.51 / 10.42 -> 10.02 / 11.42 / 11.18. The rows are given one by one so that they can be
 * far apart (gemv_b16_far_avx512). */
INLINE T512 void dp_row8(int64_t K, const uint16_t *xb, const uint16_t *w, int64_t ldw, const int64_t row[8],
                         float alpha, float *C, int accumulate) {
    ROW8(ROW8_DECL)
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
        __m512bh xv = (__m512bh)_mm512_loadu_si512(xb + k);
#define STEP(r)                                                                                                \
    _mm_prefetch((const char *)(w##r + k) + ROW8_PREFETCH, _MM_HINT_T0);                                       \
    a##r = _mm512_dpbf16_ps(a##r, xv, (__m512bh)_mm512_loadu_si512(w##r + k));
        ROW8(STEP)
    }
    if (k < K) {
        __mmask32 km = tail_mask32(K - k);
        __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(km, xb + k);
#define TAIL(r) a##r = _mm512_dpbf16_ps(a##r, xv, (__m512bh)_mm512_maskz_loadu_epi16(km, w##r + k));
        ROW8(TAIL)
    }
    ROW8(ROW8_SUM)
#undef STEP
#undef TAIL
}

/* Lane i of the result = the sum of the 16 lanes of v[i]: 45 shuffles and adds for 16 sums,
 * against ~8 a sum for _mm512_reduce_add_ps one vector at a time. Within each 128-bit lane,
 * unpack / shuffle pairs fold 4 vectors into one holding their four 4-lane partial sums;
 * then 128-bit blocks of those four are exchanged and added. */
INLINE T512 __m512 fold4(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b)); /* a02 b02 a13 b13 */
    __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    return _mm512_add_ps(_mm512_shuffle_ps(ab, cd, 0x44), _mm512_shuffle_ps(ab, cd, 0xEE)); /* a b c d per block */
}
INLINE T512 __m512 reduce16(const __m512 v[16]) {
    __m512 g0 = fold4(v[0], v[1], v[2], v[3]), g1 = fold4(v[4], v[5], v[6], v[7]);
    __m512 g2 = fold4(v[8], v[9], v[10], v[11]), g3 = fold4(v[12], v[13], v[14], v[15]);
    __m512 u01 = _mm512_add_ps(_mm512_shuffle_f32x4(g0, g1, 0x44), _mm512_shuffle_f32x4(g0, g1, 0xEE));
    __m512 u23 = _mm512_add_ps(_mm512_shuffle_f32x4(g2, g3, 0x44), _mm512_shuffle_f32x4(g2, g3, 0xEE));
    return _mm512_add_ps(_mm512_shuffle_f32x4(u01, u23, 0x88), _mm512_shuffle_f32x4(u01, u23, 0xDD));
}

/* MM activation rows (1, 2 or 4) against 16 / MM weight rows from n when rows are short
 * (K <= DP_SHORT_K: attention scores, one key per row of the cache, K = the head
 * dimension): a dot product's 2-4 vdpbf16ps are few next to a horizontal sum each, so the 16
 * sums are folded together (reduce16; lane m * R + r is row m against weight row n + r), and
 * each weight row loaded serves every activation row. Measured on one thread, a decode
 * attention of 32 query heads over 600 keys of 8 kv heads (64 dims): the scores took 46% of
 * its time through dp_tile / dp_row8. Results differ from those only in the order the 16
 * lanes of each dot product are added. */
INLINE T512 void dp_short(const int MM, int64_t K, const uint16_t *xb, const uint16_t *w, int64_t ldw, int64_t n,
                          float alpha, float *C, int64_t ldc, int accumulate) {
    const int R = 16 / MM;
    const uint16_t *wr = w + n * ldw;
    __m512 acc[16]; /* fully unrolled loops: the array lives in registers */
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k += 32) {
        __mmask32 km = tail_mask32(K - k);
        __m512bh xv[4];
#pragma GCC unroll 4
        for (int m = 0; m < MM; m++) xv[m] = (__m512bh)_mm512_maskz_loadu_epi16(km, xb + m * K + k);
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(km, wr + r * ldw + k);
#pragma GCC unroll 4
            for (int m = 0; m < MM; m++) acc[m * R + r] = _mm512_dpbf16_ps(acc[m * R + r], xv[m], wv);
        }
    }
    __m512 s = _mm512_mul_ps(reduce16(acc), _mm512_set1_ps(alpha));
    const __mmask16 low = (__mmask16)((1u << R) - 1);
#pragma GCC unroll 4
    for (int m = 0; m < MM; m++) {
        __m512 v = _mm512_maskz_compress_ps((__mmask16)(low << (m * R)), s);
        if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(low, C + m * ldc + n));
        _mm512_mask_storeu_ps(C + m * ldc + n, low, v);
    }
}

/* gemv_bf16dp_avx512 for K <= DP_SHORT_K: rows of x in groups of 4, 2, 1; weight rows 16 / MM
 * at a time, the rest through dp_tile. */
INLINE T512 void gemv_dp_short(int64_t M, int64_t n0, int64_t n1, int64_t K, const uint16_t *xb, const uint16_t *w,
                               int64_t ldw, float alpha, float *C, int64_t ldc, int accumulate) {
    for (int64_t m0 = 0; m0 < M;) {
        int mm = M - m0 >= 4 ? 4 : M - m0 >= 2 ? 2 : 1, R = 16 / mm;
        const uint16_t *x = xb + m0 * K;
        float *c = C + m0 * ldc;
        int64_t n = n0;
        for (; n + R <= n1; n += R) {
            if (mm == 4) dp_short(4, K, x, w, ldw, n, alpha, c, ldc, accumulate);
            else if (mm == 2) dp_short(2, K, x, w, ldw, n, alpha, c, ldc, accumulate);
            else dp_short(1, K, x, w, ldw, n, alpha, c, ldc, accumulate);
        }
        for (; n < n1; n++) {
            if (mm == 4) dp_tile(4, 1, 1, K, x, w, ldw, n, alpha, c, ldc, accumulate);
            else if (mm == 2) dp_tile(2, 1, 1, K, x, w, ldw, n, alpha, c, ldc, accumulate);
            else dp_tile(1, 1, 1, K, x, w, ldw, n, alpha, c, ldc, accumulate);
        }
        m0 += mm;
    }
}

INLINE T512 __m512 widen16(__m256i v, int w_bf16) {
    return w_bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)) : _mm512_cvtph_ps(v);
}

/* MM float32 activation rows against R 16-bit weight rows widened in registers (U
 * independent accumulators per pair of rows). */
INLINE T512 void fx_tile(int MM, int R, int U, int64_t K, const float *x, const uint16_t *w, int64_t ldw, int w_bf16,
                         int64_t n, float alpha, float *C, int64_t ldc, int accumulate) {
    __m512 acc[8][8];
    for (int m = 0; m < MM; m++)
        for (int j = 0; j < R * U; j++) acc[m][j] = _mm512_setzero_ps();
    const uint16_t *wr = w + n * ldw;
    int64_t k = 0;
    for (; k + 16 * U <= K; k += 16 * U)
        for (int u = 0; u < U; u++) {
            __m512 wv[8];
            for (int r = 0; r < R; r++)
                wv[r] = widen16(_mm256_loadu_si256((const __m256i *)(wr + r * ldw + k + 16 * u)), w_bf16);
            for (int m = 0; m < MM; m++) {
                __m512 xv = _mm512_loadu_ps(x + m * K + k + 16 * u);
                for (int r = 0; r < R; r++) acc[m][r * U + u] = _mm512_fmadd_ps(xv, wv[r], acc[m][r * U + u]);
            }
        }
    for (; k < K; k += 16) {
        __mmask16 km = tail_mask16(K - k);
        __m512 wv[8];
        for (int r = 0; r < R; r++) wv[r] = widen16(_mm256_maskz_loadu_epi16(km, wr + r * ldw + k), w_bf16);
        for (int m = 0; m < MM; m++) {
            __m512 xv = _mm512_maskz_loadu_ps(km, x + m * K + k);
            for (int r = 0; r < R; r++) acc[m][r * U] = _mm512_fmadd_ps(xv, wv[r], acc[m][r * U]);
        }
    }
    store_sums(MM, R, U, acc, n, alpha, C, ldc, accumulate);
}

/* One float32 activation row against the 8 weight rows row[0..7] (16-bit, widened): fx_tile(1,
 * 8, 1) with the accumulators as named variables (in registers; the tile's array is not), the
 * same operations in the same order, so the same results. */
INLINE T512 void fx_row8(int64_t K, const float *x, const uint16_t *w, int64_t ldw, int w_bf16, const int64_t row[8],
                         float alpha, float *C, int accumulate) {
    ROW8(ROW8_DECL)
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 xv = _mm512_loadu_ps(x + k);
#define STEP(r)                                                                                                \
    if (k % 32 == 0) _mm_prefetch((const char *)(w##r + k) + ROW8_PREFETCH, _MM_HINT_T0);                      \
    a##r = _mm512_fmadd_ps(xv, widen16(_mm256_loadu_si256((const __m256i *)(w##r + k)), w_bf16), a##r);
        ROW8(STEP)
    }
    if (k < K) {
        __mmask16 km = tail_mask16(K - k);
        __m512 xv = _mm512_maskz_loadu_ps(km, x + k);
#define TAIL(r) a##r = _mm512_fmadd_ps(xv, widen16(_mm256_maskz_loadu_epi16(km, w##r + k), w_bf16), a##r);
        ROW8(TAIL)
    }
    ROW8(ROW8_SUM)
#undef STEP
#undef TAIL
}
#undef ROW8
#undef ROW8_DECL
#undef ROW8_SUM

T512 void gemv_b16_far_avx512(int64_t K, const float *x, const uint16_t *xb, const uint16_t *w, int64_t ldw,
                              int w_bf16, const int64_t *start, int64_t count, float alpha, float *C, int accumulate) {
    for (int64_t i = 0; i < count; i++) {
        const int64_t row[8] = {start[0] + i, start[1] + i, start[2] + i, start[3] + i,
                                start[4] + i, start[5] + i, start[6] + i, start[7] + i};
        if (xb) dp_row8(K, xb, w, ldw, row, alpha, C, accumulate);
        else fx_row8(K, x, w, ldw, w_bf16, row, alpha, C, accumulate);
    }
}

/* Tiles per activation-row count: R weight rows at once, K unrolled U times. Several weight
 * rows at once keep that many independent streams in flight, which one core needs to get
 * near its DRAM read rate (measured on the 16-core Xeon: one row at a time 43% of the
 * 1-thread bandwidth, four rows 76%); MM * R * U accumulators stay in registers. */
#define GEMV_CASES(TILE, ...)                                                    \
    switch (M) {                                                                 \
    case 1: ROWS(1, 8, 1, TILE, __VA_ARGS__); break;                             \
    case 2: ROWS(2, 4, 1, TILE, __VA_ARGS__); break;                             \
    case 3: ROWS(3, 4, 1, TILE, __VA_ARGS__); break;                             \
    case 4: ROWS(4, 4, 1, TILE, __VA_ARGS__); break;                             \
    case 5: ROWS(5, 2, 1, TILE, __VA_ARGS__); break;                             \
    case 6: ROWS(6, 2, 1, TILE, __VA_ARGS__); break;                             \
    case 7: ROWS(7, 2, 1, TILE, __VA_ARGS__); break;                             \
    default: ROWS(8, 2, 1, TILE, __VA_ARGS__); break;                            \
    }
#define ROWS(MM, R, U, TILE, ...)                                                \
    do {                                                                         \
        int64_t n = n0;                                                          \
        for (; n + (R) <= n1; n += (R)) TILE(MM, R, U, __VA_ARGS__);             \
        for (; n < n1; n++) TILE(MM, 1, U, __VA_ARGS__);                         \
    } while (0)

T512 void gemv_bf16dp_avx512(int64_t M, int64_t n0, int64_t n1, int64_t K, const uint16_t *xb, const uint16_t *w,
                             int64_t ldw, float alpha, float *C, int64_t ldc, int accumulate) {
    if (K <= DP_SHORT_K) {
        gemv_dp_short(M, n0, n1, K, xb, w, ldw, alpha, C, ldc, accumulate);
        return;
    }
    if (M == 1) {
        int64_t n = n0;
        for (; n + 8 <= n1; n += 8) {
            const int64_t row[8] = {n, n + 1, n + 2, n + 3, n + 4, n + 5, n + 6, n + 7};
            dp_row8(K, xb, w, ldw, row, alpha, C, accumulate);
        }
        for (; n < n1; n++) dp_tile(1, 1, 1, K, xb, w, ldw, n, alpha, C, ldc, accumulate);
        return;
    }
    GEMV_CASES(dp_tile, K, xb, w, ldw, n, alpha, C, ldc, accumulate)
}

T512 void gemv_f32x_avx512(int64_t M, int64_t n0, int64_t n1, int64_t K, const float *x, const uint16_t *w,
                           int64_t ldw, int w_bf16, float alpha, float *C, int64_t ldc, int accumulate) {
    if (w_bf16) GEMV_CASES(fx_tile, K, x, w, ldw, 1, n, alpha, C, ldc, accumulate)
    else GEMV_CASES(fx_tile, K, x, w, ldw, 0, n, alpha, C, ldc, accumulate)
}

#else /* not x86-64: never called (cpu_features reports no AVX-512) */
void gemm_bf16_ukernel_avx512_fma(int64_t kp, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc, int mr,
                                  int nr, float alpha, int overwrite) {
    (void)kp, (void)ap, (void)bp, (void)c, (void)ldc, (void)mr, (void)nr, (void)alpha, (void)overwrite;
}
void gemm_bf16_ukernel_avx512(int64_t kp, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc, int mr,
                              int nr, float alpha, int overwrite) {
    (void)kp, (void)ap, (void)bp, (void)c, (void)ldc, (void)mr, (void)nr, (void)alpha, (void)overwrite;
}
void gemv_bf16dp_avx512(int64_t M, int64_t n0, int64_t n1, int64_t K, const uint16_t *xb, const uint16_t *w,
                        int64_t ldw, float alpha, float *C, int64_t ldc, int accumulate) {
    (void)M, (void)n0, (void)n1, (void)K, (void)xb, (void)w, (void)ldw, (void)alpha, (void)C, (void)ldc, (void)accumulate;
}
void gemv_b16_far_avx512(int64_t K, const float *x, const uint16_t *xb, const uint16_t *w, int64_t ldw,
                         int w_bf16, const int64_t *start, int64_t count, float alpha, float *C, int accumulate) {
    (void)K, (void)x, (void)xb, (void)w, (void)ldw, (void)w_bf16, (void)start, (void)count, (void)alpha, (void)C,
        (void)accumulate;
}
void gemv_f32x_avx512(int64_t M, int64_t n0, int64_t n1, int64_t K, const float *x, const uint16_t *w, int64_t ldw,
                      int w_bf16, float alpha, float *C, int64_t ldc, int accumulate) {
    (void)M, (void)n0, (void)n1, (void)K, (void)x, (void)w, (void)ldw, (void)w_bf16, (void)alpha, (void)C, (void)ldc,
        (void)accumulate;
}
#endif
