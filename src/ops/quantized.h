/* Parameters of the quantization primitives, shared by the op builders (src/ops/quantized.c)
 * and the CPU kernels (src/backend/cpu/quantize.c, qmm.c).
 *
 * Node inputs / outputs (biases only in affine mode):
 *   QUANTIZE          [w]                                   -> wq, scales[, biases]
 *   DEQUANTIZE        [wq, scales[, biases]]                -> w
 *   QUANTIZED_MATMUL  [x, wq, scales[, biases]]             x >= 2-D; out [batch.., M, N]
 *   GATHER_QMM        [x, wq, scales[, biases], lhs, rhs]   lhs / rhs broadcast-compatible */
#ifndef CMLX_OPS_QUANTIZED_H
#define CMLX_OPS_QUANTIZED_H

typedef struct {
    int group_size;
    int bits;
    int mode;        /* mx_quant_mode */
    int transpose;   /* products: x @ w.T (w is [..., out, in]) */
} mx_quant_params;

#endif
