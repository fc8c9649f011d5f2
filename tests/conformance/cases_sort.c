/* Conformance cases: sort, argsort (stable, exact), partition, argpartition (the kth element
 * in place, nothing larger before it, nothing smaller after it, the same multiset) and topk,
 * on every dtype, odd shapes, every axis, strided inputs, many ties. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

/* lines[l * n + j]: flat index of element j along `axis` of line l (lines row-major over the
 * other axes), as the kernels and MLX number them. */
static int64_t *make_lines(const ref_tensor *t, int axis, int64_t *n_lines) {
    int64_t n = t->shape[axis], inner = 1;
    for (int d = axis + 1; d < t->ndim; d++) inner *= t->shape[d];
    *n_lines = n ? t->size / n : 0;
    int64_t *l = malloc((size_t)(t->size + 1) * sizeof *l);
    if (!l) abort();
    for (int64_t line = 0; line < *n_lines; line++)
        for (int64_t j = 0; j < n; j++) l[line * n + j] = (line / inner) * n * inner + j * inner + line % inner;
    return l;
}

/* Stable ascending order of v[0..n) (NaN last) as indices, by insertion sort. */
static void stable_argsort(const double *v, int64_t n, int64_t *idx) {
    for (int64_t i = 0; i < n; i++) {
        int64_t j = i;
        while (j > 0 && (isnan(v[idx[j - 1]]) ? !isnan(v[i]) : v[i] < v[idx[j - 1]])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
}

static const struct {
    int nd;
    int64_t shape[4];
} shapes[] = {{1, {1}}, {1, {7}}, {2, {3, 5}}, {3, {2, 3, 17}}, {2, {1, 129}}, {3, {4, 1, 33}}, {4, {3, 4, 5, 6}}, {2, {300, 2}}};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

static void run_sort_argsort(conf_ctx *c) {
    int k = 0;
    for (int d = 0; d < 13; d++)
        for (int s = 0; s < N_SHAPES; s++)
            for (int ax = -1; ax < shapes[s].nd; ax++, k++) {
                mx_dtype t = conf_all_dtypes[d];
                ref_tensor in;
                mx_array *x = conf_random(c, shapes[s].shape, shapes[s].nd, t,
                                          t == MX_BOOL ? 0 : (t >= MX_INT8 && t <= MX_INT64) || mx_dtype_is_float(t) ? -4 : 1,
                                          t == MX_BOOL ? 1 : 6, k % 2, &in);
                if (mx_dtype_is_float(t)) /* quarter steps: ties in bulk, exact in every float type */
                    for (int64_t i = 0; i < in.size; i++) in.data[i] = nearbyint(in.data[i] * 4) / 4; /* half to even, as mx_round */
                mx_array *xq = x;
                if (mx_dtype_is_float(t)) {
                    mx_array *m = mx_multiply_scalar(x, 4), *r = mx_round(m, 0);
                    xq = mx_multiply_scalar(r, 0.25);
                    mx_free(m);
                    mx_free(r);
                }
                int a = ax < 0 ? ax + shapes[s].nd : ax;
                int64_t nl, n = in.shape[a];
                int64_t *lines = make_lines(&in, a, &nl);
                ref_tensor sorted = conf_ref_alloc(c, in.shape, in.ndim), order = conf_ref_alloc(c, in.shape, in.ndim);
                double *v = malloc((size_t)(n + 1) * sizeof *v);
                int64_t *ix = malloc((size_t)(n + 1) * sizeof *ix);
                for (int64_t l = 0; l < nl; l++) {
                    for (int64_t j = 0; j < n; j++) v[j] = in.data[lines[l * n + j]];
                    stable_argsort(v, n, ix);
                    for (int64_t j = 0; j < n; j++) {
                        sorted.data[lines[l * n + j]] = v[ix[j]];
                        order.data[lines[l * n + j]] = (double)ix[j];
                    }
                }
                free(v), free(ix), free(lines);
                char name[64];
                snprintf(name, sizeof name, "sort(axis=%d)", ax);
                mx_array *r = mx_sort(xq, ax);
                if (r && mx_array_dtype(r) != t) conf_fail(c, name, "dtype changed to %s", mx_dtype_name(mx_array_dtype(r)));
                conf_check_exact(c, name, r, &sorted);
                snprintf(name, sizeof name, "argsort(axis=%d)", ax);
                r = mx_argsort(xq, ax);
                if (r && mx_array_dtype(r) != MX_UINT32) conf_fail(c, name, "result is not uint32");
                conf_check_exact(c, name, r, &order);
                if (xq != x) mx_free(xq);
                conf_end_case(c);
            }
}

/* Checks a partition result (values: vals = the partitioned values; for argpartition the
 * values gathered through the indices) against the input along every line. */
static void check_partition(conf_ctx *c, const char *name, const ref_tensor *in, int axis, int kth, mx_array *got,
                            int is_arg) {
    if (!got) {
        conf_fail(c, name, "returned NULL: %s", mx_last_error());
        return;
    }
    double *res = malloc((size_t)(in->size + 1) * sizeof *res);
    if (!res) abort();
    if (mx_read(got, MX_FLOAT64, res)) {
        conf_fail(c, name, "eval failed: %s", mx_last_error());
        free(res);
        mx_free(got);
        return;
    }
    if (is_arg && mx_array_dtype(got) != MX_UINT32) conf_fail(c, name, "result is not uint32");
    int64_t nl, n = in->shape[axis];
    int64_t *lines = make_lines(in, axis, &nl);
    double *v = malloc((size_t)(n + 1) * sizeof *v), *w = malloc((size_t)(n + 1) * sizeof *w);
    int64_t *ix = malloc((size_t)(n + 1) * sizeof *ix);
    char *seen = malloc((size_t)n + 1);
    int ok = 1;
    for (int64_t l = 0; l < nl && ok; l++) {
        memset(seen, 0, (size_t)n + 1);
        for (int64_t j = 0; j < n; j++) {
            double r = res[lines[l * n + j]];
            if (is_arg) {
                if (r < 0 || r >= (double)n || r != floor(r) || seen[(int64_t)r]) {
                    conf_fail(c, name, "line %lld: index %g is out of range or repeated", (long long)l, r);
                    ok = 0;
                    break;
                }
                seen[(int64_t)r] = 1;
                v[j] = in->data[lines[l * n + (int64_t)r]];
            } else {
                v[j] = r;
            }
            w[j] = in->data[lines[l * n + j]];
        }
        if (!ok) break;
        /* same multiset, and the kth is what a full sort puts there */
        stable_argsort(w, n, ix);
        double kv = w[ix[kth]];
        double *sv = malloc((size_t)(n + 1) * sizeof *sv);
        int64_t *sx = malloc((size_t)(n + 1) * sizeof *sx);
        stable_argsort(v, n, sx);
        for (int64_t j = 0; j < n && ok; j++)
            if (v[sx[j]] != w[ix[j]]) {
                conf_fail(c, name, "line %lld: not a permutation of the input", (long long)l);
                ok = 0;
            }
        free(sv), free(sx);
        if (ok && v[kth] != kv) {
            conf_fail(c, name, "line %lld: element %d is %g, a sort puts %g there", (long long)l, kth, v[kth], kv);
            ok = 0;
        }
        for (int64_t j = 0; j < n && ok; j++)
            if ((j < kth && v[j] > kv) || (j > kth && v[j] < kv)) {
                conf_fail(c, name, "line %lld: element %lld (%g) is on the wrong side of %g", (long long)l, (long long)j, v[j], kv);
                ok = 0;
            }
    }
    if (ok) conf_pass(c);
    free(v), free(w), free(ix), free(seen), free(lines), free(res);
    mx_free(got);
}

static void run_partitions(conf_ctx *c) {
    int k = 0;
    for (int d = 0; d < 13; d++)
        for (int s = 0; s < N_SHAPES; s++)
            for (int ax = -1; ax < shapes[s].nd; ax++, k++) {
                mx_dtype t = conf_all_dtypes[d];
                ref_tensor in;
                int is_signed = t >= MX_INT8 && t <= MX_INT64;
                mx_array *x = conf_random(c, shapes[s].shape, shapes[s].nd, t, t == MX_BOOL ? 0 : is_signed || mx_dtype_is_float(t) ? -20 : 1,
                                          t == MX_BOOL ? 1 : 20, k % 2, &in);
                int a = ax < 0 ? ax + shapes[s].nd : ax;
                int n = (int)in.shape[a];
                int kths[] = {0, n / 2, n - 1, -1};
                for (int q = 0; q < 4; q++) {
                    int kth = kths[q] < 0 ? kths[q] + n : kths[q];
                    char name[64];
                    snprintf(name, sizeof name, "partition(kth=%d, axis=%d)", kths[q], ax);
                    check_partition(c, name, &in, a, kth, mx_partition(x, kths[q], ax), 0);
                    snprintf(name, sizeof name, "argpartition(kth=%d, axis=%d)", kths[q], ax);
                    check_partition(c, name, &in, a, kth, mx_argpartition(x, kths[q], ax), 1);
                }
                conf_end_case(c);
            }
    /* a long line (quickselect past its small-range insertion sort) */
    ref_tensor in;
    mx_array *x = conf_random(c, (int64_t[]){2, 20000}, 2, MX_FLOAT32, -1000, 1000, 1, &in);
    check_partition(c, "partition(kth=12345)[2x20000]", &in, 1, 12345, mx_partition(x, 12345, 1), 0);
    check_partition(c, "argpartition(kth=7)[2x20000]", &in, 1, 7, mx_argpartition(x, 7, -1), 1);
    conf_end_case(c);
}

static void run_topk(conf_ctx *c) {
    const mx_dtype types[] = {MX_FLOAT32, MX_BFLOAT16, MX_FLOAT16, MX_FLOAT64, MX_INT8, MX_UINT32, MX_INT64};
    int k = 0;
    for (int d = 0; d < 7; d++)
        for (int s = 0; s < N_SHAPES; s++)
            for (int ax = -1; ax < shapes[s].nd; ax++, k++) {
                mx_dtype t = types[d];
                ref_tensor in;
                mx_array *x = conf_random(c, shapes[s].shape, shapes[s].nd, t, t == MX_UINT32 ? 1 : -50, 50, k % 2, &in);
                int a = ax < 0 ? ax + shapes[s].nd : ax;
                int64_t n = in.shape[a], nl;
                int64_t kk = (k % 3 == 0) ? 1 : (k % 3 == 1) ? (n + 1) / 2 : n;
                /* reference: the k largest per line, ascending (the result is compared sorted) */
                int64_t oshape[MX_MAX_NDIM];
                for (int i = 0; i < in.ndim; i++) oshape[i] = in.shape[i];
                oshape[a] = kk;
                ref_tensor out = conf_ref_alloc(c, oshape, in.ndim);
                int64_t *lines = make_lines(&in, a, &nl), *olines = make_lines(&out, a, &nl);
                double *v = malloc((size_t)(n + 1) * sizeof *v);
                int64_t *ix = malloc((size_t)(n + 1) * sizeof *ix);
                for (int64_t l = 0; l < nl; l++) {
                    for (int64_t j = 0; j < n; j++) v[j] = in.data[lines[l * n + j]];
                    stable_argsort(v, n, ix);
                    for (int64_t j = 0; j < kk; j++) out.data[olines[l * kk + j]] = v[ix[n - kk + j]];
                }
                free(v), free(ix), free(lines), free(olines);
                char name[64];
                snprintf(name, sizeof name, "topk(k=%lld, axis=%d)", (long long)kk, ax);
                mx_array *tk = mx_topk(x, (int)kk, ax);
                conf_check_exact(c, name, tk ? mx_sort(tk, ax) : NULL, &out);
                mx_free(tk);
                conf_end_case(c);
            }
}

void conf_family_sort(conf_ctx *c) {
    run_sort_argsort(c);
    run_partitions(c);
    run_topk(c);
}
