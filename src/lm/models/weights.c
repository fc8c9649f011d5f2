/* Fetching checkpoint tensors by name with shape checks, and building Linear layers.
 * Loading runs inside a private pool (lm_model_load): temporaries belong to it, and every
 * array the model stores is an mx_keep reference, released by lm_linear_release. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/ops.h"
#include "lm/models/model_impl.h"

static const char *fmt_shape(const int64_t *s, int n, char *buf, size_t len) {
    size_t o = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < n && o < len; i++) o += (size_t)snprintf(buf + o, len - o, i ? ", %lld" : "%lld", (long long)s[i]);
    if (o < len) snprintf(buf + o, len - o, ")");
    return buf;
}

/* The checkpoint's name for a tensor: multimodal checkpoints keep the text model under a
 * prefix (gemma3: "language_model.model.layers..."). */
static const char *full_name(const lm_model *m, const char *name, char *buf, size_t len) {
    if (!m->weight_prefix[0]) return name;
    snprintf(buf, len, "%s%s", m->weight_prefix, name);
    return buf;
}

int lm_has_weight(const lm_model *m, const char *name) {
    char buf[600];
    return mx_safetensors_has(m->st, full_name(m, name, buf, sizeof buf));
}

static mx_array *fetch(lm_model *m, const char *name, const int64_t *shape, int ndim, int required) {
    char buf[600];
    const char *full = full_name(m, name, buf, sizeof buf);
    if (!mx_safetensors_has(m->st, full)) {
        if (required) mx_set_error("[load] %s: missing tensor \"%s\"", m->dir, full);
        return NULL;
    }
    mx_array *a = mx_safetensors_get(m->st, full);
    if (!a) return NULL;
    if (ndim >= 0) {
        int ok = mx_ndim(a) == ndim;
        for (int i = 0; ok && i < ndim; i++) ok = mx_dim(a, i) == shape[i];
        if (!ok) {
            char e[128], f[128];
            mx_set_error("[load] %s: tensor \"%s\" has shape %s, expected %s", m->dir, name,
                         fmt_shape(mx_shape(a), mx_ndim(a), f, sizeof f), fmt_shape(shape, ndim, e, sizeof e));
            return NULL;
        }
    }
    if (mx_dtype_is_float(mx_array_dtype(a)) && mx_array_dtype(a) != m->dtype) {
        a = mx_astype(a, m->dtype);
        if (!a || mx_eval1(a)) return NULL;
    }
    m->weight_bytes += mx_nbytes(a);
    return mx_keep(a);
}

mx_array *lm_weight(lm_model *m, const char *name, const int64_t *shape, int ndim) {
    return fetch(m, name, shape, ndim, 1);
}

mx_array *lm_weight_opt(lm_model *m, const char *name, const int64_t *shape, int ndim) {
    return fetch(m, name, shape, ndim, 0);
}

int lm_linear_load(lm_model *m, const char *prefix, int64_t out, int64_t in, int has_bias, lm_linear *l) {
    char name[512];
    memset(l, 0, sizeof *l);
    l->in_features = in;
    l->out_features = out;
    snprintf(name, sizeof name, "%s.scales", prefix);
    if (lm_has_weight(m, name)) {
        lm_config_quant_for(&m->cfg, prefix, &l->bits, &l->group_size);
        if (l->bits <= 0 || l->group_size <= 0 || (in * l->bits) % 32 || in % l->group_size)
            return mx_set_error("[load] %s: \"%s\" is quantized but the config's quantization (bits %d, group %d) does "
                                "not fit its %lld inputs", m->dir, prefix, l->bits, l->group_size, (long long)in);
        if (mx_quant_mode_from_string(m->cfg.q_mode[0] ? m->cfg.q_mode : "affine", &l->mode)) return -1;
        int64_t wshape[2] = {out, in * l->bits / 32}, sshape[2] = {out, in / l->group_size};
        l->scales = lm_weight(m, name, sshape, 2);
        snprintf(name, sizeof name, "%s.biases", prefix);
        l->biases = l->mode == MX_QUANT_AFFINE ? lm_weight(m, name, sshape, 2) : NULL;
        snprintf(name, sizeof name, "%s.weight", prefix);
        l->weight = lm_weight(m, name, wshape, 2);
        if (!l->scales || !l->weight || (l->mode == MX_QUANT_AFFINE && !l->biases)) return -1;
    } else {
        snprintf(name, sizeof name, "%s.weight", prefix);
        l->weight = lm_weight(m, name, (int64_t[]){out, in}, 2);
        if (!l->weight) return -1;
    }
    if (has_bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        l->bias = lm_weight(m, name, (int64_t[]){out}, 1);
        if (!l->bias) return -1;
    }
    return 0;
}

static mx_array *rows_of(const mx_array *a, int64_t start, int64_t rows) {
    if (!a) return NULL;
    mx_array *r = mx_slice_axis(a, 0, start, start + rows);
    if (!r || mx_eval1(r)) return NULL;
    return mx_keep(r);
}

int lm_linear_rows(const lm_linear *src, int64_t start, int64_t rows, lm_linear *dst) {
    *dst = *src;
    dst->out_features = rows;
    dst->weight = rows_of(src->weight, start, rows);
    dst->bias = rows_of(src->bias, start, rows);
    dst->scales = rows_of(src->scales, start, rows);
    dst->biases = rows_of(src->biases, start, rows);
    if (!dst->weight || (src->bias && !dst->bias) || (src->scales && !dst->scales) || (src->biases && !dst->biases))
        return -1;
    return 0;
}

int lm_switch_load(lm_model *m, const char *stacked_prefix, const char *expert_fmt, int num_experts, int64_t out,
                   int64_t in, lm_switch_linear *s) {
    char name[512];
    memset(s, 0, sizeof *s);
    s->num_experts = num_experts;
    s->l.in_features = in;
    s->l.out_features = out;
    snprintf(name, sizeof name, "%s.weight", stacked_prefix);
    if (lm_has_weight(m, name)) {
        snprintf(name, sizeof name, "%s.scales", stacked_prefix);
        if (lm_has_weight(m, name)) {
            lm_config_quant_for(&m->cfg, stacked_prefix, &s->l.bits, &s->l.group_size);
            if (s->l.bits <= 0 || s->l.group_size <= 0 || in % s->l.group_size)
                return mx_set_error("[load] %s: experts \"%s\" do not fit the quantization config", m->dir, stacked_prefix);
            if (mx_quant_mode_from_string(m->cfg.q_mode[0] ? m->cfg.q_mode : "affine", &s->l.mode)) return -1;
            int64_t ws[3] = {num_experts, out, in * s->l.bits / 32}, ss[3] = {num_experts, out, in / s->l.group_size};
            s->l.scales = lm_weight(m, name, ss, 3);
            snprintf(name, sizeof name, "%s.biases", stacked_prefix);
            s->l.biases = s->l.mode == MX_QUANT_AFFINE ? lm_weight(m, name, ss, 3) : NULL;
            snprintf(name, sizeof name, "%s.weight", stacked_prefix);
            s->l.weight = lm_weight(m, name, ws, 3);
            return s->l.weight && s->l.scales && (s->l.biases || s->l.mode != MX_QUANT_AFFINE) ? 0 : -1;
        }
        snprintf(name, sizeof name, "%s.weight", stacked_prefix);
        s->l.weight = lm_weight(m, name, (int64_t[]){num_experts, out, in}, 3);
        return s->l.weight ? 0 : -1;
    }
    /* Hugging Face layout: one tensor per expert; stacked once here (a copy, as mlx-lm's
     * sanitize does). */
    mx_array **parts = calloc((size_t)num_experts, sizeof *parts);
    if (!parts) return mx_set_error("[load] out of memory");
    int rc = 0;
    size_t before = m->weight_bytes;
    for (int e = 0; e < num_experts && !rc; e++) {
        snprintf(name, sizeof name, expert_fmt, e);
        parts[e] = lm_weight(m, name, (int64_t[]){out, in}, 2);
        if (!parts[e]) rc = -1;
    }
    if (!rc) {
        mx_array *st = mx_stack((const mx_array *const *)parts, num_experts, 0);
        if (!st || mx_eval1(st)) rc = -1;
        else s->l.weight = mx_keep(st);
    }
    for (int e = 0; e < num_experts; e++) mx_free(parts[e]); /* the stack holds a copy */
    m->weight_bytes = before + (s->l.weight ? mx_nbytes(s->l.weight) : 0);
    free(parts);
    return rc;
}

void lm_linear_release(lm_linear *l) {
    mx_free(l->weight);
    mx_free(l->bias);
    mx_free(l->scales);
    mx_free(l->biases);
    memset(l, 0, sizeof *l);
}
