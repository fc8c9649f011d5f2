/* How kernels give their outputs memory: fresh, donated, or a view. */
#include "backend/backend.h"

#include "core/dtype.h"

int mx_out_alloc(mx_array *out) {
    mx_buffer *b = mx_buffer_alloc(mx_nbytes(out));
    if (!b) return -1;
    out->buf = b;
    out->offset = 0;
    mx_set_row_strides(out);
    return 0;
}

int mx_is_donatable(const mx_array *in) {
    return atomic_load(&in->refs) == 1 && in->buf && !in->buf->external && atomic_load(&in->buf->refs) == 1 &&
           (in->flags & MX_FLAG_ROW_CONTIG) && in->offset == 0;
}

int mx_out_alloc_donate(mx_array *out, mx_array *in) {
    if (mx_is_donatable(in) && mx_dtype_size(in->dtype) == mx_dtype_size(out->dtype) && in->size == out->size &&
        in->buf->size >= mx_nbytes(out)) {
        mx_buffer_retain(in->buf);
        out->buf = in->buf;
        out->offset = 0;
        mx_set_row_strides(out);
        return 1;
    }
    return mx_out_alloc(out) ? -1 : 0;
}

void mx_out_view(mx_array *out, const mx_array *in, int64_t offset, const int64_t *strides) {
    mx_buffer_retain(in->buf);
    out->buf = in->buf;
    out->offset = offset;
    for (int i = 0; i < out->ndim; i++) out->strides[i] = strides[i];
    mx_update_flags(out);
}
