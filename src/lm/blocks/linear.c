/* Linear, embedding and switch (mixture-of-experts) layers over float or quantized weights. */
#include "cmlx/fast.h"
#include "cmlx/ops.h"
#include "cmlx/quant.h"
#include "lm/models/model_impl.h"

mx_array *lm_linear_forward(const lm_linear *l, const mx_array *x) {
    mx_array *y;
    if (l->scales)
        y = mx_quantized_matmul(x, l->weight, l->scales, l->biases, 1, l->group_size, l->bits, l->mode);
    else
        y = mx_matmul(x, mx_transpose(l->weight, NULL, 0));
    if (l->bias) y = mx_add(y, l->bias);
    return y;
}

mx_array *lm_embedding_forward(const lm_linear *e, const mx_array *ids, mx_dtype dtype) {
    if (!e->scales) return mx_take(e->weight, ids, 0);
    /* Quantized embedding: gather the packed rows with their scales and biases, then
     * dequantize only those rows. */
    mx_array *w = mx_take(e->weight, ids, 0);
    mx_array *s = mx_take(e->scales, ids, 0);
    mx_array *b = e->biases ? mx_take(e->biases, ids, 0) : NULL;
    return mx_dequantize(w, s, b, e->group_size, e->bits, e->mode, dtype);
}

mx_array *lm_switch_forward(const lm_switch_linear *s, const mx_array *x, const mx_array *indices, int sorted) {
    const lm_linear *l = &s->l;
    if (l->scales)
        return mx_gather_qmm(x, l->weight, l->scales, l->biases, NULL, indices, 1, l->group_size, l->bits, l->mode,
                             sorted);
    return mx_gather_mm(x, mx_swapaxes(l->weight, -1, -2), NULL, indices);
}

mx_array *lm_rms_norm(const mx_array *x, const mx_array *w, float eps) { return mx_fast_rms_norm(x, w, eps); }
