/* Array operations (mirrors mlx.core). Every op builds a graph node and computes nothing;
 * see array.h for ownership and error rules. Axes may be negative (counted from the end).
 * Type promotion follows MLX (mx_promote_types); the *_scalar variants take a weakly typed
 * scalar that keeps the array's dtype (x * 2.0 stays bfloat16), except that a float scalar
 * with an integer array gives float32, as in MLX. */
#ifndef CMLX_OPS_H
#define CMLX_OPS_H

#include "cmlx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- creation ---- */
mx_array *mx_zeros(const int64_t *shape, int ndim, mx_dtype dtype);
mx_array *mx_ones(const int64_t *shape, int ndim, mx_dtype dtype);
mx_array *mx_full(const int64_t *shape, int ndim, double value, mx_dtype dtype);
/* Broadcasts the 0-d (or broadcastable) array `value` to shape. */
mx_array *mx_full_array(const int64_t *shape, int ndim, const mx_array *value);
mx_array *mx_zeros_like(const mx_array *a);
mx_array *mx_ones_like(const mx_array *a);
mx_array *mx_full_like(const mx_array *a, double value);
/* start, start+step, ... < stop (MLX's arange; float or integer dtype). */
mx_array *mx_arange(double start, double stop, double step, mx_dtype dtype);
mx_array *mx_linspace(double start, double stop, int64_t num, mx_dtype dtype);
/* n x m identity-like matrix with ones on diagonal k. */
mx_array *mx_eye(int64_t n, int64_t m, int k, mx_dtype dtype);
mx_array *mx_tri(int64_t n, int64_t m, int k, mx_dtype dtype); /* ones at and below diagonal k */
mx_array *mx_tril(const mx_array *a, int k);
mx_array *mx_triu(const mx_array *a, int k);

/* ---- unary elementwise ---- */
mx_array *mx_abs(const mx_array *a);
mx_array *mx_negative(const mx_array *a);
mx_array *mx_sign(const mx_array *a);
mx_array *mx_sqrt(const mx_array *a);
mx_array *mx_rsqrt(const mx_array *a);
mx_array *mx_square(const mx_array *a);
mx_array *mx_reciprocal(const mx_array *a);
mx_array *mx_exp(const mx_array *a);
mx_array *mx_expm1(const mx_array *a);
mx_array *mx_log(const mx_array *a);
mx_array *mx_log1p(const mx_array *a);
mx_array *mx_log2(const mx_array *a);
mx_array *mx_log10(const mx_array *a);
mx_array *mx_sin(const mx_array *a);
mx_array *mx_cos(const mx_array *a);
mx_array *mx_tan(const mx_array *a);
mx_array *mx_arcsin(const mx_array *a);
mx_array *mx_arccos(const mx_array *a);
mx_array *mx_arctan(const mx_array *a);
mx_array *mx_sinh(const mx_array *a);
mx_array *mx_cosh(const mx_array *a);
mx_array *mx_tanh(const mx_array *a);
mx_array *mx_sigmoid(const mx_array *a);
mx_array *mx_erf(const mx_array *a);
mx_array *mx_erfinv(const mx_array *a);
mx_array *mx_floor(const mx_array *a);
mx_array *mx_ceil(const mx_array *a);
mx_array *mx_round(const mx_array *a, int decimals);   /* half to even, like MLX */
mx_array *mx_isnan(const mx_array *a);
mx_array *mx_isinf(const mx_array *a);
mx_array *mx_isfinite(const mx_array *a);
mx_array *mx_isposinf(const mx_array *a);
mx_array *mx_isneginf(const mx_array *a);
mx_array *mx_logical_not(const mx_array *a);
mx_array *mx_bitwise_invert(const mx_array *a);
mx_array *mx_astype(const mx_array *a, mx_dtype dtype);
/* Identity in the forward pass; blocks gradients. */
mx_array *mx_stop_gradient(const mx_array *a);

/* ---- binary elementwise (broadcasting) ---- */
mx_array *mx_add(const mx_array *a, const mx_array *b);
mx_array *mx_subtract(const mx_array *a, const mx_array *b);
mx_array *mx_multiply(const mx_array *a, const mx_array *b);
mx_array *mx_divide(const mx_array *a, const mx_array *b);          /* true division: float result */
mx_array *mx_floor_divide(const mx_array *a, const mx_array *b);
mx_array *mx_remainder(const mx_array *a, const mx_array *b);       /* sign of the divisor, as Python */
mx_array *mx_power(const mx_array *a, const mx_array *b);
mx_array *mx_maximum(const mx_array *a, const mx_array *b);         /* NaN propagates */
mx_array *mx_minimum(const mx_array *a, const mx_array *b);
mx_array *mx_logaddexp(const mx_array *a, const mx_array *b);
mx_array *mx_arctan2(const mx_array *a, const mx_array *b);
mx_array *mx_equal(const mx_array *a, const mx_array *b);
mx_array *mx_not_equal(const mx_array *a, const mx_array *b);
mx_array *mx_less(const mx_array *a, const mx_array *b);
mx_array *mx_less_equal(const mx_array *a, const mx_array *b);
mx_array *mx_greater(const mx_array *a, const mx_array *b);
mx_array *mx_greater_equal(const mx_array *a, const mx_array *b);
mx_array *mx_logical_and(const mx_array *a, const mx_array *b);
mx_array *mx_logical_or(const mx_array *a, const mx_array *b);
mx_array *mx_bitwise_and(const mx_array *a, const mx_array *b);
mx_array *mx_bitwise_or(const mx_array *a, const mx_array *b);
mx_array *mx_bitwise_xor(const mx_array *a, const mx_array *b);
mx_array *mx_left_shift(const mx_array *a, const mx_array *b);
mx_array *mx_right_shift(const mx_array *a, const mx_array *b);
/* Weakly typed scalar operand. */
mx_array *mx_add_scalar(const mx_array *a, double s);
mx_array *mx_subtract_scalar(const mx_array *a, double s);
mx_array *mx_multiply_scalar(const mx_array *a, double s);
mx_array *mx_divide_scalar(const mx_array *a, double s);
mx_array *mx_power_scalar(const mx_array *a, double s);
mx_array *mx_maximum_scalar(const mx_array *a, double s);
mx_array *mx_minimum_scalar(const mx_array *a, double s);
/* A weakly typed 0-d array of value s for use with `like` (same dtype rules as above). */
mx_array *mx_scalar_like(const mx_array *like, double s);
/* cond ? a : b, broadcasting all three. */
mx_array *mx_where(const mx_array *cond, const mx_array *a, const mx_array *b);
/* Clip to [lo, hi]; either bound may be NULL. */
mx_array *mx_clip(const mx_array *a, const mx_array *lo, const mx_array *hi);
mx_array *mx_clip_scalar(const mx_array *a, double lo, double hi);

/* ---- reductions ----
 * axes == NULL reduces over all axes; axes != NULL with n_axes == 0 reduces over none (MLX's
 * axis=[]: the input, converted to the result dtype). Negative axes count from the end; an
 * out-of-range or repeated axis is an error. keepdims keeps reduced axes as size 1.
 * Result dtypes (MLX): sum/prod of bool and int8/16/32 give int32, of uint8/16/32 uint32,
 * 64-bit integers and floats keep their dtype (integer sums wrap); mean/var/std/logsumexp
 * of integers give float32; max/min keep the dtype; all/any give bool. Floats accumulate in
 * float32 (float64 for float64) whatever their width. Empty reductions give the identity
 * (sum 0, prod 1, all true, any false, mean NaN); max/min over a size-0 axis, argmax/argmin
 * and logsumexp of an empty array are errors. NaN propagates through max/min/cummax/cummin;
 * argmax/argmin return the first NaN's index, as NumPy. var/std divide by max(N - ddof, 0). */
mx_array *mx_sum(const mx_array *a, const int *axes, int n_axes, int keepdims);
mx_array *mx_prod(const mx_array *a, const int *axes, int n_axes, int keepdims);
mx_array *mx_mean(const mx_array *a, const int *axes, int n_axes, int keepdims);
mx_array *mx_var(const mx_array *a, const int *axes, int n_axes, int keepdims, int ddof);
mx_array *mx_std(const mx_array *a, const int *axes, int n_axes, int keepdims, int ddof);
mx_array *mx_max(const mx_array *a, const int *axes, int n_axes, int keepdims);
mx_array *mx_min(const mx_array *a, const int *axes, int n_axes, int keepdims);
mx_array *mx_all(const mx_array *a, const int *axes, int n_axes, int keepdims);
mx_array *mx_any(const mx_array *a, const int *axes, int n_axes, int keepdims);
mx_array *mx_logsumexp(const mx_array *a, const int *axes, int n_axes, int keepdims);
mx_array *mx_argmax(const mx_array *a, int axis, int keepdims);    /* uint32 indices, first on ties */
mx_array *mx_argmin(const mx_array *a, int axis, int keepdims);
/* Softmax over axes (exp(x - max) / sum, numerically stable); 16-bit inputs are always
 * computed in float32 (`precise` is accepted for MLX compatibility) and the result keeps the
 * input dtype (integers give float32). */
mx_array *mx_softmax(const mx_array *a, const int *axes, int n_axes, int precise);
/* Scans along axis keep the dtype (cumsum of bool counts in int32); reverse scans from the
 * end; exclusive (inclusive == 0) puts the identity first (0, 1, or the dtype's lowest /
 * highest value, -inf / +inf for floats). */
mx_array *mx_cumsum(const mx_array *a, int axis, int reverse, int inclusive);
mx_array *mx_cumprod(const mx_array *a, int axis, int reverse, int inclusive);
mx_array *mx_cummax(const mx_array *a, int axis, int reverse, int inclusive);
mx_array *mx_cummin(const mx_array *a, int axis, int reverse, int inclusive);

/* ---- shape (views where possible: no copy) ---- */
/* One dimension may be -1 (inferred). */
mx_array *mx_reshape(const mx_array *a, const int64_t *shape, int ndim);
mx_array *mx_flatten(const mx_array *a, int start_axis, int end_axis);
mx_array *mx_squeeze(const mx_array *a, const int *axes, int n_axes); /* n_axes 0: all size-1 */
mx_array *mx_expand_dims(const mx_array *a, const int *axes, int n_axes);
/* perm == NULL reverses the axes. */
mx_array *mx_transpose(const mx_array *a, const int *perm, int n);
mx_array *mx_swapaxes(const mx_array *a, int axis1, int axis2);
mx_array *mx_moveaxis(const mx_array *a, int source, int destination);
mx_array *mx_broadcast_to(const mx_array *a, const int64_t *shape, int ndim);
/* Broadcasts n arrays against each other; outs[i] are new references. */
int mx_broadcast_arrays(const mx_array *const *in, int n, mx_array **outs);
/* Joins n >= 1 arrays (same ndim >= 1, equal except along axis) along axis; dtypes are
 * promoted. One block copy per input: [B, H, T, D] caches joined along T are straight
 * copies of T*D runs. */
mx_array *mx_concatenate(const mx_array *const *arrays, int n, int axis);
/* Joins n >= 1 arrays of one shape along a new axis (expand_dims + concatenate). */
mx_array *mx_stack(const mx_array *const *arrays, int n, int axis);
/* Splits into n_sections equal parts (error if not divisible), or at `indices` when
 * indices != NULL (n_indices boundaries give n_indices+1 parts; bounds are Python slice
 * bounds, so decreasing or past-the-end ones give empty parts). The parts are views of a (no
 * copy). outs must have room for the part count; returns the part count or -1. */
int mx_split(const mx_array *a, int n_sections, const int64_t *indices, int n_indices, int axis,
             mx_array **outs);
/* numpy.tile: reps (>= 0) shorter than a's ndim apply to the last axes; longer ones add
 * leading axes. */
mx_array *mx_tile(const mx_array *a, const int64_t *reps, int n);
/* Each element repeated `repeats` (>= 0) times along axis (a 0-d array counts as 1-d). */
mx_array *mx_repeat(const mx_array *a, int64_t repeats, int axis);
/* Pads with a constant (cast to a's dtype): low[i]/high[i] (>= 0) are the widths for axis
 * axes[i], i < n_axes; with axes == NULL they are for every axis in order (n_axes 0 or ndim). */
mx_array *mx_pad(const mx_array *a, const int *axes, int n_axes, const int64_t *low,
                 const int64_t *high, double value);
/* Reverses axis: a view (negative-step slice), no copy. */
mx_array *mx_flip(const mx_array *a, int axis);
/* Elements shifted by `shift` (any sign, taken modulo the axis size) along axis, wrapping. */
mx_array *mx_roll(const mx_array *a, int64_t shift, int axis);
/* A row-contiguous copy (or a itself, retained, when already row-contiguous). */
mx_array *mx_contiguous(const mx_array *a);

/* ---- indexing ---- */
/* Python-style a[start:stop:step] on every axis (n == ndim; negative starts/stops count from
 * the end and are clamped as Python does; step may be negative). */
mx_array *mx_slice(const mx_array *a, const int64_t *start, const int64_t *stop,
                   const int64_t *step, int n);
/* Slice of one axis. */
mx_array *mx_slice_axis(const mx_array *a, int axis, int64_t start, int64_t stop);
/* A copy of a with a[start:stop:step] replaced by update (cast to a's dtype, broadcast to
 * the slice). When a has no other user (no other reference, no view of its buffer) its buffer
 * is reused, so updating a cache costs O(update): free your reference to the old array
 * before evaluating the result. */
mx_array *mx_slice_update(const mx_array *a, const mx_array *update, const int64_t *start,
                          const int64_t *stop, const int64_t *step, int n);
/* Index arrays of the ops below may have any integer dtype (not bool or float) and any
 * layout; a negative index i means dim + i. An index outside [-dim, dim) makes evaluation
 * fail (mx_eval returns -1) with "[op] index 7 is out of bounds for axis 0 with size 5";
 * nothing is read or written out of bounds (MLX does not check). */
/* Elements of a along axis at integer `indices` (any shape; negative indices wrap): the
 * result has shape a.shape[:axis] + indices.shape + a.shape[axis+1:]. */
mx_array *mx_take(const mx_array *a, const mx_array *indices, int axis);
/* out[..., j, ...] = a[..., indices[..., j, ...], ...]: indices has a's ndim and broadcasts
 * with a on every axis but `axis`. */
mx_array *mx_take_along_axis(const mx_array *a, const mx_array *indices, int axis);
/* A copy of a with a[..., indices[..., j, ...], ...] = values[..., j, ...] (values cast to
 * a's dtype; indices and values broadcast together and against a on the other axes).
 * Repeated indices: the last value in row-major order wins. Donates a like slice_update. */
mx_array *mx_put_along_axis(const mx_array *a, const mx_array *indices, const mx_array *values, int axis);
typedef enum mx_scatter_op { MX_SCATTER_NONE, MX_SCATTER_ADD, MX_SCATTER_PROD, MX_SCATTER_MAX,
                             MX_SCATTER_MIN } mx_scatter_op;
/* out = a; out[indices[i], ...] (op)= updates[i, ...] along `axis` (gather's inverse; indices
 * 1-D or any shape, updates broadcastable to indices.shape + a.shape without axis, cast to
 * a's dtype). Applied in order: repeated indices accumulate (add, prod, max, min; float
 * max/min propagate NaN; integers wrap; on bool add/max = or, prod/min = and) and for NONE
 * the last one wins. Donates a like slice_update. */
mx_array *mx_scatter(const mx_array *a, const mx_array *indices, const mx_array *updates, int axis,
                     mx_scatter_op op);
/* Gathers a[indices] along axis: alias of mx_take, named as MLX's gather for one axis. */
mx_array *mx_gather(const mx_array *a, const mx_array *indices, int axis);

/* ---- sorting ----
 * Ascending along axis, stable (equal elements keep their order), NaN after every number,
 * -0.0 equal to 0.0; indices are uint32. Partitions put the element a full sort would put
 * at kth (negative kth counts from the end) there, nothing larger before it and nothing
 * smaller after it. */
mx_array *mx_sort(const mx_array *a, int axis);
mx_array *mx_argsort(const mx_array *a, int axis);                  /* uint32, stable */
mx_array *mx_partition(const mx_array *a, int kth, int axis);
mx_array *mx_argpartition(const mx_array *a, int kth, int axis);
/* The k largest along axis (unordered, as MLX). */
mx_array *mx_topk(const mx_array *a, int k, int axis);

/* ---- linear algebra ---- */
/* Matrix product with NumPy/MLX semantics: 1-D operands are promoted and the added axis
 * removed; batch dimensions broadcast. Float types only. */
mx_array *mx_matmul(const mx_array *a, const mx_array *b);
/* alpha * (a @ b) + beta * c */
mx_array *mx_addmm(const mx_array *c, const mx_array *a, const mx_array *b, float alpha, float beta);
/* Like matmul, but the batch of a is a[lhs_indices] and of b is b[rhs_indices] (either
 * index array may be NULL for the identity). */
mx_array *mx_gather_mm(const mx_array *a, const mx_array *b, const mx_array *lhs_indices,
                       const mx_array *rhs_indices);

#ifdef __cplusplus
}
#endif
#endif
