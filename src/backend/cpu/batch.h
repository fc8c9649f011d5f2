/* Walking the batch dimensions (all but the last two) of matrix operands, shared by the
 * float and quantized matrix products. */
#ifndef CMLX_CPU_BATCH_H
#define CMLX_CPU_BATCH_H

#include "core/array_impl.h"

/* Offset (elements) of matrix number `flat` of x's batch (x.shape[:-2], row-major). */
static inline int64_t cpu_batch_offset(const mx_array *x, int64_t flat) {
    int64_t off = 0;
    for (int d = x->ndim - 3; d >= 0; d--) {
        off += (flat % x->shape[d]) * x->strides[d];
        flat /= x->shape[d];
    }
    return off;
}

/* Number of matrices in x's batch. */
static inline int64_t cpu_batch_count(const mx_array *x) {
    int64_t n = 1;
    for (int d = 0; d < x->ndim - 2; d++) n *= x->shape[d];
    return n;
}

#endif
