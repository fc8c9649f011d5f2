/* A float32 exp that the compiler can vectorize (no libm call, no branches): softmax and
 * logsumexp spend most of their time here. Cephes' range reduction x = n ln2 + r and
 * degree-6 polynomial, within 2 ulp of expf for x in [-86.6, 88.72]; below that the result
 * flushes to 0 (the true value is under 2^-125), above it is +inf; NaN stays NaN. */
#ifndef CMLX_CPU_EXP_F32_H
#define CMLX_CPU_EXP_F32_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float mx_exp_f32(float x) {
    /* out-of-range inputs compute on 0 and are patched at the end, with bit masks rather
     * than branches or selects, so the loop around stays vectorizable */
    uint32_t xb, over = 0u - (uint32_t)(x > 88.72f), under = 0u - (uint32_t)(x < -86.6f);
    memcpy(&xb, &x, 4);
    xb &= ~(over | under);
    float xc;
    memcpy(&xc, &xb, 4);
    /* n = round(x / ln2): adding 1.5 * 2^23 leaves n in the low mantissa bits */
    float t = xc * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    uint32_t tb;
    memcpy(&tb, &t, 4);
    uint32_t sb = (tb - 0x4B400000u + 126u) << 23; /* 2^(n-1): stays finite for n = 128 */
    float s;
    memcpy(&s, &sb, 4);
    float res = y * s * 2.0f;
    uint32_t rb;
    memcpy(&rb, &res, 4);
    rb = (rb & ~(over | under)) | (over & 0x7f800000u); /* +inf above, 0 below */
    memcpy(&res, &rb, 4);
    return res;
}

#endif
