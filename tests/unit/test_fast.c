/* Fused fast ops: edge cases and error messages (the value sweeps are in
 * tests/conformance/cases_fast.c). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmlx/cmlx.h"
#include "test.h"

static mx_array *rand_array(const int64_t *shape, int ndim, mx_dtype t, uint64_t seed) {
    return mx_random_uniform(-1, 1, shape, ndim, t, mx_random_key(seed));
}

/* max |a - b| over all elements (read as double), or INFINITY when either fails. */
static double max_diff(mx_array *a, mx_array *b) {
    if (!a || !b || mx_size(a) != mx_size(b)) return INFINITY;
    int64_t n = mx_size(a);
    double *x = malloc((size_t)(n ? n : 1) * 8), *y = malloc((size_t)(n ? n : 1) * 8), m = 0;
    if (mx_read(a, MX_FLOAT64, x) || mx_read(b, MX_FLOAT64, y)) m = INFINITY;
    for (int64_t i = 0; i < n && m != INFINITY; i++) {
        double d = fabs(x[i] - y[i]);
        if (!(d <= m)) m = isnan(d) ? INFINITY : d;
    }
    free(x);
    free(y);
    return m;
}

static int has_error(const char *s1, const char *s2) {
    const char *e = mx_last_error();
    return e && strstr(e, s1) && (!s2 || strstr(e, s2));
}

static void test_norm_edges(void) {
    mx_pool *p = mx_pool_begin();
    /* a constant row: layer_norm gives exactly 0 + bias, not NaN */
    mx_array *x = mx_full((int64_t[]){2, 8}, 2, 3.0, MX_FLOAT32);
    mx_array *b = mx_full((int64_t[]){8}, 1, 0.5, MX_FLOAT32);
    float out[16];
    CHECK(mx_read(mx_fast_layer_norm(x, NULL, b, 1e-5f), MX_FLOAT32, out) == 0 && out[0] == 0.5f && out[15] == 0.5f);
    /* rms_norm of a zero row is zero (eps keeps it finite) */
    CHECK(mx_read(mx_fast_rms_norm(mx_zeros((int64_t[]){2, 8}, 2, MX_BFLOAT16), NULL, 1e-6f), MX_FLOAT32, out) == 0 &&
          out[3] == 0);
    /* rms_norm of [3, 4] * w: x / sqrt(12.5) */
    float v[2] = {3, 4}, w[2] = {2, -1};
    mx_array *r = mx_fast_rms_norm(mx_array_from_data(v, (int64_t[]){1, 2}, 2, MX_FLOAT32),
                                   mx_array_from_data(w, (int64_t[]){2}, 1, MX_FLOAT32), 0.0f);
    CHECK(mx_read(r, MX_FLOAT32, out) == 0 && fabsf(out[0] - 6 / sqrtf(12.5f)) < 1e-6f &&
          fabsf(out[1] + 4 / sqrtf(12.5f)) < 1e-6f);
    /* dtypes: bf16 stays bf16; bf16 with a float32 weight gives float32 */
    mx_array *xb = rand_array((int64_t[]){3, 16}, 2, MX_BFLOAT16, 1);
    CHECK(mx_array_dtype(mx_fast_rms_norm(xb, NULL, 1e-5f)) == MX_BFLOAT16);
    CHECK(mx_array_dtype(mx_fast_rms_norm(xb, mx_ones((int64_t[]){16}, 1, MX_FLOAT32), 1e-5f)) == MX_FLOAT32);
    /* empty rows */
    mx_array *e = mx_fast_rms_norm(mx_zeros((int64_t[]){0, 16}, 2, MX_FLOAT32), NULL, 1e-5f);
    CHECK(e && mx_eval1(e) == 0 && mx_size(e) == 0);
    /* errors */
    CHECK(mx_fast_rms_norm(mx_scalar(1, MX_FLOAT32), NULL, 1e-5f) == NULL && has_error("[rms_norm]", "dimension"));
    CHECK(mx_fast_rms_norm(xb, mx_ones((int64_t[]){8}, 1, MX_BFLOAT16), 1e-5f) == NULL &&
          has_error("[rms_norm] weight", "bfloat16[8]"));
    CHECK(mx_fast_layer_norm(xb, NULL, mx_ones((int64_t[]){2, 16}, 2, MX_BFLOAT16), 1e-5f) == NULL &&
          has_error("[layer_norm] bias", "[2, 16]"));
    CHECK(mx_fast_rms_norm(mx_ones((int64_t[]){2, 4}, 2, MX_INT32), NULL, 1e-5f) == NULL &&
          has_error("[rms_norm]", "int32"));
    mx_set_error("sentinel");
    CHECK(mx_fast_rms_norm(NULL, NULL, 1e-5f) == NULL && has_error("sentinel", NULL));
    mx_pool_end(p);
}

static void test_rope_edges(void) {
    mx_pool *p = mx_pool_begin();
    /* dims < head_dim: the tail is copied bit for bit */
    mx_array *x = rand_array((int64_t[]){1, 2, 5, 32}, 4, MX_BFLOAT16, 2);
    mx_array *r = mx_fast_rope(x, 16, 0, 10000.0f, 1.0f, 3, NULL);
    mx_array *tail_in = mx_slice_axis(x, 3, 16, 32), *tail_out = mx_slice_axis(r, 3, 16, 32);
    CHECK(max_diff(tail_in, tail_out) == 0);
    CHECK(max_diff(mx_slice_axis(x, 3, 0, 16), mx_slice_axis(r, 3, 0, 16)) > 0);
    /* position 0 is the identity */
    mx_array *x1 = rand_array((int64_t[]){2, 1, 1, 64}, 4, MX_FLOAT32, 3);
    CHECK(max_diff(mx_fast_rope(x1, 64, 1, 10000.0f, 1.0f, 0, NULL), x1) == 0);
    /* decoding token t alone at offset t matches row t of the whole sequence */
    mx_array *seq = rand_array((int64_t[]){1, 4, 9, 64}, 4, MX_FLOAT32, 4);
    mx_array *all = mx_fast_rope(seq, 64, 0, 10000.0f, 1.0f, 0, NULL);
    for (int t = 0; t < 9; t += 4) {
        mx_array *one = mx_fast_rope(mx_slice_axis(seq, 2, t, t + 1), 64, 0, 10000.0f, 1.0f, t, NULL);
        CHECK_MSG(max_diff(one, mx_slice_axis(all, 2, t, t + 1)) < 1e-6, "position %d", t);
    }
    /* per-batch offsets: batch b behaves as an integer offset off[b] */
    int32_t offs[2] = {5, 11};
    mx_array *xb = rand_array((int64_t[]){2, 3, 4, 16}, 4, MX_FLOAT16, 5);
    mx_array *dyn = mx_fast_rope_dynamic(xb, 16, 1, 10000.0f, 1.0f, mx_array_from_data(offs, (int64_t[]){2}, 1, MX_INT32),
                                         NULL);
    for (int b = 0; b < 2; b++) {
        mx_array *xb1 = mx_slice_axis(xb, 0, b, b + 1);
        CHECK(max_diff(mx_slice_axis(dyn, 0, b, b + 1), mx_fast_rope(xb1, 16, 1, 10000.0f, 1.0f, offs[b], NULL)) == 0);
    }
    /* an int64 scalar offset array is accepted (converted) */
    CHECK(max_diff(mx_fast_rope_dynamic(xb, 16, 0, 10000.0f, 1.0f, mx_scalar_int(7, MX_INT64), NULL),
                   mx_fast_rope(xb, 16, 0, 10000.0f, 1.0f, 7, NULL)) == 0);
    /* freqs = base^(2i/dims) is the same as base */
    float fr[8];
    for (int i = 0; i < 8; i++) fr[i] = powf(10000.0f, 2.0f * (float)i / 16.0f);
    mx_array *f = mx_array_from_data(fr, (int64_t[]){8}, 1, MX_FLOAT32);
    mx_array *xf = rand_array((int64_t[]){1, 2, 6, 16}, 4, MX_FLOAT32, 6);
    CHECK(max_diff(mx_fast_rope(xf, 16, 0, 1.0f, 1.0f, 4, f), mx_fast_rope(xf, 16, 0, 10000.0f, 1.0f, 4, NULL)) < 1e-5);
    /* errors */
    CHECK(mx_fast_rope(mx_zeros((int64_t[]){4, 16}, 2, MX_FLOAT32), 16, 0, 1e4f, 1, 0, NULL) == NULL &&
          has_error("[rope]", "3 dimensions"));
    CHECK(mx_fast_rope(xf, 15, 0, 1e4f, 1, 0, NULL) == NULL && has_error("[rope] dims", "15"));
    CHECK(mx_fast_rope(xf, 18, 0, 1e4f, 1, 0, NULL) == NULL && has_error("[rope] dims", "18"));
    CHECK(mx_fast_rope(xf, 16, 0, 1e4f, 1, 0, mx_ones((int64_t[]){4}, 1, MX_FLOAT32)) == NULL &&
          has_error("[rope] freqs", "[8]"));
    CHECK(mx_fast_rope_dynamic(xf, 16, 0, 1e4f, 1, mx_zeros((int64_t[]){3}, 1, MX_INT32), NULL) == NULL &&
          has_error("[rope] offset", "int32[3]"));
    CHECK(mx_fast_rope_dynamic(xf, 16, 0, 1e4f, 1, mx_zeros((int64_t[]){1}, 1, MX_FLOAT32), NULL) == NULL &&
          has_error("[rope] offset", "float32"));
    CHECK(mx_fast_rope(xf, 16, 0, 1e4f, 1, (int64_t)1 << 40, NULL) == NULL && has_error("[rope] offset", "int32"));
    CHECK(mx_fast_rope(mx_zeros((int64_t[]){1, 2, 3, 4}, 4, MX_INT32), 4, 0, 1e4f, 1, 0, NULL) == NULL);
    mx_pool_end(p);
}

static void test_sdpa_edges(void) {
    mx_pool *p = mx_pool_begin();
    int64_t B = 2, Hq = 6, Hkv = 2, Lq = 5, Lk = 9, D = 16;
    mx_array *q = rand_array((int64_t[]){B, Hq, Lq, D}, 4, MX_FLOAT32, 10);
    mx_array *k = rand_array((int64_t[]){B, Hkv, Lk, D}, 4, MX_FLOAT32, 11);
    mx_array *v = rand_array((int64_t[]){B, Hkv, Lk, D}, 4, MX_FLOAT32, 12);
    float scale = 0.25f;
    /* grouped-query attention = attention with k/v repeated per query head */
    mx_array *kr = mx_repeat(k, Hq / Hkv, 1), *vr = mx_repeat(v, Hq / Hkv, 1);
    mx_array *gqa = mx_fast_scaled_dot_product_attention(q, k, v, scale, MX_SDPA_CAUSAL, NULL, NULL);
    mx_array *mha = mx_fast_scaled_dot_product_attention(q, kr, vr, scale, MX_SDPA_CAUSAL, NULL, NULL);
    CHECK(gqa && mha && max_diff(gqa, mha) < 1e-6);
    /* causal = the boolean mask j <= i + Lk - Lq (lower-right aligned) */
    mx_array *tri = mx_astype(mx_tri(Lq, Lk, (int)(Lk - Lq), MX_FLOAT32), MX_BOOL);
    mx_array *masked = mx_fast_scaled_dot_product_attention(q, k, v, scale, MX_SDPA_ARRAY, tri, NULL);
    CHECK(max_diff(gqa, masked) < 1e-6);
    /* a boolean mask = the additive mask 0 / -inf */
    mx_array *add = mx_where(tri, mx_scalar(0, MX_FLOAT32), mx_scalar(-INFINITY, MX_FLOAT32));
    CHECK(max_diff(masked, mx_fast_scaled_dot_product_attention(q, k, v, scale, MX_SDPA_ARRAY, add, NULL)) < 1e-6);
    /* a row whose keys are all masked averages V uniformly (as the fallback's finfo.min
     * fill); with a sink it is 0 */
    mx_array *none = mx_zeros((int64_t[]){Lq, Lk}, 2, MX_BOOL);
    mx_array *u = mx_fast_scaled_dot_product_attention(q, k, v, scale, MX_SDPA_ARRAY, none, NULL);
    mx_array *vmean = mx_mean(mx_repeat(v, Hq / Hkv, 1), (int[]){2}, 1, 1);
    CHECK(max_diff(u, mx_broadcast_to(vmean, (int64_t[]){B, Hq, Lq, D}, 4)) < 1e-6);
    CHECK(max_diff(u, mx_fast_sdpa_fallback(q, k, v, scale, MX_SDPA_ARRAY, none, NULL)) < 1e-6);
    mx_array *sinks = rand_array((int64_t[]){Hq}, 1, MX_FLOAT32, 13);
    mx_array *z = mx_fast_scaled_dot_product_attention(q, k, v, scale, MX_SDPA_ARRAY, none, sinks);
    CHECK(max_diff(z, mx_zeros((int64_t[]){B, Hq, Lq, D}, 4, MX_FLOAT32)) == 0);
    /* causal with Lq > Lk: the first Lq - Lk rows see no key */
    mx_array *qlong = rand_array((int64_t[]){1, 2, 12, D}, 4, MX_FLOAT32, 14);
    mx_array *k1 = mx_slice_axis(k, 0, 0, 1), *v1 = mx_slice_axis(v, 0, 0, 1);
    CHECK(max_diff(mx_fast_scaled_dot_product_attention(qlong, k1, v1, scale, MX_SDPA_CAUSAL, NULL, sinks ? NULL : NULL),
                   mx_fast_sdpa_fallback(qlong, k1, v1, scale, MX_SDPA_CAUSAL, NULL, NULL)) < 1e-6);
    /* sinks: a very negative sink changes nothing; a sink only lowers the weights */
    mx_array *neg = mx_full((int64_t[]){Hq}, 1, -1e4, MX_FLOAT32);
    CHECK(max_diff(mx_fast_scaled_dot_product_attention(q, k, v, scale, MX_SDPA_CAUSAL, NULL, neg), gqa) < 1e-6);
    /* bf16 in, bf16 out; float64 goes through the fallback and keeps float64 */
    mx_array *qb = mx_astype(q, MX_BFLOAT16), *kb = mx_astype(k, MX_BFLOAT16), *vb = mx_astype(v, MX_BFLOAT16);
    mx_array *ob = mx_fast_scaled_dot_product_attention(qb, kb, vb, scale, MX_SDPA_NO_MASK, NULL, NULL);
    CHECK(ob && mx_array_dtype(ob) == MX_BFLOAT16);
    mx_array *od = mx_fast_scaled_dot_product_attention(mx_astype(q, MX_FLOAT64), mx_astype(k, MX_FLOAT64),
                                                        mx_astype(v, MX_FLOAT64), scale, MX_SDPA_NO_MASK, NULL, NULL);
    CHECK(od && mx_array_dtype(od) == MX_FLOAT64 &&
          max_diff(od, mx_fast_scaled_dot_product_attention(q, k, v, scale, MX_SDPA_NO_MASK, NULL, NULL)) < 1e-5);
    /* v with another head_dim */
    mx_array *v32 = rand_array((int64_t[]){B, Hkv, Lk, 32}, 4, MX_FLOAT32, 15);
    mx_array *o32 = mx_fast_scaled_dot_product_attention(q, k, v32, scale, MX_SDPA_NO_MASK, NULL, NULL);
    CHECK(o32 && mx_dim(o32, 3) == 32 &&
          max_diff(o32, mx_fast_sdpa_fallback(q, k, v32, scale, MX_SDPA_NO_MASK, NULL, NULL)) < 1e-6);
    /* a long cache (score blocks smaller than Lq) */
    mx_array *qL = rand_array((int64_t[]){1, 8, 40, 64}, 4, MX_FLOAT32, 16);
    mx_array *kL = rand_array((int64_t[]){1, 2, 20000, 64}, 4, MX_FLOAT32, 17);
    mx_array *vL = rand_array((int64_t[]){1, 2, 20000, 64}, 4, MX_FLOAT32, 18);
    CHECK(max_diff(mx_fast_scaled_dot_product_attention(qL, kL, vL, 0.125f, MX_SDPA_CAUSAL, NULL, NULL),
                   mx_fast_sdpa_fallback(qL, kL, vL, 0.125f, MX_SDPA_CAUSAL, NULL, NULL)) < 1e-5);
    /* errors */
    mx_array *k3 = mx_reshape(k, (int64_t[]){B * Hkv, Lk, D}, 3);
    CHECK(mx_fast_scaled_dot_product_attention(q, k3, v, scale, MX_SDPA_NO_MASK, NULL, NULL) == NULL &&
          has_error("[scaled_dot_product_attention]", "4-D"));
    mx_array *k4 = rand_array((int64_t[]){B, 4, Lk, D}, 4, MX_FLOAT32, 19);
    CHECK(mx_fast_scaled_dot_product_attention(q, k4, k4, scale, MX_SDPA_NO_MASK, NULL, NULL) == NULL &&
          has_error("[scaled_dot_product_attention]", "multiple"));
    CHECK(mx_fast_scaled_dot_product_attention(q, k, v, scale, MX_SDPA_CAUSAL, tri, NULL) == NULL &&
          has_error("[scaled_dot_product_attention]", "causal"));
    CHECK(mx_fast_scaled_dot_product_attention(q, k, v, scale, MX_SDPA_ARRAY, mx_zeros((int64_t[]){Lq, 3}, 2, MX_BOOL),
                                               NULL) == NULL &&
          has_error("[scaled_dot_product_attention] mask", "bool[5, 3]"));
    CHECK(mx_fast_scaled_dot_product_attention(qb, kb, vb, scale, MX_SDPA_ARRAY, add, NULL) == NULL &&
          has_error("[scaled_dot_product_attention]", "promote"));
    CHECK(mx_fast_scaled_dot_product_attention(q, k, v, scale, MX_SDPA_NO_MASK, NULL,
                                               mx_zeros((int64_t[]){Hkv}, 1, MX_FLOAT32)) == NULL &&
          has_error("[scaled_dot_product_attention] sinks", "float32[2]"));
    CHECK(mx_fast_scaled_dot_product_attention(q, k, v, scale, (mx_sdpa_mask)7, NULL, NULL) == NULL &&
          has_error("[scaled_dot_product_attention]", "mask mode"));
    mx_set_error("sentinel");
    CHECK(mx_fast_scaled_dot_product_attention(q, NULL, v, scale, MX_SDPA_NO_MASK, NULL, NULL) == NULL &&
          has_error("sentinel", NULL));
    mx_pool_end(p);
}

/* Timings (printed, not asserted): fused kernel vs fallback on model-sized attention. */
static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void time_sdpa(const char *what, int64_t Lq, int64_t Lk, mx_dtype t) {
    mx_pool *p = mx_pool_begin();
    mx_array *q = rand_array((int64_t[]){1, 32, Lq, 128}, 4, t, 20);
    mx_array *k = rand_array((int64_t[]){1, 8, Lk, 128}, 4, t, 21);
    mx_array *v = rand_array((int64_t[]){1, 8, Lk, 128}, 4, t, 22);
    mx_array *in[3] = {q, k, v};
    mx_eval(in, 3);
    double best[2] = {1e9, 1e9};
    for (int rep = 0; rep < 3; rep++)
        for (int f = 0; f < 2; f++) {
            double t0 = seconds();
            mx_array *o = f ? mx_fast_sdpa_fallback(q, k, v, 0.088f, MX_SDPA_CAUSAL, NULL, NULL)
                            : mx_fast_scaled_dot_product_attention(q, k, v, 0.088f, MX_SDPA_CAUSAL, NULL, NULL);
            CHECK(o && mx_eval1(o) == 0);
            double dt = seconds() - t0;
            best[f] = dt < best[f] ? dt : best[f];
        }
    printf("sdpa %s (%s, Hq 32, Hkv 8, D 128, Lq %lld, Lk %lld): fused %.3f ms, fallback %.3f ms\n", what,
           mx_dtype_name(t), (long long)Lq, (long long)Lk, best[0] * 1e3, best[1] * 1e3);
    mx_pool_end(p);
}

static void time_norm_rope(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *x = rand_array((int64_t[]){512, 4096}, 2, MX_BFLOAT16, 30);
    mx_array *w = rand_array((int64_t[]){4096}, 1, MX_BFLOAT16, 31);
    mx_array *xr = rand_array((int64_t[]){1, 512, 32, 128}, 4, MX_BFLOAT16, 32);
    mx_array *q = mx_transpose(xr, (int[]){0, 2, 1, 3}, 4);   /* as a model's q: strided */
    mx_array *off = mx_scalar_int(100, MX_INT32);
    mx_array *in[3] = {x, w, xr};
    mx_eval(in, 3);
    const char *names[4] = {"rms_norm bf16 [512, 4096]", "layer_norm bf16 [512, 4096]",
                            "rope bf16 [1, 32, 512, 128] (transposed view)", "rope traditional, same"};
    for (int op = 0; op < 4; op++) {
        double best[2] = {1e9, 1e9};
        for (int rep = 0; rep < 3; rep++)
            for (int f = 0; f < 2; f++) {
                double t0 = seconds();
                mx_array *o;
                switch (op) {
                case 0: o = f ? mx_fast_rms_norm_fallback(x, w, 1e-5f) : mx_fast_rms_norm(x, w, 1e-5f); break;
                case 1: o = f ? mx_fast_layer_norm_fallback(x, w, w, 1e-5f) : mx_fast_layer_norm(x, w, w, 1e-5f); break;
                default:
                    o = f ? mx_fast_rope_fallback(q, 128, op == 3, 10000.0f, 1.0f, off, NULL)
                          : mx_fast_rope(q, 128, op == 3, 10000.0f, 1.0f, 100, NULL);
                    break;
                }
                CHECK(o && mx_eval1(o) == 0);
                double dt = seconds() - t0;
                best[f] = dt < best[f] ? dt : best[f];
            }
        printf("%s: fused %.3f ms, fallback %.3f ms\n", names[op], best[0] * 1e3, best[1] * 1e3);
    }
    mx_pool_end(p);
}

int main(void) {
    test_norm_edges();
    test_rope_edges();
    test_sdpa_edges();
    if (getenv("CMLX_FAST_TIMINGS")) {
        time_sdpa("decode", 1, 4096, MX_BFLOAT16);
        time_sdpa("prefill", 512, 512, MX_BFLOAT16);
        time_sdpa("prefill", 512, 512, MX_FLOAT32);
        time_norm_rope();
    }
    return test_finish();
}
