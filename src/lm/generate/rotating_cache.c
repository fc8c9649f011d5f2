/* The rotating KV cache (mlx-lm's RotatingKVCache): holds at most max_size positions, the
 * first `keep` of which are never evicted. A single new position is written in place at the
 * rotating index (so decoding costs one position whatever the history); several new
 * positions (a prefill chunk) are appended to the history put back in temporal order and
 * trimmed to max_size - 1 old positions, so that each new query still sees max_size keys.
 * The layouts, masks and trimming rules are mlx-lm's, so caches saved by either load in
 * the other. */
#include "cmlx/fast.h"
#include "cmlx/ops.h"
#include "lm/generate/cache_impl.h"

/* Concatenates the non-empty parts along the sequence axis. */
static mx_array *cat(mx_array **parts, int n) {
    mx_array *keep[4];
    int m = 0;
    for (int i = 0; i < n; i++)
        if (parts[i] && mx_dim(parts[i], 2) > 0) keep[m++] = parts[i];
    if (m == 0) return parts[0];
    if (m == 1) return keep[0];
    return mx_concatenate((const mx_array *const *)keep, m, 2);
}

/* _temporal_order: the buffer rearranged oldest-first, the unused end sliced off. */
static mx_array *temporal_order(const lm_layer_cache *c, mx_array *v) {
    int64_t len = mx_dim(v, 2);
    if (c->idx == len) return v;
    if (c->idx < c->offset) {
        mx_array *p[3] = {mx_slice_axis(v, 2, 0, c->keep), mx_slice_axis(v, 2, c->idx, len),
                          mx_slice_axis(v, 2, c->keep, c->idx)};
        return cat(p, 3);
    }
    return mx_slice_axis(v, 2, 0, c->idx);
}

/* _trim: drops trim_size positions after the kept ones, then appends `append` (may be NULL). */
static mx_array *trim(const lm_layer_cache *c, int64_t trim_size, mx_array *v, mx_array *append) {
    mx_array *p[3];
    int n = 0;
    if (trim_size > 0) {
        p[n++] = mx_slice_axis(v, 2, 0, c->keep);
        p[n++] = mx_slice_axis(v, 2, trim_size + c->keep, mx_dim(v, 2));
    } else {
        p[n++] = v;
    }
    if (append) p[n++] = append;
    return cat(p, n);
}

static int update_concat(lm_layer_cache *c, const mx_array *k, const mx_array *v) {
    mx_array *nk = (mx_array *)k, *nv = (mx_array *)v;
    if (c->keys) {
        mx_array *ok = temporal_order(c, c->keys), *ov = temporal_order(c, c->values);
        if (!ok || !ov) return -1;
        c->idx = mx_dim(ok, 2);
        /* at most max_size + T - 1 positions, so that every new token sees max_size of context */
        int64_t trim_size = c->idx - c->max_size + 1;
        nk = trim(c, trim_size, ok, nk);
        nv = trim(c, trim_size, ov, nv);
    }
    if (!nk || !nv) return -1;
    lm_cache_store(&c->keys, nk);
    lm_cache_store(&c->values, nv);
    c->offset += mx_dim(k, 2);
    c->idx = mx_dim(c->keys, 2);
    return 0;
}

static int update_in_place(lm_layer_cache *c, const mx_array *k, const mx_array *v) {
    const int64_t *ks = mx_shape(k), *vs = mx_shape(v);
    int64_t s = ks[2], prev = c->offset;
    if (!c->keys || (prev >= mx_dim(c->keys, 2) && mx_dim(c->keys, 2) < c->max_size)) {
        /* not full yet: grow by a step (never past max_size) */
        int64_t grow = c->max_size - prev < LM_CACHE_STEP ? c->max_size - prev : LM_CACHE_STEP;
        mx_array *nk = mx_zeros((int64_t[]){ks[0], ks[1], grow, ks[3]}, 4, mx_array_dtype(k));
        mx_array *nv = mx_zeros((int64_t[]){vs[0], vs[1], grow, vs[3]}, 4, mx_array_dtype(v));
        if (c->keys) {
            nk = mx_concatenate((const mx_array *[]){c->keys, nk}, 2, 2);
            nv = mx_concatenate((const mx_array *[]){c->values, nv}, 2, 2);
        }
        if (!nk || !nv) return -1;
        lm_cache_store(&c->keys, nk);
        lm_cache_store(&c->values, nv);
        c->idx = prev;
    }
    int64_t trim_size = mx_dim(c->keys, 2) - c->max_size;
    if (trim_size > 0) { /* after a multi-token update the buffer may exceed max_size */
        mx_array *nk = trim(c, trim_size, c->keys, NULL), *nv = trim(c, trim_size, c->values, NULL);
        if (!nk || !nv) return -1;
        lm_cache_store(&c->keys, nk);
        lm_cache_store(&c->values, nv);
        c->idx = c->max_size;
    }
    if (c->idx == c->max_size) c->idx = c->keep; /* rotate */
    int64_t st[4] = {0, 0, c->idx, 0}, sp_k[4] = {ks[0], ks[1], c->idx + s, ks[3]},
            sp_v[4] = {vs[0], vs[1], c->idx + s, vs[3]};
    mx_array *uk = mx_slice_update(c->keys, k, st, sp_k, NULL, 4);
    mx_array *uv = mx_slice_update(c->values, v, st, sp_v, NULL, 4);
    if (!uk || !uv) return -1;
    lm_cache_store(&c->keys, uk);
    lm_cache_store(&c->values, uv);
    c->offset += s;
    c->idx += s;
    return 0;
}

int lm_rotating_update(lm_layer_cache *c, const mx_array *k, const mx_array *v, mx_array **k_all, mx_array **v_all) {
    if (c->max_size <= 0) return mx_set_error("[cache] rotating cache with max_size %lld", (long long)c->max_size);
    int rc = mx_dim(k, 2) == 1 ? update_in_place(c, k, v) : update_concat(c, k, v);
    if (rc) return -1;
    int64_t len = mx_dim(c->keys, 2);
    /* if the buffer is not full, the end is unused */
    int64_t n = c->offset < len ? c->offset : len;
    *k_all = mx_slice_axis(c->keys, 2, 0, n);
    *v_all = mx_slice_axis(c->values, 2, 0, n);
    return *k_all && *v_all ? 0 : -1;
}

mx_array *lm_rotating_mask(const lm_layer_cache *c, int64_t n, int64_t window, int *mode) {
    if (n > 1) {
        int64_t w = window > 0 ? window : c->max_size;
        int64_t off = c->offset < c->max_size - 1 ? c->offset : c->max_size - 1;
        if (off + n > w) {
            *mode = MX_SDPA_ARRAY;
            return lm_causal_mask(n, off, w);
        }
        *mode = MX_SDPA_CAUSAL;
        return NULL;
    }
    *mode = MX_SDPA_NO_MASK;
    if (window <= 0) return NULL;
    /* a window narrower than the buffer: mask the positions that left the window, which sit
     * just after the write position in the rotated layout */
    if (c->offset >= window && c->max_size > window) {
        int64_t idx = c->idx >= c->max_size ? 0 : c->idx;
        int64_t size = c->offset < c->max_size ? c->offset + 1 : c->max_size;
        mx_array *m = mx_greater_equal(mx_arange(0, (double)size, 1, MX_INT32), mx_scalar((double)(size - window), MX_INT32));
        *mode = MX_SDPA_ARRAY;
        return mx_roll(m, idx + 1, 0);
    }
    return NULL;
}
