/* Bit packing and the small float formats of MLX's quantization, shared by the quantize /
 * dequantize kernels (quantize.c) and the quantized products (qmm.c).
 *
 * Packing: every row of a quantized matrix is one little-endian bit stream in uint32 words:
 * value i occupies bits [i*bits, (i+1)*bits), so 3-, 5- and 6-bit values straddle word
 * boundaries (MLX writes those widths as bytes in the same order, which on a little-endian
 * machine is the same stream). Groups are 16, 32, 64 or 128 values, so a group's bits are a
 * whole number of words and every group starts on a word boundary. */
#ifndef CMLX_CPU_QUANT_PACK_H
#define CMLX_CPU_QUANT_PACK_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cmlx/quant.h"
#include "core/dtype.h"

#define QP_INLINE static inline __attribute__((always_inline))

/* Unpacks n values of `bits` bits starting at word w (a group start) into dst as floats.
 * Always inlined so that callers passing a constant `bits` get a specialised loop. */
QP_INLINE void qp_unpack(const uint32_t *w, int bits, int n, float *dst) {
    if (bits == 4) {
        for (int i = 0; i < n / 8; i++) {
            uint32_t v = w[i];
            for (int j = 0; j < 8; j++) dst[8 * i + j] = (float)((v >> (4 * j)) & 15u);
        }
    } else if (bits == 8) {
        for (int i = 0; i < n / 4; i++) {
            uint32_t v = w[i];
            for (int j = 0; j < 4; j++) dst[4 * i + j] = (float)((v >> (8 * j)) & 255u);
        }
    } else if (bits == 2) {
        for (int i = 0; i < n / 16; i++) {
            uint32_t v = w[i];
            for (int j = 0; j < 16; j++) dst[16 * i + j] = (float)((v >> (2 * j)) & 3u);
        }
    } else {
        uint64_t buf = 0, mask = (1u << bits) - 1;
        int have = 0;
        for (int i = 0; i < n; i++) {
            if (have < bits) {
                buf |= (uint64_t)(*w++) << have;
                have += 32;
            }
            dst[i] = (float)(buf & mask);
            buf >>= bits;
            have -= bits;
        }
    }
}

/* Packs n codes (each < 2^bits) into n*bits/32 words at w (the inverse of qp_unpack). */
static inline void qp_pack(const uint8_t *q, int bits, int n, uint32_t *w) {
    uint64_t buf = 0;
    int have = 0;
    for (int i = 0; i < n; i++) {
        buf |= (uint64_t)q[i] << have;
        have += bits;
        if (have >= 32) {
            *w++ = (uint32_t)buf;
            buf >>= 32;
            have -= 32;
        }
    }
}

/* E2M1 (fp4) values by code: sign bit 3. */
static const float qp_fp4_values[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                        -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

/* E4M3 (fp8, no infinities) to float as MLX reads it: the code 0x7f / 0xff reads as +-480
 * (MLX has no NaN there), subnormals are exact. */
static inline float qp_e4m3_to_f32(uint8_t c) {
    int e = (c >> 3) & 15, m = c & 7;
    float v = e == 0 ? ldexpf((float)m, -9) : ldexpf(1.0f + (float)m / 8.0f, e - 7);
    return (c & 0x80) ? -v : v;
}

/* float to E4M3, round to nearest even, saturating at 448 (MLX's ToFP8: NaN saturates too). */
static inline uint8_t qp_f32_to_e4m3(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t sign = (uint8_t)((u >> 24) & 0x80);
    u &= 0x7fffffffu;
    if (u >= (543u << 21)) return sign | 0x7e; /* >= 480 (and inf/NaN): saturate */
    if (u < (121u << 23)) {                     /* below 2^-6: subnormal, steps of 2^-9 */
        float a;
        memcpy(&a, &u, 4);
        float r = nearbyintf(a * 512.0f);       /* exact scaling; nearest-even */
        return sign | (uint8_t)r;               /* r == 8 becomes the smallest normal */
    }
    uint32_t mant_odd = (u >> 20) & 1;
    u += ((uint32_t)(7 - 127) << 23) + 0x7ffff + mant_odd;
    return sign | (uint8_t)(u >> 20);
}

/* E8M0 scale code to float: 2^(c - 127) (c == 0 reads as 2^-127, like MLX's bfloat16 0x0040). */
static inline float qp_e8m0_to_f32(uint8_t c) { return c == 0 ? ldexpf(1.0f, -127) : ldexpf(1.0f, (int)c - 127); }

/* Rounds a float to what dtype t holds (float16 / bfloat16), as a 16-bit op result would be. */
static inline float qp_round_to(float v, mx_dtype t) {
    if (t == MX_BFLOAT16) return mx_bf16_to_f32(mx_f32_to_bf16(v));
    if (t == MX_FLOAT16) return mx_f16_to_f32(mx_f32_to_f16(v));
    return v;
}

/* One scale or bias of a quantized matrix as float (16/32-bit floats, or uint8 codes left as
 * their numeric value for the fp modes' decoders). */
QP_INLINE float qp_load(const void *p, mx_dtype t, int64_t i) {
    switch (t) {
    case MX_BFLOAT16: return mx_bf16_to_f32(((const uint16_t *)p)[i]);
    case MX_FLOAT16: return mx_f16_to_f32(((const uint16_t *)p)[i]);
    case MX_FLOAT32: return ((const float *)p)[i];
    case MX_FLOAT64: return (float)((const double *)p)[i];
    default: return (float)((const uint8_t *)p)[i];
    }
}

/* Turns n unpacked codes (as floats) into the values they stand for before scaling: the
 * integer itself (affine), the E2M1 value (mxfp4, nvfp4) or the E4M3 value (mxfp8). */
QP_INLINE void qp_decode_values(float *v, int n, int mode) {
    if (mode == MX_QUANT_AFFINE) return;
    if (mode == MX_QUANT_MXFP8)
        for (int j = 0; j < n; j++) v[j] = qp_e4m3_to_f32((uint8_t)v[j]);
    else
        for (int j = 0; j < n; j++) v[j] = qp_fp4_values[(int)v[j] & 15];
}

/* The float scale of group i: a float scale, or a decoded uint8 code (E4M3 for nvfp4,
 * E8M0 for mxfp4 / mxfp8). */
QP_INLINE float qp_scale(const void *scales, mx_dtype t, int64_t i, int mode) {
    if (mode == MX_QUANT_AFFINE) return qp_load(scales, t, i);
    uint8_t code = ((const uint8_t *)scales)[i];
    return mode == MX_QUANT_NVFP4 ? qp_e4m3_to_f32(code) : qp_e8m0_to_f32(code);
}

/* Dequantizes one stored row of `cols` values (groups g0.. of the scales) into dst (float32):
 * scale * q + bias (affine) or value * scale (fp modes), in float32. */
static inline void qp_dequantize_row(const uint32_t *wrow, const void *scales, mx_dtype sdt, const void *biases,
                                     mx_dtype bdt, int64_t g0, int64_t cols, int gs, int bits, int mode,
                                     float *dst) {
    int64_t groups = cols / gs, gwords = (int64_t)gs * bits / 32;
    for (int64_t g = 0; g < groups; g++) {
        float *d = dst + g * gs;
        qp_unpack(wrow + g * gwords, bits, gs, d);
        qp_decode_values(d, gs, mode);
        float s = qp_scale(scales, sdt, g0 + g, mode);
        if (mode == MX_QUANT_AFFINE) {
            float b = qp_load(biases, bdt, g0 + g);
            for (int j = 0; j < gs; j++) d[j] = s * d[j] + b;
        } else {
            for (int j = 0; j < gs; j++) d[j] = d[j] * s;
        }
    }
}

#endif
