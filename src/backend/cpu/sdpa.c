/* CPU kernel of SDPA: attention in float32 whatever the input dtype.
 *
 * Work is split into tasks (batch b, kv head h, block of query rows). A task reads its K
 * and V once (as float32 [Lk, D] / [Lk, Dv]; used in place when already float32 with
 * unit inner stride), stacks the block's query rows of all Hq/Hkv query heads that share
 * the kv head (grouped-query attention without repeating K/V), and computes
 *   S = scale * Q K^T (one GEMM), mask / causal / sinks, row softmax, O = P V (one GEMM).
 * Only the task's [rows, Lk] score block is ever materialised.
 *
 * With at most 4 query rows (decoding) there is no GEMM: each (batch, kv head) task
 * reads K and V once, 16-bit keys in place through the decode GEMV kernels of
 * arch/gemm_b16.h (the scores are a matrix-vector product over the cache rows), values a
 * block at a time; threads over tasks with OpenMP.
 *
 * Threads (GEMM path): tasks run in parallel under OpenMP with OpenBLAS set to one thread
 * for the duration (then restored): the per-task GEMMs are too small for OpenBLAS's own
 * threads (16 cores: 80 ms that way vs 53 ms on one thread for a 512-token prefill), and
 * OpenBLAS (pthreads) called from OpenMP threads while it runs its own oversubscribes the
 * cores. The setting is process-wide: a matmul running at the same moment on another
 * stream uses one thread meanwhile.
 *
 * Masked scores become -FLT_MAX (not -inf) so that a row with every key masked gets the
 * uniform average of V, exactly what the fallback's where(mask, s, finfo.min) gives; with
 * a causal mask, keys past the block's last visible key are skipped entirely unless some
 * row of the block sees no key at all. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/arch/gemm_b16.h"
#include "backend/cpu/exp_f32.h"
#include "backend/cpu/kernels.h"
#include "core/clones.h"
#include "core/dtype.h"
#include "core/strided.h"
#include "fast/sdpa.h"

typedef struct {
    mx_array *q, *k, *v, *mask, *out;
    const float *sinks;
    float scale;
    int causal;
    int64_t B, Hq, Hkv, Lq, Lk, D, Dv, rep, qb;   /* qb: query rows per block */
} sdpa_job;

/* A float32 [L, n] view of head (b, h) of a 4-D array: in place when possible, else
 * converted into *scratch. Returns the pointer and its row stride. */
static const float *head_rows(const mx_array *a, int64_t b, int64_t h, float **scratch, int64_t *ld) {
    int64_t L = a->shape[2], n = a->shape[3];
    if (a->dtype == MX_FLOAT32 && (a->strides[3] == 1 || n == 1) && (a->strides[2] >= n || L == 1)) {
        *ld = L == 1 ? n : a->strides[2];
        return (const float *)mx_array_ptr(a) + b * a->strides[0] + h * a->strides[1];
    }
    *scratch = malloc((size_t)(L * n > 0 ? L * n : 1) * sizeof(float));
    if (!*scratch) return NULL;
    mx_copy_strided(a, MX_FLOAT32, *scratch, (b * a->shape[1] + h) * L * n, L * n);
    *ld = n;
    return *scratch;
}

MX_CLONES static void softmax_row(float *s, int64_t n, const float *sink) {
    float m = sink ? *sink : -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; j++) m = s[j] > m ? s[j] : m;
    double sum = sink ? exp((double)(*sink - m)) : 0.0;
    /* mx_exp_f32: a branch-free exp that vectorizes (libm's expf was ~10% of a 512-token
     * prefill, with its errno path on every masked -FLT_MAX entry) */
    float part = 0;
#pragma omp simd reduction(+ : part)
    for (int64_t j = 0; j < n; j++) {
        s[j] = mx_exp_f32(s[j] - m);
        part += s[j];
    }
    sum += part;
    float inv = (float)(1.0 / sum);
#pragma omp simd
    for (int64_t j = 0; j < n; j++) s[j] *= inv;
}

/* Causal / mask / sinks and the softmax of query row i of head (b, hq), in place. */
static void finish_row(const sdpa_job *J, float *s, int64_t ncols, int64_t b, int64_t hq, int64_t i, float *mrow) {
    int64_t first_hidden = ncols;
    if (J->causal) first_hidden = i + J->Lk - J->Lq + 1 > 0 ? i + J->Lk - J->Lq + 1 : 0;
    if (!J->mask && first_hidden > 0 && first_hidden < ncols) {
        /* causal only: the keys past the diagonal get weight 0, the softmax runs on the rest */
        softmax_row(s, first_hidden, J->sinks ? &J->sinks[hq] : NULL);
        for (int64_t j = first_hidden; j < ncols; j++) s[j] = 0.0f;
        return;
    }
    for (int64_t j = first_hidden; j < ncols; j++) s[j] = -FLT_MAX;
    if (J->mask) {
        mx_copy_strided(J->mask, MX_FLOAT32, mrow, ((b * J->Hq + hq) * J->Lq + i) * J->Lk, ncols);
        if (J->mask->dtype == MX_BOOL) {
            for (int64_t j = 0; j < ncols; j++)
                if (mrow[j] == 0) s[j] = -FLT_MAX;
        } else {
            for (int64_t j = 0; j < ncols; j++) s[j] += mrow[j];
        }
    }
    softmax_row(s, ncols, J->sinks ? &J->sinks[hq] : NULL);
}

/* Keys a block of query rows [i0, i1) needs: all, or (causal) up to the last one visible,
 * unless some row sees none (then all, so that row averages every value, as the fallback). */
static int64_t needed_keys(const sdpa_job *J, int64_t i0, int64_t i1) {
    int64_t off = J->Lk - J->Lq;
    if (!J->causal || i0 + off < 0) return J->Lk;
    return i1 + off < J->Lk ? i1 + off : J->Lk;
}

/* Rows [j, j + cnt) of head (b, h) of a 4-D array as float32 into dst ([cnt, n]). */
static void load_rows(const mx_array *a, int64_t b, int64_t h, int64_t j, int64_t cnt, float *dst) {
    int64_t n = a->shape[3];
    const char *base = mx_array_ptr(a);
    size_t es = mx_dtype_size(a->dtype);
    if (a->strides[3] == 1 || n == 1) {
        int64_t off = b * a->strides[0] + h * a->strides[1] + j * a->strides[2];
        if (a->strides[2] == n || cnt == 1) { /* the rows are one run */
            mx_convert(base + off * (int64_t)es, a->dtype, dst, MX_FLOAT32, cnt * n);
            return;
        }
        for (int64_t r = 0; r < cnt; r++)
            mx_convert(base + (off + r * a->strides[2]) * (int64_t)es, a->dtype, dst + r * n, MX_FLOAT32, n);
    } else {
        mx_copy_strided(a, MX_FLOAT32, dst, ((b * a->shape[1] + h) * a->shape[2] + j) * n, cnt * n);
    }
}

#define KV_BLOCK 64   /* value rows (float keys) converted at a time by the direct path */

/* S[r, j] = scale * Q[r] . K[j] for the task's rows against float32 key rows [j0, j0 + cnt)
 * (the fallback when the cache is not 16-bit). */
MX_CLONES static void dot_rows(const float *Q, int64_t rows, int64_t D, const float *kr, int64_t cnt, float scale,
                               float *S, int64_t lds) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t jj = 0; jj < cnt; jj++) {
            float acc = 0;
#pragma omp simd reduction(+ : acc)
            for (int64_t e = 0; e < D; e++) acc += Q[r * D + e] * kr[jj * D + e];
            S[r * lds + jj] = acc * scale;
        }
}

/* O[r] += P[r, j] * V[j] over value rows [0, cnt) (float32, Dv each), skipping zero weights
 * (masked keys). */
MX_CLONES static void add_weighted_rows(float *O, int64_t rows, int64_t Dv, const float *P, int64_t ldp,
                                        const float *vr, int64_t cnt) {
    for (int64_t r = 0; r < rows; r++) {
        float *o = O + r * Dv;
        for (int64_t jj = 0; jj < cnt; jj++) {
            float pj = P[r * ldp + jj];
            if (pj == 0) continue;
#pragma omp simd
            for (int64_t e = 0; e < Dv; e++) o[e] += pj * vr[jj * Dv + e];
        }
    }
}

#if defined(__GNUC__) || defined(__clang__)
/* O[r] += P[r, j] * V[j] with bfloat16 value rows read in place (row stride ldv), for Dv a
 * multiple of 32: rows in groups of RR <= 4 and columns in strips of 32, the RR x 2
 * accumulators of a strip in registers across all keys (the float loop above stores and
 * reloads its output row at every key: store forwarding bound, half of a decode attention
 * at 600 keys). Each output adds the same products in the same key order as
 * add_weighted_rows; keys of weight 0 are not skipped (a test per key cost more than the
 * products), which adds +-0 and so gives the same bits for finite values (an infinite
 * or NaN value of a masked key would now reach the output, as through the GEMM path).
 * GCC vector types take the width of the clone. */
typedef float sd_v16f __attribute__((vector_size(64)));
typedef uint16_t sd_v16h __attribute__((vector_size(32)));
typedef uint32_t sd_v16u __attribute__((vector_size(64)));

/* dst = the 16 bfloat16 values at p as floats (a macro: vector values do not cross function
 * boundaries, whose ABI differs between the clones) */
#define SD_BF16X16(dst, p)                                      \
    {                                                           \
        sd_v16h h_;                                             \
        memcpy(&h_, (p), sizeof h_);                            \
        sd_v16u u_ = __builtin_convertvector(h_, sd_v16u) << 16; \
        memcpy(&(dst), &u_, sizeof u_);                         \
    }

#define SD_FOR_R(X) \
    X(0)            \
    if (RR > 1) { X(1) } \
    if (RR > 2) { X(2) } \
    if (RR > 3) { X(3) }

static inline __attribute__((always_inline)) void weighted_strip_bf16(float *O, int64_t Dv, const float *P,
                                                                      int64_t ldp, const uint16_t *v, int64_t ldv,
                                                                      int64_t cnt, int64_t e0, const int RR) {
    sd_v16f a0, b0, a1, b1, a2, b2, a3, b3;
#define SD_LOAD(r) memcpy(&a##r, O + (r) * Dv + e0, 64), memcpy(&b##r, O + (r) * Dv + e0 + 16, 64);
    SD_FOR_R(SD_LOAD)
    for (int64_t j = 0; j < cnt; j++) {
        sd_v16f lo, hi;
        SD_BF16X16(lo, v + j * ldv + e0)
        SD_BF16X16(hi, v + j * ldv + e0 + 16)
#define SD_ACC(r)                          \
    {                                      \
        float p = P[(r) * ldp + j];        \
        a##r += p * lo;                    \
        b##r += p * hi;                    \
    }
        SD_FOR_R(SD_ACC)
    }
#define SD_STORE(r) memcpy(O + (r) * Dv + e0, &a##r, 64), memcpy(O + (r) * Dv + e0 + 16, &b##r, 64);
    SD_FOR_R(SD_STORE)
#undef SD_LOAD
#undef SD_ACC
#undef SD_STORE
}

MX_CLONES static void add_weighted_rows_bf16(float *O, int64_t rows, int64_t Dv, const float *P, int64_t ldp,
                                             const uint16_t *v, int64_t ldv, int64_t cnt) {
    for (int64_t r0 = 0; r0 < rows; r0 += 4) {
        int64_t rr = rows - r0 < 4 ? rows - r0 : 4;
        for (int64_t e0 = 0; e0 < Dv; e0 += 32) {
            float *o = O + r0 * Dv;
            const float *pr = P + r0 * ldp;
            if (rr == 4) weighted_strip_bf16(o, Dv, pr, ldp, v, ldv, cnt, e0, 4);
            else if (rr == 3) weighted_strip_bf16(o, Dv, pr, ldp, v, ldv, cnt, e0, 3);
            else if (rr == 2) weighted_strip_bf16(o, Dv, pr, ldp, v, ldv, cnt, e0, 2);
            else weighted_strip_bf16(o, Dv, pr, ldp, v, ldv, cnt, e0, 1);
        }
    }
}
#undef SD_FOR_R
#undef SD_BF16X16
#define SD_BF16_VALUES 1
#else
#define SD_BF16_VALUES 0
#endif

/* The keys (or values) of head (b, h) as 16-bit rows read in place (unit inner stride), or NULL. */
static const uint16_t *rows16(const mx_array *a, int64_t b, int64_t h) {
    if ((a->dtype != MX_BFLOAT16 && a->dtype != MX_FLOAT16) || (a->strides[3] != 1 && a->shape[3] != 1)) return NULL;
    return (const uint16_t *)mx_array_ptr(a) + b * a->strides[0] + h * a->strides[1];
}

/* The few-query-rows task (decoding): all Lq rows of the rep query heads of kv head (b, h)
 * against K and V, each read once, no GEMM. 16-bit keys go straight into the decode GEMV
 * kernels (scores = Q K^T is a matrix-vector product over the cache rows, read in their own
 * dtype); values are converted a block at a time into L1 and accumulated. */
static int sdpa_task_direct(const sdpa_job *J, int64_t b, int64_t h) {
    int64_t nrow = J->Lq, rows = J->rep * nrow, D = J->D, Dv = J->Dv;
    int64_t ncols = needed_keys(J, 0, J->Lq), w = D > Dv ? D : Dv;
    const uint16_t *k16 = rows16(J->k, b, h);
    int kbf = J->k->dtype == MX_BFLOAT16;
    cpu_path path = cpu_path_active();
    /* bfloat16 queries against bfloat16 keys: the exact bf16 rows for the vdpbf16ps kernel */
    int want_qb = k16 && J->q->dtype == MX_BFLOAT16 && gemv_b16_takes_bf16_x(path, kbf);
    float *Q = malloc((size_t)(rows * D + 1) * sizeof *Q);
    uint16_t *Qb = want_qb ? malloc((size_t)(rows * D + 1) * sizeof *Qb) : NULL;
    float *S = malloc((size_t)(rows * ncols + 1) * sizeof *S);
    float *O = calloc((size_t)(rows * Dv + 1), sizeof *O);
    float *row = malloc((size_t)(KV_BLOCK * w + 1) * sizeof *row);
    float *mbuf = J->mask ? malloc((size_t)(ncols + 1) * sizeof *mbuf) : NULL;
    int rc = -1;
    if (!Q || (want_qb && !Qb) || !S || !O || !row || (J->mask && !mbuf)) goto done;
    for (int64_t g = 0; g < J->rep; g++) {
        int64_t qoff = (b * J->Hq + h * J->rep + g) * J->Lq * D;
        mx_copy_strided(J->q, MX_FLOAT32, Q + g * nrow * D, qoff, nrow * D);
        if (Qb) mx_copy_strided(J->q, MX_BFLOAT16, Qb + g * nrow * D, qoff, nrow * D);
    }
    if (k16) {
        for (int64_t r0 = 0; r0 < rows; r0 += GEMV_B16_MAX_ROWS) {
            int64_t mr = rows - r0 < GEMV_B16_MAX_ROWS ? rows - r0 : GEMV_B16_MAX_ROWS;
            gemv_b16_rows(path, mr, 0, ncols, D, Q + r0 * D, Qb ? Qb + r0 * D : NULL, k16, J->k->strides[2], kbf,
                          J->scale, S + r0 * ncols, ncols, 0);
        }
    } else {
        for (int64_t j0 = 0; j0 < ncols; j0 += KV_BLOCK) {
            int64_t cnt = ncols - j0 < KV_BLOCK ? ncols - j0 : KV_BLOCK;
            load_rows(J->k, b, h, j0, cnt, row);
            dot_rows(Q, rows, D, row, cnt, J->scale, S + j0, ncols);
        }
    }
    for (int64_t gr = 0; gr < rows; gr++)
        finish_row(J, S + gr * ncols, ncols, b, h * J->rep + gr / nrow, gr % nrow, mbuf);
    const uint16_t *v16 = SD_BF16_VALUES && J->v->dtype == MX_BFLOAT16 && Dv % 32 == 0 ? rows16(J->v, b, h) : NULL;
    if (v16) {
        add_weighted_rows_bf16(O, rows, Dv, S, ncols, v16, J->v->strides[2], ncols);
    } else {
        for (int64_t j0 = 0; j0 < ncols; j0 += KV_BLOCK) {
            int64_t cnt = ncols - j0 < KV_BLOCK ? ncols - j0 : KV_BLOCK;
            load_rows(J->v, b, h, j0, cnt, row);
            add_weighted_rows(O, rows, Dv, S + j0, ncols, row, cnt);
        }
    }
    size_t os = mx_dtype_size(J->out->dtype);
    for (int64_t g = 0; g < J->rep; g++) {
        char *dst = mx_array_ptr(J->out) + (b * J->Hq + h * J->rep + g) * J->Lq * Dv * (int64_t)os;
        mx_convert(O + g * nrow * Dv, MX_FLOAT32, dst, J->out->dtype, nrow * Dv);
    }
    rc = 0;
done:
    free(Q);
    free(Qb);
    free(S);
    free(O);
    free(row);
    free(mbuf);
    return rc;
}

/* One task of query rows [i0, i1) through GEMMs; returns 0 or -1 (out of memory). */
static int sdpa_task(const sdpa_job *J, int64_t b, int64_t h, int64_t i0, int64_t i1) {
    int64_t nrow = i1 - i0, rows = J->rep * nrow, ncols = needed_keys(J, i0, i1);
    float *kbuf = NULL, *vbuf = NULL;
    int64_t ldk, ldv;
    const float *K = head_rows(J->k, b, h, &kbuf, &ldk), *V = head_rows(J->v, b, h, &vbuf, &ldv);
    float *Q = malloc((size_t)(rows * J->D + 1) * sizeof *Q);
    float *S = malloc((size_t)(rows * ncols + 1) * sizeof *S);
    float *O = malloc((size_t)(rows * J->Dv + 1) * sizeof *O);
    float *mbuf = J->mask ? malloc((size_t)(ncols + 1) * sizeof *mbuf) : NULL;   /* one mask row */
    int rc = -1;
    if (!K || !V || !Q || !S || !O || (J->mask && !mbuf)) goto done;
    for (int64_t g = 0; g < J->rep; g++) {
        int64_t hq = h * J->rep + g;
        mx_copy_strided(J->q, MX_FLOAT32, Q + g * nrow * J->D, ((b * J->Hq + hq) * J->Lq + i0) * J->D, nrow * J->D);
    }
    if (ncols > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)ncols, (int)J->D, J->scale, Q,
                    (int)J->D, K, (int)ldk, 0.0f, S, (int)ncols);
    for (int64_t gr = 0; gr < rows; gr++)
        finish_row(J, S + gr * ncols, ncols, b, h * J->rep + gr / nrow, i0 + gr % nrow, mbuf);
    if (ncols > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)J->Dv, (int)ncols, 1.0f, S,
                    (int)ncols, V, (int)ldv, 0.0f, O, (int)J->Dv);
    else
        for (int64_t e = 0; e < rows * J->Dv; e++) O[e] = 0;
    size_t os = mx_dtype_size(J->out->dtype);
    for (int64_t g = 0; g < J->rep; g++) {
        int64_t hq = h * J->rep + g;
        char *dst = mx_array_ptr(J->out) + ((b * J->Hq + hq) * J->Lq + i0) * J->Dv * (int64_t)os;
        mx_convert(O + g * nrow * J->Dv, MX_FLOAT32, dst, J->out->dtype, nrow * J->Dv);
    }
    rc = 0;
done:
    free(kbuf);
    free(vbuf);
    free(Q);
    free(S);
    free(O);
    free(mbuf);
    return rc;
}

int cpu_sdpa(const mx_kernel_ctx *c) {
    const mx_sdpa_params *p = c->params;
    sdpa_job J = {0};
    J.q = c->inputs[0];
    J.k = c->inputs[1];
    J.v = c->inputs[2];
    J.out = c->outputs[0];
    int n = 3;
    if (p->mask_mode == MX_SDPA_ARRAY) J.mask = c->inputs[n++];
    mx_array *sinks = p->has_sinks ? c->inputs[n++] : NULL;
    J.scale = p->scale;
    J.causal = p->mask_mode == MX_SDPA_CAUSAL;
    J.B = J.q->shape[0];
    J.Hq = J.q->shape[1];
    J.Lq = J.q->shape[2];
    J.D = J.q->shape[3];
    J.Hkv = J.k->shape[1];
    J.Lk = J.k->shape[2];
    J.Dv = J.v->shape[3];
    J.rep = J.Hq / J.Hkv;
    if (mx_out_alloc(J.out)) return -1;
    if (J.out->size == 0) return 0;
    float *sk = NULL;
    if (sinks) {
        sk = malloc((size_t)J.Hq * sizeof *sk);
        if (!sk) {
            mx_set_error("[scaled_dot_product_attention] out of memory for %lld sinks", (long long)J.Hq);
            return -1;
        }
        mx_copy_strided(sinks, MX_FLOAT32, sk, 0, J.Hq);
        J.sinks = sk;
    }
    int failed = 0;
    if (J.Lq <= 4) { /* decoding: stream K/V, one OpenMP task per (batch, kv head) */
#pragma omp parallel for schedule(dynamic) if (J.B * J.Hkv > 1 && J.Lk * (J.D + J.Dv) * J.B * J.Hkv >= 65536)
        for (int64_t t = 0; t < J.B * J.Hkv; t++)
            if (sdpa_task_direct(&J, t / J.Hkv, t % J.Hkv)) {
#pragma omp atomic write
                failed = 1;
            }
        goto finish;
    }
    /* Query blocks: at most 64 rows, and a score block of at most ~1M floats per task. */
    int64_t qb = (1 << 20) / (J.rep * (J.Lk ? J.Lk : 1));
    qb = qb < 1 ? 1 : qb > 64 ? 64 : qb;
    if (qb > J.Lq) qb = J.Lq;
    int64_t nblk = (J.Lq + qb - 1) / qb, tasks = J.B * J.Hkv * nblk;
    /* Tasks in parallel, each GEMM on one BLAS thread (restored after). */
    int par = tasks > 1 && omp_get_max_threads() > 1 && J.Lq * J.Lk * J.Hq * J.B >= 65536;
    int blas_threads = par ? openblas_get_num_threads() : 0;
    if (par) openblas_set_num_threads(1);
#pragma omp parallel for schedule(dynamic) if (par)
    for (int64_t t = 0; t < tasks; t++) {
        int64_t blk = t % nblk, bh = t / nblk;
        int64_t i0 = blk * qb, i1 = i0 + qb < J.Lq ? i0 + qb : J.Lq;
        if (sdpa_task(&J, bh / J.Hkv, bh % J.Hkv, i0, i1)) {
#pragma omp atomic write
            failed = 1;
        }
    }
    if (par) openblas_set_num_threads(blas_threads);
finish:
    free(sk);
    if (failed) {
        mx_set_error("[scaled_dot_product_attention] out of memory for attention blocks of q %s, k %s",
                     MX_SHAPE_STR(J.q), MX_SHAPE_STR(J.k));
        return -1;
    }
    return 0;
}
