/* Random numbers (mirrors mlx.core.random): key-based, counter-based (Threefry-2x32-20 as
 * MLX uses), so results depend only on the key, never on evaluation order or threads.
 * A key is a uint32 array of shape [2]. Every function taking a key accepts NULL to draw
 * from the global key (seeded by mx_random_seed), which is then advanced. */
#ifndef CMLX_RANDOM_H
#define CMLX_RANDOM_H

#include "cmlx/array.h"

#ifdef __cplusplus
extern "C" {
#endif

void mx_random_seed(uint64_t seed);
mx_array *mx_random_key(uint64_t seed);
/* num new keys from key: uint32 [num, 2]. */
mx_array *mx_random_split(const mx_array *key, int num);
/* Raw random bits: uint32 (width 4), uint16 (2) or uint8 (1) of the given shape, laid out
 * exactly as MLX's (so the same key gives the same bits as mlx.core.random.bits). */
mx_array *mx_random_bits(const int64_t *shape, int ndim, int width, const mx_array *key);
/* Floats in [low, high) (MLX's construction: bits / 2^32 in float32, clamped below 1). */
mx_array *mx_random_uniform(double low, double high, const int64_t *shape, int ndim, mx_dtype dtype,
                            const mx_array *key);
/* loc + scale * sqrt(2) * erfinv(u), u uniform in (-1, 1) (as MLX). */
mx_array *mx_random_normal(const int64_t *shape, int ndim, mx_dtype dtype, double loc, double scale,
                           const mx_array *key);
/* Standard normal restricted to [lower, upper] (inverse CDF, then clipped, as MLX/JAX). */
mx_array *mx_random_truncated_normal(double lower, double upper, const int64_t *shape, int ndim, mx_dtype dtype,
                                     const mx_array *key);
/* Integers in [low, high) (`low` when the interval is empty): bits modulo the width
 * in uint64, exact for any bounds (modulo bias below width / 2^32, as MLX); int64/uint64
 * combine two draws from split(key). */
mx_array *mx_random_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, mx_dtype dtype,
                            const mx_array *key);
/* bool: true with probability p. */
mx_array *mx_random_bernoulli(double p, const int64_t *shape, int ndim, const mx_array *key);
/* -log(-log(u)), u uniform in [0, 1). */
mx_array *mx_random_gumbel(const int64_t *shape, int ndim, mx_dtype dtype, const mx_array *key);
/* Samples indices from the unnormalised log-probabilities `logits` along axis: one per
 * row when num_samples is 0 (axis removed), else num_samples per row (as the last axis).
 * Gumbel-max sampling; uint32 indices. */
mx_array *mx_random_categorical(const mx_array *logits, int axis, int num_samples, const mx_array *key);

#ifdef __cplusplus
}
#endif
#endif
