/* Jinja2's builtin filters (jinja2/filters.py) with the Python semantics chat templates
 * rely on; tojson is transformers' json.dumps variant. Sequence filters that take a
 * filter or test by name (map, select, reject ...) live in filters_seq.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "cmlx/error.h"
#include "lm/template/filters.h"
#include "lm/template/strutil.h"

static int want_str(tv v, tv *out) {
    *out = tv_to_str(v);
    return tv_oom(*out) ? -1 : 0;
}

static int done_buf(strbuf *sb, tv *out) {
    *out = tv_str_from_buf(sb);
    return tv_oom(*out) ? -1 : 0;
}

static int f_upper_lower(tv v, char mode, tv *out) {
    tv s;
    if (want_str(v, &s)) return -1;
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, tv_as_str(s)->len);
    py_case(tv_as_str(s)->data, tv_as_str(s)->len, mode, &sb);
    tv_unref(s);
    return done_buf(&sb, out);
}

static int f_upper(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "upper", names, &b)) return -1;
    return f_upper_lower(v, 'u', out);
}

static int f_lower(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "lower", names, &b)) return -1;
    return f_upper_lower(v, 'l', out);
}

static int f_capitalize(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "capitalize", names, &b)) return -1;
    tv s;
    if (want_str(v, &s)) return -1;
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, 0);
    py_capitalize(tv_as_str(s)->data, tv_as_str(s)->len, &sb);
    tv_unref(s);
    return done_buf(&sb, out);
}

/* Jinja's title: split on runs of [-\s({\[<], upper-case each piece's first character. */
static int f_title(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "title", names, &b)) return -1;
    tv s;
    if (want_str(v, &s)) return -1;
    const char *p = tv_as_str(s)->data;
    size_t n = tv_as_str(s)->len;
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, n);
    int at_start = 1;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = u8_next(p, n, i, &cp);
        int sep = py_isspace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
        if (sep) {
            strbuf_append(&sb, p + i, k);
            at_start = 1;
        } else {
            py_case(p + i, k, at_start ? 'u' : 'l', &sb);
            at_start = 0;
        }
        i += k;
    }
    tv_unref(s);
    return done_buf(&sb, out);
}

static int f_trim(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"chars", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "trim", names, &b)) return -1;
    tv s;
    if (want_str(v, &s)) return -1;
    const char *chars = NULL;
    size_t nchars = 0;
    if (b.has[0] && b.v[0].type == TV_STR) {
        chars = tv_as_str(b.v[0])->data;
        nchars = tv_as_str(b.v[0])->len;
    }
    size_t st, en;
    py_strip(tv_as_str(s)->data, tv_as_str(s)->len, chars, nchars, 'b', &st, &en);
    *out = tv_str_new(tv_as_str(s)->data + st, en - st);
    tv_unref(s);
    return tv_oom(*out) ? -1 : 0;
}

static int f_string(interp *in, tv v, const targs *a, tv *out) {
    (void)in;
    (void)a;
    return want_str(v, out);
}

static int f_safe(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "safe", names, &b)) return -1;
    if (want_str(v, out)) return -1;
    out->flag = TVF_SAFE;
    return 0;
}

tv lm_tpl_escape(tv v) {
    if (v.type == TV_STR && (v.flag & TVF_SAFE)) return tv_ref(v);
    tv s = tv_to_str(v);
    if (tv_oom(s)) return s;
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, tv_as_str(s)->len);
    for (size_t i = 0; i < tv_as_str(s)->len; i++) {
        char c = tv_as_str(s)->data[i];
        switch (c) {
        case '&': strbuf_puts(&sb, "&amp;"); break;
        case '<': strbuf_puts(&sb, "&lt;"); break;
        case '>': strbuf_puts(&sb, "&gt;"); break;
        case '\'': strbuf_puts(&sb, "&#39;"); break;
        case '"': strbuf_puts(&sb, "&#34;"); break;
        default: strbuf_putc(&sb, c);
        }
    }
    tv_unref(s);
    tv r = tv_str_from_buf(&sb);
    r.flag = TVF_SAFE;
    return r;
}

static int f_escape(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "escape", names, &b)) return -1;
    *out = lm_tpl_escape(v);
    return tv_oom(*out) ? -1 : 0;
}

int lm_tpl_markup_concat(interp *in, tv a, tv b, tv *out) {
    (void)in;
    tv x = lm_tpl_escape(a), y = lm_tpl_escape(b);
    int rc = -1;
    if (!tv_oom(x) && !tv_oom(y)) {
        strbuf sb = STRBUF_INIT;
        strbuf_append(&sb, tv_as_str(x)->data, tv_as_str(x)->len);
        strbuf_append(&sb, tv_as_str(y)->data, tv_as_str(y)->len);
        *out = tv_str_from_buf(&sb);
        out->flag = TVF_SAFE;
        rc = tv_oom(*out) ? -1 : 0;
    }
    tv_unref(x);
    tv_unref(y);
    return rc;
}

static int f_length(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "length", names, &b)) return -1;
    int64_t n;
    if (lm_tpl_length(in, v, &n)) return -1;
    *out = tv_int(n);
    return 0;
}

static int f_default(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"default_value", "boolean", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "default", names, &b)) return -1;
    int use_default = v.type == TV_UNDEF || (b.has[1] && tv_truthy(b.v[1]) && !tv_truthy(v));
    if (use_default) *out = b.has[0] ? tv_ref(b.v[0]) : tv_str_cstr("");
    else *out = tv_ref(v);
    return tv_oom(*out) ? -1 : 0;
}

static int f_first(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "first", names, &b)) return -1;
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    tv_list *l = tv_as_list(items);
    *out = l->len ? tv_ref(l->items[0]) : tv_undef_msg("No first item, sequence was empty.");
    tv_unref(items);
    return 0;
}

static int f_last(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "last", names, &b)) return -1;
    if (v.type != TV_LIST && v.type != TV_STR && v.type != TV_DICT && v.type != TV_UNDEF)
        return lm_tpl_fail(in, "TypeError", "'%s' object is not reversible", tv_type_name(v));
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    tv_list *l = tv_as_list(items);
    *out = l->len ? tv_ref(l->items[l->len - 1]) : tv_undef_msg("No last item, sequence was empty.");
    tv_unref(items);
    return 0;
}

static int f_list(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "list", names, &b)) return -1;
    return lm_tpl_iterate(in, v, out);
}

static int f_reverse(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "reverse", names, &b)) return -1;
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    tv_list *l = tv_as_list(items);
    for (size_t i = 0; i < l->len / 2; i++) {
        tv t = l->items[i];
        l->items[i] = l->items[l->len - 1 - i];
        l->items[l->len - 1 - i] = t;
    }
    if (v.type != TV_STR) {
        *out = items;
        return 0;
    }
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, tv_as_str(v)->len);
    for (size_t i = 0; i < l->len; i++) strbuf_append(&sb, tv_as_str(l->items[i])->data, tv_as_str(l->items[i])->len);
    tv_unref(items);
    return done_buf(&sb, out);
}

static int f_items(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "items", names, &b)) return -1;
    tv l = tv_list_new(0);
    if (tv_oom(l)) return -1;
    if (v.type == TV_UNDEF) {
        *out = l;
        return 0;
    }
    if (v.type != TV_DICT) {
        tv_unref(l);
        return lm_tpl_fail(in, "TypeError", "Can only get item pairs from a mapping.");
    }
    tv_dict *d = tv_as_dict(v);
    for (size_t i = 0; i < d->len; i++) {
        tv pair = tv_list_new(2);
        if (tv_oom(pair)) return tv_unref(l), -1;
        pair.flag = TVF_TUPLE;
        tv_list_push(pair, tv_ref(d->keys[i]));
        tv_list_push(pair, tv_ref(d->vals[i]));
        if (tv_list_push(l, pair)) return tv_unref(l), -1;
    }
    *out = l;
    return 0;
}

/* Python int(str): optional sign, digits with single underscores, surrounding spaces. */
static int parse_int_text(const char *s, int base, int64_t *out) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v') s++;
    int neg = 0;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
    else if (base == 8 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) s += 2;
    else if (base == 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) s += 2;
    uint64_t v = 0;
    int digits = 0;
    for (; *s; s++) {
        if (*s == '_' && digits && s[1] && s[1] != '_') continue;
        int d = (*s >= '0' && *s <= '9') ? *s - '0' : (*s >= 'a' && *s <= 'z') ? *s - 'a' + 10 : (*s >= 'A' && *s <= 'Z') ? *s - 'A' + 10 : 99;
        if (d >= base) break;
        v = v * (uint64_t)base + (uint64_t)d;
        digits++;
    }
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v') s++;
    if (!digits || *s) return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

static int parse_float_text(const char *s, double *out) {
    char *end;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    if (!*s) return -1;
    double d = strtod(s, &end);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') end++;
    if (*end || end == s) return -1;
    *out = d;
    return 0;
}

static int f_int(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"default", "base", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "int", names, &b)) return -1;
    int base = b.has[1] && b.v[1].type == TV_INT ? (int)b.v[1].u.i : 10;
    tv dflt = b.has[0] ? b.v[0] : tv_int(0);
    int64_t i;
    double d;
    switch (v.type) {
    case TV_INT: *out = v; return 0;
    case TV_BOOL: *out = tv_int(v.u.b); return 0;
    case TV_FLOAT:
        if (isnan(v.u.f) || isinf(v.u.f)) break;
        *out = tv_int((int64_t)v.u.f);
        return 0;
    case TV_STR:
        if (parse_int_text(tv_as_str(v)->data, base, &i) == 0) {
            *out = tv_int(i);
            return 0;
        }
        if (parse_float_text(tv_as_str(v)->data, &d) == 0 && !isnan(d) && !isinf(d)) {
            *out = tv_int((int64_t)d);
            return 0;
        }
        break;
    case TV_UNDEF:
        return lm_tpl_fail_undefined(in, v);
    default:
        break;
    }
    *out = tv_ref(dflt);
    return 0;
}

static int f_float(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"default", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "float", names, &b)) return -1;
    double d;
    switch (v.type) {
    case TV_INT: *out = tv_float((double)v.u.i); return 0;
    case TV_BOOL: *out = tv_float(v.u.b); return 0;
    case TV_FLOAT: *out = v; return 0;
    case TV_STR:
        if (parse_float_text(tv_as_str(v)->data, &d) == 0) {
            *out = tv_float(d);
            return 0;
        }
        break;
    case TV_UNDEF:
        return lm_tpl_fail_undefined(in, v);
    default:
        break;
    }
    *out = b.has[0] ? tv_ref(b.v[0]) : tv_float(0.0);
    return 0;
}

static int f_abs(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "abs", names, &b)) return -1;
    if (v.type == TV_INT) *out = tv_int(v.u.i < 0 ? (int64_t)(0 - (uint64_t)v.u.i) : v.u.i);
    else if (v.type == TV_BOOL) *out = tv_int(v.u.b);
    else if (v.type == TV_FLOAT) *out = tv_float(fabs(v.u.f));
    else if (v.type == TV_UNDEF) return lm_tpl_fail_undefined(in, v);
    else return lm_tpl_fail(in, "TypeError", "bad operand type for abs(): '%s'", tv_type_name(v));
    return 0;
}

/* Python round(x, n): correctly rounded, ties to even on the exact binary value. */
static double py_round(double x, int64_t nd) {
    if (isnan(x) || isinf(x)) return x;
    if (nd > 300) return x;
    if (nd < -300) return 0.0 * x;
    char buf[512];
    if (nd >= 0) {
        snprintf(buf, sizeof buf, "%.*f", (int)nd, x);
        return strtod(buf, NULL);
    }
    double p = pow(10.0, (double)-nd);
    double y = x / p;
    snprintf(buf, sizeof buf, "%.0f", y);
    return strtod(buf, NULL) * p;
}

static int f_round(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"precision", "method", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "round", names, &b)) return -1;
    int64_t prec = b.has[0] && (b.v[0].type == TV_INT || b.v[0].type == TV_BOOL) ? (b.v[0].type == TV_INT ? b.v[0].u.i : b.v[0].u.b) : 0;
    const char *method = b.has[1] && b.v[1].type == TV_STR ? tv_as_str(b.v[1])->data : "common";
    if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
        return lm_tpl_fail(in, "FilterArgumentError", "method must be common, ceil or floor");
    if (v.type == TV_UNDEF) return lm_tpl_fail_undefined(in, v);
    if (v.type != TV_INT && v.type != TV_BOOL && v.type != TV_FLOAT)
        return lm_tpl_fail(in, "TypeError", "type %s doesn't define __round__ method", tv_type_name(v));
    if (!strcmp(method, "common")) {
        if (v.type != TV_FLOAT) {
            int64_t i = v.type == TV_INT ? v.u.i : v.u.b;
            if (prec < 0) {
                double r = py_round((double)i, prec);
                i = (int64_t)r;
            }
            *out = tv_int(i);
        } else {
            *out = tv_float(py_round(v.u.f, prec));
        }
        return 0;
    }
    double x = v.type == TV_FLOAT ? v.u.f : (double)(v.type == TV_INT ? v.u.i : v.u.b);
    double p = pow(10.0, (double)prec);
    double r = (method[0] == 'c' ? ceil(x * p) : floor(x * p)) / p;
    *out = tv_float(r);
    return 0;
}

static int f_indent(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"width", "first", "blank", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "indent", names, &b)) return -1;
    if (v.type == TV_UNDEF) return lm_tpl_fail_undefined(in, v);
    if (v.type != TV_STR)
        return lm_tpl_fail(in, "TypeError", "unsupported operand type(s) for +=: '%s' and 'str'", tv_type_name(v));
    strbuf ind = STRBUF_INIT;
    strbuf_reserve(&ind, 0);
    if (b.has[0] && b.v[0].type == TV_STR) strbuf_append(&ind, tv_as_str(b.v[0])->data, tv_as_str(b.v[0])->len);
    else {
        int64_t w = b.has[0] && b.v[0].type == TV_INT ? b.v[0].u.i : 4;
        for (int64_t i = 0; i < w; i++) strbuf_putc(&ind, ' ');
    }
    int first = b.has[1] && tv_truthy(b.v[1]), blank = b.has[2] && tv_truthy(b.v[2]);
    /* s += "\n"; lines = s.splitlines() (only \n can occur after newline normalisation
     * for template text, but data may hold \r: treat the Python line breaks) */
    const char *s = tv_as_str(v)->data;
    size_t n = tv_as_str(v)->len;
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, n + 16);
    if (first) strbuf_append(&sb, ind.data, ind.len);
    size_t i = 0;
    int line_no = 0;
    /* iterate lines of s + "\n" */
    while (i <= n) {
        size_t e = i;
        size_t brk = 0;
        while (e < n) {
            unsigned char c = (unsigned char)s[e];
            if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e)) {
                brk = (c == '\r' && e + 1 < n && s[e + 1] == '\n') ? 2 : 1;
                break;
            }
            if (c == 0xC2 && e + 1 < n && (unsigned char)s[e + 1] == 0x85) { brk = 2; break; }
            if (c == 0xE2 && e + 2 < n && (unsigned char)s[e + 1] == 0x80 && ((unsigned char)s[e + 2] == 0xA8 || (unsigned char)s[e + 2] == 0xA9)) { brk = 3; break; }
            e++;
        }
        if (line_no > 0) {
            strbuf_putc(&sb, '\n');
            if (blank || e > i) strbuf_append(&sb, ind.data, ind.len);
        }
        strbuf_append(&sb, s + i, e - i);
        line_no++;
        if (e >= n) break;
        i = e + brk;
    }
    strbuf_free(&ind);
    return done_buf(&sb, out);
}

static int f_replace(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"old", "new", "count", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "replace", names, &b)) return -1;
    if (!b.has[0] || !b.has[1]) return lm_tpl_fail(in, "TypeError", "do_replace() missing required arguments 'old' and 'new'");
    tv s, o, nw;
    if (want_str(v, &s)) return -1;
    if (want_str(b.v[0], &o)) return tv_unref(s), -1;
    if (want_str(b.v[1], &nw)) return tv_unref(s), tv_unref(o), -1;
    tv args[3] = {o, nw, b.has[2] ? b.v[2] : tv_int(-1)};
    targs ta = {args, 3, NULL, NULL, 0};
    tv_native_fn fn = lm_tpl_find_method(s, "replace");
    tv_func dummy;
    memset(&dummy, 0, sizeof dummy);
    dummy.self = s;
    int rc = fn(in, &dummy, &ta, out);
    tv_unref(s);
    tv_unref(o);
    tv_unref(nw);
    return rc;
}

static int f_center(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"width", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "center", names, &b)) return -1;
    tv s;
    if (want_str(v, &s)) return -1;
    tv args[1] = {b.has[0] ? b.v[0] : tv_int(80)};
    targs ta = {args, 1, NULL, NULL, 0};
    tv_func dummy;
    memset(&dummy, 0, sizeof dummy);
    dummy.self = s;
    int rc = lm_tpl_find_method(s, "center")(in, &dummy, &ta, out);
    tv_unref(s);
    return rc;
}

static int is_word_cp(int32_t cp) {
    if (cp == '_') return 1;
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    utf8proc_category_t c = utf8proc_category(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) || (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

static int f_wordcount(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "wordcount", names, &b)) return -1;
    tv s;
    if (want_str(v, &s)) return -1;
    int64_t count = 0;
    int inword = 0;
    const char *p = tv_as_str(s)->data;
    size_t n = tv_as_str(s)->len;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += u8_next(p, n, i, &cp);
        int w = is_word_cp(cp);
        if (w && !inword) count++;
        inword = w;
    }
    tv_unref(s);
    *out = tv_int(count);
    return 0;
}

static int f_truncate(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"length", "killwords", "end", "leeway", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "truncate", names, &b)) return -1;
    int64_t length = b.has[0] && b.v[0].type == TV_INT ? b.v[0].u.i : 255;
    int killwords = b.has[1] && tv_truthy(b.v[1]);
    tv end = b.has[2] && b.v[2].type == TV_STR ? b.v[2] : tv_undef();
    const char *e = end.type == TV_STR ? tv_as_str(end)->data : "...";
    int64_t leeway = b.has[3] && b.v[3].type == TV_INT ? b.v[3].u.i : 5;
    int64_t elen = (int64_t)u8_count(e, strlen(e));
    if (length < elen) return lm_tpl_fail(in, "AssertionError", "expected length >= %lld, got %lld", (long long)elen, (long long)length);
    tv s;
    if (want_str(v, &s)) return -1;
    const char *p = tv_as_str(s)->data;
    size_t n = tv_as_str(s)->len;
    int64_t len = (int64_t)u8_count(p, n);
    if (len <= length + leeway) {
        *out = s;
        return 0;
    }
    size_t cut = u8_offset(p, n, (size_t)(length - elen));
    if (!killwords) {
        int64_t sp = py_rfind(p, cut, " ", 1);
        if (sp >= 0) cut = (size_t)sp;
    }
    strbuf sb = STRBUF_INIT;
    strbuf_append(&sb, p, cut);
    strbuf_puts(&sb, e);
    tv_unref(s);
    return done_buf(&sb, out);
}

static int f_tojson(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "tojson", names, &b)) return -1;
    tojson_opts o = {-1, NULL, ", ", ": ", 0, 0};
    if (b.has[0]) o.ensure_ascii = tv_truthy(b.v[0]);
    if (b.has[1] && b.v[1].type != TV_NONE) {
        if (b.v[1].type == TV_INT) o.indent = b.v[1].u.i < 0 ? 0 : (int)b.v[1].u.i;
        else if (b.v[1].type == TV_STR) o.indent_str = tv_as_str(b.v[1])->data;
        else return lm_tpl_fail(in, "TypeError", "indent must be an int or a str, not %s", tv_type_name(b.v[1]));
        o.item_sep = ",";
    }
    if (b.has[2] && b.v[2].type != TV_NONE) {
        tv sep = b.v[2];
        if (sep.type != TV_LIST || tv_as_list(sep)->len != 2 || tv_as_list(sep)->items[0].type != TV_STR ||
            tv_as_list(sep)->items[1].type != TV_STR)
            return lm_tpl_fail(in, "ValueError", "separators must be a pair of strings");
        o.item_sep = tv_as_str(tv_as_list(sep)->items[0])->data;
        o.key_sep = tv_as_str(tv_as_list(sep)->items[1])->data;
    }
    if (b.has[3]) o.sort_keys = tv_truthy(b.v[3]);
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, 64);
    if (lm_tpl_tojson(in, v, &o, &sb)) return strbuf_free(&sb), -1;
    return done_buf(&sb, out);
}

static int f_pprint(interp *in, tv v, const targs *a, tv *out) {
    (void)a;
    (void)in;
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, 0);
    tv_write_repr(v, &sb);
    return done_buf(&sb, out);
}

/* Python's printf-style formatting: %s %r %d %i %f %e %g %x %o %c %% with flags, width
 * and precision. */
int lm_tpl_percent_format(interp *in, const char *fmt, size_t n, const targs *a, tv *out) {
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, n);
    int argi = 0;
    tv mapping = a->nkw ? tv_undef() : (a->npos == 1 && a->pos[0].type == TV_DICT ? a->pos[0] : tv_undef());
    for (size_t i = 0; i < n; i++) {
        if (fmt[i] != '%') {
            strbuf_putc(&sb, fmt[i]);
            continue;
        }
        if (++i >= n) return strbuf_free(&sb), lm_tpl_fail(in, "ValueError", "incomplete format");
        if (fmt[i] == '%') {
            strbuf_putc(&sb, '%');
            continue;
        }
        tv arg = tv_undef();
        int have = 0;
        if (fmt[i] == '(') {
            size_t e = i + 1;
            while (e < n && fmt[e] != ')') e++;
            if (e >= n) return strbuf_free(&sb), lm_tpl_fail(in, "ValueError", "incomplete format key");
            tv *hit = NULL;
            if (mapping.type == TV_DICT) hit = tv_dict_get_str(mapping, fmt + i + 1, e - i - 1);
            for (int k = 0; !hit && k < a->nkw; k++)
                if (strlen(a->kwnames[k]) == e - i - 1 && !memcmp(a->kwnames[k], fmt + i + 1, e - i - 1)) hit = &a->kwvals[k];
            if (!hit) return strbuf_free(&sb), lm_tpl_fail(in, "KeyError", "'%.*s'", (int)(e - i - 1), fmt + i + 1);
            arg = *hit;
            have = 1;
            i = e + 1;
        }
        char spec[32];
        size_t sl = 0;
        spec[sl++] = '%';
        while (i < n && strchr("-+ #0", fmt[i]) && sl < 20) spec[sl++] = fmt[i++];
        while (i < n && fmt[i] >= '0' && fmt[i] <= '9' && sl < 24) spec[sl++] = fmt[i++];
        if (i < n && fmt[i] == '.') {
            spec[sl++] = fmt[i++];
            while (i < n && fmt[i] >= '0' && fmt[i] <= '9' && sl < 28) spec[sl++] = fmt[i++];
        }
        if (i >= n) return strbuf_free(&sb), lm_tpl_fail(in, "ValueError", "incomplete format");
        char conv = fmt[i];
        if (!have) {
            if (argi >= a->npos) return strbuf_free(&sb), lm_tpl_fail(in, "TypeError", "not enough arguments for format string");
            arg = a->pos[argi++];
        }
        if (conv == 's' || conv == 'r' || conv == 'a') {
            strbuf tmp = STRBUF_INIT;
            strbuf_reserve(&tmp, 0);
            if (conv == 's') tv_write_str(arg, &tmp);
            else tv_write_repr(arg, &tmp);
            spec[sl++] = 's';
            spec[sl] = 0;
            strbuf_printf(&sb, spec, tmp.data);
            strbuf_free(&tmp);
        } else if (strchr("diouxXc", conv)) {
            if (arg.type == TV_UNDEF) return strbuf_free(&sb), lm_tpl_fail_undefined(in, arg);
            long long iv;
            if (arg.type == TV_INT) iv = arg.u.i;
            else if (arg.type == TV_BOOL) iv = arg.u.b;
            else if (arg.type == TV_FLOAT && conv != 'c' && conv != 'x' && conv != 'X' && conv != 'o') iv = (long long)arg.u.f;
            else return strbuf_free(&sb), lm_tpl_fail(in, "TypeError", "%%%c format: a real number is required, not %s", conv, tv_type_name(arg));
            if (conv == 'c') {
                u8_put(&sb, (int32_t)iv);
                continue;
            }
            spec[sl++] = 'l';
            spec[sl++] = 'l';
            spec[sl++] = conv == 'i' || conv == 'u' ? 'd' : conv;
            spec[sl] = 0;
            strbuf_printf(&sb, spec, iv);
        } else if (strchr("eEfFgG", conv)) {
            double d;
            if (arg.type == TV_FLOAT) d = arg.u.f;
            else if (arg.type == TV_INT) d = (double)arg.u.i;
            else if (arg.type == TV_BOOL) d = arg.u.b;
            else if (arg.type == TV_UNDEF) return strbuf_free(&sb), lm_tpl_fail_undefined(in, arg);
            else return strbuf_free(&sb), lm_tpl_fail(in, "TypeError", "must be real number, not %s", tv_type_name(arg));
            spec[sl++] = conv;
            spec[sl] = 0;
            strbuf_printf(&sb, spec, d);
        } else {
            strbuf_free(&sb);
            return lm_tpl_fail(in, "ValueError", "unsupported format character '%c'", conv);
        }
    }
    if (!mapping.u.o && argi < a->npos && a->nkw == 0)
        return strbuf_free(&sb), lm_tpl_fail(in, "TypeError", "not all arguments converted during string formatting");
    return done_buf(&sb, out);
}

static int f_format(interp *in, tv v, const targs *a, tv *out) {
    if (a->npos && a->nkw) return lm_tpl_fail(in, "FilterArgumentError", "can't handle positional and keyword arguments at the same time");
    tv s;
    if (want_str(v, &s)) return -1;
    int rc = lm_tpl_percent_format(in, tv_as_str(s)->data, tv_as_str(s)->len, a, out);
    tv_unref(s);
    return rc;
}

typedef struct filter_entry {
    const char *name;
    tpl_filter_fn fn;
} filter_entry;

static const filter_entry FILTERS[] = {
    {"abs", f_abs}, {"attr", lm_tpl_f_attr}, {"batch", lm_tpl_f_batch}, {"capitalize", f_capitalize},
    {"center", f_center}, {"count", f_length}, {"d", f_default}, {"default", f_default},
    {"dictsort", lm_tpl_f_dictsort}, {"e", f_escape}, {"escape", f_escape}, {"first", f_first},
    {"float", f_float}, {"forceescape", f_escape}, {"format", f_format}, {"groupby", lm_tpl_f_groupby},
    {"indent", f_indent}, {"int", f_int}, {"items", f_items}, {"join", lm_tpl_f_join}, {"last", f_last},
    {"length", f_length}, {"list", f_list}, {"lower", f_lower}, {"map", lm_tpl_f_map}, {"max", lm_tpl_f_max},
    {"min", lm_tpl_f_min}, {"pprint", f_pprint}, {"reject", lm_tpl_f_reject}, {"rejectattr", lm_tpl_f_rejectattr},
    {"replace", f_replace}, {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe},
    {"select", lm_tpl_f_select}, {"selectattr", lm_tpl_f_selectattr}, {"slice", lm_tpl_f_slice},
    {"sort", lm_tpl_f_sort}, {"string", f_string}, {"sum", lm_tpl_f_sum}, {"title", f_title},
    {"tojson", f_tojson}, {"trim", f_trim}, {"truncate", f_truncate}, {"unique", lm_tpl_f_unique},
    {"upper", f_upper}, {"wordcount", f_wordcount},
};

tpl_filter_fn lm_tpl_find_filter(const char *name) {
    for (size_t i = 0; i < sizeof FILTERS / sizeof FILTERS[0]; i++)
        if (!strcmp(FILTERS[i].name, name)) return FILTERS[i].fn;
    return NULL;
}

int lm_tpl_call_filter(interp *in, const char *name, tv v, const targs *a, tv *out) {
    tpl_filter_fn fn = lm_tpl_find_filter(name);
    if (!fn) return lm_tpl_fail(in, "TemplateRuntimeError", "No filter named '%s'.", name);
    return fn(in, v, a, out);
}
