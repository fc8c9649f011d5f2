/* The closed list of primitives. A primitive id indexes each back end's kernel table
 * (src/backend/backend.h). Families with many members (unary, binary, reduce, ...) are one
 * primitive with the member in their params, so kernels stay per family.
 * X(ID, "name") */
#ifndef CMLX_CORE_PRIMITIVES_H
#define CMLX_CORE_PRIMITIVES_H

#define MX_PRIMITIVES(X)                         \
    X(ARANGE, "arange")                          \
    X(UNARY, "unary")                            \
    X(BINARY, "binary")                          \
    X(WHERE, "where")                            \
    X(ASTYPE, "astype")                          \
    X(COPY, "copy")                              \
    X(RESHAPE, "reshape")                        \
    X(TRANSPOSE, "transpose")                    \
    X(SLICE, "slice")                            \
    X(BROADCAST, "broadcast_to")                 \
    X(CONCATENATE, "concatenate")                \
    X(SLICE_UPDATE, "slice_update")              \
    X(TAKE, "take")                              \
    X(TAKE_ALONG_AXIS, "take_along_axis")        \
    X(SCATTER_ALONG_AXIS, "put_along_axis")      \
    X(SCATTER, "scatter")                        \
    X(REDUCE, "reduce")                          \
    X(ARG_REDUCE, "arg_reduce")                  \
    X(SCAN, "scan")                              \
    X(SOFTMAX, "softmax")                        \
    X(LOGSUMEXP, "logsumexp")                    \
    X(SORT, "sort")                              \
    X(ARGSORT, "argsort")                        \
    X(PARTITION, "partition")                    \
    X(ARGPARTITION, "argpartition")              \
    X(MATMUL, "matmul")                          \
    X(ADDMM, "addmm")                            \
    X(GATHER_MM, "gather_mm")                    \
    X(RANDOM_BITS, "random_bits")                \
    X(RMS_NORM, "rms_norm")                      \
    X(LAYER_NORM, "layer_norm")                  \
    X(ROPE, "rope")                              \
    X(SDPA, "scaled_dot_product_attention")      \
    X(QUANTIZE, "quantize")                      \
    X(DEQUANTIZE, "dequantize")                  \
    X(QUANTIZED_MATMUL, "quantized_matmul")      \
    X(GATHER_QMM, "gather_qmm")                  \
    X(CUSTOM, "custom")                          \
    X(PLACEHOLDER, "placeholder")                \
    X(FUSED, "compiled")

typedef enum mx_prim_id {
#define MX_PRIM_ENUM(id, name) MX_PRIM_##id,
    MX_PRIMITIVES(MX_PRIM_ENUM)
#undef MX_PRIM_ENUM
    MX_PRIM_COUNT
} mx_prim_id;

const char *mx_prim_name(int id);

#endif
