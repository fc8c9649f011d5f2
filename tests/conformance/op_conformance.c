/* Driver and utilities of the op conformance harness (see conformance.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conformance.h"

struct conf_ctx {
    uint64_t rng;
    mx_array **arrays;
    size_t n_arrays, cap_arrays;
    double **blocks;
    size_t n_blocks, cap_blocks;
    int passed, failed;
    const char *family;
};

const mx_dtype conf_float_dtypes[4] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16, MX_FLOAT64};
const mx_dtype conf_all_dtypes[13] = {MX_BOOL,  MX_UINT8, MX_UINT16,  MX_UINT32,  MX_UINT64,
                                      MX_INT8,  MX_INT16, MX_INT32,   MX_INT64,   MX_FLOAT16,
                                      MX_BFLOAT16, MX_FLOAT32, MX_FLOAT64};

double conf_uniform(conf_ctx *c) {
    /* xorshift64* */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return (double)((c->rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void track_array(conf_ctx *c, mx_array *a) {
    if (c->n_arrays == c->cap_arrays) {
        c->cap_arrays = c->cap_arrays ? c->cap_arrays * 2 : 64;
        c->arrays = realloc(c->arrays, c->cap_arrays * sizeof *c->arrays);
        if (!c->arrays) abort();
    }
    c->arrays[c->n_arrays++] = a;
}

static double *track_block(conf_ctx *c, size_t n) {
    double *d = calloc(n ? n : 1, sizeof *d);
    if (!d) abort();
    if (c->n_blocks == c->cap_blocks) {
        c->cap_blocks = c->cap_blocks ? c->cap_blocks * 2 : 64;
        c->blocks = realloc(c->blocks, c->cap_blocks * sizeof *c->blocks);
        if (!c->blocks) abort();
    }
    c->blocks[c->n_blocks++] = d;
    return d;
}

ref_tensor conf_ref_alloc(conf_ctx *c, const int64_t *shape, int ndim) {
    ref_tensor t;
    t.ndim = ndim;
    t.size = 1;
    for (int i = 0; i < ndim; i++) {
        t.shape[i] = shape[i];
        t.size *= shape[i];
    }
    t.data = track_block(c, (size_t)t.size);
    return t;
}

int64_t conf_ref_index(const ref_tensor *t, const int64_t *idx) {
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++) off = off * t->shape[i] + idx[i];
    return off;
}

double conf_ref_at_broadcast(const ref_tensor *t, int out_ndim, const int64_t *idx) {
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++) {
        int64_t j = idx[out_ndim - t->ndim + i];
        off = off * t->shape[i] + (t->shape[i] == 1 ? 0 : j);
    }
    return t->data[off];
}

void conf_end_case(conf_ctx *c) {
    for (size_t i = 0; i < c->n_arrays; i++) mx_free(c->arrays[i]);
    for (size_t i = 0; i < c->n_blocks; i++) free(c->blocks[i]);
    c->n_arrays = c->n_blocks = 0;
}

/* Makes an array holding vals (already representable in dtype), optionally as a strided view. */
static mx_array *make_array(conf_ctx *c, const double *vals, const int64_t *shape, int ndim, mx_dtype dtype,
                            int strided) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if (!strided || ndim == 0) {
        mx_array *f64 = mx_array_from_data(vals, shape, ndim, MX_FLOAT64);
        mx_array *a = mx_astype(f64, dtype);
        mx_free(f64);
        if (!a || mx_eval1(a)) return NULL;
        track_array(c, a);
        return a;
    }
    /* Strided: for ndim >= 2 a transpose of the transposed data; always also stepped along
     * the last axis (every other element of an array twice as wide). */
    int64_t wide[MX_MAX_NDIM] = {0};
    for (int i = 0; i < ndim; i++) wide[i] = shape[i];
    wide[ndim - 1] *= 2;
    int64_t nw = n * 2;
    double *w = track_block(c, (size_t)nw);
    for (int64_t i = 0; i < nw; i++) w[i] = 7.0; /* filler that must never be read */
    for (int64_t i = 0; i < n; i++) {
        int64_t row = i / shape[ndim - 1], col = i % shape[ndim - 1];
        w[row * wide[ndim - 1] + 2 * col] = vals[i];
    }
    mx_array *f64 = mx_array_from_data(w, wide, ndim, MX_FLOAT64);
    mx_array *base = mx_astype(f64, dtype);
    mx_free(f64);
    int64_t start[MX_MAX_NDIM] = {0}, step[MX_MAX_NDIM];
    for (int i = 0; i < ndim; i++) step[i] = 1;
    step[ndim - 1] = 2;
    mx_array *v = mx_slice(base, start, wide, step, ndim);
    mx_free(base);
    if (!v || mx_eval1(v)) return NULL;
    track_array(c, v);
    return v;
}

mx_array *conf_random(conf_ctx *c, const int64_t *shape, int ndim, mx_dtype dtype, double lo, double hi,
                      int strided, ref_tensor *ref) {
    ref_tensor t = conf_ref_alloc(c, shape, ndim);
    double gap = 1e-3 * (hi - lo);
    for (int64_t i = 0; i < t.size; i++) {
        double v;
        if (dtype == MX_BOOL) {
            v = conf_uniform(c) < 0.5;
        } else if (!mx_dtype_is_float(dtype)) {
            do v = floor(lo + (hi - lo + 1) * conf_uniform(c));
            while (v == 0 || v > hi);
        } else {
            do v = lo + (hi - lo) * conf_uniform(c);
            while (fabs(v) < gap);
        }
        /* round to what the dtype holds so the reference sees the same value */
        mx_array *s = mx_scalar(v, dtype);
        t.data[i] = mx_item_double(s);
        mx_free(s);
        if (dtype != MX_BOOL && t.data[i] == 0) t.data[i] = v = hi, i--; /* retry on rounding to 0 */
    }
    if (ref) *ref = t;
    return make_array(c, t.data, shape, ndim, dtype, strided);
}

mx_array *conf_random_int(conf_ctx *c, const int64_t *shape, int ndim, mx_dtype dtype, int64_t lo, int64_t hi,
                          ref_tensor *ref) {
    ref_tensor t = conf_ref_alloc(c, shape, ndim);
    for (int64_t i = 0; i < t.size; i++) t.data[i] = (double)(lo + (int64_t)((double)(hi - lo + 1) * conf_uniform(c)));
    if (ref) *ref = t;
    return make_array(c, t.data, shape, ndim, dtype, 0);
}

static char *describe(mx_array *a, char *buf, size_t n) {
    int o = snprintf(buf, n, "%s(", mx_dtype_name(mx_array_dtype(a)));
    for (int i = 0; i < mx_ndim(a) && o < (int)n; i++) o += snprintf(buf + o, n - (size_t)o, i ? ", %lld" : "%lld", (long long)mx_dim(a, i));
    if (o < (int)n) snprintf(buf + o, n - (size_t)o, ")");
    return buf;
}

void conf_fail(conf_ctx *c, const char *op, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL [%s] %s: ", c->family, op);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    c->failed++;
}

void conf_pass(conf_ctx *c) { c->passed++; }

static int fetch(conf_ctx *c, const char *op, mx_array *got, const ref_tensor *ref, double **vals) {
    char d[128];
    if (!got) {
        conf_fail(c, op, "op returned NULL: %s", mx_last_error());
        return -1;
    }
    track_array(c, got);
    if (mx_ndim(got) != ref->ndim) {
        conf_fail(c, op, "got %s, expected %d dimensions", describe(got, d, sizeof d), ref->ndim);
        return -1;
    }
    for (int i = 0; i < ref->ndim; i++)
        if (mx_dim(got, i) != ref->shape[i]) {
            conf_fail(c, op, "got shape %s, expected dim %d = %lld", describe(got, d, sizeof d), i, (long long)ref->shape[i]);
            return -1;
        }
    *vals = track_block(c, (size_t)ref->size);
    if (mx_read(got, MX_FLOAT64, *vals)) {
        conf_fail(c, op, "eval failed for %s: %s", describe(got, d, sizeof d), mx_last_error());
        return -1;
    }
    return 0;
}

int conf_check(conf_ctx *c, const char *op, mx_array *got, const ref_tensor *ref, double tol) {
    double *v;
    if (fetch(c, op, got, ref, &v)) return 0;
    double maxref = 0, maxerr = 0;
    int64_t where = 0;
    for (int64_t i = 0; i < ref->size; i++) {
        double r = ref->data[i];
        if (isfinite(r) && fabs(r) > maxref) maxref = fabs(r);
    }
    for (int64_t i = 0; i < ref->size; i++) {
        double r = ref->data[i], g = v[i], e;
        if (isnan(r) || isinf(r)) e = (isnan(r) && isnan(g)) || r == g ? 0 : INFINITY;
        else e = fabs(g - r);
        if (!(e <= maxerr)) {
            maxerr = e;
            where = i;
        }
    }
    double norm = maxerr / (maxref > 1e-30 ? maxref : 1e-30);
    char d[128];
    if (!(norm <= tol)) {
        conf_fail(c, op, "%s: normalised error %.3g > %.3g (element %lld: got %.9g, expected %.9g)",
                  describe(got, d, sizeof d), norm, tol, (long long)where, v[where], ref->data[where]);
        return 0;
    }
    conf_pass(c);
    return 1;
}

int conf_check_exact(conf_ctx *c, const char *op, mx_array *got, const ref_tensor *ref) {
    double *v;
    if (fetch(c, op, got, ref, &v)) return 0;
    char d[128];
    for (int64_t i = 0; i < ref->size; i++)
        if (v[i] != ref->data[i] && !(isnan(v[i]) && isnan(ref->data[i]))) {
            conf_fail(c, op, "%s: element %lld is %.17g, expected %.17g", describe(got, d, sizeof d), (long long)i, v[i],
                      ref->data[i]);
            return 0;
        }
    conf_pass(c);
    return 1;
}

double conf_tol(mx_dtype t) {
    switch (t) {
    case MX_FLOAT32: return 1e-5;
    case MX_FLOAT16: return 2e-3;
    case MX_BFLOAT16: return 1.6e-2;
    case MX_FLOAT64: return 1e-12;
    default: return 0;
    }
}

int main(int argc, char **argv) {
    conf_ctx c;
    memset(&c, 0, sizeof c);
    const char *seed = getenv("CMLX_TEST_SEED");
    c.rng = seed ? strtoull(seed, NULL, 10) : (uint64_t)time(NULL) * 2654435761u + (uint64_t)clock();
    if (!c.rng) c.rng = 1;
    printf("op conformance: CMLX_TEST_SEED=%llu\n", (unsigned long long)c.rng);
    const char *only = argc > 1 ? argv[1] : NULL;
    struct {
        const char *name;
        void (*fn)(conf_ctx *);
    } families[] = {
        {"elementwise", conf_family_elementwise}, {"reduce", conf_family_reduce}, {"shape", conf_family_shape},
        {"indexing", conf_family_indexing},       {"sort", conf_family_sort},     {"linalg", conf_family_linalg},
        {"quant", conf_family_quant},             {"random", conf_family_random}, {"fast", conf_family_fast},
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        if (only && strcmp(only, families[i].name)) continue;
        if (!families[i].fn) {
            printf("family %s: not linked\n", families[i].name);
            continue;
        }
        c.family = families[i].name;
        int p0 = c.passed, f0 = c.failed;
        families[i].fn(&c);
        conf_end_case(&c);
        printf("family %s: %d passed, %d failed\n", families[i].name, c.passed - p0, c.failed - f0);
    }
    free(c.arrays);
    free(c.blocks);
    printf("%d passed, %d failed\n", c.passed, c.failed);
    return c.failed ? 1 : 0;
}
