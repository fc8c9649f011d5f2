/* Array handles: creation, reference counting, properties, pools. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array_impl.h"
#include "core/dtype.h"

/* ---- pools ---- */

struct mx_pool {
    mx_array **items;
    size_t n, cap;
    struct mx_pool *parent;
};

static _Thread_local mx_pool *current_pool;

mx_pool *mx_pool_begin(void) {
    mx_pool *p = calloc(1, sizeof *p);
    if (!p) {
        mx_set_error("[pool] out of memory");
        return NULL;
    }
    p->parent = current_pool;
    current_pool = p;
    return p;
}

void mx_pool_end(mx_pool *pool) {
    if (!pool) return;
    /* Pools nest: ending an outer pool ends the inner ones still open. */
    while (current_pool && current_pool != pool) mx_pool_end(current_pool);
    if (current_pool == pool) current_pool = pool->parent;
    for (size_t i = 0; i < pool->n; i++) mx_array_release(pool->items[i]);
    free(pool->items);
    free(pool);
}

mx_array *mx_pool_track(mx_array *a) {
    mx_pool *p = current_pool;
    if (!a || !p) return a;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        mx_array **items = realloc(p->items, cap * sizeof *items);
        if (!items) {
            /* Can't record it: release now would dangle, so report and hand back NULL. */
            mx_array_release(a);
            mx_set_error("[pool] out of memory tracking an array");
            return NULL;
        }
        p->items = items;
        p->cap = cap;
    }
    p->items[p->n++] = a;
    return a;
}

mx_array *mx_pool_end_keep(mx_pool *pool, mx_array *result) {
    mx_keep(result);
    mx_pool_end(pool);
    return mx_pool_track(result);
}

mx_array *mx_keep(mx_array *a) {
    if (a) atomic_fetch_add(&a->refs, 1);
    return a;
}

/* ---- creation ---- */

void mx_update_flags(mx_array *a) {
    int64_t st = 1;
    int row = 1, col = 1;
    for (int i = a->ndim - 1; i >= 0; i--) {
        if (a->shape[i] != 1 && a->strides[i] != st) row = 0;
        st *= a->shape[i];
    }
    st = 1;
    for (int i = 0; i < a->ndim; i++) {
        if (a->shape[i] != 1 && a->strides[i] != st) col = 0;
        st *= a->shape[i];
    }
    if (a->size == 0) row = col = 1;
    a->flags = (row ? MX_FLAG_ROW_CONTIG : 0) | (col ? MX_FLAG_COL_CONTIG : 0);
}

void mx_set_row_strides(mx_array *a) {
    int64_t st = 1;
    for (int i = a->ndim - 1; i >= 0; i--) {
        a->strides[i] = st;
        st *= a->shape[i];
    }
    mx_update_flags(a);
}

mx_array *mx_array_alloc_shell(const int64_t *shape, int ndim, mx_dtype dtype) {
    if (ndim < 0 || ndim > MX_MAX_NDIM) {
        mx_set_error("[array] %d dimensions requested; at most %d are supported", ndim, MX_MAX_NDIM);
        return NULL;
    }
    if ((unsigned)dtype >= MX_DTYPE_COUNT) {
        mx_set_error("[array] invalid dtype %d", (int)dtype);
        return NULL;
    }
    int64_t size = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            mx_set_error("[array] negative dimension %lld at axis %d", (long long)shape[i], i);
            return NULL;
        }
        if (shape[i] && size > INT64_MAX / 16 / shape[i]) {
            mx_set_error("[array] shape too large (axis %d)", i);
            return NULL;
        }
        size *= shape[i];
    }
    mx_array *a = calloc(1, sizeof *a);
    if (!a) {
        mx_set_error("[array] out of memory");
        return NULL;
    }
    atomic_init(&a->refs, 1);
    atomic_init(&a->status, MX_STATUS_AVAILABLE);
    a->dtype = dtype;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++) a->shape[i] = shape[i];
    a->size = size;
    mx_set_row_strides(a);
    a->stream = mx_stream_for_new_ops();
    return a;
}

mx_array *mx_array_from_data(const void *data, const int64_t *shape, int ndim, mx_dtype dtype) {
    mx_array *a = mx_array_alloc_shell(shape, ndim, dtype);
    if (!a) return NULL;
    size_t bytes = (size_t)a->size * mx_dtype_size(dtype);
    a->buf = mx_buffer_alloc(bytes);
    if (!a->buf) {
        free(a);
        return NULL;
    }
    if (bytes) memcpy(a->buf->data, data, bytes);
    return mx_pool_track(a);
}

mx_array *mx_array_from_external(void *data, const int64_t *shape, int ndim, mx_dtype dtype,
                                 void (*release)(void *ctx), void *ctx) {
    mx_array *a = mx_array_alloc_shell(shape, ndim, dtype);
    if (!a) return NULL;
    a->buf = mx_buffer_external(data, (size_t)a->size * mx_dtype_size(dtype), release, ctx);
    if (!a->buf) {
        free(a);
        return NULL;
    }
    return mx_pool_track(a);
}

mx_array *mx_scalar(double value, mx_dtype dtype) {
    unsigned char tmp[8];
    if ((unsigned)dtype >= MX_DTYPE_COUNT) {
        mx_set_error("[scalar] invalid dtype %d", (int)dtype);
        return NULL;
    }
    mx_store_double(tmp, dtype, 0, value);
    return mx_array_from_data(tmp, NULL, 0, dtype);
}

mx_array *mx_scalar_int(int64_t value, mx_dtype dtype) {
    unsigned char tmp[8];
    if ((unsigned)dtype >= MX_DTYPE_COUNT) {
        mx_set_error("[scalar] invalid dtype %d", (int)dtype);
        return NULL;
    }
    mx_store_int(tmp, dtype, 0, value);
    return mx_array_from_data(tmp, NULL, 0, dtype);
}

/* ---- references ---- */

mx_array *mx_retain(mx_array *a) {
    if (a) atomic_fetch_add(&a->refs, 1);
    return a;
}

void mx_free(mx_array *a) { mx_array_release(a); }

/* ---- properties ---- */

int mx_ndim(const mx_array *a) { return a ? a->ndim : 0; }
const int64_t *mx_shape(const mx_array *a) { return a ? a->shape : NULL; }
int64_t mx_dim(const mx_array *a, int axis) {
    if (!a) return 0;
    if (axis < 0) axis += a->ndim;
    if (axis < 0 || axis >= a->ndim) return 0;
    return a->shape[axis];
}
int64_t mx_size(const mx_array *a) { return a ? a->size : 0; }
size_t mx_nbytes(const mx_array *a) { return a ? (size_t)a->size * mx_dtype_size(a->dtype) : 0; }
mx_dtype mx_array_dtype(const mx_array *a) { return a ? a->dtype : MX_FLOAT32; }
int mx_is_available(const mx_array *a) {
    return a && atomic_load(&a->status) == MX_STATUS_AVAILABLE;
}

const char *mx_shape_str(const mx_array *a, char *buf, size_t len) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "%s[", mx_dtype_name(a->dtype));
    for (int i = 0; i < a->ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? ", %lld" : "%lld", (long long)a->shape[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
    return buf;
}
