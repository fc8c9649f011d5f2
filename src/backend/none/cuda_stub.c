/* The CUDA back end when cmlx is built without CUDA: every query answers so. */
#include "backend/backend.h"

static int cuda_unavailable(void) { return mx_set_error("cmlx was built without CUDA"), 0; }

static int cuda_sync(mx_stream s) {
    (void)s;
    return mx_set_error("cmlx was built without CUDA");
}

static const mx_kernel_fn no_kernels[MX_PRIM_COUNT];

const mx_backend mx_cuda_backend = {
    .name = "CUDA",
    .device = MX_GPU,
    .kernels = no_kernels,
    .available = cuda_unavailable,
    .synchronize = cuda_sync,
};
