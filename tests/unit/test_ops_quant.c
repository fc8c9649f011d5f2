/* Quantization semantics: mode strings, error messages, the affine quantizer's edge cases
 * (constant and zero groups, negative scales, exact edges), and the real MLX checkpoints in
 * ../shared/models/<arch>-tiny-4bit and -8bit: their tensors dequantize exactly as a
 * bit-by-bit unpacking says, quantizing the original bf16 weights (<arch>-tiny) reproduces
 * the checkpoint's packed words, scales and biases bit for bit, and the quantized products
 * (decode and prefill, Linear and expert layouts) agree with float64 products of the
 * dequantized weights. The safetensors files are read here directly (8-byte header length,
 * JSON header, raw data), independently of the library's reader. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/cmlx.h"
#include "test.h"

/* ---- a minimal safetensors reader ---- */

typedef struct {
    char *buf;
    size_t len, data0;
    json_t *hdr;
} st_file;

static int st_open(st_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->buf = malloc((size_t)n);
    if (!f->buf || fread(f->buf, 1, (size_t)n, fp) != (size_t)n) {
        fclose(fp);
        free(f->buf);
        return -1;
    }
    fclose(fp);
    f->len = (size_t)n;
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | (unsigned char)f->buf[i];
    json_error_t err;
    f->hdr = json_loadb(f->buf + 8, (size_t)hl, 0, &err);
    f->data0 = 8 + (size_t)hl;
    return f->hdr ? 0 : -1;
}

static void st_close(st_file *f) {
    json_decref(f->hdr);
    free(f->buf);
}

/* The tensor as a new array (copied), or NULL when absent. */
static mx_array *st_get(const st_file *f, const char *name) {
    json_t *t = json_object_get(f->hdr, name);
    if (!t) return NULL;
    const char *dt = json_string_value(json_object_get(t, "dtype"));
    json_t *shape = json_object_get(t, "shape"), *off = json_object_get(t, "data_offsets");
    int64_t s[8];
    int nd = (int)json_array_size(shape);
    for (int i = 0; i < nd; i++) s[i] = json_integer_value(json_array_get(shape, (size_t)i));
    mx_dtype d = !strcmp(dt, "U32") ? MX_UINT32 : !strcmp(dt, "BF16") ? MX_BFLOAT16 : !strcmp(dt, "F16") ? MX_FLOAT16 : MX_FLOAT32;
    size_t begin = (size_t)json_integer_value(json_array_get(off, 0));
    return mx_array_from_data(f->buf + f->data0 + begin, s, nd, d);
}

/* ---- helpers ---- */

static float bf16f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double *read_f64(mx_array *a) {
    double *d = malloc(sizeof(double) * (size_t)(mx_size(a) ? mx_size(a) : 1));
    if (d && mx_read(a, MX_FLOAT64, d)) {
        free(d);
        return NULL;
    }
    return d;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double uniform(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* ---- tests ---- */

static void test_mode_strings(void) {
    mx_quant_mode m = MX_QUANT_AFFINE;
    CHECK(mx_quant_mode_from_string("nvfp4", &m) == 0 && m == MX_QUANT_NVFP4);
    CHECK(mx_quant_mode_from_string("mxfp8", &m) == 0 && m == MX_QUANT_MXFP8);
    CHECK(mx_quant_mode_from_string("mxfp4", &m) == 0 && m == MX_QUANT_MXFP4);
    CHECK(mx_quant_mode_from_string("affine", &m) == 0 && m == MX_QUANT_AFFINE);
    CHECK(mx_quant_mode_from_string("int4", &m) == -1 && strstr(mx_last_error(), "'int4'"));
}

static void test_errors(void) {
    mx_pool *pool = mx_pool_begin();
    mx_array *w = mx_ones((int64_t[]){4, 64}, 2, MX_FLOAT32), *q, *s, *b;
    CHECK(mx_quantize(w, 48, 4, MX_QUANT_AFFINE, &q, &s, &b) == -1 && strstr(mx_last_error(), "group size 48"));
    CHECK(q == NULL && s == NULL && b == NULL);
    CHECK(mx_quantize(w, 64, 7, MX_QUANT_AFFINE, &q, &s, &b) == -1 && strstr(mx_last_error(), "7 bits"));
    CHECK(mx_quantize(w, 128, 4, MX_QUANT_AFFINE, &q, &s, &b) == -1 && strstr(mx_last_error(), "not divisible"));
    CHECK(mx_quantize(w, 16, 4, MX_QUANT_MXFP4, &q, &s, &b) == -1 && strstr(mx_last_error(), "mxfp4"));
    mx_array *wi = mx_ones((int64_t[]){4, 64}, 2, MX_INT32), *w1 = mx_ones((int64_t[]){64}, 1, MX_FLOAT32);
    CHECK(mx_quantize(wi, 64, 4, MX_QUANT_AFFINE, &q, &s, &b) == -1 && strstr(mx_last_error(), "int32[4, 64]"));
    CHECK(mx_quantize(w1, 64, 4, MX_QUANT_AFFINE, &q, &s, &b) == -1 && strstr(mx_last_error(), "2 dimensions"));
    CHECK(mx_quantize(w, 32, 4, MX_QUANT_AFFINE, &q, &s, &b) == 0);
    /* products: x's last dimension must match the expanded matrix */
    mx_array *x = mx_ones((int64_t[]){2, 63}, 2, MX_FLOAT32);
    CHECK(mx_quantized_matmul(x, q, s, b, 1, 32, 4, MX_QUANT_AFFINE) == NULL &&
          strstr(mx_last_error(), "float32[2, 63]"));
    CHECK(mx_quantized_matmul(x, q, s, b, 1, 64, 4, MX_QUANT_AFFINE) == NULL && strstr(mx_last_error(), "group_size=64"));
    CHECK(mx_dequantize(q, s, NULL, 32, 4, MX_QUANT_AFFINE, MX_DTYPE_COUNT) == NULL && strstr(mx_last_error(), "biases"));
    CHECK(mx_dequantize(q, s, b, 32, 4, MX_QUANT_MXFP4, MX_DTYPE_COUNT) == NULL && strstr(mx_last_error(), "no biases"));
    CHECK(mx_dequantize(q, s, b, 32, 4, MX_QUANT_AFFINE, MX_INT32) == NULL && strstr(mx_last_error(), "floating"));
    /* gather_qmm: an expert index out of range fails at evaluation, naming it */
    mx_array *x3 = mx_ones((int64_t[]){1, 1, 64}, 3, MX_FLOAT32);
    mx_array *idx = mx_array_from_data((int32_t[]){3}, (int64_t[]){1}, 1, MX_INT32);
    mx_array *w3 = mx_ones((int64_t[]){2, 4, 64}, 3, MX_FLOAT32), *q3, *s3, *b3;
    CHECK(mx_quantize(w3, 32, 4, MX_QUANT_AFFINE, &q3, &s3, &b3) == 0);
    mx_array *g = mx_gather_qmm(x3, q3, s3, b3, NULL, idx, 1, 32, 4, MX_QUANT_AFFINE, 0);
    CHECK(g != NULL && mx_eval1(g) == -1 && strstr(mx_last_error(), "rhs 3 of 2"));
    mx_pool_end(pool);
}

/* Constant, zero, positive-max and negative-max groups, checked by hand. */
static void test_affine_edges(void) {
    mx_pool *pool = mx_pool_begin();
    float v[4][32];
    for (int j = 0; j < 32; j++) {
        v[0][j] = 1.0f;                         /* constant */
        v[1][j] = 0.0f;                         /* zero */
        v[2][j] = -1.0f + 3.0f * (float)j / 31; /* [-1, 2]: largest magnitude is the max */
        v[3][j] = -2.0f + 3.0f * (float)j / 31; /* [-2, 1]: largest magnitude is the min */
    }
    mx_array *w = mx_array_from_data(v, (int64_t[]){4, 32}, 2, MX_FLOAT32), *q, *s, *b;
    CHECK(mx_quantize(w, 32, 4, MX_QUANT_AFFINE, &q, &s, &b) == 0);
    float sc[4], bi[4];
    uint32_t words[4 * 4];
    CHECK(mx_read(s, MX_FLOAT32, sc) == 0 && mx_read(b, MX_FLOAT32, bi) == 0 && mx_read(q, MX_UINT32, words) == 0);
    /* constant 1: scale -1e-7 rescaled to 1 / rint(1 / -1e-7), bias 1, codes 0 */
    CHECK(bi[0] == 1.0f && sc[0] < 0 && fabsf(sc[0] + 1e-7f) < 1e-12f);
    CHECK(words[0] == 0 && words[1] == 0 && words[2] == 0 && words[3] == 0);
    /* zero: q0 == 0 so bias 0, scale -eps */
    CHECK(bi[1] == 0.0f && sc[1] == -1e-7f && words[4] == 0);
    /* max-magnitude at the max: negative scale, bias = max (code 0 reproduces it) */
    CHECK(sc[2] < 0 && bi[2] == 2.0f && (words[8] & 15u) == 15u - 0 && ((words[11] >> 28) & 15u) == 0);
    /* max-magnitude at the min: positive scale, bias = min */
    CHECK(sc[3] > 0 && bi[3] == -2.0f && (words[12] & 15u) == 0);
    /* dequantization reproduces the edges exactly */
    mx_array *d = mx_dequantize(q, s, b, 32, 4, MX_QUANT_AFFINE, MX_DTYPE_COUNT);
    float dv[4 * 32];
    CHECK(mx_read(d, MX_FLOAT32, dv) == 0);
    CHECK(dv[0] == 1.0f && dv[32] == 0.0f && dv[2 * 32 + 31] == 2.0f && dv[3 * 32] == -2.0f);
    mx_pool_end(pool);
}

/* Dequantize `name` of the checkpoint and compare with bit-by-bit unpacking. Returns the
 * dequantized float64 matrix (caller frees) and its shape. */
static double *check_dequantize(const st_file *f, const char *prefix, int bits, int64_t *rows, int64_t *cols) {
    char n[256];
    snprintf(n, sizeof n, "%s.weight", prefix);
    mx_array *w = st_get(f, n);
    snprintf(n, sizeof n, "%s.scales", prefix);
    mx_array *s = st_get(f, n);
    snprintf(n, sizeof n, "%s.biases", prefix);
    mx_array *b = st_get(f, n);
    CHECK_MSG(w && s && b, "%s present", prefix);
    if (!w || !s || !b) return NULL;
    int64_t words = mx_dim(w, -1), groups = mx_dim(s, -1);
    *cols = words * 32 / bits;
    *rows = mx_size(w) / words;
    const uint32_t *wd = mx_data(w);
    const uint16_t *sd = mx_data(s), *bd = mx_data(b);
    int64_t gs = *cols / groups;
    CHECK_MSG(gs == 64, "%s group size %lld", prefix, (long long)gs);
    double *ref = malloc(sizeof(double) * (size_t)(*rows * *cols));
    for (int64_t r = 0; r < *rows; r++)
        for (int64_t i = 0; i < *cols; i++) {
            uint32_t code = 0;
            for (int k = 0; k < bits; k++) {
                int64_t bit = i * bits + k;
                code |= ((wd[r * words + bit / 32] >> (bit % 32)) & 1u) << k;
            }
            float sv = bf16f(sd[r * groups + i / gs]), bv = bf16f(bd[r * groups + i / gs]);
            ref[r * *cols + i] = (double)(sv * (float)code + bv);
        }
    mx_array *d = mx_dequantize(w, s, b, (int)gs, bits, MX_QUANT_AFFINE, MX_FLOAT32);
    double *got = d ? read_f64(d) : NULL;
    int64_t bad = -1;
    for (int64_t i = 0; got && i < *rows * *cols && bad < 0; i++)
        if (got[i] != ref[i]) bad = i;
    CHECK_MSG(got && bad < 0, "%s: dequantize differs at %lld", prefix, (long long)bad);
    /* the default dtype is the scales' (bfloat16) */
    mx_array *d16 = mx_dequantize(w, s, b, (int)gs, bits, MX_QUANT_AFFINE, MX_DTYPE_COUNT);
    CHECK(d16 && mx_array_dtype(d16) == MX_BFLOAT16);
    free(got);
    mx_free(w), mx_free(s), mx_free(b), mx_free(d), mx_free(d16);
    return ref;
}

/* Quantizing the original bf16 weight reproduces the checkpoint exactly. */
static void check_requantize(const st_file *orig, const st_file *qf, const char *orig_name, const char *prefix,
                             int bits) {
    mx_pool *pool = mx_pool_begin();
    mx_array *w = st_get(orig, orig_name), *q, *s, *b;
    char n[256];
    snprintf(n, sizeof n, "%s.weight", prefix);
    mx_array *wq = st_get(qf, n);
    snprintf(n, sizeof n, "%s.scales", prefix);
    mx_array *ws = st_get(qf, n);
    snprintf(n, sizeof n, "%s.biases", prefix);
    mx_array *wb = st_get(qf, n);
    CHECK_MSG(w && wq && ws && wb, "%s / %s present", orig_name, prefix);
    if (w && wq && ws && wb && mx_quantize(w, 64, bits, MX_QUANT_AFFINE, &q, &s, &b) == 0) {
        CHECK(mx_eval1(q) == 0 && mx_eval1(s) == 0 && mx_eval1(b) == 0);
        CHECK_MSG(mx_nbytes(q) == mx_nbytes(wq) && !memcmp(mx_data(q), mx_data(wq), mx_nbytes(q)),
                  "%s: packed words match the checkpoint", prefix);
        CHECK_MSG(mx_nbytes(s) == mx_nbytes(ws) && !memcmp(mx_data(s), mx_data(ws), mx_nbytes(s)),
                  "%s: scales match the checkpoint", prefix);
        CHECK_MSG(mx_nbytes(b) == mx_nbytes(wb) && !memcmp(mx_data(b), mx_data(wb), mx_nbytes(b)),
                  "%s: biases match the checkpoint", prefix);
    } else {
        CHECK_MSG(0, "%s: quantize failed: %s", prefix, mx_last_error());
    }
    mx_pool_end(pool);
}

/* quantized_matmul (M = 1 decode and M = 11 prefill, both layouts) against float64 products of
 * the dequantized matrix. */
static void check_products(const st_file *f, const char *prefix, int bits, const double *deq, int64_t rows,
                           int64_t cols) {
    mx_pool *pool = mx_pool_begin();
    char n[256];
    snprintf(n, sizeof n, "%s.weight", prefix);
    mx_array *w = st_get(f, n);
    snprintf(n, sizeof n, "%s.scales", prefix);
    mx_array *s = st_get(f, n);
    snprintf(n, sizeof n, "%s.biases", prefix);
    mx_array *b = st_get(f, n);
    const int64_t Ms[] = {1, 11};
    for (int mi = 0; mi < 2; mi++)
        for (int transpose = 0; transpose < 2; transpose++) {
            int64_t M = Ms[mi], K = transpose ? cols : rows, N = transpose ? rows : cols;
            float *xv = malloc(sizeof(float) * (size_t)(M * K));
            for (int64_t i = 0; i < M * K; i++) xv[i] = (float)(uniform() * 2 - 1);
            mx_array *x = mx_array_from_data(xv, (int64_t[]){M, K}, 2, MX_FLOAT32);
            mx_array *y = mx_quantized_matmul(x, w, s, b, transpose, 64, bits, MX_QUANT_AFFINE);
            double *got = y ? read_f64(y) : NULL, worst = 0, scale = 1e-30;
            for (int64_t m = 0; got && m < M; m++)
                for (int64_t j = 0; j < N; j++) {
                    double r = 0;
                    for (int64_t k = 0; k < K; k++) r += xv[m * K + k] * (transpose ? deq[j * cols + k] : deq[k * cols + j]);
                    worst = fmax(worst, fabs(got[m * N + j] - r));
                    scale = fmax(scale, fabs(r));
                }
            CHECK_MSG(got && worst / scale < 1e-5, "%s M=%lld transpose=%d: error %g", prefix, (long long)M, transpose,
                      worst / scale);
            free(got);
            free(xv);
        }
    mx_pool_end(pool);
}

static void test_checkpoints(void) {
    const char *shared = test_shared_dir("MLX-format quantized checkpoints");
    if (!shared) return;
    const char *archs[] = {"qwen3", "qwen3_moe", "llama"};
    for (int a = 0; a < 3; a++)
        for (int bits = 4; bits <= 8; bits += 4) {
            char path[512], opath[512];
            snprintf(path, sizeof path, "%s/models/%s-tiny-%dbit/model.safetensors", shared, archs[a], bits);
            snprintf(opath, sizeof opath, "%s/models/%s-tiny/model.safetensors", shared, archs[a]);
            st_file f, o;
            if (st_open(&f, path)) {
                CHECK_MSG(0, "cannot read %s", path);
                continue;
            }
            int have_orig = st_open(&o, opath) == 0;
            CHECK_MSG(have_orig, "cannot read %s", opath);
            const char *mods[] = {"model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.k_proj",
                                  "model.layers.2.self_attn.o_proj", "model.embed_tokens"};
            for (int m = 0; m < 4; m++) {
                int64_t rows, cols;
                double *deq = check_dequantize(&f, mods[m], bits, &rows, &cols);
                if (deq && m < 3) check_products(&f, mods[m], bits, deq, rows, cols);
                free(deq);
                char oname[256];
                snprintf(oname, sizeof oname, "%s.weight", mods[m]);
                if (have_orig) check_requantize(&o, &f, oname, mods[m], bits);
            }
            if (a == 1) {
                /* the router is 8-bit in both variants; experts are stacked [E, out, in] */
                int64_t rows, cols;
                double *deq = check_dequantize(&f, "model.layers.0.mlp.gate", 8, &rows, &cols);
                free(deq);
                deq = check_dequantize(&f, "model.layers.1.mlp.switch_mlp.up_proj", bits, &rows, &cols);
                if (deq) {
                    /* gather_qmm over experts vs per-expert float64 products */
                    mx_pool *pool = mx_pool_begin();
                    mx_array *w = st_get(&f, "model.layers.1.mlp.switch_mlp.up_proj.weight");
                    mx_array *s = st_get(&f, "model.layers.1.mlp.switch_mlp.up_proj.scales");
                    mx_array *b = st_get(&f, "model.layers.1.mlp.switch_mlp.up_proj.biases");
                    int64_t E = mx_dim(w, 0), N = mx_dim(w, 1), K = cols;
                    float xv[3 * 64];
                    for (int i = 0; i < 3 * 64 && i < 3 * K; i++) xv[i] = (float)(uniform() * 2 - 1);
                    int32_t ids[6] = {7, 2, 0, 0, 5, 7};
                    mx_array *x = mx_array_from_data(xv, (int64_t[]){3, 1, 1, K}, 4, MX_FLOAT32);
                    mx_array *idx = mx_array_from_data(ids, (int64_t[]){3, 2}, 2, MX_INT32);
                    mx_array *y = mx_gather_qmm(x, w, s, b, NULL, idx, 1, 64, bits, MX_QUANT_AFFINE, 0);
                    double *got = y ? read_f64(y) : NULL, worst = 0, scale = 1e-30;
                    CHECK(y && mx_ndim(y) == 4 && mx_dim(y, 0) == 3 && mx_dim(y, 1) == 2 && mx_dim(y, 3) == N);
                    for (int t = 0; got && t < 3; t++)
                        for (int j = 0; j < 2; j++)
                            for (int64_t n = 0; n < N; n++) {
                                double r = 0;
                                int e = ids[t * 2 + j];
                                for (int64_t k = 0; k < K; k++) r += xv[t * K + k] * deq[((int64_t)e * N + n) * K + k];
                                worst = fmax(worst, fabs(got[(t * 2 + j) * N + n] - r));
                                scale = fmax(scale, fabs(r));
                            }
                    CHECK_MSG(got && worst / scale < 1e-5 && E == 8, "gather_qmm experts: error %g", worst / scale);
                    free(got);
                    mx_pool_end(pool);
                }
                free(deq);
            }
            st_close(&f);
            if (have_orig) st_close(&o);
        }
}

int main(void) {
    test_mode_strings();
    test_errors();
    test_affine_edges();
    test_checkpoints();
    return test_finish();
}
