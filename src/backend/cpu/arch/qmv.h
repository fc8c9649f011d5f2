/* Integer-dot kernels of the affine quantized products (4- and 8-bit weights), shared by
 * every code path (portable C, AVX2, AVX2 + AVX-VNNI, AVX-512 VNNI, NEON).
 *
 * MLX's affine weights are w = s * q + b per group of gs values (q unsigned, 0..2^bits-1), so
 *     dot(x, w) = sum_g [ s_g * dot(x_g, q_g) + b_g * sum(x_g) ].
 * The activations are quantized once per call, per row and per group of the same gs values,
 * to 16-bit integers held as two int8 planes (qk_quantize_act, the ONE definition every path
 * uses; float32 arithmetic, round half to even):
 *     amax = max |x_j|,  u = amax / 32512,  xi_j = rint(x_j * (32512 / amax))  (|xi| <= 32512)
 *     xi_j = 256 * xh_j + xl_j  with  xh_j = (xi_j + 128) >> 8 in [-127, 127], xl_j in [-128, 127]
 * (32512 = 127 * 256; amax == 0 gives u = 0 and zeros; a non-finite value makes u NaN, so the
 * outputs it touches are NaN), and the float32 sum of x per group is kept, added in one fixed
 * order (so that a vector quantizer gives the same bits): 16 partial sums p_l of the values
 * j = l, l + 16, l + 32, ... of the group in that order, then p_l += p_(l+8) (l < 8),
 * p_l += p_(l+4) (l < 4), p_l += p_(l+2) (l < 2), sum = p_0 + p_1 (qk_group_sum). A product row is
 *     y = sum_g [ (s_g * u_g) * idot_g + b_g * sum(x_g) ],
 *     idot_g = 256 * sum_j q_j * xh_j + sum_j q_j * xl_j     (int32: |idot| < 128 * 255 * 32512 < 2^31)
 * The two planes cost a second int8 dot product per weight vector; one plane (plain int8
 * activations, error up to amax / 254 per value) moved the tiny models' bfloat16 logits by
 * 15% (limit 8%): with 15 bits the error, amax / 65024 at most, is below bfloat16's own
 * rounding of every value larger than amax / 127.
 * Every path computes the same idot_g exactly; the float accumulation order differs.
 *
 * Order of xq within a row (what the SIMD loads want, fixed for all paths):
 *  - 8-bit: natural order;
 *  - 4-bit: per chunk of 128 values (the row's last chunks may be one of 64 and one of 32
 *    values: qk_chunk4), the even-indexed values then the odd-indexed ones: byte i of the
 *    packed weights holds q[2i] (low nibble) and q[2i+1] (high nibble), so the low nibbles of
 *    a chunk's 64 bytes meet the first half of its xq and the high nibbles the second half. */
#ifndef CMLX_CPU_ARCH_QMV_H
#define CMLX_CPU_ARCH_QMV_H

#include <stddef.h>
#include <stdint.h>

#define QK_MAX_ROWS 4 /* rows of x a row kernel handles at once (callers split larger M) */

/* The 4-bit order's chunk holding value v of a row of K values: [*start, *start + *len). */
static inline void qk_chunk4(int64_t v, int64_t K, int64_t *start, int64_t *len) {
    int64_t full = K / 128 * 128;
    if (v < full) *start = v / 128 * 128, *len = 128;
    else if (v < full + 64 && K - full >= 64) *start = full, *len = 64;
    else *start = K - 32, *len = 32;
}

/* Scale / bias storage of the weights. */
typedef enum { QK_F32 = 0, QK_F16, QK_BF16 } qk_float;

/* One packed weight matrix in the transposed (Linear) layout: n rows of k values. */
typedef struct {
    const uint8_t *w;              /* [n, k * bits / 8] */
    const void *scales, *biases;   /* [n, groups] of sdt */
    qk_float sdt;
    int64_t n, k, groups;
    int gs, bits;                  /* gs: 32, 64, 128; bits: 4 or 8 */
} qk_weights;

/* Quantized activations (see above). */
typedef struct {
    const int8_t *q;     /* [M, k] xh in the path order below */
    const int8_t *ql;    /* [M, k] xl, same order */
    const float *scale;  /* [M, groups] u */
    const float *sum;    /* [M, groups] exact sum of x */
    int64_t m, k, groups;
} qk_act;

/* Quantizes rows x [M, K] (float32) into xh / xl / scale / sum (layout above): the AVX-512
 * quantizer where the active CPU path is AVX-512 (cpu_features.h), else the portable one; both
 * give the same bits. */
void qk_quantize_act(const float *x, int64_t M, int64_t K, int gs, int bits, int8_t *xq, int8_t *xl, float *scale,
                     float *sum);
void qk_quantize_act_portable(const float *x, int64_t M, int64_t K, int gs, int bits, int8_t *xq, int8_t *xl,
                              float *scale, float *sum);
/* AVX-512 F/BW/VL (qmv_avx512.c); callers check cpu_has_avx512vnni() (which implies those). */
void qk_quantize_act_avx512(const float *x, int64_t M, int64_t K, int gs, int bits, int8_t *xq, int8_t *xl,
                            float *scale, float *sum);
/* The sum of gs (a multiple of 16) values in the order defined above. */
float qk_group_sum(const float *x, int gs);

#define QK_XI_MAX 32512 /* 127 * 256 */

/* y[m * ldy + n] for rows m0 <= m < m0 + mr (mr <= QK_MAX_ROWS) of a and weight rows
 * n0 <= n < n1. */
typedef void (*qk_rows_fn)(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1,
                           float *y, int64_t ldy);

void qk_rows_portable(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                      int64_t ldy);
void qk_rows_avx2(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                  int64_t ldy);
/* AVX2 + AVX-VNNI (256-bit vpdpbusd; qmv_avxvnni.c): the same integers and the same float
 * order as qk_rows_avx2, so bit-identical results; callers check cpu_has_avx_vnni(). */
void qk_rows_avxvnni(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                     int64_t ldy);
void qk_rows_avx512(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                    int64_t ldy);
void qk_rows_neon(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                  int64_t ldy);

/* Decode (one x row, 4- or 8-bit, K a multiple of 128), AVX-512 VNNI: y[n] for the rows
 * n = start[r] + i, r < QK_FAR_STREAMS, i < count, four at a time, one from each start. Each
 * start is its own stream of memory reads: on the machines measured, one core reads ~40%
 * more from DRAM across 4-8 far-apart streams than along one (the hardware prefetcher runs
 * per stream; bench/roofline reads both ways). Same arithmetic per row as qk_rows_avx512,
 * so the same bits. */
#define QK_FAR_STREAMS 4
void qk_rows_far_avx512(const qk_weights *w, const qk_act *a, const int64_t *start, int64_t count, float *y);

/* Many rows (prefill), AVX-512 VNNI: y[m * ldy + n] for all rows of a and weight rows
 * n0 <= n < n1, with a's xq in NATURAL order (qk_quantize_act with bits = 8, whatever the
 * weights' width); same integers as the row kernels. One allocation (a repacked panel); -1
 * when it fails. See qgemm_avx512.c. */
int qk_gemm_avx512(const qk_weights *w, const qk_act *a, int64_t n0, int64_t n1, float *y, int64_t ldy);

/* The rows m0 .. m0 + mr - 1 of a (K values, G groups a row) as the row kernels index them:
 * xh, xl, scale and sum pointers for m < 4, the rows past mr pointing at row m0 (never used
 * for results, so that every pointer is valid). */
static inline void qk_act_rows(const qk_act *a, int64_t m0, int mr, const int8_t *xr[4], const int8_t *xlr[4],
                               const float *sx[4], const float *xs[4]) {
    for (int m = 0; m < 4; m++) {
        int64_t r = m0 + (m < mr ? m : 0);
        xr[m] = a->q + r * a->k;
        xlr[m] = a->ql + r * a->k;
        sx[m] = a->scale + r * a->groups;
        xs[m] = a->sum + r * a->groups;
    }
}

/* Portable helpers the SIMD files share for tails (blocks of 32 values) and scales. */
float qk_load_float(const void *p, qk_float t, int64_t i);
/* idot of the 32-value tail block that starts at value k0 (4-bit: its 16 bytes hold evens /
 * odds as described above; 8-bit: natural) for weight row wrow and xh / xl rows xr / xlr. */
int32_t qk_tail_dot(const uint8_t *wrow, const int8_t *xr, const int8_t *xlr, int64_t k0, int bits);

/* The term of a row's last block of 32 values (groups of 32 with K not a multiple of 64, the
 * SIMD kernels' blocks being 64 values): s * u * idot of that one group, for weight row n
 * (wrow) against xh / xl rows xr / xlr whose last group's scale is sx_last. */
static inline float qk_tail_term(const qk_weights *w, int64_t n, const uint8_t *wrow, const int8_t *xr,
                                 const int8_t *xlr, float sx_last, int64_t full) {
    return qk_load_float(w->scales, w->sdt, n * w->groups + w->groups - 1) * sx_last *
           (float)qk_tail_dot(wrow, xr, xlr, full, w->bits);
}

/* A SIMD path's entry point over its row kernel's compile-time instances. The arch file
 * defines QK_TARGET, rows_kernel(w, a, m0, n0, n1, y, ldy, BITS, GS, MR) (MR x rows at once,
 * MR <= 4) and ONE_ROW(B, G) (the statement for one x row: rows_kernel or a faster variant),
 * then writes QK_DEFINE_ROWS_ENTRY(qk_rows_<path>). */
#define QK_DEFINE_ROWS_INSTANCE(B, G)                                                                  \
    QK_TARGET static void rows_b##B##_g##G(const qk_weights *w, const qk_act *a, int64_t m0, int mr, \
                                           int64_t n0, int64_t n1, float *y, int64_t ldy) {           \
        switch (mr) {                                                                                  \
        case 1: ONE_ROW(B, G); return;                                                                 \
        case 2: rows_kernel(w, a, m0, n0, n1, y, ldy, B, G, 2); return;                                \
        case 3: rows_kernel(w, a, m0, n0, n1, y, ldy, B, G, 3); return;                                \
        default: rows_kernel(w, a, m0, n0, n1, y, ldy, B, G, 4); return;                               \
        }                                                                                              \
    }
/* ONE_ROW for paths with a two-weight-rows kernel rows2_b4(w, a, m0, n0, n1, y, ldy, GS) for
 * 4-bit weights and one x row (when COND holds): weight rows in pairs, an odd last row alone. */
#define QK_ONE_ROW_PAIRS(B, G, COND)                                                     \
    do {                                                                                 \
        if (B == 4 && (COND)) {                                                          \
            rows2_b4(w, a, m0, n0, n1, y, ldy, G);                                       \
            if ((n1 - n0) & 1) rows_kernel(w, a, m0, n1 - 1, n1, y, ldy, B, G, 1);       \
        } else {                                                                         \
            rows_kernel(w, a, m0, n0, n1, y, ldy, B, G, 1);                              \
        }                                                                                \
    } while (0)

/* The end of a row kernel's output n for x row m: SUM (its accumulators reduced) plus the last
 * 32-value block when K is not a multiple of 64 (groups of 32 only), stored to y. */
#define QK_STORE_ROW(m, SUM)                                                             \
    {                                                                                    \
        float r = (SUM);                                                                 \
        if (full < K) r += qk_tail_term(w, n, wrow, xr[m], xlr[m], sx[m][G - 1], full);  \
        y[(m0 + (m)) * ldy + n] = r;                                                     \
    }

#define QK_DEFINE_ROWS_ENTRY(entry)                                                                      \
    QK_DEFINE_ROWS_INSTANCE(4, 32)                                                                       \
    QK_DEFINE_ROWS_INSTANCE(4, 64)                                                                       \
    QK_DEFINE_ROWS_INSTANCE(4, 128)                                                                      \
    QK_DEFINE_ROWS_INSTANCE(8, 32)                                                                       \
    QK_DEFINE_ROWS_INSTANCE(8, 64)                                                                       \
    QK_DEFINE_ROWS_INSTANCE(8, 128)                                                                      \
    void entry(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y, \
               int64_t ldy) {                                                                            \
        if (w->bits == 4) {                                                                              \
            if (w->gs == 32) rows_b4_g32(w, a, m0, mr, n0, n1, y, ldy);                                  \
            else if (w->gs == 64) rows_b4_g64(w, a, m0, mr, n0, n1, y, ldy);                             \
            else rows_b4_g128(w, a, m0, mr, n0, n1, y, ldy);                                             \
        } else {                                                                                         \
            if (w->gs == 32) rows_b8_g32(w, a, m0, mr, n0, n1, y, ldy);                                  \
            else if (w->gs == 64) rows_b8_g64(w, a, m0, mr, n0, n1, y, ldy);                             \
            else rows_b8_g128(w, a, m0, mr, n0, n1, y, ldy);                                             \
        }                                                                                                \
    }

#endif
