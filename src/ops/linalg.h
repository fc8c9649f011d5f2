/* Parameters of the linear-algebra primitives (matmul, addmm, gather_mm), shared by the
 * op builders (src/ops/linalg.c) and the CPU kernels (src/backend/cpu/matmul.c).
 *
 * Node inputs:
 *   MATMUL    [a, b]                          a [..., M, K], b [..., K, N] (both >= 2-D)
 *   ADDMM     [a, b, c]                       c broadcasts to the output
 *   GATHER_MM [a, b, lhs_indices, rhs_indices] (indices already broadcast-compatible)
 * Batch dimensions broadcast; kernels read every input through its strides. */
#ifndef CMLX_OPS_LINALG_H
#define CMLX_OPS_LINALG_H

typedef struct {
    float alpha;     /* addmm: alpha * (a @ b) + beta * c; matmul: 1, 0 */
    float beta;
} mx_matmul_params;

#endif
