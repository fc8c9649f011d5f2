/* Walking strided arrays in row-major order: the one iterator every kernel that reads
 * views (transposes, slices, broadcasts) uses. */
#ifndef CMLX_CORE_STRIDED_H
#define CMLX_CORE_STRIDED_H

#include "core/array_impl.h"

typedef struct mx_nditer {
    int ndim;
    int64_t shape[MX_MAX_NDIM];
    int64_t strides[MX_MAX_NDIM];
    int64_t idx[MX_MAX_NDIM];
    int64_t off;                 /* current element offset */
} mx_nditer;

/* Iterates `shape` (row-major) over memory with the given strides (0 = broadcast).
 * Adjacent dimensions that are contiguous with each other are merged. */
void mx_nditer_init(mx_nditer *it, int ndim, const int64_t *shape, const int64_t *strides);
/* Positions the iterator at row-major element number `flat`. */
void mx_nditer_seek(mx_nditer *it, int64_t flat);

static inline void mx_nditer_next(mx_nditer *it) {
    for (int d = it->ndim - 1; d >= 0; d--) {
        it->off += it->strides[d];
        if (++it->idx[d] < it->shape[d]) return;
        it->off -= it->strides[d] * it->shape[d];
        it->idx[d] = 0;
    }
}

/* Strides of `a` as seen when broadcast to out_shape (out_ndim >= a->ndim): 0 on
 * broadcast dimensions. */
void mx_broadcast_strides(const mx_array *a, int out_ndim, const int64_t *out_shape, int64_t *strides);

/* Copies a (any strides) to dst row-major, converting to dtype dt. Elements
 * [start, start+count) of the row-major order. */
void mx_copy_strided(const mx_array *a, mx_dtype dt, void *dst, int64_t start, int64_t count);

#endif
