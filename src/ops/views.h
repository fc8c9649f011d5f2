/* Parameters of the view primitives (reshape, transpose, slice, broadcast). */
#ifndef CMLX_OPS_VIEWS_H
#define CMLX_OPS_VIEWS_H

#include <stdint.h>

#include "cmlx/array.h"

typedef struct {
    int perm[MX_MAX_NDIM];
} mx_transpose_params;

typedef struct {
    int64_t start[MX_MAX_NDIM];   /* normalised: first index taken */
    int64_t step[MX_MAX_NDIM];
} mx_slice_params;

typedef struct {
    double start, step;
} mx_arange_params;

/* Normalises Python-style slice bounds (INT64_MIN / INT64_MAX stand for open ends) into
 * params and the resulting shape; shared by slice and slice_update. */
int mx_slice_plan(const char *op, const mx_array *a, const int64_t *start, const int64_t *stop,
                  const int64_t *step, int n, mx_slice_params *p, int64_t *shape);

#endif
