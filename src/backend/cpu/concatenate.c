/* CPU kernel of concatenate. Seen as (before, axis, after), every input is `before` blocks
 * of axis_k * after elements that land side by side in each output row: a row-contiguous
 * input is one memcpy per block (concatenating a [B, H, T, D] cache along T copies B*H
 * blocks of T*D elements), any other layout goes through the strided copier. */
#include <string.h>

#include "backend/cpu/chunk.h"
#include "backend/cpu/kernels.h"
#include "core/strided.h"
#include "ops/indexing.h"

int cpu_concatenate(const mx_kernel_ctx *c) {
    const mx_axis_params *p = c->params;
    mx_array *out = c->outputs[0];
    if (mx_out_alloc(out)) return -1;
    if (out->size == 0) return 0;
    int ax = p->axis;
    int64_t before = 1, after = 1;
    for (int d = 0; d < ax; d++) before *= out->shape[d];
    for (int d = ax + 1; d < out->ndim; d++) after *= out->shape[d];
    size_t es = mx_dtype_size(out->dtype);
    int64_t out_row = out->shape[ax] * after; /* elements per output block */
    char *o = mx_array_ptr(out);
    int64_t col = 0;                          /* where this input starts within a row */
    for (int k = 0; k < c->n_inputs; k++) {
        mx_array *in = c->inputs[k];
        int64_t blk = in->shape[ax] * after;
        if (blk == 0) continue;
        int contig = (in->flags & MX_FLAG_ROW_CONTIG) != 0;
        const char *src = mx_array_ptr(in);
        char *dst = o + col * (int64_t)es;
#pragma omp parallel for if (cpu_parallel_worth(before * blk) && before > 1)
        for (int64_t b = 0; b < before; b++) {
            if (contig) memcpy(dst + b * out_row * (int64_t)es, src + b * blk * (int64_t)es, (size_t)blk * es);
            else mx_copy_strided(in, out->dtype, dst + b * out_row * (int64_t)es, b * blk, blk);
        }
        col += blk;
    }
    return 0;
}
