/* Parameters of the RMS_NORM and LAYER_NORM primitives (inputs: x, then weight when
 * has_weight, then bias when has_bias), shared by src/fast/norm.c and the CPU kernels. */
#ifndef CMLX_FAST_NORM_H
#define CMLX_FAST_NORM_H

typedef struct {
    float eps;
    int has_weight;
    int has_bias;        /* layer_norm only */
} mx_norm_params;

#endif
