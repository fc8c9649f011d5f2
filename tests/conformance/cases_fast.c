/* Conformance cases: the fused fast ops (rms_norm, layer_norm, rope, scaled dot-product
 * attention). Every case checks the fused kernel against a naive float64 reference written
 * here, the fallback (built from basic ops) against the same reference, and the kernel
 * against the fallback; float32/float16/bfloat16 (and float64, which takes the fallback),
 * odd shapes, strided inputs (q/k/v as transposed [B, L, H, D] views, as models make them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

static const mx_dtype fast_dtypes[4] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16, MX_FLOAT64};

/* A float64 copy of an array as a reference tensor owned by the case. */
static ref_tensor to_ref(conf_ctx *c, mx_array *a) {
    ref_tensor t = conf_ref_alloc(c, mx_shape(a), mx_ndim(a));
    if (mx_read(a, MX_FLOAT64, t.data)) conf_fail(c, "to_ref", "read failed: %s", mx_last_error());
    return t;
}

/* Checks the fused result and the fallback against the reference, and against each other.
 * Takes ownership of both. */
static void check_three(conf_ctx *c, const char *op, mx_array *fused, mx_array *fallback, const ref_tensor *ref,
                        mx_dtype t, double scale_tol) {
    char name[96];
    double tol = conf_tol(t) * scale_tol;
    if (!fused || !fallback) {
        conf_fail(c, op, "%s returned NULL: %s", fused ? "fallback" : "fused op", mx_last_error());
        mx_free(fused);
        mx_free(fallback);
        return;
    }
    if (mx_array_dtype(fused) != t || mx_array_dtype(fallback) != t)
        conf_fail(c, op, "result dtypes %s / %s, expected %s", mx_dtype_name(mx_array_dtype(fused)),
                  mx_dtype_name(mx_array_dtype(fallback)), mx_dtype_name(t));
    snprintf(name, sizeof name, "%s (fused)", op);
    conf_check(c, name, mx_retain(fused), ref, tol);
    snprintf(name, sizeof name, "%s (fallback)", op);
    conf_check(c, name, mx_retain(fallback), ref, tol);
    if (mx_eval1(fallback) == 0) {
        ref_tensor fb = to_ref(c, fallback);
        snprintf(name, sizeof name, "%s (fused vs fallback)", op);
        conf_check(c, name, mx_retain(fused), &fb, tol);
    }
    mx_free(fused);
    mx_free(fallback);
}

/* ---- norms ---- */

static void ref_norm(const ref_tensor *x, const ref_tensor *w, const ref_tensor *b, double eps, int layer,
                     ref_tensor *out) {
    int64_t d = x->shape[x->ndim - 1], rows = x->size / d;
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x->data + r * d;
        double mean = 0, ss = 0;
        if (layer) {
            for (int64_t j = 0; j < d; j++) mean += xr[j];
            mean /= (double)d;
        }
        for (int64_t j = 0; j < d; j++) ss += (xr[j] - mean) * (xr[j] - mean);
        double inv = 1 / sqrt(ss / (double)d + eps);
        for (int64_t j = 0; j < d; j++)
            out->data[r * d + j] = (xr[j] - mean) * inv * (w ? w->data[j] : 1) + (b ? b->data[j] : 0);
    }
}

static void run_norms(conf_ctx *c) {
    static const int64_t shapes[][3] = {{1, 16}, {7, 64}, {3, 5, 80}, {2, 3, 128}, {129, 0}, {4, 1, 33}};
    static const int nds[] = {2, 2, 3, 3, 1, 3};
    for (int s = 0; s < 6; s++)
        for (int d = 0; d < 4; d++)
            for (int variant = 0; variant < 4; variant++) {
                mx_dtype t = fast_dtypes[d];
                int strided = (s + variant) % 2, layer = variant >= 2, with_w = variant % 2 == 0;
                int with_b = layer && (s % 2 == 0);
                ref_tensor rx, rw, rb;
                mx_array *x = conf_random(c, shapes[s], nds[s], t, -3, 3, strided, &rx);
                int64_t dd = shapes[s][nds[s] - 1];
                mx_array *w = with_w ? conf_random(c, &dd, 1, t, 0.5, 1.5, 0, &rw) : NULL;
                mx_array *b = with_b ? conf_random(c, &dd, 1, t, -1, 1, 0, &rb) : NULL;
                ref_tensor out = conf_ref_alloc(c, rx.shape, rx.ndim);
                float eps = 1e-5f;
                ref_norm(&rx, with_w ? &rw : NULL, with_b ? &rb : NULL, eps, layer, &out);
                if (layer)
                    check_three(c, "layer_norm", mx_fast_layer_norm(x, w, b, eps),
                                mx_fast_layer_norm_fallback(x, w, b, eps), &out, t, 4);
                else
                    check_three(c, "rms_norm", mx_fast_rms_norm(x, w, eps), mx_fast_rms_norm_fallback(x, w, eps),
                                &out, t, 4);
                conf_end_case(c);
            }
    /* mixed dtypes: bf16 x with a float32 weight gives float32 */
    ref_tensor rx, rw;
    mx_array *x = conf_random(c, (int64_t[]){5, 64}, 2, MX_BFLOAT16, -2, 2, 1, &rx);
    mx_array *w = conf_random(c, (int64_t[]){64}, 1, MX_FLOAT32, 0.5, 1.5, 0, &rw);
    ref_tensor out = conf_ref_alloc(c, rx.shape, rx.ndim);
    ref_norm(&rx, &rw, NULL, 1e-6, 0, &out);
    check_three(c, "rms_norm(bf16 x, f32 w)", mx_fast_rms_norm(x, w, 1e-6f), mx_fast_rms_norm_fallback(x, w, 1e-6f),
                &out, MX_FLOAT32, 4);
    conf_end_case(c);
}

/* ---- rope ---- */

typedef struct {
    int dims, traditional;
    double base, scale;
    const double *offsets;   /* one per batch entry, or one */
    int n_offsets;
    const double *freqs;     /* or NULL */
} rope_spec;

static void ref_rope(const ref_tensor *x, const rope_spec *s, ref_tensor *out) {
    int nd = x->ndim;
    int64_t T = x->shape[nd - 2], D = x->shape[nd - 1], rows = x->size / D, per_b = rows / x->shape[0];
    int64_t half = s->dims / 2;
    memcpy(out->data, x->data, sizeof(double) * (size_t)x->size);
    for (int64_t r = 0; r < rows; r++) {
        int64_t t = r % T, b = r / per_b;
        double pos = ((double)t + s->offsets[s->n_offsets > 1 ? b : 0]) * s->scale;
        const double *xr = x->data + r * D;
        double *o = out->data + r * D;
        for (int64_t j = 0; j < half; j++) {
            double inv = s->freqs ? 1 / s->freqs[j] : pow(s->base, -2.0 * (double)j / s->dims);
            double th = pos * inv, cs = cos(th), sn = sin(th);
            int64_t i1 = s->traditional ? 2 * j : j, i2 = s->traditional ? 2 * j + 1 : j + half;
            o[i1] = xr[i1] * cs - xr[i2] * sn;
            o[i2] = xr[i1] * sn + xr[i2] * cs;
        }
    }
}

/* A random [B, H, T, D] array given as the transposed view of a [B, T, H, D] one. */
static mx_array *bhtd_from_bthd(conf_ctx *c, const int64_t *bhtd, mx_dtype t, double lo, double hi,
                                ref_tensor *ref) {
    int64_t B = bhtd[0], H = bhtd[1], T = bhtd[2], D = bhtd[3];
    ref_tensor r;
    mx_array *a = conf_random(c, (int64_t[]){B, T, H, D}, 4, t, lo, hi, 0, &r);
    *ref = conf_ref_alloc(c, bhtd, 4);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T; i++)
                memcpy(ref->data + ((b * H + h) * T + i) * D, r.data + ((b * T + i) * H + h) * D,
                       sizeof(double) * (size_t)D);
    return mx_transpose(a, (int[]){0, 2, 1, 3}, 4);   /* caller frees */
}

static void run_rope(conf_ctx *c) {
    static const int64_t shapes[][5] = {{1, 1, 1, 16}, {2, 3, 7, 64}, {1, 4, 33, 80}, {2, 2, 13, 128},
                                        {2, 7, 64},    {2, 2, 3, 5, 16}};
    static const int nds[] = {4, 4, 4, 4, 3, 5};
    static const double offs0[1] = {0}, offs17[1] = {17}, offs_b[2] = {3, 17};
    int k = 0;
    for (int s = 0; s < 6; s++)
        for (int d = 0; d < 4; d++)
            for (int variant = 0; variant < 8; variant++, k++) {
                mx_dtype t = fast_dtypes[d];
                int nd = nds[s];
                int64_t D = shapes[s][nd - 1], B = shapes[s][0];
                rope_spec sp = {0};
                sp.traditional = variant % 2;
                sp.dims = (variant / 2) % 2 ? (int)D / 2 : (int)D;   /* dims < head_dim leaves the tail */
                if (sp.dims % 2) sp.dims -= 1;
                sp.base = variant >= 4 ? 500000.0 : 10000.0;
                sp.scale = variant % 3 == 2 ? 0.5 : 1.0;
                int mode = k % 3;   /* 0: int offset 0, 1: int offset 17, 2: per-batch array offsets */
                sp.offsets = mode == 0 ? offs0 : mode == 1 ? offs17 : (B == 2 ? offs_b : offs17);
                sp.n_offsets = mode == 2 && B == 2 ? 2 : 1;
                int use_freqs = k % 5 == 4;
                double fr[64];
                ref_tensor rx, rf;
                mx_array *x, *view = NULL, *freqs = NULL;
                if (nd == 4 && k % 2) x = view = bhtd_from_bthd(c, shapes[s], t, -2, 2, &rx);
                else x = conf_random(c, shapes[s], nd, t, -2, 2, (k / 2) % 2, &rx);
                if (use_freqs) {
                    freqs = conf_random(c, (int64_t[]){sp.dims / 2}, 1, MX_FLOAT32, 1, 50, 0, &rf);
                    for (int j = 0; j < sp.dims / 2; j++) fr[j] = rf.data[j];
                    sp.freqs = fr;
                }
                ref_tensor out = conf_ref_alloc(c, rx.shape, rx.ndim);
                ref_rope(&rx, &sp, &out);
                int32_t ov[2] = {(int32_t)sp.offsets[0], (int32_t)sp.offsets[sp.n_offsets - 1]};
                mx_array *off = sp.n_offsets > 1 ? mx_array_from_data(ov, (int64_t[]){2}, 1, MX_INT32)
                                                 : mx_scalar_int(ov[0], MX_INT32);
                mx_array *fused = mode == 2 ? mx_fast_rope_dynamic(x, sp.dims, sp.traditional, (float)sp.base,
                                                                   (float)sp.scale, off, freqs)
                                            : mx_fast_rope(x, sp.dims, sp.traditional, (float)sp.base,
                                                           (float)sp.scale, (int64_t)ov[0], freqs);
                mx_array *fb = mx_fast_rope_fallback(x, sp.dims, sp.traditional, (float)sp.base, (float)sp.scale, off,
                                                     freqs);
                char name[64];
                snprintf(name, sizeof name, "rope(dims %d%s%s%s)", sp.dims, sp.traditional ? ", traditional" : "",
                         mode == 2 ? ", array offset" : mode == 1 ? ", offset 17" : "", use_freqs ? ", freqs" : "");
                /* float32 angles: positions up to ~80 radians lose ~1e-5 in float32 */
                check_three(c, name, fused, fb, &out, t, t == MX_FLOAT32 ? 8 : 2);
                mx_free(off);
                mx_free(view);
                conf_end_case(c);
            }
}

/* ---- scaled dot-product attention ---- */

typedef struct {
    int mode;                 /* mx_sdpa_mask */
    const ref_tensor *mask;   /* broadcast to [B, Hq, Lq, Lk] */
    int mask_bool;
    const ref_tensor *sinks;
    double scale;
} sdpa_spec;

static void ref_sdpa(const ref_tensor *q, const ref_tensor *k, const ref_tensor *v, const sdpa_spec *s,
                     ref_tensor *out) {
    int64_t B = q->shape[0], Hq = q->shape[1], Lq = q->shape[2], D = q->shape[3];
    int64_t Hkv = k->shape[1], Lk = k->shape[2], Dv = v->shape[3], rep = Hq / Hkv;
    double *sc = malloc(sizeof(double) * (size_t)(Lk + 1));
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < Lq; i++) {
                int64_t hk = h / rep;
                const double *qr = q->data + ((b * Hq + h) * Lq + i) * D;
                double m = s->sinks ? s->sinks->data[h] : -INFINITY;
                for (int64_t j = 0; j < Lk; j++) {
                    const double *kr = k->data + ((b * Hkv + hk) * Lk + j) * D;
                    double dot = 0;
                    for (int64_t e = 0; e < D; e++) dot += qr[e] * kr[e];
                    dot *= s->scale;
                    if (s->mode == MX_SDPA_CAUSAL && j > i + Lk - Lq) dot = -1e300;
                    if (s->mask) {
                        int64_t idx[4] = {b, h, i, j};
                        double mv = conf_ref_at_broadcast(s->mask, 4, idx);
                        if (s->mask_bool) dot = mv != 0 ? dot : -1e300;
                        else dot += mv;
                    }
                    sc[j] = dot;
                    m = dot > m ? dot : m;
                }
                double sum = s->sinks ? exp(s->sinks->data[h] - m) : 0;
                for (int64_t j = 0; j < Lk; j++) sum += (sc[j] = exp(sc[j] - m));
                double *o = out->data + ((b * Hq + h) * Lq + i) * Dv;
                for (int64_t e = 0; e < Dv; e++) o[e] = 0;
                for (int64_t j = 0; j < Lk; j++) {
                    const double *vr = v->data + ((b * Hkv + hk) * Lk + j) * Dv;
                    for (int64_t e = 0; e < Dv; e++) o[e] += sc[j] / sum * vr[e];
                }
            }
    free(sc);
}

static void run_sdpa_case(conf_ctx *c, mx_dtype t, int64_t B, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk,
                          int64_t D, int mode, int mask_kind, int with_sinks, int strided) {
    ref_tensor rq, rk, rv, rm, rs;
    mx_array *views[3] = {0};
    mx_array *q, *k, *v;
    if (strided) {
        q = views[0] = bhtd_from_bthd(c, (int64_t[]){B, Hq, Lq, D}, t, -1.5, 1.5, &rq);
        k = views[1] = bhtd_from_bthd(c, (int64_t[]){B, Hkv, Lk, D}, t, -1.5, 1.5, &rk);
        v = views[2] = bhtd_from_bthd(c, (int64_t[]){B, Hkv, Lk, D}, t, -2, 2, &rv);
    } else {
        q = conf_random(c, (int64_t[]){B, Hq, Lq, D}, 4, t, -1.5, 1.5, 0, &rq);
        k = conf_random(c, (int64_t[]){B, Hkv, Lk, D}, 4, t, -1.5, 1.5, 0, &rk);
        v = conf_random(c, (int64_t[]){B, Hkv, Lk, D}, 4, t, -2, 2, 0, &rv);
    }
    mx_array *mask = NULL, *sinks = NULL;
    sdpa_spec sp = {mode, NULL, 0, NULL, 1 / sqrt((double)D)};
    if (mode == MX_SDPA_ARRAY) {
        /* mask_kind 0: bool [Lq, Lk]; 1: bool [B, Hq, Lq, Lk]; 2: additive [1, Hq, Lq, Lk] */
        if (mask_kind == 0) mask = conf_random(c, (int64_t[]){Lq, Lk}, 2, MX_BOOL, 0, 1, 0, &rm);
        else if (mask_kind == 1) mask = conf_random(c, (int64_t[]){B, Hq, Lq, Lk}, 4, MX_BOOL, 0, 1, 0, &rm);
        else mask = conf_random(c, (int64_t[]){1, Hq, Lq, Lk}, 4, t, -4, 1, 0, &rm);
        sp.mask = &rm;
        sp.mask_bool = mask_kind < 2;
    }
    if (with_sinks) {
        sinks = conf_random(c, (int64_t[]){Hq}, 1, t, -2, 3, 0, &rs);
        sp.sinks = &rs;
    }
    ref_tensor out = conf_ref_alloc(c, (int64_t[]){B, Hq, Lq, D}, 4);
    ref_sdpa(&rq, &rk, &rv, &sp, &out);
    char name[128];
    snprintf(name, sizeof name, "sdpa(Hq %lld/Hkv %lld, Lq %lld, Lk %lld, D %lld, %s%s%s)", (long long)Hq,
             (long long)Hkv, (long long)Lq, (long long)Lk, (long long)D,
             mode == MX_SDPA_CAUSAL ? "causal" : mode == MX_SDPA_ARRAY ? (mask_kind < 2 ? "bool mask" : "additive mask")
                                                                        : "no mask",
             with_sinks ? ", sinks" : "", strided ? ", strided" : "");
    check_three(c, name,
                mx_fast_scaled_dot_product_attention(q, k, v, (float)sp.scale, (mx_sdpa_mask)mode, mask, sinks),
                mx_fast_sdpa_fallback(q, k, v, (float)sp.scale, (mx_sdpa_mask)mode, mask, sinks), &out, t,
                t == MX_FLOAT32 ? 8 : 2);
    for (int i = 0; i < 3; i++) mx_free(views[i]);
    conf_end_case(c);
}

static void run_sdpa(conf_ctx *c) {
    static const int64_t dims[] = {16, 64, 80, 128};
    static const int64_t lqs[] = {1, 7, 33}, lks[] = {1, 13, 64};
    static const int64_t heads[][2] = {{8, 2}, {4, 4}, {6, 1}};
    int k = 0;
    for (int di = 0; di < 4; di++)
        for (int qi = 0; qi < 3; qi++)
            for (int ki = 0; ki < 3; ki++)
                for (int hi = 0; hi < 3; hi++, k++) {
                    int mode = k % 3, mask_kind = (k / 3) % 3, sinks = (k / 2) % 3 == 0, strided = (k / 5) % 2;
                    mx_dtype t = fast_dtypes[k % 3];
                    int64_t B = k % 4 == 1 ? 2 : 1;
                    run_sdpa_case(c, t, B, heads[hi][0], heads[hi][1], lqs[qi], lks[ki], dims[di], mode, mask_kind,
                                  sinks, strided);
                }
    /* every mask mode x sinks x dtype (float64 too) on one shape */
    for (int d = 0; d < 4; d++)
        for (int mode = 0; mode < 3; mode++)
            for (int mk = 0; mk < (mode == MX_SDPA_ARRAY ? 3 : 1); mk++)
                for (int s = 0; s < 2; s++)
                    run_sdpa_case(c, fast_dtypes[d], 2, 4, 2, 7, 13, 64, mode, mk, s, (d + mode + s) % 2);
    /* decode-like: Lq 1 against a long cache; prefill: Lq == Lk, causal */
    run_sdpa_case(c, MX_BFLOAT16, 1, 8, 2, 1, 300, 64, MX_SDPA_CAUSAL, 0, 0, 1);
    run_sdpa_case(c, MX_FLOAT32, 1, 8, 2, 70, 70, 64, MX_SDPA_CAUSAL, 0, 1, 1);
    run_sdpa_case(c, MX_FLOAT16, 1, 4, 4, 129, 129, 80, MX_SDPA_CAUSAL, 0, 0, 0);
    /* 2-4 query rows take the streaming (no GEMM) path, incl. rows that see no key */
    for (int d = 0; d < 3; d++) {
        run_sdpa_case(c, fast_dtypes[d], 2, 6, 2, 3, 13, 64, MX_SDPA_CAUSAL, 0, d == 1, 1);
        run_sdpa_case(c, fast_dtypes[d], 1, 8, 2, 4, 2, 16, MX_SDPA_CAUSAL, 0, d == 2, 0);
        run_sdpa_case(c, fast_dtypes[d], 2, 4, 1, 2, 37, 80, MX_SDPA_ARRAY, d, d != 1, d % 2);
    }
}

void conf_family_fast(conf_ctx *c) {
    run_norms(c);
    run_rope(c);
    run_sdpa(c);
}
