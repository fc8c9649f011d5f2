/* Random bits: the RANDOM_BITS primitive's parameters and the Threefry-2x32-20 block
 * function, shared by the op builders (which advance the global key on the host) and the
 * CPU kernel. */
#ifndef CMLX_OPS_RANDOM_H
#define CMLX_OPS_RANDOM_H

#include <stdint.h>

typedef struct {
    int width;   /* bytes per output element: 4 (uint32), 2 (uint16) or 1 (uint8) */
} mx_random_bits_params;

static inline uint32_t mx_rotl32(uint32_t x, unsigned r) { return (x << r) | (x >> (32 - r)); }

/* Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2,
 * 3", SC'11), in the key-schedule form JAX and MLX use: key (k0, k1), counter (c0, c1). */
static inline void mx_threefry2x32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t out[2]) {
    static const unsigned rot[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
    const uint32_t ks[3] = {k0, k1, k0 ^ k1 ^ 0x1BD11BDAu};
    uint32_t x0 = c0 + ks[0], x1 = c1 + ks[1];
    for (uint32_t i = 0; i < 5; i++) {
        for (int r = 0; r < 4; r++) {
            x0 += x1;
            x1 = mx_rotl32(x1, rot[i % 2][r]);
            x1 ^= x0;
        }
        x0 += ks[(i + 1) % 3];
        x1 += ks[(i + 2) % 3] + i + 1;
    }
    out[0] = x0;
    out[1] = x1;
}

#endif
