/* The parameters of compile's fused elementwise node (MX_PRIM_FUSED), shared by the
 * compiler (src/transforms/compile.c) and the kernels that run it.
 *
 * A fused node is a straight-line program over registers of one shape (the node's output
 * shape): registers 0 .. n_inputs-1 are the node's inputs, broadcast to that shape and
 * read as float32; register n_inputs + i is the result of step i, rounded to the step's
 * dtype (so that every intermediate has the bits it has when its op runs alone). The last
 * step's result is the output. */
#ifndef CMLX_TRANSFORMS_FUSED_H
#define CMLX_TRANSFORMS_FUSED_H

#include <stdint.h>

#define MX_FUSED_MAX_STEPS 24
#define MX_FUSED_MAX_INPUTS 12

enum { MX_FUSED_UNARY, MX_FUSED_BINARY, MX_FUSED_ASTYPE };

typedef struct {
    uint8_t kind;     /* MX_FUSED_* */
    uint8_t op;       /* mx_unary_op / mx_binary_op */
    uint8_t dtype;    /* mx_dtype of the result: float32, float16 or bfloat16 */
    int8_t decimals;  /* round's decimals */
    uint8_t a, b;     /* operand registers (b: binary only) */
    uint8_t pad[2];
} mx_fused_step;

typedef struct {
    int32_t n_inputs;
    int32_t n_steps;
    mx_fused_step steps[MX_FUSED_MAX_STEPS];
} mx_fused_params;

#endif
