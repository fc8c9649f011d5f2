/* Integer-dot kernels of the affine quantized products (4- and 8-bit weights), shared by
 * every code path (portable C, AVX2, AVX-512 VNNI, NEON).
 *
 * MLX's affine weights are w = s * q + b per group of gs values (q unsigned, 0..2^bits-1), so
 *     dot(x, w) = sum_g [ s_g * dot(x_g, q_g) + b_g * sum(x_g) ].
 * The activations are quantized once per call, per row and per group of the same gs values,
 * to int8 (qk_quantize_act, the ONE definition every path uses):
 *     amax = max |x_j|, sx = amax / 127, xq_j = rint(x_j * (127 / amax)) clamped to +-127
 * (float32 arithmetic, round half to even; amax == 0 gives sx = 0 and xq = 0; a non-finite
 * value makes sx NaN, so the outputs it touches are NaN), and the exact float sum of x per
 * group is kept. A product row is then
 *     y = sum_g [ (s_g * sx_g) * idot_g + b_g * sum(x_g) ],   idot_g = sum_j q_j * xq_j (int32)
 * Every path computes the same idot_g (exact integers: |idot| <= 128 * 255 * 127 < 2^23, so
 * also exact as float32); the float accumulation order differs between paths.
 *
 * Order of xq within a row (what the SIMD loads want, fixed for all paths):
 *  - 8-bit: natural order;
 *  - 4-bit: per block of 64 values (the last block of a row may hold 32), the even-indexed
 *    values then the odd-indexed ones: byte i of the packed weights holds q[2i] (low nibble)
 *    and q[2i+1] (high nibble), so the low nibbles of a block meet the first half of its xq
 *    and the high nibbles the second half. */
#ifndef CMLX_CPU_ARCH_QMV_H
#define CMLX_CPU_ARCH_QMV_H

#include <stddef.h>
#include <stdint.h>

#define QK_MAX_ROWS 4 /* rows of x a row kernel handles at once (callers split larger M) */

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
    const int8_t *q;     /* [M, k] in the path order above */
    const float *scale;  /* [M, groups] sx */
    const float *sum;    /* [M, groups] exact sum of x */
    int64_t m, k, groups;
} qk_act;

/* Quantizes rows x [M, K] (float32) into xq / scale / sum (layout above). */
void qk_quantize_act(const float *x, int64_t M, int64_t K, int gs, int bits, int8_t *xq, float *scale, float *sum);

/* y[m * ldy + n] for rows m0 <= m < m0 + mr (mr <= QK_MAX_ROWS) of a and weight rows
 * n0 <= n < n1. */
typedef void (*qk_rows_fn)(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1,
                           float *y, int64_t ldy);

void qk_rows_portable(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                      int64_t ldy);
void qk_rows_avx2(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                  int64_t ldy);
void qk_rows_avx512(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                    int64_t ldy);
void qk_rows_neon(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                  int64_t ldy);

/* Many rows (prefill), AVX-512 VNNI: y[m * ldy + n] for all rows of a and weight rows
 * n0 <= n < n1, with a's xq in NATURAL order (qk_quantize_act with bits = 8, whatever the
 * weights' width); same integers as the row kernels. One allocation (a repacked panel); -1
 * when it fails. See qgemm_avx512.c. */
int qk_gemm_avx512(const qk_weights *w, const qk_act *a, int64_t n0, int64_t n1, float *y, int64_t ldy);

/* Portable helpers the SIMD files share for tails (blocks of 32 values) and scales. */
float qk_load_float(const void *p, qk_float t, int64_t i);
/* idot of the 32-value tail block that starts at value k0 (4-bit: its 16 bytes hold evens /
 * odds as described above; 8-bit: natural) for weight row wrow and xq row xr. */
int32_t qk_tail_dot(const uint8_t *wrow, const int8_t *xr, int64_t k0, int bits);

#endif
