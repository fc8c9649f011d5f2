/* CPU kernels of the view primitives: they share the input's buffer and only compute new
 * strides and offsets; reshape copies only when the input's layout cannot be reshaped
 * in place. */
#include "backend/cpu/kernels.h"
#include "core/strided.h"
#include "ops/views.h"

/* Strides that let `in`'s memory be read as `out`'s shape, when they exist (every output
 * dimension maps onto a run of input dimensions that are contiguous with each other). */
static int reshape_strides(const mx_array *in, const mx_array *out, int64_t *strides) {
    /* Merge input dims into contiguous groups (ignoring size-1 dims). */
    int64_t gsize[MX_MAX_NDIM], gstride[MX_MAX_NDIM];
    int g = 0;
    for (int d = 0; d < in->ndim; d++) {
        if (in->shape[d] == 1) continue;
        if (g > 0 && gstride[g - 1] == in->strides[d] * in->shape[d]) {
            gsize[g - 1] *= in->shape[d];
            gstride[g - 1] = in->strides[d];
        } else {
            gsize[g] = in->shape[d];
            gstride[g] = in->strides[d];
            g++;
        }
    }
    /* Walk output dims from the right, consuming each group. */
    int gi = g - 1;
    int64_t left = gi >= 0 ? gsize[gi] : 1, st = gi >= 0 ? gstride[gi] : 1;
    for (int d = out->ndim - 1; d >= 0; d--) {
        int64_t s = out->shape[d];
        if (s == 1) {
            strides[d] = st * left;
            continue;
        }
        if (gi < 0 || left % s) return 0;
        strides[d] = st;
        st *= s;
        left /= s;
        if (left == 1 && gi > 0) {
            gi--;
            left = gsize[gi];
            st = gstride[gi];
        } else if (left == 1) {
            gi = -1;
        }
    }
    return 1;
}

int cpu_reshape(const mx_kernel_ctx *c) {
    mx_array *in = c->inputs[0], *out = c->outputs[0];
    int64_t strides[MX_MAX_NDIM] = {0};
    if (in->flags & MX_FLAG_ROW_CONTIG) {
        mx_out_view(out, in, in->offset, strides);
        mx_set_row_strides(out);
        return 0;
    }
    if (out->size > 0 && reshape_strides(in, out, strides)) {
        mx_out_view(out, in, in->offset, strides);
        return 0;
    }
    if (mx_out_alloc(out)) return -1;
    mx_copy_strided(in, out->dtype, mx_array_ptr(out), 0, out->size);
    return 0;
}

int cpu_transpose(const mx_kernel_ctx *c) {
    const mx_transpose_params *p = c->params;
    mx_array *in = c->inputs[0], *out = c->outputs[0];
    int64_t strides[MX_MAX_NDIM];
    for (int i = 0; i < out->ndim; i++) strides[i] = in->strides[p->perm[i]];
    mx_out_view(out, in, in->offset, strides);
    return 0;
}

int cpu_slice(const mx_kernel_ctx *c) {
    const mx_slice_params *p = c->params;
    mx_array *in = c->inputs[0], *out = c->outputs[0];
    int64_t strides[MX_MAX_NDIM], off = in->offset;
    for (int i = 0; i < out->ndim; i++) {
        off += p->start[i] * in->strides[i];
        strides[i] = in->strides[i] * p->step[i];
    }
    mx_out_view(out, in, off, strides);
    return 0;
}

int cpu_broadcast(const mx_kernel_ctx *c) {
    mx_array *in = c->inputs[0], *out = c->outputs[0];
    int64_t strides[MX_MAX_NDIM];
    mx_broadcast_strides(in, out->ndim, out->shape, strides);
    mx_out_view(out, in, in->offset, strides);
    return 0;
}
