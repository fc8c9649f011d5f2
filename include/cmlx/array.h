/* cmlx arrays: the mx_ object model (mirrors MLX).
 *
 * An mx_array is an opaque, reference-counted handle to an n-dimensional array. It is
 * either available (it has a buffer, shape, strides, dtype) or unevaluated (it has a
 * primitive and inputs). Ops only build graph nodes; nothing is computed until mx_eval /
 * mx_async_eval, or until data is read.
 *
 * Ownership: every function returning an mx_array* returns a new reference the caller
 * owns (free it with mx_free) unless an mx_pool is open on this thread, in which case the
 * pool owns it and frees it at mx_pool_end (take your own reference with mx_keep). Array
 * arguments are borrowed. Any op given a NULL array returns NULL, so a chain of ops is
 * checked once at its end (see error.h).
 */
#ifndef CMLX_ARRAY_H
#define CMLX_ARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "cmlx/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mx_dtype {
    MX_BOOL,
    MX_UINT8,
    MX_UINT16,
    MX_UINT32,
    MX_UINT64,
    MX_INT8,
    MX_INT16,
    MX_INT32,
    MX_INT64,
    MX_FLOAT16,
    MX_BFLOAT16,
    MX_FLOAT32,
    MX_FLOAT64,
    MX_DTYPE_COUNT
} mx_dtype;

/* The most dimensions an array may have. */
#define MX_MAX_NDIM 10

typedef struct mx_array mx_array;

size_t mx_dtype_size(mx_dtype t);
const char *mx_dtype_name(mx_dtype t);        /* "float32", "bfloat16", ... */
int mx_dtype_is_float(mx_dtype t);            /* float16, bfloat16, float32, float64 */
int mx_dtype_is_integer(mx_dtype t);          /* signed or unsigned integers (not bool) */
int mx_dtype_is_signed(mx_dtype t);
/* MLX's promotion: the smallest type that holds both without loss (float16 with
 * bfloat16 gives float32; int with float gives the float). */
mx_dtype mx_promote_types(mx_dtype a, mx_dtype b);

/* ---- creation from memory ---- */

/* Copies `data` (row-major, shape[ndim], dtype) into a new available array. */
mx_array *mx_array_from_data(const void *data, const int64_t *shape, int ndim, mx_dtype dtype);
/* Wraps memory without copying; `release(ctx)` runs when the last user is gone (it may be
 * NULL for memory that outlives every array, e.g. static data). */
mx_array *mx_array_from_external(void *data, const int64_t *shape, int ndim, mx_dtype dtype,
                                 void (*release)(void *ctx), void *ctx);
/* 0-d arrays. */
mx_array *mx_scalar(double value, mx_dtype dtype);
mx_array *mx_scalar_int(int64_t value, mx_dtype dtype);

/* ---- references ---- */
mx_array *mx_retain(mx_array *a);             /* one more reference to the same array */
void mx_free(mx_array *a);                    /* drops a reference; NULL is ignored */

/* ---- properties (no evaluation needed) ---- */
int mx_ndim(const mx_array *a);
const int64_t *mx_shape(const mx_array *a);
int64_t mx_dim(const mx_array *a, int axis);  /* negative axes count from the end */
int64_t mx_size(const mx_array *a);
size_t mx_nbytes(const mx_array *a);
mx_dtype mx_array_dtype(const mx_array *a);
int mx_is_available(const mx_array *a);       /* evaluated (or from data) and ready */

/* ---- evaluation ---- */

/* Computes the arrays (and what they depend on) and waits. 0 on success; on failure -1 and
 * mx_last_error() says which op failed and why. */
int mx_eval(mx_array *const *arrays, int n);
int mx_eval1(mx_array *a);
/* Schedules the computation on the arrays' streams and returns at once; a later mx_eval
 * (or reading the data) waits for it. */
int mx_async_eval(mx_array *const *arrays, int n);

/* ---- reading data (forces evaluation) ---- */

/* Evaluates and returns a pointer to the array's elements in row-major order, valid while
 * the array lives. A strided view (transpose, slice, broadcast) has no such pointer: it
 * returns NULL with an error; use mx_contiguous(a) first, or mx_read. */
const void *mx_data(mx_array *a);
/* Copies all elements, converted to `dtype`, row-major into dst (mx_size(a) elements). */
int mx_read(mx_array *a, mx_dtype dtype, void *dst);
/* The value of a 1-element array. On error returns NAN / 0 and sets the error. */
double mx_item_double(mx_array *a);
int64_t mx_item_int(mx_array *a);

/* Writes a short human-readable form ("array([1, 2, ...], shape=float32[2, 3])") into buf. */
int mx_array_to_string(mx_array *a, char *buf, size_t len);

/* ---- pools: scoped ownership of temporaries ----
 * Build a graph inside a pool, mx_keep what you need, end the pool, then evaluate: once the
 * pool has let go of the temporaries, each is owned only by the node that consumes it, so
 * evaluation frees it (or donates its buffer) as soon as it has been used. Evaluating
 * inside the pool works too, but keeps every intermediate alive until the pool ends. */
typedef struct mx_pool mx_pool;
/* Opens a pool on this thread (pools nest). Arrays created until mx_pool_end belong to it. */
mx_pool *mx_pool_begin(void);
/* Frees every array the pool owns (arrays kept with mx_keep survive). */
void mx_pool_end(mx_pool *pool);
/* Gives the caller its own reference to a (the pool keeps, and later drops, its own);
 * returns a. */
mx_array *mx_keep(mx_array *a);
/* Ends the pool but hands `result` on: to the enclosing pool if one is open, else to the
 * caller. The usual ending of a function that builds a graph in its own pool:
 *     mx_pool *p = mx_pool_begin(); ...; return mx_pool_end_keep(p, logits); */
mx_array *mx_pool_end_keep(mx_pool *pool, mx_array *result);

#ifdef __cplusplus
}
#endif
#endif
