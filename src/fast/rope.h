/* Parameters of the ROPE primitive (inputs: x, offset int32 [1] or [B], freqs float32
 * [dims/2] when has_freqs), shared by src/fast/rope.c and the CPU kernel. */
#ifndef CMLX_FAST_ROPE_H
#define CMLX_FAST_ROPE_H

typedef struct {
    int dims;            /* features rotated (even, <= last axis) */
    int traditional;     /* rotate adjacent pairs instead of halves */
    float base;          /* frequencies base^(-2i/dims), unless has_freqs */
    float scale;         /* positions are multiplied by scale */
    int has_freqs;
} mx_rope_params;

#endif
