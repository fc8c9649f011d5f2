/* Reading array contents from C: data pointers, copies, items, printing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/array_impl.h"
#include "core/dtype.h"
#include "core/strided.h"

const void *mx_data(mx_array *a) {
    if (!a || mx_eval1(a)) return NULL;
    if (!(a->flags & MX_FLAG_ROW_CONTIG)) {
        mx_set_error("[data] %s is a strided view; use mx_contiguous first or mx_read", MX_SHAPE_STR(a));
        return NULL;
    }
    return mx_array_ptr(a);
}

int mx_read(mx_array *a, mx_dtype dtype, void *dst) {
    if (!a || mx_eval1(a)) return -1;
    if ((unsigned)dtype >= MX_DTYPE_COUNT) return mx_set_error("[read] invalid dtype %d", (int)dtype);
    mx_copy_strided(a, dtype, dst, 0, a->size);
    return 0;
}

double mx_item_double(mx_array *a) {
    double v;
    if (!a) return NAN;
    if (a->size != 1) {
        mx_set_error("[item] %s has %lld elements, not 1", MX_SHAPE_STR(a), (long long)a->size);
        return NAN;
    }
    return mx_read(a, MX_FLOAT64, &v) ? NAN : v;
}

int64_t mx_item_int(mx_array *a) {
    int64_t v;
    if (!a) return 0;
    if (a->size != 1) {
        mx_set_error("[item] %s has %lld elements, not 1", MX_SHAPE_STR(a), (long long)a->size);
        return 0;
    }
    return mx_read(a, MX_INT64, &v) ? 0 : v;
}

int mx_array_to_string(mx_array *a, char *buf, size_t len) {
    if (!a || mx_eval1(a)) return -1;
    size_t o = 0;
#define PUT(...) (o += (size_t)snprintf(buf + (o < len ? o : len), o < len ? len - o : 0, __VA_ARGS__))
    PUT("array([");
    int64_t limit = a->size > 32 ? 32 : a->size;
    mx_nditer it;
    mx_nditer_init(&it, a->ndim, a->shape, a->strides);
    const char *p = mx_array_ptr(a);
    for (int64_t i = 0; i < limit; i++, mx_nditer_next(&it)) {
        if (i) PUT(", ");
        if (a->dtype == MX_BOOL) PUT("%s", mx_load_int(p, a->dtype, it.off) ? "true" : "false");
        else if (mx_dtype_is_float(a->dtype)) PUT("%g", mx_load_double(p, a->dtype, it.off));
        else PUT("%lld", (long long)mx_load_int(p, a->dtype, it.off));
    }
    if (limit < a->size) PUT(", ...");
    PUT("], shape=%s)", MX_SHAPE_STR(a));
#undef PUT
    return 0;
}
