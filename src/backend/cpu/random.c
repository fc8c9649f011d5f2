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

#include "backend/cpu/arch/cpu_features.h"
#include "backend/cpu/chunk.h"
#include "backend/cpu/kernels.h"
#include "core/strided.h"
#include "ops/random.h"

static inline void put_word(unsigned char *dst, int64_t bytes, int64_t loc, uint32_t v) {
    int64_t at = 4 * loc;
    if (at >= bytes) return;
    memcpy(dst + at, &v, bytes - at < 4 ? (size_t)(bytes - at) : 4);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_RANDOM_AVX512 1

/* mx_threefry2x32 on 16 counter pairs at once (vprold for the rotations): pairs j0 .. j0 + 15,
 * words j and second + j (second = half + odd), stored whole. Same arithmetic, same bits. */
__attribute__((target("avx512f"))) static void threefry16(uint32_t k0, uint32_t k1, int64_t j0, int64_t second,
                                                          unsigned char *dst) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i K0 = _mm512_set1_epi32((int)k0), K1 = _mm512_set1_epi32((int)k1);
    const __m512i K2 = _mm512_set1_epi32((int)(k0 ^ k1 ^ 0x1BD11BDAu));
    __m512i x0 = _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)j0), lane), K0);
    __m512i x1 = _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)(second + j0)), lane), K1);
#define TF_R(r) x0 = _mm512_add_epi32(x0, x1), x1 = _mm512_xor_si512(_mm512_rol_epi32(x1, r), x0);
#define TF_EVEN TF_R(13) TF_R(15) TF_R(26) TF_R(6)
#define TF_ODD TF_R(17) TF_R(29) TF_R(16) TF_R(24)
#define TF_INJECT(A, B, i) \
    x0 = _mm512_add_epi32(x0, A), x1 = _mm512_add_epi32(x1, _mm512_add_epi32(B, _mm512_set1_epi32(i)));
    TF_EVEN TF_INJECT(K1, K2, 1)
    TF_ODD TF_INJECT(K2, K0, 2)
    TF_EVEN TF_INJECT(K0, K1, 3)
    TF_ODD TF_INJECT(K1, K2, 4)
    TF_EVEN TF_INJECT(K2, K0, 5)
#undef TF_R
#undef TF_EVEN
#undef TF_ODD
#undef TF_INJECT
    _mm512_storeu_si512(dst + 4 * j0, x0);
    _mm512_storeu_si512(dst + 4 * (second + j0), x1);
}
#endif

/* One key's bytes (layout above). On the AVX-512 path the pairs go 16 at a time while both of
 * their words are whole (only the last word can be partial); the rest one pair at a time.
 * Sampling at a temperature draws one value per vocabulary entry each token: 128k scalar
 * Threefry blocks took ~3.5 ms on one thread of this project's VM. */
static void fill_key(uint32_t k0, uint32_t k1, unsigned char *dst, int64_t bytes) {
    int64_t words = (bytes + 3) / 4, half = words / 2, odd = words % 2, second = half + odd, j0 = 0;
#ifdef HAVE_RANDOM_AVX512
    if (cpu_path_active() == CPU_PATH_AVX512) {
        int64_t whole = bytes % 4 ? half - 1 : half, blocks = whole > 0 ? whole / 16 : 0;
#pragma omp parallel for if (cpu_parallel_worth(words))
        for (int64_t b = 0; b < blocks; b++) threefry16(k0, k1, 16 * b, second, dst);
        j0 = 16 * blocks;
    }
#endif
#pragma omp parallel for if (cpu_parallel_worth(half - j0))
    for (int64_t j = j0; j < half; j++) {
        uint32_t r[2];
        mx_threefry2x32(k0, k1, (uint32_t)j, (uint32_t)(second + j), r);
        put_word(dst, bytes, j, r[0]);
        put_word(dst, bytes, second + j, r[1]);
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
