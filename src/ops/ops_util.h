/* Shared helpers for op builders: axis normalisation, broadcasting, messages. */
#ifndef CMLX_OPS_UTIL_H
#define CMLX_OPS_UTIL_H

#include "core/array_impl.h"

/* Normalises a possibly negative axis against ndim; -1 (error set, naming op) if out of range. */
int mx_norm_axis(const char *op, int axis, int ndim);
/* Normalises n axes into out (sorted, unique); n_axes 0 with axes NULL means all axes.
 * Returns the count or -1. */
int mx_norm_axes(const char *op, const int *axes, int n_axes, int ndim, int *out);
/* The broadcast of two shapes; -1 with "[op] shapes (..) and (..) cannot be broadcast". */
int mx_broadcast_shapes(const char *op, const int64_t *a, int an, const int64_t *b, int bn,
                        int64_t *out, int *out_n);
/* Formats a shape "(2, 3)" into buf. */
const char *mx_fmt_shape(const int64_t *shape, int ndim, char *buf, size_t len);
#define MX_FMT_SHAPE(s, n) mx_fmt_shape((s), (n), (char[128]){0}, 128)

/* Composite ops (built from other ops) run inside their own pool, so temporaries are freed
 * whatever the caller's pool state; the result is handed to the caller's pool (if any):
 *     mx_pool *p = mx_pool_begin(); ... return mx_composite_end(p, result); */
mx_array *mx_composite_end(mx_pool *p, mx_array *result);

#endif
