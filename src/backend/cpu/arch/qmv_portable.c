/* The portable C path of the integer-dot quantized products (see qmv.h), and the helpers
 * every path shares: the int8 activation quantizer (the one definition of xq), scale loads
 * and the 32-value tail blocks. */
#include <math.h>

#include "backend/cpu/arch/cpu_features.h"
#include "backend/cpu/arch/qmv.h"
#include "core/dtype.h"

float qk_load_float(const void *p, qk_float t, int64_t i) {
    switch (t) {
    case QK_BF16: return mx_bf16_to_f32(((const uint16_t *)p)[i]);
    case QK_F16: return mx_f16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

float qk_group_sum(const float *x, int gs) {
    float p[16];
    for (int l = 0; l < 16; l++) p[l] = x[l];
    for (int j = 16; j < gs; j += 16)
        for (int l = 0; l < 16; l++) p[l] += x[j + l];
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) p[l] += p[l + w];
    return p[0];
}

/* One group of gs values of one row: xh / xl in natural order into q / ql, returns u. */
static float quantize_group(const float *x, int gs, int8_t *q, int8_t *ql, float *sum_out) {
    float amax = 0.0f;
    int finite = 1;
    for (int j = 0; j < gs; j++) {
        float a = fabsf(x[j]);
        finite &= a <= 3.4028235e38f; /* false for inf and NaN */
        amax = a > amax ? a : amax;
    }
    *sum_out = qk_group_sum(x, gs);
    if (!finite || amax == 0.0f) {
        for (int j = 0; j < gs; j++) q[j] = ql[j] = 0;
        return finite ? 0.0f : NAN;
    }
    float inv = (float)QK_XI_MAX / amax;
    for (int j = 0; j < gs; j++) {
        float v = nearbyintf(x[j] * inv); /* the default rounding mode: half to even */
        v = v > (float)QK_XI_MAX ? (float)QK_XI_MAX : v < -(float)QK_XI_MAX ? -(float)QK_XI_MAX : v;
        int32_t xi = (int32_t)v, hi = (xi + 128) >> 8; /* arithmetic shift: floor */
        q[j] = (int8_t)hi;
        ql[j] = (int8_t)(xi - 256 * hi);
    }
    return amax / (float)QK_XI_MAX;
}

void qk_quantize_act(const float *x, int64_t M, int64_t K, int gs, int bits, int8_t *xq, int8_t *xl, float *scale,
                     float *sum) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpu_path_active() == CPU_PATH_AVX512 && cpu_has_avx512vnni()) {
        qk_quantize_act_avx512(x, M, K, gs, bits, xq, xl, scale, sum);
        return;
    }
#endif
    qk_quantize_act_portable(x, M, K, gs, bits, xq, xl, scale, sum);
}

void qk_quantize_act_portable(const float *x, int64_t M, int64_t K, int gs, int bits, int8_t *xq, int8_t *xl,
                              float *scale, float *sum) {
    int64_t groups = K / gs;
    int8_t tmp[128], tmpl[128];
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * K;
        int8_t *qr = xq + m * K, *lr = xl + m * K;
        for (int64_t g = 0; g < groups; g++) {
            int8_t *dst = bits == 4 ? tmp : qr + g * gs, *dstl = bits == 4 ? tmpl : lr + g * gs;
            scale[m * groups + g] = quantize_group(xr + g * gs, gs, dst, dstl, &sum[m * groups + g]);
            if (bits != 4) continue;
            /* scatter into the 4-bit order: per chunk, evens then odds */
            for (int j = 0; j < gs; j++) {
                int64_t v = g * gs + j, b0, len;
                qk_chunk4(v, K, &b0, &len);
                int64_t i = v - b0;
                qr[b0 + (i & 1) * (len / 2) + i / 2] = tmp[j];
                lr[b0 + (i & 1) * (len / 2) + i / 2] = tmpl[j];
            }
        }
    }
}

/* idot of the 4-bit values in bytes [b0, b1) of a row (within one chunk of the 4-bit order
 * starting at value v0, of length len). */
static int32_t dot4(const uint8_t *wrow, const int8_t *xr, int64_t v0, int64_t len, int64_t b0, int64_t b1) {
    int32_t d = 0;
    int64_t half = len / 2;
    for (int64_t b = b0; b < b1; b++) {
        int64_t i = b - v0 / 2;
        d += (int32_t)(wrow[b] & 15) * xr[v0 + i] + (int32_t)(wrow[b] >> 4) * xr[v0 + half + i];
    }
    return d;
}

static int32_t dot8(const uint8_t *wrow, const int8_t *xr, int64_t v0, int64_t v1) {
    int32_t d = 0;
    for (int64_t j = v0; j < v1; j++) d += (int32_t)wrow[j] * xr[j];
    return d;
}

int32_t qk_tail_dot(const uint8_t *wrow, const int8_t *xr, const int8_t *xlr, int64_t k0, int bits) {
    if (bits == 4) return 256 * dot4(wrow, xr, k0, 32, k0 / 2, k0 / 2 + 16) + dot4(wrow, xlr, k0, 32, k0 / 2, k0 / 2 + 16);
    return 256 * dot8(wrow, xr, k0, k0 + 32) + dot8(wrow, xlr, k0, k0 + 32);
}

void qk_rows_portable(const qk_weights *w, const qk_act *a, int64_t m0, int mr, int64_t n0, int64_t n1, float *y,
                      int64_t ldy) {
    int64_t K = w->k, G = w->groups, gs = w->gs, rb = K * w->bits / 8;
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *wrow = w->w + n * rb;
        for (int m = 0; m < mr; m++) {
            const int8_t *xr = a->q + (m0 + m) * K, *xlr = a->ql + (m0 + m) * K;
            const float *sx = a->scale + (m0 + m) * G, *xs = a->sum + (m0 + m) * G;
            float acc = 0.0f;
            for (int64_t g = 0; g < G; g++) {
                int64_t v0 = g * gs, v1 = v0 + gs;
                int32_t d = 0;
                if (w->bits == 4) {
                    /* the group's values lie in one or more chunks */
                    for (int64_t v = v0; v < v1;) {
                        int64_t b0, len;
                        qk_chunk4(v, K, &b0, &len);
                        int64_t end = b0 + len < v1 ? b0 + len : v1;
                        d += 256 * dot4(wrow, xr, b0, len, v / 2, end / 2) + dot4(wrow, xlr, b0, len, v / 2, end / 2);
                        v = end;
                    }
                } else {
                    d = 256 * dot8(wrow, xr, v0, v1) + dot8(wrow, xlr, v0, v1);
                }
                float s = qk_load_float(w->scales, w->sdt, n * G + g), b = qk_load_float(w->biases, w->sdt, n * G + g);
                acc += s * sx[g] * (float)d + b * xs[g];
            }
            y[(m0 + m) * ldy + n] = acc;
        }
    }
}
