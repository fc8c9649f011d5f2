/* Conformance cases: quantize, dequantize, quantized_matmul, gather_qmm in every mode, bit
 * width and group size, both weight layouts, float16 / bfloat16 / float32 activations,
 * odd row counts and batch shapes. References are written here from the format's
 * definition (../shared/formats/mlx-quant.md): bit-by-bit unpacking, float64 products of
 * the dequantized weights, and the affine quantizer's float32 arithmetic. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/arch/cpu_features.h"
#include "backend/cpu/arch/gemm_amx.h"
#include "conformance.h"

static const int affine_bits[] = {2, 3, 4, 5, 6, 8};
static const int affine_groups[] = {32, 64, 128};

/* Code i of a row of packed words: bits [i*bits, (i+1)*bits) of the little-endian stream,
 * read one bit at a time. */
static unsigned code_at(const double *words, int64_t i, int bits) {
    unsigned v = 0;
    for (int b = 0; b < bits; b++) {
        int64_t bit = i * bits + b;
        uint32_t w = (uint32_t)words[bit / 32];
        v |= ((w >> (bit % 32)) & 1u) << b;
    }
    return v;
}

static double e2m1(unsigned c) {
    double mag[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    return (c & 8) ? -mag[c & 7] : mag[c & 7];
}

static double e4m3(unsigned c) {
    unsigned e = (c >> 3) & 15, m = c & 7;
    double v = e == 0 ? m * pow(2, -9) : (1 + m / 8.0) * pow(2, (int)e - 7);
    return (c & 128) ? -v : v;
}

/* The dequantized matrix (float64), rows x cols, from packed words [rows, words]. */
static ref_tensor ref_dequantize(conf_ctx *c, const ref_tensor *w, const ref_tensor *s, const ref_tensor *b,
                                 int gs, int bits, mx_quant_mode mode) {
    int64_t words = w->shape[w->ndim - 1], cols = words * 32 / bits, rows = w->size / words;
    int64_t shape[MX_MAX_NDIM];
    memcpy(shape, w->shape, sizeof(int64_t) * (size_t)w->ndim);
    shape[w->ndim - 1] = cols;
    ref_tensor out = conf_ref_alloc(c, shape, w->ndim);
    int64_t groups = cols / gs;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < cols; i++) {
            unsigned q = code_at(w->data + r * words, i, bits);
            double sv = s->data[r * groups + i / gs], v;
            if (mode == MX_QUANT_AFFINE) v = sv * q + b->data[r * groups + i / gs];
            else if (mode == MX_QUANT_MXFP8) v = e4m3(q) * pow(2, sv - 127);
            else if (mode == MX_QUANT_MXFP4) v = e2m1(q) * pow(2, sv - 127);
            else v = e2m1(q) * e4m3((unsigned)sv);
            out.data[r * cols + i] = v;
        }
    return out;
}

/* Random quantized weights of shape [batch..., rows, cols] (cols unpacked): packed words,
 * scales (and biases) in sdt, or uint8 codes for the fp modes. */
typedef struct {
    mx_array *w, *s, *b;
    ref_tensor rw, rs, rb, deq;
} qweights;

static qweights random_qweights(conf_ctx *c, const int64_t *batch, int nb, int64_t rows, int64_t cols, int gs,
                                int bits, mx_quant_mode mode, mx_dtype sdt) {
    qweights q;
    memset(&q, 0, sizeof q);
    int64_t ws[MX_MAX_NDIM], ss[MX_MAX_NDIM];
    for (int i = 0; i < nb; i++) ws[i] = ss[i] = batch[i];
    ws[nb] = ss[nb] = rows;
    ws[nb + 1] = cols * bits / 32;
    ss[nb + 1] = cols / gs;
    q.w = conf_random_int(c, ws, nb + 2, MX_UINT32, 0, 4294967295LL, &q.rw);
    if (mode == MX_QUANT_AFFINE) {
        q.s = conf_random(c, ss, nb + 2, sdt, -0.2, 0.2, 0, &q.rs);
        q.b = conf_random(c, ss, nb + 2, sdt, -1, 1, 0, &q.rb);
    } else if (mode == MX_QUANT_NVFP4) {
        q.s = conf_random_int(c, ss, nb + 2, MX_UINT8, 0x28, 0x40, &q.rs);
    } else {
        q.s = conf_random_int(c, ss, nb + 2, MX_UINT8, 120, 128, &q.rs);
    }
    q.deq = ref_dequantize(c, &q.rw, &q.rs, &q.rb, gs, bits, mode);
    return q;
}

static const char *mode_name(mx_quant_mode m) {
    return m == MX_QUANT_AFFINE ? "affine" : m == MX_QUANT_MXFP4 ? "mxfp4" : m == MX_QUANT_MXFP8 ? "mxfp8" : "nvfp4";
}

/* Every (mode, bits, group) combination. */
typedef struct {
    mx_quant_mode mode;
    int bits, gs;
} qconf;

static int all_confs(qconf *out) {
    int n = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++) out[n++] = (qconf){MX_QUANT_AFFINE, affine_bits[i], affine_groups[j]};
    out[n++] = (qconf){MX_QUANT_MXFP4, 4, 32};
    out[n++] = (qconf){MX_QUANT_MXFP8, 8, 32};
    out[n++] = (qconf){MX_QUANT_NVFP4, 4, 16};
    return n;
}

static void run_dequantize(conf_ctx *c) {
    qconf confs[32];
    int nconf = all_confs(confs);
    const mx_dtype sdts[] = {MX_BFLOAT16, MX_FLOAT16, MX_FLOAT32};
    for (int k = 0; k < nconf; k++)
        for (int d = 0; d < 3; d++) {
            qconf q = confs[k];
            if (q.mode != MX_QUANT_AFFINE && d > 0) continue;
            int64_t batch[1] = {2};
            qweights w = random_qweights(c, batch, d == 2 ? 1 : 0, 5, q.gs * 3, q.gs, q.bits, q.mode, sdts[d]);
            /* default dtype: the scales' dtype (affine) or float32; results are exact */
            mx_array *r = mx_dequantize(w.w, w.s, w.b, q.gs, q.bits, q.mode, MX_DTYPE_COUNT);
            char name[64];
            snprintf(name, sizeof name, "dequantize %s b%d g%d", mode_name(q.mode), q.bits, q.gs);
            mx_dtype out_t = q.mode == MX_QUANT_AFFINE ? sdts[d] : MX_FLOAT32;
            if (out_t == MX_FLOAT32 && q.mode == MX_QUANT_AFFINE) {
                /* float32 arithmetic: scale * q rounded, then + bias rounded */
                ref_tensor r32 = conf_ref_alloc(c, w.deq.shape, w.deq.ndim);
                int64_t cols = w.deq.shape[w.deq.ndim - 1];
                for (int64_t i = 0; i < r32.size; i++) {
                    int64_t g = (i / cols) * (cols / q.gs) + (i % cols) / q.gs;
                    float sv = (float)w.rs.data[g], bv = (float)w.rb.data[g];
                    float qv = (float)((w.deq.data[i] - w.rb.data[g]) / w.rs.data[g]);
                    float prod = sv * rintf(qv);
                    r32.data[i] = prod + bv;
                }
                conf_check_exact(c, name, r, &r32);
            } else if (q.mode == MX_QUANT_AFFINE) {
                /* one rounding to the 16-bit type of the float32 result */
                ref_tensor r16 = conf_ref_alloc(c, w.deq.shape, w.deq.ndim);
                for (int64_t i = 0; i < r16.size; i++) {
                    mx_array *s = mx_scalar((float)w.deq.data[i], out_t);
                    r16.data[i] = mx_item_double(s);
                    mx_free(s);
                }
                conf_check_exact(c, name, r, &r16);
            } else {
                conf_check_exact(c, name, r, &w.deq);
            }
            conf_end_case(c);
        }
}

/* x [..., M, K] @ W.T (transpose) or @ W, W the dequantized [E?, rows, cols] (float64). */
static void ref_qmm(const ref_tensor *x, const double *wmat, int64_t M, int64_t K, int64_t N, int transpose,
                    double *y) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) s += x->data[m * K + k] * (transpose ? wmat[n * K + k] : wmat[k * N + n]);
            y[m * N + n] = s;
        }
}

static double qmm_tol(mx_dtype out, int64_t K) { return conf_tol(out) * 2 * (out == MX_FLOAT32 ? 1 + (double)K / 64 : 1); }

/* Products with bfloat16 results and affine 4/8-bit weights (Linear layout) quantize the
 * activations to 15-bit integers per group (src/backend/cpu/arch/qmv.h): x_j is replaced by
 * u * xi_j with |x_j - u * xi_j| <= u / 2 (u = max|x_g| / 32512), so output (m, n) moves by at most
 *     sum_g |s_ng| * (u_mg / 2) * sum_j q_nj
 * (the biases multiply the exact sum of x and add nothing). This is that worst case for one
 * x row against weight row n of matrix e (codes read from the packed words), a rigorous
 * bound that scales the tolerance of those cases; errors of a wrong kernel are far larger. */
static double int8_act_bound(const double *x, const qweights *w, int64_t e, int64_t n, int64_t N, int64_t K, int gs,
                             int bits) {
    int64_t words = K * bits / 32, G = K / gs;
    const double *wrow = w->rw.data + (e * N + n) * words;
    double bound = 0;
    for (int64_t g = 0; g < G; g++) {
        double amax = 0, qsum = 0;
        for (int64_t j = g * gs; j < (g + 1) * gs; j++) {
            amax = fmax(amax, fabs(x[j]));
            qsum += code_at(wrow, j, bits);
        }
        /* (1 + 1e-2): float32 rounding of 32512 / amax and of x * (32512 / amax), up to
         * 2 * 2^-24 * 32512 = 0.004 of a step beyond the half step */
        bound += fabs(w->rs.data[(e * N + n) * G + g]) * amax / 32512 / 2 * (1 + 1e-2) * qsum;
    }
    return bound;
}

/* Whether the integer-activation kernels serve this product (bfloat16 results; see qmm.c). */
static int uses_int8(mx_quant_mode mode, int bits, int transpose, mx_dtype out) {
    return mode == MX_QUANT_AFFINE && (bits == 4 || bits == 8) && transpose && out == MX_BFLOAT16;
}

/* Many-row products with bfloat16 results on AMX tiles (src/backend/cpu/arch/gemm_amx.h)
 * multiply the dequantized weights rounded to bfloat16 (to nearest: at most 2^-8 of each), so
 * output (m, n) moves by at most 2^-8 * sum_k |x_k * w_nk| (the float32 sums add far less). */
static int uses_amx(int64_t M, mx_dtype out) { return cpu_amx_active() && M >= AMX_MIN_ROWS && out == MX_BFLOAT16; }

static double amx_weight_bound(const double *x, const double *wrow, int64_t K) {
    double s = 0;
    for (int64_t k = 0; k < K; k++) s += fabs(x[k] * wrow[k]);
    return s * 0x1p-8;
}

/* A double holding a float32 value, rounded to bfloat16 (nearest, ties to even). */
static double round_bf16(double v) {
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&f, &u, 4);
    return f;
}

static double max_abs(const ref_tensor *r) {
    double m = 0;
    for (int64_t i = 0; i < r->size; i++) m = fmax(m, fabs(r->data[i]));
    return m;
}

static void run_quantized_matmul(conf_ctx *c) {
    qconf confs[32];
    int nconf = all_confs(confs);
    const mx_dtype xdts[] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16};
    const int64_t Ms[] = {1, 3, 13};
    for (int k = 0; k < nconf; k++)
        for (int transpose = 0; transpose < 2; transpose++)
            for (int mi = 0; mi < 3; mi++) {
                qconf q = confs[k];
                mx_dtype xt = xdts[(k + mi) % 3];
                int64_t M = Ms[mi], K = transpose ? 2 * q.gs : 7, N = transpose ? 9 : 2 * q.gs;
                int64_t rows = transpose ? N : K, cols = transpose ? K : N;
                mx_dtype sdt = q.mode == MX_QUANT_AFFINE ? (xt == MX_FLOAT32 ? MX_BFLOAT16 : xt) : MX_UINT8;
                qweights w = random_qweights(c, NULL, 0, rows, cols, q.gs, q.bits, q.mode, sdt);
                ref_tensor rx;
                mx_array *x = conf_random(c, (int64_t[]){M, K}, 2, xt, -1, 1, mi == 1, &rx);
                ref_tensor out = conf_ref_alloc(c, (int64_t[]){M, N}, 2);
                ref_qmm(&rx, w.deq.data, M, K, N, transpose, out.data);
                mx_array *r = mx_quantized_matmul(x, w.w, w.s, w.b, transpose, q.gs, q.bits, q.mode);
                mx_dtype want = q.mode == MX_QUANT_AFFINE ? mx_promote_types(xt, sdt) : xt;
                char name[80];
                snprintf(name, sizeof name, "quantized_matmul %s b%d g%d t%d M%lld", mode_name(q.mode), q.bits, q.gs,
                         transpose, (long long)M);
                if (r && mx_array_dtype(r) != want) conf_fail(c, name, "dtype %s", mx_dtype_name(mx_array_dtype(r)));
                double tol = qmm_tol(want, K);
                if (uses_int8(q.mode, q.bits, transpose, want)) {
                    double worst = 0;
                    for (int64_t m = 0; m < M; m++)
                        for (int64_t n = 0; n < N; n++)
                            worst = fmax(worst, uses_amx(M, want)
                                                    ? amx_weight_bound(rx.data + m * K, w.deq.data + n * K, K)
                                                    : int8_act_bound(rx.data + m * K, &w, 0, n, N, K, q.gs, q.bits));
                    tol += worst / fmax(max_abs(&out), 1e-30);
                }
                conf_check(c, name, r, &out, tol);
                conf_end_case(c);
            }
}

/* Batch broadcasting: x [2, 1, M, K] against w [3, N, K'] -> [2, 3, M, N]; x 1-D. */
static void run_qmm_batches(conf_ctx *c) {
    for (int transpose = 0; transpose < 2; transpose++)
        for (int mi = 0; mi < 2; mi++) {
            int gs = 32, bits = 4;
            int64_t M = mi ? 10 : 1, K = transpose ? 64 : 5, N = transpose ? 6 : 64;
            int64_t rows = transpose ? N : K, cols = transpose ? K : N;
            qweights w = random_qweights(c, (int64_t[]){3}, 1, rows, cols, gs, bits, MX_QUANT_AFFINE, MX_FLOAT32);
            ref_tensor rx;
            mx_array *x = conf_random(c, (int64_t[]){2, 1, M, K}, 4, MX_FLOAT32, -1, 1, 1, &rx);
            ref_tensor out = conf_ref_alloc(c, (int64_t[]){2, 3, M, N}, 4);
            for (int i = 0; i < 2; i++)
                for (int e = 0; e < 3; e++) {
                    ref_tensor xi = rx;
                    xi.data = rx.data + i * M * K;
                    ref_qmm(&xi, w.deq.data + e * rows * cols, M, K, N, transpose, out.data + (i * 3 + e) * M * N);
                }
            conf_check(c, "quantized_matmul batch", mx_quantized_matmul(x, w.w, w.s, w.b, transpose, gs, bits, MX_QUANT_AFFINE),
                       &out, qmm_tol(MX_FLOAT32, K));
            /* 1-D x against the first expert */
            ref_tensor rv;
            mx_array *v = conf_random(c, (int64_t[]){K}, 1, MX_BFLOAT16, -1, 1, 0, &rv);
            mx_array *w0 = mx_slice_axis(w.w, 0, 0, 1), *s0 = mx_slice_axis(w.s, 0, 0, 1), *b0 = mx_slice_axis(w.b, 0, 0, 1);
            mx_array *w0s = mx_squeeze(w0, (int[]){0}, 1), *s0s = mx_squeeze(s0, (int[]){0}, 1), *b0s = mx_squeeze(b0, (int[]){0}, 1);
            ref_tensor ov = conf_ref_alloc(c, (int64_t[]){N}, 1);
            ref_qmm(&rv, w.deq.data, 1, K, N, transpose, ov.data);
            conf_check(c, "quantized_matmul 1-D", mx_quantized_matmul(v, w0s, s0s, b0s, transpose, gs, bits, MX_QUANT_AFFINE),
                       &ov, qmm_tol(MX_FLOAT32, K));
            mx_free(w0), mx_free(s0), mx_free(b0), mx_free(w0s), mx_free(s0s), mx_free(b0s);
            conf_end_case(c);
        }
}

/* MoE: x [T, 1, 1, K], experts w [E, N, K], rhs [T, top] -> [T, top, 1, N]; sorted and not. */
static void run_gather_qmm(conf_ctx *c) {
    const qconf confs[] = {{MX_QUANT_AFFINE, 4, 64}, {MX_QUANT_AFFINE, 8, 32}, {MX_QUANT_AFFINE, 3, 32},
                           {MX_QUANT_MXFP4, 4, 32},  {MX_QUANT_NVFP4, 4, 16}};
    for (size_t k = 0; k < sizeof confs / sizeof confs[0]; k++)
        for (int transpose = 0; transpose < 2; transpose++)
            for (int variant = 0; variant < 3; variant++) {
                qconf q = confs[k];
                int64_t E = 4, T = variant == 2 ? 12 : 5, top = 2, K = transpose ? 2 * q.gs : 6, N = transpose ? 7 : q.gs;
                int64_t rows = transpose ? N : K, cols = transpose ? K : N;
                mx_dtype xt = variant == 1 ? MX_BFLOAT16 : MX_FLOAT32;
                mx_dtype sdt = q.mode == MX_QUANT_AFFINE ? MX_BFLOAT16 : MX_UINT8;
                qweights w = random_qweights(c, (int64_t[]){E}, 1, rows, cols, q.gs, q.bits, q.mode, sdt);
                ref_tensor rx, ri;
                mx_array *x = conf_random(c, (int64_t[]){T, 1, 1, K}, 4, xt, -1, 1, variant == 1, &rx);
                mx_array *idx;
                if (variant == 2) {
                    /* sorted flat indices: x rows picked by lhs, experts by rhs (prefill layout) */
                    ref_tensor rl;
                    mx_array *li = conf_random_int(c, (int64_t[]){T * top}, 1, MX_UINT32, 0, T - 1, &rl);
                    ref_tensor rr = conf_ref_alloc(c, (int64_t[]){T * top}, 1);
                    for (int64_t i = 0; i < T * top; i++) rr.data[i] = (double)(i * E / (T * top));
                    uint32_t tmp[24];
                    for (int64_t i = 0; i < T * top; i++) tmp[i] = (uint32_t)rr.data[i];
                    mx_array *ri2 = mx_array_from_data(tmp, (int64_t[]){T * top}, 1, MX_UINT32);
                    mx_array *xs = mx_reshape(x, (int64_t[]){T, 1, K}, 3);
                    ref_tensor out = conf_ref_alloc(c, (int64_t[]){T * top, 1, N}, 3);
                    for (int64_t i = 0; i < T * top; i++) {
                        ref_tensor xi = rx;
                        xi.data = rx.data + (int64_t)rl.data[i] * K;
                        ref_qmm(&xi, w.deq.data + (int64_t)rr.data[i] * rows * cols, 1, K, N, transpose, out.data + i * N);
                    }
                    mx_array *r = mx_gather_qmm(xs, w.w, w.s, w.b, li, ri2, transpose, q.gs, q.bits, q.mode, 1);
                    char name[80];
                    snprintf(name, sizeof name, "gather_qmm sorted %s b%d t%d", mode_name(q.mode), q.bits, transpose);
                    conf_check(c, name, r, &out, qmm_tol(xt, K)); /* float32 x: exact float path */
                    mx_free(xs), mx_free(ri2);
                    conf_end_case(c);
                    continue;
                }
                idx = conf_random_int(c, (int64_t[]){T, top}, 2, MX_INT32, 0, E - 1, &ri);
                ref_tensor out = conf_ref_alloc(c, (int64_t[]){T, top, 1, N}, 4);
                for (int64_t t = 0; t < T; t++)
                    for (int64_t j = 0; j < top; j++) {
                        ref_tensor xi = rx;
                        xi.data = rx.data + t * K;
                        int64_t e = (int64_t)ri.data[t * top + j];
                        ref_qmm(&xi, w.deq.data + e * rows * cols, 1, K, N, transpose, out.data + (t * top + j) * N);
                    }
                /* lhs defaults to arange over x's batch [T, 1] which broadcasts with rhs [T, top] */
                mx_array *r = mx_gather_qmm(x, w.w, w.s, w.b, NULL, idx, transpose, q.gs, q.bits, q.mode, 0);
                char name[80];
                snprintf(name, sizeof name, "gather_qmm %s b%d t%d", mode_name(q.mode), q.bits, transpose);
                double tol = qmm_tol(xt, K);
                if (uses_int8(q.mode, q.bits, transpose, xt)) {
                    double worst = 0;
                    for (int64_t t = 0; t < T; t++)
                        for (int64_t j = 0; j < top; j++)
                            for (int64_t n = 0; n < N; n++)
                                worst = fmax(worst, int8_act_bound(rx.data + t * K, &w, (int64_t)ri.data[t * top + j], n,
                                                                   N, K, q.gs, q.bits));
                    tol += worst / fmax(max_abs(&out), 1e-30);
                }
                conf_check(c, name, r, &out, tol);
                conf_end_case(c);
            }
}

/* MoE prefill with tokens sorted by expert, bfloat16 activations (the integer / AMX paths):
 * runs of one expert with 1 to 13 rows, so that short runs (at most 8 rows, batched through
 * the row kernels in one pass) and long ones (a many-row product each: AMX tiles where the
 * CPU has them) meet in one call; the lhs repeats a token across consecutive experts, as
 * decode does. Tolerance: the activation quantization bound, plus the AMX weight rounding
 * for rows of long runs. */
static void run_gather_qmm_runs(conf_ctx *c) {
    const int run_len[] = {3, 12, 1, 9, 5, 8, 13, 2};
    const int E = (int)(sizeof run_len / sizeof run_len[0]);
    for (int bits = 4; bits <= 8; bits += 4) {
        int gs = bits == 4 ? 64 : 32;
        /* 4-bit: 53 products of K = 768, past the size where x is quantized in parallel */
        int64_t K = (bits == 4 ? 12 : 3) * gs, N = 37, T = 17, P = 0;
        for (int e = 0; e < E; e++) P += run_len[e];
        qweights w = random_qweights(c, (int64_t[]){E}, 1, N, K, gs, bits, MX_QUANT_AFFINE, MX_BFLOAT16);
        ref_tensor rx;
        mx_array *x = conf_random(c, (int64_t[]){T, 1, K}, 3, MX_BFLOAT16, -1, 1, 1, &rx);
        uint32_t lhs[64], rhs[64];
        int64_t run_of[64];
        for (int64_t i = 0, e = 0, left = run_len[0]; i < P; i++) {
            while (left == 0) left = run_len[++e];
            left--;
            rhs[i] = (uint32_t)e;
            run_of[i] = run_len[e];
            /* a token repeated across the boundary of two experts, else spread over T */
            lhs[i] = (uint32_t)(i > 0 && left == run_len[e] - 1 && i % 3 == 0 ? lhs[i - 1] : (i * 7 + 3) % T);
        }
        mx_array *li = mx_array_from_data(lhs, (int64_t[]){P}, 1, MX_UINT32);
        mx_array *ri = mx_array_from_data(rhs, (int64_t[]){P}, 1, MX_UINT32);
        ref_tensor out = conf_ref_alloc(c, (int64_t[]){P, 1, N}, 3);
        double worst = 0;
        for (int64_t i = 0; i < P; i++) {
            ref_tensor xi = rx;
            xi.data = rx.data + (int64_t)lhs[i] * K;
            ref_qmm(&xi, w.deq.data + (int64_t)rhs[i] * N * K, 1, K, N, 1, out.data + i * N);
            for (int64_t n = 0; n < N; n++) {
                double b = int8_act_bound(xi.data, &w, rhs[i], n, N, K, gs, bits);
                if (uses_amx(run_of[i], MX_BFLOAT16))
                    b += amx_weight_bound(xi.data, w.deq.data + ((int64_t)rhs[i] * N + n) * K, K);
                worst = fmax(worst, b);
            }
        }
        mx_array *r = mx_gather_qmm(x, w.w, w.s, w.b, li, ri, 1, gs, bits, MX_QUANT_AFFINE, 1);
        char name[80];
        snprintf(name, sizeof name, "gather_qmm sorted runs 1..13 rows, bf16, b%d", bits);
        conf_check(c, name, r, &out, qmm_tol(MX_BFLOAT16, K) + worst / fmax(max_abs(&out), 1e-30));
        mx_free(li), mx_free(ri);
        conf_end_case(c);
    }
}

/* ---- quantize: the reference quantizer, written from mlx-quant.md ---- */

static float round_to(float v, mx_dtype t) {
    mx_array *s = mx_scalar(v, t);
    float r = (float)mx_item_double(s);
    mx_free(s);
    return r;
}

static void ref_affine_quantize(const ref_tensor *w, int gs, int bits, mx_dtype t, ref_tensor *wq, ref_tensor *sc,
                                ref_tensor *bi) {
    int64_t cols = w->shape[w->ndim - 1], rows = w->size / cols, words = cols * bits / 32, groups = cols / gs;
    for (int64_t i = 0; i < wq->size; i++) wq->data[i] = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t g = 0; g < groups; g++) {
            const double *x = w->data + r * cols + g * gs;
            float n_bins = (float)((1 << bits) - 1), eps = 1e-7f, mx = -INFINITY, mn = INFINITY;
            for (int j = 0; j < gs; j++) {
                if ((float)x[j] > mx) mx = (float)x[j];
                if ((float)x[j] < mn) mn = (float)x[j];
            }
            int mask = fabsf(mn) > fabsf(mx);
            float scale = fmaxf((mx - mn) / n_bins, eps);
            scale = mask ? scale : -scale;
            float edge = mask ? mn : mx, q0 = rintf(edge / scale), bias = 0;
            if (q0 != 0) {
                scale = edge / q0;
                bias = edge;
            }
            for (int j = 0; j < gs; j++) {
                float q = rintf(((float)x[j] - bias) / scale);
                q = fminf(fmaxf(q, 0), n_bins);
                uint32_t v = (uint32_t)q;
                int64_t i = g * gs + j;
                for (int b = 0; b < bits; b++) {
                    int64_t bit = i * bits + b;
                    if ((v >> b) & 1) {
                        double *word = &wq->data[r * words + bit / 32];
                        *word = (double)((uint32_t)*word | (1u << (bit % 32)));
                    }
                }
            }
            sc->data[r * groups + g] = round_to(scale, t);
            bi->data[r * groups + g] = round_to(bias, t);
        }
}

/* float to E4M3 by search: nearest code, ties to the even code, |x| >= 480 saturating to
 * 448 (0x7e) as MLX's converter does; the sign kept (also for zero). */
static unsigned ref_e4m3(double x) {
    unsigned sign = signbit(x) ? 0x80 : 0;
    double a = fabs(x);
    if (a >= 480) return sign | 0x7e;
    unsigned best = 0;
    double bd = INFINITY;
    /* 0x7f is NaN in E4M3 (no infinities): values past 448 saturate to 0x7e */
    for (unsigned code = 0; code < 127; code++) {
        double d = fabs(e4m3(code) - a);
        if (d < bd || (d == bd && !(code & 1))) bd = d, best = code;
    }
    return sign | best;
}

/* mxfp4 / mxfp8 / nvfp4 quantization of float32 weights (MLX's: scale from max|w|, E8M0 as
 * round(log2), fp4 codes by the nearest table value, first on ties). */
static void ref_fp_quantize(const ref_tensor *w, qconf qc, ref_tensor *wq, ref_tensor *sc) {
    int64_t cols = w->shape[1], rows = w->shape[0], words = cols * qc.bits / 32, groups = cols / qc.gs;
    for (int64_t i = 0; i < wq->size; i++) wq->data[i] = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t g = 0; g < groups; g++) {
            const double *x = w->data + r * cols + g * qc.gs;
            float amax = 0;
            for (int j = 0; j < qc.gs; j++) amax = fmaxf(amax, fabsf((float)x[j]));
            float s = amax / (qc.mode == MX_QUANT_MXFP8 ? 448.0f : 6.0f), div;
            if (qc.mode == MX_QUANT_NVFP4) {
                unsigned code = ref_e4m3(s);
                sc->data[r * groups + g] = code;
                div = (float)e4m3(code);
            } else {
                float e = s == 0 ? 0 : rintf(log2f(s));
                sc->data[r * groups + g] = e + 127;
                div = exp2f(e);
            }
            for (int j = 0; j < qc.gs; j++) {
                float v = (float)x[j] / div;
                unsigned code;
                if (qc.mode == MX_QUANT_MXFP8) {
                    code = ref_e4m3(v);
                } else {
                    code = 0;
                    float bd = INFINITY;
                    for (unsigned k = 0; k < 16; k++)
                        if (fabsf(v - (float)e2m1(k)) < bd) bd = fabsf(v - (float)e2m1(k)), code = k;
                }
                int64_t bit = (g * qc.gs + j) * qc.bits;
                double *word = &wq->data[r * words + bit / 32];
                *word = (double)((uint32_t)*word | (code << (bit % 32)));
            }
        }
}

static void run_quantize(conf_ctx *c) {
    const mx_dtype dts[] = {MX_BFLOAT16, MX_FLOAT16, MX_FLOAT32};
    for (int bi = 0; bi < 6; bi++)
        for (int gi = 0; gi < 3; gi++)
            for (int d = 0; d < 3; d++) {
                int bits = affine_bits[bi], gs = affine_groups[gi];
                mx_dtype t = dts[d];
                int64_t rows = 7, cols = 2 * gs;
                ref_tensor rw;
                /* mixed signs, some groups all positive or all negative */
                double lo = (bi + d) % 3 == 0 ? 0.01 : -1, hi = (bi + d) % 3 == 1 ? -0.01 : 1;
                mx_array *w = conf_random(c, (int64_t[]){rows, cols}, 2, t, lo, hi, (gi + d) % 2, &rw);
                int64_t words = cols * bits / 32, groups = cols / gs;
                ref_tensor wq = conf_ref_alloc(c, (int64_t[]){rows, words}, 2);
                ref_tensor sc = conf_ref_alloc(c, (int64_t[]){rows, groups}, 2);
                ref_tensor bs = conf_ref_alloc(c, (int64_t[]){rows, groups}, 2);
                ref_affine_quantize(&rw, gs, bits, t, &wq, &sc, &bs);
                mx_array *q, *s, *b;
                char name[64];
                snprintf(name, sizeof name, "quantize b%d g%d %s", bits, gs, mx_dtype_name(t));
                if (mx_quantize(w, gs, bits, MX_QUANT_AFFINE, &q, &s, &b)) {
                    conf_fail(c, name, "failed: %s", mx_last_error());
                } else {
                    if (mx_array_dtype(s) != t || mx_array_dtype(b) != t) conf_fail(c, name, "scale/bias dtype");
                    conf_check_exact(c, name, q, &wq);
                    conf_check_exact(c, name, s, &sc);
                    conf_check_exact(c, name, b, &bs);
                }
                conf_end_case(c);
            }
    /* fp modes: dequantize(quantize(w)) is within half a step of w (plus what saturation at
     * the format's largest value clips), for every input dtype; for float32 input the codes and
     * scales are also checked exactly against the reference below. */
    const qconf fps[] = {{MX_QUANT_MXFP4, 4, 32}, {MX_QUANT_MXFP8, 8, 32}, {MX_QUANT_NVFP4, 4, 16}};
    for (int k = 0; k < 3; k++)
        for (int d = 0; d < 3; d++) {
            qconf qc = fps[k];
            mx_dtype t = dts[d];
            ref_tensor rw;
            mx_array *w = conf_random(c, (int64_t[]){5, 64}, 2, t, -3, 3, d == 1, &rw);
            mx_array *q, *s, *b;
            char name[64];
            snprintf(name, sizeof name, "quantize %s %s", mode_name(qc.mode), mx_dtype_name(t));
            if (mx_quantize(w, qc.gs, qc.bits, qc.mode, &q, &s, &b) || b != NULL) {
                conf_fail(c, name, "failed: %s", mx_last_error());
                conf_end_case(c);
                continue;
            }
            ref_tensor rq = conf_ref_alloc(c, (int64_t[]){5, 64 * qc.bits / 32}, 2);
            ref_tensor rs = conf_ref_alloc(c, (int64_t[]){5, 64 / qc.gs}, 2);
            if (mx_read(q, MX_FLOAT64, rq.data) || mx_read(s, MX_FLOAT64, rs.data)) {
                conf_fail(c, name, "read failed: %s", mx_last_error());
                mx_free(q), mx_free(s);
                conf_end_case(c);
                continue;
            }
            ref_tensor deq = ref_dequantize(c, &rq, &rs, NULL, qc.gs, qc.bits, qc.mode);
            double worst = 0, top = qc.mode == MX_QUANT_MXFP8 ? 448 : 6;
            for (int64_t i = 0; i < deq.size; i++) {
                int64_t g = i / qc.gs;
                double scale = qc.mode == MX_QUANT_NVFP4 ? e4m3((unsigned)rs.data[g]) : pow(2, rs.data[g] - 127);
                double clipped = fmax(0, fabs(rw.data[i]) - top * scale);
                /* fp4: the widest gap is 2 (between 4 and 6); fp8: 1/16 relative, or half the
                 * subnormal step; 16-bit inputs add one rounding of w / scale */
                double allowed = qc.mode == MX_QUANT_MXFP8 ? fabs(rw.data[i]) / 16 + scale * pow(2, -10)
                                                           : scale * 1.0;
                allowed = allowed * (1 + 1e-2) + clipped;
                double err = fabs(deq.data[i] - rw.data[i]) - allowed;
                if (err > worst) worst = err;
            }
            if (worst > 0) conf_fail(c, name, "dequantized error exceeds the format's half step by %g", worst);
            else conf_pass(c);
            if (t == MX_FLOAT32) {
                ref_tensor eq = conf_ref_alloc(c, rq.shape, 2), es = conf_ref_alloc(c, rs.shape, 2);
                ref_fp_quantize(&rw, qc, &eq, &es);
                conf_check_exact(c, name, q, &eq);
                conf_check_exact(c, name, s, &es);
            } else {
                mx_free(q), mx_free(s);
            }
            conf_end_case(c);
        }
}

/* Prefill-sized products (bfloat16 x and scales, affine 4/8-bit, Linear layout) on the shapes
 * the many-row kernels block differently: rows past one and several 32-row blocks, outputs past
 * one and several weight panels with a ragged end, K of one group up to past 2048 (many
 * k-steps). Reference in float64 on the dequantized weights; tolerance as in
 * run_quantized_matmul plus the path's own bound (15-bit activations, or bfloat16 weights on
 * AMX). */
static void run_qmm_many_rows(conf_ctx *c) {
    const int64_t Ms[] = {9, 40, 77}, Ns[] = {37, 300}, Ks[] = {64, 384, 2112};
    int variant = 0;
    for (int mi = 0; mi < 3; mi++)
        for (int ni = 0; ni < 2; ni++)
            for (int ki = 0; ki < 3; ki++, variant++) {
                int bits = variant % 2 ? 8 : 4, gs = variant % 3 == 0 ? 32 : variant % 3 == 1 ? 64 : 128;
                int64_t M = Ms[mi], N = Ns[ni], K = Ks[ki] / gs * gs;
                qweights w = random_qweights(c, NULL, 0, N, K, gs, bits, MX_QUANT_AFFINE, MX_BFLOAT16);
                ref_tensor rx;
                mx_array *x = conf_random(c, (int64_t[]){M, K}, 2, MX_BFLOAT16, -1, 1, variant % 4 == 3, &rx);
                ref_tensor out = conf_ref_alloc(c, (int64_t[]){M, N}, 2);
                ref_qmm(&rx, w.deq.data, M, K, N, 1, out.data);
                mx_array *r = mx_quantized_matmul(x, w.w, w.s, w.b, 1, gs, bits, MX_QUANT_AFFINE);
                double worst = 0;
                for (int64_t m = 0; m < M; m++)
                    for (int64_t n = 0; n < N; n++)
                        worst = fmax(worst, uses_amx(M, MX_BFLOAT16)
                                                ? amx_weight_bound(rx.data + m * K, w.deq.data + n * K, K)
                                                : int8_act_bound(rx.data + m * K, &w, 0, n, N, K, gs, bits));
                char name[96];
                snprintf(name, sizeof name, "quantized_matmul many rows b%d g%d M%lld N%lld K%lld", bits, gs,
                         (long long)M, (long long)N, (long long)K);
                conf_check(c, name, r, &out, qmm_tol(MX_BFLOAT16, K) + worst / fmax(max_abs(&out), 1e-30));
                conf_end_case(c);
            }
}

/* The integer-activation kernels on every shape class they treat differently (groups 32 / 64 /
 * 128, a row ending in half a block of 64 values, 1-5 x rows around the kernels' 4-row unit,
 * 9 and 13 rows (the many-row path), output rows not a multiple of the 16-row tasks), with
 * data for which all float arithmetic is exact: scales 1 or 1/2, biases k/2, and per group
 * x = 2^-e * (integers, one of them +-127), so u = 2^-e / 256 and xi = 256 * x * 2^e exactly
 * (xl = 0), and every partial sum is a multiple of 1/4 below 2^22. Whatever order a code path adds in, it must
 * return the exact value rounded once to the result dtype (ctest runs this family once per
 * path, CMLX_CPU_PATH; tests/unit/test_qmv_paths.c compares the paths' float32 sums bit for
 * bit). bfloat16 scales give bfloat16 results (the integer path); float16 results and float32
 * ones (float32 scales with bfloat16 x) take the float path, which must be exact too. */
static void run_qmm_int8_exact(conf_ctx *c) {
    const int gss[] = {32, 64, 128};
    const int64_t Ms[] = {1, 2, 3, 4, 5, 9, 13};
    int variant = 0;
    for (int bi = 0; bi < 2; bi++)
        for (int gi = 0; gi < 3; gi++)
            for (int mi = 0; mi < 7; mi++, variant++) {
                int bits = bi ? 8 : 4, gs = gss[gi];
                int64_t M = Ms[mi], N = 37, K = gs == 32 ? 96 + 64 * (mi % 2) : 2 * gs;
                int64_t G = K / gs, words = K * bits / 32;
                mx_dtype xt = variant % 3 == 2 ? MX_FLOAT16 : MX_BFLOAT16;
                mx_dtype st = variant % 3 == 0 ? MX_FLOAT32 : xt;
                uint32_t *wq = calloc((size_t)(N * words), 4);
                float *sc = malloc(sizeof(float) * (size_t)(N * G)), *bs = malloc(sizeof(float) * (size_t)(N * G));
                float *xv = malloc(sizeof(float) * (size_t)(M * K));
                uint8_t *codes = malloc((size_t)(N * K));
                for (int64_t i = 0; i < N * K; i++) {
                    codes[i] = (uint8_t)(conf_uniform(c) * (1 << bits));
                    int64_t bit = (i % K) * bits;
                    wq[(i / K) * words + bit / 32] |= (uint32_t)codes[i] << (bit % 32);
                }
                for (int64_t i = 0; i < N * G; i++) {
                    sc[i] = conf_uniform(c) < 0.5 ? 1.0f : 0.5f;
                    bs[i] = (float)((int)(conf_uniform(c) * 9) - 4) / 2;
                }
                for (int64_t m = 0; m < M; m++)
                    for (int64_t g = 0; g < G; g++) {
                        float e = conf_uniform(c) < 0.5 ? 1.0f : 0.5f;
                        int64_t top = (int64_t)(conf_uniform(c) * gs);
                        for (int64_t j = 0; j < gs; j++) {
                            int v = j == top ? (conf_uniform(c) < 0.5 ? -127 : 127) : (int)(conf_uniform(c) * 33) - 16;
                            xv[m * K + g * gs + j] = e * (float)v;
                        }
                    }
                mx_dtype out_t = st == MX_FLOAT32 ? MX_FLOAT32 : xt;
                /* the AMX path multiplies bfloat16 weights: exact again with them (every
                 * product and partial sum stays a multiple of 1/4 below 2^22) */
                int amx = uses_amx(M, out_t);
                ref_tensor ref = conf_ref_alloc(c, (int64_t[]){M, N}, 2);
                for (int64_t m = 0; m < M; m++)
                    for (int64_t n = 0; n < N; n++) {
                        double y = 0;
                        for (int64_t k = 0; k < K; k++) {
                            double wv = (double)sc[n * G + k / gs] * codes[n * K + k] + bs[n * G + k / gs];
                            y += (double)xv[m * K + k] * (amx ? round_bf16(wv) : wv);
                        }
                        ref.data[m * N + n] = y;
                    }
                if (out_t != MX_FLOAT32)
                    for (int64_t i = 0; i < ref.size; i++) {
                        mx_array *r1 = mx_scalar((float)ref.data[i], out_t);
                        ref.data[i] = mx_item_double(r1);
                        mx_free(r1);
                    }
                mx_array *xf = mx_array_from_data(xv, (int64_t[]){M, K}, 2, MX_FLOAT32);
                mx_array *sf = mx_array_from_data(sc, (int64_t[]){N, G}, 2, MX_FLOAT32);
                mx_array *bf = mx_array_from_data(bs, (int64_t[]){N, G}, 2, MX_FLOAT32);
                mx_array *w = mx_array_from_data(wq, (int64_t[]){N, words}, 2, MX_UINT32);
                mx_array *x = mx_astype(xf, xt), *s = mx_astype(sf, st), *b = mx_astype(bf, st);
                mx_array *r = mx_quantized_matmul(x, w, s, b, 1, gs, bits, MX_QUANT_AFFINE);
                char name[96];
                snprintf(name, sizeof name, "quantized_matmul int8-exact b%d g%d K%lld M%lld %s/%s", bits, gs,
                         (long long)K, (long long)M, mx_dtype_name(xt), mx_dtype_name(st));
                if (r && mx_array_dtype(r) != out_t) conf_fail(c, name, "dtype %s", mx_dtype_name(mx_array_dtype(r)));
                conf_check_exact(c, name, r, &ref);
                mx_free(xf), mx_free(sf), mx_free(bf), mx_free(w), mx_free(x), mx_free(s), mx_free(b);
                free(wq), free(sc), free(bs), free(xv), free(codes);
                conf_end_case(c);
            }
}

void conf_family_quant(conf_ctx *c) {
    int forced = cpu_path_forced();
    const char *env = getenv("CMLX_CPU_PATH");
    int amx_missing = env && !strcmp(env, "amx") && !cpu_amx_active();
    if (amx_missing ||
        (forced >= 0 && (forced != (int)cpu_path_active() || (forced == CPU_PATH_AVX512 && !cpu_has_avx512vnni())))) {
        printf("SKIPPED: CMLX_CPU_PATH=%s names a code path this CPU cannot run; quant cases not run\n",
               getenv("CMLX_CPU_PATH"));
        return;
    }
    printf("quant: CPU code path %s%s%s\n", cpu_path_name(cpu_path_active()), cpu_amx_active() ? " + AMX" : "",
           forced >= 0 ? " (forced)" : "");
    run_qmm_int8_exact(c);
    run_dequantize(c);
    run_quantize(c);
    run_quantized_matmul(c);
    run_qmm_many_rows(c);
    run_qmm_batches(c);
    run_gather_qmm(c);
    run_gather_qmm_runs(c);
}
