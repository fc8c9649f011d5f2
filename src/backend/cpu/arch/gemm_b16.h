/* Products with 16-bit weights read in place (no float32 copy of the weights).
 *
 * gemm_bf16: C[M, N] float32 = alpha * A[M, K] @ B[K, N] (+ C), A and B bfloat16 with any
 *   strides. A is packed once into panels of MR rows whose K is grouped in pairs (one 32-bit
 *   word holds A[m, 2p] and A[m, 2p+1]); B is packed per thread into [K/2][NR] panels of
 *   the same pairs (for a Linear weight W [N, K] = B^T, one 32-bit load of a W row each).
 *   The micro-kernel multiplies an MR x NR block: on AVX512-BF16 one vdpbf16ps does 32
 *   multiply-adds (16 lanes x one pair), the AVX2 and portable kernels split each pair into
 *   two float32 values (a bf16 is the high half of a float32) and use FMA. Every product of
 *   two bf16 values is exact in float32, so the paths differ only in summation order.
 *   Blocking: KC values of K per pass (B panel KC x NR stays in L1 while MC rows of A pass
 *   from L2), threads split N.
 *
 * gemv_b16: the decode case, M <= GEMV_B16_MAX_ROWS rows against a bfloat16 / float16 weight
 *   whose rows are contiguous along K (B.rs == 1: the Linear layout x @ W^T). Each weight row
 *   is read once for all M rows, which is what bounds decoding (weight bytes per token). With
 *   AVX512-BF16 and bfloat16 activations the dot products are vdpbf16ps on the 16-bit rows
 *   (on Intel too, where vdpbf16ps is slow: the activations are re-read from L1/L2 for every
 *   weight row, and bf16 halves those reads; measured better than FMA for M >= 2 and equal
 *   for M = 1); otherwise the activations are float32 and the weights are widened in
 *   registers. */
#ifndef CMLX_CPU_ARCH_GEMM_B16_H
#define CMLX_CPU_ARCH_GEMM_B16_H

#include <stdint.h>

#include "backend/cpu/arch/cpu_features.h"

/* Element (i, j) at p[i * rs + j * cs]. */
typedef struct {
    const uint16_t *p;
    int64_t rs, cs;
} b16_mat;

#define GEMV_B16_MAX_ROWS 8

/* Which kernels a cpu_features path means here: CPU_PATH_AVX512 needs AVX512-BF16 too (else
 * the AVX2 kernels serve it); CPU_PATH_NEON has no kernel of its own (portable). */
cpu_path gemm_b16_path(cpu_path active);
/* Whether the blocked bf16 GEMM should run for `active` rather than OpenBLAS on float32
 * panels: by default only where vdpbf16ps is fast (see gemm_bf16_use_dp; measured slower
 * than OpenBLAS elsewhere), always when a path is forced through the environment. */
int gemm_bf16_preferred(cpu_path active);

/* Returns 0, or -1 with the error set (out of memory). */
int gemm_bf16(cpu_path path, int64_t M, int64_t N, int64_t K, b16_mat A, b16_mat B, float alpha, float *C,
              int64_t ldc, int accumulate);

/* y = alpha * x @ W^T (+ y): x float32 [M, K] (row stride K), W 16-bit [N, K] with row stride
 * ldw (bf16 when w_bf16, else float16), C [M, N] with row stride ldc. xb: the same rows as
 * bfloat16 [M, K] (row stride K) when they are exactly representable (the activations were
 * bfloat16), else NULL; used by the AVX512-BF16 path for bf16 weights. */
void gemv_b16(cpu_path path, int64_t M, int64_t N, int64_t K, const float *x, const uint16_t *xb,
              const uint16_t *w, int64_t ldw, int w_bf16, float alpha, float *C, int64_t ldc, int accumulate);

/* Whether gemv_b16 on `path` uses the xb rows (a bfloat16 copy of x) for weights of this
 * kind: AVX512-BF16 with bf16 weights. Callers make the copy only then. */
int gemv_b16_takes_bf16_x(cpu_path path, int w_bf16);

/* Weight rows [n0, n1) of gemv_b16 on the calling thread (M <= GEMV_B16_MAX_ROWS), for
 * callers that are already one task of a parallel region (attention's per-head tasks). */
void gemv_b16_rows(cpu_path path, int64_t M, int64_t n0, int64_t n1, int64_t K, const float *x, const uint16_t *xb,
                   const uint16_t *w, int64_t ldw, int w_bf16, float alpha, float *C, int64_t ldc, int accumulate);

/* ---- per-path kernels (gemm_bf16_avx512.c, gemm_bf16_avx2.c, gemm_bf16.c) ---- */

/* C[mr rows, nr cols] (row stride ldc) = alpha * Ap @ Bp (+ C unless overwrite): Ap [kp][MR]
 * and Bp [kp][NR] 32-bit pairs of bf16 (rows/columns past mr/nr are zero). */
typedef void (*gemm_bf16_ukernel)(int64_t kp, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc,
                                  int mr, int nr, float alpha, int overwrite);
#define GEMM_AVX512_MR 12
#define GEMM_AVX512_NR 32
#define GEMM_AVX2_MR 4
#define GEMM_AVX2_NR 16
#define GEMM_PORTABLE_MR 4
#define GEMM_PORTABLE_NR 16
void gemm_bf16_ukernel_avx512(int64_t kp, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc, int mr,
                              int nr, float alpha, int overwrite);
/* A packed as float32 pairs ([kp][MR][2]) instead of bf16 pair words. */
void gemm_bf16_ukernel_avx512_fma(int64_t kp, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc, int mr,
                                  int nr, float alpha, int overwrite);
/* Whether vdpbf16ps pays on this CPU (full rate: AMD Zen 4/5) or float32 FMA is faster
 * (Intel Sapphire/Emerald Rapids issue it at a quarter of the FMA rate). CMLX_BF16_DOT=dp|fma
 * overrides (tests cover both kernels that way). */
int gemm_bf16_use_dp(void);
void gemm_bf16_ukernel_avx2(int64_t kp, const uint32_t *ap, const uint32_t *bp, float *c, int64_t ldc, int mr,
                            int nr, float alpha, int overwrite);

/* Weight rows [n0, n1) of gemv_b16 (same arguments). */
void gemv_bf16dp_avx512(int64_t M, int64_t n0, int64_t n1, int64_t K, const uint16_t *xb, const uint16_t *w,
                        int64_t ldw, float alpha, float *C, int64_t ldc, int accumulate);
/* Rows this short (attention scores over a cache's keys) take gemv_bf16dp_avx512's
 * folded-sum kernel. */
#define DP_SHORT_K 128
/* Decode (one x row, K > DP_SHORT_K) against the rows n = start[s] + i, s < B16_FAR_STREAMS,
 * i < count, one from each start at a time: each start is its own stream of DRAM reads (one
 * core reads more across several far-apart streams than along one; see qk_rows_far_avx512;
 * 8 streams measured 16-27% faster than 4 streams of 2 rows, docs/performance.md). With xb
 * (bf16 x, bf16 weights) the arithmetic of gemv_bf16dp_avx512, else that of gemv_f32x_avx512
 * (x float32, weights widened): the same bits as those. */
#define B16_FAR_STREAMS 8 /* the kernel's 8 rows: one per stream */
void gemv_b16_far_avx512(int64_t K, const float *x, const uint16_t *xb, const uint16_t *w, int64_t ldw, int w_bf16,
                         const int64_t *start, int64_t count, float alpha, float *C, int accumulate);
void gemv_f32x_avx512(int64_t M, int64_t n0, int64_t n1, int64_t K, const float *x, const uint16_t *w,
                      int64_t ldw, int w_bf16, float alpha, float *C, int64_t ldc, int accumulate);
void gemv_f32x_avx2(int64_t M, int64_t n0, int64_t n1, int64_t K, const float *x, const uint16_t *w,
                    int64_t ldw, int w_bf16, float alpha, float *C, int64_t ldc, int accumulate);

#endif
