/* Jinja2's builtin tests (jinja2/tests.py): `x is defined`, `x is string`, `x is in y` ... */
#include <string.h>

#include "lm/template/interp.h"
#include "lm/template/lexer.h"
#include "lm/template/strutil.h"

static int no_args(interp *in, const targs *a, const char *name) {
    static const char *const names[] = {NULL};
    bound_args b;
    return lm_tpl_bind(in, a, name, names, &b);
}

#define SIMPLE_TEST(fname, expr)                                   \
    static int fname(interp *in, tv v, const targs *a, int *out) { \
        if (no_args(in, a, #fname + 2)) return -1;                 \
        (void)v;                                                   \
        *out = (expr);                                             \
        return 0;                                                  \
    }

SIMPLE_TEST(t_defined, v.type != TV_UNDEF)
SIMPLE_TEST(t_undefined, v.type == TV_UNDEF)
SIMPLE_TEST(t_none, v.type == TV_NONE)
SIMPLE_TEST(t_boolean, v.type == TV_BOOL)
SIMPLE_TEST(t_false, v.type == TV_BOOL && !v.u.b)
SIMPLE_TEST(t_true, v.type == TV_BOOL && v.u.b)
SIMPLE_TEST(t_integer, v.type == TV_INT)
SIMPLE_TEST(t_float, v.type == TV_FLOAT)
SIMPLE_TEST(t_number, v.type == TV_INT || v.type == TV_FLOAT || v.type == TV_BOOL)
SIMPLE_TEST(t_string, v.type == TV_STR)
SIMPLE_TEST(t_mapping, v.type == TV_DICT)
SIMPLE_TEST(t_iterable, v.type == TV_STR || v.type == TV_LIST || v.type == TV_DICT || v.type == TV_UNDEF || v.type == TV_LOOP)
SIMPLE_TEST(t_sequence, v.type == TV_STR || v.type == TV_LIST || v.type == TV_DICT || v.type == TV_UNDEF)
SIMPLE_TEST(t_callable, v.type == TV_FUNC || v.type == TV_LOOP || v.type == TV_UNDEF)
SIMPLE_TEST(t_escaped, 0)

static int case_test(interp *in, tv v, const targs *a, int *out, char mode) {
    if (no_args(in, a, mode == 'l' ? "lower" : "upper")) return -1;
    if (v.type != TV_STR) {
        *out = 0;
        return 0;
    }
    /* str.islower(): has a cased character and no character of the other case */
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, 0);
    py_case(tv_as_str(v)->data, tv_as_str(v)->len, mode, &sb);
    strbuf other = STRBUF_INIT;
    strbuf_reserve(&other, 0);
    py_case(tv_as_str(v)->data, tv_as_str(v)->len, mode == 'l' ? 'u' : 'l', &other);
    *out = sb.len == tv_as_str(v)->len && memcmp(sb.data, tv_as_str(v)->data, sb.len) == 0 &&
           !(other.len == sb.len && memcmp(other.data, sb.data, sb.len) == 0);
    strbuf_free(&sb);
    strbuf_free(&other);
    return 0;
}

static int t_lower(interp *in, tv v, const targs *a, int *out) { return case_test(in, v, a, out, 'l'); }
static int t_upper(interp *in, tv v, const targs *a, int *out) { return case_test(in, v, a, out, 'u'); }

static int int_mod(interp *in, tv v, tv m, int64_t *out) {
    tv r;
    if (lm_tpl_binop(in, OP_MOD, v, m, &r)) return -1;
    *out = r.type == TV_INT ? r.u.i : r.type == TV_FLOAT ? (r.u.f != 0) : 1;
    return 0;
}

static int t_odd(interp *in, tv v, const targs *a, int *out) {
    int64_t r;
    if (no_args(in, a, "odd") || int_mod(in, v, tv_int(2), &r)) return -1;
    *out = r == 1;
    return 0;
}

static int t_even(interp *in, tv v, const targs *a, int *out) {
    int64_t r;
    if (no_args(in, a, "even") || int_mod(in, v, tv_int(2), &r)) return -1;
    *out = r == 0;
    return 0;
}

static int one_arg(interp *in, const targs *a, const char *name, const char *param, tv *arg) {
    const char *names[] = {param, NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, name, names, &b)) return -1;
    if (!b.has[0]) return lm_tpl_fail(in, "TypeError", "%s() missing 1 required positional argument: '%s'", name, param);
    *arg = b.v[0];
    return 0;
}

static int t_divisibleby(interp *in, tv v, const targs *a, int *out) {
    tv num;
    int64_t r;
    if (one_arg(in, a, "divisibleby", "num", &num) || int_mod(in, v, num, &r)) return -1;
    *out = r == 0;
    return 0;
}

static int t_sameas(interp *in, tv v, const targs *a, int *out) {
    tv other;
    if (one_arg(in, a, "sameas", "other", &other)) return -1;
    if (v.type != other.type) *out = 0;
    else if (v.type == TV_NONE || v.type == TV_UNDEF) *out = v.type == TV_NONE || v.u.o == other.u.o;
    else if (v.type == TV_BOOL) *out = v.u.b == other.u.b;
    else if (v.type == TV_INT) *out = v.u.i == other.u.i && v.u.i >= -5 && v.u.i <= 256; /* CPython small ints */
    else if (v.type == TV_FLOAT) *out = 0;
    else *out = v.u.o == other.u.o;
    return 0;
}

static int t_in(interp *in, tv v, const targs *a, int *out) {
    tv seq;
    if (one_arg(in, a, "in", "seq", &seq)) return -1;
    return lm_tpl_contains(in, seq, v, out);
}

static int cmp_test(interp *in, tv v, const targs *a, int *out, int op, const char *name) {
    tv other;
    if (one_arg(in, a, name, "other", &other)) return -1;
    return lm_tpl_compare(in, op, v, other, out);
}

static int t_eq(interp *in, tv v, const targs *a, int *out) { return cmp_test(in, v, a, out, OP_EQ, "eq"); }
static int t_ne(interp *in, tv v, const targs *a, int *out) { return cmp_test(in, v, a, out, OP_NE, "ne"); }
static int t_lt(interp *in, tv v, const targs *a, int *out) { return cmp_test(in, v, a, out, OP_LT, "lt"); }
static int t_le(interp *in, tv v, const targs *a, int *out) { return cmp_test(in, v, a, out, OP_LTEQ, "le"); }
static int t_gt(interp *in, tv v, const targs *a, int *out) { return cmp_test(in, v, a, out, OP_GT, "gt"); }
static int t_ge(interp *in, tv v, const targs *a, int *out) { return cmp_test(in, v, a, out, OP_GTEQ, "ge"); }

static int t_filter(interp *in, tv v, const targs *a, int *out) {
    if (no_args(in, a, "filter")) return -1;
    *out = v.type == TV_STR && lm_tpl_find_filter(tv_as_str(v)->data) != NULL;
    return 0;
}

static int t_test(interp *in, tv v, const targs *a, int *out) {
    if (no_args(in, a, "test")) return -1;
    *out = v.type == TV_STR && lm_tpl_find_test(tv_as_str(v)->data) != NULL;
    return 0;
}

typedef struct test_entry {
    const char *name;
    tpl_test_fn fn;
} test_entry;

static const test_entry TESTS[] = {
    {"odd", t_odd}, {"even", t_even}, {"divisibleby", t_divisibleby}, {"defined", t_defined},
    {"undefined", t_undefined}, {"filter", t_filter}, {"test", t_test}, {"none", t_none},
    {"boolean", t_boolean}, {"false", t_false}, {"true", t_true}, {"integer", t_integer},
    {"float", t_float}, {"lower", t_lower}, {"upper", t_upper}, {"string", t_string},
    {"mapping", t_mapping}, {"number", t_number}, {"sequence", t_sequence}, {"iterable", t_iterable},
    {"callable", t_callable}, {"sameas", t_sameas}, {"escaped", t_escaped}, {"in", t_in},
    {"==", t_eq}, {"eq", t_eq}, {"equalto", t_eq}, {"!=", t_ne}, {"ne", t_ne},
    {">", t_gt}, {"gt", t_gt}, {"greaterthan", t_gt}, {"ge", t_ge}, {">=", t_ge},
    {"<", t_lt}, {"lt", t_lt}, {"lessthan", t_lt}, {"<=", t_le}, {"le", t_le},
};

tpl_test_fn lm_tpl_find_test(const char *name) {
    for (size_t i = 0; i < sizeof TESTS / sizeof TESTS[0]; i++)
        if (!strcmp(TESTS[i].name, name)) return TESTS[i].fn;
    return NULL;
}

int lm_tpl_call_test(interp *in, const char *name, tv v, const targs *a, int *out) {
    tpl_test_fn fn = lm_tpl_find_test(name);
    if (!fn) return lm_tpl_fail(in, "TemplateRuntimeError", "No test named '%s'.", name);
    return fn(in, v, a, out);
}
