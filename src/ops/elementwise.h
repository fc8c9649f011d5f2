/* Parameters of the elementwise primitives, shared by the op builders and the kernels. */
#ifndef CMLX_OPS_ELEMENTWISE_H
#define CMLX_OPS_ELEMENTWISE_H

typedef enum {
    MX_UN_ABS, MX_UN_NEGATIVE, MX_UN_SIGN, MX_UN_SQRT, MX_UN_RSQRT, MX_UN_SQUARE, MX_UN_RECIPROCAL,
    MX_UN_EXP, MX_UN_EXPM1, MX_UN_LOG, MX_UN_LOG1P, MX_UN_LOG2, MX_UN_LOG10, MX_UN_SIN, MX_UN_COS,
    MX_UN_TAN, MX_UN_ARCSIN, MX_UN_ARCCOS, MX_UN_ARCTAN, MX_UN_SINH, MX_UN_COSH, MX_UN_TANH,
    MX_UN_SIGMOID, MX_UN_ERF, MX_UN_ERFINV, MX_UN_FLOOR, MX_UN_CEIL, MX_UN_ROUND, MX_UN_ISNAN,
    MX_UN_ISINF, MX_UN_ISFINITE, MX_UN_ISPOSINF, MX_UN_ISNEGINF, MX_UN_LOGICAL_NOT,
    MX_UN_BITWISE_INVERT, MX_UN_COUNT
} mx_unary_op;

typedef struct {
    int op;          /* mx_unary_op */
    int decimals;    /* round */
} mx_unary_params;

typedef enum {
    MX_BIN_ADD, MX_BIN_SUBTRACT, MX_BIN_MULTIPLY, MX_BIN_DIVIDE, MX_BIN_FLOOR_DIVIDE,
    MX_BIN_REMAINDER, MX_BIN_POWER, MX_BIN_MAXIMUM, MX_BIN_MINIMUM, MX_BIN_LOGADDEXP,
    MX_BIN_ARCTAN2, MX_BIN_EQUAL, MX_BIN_NOT_EQUAL, MX_BIN_LESS, MX_BIN_LESS_EQUAL,
    MX_BIN_GREATER, MX_BIN_GREATER_EQUAL, MX_BIN_LOGICAL_AND, MX_BIN_LOGICAL_OR,
    MX_BIN_BITWISE_AND, MX_BIN_BITWISE_OR, MX_BIN_BITWISE_XOR, MX_BIN_LEFT_SHIFT,
    MX_BIN_RIGHT_SHIFT, MX_BIN_COUNT
} mx_binary_op;

typedef struct {
    int op;          /* mx_binary_op */
    int compute;     /* mx_dtype the operands are converted to before the op */
} mx_binary_params;

const char *mx_unary_name(int op);
const char *mx_binary_name(int op);

#endif
