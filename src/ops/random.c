/* Random number ops (mirrors mlx/random.cpp): everything is built on RANDOM_BITS, so a key
 * alone decides the values. Distributions are composites of elementwise ops, computed in
 * the same order and precision as MLX so the same key gives the same numbers.
 *
 * The global key (used when a function gets key == NULL) lives on the host: drawing from
 * it splits it with Threefry right here, keeps the first half as the new state and hands
 * out the second, exactly like MLX's KeySequence::next. */
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "cmlx/ops.h"
#include "cmlx/random.h"
#include "core/array_impl.h"
#include "ops/ops_util.h"
#include "ops/random.h"


static pthread_mutex_t g_key_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t g_key[2];
static int g_key_set;

static void key_words(uint64_t seed, uint32_t k[2]) {
    k[0] = (uint32_t)(seed >> 32);
    k[1] = (uint32_t)seed;
}

void mx_random_seed(uint64_t seed) {
    pthread_mutex_lock(&g_key_lock);
    key_words(seed, g_key);
    g_key_set = 1;
    pthread_mutex_unlock(&g_key_lock);
}

mx_array *mx_random_key(uint64_t seed) {
    uint32_t k[2];
    key_words(seed, k);
    return mx_array_from_data(k, (int64_t[]){2}, 1, MX_UINT32);
}

/* The next subkey of the global sequence (split(key, 2): words 0,1 from counters (0, 2)
 * and (1, 3) are the new state, words 2,3 the subkey). Unseeded, the sequence starts
 * from the clock, as in MLX. */
static mx_array *next_global_key(void) {
    uint32_t a[2], b[2], sub[2];
    pthread_mutex_lock(&g_key_lock);
    if (!g_key_set) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        key_words((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, g_key);
        g_key_set = 1;
    }
    mx_threefry2x32(g_key[0], g_key[1], 0, 2, a);
    mx_threefry2x32(g_key[0], g_key[1], 1, 3, b);
    g_key[0] = a[0];
    g_key[1] = b[0];
    sub[0] = a[1];
    sub[1] = b[1];
    pthread_mutex_unlock(&g_key_lock);
    return mx_array_from_data(sub, (int64_t[]){2}, 1, MX_UINT32);
}

/* The key to use: the caller's (checked), or the next global one. */
static mx_array *resolve_key(const char *op, const mx_array *key) {
    if (!key) return next_global_key();
    if (key->dtype != MX_UINT32 || key->ndim != 1 || key->shape[0] != 2) {
        mx_set_error("[%s] a key must be uint32 of shape [2], got %s", op, MX_SHAPE_STR(key));
        return NULL;
    }
    return mx_pool_track(mx_retain((mx_array *)key));
}

static int check_shape(const char *op, const int64_t *shape, int ndim) {
    if (ndim < 0 || ndim > MX_MAX_NDIM || (ndim > 0 && !shape)) {
        mx_set_error("[%s] invalid shape: %d dimensions", op, ndim);
        return -1;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) {
            mx_set_error("[%s] negative dimension in shape %s", op, MX_FMT_SHAPE(shape, ndim));
            return -1;
        }
    return 0;
}

static int check_float(const char *op, mx_dtype dtype) {
    if ((unsigned)dtype >= MX_DTYPE_COUNT || !mx_dtype_is_float(dtype)) {
        mx_set_error("[%s] dtype must be a floating type, got %s", op,
                     (unsigned)dtype < MX_DTYPE_COUNT ? mx_dtype_name(dtype) : "invalid");
        return -1;
    }
    return 0;
}

static mx_array *bits_node(const char *op, const int64_t *shape, int ndim, int width, const mx_array *key) {
    if (check_shape(op, shape, ndim)) return NULL;
    mx_dtype t;
    switch (width) {
    case 4: t = MX_UINT32; break;
    case 2: t = MX_UINT16; break;
    case 1: t = MX_UINT8; break;
    default: mx_set_error("[%s] bit width must be 1, 2 or 4 bytes, got %d", op, width); return NULL;
    }
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *k = resolve_key(op, key), *out = NULL;
    if (k) {
        mx_random_bits_params prm = {width};
        out = mx_node_create1(MX_PRIM_RANDOM_BITS, &prm, sizeof prm, &k, 1, t, shape, ndim);
    }
    return mx_composite_end(p, out);
}

mx_array *mx_random_bits(const int64_t *shape, int ndim, int width, const mx_array *key) {
    return bits_node("random_bits", shape, ndim, width, key);
}

mx_array *mx_random_split(const mx_array *key, int num) {
    if (num < 1) {
        mx_set_error("[random_split] num must be at least 1, got %d", num);
        return NULL;
    }
    return bits_node("random_split", (int64_t[]){num, 2}, 2, 4, key);
}

/* MLX's uniform: bits / UINT32_MAX in float32 (that constant rounds to 2^32), clamped to
 * the largest value of `dtype` below 1, converted to dtype, then range * u + lo in dtype.
 * lo and hi are arrays of dtype broadcastable to shape. */
static mx_array *uniform_between(const char *op, mx_array *lo, mx_array *hi, const int64_t *shape, int ndim,
                                 mx_dtype dtype, const mx_array *key) {
    if (!lo || !hi) return NULL;
    float upper;
    switch (dtype) {
    case MX_FLOAT16: upper = 0.99951171875f; break;          /* 1 - 2^-11 */
    case MX_BFLOAT16: upper = 0.99609375f; break;            /* 1 - 2^-8 */
    default: upper = nextafterf(1.0f, 0.0f); break;
    }
    mx_array *range = mx_subtract(hi, lo);
    if (!range) return NULL;
    int64_t bshape[MX_MAX_NDIM];
    int bnd;
    if (mx_broadcast_shapes(op, shape, ndim, range->shape, range->ndim, bshape, &bnd)) return NULL;
    if (bnd != ndim || (ndim > 0 && memcmp(bshape, shape, sizeof(int64_t) * (size_t)ndim) != 0)) {
        mx_set_error("[%s] bounds of shape %s do not broadcast to the requested shape %s", op,
                     MX_SHAPE_STR(range), MX_FMT_SHAPE(shape, ndim));
        return NULL;
    }
    mx_array *bits = bits_node(op, shape, ndim, 4, key);
    mx_array *u = mx_divide(bits, mx_scalar(4294967295.0, MX_FLOAT32));
    u = mx_astype(mx_minimum(u, mx_scalar(upper, MX_FLOAT32)), dtype);
    return mx_add(mx_multiply(range, u), lo);
}

mx_array *mx_random_uniform(double low, double high, const int64_t *shape, int ndim, mx_dtype dtype,
                            const mx_array *key) {
    if (check_float("random_uniform", dtype) || check_shape("random_uniform", shape, ndim)) return NULL;
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *r = uniform_between("random_uniform", mx_scalar(low, dtype), mx_scalar(high, dtype), shape, ndim,
                                  dtype, key);
    return mx_composite_end(p, r);
}

mx_array *mx_random_normal(const int64_t *shape, int ndim, mx_dtype dtype, double loc, double scale,
                           const mx_array *key) {
    if (check_float("random_normal", dtype) || check_shape("random_normal", shape, ndim)) return NULL;
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    /* sqrt(2) * erfinv(u), u uniform in [nextafter(-1, 0), 1) in float32 */
    mx_array *u = uniform_between("random_normal", mx_scalar(nextafterf(-1.0f, 0.0f), MX_FLOAT32),
                                  mx_scalar(1.0, MX_FLOAT32), shape, ndim, MX_FLOAT32, key);
    mx_array *s = mx_scalar(sqrt(2.0), dtype);
    if (scale != 1.0) s = mx_multiply(s, mx_scalar(scale, dtype));
    mx_array *r = mx_multiply(s, mx_astype(mx_erfinv(u), dtype));
    if (loc != 0.0) r = mx_add(mx_scalar(loc, dtype), r);
    return mx_composite_end(p, r);
}

mx_array *mx_random_truncated_normal(double lower, double upper, const int64_t *shape, int ndim, mx_dtype dtype,
                                     const mx_array *key) {
    if (check_float("random_truncated_normal", dtype) || check_shape("random_truncated_normal", shape, ndim))
        return NULL;
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    /* Inverse CDF on [erf(lower/sqrt2), erf(upper/sqrt2)), clipped into bounds (as JAX/MLX). */
    mx_array *sqrt2 = mx_scalar(sqrt(2.0), dtype);
    mx_array *lo = mx_scalar(lower, dtype), *hi = mx_scalar(upper, dtype);
    mx_array *a = mx_erf(mx_divide(lo, sqrt2)), *b = mx_erf(mx_divide(hi, sqrt2));
    mx_array *u = uniform_between("random_truncated_normal", a, b, shape, ndim, dtype, key);
    mx_array *r = mx_multiply(sqrt2, mx_erfinv(u));
    r = mx_maximum(mx_minimum(hi, r), lo);
    return mx_composite_end(p, r);
}

/* Integers in [low, high): raw bits reduced modulo the width, all in uint64 (exact for any
 * bounds, as MLX does since it stopped going through float32). 64-bit dtypes combine two
 * 32-bit draws from the two halves of split(key). An empty interval gives `low`. */
mx_array *mx_random_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, mx_dtype dtype,
                            const mx_array *key) {
    if ((unsigned)dtype >= MX_DTYPE_COUNT || mx_dtype_is_float(dtype)) {
        mx_set_error("[random_randint] dtype must be an integer or bool type, got %s",
                     (unsigned)dtype < MX_DTYPE_COUNT ? mx_dtype_name(dtype) : "invalid");
        return NULL;
    }
    if (check_shape("random_randint", shape, ndim)) return NULL;
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    uint64_t width = high > low ? (uint64_t)high - (uint64_t)low : 1;
    mx_array *raw;
    if (dtype == MX_INT64 || dtype == MX_UINT64) {
        mx_array *k = key ? mx_random_split(key, 2) : NULL;
        mx_array *k1 = k ? mx_reshape(mx_slice_axis(k, 0, 0, 1), (int64_t[]){2}, 1) : NULL;
        mx_array *k2 = k ? mx_reshape(mx_slice_axis(k, 0, 1, 2), (int64_t[]){2}, 1) : NULL;
        if (key && (!k1 || !k2)) return mx_composite_end(p, NULL);
        mx_array *lo_bits = mx_astype(bits_node("random_randint", shape, ndim, 4, k1), MX_UINT64);
        mx_array *hi_bits = mx_astype(bits_node("random_randint", shape, ndim, 4, k2), MX_UINT64);
        raw = mx_bitwise_or(mx_left_shift(hi_bits, mx_scalar_int(32, MX_UINT64)), lo_bits);
    } else {
        raw = mx_astype(bits_node("random_randint", shape, ndim, 4, key), MX_UINT64);
    }
    mx_array *off = mx_remainder(raw, mx_scalar_int((int64_t)width, MX_UINT64));
    mx_array *r = mx_astype(mx_add(mx_scalar_int(low, MX_UINT64), off), dtype);
    return mx_composite_end(p, r);
}

/* bits < p * nextafter(2^32 as float, +inf), compared in float32 as MLX does: p <= 0 never
 * fires, p >= 1 always does. */
mx_array *mx_random_bernoulli(double p, const int64_t *shape, int ndim, const mx_array *key) {
    if (check_shape("random_bernoulli", shape, ndim)) return NULL;
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    float thr = (float)p * nextafterf(4294967295.0f, INFINITY);
    mx_array *r = mx_less(bits_node("random_bernoulli", shape, ndim, 4, key), mx_scalar(thr, MX_FLOAT32));
    return mx_composite_end(pool, r);
}

mx_array *mx_random_gumbel(const int64_t *shape, int ndim, mx_dtype dtype, const mx_array *key) {
    if (check_float("random_gumbel", dtype) || check_shape("random_gumbel", shape, ndim)) return NULL;
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *u = uniform_between("random_gumbel", mx_scalar(0.0, dtype), mx_scalar(1.0, dtype), shape, ndim, dtype,
                                  key);
    mx_array *r = mx_negative(mx_log(mx_negative(mx_log(u))));
    return mx_composite_end(p, r);
}

/* Gumbel-max: argmax(logits + gumbel noise) along axis. With num_samples, logits get a
 * trailing axis of 1 and the noise one of num_samples, so each sample has its own noise. */
mx_array *mx_random_categorical(const mx_array *logits, int axis, int num_samples, const mx_array *key) {
    if (!logits) return NULL;
    int ax = mx_norm_axis("random_categorical", axis, logits->ndim);
    if (ax < 0) return NULL;
    if (num_samples < 0) {
        mx_set_error("[random_categorical] num_samples must be >= 0, got %d", num_samples);
        return NULL;
    }
    if (num_samples > 0 && logits->ndim + 1 > MX_MAX_NDIM) {
        mx_set_error("[random_categorical] logits %s have too many dimensions", MX_SHAPE_STR(logits));
        return NULL;
    }
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    const mx_array *l = logits;
    int64_t gshape[MX_MAX_NDIM];
    int gnd = logits->ndim;
    memcpy(gshape, logits->shape, sizeof(int64_t) * (size_t)gnd);
    if (num_samples > 0) {
        l = mx_expand_dims(logits, (int[]){-1}, 1);
        gshape[gnd++] = num_samples;
    }
    mx_array *g = mx_random_gumbel(gshape, gnd, MX_FLOAT32, key);
    mx_array *r = l ? mx_argmax(mx_add(g, l), ax, 0) : NULL;
    return mx_composite_end(p, r);
}
