/* Recursive-descent parser following jinja2/parser.py: the same precedence (condexpr <
 * or < and < not < compare < +,- < ~ < *,/,//,% < ** < unary < postfix/filters/tests) and
 * the same statements (if, for, set, macro, call, filter, with, break/continue,
 * generation, block), with Jinja's error messages. */
#include "lm/template/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/template/interp.h"

typedef struct parser {
    const token_list *tl;
    size_t i;
    const char *end_stack[32][4]; /* end tags each open block waits for */
    int end_depth;
    const char *tag_stack[64];
    int tag_depth;
    node *macros[32];             /* enclosing macro / call-block nodes */
    int macro_depth;
    int loop_depth;
    int failed;
} parser;

static const token *cur(parser *p) { return &p->tl->v[p->i]; }
static const token *peek(parser *p, int k) {
    size_t j = p->i + (size_t)k;
    return j < p->tl->n ? &p->tl->v[j] : &p->tl->v[p->tl->n - 1];
}
static void next_tok(parser *p) {
    if (p->i + 1 < p->tl->n) p->i++;
}

static void describe(const token *t, char *buf, size_t n) {
    switch (t->type) {
    case TK_EOF: snprintf(buf, n, "end of template"); break;
    case TK_DATA: snprintf(buf, n, "template data"); break;
    case TK_VAR_BEGIN: snprintf(buf, n, "begin of print statement"); break;
    case TK_VAR_END: snprintf(buf, n, "end of print statement"); break;
    case TK_BLOCK_BEGIN: snprintf(buf, n, "begin of statement block"); break;
    case TK_BLOCK_END: snprintf(buf, n, "end of statement block"); break;
    case TK_NAME: snprintf(buf, n, "%.60s", t->text); break;
    case TK_STRING: snprintf(buf, n, "string"); break;
    case TK_INT: snprintf(buf, n, "integer"); break;
    case TK_FLOAT: snprintf(buf, n, "float"); break;
    case TK_OP: snprintf(buf, n, "%s", lm_tpl_op_text(t->op)); break;
    }
}

static node *fail_at(parser *p, const token *t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static node *fail_at(parser *p, const token *t, const char *fmt, ...) {
    if (p->failed) return NULL;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mx_set_error("TemplateSyntaxError: %s (line %d, column %d)", msg, t->line, t->col);
    p->failed = 1;
    return NULL;
}

static node *unexpected(parser *p) {
    char d[80];
    describe(cur(p), d, sizeof d);
    return fail_at(p, cur(p), "unexpected '%s'", d);
}

static int is_op(parser *p, int op) { return cur(p)->type == TK_OP && cur(p)->op == op; }
static int is_name(parser *p, const char *kw) { return cur(p)->type == TK_NAME && strcmp(cur(p)->text, kw) == 0; }
static int skip_op(parser *p, int op) {
    if (!is_op(p, op)) return 0;
    next_tok(p);
    return 1;
}
static int skip_name(parser *p, const char *kw) {
    if (!is_name(p, kw)) return 0;
    next_tok(p);
    return 1;
}
static int expect_op(parser *p, int op) {
    if (skip_op(p, op)) return 1;
    char d[80];
    describe(cur(p), d, sizeof d);
    fail_at(p, cur(p), "expected token '%s', got '%s'", lm_tpl_op_text(op), d);
    return 0;
}
static int expect_type(parser *p, tk_type type, const char *what) {
    if (cur(p)->type == type) {
        next_tok(p);
        return 1;
    }
    char d[80];
    describe(cur(p), d, sizeof d);
    if (cur(p)->type == TK_EOF) fail_at(p, cur(p), "unexpected end of template, expected '%s'.", what);
    else fail_at(p, cur(p), "expected token '%s', got '%s'", what, d);
    return 0;
}

static node *mk(parser *p, node_kind kind, int line) {
    node *n = calloc(1, sizeof *n);
    if (!n) {
        mx_set_error("template: out of memory parsing");
        p->failed = 1;
        return NULL;
    }
    n->kind = kind;
    n->line = line;
    return n;
}

static int vec_push(parser *p, node_vec *v, node *n) {
    if (!n) return -1;
    if (v->n == v->cap) {
        int nc = v->cap ? v->cap * 2 : 4;
        node **nv = realloc(v->v, (size_t)nc * sizeof(node *));
        if (!nv) {
            lm_tpl_node_free(n);
            mx_set_error("template: out of memory parsing");
            p->failed = 1;
            return -1;
        }
        v->v = nv;
        v->cap = nc;
    }
    v->v[v->n++] = n;
    return 0;
}

static char *dup(parser *p, const char *s) {
    char *d = strdup(s);
    if (!d) {
        mx_set_error("template: out of memory parsing");
        p->failed = 1;
    }
    return d;
}

void lm_tpl_node_free(node *n) {
    if (!n) return;
    free(n->str);
    free(n->str2);
    tv_unref(n->value);
    lm_tpl_node_free(n->a);
    lm_tpl_node_free(n->b);
    lm_tpl_node_free(n->c);
    node_vec *vs[] = {&n->body, &n->alt, &n->args, &n->kwargs, &n->params, &n->defaults};
    for (size_t k = 0; k < sizeof vs / sizeof vs[0]; k++) {
        for (int i = 0; i < vs[k]->n; i++) lm_tpl_node_free(vs[k]->v[i]);
        free(vs[k]->v);
    }
    if (n->kwnames) {
        for (int i = 0; i < n->kwargs.n; i++) free(n->kwnames[i]);
        free(n->kwnames);
    }
    free(n->ops);
    free(n);
}

void lm_tpl_body_free(node_vec *body) {
    for (int i = 0; i < body->n; i++) lm_tpl_node_free(body->v[i]);
    free(body->v);
    memset(body, 0, sizeof *body);
}

static node *parse_expression(parser *p, int with_condexpr);
static node *parse_tuple(parser *p, int simplified, int with_condexpr, const char *extra_end, int explicit_parens,
                         int with_namespace);
static node *parse_primary(parser *p, int with_namespace);
static node *parse_postfix(parser *p, node *n);
static node *parse_filter_expr(parser *p, node *n);
static node *parse_filter(parser *p, node *n, int start_inline);
static int parse_statements(parser *p, node_vec *body, const char *const *ends, int drop_needle);

/* Names a macro body reads that change how it is called. */
static void note_name(parser *p, const char *name) {
    for (int i = 0; i < p->macro_depth; i++) {
        if (strcmp(name, "varargs") == 0) p->macros[i]->uses_varargs = 1;
        else if (strcmp(name, "kwargs") == 0) p->macros[i]->uses_kwargs = 1;
        else if (strcmp(name, "caller") == 0) p->macros[i]->uses_caller = 1;
    }
}

/* ( args, kw=args, *dyn, **dyn ) into n->args / n->kwargs / n->b / n->c */
static int parse_call_args(parser *p, node *n) {
    const token *start = cur(p);
    if (!expect_op(p, OP_LPAREN)) return -1;
    int require_comma = 0;
    while (!is_op(p, OP_RPAREN) && !p->failed) {
        if (require_comma) {
            if (!expect_op(p, OP_COMMA)) return -1;
            if (is_op(p, OP_RPAREN)) break;
        }
        if (is_op(p, OP_MUL)) {
            if (n->b || n->c) return fail_at(p, start, "invalid syntax for function call expression"), -1;
            next_tok(p);
            n->b = parse_expression(p, 1);
        } else if (is_op(p, OP_POW)) {
            if (n->c) return fail_at(p, start, "invalid syntax for function call expression"), -1;
            next_tok(p);
            n->c = parse_expression(p, 1);
        } else if (cur(p)->type == TK_NAME && peek(p, 1)->type == TK_OP && peek(p, 1)->op == OP_ASSIGN) {
            if (n->c) return fail_at(p, start, "invalid syntax for function call expression"), -1;
            char *key = dup(p, cur(p)->text);
            if (!key) return -1;
            next_tok(p);
            next_tok(p);
            node *v = parse_expression(p, 1);
            char **nk = realloc(n->kwnames, (size_t)(n->kwargs.n + 1) * sizeof(char *));
            if (!nk || !v) {
                free(key);
                lm_tpl_node_free(v);
                if (!nk) mx_set_error("template: out of memory parsing");
                p->failed = 1;
                return -1;
            }
            n->kwnames = nk;
            n->kwnames[n->kwargs.n] = key;
            if (vec_push(p, &n->kwargs, v)) {
                free(key);
                return -1;
            }
        } else {
            if (n->b || n->c || n->kwargs.n) return fail_at(p, start, "invalid syntax for function call expression"), -1;
            if (vec_push(p, &n->args, parse_expression(p, 1))) return -1;
        }
        require_comma = 1;
    }
    if (p->failed) return -1;
    return expect_op(p, OP_RPAREN) ? 0 : -1;
}

static node *parse_call(parser *p, node *callee) {
    node *n = mk(p, N_CALL, cur(p)->line);
    if (!n) return lm_tpl_node_free(callee), NULL;
    n->a = callee;
    if (parse_call_args(p, n) != 0) return lm_tpl_node_free(n), NULL;
    return n;
}

static node *parse_subscribed(parser *p) {
    int line = cur(p)->line;
    node *args[3] = {NULL, NULL, NULL};
    if (is_op(p, OP_COLON)) {
        next_tok(p);
    } else {
        node *e = parse_expression(p, 1);
        if (!e || !is_op(p, OP_COLON)) return e;
        next_tok(p);
        args[0] = e;
    }
    if (!is_op(p, OP_COLON) && !is_op(p, OP_RBRACKET) && !is_op(p, OP_COMMA)) args[1] = parse_expression(p, 1);
    if (is_op(p, OP_COLON)) {
        next_tok(p);
        if (!is_op(p, OP_RBRACKET) && !is_op(p, OP_COMMA)) args[2] = parse_expression(p, 1);
    }
    node *n = mk(p, N_SLICE, line);
    if (!n || p->failed) {
        for (int i = 0; i < 3; i++) lm_tpl_node_free(args[i]);
        lm_tpl_node_free(n);
        return NULL;
    }
    n->a = args[0];
    n->b = args[1];
    n->c = args[2];
    return n;
}

static node *parse_subscript(parser *p, node *obj) {
    const token *t = cur(p);
    int line = t->line;
    next_tok(p);
    if (t->type == TK_OP && t->op == OP_DOT) {
        const token *a = cur(p);
        next_tok(p);
        if (a->type == TK_NAME) {
            node *n = mk(p, N_GETATTR, line);
            if (!n) return lm_tpl_node_free(obj), NULL;
            n->a = obj;
            n->str = dup(p, a->text);
            return n;
        }
        if (a->type != TK_INT) return lm_tpl_node_free(obj), fail_at(p, a, "expected name or number");
        node *n = mk(p, N_GETITEM, line), *k = mk(p, N_CONST, a->line);
        if (!n || !k) return lm_tpl_node_free(n), lm_tpl_node_free(k), lm_tpl_node_free(obj), NULL;
        k->value = tv_int(a->ival);
        n->a = obj;
        n->b = k;
        return n;
    }
    /* [ subscript, ... ] */
    node_vec items = {0};
    while (!is_op(p, OP_RBRACKET) && !p->failed) {
        if (items.n && !expect_op(p, OP_COMMA)) break;
        vec_push(p, &items, parse_subscribed(p));
    }
    if (p->failed || !expect_op(p, OP_RBRACKET)) {
        lm_tpl_body_free(&items);
        return lm_tpl_node_free(obj), NULL;
    }
    node *n = mk(p, N_GETITEM, line);
    if (!n) return lm_tpl_body_free(&items), lm_tpl_node_free(obj), NULL;
    n->a = obj;
    if (items.n == 1) {
        n->b = items.v[0];
        free(items.v);
    } else {
        node *tup = mk(p, N_TUPLE, line);
        if (!tup) return lm_tpl_body_free(&items), lm_tpl_node_free(n), NULL;
        tup->args = items;
        n->b = tup;
    }
    return n;
}

static node *parse_postfix(parser *p, node *n) {
    while (n && !p->failed) {
        if (is_op(p, OP_DOT) || is_op(p, OP_LBRACKET)) n = parse_subscript(p, n);
        else if (is_op(p, OP_LPAREN)) n = parse_call(p, n);
        else break;
    }
    return p->failed ? (lm_tpl_node_free(n), NULL) : n;
}

static char *parse_dotted_name(parser *p) {
    if (cur(p)->type != TK_NAME) {
        expect_type(p, TK_NAME, "name");
        return NULL;
    }
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, cur(p)->text);
    next_tok(p);
    while (is_op(p, OP_DOT)) {
        next_tok(p);
        if (cur(p)->type != TK_NAME) {
            strbuf_free(&sb);
            expect_type(p, TK_NAME, "name");
            return NULL;
        }
        strbuf_putc(&sb, '.');
        strbuf_puts(&sb, cur(p)->text);
        next_tok(p);
    }
    return strbuf_detach(&sb, NULL);
}

static node *parse_filter(parser *p, node *input, int start_inline) {
    while ((is_op(p, OP_PIPE) || start_inline) && !p->failed) {
        if (!start_inline) next_tok(p);
        const token *t = cur(p);
        char *name = parse_dotted_name(p);
        if (!name) return lm_tpl_node_free(input), NULL;
        node *n = mk(p, N_FILTER, t->line);
        if (!n) return free(name), lm_tpl_node_free(input), NULL;
        n->a = input;
        n->str = name;
        n->fn = (void *)lm_tpl_find_filter(name);
        if (!n->fn) {
            lm_tpl_node_free(n);
            p->failed = 1;
            mx_set_error("TemplateAssertionError: No filter named '%s'. (line %d, column %d)", t->text, t->line, t->col);
            return NULL;
        }
        input = n;
        if (is_op(p, OP_LPAREN) && parse_call_args(p, n) != 0) return lm_tpl_node_free(n), NULL;
        start_inline = 0;
    }
    return input;
}

static node *parse_test(parser *p, node *input) {
    const token *is_tok = cur(p);
    next_tok(p);
    int negated = skip_name(p, "not");
    const token *t = cur(p);
    char *name = parse_dotted_name(p);
    if (!name) return lm_tpl_node_free(input), NULL;
    node *n = mk(p, N_TEST, is_tok->line);
    if (!n) return free(name), lm_tpl_node_free(input), NULL;
    n->a = input;
    n->str = name;
    n->fn = (void *)lm_tpl_find_test(name);
    if (!n->fn) {
        lm_tpl_node_free(n);
        p->failed = 1;
        mx_set_error("TemplateAssertionError: No test named '%s'. (line %d, column %d)", t->text, t->line, t->col);
        return NULL;
    }
    const token *c = cur(p);
    if (is_op(p, OP_LPAREN)) {
        if (parse_call_args(p, n) != 0) return lm_tpl_node_free(n), NULL;
    } else if ((c->type == TK_NAME || c->type == TK_STRING || c->type == TK_INT || c->type == TK_FLOAT ||
                (c->type == TK_OP && (c->op == OP_LPAREN || c->op == OP_LBRACKET || c->op == OP_LBRACE))) &&
               !is_name(p, "else") && !is_name(p, "or") && !is_name(p, "and")) {
        if (is_name(p, "is")) return lm_tpl_node_free(n), fail_at(p, c, "You cannot chain multiple tests with is");
        node *arg = parse_postfix(p, parse_primary(p, 0));
        if (vec_push(p, &n->args, arg)) return lm_tpl_node_free(n), NULL;
    }
    if (negated) {
        node *nn = mk(p, N_NOT, is_tok->line);
        if (!nn) return lm_tpl_node_free(n), NULL;
        nn->a = n;
        return nn;
    }
    return n;
}

static node *parse_filter_expr(parser *p, node *n) {
    while (n && !p->failed) {
        if (is_op(p, OP_PIPE)) n = parse_filter(p, n, 0);
        else if (is_name(p, "is")) n = parse_test(p, n);
        else if (is_op(p, OP_LPAREN)) n = parse_call(p, n);
        else break;
    }
    return p->failed ? (lm_tpl_node_free(n), NULL) : n;
}

static node *parse_list(parser *p) {
    node *n = mk(p, N_LIST, cur(p)->line);
    if (!n) return NULL;
    next_tok(p);
    while (!is_op(p, OP_RBRACKET) && !p->failed) {
        if (n->args.n && !expect_op(p, OP_COMMA)) break;
        if (is_op(p, OP_RBRACKET)) break;
        vec_push(p, &n->args, parse_expression(p, 1));
    }
    if (p->failed || !expect_op(p, OP_RBRACKET)) return lm_tpl_node_free(n), NULL;
    return n;
}

static node *parse_dict(parser *p) {
    node *n = mk(p, N_DICT, cur(p)->line);
    if (!n) return NULL;
    next_tok(p);
    while (!is_op(p, OP_RBRACE) && !p->failed) {
        if (n->args.n && !expect_op(p, OP_COMMA)) break;
        if (is_op(p, OP_RBRACE)) break;
        if (vec_push(p, &n->args, parse_expression(p, 1))) break;
        if (!expect_op(p, OP_COLON)) break;
        vec_push(p, &n->kwargs, parse_expression(p, 1));
    }
    if (p->failed || !expect_op(p, OP_RBRACE)) return lm_tpl_node_free(n), NULL;
    return n;
}

static node *parse_primary(parser *p, int with_namespace) {
    const token *t = cur(p);
    node *n = NULL;
    if (t->type == TK_NAME) {
        next_tok(p);
        const char *v = t->text;
        if (!strcmp(v, "true") || !strcmp(v, "false") || !strcmp(v, "True") || !strcmp(v, "False")) {
            if ((n = mk(p, N_CONST, t->line))) n->value = tv_bool(v[0] == 't' || v[0] == 'T');
        } else if (!strcmp(v, "none") || !strcmp(v, "None")) {
            if ((n = mk(p, N_CONST, t->line))) n->value = tv_none();
        } else if (with_namespace && is_op(p, OP_DOT)) {
            next_tok(p);
            const token *a = cur(p);
            if (!expect_type(p, TK_NAME, "name")) return NULL;
            if ((n = mk(p, N_NSREF, t->line))) {
                n->str = dup(p, v);
                n->str2 = dup(p, a->text);
            }
        } else {
            if ((n = mk(p, N_NAME, t->line))) n->str = dup(p, v);
            note_name(p, v);
        }
    } else if (t->type == TK_STRING) {
        strbuf sb = STRBUF_INIT;
        int line = t->line;
        while (cur(p)->type == TK_STRING) {
            strbuf_append(&sb, cur(p)->text, cur(p)->len);
            next_tok(p);
        }
        if ((n = mk(p, N_CONST, line))) {
            n->value = tv_str_from_buf(&sb);
            if (tv_oom(n->value)) p->failed = 1;
        } else {
            strbuf_free(&sb);
        }
    } else if (t->type == TK_INT || t->type == TK_FLOAT) {
        next_tok(p);
        if ((n = mk(p, N_CONST, t->line))) n->value = t->type == TK_INT ? tv_int(t->ival) : tv_float(t->fval);
    } else if (t->type == TK_OP && t->op == OP_LPAREN) {
        next_tok(p);
        n = parse_tuple(p, 0, 1, NULL, 1, 0);
        if (n && !expect_op(p, OP_RPAREN)) return lm_tpl_node_free(n), NULL;
    } else if (t->type == TK_OP && t->op == OP_LBRACKET) {
        n = parse_list(p);
    } else if (t->type == TK_OP && t->op == OP_LBRACE) {
        n = parse_dict(p);
    } else {
        return unexpected(p);
    }
    if (p->failed) return lm_tpl_node_free(n), NULL;
    return n;
}

static node *parse_unary(parser *p, int with_filter) {
    const token *t = cur(p);
    node *n;
    if (t->type == TK_OP && (t->op == OP_SUB || t->op == OP_ADD)) {
        next_tok(p);
        node *inner = parse_unary(p, 0);
        if (!inner) return NULL;
        n = mk(p, t->op == OP_SUB ? N_NEG : N_POS, t->line);
        if (!n) return lm_tpl_node_free(inner), NULL;
        n->a = inner;
    } else {
        n = parse_primary(p, 0);
    }
    n = parse_postfix(p, n);
    if (with_filter) n = parse_filter_expr(p, n);
    return n;
}

static node *binop(parser *p, node_kind kind, int op, node *l, node *r, int line) {
    if (!l || !r) return lm_tpl_node_free(l), lm_tpl_node_free(r), NULL;
    node *n = mk(p, kind, line);
    if (!n) return lm_tpl_node_free(l), lm_tpl_node_free(r), NULL;
    n->op = op;
    n->a = l;
    n->b = r;
    return n;
}

static node *parse_pow(parser *p) {
    node *l = parse_unary(p, 1);
    while (l && is_op(p, OP_POW)) {
        int line = cur(p)->line;
        next_tok(p);
        l = binop(p, N_BINOP, OP_POW, l, parse_unary(p, 1), line);
    }
    return l;
}

static node *parse_math2(parser *p) {
    node *l = parse_pow(p);
    while (l && (is_op(p, OP_MUL) || is_op(p, OP_DIV) || is_op(p, OP_FLOORDIV) || is_op(p, OP_MOD))) {
        int op = cur(p)->op, line = cur(p)->line;
        next_tok(p);
        l = binop(p, N_BINOP, op, l, parse_pow(p), line);
    }
    return l;
}

static node *parse_concat(parser *p) {
    node *first = parse_math2(p);
    if (!first || !is_op(p, OP_TILDE)) return first;
    node *n = mk(p, N_CONCAT, first->line);
    if (!n || vec_push(p, &n->args, first)) return lm_tpl_node_free(n), NULL;
    while (is_op(p, OP_TILDE) && !p->failed) {
        next_tok(p);
        if (vec_push(p, &n->args, parse_math2(p))) break;
    }
    if (p->failed) return lm_tpl_node_free(n), NULL;
    return n;
}

static node *parse_math1(parser *p) {
    node *l = parse_concat(p);
    while (l && (is_op(p, OP_ADD) || is_op(p, OP_SUB))) {
        int op = cur(p)->op, line = cur(p)->line;
        next_tok(p);
        l = binop(p, N_BINOP, op, l, parse_concat(p), line);
    }
    return l;
}

static node *parse_compare(parser *p) {
    int line = cur(p)->line;
    node *first = parse_math1(p);
    if (!first) return NULL;
    node *n = NULL;
    for (;;) {
        int op;
        const token *t = cur(p);
        if (t->type == TK_OP && (t->op == OP_EQ || t->op == OP_NE || t->op == OP_LT || t->op == OP_LTEQ ||
                                 t->op == OP_GT || t->op == OP_GTEQ)) {
            op = t->op;
            next_tok(p);
        } else if (is_name(p, "in")) {
            op = CMP_IN;
            next_tok(p);
        } else if (is_name(p, "not") && peek(p, 1)->type == TK_NAME && strcmp(peek(p, 1)->text, "in") == 0) {
            op = CMP_NOTIN;
            next_tok(p);
            next_tok(p);
        } else {
            break;
        }
        if (!n) {
            n = mk(p, N_COMPARE, line);
            if (!n) return lm_tpl_node_free(first), NULL;
            n->a = first;
        }
        int *nops = realloc(n->ops, (size_t)(n->args.n + 1) * sizeof(int));
        if (!nops) {
            mx_set_error("template: out of memory parsing");
            p->failed = 1;
            return lm_tpl_node_free(n), NULL;
        }
        n->ops = nops;
        n->ops[n->args.n] = op;
        if (vec_push(p, &n->args, parse_math1(p))) return lm_tpl_node_free(n), NULL;
    }
    return n ? n : first;
}

static node *parse_not(parser *p) {
    if (is_name(p, "not")) {
        int line = cur(p)->line;
        next_tok(p);
        node *inner = parse_not(p);
        if (!inner) return NULL;
        node *n = mk(p, N_NOT, line);
        if (!n) return lm_tpl_node_free(inner), NULL;
        n->a = inner;
        return n;
    }
    return parse_compare(p);
}

static node *parse_and(parser *p) {
    node *l = parse_not(p);
    while (l && is_name(p, "and")) {
        int line = cur(p)->line;
        next_tok(p);
        l = binop(p, N_AND, 0, l, parse_not(p), line);
    }
    return l;
}

static node *parse_or(parser *p) {
    node *l = parse_and(p);
    while (l && is_name(p, "or")) {
        int line = cur(p)->line;
        next_tok(p);
        l = binop(p, N_OR, 0, l, parse_and(p), line);
    }
    return l;
}

static node *parse_condexpr(parser *p) {
    node *e1 = parse_or(p);
    while (e1 && is_name(p, "if")) {
        int line = cur(p)->line;
        next_tok(p);
        node *e2 = parse_or(p);
        node *e3 = NULL;
        if (e2 && skip_name(p, "else")) {
            e3 = parse_condexpr(p);
            if (!e3) return lm_tpl_node_free(e1), lm_tpl_node_free(e2), NULL;
        }
        if (!e2) return lm_tpl_node_free(e1), NULL;
        node *n = mk(p, N_CONDEXPR, line);
        if (!n) return lm_tpl_node_free(e1), lm_tpl_node_free(e2), lm_tpl_node_free(e3), NULL;
        n->a = e2;
        n->b = e1;
        n->c = e3;
        e1 = n;
    }
    return e1;
}

static node *parse_expression(parser *p, int with_condexpr) {
    return with_condexpr ? parse_condexpr(p) : parse_or(p);
}

static int is_tuple_end(parser *p, const char *extra_end) {
    const token *t = cur(p);
    if (t->type == TK_VAR_END || t->type == TK_BLOCK_END || t->type == TK_EOF) return 1;
    if (extra_end && t->type == TK_NAME && strcmp(t->text, extra_end) == 0) return 1;
    return 0;
}

static node *parse_tuple(parser *p, int simplified, int with_condexpr, const char *extra_end, int explicit_parens,
                         int with_namespace) {
    int line = cur(p)->line;
    node_vec items = {0};
    int is_tuple = 0;
    for (;;) {
        if (items.n && !expect_op(p, OP_COMMA)) break;
        if (is_tuple_end(p, extra_end)) break;
        if (explicit_parens && is_op(p, OP_RPAREN)) break;
        node *e = simplified ? parse_primary(p, with_namespace) : parse_expression(p, with_condexpr);
        if (vec_push(p, &items, e)) break;
        if (is_op(p, OP_COMMA)) is_tuple = 1;
        else break;
    }
    if (p->failed) return lm_tpl_body_free(&items), NULL;
    if (!is_tuple) {
        if (items.n) {
            node *n = items.v[0];
            free(items.v);
            return n;
        }
        if (!explicit_parens) {
            char d[80];
            describe(cur(p), d, sizeof d);
            return fail_at(p, cur(p), "Expected an expression, got '%s'", d);
        }
    }
    node *n = mk(p, N_TUPLE, line);
    if (!n) return lm_tpl_body_free(&items), NULL;
    n->args = items;
    return n;
}

static int can_assign(node *t) {
    if (t->kind == N_NAME) {
        return strcmp(t->str, "true") && strcmp(t->str, "false") && strcmp(t->str, "none") &&
               strcmp(t->str, "True") && strcmp(t->str, "False") && strcmp(t->str, "None");
    }
    if (t->kind == N_NSREF) return 1;
    if (t->kind == N_TUPLE) {
        for (int i = 0; i < t->args.n; i++)
            if (!can_assign(t->args.v[i])) return 0;
        return 1;
    }
    return 0;
}

static node *parse_assign_target(parser *p, const char *extra_end, int with_namespace) {
    const token *t = cur(p);
    node *target = parse_tuple(p, 1, 1, extra_end, 0, with_namespace);
    if (!target) return NULL;
    if (!can_assign(target)) {
        const char *what = target->kind == N_CONST ? "const" : target->kind == N_TUPLE ? "tuple" : "expression";
        lm_tpl_node_free(target);
        return fail_at(p, t, "can't assign to '%s'", what);
    }
    return target;
}

/* ---- statements ---- */

static int parse_signature(parser *p, node *n) {
    if (!expect_op(p, OP_LPAREN)) return -1;
    while (!is_op(p, OP_RPAREN) && !p->failed) {
        if (n->params.n && !expect_op(p, OP_COMMA)) return -1;
        const token *t = cur(p);
        if (!expect_type(p, TK_NAME, "name")) return -1;
        node *param = mk(p, N_NAME, t->line);
        if (!param) return -1;
        param->str = dup(p, t->text);
        if (vec_push(p, &n->params, param)) return -1;
        node *def = NULL;
        if (skip_op(p, OP_ASSIGN)) {
            def = parse_expression(p, 1);
            if (!def) return -1;
        } else if (n->defaults.n && n->defaults.v[n->defaults.n - 1]) {
            fail_at(p, t, "non-default argument follows default argument");
            return -1;
        }
        if (n->defaults.n == n->defaults.cap) {
            int nc = n->defaults.cap ? n->defaults.cap * 2 : 4;
            node **nv = realloc(n->defaults.v, (size_t)nc * sizeof(node *));
            if (!nv) return lm_tpl_node_free(def), mx_set_error("template: out of memory parsing");
            n->defaults.v = nv;
            n->defaults.cap = nc;
        }
        n->defaults.v[n->defaults.n++] = def;
    }
    return expect_op(p, OP_RPAREN) ? 0 : -1;
}

static const char *const END_FOR[] = {"endfor", "else", NULL};
static const char *const END_FOR_ONLY[] = {"endfor", NULL};
static const char *const END_IF[] = {"elif", "else", "endif", NULL};
static const char *const END_IF_ONLY[] = {"endif", NULL};

static node *parse_for(parser *p, int line) {
    node *n = mk(p, N_FOR, line);
    if (!n) return NULL;
    n->a = parse_assign_target(p, "in", 0);
    if (!n->a) return lm_tpl_node_free(n), NULL;
    if (!skip_name(p, "in")) {
        char d[80];
        describe(cur(p), d, sizeof d);
        lm_tpl_node_free(n);
        return fail_at(p, cur(p), "expected token 'in', got '%s'", d);
    }
    n->b = parse_tuple(p, 0, 0, "recursive", 0, 0);
    if (!n->b) return lm_tpl_node_free(n), NULL;
    if (skip_name(p, "if") && !(n->c = parse_expression(p, 1))) return lm_tpl_node_free(n), NULL;
    n->flag = skip_name(p, "recursive");
    p->loop_depth++;
    int rc = parse_statements(p, &n->body, END_FOR, 0);
    p->loop_depth--;
    if (rc) return lm_tpl_node_free(n), NULL;
    int is_else = is_name(p, "else");
    next_tok(p);
    if (is_else && parse_statements(p, &n->alt, END_FOR_ONLY, 1)) return lm_tpl_node_free(n), NULL;
    return n;
}

static node *parse_if(parser *p, int line) {
    node *result = mk(p, N_IF, line), *n = result;
    if (!result) return NULL;
    for (;;) {
        n->a = parse_tuple(p, 0, 0, NULL, 0, 0);
        if (!n->a || parse_statements(p, &n->body, END_IF, 0)) return lm_tpl_node_free(result), NULL;
        const token *t = cur(p);
        next_tok(p);
        if (!strcmp(t->text, "elif")) {
            node *e = mk(p, N_IF, t->line);
            if (vec_push(p, &n->alt, e)) return lm_tpl_node_free(result), NULL;
            n = e;
            continue;
        }
        if (!strcmp(t->text, "else") && parse_statements(p, &n->alt, END_IF_ONLY, 1))
            return lm_tpl_node_free(result), NULL;
        break;
    }
    return result;
}

static node *parse_set(parser *p, int line) {
    node *target = parse_assign_target(p, NULL, 1);
    if (!target) return NULL;
    if (skip_op(p, OP_ASSIGN)) {
        node *n = mk(p, N_SET, line);
        if (!n) return lm_tpl_node_free(target), NULL;
        n->a = target;
        n->b = parse_tuple(p, 0, 1, NULL, 0, 0);
        if (!n->b) return lm_tpl_node_free(n), NULL;
        return n;
    }
    node *n = mk(p, N_SET_BLOCK, line);
    if (!n) return lm_tpl_node_free(target), NULL;
    n->a = target;
    if (is_op(p, OP_PIPE) && !(n->c = parse_filter(p, NULL, 0))) return lm_tpl_node_free(n), NULL;
    static const char *const END_SET[] = {"endset", NULL};
    if (parse_statements(p, &n->body, END_SET, 1)) return lm_tpl_node_free(n), NULL;
    return n;
}

static node *parse_macro_like(parser *p, node *n, const char *end_tag) {
    if (p->macro_depth == (int)(sizeof p->macros / sizeof p->macros[0]))
        return lm_tpl_node_free(n), fail_at(p, cur(p), "macros nested too deeply");
    p->macros[p->macro_depth++] = n;
    int saved_loops = p->loop_depth;
    p->loop_depth = 0;
    const char *ends[] = {end_tag, NULL};
    int rc = parse_statements(p, &n->body, ends, 1);
    p->loop_depth = saved_loops;
    p->macro_depth--;
    if (rc) return lm_tpl_node_free(n), NULL;
    return n;
}

static node *parse_macro(parser *p, int line) {
    node *n = mk(p, N_MACRO, line);
    if (!n) return NULL;
    const token *t = cur(p);
    if (!expect_type(p, TK_NAME, "name")) return lm_tpl_node_free(n), NULL;
    n->str = dup(p, t->text);
    if (parse_signature(p, n)) return lm_tpl_node_free(n), NULL;
    return parse_macro_like(p, n, "endmacro");
}

static node *parse_call_block(parser *p, int line) {
    node *n = mk(p, N_CALL_BLOCK, line);
    if (!n) return NULL;
    if (is_op(p, OP_LPAREN) && parse_signature(p, n)) return lm_tpl_node_free(n), NULL;
    n->a = parse_expression(p, 1);
    if (!n->a) return lm_tpl_node_free(n), NULL;
    if (n->a->kind != N_CALL) return lm_tpl_node_free(n), fail_at(p, cur(p), "expected call");
    return parse_macro_like(p, n, "endcall");
}

static node *parse_simple_body(parser *p, node_kind kind, int line, const char *end_tag) {
    node *n = mk(p, kind, line);
    if (!n) return NULL;
    const char *ends[] = {end_tag, NULL};
    if (parse_statements(p, &n->body, ends, 1)) return lm_tpl_node_free(n), NULL;
    return n;
}

static node *parse_with(parser *p, int line) {
    node *n = mk(p, N_WITH, line);
    if (!n) return NULL;
    while (cur(p)->type != TK_BLOCK_END && !p->failed) {
        if (n->params.n && !expect_op(p, OP_COMMA)) break;
        node *t = parse_assign_target(p, NULL, 0);
        if (vec_push(p, &n->params, t)) break;
        if (!expect_op(p, OP_ASSIGN)) break;
        vec_push(p, &n->defaults, parse_expression(p, 1));
    }
    if (p->failed) return lm_tpl_node_free(n), NULL;
    node *body = parse_simple_body(p, N_SCOPE, line, "endwith");
    if (!body) return lm_tpl_node_free(n), NULL;
    n->body = body->body;
    memset(&body->body, 0, sizeof body->body);
    lm_tpl_node_free(body);
    return n;
}

static void fail_unknown_tag(parser *p, const token *t, const char *name) {
    strbuf sb = STRBUF_INIT;
    if (name) strbuf_printf(&sb, "Encountered unknown tag '%s'.", name);
    else strbuf_puts(&sb, "Unexpected end of template.");
    if (p->end_depth > 0) {
        int expected = 0;
        for (int d = 0; d < p->end_depth && name; d++)
            for (int k = 0; p->end_stack[d][k]; k++)
                if (!strcmp(p->end_stack[d][k], name)) expected = 1;
        strbuf sb2 = STRBUF_INIT;
        for (int k = 0; p->end_stack[p->end_depth - 1][k]; k++)
            strbuf_printf(&sb2, "%s'%s'", k ? " or " : "", p->end_stack[p->end_depth - 1][k]);
        if (expected)
            strbuf_printf(&sb, " You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for %s.", sb2.data);
        else
            strbuf_printf(&sb, " Jinja was looking for the following tags: %s.", sb2.data);
        strbuf_free(&sb2);
    }
    if (p->tag_depth > 0) strbuf_printf(&sb, " The innermost block that needs to be closed is '%s'.", p->tag_stack[p->tag_depth - 1]);
    fail_at(p, t, "%s", sb.data ? sb.data : "unknown tag");
    strbuf_free(&sb);
}

static node *parse_statement(parser *p) {
    const token *t = cur(p);
    if (t->type != TK_NAME) return fail_at(p, t, "tag name expected");
    const char *kw = t->text;
    int line = t->line;
    static const char *const known[] = {"for", "if", "set", "macro", "call", "filter", "with", "block",
                                        "generation", "break", "continue", NULL};
    int is_known = 0;
    for (int k = 0; known[k]; k++)
        if (!strcmp(kw, known[k])) is_known = 1;
    if (!is_known) {
        if (!strcmp(kw, "extends") || !strcmp(kw, "include") || !strcmp(kw, "import") || !strcmp(kw, "from"))
            return fail_at(p, t, "'%s' is not supported: chat templates are rendered without a loader", kw);
        fail_unknown_tag(p, t, kw);
        return NULL;
    }
    if (p->tag_depth < (int)(sizeof p->tag_stack / sizeof p->tag_stack[0])) p->tag_stack[p->tag_depth] = kw;
    p->tag_depth++;
    next_tok(p);
    node *n = NULL;
    if (!strcmp(kw, "for")) n = parse_for(p, line);
    else if (!strcmp(kw, "if")) n = parse_if(p, line);
    else if (!strcmp(kw, "set")) n = parse_set(p, line);
    else if (!strcmp(kw, "macro")) n = parse_macro(p, line);
    else if (!strcmp(kw, "call")) n = parse_call_block(p, line);
    else if (!strcmp(kw, "with")) n = parse_with(p, line);
    else if (!strcmp(kw, "filter")) {
        node *f = parse_filter(p, NULL, 1);
        if (f) {
            n = parse_simple_body(p, N_FILTER_BLOCK, line, "endfilter");
            if (n) n->c = f;
            else lm_tpl_node_free(f);
        }
    } else if (!strcmp(kw, "block")) {
        if (cur(p)->type != TK_NAME) {
            char d[80];
            describe(cur(p), d, sizeof d);
            p->tag_depth--;
            return fail_at(p, cur(p), "expected token 'name', got '%s'", d);
        }
        next_tok(p);
        while (cur(p)->type == TK_NAME) next_tok(p); /* scoped / required */
        n = parse_simple_body(p, N_SCOPE, line, "endblock");
        if (n && cur(p)->type == TK_NAME) next_tok(p); /* {% endblock name %} */
    } else if (!strcmp(kw, "generation")) {
        n = parse_simple_body(p, N_SCOPE, line, "endgeneration");
        /* transformers renders {% generation %} as a call block: its body is a caller
         * macro, so it gets its own scope like any other block here */
    } else { /* break / continue */
        if (p->loop_depth == 0) n = fail_at(p, t, "'%s' outside of a loop", kw);
        else n = mk(p, kw[0] == 'b' ? N_BREAK : N_CONTINUE, line);
    }
    p->tag_depth--;
    return n;
}

static int subparse(parser *p, node_vec *body, const char *const *ends) {
    if (ends) {
        if (p->end_depth == (int)(sizeof p->end_stack / sizeof p->end_stack[0])) {
            fail_at(p, cur(p), "blocks nested too deeply");
            return -1;
        }
        int k = 0;
        for (; ends[k] && k < 3; k++) p->end_stack[p->end_depth][k] = ends[k];
        p->end_stack[p->end_depth][k] = NULL;
        p->end_depth++;
    }
    int rc = -1;
    for (;;) {
        const token *t = cur(p);
        if (t->type == TK_EOF) {
            if (ends) fail_unknown_tag(p, t, NULL);
            else rc = 0;
            break;
        }
        if (t->type == TK_DATA) {
            node *d = mk(p, N_DATA, t->line);
            if (d && !(d->str = dup(p, t->text))) {
                lm_tpl_node_free(d);
                d = NULL;
            }
            if (d) d->flag = (int)t->len;
            if (vec_push(p, body, d)) break;
            next_tok(p);
        } else if (t->type == TK_VAR_BEGIN) {
            next_tok(p);
            node *e = parse_tuple(p, 0, 1, NULL, 0, 0);
            if (!e) break;
            node *o = mk(p, N_OUTPUT, t->line);
            if (!o) {
                lm_tpl_node_free(e);
                break;
            }
            o->a = e;
            if (vec_push(p, body, o)) break;
            if (!expect_type(p, TK_VAR_END, "end of print statement")) break;
        } else if (t->type == TK_BLOCK_BEGIN) {
            next_tok(p);
            const token *c = cur(p);
            if (ends && c->type == TK_NAME) {
                int hit = 0;
                for (int k = 0; ends[k]; k++)
                    if (!strcmp(c->text, ends[k])) hit = 1;
                if (hit) {
                    rc = 0;
                    break;
                }
            }
            node *s = parse_statement(p);
            if (!s || vec_push(p, body, s)) break;
            if (!expect_type(p, TK_BLOCK_END, "end of statement block")) break;
        } else {
            unexpected(p);
            break;
        }
    }
    if (ends) p->end_depth--;
    if (p->failed) rc = -1;
    return rc;
}

static int parse_statements(parser *p, node_vec *body, const char *const *ends, int drop_needle) {
    skip_op(p, OP_COLON);
    if (!expect_type(p, TK_BLOCK_END, "end of statement block")) return -1;
    if (subparse(p, body, ends)) return -1;
    if (drop_needle) next_tok(p);
    return 0;
}

int lm_tpl_parse(const token_list *tokens, node_vec *body) {
    parser p;
    memset(&p, 0, sizeof p);
    p.tl = tokens;
    memset(body, 0, sizeof *body);
    if (subparse(&p, body, NULL) != 0) {
        lm_tpl_body_free(body);
        return -1;
    }
    return 0;
}
