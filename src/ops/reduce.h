/* Parameters of the reduction primitives (REDUCE, LOGSUMEXP, ARG_REDUCE, SOFTMAX), shared by
 * the op builders (src/ops/reduce.c) and the kernels (src/backend/cpu/reduce.c). */
#ifndef CMLX_OPS_REDUCE_H
#define CMLX_OPS_REDUCE_H

#include <stdint.h>

typedef enum {
    MX_RED_SUM, MX_RED_PROD, MX_RED_MAX, MX_RED_MIN, MX_RED_ALL, MX_RED_ANY,
    MX_RED_MEAN, MX_RED_VAR, MX_RED_STD, MX_RED_LOGSUMEXP, MX_RED_COUNT
} mx_reduce_op;

/* REDUCE and LOGSUMEXP. The output holds one element per combination of the kept axes, in
 * row-major order (with or without the size-1 kept dimensions: the kernel does not care). */
typedef struct {
    int op;          /* mx_reduce_op */
    int ddof;        /* var/std: divisor is max(N - ddof, 0) */
    uint32_t axes;   /* bit i set: input axis i is reduced */
} mx_reduce_params;

typedef enum { MX_ARG_MAX, MX_ARG_MIN } mx_arg_reduce_op;

/* ARG_REDUCE: uint32 index along `axis`, first on ties, first NaN wins (as NumPy). */
typedef struct {
    int op;          /* mx_arg_reduce_op */
    int axis;        /* normalised */
} mx_arg_reduce_params;

/* SOFTMAX over the last axis, always computed in float32 (float64 for float64 inputs). */
typedef struct {
    int precise;     /* recorded for graph identity; 16-bit inputs are computed in float32 anyway */
} mx_softmax_params;

const char *mx_reduce_name(int op);

#endif
