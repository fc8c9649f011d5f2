/* CPU kernels of matmul, addmm and gather_mm.
 *
 * Every product is split into single matrix products C[M, N] = alpha * A[M, K] @ B[K, N]
 * computed in float32 (float64 when the output is float64) with OpenBLAS:
 *  - an operand already in the compute type whose strides BLAS can express (row-major, or
 *    transposed: a transposed view is passed as CblasTrans with its leading dimension, never
 *    copied) is handed to BLAS in place;
 *  - any other operand (float16 / bfloat16, odd strides) is converted one K-panel at a time
 *    into scratch, and the panels' products accumulate in C (so a big 16-bit weight matrix is
 *    never widened whole);
 *  - a 16-bit weight multiplied by a few rows (decode: M <= 8) skips BLAS: the dot products
 *    read the 16-bit weights directly, which is what bounds a decode step (weight bytes);
 *    the Linear layout (x @ W^T, W rows contiguous) goes to the vector kernels of
 *    arch/gemm_bf16*.c (vdpbf16ps on AVX512-BF16, widen + FMA on AVX2, plain C);
 *  - bfloat16 @ bfloat16 with more rows goes to the blocked bf16 GEMM of arch/gemm_bf16.c
 *    (packed bf16 pairs, vdpbf16ps) where vdpbf16ps is fast (AMD); elsewhere OpenBLAS on
 *    float32 panels measured faster and stays the default. CMLX_CPU_PATH (cpu_features) or
 *    CMLX_BF16_DOT force the blocked GEMM on a given path (tests cover every path).
 * Batch dimensions broadcast through strides; a batch of row-major A against one shared B is
 * folded into a single taller product. */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/batch.h"
#include "backend/cpu/arch/cpu_features.h"
#include "backend/cpu/arch/gemm_amx.h"
#include "backend/cpu/arch/gemm_b16.h"
#include "backend/cpu/chunk.h"
#include "backend/cpu/kernels.h"
#include "core/dtype.h"
#include "ops/linalg.h"

/* One matrix operand: element (i, j) at p + (i * rs + j * cs) elements. */
typedef struct {
    const char *p;
    mx_dtype dt;
    int64_t rs, cs;
} mat_ref;

/* Elements per converted panel: keeps scratch near 4 MB (float32) whatever the shape. */
#define PANEL_ELEMS (1 << 20)

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static const char *elem_ptr(const mat_ref *m, int64_t i, int64_t j) {
    return m->p + (i * m->rs + j * m->cs) * (int64_t)mx_dtype_size(m->dt);
}

/* Whether BLAS can read the rows x cols matrix m in place: sets *trans and *ld. */
static int blas_layout(const mat_ref *m, int64_t rows, int64_t cols, int *trans, int64_t *ld) {
    if (m->cs == 1 && (rows == 1 || m->rs >= cols) && (rows == 1 || m->rs <= INT_MAX)) {
        *trans = 0;
        *ld = rows == 1 ? max64(cols, 1) : m->rs;
        return 1;
    }
    if (m->rs == 1 && (cols == 1 || m->cs >= rows) && (cols == 1 || m->cs <= INT_MAX)) {
        *trans = 1;
        *ld = cols == 1 ? max64(rows, 1) : m->cs;
        return 1;
    }
    return 0;
}

/* Converts the rows x cols block of m at (r0, c0) into dst (type t), in the orientation in
 * which the source is contiguous, and says how BLAS should read it. */
static void convert_panel(const mat_ref *m, int64_t r0, int64_t c0, int64_t rows, int64_t cols, mx_dtype t,
                          void *dst, int *trans, int64_t *ld) {
    size_t ts = mx_dtype_size(t);
    if (m->rs == 1 && m->cs != 1) {
#pragma omp parallel for if (cpu_parallel_worth(rows * cols))
        for (int64_t j = 0; j < cols; j++)
            mx_convert(elem_ptr(m, r0, c0 + j), m->dt, (char *)dst + j * rows * (int64_t)ts, t, rows);
        *trans = 1;
        *ld = max64(rows, 1);
    } else if (m->cs == 1) {
#pragma omp parallel for if (cpu_parallel_worth(rows * cols))
        for (int64_t i = 0; i < rows; i++)
            mx_convert(elem_ptr(m, r0 + i, c0), m->dt, (char *)dst + i * cols * (int64_t)ts, t, cols);
        *trans = 0;
        *ld = max64(cols, 1);
    } else {
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++)
                mx_store_double(dst, t, i * cols + j,
                                mx_load_double(m->p, m->dt, (r0 + i) * m->rs + (c0 + j) * m->cs));
        *trans = 0;
        *ld = max64(cols, 1);
    }
}

/* One product: C (type t, row-major M x N) = alpha * A @ B, plus C's previous contents
 * when accumulate is set. */
typedef struct {
    mat_ref a, b;
    int64_t m, n, k;
    float alpha;
    mx_dtype t;
    void *c;
    int accumulate;
} gemm_job;

static void blas_call(const gemm_job *g, int ta, int tb, int64_t kk, const void *ap, int64_t lda, const void *bp,
                      int64_t ldb, int first) {
    double beta = first && !g->accumulate ? 0.0 : 1.0;
    enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    if (g->t == MX_FLOAT64)
        cblas_dgemm(CblasRowMajor, TA, TB, (int)g->m, (int)g->n, (int)kk, g->alpha, ap, (int)lda, bp, (int)ldb, beta,
                    g->c, (int)max64(g->n, 1));
    else
        cblas_sgemm(CblasRowMajor, TA, TB, (int)g->m, (int)g->n, (int)kk, g->alpha, ap, (int)lda, bp, (int)ldb,
                    (float)beta, g->c, (int)max64(g->n, 1));
}

#define GEMV_MAX_ROWS GEMV_B16_MAX_ROWS
#define GEMV_COLS_MAX_ROWS 4
#define GEMV_COLS 256

/* Few rows of A times a 16-bit B read in place (B contiguous along K or along N). */
static int gemv_16bit(const gemm_job *g) {
    int64_t M = g->m, N = g->n, K = g->k;
    float *x = malloc(sizeof(float) * (size_t)max64(M * K, 1));
    if (!x) {
        mx_set_error("[matmul] out of memory for %lld x %lld float32 rows", (long long)M, (long long)K);
        return -1;
    }
    for (int64_t i = 0; i < M; i++) {
        if (g->a.cs == 1) {
            mx_convert(elem_ptr(&g->a, i, 0), g->a.dt, x + i * K, MX_FLOAT32, K);
        } else {
            for (int64_t j = 0; j < K; j++) x[i * K + j] = (float)mx_load_double(g->a.p, g->a.dt, i * g->a.rs + j * g->a.cs);
        }
    }
    float *c = g->c;
    int bf = g->b.dt == MX_BFLOAT16;
    if (g->b.rs == 1) {
        /* column n of B (row n of the Linear weight) is contiguous: the vector kernels */
        cpu_path path = gemm_b16_path(cpu_path_active());
        uint16_t *xb = NULL;
        if (g->a.dt == MX_BFLOAT16 && gemv_b16_takes_bf16_x(path, bf)) {
            xb = malloc(sizeof(uint16_t) * (size_t)max64(M * K, 1));
            if (xb) /* exact: the rows were bfloat16 */
                for (int64_t e = 0; e < M * K; e++) xb[e] = mx_f32_to_bf16(x[e]);
        }
        gemv_b16(path, M, N, K, x, xb, (const uint16_t *)g->b.p, g->b.cs, bf, g->alpha, c, N, g->accumulate);
        free(xb);
    } else {
        int64_t nblocks = (N + GEMV_COLS - 1) / GEMV_COLS;
#pragma omp parallel for if (cpu_parallel_worth(N * K))
        for (int64_t blk = 0; blk < nblocks; blk++) {
            int64_t n0 = blk * GEMV_COLS, nn = min64(GEMV_COLS, N - n0);
            float acc[GEMV_COLS_MAX_ROWS][GEMV_COLS];
            memset(acc, 0, sizeof acc);
            for (int64_t kk = 0; kk < K; kk++) {
                const uint16_t *w = (const uint16_t *)elem_ptr(&g->b, kk, n0);
                for (int64_t i = 0; i < M; i++) {
                    float xv = x[i * K + kk];
                    if (bf)
                        for (int64_t j = 0; j < nn; j++) acc[i][j] += xv * mx_bf16_to_f32(w[j]);
                    else
                        for (int64_t j = 0; j < nn; j++) acc[i][j] += xv * mx_f16_to_f32(w[j]);
                }
            }
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < nn; j++)
                    c[i * N + n0 + j] = g->alpha * acc[i][j] + (g->accumulate ? c[i * N + n0 + j] : 0.0f);
        }
    }
    free(x);
    return 0;
}

/* bf16 @ bf16 with many rows on AMX tiles (arch/gemm_amx.h): A read in place when its rows
 * are contiguous (else as float32 rows, exact), B read as the weight W = B^T row by row. */
static int gemm_amx_bf16(const gemm_job *g) {
    int64_t M = g->m, K = g->k;
    amx_bf16_weight w = {(const uint16_t *)g->b.p, g->b.cs, g->b.rs};
    if (g->a.cs == 1)
        return gemm_amx(M, g->n, K, g->a.p, 1, M == 1 ? K : g->a.rs, amx_row_bf16, &w, g->alpha, g->c, g->n,
                        g->accumulate);
    float *x = malloc(sizeof(float) * (size_t)(M * K));
    if (!x) {
        mx_set_error("[matmul] out of memory for %lld x %lld float32 rows", (long long)M, (long long)K);
        return -1;
    }
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < K; j++) x[i * K + j] = mx_bf16_to_f32(*(const uint16_t *)elem_ptr(&g->a, i, j));
    int rc = gemm_amx(M, g->n, K, x, 0, K, amx_row_bf16, &w, g->alpha, g->c, g->n, g->accumulate);
    free(x);
    return rc;
}

static int gemm(const gemm_job *g, const char *op) {
    if (g->m == 0 || g->n == 0) return 0;
    size_t ts = mx_dtype_size(g->t);
    if (g->k == 0) {
        if (!g->accumulate) memset(g->c, 0, (size_t)(g->m * g->n) * ts);
        return 0;
    }
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX) {
        mx_set_error("[%s] matrix of %lld x %lld x %lld is too large for BLAS", op, (long long)g->m, (long long)g->n,
                     (long long)g->k);
        return -1;
    }
    int b16 = g->b.dt == MX_BFLOAT16 || g->b.dt == MX_FLOAT16;
    if (g->t == MX_FLOAT32 && b16 &&
        ((g->m <= GEMV_MAX_ROWS && g->b.rs == 1) || (g->m <= GEMV_COLS_MAX_ROWS && g->b.cs == 1)))
        return gemv_16bit(g);
    if (g->t == MX_FLOAT32 && g->a.dt == MX_BFLOAT16 && g->b.dt == MX_BFLOAT16 && cpu_amx_active())
        return gemm_amx_bf16(g);
    if (g->t == MX_FLOAT32 && g->a.dt == MX_BFLOAT16 && g->b.dt == MX_BFLOAT16 &&
        gemm_bf16_preferred(cpu_path_active())) {
        b16_mat A = {(const uint16_t *)g->a.p, g->a.rs, g->a.cs}, B = {(const uint16_t *)g->b.p, g->b.rs, g->b.cs};
        return gemm_bf16(cpu_path_active(), g->m, g->n, g->k, A, B, g->alpha, g->c, g->n, g->accumulate);
    }

    int ta = 0, tb = 0;
    int64_t lda = 0, ldb = 0;
    int a_direct = g->a.dt == g->t && blas_layout(&g->a, g->m, g->k, &ta, &lda);
    int b_direct = g->b.dt == g->t && blas_layout(&g->b, g->k, g->n, &tb, &ldb);
    if (a_direct && b_direct) {
        blas_call(g, ta, tb, g->k, g->a.p, lda, g->b.p, ldb, 1);
        return 0;
    }
    int64_t widest = max64(a_direct ? 1 : g->m, b_direct ? 1 : g->n);
    int64_t kb = min64(g->k, max64(64, PANEL_ELEMS / widest));
    void *pa = a_direct ? NULL : malloc((size_t)(g->m * kb) * ts);
    void *pb = b_direct ? NULL : malloc((size_t)(kb * g->n) * ts);
    if ((!a_direct && !pa) || (!b_direct && !pb)) {
        free(pa);
        free(pb);
        mx_set_error("[%s] out of memory for conversion panels (%lld x %lld, %lld x %lld)", op, (long long)g->m,
                     (long long)kb, (long long)kb, (long long)g->n);
        return -1;
    }
    for (int64_t k0 = 0; k0 < g->k; k0 += kb) {
        int64_t kk = min64(kb, g->k - k0);
        const void *ap, *bp;
        if (a_direct) ap = elem_ptr(&g->a, 0, k0);
        else convert_panel(&g->a, 0, k0, g->m, kk, g->t, pa, &ta, &lda), ap = pa;
        if (b_direct) bp = elem_ptr(&g->b, k0, 0);
        else convert_panel(&g->b, k0, 0, kk, g->n, g->t, pb, &tb, &ldb), bp = pb;
        blas_call(g, ta, tb, kk, ap, lda, bp, ldb, k0 == 0);
    }
    free(pa);
    free(pb);
    return 0;
}


/* Offset of operand x for output batch element `flat` when x's batch broadcasts to out's. */
static int64_t broadcast_batch_offset(const mx_array *x, const mx_array *out, int64_t flat) {
    int nb = out->ndim - 2, xb = x->ndim - 2, lead = nb - xb;
    int64_t off = 0;
    for (int d = nb - 1; d >= 0; d--) {
        int64_t i = flat % out->shape[d];
        flat /= out->shape[d];
        if (d >= lead && x->shape[d - lead] != 1) off += i * x->strides[d - lead];
    }
    return off;
}

static mat_ref operand(const mx_array *x, int64_t off) {
    int nd = x->ndim;
    mat_ref m = {mx_array_ptr(x) + off * (int64_t)mx_dtype_size(x->dtype), x->dtype, x->strides[nd - 2],
                 x->strides[nd - 1]};
    /* The stride of a size-1 axis never addresses anything: pick one BLAS can express. */
    if (x->shape[nd - 2] == 1 && m.cs != 1) m.rs = 1;
    if (x->shape[nd - 1] == 1 && m.rs != 1) m.cs = 1;
    return m;
}

/* Runs the products of one node. idx: NULL (matmul/addmm: broadcast batch) or the gathered
 * batch indices of a and b for each output matrix. */
static int run_products(const mx_kernel_ctx *ctx, const char *op, const int64_t *idx_a, const int64_t *idx_b) {
    const mx_matmul_params *p = ctx->params;
    const mx_array *a = ctx->inputs[0], *b = ctx->inputs[1];
    const mx_array *cin = ctx->prim == MX_PRIM_ADDMM ? ctx->inputs[2] : NULL;
    mx_array *out = ctx->outputs[0];
    if (mx_out_alloc(out)) return -1;
    int64_t M = out->shape[out->ndim - 2], N = out->shape[out->ndim - 1], K = a->shape[a->ndim - 1];
    int64_t nprod = out->size / max64(M * N, 1);
    if (out->size == 0) return 0;
    mx_dtype t = out->dtype == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32;
    size_t ts = mx_dtype_size(t);
    int direct_out = out->dtype == t;

    /* Fold a batch of row-major A against one shared B into one product. */
    int64_t fold_rs = 0;
    int fold = 0;
    if (!idx_a && nprod > 1) {
        int b_shared = 1;
        for (int64_t i = 1; b_shared && i < nprod; i++) b_shared = broadcast_batch_offset(b, out, i) == 0;
        mat_ref a0 = operand(a, 0);
        if (b_shared && a0.cs == 1) {
            fold_rs = M == 1 ? broadcast_batch_offset(a, out, 1) : a0.rs;
            fold = fold_rs >= K;
            for (int64_t i = 0; fold && i < nprod; i++) fold = broadcast_batch_offset(a, out, i) == i * M * fold_rs;
        }
    }
    int64_t rows_per_call = fold ? nprod * M : M, calls = fold ? 1 : nprod;
    void *scratch = direct_out ? NULL : malloc((size_t)(rows_per_call * N) * ts);
    if (!direct_out && !scratch) {
        mx_set_error("[%s] out of memory for a %lld x %lld result", op, (long long)rows_per_call, (long long)N);
        return -1;
    }
    int64_t na = cpu_batch_count(a), nb = cpu_batch_count(b);
    int rc = 0;
    for (int64_t i = 0; i < calls && rc == 0; i++) {
        int64_t aoff, boff;
        if (idx_a) {
            if (idx_a[i] < 0 || idx_a[i] >= na || idx_b[i] < 0 || idx_b[i] >= nb) {
                mx_set_error("[%s] index out of range at output matrix %lld: lhs %lld of %lld, rhs %lld of %lld", op,
                             (long long)i, (long long)idx_a[i], (long long)na, (long long)idx_b[i], (long long)nb);
                rc = -1;
                break;
            }
            aoff = cpu_batch_offset(a, idx_a[i]);
            boff = cpu_batch_offset(b, idx_b[i]);
        } else {
            aoff = broadcast_batch_offset(a, out, i);
            boff = broadcast_batch_offset(b, out, i);
        }
        gemm_job g = {operand(a, aoff), operand(b, boff), rows_per_call, N, K, p->alpha, t, NULL, 0};
        if (fold) g.a.rs = fold_rs;
        int64_t start = i * M * N, count = rows_per_call * N;
        g.c = direct_out ? mx_array_ptr(out) + start * (int64_t)ts : scratch;
        if (cin && p->beta != 0.0f) {
            cpu_load_broadcast(cin, out->ndim, out->shape, start, count, t, g.c);
            if (p->beta != 1.0f) {
                if (t == MX_FLOAT64)
                    for (int64_t j = 0; j < count; j++) ((double *)g.c)[j] *= p->beta;
                else
                    for (int64_t j = 0; j < count; j++) ((float *)g.c)[j] *= p->beta;
            }
            g.accumulate = 1;
        }
        rc = gemm(&g, op);
        if (rc == 0 && !direct_out) mx_convert(scratch, t, mx_array_ptr(out) + start * (int64_t)mx_dtype_size(out->dtype), out->dtype, count);
    }
    free(scratch);
    return rc;
}

int cpu_matmul(const mx_kernel_ctx *c) { return run_products(c, c->prim == MX_PRIM_ADDMM ? "addmm" : "matmul", NULL, NULL); }

int cpu_gather_mm(const mx_kernel_ctx *c) {
    mx_array *out = c->outputs[0];
    int nbd = out->ndim - 2;
    int64_t nprod = 1;
    for (int d = 0; d < nbd; d++) nprod *= out->shape[d];
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)max64(2 * nprod, 1));
    if (!idx) {
        mx_set_error("[gather_mm] out of memory for %lld indices", (long long)nprod);
        return -1;
    }
    cpu_load_broadcast(c->inputs[2], nbd, out->shape, 0, nprod, MX_INT64, idx);
    cpu_load_broadcast(c->inputs[3], nbd, out->shape, 0, nprod, MX_INT64, idx + nprod);
    int rc = run_products(c, "gather_mm", idx, idx + nprod);
    free(idx);
    return rc;
}
