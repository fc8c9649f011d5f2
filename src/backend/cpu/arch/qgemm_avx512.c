/* The AVX-512 VNNI many-row (prefill) kernel of the integer-dot quantized products: the same
 * arithmetic as qmv.h (int8 activations, exact int32 group sums, float per group), with the
 * activations in natural order (qk_quantize_act with bits 8) and weights repacked per call.
 *
 * Layout: a panel of 32 weight rows is unpacked to codes and repacked so that quad qi
 * (values 4qi..4qi+3) of all 32 rows is 128 contiguous bytes: [row 0 k0..3, row 1 k0..3, ...].
 * vpdpbusd then multiplies two such vectors (rows 0-15, 16-31: unsigned codes, the first
 * operand) by x's 4 bytes broadcast (signed, xh and xl planes separately), so each int32 lane
 * accumulates one output's group sum. A tile is 4 x rows by 32 outputs: 16 int32
 * accumulators, 8 float ones; at every group end the sums are combined (256 * xh part + xl
 * part), converted and added with s * u, and b * sum(x) is added. The
 * panel is processed in K blocks of 1024 values (32 KB of repacked codes, kept in L1 while
 * all rows of x pass), the float tile living in y between blocks.
 * Repacking costs one pass over the panel's codes (vpmovzxbw for the nibbles, then a dword
 * gather per quad): 1/M of the arithmetic. */
#include <stdlib.h>

#include "backend/cpu/arch/qmv.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define QK_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")))
#define QK_INLINE static inline __attribute__((always_inline)) QK_TARGET

#define NR 32
#define KC 1024

/* Codes of rows [n0, n0 + nr) (nr <= 32; missing rows are zero) into pk[K/4][32][4] and
 * scales / biases into sp / bp [G][32] (zero for missing rows). tmp: 32 * K bytes. */
QK_TARGET static void pack_panel(const qk_weights *w, int64_t n0, int nr, uint8_t *tmp, uint8_t *pk, float *sp,
                                 float *bp) {
    const int64_t K = w->k, G = w->groups, rb = K * w->bits / 8;
    const uint8_t *src = w->w + n0 * rb;
    int64_t stride = rb;
    if (w->bits == 4) {
        const __m512i lo = _mm512_set1_epi16(0x000f), hi = _mm512_set1_epi16(0x0f00);
        for (int j = 0; j < nr; j++) {
            int64_t b = 0;
            for (; b + 32 <= rb; b += 32) {
                __m512i z = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(src + j * rb + b)));
                /* word i = byte i of the row: its low nibble is value 2i, its high one 2i+1 */
                z = _mm512_or_si512(_mm512_and_si512(z, lo), _mm512_and_si512(_mm512_slli_epi16(z, 4), hi));
                _mm512_storeu_si512(tmp + j * K + 2 * b, z);
            }
            if (b < rb) { /* rows are a multiple of 16 bytes: a last half */
                __m256i z = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(src + j * rb + b)));
                z = _mm256_or_si256(_mm256_and_si256(z, _mm512_castsi512_si256(lo)),
                                    _mm256_and_si256(_mm256_slli_epi16(z, 4), _mm512_castsi512_si256(hi)));
                _mm256_storeu_si256((__m256i *)(tmp + j * K + 2 * b), z);
            }
        }
        src = tmp;
        stride = K;
    }
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int)stride));
    const __m512i idx16 = _mm512_add_epi32(idx, _mm512_set1_epi32((int)(16 * stride)));
    __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xffff : (1u << nr) - 1);
    __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xffff : nr > 16 ? (1u << (nr - 16)) - 1 : 0);
    const __m512i zero = _mm512_setzero_si512();
    for (int64_t qi = 0; qi < K / 4; qi++) {
        const uint8_t *base = src + 4 * qi;
        _mm512_storeu_si512(pk + qi * 128, _mm512_mask_i32gather_epi32(zero, m0, idx, base, 1));
        _mm512_storeu_si512(pk + qi * 128 + 64, _mm512_mask_i32gather_epi32(zero, m1, idx16, base, 1));
    }
    for (int64_t g = 0; g < G; g++)
        for (int j = 0; j < NR; j++) {
            sp[g * NR + j] = j < nr ? qk_load_float(w->scales, w->sdt, (n0 + j) * G + g) : 0.0f;
            bp[g * NR + j] = j < nr ? qk_load_float(w->biases, w->sdt, (n0 + j) * G + g) : 0.0f;
        }
}

/* x rows [m0, m0 + MR) against the panel's values [k0, k1) (whole groups), adding into y. */
QK_INLINE void tile(const qk_act *a, int64_t m0, int64_t k0, int64_t k1, int gs, const uint8_t *pk, const float *sp,
                    const float *bp, float *y, int64_t ldy, __mmask16 st0, __mmask16 st1, int first, const int MR) {
    const int64_t K = a->k, G = a->groups;
    __m512 c0[MR], c1[MR];
    for (int m = 0; m < MR; m++) {
        float *yr = y + (m0 + m) * ldy;
        c0[m] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(st0, yr);
        c1[m] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(st1, yr + 16);
    }
    for (int64_t g = k0 / gs; g < k1 / gs; g++) {
        __m512i a0[MR], a1[MR], l0[MR], l1[MR]; /* xh and xl planes */
        for (int m = 0; m < MR; m++) a0[m] = a1[m] = l0[m] = l1[m] = _mm512_setzero_si512();
        for (int64_t qi = g * gs / 4; qi < (g + 1) * gs / 4; qi++) {
            __m512i w0 = _mm512_loadu_si512(pk + qi * 128), w1 = _mm512_loadu_si512(pk + qi * 128 + 64);
            for (int m = 0; m < MR; m++) {
                int32_t xv, xlv;
                __builtin_memcpy(&xv, a->q + (m0 + m) * K + 4 * qi, 4);
                __builtin_memcpy(&xlv, a->ql + (m0 + m) * K + 4 * qi, 4);
                __m512i xb = _mm512_set1_epi32(xv), xlb = _mm512_set1_epi32(xlv);
                a0[m] = _mm512_dpbusd_epi32(a0[m], w0, xb);
                a1[m] = _mm512_dpbusd_epi32(a1[m], w1, xb);
                l0[m] = _mm512_dpbusd_epi32(l0[m], w0, xlb);
                l1[m] = _mm512_dpbusd_epi32(l1[m], w1, xlb);
            }
        }
        __m512 s0 = _mm512_loadu_ps(sp + g * NR), s1 = _mm512_loadu_ps(sp + g * NR + 16);
        __m512 b0 = _mm512_loadu_ps(bp + g * NR), b1 = _mm512_loadu_ps(bp + g * NR + 16);
        for (int m = 0; m < MR; m++) {
            __m512 sx = _mm512_set1_ps(a->scale[(m0 + m) * G + g]), xs = _mm512_set1_ps(a->sum[(m0 + m) * G + g]);
            __m512i d0 = _mm512_add_epi32(_mm512_slli_epi32(a0[m], 8), l0[m]);
            __m512i d1 = _mm512_add_epi32(_mm512_slli_epi32(a1[m], 8), l1[m]);
            c0[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d0), _mm512_mul_ps(s0, sx), c0[m]);
            c1[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d1), _mm512_mul_ps(s1, sx), c1[m]);
            c0[m] = _mm512_fmadd_ps(b0, xs, c0[m]);
            c1[m] = _mm512_fmadd_ps(b1, xs, c1[m]);
        }
    }
    for (int m = 0; m < MR; m++) {
        float *yr = y + (m0 + m) * ldy;
        _mm512_mask_storeu_ps(yr, st0, c0[m]);
        _mm512_mask_storeu_ps(yr + 16, st1, c1[m]);
    }
}

QK_TARGET static void gemm_panels(const qk_weights *w, const qk_act *a, int64_t n0, int64_t n1, float *y, int64_t ldy,
                                  uint8_t *tmp, uint8_t *pk, float *sp, float *bp) {
    const int64_t K = w->k, M = a->m;
    int64_t kc = KC / w->gs * w->gs;
    for (int64_t p0 = n0; p0 < n1; p0 += NR) {
        int nr = (int)(n1 - p0 < NR ? n1 - p0 : NR);
        pack_panel(w, p0, nr, tmp, pk, sp, bp);
        __mmask16 st0 = (__mmask16)(nr >= 16 ? 0xffff : (1u << nr) - 1);
        __mmask16 st1 = (__mmask16)(nr >= 32 ? 0xffff : nr > 16 ? (1u << (nr - 16)) - 1 : 0);
        for (int64_t k0 = 0; k0 < K; k0 += kc) {
            int64_t k1 = k0 + kc < K ? k0 + kc : K;
            int64_t m0 = 0;
            for (; m0 + 4 <= M; m0 += 4) tile(a, m0, k0, k1, w->gs, pk, sp, bp, y + p0, ldy, st0, st1, k0 == 0, 4);
            switch (M - m0) {
            case 3: tile(a, m0, k0, k1, w->gs, pk, sp, bp, y + p0, ldy, st0, st1, k0 == 0, 3); break;
            case 2: tile(a, m0, k0, k1, w->gs, pk, sp, bp, y + p0, ldy, st0, st1, k0 == 0, 2); break;
            case 1: tile(a, m0, k0, k1, w->gs, pk, sp, bp, y + p0, ldy, st0, st1, k0 == 0, 1); break;
            default: break;
            }
        }
    }
}

int qk_gemm_avx512(const qk_weights *w, const qk_act *a, int64_t n0, int64_t n1, float *y, int64_t ldy) {
    const int64_t K = w->k, G = w->groups;
    size_t tmp_bytes = w->bits == 4 ? (size_t)(NR * K) : 0;
    uint8_t *buf = malloc(tmp_bytes + (size_t)(NR * K) + sizeof(float) * (size_t)(2 * NR * G) + 64);
    if (!buf) return -1;
    float *sp = (float *)buf, *bp = sp + NR * G;
    uint8_t *pk = (uint8_t *)(bp + NR * G), *tmp = pk + NR * K;
    gemm_panels(w, a, n0, n1, y, ldy, tmp, pk, sp, bp);
    free(buf);
    return 0;
}

#else
int qk_gemm_avx512(const qk_weights *w, const qk_act *a, int64_t n0, int64_t n1, float *y, int64_t ldy) {
    (void)w, (void)a, (void)n0, (void)n1, (void)y, (void)ldy;
    return -1; /* never dispatched: cpu_has_avx512vnni() is 0 */
}
#endif
