/* CPU kernel of RANDOM_BITS: MLX's layout of Threefry output, so the same key gives the
 * same bits as MLX.
 *
 * Keys have shape [..., 2]; each key fills out.size / num_keys elements, i.e. `bytes`
 * bytes = `words` 32-bit words (the last one possibly partial). With half = words / 2,
 * counter (j, half + odd + j) produces words j and half + odd + j; when `words` is odd
 * the middle word `half` comes from counter (half, 0). A partial last word keeps its
 * low-order bytes (little-endian). */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/chunk.h"
#include "backend/cpu/kernels.h"
#include "core/strided.h"
#include "ops/random.h"

static inline void put_word(unsigned char *dst, int64_t bytes, int64_t loc, uint32_t v) {
    int64_t at = 4 * loc;
    if (at >= bytes) return;
    memcpy(dst + at, &v, bytes - at < 4 ? (size_t)(bytes - at) : 4);
}

static void fill_key(uint32_t k0, uint32_t k1, unsigned char *dst, int64_t bytes) {
    int64_t words = (bytes + 3) / 4, half = words / 2, odd = words % 2;
#pragma omp parallel for if (cpu_parallel_worth(words))
    for (int64_t j = 0; j < half; j++) {
        uint32_t r[2];
        mx_threefry2x32(k0, k1, (uint32_t)j, (uint32_t)(half + odd + j), r);
        put_word(dst, bytes, j, r[0]);
        put_word(dst, bytes, half + odd + j, r[1]);
    }
    if (odd) {
        uint32_t r[2];
        mx_threefry2x32(k0, k1, (uint32_t)half, 0, r);
        put_word(dst, bytes, half, r[0]);
    }
}

int cpu_random_bits(const mx_kernel_ctx *c) {
    mx_array *keys = c->inputs[0], *out = c->outputs[0];
    if (mx_out_alloc(out)) return -1;
    int64_t num_keys = keys->size / 2;
    if (out->size == 0 || num_keys == 0) return 0;
    uint32_t *k = malloc((size_t)keys->size * sizeof *k);
    if (!k) {
        mx_set_error("[random_bits] out of memory reading %lld keys", (long long)num_keys);
        return -1;
    }
    mx_copy_strided(keys, MX_UINT32, k, 0, keys->size);
    int64_t bytes_per_key = (out->size / num_keys) * (int64_t)mx_dtype_size(out->dtype);
    unsigned char *o = (unsigned char *)mx_array_ptr(out);
    for (int64_t i = 0; i < num_keys; i++) fill_key(k[2 * i], k[2 * i + 1], o + i * bytes_per_key, bytes_per_key);
    free(k);
    return 0;
}
