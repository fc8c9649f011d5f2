/* The array node and buffer structures, private to the library.
 *
 * Graph structure: an unevaluated array points (strongly) at the node that computes it;
 * a node holds its inputs strongly and its outputs weakly (so siblings of multi-output
 * primitives find each other without reference cycles). When a node has run, its outputs
 * drop it ("detach"), which releases its inputs as soon as nothing else needs them.
 */
#ifndef CMLX_CORE_ARRAY_IMPL_H
#define CMLX_CORE_ARRAY_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "cmlx/array.h"
#include "cmlx/stream.h"
#include "core/primitives.h"

typedef struct mx_buffer {
    atomic_int refs;
    void *data;
    size_t size;                 /* bytes usable */
    void (*release)(void *ctx);  /* external memory: called when the buffer dies */
    void *release_ctx;
    int external;                /* 1: not from the allocator */
} mx_buffer;

enum {
    MX_STATUS_UNSCHEDULED = 0,   /* has a node that has not been handed to a stream */
    MX_STATUS_SCHEDULED = 1,     /* handed to a stream, result pending */
    MX_STATUS_AVAILABLE = 2,     /* has its buffer */
    MX_STATUS_FAILED = 3,        /* its computation failed; `error` says why */
};

enum {
    MX_FLAG_ROW_CONTIG = 1,      /* dense, row-major, from offset */
    MX_FLAG_COL_CONTIG = 2,      /* dense, column-major */
};

typedef struct mx_out_desc {
    mx_dtype dtype;
    int ndim;
    int64_t shape[MX_MAX_NDIM];
} mx_out_desc;

typedef struct mx_node {
    atomic_int refs;
    int prim;                    /* mx_prim_id */
    void *params;                /* primitive parameters: plain data, memcmp-comparable */
    size_t params_size;
    mx_array **inputs;           /* strong */
    int n_inputs;
    mx_array **outputs;          /* weak; guarded by the graph lock */
    mx_out_desc *out_desc;
    int n_outputs;
    mx_stream stream;
    uint64_t visit_mark;         /* eval's DFS marker */
} mx_node;

struct mx_array {
    atomic_int refs;
    atomic_int status;
    mx_dtype dtype;
    int ndim;
    int64_t shape[MX_MAX_NDIM];
    int64_t strides[MX_MAX_NDIM];   /* in elements */
    int64_t size;
    mx_buffer *buf;
    int64_t offset;                  /* in elements, into buf */
    int flags;
    mx_node *node;                   /* while unevaluated */
    int position;                    /* which output of node */
    mx_stream stream;
    char *error;                     /* when FAILED */
};

/* ---- arrays (src/core/array.c) ---- */
/* An empty array shell (no buffer, no node) with shape and dtype; NULL on bad shape. */
mx_array *mx_array_alloc_shell(const int64_t *shape, int ndim, mx_dtype dtype);
/* Registers a freshly created array with the current pool, if any; returns it. */
mx_array *mx_pool_track(mx_array *a);
/* Fills row-major strides and contiguity flags for a's shape. */
void mx_set_row_strides(mx_array *a);
/* Recomputes the contiguity flags from shape and strides. */
void mx_update_flags(mx_array *a);
/* "[2, 3]" / "float32[2, 3]" into buf, for messages. */
const char *mx_shape_str(const mx_array *a, char *buf, size_t len);
#define MX_SHAPE_STR(a) mx_shape_str((a), (char[128]){0}, 128)
/* Pointer to element 0 of the array (buffer + offset). Only for available arrays. */
static inline char *mx_array_ptr(const mx_array *a) {
    return (char *)a->buf->data + a->offset * (int64_t)mx_dtype_size(a->dtype);
}

/* ---- buffers (src/alloc/allocator.c) ---- */
mx_buffer *mx_buffer_alloc(size_t size);   /* NULL (error set) past the memory limit or OOM */
mx_buffer *mx_buffer_external(void *data, size_t size, void (*release)(void *), void *ctx);
void mx_buffer_retain(mx_buffer *b);
void mx_buffer_release(mx_buffer *b);

/* ---- nodes (src/core/node.c) ---- */
/* Creates the outputs of a new node: prim with params (copied), inputs (borrowed; the node
 * takes its own references), n_out output descriptors. Returns 0 and fills outs[] with new
 * arrays (tracked by the current pool), or -1. The node runs on the current stream. */
int mx_node_create(int prim, const void *params, size_t params_size, mx_array *const *inputs,
                   int n_inputs, const mx_out_desc *descs, int n_out, mx_array **outs);
/* Single-output convenience. */
mx_array *mx_node_create1(int prim, const void *params, size_t params_size,
                          mx_array *const *inputs, int n_inputs, mx_dtype dtype,
                          const int64_t *shape, int ndim);
void mx_node_retain(mx_node *n);
void mx_node_release(mx_node *n);
/* Drops a reference held by the library (iterative; safe for deep graphs). */
void mx_array_release(mx_array *a);

/* ---- graph lock (src/core/node.c): guards the weak output pointers ---- */
void mx_graph_lock(void);
void mx_graph_unlock(void);

/* ---- streams (src/eval/stream.c) ---- */
mx_stream mx_stream_for_new_ops(void);

#endif
