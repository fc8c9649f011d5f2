/* Linear-algebra op builders: matmul, addmm, gather_mm (NumPy/MLX semantics).
 *
 * 1-D operands are promoted (a: [K] -> [1, K], b: [K] -> [K, 1]) with views and the added
 * axis is squeezed from the result, so the primitives only ever see >= 2-D operands. Batch
 * dimensions are not materialised: the kernel reads each operand through broadcast strides. */
#include <string.h>

#include "cmlx/ops.h"
#include "ops/linalg.h"
#include "ops/ops_util.h"

/* Checks the operand dtypes and returns the result dtype (a float type), or -1. */
static int result_dtype(const char *op, const mx_array *a, const mx_array *b) {
    mx_dtype t = mx_promote_types(a->dtype, b->dtype);
    if (!mx_dtype_is_float(t)) {
        mx_set_error("[%s] only floating-point operands are supported, got %s and %s", op, MX_SHAPE_STR(a),
                     MX_SHAPE_STR(b));
        return -1;
    }
    return (int)t;
}

static int check_ndim(const char *op, const mx_array *a, const mx_array *b) {
    if (a->ndim == 0 || b->ndim == 0) {
        mx_set_error("[%s] operands must have at least one dimension, got %s and %s", op, MX_SHAPE_STR(a),
                     MX_SHAPE_STR(b));
        return -1;
    }
    return 0;
}

/* a [..., M, K] and b [..., K, N] (both >= 2-D): the output shape with broadcast batch. */
static int product_shape(const char *op, const mx_array *a, const mx_array *b, int64_t *shape, int *ndim) {
    int64_t k_a = a->shape[a->ndim - 1], k_b = b->shape[b->ndim - 2];
    if (k_a != k_b) {
        mx_set_error("[%s] inner dimensions differ: %s @ %s (%lld != %lld)", op, MX_SHAPE_STR(a), MX_SHAPE_STR(b),
                     (long long)k_a, (long long)k_b);
        return -1;
    }
    int n;
    if (mx_broadcast_shapes(op, a->shape, a->ndim - 2, b->shape, b->ndim - 2, shape, &n)) return -1;
    shape[n] = a->shape[a->ndim - 2];
    shape[n + 1] = b->shape[b->ndim - 1];
    *ndim = n + 2;
    return 0;
}

/* Promotes 1-D operands to matrices (views). *squeeze gets the output axes to remove,
 * counted from the end (-2 for a promoted a, -1 for a promoted b). */
static int promote_vectors(const mx_array **a, const mx_array **b, int *squeeze, int *n_squeeze) {
    *n_squeeze = 0;
    if ((*a)->ndim == 1) {
        *a = mx_expand_dims(*a, (int[]){0}, 1);
        if (!*a) return -1;
        squeeze[(*n_squeeze)++] = -2;
    }
    if ((*b)->ndim == 1) {
        *b = mx_expand_dims(*b, (int[]){1}, 1);
        if (!*b) return -1;
        squeeze[(*n_squeeze)++] = -1;
    }
    return 0;
}

/* The product node of two >= 2-D operands (plus c for addmm). */
static mx_array *product_node(const char *op, int prim, const mx_array *a, const mx_array *b,
                              const mx_array *c, float alpha, float beta, mx_dtype t) {
    int64_t shape[MX_MAX_NDIM];
    int ndim;
    if (product_shape(op, a, b, shape, &ndim)) return NULL;
    mx_matmul_params p = {alpha, beta};
    mx_array *in[3] = {(mx_array *)a, (mx_array *)b, (mx_array *)c};
    return mx_node_create1(prim, &p, sizeof p, in, c ? 3 : 2, t, shape, ndim);
}

static mx_array *squeeze_result(mx_array *r, const int *squeeze, int n_squeeze) {
    if (!r || n_squeeze == 0) return r;
    int axes[2];
    for (int i = 0; i < n_squeeze; i++) axes[i] = r->ndim + squeeze[i];
    return mx_squeeze(r, axes, n_squeeze);
}

mx_array *mx_matmul(const mx_array *a, const mx_array *b) {
    if (!a || !b) return NULL;
    if (check_ndim("matmul", a, b)) return NULL;
    int t = result_dtype("matmul", a, b);
    if (t < 0) return NULL;
    if (a->ndim >= 2 && b->ndim >= 2) return product_node("matmul", MX_PRIM_MATMUL, a, b, NULL, 1.0f, 0.0f, t);
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    int squeeze[2], n_squeeze;
    mx_array *r = NULL;
    if (!promote_vectors(&a, &b, squeeze, &n_squeeze))
        r = squeeze_result(product_node("matmul", MX_PRIM_MATMUL, a, b, NULL, 1.0f, 0.0f, t), squeeze, n_squeeze);
    return mx_composite_end(pool, r);
}

mx_array *mx_addmm(const mx_array *c, const mx_array *a, const mx_array *b, float alpha, float beta) {
    if (!a || !b || !c) return NULL;
    if (check_ndim("addmm", a, b)) return NULL;
    int t = result_dtype("addmm", a, b);
    if (t < 0) return NULL;
    t = mx_promote_types(t, c->dtype);
    if (!mx_dtype_is_float(t)) {
        mx_set_error("[addmm] c must be a floating-point or integer array, got %s", MX_SHAPE_STR(c));
        return NULL;
    }
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    int squeeze[2], n_squeeze;
    mx_array *r = NULL;
    if (!promote_vectors(&a, &b, squeeze, &n_squeeze)) {
        int64_t shape[MX_MAX_NDIM];
        int ndim;
        if (!product_shape("addmm", a, b, shape, &ndim)) {
            /* c broadcasts against the user-visible output shape, so bring it to that shape
             * first and then to the internal (promoted) one. */
            int64_t vis[MX_MAX_NDIM];
            int nvis = 0;
            for (int i = 0; i < ndim; i++) {
                int from_end = i - ndim;
                if ((n_squeeze > 0 && squeeze[0] == from_end) || (n_squeeze > 1 && squeeze[1] == from_end)) continue;
                vis[nvis++] = shape[i];
            }
            const mx_array *cc = c;
            int64_t bshape[MX_MAX_NDIM];
            int bn;
            if (mx_broadcast_shapes("addmm", c->shape, c->ndim, vis, nvis, bshape, &bn) == 0) {
                if (bn != nvis || memcmp(bshape, vis, sizeof(int64_t) * (size_t)nvis) != 0) {
                    mx_set_error("[addmm] c of shape %s does not broadcast to the product's shape %s",
                                 MX_SHAPE_STR(c), MX_FMT_SHAPE(vis, nvis));
                } else {
                    if (n_squeeze > 0) cc = mx_reshape(mx_broadcast_to(c, vis, nvis), shape, ndim);
                    if (cc) {
                        mx_array *m = product_node("addmm", MX_PRIM_ADDMM, a, b, cc, alpha, beta, t);
                        r = squeeze_result(m, squeeze, n_squeeze);
                    }
                }
            }
        }
    }
    return mx_composite_end(pool, r);
}

/* arange over the flattened batch of x (x.shape[:-2]), shaped like that batch. */
static mx_array *default_indices(const mx_array *x) {
    int64_t n = 1;
    for (int i = 0; i < x->ndim - 2; i++) n *= x->shape[i];
    mx_array *r = mx_arange(0, (double)n, 1, MX_UINT32);
    return x->ndim > 2 ? mx_reshape(r, x->shape, x->ndim - 2) : mx_reshape(r, NULL, 0);
}

mx_array *mx_gather_mm(const mx_array *a, const mx_array *b, const mx_array *lhs_indices,
                       const mx_array *rhs_indices) {
    if (!a || !b) return NULL;
    if (!lhs_indices && !rhs_indices) return mx_matmul(a, b);
    if (check_ndim("gather_mm", a, b)) return NULL;
    int t = result_dtype("gather_mm", a, b);
    if (t < 0) return NULL;
    const mx_array *idx[2] = {lhs_indices, rhs_indices};
    for (int i = 0; i < 2; i++)
        if (idx[i] && !mx_dtype_is_integer(idx[i]->dtype)) {
            mx_set_error("[gather_mm] %s indices must be integers, got %s", i ? "rhs" : "lhs", MX_SHAPE_STR(idx[i]));
            return NULL;
        }
    mx_pool *pool = mx_pool_begin();
    if (!pool) return NULL;
    int squeeze[2], n_squeeze;
    mx_array *r = NULL;
    if (promote_vectors(&a, &b, squeeze, &n_squeeze)) return mx_composite_end(pool, NULL);
    const mx_array *li = lhs_indices ? lhs_indices : default_indices(a);
    const mx_array *ri = rhs_indices ? rhs_indices : default_indices(b);
    int64_t k_a = a->shape[a->ndim - 1], k_b = b->shape[b->ndim - 2];
    int64_t shape[MX_MAX_NDIM];
    int n;
    if (!li || !ri) {
        /* error set */
    } else if (k_a != k_b) {
        mx_set_error("[gather_mm] inner dimensions differ: %s @ %s (%lld != %lld)", MX_SHAPE_STR(a),
                     MX_SHAPE_STR(b), (long long)k_a, (long long)k_b);
    } else if (li->ndim + 2 > MX_MAX_NDIM || ri->ndim + 2 > MX_MAX_NDIM) {
        mx_set_error("[gather_mm] indices of shapes %s and %s leave no room for the matrix axes",
                     MX_SHAPE_STR(li), MX_SHAPE_STR(ri));
    } else if (!mx_broadcast_shapes("gather_mm", li->shape, li->ndim, ri->shape, ri->ndim, shape, &n)) {
        if (n + 2 > MX_MAX_NDIM) {
            mx_set_error("[gather_mm] output would have more than %d dimensions", MX_MAX_NDIM);
        } else {
            shape[n] = a->shape[a->ndim - 2];
            shape[n + 1] = b->shape[b->ndim - 1];
            mx_matmul_params p = {1.0f, 0.0f};
            mx_array *in[4] = {(mx_array *)a, (mx_array *)b, (mx_array *)li, (mx_array *)ri};
            r = squeeze_result(mx_node_create1(MX_PRIM_GATHER_MM, &p, sizeof p, in, 4, t, shape, n + 2), squeeze,
                               n_squeeze);
        }
    }
    return mx_composite_end(pool, r);
}
