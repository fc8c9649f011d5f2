/* CPU kernels of SORT, ARGSORT, PARTITION and ARGPARTITION.
 *
 * Each line along the axis is loaded into a scratch of float64 (floats) or int64 (integers,
 * bool) values, and every value gets an unsigned 64-bit key whose order is the wanted
 * order: numbers ascending, -0.0 equal to 0.0, every NaN after +inf. Sorting (key, index)
 * pairs with a stable merge sort gives sort/argsort; partitions run a quickselect on the
 * same pairs ordered by (key, index), which is a strict total order, so equal keys never
 * make it degenerate. Lines are spread over OpenMP threads, each with its own scratch. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/chunk.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/lines.h"
#include "ops/sort.h"

typedef struct {
    uint64_t key;
    uint32_t idx;
} sort_pair;

#define SIGN64 0x8000000000000000ull

static uint64_t float_key(double d) {
    if (d != d) return UINT64_MAX; /* every NaN last, all equal */
    if (d == 0) d = 0.0;           /* -0.0 == 0.0 */
    uint64_t b;
    memcpy(&b, &d, 8);
    return b & SIGN64 ? ~b : b | SIGN64;
}

static int pair_less(const sort_pair *a, const sort_pair *b) {
    return a->key < b->key || (a->key == b->key && a->idx < b->idx);
}

/* Stable sort of p[0..n) by key (tmp has room for n pairs). */
static void merge_sort(sort_pair *p, sort_pair *tmp, int64_t n) {
    const int64_t run = 16;
    for (int64_t s = 0; s < n; s += run) { /* insertion sort of short runs */
        int64_t e = s + run < n ? s + run : n;
        for (int64_t i = s + 1; i < e; i++) {
            sort_pair v = p[i];
            int64_t j = i;
            while (j > s && p[j - 1].key > v.key) {
                p[j] = p[j - 1];
                j--;
            }
            p[j] = v;
        }
    }
    sort_pair *src = p, *dst = tmp;
    for (int64_t w = run; w < n; w *= 2) {
        for (int64_t s = 0; s < n; s += 2 * w) {
            int64_t m = s + w < n ? s + w : n, e = s + 2 * w < n ? s + 2 * w : n;
            int64_t i = s, j = m, k = s;
            while (i < m && j < e) dst[k++] = src[j].key < src[i].key ? src[j++] : src[i++];
            while (i < m) dst[k++] = src[i++];
            while (j < e) dst[k++] = src[j++];
        }
        sort_pair *t = src;
        src = dst;
        dst = t;
    }
    if (src != p) memcpy(p, src, (size_t)n * sizeof *p);
}

static void swap_pairs(sort_pair *a, sort_pair *b) {
    sort_pair t = *a;
    *a = *b;
    *b = t;
}

/* Rearranges p[0..n) so that p[kth] is the element a full sort by (key, index) would put
 * there, with only smaller ones before it and larger ones after. */
static void quickselect(sort_pair *p, sort_pair *tmp, int64_t n, int64_t kth) {
    int64_t lo = 0, hi = n - 1;
    int budget = 2 * 64; /* past this many rounds (adversarial input), sort what is left */
    while (hi - lo > 16) {
        if (budget-- == 0) {
            merge_sort(p + lo, tmp, hi - lo + 1); /* (key, index) order: keys ascending, stable */
            return;
        }
        int64_t mid = lo + (hi - lo) / 2;
        /* median of three into p[hi] as the pivot */
        if (pair_less(&p[mid], &p[lo])) swap_pairs(&p[mid], &p[lo]);
        if (pair_less(&p[hi], &p[lo])) swap_pairs(&p[hi], &p[lo]);
        if (pair_less(&p[mid], &p[hi])) swap_pairs(&p[mid], &p[hi]);
        sort_pair pivot = p[hi];
        int64_t store = lo;
        for (int64_t i = lo; i < hi; i++)
            if (pair_less(&p[i], &pivot)) swap_pairs(&p[i], &p[store++]);
        swap_pairs(&p[store], &p[hi]);
        if (store == kth) return;
        if (kth < store) hi = store - 1;
        else lo = store + 1;
    }
    for (int64_t i = lo + 1; i <= hi; i++) { /* insertion sort of the last few */
        sort_pair v = p[i];
        int64_t j = i;
        while (j > lo && pair_less(&v, &p[j - 1])) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = v;
    }
}

static int sort_run(const mx_kernel_ctx *c, int want_indices, int partition) {
    const mx_sort_params *prm = c->params;
    mx_array *in = c->inputs[0], *out = c->outputs[0];
    const char *name = mx_prim_name(c->prim);
    if (mx_out_alloc(out)) return -1;
    if (out->size == 0) return 0;
    int ax = prm->axis, nd = in->ndim;
    int64_t N = in->shape[ax], sa = in->strides[ax], inner = 1;
    for (int d = ax + 1; d < nd; d++) inner *= in->shape[d];
    int64_t lines = in->size / N;
    /* the input's dimensions without the axis, to find each line's start */
    int64_t ls[MX_MAX_NDIM], lst[MX_MAX_NDIM];
    for (int d = 0, k = 0; d < nd; d++)
        if (d != ax) {
            ls[k] = in->shape[d];
            lst[k++] = in->strides[d];
        }
    int isfloat = mx_dtype_is_float(in->dtype), u = in->dtype == MX_UINT64;
    mx_dtype dom = isfloat ? MX_FLOAT64 : MX_INT64;
    int failed = 0, lines_per_step = N >= 4096 ? 1 : (int)(4096 / N); /* short lines: in batches */
#pragma omp parallel if (cpu_parallel_worth(in->size) && lines > 1)
    {
        int64_t *vals = malloc((size_t)N * 8), *res = malloc((size_t)N * 8);
        sort_pair *pairs = malloc((size_t)N * sizeof *pairs), *tmp = malloc((size_t)N * sizeof *tmp);
        int ok = vals && res && pairs && tmp;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, lines_per_step)
        for (int64_t line = 0; line < lines; line++) {
            if (!ok) continue;
            int64_t off = in->offset + cpu_flat_offset(nd - 1, ls, lst, line);
            cpu_load_line(in, off, sa, N, dom, vals);
            for (int64_t i = 0; i < N; i++) {
                uint64_t b = (uint64_t)vals[i];
                if (isfloat) {
                    double d;
                    memcpy(&d, &b, 8);
                    pairs[i].key = float_key(d);
                } else {
                    pairs[i].key = u ? b : b ^ SIGN64;
                }
                pairs[i].idx = (uint32_t)i;
            }
            if (partition) quickselect(pairs, tmp, N, prm->kth);
            else merge_sort(pairs, tmp, N);
            if (want_indices) {
                uint32_t *ix = (uint32_t *)res;
                for (int64_t i = 0; i < N; i++) ix[i] = pairs[i].idx;
            } else {
                for (int64_t i = 0; i < N; i++) res[i] = vals[pairs[i].idx];
            }
            int64_t o = (line / inner) * N * inner + line % inner;
            cpu_store_line(out, o, inner, N, res, want_indices ? MX_UINT32 : dom);
        }
        free(vals), free(res), free(pairs), free(tmp);
    }
    if (failed) {
        mx_set_error("[%s] out of memory for lines of %lld elements", name, (long long)N);
        return -1;
    }
    return 0;
}

int cpu_sort(const mx_kernel_ctx *c) { return sort_run(c, 0, 0); }
int cpu_argsort(const mx_kernel_ctx *c) { return sort_run(c, 1, 0); }
int cpu_partition(const mx_kernel_ctx *c) { return sort_run(c, 0, 1); }
int cpu_argpartition(const mx_kernel_ctx *c) { return sort_run(c, 1, 1); }
