/* Conformance cases: unary, binary, comparison, where, astype, clip. */
#include <math.h>
#include <string.h>

#include "conformance.h"

typedef struct {
    const char *name;
    mx_array *(*fn)(const mx_array *);
    double (*ref)(double);
    double lo, hi;
    int ints_ok;      /* also defined on integer inputs (same-dtype result) */
} unary_case;

static double r_neg(double x) { return -x; }
static double r_sign(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }
static double r_rsqrt(double x) { return 1 / sqrt(x); }
static double r_square(double x) { return x * x; }
static double r_recip(double x) { return 1 / x; }
static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_erfinv(double y) {
    /* bisection on erf: slow and simple */
    double lo = -6, hi = 6;
    for (int i = 0; i < 200; i++) {
        double m = (lo + hi) / 2;
        if (erf(m) < y) lo = m;
        else hi = m;
    }
    return (lo + hi) / 2;
}
static double r_round(double x) { return nearbyint(x); }

static const unary_case unary_cases[] = {
    {"abs", mx_abs, fabs, -5, 5, 1},          {"negative", mx_negative, r_neg, -5, 5, 1},
    {"sign", mx_sign, r_sign, -5, 5, 1},      {"sqrt", mx_sqrt, sqrt, 0.1, 9, 0},
    {"rsqrt", mx_rsqrt, r_rsqrt, 0.1, 9, 0},  {"square", mx_square, r_square, -3, 3, 1},
    {"reciprocal", mx_reciprocal, r_recip, 0.5, 4, 0},
    {"exp", mx_exp, exp, -4, 4, 0},           {"expm1", mx_expm1, expm1, -1, 1, 0},
    {"log", mx_log, log, 0.1, 10, 0},         {"log1p", mx_log1p, log1p, -0.5, 3, 0},
    {"log2", mx_log2, log2, 0.1, 10, 0},      {"log10", mx_log10, log10, 0.1, 10, 0},
    {"sin", mx_sin, sin, -3, 3, 0},           {"cos", mx_cos, cos, -3, 3, 0},
    {"tan", mx_tan, tan, -1.2, 1.2, 0},       {"arcsin", mx_arcsin, asin, -0.99, 0.99, 0},
    {"arccos", mx_arccos, acos, -0.99, 0.99, 0}, {"arctan", mx_arctan, atan, -5, 5, 0},
    {"sinh", mx_sinh, sinh, -3, 3, 0},        {"cosh", mx_cosh, cosh, -3, 3, 0},
    {"tanh", mx_tanh, tanh, -3, 3, 0},        {"sigmoid", mx_sigmoid, r_sigmoid, -8, 8, 0},
    {"erf", mx_erf, erf, -2.5, 2.5, 0},       {"erfinv", mx_erfinv, r_erfinv, -0.95, 0.95, 0},
    {"floor", mx_floor, floor, -5, 5, 1},     {"ceil", mx_ceil, ceil, -5, 5, 1},
};

static const int64_t shapes[][4] = {{1, 1}, {7, 0}, {3, 5}, {2, 3, 17}, {1, 129}, {4, 1, 33}};
static const int shape_nd[] = {1, 1, 2, 3, 2, 3};
#define N_SHAPES (int)(sizeof shape_nd / sizeof shape_nd[0])

static void run_unary(conf_ctx *c) {
    for (size_t k = 0; k < sizeof unary_cases / sizeof unary_cases[0]; k++) {
        const unary_case *u = &unary_cases[k];
        for (int s = 0; s < N_SHAPES; s++)
            for (int d = 0; d < 4; d++)
                for (int strided = 0; strided < 2; strided++) {
                    mx_dtype t = conf_float_dtypes[d];
                    ref_tensor in, out;
                    mx_array *a = conf_random(c, shapes[s], shape_nd[s], t, u->lo, u->hi, strided, &in);
                    out = conf_ref_alloc(c, in.shape, in.ndim);
                    for (int64_t i = 0; i < in.size; i++) out.data[i] = u->ref(in.data[i]);
                    double tol = conf_tol(t) * (t == MX_FLOAT32 ? 4 : 2);
                    conf_check(c, u->name, u->fn(a), &out, tol);
                    conf_end_case(c);
                }
        if (u->ints_ok) {
            mx_dtype ints[] = {MX_INT8, MX_INT32, MX_INT64};
            for (int d = 0; d < 3; d++) {
                ref_tensor in, out;
                mx_array *a = conf_random(c, (int64_t[]){5, 7}, 2, ints[d], -9, 9, 1, &in);
                out = conf_ref_alloc(c, in.shape, in.ndim);
                for (int64_t i = 0; i < in.size; i++) out.data[i] = u->ref(in.data[i]);
                conf_check_exact(c, u->name, u->fn(a), &out);
                conf_end_case(c);
            }
        }
    }
    /* round: half to even, with decimals */
    {
        double vals[] = {0.5, 1.5, 2.5, -0.5, -1.5, 2.675, 1.2345, -7.25};
        double want0[] = {0, 2, 2, -0, -2, 3, 1, -7};
        mx_array *a = mx_array_from_data(vals, (int64_t[]){8}, 1, MX_FLOAT64);
        ref_tensor r = conf_ref_alloc(c, (int64_t[]){8}, 1);
        memcpy(r.data, want0, sizeof want0);
        conf_check_exact(c, "round", mx_round(a, 0), &r);
        for (int i = 0; i < 8; i++) r.data[i] = r_round(vals[i] * 100) / 100;
        conf_check(c, "round(2)", mx_round(a, 2), &r, 1e-12);
        mx_free(a);
        conf_end_case(c);
    }
    /* predicates on specials */
    {
        double vals[] = {1.0, NAN, INFINITY, -INFINITY, -2.0, 0.25};
        mx_array *a = mx_array_from_data(vals, (int64_t[]){6}, 1, MX_FLOAT64);
        struct {
            const char *name;
            mx_array *(*fn)(const mx_array *);
            double want[6];
        } preds[] = {
            {"isnan", mx_isnan, {0, 1, 0, 0, 0, 0}},       {"isinf", mx_isinf, {0, 0, 1, 1, 0, 0}},
            {"isfinite", mx_isfinite, {1, 0, 0, 0, 1, 1}}, {"isposinf", mx_isposinf, {0, 0, 1, 0, 0, 0}},
            {"isneginf", mx_isneginf, {0, 0, 0, 1, 0, 0}}, {"logical_not", mx_logical_not, {0, 0, 0, 0, 0, 0}},
        };
        for (size_t i = 0; i < sizeof preds / sizeof preds[0]; i++) {
            ref_tensor r = conf_ref_alloc(c, (int64_t[]){6}, 1);
            memcpy(r.data, preds[i].want, sizeof preds[i].want);
            mx_array *g = preds[i].fn(a);
            if (g && mx_array_dtype(g) != MX_BOOL) conf_fail(c, preds[i].name, "result dtype is not bool");
            conf_check_exact(c, preds[i].name, g, &r);
        }
        mx_free(a);
        conf_end_case(c);
    }
}

typedef struct {
    const char *name;
    mx_array *(*fn)(const mx_array *, const mx_array *);
    double (*ref)(double, double);
    double lo, hi;
    int ints_ok, bool_out;
} binary_case;

static double b_add(double a, double b) { return a + b; }
static double b_sub(double a, double b) { return a - b; }
static double b_mul(double a, double b) { return a * b; }
static double b_div(double a, double b) { return a / b; }
static double b_fdiv(double a, double b) { return floor(a / b); }
static double b_rem(double a, double b) {
    double m = fmod(a, b);
    return m != 0 && ((m < 0) != (b < 0)) ? m + b : m;
}
static double b_pow(double a, double b) { return pow(fabs(a), b); }
static double b_max(double a, double b) { return a > b ? a : b; }
static double b_min(double a, double b) { return a < b ? a : b; }
static double b_lae(double a, double b) { return log(exp(a) + exp(b)); }
static double b_eq(double a, double b) { return a == b; }
static double b_ne(double a, double b) { return a != b; }
static double b_lt(double a, double b) { return a < b; }
static double b_le(double a, double b) { return a <= b; }
static double b_gt(double a, double b) { return a > b; }
static double b_ge(double a, double b) { return a >= b; }
static mx_array *pow_abs(const mx_array *a, const mx_array *b) {
    mx_array *x = mx_abs(a), *r = mx_power(x, b);
    mx_free(x);
    return r;
}

static const binary_case binary_cases[] = {
    {"add", mx_add, b_add, -5, 5, 1, 0},           {"subtract", mx_subtract, b_sub, -5, 5, 1, 0},
    {"multiply", mx_multiply, b_mul, -5, 5, 1, 0}, {"divide", mx_divide, b_div, -5, 5, 0, 0},
    {"floor_divide", mx_floor_divide, b_fdiv, -9, 9, 1, 0},
    {"remainder", mx_remainder, b_rem, -9, 9, 1, 0}, {"power", pow_abs, b_pow, -2, 2, 0, 0},
    {"maximum", mx_maximum, b_max, -5, 5, 1, 0},   {"minimum", mx_minimum, b_min, -5, 5, 1, 0},
    {"logaddexp", mx_logaddexp, b_lae, -5, 5, 0, 0}, {"arctan2", mx_arctan2, atan2, -5, 5, 0, 0},
    {"equal", mx_equal, b_eq, -2, 2, 1, 1},        {"not_equal", mx_not_equal, b_ne, -2, 2, 1, 1},
    {"less", mx_less, b_lt, -2, 2, 1, 1},          {"less_equal", mx_less_equal, b_le, -2, 2, 1, 1},
    {"greater", mx_greater, b_gt, -2, 2, 1, 1},    {"greater_equal", mx_greater_equal, b_ge, -2, 2, 1, 1},
};

/* Pairs of broadcast-compatible shapes. */
static const int64_t bshapes[][2][4] = {
    {{3, 5}, {3, 5}},     {{3, 5}, {5}},          {{4, 1, 7}, {3, 1}}, {{1}, {2, 3, 9}},
    {{17}, {1, 17}},      {{2, 1, 3, 1}, {5, 1, 4}},
};
static const int bnd[][2] = {{2, 2}, {2, 1}, {3, 2}, {1, 3}, {1, 2}, {4, 3}};

static void run_binary(conf_ctx *c) {
    for (size_t k = 0; k < sizeof binary_cases / sizeof binary_cases[0]; k++) {
        const binary_case *b = &binary_cases[k];
        int nd_types = b->ints_ok ? 7 : 4;
        mx_dtype types[7] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16, MX_FLOAT64, MX_INT32, MX_INT64, MX_UINT8};
        for (size_t s = 0; s < sizeof bnd / sizeof bnd[0]; s++)
            for (int d = 0; d < nd_types; d++) {
                mx_dtype t = types[d];
                int strided = (int)(s + (size_t)d) % 2;
                double lo = b->lo, hi = b->hi;
                if (t == MX_UINT8) {
                    if (lo < 0) lo = 1;
                    if (!strcmp(b->name, "subtract")) continue; /* wraps */
                }
                ref_tensor ra, rb;
                mx_array *x = conf_random(c, bshapes[s][0], bnd[s][0], t, lo, hi, strided, &ra);
                mx_array *y = conf_random(c, bshapes[s][1], bnd[s][1], t, lo, hi, !strided, &rb);
                int64_t out_shape[MX_MAX_NDIM];
                int ond = bnd[s][0] > bnd[s][1] ? bnd[s][0] : bnd[s][1];
                for (int i = 0; i < ond; i++) {
                    int ia = i - (ond - bnd[s][0]), ib = i - (ond - bnd[s][1]);
                    int64_t da = ia >= 0 ? bshapes[s][0][ia] : 1, db = ib >= 0 ? bshapes[s][1][ib] : 1;
                    out_shape[i] = da > db ? da : db;
                }
                ref_tensor out = conf_ref_alloc(c, out_shape, ond);
                int64_t idx[MX_MAX_NDIM] = {0};
                for (int64_t i = 0; i < out.size; i++) {
                    out.data[i] = b->ref(conf_ref_at_broadcast(&ra, ond, idx), conf_ref_at_broadcast(&rb, ond, idx));
                    if (!mx_dtype_is_float(t) && !b->bool_out && out.data[i] != floor(out.data[i]))
                        out.data[i] = trunc(out.data[i]);
                    for (int dd = ond - 1; dd >= 0 && ++idx[dd] == out_shape[dd]; dd--) idx[dd] = 0;
                }
                mx_array *g = b->fn(x, y);
                if (b->bool_out || !mx_dtype_is_float(t)) conf_check_exact(c, b->name, g, &out);
                else conf_check(c, b->name, g, &out, conf_tol(t) * 4);
                conf_end_case(c);
            }
    }
}

static void run_promotion_and_scalars(conf_ctx *c) {
    struct {
        mx_dtype a, b, want;
    } cases[] = {
        {MX_FLOAT16, MX_BFLOAT16, MX_FLOAT32}, {MX_INT8, MX_UINT8, MX_INT16}, {MX_UINT64, MX_INT8, MX_FLOAT32},
        {MX_BOOL, MX_INT32, MX_INT32},         {MX_INT64, MX_FLOAT16, MX_FLOAT16}, {MX_UINT32, MX_INT32, MX_INT64},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mx_array *x = mx_ones((int64_t[]){2}, 1, cases[i].a), *y = mx_ones((int64_t[]){2}, 1, cases[i].b);
        mx_array *r = mx_add(x, y);
        if (!r || mx_array_dtype(r) != cases[i].want)
            conf_fail(c, "promotion", "%s + %s gave %s, want %s", mx_dtype_name(cases[i].a), mx_dtype_name(cases[i].b),
                      r ? mx_dtype_name(mx_array_dtype(r)) : "NULL", mx_dtype_name(cases[i].want));
        else conf_pass(c);
        mx_free(x);
        mx_free(y);
        mx_free(r);
    }
    /* weak scalars keep the array dtype */
    mx_dtype keep[] = {MX_BFLOAT16, MX_FLOAT16, MX_INT8};
    for (int i = 0; i < 3; i++) {
        ref_tensor ra;
        mx_array *x = conf_random(c, (int64_t[]){9}, 1, keep[i], -3, 3, 0, &ra);
        mx_array *r = mx_multiply_scalar(x, 2.0);
        if (!r || mx_array_dtype(r) != keep[i]) conf_fail(c, "multiply_scalar", "dtype changed");
        ref_tensor out = conf_ref_alloc(c, ra.shape, 1);
        for (int64_t k = 0; k < ra.size; k++) out.data[k] = ra.data[k] * 2;
        conf_check_exact(c, "multiply_scalar", r, &out);
        conf_end_case(c);
    }
    mx_array *xi = mx_ones((int64_t[]){3}, 1, MX_INT32);
    mx_array *h = mx_multiply_scalar(xi, 0.5);
    if (!h || mx_array_dtype(h) != MX_FLOAT32) conf_fail(c, "multiply_scalar", "int * 0.5 is not float32");
    else conf_pass(c);
    mx_free(xi);
    mx_free(h);
}

static void run_where_astype_clip(conf_ctx *c) {
    for (int d = 0; d < 13; d++) {
        mx_dtype t = conf_all_dtypes[d];
        ref_tensor rc, ra, rb;
        mx_array *cond = conf_random(c, (int64_t[]){3, 1, 5}, 3, MX_BOOL, 0, 1, 0, &rc);
        mx_array *a = conf_random(c, (int64_t[]){4, 5}, 2, t, 1, 100, 1, &ra);
        mx_array *b = conf_random(c, (int64_t[]){5}, 1, t, 1, 100, 0, &rb);
        ref_tensor out = conf_ref_alloc(c, (int64_t[]){3, 4, 5}, 3);
        int64_t idx[3];
        for (idx[0] = 0; idx[0] < 3; idx[0]++)
            for (idx[1] = 0; idx[1] < 4; idx[1]++)
                for (idx[2] = 0; idx[2] < 5; idx[2]++)
                    out.data[conf_ref_index(&out, idx)] = conf_ref_at_broadcast(&rc, 3, idx)
                                                              ? conf_ref_at_broadcast(&ra, 3, idx)
                                                              : conf_ref_at_broadcast(&rb, 3, idx);
        conf_check_exact(c, "where", mx_where(cond, a, b), &out);
        conf_end_case(c);
    }
    /* astype between every pair on values every type holds (1..100) */
    for (int s = 0; s < 13; s++)
        for (int d = 0; d < 13; d++) {
            ref_tensor ra;
            mx_array *a = conf_random_int(c, (int64_t[]){3, 7}, 2, conf_all_dtypes[s], conf_all_dtypes[s] == MX_BOOL ? 0 : 1,
                                          conf_all_dtypes[s] == MX_BOOL ? 1 : 100, &ra);
            ref_tensor out = conf_ref_alloc(c, ra.shape, 2);
            for (int64_t i = 0; i < ra.size; i++) out.data[i] = conf_all_dtypes[d] == MX_BOOL ? ra.data[i] != 0 : ra.data[i];
            conf_check_exact(c, "astype", mx_astype(a, conf_all_dtypes[d]), &out);
            conf_end_case(c);
        }
    for (int d = 0; d < 4; d++) {
        ref_tensor ra;
        mx_dtype t = conf_float_dtypes[d];
        mx_array *a = conf_random(c, (int64_t[]){6, 11}, 2, t, -4, 4, 1, &ra);
        ref_tensor out = conf_ref_alloc(c, ra.shape, 2);
        for (int64_t i = 0; i < ra.size; i++) out.data[i] = ra.data[i] < -1 ? -1 : ra.data[i] > 2 ? 2 : ra.data[i];
        conf_check_exact(c, "clip", mx_clip_scalar(a, -1, 2), &out);
        conf_end_case(c);
    }
}

void conf_family_elementwise(conf_ctx *c) {
    run_unary(c);
    run_binary(c);
    run_promotion_and_scalars(c);
    run_where_astype_clip(c);
}
