/* Custom ops: a C function as a graph node, for extensions and tests.
 *
 * The function runs on the stream's worker thread when the node is evaluated. Its inputs
 * are available arrays (read them with mx_read or, when contiguous, mx_data); it writes
 * the row-major result into `out` (mx_size * dtype size bytes) and returns 0, or -1 after
 * mx_set_error. `ctx` must stay valid until the node has run or been freed. */
#ifndef CMLX_CUSTOM_H
#define CMLX_CUSTOM_H

#include "cmlx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*mx_custom_fn)(void *ctx, mx_array *const *inputs, int n_inputs, void *out,
                            const int64_t *shape, int ndim, mx_dtype dtype);

mx_array *mx_custom(mx_custom_fn fn, void *ctx, const mx_array *const *inputs, int n_inputs,
                    const int64_t *shape, int ndim, mx_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
