/* Conformance cases: random numbers. The reference recomputes every draw on the host from
 * the key with Threefry-2x32-20 in MLX's layout (ops/random.h), then applies each
 * distribution's construction in float64: bits exactly, uniform/normal/gumbel/truncated
 * normal within the dtype's tolerance, bernoulli and randint exactly; every float dtype,
 * odd shapes, keys from the run's seed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "ops/random.h"

static const int64_t shapes[][3] = {{1}, {7}, {3, 5}, {2, 3, 17}, {129}, {1000}};
static const int nds[] = {1, 1, 2, 3, 1, 1};
#define N_SHAPES 6

/* The bytes a key produces for `bytes` bytes of output (the kernel's layout, restated). */
static void host_bytes(uint32_t k0, uint32_t k1, unsigned char *dst, int64_t bytes) {
    int64_t words = (bytes + 3) / 4, half = words / 2, odd = words % 2;
    uint32_t *w = calloc((size_t)words + 1, 4), r[2];
    for (int64_t j = 0; j < half; j++) {
        mx_threefry2x32(k0, k1, (uint32_t)j, (uint32_t)(half + odd + j), r);
        w[j] = r[0];
        w[half + odd + j] = r[1];
    }
    if (odd) {
        mx_threefry2x32(k0, k1, (uint32_t)half, 0, r);
        w[half] = r[0];
    }
    memcpy(dst, w, (size_t)bytes);
    free(w);
}

static uint32_t *host_u32(uint32_t k0, uint32_t k1, int64_t n) {
    uint32_t *b = malloc((size_t)(n ? n : 1) * 4);
    host_bytes(k0, k1, (unsigned char *)b, n * 4);
    return b;
}

/* MLX's uniform step before the dtype conversion: min(bits / 2^32 in float32, upper). */
static double unit_float(uint32_t bits, mx_dtype t) {
    float upper = t == MX_FLOAT16 ? 0.99951171875f : t == MX_BFLOAT16 ? 0.99609375f : nextafterf(1.0f, 0.0f);
    float v = (float)bits / 4294967296.0f;
    return v > upper ? upper : v;
}

static void new_key(conf_ctx *c, uint32_t k[2], mx_array **key) {
    k[0] = (uint32_t)(conf_uniform(c) * 4294967296.0);
    k[1] = (uint32_t)(conf_uniform(c) * 4294967296.0);
    *key = mx_array_from_data(k, (int64_t[]){2}, 1, MX_UINT32);
}

static void run_bits(conf_ctx *c) {
    const int widths[] = {1, 2, 4};
    for (int s = 0; s < N_SHAPES; s++)
        for (int w = 0; w < 3; w++) {
            uint32_t k[2];
            mx_array *key;
            new_key(c, k, &key);
            ref_tensor ref = conf_ref_alloc(c, shapes[s], nds[s]);
            unsigned char *b = malloc((size_t)(ref.size * widths[w]));
            host_bytes(k[0], k[1], b, ref.size * widths[w]);
            for (int64_t i = 0; i < ref.size; i++)
                ref.data[i] = widths[w] == 1 ? b[i] : widths[w] == 2 ? ((uint16_t *)b)[i] : ((uint32_t *)b)[i];
            free(b);
            conf_check_exact(c, "random_bits", mx_random_bits(shapes[s], nds[s], widths[w], key), &ref);
            /* split(key, n) is bits of shape [n, 2] */
            int n = 1 + s;
            ref_tensor kr = conf_ref_alloc(c, (int64_t[]){n, 2}, 2);
            uint32_t *kb = host_u32(k[0], k[1], 2 * n);
            for (int i = 0; i < 2 * n; i++) kr.data[i] = kb[i];
            free(kb);
            conf_check_exact(c, "random_split", mx_random_split(key, n), &kr);
            mx_free(key);
            conf_end_case(c);
        }
}

static double erfinv_ref(double y) {
    double lo = -10, hi = 10;
    for (int i = 0; i < 200; i++) {
        double m = (lo + hi) / 2;
        if (erf(m) < y) lo = m;
        else hi = m;
    }
    return (lo + hi) / 2;
}

/* conf_check with the tolerance measured against at least `scale`: a distribution's rounding
 * error follows its parameters (loc, scale, bounds), so a small shape whose samples all sit
 * near 0 must not need a far tighter relative tolerance. */
static void check_scaled(conf_ctx *c, const char *name, mx_array *got, const ref_tensor *r, double tol, double scale) {
    double maxref = 1e-30;
    for (int64_t i = 0; i < r->size; i++) maxref = fmax(maxref, fabs(r->data[i]));
    conf_check(c, name, got, r, tol * fmax(1.0, scale / maxref));
}

static void run_distributions(conf_ctx *c) {
    for (int s = 0; s < N_SHAPES; s++)
        for (int d = 0; d < 4; d++) {
            mx_dtype t = conf_float_dtypes[d];
            double tol = conf_tol(t);
            uint32_t k[2];
            mx_array *key;
            new_key(c, k, &key);
            ref_tensor r = conf_ref_alloc(c, shapes[s], nds[s]);
            uint32_t *b = host_u32(k[0], k[1], r.size);
            char name[64];

            /* uniform on [lo, hi) */
            double lo = -1.5 - s, hi = 2.5 + d;
            for (int64_t i = 0; i < r.size; i++) r.data[i] = lo + (hi - lo) * unit_float(b[i], t);
            snprintf(name, sizeof name, "random_uniform[%g, %g)", lo, hi);
            /* the dtype's rounding error scales with the range's bounds, not with the sample: a
             * lone sample near 0 would otherwise need a far tighter relative tolerance */
            double maxref = 1e-30;
            for (int64_t i = 0; i < r.size; i++) maxref = fmax(maxref, fabs(r.data[i]));
            double range_factor = fmax(1.0, fmax(fabs(lo), fabs(hi)) / maxref);
            conf_check(c, name, mx_random_uniform(lo, hi, shapes[s], nds[s], t, key), &r, 2 * tol * range_factor);

            /* normal: sqrt(2) erfinv(u), u uniform on [nextafter(-1, 0), 1) in float32 */
            ref_tensor rn = conf_ref_alloc(c, shapes[s], nds[s]);
            float nlo = nextafterf(-1.0f, 0.0f), nrange = 1.0f - nlo;
            for (int64_t i = 0; i < r.size; i++) {
                float u = nrange * (float)unit_float(b[i], MX_FLOAT32) + nlo;
                rn.data[i] = 0.5 + 2.0 * sqrt(2.0) * erfinv_ref(u);
            }
            check_scaled(c, "random_normal(0.5, 2)", mx_random_normal(shapes[s], nds[s], t, 0.5, 2.0, key), &rn,
                         t == MX_FLOAT64 ? 1e-6 : 4 * tol, 2.5);

            /* gumbel: -log(-log(u)), u the dtype's uniform on [0, 1) (rounded to the dtype) */
            ref_tensor rg = conf_ref_alloc(c, shapes[s], nds[s]);
            for (int64_t i = 0; i < r.size; i++) {
                mx_array *sc = mx_scalar(unit_float(b[i], t), t);
                double u = mx_item_double(sc);
                mx_free(sc);
                rg.data[i] = -log(-log(u));
            }
            check_scaled(c, "random_gumbel", mx_random_gumbel(shapes[s], nds[s], t, key), &rg,
                         t == MX_FLOAT64 ? 1e-6 : 4 * tol, 1.0);

            /* truncated normal on [-1, 2] */
            ref_tensor rt = conf_ref_alloc(c, shapes[s], nds[s]);
            double a = erf(-1 / sqrt(2.0)), bb = erf(2 / sqrt(2.0));
            for (int64_t i = 0; i < r.size; i++) {
                double x = sqrt(2.0) * erfinv_ref(a + (bb - a) * unit_float(b[i], t));
                rt.data[i] = fmin(2, fmax(-1, x));
            }
            check_scaled(c, "random_truncated_normal[-1, 2]",
                         mx_random_truncated_normal(-1, 2, shapes[s], nds[s], t, key), &rt,
                         t == MX_FLOAT64 ? 1e-6 : t == MX_FLOAT32 ? 8 * tol : 6 * tol, 2.0);
            free(b);
            mx_free(key);
            conf_end_case(c);
        }
}

static void run_discrete(conf_ctx *c) {
    const mx_dtype int_types[] = {MX_INT32, MX_UINT8, MX_INT16, MX_UINT32};
    for (int s = 0; s < N_SHAPES; s++) {
        uint32_t k[2];
        mx_array *key;
        new_key(c, k, &key);
        ref_tensor r = conf_ref_alloc(c, shapes[s], nds[s]);
        uint32_t *b = host_u32(k[0], k[1], r.size);
        /* bernoulli: bits < p * 4294967808 in float32 */
        double p = 0.1 + 0.15 * s;
        float thr = (float)p * 4294967808.0f;
        for (int64_t i = 0; i < r.size; i++) r.data[i] = (float)b[i] < thr;
        conf_check_exact(c, "random_bernoulli", mx_random_bernoulli(p, shapes[s], nds[s], key), &r);
        /* randint: low + bits % (high - low) */
        mx_dtype t = int_types[s % 4];
        int64_t lo = t == MX_UINT8 || t == MX_UINT32 ? 3 : -7, hi = lo + 11 + 40 * s;
        ref_tensor ri = conf_ref_alloc(c, shapes[s], nds[s]);
        for (int64_t i = 0; i < r.size; i++) ri.data[i] = (double)(lo + (int64_t)(b[i] % (uint64_t)(hi - lo)));
        conf_check_exact(c, "random_randint", mx_random_randint(lo, hi, shapes[s], nds[s], t, key), &ri);
        free(b);
        /* randint int64: split(key) -> (k1, k2); (bits(k2) << 32 | bits(k1)) % width */
        uint32_t sk[4];
        host_bytes(k[0], k[1], (unsigned char *)sk, 16);
        uint32_t *lo_b = host_u32(sk[0], sk[1], r.size), *hi_b = host_u32(sk[2], sk[3], r.size);
        int64_t base = -((int64_t)1 << 40), width = (int64_t)3 << 38;
        for (int64_t i = 0; i < r.size; i++) {
            uint64_t raw = ((uint64_t)hi_b[i] << 32) | lo_b[i];
            ri.data[i] = (double)(base + (int64_t)(raw % (uint64_t)width));
        }
        conf_check_exact(c, "random_randint(int64)", mx_random_randint(base, base + width, shapes[s], nds[s], MX_INT64, key),
                         &ri);
        free(lo_b);
        free(hi_b);
        mx_free(key);
        conf_end_case(c);
    }
}

void conf_family_random(conf_ctx *c) {
    run_bits(c);
    run_distributions(c);
    run_discrete(c);
}
