/* dtype traits, MLX's promotion lattice, and element conversions. */
#include "core/clones.h"
#include "core/dtype.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
    char kind; /* b, u, i, f */
} traits[MX_DTYPE_COUNT] = {
    [MX_BOOL] = {"bool", 1, 'b'},         [MX_UINT8] = {"uint8", 1, 'u'},
    [MX_UINT16] = {"uint16", 2, 'u'},     [MX_UINT32] = {"uint32", 4, 'u'},
    [MX_UINT64] = {"uint64", 8, 'u'},     [MX_INT8] = {"int8", 1, 'i'},
    [MX_INT16] = {"int16", 2, 'i'},       [MX_INT32] = {"int32", 4, 'i'},
    [MX_INT64] = {"int64", 8, 'i'},       [MX_FLOAT16] = {"float16", 2, 'f'},
    [MX_BFLOAT16] = {"bfloat16", 2, 'f'}, [MX_FLOAT32] = {"float32", 4, 'f'},
    [MX_FLOAT64] = {"float64", 8, 'f'},
};

size_t mx_dtype_size(mx_dtype t) { return (unsigned)t < MX_DTYPE_COUNT ? traits[t].size : 0; }
const char *mx_dtype_name(mx_dtype t) { return (unsigned)t < MX_DTYPE_COUNT ? traits[t].name : "invalid"; }
int mx_dtype_is_float(mx_dtype t) { return (unsigned)t < MX_DTYPE_COUNT && traits[t].kind == 'f'; }
int mx_dtype_is_integer(mx_dtype t) {
    return (unsigned)t < MX_DTYPE_COUNT && (traits[t].kind == 'u' || traits[t].kind == 'i');
}
int mx_dtype_is_signed(mx_dtype t) {
    return (unsigned)t < MX_DTYPE_COUNT && (traits[t].kind == 'i' || traits[t].kind == 'f');
}

/* MLX's promotion table (mlx/dtype.cpp), rows/cols in enum order:
 * b u8 u16 u32 u64 i8 i16 i32 i64 f16 bf16 f32 f64 */
#define B MX_BOOL
#define U8 MX_UINT8
#define U16 MX_UINT16
#define U32 MX_UINT32
#define U64 MX_UINT64
#define I8 MX_INT8
#define I16 MX_INT16
#define I32 MX_INT32
#define I64 MX_INT64
#define F16 MX_FLOAT16
#define BF MX_BFLOAT16
#define F32 MX_FLOAT32
#define F64 MX_FLOAT64
static const mx_dtype promotion[MX_DTYPE_COUNT][MX_DTYPE_COUNT] = {
    /* b   */ {B, U8, U16, U32, U64, I8, I16, I32, I64, F16, BF, F32, F64},
    /* u8  */ {U8, U8, U16, U32, U64, I16, I16, I32, I64, F16, BF, F32, F64},
    /* u16 */ {U16, U16, U16, U32, U64, I32, I32, I32, I64, F16, BF, F32, F64},
    /* u32 */ {U32, U32, U32, U32, U64, I64, I64, I64, I64, F16, BF, F32, F64},
    /* u64 */ {U64, U64, U64, U64, U64, F32, F32, F32, F32, F16, BF, F32, F64},
    /* i8  */ {I8, I16, I32, I64, F32, I8, I16, I32, I64, F16, BF, F32, F64},
    /* i16 */ {I16, I16, I32, I64, F32, I16, I16, I32, I64, F16, BF, F32, F64},
    /* i32 */ {I32, I32, I32, I64, F32, I32, I32, I32, I64, F16, BF, F32, F64},
    /* i64 */ {I64, I64, I64, I64, F32, I64, I64, I64, I64, F16, BF, F32, F64},
    /* f16 */ {F16, F16, F16, F16, F16, F16, F16, F16, F16, F16, F32, F32, F64},
    /* bf  */ {BF, BF, BF, BF, BF, BF, BF, BF, BF, F32, BF, F32, F64},
    /* f32 */ {F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F64},
    /* f64 */ {F64, F64, F64, F64, F64, F64, F64, F64, F64, F64, F64, F64, F64},
};

mx_dtype mx_promote_types(mx_dtype a, mx_dtype b) { return promotion[a][b]; }

double mx_load_double(const void *p, mx_dtype t, int64_t i) {
    switch (t) {
    case MX_BOOL: return ((const uint8_t *)p)[i] != 0;
    case MX_UINT8: return ((const uint8_t *)p)[i];
    case MX_UINT16: return ((const uint16_t *)p)[i];
    case MX_UINT32: return ((const uint32_t *)p)[i];
    case MX_UINT64: return (double)((const uint64_t *)p)[i];
    case MX_INT8: return ((const int8_t *)p)[i];
    case MX_INT16: return ((const int16_t *)p)[i];
    case MX_INT32: return ((const int32_t *)p)[i];
    case MX_INT64: return (double)((const int64_t *)p)[i];
    case MX_FLOAT16: return mx_f16_to_f32(((const uint16_t *)p)[i]);
    case MX_BFLOAT16: return mx_bf16_to_f32(((const uint16_t *)p)[i]);
    case MX_FLOAT32: return ((const float *)p)[i];
    case MX_FLOAT64: return ((const double *)p)[i];
    default: return NAN;
    }
}

int64_t mx_load_int(const void *p, mx_dtype t, int64_t i) {
    switch (t) {
    case MX_BOOL: return ((const uint8_t *)p)[i] != 0;
    case MX_UINT8: return ((const uint8_t *)p)[i];
    case MX_UINT16: return ((const uint16_t *)p)[i];
    case MX_UINT32: return ((const uint32_t *)p)[i];
    case MX_UINT64: return (int64_t)((const uint64_t *)p)[i];
    case MX_INT8: return ((const int8_t *)p)[i];
    case MX_INT16: return ((const int16_t *)p)[i];
    case MX_INT32: return ((const int32_t *)p)[i];
    case MX_INT64: return ((const int64_t *)p)[i];
    default: {
        double d = mx_load_double(p, t, i);
        if (!(d == d)) return 0;
        if (d >= 9.2233720368547758e18) return INT64_MAX;
        if (d <= -9.2233720368547758e18) return INT64_MIN;
        return (int64_t)d;
    }
    }
}

/* Float to integer as C casts do, but defined for out-of-range values (saturate; NaN -> 0)
 * so that UBSan stays quiet and results are the same on every machine. */
static int64_t sat_i64(double v, double lo, double hi) {
    if (!(v == v)) return 0;
    if (v <= lo) return (int64_t)lo;
    if (v >= hi) return (int64_t)hi;
    return (int64_t)v;
}

void mx_store_double(void *p, mx_dtype t, int64_t i, double v) {
    switch (t) {
    case MX_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case MX_UINT8: ((uint8_t *)p)[i] = (uint8_t)sat_i64(v, 0, 255); break;
    case MX_UINT16: ((uint16_t *)p)[i] = (uint16_t)sat_i64(v, 0, 65535); break;
    case MX_UINT32: ((uint32_t *)p)[i] = (uint32_t)sat_i64(v, 0, 4294967295.0); break;
    case MX_UINT64:
        ((uint64_t *)p)[i] = !(v == v) || v <= 0 ? 0 : v >= 1.8446744073709552e19 ? UINT64_MAX : (uint64_t)v;
        break;
    case MX_INT8: ((int8_t *)p)[i] = (int8_t)sat_i64(v, -128, 127); break;
    case MX_INT16: ((int16_t *)p)[i] = (int16_t)sat_i64(v, -32768, 32767); break;
    case MX_INT32: ((int32_t *)p)[i] = (int32_t)sat_i64(v, -2147483648.0, 2147483647.0); break;
    case MX_INT64:
        ((int64_t *)p)[i] = !(v == v) ? 0 : v >= 9.2233720368547758e18 ? INT64_MAX
                                          : v <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v;
        break;
    case MX_FLOAT16: ((uint16_t *)p)[i] = mx_f32_to_f16((float)v); break;
    case MX_BFLOAT16: ((uint16_t *)p)[i] = mx_f32_to_bf16((float)v); break;
    case MX_FLOAT32: ((float *)p)[i] = (float)v; break;
    case MX_FLOAT64: ((double *)p)[i] = v; break;
    default: break;
    }
}

void mx_store_int(void *p, mx_dtype t, int64_t i, int64_t v) {
    switch (t) {
    case MX_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case MX_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case MX_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case MX_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case MX_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case MX_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case MX_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case MX_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case MX_INT64: ((int64_t *)p)[i] = v; break;
    default: mx_store_double(p, t, i, (double)v); break;
    }
}

/* bfloat16 <-> float32 runs: every kernel converts its inputs and results through these
 * (a decode token of a 1B model converts a few MB), and the scalar loops were 3% of decode.
 * Blocks of 16 with a fixed trip count and no branches are what GCC's -O2 cost model
 * vectorizes; the tail goes through the scalar conversions. Results are bit-identical to
 * mx_bf16_to_f32 / mx_f32_to_bf16 (round to nearest even, NaN stays a quiet NaN).
 * MX_CLONES (core/clones.h) adds AVX-512 and AVX2 copies picked at load time. */
#define CONVERT_CLONES MX_CLONES

/* 16 values at a time in GCC vector types (registers of whatever width the clone has; other
 * compilers run the scalar tail loop for everything).
 *  - widening: a u32[16] array on the stack written with two 32-byte stores and copied out with
 *    one 64-byte load missed store forwarding on every block (85% of the function's time,
 *    measured; a 2048-value bf16 multiply took 13.6 us end to end);
 *  - narrowing: the array form vectorized at GCC's preferred 256-bit width with pack-and-permute
 *    narrowing (4x the time of the widening direction, the largest conversion cost of a decode
 *    token's small ops); explicit 64-byte vectors take zmm registers in the AVX-512 clone. A
 *    vector comparison gives -1 (all ones) per true lane.
 * tests/unit/test_convert.c checks both directions against the scalar definitions. */
#if defined(__GNUC__) || defined(__clang__)
#define CONVERT_VECTORS 1
typedef uint16_t v16_u16 __attribute__((vector_size(32)));
typedef uint32_t v16_u32 __attribute__((vector_size(64)));
#endif

CONVERT_CLONES static void bf16_to_f32_run(const void *src, void *dst, int64_t n) {
    const uint16_t *s = src;
    float *d = dst;
    int64_t i = 0;
#ifdef CONVERT_VECTORS
    for (; i + 16 <= n; i += 16) {
        v16_u16 h;
        memcpy(&h, s + i, sizeof h); /* memcpy: float bits without type punning through pointers */
        v16_u32 u = __builtin_convertvector(h, v16_u32) << 16;
        memcpy(d + i, &u, sizeof u);
    }
#endif
    for (; i < n; i++) d[i] = mx_bf16_to_f32(s[i]);
}

#ifdef CONVERT_VECTORS
/* mx_f32_to_bf16 of 16 float bit patterns in place, each result in the low half of its lane
 * (through a pointer: a 64-byte vector argument or result would be ABI-dependent). */
static inline __attribute__((always_inline)) void bf16_bits(v16_u32 *v) {
    v16_u32 u = *v, nan = (v16_u32)((u & 0x7fffffffu) > 0x7f800000u);
    v16_u32 rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, quiet = (u >> 16) | 0x40u;
    *v = (rounded & ~nan) | (quiet & nan);
}
#endif

CONVERT_CLONES static void f32_to_bf16_run(const void *src, void *dst, int64_t n) {
    const float *s = src;
    uint16_t *d = dst;
    int64_t i = 0;
#ifdef CONVERT_VECTORS
    for (; i + 16 <= n; i += 16) {
        v16_u32 u;
        memcpy(&u, s + i, sizeof u);
        bf16_bits(&u);
        v16_u16 h = __builtin_convertvector(u, v16_u16);
        memcpy(d + i, &h, sizeof h);
    }
#endif
    for (; i < n; i++) d[i] = mx_f32_to_bf16(s[i]);
}

/* float32 values rounded to bfloat16 precision in place: the bits mx_f32_to_bf16 keeps, in
 * the upper half of each float (one pass instead of narrowing and widening). */
CONVERT_CLONES static void round_bf16_run(float *x, int64_t n) {
    int64_t i = 0;
#ifdef CONVERT_VECTORS
    for (; i + 16 <= n; i += 16) {
        v16_u32 u;
        memcpy(&u, x + i, sizeof u);
        bf16_bits(&u);
        u <<= 16;
        memcpy(x + i, &u, sizeof u);
    }
#endif
    for (; i < n; i++) x[i] = mx_bf16_to_f32(mx_f32_to_bf16(x[i]));
}

/* float16 <-> float32 runs. GCC's _Float16 conversions (dtype.h) are calls into libgcc
 * without F16C: ~30 ns a value, which made every float16 model's elementwise ops 25x slower
 * than bfloat16's (a [512, 8192] swiglu: 263 ms against 10, measured). With F16C
 * (every x86-64 CPU with AVX2), vcvtph2ps / vcvtps2ph (round to nearest even) do 8 at a time;
 * the same bits as the scalar definitions (tests/unit/test_convert.c: every float16 pattern,
 * and random, tie, overflow, subnormal and NaN floats). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define F16C_RUNS 1
__attribute__((target("avx,f16c"))) static void f16_to_f32_f16c(const uint16_t *s, float *d, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
    for (; i < n; i++) d[i] = mx_f16_to_f32(s[i]);
}
__attribute__((target("avx,f16c"))) static void f32_to_f16_f16c(const float *s, uint16_t *d, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(d + i), _mm256_cvtps_ph(_mm256_loadu_ps(s + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) d[i] = mx_f32_to_f16(s[i]);
}
#endif

static void f16_to_f32_run(const uint16_t *s, float *d, int64_t n) {
#ifdef F16C_RUNS
    if (__builtin_cpu_supports("f16c")) {
        f16_to_f32_f16c(s, d, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) d[i] = mx_f16_to_f32(s[i]);
}

static void f32_to_f16_run(const float *s, uint16_t *d, int64_t n) {
#ifdef F16C_RUNS
    if (__builtin_cpu_supports("f16c")) {
        f32_to_f16_f16c(s, d, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) d[i] = mx_f32_to_f16(s[i]);
}

void mx_round_to_dtype(float *x, mx_dtype t, int64_t n) {
    if (t == MX_BFLOAT16) {
        round_bf16_run(x, n);
    } else if (t == MX_FLOAT16) {
        uint16_t h[256];
        for (int64_t s = 0; s < n; s += 256) {
            int64_t m = n - s < 256 ? n - s : 256;
            f32_to_f16_run(x + s, h, m);
            f16_to_f32_run(h, x + s, m);
        }
    }
}

void mx_convert(const void *src, mx_dtype st, void *dst, mx_dtype dt, int64_t n) {
    if (st == dt) {
        memcpy(dst, src, (size_t)n * mx_dtype_size(st));
        return;
    }
    /* Common fast paths for model weights. */
    if (st == MX_BFLOAT16 && dt == MX_FLOAT32) {
        bf16_to_f32_run(src, dst, n);
        return;
    }
    if (st == MX_FLOAT32 && dt == MX_BFLOAT16) {
        f32_to_bf16_run(src, dst, n);
        return;
    }
    if (st == MX_FLOAT16 && dt == MX_FLOAT32) {
        f16_to_f32_run(src, dst, n);
        return;
    }
    if (st == MX_FLOAT32 && dt == MX_FLOAT16) {
        f32_to_f16_run(src, dst, n);
        return;
    }
    /* 32-bit integers to float32 (random bits become uniform floats this way): one rounding
     * either way, so the direct cast gives the bits of the double path, ~10x faster. */
    if (st == MX_UINT32 && dt == MX_FLOAT32) {
        for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = (float)((const uint32_t *)src)[i];
        return;
    }
    if (st == MX_INT32 && dt == MX_FLOAT32) {
        for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = (float)((const int32_t *)src)[i];
        return;
    }
    int int_path = !mx_dtype_is_float(st) && !mx_dtype_is_float(dt);
    if (int_path) {
        if (st == MX_UINT64 && dt != MX_UINT64) { /* keep values above INT64_MAX exact */
            for (int64_t i = 0; i < n; i++) mx_store_int(dst, dt, i, (int64_t)((const uint64_t *)src)[i]);
            return;
        }
        for (int64_t i = 0; i < n; i++) mx_store_int(dst, dt, i, mx_load_int(src, st, i));
    } else {
        for (int64_t i = 0; i < n; i++) mx_store_double(dst, dt, i, mx_load_double(src, st, i));
    }
}
