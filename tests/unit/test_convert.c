/* The vectorized bfloat16 <-> float32 and float16 <-> float32 runs of mx_convert (core/dtype.c;
 * the CPU's clone / F16C where it has them) against the scalar definitions mx_f32_to_bf16 /
 * mx_bf16_to_f32 / mx_f32_to_f16 / mx_f16_to_f32, bit for bit, on every class of value:
 * random bit patterns, exact ties of the rounding (even and odd kept halves), values that
 * round up into the next binade and to infinity, subnormals, signed zeros, infinities,
 * signalling and quiet NaNs with payloads; at lengths around the 16-value block (tails); and
 * every float16 pattern widened. Also mx_round_to_dtype (float32
 * rounded in place to bfloat16 / float16 precision) against the round trip. */
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "test.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t next32(void) {
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (uint32_t)((rng * 2685821657736338717ull) >> 32);
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int main(void) {
    static const uint32_t special[] = {
        0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u,              /* zeros, infinities */
        0x7fc00000u, 0xffc00001u, 0x7f800001u, 0xff800001u, 0x7fa12345u, /* NaNs: quiet, signalling */
        0x00000001u, 0x807fffffu, 0x00008000u, 0x00018000u, 0x00007fffu, /* subnormals, ties among them */
        0x3f808000u, 0x3f818000u, 0x3f807fffu, 0x3f808001u,              /* ties to even, just around */
        0x7f7fffffu, 0x7f7f8000u, 0x7f7f7fffu, 0xff7fffffu,              /* round to infinity or not */
        0x3fffffffu, 0x3f7fffffu, 0x00ffffffu, 0x807f8000u,              /* carry into the next binade */
        0x3f801000u, 0x3f803000u, 0x3f800fffu, 0x3f801001u,              /* float16: ties to even, around */
        0x477fe000u, 0x477ff000u, 0x477fefffu, 0x47800000u,              /* float16: max, to infinity or not */
        0x387fc000u, 0x38800000u, 0x33000000u, 0x33000001u, 0x33c00000u, /* float16: subnormals, ties to 0 */
        0x7f802000u, 0x7fc00001u,                                        /* NaNs whose payload float16 drops */
    };
    const size_t ns = sizeof special / sizeof special[0];
    enum { N = 4099 };
    uint32_t *bits = malloc(N * sizeof *bits);
    float *f = malloc(N * sizeof *f), *back = malloc(N * sizeof *back);
    uint16_t *h = malloc(N * sizeof *h);
    if (!bits || !f || !back || !h) return 1;
    for (size_t i = 0; i < N; i++) bits[i] = i < 4 * ns ? special[i % ns] ^ (i >= 2 * ns ? 0x80000000u : 0) : next32();
    for (size_t i = 0; i < N; i++) f[i] = from_bits(bits[i]);
    const int64_t lens[] = {N, 1, 15, 16, 17, 31, 33, 64, 1000};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li], start = li == 0 ? 0 : (int64_t)(li * 7);
        for (int ti = 0; ti < 2; ti++) {
            mx_dtype ht = ti ? MX_FLOAT16 : MX_BFLOAT16;
            const char *name = ti ? "f16" : "bf16";
            mx_convert(f + start, MX_FLOAT32, h, ht, n);
            int bad = 0;
            for (int64_t i = 0; i < n && !bad; i++) {
                uint16_t want = ti ? mx_f32_to_f16(f[start + i]) : mx_f32_to_bf16(f[start + i]);
                if (h[i] != want) {
                    CHECK_MSG(0, "f32 -> %s, length %lld, value %lld: bits %08x gave %04x, scalar %04x", name,
                              (long long)n, (long long)i, bits[start + i], h[i], want);
                    bad = 1;
                }
            }
            CHECK(!bad);
            mx_convert(h, ht, back, MX_FLOAT32, n);
            bad = 0;
            for (int64_t i = 0; i < n && !bad; i++) {
                float want = ti ? mx_f16_to_f32(h[i]) : mx_bf16_to_f32(h[i]);
                if (memcmp(&back[i], &want, 4)) {
                    CHECK_MSG(0, "%s -> f32, length %lld, value %lld: %04x", name, (long long)n, (long long)i, h[i]);
                    bad = 1;
                }
            }
            CHECK(!bad);
        }
    }
    /* every float16 pattern widened (subnormals, infinities, NaN payloads) */
    {
        uint16_t *all = malloc(65536 * sizeof *all);
        float *wide = malloc(65536 * sizeof *wide);
        if (!all || !wide) return 1;
        for (uint32_t i = 0; i < 65536; i++) all[i] = (uint16_t)i;
        mx_convert(all, MX_FLOAT16, wide, MX_FLOAT32, 65536);
        int bad = 0;
        for (uint32_t i = 0; i < 65536 && !bad; i++) {
            float want = mx_f16_to_f32(all[i]);
            if (memcmp(&wide[i], &want, 4)) {
                CHECK_MSG(0, "f16 -> f32 of %04x", i);
                bad = 1;
            }
        }
        CHECK(!bad);
        free(all);
        free(wide);
    }
    /* rounding in place (compile's fused chains): the floats of a round trip through the type */
    const mx_dtype half_types[2] = {MX_BFLOAT16, MX_FLOAT16};
    for (int ti = 0; ti < 2; ti++)
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            int64_t n = lens[li], start = li == 0 ? 0 : (int64_t)(li * 5);
            memcpy(back, f + start, (size_t)n * sizeof *back);
            mx_round_to_dtype(back, half_types[ti], n);
            int bad = 0;
            for (int64_t i = 0; i < n && !bad; i++) {
                float want = half_types[ti] == MX_BFLOAT16 ? mx_bf16_to_f32(mx_f32_to_bf16(f[start + i]))
                                                           : mx_f16_to_f32(mx_f32_to_f16(f[start + i]));
                if (memcmp(&back[i], &want, 4)) {
                    CHECK_MSG(0, "round to %s in place, length %lld, value %lld: bits %08x", ti ? "float16" : "bfloat16",
                              (long long)n, (long long)i, bits[start + i]);
                    bad = 1;
                }
            }
            CHECK(!bad);
        }
    /* the scalar definition itself on a few values: round half to even, NaN stays NaN (quiet) */
    CHECK(mx_f32_to_bf16(from_bits(0x3f808000u)) == 0x3f80);
    CHECK(mx_f32_to_bf16(from_bits(0x3f818000u)) == 0x3f82);
    CHECK(mx_f32_to_bf16(from_bits(0x7f7fffffu)) == 0x7f80);
    CHECK(mx_f32_to_bf16(from_bits(0x7f800001u)) == 0x7fc0);
    free(bits);
    free(f);
    free(back);
    free(h);
    return test_finish();
}
