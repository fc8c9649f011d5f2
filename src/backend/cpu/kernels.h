/* CPU kernels, one family per file; each is listed in cpu_backend.c's table. */
#ifndef CMLX_CPU_KERNELS_H
#define CMLX_CPU_KERNELS_H

#include "backend/backend.h"

int cpu_arange(const mx_kernel_ctx *c);
int cpu_unary(const mx_kernel_ctx *c);
int cpu_binary(const mx_kernel_ctx *c);
int cpu_where(const mx_kernel_ctx *c);
int cpu_astype(const mx_kernel_ctx *c);
int cpu_copy(const mx_kernel_ctx *c);
int cpu_reshape(const mx_kernel_ctx *c);
int cpu_transpose(const mx_kernel_ctx *c);
int cpu_slice(const mx_kernel_ctx *c);
int cpu_broadcast(const mx_kernel_ctx *c);
int cpu_custom(const mx_kernel_ctx *c);
int cpu_placeholder(const mx_kernel_ctx *c); /* compile's trace inputs: always an error */
int cpu_fused(const mx_kernel_ctx *c);       /* compile's fused elementwise chains */
int cpu_quantize(const mx_kernel_ctx *c);
int cpu_dequantize(const mx_kernel_ctx *c);
int cpu_quantized_matmul(const mx_kernel_ctx *c);
int cpu_gather_qmm(const mx_kernel_ctx *c);
int cpu_matmul(const mx_kernel_ctx *c);      /* matmul and addmm */
int cpu_gather_mm(const mx_kernel_ctx *c);
int cpu_concatenate(const mx_kernel_ctx *c);
int cpu_slice_update(const mx_kernel_ctx *c);
int cpu_take(const mx_kernel_ctx *c);
int cpu_take_along_axis(const mx_kernel_ctx *c);
int cpu_put_along_axis(const mx_kernel_ctx *c);
int cpu_scatter(const mx_kernel_ctx *c);
int cpu_random_bits(const mx_kernel_ctx *c);
int cpu_rms_norm(const mx_kernel_ctx *c);       /* norm.c, rope.c, sdpa.c: fused fast ops */
int cpu_layer_norm(const mx_kernel_ctx *c);
int cpu_rope(const mx_kernel_ctx *c);
int cpu_sdpa(const mx_kernel_ctx *c);
int cpu_reduce(const mx_kernel_ctx *c);      /* reduce.c: reductions, arg reductions, softmax */
int cpu_logsumexp(const mx_kernel_ctx *c);
int cpu_arg_reduce(const mx_kernel_ctx *c);
int cpu_softmax(const mx_kernel_ctx *c);
int cpu_scan(const mx_kernel_ctx *c);
int cpu_sort(const mx_kernel_ctx *c);        /* sort.c */
int cpu_argsort(const mx_kernel_ctx *c);
int cpu_partition(const mx_kernel_ctx *c);
int cpu_argpartition(const mx_kernel_ctx *c);

/* The float32 loops of the unary and binary families (elementwise.c), shared with the fused
 * chains so that both give the same bits: r[i] = op(x[i]) / op(x[i], y[i]). */
void cpu_unary_f32(int op, int decimals, const float *x, float *r, int64_t n);
void cpu_binary_f32(int op, const float *x, const float *y, float *r, int64_t n);

#endif
