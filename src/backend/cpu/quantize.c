/* CPU kernels of quantize and dequantize.
 *
 * Affine quantization is bit-exact with MLX's CPU kernel (mlx/backend/cpu/quantized.cpp,
 * `quantize<T, U>`), following ../shared/formats/mlx-quant.md: float32 arithmetic on the
 * exactly widened weights, rint (half to even), scales possibly negative, the group's edge
 * reproduced exactly; scale and bias rounded to w's dtype only when stored.
 *
 * The fp modes follow MLX's CPU path, which builds them from ops evaluated in w's dtype: each
 * intermediate (max|w| / maxval, log2, the scaled weights, their distance to the fp4 values)
 * is rounded to that dtype as those ops would round it.
 *
 * Dequantization computes scale * q + bias (or value * scale) in float32 and rounds once to
 * the output dtype. Rows are independent; they are spread over OpenMP threads. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/chunk.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/quant_pack.h"
#include "cmlx/quant.h"
#include "core/strided.h"
#include "ops/quantized.h"

/* A row-major pointer to a's elements: a's own when row-contiguous, else a copy in *tmp. */
static const void *row_major(const mx_array *a, void **tmp, const char *op) {
    *tmp = NULL;
    if (a->flags & MX_FLAG_ROW_CONTIG) return mx_array_ptr(a);
    *tmp = malloc(mx_nbytes(a) ? mx_nbytes(a) : 1);
    if (!*tmp) {
        mx_set_error("[%s] out of memory copying %s to row-major order", op, MX_SHAPE_STR(a));
        return NULL;
    }
    mx_copy_strided(a, a->dtype, *tmp, 0, a->size);
    return *tmp;
}

static void store_scalar(void *dst, mx_dtype t, int64_t i, float v) {
    if (t == MX_BFLOAT16) ((uint16_t *)dst)[i] = mx_f32_to_bf16(v);
    else if (t == MX_FLOAT16) ((uint16_t *)dst)[i] = mx_f32_to_f16(v);
    else ((float *)dst)[i] = v;
}

/* One affine group: codes q[n] and the float32 scale / bias, exactly as MLX computes them. */
static void affine_group(const float *w, int n, int bits, uint8_t *q, float *scale_out, float *bias_out) {
    float n_bins = (float)((1 << bits) - 1), eps = 1e-7f;
    float w_min = INFINITY, w_max = -INFINITY;
    for (int j = 0; j < n; j++) {
        w_max = w_max < w[j] ? w[j] : w_max; /* std::max(w_max, w) */
        w_min = w[j] < w_min ? w[j] : w_min; /* std::min(w_min, w) */
    }
    int mask = fabsf(w_min) > fabsf(w_max);
    float scale = (w_max - w_min) / n_bins;
    scale = scale < eps ? eps : scale;
    scale = mask ? scale : -scale;
    float edge = mask ? w_min : w_max;
    float q0 = rintf(edge / scale), bias = 0;
    if (q0 != 0) {
        scale = edge / q0;
        bias = edge;
    }
    for (int j = 0; j < n; j++) {
        float v = rintf((w[j] - bias) / scale);
        v = v > 0.0f ? v : 0.0f; /* NaN -> 0 (MLX's is undefined there) */
        v = v < n_bins ? v : n_bins;
        q[j] = (uint8_t)v;
    }
    *scale_out = scale;
    *bias_out = bias;
}

/* One fp group (mxfp4 / mxfp8 / nvfp4) of weights of dtype t: codes and the uint8 scale. */
static void fp_group(const float *w, int n, int mode, mx_dtype t, uint8_t *q, uint8_t *scale_code) {
    float amax = 0;
    for (int j = 0; j < n; j++) amax = fabsf(w[j]) > amax ? fabsf(w[j]) : amax;
    float maxval = mode == MX_QUANT_MXFP8 ? 448.0f : 6.0f;
    float s = qp_round_to(amax / maxval, t);
    float wq[128];
    int float32_distance = 0;
    if (mode == MX_QUANT_NVFP4) {
        uint8_t code = qp_f32_to_e4m3(s);
        float d = qp_round_to(qp_e4m3_to_f32(code), t);
        for (int j = 0; j < n; j++) wq[j] = qp_round_to(w[j] / d, t);
        *scale_code = code;
        float32_distance = 1; /* MLX multiplies by a float32 1.0 here: the lut distance is float32 */
    } else {
        float e = 0;
        if (s != 0) e = rintf(qp_round_to(log2f(s), t));
        float p = qp_round_to(exp2f(e), t);
        for (int j = 0; j < n; j++) wq[j] = qp_round_to(w[j] / p, t);
        float c = e + 127;
        *scale_code = (uint8_t)(c < 0 ? 0 : c > 255 ? 255 : c);
    }
    if (mode == MX_QUANT_MXFP8) {
        for (int j = 0; j < n; j++) q[j] = qp_f32_to_e4m3(wq[j]);
        return;
    }
    for (int j = 0; j < n; j++) {
        int best = 0;
        float best_d = INFINITY;
        for (int k = 0; k < 16; k++) {
            float lv = qp_round_to(qp_fp4_values[k], t);
            float d = float32_distance ? fabsf(wq[j] - lv) : fabsf(qp_round_to(wq[j] - lv, t));
            if (d < best_d) best_d = d, best = k;
        }
        q[j] = (uint8_t)best;
    }
}

/* Per-thread float rows: one allocation before the parallel region (so a failure is an
 * error, not a silent skip). */
static float *thread_rows(int64_t cols, const char *op) {
    size_t n = (size_t)(cols ? cols : 1) * (size_t)omp_get_max_threads();
    float *r = malloc(sizeof(float) * n);
    if (!r) mx_set_error("[%s] out of memory for %zu floats of scratch", op, n);
    return r;
}

int cpu_quantize(const mx_kernel_ctx *c) {
    const mx_quant_params *p = c->params;
    const mx_array *w = c->inputs[0];
    mx_array *wq = c->outputs[0], *scales = c->outputs[1], *biases = c->n_outputs > 2 ? c->outputs[2] : NULL;
    if (mx_out_alloc(wq) || mx_out_alloc(scales) || (biases && mx_out_alloc(biases))) return -1;
    int64_t cols = w->shape[w->ndim - 1], rows = cols ? w->size / cols : 0;
    int gs = p->group_size, bits = p->bits, groups = (int)(cols / gs);
    int64_t words = cols * bits / 32;
    uint32_t *out = (uint32_t *)mx_array_ptr(wq);
    char *sp = mx_array_ptr(scales), *bp = biases ? mx_array_ptr(biases) : NULL;
    float *scratch = thread_rows(cols, "quantize");
    if (!scratch) return -1;
#pragma omp parallel for if (cpu_parallel_worth(w->size))
    for (int64_t r = 0; r < rows; r++) {
        float *row = scratch + (int64_t)omp_get_thread_num() * cols;
        uint8_t q[128];
        mx_copy_strided(w, MX_FLOAT32, row, r * cols, cols);
        for (int g = 0; g < groups; g++) {
            uint32_t *dst = out + r * words + (int64_t)g * gs * bits / 32;
            if (p->mode == MX_QUANT_AFFINE) {
                float s, b;
                affine_group(row + (int64_t)g * gs, gs, bits, q, &s, &b);
                store_scalar(sp, scales->dtype, r * groups + g, s);
                store_scalar(bp, biases->dtype, r * groups + g, b);
            } else {
                fp_group(row + (int64_t)g * gs, gs, p->mode, w->dtype, q, (uint8_t *)sp + r * groups + g);
            }
            qp_pack(q, bits, gs, dst);
        }
    }
    free(scratch);
    return 0;
}

int cpu_dequantize(const mx_kernel_ctx *c) {
    const mx_quant_params *p = c->params;
    const mx_array *wq = c->inputs[0], *scales = c->inputs[1], *biases = c->n_inputs > 2 ? c->inputs[2] : NULL;
    mx_array *out = c->outputs[0];
    if (mx_out_alloc(out)) return -1;
    int64_t cols = out->shape[out->ndim - 1], rows = cols ? out->size / cols : 0;
    int64_t words = wq->shape[wq->ndim - 1], groups = cols / p->group_size;
    void *tw, *ts, *tb = NULL;
    const uint32_t *w = row_major(wq, &tw, "dequantize");
    const void *s = row_major(scales, &ts, "dequantize");
    const void *b = biases ? row_major(biases, &tb, "dequantize") : NULL;
    float *scratch = w && s && (b || !biases) ? thread_rows(cols, "dequantize") : NULL;
    if (!scratch) {
        free(tw), free(ts), free(tb);
        return -1;
    }
    char *o = mx_array_ptr(out);
    size_t os = mx_dtype_size(out->dtype);
#pragma omp parallel for if (cpu_parallel_worth(out->size))
    for (int64_t r = 0; r < rows; r++) {
        float *row = scratch + (int64_t)omp_get_thread_num() * cols;
        qp_dequantize_row(w + r * words, s, scales->dtype, b, biases ? biases->dtype : MX_FLOAT32, r * groups, cols,
                       p->group_size, p->bits, p->mode, row);
        mx_convert(row, MX_FLOAT32, o + r * cols * (int64_t)os, out->dtype, cols);
    }
    free(scratch);
    free(tw), free(ts), free(tb);
    return 0;
}
