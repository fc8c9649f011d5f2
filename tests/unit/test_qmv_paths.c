/* The integer-dot kernels of the quantized products (src/backend/cpu/arch/qmv.h) on every
 * code path this CPU runs, called directly so that all paths meet in one process:
 *  - the activation quantizer (two int8 planes) follows its definition (values, order,
 *    scale, sums, error at most half a step);
 *  - with data whose float arithmetic is exact, every path returns bit-identical float32
 *    sums equal to the integer reference (the integer parts agree exactly);
 *  - with random data, every path is within float32 reassociation of the reference computed
 *    in double from the same integers (a path's wrong integer would move a result by
 *    s * sx, hundreds of times that bound);
 *  - the AVX-VNNI kernel (vpdpbusd) is bit-identical to the AVX2 one (vpmaddubsw) on every
 *    input: the same integers per lane and the same float order (qmv_avxvnni.c);
 *  - zero rows give zero, a non-finite activation gives NaN;
 *  - CMLX_CPU_PATH=avx2 / avxvnni turn the AVX-VNNI kernel off / on (tests/cmake/quant_paths.cmake
 *    runs this test under both). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/arch/cpu_features.h"
#include "backend/cpu/arch/qmv.h"
#include "core/dtype.h"
#include "test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double uni(void) {
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

typedef struct {
    const char *name;
    qk_rows_fn fn;
} path;

static int paths(path *p) {
    int n = 0;
    p[n++] = (path){"portable", qk_rows_portable};
    if (cpu_has_avx2_fma()) p[n++] = (path){"avx2", qk_rows_avx2};
    if (cpu_has_avx_vnni()) p[n++] = (path){"avxvnni", qk_rows_avxvnni};
    if (cpu_has_avx512vnni()) p[n++] = (path){"avx512", qk_rows_avx512};
    return n;
}

/* Position of value v of a row in the xq order (qmv.h). */
static int64_t xq_pos(int64_t v, int64_t K, int bits) {
    if (bits != 4) return v;
    /* chunks of 128, then at most one of 64 and one of 32: evens then odds */
    int64_t full = K / 128 * 128, b0, len;
    if (v < full) b0 = v / 128 * 128, len = 128;
    else if (v < full + 64 && K - full >= 64) b0 = full, len = 64;
    else b0 = K - 32, len = 32;
    int64_t i = v - b0;
    return b0 + (i & 1) * (len / 2) + i / 2;
}

typedef struct {
    int bits, gs;
    int64_t M, N, K, G;
    uint8_t *codes, *packed;
    uint16_t *scales, *biases; /* bfloat16 */
    float *x;
} problem;

static void make(problem *p, int bits, int gs, int64_t M, int64_t N, int64_t K, int exact) {
    p->bits = bits, p->gs = gs, p->M = M, p->N = N, p->K = K, p->G = K / gs;
    p->codes = malloc((size_t)(N * K));
    p->packed = calloc((size_t)(N * K * bits / 8), 1);
    p->scales = malloc(sizeof(uint16_t) * (size_t)(N * p->G));
    p->biases = malloc(sizeof(uint16_t) * (size_t)(N * p->G));
    p->x = malloc(sizeof(float) * (size_t)(M * K));
    for (int64_t i = 0; i < N * K; i++) {
        p->codes[i] = (uint8_t)(uni() * (1 << bits));
        int64_t bit = i * bits; /* rows are whole bytes: one stream */
        p->packed[bit / 8] |= (uint8_t)(p->codes[i] << (bit % 8));
    }
    for (int64_t i = 0; i < N * p->G; i++) {
        float s = exact ? (uni() < 0.5 ? 1.0f : 0.5f) : (float)(uni() * 0.4 - 0.2);
        float b = exact ? (float)((int)(uni() * 9) - 4) / 2 : (float)(uni() * 2 - 1);
        p->scales[i] = mx_f32_to_bf16(s);
        p->biases[i] = mx_f32_to_bf16(b);
    }
    for (int64_t m = 0; m < M; m++)
        for (int64_t g = 0; g < p->G; g++) {
            float e = uni() < 0.5 ? 1.0f : 0.5f;
            int64_t top = (int64_t)(uni() * gs);
            for (int64_t j = 0; j < gs; j++) {
                float v;
                if (exact) v = e * (float)(j == top ? (uni() < 0.5 ? -127 : 127) : (int)(uni() * 33) - 16);
                else v = mx_bf16_to_f32(mx_f32_to_bf16((float)(uni() * 2 - 1)));
                p->x[m * K + g * gs + j] = v;
            }
        }
}

static void release(problem *p) {
    free(p->codes), free(p->packed), free(p->scales), free(p->biases), free(p->x);
}

/* The portable and (where the CPU has it) AVX-512 quantizers give the same bits. */
static int quantizers_agree(const float *x, int64_t M, int64_t K, int gs, int bits) {
    if (!cpu_has_avx512vnni()) return 1;
    int64_t G = K / gs;
    int8_t *q[2], *l[2];
    float *s[2], *u[2];
    for (int i = 0; i < 2; i++) {
        q[i] = malloc((size_t)(M * K)), l[i] = malloc((size_t)(M * K));
        s[i] = malloc(sizeof(float) * (size_t)(M * G)), u[i] = malloc(sizeof(float) * (size_t)(M * G));
    }
    qk_quantize_act_portable(x, M, K, gs, bits, q[0], l[0], s[0], u[0]);
    qk_quantize_act_avx512(x, M, K, gs, bits, q[1], l[1], s[1], u[1]);
    int same = !memcmp(q[0], q[1], (size_t)(M * K)) && !memcmp(l[0], l[1], (size_t)(M * K)) &&
               !memcmp(s[0], s[1], sizeof(float) * (size_t)(M * G)) && !memcmp(u[0], u[1], sizeof(float) * (size_t)(M * G));
    for (int i = 0; i < 2; i++) free(q[i]), free(l[i]), free(s[i]), free(u[i]);
    return same;
}

static void check_problem(int bits, int gs, int64_t M, int64_t N, int64_t K, int exact) {
    problem p;
    make(&p, bits, gs, M, N, K, exact);
    int64_t G = p.G;
    int8_t *xq = malloc((size_t)(M * K)), *xl = malloc((size_t)(M * K));
    float *sx = malloc(sizeof(float) * (size_t)(M * G)), *xs = malloc(sizeof(float) * (size_t)(M * G));
    qk_quantize_act(p.x, M, K, gs, bits, xq, xl, sx, xs);
    /* the quantizer's definition */
    int qbad = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t g = 0; g < G; g++) {
            float amax = 0, part[16] = {0}; /* the sum's order (qmv.h): 16 lanes, then folded */
            for (int64_t j = g * gs; j < (g + 1) * gs; j++)
                amax = fmaxf(amax, fabsf(p.x[m * K + j])), part[(j - g * gs) % 16] += p.x[m * K + j];
            for (int w = 8; w >= 1; w /= 2)
                for (int l = 0; l < w; l++) part[l] += part[l + w];
            qbad += sx[m * G + g] != amax / 32512.0f || xs[m * G + g] != part[0];
            for (int64_t j = g * gs; j < (g + 1) * gs; j++) {
                int64_t at = m * K + xq_pos(j, K, bits);
                int xi = (int)nearbyintf(p.x[m * K + j] * (32512.0f / amax));
                qbad += 256 * xq[at] + xl[at] != xi || xq[at] < -127;
                /* half a step, plus float32 rounding of x * (32512 / amax): 2 * 2^-24 * 32512 steps */
                qbad += fabs(p.x[m * K + j] - (double)sx[m * G + g] * (256 * xq[at] + xl[at])) >
                        sx[m * G + g] * 0.5 * (1 + 1e-2);
            }
        }
    CHECK_MSG(qbad == 0, "b%d g%d K%lld: %d quantizer mismatches", bits, gs, (long long)K, qbad);
    CHECK_MSG(quantizers_agree(p.x, M, K, gs, bits), "b%d g%d K%lld: the quantizers differ", bits, gs, (long long)K);
    /* reference from the integers, and the bound of float32 reassociation */
    double *ref = malloc(sizeof(double) * (size_t)(M * N)), *bound = malloc(sizeof(double) * (size_t)(M * N));
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double y = 0, mag = 0;
            for (int64_t g = 0; g < G; g++) {
                int64_t d = 0, dabs = 0; /* dabs bounds any split of d into partial sums (SIMD lanes) */
                for (int64_t j = g * gs; j < (g + 1) * gs; j++) {
                    int64_t at = m * K + xq_pos(j, K, bits);
                    int64_t t = (int64_t)p.codes[n * K + j] * (256 * xq[at] + xl[at]);
                    d += t;
                    dabs += t < 0 ? -t : t;
                }
                double s = mx_bf16_to_f32(p.scales[n * G + g]), b = mx_bf16_to_f32(p.biases[n * G + g]);
                double t1 = (double)(float)(s * sx[m * G + g]) * (double)d, t2 = b * xs[m * G + g];
                y += t1 + t2;
                mag += fabs((double)(float)(s * sx[m * G + g])) * (double)dabs + fabs(t2);
            }
            ref[m * N + n] = y;
            /* each of <= 2G + 2 float32 operations on partial sums <= mag rounds by <= 2^-24 mag,
             * plus the rounding of s * sx (2^-24 relative) and of the products */
            bound[m * N + n] = mag * (2.0 * G + 6) * ldexp(1, -24);
        }
    qk_weights w = {p.packed, p.scales, p.biases, QK_BF16, N, K, G, gs, bits};
    qk_act a = {xq, xl, sx, xs, M, K, G};
    path ps[4];
    int np = paths(ps);
    float *y0 = NULL, *y_avx2 = NULL;
    for (int i = 0; i < np; i++) {
        float *y = malloc(sizeof(float) * (size_t)(M * N));
        for (int64_t m0 = 0; m0 < M; m0 += QK_MAX_ROWS)
            for (int64_t n0 = 0; n0 < N; n0 += 16)
                ps[i].fn(&w, &a, m0, (int)(M - m0 < QK_MAX_ROWS ? M - m0 : QK_MAX_ROWS), n0, n0 + 16 < N ? n0 + 16 : N, y,
                         N);
        int bad = 0, first = -1;
        for (int64_t j = 0; j < M * N; j++) {
            int ok = exact ? (double)y[j] == ref[j] : fabs(y[j] - ref[j]) <= bound[j];
            if (!ok && first < 0) first = (int)j;
            bad += !ok;
        }
        CHECK_MSG(bad == 0, "%s b%d g%d M%lld K%lld %s: %d of %lld wrong (first %d: %.9g vs %.9g)", ps[i].name, bits, gs,
                  (long long)M, (long long)K, exact ? "exact" : "random", bad, (long long)(M * N), first,
                  first >= 0 ? y[first] : 0.0, first >= 0 ? ref[first] : 0.0);
        if (exact && y0) CHECK_MSG(!memcmp(y, y0, sizeof(float) * (size_t)(M * N)), "%s differs from portable", ps[i].name);
        if (!strcmp(ps[i].name, "avx2")) y_avx2 = y;
        if (!strcmp(ps[i].name, "avxvnni") && y_avx2) {
            int diff = 0;
            for (int64_t j = 0; j < M * N; j++) diff += memcmp(&y[j], &y_avx2[j], sizeof(float)) != 0;
            CHECK_MSG(diff == 0, "avxvnni b%d g%d M%lld K%lld %s: %d of %lld differ from avx2 in their bits", bits, gs,
                      (long long)M, (long long)K, exact ? "exact" : "random", diff, (long long)(M * N));
        }
        if (!y0) y0 = y;
        else if (y != y_avx2) free(y);
    }
    /* decode's far-stream kernel: rows from four places at once, the bits of the row kernel
     * (starts out of order and a count that leaves rows to the row kernel, as qmm.c does) */
    if (cpu_has_avx512vnni() && M == 1 && K % 128 == 0 && N >= 8) {
        float *yr = malloc(sizeof(float) * (size_t)N), *yf = malloc(sizeof(float) * (size_t)N);
        qk_rows_avx512(&w, &a, 0, 1, 0, N, yr, N);
        int64_t count = N / 4 - 1, start[QK_FAR_STREAMS] = {3 * count, count, 0, 2 * count};
        for (int64_t n = 0; n < N; n++) yf[n] = NAN;
        qk_rows_far_avx512(&w, &a, start, count, yf);
        qk_rows_avx512(&w, &a, 0, 1, 4 * count, N, yf, N);
        CHECK_MSG(!memcmp(yr, yf, sizeof(float) * (size_t)N), "far streams b%d g%d K%lld N%lld %s: differ from the row kernel",
                  bits, gs, (long long)K, (long long)N, exact ? "exact" : "random");
        free(yr), free(yf);
    }
    /* the many-row AVX-512 kernel: natural order xq, the same integers */
    if (cpu_has_avx512vnni()) {
        int8_t *xn = malloc((size_t)(M * K)), *xln = malloc((size_t)(M * K));
        float *sxn = malloc(sizeof(float) * (size_t)(M * G)), *xsn = malloc(sizeof(float) * (size_t)(M * G));
        qk_quantize_act(p.x, M, K, gs, 8, xn, xln, sxn, xsn);
        int same = 1;
        for (int64_t m = 0; m < M; m++)
            for (int64_t j = 0; j < K; j++)
                same &= xn[m * K + j] == xq[m * K + xq_pos(j, K, bits)] && xln[m * K + j] == xl[m * K + xq_pos(j, K, bits)];
        CHECK_MSG(same && !memcmp(sxn, sx, sizeof(float) * (size_t)(M * G)), "natural-order xq differs b%d g%d", bits, gs);
        qk_act an = {xn, xln, sxn, xsn, M, K, G};
        float *y = malloc(sizeof(float) * (size_t)(M * N));
        CHECK(qk_gemm_avx512(&w, &an, 0, N, y, N) == 0);
        int bad = 0, first = -1;
        for (int64_t j = 0; j < M * N; j++) {
            int ok = exact ? (double)y[j] == ref[j] : fabs(y[j] - ref[j]) <= bound[j];
            if (!ok && first < 0) first = (int)j;
            bad += !ok;
        }
        CHECK_MSG(bad == 0, "gemm_avx512 b%d g%d M%lld K%lld %s: %d of %lld wrong (first %d: %.9g vs %.9g)", bits, gs,
                  (long long)M, (long long)K, exact ? "exact" : "random", bad, (long long)(M * N), first,
                  first >= 0 ? y[first] : 0.0, first >= 0 ? ref[first] : 0.0);
        free(y), free(xn), free(xln), free(sxn), free(xsn);
    }
    if (y_avx2 != y0) free(y_avx2);
    free(y0), free(ref), free(bound), free(xq), free(xl), free(sx), free(xs);
    release(&p);
}

static void check_special(void) {
    /* a zero row, a row with NaN and a row with inf in group 0 of a 1 x 64 product */
    int64_t K = 64, N = 3;
    float x[3 * 64];
    for (int i = 0; i < 3 * 64; i++) x[i] = 0;
    x[64 + 5] = NAN;
    x[128 + 7] = INFINITY;
    int8_t xq[3 * 64], xl[3 * 64];
    float sx[3], xs[3];
    qk_quantize_act(x, 3, K, 64, 4, xq, xl, sx, xs);
    CHECK(sx[0] == 0 && xs[0] == 0 && isnan(sx[1]) && isnan(sx[2]));
    CHECK(quantizers_agree(x, 3, K, 64, 4) && quantizers_agree(x, 3, K, 32, 8));
    uint8_t packed[3 * 32];
    uint16_t sc[3], bi[3];
    for (int i = 0; i < 3 * 32; i++) packed[i] = (uint8_t)(17 * i);
    for (int i = 0; i < 3; i++) sc[i] = mx_f32_to_bf16(0.25f), bi[i] = mx_f32_to_bf16(-1.0f);
    qk_weights w = {packed, sc, bi, QK_BF16, N, K, 1, 64, 4};
    qk_act a = {xq, xl, sx, xs, 3, K, 1};
    path ps[4];
    int np = paths(ps);
    for (int i = 0; i < np; i++) {
        float y[9];
        ps[i].fn(&w, &a, 0, 3, 0, N, y, N);
        CHECK_MSG(y[0] == 0 && y[1] == 0 && y[2] == 0, "%s: zero row gives %g %g %g", ps[i].name, y[0], y[1], y[2]);
        for (int j = 3; j < 9; j++) CHECK_MSG(isnan(y[j]), "%s: non-finite row gives %g", ps[i].name, y[j]);
    }
}

/* The dispatch flag of the AVX-VNNI kernel follows CMLX_CPU_PATH (cpu_features.h). */
static void check_vnni_dispatch(void) {
    const char *e = getenv("CMLX_CPU_PATH");
    int on = cpu_avx_vnni_active(), has = cpu_has_avx_vnni();
    if (e && !strcmp(e, "avx2")) CHECK_MSG(!on, "CMLX_CPU_PATH=avx2 left AVX-VNNI on");
    else if (e && !strcmp(e, "avxvnni")) {
        CHECK_MSG(cpu_path_active() == CPU_PATH_AVX2 || !cpu_has_avx2_fma(), "CMLX_CPU_PATH=avxvnni: active path %s",
                  cpu_path_name(cpu_path_active()));
        CHECK_MSG(on == has, "CMLX_CPU_PATH=avxvnni: AVX-VNNI %s on a CPU %s it", on ? "on" : "off",
                  has ? "with" : "without");
        if (!has) printf("SKIPPED: this CPU has no AVX-VNNI; the avxvnni kernel is not tested\n");
    } else if (!e || !*e)
        CHECK_MSG(on == (has && cpu_path_active() == CPU_PATH_AVX2), "default: AVX-VNNI %s with active path %s",
                  on ? "on" : "off", cpu_path_name(cpu_path_active()));
    else
        CHECK_MSG(!on || cpu_path_active() == CPU_PATH_AVX2, "AVX-VNNI on outside the AVX2 path");
}

int main(void) {
    path ps[4];
    int np = paths(ps);
    printf("paths:");
    for (int i = 0; i < np; i++) printf(" %s", ps[i].name);
    printf(" (active: %s%s)\n", cpu_path_name(cpu_path_active()), cpu_avx_vnni_active() ? " + AVX-VNNI" : "");
    check_vnni_dispatch();
    const int gss[] = {32, 64, 128};
    for (int bits = 4; bits <= 8; bits += 4)
        for (int gi = 0; gi < 3; gi++)
            for (int64_t M = 1; M <= 5; M++)
                for (int exact = 0; exact < 2; exact++) {
                    int gs = gss[gi];
                    /* tails of the 4-bit order: 32, 64, 96 values after the 128-chunks */
                    int64_t K = gs == 32 ? (M % 2 ? 96 + 128 * (M / 2) : 32 + 32 * M) : gs * (1 + M % 3);
                    check_problem(bits, gs, M, 37, K, exact);
                }
    check_problem(4, 64, 2, 64, 8192, 0); /* long rows: many chunks of groups */
    for (int gi = 0; gi < 3; gi++) /* far streams, several chunks of groups */
        for (int bits = 4; bits <= 8; bits += 4) check_problem(bits, gss[gi], 1, 51, 8192 + 256, 0);
    /* one x row, whole 128-value chunks (the AVX-512 kernel's pairs of weight rows), odd N */
    for (int gi = 0; gi < 3; gi++)
        for (int exact = 0; exact < 2; exact++) check_problem(4, gss[gi], 1, 37, 4096 + 128, exact);
    check_problem(4, 64, 13, 70, 2048 + 64, 0); /* several K blocks, partial panels, a 1-row tail */
    check_problem(8, 128, 11, 33, 1024 + 256, 1);
    check_problem(8, 32, 1, 16, 8192 + 32, 0);
    check_special();
    return test_finish();
}
