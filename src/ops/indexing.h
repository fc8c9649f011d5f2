/* Parameters of the shape-building and indexing primitives (concatenate, take,
 * take_along_axis, put_along_axis, scatter). slice_update reuses mx_slice_params from
 * ops/views.h. All plain data so nodes can compare them with memcmp. */
#ifndef CMLX_OPS_INDEXING_H
#define CMLX_OPS_INDEXING_H

/* concatenate, take, take_along_axis, put_along_axis: the axis they work on (normalised). */
typedef struct {
    int axis;
} mx_axis_params;

/* scatter: out = a; out[..., indices[i], ...] (op)= updates[i, ...] along axis. */
typedef struct {
    int axis;
    int op;   /* mx_scatter_op */
} mx_scatter_params;

#endif
