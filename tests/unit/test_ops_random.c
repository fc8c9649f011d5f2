/* Random numbers: the Threefry-2x32-20 block function against the Random123 known-answer
 * vectors, MLX's key / split / bits layout, the global key, and the distributions checked
 * statistically on large samples (bounds tight but several standard errors wide). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/cmlx.h"
#include "ops/random.h"
#include "test.h"

#define N_BIG 1000000

static double *read_f64(mx_array *a) {
    if (!a) return NULL;
    double *d = malloc((size_t)(mx_size(a) ? mx_size(a) : 1) * sizeof *d);
    if (d && mx_read(a, MX_FLOAT64, d)) {
        free(d);
        return NULL;
    }
    return d;
}

static void mean_var(const double *x, int64_t n, double *mean, double *var) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) s2 += (x[i] - *mean) * (x[i] - *mean);
    *var = s2 / (double)(n - 1);
}

/* Known-answer vectors for threefry2x32 with 20 rounds, from Random123's kat_vectors
 * (also used by JAX's threefry test): counter, key -> output. */
static void test_threefry_known_answers(void) {
    static const uint32_t kat[3][6] = {
        /* c0, c1, k0, k1, out0, out1 */
        {0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x6b200159u, 0x99ba4efeu},
        {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x1cb996fcu, 0xbb002be7u},
        {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xc4923a9cu, 0x483df7a0u},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t r[2];
        mx_threefry2x32(kat[i][2], kat[i][3], kat[i][0], kat[i][1], r);
        CHECK_MSG(r[0] == kat[i][4] && r[1] == kat[i][5], "kat %d: got %08x %08x", i, r[0], r[1]);
    }
}

static void test_key_layout(void) {
    mx_pool *p = mx_pool_begin();
    uint32_t k[2];
    mx_array *key = mx_random_key(0);
    CHECK(key && mx_array_dtype(key) == MX_UINT32 && mx_ndim(key) == 1 && mx_dim(key, 0) == 2);
    CHECK(mx_read(key, MX_UINT32, k) == 0 && k[0] == 0 && k[1] == 0);
    /* key(seed) = [seed >> 32, seed & 0xffffffff] */
    CHECK(mx_read(mx_random_key(0x100000005ull), MX_UINT32, k) == 0 && k[0] == 1 && k[1] == 5);
    /* One uint32 from key(0): a single word, counter (0, 0): the first KAT output. */
    uint32_t w = 0;
    CHECK(mx_read(mx_random_bits((int64_t[]){1}, 1, 4, key), MX_UINT32, &w) == 0);
    CHECK_MSG(w == 0x6b200159u, "bits(key(0)) = %08x", w);
    mx_pool_end(p);
}

/* The word layout for a key: pairs (j, half + odd + j), the middle word from (half, 0). */
static void expected_bytes(uint32_t k0, uint32_t k1, unsigned char *dst, int64_t bytes) {
    int64_t words = (bytes + 3) / 4, half = words / 2, odd = words % 2;
    uint32_t *tmp = calloc((size_t)words, 4), r[2];
    for (int64_t j = 0; j < half; j++) {
        mx_threefry2x32(k0, k1, (uint32_t)j, (uint32_t)(half + odd + j), r);
        tmp[j] = r[0];
        tmp[half + odd + j] = r[1];
    }
    if (odd) {
        mx_threefry2x32(k0, k1, (uint32_t)half, 0, r);
        tmp[half] = r[0];
    }
    memcpy(dst, tmp, (size_t)bytes);
    free(tmp);
}

static void test_bits_layout(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *key = mx_random_key(0x123456789abcdefull);
    /* odd sizes and the edges of the AVX-512 path's blocks of 16 pairs (32 words) */
    const int64_t sizes[] = {1, 2, 3, 5, 7, 8, 129, 1000, 31, 32, 33, 63, 64, 65, 66, 67, 4097, 70001};
    const int widths[] = {1, 2, 4};
    const mx_dtype types[] = {MX_UINT8, MX_UINT16, MX_UINT32};
    for (int s = 0; s < (int)(sizeof sizes / sizeof *sizes); s++)
        for (int w = 0; w < 3; w++) {
            int64_t n = sizes[s], bytes = n * widths[w];
            mx_array *b = mx_random_bits(&n, 1, widths[w], key);
            CHECK(b && mx_array_dtype(b) == types[w]);
            unsigned char *got = malloc((size_t)bytes), *want = malloc((size_t)bytes);
            CHECK(mx_read(b, types[w], got) == 0);
            expected_bytes(0x01234567u, 0x89abcdefu, want, bytes);
            CHECK_MSG(memcmp(got, want, (size_t)bytes) == 0, "bits n=%lld width=%d", (long long)n, widths[w]);
            free(got);
            free(want);
        }
    /* Same key, same bits; a multi-dimensional shape is the flat layout. */
    mx_array *a = mx_random_bits((int64_t[]){3, 5}, 2, 4, key), *b = mx_random_bits((int64_t[]){15}, 1, 4, key);
    uint32_t va[15], vb[15];
    CHECK(mx_read(a, MX_UINT32, va) == 0 && mx_read(b, MX_UINT32, vb) == 0 && memcmp(va, vb, sizeof va) == 0);
    /* empty shape */
    mx_array *e = mx_random_bits((int64_t[]){0, 3}, 2, 4, key);
    CHECK(e && mx_eval1(e) == 0 && mx_size(e) == 0);
    mx_pool_end(p);
}

static void test_split(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *key = mx_random_key(7);
    mx_array *ks = mx_random_split(key, 2);
    CHECK(ks && mx_ndim(ks) == 2 && mx_dim(ks, 0) == 2 && mx_dim(ks, 1) == 2);
    uint32_t got[4], want[4];
    CHECK(mx_read(ks, MX_UINT32, got) == 0);
    expected_bytes(0, 7, (unsigned char *)want, 16);
    CHECK(memcmp(got, want, sizeof got) == 0);
    CHECK(got[0] != got[2] || got[1] != got[3]);
    /* split(key, 2) row 0 = [hash(0,2)[0], hash(1,3)[0]], row 1 = the second outputs */
    uint32_t r0[2], r1[2];
    mx_threefry2x32(0, 7, 0, 2, r0);
    mx_threefry2x32(0, 7, 1, 3, r1);
    CHECK(got[0] == r0[0] && got[1] == r1[0] && got[2] == r0[1] && got[3] == r1[1]);
    mx_array *k10 = mx_random_split(key, 10);
    CHECK(k10 && mx_dim(k10, 0) == 10 && mx_dim(k10, 1) == 2 && mx_array_dtype(k10) == MX_UINT32);
    /* A split row is itself a usable key (a strided view of the split). */
    mx_array *row = mx_reshape(mx_slice_axis(ks, 0, 1, 2), (int64_t[]){2}, 1);
    uint32_t w = 0, wref[2];
    CHECK(mx_read(mx_random_bits((int64_t[]){1}, 1, 4, row), MX_UINT32, &w) == 0);
    mx_threefry2x32(got[2], got[3], 0, 0, wref);
    CHECK(w == wref[0]);
    mx_pool_end(p);
}

static void test_global_key(void) {
    mx_pool *p = mx_pool_begin();
    float a[4], b[4], c[4], d[4];
    mx_random_seed(3);
    CHECK(mx_read(mx_random_uniform(0, 1, (int64_t[]){4}, 1, MX_FLOAT32, NULL), MX_FLOAT32, a) == 0);
    CHECK(mx_read(mx_random_uniform(0, 1, (int64_t[]){4}, 1, MX_FLOAT32, NULL), MX_FLOAT32, b) == 0);
    CHECK(memcmp(a, b, sizeof a) != 0);
    mx_random_seed(3);
    CHECK(mx_read(mx_random_uniform(0, 1, (int64_t[]){4}, 1, MX_FLOAT32, NULL), MX_FLOAT32, c) == 0);
    CHECK(mx_read(mx_random_uniform(0, 1, (int64_t[]){4}, 1, MX_FLOAT32, NULL), MX_FLOAT32, d) == 0);
    CHECK(memcmp(a, c, sizeof a) == 0 && memcmp(b, d, sizeof b) == 0);
    /* The first global draw after seed(s) uses split(key(s))[1]; the state becomes [0]. */
    mx_array *ks = mx_random_split(mx_random_key(3), 2);
    mx_array *k1 = mx_reshape(mx_slice_axis(ks, 0, 1, 2), (int64_t[]){2}, 1);
    CHECK(mx_read(mx_random_uniform(0, 1, (int64_t[]){4}, 1, MX_FLOAT32, k1), MX_FLOAT32, c) == 0);
    CHECK(memcmp(a, c, sizeof a) == 0);
    mx_array *k0 = mx_reshape(mx_slice_axis(ks, 0, 0, 1), (int64_t[]){2}, 1);
    mx_array *ks2 = mx_random_split(k0, 2);
    mx_array *k01 = mx_reshape(mx_slice_axis(ks2, 0, 1, 2), (int64_t[]){2}, 1);
    CHECK(mx_read(mx_random_uniform(0, 1, (int64_t[]){4}, 1, MX_FLOAT32, k01), MX_FLOAT32, d) == 0);
    CHECK(memcmp(b, d, sizeof b) == 0);
    mx_pool_end(p);
}

static void test_uniform(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *key = mx_random_key(11);
    int64_t n = N_BIG;
    mx_array *u = mx_random_uniform(-1, 5, &n, 1, MX_FLOAT32, key);
    CHECK(u && mx_array_dtype(u) == MX_FLOAT32);
    double *x = read_f64(u);
    CHECK(x != NULL);
    if (x) {
        double lo = 1e9, hi = -1e9, mean, var;
        int64_t hist[12] = {0};
        for (int64_t i = 0; i < n; i++) {
            lo = fmin(lo, x[i]);
            hi = fmax(hi, x[i]);
            hist[(int)floor((x[i] + 1) * 2)]++;   /* 12 bins of width 0.5 */
        }
        mean_var(x, n, &mean, &var);
        CHECK_MSG(lo >= -1 && hi < 5, "range [%g, %g]", lo, hi);
        CHECK_MSG(lo < -0.999 && hi > 4.999, "range [%g, %g] does not reach the ends", lo, hi);
        /* standard error of the mean 1.73/1000; of the variance ~0.0027 */
        CHECK_MSG(fabs(mean - 2) < 0.01, "mean %g", mean);
        CHECK_MSG(fabs(var - 3) < 0.02, "variance %g", var);
        for (int b = 0; b < 12; b++) /* expected 83333, sd ~276 */
            CHECK_MSG(labs((long)(hist[b] - n / 12)) < 2000, "bin %d: %lld", b, (long long)hist[b]);
        free(x);
    }
    /* exact construction: min(bits / 2^32, 1 - 2^-24) in float32, then range * u + lo */
    int64_t m = 4099;
    uint32_t *bits = malloc((size_t)m * 4);
    float *got = malloc((size_t)m * 4);
    CHECK(mx_read(mx_random_bits(&m, 1, 4, key), MX_UINT32, bits) == 0);
    CHECK(mx_read(mx_random_uniform(-2, 3, &m, 1, MX_FLOAT32, key), MX_FLOAT32, got) == 0);
    int bad = 0;
    for (int64_t i = 0; i < m; i++) {
        float v = (float)bits[i] / 4294967296.0f;
        if (v > nextafterf(1.0f, 0.0f)) v = nextafterf(1.0f, 0.0f);
        float want = 5.0f * v + -2.0f;
        bad += got[i] != want;
    }
    CHECK_MSG(bad == 0, "%d uniform values differ from the bits construction", bad);
    free(bits);
    free(got);
    /* 16-bit and 64-bit dtypes stay below high */
    mx_dtype ts[] = {MX_FLOAT16, MX_BFLOAT16, MX_FLOAT64};
    for (int t = 0; t < 3; t++) {
        int64_t k = 100000;
        mx_array *h = mx_random_uniform(0, 1, &k, 1, ts[t], key);
        CHECK(h && mx_array_dtype(h) == ts[t]);
        double *y = read_f64(h), mx = 0, mn = 1;
        if (y)
            for (int64_t i = 0; i < k; i++) mx = fmax(mx, y[i]), mn = fmin(mn, y[i]);
        CHECK_MSG(y && mx < 1 && mn >= 0 && mx > 0.99, "%s range [%g, %g]", mx_dtype_name(ts[t]), mn, mx);
        free(y);
    }
    /* scalar shape */
    mx_array *s = mx_random_uniform(0, 1, NULL, 0, MX_FLOAT32, key);
    CHECK(s && mx_ndim(s) == 0 && mx_size(s) == 1);
    mx_pool_end(p);
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

static void test_normal(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *key = mx_random_key(12);
    int64_t n = N_BIG;
    double *x = read_f64(mx_random_normal(&n, 1, MX_FLOAT32, 0, 1, key));
    CHECK(x != NULL);
    if (x) {
        double mean, var;
        int64_t in1 = 0, in2 = 0;
        mean_var(x, n, &mean, &var);
        for (int64_t i = 0; i < n; i++) {
            in1 += fabs(x[i]) < 1;
            in2 += fabs(x[i]) < 2;
        }
        CHECK_MSG(fabs(mean) < 0.006, "mean %g", mean);            /* se 0.001 */
        CHECK_MSG(fabs(var - 1) < 0.01, "variance %g", var);       /* se 0.0014 */
        CHECK_MSG(fabs((double)in1 / n - 0.682689) < 0.003, "P(|x|<1) = %g", (double)in1 / n);
        CHECK_MSG(fabs((double)in2 / n - 0.954500) < 0.002, "P(|x|<2) = %g", (double)in2 / n);
        free(x);
    }
    /* values: sqrt(2) * erfinv(u) with u MLX's uniform on [nextafter(-1, 0), 1) */
    int64_t m = 2001;
    uint32_t *bits = malloc((size_t)m * 4);
    double *y = NULL;
    CHECK(mx_read(mx_random_bits(&m, 1, 4, key), MX_UINT32, bits) == 0);
    y = read_f64(mx_random_normal(&m, 1, MX_FLOAT32, 0, 1, key));
    double worst = 0;
    for (int64_t i = 0; y && i < m; i++) {
        float v = (float)bits[i] / 4294967296.0f;
        if (v > nextafterf(1.0f, 0.0f)) v = nextafterf(1.0f, 0.0f);
        float lo = nextafterf(-1.0f, 0.0f), range = 1.0f - lo;
        float u = range * v + lo;
        double want = sqrt(2.0) * erfinv_ref(u);
        worst = fmax(worst, fabs(y[i] - want) / fmax(1, fabs(want)));
    }
    CHECK_MSG(y && worst < 2e-6, "normal vs sqrt2*erfinv(u): %g", worst);
    free(bits);
    free(y);
    /* loc and scale */
    x = read_f64(mx_random_normal(&n, 1, MX_FLOAT32, 3, 0.5, key));
    if (x) {
        double mean, var;
        mean_var(x, n, &mean, &var);
        CHECK_MSG(fabs(mean - 3) < 0.003 && fabs(sqrt(var) - 0.5) < 0.003, "N(3, 0.5): mean %g sd %g", mean,
                  sqrt(var));
        free(x);
    }
    /* 16-bit: finite, sane */
    mx_dtype ts[] = {MX_FLOAT16, MX_BFLOAT16};
    for (int t = 0; t < 2; t++) {
        int64_t k = 200000;
        mx_array *h = mx_random_normal(&k, 1, ts[t], 0, 1, key);
        CHECK(h && mx_array_dtype(h) == ts[t]);
        double *z = read_f64(h), mean, var;
        int finite = 1;
        for (int64_t i = 0; z && i < k; i++) finite &= isfinite(z[i]) != 0;
        if (z) mean_var(z, k, &mean, &var);
        CHECK_MSG(z && finite && fabs(mean) < 0.015 && fabs(var - 1) < 0.03, "%s normal", mx_dtype_name(ts[t]));
        free(z);
    }
    mx_pool_end(p);
}

static double phi(double x) { return exp(-x * x / 2) / sqrt(2 * M_PI); }
static double Phi(double x) { return 0.5 * erfc(-x / sqrt(2)); }

static void test_truncated_normal(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *key = mx_random_key(13);
    int64_t n = N_BIG;
    double a = -0.5, b = 1.5;
    double *x = read_f64(mx_random_truncated_normal(a, b, &n, 1, MX_FLOAT32, key));
    CHECK(x != NULL);
    if (x) {
        double lo = 1e9, hi = -1e9, mean, var;
        for (int64_t i = 0; i < n; i++) lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
        mean_var(x, n, &mean, &var);
        double Z = Phi(b) - Phi(a), mu = (phi(a) - phi(b)) / Z;
        double v = 1 + (a * phi(a) - b * phi(b)) / Z - mu * mu;
        CHECK_MSG(lo >= a && hi <= b, "range [%g, %g]", lo, hi);
        CHECK_MSG(fabs(mean - mu) < 0.004, "mean %g want %g", mean, mu);
        CHECK_MSG(fabs(var - v) < 0.004, "variance %g want %g", var, v);
        free(x);
    }
    /* inverted bounds clamp to lower (MLX: max(min(upper, x), lower)) */
    double *y = read_f64(mx_random_truncated_normal(2, -2, (int64_t[]){5}, 1, MX_FLOAT32, key));
    CHECK(y && y[0] == 2 && y[4] == 2);
    free(y);
    mx_pool_end(p);
}

static void test_randint(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *key = mx_random_key(14);
    int64_t n = N_BIG;
    mx_array *r = mx_random_randint(-3, 7, &n, 1, MX_INT32, key);
    CHECK(r && mx_array_dtype(r) == MX_INT32);
    int32_t *v = malloc((size_t)n * 4);
    CHECK(mx_read(r, MX_INT32, v) == 0);
    int64_t count[10] = {0}, out = 0;
    for (int64_t i = 0; i < n; i++) {
        if (v[i] < -3 || v[i] >= 7) out++;
        else count[v[i] + 3]++;
    }
    CHECK(out == 0);
    for (int k = 0; k < 10; k++) /* expected 100000, sd 300 */
        CHECK_MSG(labs((long)(count[k] - n / 10)) < 2000, "value %d: %lld", k - 3, (long long)count[k]);
    /* exact: low + bits % width in uint64 */
    uint32_t *bits = malloc((size_t)n * 4);
    CHECK(mx_read(mx_random_bits(&n, 1, 4, key), MX_UINT32, bits) == 0);
    int bad = 0;
    for (int64_t i = 0; i < 1000; i++) bad += v[i] != (int32_t)(-3 + (int64_t)(bits[i] % 10));
    CHECK(bad == 0);
    free(bits);
    free(v);
    /* empty interval: low */
    int64_t e[4];
    CHECK(mx_read(mx_random_randint(10, -10, (int64_t[]){4}, 1, MX_INT32, key), MX_INT64, e) == 0);
    CHECK(e[0] == 10 && e[3] == 10);
    /* 64-bit: beyond float32 precision and 32 bits */
    int64_t m = 20000;
    int64_t *w = malloc((size_t)m * 8);
    int64_t base = (int64_t)1 << 40;
    CHECK(mx_read(mx_random_randint(base, base + 1024, &m, 1, MX_INT64, key), MX_INT64, w) == 0);
    int seen[1024] = {0}, inrange = 1;
    for (int64_t i = 0; i < m; i++) {
        if (w[i] < base || w[i] >= base + 1024) inrange = 0;
        else seen[w[i] - base] = 1;
    }
    int distinct = 0;
    for (int i = 0; i < 1024; i++) distinct += seen[i];
    CHECK(inrange && distinct == 1024);
    CHECK(mx_read(mx_random_randint(0, (int64_t)1 << 48, &m, 1, MX_INT64, key), MX_INT64, w) == 0);
    int64_t wmax = 0, wmin = INT64_MAX;
    for (int64_t i = 0; i < m; i++) wmax = w[i] > wmax ? w[i] : wmax, wmin = w[i] < wmin ? w[i] : wmin;
    CHECK_MSG(wmin >= 0 && wmax < ((int64_t)1 << 48) && wmax > ((int64_t)1 << 47), "[%lld, %lld]",
              (long long)wmin, (long long)wmax);
    free(w);
    /* uint8 over its full range */
    uint8_t u8[4096];
    CHECK(mx_read(mx_random_randint(0, 256, (int64_t[]){4096}, 1, MX_UINT8, key), MX_UINT8, u8) == 0);
    int hi = 0;
    for (int i = 0; i < 4096; i++) hi |= u8[i] > 250;
    CHECK(hi);
    mx_pool_end(p);
}

static void test_bernoulli(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *key = mx_random_key(15);
    int64_t n = N_BIG;
    mx_array *b = mx_random_bernoulli(0.3, &n, 1, key);
    CHECK(b && mx_array_dtype(b) == MX_BOOL);
    double *x = read_f64(b), s = 0;
    for (int64_t i = 0; x && i < n; i++) s += x[i];
    CHECK_MSG(x && fabs(s / n - 0.3) < 0.003, "p = %g", s / n);   /* se 0.00046 */
    free(x);
    x = read_f64(mx_random_bernoulli(0.0, &n, 1, key));
    s = 0;
    for (int64_t i = 0; x && i < n; i++) s += x[i];
    CHECK(x && s == 0);
    free(x);
    x = read_f64(mx_random_bernoulli(1.0, &n, 1, key));
    s = 0;
    for (int64_t i = 0; x && i < n; i++) s += x[i];
    CHECK(x && s == (double)n);
    free(x);
    mx_pool_end(p);
}

static void test_gumbel(void) {
    mx_pool *p = mx_pool_begin();
    int64_t n = N_BIG;
    double *x = read_f64(mx_random_gumbel(&n, 1, MX_FLOAT32, mx_random_key(16)));
    CHECK(x != NULL);
    if (x) {
        double mean, var;
        mean_var(x, n, &mean, &var);
        /* Gumbel(0, 1): mean = Euler's gamma, variance pi^2/6; se 0.0013 and ~0.0035 */
        CHECK_MSG(fabs(mean - 0.5772157) < 0.008, "mean %g", mean);
        CHECK_MSG(fabs(var - M_PI * M_PI / 6) < 0.03, "variance %g", var);
        free(x);
    }
    mx_pool_end(p);
}

static void test_categorical(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *key = mx_random_key(17);
    float lv[4] = {0.0f, 1.0f, 2.0f, -1.0f};
    mx_array *logits = mx_array_from_data(lv, (int64_t[]){1, 4}, 2, MX_FLOAT32);
    int ns = 200000;
    mx_array *c = mx_random_categorical(logits, -1, ns, key);
    CHECK_MSG(c != NULL, "categorical: %s", mx_last_error());
    if (c) {
        CHECK(mx_ndim(c) == 2 && mx_dim(c, 0) == 1 && mx_dim(c, 1) == ns && mx_array_dtype(c) == MX_UINT32);
        uint32_t *idx = malloc((size_t)ns * 4);
        CHECK(mx_read(c, MX_UINT32, idx) == 0);
        double z = 0, cnt[4] = {0};
        for (int i = 0; i < 4; i++) z += exp(lv[i]);
        for (int i = 0; i < ns; i++) cnt[idx[i] < 4 ? idx[i] : 0] += idx[i] < 4 ? 1 : 1e9;
        for (int i = 0; i < 4; i++) /* se <= 0.0011 */
            CHECK_MSG(fabs(cnt[i] / ns - exp(lv[i]) / z) < 0.006, "class %d: %g vs %g", i, cnt[i] / ns,
                      exp(lv[i]) / z);
        free(idx);
    }
    /* one sample per row, axis removed; along axis 0 */
    mx_array *l2 = mx_zeros((int64_t[]){10, 20}, 2, MX_FLOAT32);
    mx_array *c1 = mx_random_categorical(l2, -1, 0, key), *c0 = mx_random_categorical(l2, 0, 0, key);
    mx_array *c7 = mx_random_categorical(l2, 0, 7, key);
    CHECK(c1 && mx_ndim(c1) == 1 && mx_dim(c1, 0) == 10);
    CHECK(c0 && mx_ndim(c0) == 1 && mx_dim(c0, 0) == 20);
    CHECK(c7 && mx_ndim(c7) == 2 && mx_dim(c7, 0) == 20 && mx_dim(c7, 1) == 7);
    uint32_t v0[20];
    CHECK(c0 && mx_read(c0, MX_UINT32, v0) == 0);
    int ok = 1;
    for (int i = 0; i < 20; i++) ok &= v0[i] < 10;
    CHECK(ok);
    /* a -inf logit is never drawn */
    float lm[3] = {0.0f, -INFINITY, 0.0f};
    mx_array *c3 = mx_random_categorical(mx_array_from_data(lm, (int64_t[]){3}, 1, MX_FLOAT32), 0, 5000, key);
    uint32_t v3[5000];
    CHECK(c3 && mx_read(c3, MX_UINT32, v3) == 0);
    int never = 1;
    for (int i = 0; i < 5000; i++) never &= v3[i] != 1;
    CHECK(never);
    mx_pool_end(p);
}

static void test_errors(void) {
    mx_pool *p = mx_pool_begin();
    mx_array *bad = mx_zeros((int64_t[]){3}, 1, MX_UINT32);
    CHECK(mx_random_bits((int64_t[]){4}, 1, 4, bad) == NULL && strstr(mx_last_error(), "[random_bits]") &&
          strstr(mx_last_error(), "uint32[3]"));
    mx_array *badt = mx_zeros((int64_t[]){2}, 1, MX_INT32);
    CHECK(mx_random_uniform(0, 1, (int64_t[]){4}, 1, MX_FLOAT32, badt) == NULL &&
          strstr(mx_last_error(), "int32[2]"));
    mx_array *key = mx_random_key(1);
    CHECK(mx_random_bits((int64_t[]){4}, 1, 3, key) == NULL && strstr(mx_last_error(), "width"));
    CHECK(mx_random_bits((int64_t[]){-1}, 1, 4, key) == NULL && strstr(mx_last_error(), "negative"));
    CHECK(mx_random_uniform(0, 1, (int64_t[]){4}, 1, MX_INT32, key) == NULL && strstr(mx_last_error(), "int32"));
    CHECK(mx_random_normal((int64_t[]){4}, 1, MX_UINT8, 0, 1, key) == NULL);
    CHECK(mx_random_randint(0, 4, (int64_t[]){4}, 1, MX_FLOAT32, key) == NULL &&
          strstr(mx_last_error(), "[random_randint]"));
    CHECK(mx_random_split(key, 0) == NULL && strstr(mx_last_error(), "num"));
    mx_array *l = mx_zeros((int64_t[]){3, 4}, 2, MX_FLOAT32);
    CHECK(mx_random_categorical(l, 2, 0, key) == NULL);
    CHECK(mx_random_categorical(l, -1, -2, key) == NULL);
    CHECK(mx_random_categorical(NULL, 0, 0, key) == NULL);
    mx_pool_end(p);
}

int main(void) {
    test_threefry_known_answers();
    test_key_layout();
    test_bits_layout();
    test_split();
    test_global_key();
    test_uniform();
    test_normal();
    test_truncated_normal();
    test_randint();
    test_bernoulli();
    test_gumbel();
    test_categorical();
    test_errors();
    return test_finish();
}
