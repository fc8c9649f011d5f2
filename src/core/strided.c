#include "core/strided.h"

#include <string.h>

#include "core/dtype.h"

void mx_nditer_init(mx_nditer *it, int ndim, const int64_t *shape, const int64_t *strides) {
    int n = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue; /* size-1 dims never move */
        if (n > 0 && it->strides[n - 1] == strides[d] * shape[d]) {
            it->shape[n - 1] *= shape[d];
            it->strides[n - 1] = strides[d];
        } else {
            it->shape[n] = shape[d];
            it->strides[n] = strides[d];
            n++;
        }
    }
    it->ndim = n;
    memset(it->idx, 0, sizeof it->idx);
    it->off = 0;
}

void mx_nditer_seek(mx_nditer *it, int64_t flat) {
    it->off = 0;
    for (int d = it->ndim - 1; d >= 0; d--) {
        it->idx[d] = flat % it->shape[d];
        flat /= it->shape[d];
        it->off += it->idx[d] * it->strides[d];
    }
}

void mx_broadcast_strides(const mx_array *a, int out_ndim, const int64_t *out_shape, int64_t *strides) {
    int lead = out_ndim - a->ndim;
    for (int d = 0; d < out_ndim; d++) {
        if (d < lead) strides[d] = 0;
        else strides[d] = a->shape[d - lead] == 1 && out_shape[d] != 1 ? 0 : a->strides[d - lead];
    }
}

/* dst holds one element of `size` bytes: repeat it to fill n elements, doubling the copied
 * block each time (log2(n) memcpy calls instead of one conversion call per element). */
static void fill_repeat(char *dst, size_t size, int64_t n) {
    int64_t have = 1;
    while (have < n) {
        int64_t m = have < n - have ? have : n - have;
        memcpy(dst + have * (int64_t)size, dst, (size_t)m * size);
        have += m;
    }
}

void mx_copy_strided(const mx_array *a, mx_dtype dt, void *dst, int64_t start, int64_t count) {
    if (count <= 0) return;
    const char *src = mx_array_ptr(a);
    size_t ss = mx_dtype_size(a->dtype), ds = mx_dtype_size(dt);
    if (a->flags & MX_FLAG_ROW_CONTIG) {
        mx_convert(src + start * (int64_t)ss, a->dtype, dst, dt, count);
        return;
    }
    /* One element broadcast everywhere (mx_zeros / mx_full make their result this way, e.g.
     * each 256-position growth of the KV cache): convert it once and replicate. */
    int one_element = 1;
    for (int d = 0; d < a->ndim; d++)
        if (a->strides[d] != 0 && a->shape[d] != 1) one_element = 0;
    if (one_element) {
        mx_convert(src, a->dtype, dst, dt, 1);
        fill_repeat(dst, ds, count);
        return;
    }
    mx_nditer it;
    mx_nditer_init(&it, a->ndim, a->shape, a->strides);
    mx_nditer_seek(&it, start);
    /* Convert runs along the innermost dimension in one call each. */
    int64_t inner = it.ndim ? it.shape[it.ndim - 1] : 1;
    int64_t istride = it.ndim ? it.strides[it.ndim - 1] : 0;
    char *out = dst;
    int64_t done = 0;
    while (done < count) {
        int64_t pos = it.ndim ? it.idx[it.ndim - 1] : 0;
        int64_t run = inner - pos;
        if (run > count - done) run = count - done;
        if (istride == 1) {
            mx_convert(src + it.off * (int64_t)ss, a->dtype, out + done * (int64_t)ds, dt, run);
        } else if (istride == 0) { /* a row broadcast along the innermost axis */
            mx_convert(src + it.off * (int64_t)ss, a->dtype, out + done * (int64_t)ds, dt, 1);
            fill_repeat(out + done * (int64_t)ds, ds, run);
        } else if (dt == a->dtype) {
            for (int64_t k = 0; k < run; k++)
                memcpy(out + (done + k) * (int64_t)ds, src + (it.off + k * istride) * (int64_t)ss, ss);
        } else {
            for (int64_t k = 0; k < run; k++)
                mx_convert(src + (it.off + k * istride) * (int64_t)ss, a->dtype, out + (done + k) * (int64_t)ds, dt, 1);
        }
        done += run;
        /* advance the iterator by `run` elements */
        if (it.ndim) {
            it.idx[it.ndim - 1] += run - 1;
            it.off += (run - 1) * istride;
            mx_nditer_next(&it);
        }
    }
}
