/* Conformance cases: matmul, addmm, gather_mm against float64 references, in every float
 * dtype, with 1-D operands, broadcast batches, strided and transposed (BLAS-layout) views. */
#include <math.h>
#include <string.h>

#include "conformance.h"

/* A ref viewed as a matrix operand: 1-D promoted like matmul does (a: [1, K], b: [K, 1]). */
static ref_tensor promote(ref_tensor t, int is_b) {
    if (t.ndim == 1) {
        int64_t k = t.shape[0];
        t.ndim = 2;
        t.shape[0] = is_b ? k : 1;
        t.shape[1] = is_b ? 1 : k;
    }
    return t;
}

/* Element (i, j) of matrix number `flat` of t's batch, t broadcast to the batch shape bs[nb]. */
static double ref_el(const ref_tensor *t, const int64_t *bs, int nb, int64_t flat, int64_t i, int64_t j) {
    int64_t idx[MX_MAX_NDIM];
    for (int d = nb - 1; d >= 0; d--) {
        idx[d] = flat % bs[d];
        flat /= bs[d];
    }
    int tb = t->ndim - 2, lead = nb - tb;
    int64_t off = 0, stride = 1;
    off += j * stride;
    stride *= t->shape[t->ndim - 1];
    off += i * stride;
    stride *= t->shape[t->ndim - 2];
    for (int d = tb - 1; d >= 0; d--) {
        int64_t v = t->shape[d] == 1 ? 0 : idx[d + lead];
        off += v * stride;
        stride *= t->shape[d];
    }
    return t->data[off];
}

/* out = alpha * a @ b (+ beta * c broadcast), with matmul's 1-D handling. */
static ref_tensor ref_product(conf_ctx *c, ref_tensor ra, ref_tensor rb, const ref_tensor *rc, double alpha,
                              double beta) {
    int a1 = ra.ndim == 1, b1 = rb.ndim == 1;
    ra = promote(ra, 0);
    rb = promote(rb, 1);
    int nb = (ra.ndim > rb.ndim ? ra.ndim : rb.ndim) - 2;
    int64_t bs[MX_MAX_NDIM];
    for (int d = 0; d < nb; d++) {
        int ia = d - (nb - (ra.ndim - 2)), ib = d - (nb - (rb.ndim - 2));
        int64_t da = ia >= 0 ? ra.shape[ia] : 1, db = ib >= 0 ? rb.shape[ib] : 1;
        bs[d] = da > db ? da : db;
    }
    int64_t M = ra.shape[ra.ndim - 2], K = ra.shape[ra.ndim - 1], N = rb.shape[rb.ndim - 1];
    int64_t shape[MX_MAX_NDIM];
    int nd = 0;
    for (int d = 0; d < nb; d++) shape[nd++] = bs[d];
    if (!a1) shape[nd++] = M;
    if (!b1) shape[nd++] = N;
    ref_tensor out = conf_ref_alloc(c, shape, nd);
    int64_t nprod = 1;
    for (int d = 0; d < nb; d++) nprod *= bs[d];
    for (int64_t p = 0; p < nprod; p++)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++) s += ref_el(&ra, bs, nb, p, i, k) * ref_el(&rb, bs, nb, p, k, j);
                out.data[(p * M + i) * N + j] = alpha * s;
            }
    if (rc) {
        int64_t idx[MX_MAX_NDIM] = {0};
        for (int64_t e = 0; e < out.size; e++) {
            out.data[e] += beta * conf_ref_at_broadcast(rc, out.ndim, idx);
            for (int d = out.ndim - 1; d >= 0; d--) {
                if (++idx[d] < out.shape[d]) break;
                idx[d] = 0;
            }
        }
    }
    return out;
}

/* Tolerance for a product of depth K in dtype t (float16 / bfloat16 results are rounded once). */
static double prod_tol(mx_dtype t, int64_t K) {
    double tol = conf_tol(t) * 2;
    if (t == MX_FLOAT32) tol *= 1 + (double)K / 64;
    return tol;
}

typedef struct {
    int64_t a[4], b[4];
    int na, nb;
} shape_pair;

static const shape_pair pairs[] = {
    {{3, 5}, {5, 7}, 2, 2},         {{1, 129}, {129, 1}, 2, 2},       {{7}, {7, 3}, 1, 2},
    {{4, 7}, {7}, 2, 1},            {{7}, {7}, 1, 1},                 {{2, 3, 17}, {17, 5}, 3, 2},
    {{2, 1, 3, 4}, {5, 4, 6}, 4, 3}, {{3, 5}, {2, 5, 4}, 2, 3},        {{1, 300}, {300, 130}, 2, 2},
    {{3, 64}, {64, 33}, 2, 2},      {{2, 4, 1, 9}, {9, 11}, 4, 2},    {{70, 90}, {90, 65}, 2, 2},
};

/* How much the products of a and b cancel: max over outputs of sum_k |a_ik b_kj| divided by
 * max |out|. A float sum's error is bounded by the first (K eps sum |a b|), while the checks
 * normalise by the second: a short dot product of random signs (K = 7) can land near zero and
 * fail a correct kernel (seed 4765573738555516888: 6.2e-4 from terms of size ~4). */
static double cancellation(conf_ctx *c, ref_tensor ra, ref_tensor rb, const ref_tensor *out) {
    ref_tensor aa = conf_ref_alloc(c, ra.shape, ra.ndim), ab = conf_ref_alloc(c, rb.shape, rb.ndim);
    for (int64_t i = 0; i < ra.size; i++) aa.data[i] = fabs(ra.data[i]);
    for (int64_t i = 0; i < rb.size; i++) ab.data[i] = fabs(rb.data[i]);
    ref_tensor mag = ref_product(c, aa, ab, NULL, 1, 0);
    double top = 0, big = 0;
    for (int64_t i = 0; i < mag.size; i++) top = fmax(top, mag.data[i]);
    for (int64_t i = 0; i < out->size; i++) big = fmax(big, fabs(out->data[i]));
    return big > 0 ? fmax(1.0, top / big) : 1.0;
}

static void run_matmul(conf_ctx *c) {
    for (size_t s = 0; s < sizeof pairs / sizeof pairs[0]; s++)
        for (int d = 0; d < 4; d++)
            for (int strided = 0; strided < 3; strided++) {
                mx_dtype t = conf_float_dtypes[d];
                const shape_pair *sp = &pairs[s];
                ref_tensor ra, rb;
                mx_array *a = conf_random(c, sp->a, sp->na, t, -2, 2, strided == 1, &ra);
                mx_array *b = conf_random(c, sp->b, sp->nb, t, -2, 2, strided == 2, &rb);
                ref_tensor out = ref_product(c, ra, rb, NULL, 1, 0);
                int64_t K = sp->a[sp->na - 1];
                mx_array *r = mx_matmul(a, b);
                if (r && mx_array_dtype(r) != t) conf_fail(c, "matmul", "result dtype %s", mx_dtype_name(mx_array_dtype(r)));
                conf_check(c, "matmul", r, &out, prod_tol(t, K) * cancellation(c, ra, rb, &out));
                conf_end_case(c);
            }
}

/* The Linear layout: x @ W.T with W [N, K] row-major (a transposed view BLAS reads in
 * place), and W.T @ x.T; plus x.T views. */
static void run_transposed(conf_ctx *c) {
    /* M <= 8: the decode kernels (K tails, odd K); more rows: the blocked bf16 GEMM (row and
     * column remainders of its 12 x 32 / 4 x 16 blocks, K past one 256-wide block, M past
     * one 504-row block). */
    const int64_t shapes[][3] = {{1, 64, 96},  {5, 33, 17},  {3, 128, 256}, {4, 7, 1},     {1, 2048, 40},
                                 {8, 130, 9},  {7, 77, 5},   {13, 64, 33},  {37, 301, 70}, {510, 260, 24}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int d = 0; d < 4; d++) {
            mx_dtype t = conf_float_dtypes[d];
            int64_t M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
            ref_tensor rx, rw;
            mx_array *x = conf_random(c, (int64_t[]){M, K}, 2, t, -1, 1, 0, &rx);
            mx_array *w = conf_random(c, (int64_t[]){N, K}, 2, t, -1, 1, 0, &rw);
            mx_array *wt = mx_transpose(w, NULL, 0);
            ref_tensor rwt = conf_ref_alloc(c, (int64_t[]){K, N}, 2);
            for (int64_t i = 0; i < K; i++)
                for (int64_t j = 0; j < N; j++) rwt.data[i * N + j] = rw.data[j * K + i];
            ref_tensor out = ref_product(c, rx, rwt, NULL, 1, 0);
            mx_array *r = mx_matmul(x, wt);
            conf_check(c, "matmul(x, W.T)", r, &out, prod_tol(t, K));
            /* (W.T).T @ x.T = W @ x.T: both operands transposed views */
            mx_array *xt = mx_transpose(x, NULL, 0);
            ref_tensor rxt = conf_ref_alloc(c, (int64_t[]){K, M}, 2);
            for (int64_t i = 0; i < K; i++)
                for (int64_t j = 0; j < M; j++) rxt.data[i * M + j] = rx.data[j * K + i];
            mx_array *wtt = mx_transpose(wt, NULL, 0);
            ref_tensor out2 = ref_product(c, rw, rxt, NULL, 1, 0);
            r = mx_matmul(wtt, xt);
            conf_check(c, "matmul(W, x.T)", r, &out2, prod_tol(t, K));
            mx_free(wt);
            mx_free(xt);
            mx_free(wtt);
            conf_end_case(c);
        }
}

/* Mixed dtypes promote (bfloat16 with float32 -> float32, float16 with bfloat16 -> float32). */
static void run_mixed(conf_ctx *c) {
    const mx_dtype ta[] = {MX_FLOAT32, MX_BFLOAT16, MX_FLOAT16, MX_FLOAT64};
    const mx_dtype tb[] = {MX_BFLOAT16, MX_FLOAT16, MX_BFLOAT16, MX_FLOAT32};
    for (int i = 0; i < 4; i++)
        for (int strided = 0; strided < 2; strided++) {
            ref_tensor ra, rb;
            mx_array *a = conf_random(c, (int64_t[]){3, 40}, 2, ta[i], -2, 2, strided, &ra);
            mx_array *b = conf_random(c, (int64_t[]){40, 9}, 2, tb[i], -2, 2, !strided, &rb);
            mx_dtype t = mx_promote_types(ta[i], tb[i]);
            ref_tensor out = ref_product(c, ra, rb, NULL, 1, 0);
            mx_array *r = mx_matmul(a, b);
            if (r && mx_array_dtype(r) != t) conf_fail(c, "matmul mixed", "dtype %s", mx_dtype_name(mx_array_dtype(r)));
            conf_check(c, "matmul mixed", r, &out, prod_tol(t, 40));
            conf_end_case(c);
        }
}

static void run_addmm(conf_ctx *c) {
    const struct {
        int64_t a[3], b[3], c[3];
        int na, nb, nc;
        float alpha, beta;
    } cases[] = {
        {{3, 5}, {5, 7}, {3, 7}, 2, 2, 2, 1.0f, 1.0f},
        {{3, 5}, {5, 7}, {7}, 2, 2, 1, 0.5f, 2.0f},
        {{2, 3, 9}, {9, 4}, {3, 1}, 3, 2, 2, -1.5f, 0.25f},
        {{6}, {6, 4}, {4}, 1, 2, 1, 2.0f, -1.0f},
        {{4, 6}, {6}, {4}, 2, 1, 1, 1.0f, 3.0f},
        {{1, 70}, {70, 33}, {1, 33}, 2, 2, 2, 1.0f, 0.0f},
    };
    for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++)
        for (int d = 0; d < 4; d++) {
            mx_dtype t = conf_float_dtypes[d];
            ref_tensor ra, rb, rc;
            mx_array *a = conf_random(c, cases[s].a, cases[s].na, t, -2, 2, (int)s % 2, &ra);
            mx_array *b = conf_random(c, cases[s].b, cases[s].nb, t, -2, 2, 0, &rb);
            mx_array *cc = conf_random(c, cases[s].c, cases[s].nc, t, -2, 2, (int)s % 3 == 0, &rc);
            ref_tensor out = ref_product(c, ra, rb, &rc, cases[s].alpha, cases[s].beta);
            mx_array *r = mx_addmm(cc, a, b, cases[s].alpha, cases[s].beta);
            conf_check(c, "addmm", r, &out, prod_tol(t, cases[s].a[cases[s].na - 1]) * 2);
            conf_end_case(c);
        }
}

static void run_gather_mm(conf_ctx *c) {
    for (int d = 0; d < 4; d++)
        for (int variant = 0; variant < 3; variant++) {
            mx_dtype t = conf_float_dtypes[d];
            /* a: [3, 2, K] (3 batches of 2 rows), b: [4, K, N] (4 experts) */
            int64_t K = 19, N = 6;
            ref_tensor ra, rb, rl, rr;
            mx_array *a = conf_random(c, (int64_t[]){3, 2, K}, 3, t, -2, 2, variant == 1, &ra);
            mx_array *b = conf_random(c, (int64_t[]){4, K, N}, 3, t, -2, 2, variant == 2, &rb);
            mx_array *li = conf_random_int(c, (int64_t[]){5, 1}, 2, MX_UINT32, 0, 2, &rl);
            mx_array *ri = conf_random_int(c, (int64_t[]){1, 2}, 2, MX_INT32, 0, 3, &rr);
            if (variant == 2) li = NULL; /* default: arange over a's batch [3] broadcast with [1, 2] */
            int64_t oshape[4];
            int ond = 4;
            int64_t B0 = variant == 2 ? 1 : 5, B1 = variant == 2 ? 3 : 2;
            if (variant == 2) {
                /* lhs default shape [3] vs rhs [1, 2] -> broadcast fails unless rhs is [1]; use rhs [3] */
                ri = conf_random_int(c, (int64_t[]){3}, 1, MX_INT64, 0, 3, &rr);
                B0 = 3;
                ond = 3;
            }
            oshape[0] = B0;
            if (ond == 4) oshape[1] = B1;
            oshape[ond - 2] = 2;
            oshape[ond - 1] = N;
            ref_tensor out = conf_ref_alloc(c, oshape, ond);
            int64_t nprod = ond == 4 ? B0 * B1 : B0;
            for (int64_t p = 0; p < nprod; p++) {
                int64_t la, lb;
                if (ond == 4) {
                    la = (int64_t)rl.data[p / B1];
                    lb = (int64_t)rr.data[p % B1];
                } else {
                    la = p;
                    lb = (int64_t)rr.data[p];
                }
                for (int64_t i = 0; i < 2; i++)
                    for (int64_t j = 0; j < N; j++) {
                        double s = 0;
                        for (int64_t k = 0; k < K; k++)
                            s += ra.data[(la * 2 + i) * K + k] * rb.data[(lb * K + k) * N + j];
                        out.data[(p * 2 + i) * N + j] = s;
                    }
            }
            mx_array *r = mx_gather_mm(a, b, li, ri);
            conf_check(c, "gather_mm", r, &out, prod_tol(t, K));
            conf_end_case(c);
        }
}

void conf_family_linalg(conf_ctx *c) {
    run_matmul(c);
    run_transposed(c);
    run_mixed(c);
    run_addmm(c);
    run_gather_mm(c);
}
