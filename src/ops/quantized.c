/* Quantization op builders: quantize, dequantize, quantized_matmul, gather_qmm in MLX's
 * affine / mxfp4 / mxfp8 / nvfp4 formats (see include/cmlx/quant.h). Validation follows
 * MLX's messages: every error names the op, the shapes and the quantization parameters. */
#include <string.h>

#include "cmlx/ops.h"
#include "cmlx/quant.h"
#include "ops/ops_util.h"
#include "ops/quantized.h"

static const char *mode_names[] = {"affine", "mxfp4", "mxfp8", "nvfp4"};

int mx_quant_mode_from_string(const char *s, mx_quant_mode *mode) {
    for (int i = 0; s && i < 4; i++)
        if (!strcmp(s, mode_names[i])) {
            *mode = (mx_quant_mode)i;
            return 0;
        }
    mx_set_error("[quantize] unknown quantization mode '%s' (expected affine, mxfp4, mxfp8 or nvfp4)", s ? s : "(null)");
    return -1;
}

/* Fills in mode defaults (group_size / bits <= 0) and checks the combination. */
static int check_params(const char *op, mx_quant_mode mode, int *group_size, int *bits) {
    if (mode < MX_QUANT_AFFINE || mode > MX_QUANT_NVFP4) {
        mx_set_error("[%s] invalid quantization mode %d", op, (int)mode);
        return -1;
    }
    if (mode == MX_QUANT_AFFINE) {
        if (*group_size <= 0) *group_size = 64;
        if (*bits <= 0) *bits = 4;
        if (*group_size != 32 && *group_size != 64 && *group_size != 128) {
            mx_set_error("[%s] group size %d is not supported (32, 64 or 128)", op, *group_size);
            return -1;
        }
        if (*bits < 2 || *bits > 8 || *bits == 7) {
            mx_set_error("[%s] %d bits are not supported (2, 3, 4, 5, 6 or 8)", op, *bits);
            return -1;
        }
        return 0;
    }
    int gs = mode == MX_QUANT_NVFP4 ? 16 : 32, b = mode == MX_QUANT_MXFP8 ? 8 : 4;
    if (*group_size <= 0) *group_size = gs;
    if (*bits <= 0) *bits = b;
    if (*group_size != gs || *bits != b) {
        mx_set_error("[%s] %s quantization requires group size %d and %d bits, got group size %d and %d bits", op,
                     mode_names[mode], gs, b, *group_size, *bits);
        return -1;
    }
    return 0;
}

int mx_quantize(const mx_array *w, int group_size, int bits, mx_quant_mode mode, mx_array **wq,
                mx_array **scales, mx_array **biases) {
    if (wq) *wq = NULL;
    if (scales) *scales = NULL;
    if (biases) *biases = NULL;
    if (!w) return -1;
    if (!wq || !scales || (mode == MX_QUANT_AFFINE && !biases)) {
        mx_set_error("[quantize] missing output pointer");
        return -1;
    }
    if (check_params("quantize", mode, &group_size, &bits)) return -1;
    if (w->dtype != MX_FLOAT32 && w->dtype != MX_FLOAT16 && w->dtype != MX_BFLOAT16) {
        mx_set_error("[quantize] only float32, float16 and bfloat16 matrices can be quantized, got %s", MX_SHAPE_STR(w));
        return -1;
    }
    if (w->ndim < 2) {
        mx_set_error("[quantize] the matrix must have at least 2 dimensions, got %s", MX_SHAPE_STR(w));
        return -1;
    }
    int64_t cols = w->shape[w->ndim - 1];
    if (cols % group_size) {
        mx_set_error("[quantize] the last dimension of %s is not divisible by the group size %d", MX_SHAPE_STR(w),
                     group_size);
        return -1;
    }
    mx_out_desc d[3];
    int nout = mode == MX_QUANT_AFFINE ? 3 : 2;
    for (int i = 0; i < nout; i++) {
        d[i].ndim = w->ndim;
        memcpy(d[i].shape, w->shape, sizeof(int64_t) * (size_t)w->ndim);
    }
    d[0].dtype = MX_UINT32;
    d[0].shape[w->ndim - 1] = cols * bits / 32;
    d[1].dtype = mode == MX_QUANT_AFFINE ? w->dtype : MX_UINT8;
    d[1].shape[w->ndim - 1] = cols / group_size;
    if (nout == 3) d[2] = d[1];
    mx_quant_params p = {group_size, bits, (int)mode, 0};
    mx_array *outs[3] = {NULL, NULL, NULL}, *in = (mx_array *)w;
    if (mx_node_create(MX_PRIM_QUANTIZE, &p, sizeof p, &in, 1, d, nout, outs)) return -1;
    *wq = outs[0];
    *scales = outs[1];
    if (nout == 3) *biases = outs[2];
    return 0;
}

/* Checks w / scales / biases against each other (MLX's validate_quantized_input). */
static int check_quantized(const char *op, const mx_array *wq, const mx_array *scales, const mx_array *biases,
                           int group_size, int bits, mx_quant_mode mode) {
    if (wq->dtype != MX_UINT32) {
        mx_set_error("[%s] the packed matrix must be uint32, got %s", op, MX_SHAPE_STR(wq));
        return -1;
    }
    if (wq->ndim < 2) {
        mx_set_error("[%s] the packed matrix must have at least 2 dimensions, got %s", op, MX_SHAPE_STR(wq));
        return -1;
    }
    if (mode == MX_QUANT_AFFINE) {
        if (!biases) {
            mx_set_error("[%s] affine quantization needs biases", op);
            return -1;
        }
        if (!mx_dtype_is_float(scales->dtype) || !mx_dtype_is_float(biases->dtype)) {
            mx_set_error("[%s] scales and biases must be floating point, got %s and %s", op, MX_SHAPE_STR(scales),
                         MX_SHAPE_STR(biases));
            return -1;
        }
        if (biases->ndim != scales->ndim ||
            memcmp(biases->shape, scales->shape, sizeof(int64_t) * (size_t)scales->ndim)) {
            mx_set_error("[%s] scales and biases must have the same shape, got %s and %s", op, MX_SHAPE_STR(scales),
                         MX_SHAPE_STR(biases));
            return -1;
        }
    } else {
        if (biases) {
            mx_set_error("[%s] %s quantization has no biases", op, mode_names[mode]);
            return -1;
        }
        if (scales->dtype != MX_UINT8) {
            mx_set_error("[%s] %s scales must be uint8, got %s", op, mode_names[mode], MX_SHAPE_STR(scales));
            return -1;
        }
    }
    int same_batch = scales->ndim == wq->ndim;
    for (int i = 0; same_batch && i < wq->ndim - 1; i++) same_batch = scales->shape[i] == wq->shape[i];
    int64_t words = wq->shape[wq->ndim - 1];
    if (!same_batch || (words * 32) % bits || words * 32 / bits != scales->shape[scales->ndim - 1] * group_size) {
        mx_set_error("[%s] packed matrix %s and scales %s do not match for group_size=%d, bits=%d", op,
                     MX_SHAPE_STR(wq), MX_SHAPE_STR(scales), group_size, bits);
        return -1;
    }
    return 0;
}

mx_array *mx_dequantize(const mx_array *wq, const mx_array *scales, const mx_array *biases, int group_size,
                        int bits, mx_quant_mode mode, mx_dtype dtype) {
    if (!wq || !scales) return NULL;
    if (check_params("dequantize", mode, &group_size, &bits)) return NULL;
    if (check_quantized("dequantize", wq, scales, biases, group_size, bits, mode)) return NULL;
    mx_dtype out = dtype;
    if (out == MX_DTYPE_COUNT)
        out = mode == MX_QUANT_AFFINE ? mx_promote_types(scales->dtype, biases->dtype) : MX_FLOAT32;
    if ((int)out < 0 || out > MX_DTYPE_COUNT || !mx_dtype_is_float(out)) {
        mx_set_error("[dequantize] the output dtype must be floating point, got %d", (int)dtype);
        return NULL;
    }
    int64_t shape[MX_MAX_NDIM];
    memcpy(shape, wq->shape, sizeof(int64_t) * (size_t)wq->ndim);
    shape[wq->ndim - 1] = wq->shape[wq->ndim - 1] * 32 / bits;
    mx_quant_params p = {group_size, bits, (int)mode, 0};
    mx_array *in[3] = {(mx_array *)wq, (mx_array *)scales, (mx_array *)biases};
    return mx_node_create1(MX_PRIM_DEQUANTIZE, &p, sizeof p, in, biases ? 3 : 2, out, shape, wq->ndim);
}

/* Shared checks of the products; fills the expanded weight dims and the result dtype. */
static int check_product(const char *op, const mx_array *x, const mx_array *wq, const mx_array *scales,
                         const mx_array *biases, int transpose, int *group_size, int *bits, mx_quant_mode mode,
                         int64_t *n_out, mx_dtype *out_dtype) {
    if (check_params(op, mode, group_size, bits)) return -1;
    if (check_quantized(op, wq, scales, biases, *group_size, *bits, mode)) return -1;
    int64_t unpacked = wq->shape[wq->ndim - 1] * 32 / *bits;
    int64_t inner = transpose ? unpacked : wq->shape[wq->ndim - 2];
    *n_out = transpose ? wq->shape[wq->ndim - 2] : unpacked;
    if (x->ndim < 1 || x->shape[x->ndim - 1] != inner) {
        mx_set_error("[%s] last dimension of x %s does not match the expanded quantized matrix (%lld, %lld) from %s "
                     "with group_size=%d, bits=%d, transpose=%d",
                     op, MX_SHAPE_STR(x), (long long)inner, (long long)*n_out, MX_SHAPE_STR(wq), *group_size, *bits,
                     transpose);
        return -1;
    }
    mx_dtype t = mode == MX_QUANT_AFFINE ? mx_promote_types(x->dtype, mx_promote_types(scales->dtype, biases->dtype))
                                         : x->dtype;
    if (!mx_dtype_is_float(t)) {
        mx_set_error("[%s] only floating-point x is supported, got %s", op, MX_SHAPE_STR(x));
        return -1;
    }
    *out_dtype = t;
    return 0;
}

mx_array *mx_quantized_matmul(const mx_array *x, const mx_array *wq, const mx_array *scales,
                              const mx_array *biases, int transpose, int group_size, int bits,
                              mx_quant_mode mode) {
    if (!x || !wq || !scales) return NULL;
    int64_t n_out;
    mx_dtype t;
    if (check_product("quantized_matmul", x, wq, scales, biases, transpose, &group_size, &bits, mode, &n_out, &t))
        return NULL;
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    const mx_array *xx = x->ndim == 1 ? mx_expand_dims(x, (int[]){0}, 1) : x;
    mx_array *r = NULL;
    int64_t shape[MX_MAX_NDIM];
    int nb;
    if (xx && !mx_broadcast_shapes("quantized_matmul", xx->shape, xx->ndim - 2, wq->shape, wq->ndim - 2, shape, &nb)) {
        shape[nb] = xx->shape[xx->ndim - 2];
        shape[nb + 1] = n_out;
        mx_quant_params p = {group_size, bits, (int)mode, transpose ? 1 : 0};
        mx_array *in[4] = {(mx_array *)xx, (mx_array *)wq, (mx_array *)scales, (mx_array *)biases};
        r = mx_node_create1(MX_PRIM_QUANTIZED_MATMUL, &p, sizeof p, in, biases ? 4 : 3, t, shape, nb + 2);
        if (r && x->ndim == 1) r = mx_squeeze(r, (int[]){r->ndim - 2}, 1);
    }
    return mx_composite_end(pool, r);
}

static mx_array *default_indices(const mx_array *a) {
    int64_t n = 1;
    for (int i = 0; i < a->ndim - 2; i++) n *= a->shape[i];
    mx_array *r = mx_arange(0, (double)n, 1, MX_UINT32);
    return mx_reshape(r, a->shape, a->ndim - 2);
}

mx_array *mx_gather_qmm(const mx_array *x, const mx_array *wq, const mx_array *scales, const mx_array *biases,
                        const mx_array *lhs_indices, const mx_array *rhs_indices, int transpose,
                        int group_size, int bits, mx_quant_mode mode, int sorted_indices) {
    if (!x || !wq || !scales) return NULL;
    (void)sorted_indices; /* the kernel groups consecutive equal experts whether or not sorted */
    if (!lhs_indices && !rhs_indices)
        return mx_quantized_matmul(x, wq, scales, biases, transpose, group_size, bits, mode);
    int64_t n_out;
    mx_dtype t;
    if (check_product("gather_qmm", x, wq, scales, biases, transpose, &group_size, &bits, mode, &n_out, &t))
        return NULL;
    if (x->ndim < 2) {
        mx_set_error("[gather_qmm] x must have at least 2 dimensions, got %s", MX_SHAPE_STR(x));
        return NULL;
    }
    const mx_array *idx[2] = {lhs_indices, rhs_indices};
    for (int i = 0; i < 2; i++)
        if (idx[i] && !mx_dtype_is_integer(idx[i]->dtype)) {
            mx_set_error("[gather_qmm] %s indices must be integers, got %s", i ? "rhs" : "lhs", MX_SHAPE_STR(idx[i]));
            return NULL;
        }
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    const mx_array *li = lhs_indices ? lhs_indices : default_indices(x);
    const mx_array *ri = rhs_indices ? rhs_indices : default_indices(wq);
    mx_array *r = NULL;
    int64_t shape[MX_MAX_NDIM];
    int n;
    if (li && ri && !mx_broadcast_shapes("gather_qmm", li->shape, li->ndim, ri->shape, ri->ndim, shape, &n)) {
        if (n + 2 > MX_MAX_NDIM) {
            mx_set_error("[gather_qmm] output would have more than %d dimensions", MX_MAX_NDIM);
        } else {
            shape[n] = x->shape[x->ndim - 2];
            shape[n + 1] = n_out;
            mx_quant_params p = {group_size, bits, (int)mode, transpose ? 1 : 0};
            mx_array *in[6] = {(mx_array *)x, (mx_array *)wq, (mx_array *)scales, NULL, NULL, NULL};
            int k = 3;
            if (biases) in[k++] = (mx_array *)biases;
            in[k++] = (mx_array *)li;
            in[k++] = (mx_array *)ri;
            r = mx_node_create1(MX_PRIM_GATHER_QMM, &p, sizeof p, in, k, t, shape, n + 2);
        }
    }
    return mx_composite_end(pool, r);
}
