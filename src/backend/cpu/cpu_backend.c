/* The CPU back end: its kernel table. Add a kernel here when its family file exists. */
#include "backend/cpu/kernels.h"

static const mx_kernel_fn cpu_kernels[MX_PRIM_COUNT] = {
    [MX_PRIM_ARANGE] = cpu_arange,
    [MX_PRIM_UNARY] = cpu_unary,
    [MX_PRIM_BINARY] = cpu_binary,
    [MX_PRIM_WHERE] = cpu_where,
    [MX_PRIM_ASTYPE] = cpu_astype,
    [MX_PRIM_COPY] = cpu_copy,
    [MX_PRIM_RESHAPE] = cpu_reshape,
    [MX_PRIM_TRANSPOSE] = cpu_transpose,
    [MX_PRIM_SLICE] = cpu_slice,
    [MX_PRIM_BROADCAST] = cpu_broadcast,
    [MX_PRIM_CUSTOM] = cpu_custom,
    [MX_PRIM_PLACEHOLDER] = cpu_placeholder,
    [MX_PRIM_FUSED] = cpu_fused,
    [MX_PRIM_QUANTIZE] = cpu_quantize,
    [MX_PRIM_DEQUANTIZE] = cpu_dequantize,
    [MX_PRIM_QUANTIZED_MATMUL] = cpu_quantized_matmul,
    [MX_PRIM_GATHER_QMM] = cpu_gather_qmm,
    [MX_PRIM_MATMUL] = cpu_matmul,
    [MX_PRIM_ADDMM] = cpu_matmul,
    [MX_PRIM_GATHER_MM] = cpu_gather_mm,
    [MX_PRIM_CONCATENATE] = cpu_concatenate,
    [MX_PRIM_SLICE_UPDATE] = cpu_slice_update,
    [MX_PRIM_TAKE] = cpu_take,
    [MX_PRIM_TAKE_ALONG_AXIS] = cpu_take_along_axis,
    [MX_PRIM_SCATTER_ALONG_AXIS] = cpu_put_along_axis,
    [MX_PRIM_SCATTER] = cpu_scatter,
    [MX_PRIM_RANDOM_BITS] = cpu_random_bits,
    [MX_PRIM_RMS_NORM] = cpu_rms_norm,
    [MX_PRIM_LAYER_NORM] = cpu_layer_norm,
    [MX_PRIM_ROPE] = cpu_rope,
    [MX_PRIM_SDPA] = cpu_sdpa,
    [MX_PRIM_REDUCE] = cpu_reduce,
    [MX_PRIM_LOGSUMEXP] = cpu_logsumexp,
    [MX_PRIM_ARG_REDUCE] = cpu_arg_reduce,
    [MX_PRIM_SOFTMAX] = cpu_softmax,
    [MX_PRIM_SCAN] = cpu_scan,
    [MX_PRIM_SORT] = cpu_sort,
    [MX_PRIM_ARGSORT] = cpu_argsort,
    [MX_PRIM_PARTITION] = cpu_partition,
    [MX_PRIM_ARGPARTITION] = cpu_argpartition,
};

static int cpu_available(void) { return 1; }

static int cpu_synchronize(mx_stream s) {
    (void)s;
    return 0;
}

const mx_backend mx_cpu_backend = {
    .name = "CPU",
    .device = MX_CPU,
    .kernels = cpu_kernels,
    .available = cpu_available,
    .synchronize = cpu_synchronize,
};
