/* Parameters of the SDPA primitive (inputs: q, k, v, then the mask broadcast to
 * [B, Hq, Lq, Lk] when mask_mode is MX_SDPA_ARRAY, then sinks [Hq] when has_sinks), shared
 * by src/fast/sdpa.c and the CPU kernel. */
#ifndef CMLX_FAST_SDPA_H
#define CMLX_FAST_SDPA_H

#include "cmlx/fast.h"

typedef struct {
    float scale;
    int mask_mode;       /* mx_sdpa_mask */
    int has_sinks;
} mx_sdpa_params;

/* Validation shared by the fused op and the fallback (src/fast/sdpa.c): shapes, dtypes,
 * mask and sinks. Returns the result dtype, or -1 with the error set. */
int mx_fast_sdpa_check(const mx_array *q, const mx_array *k, const mx_array *v, mx_sdpa_mask mode,
                       const mx_array *mask, const mx_array *sinks);

#endif
