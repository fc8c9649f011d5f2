/* Unary elementwise op builders: validation and output dtype rules (MLX's). */
#include "cmlx/ops.h"
#include "core/array_impl.h"
#include "ops/elementwise.h"

static const char *unary_names[MX_UN_COUNT] = {
    "abs", "negative", "sign", "sqrt", "rsqrt", "square", "reciprocal", "exp", "expm1", "log",
    "log1p", "log2", "log10", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh",
    "tanh", "sigmoid", "erf", "erfinv", "floor", "ceil", "round", "isnan", "isinf", "isfinite",
    "isposinf", "isneginf", "logical_not", "bitwise_invert",
};

const char *mx_unary_name(int op) { return op >= 0 && op < MX_UN_COUNT ? unary_names[op] : "?"; }

typedef enum { SAME, FLOATING, BOOLEAN, INTEGRAL } out_rule;

static out_rule rule_of(int op) {
    switch (op) {
    case MX_UN_ABS: case MX_UN_NEGATIVE: case MX_UN_SIGN: case MX_UN_SQUARE:
    case MX_UN_FLOOR: case MX_UN_CEIL: case MX_UN_ROUND:
        return SAME;
    case MX_UN_ISNAN: case MX_UN_ISINF: case MX_UN_ISFINITE: case MX_UN_ISPOSINF:
    case MX_UN_ISNEGINF: case MX_UN_LOGICAL_NOT:
        return BOOLEAN;
    case MX_UN_BITWISE_INVERT:
        return INTEGRAL;
    default:
        return FLOATING;
    }
}

static mx_array *unary(const mx_array *a, int op, int decimals) {
    if (!a) return NULL;
    mx_dtype out = a->dtype;
    switch (rule_of(op)) {
    case SAME:
        if (op == MX_UN_NEGATIVE && a->dtype == MX_BOOL) {
            mx_set_error("[negative] not supported for bool arrays; use logical_not");
            return NULL;
        }
        break;
    case FLOATING:
        if (!mx_dtype_is_float(a->dtype)) out = MX_FLOAT32;
        break;
    case BOOLEAN: out = MX_BOOL; break;
    case INTEGRAL:
        if (mx_dtype_is_float(a->dtype)) {
            mx_set_error("[%s] needs an integer or bool array, got %s", unary_names[op], MX_SHAPE_STR(a));
            return NULL;
        }
        break;
    }
    /* Identities that need no node. */
    if ((op == MX_UN_FLOOR || op == MX_UN_CEIL || op == MX_UN_ROUND) && !mx_dtype_is_float(a->dtype))
        return mx_pool_track(mx_retain((mx_array *)a));
    mx_unary_params p = {op, decimals};
    mx_array *in = (mx_array *)a;
    return mx_node_create1(MX_PRIM_UNARY, &p, sizeof p, &in, 1, out, a->shape, a->ndim);
}

#define UNARY_OP(fn, op) \
    mx_array *fn(const mx_array *a) { return unary(a, op, 0); }
UNARY_OP(mx_abs, MX_UN_ABS)
UNARY_OP(mx_negative, MX_UN_NEGATIVE)
UNARY_OP(mx_sign, MX_UN_SIGN)
UNARY_OP(mx_sqrt, MX_UN_SQRT)
UNARY_OP(mx_rsqrt, MX_UN_RSQRT)
UNARY_OP(mx_square, MX_UN_SQUARE)
UNARY_OP(mx_reciprocal, MX_UN_RECIPROCAL)
UNARY_OP(mx_exp, MX_UN_EXP)
UNARY_OP(mx_expm1, MX_UN_EXPM1)
UNARY_OP(mx_log, MX_UN_LOG)
UNARY_OP(mx_log1p, MX_UN_LOG1P)
UNARY_OP(mx_log2, MX_UN_LOG2)
UNARY_OP(mx_log10, MX_UN_LOG10)
UNARY_OP(mx_sin, MX_UN_SIN)
UNARY_OP(mx_cos, MX_UN_COS)
UNARY_OP(mx_tan, MX_UN_TAN)
UNARY_OP(mx_arcsin, MX_UN_ARCSIN)
UNARY_OP(mx_arccos, MX_UN_ARCCOS)
UNARY_OP(mx_arctan, MX_UN_ARCTAN)
UNARY_OP(mx_sinh, MX_UN_SINH)
UNARY_OP(mx_cosh, MX_UN_COSH)
UNARY_OP(mx_tanh, MX_UN_TANH)
UNARY_OP(mx_sigmoid, MX_UN_SIGMOID)
UNARY_OP(mx_erf, MX_UN_ERF)
UNARY_OP(mx_erfinv, MX_UN_ERFINV)
UNARY_OP(mx_floor, MX_UN_FLOOR)
UNARY_OP(mx_ceil, MX_UN_CEIL)
UNARY_OP(mx_isnan, MX_UN_ISNAN)
UNARY_OP(mx_isinf, MX_UN_ISINF)
UNARY_OP(mx_isfinite, MX_UN_ISFINITE)
UNARY_OP(mx_isposinf, MX_UN_ISPOSINF)
UNARY_OP(mx_isneginf, MX_UN_ISNEGINF)
UNARY_OP(mx_logical_not, MX_UN_LOGICAL_NOT)
UNARY_OP(mx_bitwise_invert, MX_UN_BITWISE_INVERT)

mx_array *mx_round(const mx_array *a, int decimals) { return unary(a, MX_UN_ROUND, decimals); }

mx_array *mx_astype(const mx_array *a, mx_dtype dtype) {
    if (!a) return NULL;
    if ((unsigned)dtype >= MX_DTYPE_COUNT) {
        mx_set_error("[astype] invalid dtype %d", (int)dtype);
        return NULL;
    }
    if (dtype == a->dtype) return mx_pool_track(mx_retain((mx_array *)a));
    mx_array *in = (mx_array *)a;
    return mx_node_create1(MX_PRIM_ASTYPE, NULL, 0, &in, 1, dtype, a->shape, a->ndim);
}

mx_array *mx_stop_gradient(const mx_array *a) {
    /* Forward identity; the autograd pass treats the COPY primitive of this node as a
     * gradient barrier. */
    if (!a) return NULL;
    int barrier = 1;
    mx_array *in = (mx_array *)a;
    return mx_node_create1(MX_PRIM_COPY, &barrier, sizeof barrier, &in, 1, a->dtype, a->shape, a->ndim);
}

mx_array *mx_contiguous(const mx_array *a) {
    if (!a) return NULL;
    if (a->buf && atomic_load(&((mx_array *)a)->status) == MX_STATUS_AVAILABLE && (a->flags & MX_FLAG_ROW_CONTIG))
        return mx_pool_track(mx_retain((mx_array *)a));
    int barrier = 0;
    mx_array *in = (mx_array *)a;
    return mx_node_create1(MX_PRIM_COPY, &barrier, sizeof barrier, &in, 1, a->dtype, a->shape, a->ndim);
}
