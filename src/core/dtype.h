/* Scalar conversions for the 16-bit float formats, used by every kernel that reads or
 * writes float16 / bfloat16 directly. Round-to-nearest-even, NaN kept NaN. */
#ifndef CMLX_CORE_DTYPE_H
#define CMLX_CORE_DTYPE_H

#include <stdint.h>
#include <string.h>

#include "cmlx/array.h"

static inline float mx_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t mx_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float mx_f16_to_f32(uint16_t h) {
#if defined(__FLT16_MAX__) && !defined(__clang_analyzer__)
    _Float16 v;
    memcpy(&v, &h, 2);
    return (float)v;
#else
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
#endif
}

static inline uint16_t mx_f32_to_f16(float f) {
#if defined(__FLT16_MAX__) && !defined(__clang_analyzer__)
    _Float16 v = (_Float16)f;
    uint16_t h;
    memcpy(&h, &v, 2);
    return h;
#else
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* overflow to inf */
    if (a < 0x38800000u) {                                   /* subnormal or zero */
        if (a < 0x33000000u) return (uint16_t)sign;
        uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e;                            /* 14..24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = a - 0x38000000u;                            /* rebias 127 -> 15 */
    uint32_t rem = r & 0x1fffu;
    r >>= 13;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) r++;
    return (uint16_t)(sign | r);
#endif
}

/* Reads element `i` (flat index into memory) of type t as double / int64. */
double mx_load_double(const void *p, mx_dtype t, int64_t i);
int64_t mx_load_int(const void *p, mx_dtype t, int64_t i);
/* Writes a value of type t at flat index i (float->int truncates toward zero as C does;
 * to bool: != 0). */
void mx_store_double(void *p, mx_dtype t, int64_t i, double v);
void mx_store_int(void *p, mx_dtype t, int64_t i, int64_t v);

/* Converts n contiguous elements from one dtype to another (the one conversion routine
 * all kernels use for astype-like work). */
void mx_convert(const void *src, mx_dtype st, void *dst, mx_dtype dt, int64_t n);
/* Rounds n float32 values in place to the precision of t (bfloat16 or float16; other types
 * leave them as they are): the same floats as converting to t and back. */
void mx_round_to_dtype(float *x, mx_dtype t, int64_t n);

#endif
