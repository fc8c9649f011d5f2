/* CPU kernels of the reductions: REDUCE (sum, prod, max, min, all, any, mean, var, std),
 * LOGSUMEXP, ARG_REDUCE and SOFTMAX.
 *
 * A reduction sees its input as kept dimensions K (one output each, row-major) and reduced
 * dimensions R (size-1 dimensions dropped, contiguous neighbours merged). Two layouts:
 *  - row mode: the reduced elements of one output are gathered a chunk at a time (directly
 *    from memory when they are dense and already of the compute type) and folded into one
 *    accumulator: the last-axis case (norms, softmax, logsumexp).
 *  - column mode, when the innermost kept dimension moves fastest in memory (reducing leading
 *    axes): a block of neighbouring outputs is updated together, one reduced position at a
 *    time, so memory is read in order.
 * Work is split over OpenMP threads by blocks of outputs; when there are too few outputs to
 * keep the threads busy, the reduced range is split as well and the partial results
 * combined. Floats are folded in float32 (float64 for float64) in blocks of FOLD_BLOCK
 * terms spread over vector lanes, block totals added in double, so long sums do not drift.
 * Integers accumulate in int64 (wrapping, as MLX's fixed-width accumulators), and
 * mean/var/std/logsumexp of integers compute in double.
 * var/std and logsumexp take two passes: the mean (or the max) first, then the sum of
 * squared deviations (or of exp(x - max)). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "backend/cpu/chunk.h"
#include "backend/cpu/exp_f32.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/lines.h"
#include "core/strided.h"
#include "ops/reduce.h"

/* The folds: what one pass of a reduction combines. */
enum { B_SUM, B_PROD, B_MAX, B_MIN, B_ALL, B_ANY, B_SQDEV, B_EXPSUM };

/* ---- folds over floats (T = float or double, accumulators double) ---- */

#define MAXOF(v, m) ((v) > (m) || (v) != (v) ? (v) : (m)) /* NaN wins and then stays */
#define MINOF(v, m) ((v) < (m) || (v) != (v) ? (v) : (m))

#define FOLD_BLOCK 128 /* terms per float block: each vector lane adds 16-32 before the block goes to double */

#define DEFINE_FOLD_ROW(NAME, T, EXP)                                                               \
    static void NAME(int bop, const T *x, int64_t n, double centre, double *st) {                   \
        T l[8];                                                                                     \
        int64_t i = 0;                                                                              \
        T c = (T)centre;                                                                            \
        switch (bop) {                                                                              \
        case B_SUM: case B_SQDEV: case B_EXPSUM: {                                                  \
            /* float blocks of FOLD_BLOCK terms (vector lanes), block totals in double */          \
            double total = 0;                                                                       \
            for (int64_t s0 = 0; s0 < n; s0 += FOLD_BLOCK) {                                        \
                int64_t e = n - s0 < FOLD_BLOCK ? n : s0 + FOLD_BLOCK;                              \
                T b = 0;                                                                            \
                if (bop == B_SUM) {                                                                 \
                    _Pragma("omp simd reduction(+:b)")                                              \
                    for (int64_t j = s0; j < e; j++) b += x[j];                                     \
                } else if (bop == B_SQDEV) {                                                        \
                    _Pragma("omp simd reduction(+:b)")                                              \
                    for (int64_t j = s0; j < e; j++) b += (x[j] - c) * (x[j] - c);                  \
                } else {                                                                            \
                    _Pragma("omp simd reduction(+:b)")                                              \
                    for (int64_t j = s0; j < e; j++) b += EXP(x[j] - c);                            \
                }                                                                                   \
                total += (double)b;                                                                 \
            }                                                                                       \
            *st += total;                                                                           \
            break;                                                                                  \
        }                                                                                           \
        case B_PROD: {                                                                              \
            double p = *st;                                                                         \
            for (; i < n; i++) p *= x[i];                                                           \
            *st = p;                                                                                \
            break;                                                                                  \
        }                                                                                           \
        case B_MAX: case B_MIN: {                                                                   \
            int mx = bop == B_MAX;                                                                  \
            for (int k = 0; k < 8; k++) l[k] = mx ? -INFINITY : INFINITY;                           \
            if (mx)                                                                                 \
                for (; i + 8 <= n; i += 8)                                                          \
                    for (int k = 0; k < 8; k++) l[k] = MAXOF(x[i + k], l[k]);                       \
            else                                                                                    \
                for (; i + 8 <= n; i += 8)                                                          \
                    for (int k = 0; k < 8; k++) l[k] = MINOF(x[i + k], l[k]);                       \
            double m = *st;                                                                         \
            for (int k = 0; k < 8; k++) m = mx ? MAXOF((double)l[k], m) : MINOF((double)l[k], m);   \
            for (; i < n; i++) m = mx ? MAXOF((double)x[i], m) : MINOF((double)x[i], m);            \
            *st = m;                                                                                \
            break;                                                                                  \
        }                                                                                           \
        case B_ALL:                                                                                 \
            if (*st != 0)                                                                           \
                for (; i < n; i++)                                                                  \
                    if (x[i] == 0) {                                                                \
                        *st = 0;                                                                    \
                        break;                                                                      \
                    }                                                                               \
            break;                                                                                  \
        case B_ANY:                                                                                 \
            if (*st == 0)                                                                           \
                for (; i < n; i++)                                                                  \
                    if (x[i] != 0) {                                                                \
                        *st = 1;                                                                    \
                        break;                                                                      \
                    }                                                                               \
            break;                                                                                  \
        }                                                                                           \
    }

#define COL_LOOP(BODY) _Pragma("omp simd") for (j = 0; j < n; j++) { BODY; }
#define DEFINE_FOLD_COL(NAME, T, EXP)                                                               \
    static void NAME(int bop, const T *x, int64_t n, const double *centre, double *st) {            \
        int64_t j;                                                                                  \
        switch (bop) {                                                                              \
        case B_SUM: COL_LOOP(st[j] += x[j]) break;                                                  \
        case B_PROD: COL_LOOP(st[j] *= x[j]) break;                                                 \
        case B_MAX: COL_LOOP(st[j] = MAXOF((double)x[j], st[j])) break;                             \
        case B_MIN: COL_LOOP(st[j] = MINOF((double)x[j], st[j])) break;                             \
        case B_ALL: COL_LOOP(st[j] = st[j] != 0 && x[j] != 0) break;                                \
        case B_ANY: COL_LOOP(st[j] = st[j] != 0 || x[j] != 0) break;                                \
        case B_SQDEV: COL_LOOP(T d = x[j] - (T)centre[j]; st[j] += d * d) break;                    \
        case B_EXPSUM: COL_LOOP(st[j] += EXP(x[j] - (T)centre[j])) break;                           \
        }                                                                                           \
    }

DEFINE_FOLD_ROW(fold_row_f32, float, mx_exp_f32)
DEFINE_FOLD_ROW(fold_row_f64, double, exp)
DEFINE_FOLD_COL(fold_col_f32, float, mx_exp_f32)
DEFINE_FOLD_COL(fold_col_f64, double, exp)

/* ---- folds over integers (int64, wrapping; u: compare as unsigned 64-bit) ---- */

static int64_t imax(int u, int64_t a, int64_t b) { return (u ? (uint64_t)a > (uint64_t)b : a > b) ? a : b; }
static int64_t imin(int u, int64_t a, int64_t b) { return (u ? (uint64_t)a < (uint64_t)b : a < b) ? a : b; }

static int64_t icombine(int bop, int u, int64_t a, int64_t b) {
    switch (bop) {
    case B_SUM: return (int64_t)((uint64_t)a + (uint64_t)b);
    case B_PROD: return (int64_t)((uint64_t)a * (uint64_t)b);
    case B_MAX: return imax(u, a, b);
    case B_MIN: return imin(u, a, b);
    case B_ALL: return a != 0 && b != 0;
    default: return a != 0 || b != 0;
    }
}

static void fold_row_i64(int bop, int u, const int64_t *x, int64_t n, int64_t *st) {
    int64_t s = *st;
    const uint64_t *ux = (const uint64_t *)x;
    switch (bop) {
    case B_SUM: {
        uint64_t t = (uint64_t)s;
        for (int64_t i = 0; i < n; i++) t += ux[i];
        s = (int64_t)t;
        break;
    }
    default:
        for (int64_t i = 0; i < n; i++) s = icombine(bop, u, s, x[i]);
        break;
    }
    *st = s;
}

static void fold_col_i64(int bop, int u, const int64_t *x, int64_t n, int64_t *st) {
    for (int64_t j = 0; j < n; j++) st[j] = icombine(bop, u, st[j], x[j]);
}

/* ---- identities and combination of partial results ---- */

static double fidentity(int bop) {
    switch (bop) {
    case B_PROD: case B_ALL: return 1;
    case B_MAX: return -INFINITY;
    case B_MIN: return INFINITY;
    default: return 0;
    }
}

static int64_t iidentity(int bop, int u) {
    switch (bop) {
    case B_PROD: case B_ALL: return 1;
    case B_MAX: return u ? 0 : INT64_MIN;
    case B_MIN: return u ? -1 : INT64_MAX;
    default: return 0;
    }
}

static double fcombine(int bop, double a, double b) {
    switch (bop) {
    case B_PROD: return a * b;
    case B_MAX: return MAXOF(b, a);
    case B_MIN: return MINOF(b, a);
    case B_ALL: return a != 0 && b != 0;
    case B_ANY: return a != 0 || b != 0;
    default: return a + b;
    }
}

/* ---- the plan ---- */

typedef struct {
    const mx_array *in;
    mx_dtype dom;            /* MX_FLOAT32 / MX_FLOAT64 / MX_INT64: what values are folded as */
    int u;                   /* uint64 input: unsigned comparisons */
    int nk, nr;              /* kept / reduced dimensions (size > 1, merged) */
    int64_t kshape[MX_MAX_NDIM], kstride[MX_MAX_NDIM];
    int64_t rshape[MX_MAX_NDIM], rstride[MX_MAX_NDIM];
    int64_t n_out, n_red;
    int column;
    int64_t col_block;       /* column mode: outputs per task (smaller when there are few) */
    int direct;              /* row mode: reduced elements dense and already of type dom */
    mx_array rview;          /* the input restricted to the reduced dimensions */
} reduce_plan;

static void add_dim(int64_t *shape, int64_t *stride, int *n, int64_t size, int64_t st) {
    if (size == 1) return;
    if (*n > 0 && stride[*n - 1] == st * size) { /* merges with the previous dimension */
        shape[*n - 1] *= size;
        stride[*n - 1] = st;
        return;
    }
    shape[*n] = size;
    stride[*n] = st;
    (*n)++;
}

static int64_t iabs64(int64_t v) { return v < 0 ? -v : v; }

/* Column tasks cover up to CPU_CHUNK neighbouring outputs; halve that (down to 256) until
 * there are about two tasks per thread, so reducing the leading axis of a [N, D] matrix
 * still uses every thread. */
static void col_blocking(reduce_plan *p) {
    p->col_block = CPU_CHUNK;
    if (!p->column) return;
    int64_t D = p->kshape[p->nk - 1], groups = p->n_out / D, threads = omp_get_max_threads();
    while (p->col_block > 256 && groups * ((D + p->col_block - 1) / p->col_block) < 2 * threads) p->col_block /= 2;
}

static void plan_init(reduce_plan *p, const mx_array *in, uint32_t axes, mx_dtype dom) {
    p->in = in;
    p->dom = dom;
    p->u = in->dtype == MX_UINT64;
    p->nk = p->nr = 0;
    p->n_out = p->n_red = 1;
    for (int d = 0; d < in->ndim; d++) {
        if (axes & (1u << d)) {
            add_dim(p->rshape, p->rstride, &p->nr, in->shape[d], in->strides[d]);
            p->n_red *= in->shape[d];
        } else {
            add_dim(p->kshape, p->kstride, &p->nk, in->shape[d], in->strides[d]);
            p->n_out *= in->shape[d];
        }
    }
    p->column = 0;
    if (p->nk > 0 && p->nr > 0) {
        int64_t fastest_r = INT64_MAX;
        for (int d = 0; d < p->nr; d++)
            if (iabs64(p->rstride[d]) < fastest_r) fastest_r = iabs64(p->rstride[d]);
        p->column = iabs64(p->kstride[p->nk - 1]) < fastest_r;
    }
    p->rview = *in;
    p->rview.ndim = p->nr;
    p->rview.size = p->n_red;
    for (int d = 0; d < p->nr; d++) {
        p->rview.shape[d] = p->rshape[d];
        p->rview.strides[d] = p->rstride[d];
    }
    mx_update_flags(&p->rview);
    p->direct = (p->rview.flags & MX_FLAG_ROW_CONTIG) && in->dtype == dom;
    col_blocking(p);
}

/* Length of the task starting at output o (ending at most at `end`): column tasks stay
 * inside one run of the innermost kept dimension. */
static int64_t task_len(const reduce_plan *p, int64_t o, int64_t end, int64_t row_block) {
    int64_t len;
    if (p->column) {
        int64_t D = p->kshape[p->nk - 1];
        len = D - o % D;
        if (len > p->col_block) len = p->col_block;
    } else {
        len = row_block;
    }
    return len < end - o ? len : end - o;
}

/* One pass over reduced positions [r0, r1) for outputs [o0, o0+len): st[0..len) receive
 * the folded states; centre[0..len) is the per-output centre of SQDEV / EXPSUM. */
static void run_task(const reduce_plan *p, int bop, int64_t o0, int64_t len, int64_t r0, int64_t r1,
                     const double *centre, void *st) {
    _Alignas(64) unsigned char scratch[CPU_CHUNK * 8];
    double *fs = st;
    int64_t *is = st;
    int isint = p->dom == MX_INT64;
    size_t es = mx_dtype_size(p->in->dtype);
    for (int64_t j = 0; j < len; j++) {
        if (isint) is[j] = iidentity(bop, p->u);
        else fs[j] = fidentity(bop);
    }
    if (r1 <= r0) return;
    if (!p->column) {
        mx_array v = p->rview;
        mx_nditer kit; /* walks the outputs' input offsets without a division per output */
        mx_nditer_init(&kit, p->nk, p->kshape, p->kstride);
        mx_nditer_seek(&kit, o0);
        for (int64_t j = 0; j < len; j++, mx_nditer_next(&kit)) {
            v.offset = p->in->offset + kit.off;
            double c = centre ? centre[j] : 0;
            for (int64_t s = r0; s < r1; s += CPU_CHUNK) {
                int64_t m = r1 - s < CPU_CHUNK ? r1 - s : CPU_CHUNK;
                const void *x = scratch;
                if (p->direct) x = (const char *)v.buf->data + (v.offset + s) * (int64_t)es;
                else mx_copy_strided(&v, p->dom, scratch, s, m);
                if (p->dom == MX_FLOAT32) fold_row_f32(bop, x, m, c, &fs[j]);
                else if (p->dom == MX_FLOAT64) fold_row_f64(bop, x, m, c, &fs[j]);
                else fold_row_i64(bop, p->u, x, m, &is[j]);
            }
        }
        return;
    }
    int64_t D = p->kshape[p->nk - 1], sk = p->kstride[p->nk - 1];
    int64_t base = p->in->offset + cpu_flat_offset(p->nk - 1, p->kshape, p->kstride, o0 / D) + (o0 % D) * sk;
    mx_nditer it;
    mx_nditer_init(&it, p->nr, p->rshape, p->rstride);
    mx_nditer_seek(&it, r0);
    int direct = sk == 1 && p->in->dtype == p->dom;
    for (int64_t r = r0; r < r1; r++) {
        const void *x = scratch;
        if (direct) x = (const char *)p->in->buf->data + (base + it.off) * (int64_t)es;
        else cpu_load_line(p->in, base + it.off, sk, len, p->dom, scratch);
        if (p->dom == MX_FLOAT32) fold_col_f32(bop, x, len, centre, fs);
        else if (p->dom == MX_FLOAT64) fold_col_f64(bop, x, len, centre, fs);
        else fold_col_i64(bop, p->u, x, len, is);
        mx_nditer_next(&it);
    }
}

/* One pass for outputs [o0, o0+len) into st[0..len), over `parts` slices of the reduced
 * range (partials in st[part*len ...], combined into st[0..len)). */
static void run_pass(const reduce_plan *p, int bop, int64_t o0, int64_t len, int parts, const int64_t *tstart, const int64_t *tlen, int64_t ntasks, const double *centre, void *st) {
    size_t w = 8; /* double or int64 */
    int par = cpu_parallel_worth(len * (p->n_red ? p->n_red : 1)) && ntasks * parts > 1;
#pragma omp parallel for schedule(dynamic) if (par)
    for (int64_t t = 0; t < ntasks * parts; t++) {
        int64_t k = t / parts, part = t % parts;
        int64_t r0 = p->n_red * part / parts, r1 = p->n_red * (part + 1) / parts;
        int64_t rel = tstart[k] - o0;
        run_task(p, bop, tstart[k], tlen[k], r0, r1, centre ? centre + rel : NULL,
                 (char *)st + (size_t)(part * len + rel) * w);
    }
    for (int part = 1; part < parts; part++)
        for (int64_t j = 0; j < len; j++) {
            if (p->dom == MX_INT64) {
                int64_t *is = st;
                is[j] = icombine(bop, p->u, is[j], is[part * len + j]);
            } else {
                double *fs = st;
                fs[j] = fcombine(bop, fs[j], fs[part * len + j]);
            }
        }
}

/* Writes n double results as dtype t: float32 and the 16-bit floats go through float, the
 * conversions with fast paths; others through mx_convert. */
static void store_doubles(const double *r, int64_t n, char *dst, mx_dtype t) {
    if (t == MX_FLOAT32) {
        float *d = (float *)dst;
        for (int64_t i = 0; i < n; i++) d[i] = (float)r[i];
        return;
    }
    if (t != MX_FLOAT16 && t != MX_BFLOAT16) {
        mx_convert(r, MX_FLOAT64, dst, t, n);
        return;
    }
    float tmp[256];
    for (int64_t s = 0; s < n; s += 256) {
        int64_t m = n - s < 256 ? n - s : 256;
        for (int64_t i = 0; i < m; i++) tmp[i] = (float)r[s + i];
        mx_convert(tmp, MX_FLOAT32, dst + s * 2, t, m);
    }
}

static int first_pass_fold(int op) {
    switch (op) {
    case MX_RED_SUM: case MX_RED_MEAN: case MX_RED_VAR: case MX_RED_STD: return B_SUM;
    case MX_RED_PROD: return B_PROD;
    case MX_RED_MAX: case MX_RED_LOGSUMEXP: return B_MAX;
    case MX_RED_MIN: return B_MIN;
    case MX_RED_ALL: return B_ALL;
    default: return B_ANY;
    }
}

#define OUT_BLOCK 65536

static int reduce_run(const mx_kernel_ctx *c) {
    const mx_reduce_params *prm = c->params;
    mx_array *in = c->inputs[0], *out = c->outputs[0];
    if (mx_out_alloc(out)) return -1;
    if (out->size == 0) return 0;
    int op = prm->op;
    int two_pass = op == MX_RED_VAR || op == MX_RED_STD || op == MX_RED_LOGSUMEXP;
    int float_math = op == MX_RED_MEAN || two_pass;
    mx_dtype dom = in->dtype == MX_FLOAT64                 ? MX_FLOAT64
                   : mx_dtype_is_float(in->dtype)          ? MX_FLOAT32
                   : float_math                            ? MX_FLOAT64
                                                           : MX_INT64;
    reduce_plan p;
    plan_init(&p, in, prm->axes, dom);
    double N = (double)p.n_red;

    /* Split the reduced range when the outputs alone cannot keep the threads busy. */
    int threads = omp_get_max_threads(), parts = 1;
    int64_t row_block = CPU_CHUNK * 4 / (p.n_red > 0 ? p.n_red : 1);
    if (row_block < 1) row_block = 1;
    if (row_block > 256) row_block = 256;
    int64_t approx_tasks = p.column ? (p.n_out + p.col_block - 1) / p.col_block : (p.n_out + row_block - 1) / row_block;
    if (threads > 1 && approx_tasks < threads && cpu_parallel_worth(p.n_out * p.n_red) && p.n_red >= 2 * CPU_CHUNK) {
        parts = threads;
        if (parts > p.n_red / CPU_CHUNK) parts = (int)(p.n_red / CPU_CHUNK);
    }

    int64_t blk = p.n_out < OUT_BLOCK ? p.n_out : OUT_BLOCK;
    void *st = malloc((size_t)blk * (size_t)parts * 8);
    double *centre = two_pass ? malloc((size_t)blk * sizeof(double)) : NULL;
    int64_t *tstart = malloc((size_t)blk * sizeof(int64_t)), *tlen = malloc((size_t)blk * sizeof(int64_t));
    if (!st || (two_pass && !centre) || !tstart || !tlen) {
        free(st), free(centre), free(tstart), free(tlen);
        mx_set_error("[%s] out of memory for %lld partial results", mx_reduce_name(op), (long long)blk * parts);
        return -1;
    }
    char *o = mx_array_ptr(out);
    size_t os = mx_dtype_size(out->dtype);
    for (int64_t o0 = 0; o0 < p.n_out; o0 += blk) {
        int64_t len = p.n_out - o0 < blk ? p.n_out - o0 : blk, ntasks = 0;
        for (int64_t t = o0; t < o0 + len; ntasks++) {
            tstart[ntasks] = t;
            tlen[ntasks] = task_len(&p, t, o0 + len, row_block);
            t += tlen[ntasks];
        }
        run_pass(&p, first_pass_fold(op), o0, len, parts, tstart, tlen, ntasks, NULL, st);
        if (dom == MX_INT64) { /* sum, prod, max, min, all, any: the state is the result */
            mx_convert(st, MX_INT64, o + o0 * (int64_t)os, out->dtype, len);
            continue;
        }
        double *fs = st;
        if (two_pass) {
            for (int64_t j = 0; j < len; j++) centre[j] = op == MX_RED_LOGSUMEXP ? fs[j] : fs[j] / N;
            run_pass(&p, op == MX_RED_LOGSUMEXP ? B_EXPSUM : B_SQDEV, o0, len, parts, tstart, tlen, ntasks,
                     centre, st);
        }
        for (int64_t j = 0; j < len; j++) {
            switch (op) {
            case MX_RED_MEAN: fs[j] *= 1.0 / N; break;
            case MX_RED_VAR: case MX_RED_STD: {
                double v = fs[j] / fmax(N - prm->ddof, 0.0);
                fs[j] = op == MX_RED_STD ? sqrt(v) : v;
                break;
            }
            case MX_RED_LOGSUMEXP: {
                double m = centre[j];
                fs[j] = isinf(m) || isnan(m) ? m : m + log(fs[j]);
                break;
            }
            default: break;
            }
        }
        store_doubles(fs, len, o + o0 * (int64_t)os, out->dtype);
    }
    free(st), free(centre), free(tstart), free(tlen);
    return 0;
}

int cpu_reduce(const mx_kernel_ctx *c) { return reduce_run(c); }

int cpu_logsumexp(const mx_kernel_ctx *c) { return reduce_run(c); }

/* ---- argmax / argmin ---- */

/* Whether v replaces the current best b: strictly better, or the first NaN (NaN wins). */
#define ARG_BETTER(mx, v, b) ((b) == (b) && ((v) != (v) || ((mx) ? (v) > (b) : (v) < (b))))

/* A chunk of one row: its extreme (vectorized), then the first position holding it; a NaN
 * (the first one) wins over everything and stops the search. */
#define DEFINE_ARG_ROW(NAME, T, MAXR, MINR)                                                   \
    static void NAME(int mx, const T *x, int64_t n, int64_t base, T *best, uint32_t *idx) {   \
        if (*best != *best) return;                                                           \
        T m = x[0];                                                                           \
        int nan = 0;                                                                          \
        if (mx) {                                                                             \
            _Pragma("omp simd reduction(max:m) reduction(|:nan)")                             \
            for (int64_t i = 0; i < n; i++) {                                                 \
                m = MAXR(m, x[i]);                                                            \
                nan |= x[i] != x[i];                                                          \
            }                                                                                 \
        } else {                                                                              \
            _Pragma("omp simd reduction(min:m) reduction(|:nan)")                             \
            for (int64_t i = 0; i < n; i++) {                                                 \
                m = MINR(m, x[i]);                                                            \
                nan |= x[i] != x[i];                                                          \
            }                                                                                 \
        }                                                                                     \
        if (nan) {                                                                            \
            for (int64_t i = 0; i < n; i++)                                                   \
                if (x[i] != x[i]) {                                                           \
                    *best = x[i];                                                             \
                    *idx = (uint32_t)(base + i);                                              \
                    return;                                                                   \
                }                                                                             \
        }                                                                                     \
        if (mx ? m > *best : m < *best)                                                       \
            for (int64_t i = 0; i < n; i++)                                                   \
                if (x[i] == m) {                                                              \
                    *best = m;                                                                \
                    *idx = (uint32_t)(base + i);                                              \
                    return;                                                                   \
                }                                                                             \
    }
#define PLAIN_MAX(a, b) ((b) > (a) ? (b) : (a))
#define PLAIN_MIN(a, b) ((b) < (a) ? (b) : (a))
#define DEFINE_ARG_COL(NAME, T)                                                              \
    static void NAME(int mx, const T *x, int64_t n, uint32_t k, T *best, uint32_t *idx) {   \
        for (int64_t j = 0; j < n; j++)                                                       \
            if (ARG_BETTER(mx, x[j], best[j])) {                                              \
                best[j] = x[j];                                                               \
                idx[j] = k;                                                                   \
            }                                                                                 \
    }
DEFINE_ARG_ROW(arg_row_f32, float, PLAIN_MAX, PLAIN_MIN)
DEFINE_ARG_ROW(arg_row_f64, double, PLAIN_MAX, PLAIN_MIN)
DEFINE_ARG_ROW(arg_row_i64, int64_t, PLAIN_MAX, PLAIN_MIN)
DEFINE_ARG_COL(arg_col_f32, float)
DEFINE_ARG_COL(arg_col_f64, double)
DEFINE_ARG_COL(arg_col_i64, int64_t)

/* uint64 values compare as signed once their top bit is flipped. */
static void flip_sign_bits(int64_t *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = (int64_t)((uint64_t)x[i] ^ 0x8000000000000000ull);
}

static void arg_block(const reduce_plan *p, int mx, int64_t ax_stride, int64_t o0, int64_t len, uint32_t *res) {
    _Alignas(64) unsigned char xb[CPU_CHUNK * 8], bb[CPU_CHUNK * 8];
    mx_dtype dom = p->dom;
    int64_t N = p->n_red;
    if (!p->column) {
        for (int64_t j = 0; j < len; j++) {
            int64_t off = p->in->offset + cpu_flat_offset(p->nk, p->kshape, p->kstride, o0 + j);
            uint32_t idx = 0;
            for (int64_t s = 0; s < N; s += CPU_CHUNK) {
                int64_t m = N - s < CPU_CHUNK ? N - s : CPU_CHUNK;
                cpu_load_line(p->in, off + s * ax_stride, ax_stride, m, dom, xb);
                if (dom == MX_FLOAT32) {
                    if (s == 0) memcpy(bb, xb, 4);
                    arg_row_f32(mx, (float *)xb, m, s, (float *)bb, &idx);
                } else if (dom == MX_FLOAT64) {
                    if (s == 0) memcpy(bb, xb, 8);
                    arg_row_f64(mx, (double *)xb, m, s, (double *)bb, &idx);
                } else {
                    if (p->u) flip_sign_bits((int64_t *)xb, m);
                    if (s == 0) memcpy(bb, xb, 8);
                    arg_row_i64(mx, (int64_t *)xb, m, s, (int64_t *)bb, &idx);
                }
            }
            res[j] = idx;
        }
        return;
    }
    int64_t D = p->kshape[p->nk - 1], sk = p->kstride[p->nk - 1];
    int64_t base = p->in->offset + cpu_flat_offset(p->nk - 1, p->kshape, p->kstride, o0 / D) + (o0 % D) * sk;
    for (int64_t j = 0; j < len; j++) res[j] = 0;
    for (int64_t k = 0; k < N; k++) {
        unsigned char *dst = k == 0 ? bb : xb;
        cpu_load_line(p->in, base + k * ax_stride, sk, len, dom, dst);
        if (dom == MX_INT64 && p->u) flip_sign_bits((int64_t *)dst, len);
        if (k == 0) continue;
        if (dom == MX_FLOAT32) arg_col_f32(mx, (float *)xb, len, (uint32_t)k, (float *)bb, res);
        else if (dom == MX_FLOAT64) arg_col_f64(mx, (double *)xb, len, (uint32_t)k, (double *)bb, res);
        else arg_col_i64(mx, (int64_t *)xb, len, (uint32_t)k, (int64_t *)bb, res);
    }
}

int cpu_arg_reduce(const mx_kernel_ctx *c) {
    const mx_arg_reduce_params *prm = c->params;
    mx_array *in = c->inputs[0], *out = c->outputs[0];
    if (mx_out_alloc(out)) return -1;
    if (out->size == 0) return 0;
    mx_dtype dom = in->dtype == MX_FLOAT64 ? MX_FLOAT64 : mx_dtype_is_float(in->dtype) ? MX_FLOAT32 : MX_INT64;
    reduce_plan p;
    plan_init(&p, in, 1u << prm->axis, dom);
    int64_t ax_stride = in->strides[prm->axis];
    /* plan_init drops a size-1 axis; the arg reduction then is 0 everywhere */
    if (p.n_red <= 1) p.column = 0;
    else p.column = p.nk > 0 && iabs64(p.kstride[p.nk - 1]) < iabs64(ax_stride);
    col_blocking(&p);
    uint32_t *res = (uint32_t *)mx_array_ptr(out);
    int64_t row_block = CPU_CHUNK * 4 / p.n_red;
    if (row_block < 1) row_block = 1;
    if (row_block > 256) row_block = 256;
    int64_t ntasks = 0;
    for (int64_t t = 0; t < p.n_out; ntasks++) t += task_len(&p, t, p.n_out, row_block);
    int64_t *tstart = malloc((size_t)ntasks * sizeof(int64_t));
    if (!tstart) {
        mx_set_error("[arg_reduce] out of memory for %lld tasks", (long long)ntasks);
        return -1;
    }
    ntasks = 0;
    for (int64_t t = 0; t < p.n_out; ntasks++) {
        tstart[ntasks] = t;
        t += task_len(&p, t, p.n_out, row_block);
    }
#pragma omp parallel for schedule(dynamic) if (cpu_parallel_worth(in->size) && ntasks > 1)
    for (int64_t k = 0; k < ntasks; k++) {
        int64_t len = task_len(&p, tstart[k], p.n_out, row_block);
        arg_block(&p, prm->op == MX_ARG_MAX, ax_stride, tstart[k], len, res + tstart[k]);
    }
    free(tstart);
    return 0;
}

/* ---- softmax over the last axis ---- */

/* Softmax of one row in place: max, exp(x - max) summed in blocks, scaled by 1/sum. */
#define DEFINE_SOFTMAX_ROW(NAME, T, EXP)                                          \
    static void NAME(T *x, int64_t n) {                                           \
        T l[8], m = -INFINITY;                                                    \
        int64_t i = 0;                                                            \
        for (int k = 0; k < 8; k++) l[k] = -INFINITY;                             \
        for (; i + 8 <= n; i += 8)                                                \
            for (int k = 0; k < 8; k++) l[k] = x[i + k] > l[k] ? x[i + k] : l[k]; \
        for (int k = 0; k < 8; k++) m = l[k] > m ? l[k] : m;                      \
        for (; i < n; i++) m = x[i] > m ? x[i] : m;                               \
        double total = 0;                                                         \
        for (int64_t s = 0; s < n; s += FOLD_BLOCK) {                             \
            int64_t e = n - s < FOLD_BLOCK ? n : s + FOLD_BLOCK;                  \
            T part = 0;                                                           \
            _Pragma("omp simd reduction(+:part)")                                 \
            for (int64_t j = s; j < e; j++) {                                     \
                x[j] = EXP(x[j] - m);                                             \
                part += x[j];                                                     \
            }                                                                     \
            total += part;                                                        \
        }                                                                         \
        T inv = (T)(1.0 / total);                                                 \
        _Pragma("omp simd")                                                       \
        for (i = 0; i < n; i++) x[i] *= inv;                                      \
    }
DEFINE_SOFTMAX_ROW(softmax_row_f32, float, mx_exp_f32)
DEFINE_SOFTMAX_ROW(softmax_row_f64, double, exp)

int cpu_softmax(const mx_kernel_ctx *c) {
    mx_array *in = c->inputs[0], *out = c->outputs[0];
    if (mx_out_alloc(out)) return -1;
    if (out->size == 0) return 0;
    mx_dtype dom = in->dtype == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32;
    int nd = in->ndim;
    int64_t n = nd ? in->shape[nd - 1] : 1, stride = nd ? in->strides[nd - 1] : 1;
    int64_t rows = in->size / n;
    size_t ds = mx_dtype_size(dom), os = mx_dtype_size(out->dtype);
    char *o = mx_array_ptr(out);
    int failed = 0;
#pragma omp parallel if (cpu_parallel_worth(in->size) && rows > 1)
    {
        void *buf = malloc((size_t)n * ds);
        if (!buf) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            if (!buf) continue;
            int64_t off = in->offset + cpu_flat_offset(nd - 1, in->shape, in->strides, r);
            cpu_load_line(in, off, stride, n, dom, buf);
            if (dom == MX_FLOAT32) softmax_row_f32(buf, n);
            else softmax_row_f64(buf, n);
            mx_convert(buf, dom, o + r * n * (int64_t)os, out->dtype, n);
        }
        free(buf);
    }
    if (failed) {
        mx_set_error("[softmax] out of memory for a row of %lld elements", (long long)n);
        return -1;
    }
    return 0;
}
