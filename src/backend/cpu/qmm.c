/* CPU kernels of quantized_matmul and gather_qmm.
 *
 * Each product is y[M, N] = x[M, K] @ W where W is stored packed: [N, K] (transpose, the
 * Linear layout) or [K, N]. Arithmetic is float32: per group, the dot of x with the unpacked
 * codes is scaled and the bias term uses the group's sum of x:
 *     y += scale * (x . q) + bias * sum(x)        (fp modes: y += scale * (x . value))
 * Affine 4/8-bit Linear-layout products with bfloat16 results take the integer path
 * (qk_product; src/backend/cpu/arch/qmv.h): activations quantized per group to 15-bit integers,
 * exact int32 group dot products on the CPU path cpu_features.h picks (AVX-512 VNNI, AVX2,
 * NEON or portable C; a repacking AVX-512 GEMM for more than QMV_MAX_ROWS rows). Everything
 * else takes the float paths below:
 *  - few rows (decode, M <= QMV_MAX_ROWS): the packed weights are read directly, one output
 *    block at a time (qmv_t_block / qmv_n_block: the per-row-block functions a SIMD kernel
 *    replaces); nothing is dequantized beyond one group in registers / on the stack;
 *  - many rows (prefill): a panel of weight rows is dequantized to float32 and multiplied by
 *    OpenBLAS sgemm, panel after panel (the whole matrix is never dequantized at once).
 * gather_qmm runs one product per index, merging consecutive indices that pick the same
 * expert into one taller product (sorted indices make those runs long). */
#include <cblas.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/batch.h"
#include "backend/cpu/arch/cpu_features.h"
#include "backend/cpu/arch/gemm_amx.h"
#include "backend/cpu/arch/qmv.h"
#include "backend/cpu/chunk.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/quant_pack.h"
#include "core/clones.h"
#include "core/strided.h"
#include "ops/quantized.h"

#define QMV_MAX_ROWS 8
#define QMV_BLOCK 16            /* output rows per task in the transposed decode path */
#define PANEL_ELEMS (1 << 20)   /* floats per dequantized panel (4 MB) */

/* One packed matrix, row-major. */
typedef struct {
    const uint32_t *w;          /* transpose: [N, words]; else [K, words] */
    const void *scales, *biases; /* [stored rows, groups] */
    mx_dtype sdt, bdt;
    int64_t n, k;               /* output columns, inner dimension */
    int64_t words, groups;      /* per stored row */
    int gs, bits, mode, transpose;
    int out_bf16;               /* the result is bfloat16: the integer-activation path may serve */
} qmat;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* ---- decode path: x has at most QMV_MAX_ROWS rows ---- */

/* Output rows [n0, n1) of the transposed product (W is [N, K]). xsum: [M, groups] sums of x
 * per group (affine only). */
QP_INLINE void qmv_t_rows(const qmat *q, const float *x, int64_t M, const float *xsum, int64_t n0, int64_t n1,
                          float *y, int bits, int mode) {
    float vals[128];
    int64_t gwords = (int64_t)q->gs * bits / 32;
    for (int64_t n = n0; n < n1; n++) {
        const uint32_t *wrow = q->w + n * q->words;
        float acc[QMV_MAX_ROWS] = {0};
        for (int64_t g = 0; g < q->groups; g++) {
            qp_unpack(wrow + g * gwords, bits, q->gs, vals);
            qp_decode_values(vals, q->gs, mode);
            float s = qp_scale(q->scales, q->sdt, n * q->groups + g, mode);
            float b = mode == MX_QUANT_AFFINE ? qp_load(q->biases, q->bdt, n * q->groups + g) : 0.0f;
            for (int64_t m = 0; m < M; m++) {
                const float *xg = x + m * q->k + g * q->gs;
                float d[8] = {0};
                for (int j = 0; j < q->gs; j += 8)
                    for (int t = 0; t < 8; t++) d[t] += xg[j + t] * vals[j + t];
                float dot = ((d[0] + d[1]) + (d[2] + d[3])) + ((d[4] + d[5]) + (d[6] + d[7]));
                acc[m] += s * dot + (xsum ? b * xsum[m * q->groups + g] : 0.0f);
            }
        }
        for (int64_t m = 0; m < M; m++) y[m * q->n + n] = acc[m];
    }
}

#if defined(__GNUC__) || defined(__clang__)
typedef uint32_t qm_v8u __attribute__((vector_size(32)));
typedef int32_t qm_v8i __attribute__((vector_size(32)));
typedef float qm_v8f __attribute__((vector_size(32)));
#endif

#if defined(__GNUC__) || defined(__clang__)
/* qmv_t_rows_planar (below) for one row of x (decode) with 8 words or more a group: 8 words a step in vector types (ymm in
 * the AVX2 / AVX-512 clones of qmv_t_block_planar, two SSE halves otherwise), two partial sums
 * per group (even and odd slots), and the scaled group sums kept in a vector across the row,
 * one horizontal sum per output. The 4-lane loop below, with a horizontal sum and a stored
 * accumulator per group, was latency-bound: a MoE router (a float32 product on purpose)
 * ran at 1-2 GB/s. */
QP_INLINE void qmv_t_row1_planar(const qmat *q, const float *xp, const float *xsum, int64_t n0, int64_t n1, float *y,
                                 int bits, int gs) {
    const int ppw = 32 / bits, gw = gs * bits / 32;
    const uint32_t mask = (1u << bits) - 1;
    for (int64_t n = n0; n < n1; n++) {
        const uint32_t *wrow = q->w + n * q->words;
        qm_v8f accv = {0};
        float accb = 0.0f;
        for (int64_t g = 0; g < q->groups; g++) {
            const uint32_t *wg = wrow + g * gw;
            const float *xg = xp + g * gs;
            qm_v8f d0 = {0}, d1 = {0}; /* named, not an array: an indexed array stays in memory */
#pragma GCC unroll 4
            for (int j = 0; j < ppw; j += 2) /* ppw (8 or 4) is even */
#pragma GCC unroll 4
                for (int i = 0; i < gw; i += 8) {
                    qm_v8u wv;
                    qm_v8f x0, x1;
                    memcpy(&wv, wg + i, sizeof wv);
                    memcpy(&x0, xg + j * gw + i, sizeof x0);
                    memcpy(&x1, xg + (j + 1) * gw + i, sizeof x1);
                    d0 += __builtin_convertvector((qm_v8i)((wv >> (uint32_t)(bits * j)) & mask), qm_v8f) * x0;
                    d1 += __builtin_convertvector((qm_v8i)((wv >> (uint32_t)(bits * (j + 1))) & mask), qm_v8f) * x1;
                }
            float s = qp_load(q->scales, q->sdt, n * q->groups + g), b = qp_load(q->biases, q->bdt, n * q->groups + g);
            accv += s * (d0 + d1);
            accb += b * xsum[g];
        }
        y[n] = (((accv[0] + accv[1]) + (accv[2] + accv[3])) + ((accv[4] + accv[5]) + (accv[6] + accv[7]))) + accb;
    }
}
#endif

/* Affine power-of-two widths with x in "plane" order: within each group, xp holds first the
 * x values of every word's nibble / byte 0, then those of slot 1, ... so one slot of all the
 * group's words is a contiguous run, multiplied by (word >> bits*slot) & mask with the same
 * shift on every lane: the loops vectorise, and bits / gs are compile-time constants here. */
QP_INLINE void qmv_t_rows_planar(const qmat *q, const float *xp, int64_t M, const float *xsum, int64_t n0,
                                 int64_t n1, float *y, int bits, int gs) {
    const int ppw = 32 / bits, gw = gs * bits / 32;
    const uint32_t mask = (1u << bits) - 1;
#if defined(__GNUC__) || defined(__clang__)
    if (M == 1 && gw % 8 == 0) {
        qmv_t_row1_planar(q, xp, xsum, n0, n1, y, bits, gs);
        return;
    }
#endif
    for (int64_t n = n0; n < n1; n++) {
        const uint32_t *wrow = q->w + n * q->words;
        float acc[QMV_MAX_ROWS] = {0};
        for (int64_t g = 0; g < q->groups; g++) {
            const uint32_t *wg = wrow + g * gw;
            float s = qp_load(q->scales, q->sdt, n * q->groups + g), b = qp_load(q->biases, q->bdt, n * q->groups + g);
            for (int64_t m = 0; m < M; m++) {
                const float *xg = xp + m * q->k + g * gs;
#ifdef __SSE2__
                /* gw is a multiple of 4 for 4 and 8 bits with groups of 32 or more */
                __m128 d4 = _mm_setzero_ps();
                const __m128i mk = _mm_set1_epi32((int)mask);
                for (int j = 0; j < ppw; j++) {
                    __m128i sh = _mm_cvtsi32_si128(bits * j);
                    for (int i = 0; i < gw; i += 4) {
                        __m128i wv = _mm_loadu_si128((const __m128i *)(wg + i));
                        __m128 f = _mm_cvtepi32_ps(_mm_and_si128(_mm_srl_epi32(wv, sh), mk));
                        d4 = _mm_add_ps(d4, _mm_mul_ps(f, _mm_loadu_ps(xg + j * gw + i)));
                    }
                }
                float d[4];
                _mm_storeu_ps(d, d4);
                float dot = (d[0] + d[1]) + (d[2] + d[3]);
#else
                float d[8] = {0};
                for (int j = 0; j < ppw; j++)
                    for (int i = 0; i < gw; i++) d[i % 8] += xg[j * gw + i] * (float)((wg[i] >> (bits * j)) & mask);
                float dot = ((d[0] + d[1]) + (d[2] + d[3])) + ((d[4] + d[5]) + (d[6] + d[7]));
#endif
                acc[m] += s * dot + b * xsum[m * q->groups + g];
            }
        }
        for (int64_t m = 0; m < M; m++) y[m * q->n + n] = acc[m];
    }
}

/* Whether the planar path serves q, and x rearranged into its order. */
static int planar_ok(const qmat *q) {
    return q->mode == MX_QUANT_AFFINE && q->transpose && (q->bits == 4 || q->bits == 8);
}

static void to_planes(const qmat *q, const float *x, int64_t M, float *xp) {
    int ppw = 32 / q->bits, gw = q->gs * q->bits / 32;
    for (int64_t m = 0; m < M; m++)
        for (int64_t g = 0; g < q->groups; g++) {
            const float *src = x + m * q->k + g * q->gs;
            float *dst = xp + m * q->k + g * q->gs;
            for (int i = 0; i < gw; i++)
                for (int j = 0; j < ppw; j++) dst[j * gw + i] = src[i * ppw + j];
        }
}

MX_CLONES static void qmv_t_block_planar(const qmat *q, const float *xp, int64_t M, const float *xsum, int64_t n0,
                                         int64_t n1, float *y) {
#define PLANAR_CASE(B, G) \
    if (q->bits == B && q->gs == G) return qmv_t_rows_planar(q, xp, M, xsum, n0, n1, y, B, G);
    PLANAR_CASE(4, 32) PLANAR_CASE(4, 64) PLANAR_CASE(4, 128)
    PLANAR_CASE(8, 32) PLANAR_CASE(8, 64) PLANAR_CASE(8, 128)
#undef PLANAR_CASE
}

/* Output rows [n0, n1) of the transposed product: the unit of work a SIMD kernel replaces.
 * The common affine widths get loops specialised on a constant bit width. */
static void qmv_t_block(const qmat *q, const float *x, int64_t M, const float *xsum, int64_t n0, int64_t n1,
                        float *y) {
    if (q->mode == MX_QUANT_AFFINE && q->bits == 4) qmv_t_rows(q, x, M, xsum, n0, n1, y, 4, MX_QUANT_AFFINE);
    else if (q->mode == MX_QUANT_AFFINE && q->bits == 8) qmv_t_rows(q, x, M, xsum, n0, n1, y, 8, MX_QUANT_AFFINE);
    else qmv_t_rows(q, x, M, xsum, n0, n1, y, q->bits, q->mode);
}

/* Output columns of group g of the non-transposed product (W is [K, N], packed along N). */
static void qmv_n_block(const qmat *q, const float *x, int64_t M, int64_t g, float *y) {
    float vals[128], acc[QMV_MAX_ROWS][128];
    int gs = q->gs;
    int64_t gwords = (int64_t)gs * q->bits / 32;
    memset(acc, 0, sizeof acc);
    for (int64_t k = 0; k < q->k; k++) {
        qp_unpack(q->w + k * q->words + g * gwords, q->bits, gs, vals);
        qp_decode_values(vals, gs, q->mode);
        float s = qp_scale(q->scales, q->sdt, k * q->groups + g, q->mode);
        float b = q->mode == MX_QUANT_AFFINE ? qp_load(q->biases, q->bdt, k * q->groups + g) : 0.0f;
        for (int j = 0; j < gs; j++) vals[j] = s * vals[j] + b;
        for (int64_t m = 0; m < M; m++) {
            float xv = x[m * q->k + k];
            for (int j = 0; j < gs; j++) acc[m][j] += xv * vals[j];
        }
    }
    for (int64_t m = 0; m < M; m++) memcpy(y + m * q->n + g * gs, acc[m], sizeof(float) * (size_t)gs);
}

static int qmv(const qmat *q, const float *x, int64_t M, float *y) {
    int64_t work = q->n * q->k;
    if (q->transpose) {
        float *xsum = NULL;
        if (q->mode == MX_QUANT_AFFINE) {
            xsum = malloc(sizeof(float) * (size_t)max64(M * q->groups, 1));
            if (!xsum) {
                mx_set_error("[quantized_matmul] out of memory");
                return -1;
            }
            for (int64_t m = 0; m < M; m++)
                for (int64_t g = 0; g < q->groups; g++) {
                    float s = 0;
                    for (int j = 0; j < q->gs; j++) s += x[m * q->k + g * q->gs + j];
                    xsum[m * q->groups + g] = s;
                }
        }
        int64_t blocks = (q->n + QMV_BLOCK - 1) / QMV_BLOCK;
        float *xp = planar_ok(q) ? malloc(sizeof(float) * (size_t)max64(M * q->k, 1)) : NULL;
        if (xp) to_planes(q, x, M, xp);
#pragma omp parallel for schedule(static) if (cpu_parallel_worth(work))
        for (int64_t bi = 0; bi < blocks; bi++) {
            int64_t n0 = bi * QMV_BLOCK, n1 = min64(q->n, (bi + 1) * QMV_BLOCK);
            if (xp) qmv_t_block_planar(q, xp, M, xsum, n0, n1, y);
            else qmv_t_block(q, x, M, xsum, n0, n1, y);
        }
        free(xp);
        free(xsum);
    } else {
        int64_t groups = q->n / q->gs;
#pragma omp parallel for schedule(static) if (cpu_parallel_worth(work))
        for (int64_t g = 0; g < groups; g++) qmv_n_block(q, x, M, g, y);
    }
    return 0;
}

/* ---- prefill path: dequantized panels through sgemm ---- */

static int qmm_panels(const qmat *q, const float *x, int64_t M, float *y) {
    if (M > INT_MAX || q->n > INT_MAX || q->k > INT_MAX) {
        mx_set_error("[quantized_matmul] product of %lld x %lld x %lld is too large for BLAS", (long long)M,
                     (long long)q->k, (long long)q->n);
        return -1;
    }
    int64_t stored_cols = q->transpose ? q->k : q->n;            /* values per stored row */
    int64_t stored_rows = q->transpose ? q->n : q->k;
    int64_t pr = min64(stored_rows, max64(16, PANEL_ELEMS / max64(stored_cols, 1)));
    float *panel = malloc(sizeof(float) * (size_t)max64(pr * stored_cols, 1));
    if (!panel) {
        mx_set_error("[quantized_matmul] out of memory for a %lld x %lld panel", (long long)pr, (long long)stored_cols);
        return -1;
    }
    for (int64_t r0 = 0; r0 < stored_rows; r0 += pr) {
        int64_t nr = min64(pr, stored_rows - r0);
#pragma omp parallel for if (cpu_parallel_worth(nr * stored_cols))
        for (int64_t r = 0; r < nr; r++)
            qp_dequantize_row(q->w + (r0 + r) * q->words, q->scales, q->sdt, q->biases, q->bdt, (r0 + r) * q->groups,
                              stored_cols, q->gs, q->bits, q->mode, panel + r * stored_cols);
        if (q->transpose) /* y[:, r0:r0+nr] = x @ panel.T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)nr, (int)q->k, 1.0f, x, (int)q->k, panel,
                        (int)q->k, 0.0f, y + r0, (int)q->n);
        else /* y += x[:, r0:r0+nr] @ panel */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)q->n, (int)nr, 1.0f, x + r0, (int)q->k,
                        panel, (int)q->n, r0 == 0 ? 0.0f : 1.0f, y, (int)q->n);
    }
    free(panel);
    return 0;
}

/* ---- int8-activation path (src/backend/cpu/arch/qmv.h): affine 4 / 8-bit, Linear layout ---- */

#define QK_BLOCK 16        /* weight rows per task (row kernels) */
#define QK_GEMM_CHUNK 256  /* weight rows per task (GEMM: 8 panels of 32) */

static int qk_float_of(mx_dtype t, qk_float *f) {
    if (t == MX_FLOAT32) *f = QK_F32;
    else if (t == MX_FLOAT16) *f = QK_F16;
    else if (t == MX_BFLOAT16) *f = QK_BF16;
    else return -1;
    return 0;
}

/* Whether the integer-dot kernels serve q: only when the result is bfloat16 (so x and the
 * scales are bfloat16 too: the result dtype is their promotion). Quantizing x to 15 bits per
 * group moves a result by less than bfloat16's own rounding (2^-9 relative). float32 results
 * keep the float paths (they must match float32 references to ~1e-5: the float32 logits
 * conformance); so do float16 results, whose rounding is 4x finer: with them the shared
 * qwen3_moe-tiny-4bit model, whose router sits on a near-tie, picked another expert under the
 * AVX-512 kernel's accumulation order (logits rel err 0.085, limit 0.01; the portable and AVX2
 * orders happened to keep it). */
static int qk_ok(const qmat *q) {
    qk_float f;
    return q->out_bf16 && q->mode == MX_QUANT_AFFINE && q->transpose && (q->bits == 4 || q->bits == 8) &&
           q->sdt == q->bdt && !qk_float_of(q->sdt, &f);
}

/* The row kernel of the active CPU path (cpu_features.h; CMLX_CPU_PATH forces one). The
 * AVX-512 kernel needs VNNI besides the path's BF16: without it the AVX2 kernel serves. The
 * AVX2 path takes the AVX-VNNI variant where the CPU has it (cpu_avx_vnni_active). On
 * AArch64 built with the dot-product extension the NEON kernel serves unless portable is forced. */
static qk_rows_fn qk_kernel(void) {
#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
    return cpu_path_forced() == CPU_PATH_PORTABLE ? qk_rows_portable : qk_rows_neon;
#else
    cpu_path p = cpu_path_active();
    if (p == CPU_PATH_AVX512 && cpu_has_avx512vnni()) return qk_rows_avx512;
    if (p != CPU_PATH_PORTABLE && cpu_has_avx2_fma()) return cpu_avx_vnni_active() ? qk_rows_avxvnni : qk_rows_avx2;
    return qk_rows_portable;
#endif
}

/* Whether q with M rows of x goes to the AMX tiles: many rows (prefill), the integer path's
 * products (bfloat16 results) and a CPU with AMX: dequantized bf16 weight panels
 * (arch/gemm_amx.h). */
static int qk_amx_ok(const qmat *q, int64_t M) { return M >= AMX_MIN_ROWS && qk_ok(q) && cpu_amx_active(); }

/* y = x @ W^T on AMX: x rows bf16 (x_bf16) or float32, row stride ldx. */
static int qk_amx(const qmat *q, const void *x, int x_bf16, int64_t ldx, int64_t M, float *y) {
    qk_weights wa = {(const uint8_t *)q->w, q->scales, q->biases, QK_F32, q->n, q->k, q->groups, q->gs, q->bits};
    qk_float_of(q->sdt, &wa.sdt);
    return gemm_amx(M, q->n, q->k, x, x_bf16, ldx, amx_row_affine, &wa, 1.0f, y, q->n, 0);
}

/* q (4- or 8-bit, qk_ok) as the row kernels take it. */
static qk_weights qk_weights_of(const qmat *q) {
    qk_weights w = {(const uint8_t *)q->w, q->scales, q->biases, QK_F32, q->n, q->k, q->groups, q->gs, q->bits};
    qk_float_of(q->sdt, &w.sdt);
    return w;
}

/* Decode's far-stream kernel (qmv.h qk_rows_far_avx512) serves one activation row of 4- or
 * 8-bit weights (qk_ok) whose K is a multiple of 128, on the AVX-512 path. */
static int far_ok(qk_rows_fn f, int64_t M, int64_t K) { return M == 1 && f == qk_rows_avx512 && K % 128 == 0; }

/* Inside a parallel region: this thread's contiguous share of w's rows, as QK_FAR_STREAMS
 * far-apart streams (the rows left over by the cut through f). */
static void far_share(const qk_weights *w, const qk_act *a, qk_rows_fn f, float *y) {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t N = w->n, lo = N * t / nt, hi = N * (t + 1) / nt, part = (hi - lo) / QK_FAR_STREAMS, start[QK_FAR_STREAMS];
    for (int r = 0; r < QK_FAR_STREAMS; r++) start[r] = lo + r * part;
    if (part) qk_rows_far_avx512(w, a, start, part, y);
    if (lo + QK_FAR_STREAMS * part < hi) f(w, a, 0, 1, lo + QK_FAR_STREAMS * part, hi, y, N);
}

static int qk_product(const qmat *q, const float *x, int64_t M, float *y) {
    int64_t K = q->k, G = q->groups, N = q->n;
    if (qk_amx_ok(q, M)) return qk_amx(q, x, 0, K, M, y);
    qk_rows_fn f = qk_kernel();
    /* many rows on AVX-512 VNNI: the repacking GEMM (its x order is the natural one) */
    int gemm = M > QMV_MAX_ROWS && f == qk_rows_avx512;
    /* the only allocation per call: the quantized activations (2 * M * K bytes + 2 floats a group) */
    char *buf = malloc((size_t)(2 * M * K) + sizeof(float) * (size_t)(2 * M * G) + 64);
    if (!buf) {
        mx_set_error("[quantized_matmul] out of memory for %lld x %lld int8 activations", (long long)M, (long long)K);
        return -1;
    }
    float *sx = (float *)buf, *xs = sx + M * G;
    int8_t *xq = (int8_t *)(xs + M * G), *xl = xq + M * K;
#pragma omp parallel for schedule(static) if (M > 1 && cpu_parallel_worth(M * K))
    for (int64_t m = 0; m < M; m++)
        qk_quantize_act(x + m * K, 1, K, q->gs, gemm ? 8 : q->bits, xq + m * K, xl + m * K, sx + m * G, xs + m * G);
    qk_weights w = qk_weights_of(q);
    qk_act a = {xq, xl, sx, xs, M, K, G};
    int failed = 0;
    if (gemm) {
        int64_t chunks = (N + QK_GEMM_CHUNK - 1) / QK_GEMM_CHUNK;
#pragma omp parallel for schedule(dynamic, 1) if (chunks > 1)
        for (int64_t ci = 0; ci < chunks; ci++)
            if (qk_gemm_avx512(&w, &a, ci * QK_GEMM_CHUNK, min64(N, (ci + 1) * QK_GEMM_CHUNK), y, N)) failed = 1;
    } else if (far_ok(f, M, K)) {
#pragma omp parallel if (cpu_parallel_worth(N * K))
        far_share(&w, &a, f, y);
    } else {
        int64_t blocks = (N + QK_BLOCK - 1) / QK_BLOCK;
#pragma omp parallel for schedule(static) if (cpu_parallel_worth(N * K))
        for (int64_t bi = 0; bi < blocks; bi++) {
            int64_t n0 = bi * QK_BLOCK, n1 = min64(N, n0 + QK_BLOCK);
            for (int64_t m0 = 0; m0 < M; m0 += QK_MAX_ROWS)
                f(&w, &a, m0, (int)min64(QK_MAX_ROWS, M - m0), n0, n1, y, N);
        }
    }
    free(buf);
    if (failed) {
        mx_set_error("[quantized_matmul] out of memory for a repacked %d x %lld weight panel", 32, (long long)K);
        return -1;
    }
    return 0;
}

static int qmm_product(const qmat *q, const float *x, int64_t M, float *y) {
    if (M == 0 || q->n == 0) return 0;
    if (q->k == 0) {
        memset(y, 0, sizeof(float) * (size_t)(M * q->n));
        return 0;
    }
    if (qk_ok(q)) return qk_product(q, x, M, y);
    return M <= QMV_MAX_ROWS ? qmv(q, x, M, y) : qmm_panels(q, x, M, y);
}

/* ---- kernels ---- */

/* A row-major pointer to a's elements (a copy in *tmp when a is strided). */
static const void *row_major(const mx_array *a, void **tmp, const char *op) {
    *tmp = NULL;
    if (a->flags & MX_FLAG_ROW_CONTIG) return mx_array_ptr(a);
    *tmp = malloc(mx_nbytes(a) ? mx_nbytes(a) : 1);
    if (!*tmp) {
        mx_set_error("[%s] out of memory copying %s to row-major order", op, MX_SHAPE_STR(a));
        return NULL;
    }
    mx_copy_strided(a, a->dtype, *tmp, 0, a->size);
    return *tmp;
}

/* Matrix `off` (element offset) of x, M x K with x's strides, into dst as float32. */
static void load_x(const mx_array *x, int64_t off, int64_t M, int64_t K, float *dst) {
    int64_t rs = x->strides[x->ndim - 2], cs = x->strides[x->ndim - 1];
    const char *base = mx_array_ptr(x);
    size_t es = mx_dtype_size(x->dtype);
    for (int64_t m = 0; m < M; m++) {
        if (cs == 1) mx_convert(base + (off + m * rs) * (int64_t)es, x->dtype, dst + m * K, MX_FLOAT32, K);
        else
            for (int64_t k = 0; k < K; k++) dst[m * K + k] = (float)mx_load_double(base, x->dtype, off + m * rs + k * cs);
    }
}


/* Flat batch index into x's batch for output batch element `flat` (x's batch broadcasts). */
static int64_t broadcast_batch_index(const mx_array *x, const mx_array *out, int64_t flat) {
    int nb = out->ndim - 2, xb = x->ndim - 2, lead = nb - xb;
    int64_t idx = 0, mul = 1;
    for (int d = nb - 1; d >= lead; d--) {
        int64_t i = flat % out->shape[d];
        flat /= out->shape[d];
        int64_t xd = x->shape[d - lead];
        idx += (xd == 1 ? 0 : i) * mul;
        mul *= xd;
    }
    return idx;
}

typedef struct {
    const mx_array *x, *w, *scales, *biases;
    const uint32_t *wp;
    const void *sp, *bp;
    void *tw, *ts, *tb;
    qmat q;                  /* matrix 0; others at batch offsets */
    int64_t mat_words, mat_groups;
} qmm_inputs;

static int prepare(const mx_kernel_ctx *c, qmm_inputs *in, const char *op) {
    const mx_quant_params *p = c->params;
    memset(in, 0, sizeof *in);
    in->x = c->inputs[0];
    in->w = c->inputs[1];
    in->scales = c->inputs[2];
    in->biases = p->mode == MX_QUANT_AFFINE ? c->inputs[3] : NULL;
    in->wp = row_major(in->w, &in->tw, op);
    in->sp = in->wp ? row_major(in->scales, &in->ts, op) : NULL;
    in->bp = in->sp && in->biases ? row_major(in->biases, &in->tb, op) : NULL;
    if (!in->wp || !in->sp || (in->biases && !in->bp)) return -1;
    const mx_array *w = in->w;
    int64_t rows = w->shape[w->ndim - 2], words = w->shape[w->ndim - 1];
    int64_t unpacked = words * 32 / p->bits;
    qmat q = {in->wp, in->sp, in->bp, in->scales->dtype, in->biases ? in->biases->dtype : MX_FLOAT32,
              p->transpose ? rows : unpacked, p->transpose ? unpacked : rows, words,
              in->scales->shape[in->scales->ndim - 1], p->group_size, p->bits, p->mode, p->transpose, 0};
    q.out_bf16 = c->outputs[0]->dtype == MX_BFLOAT16;
    in->q = q;
    in->mat_words = rows * words;
    in->mat_groups = rows * q.groups;
    return 0;
}

static void release(qmm_inputs *in) {
    free(in->tw);
    free(in->ts);
    free(in->tb);
}

/* The packed matrix number `i` of w's batch. */
static qmat matrix_at(const qmm_inputs *in, int64_t i) {
    qmat q = in->q;
    q.w += i * in->mat_words;
    size_t ss = mx_dtype_size(q.sdt), bs = mx_dtype_size(q.bdt);
    q.scales = (const char *)q.scales + i * in->mat_groups * (int64_t)ss;
    if (q.biases) q.biases = (const char *)q.biases + i * in->mat_groups * (int64_t)bs;
    return q;
}

/* y (float32, M x N) into out's matrix number i; in parallel when large (a decode step's
 * lm_head: 128k logits converted on one thread while the other waited). */
static void store_y(mx_array *out, int64_t first_row, int64_t rows, const float *y) {
    int64_t N = out->shape[out->ndim - 1], n = rows * N, chunk = 16384, nchunks = (n + chunk - 1) / chunk;
    size_t os = mx_dtype_size(out->dtype);
    char *dst = mx_array_ptr(out) + first_row * N * (int64_t)os;
#pragma omp parallel for schedule(static) if (cpu_parallel_worth(n))
    for (int64_t c = 0; c < nchunks; c++)
        mx_convert(y + c * chunk, MX_FLOAT32, dst + c * chunk * (int64_t)os, out->dtype, min64(chunk, n - c * chunk));
}

int cpu_quantized_matmul(const mx_kernel_ctx *c) {
    mx_array *out = c->outputs[0];
    if (mx_out_alloc(out)) return -1;
    if (out->size == 0) return 0;
    qmm_inputs in;
    if (prepare(c, &in, "quantized_matmul")) {
        release(&in);
        return -1;
    }
    int64_t M = out->shape[out->ndim - 2], N = out->shape[out->ndim - 1], K = in.q.k;
    int64_t nprod = out->size / (M * N);
    float *x = malloc(sizeof(float) * (size_t)max64(M * K, 1));
    float *y = out->dtype == MX_FLOAT32 ? NULL : malloc(sizeof(float) * (size_t)(M * N));
    int rc = 0;
    if (!x || (out->dtype != MX_FLOAT32 && !y)) {
        mx_set_error("[quantized_matmul] out of memory for %lld x %lld activations", (long long)M, (long long)K);
        rc = -1;
    }
    for (int64_t i = 0; i < nprod && rc == 0; i++) {
        const mx_array *xa = in.x;
        int64_t xoff = cpu_batch_offset(xa, broadcast_batch_index(xa, out, i));
        qmat q = matrix_at(&in, broadcast_batch_index(in.w, out, i));
        float *dst = y ? y : (float *)mx_array_ptr(out) + i * M * N;
        int nd = xa->ndim;
        if (qk_amx_ok(&q, M) && xa->dtype == MX_BFLOAT16 && xa->strides[nd - 1] == 1) {
            /* bf16 rows read in place: no float32 copy of x */
            rc = qk_amx(&q, mx_array_ptr(xa) + xoff * 2, 1, xa->strides[nd - 2], M, dst);
        } else {
            load_x(xa, xoff, M, K, x);
            rc = qmm_product(&q, x, M, dst);
        }
        if (rc == 0 && y) store_y(out, i * M, M, y);
    }
    free(x);
    free(y);
    release(&in);
    return rc;
}

/* Runs of products that share one matrix (consecutive equal rhs indices) and have at most
 * this many rows together go through the row kernels in one batched pass; longer runs are
 * one many-row product each (AMX tiles or the repacking GEMM). */
#define SHORT_RUN_ROWS QMV_MAX_ROWS

/* The products of a mixture of experts whose runs are short: decode (8 experts of one token,
 * ~1 MB each at 4 bits, one row each) and prefill with the tokens sorted by expert (runs of
 * the ~T * k / E tokens routed to each expert). One parallel region over every (run, 16-row
 * block) instead of a fork/join per run, and x quantized once per distinct row in parallel:
 * per-run regions cost a fork/join, a serial quantization and a ramp-up of the weight stream
 * per MB (under load, half of a 2-thread MoE decode profile was threads waiting in libgomp;
 * prefill of 128 tokens ran ~1,000 such products per layer). Products [run[r], run[r + 1])
 * of every r < nrun with short[r] set are computed into y (product i's rows at y + i M N).
 * Integer path only (qk_ok: bfloat16 results); the same row kernel and integers as
 * qk_product. */
static int gather_short_runs(const qmm_inputs *in, const int64_t *idx, int64_t nprod, int64_t M, const int64_t *run,
                             const char *is_short, int64_t nrun, float *y) {
    const qmat q0 = in->q;
    const int64_t K = q0.k, G = q0.groups, N = q0.n;
    size_t xb = (size_t)(nprod * M * K), gb = sizeof(float) * (size_t)(nprod * M * G);
    const int nthr = omp_get_max_threads(); /* one float32 row block per thread for load_x */
    size_t fb = sizeof(float) * (size_t)(nthr * M * K);
    char *buf = malloc(2 * xb + 2 * gb + fb + 64);
    int64_t *task_run = malloc(sizeof(int64_t) * (size_t)(nrun + 1));
    char *in_short = malloc((size_t)nprod + 1);
    if (!buf || !task_run || !in_short) {
        free(buf);
        free(task_run);
        free(in_short);
        mx_set_error("[gather_qmm] out of memory for %lld x %lld int8 activations", (long long)(nprod * M), (long long)K);
        return -1;
    }
    float *sx = (float *)buf, *xs = sx + nprod * M * G, *xf = xs + nprod * M * G;
    int8_t *xq = (int8_t *)(xf + nthr * M * K), *xl = xq + xb;
    /* products of short runs: quantize each whose x differs from the previous one's, then
     * copy for repeats (decode: the 8 experts of gate / up share one x) */
    for (int64_t r = 0; r < nrun; r++)
        for (int64_t i = run[r]; i < run[r + 1]; i++) in_short[i] = is_short[r];
#define REPEAT(i) ((i) > 0 && in_short[(i) - 1] && idx[i] == idx[(i) - 1])
    int par = cpu_parallel_worth(nprod * M * K) && nprod > 1;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t i = 0; i < nprod; i++) {
        if (!in_short[i] || REPEAT(i)) continue;
        float *xt = xf + (par ? omp_get_thread_num() : 0) * M * K;
        load_x(in->x, cpu_batch_offset(in->x, idx[i]), M, K, xt);
        qk_quantize_act(xt, M, K, q0.gs, q0.bits, xq + i * M * K, xl + i * M * K, sx + i * M * G, xs + i * M * G);
    }
#pragma omp parallel for schedule(static) if (par)
    for (int64_t i = 0; i < nprod; i++) {
        if (!in_short[i] || !REPEAT(i)) continue;
        int64_t j = i - 1;
        while (REPEAT(j)) j--; /* the first of the repeats holds the values */
        memcpy(xq + i * M * K, xq + j * M * K, (size_t)(M * K));
        memcpy(xl + i * M * K, xl + j * M * K, (size_t)(M * K));
        memcpy(sx + i * M * G, sx + j * M * G, sizeof(float) * (size_t)(M * G));
        memcpy(xs + i * M * G, xs + j * M * G, sizeof(float) * (size_t)(M * G));
    }
#undef REPEAT
    /* task t belongs to the r with task_run[r] <= t < task_run[r + 1] (tasks of short runs only) */
    const int64_t per = (N + QK_BLOCK - 1) / QK_BLOCK;
    task_run[0] = 0;
    for (int64_t r = 0; r < nrun; r++) task_run[r + 1] = task_run[r] + (is_short[r] ? per : 0);
    const int64_t total = task_run[nrun];
    qk_rows_fn f = qk_kernel();
    int64_t work = 0;
    for (int64_t r = 0; r < nrun; r++) work += is_short[r] ? (run[r + 1] - run[r]) * M * N * K : 0;
    int far = far_ok(f, M, K);
    for (int64_t r = 0; r < nrun && far; r++) far = !is_short[r] || run[r + 1] - run[r] == 1;
    if (far) { /* decode: one row per expert; each thread's share of every expert as far streams */
#pragma omp parallel if (cpu_parallel_worth(work))
        for (int64_t r = 0; r < nrun; r++) {
            if (!is_short[r]) continue;
            int64_t i0 = run[r];
            qmat q = matrix_at(in, idx[nprod + i0]);
            qk_weights w = qk_weights_of(&q);
            qk_act a = {xq + i0 * K, xl + i0 * K, sx + i0 * G, xs + i0 * G, 1, K, G};
            far_share(&w, &a, f, y + i0 * N);
        }
    } else {
#pragma omp parallel for schedule(static) if (cpu_parallel_worth(work))
        for (int64_t t = 0; t < total; t++) {
            int64_t lo = 0, hi = nrun; /* binary search: the run of task t */
            while (hi - lo > 1) {
                int64_t mid = (lo + hi) / 2;
                if (task_run[mid] <= t) lo = mid;
                else hi = mid;
            }
            int64_t i0 = run[lo], rows = (run[lo + 1] - i0) * M, n0 = (t - task_run[lo]) * QK_BLOCK;
            int64_t n1 = min64(N, n0 + QK_BLOCK);
            qmat q = matrix_at(in, idx[nprod + i0]);
            qk_weights w = qk_weights_of(&q);
            qk_act a = {xq + i0 * M * K, xl + i0 * M * K, sx + i0 * M * G, xs + i0 * M * G, rows, K, G};
            for (int64_t m0 = 0; m0 < rows; m0 += QK_MAX_ROWS)
                f(&w, &a, m0, (int)min64(QK_MAX_ROWS, rows - m0), n0, n1, y + i0 * M * N, N);
        }
    }
    free(buf);
    free(task_run);
    free(in_short);
    return 0;
}

int cpu_gather_qmm(const mx_kernel_ctx *c) {
    const mx_quant_params *p = c->params;
    mx_array *out = c->outputs[0];
    if (mx_out_alloc(out)) return -1;
    if (out->size == 0) return 0;
    qmm_inputs in;
    if (prepare(c, &in, "gather_qmm")) {
        release(&in);
        return -1;
    }
    int first_idx = p->mode == MX_QUANT_AFFINE ? 4 : 3;
    int nbd = out->ndim - 2;
    int64_t M = out->shape[out->ndim - 2], N = out->shape[out->ndim - 1], K = in.q.k;
    int64_t nprod = out->size / (M * N), nx = cpu_batch_count(in.x), nw = cpu_batch_count(in.w);
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(2 * nprod));
    float *x = malloc(sizeof(float) * (size_t)max64(nprod * M * K, 1));
    float *y = out->dtype == MX_FLOAT32 ? NULL : malloc(sizeof(float) * (size_t)(nprod * M * N));
    int rc = 0;
    if (!idx || !x || (out->dtype != MX_FLOAT32 && !y)) {
        mx_set_error("[gather_qmm] out of memory for %lld products of %lld x %lld", (long long)nprod, (long long)M,
                     (long long)K);
        rc = -1;
    } else {
        cpu_load_broadcast(c->inputs[first_idx], nbd, out->shape, 0, nprod, MX_INT64, idx);
        cpu_load_broadcast(c->inputs[first_idx + 1], nbd, out->shape, 0, nprod, MX_INT64, idx + nprod);
        for (int64_t i = 0; i < nprod && rc == 0; i++)
            if (idx[i] < 0 || idx[i] >= nx || idx[nprod + i] < 0 || idx[nprod + i] >= nw) {
                mx_set_error("[gather_qmm] index out of range at output matrix %lld: lhs %lld of %lld, rhs %lld of %lld",
                             (long long)i, (long long)idx[i], (long long)nx, (long long)idx[nprod + i], (long long)nw);
                rc = -1;
            }
    }
    /* runs of equal matrices: short ones batched through the row kernels, long ones one
     * many-row product each */
    int64_t *run = rc == 0 ? malloc(sizeof(int64_t) * (size_t)(nprod + 1)) : NULL;
    char *is_short = rc == 0 ? malloc((size_t)nprod + 1) : NULL;
    int64_t nrun = 0, nshort = 0;
    if (rc == 0 && (!run || !is_short)) {
        mx_set_error("[gather_qmm] out of memory for the runs of %lld products", (long long)nprod);
        rc = -1;
    }
    for (int64_t i0 = 0, i1; rc == 0 && i0 < nprod; i0 = i1) {
        for (i1 = i0 + 1; i1 < nprod && idx[nprod + i1] == idx[nprod + i0];) i1++;
        run[nrun] = i0;
        is_short[nrun] = qk_ok(&in.q) && (i1 - i0) * M <= SHORT_RUN_ROWS;
        nshort += is_short[nrun++];
        run[nrun] = i1;
    }
    float *dst = y ? y : (float *)mx_array_ptr(out);
    if (rc == 0 && nshort > 0) rc = gather_short_runs(&in, idx, nprod, M, run, is_short, nrun, dst);
    for (int64_t r = 0; r < nrun && rc == 0; r++) {
        if (is_short[r]) continue;
        int64_t i0 = run[r], i1 = run[r + 1];
        for (int64_t i = i0; i < i1; i++) load_x(in.x, cpu_batch_offset(in.x, idx[i]), M, K, x + (i - i0) * M * K);
        qmat q = matrix_at(&in, idx[nprod + i0]);
        rc = qmm_product(&q, x, (i1 - i0) * M, dst + i0 * M * N);
    }
    if (rc == 0 && y) store_y(out, 0, nprod * M, y);
    free(run);
    free(is_short);
    free(idx);
    free(x);
    free(y);
    release(&in);
    return rc;
}
