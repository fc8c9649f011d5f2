/* CPU kernels of the elementwise families: unary, binary, where, astype, copy.
 * Operands are computed in one of three domains: float (for float16/bfloat16/float32),
 * double (float64) and int64 (integers and bool; uint64 gets unsigned division,
 * comparison and shifts). Integer arithmetic wraps (done in unsigned) and division by
 * zero gives 0, so no input can trigger undefined behaviour. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/chunk.h"
#include "backend/cpu/exp_f32.h"
#include "backend/cpu/kernels.h"
#include "core/clones.h"
#include "core/dtype.h"
#include "core/strided.h"
#include "ops/elementwise.h"

/* ---- erfinv: a rational first guess refined by two Newton steps on erf ---- */
static double erfinv_d(double y) {
    if (y <= -1) return y == -1 ? -INFINITY : NAN;
    if (y >= 1) return y == 1 ? INFINITY : NAN;
    double w = -log((1.0 - y) * (1.0 + y)), x;
    if (w < 5.0) {
        w -= 2.5;
        double p = 2.81022636e-08;
        p = 3.43273939e-07 + p * w;
        p = -3.5233877e-06 + p * w;
        p = -4.39150654e-06 + p * w;
        p = 0.00021858087 + p * w;
        p = -0.00125372503 + p * w;
        p = -0.00417768164 + p * w;
        p = 0.246640727 + p * w;
        p = 1.50140941 + p * w;
        x = p * y;
    } else {
        w = sqrt(w) - 3.0;
        double p = -0.000200214257;
        p = 0.000100950558 + p * w;
        p = 0.00134934322 + p * w;
        p = -0.00367342844 + p * w;
        p = 0.00573950773 + p * w;
        p = -0.0076224613 + p * w;
        p = 0.00943887047 + p * w;
        p = 1.00167406 + p * w;
        p = 2.83297682 + p * w;
        x = p * y;
    }
    for (int i = 0; i < 2; i++) x -= (erf(x) - y) / (2.0 / sqrt(M_PI) * exp(-x * x));
    return x;
}

static double round_half_even(double x, int decimals) {
    if (decimals == 0) return nearbyint(x);
    double s = pow(10.0, decimals);
    return nearbyint(x * s) / s;
}

/* ---- unary ---- */

#define UNARY_FLOAT_CASES(T, SQRT, EXP, EXPM1, LOG, LOG1P, LOG2, LOG10, SIN, COS, TAN, ASIN, ACOS, \
                          ATAN, SINH, COSH, TANH, ERF, FLOOR, CEIL, FABS)                          \
    case MX_UN_ABS: for (i = 0; i < n; i++) r[i] = FABS(x[i]); break;                             \
    case MX_UN_NEGATIVE: for (i = 0; i < n; i++) r[i] = -x[i]; break;                             \
    case MX_UN_SIGN: for (i = 0; i < n; i++) r[i] = x[i] > 0 ? 1 : x[i] < 0 ? -1 : x[i]; break;   \
    case MX_UN_SQRT: for (i = 0; i < n; i++) r[i] = SQRT(x[i]); break;                            \
    case MX_UN_RSQRT: for (i = 0; i < n; i++) r[i] = (T)1 / SQRT(x[i]); break;                    \
    case MX_UN_SQUARE: for (i = 0; i < n; i++) r[i] = x[i] * x[i]; break;                         \
    case MX_UN_RECIPROCAL: for (i = 0; i < n; i++) r[i] = (T)1 / x[i]; break;                     \
    case MX_UN_EXP: for (i = 0; i < n; i++) r[i] = EXP(x[i]); break;                              \
    case MX_UN_EXPM1: for (i = 0; i < n; i++) r[i] = EXPM1(x[i]); break;                          \
    case MX_UN_LOG: for (i = 0; i < n; i++) r[i] = LOG(x[i]); break;                              \
    case MX_UN_LOG1P: for (i = 0; i < n; i++) r[i] = LOG1P(x[i]); break;                          \
    case MX_UN_LOG2: for (i = 0; i < n; i++) r[i] = LOG2(x[i]); break;                            \
    case MX_UN_LOG10: for (i = 0; i < n; i++) r[i] = LOG10(x[i]); break;                          \
    case MX_UN_SIN: for (i = 0; i < n; i++) r[i] = SIN(x[i]); break;                              \
    case MX_UN_COS: for (i = 0; i < n; i++) r[i] = COS(x[i]); break;                              \
    case MX_UN_TAN: for (i = 0; i < n; i++) r[i] = TAN(x[i]); break;                              \
    case MX_UN_ARCSIN: for (i = 0; i < n; i++) r[i] = ASIN(x[i]); break;                          \
    case MX_UN_ARCCOS: for (i = 0; i < n; i++) r[i] = ACOS(x[i]); break;                          \
    case MX_UN_ARCTAN: for (i = 0; i < n; i++) r[i] = ATAN(x[i]); break;                          \
    case MX_UN_SINH: for (i = 0; i < n; i++) r[i] = SINH(x[i]); break;                            \
    case MX_UN_COSH: for (i = 0; i < n; i++) r[i] = COSH(x[i]); break;                            \
    case MX_UN_TANH: for (i = 0; i < n; i++) r[i] = TANH(x[i]); break;                            \
    case MX_UN_SIGMOID:                                                                           \
        for (i = 0; i < n; i++)                                                                   \
            r[i] = x[i] >= 0 ? (T)1 / ((T)1 + EXP(-x[i])) : EXP(x[i]) / ((T)1 + EXP(x[i]));       \
        break;                                                                                    \
    case MX_UN_ERF: for (i = 0; i < n; i++) r[i] = ERF(x[i]); break;                              \
    case MX_UN_ERFINV: for (i = 0; i < n; i++) r[i] = (T)erfinv_d(x[i]); break;                   \
    case MX_UN_FLOOR: for (i = 0; i < n; i++) r[i] = FLOOR(x[i]); break;                          \
    case MX_UN_CEIL: for (i = 0; i < n; i++) r[i] = CEIL(x[i]); break;                            \
    case MX_UN_ROUND: for (i = 0; i < n; i++) r[i] = (T)round_half_even(x[i], decimals); break;  \
    case MX_UN_ISNAN: for (i = 0; i < n; i++) r[i] = isnan(x[i]); break;                          \
    case MX_UN_ISINF: for (i = 0; i < n; i++) r[i] = isinf(x[i]) != 0; break;                     \
    case MX_UN_ISFINITE: for (i = 0; i < n; i++) r[i] = isfinite(x[i]) != 0; break;               \
    case MX_UN_ISPOSINF: for (i = 0; i < n; i++) r[i] = isinf(x[i]) && x[i] > 0; break;           \
    case MX_UN_ISNEGINF: for (i = 0; i < n; i++) r[i] = isinf(x[i]) && x[i] < 0; break;           \
    case MX_UN_LOGICAL_NOT: for (i = 0; i < n; i++) r[i] = x[i] == 0; break;                      \
    default: break;

/* Cloned per instruction set (core/clones.h): the vectorizable cases (sigmoid, the arithmetic
 * ones) run 16 wide on AVX-512; the build's ISO C mode keeps FMA contraction off, so every clone
 * gives the same bits. */
MX_CLONES void cpu_unary_f32(int op, int decimals, const float *x, float *r, int64_t n) {
    int64_t i;
    if (op == MX_UN_SIGMOID) {
        /* silu = x * sigmoid(x) runs on every MLP row of a decode token: one branch-free
         * exp that vectorizes instead of up to two libm expf calls behind a branch (3% of a
         * Llama-3.2-1B 4-bit decode token). exp(-x) overflowing to inf gives 0, underflowing
         * gives 1, as the limits; below x = -88.7 the result is 0 rather than a subnormal. */
        for (i = 0; i + 16 <= n; i += 16) /* fixed trip count: what -O2 vectorizes */
            for (int j = 0; j < 16; j++) r[i + j] = 1.0f / (1.0f + mx_exp_f32(-x[i + j]));
        for (; i < n; i++) r[i] = 1.0f / (1.0f + mx_exp_f32(-x[i]));
        return;
    }
    switch (op) {
        UNARY_FLOAT_CASES(float, sqrtf, expf, expm1f, logf, log1pf, log2f, log10f, sinf, cosf, tanf, asinf,
                          acosf, atanf, sinhf, coshf, tanhf, erff, floorf, ceilf, fabsf)
    }
}

static void unary_f64(int op, int decimals, const double *x, double *r, int64_t n) {
    int64_t i;
    switch (op) {
        UNARY_FLOAT_CASES(double, sqrt, exp, expm1, log, log1p, log2, log10, sin, cos, tan, asin, acos, atan,
                          sinh, cosh, tanh, erf, floor, ceil, fabs)
    }
}

static void unary_int(int op, int is_unsigned, const int64_t *x, int64_t *r, int64_t n) {
    int64_t i;
    switch (op) {
    case MX_UN_ABS: for (i = 0; i < n; i++) r[i] = is_unsigned || x[i] >= 0 ? x[i] : (int64_t)(0 - (uint64_t)x[i]); break;
    case MX_UN_NEGATIVE: for (i = 0; i < n; i++) r[i] = (int64_t)(0 - (uint64_t)x[i]); break;
    case MX_UN_SIGN:
        for (i = 0; i < n; i++) r[i] = is_unsigned ? x[i] != 0 : (x[i] > 0) - (x[i] < 0);
        break;
    case MX_UN_SQUARE: for (i = 0; i < n; i++) r[i] = (int64_t)((uint64_t)x[i] * (uint64_t)x[i]); break;
    case MX_UN_ISNAN: case MX_UN_ISINF: case MX_UN_ISPOSINF: case MX_UN_ISNEGINF:
        for (i = 0; i < n; i++) r[i] = 0;
        break;
    case MX_UN_ISFINITE: for (i = 0; i < n; i++) r[i] = 1; break;
    case MX_UN_LOGICAL_NOT: for (i = 0; i < n; i++) r[i] = x[i] == 0; break;
    case MX_UN_BITWISE_INVERT: for (i = 0; i < n; i++) r[i] = ~x[i]; break;
    default: for (i = 0; i < n; i++) r[i] = x[i]; break;
    }
}

/* The domain a dtype computes in. */
static mx_dtype domain_of(mx_dtype t) {
    if (t == MX_FLOAT64) return MX_FLOAT64;
    if (mx_dtype_is_float(t)) return MX_FLOAT32;
    return MX_INT64;
}

int cpu_unary(const mx_kernel_ctx *c) {
    const mx_unary_params *p = c->params;
    mx_array *in = c->inputs[0], *out = c->outputs[0];
    /* Integer input with a float result (sqrt of int) computes in float. */
    mx_dtype dom = domain_of(mx_dtype_is_float(out->dtype) ? out->dtype : in->dtype);
    if (out->dtype == MX_BOOL && mx_dtype_is_float(in->dtype)) dom = domain_of(in->dtype);
    if (mx_out_alloc_donate(out, in) < 0) return -1;
    int64_t n = out->size, nchunks = (n + CPU_CHUNK - 1) / CPU_CHUNK;
    char *o = mx_array_ptr(out);
    size_t os = mx_dtype_size(out->dtype);
    int is_unsigned = !mx_dtype_is_signed(in->dtype);
#pragma omp parallel for if (cpu_parallel_worth(n))
    for (int64_t k = 0; k < nchunks; k++) {
        _Alignas(64) unsigned char xb[CPU_CHUNK * 8], rb[CPU_CHUNK * 8];
        int64_t s = k * CPU_CHUNK, m = n - s < CPU_CHUNK ? n - s : CPU_CHUNK;
        mx_copy_strided(in, dom, xb, s, m);
        if (dom == MX_FLOAT32) cpu_unary_f32(p->op, p->decimals, (float *)xb, (float *)rb, m);
        else if (dom == MX_FLOAT64) unary_f64(p->op, p->decimals, (double *)xb, (double *)rb, m);
        else unary_int(p->op, is_unsigned, (int64_t *)xb, (int64_t *)rb, m);
        mx_convert(rb, dom, o + s * (int64_t)os, out->dtype, m);
    }
    return 0;
}

/* ---- binary ---- */

#define BINARY_FLOAT_CASES(T, FLOOR, FMOD, POW, EXP, LOG1P, ATAN2)                                 \
    case MX_BIN_ADD: for (i = 0; i < n; i++) r[i] = x[i] + y[i]; break;                           \
    case MX_BIN_SUBTRACT: for (i = 0; i < n; i++) r[i] = x[i] - y[i]; break;                      \
    case MX_BIN_MULTIPLY: for (i = 0; i < n; i++) r[i] = x[i] * y[i]; break;                      \
    case MX_BIN_DIVIDE: for (i = 0; i < n; i++) r[i] = x[i] / y[i]; break;                        \
    case MX_BIN_FLOOR_DIVIDE: for (i = 0; i < n; i++) r[i] = FLOOR(x[i] / y[i]); break;           \
    case MX_BIN_REMAINDER:                                                                        \
        for (i = 0; i < n; i++) {                                                                 \
            T m = FMOD(x[i], y[i]);                                                               \
            r[i] = m != 0 && ((m < 0) != (y[i] < 0)) ? m + y[i] : m;                              \
        }                                                                                         \
        break;                                                                                    \
    case MX_BIN_POWER: for (i = 0; i < n; i++) r[i] = POW(x[i], y[i]); break;                     \
    case MX_BIN_MAXIMUM:                                                                          \
        for (i = 0; i < n; i++) r[i] = isnan(x[i]) || x[i] > y[i] ? x[i] : y[i];                  \
        break;                                                                                    \
    case MX_BIN_MINIMUM:                                                                          \
        for (i = 0; i < n; i++) r[i] = isnan(x[i]) || x[i] < y[i] ? x[i] : y[i];                  \
        break;                                                                                    \
    case MX_BIN_LOGADDEXP:                                                                        \
        for (i = 0; i < n; i++) {                                                                 \
            T mx = x[i] > y[i] ? x[i] : y[i], mn = x[i] > y[i] ? y[i] : x[i];                     \
            r[i] = isnan(x[i]) || isnan(y[i]) ? x[i] + y[i]                                        \
                   : isinf(mx) && mx < 0      ? mx                                                \
                                              : mx + LOG1P(EXP(mn - mx));                         \
        }                                                                                         \
        break;                                                                                    \
    case MX_BIN_ARCTAN2: for (i = 0; i < n; i++) r[i] = ATAN2(x[i], y[i]); break;                 \
    case MX_BIN_EQUAL: for (i = 0; i < n; i++) r[i] = x[i] == y[i]; break;                        \
    case MX_BIN_NOT_EQUAL: for (i = 0; i < n; i++) r[i] = x[i] != y[i]; break;                    \
    case MX_BIN_LESS: for (i = 0; i < n; i++) r[i] = x[i] < y[i]; break;                          \
    case MX_BIN_LESS_EQUAL: for (i = 0; i < n; i++) r[i] = x[i] <= y[i]; break;                   \
    case MX_BIN_GREATER: for (i = 0; i < n; i++) r[i] = x[i] > y[i]; break;                       \
    case MX_BIN_GREATER_EQUAL: for (i = 0; i < n; i++) r[i] = x[i] >= y[i]; break;                \
    default: break;

MX_CLONES void cpu_binary_f32(int op, const float *x, const float *y, float *r, int64_t n) { /* as cpu_unary_f32 */
    int64_t i;
    switch (op) { BINARY_FLOAT_CASES(float, floorf, fmodf, powf, expf, log1pf, atan2f) }
}

static void binary_f64(int op, const double *x, const double *y, double *r, int64_t n) {
    int64_t i;
    switch (op) { BINARY_FLOAT_CASES(double, floor, fmod, pow, exp, log1p, atan2) }
}

static int64_t ipow(int64_t b, int64_t e) {
    if (e < 0) return b == 1 ? 1 : b == -1 ? (e & 1 ? -1 : 1) : 0;
    uint64_t r = 1, ub = (uint64_t)b;
    while (e) {
        if (e & 1) r *= ub;
        ub *= ub;
        e >>= 1;
    }
    return (int64_t)r;
}

static void binary_int(int op, int u, const int64_t *x, const int64_t *y, int64_t *r, int64_t n) {
    int64_t i;
    const uint64_t *ux = (const uint64_t *)x, *uy = (const uint64_t *)y;
    switch (op) {
    case MX_BIN_ADD: for (i = 0; i < n; i++) r[i] = (int64_t)(ux[i] + uy[i]); break;
    case MX_BIN_SUBTRACT: for (i = 0; i < n; i++) r[i] = (int64_t)(ux[i] - uy[i]); break;
    case MX_BIN_MULTIPLY: for (i = 0; i < n; i++) r[i] = (int64_t)(ux[i] * uy[i]); break;
    case MX_BIN_FLOOR_DIVIDE:
        for (i = 0; i < n; i++) {
            if (y[i] == 0) r[i] = 0;
            else if (u) r[i] = (int64_t)(ux[i] / uy[i]);
            else if (y[i] == -1) r[i] = (int64_t)(0 - ux[i]);
            else {
                int64_t q = x[i] / y[i];
                r[i] = (x[i] % y[i] != 0 && ((x[i] < 0) != (y[i] < 0))) ? q - 1 : q;
            }
        }
        break;
    case MX_BIN_REMAINDER:
        for (i = 0; i < n; i++) {
            if (y[i] == 0 || (!u && y[i] == -1)) r[i] = 0;
            else if (u) r[i] = (int64_t)(ux[i] % uy[i]);
            else {
                int64_t m = x[i] % y[i];
                r[i] = m != 0 && ((m < 0) != (y[i] < 0)) ? m + y[i] : m;
            }
        }
        break;
    case MX_BIN_POWER: for (i = 0; i < n; i++) r[i] = ipow(x[i], y[i]); break;
    case MX_BIN_MAXIMUM:
        for (i = 0; i < n; i++) r[i] = (u ? ux[i] > uy[i] : x[i] > y[i]) ? x[i] : y[i];
        break;
    case MX_BIN_MINIMUM:
        for (i = 0; i < n; i++) r[i] = (u ? ux[i] < uy[i] : x[i] < y[i]) ? x[i] : y[i];
        break;
    case MX_BIN_EQUAL: for (i = 0; i < n; i++) r[i] = x[i] == y[i]; break;
    case MX_BIN_NOT_EQUAL: for (i = 0; i < n; i++) r[i] = x[i] != y[i]; break;
    case MX_BIN_LESS: for (i = 0; i < n; i++) r[i] = u ? ux[i] < uy[i] : x[i] < y[i]; break;
    case MX_BIN_LESS_EQUAL: for (i = 0; i < n; i++) r[i] = u ? ux[i] <= uy[i] : x[i] <= y[i]; break;
    case MX_BIN_GREATER: for (i = 0; i < n; i++) r[i] = u ? ux[i] > uy[i] : x[i] > y[i]; break;
    case MX_BIN_GREATER_EQUAL: for (i = 0; i < n; i++) r[i] = u ? ux[i] >= uy[i] : x[i] >= y[i]; break;
    case MX_BIN_LOGICAL_AND: for (i = 0; i < n; i++) r[i] = x[i] && y[i]; break;
    case MX_BIN_LOGICAL_OR: for (i = 0; i < n; i++) r[i] = x[i] || y[i]; break;
    case MX_BIN_BITWISE_AND: for (i = 0; i < n; i++) r[i] = x[i] & y[i]; break;
    case MX_BIN_BITWISE_OR: for (i = 0; i < n; i++) r[i] = x[i] | y[i]; break;
    case MX_BIN_BITWISE_XOR: for (i = 0; i < n; i++) r[i] = x[i] ^ y[i]; break;
    case MX_BIN_LEFT_SHIFT:
        for (i = 0; i < n; i++) r[i] = y[i] < 0 || y[i] >= 64 ? 0 : (int64_t)(ux[i] << y[i]);
        break;
    case MX_BIN_RIGHT_SHIFT:
        for (i = 0; i < n; i++) {
            if (u) r[i] = y[i] < 0 || y[i] >= 64 ? 0 : (int64_t)(ux[i] >> y[i]);
            else r[i] = y[i] < 0 || y[i] >= 64 ? (x[i] < 0 ? -1 : 0) : x[i] >> y[i];
        }
        break;
    default: break;
    }
}

/* Integer results wrap to the output width when stored, as MLX computing in that width. */
int cpu_binary(const mx_kernel_ctx *c) {
    const mx_binary_params *p = c->params;
    mx_array *a = c->inputs[0], *b = c->inputs[1], *out = c->outputs[0];
    mx_dtype compute = (mx_dtype)p->compute, dom = domain_of(compute);
    int u = compute == MX_UINT64 || compute == MX_UINT32 || compute == MX_UINT16 || compute == MX_UINT8;
    int donated = 0;
    if (a->ndim == out->ndim && a->size == out->size && a->dtype == out->dtype)
        donated = mx_out_alloc_donate(out, a);
    else if (b->ndim == out->ndim && b->size == out->size && b->dtype == out->dtype)
        donated = mx_out_alloc_donate(out, b);
    else
        donated = mx_out_alloc(out);
    if (donated < 0) return -1;
    int64_t n = out->size, nchunks = (n + CPU_CHUNK - 1) / CPU_CHUNK;
    char *o = mx_array_ptr(out);
    size_t os = mx_dtype_size(out->dtype);
#pragma omp parallel for if (cpu_parallel_worth(n))
    for (int64_t k = 0; k < nchunks; k++) {
        _Alignas(64) unsigned char xb[CPU_CHUNK * 8], yb[CPU_CHUNK * 8], rb[CPU_CHUNK * 8];
        int64_t s = k * CPU_CHUNK, m = n - s < CPU_CHUNK ? n - s : CPU_CHUNK;
        cpu_load_broadcast(a, out->ndim, out->shape, s, m, dom, xb);
        cpu_load_broadcast(b, out->ndim, out->shape, s, m, dom, yb);
        if (dom == MX_FLOAT32) cpu_binary_f32(p->op, (float *)xb, (float *)yb, (float *)rb, m);
        else if (dom == MX_FLOAT64) binary_f64(p->op, (double *)xb, (double *)yb, (double *)rb, m);
        else binary_int(p->op, u, (int64_t *)xb, (int64_t *)yb, (int64_t *)rb, m);
        mx_convert(rb, dom, o + s * (int64_t)os, out->dtype, m);
    }
    return 0;
}

/* ---- where ---- */

int cpu_where(const mx_kernel_ctx *c) {
    mx_array *cond = c->inputs[0], *a = c->inputs[1], *b = c->inputs[2], *out = c->outputs[0];
    if (mx_out_alloc(out)) return -1;
    int64_t n = out->size, nchunks = (n + CPU_CHUNK - 1) / CPU_CHUNK;
    char *o = mx_array_ptr(out);
    size_t es = mx_dtype_size(out->dtype);
#pragma omp parallel for if (cpu_parallel_worth(n))
    for (int64_t k = 0; k < nchunks; k++) {
        _Alignas(64) unsigned char cb[CPU_CHUNK], xb[CPU_CHUNK * 8], yb[CPU_CHUNK * 8];
        int64_t s = k * CPU_CHUNK, m = n - s < CPU_CHUNK ? n - s : CPU_CHUNK;
        cpu_load_broadcast(cond, out->ndim, out->shape, s, m, MX_BOOL, cb);
        cpu_load_broadcast(a, out->ndim, out->shape, s, m, out->dtype, xb);
        cpu_load_broadcast(b, out->ndim, out->shape, s, m, out->dtype, yb);
        char *dst = o + s * (int64_t)es;
        for (int64_t i = 0; i < m; i++) memcpy(dst + i * (int64_t)es, (cb[i] ? xb : yb) + i * (int64_t)es, es);
    }
    return 0;
}

/* ---- astype and copy ---- */

static int copy_into(mx_array *in, mx_array *out) {
    int64_t n = out->size, nchunks = (n + CPU_CHUNK * 8 - 1) / (CPU_CHUNK * 8);
    char *o = mx_array_ptr(out);
    size_t os = mx_dtype_size(out->dtype);
#pragma omp parallel for if (cpu_parallel_worth(n))
    for (int64_t k = 0; k < nchunks; k++) {
        int64_t s = k * CPU_CHUNK * 8, m = n - s < CPU_CHUNK * 8 ? n - s : CPU_CHUNK * 8;
        mx_copy_strided(in, out->dtype, o + s * (int64_t)os, s, m);
    }
    return 0;
}

int cpu_astype(const mx_kernel_ctx *c) {
    mx_array *in = c->inputs[0], *out = c->outputs[0];
    if (mx_out_alloc_donate(out, in) < 0) return -1;
    if (out->buf == in->buf) { /* same element size: convert in place, chunk by chunk */
        _Alignas(64) unsigned char tmp[CPU_CHUNK * 8];
        char *p = mx_array_ptr(out);
        size_t es = mx_dtype_size(out->dtype);
        for (int64_t s = 0; s < out->size; s += CPU_CHUNK) {
            int64_t m = out->size - s < CPU_CHUNK ? out->size - s : CPU_CHUNK;
            mx_convert(p + s * (int64_t)es, in->dtype, tmp, out->dtype, m);
            memcpy(p + s * (int64_t)es, tmp, (size_t)m * es);
        }
        return 0;
    }
    return copy_into(in, out);
}

int cpu_copy(const mx_kernel_ctx *c) {
    mx_array *in = c->inputs[0], *out = c->outputs[0];
    if (in->flags & MX_FLAG_ROW_CONTIG) { /* already dense: share the memory */
        mx_out_view(out, in, in->offset, (int64_t[MX_MAX_NDIM]){0});
        mx_set_row_strides(out);
        return 0;
    }
    if (mx_out_alloc(out)) return -1;
    return copy_into(in, out);
}
