/* Reading and writing one line of an array (elements spaced by a stride along one axis):
 * what the reduction, scan and sort kernels work on. Offsets are in elements relative to the
 * start of the array's buffer. */
#ifndef CMLX_CPU_LINES_H
#define CMLX_CPU_LINES_H

#include <string.h>

#include "core/array_impl.h"
#include "core/dtype.h"

/* Memory offset of row-major element number `flat` of shape[0..nd) laid out with strides. */
static inline int64_t cpu_flat_offset(int nd, const int64_t *shape, const int64_t *strides, int64_t flat) {
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; d--) {
        off += (flat % shape[d]) * strides[d];
        flat /= shape[d];
    }
    return off;
}

/* Copies n elements of width es from src (element stride sstride) to dst (stride dstride). */
static inline void cpu_copy_elems(char *dst, int64_t dstride, const char *src, int64_t sstride, int64_t n,
                                  size_t es) {
    switch (es) {
    case 1: for (int64_t i = 0; i < n; i++) dst[i * dstride] = src[i * sstride]; break;
    case 2:
        for (int64_t i = 0; i < n; i++) memcpy(dst + 2 * i * dstride, src + 2 * i * sstride, 2);
        break;
    case 4:
        for (int64_t i = 0; i < n; i++) memcpy(dst + 4 * i * dstride, src + 4 * i * sstride, 4);
        break;
    default:
        for (int64_t i = 0; i < n; i++) memcpy(dst + 8 * i * dstride, src + 8 * i * sstride, 8);
        break;
    }
}

/* n elements of a from buffer offset `off`, `stride` apart, converted to dt into dst. */
static inline void cpu_load_line(const mx_array *a, int64_t off, int64_t stride, int64_t n, mx_dtype dt,
                                 void *dst) {
    size_t es = mx_dtype_size(a->dtype), ds = mx_dtype_size(dt);
    const char *src = (const char *)a->buf->data + off * (int64_t)es;
    if (stride == 1) {
        mx_convert(src, a->dtype, dst, dt, n);
        return;
    }
    if (dt == a->dtype) {
        cpu_copy_elems(dst, 1, src, stride, n, es);
        return;
    }
    _Alignas(64) char tmp[256 * 8]; /* gather a block, then convert it in one call */
    for (int64_t s = 0; s < n; s += 256) {
        int64_t m = n - s < 256 ? n - s : 256;
        cpu_copy_elems(tmp, 1, src + s * stride * (int64_t)es, stride, m, es);
        mx_convert(tmp, a->dtype, (char *)dst + s * (int64_t)ds, dt, m);
    }
}

/* n values of type st from src, converted to out's dtype, written at buffer offset `off`
 * of out, `stride` apart. */
static inline void cpu_store_line(mx_array *out, int64_t off, int64_t stride, int64_t n, const void *src,
                                  mx_dtype st) {
    size_t es = mx_dtype_size(out->dtype), ss = mx_dtype_size(st);
    char *dst = (char *)out->buf->data + off * (int64_t)es;
    if (stride == 1) {
        mx_convert(src, st, dst, out->dtype, n);
        return;
    }
    _Alignas(64) char tmp[256 * 8];
    for (int64_t s = 0; s < n; s += 256) {
        int64_t m = n - s < 256 ? n - s : 256;
        mx_convert((const char *)src + s * (int64_t)ss, st, tmp, out->dtype, m);
        cpu_copy_elems(dst + s * stride * (int64_t)es, stride, tmp, 1, m, es);
    }
}

#endif
