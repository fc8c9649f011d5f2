/* The op conformance harness: every op, every dtype it supports, odd and non-contiguous
 * shapes, broadcasting, fresh random inputs (never zeros), checked against naive float64
 * references by normalised error: max|got - ref| / max(max|ref|, 1e-30) <= tolerance.
 *
 * Each op family has a file cases_<family>.c defining `void conf_family_<family>(conf_ctx *)`
 * (declared below); the driver runs every family that is linked in. */
#ifndef CMLX_CONFORMANCE_H
#define CMLX_CONFORMANCE_H

#include <stdint.h>

#include "cmlx/cmlx.h"

typedef struct conf_ctx conf_ctx;

/* A host float64 copy of an array's values (row-major), as the reference sees them. */
typedef struct ref_tensor {
    int ndim;
    int64_t shape[MX_MAX_NDIM];
    int64_t size;
    double *data;
} ref_tensor;

/* Random array of `dtype` with values uniform in [lo, hi], none within 1e-3*(hi-lo) of zero
 * (integers: no zeros), and its exact float64 reference. When `strided` is set the array
 * is a non-contiguous view (a stepped slice of a larger array, or a transpose) holding the
 * same values. The array belongs to the case (freed by conf_end_case). */
mx_array *conf_random(conf_ctx *c, const int64_t *shape, int ndim, mx_dtype dtype, double lo, double hi,
                      int strided, ref_tensor *ref);
/* Integer array with values in [lo, hi] (zeros allowed: for indices). */
mx_array *conf_random_int(conf_ctx *c, const int64_t *shape, int ndim, mx_dtype dtype, int64_t lo, int64_t hi,
                          ref_tensor *ref);
/* A reference tensor of the given shape (data zeroed, owned by the case). */
ref_tensor conf_ref_alloc(conf_ctx *c, const int64_t *shape, int ndim);
/* Row-major index helpers for references. */
int64_t conf_ref_index(const ref_tensor *t, const int64_t *idx);
/* Value of t broadcast to out shape at out index idx. */
double conf_ref_at_broadcast(const ref_tensor *t, int out_ndim, const int64_t *idx);

/* Compares `got` (evaluated here) with `ref`: shape must match, normalised error must be <=
 * tol. Records a pass or a failure line naming op, dtype, shape, error. Returns 1 on pass. */
int conf_check(conf_ctx *c, const char *op, mx_array *got, const ref_tensor *ref, double tol);
/* Exact comparison (integers, bools, indices). */
int conf_check_exact(conf_ctx *c, const char *op, mx_array *got, const ref_tensor *ref);
/* Records a failure (e.g. an op returned NULL unexpectedly) or a pass. */
void conf_fail(conf_ctx *c, const char *op, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void conf_pass(conf_ctx *c);

/* The default tolerance for results of a dtype (float32 1e-5, float16 2e-3, bfloat16 1.6e-2,
 * float64 1e-12, integers 0). */
double conf_tol(mx_dtype t);
/* Frees every array and reference created since the previous call. Call after each case. */
void conf_end_case(conf_ctx *c);
/* Deterministic per-run random numbers (seeded from the time unless CMLX_TEST_SEED is set;
 * the seed is printed so a failure can be replayed). */
double conf_uniform(conf_ctx *c);

/* The float dtypes and all dtypes, for loops. */
extern const mx_dtype conf_float_dtypes[4];
extern const mx_dtype conf_all_dtypes[13];

/* Families. */
void conf_family_elementwise(conf_ctx *c) __attribute__((weak));
void conf_family_reduce(conf_ctx *c) __attribute__((weak));
void conf_family_shape(conf_ctx *c) __attribute__((weak));
void conf_family_indexing(conf_ctx *c) __attribute__((weak));
void conf_family_sort(conf_ctx *c) __attribute__((weak));
void conf_family_linalg(conf_ctx *c) __attribute__((weak));
void conf_family_quant(conf_ctx *c) __attribute__((weak));
void conf_family_random(conf_ctx *c) __attribute__((weak));
void conf_family_fast(conf_ctx *c) __attribute__((weak));

#endif
