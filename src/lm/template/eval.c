/* The tree-walking evaluator: expressions to values, statements to output, with Jinja's
 * scoping (for loops, macros, with and call blocks get their own scope; if does not),
 * macros with defaults / varargs / kwargs / caller, loop controls and recursive loops. */
#include "lm/template/eval.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/template/lexer.h"

enum { MAX_CALL_DEPTH = 200 };

int lm_tpl_fail(interp *in, const char *type, const char *fmt, ...) {
    if (in->failed) return -1;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mx_set_error("%s: %s (line %d)", type, msg, in->line);
    in->failed = 1;
    return -1;
}

int lm_tpl_fail_undefined(interp *in, tv undef) {
    const char *msg = undef.u.o ? tv_as_str(undef)->data : "undefined value";
    return lm_tpl_fail(in, (undef.flag & TVF_SECURITY) ? "SecurityError" : "UndefinedError", "%s", msg);
}

tv lm_tpl_native(const char *name, tv_native_fn fn, tv self) {
    tv v = {TV_FUNC, 0, {.o = NULL}};
    tv_func *f = calloc(1, sizeof *f);
    if (!f) {
        mx_set_error("template: out of memory");
        return v;
    }
    f->h.refs = 1;
    f->kind = FN_NATIVE;
    f->name = name;
    f->fn = fn;
    f->self = tv_ref(self);
    f->state = tv_undef();
    f->caller = tv_undef();
    v.u.o = &f->h;
    return v;
}

int lm_tpl_bind(interp *in, const targs *a, const char *fname, const char *const *names, bound_args *out) {
    int n = 0;
    while (names[n]) n++;
    memset(out, 0, sizeof *out);
    if (a->npos > n)
        return lm_tpl_fail(in, "TypeError", "%s() takes at most %d argument%s (%d given)", fname, n, n == 1 ? "" : "s", a->npos);
    for (int i = 0; i < a->npos; i++) {
        out->v[i] = a->pos[i];
        out->has[i] = 1;
    }
    for (int k = 0; k < a->nkw; k++) {
        int j = 0;
        while (j < n && strcmp(names[j], a->kwnames[k]) != 0) j++;
        if (j == n) return lm_tpl_fail(in, "TypeError", "%s() got an unexpected keyword argument '%s'", fname, a->kwnames[k]);
        if (out->has[j]) return lm_tpl_fail(in, "TypeError", "%s() got multiple values for argument '%s'", fname, names[j]);
        out->v[j] = a->kwvals[k];
        out->has[j] = 1;
    }
    return 0;
}

/* ---- scopes ---- */

scope *lm_tpl_scope_new(interp *in, scope *parent) {
    scope *s = calloc(1, sizeof *s);
    if (!s) {
        mx_set_error("template: out of memory");
        return NULL;
    }
    s->vars = tv_dict_new(0);
    if (tv_oom(s->vars)) {
        free(s);
        return NULL;
    }
    s->parent = parent;
    s->next_alloc = in->scopes;
    in->scopes = s;
    return s;
}

void lm_tpl_scopes_free(interp *in) {
    while (in->scopes) {
        scope *s = in->scopes;
        in->scopes = s->next_alloc;
        tv_unref(s->vars);
        free(s);
    }
}

void lm_tpl_scopes_release(interp *in, scope *mark) {
    for (scope *s = in->scopes; s && s != mark; s = s->next_alloc)
        if (s->pinned) return;
    while (in->scopes && in->scopes != mark) {
        scope *s = in->scopes;
        in->scopes = s->next_alloc;
        tv_unref(s->vars);
        free(s);
    }
}

static int lookup(interp *in, scope *sc, const char *name, tv *out) {
    size_t len = strlen(name);
    for (scope *s = sc; s; s = s->parent) {
        tv *v = tv_dict_get_str(s->vars, name, len);
        if (v) {
            *out = tv_ref(*v);
            return 0;
        }
    }
    if (in->globals.type == TV_DICT) {
        tv *v = tv_dict_get_str(in->globals, name, len);
        if (v) {
            *out = tv_ref(*v);
            return 0;
        }
    }
    if (lm_tpl_lookup_global(name, out)) return tv_oom(*out) ? -1 : 0;
    *out = tv_undef_msg("'%s' is undefined", name);
    return 0;
}

static int set_var(scope *sc, const char *name, tv v) { return tv_dict_set_cstr(sc->vars, name, v); }

/* ---- expressions ---- */

static int eval_args(interp *in, scope *sc, const node *n, targs *a, tv **store);
static void free_args(targs *a, tv *store);

static int assign(interp *in, scope *sc, const node *target, tv v) {
    if (target->kind == N_NAME) return set_var(sc, target->str, v);
    if (target->kind == N_NSREF) {
        tv ns;
        if (lookup(in, sc, target->str, &ns)) return tv_unref(v), -1;
        if (ns.type != TV_NS) {
            tv_unref(ns);
            tv_unref(v);
            return lm_tpl_fail(in, "TemplateRuntimeError", "cannot assign attribute on non-namespace object");
        }
        int rc = tv_dict_set_cstr(ns, target->str2, v);
        tv_unref(ns);
        return rc;
    }
    /* tuple unpacking */
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return tv_unref(v), -1;
    tv_unref(v);
    tv_list *l = tv_as_list(items);
    int want = target->args.n;
    if ((int)l->len != want) {
        size_t got = l->len;
        tv_unref(items);
        if ((int)got < want)
            return lm_tpl_fail(in, "ValueError", "not enough values to unpack (expected %d, got %zu)", want, got);
        return lm_tpl_fail(in, "ValueError", "too many values to unpack (expected %d)", want);
    }
    for (int i = 0; i < want; i++)
        if (assign(in, sc, target->args.v[i], tv_ref(l->items[i]))) return tv_unref(items), -1;
    tv_unref(items);
    return 0;
}

static int apply_filter(interp *in, scope *sc, const node *f, tv input, tv *out) {
    tv v;
    if (f->a) {
        if (lm_tpl_eval(in, sc, f->a, &v)) return -1;
    } else {
        v = tv_ref(input);
    }
    targs a;
    tv *store;
    if (eval_args(in, sc, f, &a, &store)) return tv_unref(v), -1;
    in->line = f->line;
    int rc = ((tpl_filter_fn)f->fn)(in, v, &a, out);
    free_args(&a, store);
    tv_unref(v);
    return rc;
}

/* A filter chain of a set/filter block: the innermost filter's input is `input`. */
static int apply_chain(interp *in, scope *sc, const node *f, tv input, tv *out) {
    if (!f->a) return apply_filter(in, sc, f, input, out);
    tv mid;
    if (apply_chain(in, sc, f->a, input, &mid)) return -1;
    targs a;
    tv *store;
    if (eval_args(in, sc, f, &a, &store)) return tv_unref(mid), -1;
    in->line = f->line;
    int rc = ((tpl_filter_fn)f->fn)(in, mid, &a, out);
    free_args(&a, store);
    tv_unref(mid);
    return rc;
}

/* Releases the argument values and the trailing slot that keeps a **kwargs dict alive. */
static void free_args(targs *a, tv *store) {
    int total = a->npos + a->nkw;
    for (int i = 0; store && i <= total; i++) tv_unref(store[i]);
    free(store);
    free(a->kwnames);
}

/* Evaluates call arguments, expanding *args and **kwargs. */
static int eval_args(interp *in, scope *sc, const node *n, targs *a, tv **store) {
    memset(a, 0, sizeof *a);
    *store = NULL;
    tv star = tv_undef(), dstar = tv_undef();
    if (n->b && lm_tpl_eval(in, sc, n->b, &star)) return -1;
    if (n->c && lm_tpl_eval(in, sc, n->c, &dstar)) return tv_unref(star), -1;
    tv star_items = tv_undef();
    if (n->b && lm_tpl_iterate(in, star, &star_items)) return tv_unref(star), tv_unref(dstar), -1;
    size_t nstar = n->b ? tv_as_list(star_items)->len : 0;
    size_t ndstar = dstar.type == TV_DICT ? tv_as_dict(dstar)->len : 0;
    if (n->c && dstar.type != TV_DICT) {
        tv_unref(star);
        tv_unref(star_items);
        tv_unref(dstar);
        return lm_tpl_fail(in, "TypeError", "argument after ** must be a mapping");
    }
    size_t npos = (size_t)n->args.n + nstar, nkw = (size_t)n->kwargs.n + ndstar;
    tv *vals = calloc(npos + nkw + 1, sizeof(tv));
    const char **names = calloc(nkw + 1, sizeof(char *));
    int rc = 0;
    if (!vals || !names) {
        rc = mx_set_error("template: out of memory evaluating call arguments");
        free(vals);
        free(names);
        vals = NULL;
        names = NULL;
    }
    size_t k = 0;
    for (int i = 0; !rc && i < n->args.n; i++, k++) rc = lm_tpl_eval(in, sc, n->args.v[i], &vals[k]);
    for (size_t i = 0; !rc && i < nstar; i++, k++) vals[k] = tv_ref(tv_as_list(star_items)->items[i]);
    for (int i = 0; !rc && i < n->kwargs.n; i++, k++) {
        names[i] = n->kwnames[i];
        rc = lm_tpl_eval(in, sc, n->kwargs.v[i], &vals[k]);
    }
    for (size_t i = 0; !rc && i < ndstar; i++, k++) {
        tv key = tv_as_dict(dstar)->keys[i];
        if (key.type != TV_STR) {
            rc = lm_tpl_fail(in, "TypeError", "keywords must be strings");
            break;
        }
        names[(size_t)n->kwargs.n + i] = tv_as_str(key)->data; /* kept alive by dstar below */
        vals[k] = tv_ref(tv_as_dict(dstar)->vals[i]);
    }
    tv_unref(star);
    tv_unref(star_items);
    a->pos = vals;
    a->npos = (int)npos;
    a->kwnames = names;
    a->kwvals = vals ? vals + npos : NULL;
    a->nkw = (int)nkw;
    if (rc) {
        for (size_t i = 0; i < k; i++) tv_unref(vals[i]);
        free(vals);
        free(names);
        tv_unref(dstar);
        memset(a, 0, sizeof *a);
        return -1;
    }
    /* dstar's key strings back kwnames: keep its reference in the trailing slot. */
    vals[npos + nkw] = dstar;
    *store = vals;
    return 0;
}

static int call_node(interp *in, scope *sc, const node *n, tv *out) {
    tv callee;
    if (lm_tpl_eval(in, sc, n->a, &callee)) return -1;
    targs a;
    tv *store;
    if (eval_args(in, sc, n, &a, &store)) return tv_unref(callee), -1;
    in->line = n->line;
    int rc = lm_tpl_call(in, callee, &a, out);
    free_args(&a, store);
    tv_unref(callee);
    return rc;
}

static int eval_compare(interp *in, scope *sc, const node *n, tv *out) {
    tv left;
    if (lm_tpl_eval(in, sc, n->a, &left)) return -1;
    int result = 1;
    for (int i = 0; i < n->args.n && result; i++) {
        tv right;
        if (lm_tpl_eval(in, sc, n->args.v[i], &right)) return tv_unref(left), -1;
        in->line = n->line;
        int r;
        if (lm_tpl_compare(in, n->ops[i], left, right, &r)) {
            tv_unref(left);
            tv_unref(right);
            return -1;
        }
        result = r;
        tv_unref(left);
        left = right;
    }
    tv_unref(left);
    *out = tv_bool(result);
    return 0;
}

static int eval_seq(interp *in, scope *sc, const node *n, tv *out) {
    tv l = tv_list_new((size_t)n->args.n);
    if (tv_oom(l)) return -1;
    if (n->kind == N_TUPLE) l.flag = TVF_TUPLE;
    for (int i = 0; i < n->args.n; i++) {
        tv v;
        if (lm_tpl_eval(in, sc, n->args.v[i], &v) || tv_list_push(l, v)) return tv_unref(l), -1;
    }
    *out = l;
    return 0;
}

static int eval_dict(interp *in, scope *sc, const node *n, tv *out) {
    tv d = tv_dict_new(0);
    if (tv_oom(d)) return -1;
    for (int i = 0; i < n->args.n; i++) {
        tv k, v;
        if (lm_tpl_eval(in, sc, n->args.v[i], &k)) return tv_unref(d), -1;
        if (k.type == TV_LIST || k.type == TV_DICT || k.type == TV_NS) {
            tv_unref(d);
            const char *tn = tv_type_name(k);
            tv_unref(k);
            return lm_tpl_fail(in, "TypeError", "unhashable type: '%s'", tn);
        }
        if (lm_tpl_eval(in, sc, n->kwargs.v[i], &v)) return tv_unref(k), tv_unref(d), -1;
        if (tv_dict_set(d, k, v)) return tv_unref(d), -1;
    }
    *out = d;
    return 0;
}

static int eval_concat(interp *in, scope *sc, const node *n, tv *out) {
    strbuf sb = STRBUF_INIT;
    for (int i = 0; i < n->args.n; i++) {
        tv v;
        if (lm_tpl_eval(in, sc, n->args.v[i], &v)) return strbuf_free(&sb), -1;
        tv_write_str(v, &sb);
        tv_unref(v);
    }
    *out = tv_str_from_buf(&sb);
    return tv_oom(*out) ? -1 : 0;
}

static int eval_unary(interp *in, scope *sc, const node *n, tv *out) {
    tv v;
    if (lm_tpl_eval(in, sc, n->a, &v)) return -1;
    in->line = n->line;
    if (n->kind == N_NOT) {
        *out = tv_bool(!tv_truthy(v));
        tv_unref(v);
        return 0;
    }
    if (v.type == TV_UNDEF) {
        int rc = lm_tpl_fail_undefined(in, v);
        tv_unref(v);
        return rc;
    }
    int neg = n->kind == N_NEG;
    if (v.type == TV_INT || v.type == TV_BOOL) {
        int64_t i = v.type == TV_INT ? v.u.i : v.u.b;
        *out = tv_int(neg ? (int64_t)(0 - (uint64_t)i) : i);
        return 0;
    }
    if (v.type == TV_FLOAT) {
        *out = tv_float(neg ? -v.u.f : v.u.f);
        return 0;
    }
    int rc = lm_tpl_fail(in, "TypeError", "bad operand type for unary %s: '%s'", neg ? "-" : "+", tv_type_name(v));
    tv_unref(v);
    return rc;
}

int lm_tpl_eval(interp *in, scope *sc, const node *n, tv *out) {
    in->line = n->line;
    tv a, b;
    int rc;
    switch (n->kind) {
    case N_CONST:
        *out = tv_ref(n->value);
        return 0;
    case N_NAME:
        return lookup(in, sc, n->str, out);
    case N_GETATTR:
        if (lm_tpl_eval(in, sc, n->a, &a)) return -1;
        in->line = n->line;
        rc = lm_tpl_getattr(in, a, n->str, out);
        tv_unref(a);
        return rc;
    case N_GETITEM:
        if (lm_tpl_eval(in, sc, n->a, &a)) return -1;
        if (n->b->kind == N_SLICE) {
            tv parts[3] = {tv_none(), tv_none(), tv_none()};
            const node *pn[3] = {n->b->a, n->b->b, n->b->c};
            rc = 0;
            for (int i = 0; i < 3 && !rc; i++)
                if (pn[i]) rc = lm_tpl_eval(in, sc, pn[i], &parts[i]);
            in->line = n->line;
            if (!rc) rc = lm_tpl_slice(in, a, parts[0], parts[1], parts[2], out);
            for (int i = 0; i < 3; i++) tv_unref(parts[i]);
        } else {
            rc = lm_tpl_eval(in, sc, n->b, &b);
            in->line = n->line;
            if (!rc) {
                rc = lm_tpl_getitem(in, a, b, out);
                tv_unref(b);
            }
        }
        tv_unref(a);
        return rc;
    case N_CALL:
        return call_node(in, sc, n, out);
    case N_FILTER:
        return apply_filter(in, sc, n, tv_undef(), out);
    case N_TEST: {
        if (lm_tpl_eval(in, sc, n->a, &a)) return -1;
        targs ta;
        tv *store;
        if (eval_args(in, sc, n, &ta, &store)) return tv_unref(a), -1;
        in->line = n->line;
        int r = 0;
        rc = ((tpl_test_fn)n->fn)(in, a, &ta, &r);
        free_args(&ta, store);
        tv_unref(a);
        *out = tv_bool(r);
        return rc;
    }
    case N_NOT:
    case N_NEG:
    case N_POS:
        return eval_unary(in, sc, n, out);
    case N_BINOP:
        if (lm_tpl_eval(in, sc, n->a, &a)) return -1;
        if (lm_tpl_eval(in, sc, n->b, &b)) return tv_unref(a), -1;
        in->line = n->line;
        rc = lm_tpl_binop(in, n->op, a, b, out);
        tv_unref(a);
        tv_unref(b);
        return rc;
    case N_AND:
    case N_OR:
        if (lm_tpl_eval(in, sc, n->a, &a)) return -1;
        if (tv_truthy(a) == (n->kind == N_OR)) {
            *out = a;
            return 0;
        }
        tv_unref(a);
        return lm_tpl_eval(in, sc, n->b, out);
    case N_CONCAT:
        return eval_concat(in, sc, n, out);
    case N_COMPARE:
        return eval_compare(in, sc, n, out);
    case N_CONDEXPR:
        if (lm_tpl_eval(in, sc, n->a, &a)) return -1;
        rc = tv_truthy(a);
        tv_unref(a);
        if (rc) return lm_tpl_eval(in, sc, n->b, out);
        if (n->c) return lm_tpl_eval(in, sc, n->c, out);
        *out = tv_undef_msg("the inline if-expression on line %d evaluated to false and no else section was defined.", n->line);
        return 0;
    case N_LIST:
    case N_TUPLE:
        return eval_seq(in, sc, n, out);
    case N_DICT:
        return eval_dict(in, sc, n, out);
    default:
        return lm_tpl_fail(in, "TemplateRuntimeError", "cannot evaluate this expression");
    }
}

/* ---- macros ---- */

static tv make_macro(const node *m, scope *closure) {
    tv v = {TV_FUNC, 0, {.o = NULL}};
    tv_func *f = calloc(1, sizeof *f);
    if (!f) {
        mx_set_error("template: out of memory");
        return v;
    }
    f->h.refs = 1;
    f->kind = FN_MACRO;
    f->name = m->kind == N_MACRO ? m->str : "caller";
    f->macro = m;
    f->closure = closure;
    closure->pinned = 1;
    f->self = tv_undef();
    f->state = tv_undef();
    f->caller = tv_undef();
    v.u.o = &f->h;
    return v;
}

static int call_macro(interp *in, tv_func *f, const targs *a, tv *out) {
    const node *m = f->macro;
    const char *name = f->name;
    int np = m->params.n;
    if (in->depth >= MAX_CALL_DEPTH) return lm_tpl_fail(in, "RecursionError", "maximum recursion depth exceeded in macro '%s'", name);
    if (a->npos > np && !m->uses_varargs)
        return lm_tpl_fail(in, "TypeError", "macro '%s' takes not more than %d argument(s)", name, np);
    scope *mark = in->scopes;
    scope *sc = lm_tpl_scope_new(in, f->closure);
    if (!sc) return -1;
    int *given = calloc((size_t)np + 1, sizeof(int));
    if (!given) return mx_set_error("template: out of memory");
    int rc = 0;
    tv varargs = tv_list_new(0), kwargs = tv_dict_new(0), caller = tv_ref(f->caller);
    if (tv_oom(varargs) || tv_oom(kwargs)) rc = -1;
    varargs.flag = TVF_TUPLE;
    for (int i = 0; !rc && i < a->npos; i++) {
        if (i < np) {
            rc = set_var(sc, m->params.v[i]->str, tv_ref(a->pos[i]));
            given[i] = 1;
        } else {
            rc = tv_list_push(varargs, tv_ref(a->pos[i]));
        }
    }
    for (int k = 0; !rc && k < a->nkw; k++) {
        int j = 0;
        while (j < np && strcmp(m->params.v[j]->str, a->kwnames[k]) != 0) j++;
        if (j < np) {
            if (given[j]) {
                rc = lm_tpl_fail(in, "TypeError", "macro '%s' got multiple values for argument '%s'", name, a->kwnames[k]);
                break;
            }
            rc = set_var(sc, a->kwnames[k], tv_ref(a->kwvals[k]));
            given[j] = 1;
        } else if (!strcmp(a->kwnames[k], "caller") && m->uses_caller) {
            tv_unref(caller);
            caller = tv_ref(a->kwvals[k]);
        } else if (m->uses_kwargs) {
            rc = tv_dict_set_cstr(kwargs, a->kwnames[k], tv_ref(a->kwvals[k]));
        } else {
            rc = lm_tpl_fail(in, "TypeError", "macro '%s' takes no keyword argument '%s'", name, a->kwnames[k]);
        }
    }
    for (int i = 0; !rc && i < np; i++) {
        if (given[i]) continue;
        const node *def = i < m->defaults.n ? m->defaults.v[i] : NULL;
        tv v;
        if (def) rc = lm_tpl_eval(in, sc, def, &v);
        else v = tv_undef_msg("parameter '%s' was not provided", m->params.v[i]->str);
        if (!rc) rc = set_var(sc, m->params.v[i]->str, v);
    }
    if (!rc && m->uses_varargs) rc = set_var(sc, "varargs", tv_ref(varargs));
    if (!rc && m->uses_kwargs) rc = set_var(sc, "kwargs", tv_ref(kwargs));
    if (!rc && m->uses_caller) rc = set_var(sc, "caller", tv_ref(caller));
    free(given);
    tv_unref(varargs);
    tv_unref(kwargs);
    tv_unref(caller);
    if (rc) return -1;
    strbuf sb = STRBUF_INIT;
    in->depth++;
    int st = lm_tpl_exec(in, sc, &m->body, &sb);
    in->depth--;
    lm_tpl_scopes_release(in, mark);
    if (st < 0) return strbuf_free(&sb), -1;
    *out = tv_str_from_buf(&sb);
    return tv_oom(*out) ? -1 : 0;
}

static int run_for(interp *in, scope *sc, const node *n, tv iterable, int64_t depth0, strbuf *out);

int lm_tpl_call(interp *in, tv callee, const targs *a, tv *out) {
    switch (callee.type) {
    case TV_UNDEF:
        return lm_tpl_fail_undefined(in, callee);
    case TV_FUNC: {
        tv_func *f = tv_as_func(callee);
        if (f->kind == FN_MACRO) return call_macro(in, f, a, out);
        return f->fn(in, f, a, out);
    }
    case TV_LOOP: {
        tv_loop *l = tv_as_loop(callee);
        if (!l->recursive_for)
            return lm_tpl_fail(in, "TypeError", "The loop must have the 'recursive' marker to be called recursively.");
        if (a->npos != 1 || a->nkw) return lm_tpl_fail(in, "TypeError", "loop() takes exactly one argument");
        strbuf sb = STRBUF_INIT;
        if (run_for(in, l->scope, l->recursive_for, a->pos[0], l->depth0 + 1, &sb) < 0) return strbuf_free(&sb), -1;
        *out = tv_str_from_buf(&sb);
        return tv_oom(*out) ? -1 : 0;
    }
    default:
        return lm_tpl_fail(in, "TypeError", "'%s' object is not callable", tv_type_name(callee));
    }
}

/* ---- statements ---- */

static int run_for(interp *in, scope *sc, const node *n, tv iterable, int64_t depth0, strbuf *out) {
    tv items;
    if (lm_tpl_iterate(in, iterable, &items)) return -1;
    scope *ls = lm_tpl_scope_new(in, sc);
    if (!ls) return tv_unref(items), -1;
    if (n->c) { /* {% for x in xs if cond %}: filter first, so loop.length counts kept items */
        tv kept = tv_list_new(0);
        if (tv_oom(kept)) return tv_unref(items), -1;
        tv_list *l = tv_as_list(items);
        for (size_t i = 0; i < l->len; i++) {
            tv t;
            if (assign(in, ls, n->a, tv_ref(l->items[i])) || lm_tpl_eval(in, ls, n->c, &t)) {
                tv_unref(kept);
                tv_unref(items);
                return -1;
            }
            int keep = tv_truthy(t);
            tv_unref(t);
            if (keep && tv_list_push(kept, tv_ref(l->items[i]))) return tv_unref(kept), tv_unref(items), -1;
        }
        tv_unref(items);
        items = kept;
    }
    tv_list *l = tv_as_list(items);
    tv loopv = {TV_LOOP, 0, {.o = NULL}};
    tv_loop *lo = calloc(1, sizeof *lo);
    if (!lo) {
        tv_unref(items);
        return mx_set_error("template: out of memory");
    }
    lo->h.refs = 1;
    lo->items = l; /* owns the items reference */
    lo->index0 = -1;
    lo->depth0 = depth0;
    lo->last_changed = tv_undef();
    lo->recursive_for = n->flag ? n : NULL;
    lo->scope = sc;
    loopv.u.o = &lo->h;
    int st = 0;
    /* Jinja re-enters the loop frame on every iteration: names assigned in the body
     * start again from the enclosing scope's values, so each iteration gets a scope. */
    for (size_t i = 0; i < l->len; i++) {
        lo->index0 = (int64_t)i;
        in->line = n->line;
        scope *mark = in->scopes;
        scope *is = lm_tpl_scope_new(in, sc);
        if (!is || set_var(is, "loop", tv_ref(loopv)) || assign(in, is, n->a, tv_ref(l->items[i]))) {
            st = -1;
            break;
        }
        st = lm_tpl_exec(in, is, &n->body, out);
        lm_tpl_scopes_release(in, mark);
        if (st < 0) break;
        if (st == EXEC_BREAK) {
            st = 0;
            break;
        }
        st = 0;
    }
    size_t count = l->len;
    tv_unref(loopv);
    if (st < 0) return -1;
    if (count == 0 && n->alt.n) {
        scope *es = lm_tpl_scope_new(in, sc);
        if (!es) return -1;
        st = lm_tpl_exec(in, es, &n->alt, out);
        if (st < 0) return -1;
    }
    return 0;
}

static int render_to_str(interp *in, scope *sc, const node_vec *body, tv *out) {
    strbuf sb = STRBUF_INIT;
    int st = lm_tpl_exec(in, sc, body, &sb);
    if (st < 0) return strbuf_free(&sb), -1;
    *out = tv_str_from_buf(&sb);
    return tv_oom(*out) ? -1 : 0;
}

static int exec_call_block(interp *in, scope *sc, const node *n, strbuf *out) {
    const node *call = n->a;
    tv callee;
    if (lm_tpl_eval(in, sc, call->a, &callee)) return -1;
    targs a;
    tv *store;
    if (eval_args(in, sc, call, &a, &store)) return tv_unref(callee), -1;
    tv caller = make_macro(n, sc);
    int rc = tv_oom(caller) ? -1 : 0;
    /* append caller=... to the keyword arguments */
    const char **names = rc ? NULL : calloc((size_t)a.nkw + 1, sizeof(char *));
    tv *kw = rc ? NULL : calloc((size_t)a.nkw + 1, sizeof(tv));
    if (!rc && (!names || !kw)) rc = mx_set_error("template: out of memory");
    tv result = tv_undef();
    if (!rc) {
        for (int i = 0; i < a.nkw; i++) {
            names[i] = a.kwnames[i];
            kw[i] = a.kwvals[i];
        }
        names[a.nkw] = "caller";
        kw[a.nkw] = caller;
        targs b = {a.pos, a.npos, names, kw, a.nkw + 1};
        in->line = n->line;
        rc = lm_tpl_call(in, callee, &b, &result);
    }
    free(names);
    free(kw);
    free_args(&a, store);
    tv_unref(caller);
    tv_unref(callee);
    if (!rc) tv_write_str(result, out);
    tv_unref(result);
    return rc;
}

int lm_tpl_exec(interp *in, scope *sc, const node_vec *body, strbuf *out) {
    for (int i = 0; i < body->n; i++) {
        const node *n = body->v[i];
        in->line = n->line;
        tv v;
        int st = 0;
        switch (n->kind) {
        case N_DATA:
            strbuf_append(out, n->str, (size_t)n->flag);
            break;
        case N_OUTPUT:
            if (lm_tpl_eval(in, sc, n->a, &v)) return -1;
            tv_write_str(v, out);
            tv_unref(v);
            break;
        case N_IF:
            if (lm_tpl_eval(in, sc, n->a, &v)) return -1;
            st = lm_tpl_exec(in, sc, tv_truthy(v) ? &n->body : &n->alt, out);
            tv_unref(v);
            if (st != 0) return st;
            break;
        case N_FOR:
            if (lm_tpl_eval(in, sc, n->b, &v)) return -1;
            st = run_for(in, sc, n, v, 0, out);
            tv_unref(v);
            if (st < 0) return -1;
            break;
        case N_SET:
            if (lm_tpl_eval(in, sc, n->b, &v) || assign(in, sc, n->a, v)) return -1;
            break;
        case N_SET_BLOCK: {
            scope *bs = lm_tpl_scope_new(in, sc);
            if (!bs || render_to_str(in, bs, &n->body, &v)) return -1;
            if (n->c) {
                tv f;
                st = apply_chain(in, sc, n->c, v, &f);
                tv_unref(v);
                if (st) return -1;
                v = f;
            }
            if (assign(in, sc, n->a, v)) return -1;
            break;
        }
        case N_FILTER_BLOCK: {
            scope *bs = lm_tpl_scope_new(in, sc);
            if (!bs || render_to_str(in, bs, &n->body, &v)) return -1;
            tv f;
            st = apply_chain(in, sc, n->c, v, &f);
            tv_unref(v);
            if (st) return -1;
            tv_write_str(f, out);
            tv_unref(f);
            break;
        }
        case N_MACRO:
            v = make_macro(n, sc);
            if (tv_oom(v) || set_var(sc, n->str, v)) return -1;
            break;
        case N_CALL_BLOCK:
            if (exec_call_block(in, sc, n, out)) return -1;
            break;
        case N_WITH: {
            scope *ws = lm_tpl_scope_new(in, sc);
            if (!ws) return -1;
            for (int k = 0; k < n->params.n; k++)
                if (lm_tpl_eval(in, sc, n->defaults.v[k], &v) || assign(in, ws, n->params.v[k], v)) return -1;
            st = lm_tpl_exec(in, ws, &n->body, out);
            if (st != 0) return st;
            break;
        }
        case N_SCOPE: {
            scope *bs = n->flag ? sc : lm_tpl_scope_new(in, sc);
            if (!bs) return -1;
            st = lm_tpl_exec(in, bs, &n->body, out);
            if (st != 0) return st;
            break;
        }
        case N_BREAK:
            return EXEC_BREAK;
        case N_CONTINUE:
            return EXEC_CONTINUE;
        default:
            return lm_tpl_fail(in, "TemplateRuntimeError", "unexpected statement");
        }
        if (out->failed) return -1;
    }
    return 0;
}
