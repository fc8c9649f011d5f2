/* Binary elementwise op builders: broadcasting, MLX type promotion, weak scalars. */
#include <math.h>

#include "cmlx/ops.h"
#include "core/array_impl.h"
#include "ops/elementwise.h"
#include "ops/ops_util.h"

static const char *binary_names[MX_BIN_COUNT] = {
    "add", "subtract", "multiply", "divide", "floor_divide", "remainder", "power", "maximum",
    "minimum", "logaddexp", "arctan2", "equal", "not_equal", "less", "less_equal", "greater",
    "greater_equal", "logical_and", "logical_or", "bitwise_and", "bitwise_or", "bitwise_xor",
    "left_shift", "right_shift",
};

const char *mx_binary_name(int op) { return op >= 0 && op < MX_BIN_COUNT ? binary_names[op] : "?"; }

static int is_comparison(int op) { return op >= MX_BIN_EQUAL && op <= MX_BIN_GREATER_EQUAL; }

static mx_array *binary(const mx_array *a, const mx_array *b, int op) {
    if (!a || !b) return NULL;
    const char *name = binary_names[op];
    int64_t shape[MX_MAX_NDIM];
    int ndim;
    if (mx_broadcast_shapes(name, a->shape, a->ndim, b->shape, b->ndim, shape, &ndim)) return NULL;
    mx_dtype t = mx_promote_types(a->dtype, b->dtype), out;
    switch (op) {
    case MX_BIN_DIVIDE: case MX_BIN_LOGADDEXP: case MX_BIN_ARCTAN2:
        if (!mx_dtype_is_float(t)) t = MX_FLOAT32;
        out = t;
        break;
    case MX_BIN_LOGICAL_AND: case MX_BIN_LOGICAL_OR:
        t = MX_BOOL;
        out = MX_BOOL;
        break;
    case MX_BIN_BITWISE_AND: case MX_BIN_BITWISE_OR: case MX_BIN_BITWISE_XOR:
    case MX_BIN_LEFT_SHIFT: case MX_BIN_RIGHT_SHIFT:
        if (mx_dtype_is_float(t)) {
            mx_set_error("[%s] needs integer or bool arrays, got %s and %s", name, MX_SHAPE_STR(a), MX_SHAPE_STR(b));
            return NULL;
        }
        if (op >= MX_BIN_LEFT_SHIFT && t == MX_BOOL) t = MX_UINT8;
        out = t;
        break;
    default:
        out = is_comparison(op) ? MX_BOOL : t;
        break;
    }
    mx_binary_params p = {op, (int)t};
    mx_array *in[2] = {(mx_array *)a, (mx_array *)b};
    return mx_node_create1(MX_PRIM_BINARY, &p, sizeof p, in, 2, out, shape, ndim);
}

#define BINARY_OP(fn, op) \
    mx_array *fn(const mx_array *a, const mx_array *b) { return binary(a, b, op); }
BINARY_OP(mx_add, MX_BIN_ADD)
BINARY_OP(mx_subtract, MX_BIN_SUBTRACT)
BINARY_OP(mx_multiply, MX_BIN_MULTIPLY)
BINARY_OP(mx_divide, MX_BIN_DIVIDE)
BINARY_OP(mx_floor_divide, MX_BIN_FLOOR_DIVIDE)
BINARY_OP(mx_remainder, MX_BIN_REMAINDER)
BINARY_OP(mx_power, MX_BIN_POWER)
BINARY_OP(mx_maximum, MX_BIN_MAXIMUM)
BINARY_OP(mx_minimum, MX_BIN_MINIMUM)
BINARY_OP(mx_logaddexp, MX_BIN_LOGADDEXP)
BINARY_OP(mx_arctan2, MX_BIN_ARCTAN2)
BINARY_OP(mx_equal, MX_BIN_EQUAL)
BINARY_OP(mx_not_equal, MX_BIN_NOT_EQUAL)
BINARY_OP(mx_less, MX_BIN_LESS)
BINARY_OP(mx_less_equal, MX_BIN_LESS_EQUAL)
BINARY_OP(mx_greater, MX_BIN_GREATER)
BINARY_OP(mx_greater_equal, MX_BIN_GREATER_EQUAL)
BINARY_OP(mx_logical_and, MX_BIN_LOGICAL_AND)
BINARY_OP(mx_logical_or, MX_BIN_LOGICAL_OR)
BINARY_OP(mx_bitwise_and, MX_BIN_BITWISE_AND)
BINARY_OP(mx_bitwise_or, MX_BIN_BITWISE_OR)
BINARY_OP(mx_bitwise_xor, MX_BIN_BITWISE_XOR)
BINARY_OP(mx_left_shift, MX_BIN_LEFT_SHIFT)
BINARY_OP(mx_right_shift, MX_BIN_RIGHT_SHIFT)

/* A weak scalar takes the array's dtype, except that a non-integral value with an
 * integer or bool array gives float32 (MLX with a Python float), and an integral value
 * with a bool array gives int32 (MLX with a Python int). */
mx_array *mx_scalar_like(const mx_array *like, double s) {
    if (!like) return NULL;
    mx_dtype t = like->dtype;
    int integral = s == floor(s) && fabs(s) < 9.2e18;
    if (!mx_dtype_is_float(t)) {
        if (!integral) t = MX_FLOAT32;
        else if (t == MX_BOOL) t = MX_INT32;
    }
    return mx_scalar(s, t);
}

#define SCALAR_OP(fn, op)                                          \
    mx_array *fn##_scalar(const mx_array *a, double s) {           \
        if (!a) return NULL;                                       \
        mx_pool *p = mx_pool_begin();                              \
        if (!p) return NULL;                                       \
        return mx_composite_end(p, binary(a, mx_scalar_like(a, s), op)); \
    }
SCALAR_OP(mx_add, MX_BIN_ADD)
SCALAR_OP(mx_subtract, MX_BIN_SUBTRACT)
SCALAR_OP(mx_multiply, MX_BIN_MULTIPLY)
SCALAR_OP(mx_divide, MX_BIN_DIVIDE)
SCALAR_OP(mx_power, MX_BIN_POWER)
SCALAR_OP(mx_maximum, MX_BIN_MAXIMUM)
SCALAR_OP(mx_minimum, MX_BIN_MINIMUM)
