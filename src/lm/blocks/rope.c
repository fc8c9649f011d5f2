/* Rotary position embeddings with the scalings models use: default, linear, dynamic NTK,
 * llama3 and yarn (frequencies computed once at load, as mlx-lm does). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/fast.h"
#include "cmlx/ops.h"
#include "lm/models/model_impl.h"

static mx_array *freqs_array(const double *f, int n) {
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        mx_set_error("[rope] out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) v[i] = (float)f[i];
    mx_array *a = mx_array_from_data(v, (int64_t[]){n}, 1, MX_FLOAT32);
    free(v);
    return a ? mx_keep(a) : NULL;
}

static double yarn_find_correction_dim(double num_rot, int dims, double base, double max_pos) {
    return (dims * log(max_pos / (num_rot * 2 * M_PI))) / (2 * log(base));
}

static double yarn_get_mscale(double scale, double mscale) {
    return scale <= 1 ? 1.0 : 0.1 * mscale * log(scale) + 1.0;
}

int lm_rope_init(lm_rope *r, const lm_rope_config *rc, int head_dim, double partial, int64_t max_position) {
    memset(r, 0, sizeof *r);
    r->dims = (int)(head_dim * partial);
    r->base = (float)rc->theta;
    r->scale = 1;
    r->attn_scale = 1;
    int half = r->dims / 2;
    double f[1024];
    if (half > 1024) return mx_set_error("[rope] %d rotary dimensions are more than supported", r->dims);
    if (!strcmp(rc->type, "default") || !strcmp(rc->type, "mrope")) return 0;
    if (!strcmp(rc->type, "linear")) {
        r->scale = (float)(1.0 / rc->factor);
        return 0;
    }
    if (!strcmp(rc->type, "dynamic")) {
        /* Dynamic NTK: the base grows once sequences exceed the trained length; for the
         * maximum length the model declares (as mlx-lm does when it pre-computes). */
        double max_pos = rc->original_max_position > 0 ? rc->original_max_position : (double)max_position;
        if (max_position > max_pos && max_pos > 0) {
            double b = rc->theta * pow(rc->factor * (double)max_position / max_pos - (rc->factor - 1),
                                       (double)r->dims / (r->dims - 2));
            r->base = (float)b;
        }
        return 0;
    }
    if (!strcmp(rc->type, "llama3")) {
        double old = rc->original_max_position > 0 ? rc->original_max_position : 8192;
        double low_wl = old / rc->low_freq_factor, high_wl = old / rc->high_freq_factor;
        for (int i = 0; i < half; i++) {
            double freq = pow(rc->theta, (2.0 * i) / r->dims); /* a period multiplier, as mlx-lm */
            double wl = 2 * M_PI * freq;
            double out;
            if (wl > low_wl) {
                out = freq * rc->factor;
            } else if (wl < high_wl) {
                out = freq;
            } else {
                double smooth = (old / wl - rc->low_freq_factor) / (rc->high_freq_factor - rc->low_freq_factor);
                out = freq / ((1 - smooth) / rc->factor + smooth);
            }
            f[i] = out;
        }
        r->freqs = freqs_array(f, half);
        return r->freqs ? 0 : -1;
    }
    if (!strcmp(rc->type, "yarn")) {
        double max_pos = rc->original_max_position > 0 ? rc->original_max_position : 4096;
        double lo = floor(yarn_find_correction_dim(rc->beta_fast, r->dims, rc->theta, max_pos));
        double hi = ceil(yarn_find_correction_dim(rc->beta_slow, r->dims, rc->theta, max_pos));
        if (lo < 0) lo = 0;
        if (hi > r->dims - 1) hi = r->dims - 1;
        if (lo == hi) hi += 0.001;
        for (int i = 0; i < half; i++) {
            double pos = pow(rc->theta, (2.0 * i) / r->dims);
            double extra = pos, inter = rc->factor * pos;
            double ramp = ((double)i - lo) / (hi - lo);
            ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
            double mask = 1 - ramp;
            f[i] = (inter * extra) / (inter * mask + extra * (1 - mask));
        }
        double ms = rc->attention_factor > 0 ? rc->attention_factor
                                             : yarn_get_mscale(rc->factor, rc->mscale) /
                                                   yarn_get_mscale(rc->factor, rc->mscale_all_dim);
        r->attn_scale = (float)ms;
        r->freqs = freqs_array(f, half);
        return r->freqs ? 0 : -1;
    }
    return mx_set_error("[rope] unsupported rope_type \"%s\" (supported: default, linear, dynamic, llama3, yarn)", rc->type);
}

mx_array *lm_rope_apply(const lm_rope *r, const mx_array *x, int64_t offset) {
    if (r->attn_scale != 1) x = mx_multiply_scalar(x, r->attn_scale);
    return mx_fast_rope(x, r->dims, 0, r->freqs ? 0 : r->base, r->scale, offset, r->freqs);
}
