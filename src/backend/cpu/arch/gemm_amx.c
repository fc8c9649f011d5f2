/* AMX bf16 GEMM for products of many rows (see gemm_amx.h).
 *
 * Layouts: every tile operand is stored as its own contiguous 1 KB block (16 rows of 64 bytes),
 * so a tile load reads 16 consecutive cache lines. Rows 4 KB apart, as in the weights' own
 * layout, would all fall in one L1 set (more rows than ways) and miss on every load.
 *  - x: [Mp/16][Kp/2][16] bf16 pair words (Mp, Kp: M and K rounded up to 32), zero padded;
 *    packed once per call;
 *  - a weight panel of np rows: [np/16][Kp/32][16 rows][32 values] bfloat16, written by the
 *    weight source a row at a time (chunks of 32 values, 1 KB apart).
 * Blocking: threads take panels of np weight rows (about 512 KB: it stays in L2); every
 * 32-row block of x meets the panel 32 weight rows at a time: 2 x 2 accumulator tiles (tmm0-3:
 * [16 weight rows][16 x rows] float32), two weight tiles (tmm4-5) and two x tiles (tmm6-7),
 * so each k-step of 32 values does four tdpbf16ps for four tile loads. The accumulators are
 * written back transposed (16 x 16 in-register transposes) into y; padding rows and columns
 * are never written.
 *
 * Functions carry their own target attributes (the library is built for baseline x86-64);
 * they run only when cpu_amx_active() said the CPU and the OS allow the tiles. */
#include "backend/cpu/arch/gemm_amx.h"

#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "core/array_impl.h"
#include "core/dtype.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* Strided bf16 weights (B not in the Linear layout): element by element. */
static void row_bf16_strided(const amx_bf16_weight *w, int64_t n, int64_t K, uint16_t *dst, int64_t chunk_stride) {
    const uint16_t *src = w->p + n * w->ns;
    for (int64_t k0 = 0; k0 < K; k0 += 32) {
        uint16_t *d = dst + k0 / 32 * chunk_stride;
        int64_t len = min64(32, K - k0);
        for (int64_t k = 0; k < len; k++) d[k] = src[(k0 + k) * w->ks];
        memset(d + len, 0, sizeof(uint16_t) * (size_t)(32 - len));
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "backend/cpu/arch/qmv_avx512_util.h"

#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16,fma")))
#define VEC_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))

#ifndef PANEL_BYTES
#define PANEL_BYTES (512 * 1024) /* a converted weight panel: about a quarter of L2 */
#endif
#ifndef KC_TILES
#define KC_TILES 8 /* k-steps of 32 values per pass over a panel's parts */
#endif

/* ldtilecfg's 64-byte operand (Intel SDM, "TILECFG"). */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* Every tile: 16 rows of 64 bytes (16 float32 sums, 32 bf16 values or 16 bf16 pairs). A
 * static object: gcc 12 drops stores to a stack copy before ldtilecfg (it does not see the
 * instruction read them), leaving garbage rows that fault. */
static const tile_config tiles_16x64 = {
    .palette = 1,
    .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
    .rows = {16, 16, 16, 16, 16, 16, 16, 16},
};

AMX_TARGET static void tiles_on(void) { _tile_loadconfig(&tiles_16x64); }

AMX_TARGET static void tiles_off(void) { _tile_release(); }

VEC_TARGET static void copy_row_bf16(const uint16_t *src, int64_t K, uint16_t *dst, int64_t chunk_stride) {
    for (int64_t k0 = 0; k0 < K; k0 += 32) {
        _mm_prefetch((const char *)(src + k0) + 1024, _MM_HINT_T0);
        int64_t len = K - k0;
        __mmask32 m = (__mmask32)(len >= 32 ? 0xffffffffu : (1u << len) - 1);
        _mm512_store_si512(dst + k0 / 32 * chunk_stride, _mm512_maskz_loadu_epi16(m, src + k0));
    }
}

/* One row of MLX affine weights, dequantized (s * q + b in float32, rounded to bfloat16 to
 * nearest even), in chunks of 32 values chunk_stride apart. Groups are 32, 64 or 128 values,
 * so every chunk lies in one group. Scales and biases are read 16 groups at a time. 4-bit: the
 * 16 possible values of a group are computed once, as a 16-word table repeated in both halves
 * of a 32-word vector, and the nibbles index it (vpermw reads the low 5 bits of each index
 * word: with the table repeated, bit 4 does not matter). Byte i (q[2i] low, q[2i+1] high)
 * zero-extended to dword d gives d | d << 12: word 2i = the byte (low nibble in bits 0-3),
 * word 2i+1 = byte >> 4. 8-bit: converted 16 at a time. Measured (one 768 x 2048 4-bit
 * matrix, 16 rows of x, one thread): a scalar parameter load per group and a 4-op index made
 * this 0.22 ns a weight, more than the tile products. */
VEC_TARGET static void dequant_row(const qk_weights *w, int64_t n, uint16_t *dst, int64_t chunk_stride) {
    const int64_t K = w->k, gs = w->gs, G = w->groups, rb = K * w->bits / 8;
    const uint8_t *row = w->w + n * rb;
    const __m512 codes = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    float sv[16], bv[16];
    for (int64_t g0 = 0; g0 < G; g0 += 16) {
        int cnt = G - g0 < 16 ? (int)(G - g0) : 16;
        _mm512_storeu_ps(sv, qk_load16_avx512(w->scales, w->sdt, n * G + g0, cnt));
        _mm512_storeu_ps(bv, qk_load16_avx512(w->biases, w->sdt, n * G + g0, cnt));
        for (int gi = 0; gi < cnt; gi++) {
            int64_t g = g0 + gi;
            __m512 s = _mm512_set1_ps(sv[gi]), b = _mm512_set1_ps(bv[gi]);
            if (w->bits == 4) {
                __m256i t16 = (__m256i)_mm512_cvtneps_pbh(_mm512_fmadd_ps(codes, s, b));
                __m512i table = _mm512_inserti64x4(_mm512_castsi256_si512(t16), t16, 1);
                for (int64_t k0 = g * gs; k0 < (g + 1) * gs; k0 += 32) {
                    __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(row + k0 / 2)));
                    __m512i idx = _mm512_or_si512(v, _mm512_slli_epi32(v, 12));
                    _mm512_storeu_si512(dst + k0 / 32 * chunk_stride, _mm512_permutexvar_epi16(idx, table));
                }
            } else {
                for (int64_t k0 = g * gs; k0 < (g + 1) * gs; k0 += 32)
                    for (int j = 0; j < 32; j += 16) {
                        __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(row + k0 + j)));
                        __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), s, b);
                        _mm256_storeu_si256((__m256i *)(dst + k0 / 32 * chunk_stride + j),
                                            (__m256i)_mm512_cvtneps_pbh(f));
                    }
            }
        }
    }
}

/* The bf16 weight source: a row copied 64 bytes at a time (masked at the end: zeros), the
 * next rows' lines prefetched (the copy reads the weights from DRAM once per product; memcpy
 * calls of 64 bytes ran at a third of the read bandwidth). */
void amx_row_bf16(const void *ctx, int64_t n, int64_t K, uint16_t *dst, int64_t chunk_stride) {
    const amx_bf16_weight *w = ctx;
    if (w->ks != 1) {
        row_bf16_strided(w, n, K, dst, chunk_stride);
        return;
    }
    copy_row_bf16(w->p + n * w->ns, K, dst, chunk_stride);
}

void amx_row_affine(const void *ctx, int64_t n, int64_t K, uint16_t *dst, int64_t chunk_stride) {
    (void)K; /* a multiple of the group size, itself a multiple of 32 */
    dequant_row(ctx, n, dst, chunk_stride);
}

/* 32 weight rows (wb: two 16-row strips of Kp/32 tiles) times 32 x rows (xb: two 16-row
 * strips of Kp/32 tiles), over the tiles [t0, t1) of K: the accumulators start from zero
 * (first) or from acc, and end in acc ([4][16][16] float32, tile 2 * (weight strip) + (x
 * strip)). */
AMX_TARGET static void block32(const uint16_t *wb, const uint32_t *xb, int64_t Kp, int64_t t0, int64_t t1, int first,
                               float *acc) {
    const int64_t strip_w = Kp / 32 * 512, strip_x = Kp / 32 * 256; /* elements of a 16-row strip */
    if (first) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    } else {
        _tile_loadd(0, acc, 64);
        _tile_loadd(1, acc + 256, 64);
        _tile_loadd(2, acc + 512, 64);
        _tile_loadd(3, acc + 768, 64);
    }
    for (int64_t t = t0; t < t1; t++) {
        _tile_loadd(4, wb + t * 512, 64);
        _tile_loadd(5, wb + strip_w + t * 512, 64);
        _tile_loadd(6, xb + t * 256, 64);
        _tile_loadd(7, xb + strip_x + t * 256, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, acc, 64);
    _tile_stored(1, acc + 256, 64);
    _tile_stored(2, acc + 512, 64);
    _tile_stored(3, acc + 768, 64);
}

/* Lane indices of transpose16's stages (d = 8, 4, 2, 1): _mm512_permutex2var_ps picks lane i
 * of a (0-15) or of b (16-31). */
static const int32_t transpose_lo[4][16] __attribute__((aligned(64))) = {
    {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
    {0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
    {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
    {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30},
};
static const int32_t transpose_hi[4][16] __attribute__((aligned(64))) = {
    {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31},
    {4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31},
    {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31},
    {1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31},
};

/* r[0..15] := its transpose: for d = 8, 4, 2, 1 rows i and i + d swap the lanes l with
 * (l & d) of row i against the lanes l - d of row i + d (the off-diagonal d x d blocks). */
VEC_TARGET static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
#pragma GCC unroll 4
    for (int st = 0; st < 4; st++) {
        const int d = 8 >> st;
        __m512i il = _mm512_load_si512(transpose_lo[st]), ih = _mm512_load_si512(transpose_hi[st]);
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            if (i & d) continue;
            __m512 a = r[i], b = r[i + d];
            r[i] = _mm512_permutex2var_ps(a, il, b);
            r[i + d] = _mm512_permutex2var_ps(a, ih, b);
        }
    }
}

/* Writes the valid part of a 32 x 32 block back transposed: y[m][n] = alpha * ct (+ y). */
VEC_TARGET static void store_block(const float *ct, int64_t m0, int64_t M, int64_t n0, int64_t N, float alpha,
                                   float *y, int64_t ldy, int accumulate) {
    const __m512 va = _mm512_set1_ps(alpha);
    for (int t = 0; t < 4; t++) {
        int64_t tm0 = m0 + 16 * (t & 1), tn0 = n0 + 16 * (t >> 1);
        if (tm0 >= M || tn0 >= N) continue;
        __mmask16 k = (__mmask16)(N - tn0 >= 16 ? 0xffff : (1u << (N - tn0)) - 1);
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) r[i] = _mm512_load_ps(ct + t * 256 + i * 16);
        transpose16(r);
        int64_t rows = min64(16, M - tm0);
        for (int64_t i = 0; i < rows; i++) {
            float *dst = y + (tm0 + i) * ldy + tn0;
            __m512 v = _mm512_mul_ps(r[i], va);
            if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, dst));
            _mm512_mask_storeu_ps(dst, k, v);
        }
    }
}

/* x rows as bf16 pair words in 16-row strips [Mp/16][Kp/2][16], zero padded. x holds bf16
 * numbers, so the high halves of their float32 bits are the bf16 values: per row, one vpermt2w
 * gathers the high halves of 32 floats (16 pair words), then 16 rows are transposed so each
 * pair's 16 rows are one 64-byte store. */
static const int16_t high_halves[32] __attribute__((aligned(64))) = {1,  3,  5,  7,  9,  11, 13, 15, 17, 19, 21,
                                                                     23, 25, 27, 29, 31, 33, 35, 37, 39, 41, 43,
                                                                     45, 47, 49, 51, 53, 55, 57, 59, 61, 63};

VEC_TARGET static void pack_strip(const void *x, int x_bf16, int64_t ldx, int64_t rows, int64_t K, int64_t Kp,
                                  uint32_t *dst) {
    const __m512i idx = _mm512_load_si512(high_halves);
    for (int64_t p0 = 0; p0 < Kp / 2; p0 += 16) {
        int64_t k0 = 2 * p0, left = K - k0;
        __mmask16 ka = (__mmask16)(left >= 16 ? 0xffff : left > 0 ? (1u << left) - 1 : 0);
        __mmask16 kb = (__mmask16)(left >= 32 ? 0xffff : left > 16 ? (1u << (left - 16)) - 1 : 0);
        __mmask32 kw = (__mmask32)(left >= 32 ? 0xffffffffu : left > 0 ? (1u << left) - 1 : 0);
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            if (i >= rows) {
                r[i] = _mm512_setzero_ps();
            } else if (x_bf16) {
                /* 32 bf16 values are 16 pair words already (little endian: value 2p low) */
                r[i] = _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(kw, (const uint16_t *)x + i * ldx + k0));
            } else {
                const float *xf = (const float *)x + i * ldx + k0;
                __m512i a = _mm512_castps_si512(_mm512_maskz_loadu_ps(ka, xf));
                __m512i b = _mm512_castps_si512(_mm512_maskz_loadu_ps(kb, xf + 16));
                r[i] = _mm512_castsi512_ps(_mm512_permutex2var_epi16(a, idx, b));
            }
        }
        transpose16(r);
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) _mm512_store_ps((float *)(dst + (p0 + j) * 16), r[j]);
    }
}

static void pack_x(const void *x, int x_bf16, int64_t ldx, int64_t M, int64_t K, int64_t Mp, int64_t Kp,
                   uint32_t *xp) {
    size_t es = x_bf16 ? 2 : 4;
#pragma omp parallel for schedule(static) if (M * K >= 65536)
    for (int64_t strip = 0; strip < Mp / 16; strip++) {
        int64_t m0 = strip * 16, rows = M - m0 < 16 ? (M - m0 > 0 ? M - m0 : 0) : 16;
        pack_strip((const char *)x + (size_t)(m0 * ldx) * es, x_bf16, ldx, rows, K, Kp, xp + strip * (Kp / 2) * 16);
    }
}

int gemm_amx(int64_t M, int64_t N, int64_t K, const void *x, int x_bf16, int64_t ldx, amx_row_fn row,
             const void *ctx, float alpha, float *y, int64_t ldy, int accumulate) {
    if (M <= 0 || N <= 0) return 0;
    const int64_t Kp = round_up(K > 0 ? K : 1, 32), Mp = round_up(M, 32);
    /* weight rows per panel: a multiple of 32 near PANEL_BYTES of bf16, at most 128 */
    int64_t np = PANEL_BYTES / (Kp * 2) / 32 * 32;
    np = np < 32 ? 32 : np > 128 ? 128 : np;
    const int64_t panels = (N + np - 1) / np;
    /* scratch from the caching allocator: fresh pages every call would fault them in again */
    mx_buffer *xbuf = mx_buffer_alloc(sizeof(uint32_t) * (size_t)(Kp / 2 * Mp));
    if (!xbuf) return -1;
    uint32_t *xp = xbuf->data;
    pack_x(x, x_bf16, ldx, M, K, Mp, Kp, xp);
    int failed = 0;
#pragma omp parallel if (panels > 1 && M * N * K >= (1 << 22))
    {
        mx_buffer *wbuf = mx_buffer_alloc(sizeof(uint16_t) * (size_t)(np * Kp) + sizeof(float) * 1024 * 4);
        uint16_t *wb = wbuf ? wbuf->data : NULL;
        float *ct = wbuf ? (float *)(wb + np * Kp) : NULL; /* a 32 x 32 block per part */
        if (wb && ct) tiles_on();
#pragma omp for schedule(dynamic, 1)
        for (int64_t pi = 0; pi < panels; pi++) {
            if (!wb || !ct) {
                __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
                continue;
            }
            int64_t n0 = pi * np, nrows = min64(np, N - n0), nsub = (nrows + 31) / 32;
            /* row r: strip r / 16, row r % 16 of each of the strip's 1 KB tiles */
            for (int64_t r = 0; r < nrows; r++) row(ctx, n0 + r, K, wb + (r / 16) * Kp * 16 + (r % 16) * 32, 512);
            for (int64_t r = nrows; r < nsub * 32; r++)
                for (int64_t t = 0; t < Kp / 32; t++) memset(wb + (r / 16) * Kp * 16 + t * 512 + (r % 16) * 32, 0, 64);
            /* K in chunks of KC_TILES tiles: the x block's chunk (16 KB) stays in L1 while the
             * panel's 32-row parts pass it, each with its accumulators (4 KB) */
            const int64_t kt = Kp / 32;
            for (int64_t m0 = 0; m0 < Mp; m0 += 32) {
                const uint32_t *xb = xp + m0 / 16 * (Kp / 2) * 16;
                for (int64_t t0 = 0; t0 < kt; t0 += KC_TILES)
                    for (int64_t s = 0; s < nsub; s++)
                        block32(wb + s * 32 * Kp, xb, Kp, t0, min64(kt, t0 + KC_TILES), t0 == 0, ct + s * 1024);
                for (int64_t s = 0; s < nsub; s++)
                    store_block(ct + s * 1024, m0, M, n0 + s * 32, N, alpha, y, ldy, accumulate);
            }
        }
        if (wb && ct) tiles_off();
        if (wbuf) mx_buffer_release(wbuf);
    }
    mx_buffer_release(xbuf);
    if (failed) {
        mx_set_error("[matmul] out of memory for a %lld x %lld bfloat16 weight panel (AMX)", (long long)np, (long long)Kp);
        return -1;
    }
    return 0;
}

#else
void amx_row_bf16(const void *ctx, int64_t n, int64_t K, uint16_t *dst, int64_t chunk_stride) {
    row_bf16_strided(ctx, n, K, dst, chunk_stride); /* never dispatched: no AMX here */
}
void amx_row_affine(const void *ctx, int64_t n, int64_t K, uint16_t *dst, int64_t chunk_stride) {
    (void)ctx, (void)n, (void)K, (void)dst, (void)chunk_stride; /* never dispatched: no AMX here */
}
int gemm_amx(int64_t M, int64_t N, int64_t K, const void *x, int x_bf16, int64_t ldx, amx_row_fn row,
             const void *ctx, float alpha, float *y, int64_t ldy, int accumulate) {
    (void)M, (void)N, (void)K, (void)x, (void)x_bf16, (void)ldx, (void)row, (void)ctx, (void)alpha, (void)y, (void)ldy,
        (void)accumulate;
    mx_set_error("[matmul] AMX kernels are not built for this architecture");
    return -1;
}
#endif
