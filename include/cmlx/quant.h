/* Quantization in MLX's formats (see ../shared/formats/mlx-quant.md).
 *
 * affine: per group of `group_size` values along the last axis, w = scale * q + bias, with
 * q of `bits` bits (2, 3, 4, 5, 6, 8) packed as one little-endian bit stream per row into
 * uint32 words (value i at bits [i*bits, (i+1)*bits)); scales and biases in w's dtype,
 * shape [..., rows, cols / group_size]. group_size 32, 64 or 128. Quantization is bit-exact
 * with MLX's CPU kernel.
 * mxfp4 (group 32, 4-bit E2M1, uint8 E8M0 scales), mxfp8 (group 32, E4M3, E8M0 scales),
 * nvfp4 (group 16, E2M1, E4M3 scales): no biases. */
#ifndef CMLX_QUANT_H
#define CMLX_QUANT_H

#include "cmlx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mx_quant_mode { MX_QUANT_AFFINE = 0, MX_QUANT_MXFP4, MX_QUANT_MXFP8, MX_QUANT_NVFP4 } mx_quant_mode;

/* Parses "affine", "mxfp4", "mxfp8", "nvfp4"; -1 (error set) otherwise. */
int mx_quant_mode_from_string(const char *s, mx_quant_mode *mode);

/* Quantizes w [..., rows, cols] (float32, float16 or bfloat16). Outputs are new references;
 * *biases is NULL for the fp modes. In every function here, group_size or bits <= 0 means
 * the mode's default (affine: 64 and 4; mxfp4: 32, 4; mxfp8: 32, 8; nvfp4: 16, 4). 0 or -1. */
int mx_quantize(const mx_array *w, int group_size, int bits, mx_quant_mode mode, mx_array **wq,
                mx_array **scales, mx_array **biases);
/* The float weights back, in the dtype of scales (affine) or float32/`dtype` when given
 * (pass MX_DTYPE_COUNT to use the default). */
mx_array *mx_dequantize(const mx_array *wq, const mx_array *scales, const mx_array *biases, int group_size,
                        int bits, mx_quant_mode mode, mx_dtype dtype);
/* x @ dequantize(w).T when transpose (w is [..., out, in], the Linear layout), else
 * x @ dequantize(w). Batch dimensions broadcast as in matmul. */
mx_array *mx_quantized_matmul(const mx_array *x, const mx_array *wq, const mx_array *scales,
                              const mx_array *biases, int transpose, int group_size, int bits,
                              mx_quant_mode mode);
/* Mixture-of-experts product: like quantized_matmul with the batch of x taken at lhs_indices
 * and the expert matrix (w is [E, out, in]) at rhs_indices; either index array may be NULL.
 * sorted_indices is a hint that rhs_indices are sorted. */
mx_array *mx_gather_qmm(const mx_array *x, const mx_array *wq, const mx_array *scales, const mx_array *biases,
                        const mx_array *lhs_indices, const mx_array *rhs_indices, int transpose,
                        int group_size, int bits, mx_quant_mode mode, int sorted_indices);

#ifdef __cplusplus
}
#endif
#endif
