/* The AArch64 NEON path of the integer-dot quantized products (see qmv.h). Built only when
 * the compiler targets a CPU with the dot-product extension (-march=armv8.2-a+dotprod or
 * later: __ARM_FEATURE_DOTPROD); elsewhere the symbol falls back to the portable path and the
 * dispatcher never picks it. Compile-checked with clang --target=aarch64-linux-gnu; not run
 * on hardware (no Arm machine was available).
 *
 * Per block of 64 values:
 *  - 4-bit: the nibbles (0..15) fit int8, so SDOT (signed x signed) multiplies them with the
 *    block's xq evens / odds: lane i of 16 bytes sums bytes 4i..4i+3 (one group);
 *  - 8-bit: codes up to 255 do not fit int8: they are widened to 16 bits and multiplied with
 *    the widened xq (SMLAL), 4 products per int32 lane as on the other paths. */
#include "backend/cpu/arch/qmv.h"

#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#include <arm_neon.h>

/* int32 lanes of 16 weight bytes times 16 xq for 8-bit codes. */
static inline int32x4_t dot8_16(uint8x16_t w, int8x16_t x) {
    int16x8_t wl = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(w))), wh = vreinterpretq_s16_u16(vmovl_high_u8(w));
    int16x8_t xl = vmovl_s8(vget_low_s8(x)), xh = vmovl_high_s8(x);
    int32x4_t p0 = vmull_s16(vget_low_s16(wl), vget_low_s16(xl));
    p0 = vmlal_high_s16(p0, wl, xl);       /* lanes mix bytes 0-3 with 4-7: same group */
    int32x4_t p1 = vmull_s16(vget_low_s16(wh), vget_low_s16(xh));
    p1 = vmlal_high_s16(p1, wh, xh);
    return vaddq_s32(p0, p1);              /* one 16-byte run is always inside one group */
}

void qk_rows_neon(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                  int64_t ldy) {
    const int64_t K = w->k, G = w->groups, gs = w->gs, rb = K * w->bits / 8, full = K / 64 * 64;
    const uint8x16_t lo4 = vdupq_n_u8(15);
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *wrow = w->w + n * rb;
        for (int m = 0; m < mr; m++) {
            const int8_t *xr = a->q + (m0 + m) * K, *xlr = a->ql + (m0 + m) * K;
            const float *sx = a->scale + (m0 + m) * G, *xs = a->sum + (m0 + m) * G;
            float acc = 0.0f;
            for (int64_t g = 0; g < G; g++) {
                int64_t v0 = g * gs, v1 = v0 + gs < full ? v0 + gs : full;
                int32x4_t d = vdupq_n_s32(0), e = vdupq_n_s32(0);
                int32_t tail = 0;
                for (int64_t v = v0 / 64 * 64; v < v1; v += 64) {
                    /* the part of block v that lies in group g: 16-byte runs */
                    int64_t a0 = v0 > v ? v0 : v, a1 = v1 < v + 64 ? v1 : v + 64;
                    for (int64_t r = a0; r < a1; r += (w->bits == 4 ? 32 : 16)) {
                        if (w->bits == 4) {
                            uint8x16_t wb = vld1q_u8(wrow + r / 2);
                            int64_t c, len;
                            qk_chunk4(r, K, &c, &len);
                            int64_t i = (r - c) / 2; /* byte offset inside the chunk */
                            int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(wb, lo4));
                            int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(wb, 4));
                            d = vdotq_s32(d, lo, vld1q_s8(xr + c + i));
                            d = vdotq_s32(d, hi, vld1q_s8(xr + c + len / 2 + i));
                            e = vdotq_s32(e, lo, vld1q_s8(xlr + c + i));
                            e = vdotq_s32(e, hi, vld1q_s8(xlr + c + len / 2 + i));
                        } else {
                            d = vaddq_s32(d, dot8_16(vld1q_u8(wrow + r), vld1q_s8(xr + r)));
                            e = vaddq_s32(e, dot8_16(vld1q_u8(wrow + r), vld1q_s8(xlr + r)));
                        }
                    }
                }
                if (v0 >= full) tail = qk_tail_dot(wrow, xr, xlr, full, w->bits);
                float s = qk_load_float(w->scales, w->sdt, n * G + g), b = qk_load_float(w->biases, w->sdt, n * G + g);
                acc += s * sx[g] * (float)(256 * vaddvq_s32(d) + vaddvq_s32(e) + tail) + b * xs[g];
            }
            y[(m0 + m) * ldy + n] = acc;
        }
    }
}

#else
void qk_rows_neon(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                  int64_t ldy) {
    qk_rows_portable(w, a, m0, mr, n0, n1, y, ldy); /* never dispatched: cpu_path_supported says no */
}
#endif
