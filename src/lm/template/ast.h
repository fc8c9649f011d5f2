/* The syntax tree the parser builds and the evaluator walks (mirrors jinja2.nodes). */
#ifndef CMLX_LM_TEMPLATE_AST_H
#define CMLX_LM_TEMPLATE_AST_H

#include "lm/template/value.h"

typedef enum {
    /* statements */
    N_DATA,       /* str: literal text */
    N_OUTPUT,     /* a: expression to print */
    N_IF,         /* a: test, body: then, alt: else (an elif is an N_IF alone in alt) */
    N_FOR,        /* a: target, b: iterable, c: filter test or NULL, body, alt: else; flag: recursive */
    N_SET,        /* a: target, b: value */
    N_SET_BLOCK,  /* a: target, c: filter chain (N_FILTER with a NULL input) or NULL, body */
    N_MACRO,      /* str: name, params (N_NAME) / defaults (or NULL), body */
    N_CALL_BLOCK, /* a: the call, params/defaults: caller's signature, body */
    N_FILTER_BLOCK, /* c: filter chain, body */
    N_WITH,       /* params: targets, defaults: values, body */
    N_SCOPE,      /* body run in a new scope (generation, block) */
    N_BREAK,
    N_CONTINUE,
    /* expressions */
    N_CONST,      /* value */
    N_NAME,       /* str */
    N_NSREF,      /* str: namespace variable, str2: attribute (assignment target only) */
    N_GETATTR,    /* a: object, str: attribute */
    N_GETITEM,    /* a: object, b: key */
    N_SLICE,      /* a, b, c: start, stop, step (each may be NULL) */
    N_CALL,       /* a: callee, args, kwnames/kwargs, b: *args, c: **kwargs */
    N_FILTER,     /* a: input (NULL in a filter block), str: name, args, kwargs */
    N_TEST,       /* a: input, str: name, args, kwargs */
    N_NOT,        /* a */
    N_NEG,        /* a */
    N_POS,        /* a */
    N_BINOP,      /* op: OP_ADD ... OP_POW, a, b */
    N_AND,        /* a, b */
    N_OR,         /* a, b */
    N_CONCAT,     /* args */
    N_COMPARE,    /* a: first operand, args: other operands, ops: one per operand */
    N_CONDEXPR,   /* a: test, b: then, c: else or NULL */
    N_LIST,       /* args */
    N_TUPLE,      /* args */
    N_DICT,       /* args: keys, kwargs: values */
} node_kind;

/* Comparison operators of N_COMPARE beyond the lexer's OP_EQ ... OP_LTEQ. */
enum { CMP_IN = 100, CMP_NOTIN = 101 };

typedef struct node_vec {
    struct node **v;
    int n, cap;
} node_vec;

typedef struct node {
    node_kind kind;
    int line;
    int op;
    int flag;
    char *str, *str2;
    tv value;
    struct node *a, *b, *c;
    node_vec body, alt;
    node_vec args, kwargs;   /* kwargs: values; kwnames: their names */
    char **kwnames;
    node_vec params, defaults; /* macro / call block signature; defaults[i] may be NULL */
    int *ops;                 /* N_COMPARE */
    /* N_MACRO / N_CALL_BLOCK: whether the body reads these special names */
    int uses_varargs, uses_kwargs, uses_caller;
    /* filter/test function resolved at parse time */
    void *fn;
} node;

void lm_tpl_node_free(node *n);

#endif
