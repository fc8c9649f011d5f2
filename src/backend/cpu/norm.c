/* CPU kernels of RMS_NORM and LAYER_NORM: one row (the last axis) at a time, read in any
 * dtype and layout into a float32 row, statistics accumulated in double, one rounding
 * into the result dtype. Rows are spread over OpenMP threads. */
#include <math.h>
#include <stdlib.h>

#include "backend/cpu/chunk.h"
#include "backend/cpu/kernels.h"
#include "core/dtype.h"
#include "core/strided.h"
#include "fast/norm.h"

/* A float32 copy of a 1-D parameter (weight/bias), or NULL when absent or out of memory
 * (then *err is set). */
static float *load_vector(const mx_array *a, int64_t n, const char *op, int *err) {
    if (!a) return NULL;
    float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v) {
        mx_set_error("[%s] out of memory for a row of %lld", op, (long long)n);
        *err = 1;
        return NULL;
    }
    mx_copy_strided(a, MX_FLOAT32, v, 0, n);
    return v;
}

/* sum_j (v[j] - m)^k in double, k = 1 or 2 (with k = 1, m is ignored), as eight partial sums
 * added pairwise at the end: one chain of dependent double adds costs a few cycles a value (a
 * 512 x 2048 bfloat16 rms_norm took 1.1 ms on two threads of this project's VM). */
static double sum_dev(const float *v, int64_t n, float m, int square) {
    double p[8] = {0};
    int64_t j = 0;
    if (square) {
        for (; j + 8 <= n; j += 8)
            for (int k = 0; k < 8; k++) p[k] += (double)(v[j + k] - m) * (double)(v[j + k] - m);
        for (; j < n; j++) p[j % 8] += (double)(v[j] - m) * (double)(v[j] - m);
    } else {
        for (; j + 8 <= n; j += 8)
            for (int k = 0; k < 8; k++) p[k] += v[j + k];
        for (; j < n; j++) p[j % 8] += v[j];
    }
    return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
}

static int run_norm(const mx_kernel_ctx *c, int layer) {
    const mx_norm_params *p = c->params;
    const char *op = layer ? "layer_norm" : "rms_norm";
    mx_array *x = c->inputs[0], *out = c->outputs[0];
    const mx_array *w = p->has_weight ? c->inputs[1] : NULL;
    const mx_array *b = p->has_bias ? c->inputs[1 + p->has_weight] : NULL;
    if (mx_out_alloc(out)) return -1;
    int64_t d = x->shape[x->ndim - 1], rows = d ? x->size / d : 0;
    if (rows == 0) return 0;
    int err = 0;
    float *wv = load_vector(w, d, op, &err), *bv = load_vector(b, d, op, &err);
    char *o = mx_array_ptr(out);
    size_t os = mx_dtype_size(out->dtype);
    float eps = p->eps;
    if (!err) {
#pragma omp parallel if (cpu_parallel_worth(x->size))
        {
            float *row = malloc((size_t)d * sizeof *row);
            if (!row) {
#pragma omp atomic write
                err = 1;
            }
#pragma omp for
            for (int64_t r = 0; r < rows; r++) {
                if (!row) continue;
                mx_copy_strided(x, MX_FLOAT32, row, r * d, d);
                float mean = 0, inv;
                if (layer) mean = (float)(sum_dev(row, d, 0, 0) / (double)d);
                inv = (float)(1.0 / sqrt(sum_dev(row, d, mean, 1) / (double)d + (double)eps));
                for (int64_t j = 0; j < d; j++) row[j] = (row[j] - mean) * inv;
                if (wv)
                    for (int64_t j = 0; j < d; j++) row[j] *= wv[j];
                if (bv)
                    for (int64_t j = 0; j < d; j++) row[j] += bv[j];
                mx_convert(row, MX_FLOAT32, o + r * d * (int64_t)os, out->dtype, d);
            }
            free(row);
        }
        if (err) mx_set_error("[%s] out of memory for a row of %lld", op, (long long)d);
    }
    free(wv);
    free(bv);
    return err ? -1 : 0;
}

int cpu_rms_norm(const mx_kernel_ctx *c) { return run_norm(c, 0); }
int cpu_layer_norm(const mx_kernel_ctx *c) { return run_norm(c, 1); }
