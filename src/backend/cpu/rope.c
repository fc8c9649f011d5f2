/* CPU kernel of ROPE. x is seen as [B, N, T, D] (N = the middle axes); any strides. The
 * cos/sin tables ([T, dims/2] per distinct offset) are computed once, in double, before
 * the rows are rotated in float32; rows are spread over OpenMP threads. The output is
 * row-contiguous. */
#include <math.h>
#include <stdlib.h>

#include "backend/cpu/chunk.h"
#include "backend/cpu/kernels.h"
#include "core/dtype.h"
#include "core/strided.h"
#include "fast/rope.h"

int cpu_rope(const mx_kernel_ctx *c) {
    const mx_rope_params *p = c->params;
    mx_array *x = c->inputs[0], *offs = c->inputs[1], *out = c->outputs[0];
    const mx_array *freqs = p->has_freqs ? c->inputs[2] : NULL;
    if (mx_out_alloc(out)) return -1;
    int nd = x->ndim;
    int64_t B = x->shape[0], T = x->shape[nd - 2], D = x->shape[nd - 1];
    int64_t rows = D ? x->size / D : 0, half = p->dims / 2;
    if (rows == 0) return 0;
    int64_t n_off = offs->size, heads = rows / T;   /* heads = B * N */
    int64_t per_batch = heads / B;
    int32_t *off = malloc((size_t)n_off * sizeof *off);
    float *cs = malloc((size_t)(n_off * T * half * 2 + 1) * sizeof *cs);   /* cos then sin per table */
    int err = !off || !cs;
    if (!err) {
        mx_copy_strided(offs, MX_INT32, off, 0, n_off);
        double *f = malloc((size_t)(half ? half : 1) * sizeof *f);
        if (!f) err = 1;
        else {
            if (freqs) {
                mx_copy_strided(freqs, MX_FLOAT64, f, 0, half);
                for (int64_t j = 0; j < half; j++) f[j] = 1.0 / f[j];
            } else {
                for (int64_t j = 0; j < half; j++) f[j] = pow((double)p->base, -(double)j / (double)half);
            }
#pragma omp parallel for collapse(2) if (cpu_parallel_worth(n_off * T * half * 8))
            for (int64_t k = 0; k < n_off; k++)
                for (int64_t t = 0; t < T; t++) {
                    float *ct = cs + (k * T + t) * half * 2, *st = ct + half;
                    double pos = ((double)t + (double)off[k]) * (double)p->scale;
                    for (int64_t j = 0; j < half; j++) {
                        ct[j] = (float)cos(pos * f[j]);
                        st[j] = (float)sin(pos * f[j]);
                    }
                }
            free(f);
        }
    }
    if (!err) {
        char *o = mx_array_ptr(out);
        size_t os = mx_dtype_size(out->dtype);
        int trad = p->traditional;
#pragma omp parallel if (cpu_parallel_worth(x->size))
        {
            float *row = malloc((size_t)D * sizeof *row);
            if (!row) {
#pragma omp atomic write
                err = 1;
            }
#pragma omp for
            for (int64_t r = 0; r < rows; r++) {
                if (!row) continue;
                int64_t t = r % T, b = (r / T) / per_batch;
                const float *ct = cs + ((n_off > 1 ? b : 0) * T + t) * half * 2, *st = ct + half;
                mx_copy_strided(x, MX_FLOAT32, row, r * D, D);
                if (trad) {
                    for (int64_t j = 0; j < half; j++) {
                        float x1 = row[2 * j], x2 = row[2 * j + 1];
                        row[2 * j] = x1 * ct[j] - x2 * st[j];
                        row[2 * j + 1] = x1 * st[j] + x2 * ct[j];
                    }
                } else {
                    for (int64_t j = 0; j < half; j++) {
                        float x1 = row[j], x2 = row[j + half];
                        row[j] = x1 * ct[j] - x2 * st[j];
                        row[j + half] = x1 * st[j] + x2 * ct[j];
                    }
                }
                mx_convert(row, MX_FLOAT32, o + r * D * (int64_t)os, out->dtype, D);
            }
            free(row);
        }
    }
    free(off);
    free(cs);
    if (err) mx_set_error("[rope] out of memory for the tables of %s", MX_SHAPE_STR(x));
    return err ? -1 : 0;
}
