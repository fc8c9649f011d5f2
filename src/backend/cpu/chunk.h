/* Chunked elementwise processing: kernels convert blocks of up to CPU_CHUNK elements of
 * each (possibly strided or broadcast) input into a compute type on the stack, work on
 * them, and convert the block into the output. 16-bit inputs are read directly; nothing is
 * widened whole-tensor. Chunks are spread over OpenMP threads. */
#ifndef CMLX_CPU_CHUNK_H
#define CMLX_CPU_CHUNK_H

#include "core/array_impl.h"

#define CPU_CHUNK 2048

/* Elements [start, start+n) of the row-major order of `shape`, read from `a` broadcast to
 * that shape, converted to dt, into dst. */
void cpu_load_broadcast(const mx_array *a, int ndim, const int64_t *shape, int64_t start, int64_t n,
                        mx_dtype dt, void *dst);

/* Whether to use threads for n elements of work. */
static inline int cpu_parallel_worth(int64_t n) { return n >= 32768; }

#endif
