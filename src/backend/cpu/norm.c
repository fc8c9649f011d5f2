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
                if (layer) {
                    double s = 0;
                    for (int64_t j = 0; j < d; j++) s += row[j];
                    mean = (float)(s / (double)d);
                    double v = 0;
                    for (int64_t j = 0; j < d; j++) v += (double)(row[j] - mean) * (double)(row[j] - mean);
                    inv = (float)(1.0 / sqrt(v / (double)d + (double)eps));
                } else {
                    double s = 0;
                    for (int64_t j = 0; j < d; j++) s += (double)row[j] * (double)row[j];
                    inv = (float)(1.0 / sqrt(s / (double)d + (double)eps));
                }
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
