/* Shape-building op builders: concatenate (its own primitive: one block copy per input)
 * and the ops composed from it and from the view ops: stack, split, tile, repeat, pad,
 * flip, roll. Splits and flips are views (no copy); tile and repeat are one strided copy
 * of a broadcast; pad is one slice_update of the broadcast fill value (fill, then copy a). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/ops.h"
#include "ops/indexing.h"
#include "ops/ops_util.h"

mx_array *mx_concatenate(const mx_array *const *arrays, int n, int axis) {
    if (n < 1 || !arrays) {
        mx_set_error("[concatenate] needs at least one array, got %d", n);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!arrays[i]) return NULL;
    const mx_array *a0 = arrays[0];
    if (a0->ndim == 0) {
        mx_set_error("[concatenate] cannot concatenate 0-d arrays (%s); use mx_stack", MX_SHAPE_STR(a0));
        return NULL;
    }
    int ax = mx_norm_axis("concatenate", axis, a0->ndim);
    if (ax < 0) return NULL;
    int64_t shape[MX_MAX_NDIM];
    memcpy(shape, a0->shape, sizeof(int64_t) * (size_t)a0->ndim);
    mx_dtype dt = a0->dtype;
    for (int i = 1; i < n; i++) {
        const mx_array *b = arrays[i];
        if (b->ndim != a0->ndim) {
            mx_set_error("[concatenate] all arrays must have the same number of dimensions: %s (array 0) and %s "
                         "(array %d)", MX_SHAPE_STR(a0), MX_SHAPE_STR(b), i);
            return NULL;
        }
        for (int d = 0; d < a0->ndim; d++)
            if (d != ax && b->shape[d] != a0->shape[d]) {
                mx_set_error("[concatenate] all dimensions except axis %d must match: %s (array 0) and %s (array %d)",
                             axis, MX_SHAPE_STR(a0), MX_SHAPE_STR(b), i);
                return NULL;
            }
        shape[ax] += b->shape[ax];
        dt = mx_promote_types(dt, b->dtype);
    }
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *stack_in[16], **in = n <= 16 ? stack_in : malloc(sizeof(mx_array *) * (size_t)n);
    if (!in) {
        mx_pool_end(p);
        mx_set_error("[concatenate] out of memory for %d inputs", n);
        return NULL;
    }
    for (int i = 0; i < n; i++) in[i] = mx_astype(arrays[i], dt);
    mx_axis_params prm = {ax};
    mx_array *r = mx_node_create1(MX_PRIM_CONCATENATE, &prm, sizeof prm, in, n, dt, shape, a0->ndim);
    if (in != stack_in) free(in);
    return mx_composite_end(p, r);
}

mx_array *mx_stack(const mx_array *const *arrays, int n, int axis) {
    if (n < 1 || !arrays) {
        mx_set_error("[stack] needs at least one array, got %d", n);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!arrays[i]) return NULL;
    const mx_array *a0 = arrays[0];
    for (int i = 1; i < n; i++) {
        const mx_array *b = arrays[i];
        if (b->ndim != a0->ndim || memcmp(b->shape, a0->shape, sizeof(int64_t) * (size_t)a0->ndim)) {
            mx_set_error("[stack] all arrays must have the same shape: %s (array 0) and %s (array %d)",
                         MX_SHAPE_STR(a0), MX_SHAPE_STR(b), i);
            return NULL;
        }
    }
    if (a0->ndim + 1 > MX_MAX_NDIM) {
        mx_set_error("[stack] result would have %d dimensions; at most %d are supported", a0->ndim + 1, MX_MAX_NDIM);
        return NULL;
    }
    int ax = mx_norm_axis("stack", axis, a0->ndim + 1);
    if (ax < 0) return NULL;
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *stack_in[16], **in = n <= 16 ? stack_in : malloc(sizeof(mx_array *) * (size_t)n);
    if (!in) {
        mx_pool_end(p);
        mx_set_error("[stack] out of memory for %d inputs", n);
        return NULL;
    }
    for (int i = 0; i < n; i++) in[i] = mx_expand_dims(arrays[i], &ax, 1);
    mx_array *r = mx_concatenate((const mx_array *const *)in, n, ax);
    if (in != stack_in) free(in);
    return mx_composite_end(p, r);
}

int mx_split(const mx_array *a, int n_sections, const int64_t *indices, int n_indices, int axis, mx_array **outs) {
    if (!a) return -1;
    if (!outs) return mx_set_error("[split] outs is NULL");
    int ax = mx_norm_axis("split", axis, a->ndim);
    if (ax < 0) return -1;
    int64_t dim = a->shape[ax];
    int parts;
    if (indices) {
        if (n_indices < 0) return mx_set_error("[split] negative index count %d", n_indices);
        parts = n_indices + 1;
    } else {
        if (n_sections <= 0)
            return mx_set_error("[split] number of sections must be positive, got %d", n_sections);
        if (dim % n_sections)
            return mx_set_error("[split] array of shape %s cannot be split into %d equal sections along axis %d",
                                MX_SHAPE_STR(a), n_sections, axis);
        parts = n_sections;
    }
    /* Slices are views of a; a private pool frees the partial results if one fails. */
    mx_pool *p = mx_pool_begin();
    if (!p) return -1;
    int ok = 1;
    for (int i = 0; i < parts && ok; i++) {
        int64_t start, stop;
        if (indices) {
            start = i == 0 ? 0 : indices[i - 1];
            stop = i == parts - 1 ? INT64_MAX : indices[i];
        } else {
            start = dim / n_sections * i;
            stop = start + dim / n_sections;
        }
        outs[i] = mx_slice_axis(a, ax, start, stop);
        ok = outs[i] != NULL;
    }
    if (!ok) {
        mx_pool_end(p);
        for (int i = 0; i < parts; i++) outs[i] = NULL;
        return -1;
    }
    for (int i = 0; i < parts; i++) mx_keep(outs[i]);
    mx_pool_end(p);
    for (int i = 0; i < parts; i++) mx_pool_track(outs[i]);
    return parts;
}

/* Repeats `cur` reps[d] times along each axis d in axes[0..k) (cur->ndim + k <= MX_MAX_NDIM):
 * a size-1 axis inserted before each, broadcast to reps[d], merged by a reshape (one copy). */
static mx_array *tile_group(mx_array *cur, const int *axes, int k, const int64_t *reps) {
    if (!cur) return NULL;
    int nd = cur->ndim, m = 0, is_tiled[MX_MAX_NDIM] = {0};
    for (int i = 0; i < k; i++) is_tiled[axes[i]] = 1;
    int64_t ins[MX_MAX_NDIM], bc[MX_MAX_NDIM], fin[MX_MAX_NDIM];
    for (int d = 0; d < nd; d++) {
        if (is_tiled[d]) {
            ins[m] = 1;
            bc[m++] = reps[d];
        }
        ins[m] = cur->shape[d];
        bc[m++] = cur->shape[d];
        fin[d] = cur->shape[d] * (is_tiled[d] ? reps[d] : 1);
    }
    return mx_reshape(mx_broadcast_to(mx_reshape(cur, ins, m), bc, m), fin, nd);
}

mx_array *mx_tile(const mx_array *a, const int64_t *reps, int n) {
    if (!a) return NULL;
    if (n < 0 || (n > 0 && !reps) || n > MX_MAX_NDIM) {
        mx_set_error("[tile] invalid repetition count %d for %s", n, MX_SHAPE_STR(a));
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (reps[i] < 0) {
            mx_set_error("[tile] repetitions must be non-negative, got %s", MX_FMT_SHAPE(reps, n));
            return NULL;
        }
    int nd = a->ndim > n ? a->ndim : n;
    int64_t shape[MX_MAX_NDIM], r[MX_MAX_NDIM];
    for (int d = 0; d < nd; d++) {
        int ia = d - (nd - a->ndim), ir = d - (nd - n);
        shape[d] = ia >= 0 ? a->shape[ia] : 1;
        r[d] = ir >= 0 ? reps[ir] : 1;
    }
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *cur = mx_reshape(a, shape, nd);
    int todo[MX_MAX_NDIM], nt = 0;
    for (int d = 0; d < nd; d++)
        if (r[d] != 1) todo[nt++] = d;
    int room = MX_MAX_NDIM - nd;
    if (room > 0) {
        for (int s = 0; s < nt && cur; s += room)
            cur = tile_group(cur, todo + s, nt - s < room ? nt - s : room, r);
    } else {
        /* 10 dimensions: no room for the broadcast axes; view each tiled axis as the middle of
         * (before, axis, after), tile that, and restore the shape. */
        for (int s = 0; s < nt && cur; s++) {
            int d = todo[s];
            int64_t pre = 1, post = 1, three[3], back[MX_MAX_NDIM];
            for (int i = 0; i < d; i++) pre *= cur->shape[i];
            for (int i = d + 1; i < nd; i++) post *= cur->shape[i];
            three[0] = pre;
            three[1] = cur->shape[d];
            three[2] = post;
            for (int i = 0; i < nd; i++) back[i] = cur->shape[i];
            back[d] *= r[d];
            int one = 1;
            cur = mx_reshape(tile_group(mx_reshape(cur, three, 3), &one, 1, (int64_t[]){1, r[d], 1}), back, nd);
        }
    }
    return mx_composite_end(p, cur);
}

mx_array *mx_repeat(const mx_array *a, int64_t repeats, int axis) {
    if (!a) return NULL;
    if (repeats < 0) {
        mx_set_error("[repeat] repeats must be non-negative, got %lld", (long long)repeats);
        return NULL;
    }
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    mx_array *cur = a->ndim == 0 ? mx_reshape(a, (int64_t[]){1}, 1) : (mx_array *)a;
    int ax = cur ? mx_norm_axis("repeat", axis, cur->ndim) : -1;
    if (ax < 0) {
        mx_pool_end(p);
        return NULL;
    }
    int nd = cur->ndim;
    int64_t fin[MX_MAX_NDIM];
    for (int d = 0; d < nd; d++) fin[d] = cur->shape[d] * (d == ax ? repeats : 1);
    /* (..., d, 1, ...) broadcast to (..., d, repeats, ...), merged: each element repeated. With no
     * room for the extra axis, first view the array as (before, axis, after). */
    int64_t three[3] = {1, cur->shape[ax], 1};
    int mid = ax;
    if (nd == MX_MAX_NDIM) {
        for (int i = 0; i < ax; i++) three[0] *= cur->shape[i];
        for (int i = ax + 1; i < nd; i++) three[2] *= cur->shape[i];
        cur = mx_reshape(cur, three, 3);
        mid = 1;
        if (!cur) return mx_composite_end(p, NULL);
    }
    int64_t ins[MX_MAX_NDIM], bc[MX_MAX_NDIM], merged[MX_MAX_NDIM];
    int m = 0;
    for (int d = 0; d < cur->ndim; d++) {
        ins[m] = bc[m] = cur->shape[d];
        merged[d] = cur->shape[d] * (d == mid ? repeats : 1);
        m++;
        if (d == mid) {
            ins[m] = 1;
            bc[m++] = repeats;
        }
    }
    mx_array *r = mx_reshape(mx_broadcast_to(mx_reshape(cur, ins, m), bc, m), merged, cur->ndim);
    if (nd == MX_MAX_NDIM || a->ndim == 0) r = mx_reshape(r, fin, nd);
    return mx_composite_end(p, r);
}

mx_array *mx_pad(const mx_array *a, const int *axes, int n_axes, const int64_t *low, const int64_t *high,
                 double value) {
    if (!a) return NULL;
    int n = axes ? n_axes : a->ndim;
    if (!axes && n_axes != 0 && n_axes != a->ndim) {
        mx_set_error("[pad] %d widths given for all axes of %s", n_axes, MX_SHAPE_STR(a));
        return NULL;
    }
    if (n > 0 && (!low || !high)) {
        mx_set_error("[pad] low and high widths are required");
        return NULL;
    }
    int64_t lo[MX_MAX_NDIM] = {0}, hi[MX_MAX_NDIM] = {0};
    int seen[MX_MAX_NDIM] = {0};
    for (int i = 0; i < n; i++) {
        int ax = axes ? mx_norm_axis("pad", axes[i], a->ndim) : i;
        if (ax < 0) return NULL;
        if (seen[ax]) {
            mx_set_error("[pad] axis %d given twice", axes[i]);
            return NULL;
        }
        seen[ax] = 1;
        if (low[i] < 0 || high[i] < 0) {
            mx_set_error("[pad] padding widths must be non-negative: low %lld, high %lld for axis %d of %s",
                         (long long)low[i], (long long)high[i], axes ? axes[i] : i, MX_SHAPE_STR(a));
            return NULL;
        }
        lo[ax] = low[i];
        hi[ax] = high[i];
    }
    int64_t shape[MX_MAX_NDIM], start[MX_MAX_NDIM], stop[MX_MAX_NDIM];
    int any = 0;
    for (int d = 0; d < a->ndim; d++) {
        shape[d] = a->shape[d] + lo[d] + hi[d];
        start[d] = lo[d];
        stop[d] = lo[d] + a->shape[d];
        any |= lo[d] || hi[d];
    }
    if (!any) return mx_pool_track(mx_retain((mx_array *)a));
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    /* The fill value broadcast to the padded shape (a view): slice_update fills its output
     * from it with block copies, then writes a into the middle. */
    mx_array *filled = mx_broadcast_to(mx_scalar(value, a->dtype), shape, a->ndim);
    return mx_composite_end(p, mx_slice_update(filled, a, start, stop, NULL, a->ndim));
}

mx_array *mx_flip(const mx_array *a, int axis) {
    if (!a) return NULL;
    int ax = mx_norm_axis("flip", axis, a->ndim);
    if (ax < 0) return NULL;
    int64_t start[MX_MAX_NDIM], stop[MX_MAX_NDIM], step[MX_MAX_NDIM];
    for (int d = 0; d < a->ndim; d++) {
        start[d] = 0;
        stop[d] = INT64_MAX;
        step[d] = 1;
    }
    start[ax] = -1;
    stop[ax] = INT64_MIN;
    step[ax] = -1;
    return mx_slice(a, start, stop, step, a->ndim);
}

mx_array *mx_roll(const mx_array *a, int64_t shift, int axis) {
    if (!a) return NULL;
    int ax = mx_norm_axis("roll", axis, a->ndim);
    if (ax < 0) return NULL;
    int64_t dim = a->shape[ax];
    int64_t s = dim ? ((shift % dim) + dim) % dim : 0;
    if (s == 0) return mx_pool_track(mx_retain((mx_array *)a));
    mx_pool *p = mx_pool_begin();
    if (!p) return NULL;
    const mx_array *parts[2] = {mx_slice_axis(a, ax, dim - s, dim), mx_slice_axis(a, ax, 0, dim - s)};
    return mx_composite_end(p, mx_concatenate(parts, 2, ax));
}
