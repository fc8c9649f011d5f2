/* The back-end interface.
 *
 * A back end is a table of kernels indexed by primitive id (src/core/primitives.h) plus a
 * few device hooks. Ops never call a back end: eval looks up the node's primitive in the
 * table of the back end that owns the node's stream's device. A missing entry makes eval
 * fail with "[name] has no <backend> kernel", never crash. A new back end (CUDA) provides its
 * own table; nothing in src/ops changes.
 *
 * Kernel contract: inputs are available (buffers set, any strides); outputs are shells with
 * shape and dtype. A kernel gives every output a buffer, either a fresh one
 * (mx_out_alloc), one donated by an input (mx_out_alloc_donate), or a view of an input's
 * buffer (mx_out_view). It returns 0, or -1 with mx_set_error naming the op.
 */
#ifndef CMLX_BACKEND_H
#define CMLX_BACKEND_H

#include "core/array_impl.h"

typedef struct mx_kernel_ctx {
    int prim;
    const void *params;
    mx_array *const *inputs;
    int n_inputs;
    mx_array *const *outputs;
    int n_outputs;
    mx_stream stream;
} mx_kernel_ctx;

typedef int (*mx_kernel_fn)(const mx_kernel_ctx *ctx);

typedef struct mx_backend {
    const char *name;                    /* "CPU", "CUDA" */
    mx_device_type device;
    const mx_kernel_fn *kernels;         /* MX_PRIM_COUNT entries, NULL = unsupported */
    /* 1 when usable; 0 with the reason set (e.g. "cmlx was built without CUDA"). */
    int (*available)(void);
    /* Waits until the device has finished the work of a stream (no-op on CPU). */
    int (*synchronize)(mx_stream s);
} mx_backend;

const mx_backend *mx_backend_for(mx_device_type d);
extern const mx_backend mx_cpu_backend;
extern const mx_backend mx_cuda_backend;   /* src/backend/none when built without CUDA */

/* ---- output helpers for kernels (src/backend/output.c) ---- */
/* A fresh row-contiguous buffer for out. */
int mx_out_alloc(mx_array *out);
/* Reuses in's buffer for out when in has no other user and the sizes match (MLX's
 * donation); else allocates. Returns 1 when donated, 0 when allocated, -1 on error. */
int mx_out_alloc_donate(mx_array *out, mx_array *in);
/* out shares in's buffer with the given element offset (relative to in's buffer) and
 * strides. */
void mx_out_view(mx_array *out, const mx_array *in, int64_t offset, const int64_t *strides);
/* Whether in's buffer may be taken over (no other array or view uses it). */
int mx_is_donatable(const mx_array *in);

#endif
