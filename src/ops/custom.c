/* mx_custom: a user function as a primitive (see include/cmlx/custom.h). */
#include "cmlx/custom.h"
#include "core/array_impl.h"
#include "ops/custom.h"

mx_array *mx_custom(mx_custom_fn fn, void *ctx, const mx_array *const *inputs, int n_inputs,
                    const int64_t *shape, int ndim, mx_dtype dtype) {
    if (!fn) {
        mx_set_error("[custom] no function given");
        return NULL;
    }
    mx_custom_params p = {fn, ctx};
    return mx_node_create1(MX_PRIM_CUSTOM, &p, sizeof p, (mx_array *const *)inputs, n_inputs, dtype, shape, ndim);
}
