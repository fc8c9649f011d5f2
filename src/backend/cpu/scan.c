/* CPU kernel of SCAN (cumsum, cumprod, cummax, cummin; forward or reverse, inclusive or
 * exclusive). The output is seen as [outer, N, inner] around the scanned axis.
 *  - inner == 1 (the last axis, or only size-1 axes after it): each line is scanned in
 *    chunks of CPU_CHUNK with the running value carried between chunks;
 *  - inner > 1: a block of up to CPU_CHUNK neighbouring lines is scanned together, one axis
 *    position at a time, so reads and writes follow memory order.
 * Values are combined in float32 for 16-bit floats and float32 (float64 for float64) and in
 * int64 for integers and bool, wrapping when stored as MLX's same-width arithmetic does.
 * NaN propagates through cummax/cummin. Exclusive scans start from the identity (0, 1, -inf
 * or the dtype's lowest value, +inf or its highest). */
#include <math.h>
#include <omp.h>
#include <stdint.h>

#include "backend/cpu/chunk.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/lines.h"
#include "core/strided.h"
#include "ops/scan.h"

/* Lowest / highest value of an integer dtype, as int64 bits (uint64's highest is -1). */
static int64_t int_lowest(mx_dtype t) {
    switch (t) {
    case MX_INT8: return INT8_MIN;
    case MX_INT16: return INT16_MIN;
    case MX_INT32: return INT32_MIN;
    case MX_INT64: return INT64_MIN;
    default: return 0; /* unsigned and bool */
    }
}

static int64_t int_highest(mx_dtype t) {
    switch (t) {
    case MX_BOOL: return 1;
    case MX_UINT8: return UINT8_MAX;
    case MX_UINT16: return UINT16_MAX;
    case MX_UINT32: return UINT32_MAX;
    case MX_UINT64: return -1;
    case MX_INT8: return INT8_MAX;
    case MX_INT16: return INT16_MAX;
    case MX_INT32: return INT32_MAX;
    default: return INT64_MAX;
    }
}

#define FMAXN(a, x) ((a) != (a) || (x) != (x) ? (a) + (x) : (x) > (a) ? (x) : (a)) /* NaN propagates */
#define FMINN(a, x) ((a) != (a) || (x) != (x) ? (a) + (x) : (x) < (a) ? (x) : (a))

/* One step of each op (NaN-propagating max/min for floats). */
#define STEP_SUM(a, v) ((a) + (v))
#define STEP_PROD(a, v) ((a) * (v))
#define STEP_MAX(a, v) FMAXN(a, v)
#define STEP_MIN(a, v) FMINN(a, v)

/* Scans a line of n values x into y (reverse: from the end), carrying *acc. The op and the
 * inclusive flag are hoisted out of the loop. */
#define SCAN_LINE_LOOP(T, STEP)                                                                       \
    for (int64_t k = 0; k < n; k++) {                                                               \
        int64_t i = rev ? n - 1 - k : k;                                                            \
        T next = STEP(a, x[i]);                                                                     \
        y[i] = inclusive ? next : a;                                                                \
        a = next;                                                                                   \
    }
#define DEFINE_SCAN_LINE(NAME, T)                                                                   \
    static void NAME(int op, int inclusive, int rev, const T *x, T *y, int64_t n, T *acc) {          \
        T a = *acc;                                                                                 \
        switch (op) {                                                                               \
        case MX_SCAN_SUM: SCAN_LINE_LOOP(T, STEP_SUM) break;                                           \
        case MX_SCAN_PROD: SCAN_LINE_LOOP(T, STEP_PROD) break;                                         \
        case MX_SCAN_MAX: SCAN_LINE_LOOP(T, STEP_MAX) break;                                           \
        default: SCAN_LINE_LOOP(T, STEP_MIN) break;                                                    \
        }                                                                                           \
        *acc = a;                                                                                   \
    }
DEFINE_SCAN_LINE(scan_line_f32, float)
DEFINE_SCAN_LINE(scan_line_f64, double)

/* Elementwise step of a block of lines: y = inclusive ? acc op x : acc; acc = acc op x. */
#define SCAN_STEP_LOOP(T, STEP)                                                                       \
    for (int64_t j = 0; j < n; j++) {                                                               \
        T next = STEP(acc[j], x[j]);                                                                \
        y[j] = inclusive ? next : acc[j];                                                           \
        acc[j] = next;                                                                              \
    }
#define DEFINE_SCAN_STEP(NAME, T)                                                                   \
    static void NAME(int op, int inclusive, const T *x, T *y, T *acc, int64_t n) {                  \
        switch (op) {                                                                               \
        case MX_SCAN_SUM: SCAN_STEP_LOOP(T, STEP_SUM) break;                                           \
        case MX_SCAN_PROD: SCAN_STEP_LOOP(T, STEP_PROD) break;                                         \
        case MX_SCAN_MAX: SCAN_STEP_LOOP(T, STEP_MAX) break;                                           \
        default: SCAN_STEP_LOOP(T, STEP_MIN) break;                                                    \
        }                                                                                           \
    }
DEFINE_SCAN_STEP(scan_step_f32, float)
DEFINE_SCAN_STEP(scan_step_f64, double)

static int64_t icomb(int op, int u, int64_t a, int64_t v) {
    switch (op) {
    case MX_SCAN_SUM: return (int64_t)((uint64_t)a + (uint64_t)v);
    case MX_SCAN_PROD: return (int64_t)((uint64_t)a * (uint64_t)v);
    case MX_SCAN_MAX: return (u ? (uint64_t)v > (uint64_t)a : v > a) ? v : a;
    default: return (u ? (uint64_t)v < (uint64_t)a : v < a) ? v : a;
    }
}

static void scan_line_i64(int op, int u, int inclusive, int rev, const int64_t *x, int64_t *y, int64_t n,
                          int64_t *acc) {
    int64_t a = *acc;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = rev ? n - 1 - k : k, next = icomb(op, u, a, x[i]);
        y[i] = inclusive ? next : a;
        a = next;
    }
    *acc = a;
}

static void scan_step_i64(int op, int u, int inclusive, const int64_t *x, int64_t *y, int64_t *acc, int64_t n) {
    for (int64_t j = 0; j < n; j++) {
        int64_t next = icomb(op, u, acc[j], x[j]);
        y[j] = inclusive ? next : acc[j];
        acc[j] = next;
    }
}

/* The identity of op in the compute domain, written to acc[0..n). */
static void fill_identity(int op, mx_dtype in_dtype, mx_dtype dom, void *acc, int64_t n) {
    double f = op == MX_SCAN_PROD ? 1 : op == MX_SCAN_MAX ? -INFINITY : op == MX_SCAN_MIN ? INFINITY : 0;
    int64_t i = op == MX_SCAN_PROD ? 1 : op == MX_SCAN_MAX ? int_lowest(in_dtype)
                : op == MX_SCAN_MIN ? int_highest(in_dtype) : 0;
    for (int64_t j = 0; j < n; j++) {
        if (dom == MX_FLOAT32) ((float *)acc)[j] = (float)f;
        else if (dom == MX_FLOAT64) ((double *)acc)[j] = f;
        else ((int64_t *)acc)[j] = i;
    }
}

int cpu_scan(const mx_kernel_ctx *c) {
    const mx_scan_params *p = c->params;
    mx_array *in = c->inputs[0], *out = c->outputs[0];
    if (mx_out_alloc(out)) return -1;
    if (out->size == 0) return 0;
    mx_dtype dom = in->dtype == MX_FLOAT64 ? MX_FLOAT64 : mx_dtype_is_float(in->dtype) ? MX_FLOAT32 : MX_INT64;
    int u = in->dtype == MX_UINT64, ax = p->axis, op = p->op;
    int64_t N = in->shape[ax], sa = in->strides[ax], outer = 1, inner = 1;
    for (int d = 0; d < ax; d++) outer *= in->shape[d];
    for (int d = ax + 1; d < in->ndim; d++) inner *= in->shape[d];
    size_t os = mx_dtype_size(out->dtype);
    char *o = mx_array_ptr(out);

    if (inner == 1) {
        int lines_per_step = N >= 4096 ? 1 : (int)(4096 / N); /* short lines: schedule in batches */
#pragma omp parallel for schedule(dynamic, lines_per_step) if (cpu_parallel_worth(in->size) && outer > 1)
        for (int64_t line = 0; line < outer; line++) {
            _Alignas(64) unsigned char xb[CPU_CHUNK * 8], yb[CPU_CHUNK * 8], acc[8];
            int64_t off = in->offset + cpu_flat_offset(ax, in->shape, in->strides, line);
            fill_identity(op, in->dtype, dom, acc, 1);
            for (int64_t k = 0; k < N; k += CPU_CHUNK) {
                int64_t m = N - k < CPU_CHUNK ? N - k : CPU_CHUNK;
                int64_t s = p->reverse ? N - k - m : k; /* reverse: chunks from the end */
                cpu_load_line(in, off + s * sa, sa, m, dom, xb);
                if (dom == MX_FLOAT32)
                    scan_line_f32(op, p->inclusive, p->reverse, (float *)xb, (float *)yb, m, (float *)acc);
                else if (dom == MX_FLOAT64)
                    scan_line_f64(op, p->inclusive, p->reverse, (double *)xb, (double *)yb, m, (double *)acc);
                else
                    scan_line_i64(op, u, p->inclusive, p->reverse, (int64_t *)xb, (int64_t *)yb, m, (int64_t *)acc);
                mx_convert(yb, dom, o + (line * N + s) * (int64_t)os, out->dtype, m);
            }
        }
        return 0;
    }

    /* inner > 1: the view of the input's dimensions after the axis */
    mx_array iv = *in;
    iv.ndim = in->ndim - ax - 1;
    for (int d = 0; d < iv.ndim; d++) {
        iv.shape[d] = in->shape[ax + 1 + d];
        iv.strides[d] = in->strides[ax + 1 + d];
    }
    iv.size = inner;
    mx_update_flags(&iv);
    /* blocks of up to CPU_CHUNK lines, smaller (down to 256) until each thread has two */
    int64_t bl = CPU_CHUNK, threads = omp_get_max_threads();
    while (bl > 256 && outer * ((inner + bl - 1) / bl) < 2 * threads) bl /= 2;
    int64_t blocks = (inner + bl - 1) / bl;
#pragma omp parallel for schedule(dynamic) if (cpu_parallel_worth(in->size) && outer * blocks > 1)
    for (int64_t t = 0; t < outer * blocks; t++) {
        _Alignas(64) unsigned char xb[CPU_CHUNK * 8], yb[CPU_CHUNK * 8], acc[CPU_CHUNK * 8];
        int64_t line = t / blocks, j0 = (t % blocks) * bl;
        int64_t m = inner - j0 < bl ? inner - j0 : bl;
        int64_t off = in->offset + cpu_flat_offset(ax, in->shape, in->strides, line);
        mx_array v = iv;
        fill_identity(op, in->dtype, dom, acc, m);
        for (int64_t k = 0; k < N; k++) {
            int64_t i = p->reverse ? N - 1 - k : k;
            v.offset = off + i * sa;
            mx_copy_strided(&v, dom, xb, j0, m);
            if (dom == MX_FLOAT32) scan_step_f32(op, p->inclusive, (float *)xb, (float *)yb, (float *)acc, m);
            else if (dom == MX_FLOAT64) scan_step_f64(op, p->inclusive, (double *)xb, (double *)yb, (double *)acc, m);
            else scan_step_i64(op, u, p->inclusive, (int64_t *)xb, (int64_t *)yb, (int64_t *)acc, m);
            mx_convert(yb, dom, o + ((line * N + i) * inner + j0) * (int64_t)os, out->dtype, m);
        }
    }
    return 0;
}
