/* Samplers and logits processors as graph ops (mlx-lm's sample_utils), so that sampling
 * token n+1 can be scheduled before token n is read. */
#include <math.h>
#include <string.h>

#include "cmlx/lm_generate.h"
#include "cmlx/ops.h"
#include "cmlx/random.h"

lm_sampler_params lm_sampler_default(void) {
    lm_sampler_params s;
    memset(&s, 0, sizeof s);
    s.min_tokens_to_keep = 1;
    s.repetition_context_size = 20;
    s.penalty_context_size = 20;
    return s;
}

static mx_array *neg_inf_like(const mx_array *x) { return mx_scalar(-INFINITY, mx_array_dtype(x)); }

/* Positions of each element of a sorted order back in the original order. */
static mx_array *inverse_permutation(const mx_array *sorted_idx) {
    int64_t v = mx_dim(sorted_idx, -1);
    mx_array *ar = mx_broadcast_to(mx_astype(mx_arange(0, (double)v, 1, MX_INT32), mx_array_dtype(sorted_idx)),
                                   mx_shape(sorted_idx), mx_ndim(sorted_idx));
    return mx_put_along_axis(mx_zeros_like(sorted_idx), sorted_idx, ar, -1);
}

static mx_array *apply_top_p(const mx_array *logprobs, float top_p) {
    mx_array *probs = mx_exp(logprobs);
    mx_array *order = mx_argsort(logprobs, -1);  /* ascending */
    mx_array *cum = mx_cumsum(mx_take_along_axis(probs, order, -1), -1, 0, 1);
    cum = mx_take_along_axis(cum, inverse_permutation(order), -1);
    return mx_where(mx_greater(cum, mx_scalar(1.0 - top_p, mx_array_dtype(cum))), logprobs, neg_inf_like(logprobs));
}

static mx_array *apply_min_p(const mx_array *logprobs, float min_p, int keep) {
    mx_array *order = mx_argsort(mx_negative(logprobs), -1); /* descending */
    mx_array *sorted = mx_take_along_axis(logprobs, order, -1);
    mx_array *top = mx_slice_axis(sorted, -1, 0, 1);
    mx_array *remove = mx_less(sorted, mx_add_scalar(top, log(min_p)));
    int64_t v = mx_dim(logprobs, -1);
    /* never remove the first `keep` tokens */
    mx_array *pos = mx_arange(0, (double)v, 1, MX_INT32);
    remove = mx_logical_and(remove, mx_greater_equal(pos, mx_scalar(keep, MX_INT32)));
    mx_array *sel = mx_where(remove, neg_inf_like(sorted), sorted);
    return mx_take_along_axis(sel, inverse_permutation(order), -1);
}

/* k < vocabulary (the caller skips it otherwise). */
static mx_array *apply_top_k(const mx_array *logprobs, int k) {
    int64_t v = mx_dim(logprobs, -1);
    mx_array *idx = mx_slice_axis(mx_argpartition(mx_negative(logprobs), k - 1, -1), -1, k, v);
    mx_array *fill = mx_broadcast_to(neg_inf_like(logprobs), mx_shape(idx), mx_ndim(idx));
    return mx_put_along_axis(logprobs, idx, fill, -1);
}

static mx_array *apply_xtc(const mx_array *logits, float prob, float threshold, const mx_array *key) {
    mx_array *probs = mx_softmax(logits, (int[]){-1}, 1, 1);
    mx_array *above = mx_where(mx_greater(probs, mx_scalar(threshold, MX_FLOAT32)), probs,
                               mx_scalar(INFINITY, mx_array_dtype(probs)));
    mx_array *mask = mx_greater(probs, mx_min(above, NULL, 0, 0));
    mx_array *u = mx_random_uniform(0, 1, NULL, 0, MX_FLOAT32, key);
    mx_array *cut = mx_where(mask, neg_inf_like(logits), logits);
    return mx_where(mx_greater(u, mx_scalar(prob, MX_FLOAT32)), logits, cut);
}

/* The last n entries of history ([1, L]) as [n] (all of it when shorter). */
static mx_array *recent(const mx_array *history, int n) {
    int64_t l = mx_dim(history, -1);
    int64_t s = n > 0 && l > n ? l - n : 0;
    return mx_reshape(mx_slice_axis(history, -1, s, l), (int64_t[]){-1}, 1);
}

static mx_array *process(mx_array *logits, const mx_array *history, const lm_sampler_params *sp) {
    int64_t v = mx_dim(logits, -1);
    if (sp->n_logit_bias > 0) {
        mx_array *ids = mx_array_from_data(sp->logit_bias_ids, (int64_t[]){sp->n_logit_bias}, 1, MX_INT32);
        mx_array *vals = mx_array_from_data(sp->logit_bias_values, (int64_t[]){sp->n_logit_bias}, 1, MX_FLOAT32);
        mx_array *dense = mx_scatter(mx_zeros((int64_t[]){v}, 1, MX_FLOAT32), ids, vals, 0, MX_SCATTER_ADD);
        logits = mx_add(logits, mx_astype(dense, mx_array_dtype(logits)));
    }
    if (history && mx_dim(history, -1) > 0) {
        if (sp->repetition_penalty > 0 && sp->repetition_penalty != 1) {
            mx_array *toks = mx_expand_dims(recent(history, sp->repetition_context_size), (int[]){0}, 1);
            toks = mx_broadcast_to(toks, (int64_t[]){mx_dim(logits, 0), mx_dim(toks, 1)}, 2);
            mx_array *sel = mx_take_along_axis(logits, toks, -1);
            mx_array *pen = mx_where(mx_less(sel, mx_scalar(0, mx_array_dtype(sel))),
                                     mx_multiply_scalar(sel, sp->repetition_penalty),
                                     mx_divide_scalar(sel, sp->repetition_penalty));
            logits = mx_put_along_axis(logits, toks, pen, -1);
        }
        if (sp->presence_penalty != 0 || sp->frequency_penalty != 0) {
            mx_array *toks = recent(history, sp->penalty_context_size);
            mx_array *ones = mx_ones((int64_t[]){mx_dim(toks, 0)}, 1, MX_FLOAT32);
            mx_array *count = mx_scatter(mx_zeros((int64_t[]){v}, 1, MX_FLOAT32), toks, ones, 0, MX_SCATTER_ADD);
            mx_array *present = mx_astype(mx_greater(count, mx_scalar(0, MX_FLOAT32)), MX_FLOAT32);
            mx_array *pen = mx_add(mx_multiply_scalar(present, sp->presence_penalty),
                                   mx_multiply_scalar(count, sp->frequency_penalty));
            logits = mx_subtract(logits, mx_astype(pen, mx_array_dtype(logits)));
        }
    }
    return logits;
}

mx_array *lm_sample(const mx_array *logits_in, const mx_array *history, const lm_sampler_params *sp,
                    const mx_array *key) {
    if (!logits_in) return NULL;
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    mx_array *logits = process(mx_astype(logits_in, MX_FLOAT32), history, sp);
    mx_array *tok;
    if (sp->temp <= 0) {
        tok = mx_argmax(logits, -1, 0);
    } else {
        mx_array *lp = mx_subtract(logits, mx_logsumexp(logits, (int[]){-1}, 1, 1));
        if (sp->top_p > 0 && sp->top_p < 1) lp = apply_top_p(lp, sp->top_p);
        if (sp->min_p > 0) lp = apply_min_p(lp, sp->min_p, sp->min_tokens_to_keep > 0 ? sp->min_tokens_to_keep : 1);
        mx_array *k1 = (mx_array *)key, *k2 = (mx_array *)key;
        if (key) {
            mx_array *ks = mx_random_split(key, 2);
            k1 = mx_reshape(mx_slice_axis(ks, 0, 0, 1), (int64_t[]){2}, 1);
            k2 = mx_reshape(mx_slice_axis(ks, 0, 1, 2), (int64_t[]){2}, 1);
        }
        if (sp->xtc_probability > 0) lp = apply_xtc(lp, sp->xtc_probability, sp->xtc_threshold, k1);
        /* top_k >= vocabulary masks nothing (mlx-lm refuses it; returning lp itself from
         * apply_top_k leaked the extra reference inside this pool) */
        if (sp->top_k > 0 && sp->top_k < mx_dim(lp, -1)) lp = apply_top_k(lp, sp->top_k);
        tok = mx_random_categorical(mx_multiply_scalar(lp, 1.0 / sp->temp), -1, 0, k2);
    }
    return mx_pool_end_keep(pool, mx_astype(tok, MX_INT32));
}
