/* CPU kernel of arange: value i is start + i*step, computed in double then converted. */
#include "backend/cpu/kernels.h"
#include "core/dtype.h"
#include "ops/views.h"

int cpu_arange(const mx_kernel_ctx *c) {
    const mx_arange_params *p = c->params;
    mx_array *out = c->outputs[0];
    if (mx_out_alloc(out)) return -1;
    char *o = mx_array_ptr(out);
    for (int64_t i = 0; i < out->size; i++) mx_store_double(o, out->dtype, i, p->start + (double)i * p->step);
    return 0;
}
