#include "backend/cpu/chunk.h"

#include <stdint.h>
#include <string.h>

#include "core/dtype.h"
#include "core/strided.h"

void cpu_load_broadcast(const mx_array *a, int ndim, const int64_t *shape, int64_t start, int64_t n,
                        mx_dtype dt, void *dst) {
    size_t ds = mx_dtype_size(dt);
    if (a->size == 1) { /* a scalar: one conversion, then a fill (a memcpy a value cost ~5 ns) */
        mx_convert(mx_array_ptr(a), a->dtype, dst, dt, 1);
        if (ds == 4) {
            uint32_t v, *d = dst;
            memcpy(&v, dst, 4);
            for (int64_t i = 1; i < n; i++) d[i] = v;
        } else if (ds == 8) {
            uint64_t v, *d = dst;
            memcpy(&v, dst, 8);
            for (int64_t i = 1; i < n; i++) d[i] = v;
        } else {
            for (int64_t i = 1; i < n; i++) memcpy((char *)dst + i * (int64_t)ds, dst, ds);
        }
        return;
    }
    int same = a->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = a->shape[d] == shape[d];
    if (same) {
        mx_copy_strided(a, dt, dst, start, n);
        return;
    }
    /* A broadcast view of a: same memory, output shape, zero strides where broadcast. */
    mx_array v = *a;
    v.ndim = ndim;
    for (int d = 0; d < ndim; d++) v.shape[d] = shape[d];
    mx_broadcast_strides(a, ndim, shape, v.strides);
    v.size = 1;
    for (int d = 0; d < ndim; d++) v.size *= shape[d];
    mx_update_flags(&v);
    mx_copy_strided(&v, dt, dst, start, n);
}
