/* Conformance cases: reductions (sum, prod, mean, var, std, max, min, all, any, logsumexp),
 * arg reductions, softmax and scans, on every dtype each supports, odd shapes, strided
 * inputs, single/multiple/negative/all axis sets, keepdims both ways, against float64
 * references computed here from the exact input values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

/* ---- reference helpers ---- */

/* The groups of a reduction over the axes in `mask`: members[g * n_red + j] is the flat
 * input index of member j (row-major over the reduced axes) of output g (row-major over the
 * kept axes). */
typedef struct {
    int64_t n_out, n_red;
    int64_t *members;
} groups;

static groups make_groups(const ref_tensor *in, uint32_t mask) {
    groups g = {1, 1, NULL};
    for (int d = 0; d < in->ndim; d++) {
        if (mask & (1u << d)) g.n_red *= in->shape[d];
        else g.n_out *= in->shape[d];
    }
    g.members = malloc((size_t)(g.n_out * g.n_red + 1) * sizeof(int64_t));
    int64_t *fill = calloc((size_t)g.n_out + 1, sizeof(int64_t));
    if (!g.members || !fill) abort();
    int64_t idx[MX_MAX_NDIM] = {0};
    for (int64_t i = 0; i < in->size; i++) {
        int64_t o = 0;
        for (int d = 0; d < in->ndim; d++)
            if (!(mask & (1u << d))) o = o * in->shape[d] + idx[d];
        g.members[o * g.n_red + fill[o]++] = i;
        for (int d = in->ndim - 1; d >= 0 && ++idx[d] == in->shape[d]; d--) idx[d] = 0;
    }
    free(fill);
    return g;
}

/* The output shape of a reduction. */
static ref_tensor reduced_ref(conf_ctx *c, const ref_tensor *in, uint32_t mask, int keepdims) {
    int64_t shape[MX_MAX_NDIM];
    int nd = 0;
    for (int d = 0; d < in->ndim; d++) {
        if (!(mask & (1u << d))) shape[nd++] = in->shape[d];
        else if (keepdims) shape[nd++] = 1;
    }
    return conf_ref_alloc(c, shape, nd);
}

enum { R_SUM, R_PROD, R_MEAN, R_VAR, R_STD, R_MAX, R_MIN, R_ALL, R_ANY, R_LSE };

static double ref_fold(int op, const double *v, int64_t n, int ddof) {
    double s = 0, m;
    switch (op) {
    case R_SUM: for (int64_t i = 0; i < n; i++) s += v[i]; return s;
    case R_PROD: s = 1; for (int64_t i = 0; i < n; i++) s *= v[i]; return s;
    case R_MEAN: for (int64_t i = 0; i < n; i++) s += v[i]; return s / (double)n;
    case R_VAR: case R_STD:
        for (int64_t i = 0; i < n; i++) s += v[i];
        m = s / (double)n;
        s = 0;
        for (int64_t i = 0; i < n; i++) s += (v[i] - m) * (v[i] - m);
        s /= fmax((double)n - ddof, 0);
        return op == R_STD ? sqrt(s) : s;
    case R_MAX: m = -INFINITY; for (int64_t i = 0; i < n; i++) m = v[i] > m ? v[i] : m; return m;
    case R_MIN: m = INFINITY; for (int64_t i = 0; i < n; i++) m = v[i] < m ? v[i] : m; return m;
    case R_ALL: for (int64_t i = 0; i < n; i++) if (v[i] == 0) return 0; return 1;
    case R_ANY: for (int64_t i = 0; i < n; i++) if (v[i] != 0) return 1; return 0;
    default:
        m = -INFINITY;
        for (int64_t i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
        for (int64_t i = 0; i < n; i++) s += exp(v[i] - m);
        return m + log(s);
    }
}

static ref_tensor ref_reduce(conf_ctx *c, const ref_tensor *in, uint32_t mask, int keepdims, int op, int ddof) {
    ref_tensor out = reduced_ref(c, in, mask, keepdims);
    groups g = make_groups(in, mask);
    double *v = malloc((size_t)(g.n_red + 1) * sizeof(double));
    if (!v) abort();
    for (int64_t o = 0; o < g.n_out; o++) {
        for (int64_t j = 0; j < g.n_red; j++) v[j] = in->data[g.members[o * g.n_red + j]];
        out.data[o] = ref_fold(op, v, g.n_red, ddof);
    }
    free(v);
    free(g.members);
    return out;
}

/* The value of 64-bit wrapped integer bits u seen as dtype t (truncated to its width). */
static double wrap_int(mx_dtype t, uint64_t u) {
    switch (t) {
    case MX_INT8: return (int8_t)u;
    case MX_INT16: return (int16_t)u;
    case MX_INT32: return (int32_t)u;
    case MX_INT64: return (double)(int64_t)u;
    case MX_UINT8: return (uint8_t)u;
    case MX_UINT16: return (uint16_t)u;
    case MX_UINT32: return (uint32_t)u;
    case MX_BOOL: return u != 0;
    default: return (double)u;
    }
}

static mx_dtype sum_dtype(mx_dtype t) {
    switch (t) {
    case MX_BOOL: case MX_INT8: case MX_INT16: case MX_INT32: return MX_INT32;
    case MX_UINT8: case MX_UINT16: case MX_UINT32: return MX_UINT32;
    default: return t;
    }
}

/* ---- the shapes and axis sets ---- */

typedef struct {
    int nd;
    int64_t shape[4];
} shape_case;

static const shape_case shapes[] = {
    {1, {7}}, {2, {3, 5}}, {3, {2, 3, 17}}, {2, {1, 129}}, {3, {4, 1, 33}}, {4, {3, 4, 5, 6}}, {2, {129, 3}},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

/* Axis sets for an ndim: count, list. A count of -1 means axes == NULL (all axes). */
typedef struct {
    int n;
    int axes[4];
} axis_set;

static int axis_sets(int nd, axis_set *out) {
    int k = 0;
    out[k++] = (axis_set){-1, {0}};
    for (int a = 0; a < nd; a++) out[k++] = (axis_set){1, {a}};
    out[k++] = (axis_set){1, {-1}};
    if (nd >= 2) out[k++] = (axis_set){2, {0, -1}};
    if (nd >= 3) out[k++] = (axis_set){2, {-2, 0}};
    if (nd >= 4) out[k++] = (axis_set){3, {1, 3, 2}};
    return k;
}

static uint32_t mask_of(const axis_set *s, int nd) {
    if (s->n < 0) return (1u << nd) - 1;
    uint32_t m = 0;
    for (int i = 0; i < s->n; i++) m |= 1u << (s->axes[i] < 0 ? s->axes[i] + nd : s->axes[i]);
    return m;
}

static void name_case(char *buf, size_t n, const char *op, const axis_set *s, int keepdims) {
    int o = snprintf(buf, n, "%s(axes=", op);
    if (s->n < 0) o += snprintf(buf + o, n - (size_t)o, "all");
    for (int i = 0; i < s->n; i++) o += snprintf(buf + o, n - (size_t)o, i ? ",%d" : "%d", s->axes[i]);
    snprintf(buf + o, n - (size_t)o, ", keepdims=%d)", keepdims);
}

/* Relative scale of a result: sums of mixed signs lose digits to cancellation, so the
 * tolerance grows with sum|x| / max|result| (1 for positive data). */
static double cancel_factor(const ref_tensor *in, const ref_tensor *out, uint32_t mask) {
    ref_tensor tmp = *in;
    double maxabs_out = 0, maxsum = 0;
    for (int64_t i = 0; i < out->size; i++) maxabs_out = fmax(maxabs_out, fabs(out->data[i]));
    groups g = make_groups(&tmp, mask);
    for (int64_t o = 0; o < g.n_out; o++) {
        double s = 0;
        for (int64_t j = 0; j < g.n_red; j++) s += fabs(in->data[g.members[o * g.n_red + j]]);
        maxsum = fmax(maxsum, s);
    }
    free(g.members);
    return maxabs_out > 0 ? fmax(1, maxsum / maxabs_out) : 1;
}

/* ---- reductions ---- */

typedef mx_array *(*reduce_fn)(const mx_array *, const int *, int, int);
static mx_array *var1(const mx_array *a, const int *ax, int n, int k) { return mx_var(a, ax, n, k, 1); }
static mx_array *var0(const mx_array *a, const int *ax, int n, int k) { return mx_var(a, ax, n, k, 0); }
static mx_array *std0(const mx_array *a, const int *ax, int n, int k) { return mx_std(a, ax, n, k, 0); }
static mx_array *std1(const mx_array *a, const int *ax, int n, int k) { return mx_std(a, ax, n, k, 1); }

typedef struct {
    const char *name;
    reduce_fn fn;
    int op, ddof;
    double lo, hi;
    int exact;       /* exact result on exact inputs (max, min, all, any, integer sums) */
} reduce_case;

static const reduce_case reduce_cases[] = {
    {"sum", mx_sum, R_SUM, 0, -2, 3, 0},       {"prod", mx_prod, R_PROD, 0, 0.8, 1.25, 0},
    {"mean", mx_mean, R_MEAN, 0, -2, 3, 0},    {"var", var0, R_VAR, 0, -2, 2, 0},
    {"var(ddof=1)", var1, R_VAR, 1, -2, 2, 0}, {"std", std0, R_STD, 0, -2, 2, 0},
    {"std(ddof=1)", std1, R_STD, 1, -2, 2, 0}, {"max", mx_max, R_MAX, 0, -5, 5, 1},
    {"min", mx_min, R_MIN, 0, -5, 5, 1},       {"logsumexp", mx_logsumexp, R_LSE, 0, -6, 6, 0},
};

static void run_float_reductions(conf_ctx *c) {
    int k = 0;
    for (size_t r = 0; r < sizeof reduce_cases / sizeof reduce_cases[0]; r++) {
        const reduce_case *rc = &reduce_cases[r];
        for (int s = 0; s < N_SHAPES; s++) {
            axis_set sets[12];
            int ns = axis_sets(shapes[s].nd, sets);
            for (int a = 0; a < ns; a++)
                for (int d = 0; d < 4; d++, k++) {
                    mx_dtype t = conf_float_dtypes[d];
                    int strided = k % 2, keepdims = (k / 2) % 2;
                    ref_tensor in;
                    mx_array *x = conf_random(c, shapes[s].shape, shapes[s].nd, t, rc->lo, rc->hi, strided, &in);
                    uint32_t mask = mask_of(&sets[a], shapes[s].nd);
                    ref_tensor out = ref_reduce(c, &in, mask, keepdims, rc->op, rc->ddof);
                    /* a float16 result beyond its range is inf (values from 65520 up round to it) */
                    if (t == MX_FLOAT16)
                        for (int64_t i = 0; i < out.size; i++)
                            if (fabs(out.data[i]) >= 65520) out.data[i] = copysign(INFINITY, out.data[i]);
                    char name[96];
                    name_case(name, sizeof name, rc->name, &sets[a], keepdims);
                    mx_array *g = rc->fn(x, sets[a].n < 0 ? NULL : sets[a].axes, sets[a].n < 0 ? 0 : sets[a].n, keepdims);
                    if (g && mx_array_dtype(g) != t) conf_fail(c, name, "dtype %s, want %s", mx_dtype_name(mx_array_dtype(g)), mx_dtype_name(t));
                    if (rc->exact) {
                        conf_check_exact(c, name, g, &out);
                    } else {
                        double tol = conf_tol(t) * 4;
                        if (rc->op == R_SUM || rc->op == R_MEAN) tol *= cancel_factor(&in, &out, mask);
                        if (rc->op == R_VAR || rc->op == R_STD) tol *= 4; /* squares of 16-bit inputs */
                        conf_check(c, name, g, &out, tol);
                    }
                    conf_end_case(c);
                }
        }
    }
}

/* Integer and bool inputs: sum/prod promote (MLX), max/min keep the dtype, mean/var/std
 * and logsumexp give float32. */
static void run_integer_reductions(conf_ctx *c) {
    const mx_dtype ints[] = {MX_BOOL, MX_UINT8, MX_UINT16, MX_UINT32, MX_UINT64,
                             MX_INT8, MX_INT16, MX_INT32, MX_INT64};
    int k = 0;
    for (int d = 0; d < 9; d++) {
        mx_dtype t = ints[d];
        int is_signed = t >= MX_INT8;
        for (int s = 0; s < N_SHAPES; s++) {
            axis_set sets[12];
            int ns = axis_sets(shapes[s].nd, sets);
            for (int a = 0; a < ns; a++, k++) {
                const struct {
                    const char *name;
                    reduce_fn fn;
                    int op;
                } cases[] = {{"sum", mx_sum, R_SUM},   {"prod", mx_prod, R_PROD}, {"max", mx_max, R_MAX},
                             {"min", mx_min, R_MIN},   {"mean", mx_mean, R_MEAN}, {"var", var0, R_VAR},
                             {"logsumexp", mx_logsumexp, R_LSE}};
                for (int r = 0; r < 7; r++) {
                    int keepdims = (k + r) % 2;
                    uint32_t mask = mask_of(&sets[a], shapes[s].nd);
                    ref_tensor in;
                    /* prod: values that cannot overflow int32 over up to 129 elements */
                    double lo = is_signed ? -9 : 1, hi = 9;
                    if (cases[r].op == R_PROD) lo = is_signed ? -3 : 1, hi = 3; /* overflows, wrapping */
                    if (t == MX_BOOL) lo = 0, hi = 1;
                    mx_array *x = conf_random(c, shapes[s].shape, shapes[s].nd, t, lo, hi, (k + r) % 3 == 0, &in);
                    ref_tensor out = ref_reduce(c, &in, mask, keepdims, cases[r].op, 0);
                    if (cases[r].op == R_SUM || cases[r].op == R_PROD) { /* wrapping integer arithmetic */
                        groups g = make_groups(&in, mask);
                        for (int64_t o = 0; o < g.n_out; o++) {
                            uint64_t acc = cases[r].op == R_SUM ? 0 : 1;
                            for (int64_t j = 0; j < g.n_red; j++) {
                                uint64_t v = (uint64_t)(int64_t)in.data[g.members[o * g.n_red + j]];
                                acc = cases[r].op == R_SUM ? acc + v : acc * v;
                            }
                            out.data[o] = wrap_int(sum_dtype(t), acc);
                        }
                        free(g.members);
                    }
                    mx_dtype want = cases[r].op == R_SUM || cases[r].op == R_PROD ? sum_dtype(t)
                                    : cases[r].op == R_MAX || cases[r].op == R_MIN ? t
                                                                                    : MX_FLOAT32;
                    char name[96];
                    name_case(name, sizeof name, cases[r].name, &sets[a], keepdims);
                    mx_array *g = cases[r].fn(x, sets[a].n < 0 ? NULL : sets[a].axes, sets[a].n < 0 ? 0 : sets[a].n,
                                              keepdims);
                    if (g && mx_array_dtype(g) != want)
                        conf_fail(c, name, "%s input gave %s, want %s", mx_dtype_name(t), mx_dtype_name(mx_array_dtype(g)),
                                  mx_dtype_name(want));
                    if (want == MX_FLOAT32) conf_check(c, name, g, &out, 4e-6);
                    else conf_check_exact(c, name, g, &out);
                    conf_end_case(c);
                }
            }
        }
    }
}

static void run_all_any(conf_ctx *c) {
    const mx_dtype types[] = {MX_BOOL, MX_UINT8, MX_INT32, MX_INT64, MX_FLOAT16, MX_BFLOAT16, MX_FLOAT32, MX_FLOAT64};
    int k = 0;
    for (int d = 0; d < 8; d++)
        for (int s = 0; s < N_SHAPES; s++) {
            axis_set sets[12];
            int ns = axis_sets(shapes[s].nd, sets);
            for (int a = 0; a < ns; a++, k++)
                for (int which = 0; which < 2; which++) {
                    int keepdims = (k + which) % 2;
                    ref_tensor in;
                    /* zeros about one time in four (bool: one in two) */
                    mx_array *x = conf_random_int(c, shapes[s].shape, shapes[s].nd, types[d], 0, types[d] == MX_BOOL ? 1 : 3, &in);
                    mx_array *xs = x;
                    if (k % 2 && shapes[s].nd >= 2) { /* a strided view with the same values */
                        mx_array *t1 = mx_transpose(x, NULL, 0), *t2 = mx_contiguous(t1);
                        xs = mx_transpose(t2, NULL, 0);
                        mx_free(t1);
                        mx_free(t2);
                    }
                    uint32_t mask = mask_of(&sets[a], shapes[s].nd);
                    ref_tensor out = ref_reduce(c, &in, mask, keepdims, which ? R_ANY : R_ALL, 0);
                    char name[96];
                    name_case(name, sizeof name, which ? "any" : "all", &sets[a], keepdims);
                    const int *ax = sets[a].n < 0 ? NULL : sets[a].axes;
                    int n = sets[a].n < 0 ? 0 : sets[a].n;
                    mx_array *g = which ? mx_any(xs, ax, n, keepdims) : mx_all(xs, ax, n, keepdims);
                    if (g && mx_array_dtype(g) != MX_BOOL) conf_fail(c, name, "result is not bool");
                    conf_check_exact(c, name, g, &out);
                    if (xs != x) mx_free(xs);
                    conf_end_case(c);
                }
        }
}

/* Large inputs: the threaded paths (split reduced range, column blocks, long rows). */
static void run_large(conf_ctx *c) {
    const struct {
        int nd;
        int64_t shape[3];
        int n;
        int axes[2];
    } big[] = {
        {1, {70001}, -1, {0}},         {2, {40000, 3}, 1, {0}},   {2, {3, 40000}, 1, {1}},
        {2, {300, 2500}, 1, {0}},      {2, {2500, 300}, 1, {1}},  {3, {64, 33, 40}, 2, {0, 2}},
        {2, {5000, 70}, -1, {0}},
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        for (int d = 0; d < 4; d += 2) {
            mx_dtype t = d ? MX_BFLOAT16 : MX_FLOAT32;
            for (int r = 0; r < 4; r++) {
                ref_tensor in;
                int strided = (int)(i + (size_t)r) % 2;
                mx_array *x = conf_random(c, big[i].shape, big[i].nd, t, r == 1 ? -2 : 0.5, 2, strided, &in);
                axis_set s = {big[i].n, {big[i].axes[0], big[i].axes[1]}};
                uint32_t mask = mask_of(&s, big[i].nd);
                const int *ax = s.n < 0 ? NULL : s.axes;
                int n = s.n < 0 ? 0 : s.n;
                int op = r == 0 ? R_SUM : r == 1 ? R_MAX : r == 2 ? R_VAR : R_LSE;
                ref_tensor out = ref_reduce(c, &in, mask, 0, op, 0);
                mx_array *g = r == 0 ? mx_sum(x, ax, n, 0) : r == 1 ? mx_max(x, ax, n, 0) : r == 2 ? mx_var(x, ax, n, 0, 0)
                                                                                                 : mx_logsumexp(x, ax, n, 0);
                char name[96];
                name_case(name, sizeof name, r == 0 ? "sum[large]" : r == 1 ? "max[large]" : r == 2 ? "var[large]" : "logsumexp[large]",
                          &s, 0);
                if (op == R_MAX) conf_check_exact(c, name, g, &out);
                else conf_check(c, name, g, &out, conf_tol(t) * (t == MX_FLOAT32 ? 10 : 2));
                conf_end_case(c);
            }
        }
}

/* ---- arg reductions ---- */

static void run_arg_reductions(conf_ctx *c) {
    const mx_dtype types[] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16, MX_FLOAT64, MX_INT8,
                              MX_UINT8,   MX_INT32,   MX_UINT64,   MX_BOOL};
    int k = 0;
    for (int d = 0; d < 9; d++)
        for (int s = 0; s < N_SHAPES; s++)
            for (int ax = -1; ax < shapes[s].nd; ax++, k++)
                for (int which = 0; which < 2; which++) {
                    mx_dtype t = types[d];
                    int keepdims = (k + which) % 2;
                    ref_tensor in;
                    /* small integer ranges: many ties, so "first index" is exercised */
                    double lo = t == MX_BOOL ? 0 : mx_dtype_is_float(t) ? -5 : 1, hi = t == MX_BOOL ? 1 : mx_dtype_is_float(t) ? 5 : 4;
                    mx_array *x = conf_random(c, shapes[s].shape, shapes[s].nd, t, lo, hi, k % 2, &in);
                    int a = ax < 0 ? ax + shapes[s].nd : ax;
                    ref_tensor out = reduced_ref(c, &in, 1u << a, keepdims);
                    groups g = make_groups(&in, 1u << a);
                    for (int64_t o = 0; o < g.n_out; o++) {
                        int64_t best = 0;
                        for (int64_t j = 1; j < g.n_red; j++) {
                            double v = in.data[g.members[o * g.n_red + j]], b = in.data[g.members[o * g.n_red + best]];
                            if (which ? v < b : v > b) best = j;
                        }
                        out.data[o] = (double)best;
                    }
                    free(g.members);
                    char name[64];
                    snprintf(name, sizeof name, "%s(axis=%d, keepdims=%d)", which ? "argmin" : "argmax", ax, keepdims);
                    mx_array *r = which ? mx_argmin(x, ax, keepdims) : mx_argmax(x, ax, keepdims);
                    if (r && mx_array_dtype(r) != MX_UINT32) conf_fail(c, name, "result is not uint32");
                    conf_check_exact(c, name, r, &out);
                    conf_end_case(c);
                }
}

/* ---- softmax ---- */

static void run_softmax(conf_ctx *c) {
    const mx_dtype types[] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16, MX_FLOAT64, MX_INT32};
    int k = 0;
    for (int d = 0; d < 5; d++)
        for (int s = 0; s < N_SHAPES; s++) {
            axis_set sets[12];
            int ns = axis_sets(shapes[s].nd, sets);
            for (int a = 0; a < ns; a++, k++) {
                mx_dtype t = types[d];
                ref_tensor in;
                mx_array *x = conf_random(c, shapes[s].shape, shapes[s].nd, t, -6, 6, k % 2, &in);
                uint32_t mask = mask_of(&sets[a], shapes[s].nd);
                ref_tensor out = conf_ref_alloc(c, in.shape, in.ndim);
                groups g = make_groups(&in, mask);
                for (int64_t o = 0; o < g.n_out; o++) {
                    double m = -INFINITY, sum = 0;
                    for (int64_t j = 0; j < g.n_red; j++) m = fmax(m, in.data[g.members[o * g.n_red + j]]);
                    for (int64_t j = 0; j < g.n_red; j++) sum += exp(in.data[g.members[o * g.n_red + j]] - m);
                    for (int64_t j = 0; j < g.n_red; j++) {
                        int64_t i = g.members[o * g.n_red + j];
                        out.data[i] = exp(in.data[i] - m) / sum;
                    }
                }
                free(g.members);
                char name[96];
                name_case(name, sizeof name, "softmax", &sets[a], 0);
                mx_array *r = mx_softmax(x, sets[a].n < 0 ? NULL : sets[a].axes, sets[a].n < 0 ? 0 : sets[a].n, k % 3 == 0);
                mx_dtype want = t == MX_INT32 ? MX_FLOAT32 : t;
                if (r && mx_array_dtype(r) != want) conf_fail(c, name, "dtype %s, want %s", mx_dtype_name(mx_array_dtype(r)), mx_dtype_name(want));
                /* every element has its own magnitude: compare relative to the group's largest */
                conf_check(c, name, r, &out, conf_tol(want) * 4);
                conf_end_case(c);
            }
        }
    /* a long row (threads, chunked sums) */
    for (int d = 0; d < 4; d++) {
        ref_tensor in;
        mx_array *x = conf_random(c, (int64_t[]){3, 50001}, 2, conf_float_dtypes[d], -8, 8, d % 2, &in);
        ref_tensor out = conf_ref_alloc(c, in.shape, 2);
        for (int r = 0; r < 3; r++) {
            double m = -INFINITY, sum = 0;
            for (int j = 0; j < 50001; j++) m = fmax(m, in.data[r * 50001 + j]);
            for (int j = 0; j < 50001; j++) sum += exp(in.data[r * 50001 + j] - m);
            for (int j = 0; j < 50001; j++) out.data[r * 50001 + j] = exp(in.data[r * 50001 + j] - m) / sum;
        }
        conf_check(c, "softmax[3x50001]", mx_softmax(x, (int[]){-1}, 1, 1), &out, conf_tol(conf_float_dtypes[d]) * 4);
        conf_end_case(c);
    }
}

/* ---- scans ---- */

typedef mx_array *(*scan_fn)(const mx_array *, int, int, int);

static void run_scans(conf_ctx *c) {
    const struct {
        const char *name;
        scan_fn fn;
        int op; /* 0 sum, 1 prod, 2 max, 3 min */
    } scans[] = {{"cumsum", mx_cumsum, 0}, {"cumprod", mx_cumprod, 1}, {"cummax", mx_cummax, 2}, {"cummin", mx_cummin, 3}};
    const mx_dtype types[] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16, MX_FLOAT64, MX_INT8, MX_UINT8,
                              MX_INT32,   MX_UINT32,  MX_INT64,    MX_UINT64,  MX_BOOL};
    int k = 0;
    for (int sc = 0; sc < 4; sc++)
        for (int d = 0; d < 11; d++)
            for (int s = 0; s < N_SHAPES; s++)
                for (int ax = -1; ax < shapes[s].nd; ax++)
                    for (int mode = 0; mode < 4; mode++, k++) {
                        mx_dtype t = types[d];
                        int reverse = mode & 1, inclusive = !(mode & 2), fl = mx_dtype_is_float(t);
                        int is_signed = t >= MX_INT8 && t <= MX_INT64;
                        double lo = fl ? -3 : is_signed ? -9 : 1, hi = fl ? 3 : 9;
                        if (scans[sc].op == 0 && fl) lo = 0.25, hi = 2;   /* no cancellation */
                        if (scans[sc].op == 1) lo = fl ? 0.8 : is_signed ? -2 : 1, hi = fl ? 1.25 : 2;
                        if (t == MX_BOOL) lo = 0, hi = 1;
                        ref_tensor in;
                        mx_array *x = conf_random(c, shapes[s].shape, shapes[s].nd, t, lo, hi, k % 2, &in);
                        int a = ax < 0 ? ax + shapes[s].nd : ax;
                        mx_dtype out_t = scans[sc].op == 0 && t == MX_BOOL ? MX_INT32 : t;
                        ref_tensor out = conf_ref_alloc(c, in.shape, in.ndim);
                        groups g = make_groups(&in, 1u << a);
                        for (int64_t o = 0; o < g.n_out && !fl; o++) { /* integers: wrapping, exact */
                            int u = t == MX_UINT64;
                            uint64_t acc = scans[sc].op == 1 ? 1 : 0;
                            if (scans[sc].op == 2) acc = t == MX_INT8 ? (uint64_t)INT8_MIN : t == MX_INT32 ? (uint64_t)INT32_MIN
                                                       : t == MX_INT64 ? (uint64_t)INT64_MIN : 0;
                            if (scans[sc].op == 3) acc = t == MX_INT8 ? INT8_MAX : t == MX_UINT8 ? UINT8_MAX : t == MX_INT32 ? INT32_MAX
                                                       : t == MX_UINT32 ? UINT32_MAX : t == MX_INT64 ? (uint64_t)INT64_MAX
                                                       : t == MX_BOOL ? 1 : UINT64_MAX;
                            for (int64_t jj = 0; jj < g.n_red; jj++) {
                                int64_t j = reverse ? g.n_red - 1 - jj : jj, i = g.members[o * g.n_red + j];
                                uint64_t v = (uint64_t)(int64_t)in.data[i], next;
                                int gt = u ? v > acc : (int64_t)v > (int64_t)acc, lt = u ? v < acc : (int64_t)v < (int64_t)acc;
                                switch (scans[sc].op) {
                                case 0: next = acc + v; break;
                                case 1: next = acc * v; break;
                                case 2: next = gt ? v : acc; break;
                                default: next = lt ? v : acc; break;
                                }
                                out.data[i] = wrap_int(out_t, inclusive ? next : acc);
                                acc = next;
                            }
                        }
                        for (int64_t o = 0; o < g.n_out && fl; o++) {
                            /* identity of an exclusive scan */
                            double acc = scans[sc].op == 1 ? 1 : scans[sc].op == 2 ? -INFINITY : scans[sc].op == 3 ? INFINITY : 0;
                            for (int64_t jj = 0; jj < g.n_red; jj++) {
                                int64_t j = reverse ? g.n_red - 1 - jj : jj, i = g.members[o * g.n_red + j];
                                double v = in.data[i], next;
                                switch (scans[sc].op) {
                                case 0: next = acc + v; break;
                                case 1: next = acc * v; break;
                                case 2: next = v > acc ? v : acc; break;
                                default: next = v < acc ? v : acc; break;
                                }
                                out.data[i] = inclusive ? next : acc;
                                acc = next;
                            }
                        }
                        free(g.members);
                        char name[96];
                        snprintf(name, sizeof name, "%s(axis=%d, reverse=%d, inclusive=%d)", scans[sc].name, ax, reverse,
                                 inclusive);
                        mx_array *r = scans[sc].fn(x, ax, reverse, inclusive);
                        if (r && mx_array_dtype(r) != out_t) conf_fail(c, name, "%s input gave %s", mx_dtype_name(t), mx_dtype_name(mx_array_dtype(r)));
                        if (!fl || scans[sc].op >= 2) conf_check_exact(c, name, r, &out);
                        else conf_check(c, name, r, &out, conf_tol(t) * 8);
                        conf_end_case(c);
                    }
    /* a long line and a wide block of lines (chunk carry, threads) */
    for (int rev = 0; rev < 2; rev++) {
        ref_tensor in;
        mx_array *x = conf_random(c, (int64_t[]){2, 9000}, 2, MX_INT32, -100, 100, rev, &in);
        ref_tensor out = conf_ref_alloc(c, in.shape, 2), out0 = conf_ref_alloc(c, in.shape, 2);
        for (int r = 0; r < 2; r++) {
            double acc = 0;
            for (int jj = 0; jj < 9000; jj++) {
                int j = rev ? 8999 - jj : jj;
                acc += in.data[r * 9000 + j];
                out.data[r * 9000 + j] = acc;
            }
        }
        for (int j = 0; j < 9000; j++) {
            double acc = 0;
            for (int r = 0; r < 2; r++) {
                int rr = rev ? 1 - r : r;
                acc += in.data[rr * 9000 + j];
                out0.data[rr * 9000 + j] = acc;
            }
        }
        conf_check_exact(c, "cumsum[2x9000, axis 1]", mx_cumsum(x, 1, rev, 1), &out);
        conf_check_exact(c, "cumsum[2x9000, axis 0]", mx_cumsum(x, 0, rev, 1), &out0);
        conf_end_case(c);
    }
}

void conf_family_reduce(conf_ctx *c) {
    run_float_reductions(c);
    run_integer_reductions(c);
    run_all_any(c);
    run_large(c);
    run_arg_reductions(c);
    run_softmax(c);
    run_scans(c);
}
