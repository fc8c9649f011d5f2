/* Function transforms: mx_compile.
 *
 * A compiled function is traced once per combination of input shapes and dtypes (and the
 * stream it runs on): the C function is called with placeholder arrays, and the graph it
 * builds is recorded. The record is then simplified: common subexpressions are merged
 * (two nodes of the same primitive, parameters and inputs become one), and chains of
 * floating-point elementwise ops (unary, binary, astype between float16 / bfloat16 /
 * float32) of one shape become a single node whose CPU kernel runs the whole chain on small
 * blocks that stay in cache, instead of writing and reading every intermediate array.
 * Later calls with the same shapes replay the record: no tracing, fewer nodes, fewer passes
 * over memory. Results are bit for bit those of the uncompiled function: every
 * intermediate is rounded to its own dtype, as when each op runs alone.
 *
 * Rules the function must follow (as with MLX's mx.compile):
 *  - It is pure: it only builds a graph from its inputs. It must not evaluate arrays that
 *    depend on them (mx_eval, mx_item_*, mx_data): a placeholder cannot be computed, and
 *    the call fails with a message saying so.
 *  - Arrays it reads other than its inputs (weights reached through ctx, scalars it makes)
 *    are captured when it is traced, and later calls with the same shapes use those arrays.
 *    Pass anything that changes between calls as an input.
 *  - Its outputs' shapes may depend only on its inputs' shapes.
 * A compiled function keeps at most 64 traces; calls with further new shapes run the
 * function uncompiled.
 */
#ifndef CMLX_TRANSFORMS_H
#define CMLX_TRANSFORMS_H

#include "cmlx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A function of arrays: reads inputs in[0..n_in), stores n_out new arrays into out (new
 * references, under the usual ownership rule) and returns 0, or returns -1 after
 * mx_set_error. */
typedef int (*mx_array_fn)(mx_array *const *in, int n_in, mx_array **out, int n_out, void *ctx);

typedef struct mx_compiled mx_compiled;

/* A compiled version of fn taking n_in inputs and giving n_out outputs (both 1..64). ctx is
 * passed to fn when it is traced and must stay valid while the compiled function is used.
 * NULL (error set) on bad arguments or out of memory. Thread-safe to call. */
mx_compiled *mx_compile(mx_array_fn fn, void *ctx, int n_in, int n_out);

/* Calls the compiled function: out receives n_out new arrays (owned by the caller, or by the
 * open pool). Traces fn on the first call with these input shapes and dtypes. Returns 0, or
 * -1 with the error set (the function's own error, or what was wrong with the inputs); on
 * error out is filled with NULLs. When compilation is disabled, calls fn directly. */
int mx_compiled_call(mx_compiled *c, mx_array *const *in, mx_array **out);

/* Frees the compiled function and the arrays its traces captured. NULL is ignored. */
void mx_compiled_free(mx_compiled *c);

/* What tracing made of the most recent trace of c (for tests and tuning): the number of
 * traces held, and in the latest one the nodes traced, the nodes left after merging common
 * subexpressions and fusing, and the fused nodes among them. -1 when nothing was traced. */
typedef struct {
    int traces;
    int traced_nodes;
    int replayed_nodes;
    int fused_nodes;
} mx_compile_stats;
int mx_compiled_stats(const mx_compiled *c, mx_compile_stats *stats);

/* Turns compilation off (0) or on (1) process-wide: while off, mx_compiled_call runs the
 * function uncompiled. The environment variable CMLX_DISABLE_COMPILE (any value but "0")
 * starts it off, as MLX_DISABLE_COMPILE does for MLX. */
void mx_set_compile_enabled(int on);
int mx_compile_enabled(void);

#ifdef __cplusplus
}
#endif
#endif
