/* Products of many rows (prefill) on Intel AMX tiles, bfloat16 in, float32 out.
 *
 *   y[M, N] = alpha * x[M, K] @ W^T (+ y)     W: a Linear weight [N, K], one row per output
 *
 * One AMX instruction (tdpbf16ps) multiplies a 16 x 32 bf16 tile by a 32 x 16 tile of bf16
 * pairs into 16 x 16 float32 sums: about 12x the float32 FMA rate of an AVX-512 core. The
 * weight is the row operand: its rows are read in their natural layout (K contiguous), so a
 * panel of weight rows is only converted to bfloat16 (a copy for bf16 weights, the dequantized
 * values s * q + b rounded to bfloat16 for MLX's affine 4/8-bit weights, as MLX computes them in
 * the activations' type); x is packed once per call into the pair layout ([K/2][M][2]). So
 * the tile product is C^T = W x^T and the 16 x 16 results are written back transposed. Every
 * product of two bf16 values is exact in float32, so the result differs from a float32 GEMM on
 * the same bf16 values only in summation order; the quantized weights differ from their float32
 * dequantization by bfloat16's rounding (round to nearest even: at most 2^-8 of the value).
 *
 * Only when cpu_amx_active() (cpu_features.h). Returns 0, or -1 with the error set (out of
 * memory). */
#ifndef CMLX_CPU_ARCH_GEMM_AMX_H
#define CMLX_CPU_ARCH_GEMM_AMX_H

#include <stdint.h>

#include "backend/cpu/arch/qmv.h"

/* Fewest rows of x that the quantized products send to AMX (fewer: the decode row kernels,
 * which read each weight once for all rows). */
#define AMX_MIN_ROWS 9

/* Writes weight row n as bfloat16 in chunks of 32 values: values [32 j, 32 j + 32) of the row
 * go to dst + j * chunk_stride (the tile layout of gemm_amx.c), zeros past K up to the last
 * whole chunk. ctx: the weight (see the two sources below). */
typedef void (*amx_row_fn)(const void *ctx, int64_t n, int64_t K, uint16_t *dst, int64_t chunk_stride);

/* x: rows [M, K] with row stride ldx (elements), bfloat16 when x_bf16, else float32 whose
 * values are bfloat16 numbers (converted exactly); y: float32 [M, N] with row stride ldy. */
int gemm_amx(int64_t M, int64_t N, int64_t K, const void *x, int x_bf16, int64_t ldx, amx_row_fn row,
             const void *ctx, float alpha, float *y, int64_t ldy, int accumulate);

/* Weight sources. A bfloat16 matrix: W(n, k) at p[n * ns + k * ks]. */
typedef struct {
    const uint16_t *p;
    int64_t ns, ks;
} amx_bf16_weight;
void amx_row_bf16(const void *ctx, int64_t n, int64_t K, uint16_t *dst, int64_t chunk_stride);
/* MLX affine 4- or 8-bit weights (ctx: a qk_weights, Linear layout). */
void amx_row_affine(const void *ctx, int64_t n, int64_t K, uint16_t *dst, int64_t chunk_stride);

#endif
