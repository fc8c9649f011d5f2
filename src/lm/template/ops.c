/* Python operators as Jinja's sandbox applies them: attribute and item lookup (each
 * falling back to the other), slicing, arithmetic, comparisons, `in`, iteration and len(),
 * with Python's TypeError messages. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/template/interp.h"
#include "lm/template/lexer.h"
#include "lm/template/strutil.h"

tv lm_tpl_missing(tv obj, tv key) {
    strbuf sb = STRBUF_INIT;
    if (key.type == TV_STR) {
        strbuf_putc(&sb, '\'');
        tv_object_type_repr(obj, &sb);
        strbuf_puts(&sb, "' has no attribute ");
    } else {
        tv_object_type_repr(obj, &sb);
        strbuf_puts(&sb, " has no element ");
    }
    tv_write_repr(key, &sb);
    tv u = tv_undef_msg("%s", sb.data ? sb.data : "undefined");
    strbuf_free(&sb);
    return u;
}

static int is_num(tv v) { return v.type == TV_BOOL || v.type == TV_INT || v.type == TV_FLOAT; }
static int is_intlike(tv v) { return v.type == TV_BOOL || v.type == TV_INT; }
static int64_t as_int(tv v) { return v.type == TV_INT ? v.u.i : v.u.b; }
static double as_f(tv v) { return v.type == TV_FLOAT ? v.u.f : (double)as_int(v); }

static int unsafe_attr(tv obj, const char *name, tv *out) {
    static const char *const list_mut[] = {"append", "clear", "pop", "reverse", "insert", "sort", "extend", "remove", NULL};
    static const char *const dict_mut[] = {"clear", "pop", "popitem", "setdefault", "update", NULL};
    const char *const *set = obj.type == TV_LIST && !(obj.flag & TVF_TUPLE) ? list_mut : obj.type == TV_DICT ? dict_mut : NULL;
    if (!set) return 0;
    for (int i = 0; set[i]; i++) {
        if (strcmp(set[i], name) == 0) {
            *out = tv_undef_msg("access to attribute '%s' of '%s' object is unsafe.", name, tv_type_name(obj));
            out->flag = TVF_SECURITY;
            return 1;
        }
    }
    return 0;
}

/* Python attribute lookup only (methods, loop/namespace attributes); 1 when found. */
static int python_attr(interp *in, tv obj, const char *name, tv *out, int *err) {
    *err = 0;
    if (name[0] == '_') return 0; /* the sandbox hides private attributes */
    if (obj.type == TV_NS) {
        tv *v = tv_dict_get_str(obj, name, strlen(name));
        if (!v) return 0;
        *out = tv_ref(*v);
        return 1;
    }
    if (obj.type == TV_LOOP) {
        int rc = lm_tpl_loop_attr(in, obj, name, out);
        if (rc < 0) *err = 1;
        return rc != 0 ? 1 : 0;
    }
    if (unsafe_attr(obj, name, out)) return 1;
    tv_native_fn fn = lm_tpl_find_method(obj, name);
    if (!fn) return 0;
    *out = lm_tpl_native(name, fn, obj);
    if (tv_oom(*out)) *err = 1;
    return 1;
}

int lm_tpl_getattr(interp *in, tv obj, const char *name, tv *out) {
    if (obj.type == TV_UNDEF) return lm_tpl_fail_undefined(in, obj);
    int err;
    if (python_attr(in, obj, name, out, &err)) return err ? -1 : 0;
    if (err) return -1;
    if (obj.type == TV_DICT) {
        tv *v = tv_dict_get_str(obj, name, strlen(name));
        if (v) {
            *out = tv_ref(*v);
            return 0;
        }
    }
    tv key = tv_str_cstr(name);
    if (tv_oom(key)) return -1;
    *out = lm_tpl_missing(obj, key);
    tv_unref(key);
    return 0;
}

static int index_of(int64_t i, size_t len, size_t *at) {
    if (i < 0) i += (int64_t)len;
    if (i < 0 || (uint64_t)i >= len) return 0;
    *at = (size_t)i;
    return 1;
}

int lm_tpl_getitem(interp *in, tv obj, tv key, tv *out) {
    if (obj.type == TV_UNDEF) return lm_tpl_fail_undefined(in, obj);
    if (obj.type == TV_DICT) {
        tv *v = tv_dict_get(obj, key);
        if (v) {
            *out = tv_ref(*v);
            return 0;
        }
    } else if ((obj.type == TV_LIST || obj.type == TV_STR) && is_intlike(key) && !(obj.type == TV_LIST && (obj.flag & TVF_VIEW))) {
        size_t at;
        if (obj.type == TV_LIST) {
            tv_list *l = tv_as_list(obj);
            if (index_of(as_int(key), l->len, &at)) {
                *out = tv_ref(l->items[at]);
                return 0;
            }
        } else {
            tv_str *s = tv_as_str(obj);
            if (index_of(as_int(key), u8_count(s->data, s->len), &at)) {
                size_t b = u8_offset(s->data, s->len, at);
                int32_t cp;
                size_t k = u8_next(s->data, s->len, b, &cp);
                *out = tv_str_new(s->data + b, k);
                return tv_oom(*out) ? -1 : 0;
            }
        }
    }
    if (key.type == TV_STR) {
        int err;
        if (python_attr(in, obj, tv_as_str(key)->data, out, &err)) return err ? -1 : 0;
        if (err) return -1;
    }
    *out = lm_tpl_missing(obj, key);
    return 0;
}

static int slice_index(interp *in, tv v, int64_t *out, int *given) {
    *given = 0;
    if (v.type == TV_NONE) return 0;
    if (!is_intlike(v)) {
        if (v.type == TV_UNDEF) return lm_tpl_fail_undefined(in, v);
        return lm_tpl_fail(in, "TypeError", "slice indices must be integers or None or have an __index__ method");
    }
    *out = as_int(v);
    *given = 1;
    return 0;
}

int lm_tpl_slice(interp *in, tv obj, tv start, tv stop, tv step, tv *out) {
    if (obj.type == TV_UNDEF) return lm_tpl_fail_undefined(in, obj);
    int64_t b = 0, e = 0, st = 1;
    int hb, he, hs;
    if (slice_index(in, start, &b, &hb) || slice_index(in, stop, &e, &he) || slice_index(in, step, &st, &hs)) return -1;
    if (hs && st == 0) return lm_tpl_fail(in, "ValueError", "slice step cannot be zero");
    if ((obj.type != TV_LIST && obj.type != TV_STR) || (obj.type == TV_LIST && (obj.flag & TVF_VIEW))) {
        *out = lm_tpl_missing(obj, tv_none());
        return 0;
    }
    tv_str *s = obj.type == TV_STR ? tv_as_str(obj) : NULL;
    int64_t len = s ? (int64_t)u8_count(s->data, s->len) : (int64_t)tv_as_list(obj)->len;
    /* CPython's PySlice_AdjustIndices */
    if (!hb) b = st < 0 ? len - 1 : 0;
    else if (b < 0) { b += len; if (b < 0) b = st < 0 ? -1 : 0; }
    else if (b >= len) b = st < 0 ? len - 1 : len;
    if (!he) e = st < 0 ? -1 : len;
    else if (e < 0) { e += len; if (e < 0) e = st < 0 ? -1 : 0; }
    else if (e >= len) e = st < 0 ? len - 1 : len;
    if (s) {
        int ascii = (int64_t)s->len == len;
        strbuf sb = STRBUF_INIT;
        strbuf_reserve(&sb, 0);
        for (int64_t i = b; st > 0 ? i < e : i > e; i += st) {
            if (ascii) {
                strbuf_putc(&sb, s->data[i]);
            } else {
                size_t off = u8_offset(s->data, s->len, (size_t)i);
                int32_t cp;
                size_t k = u8_next(s->data, s->len, off, &cp);
                strbuf_append(&sb, s->data + off, k);
            }
        }
        *out = tv_str_from_buf(&sb);
        return tv_oom(*out) ? -1 : 0;
    }
    tv_list *l = tv_as_list(obj);
    tv r = tv_list_new(0);
    if (tv_oom(r)) return -1;
    r.flag = obj.flag;
    for (int64_t i = b; st > 0 ? i < e : i > e; i += st)
        if (tv_list_push(r, tv_ref(l->items[i])) != 0) {
            tv_unref(r);
            return -1;
        }
    *out = r;
    return 0;
}

static int binop_type_error(interp *in, int op, tv a, tv b) {
    const char *sym = lm_tpl_op_text(op);
    if (op == OP_ADD && (a.type == TV_STR || a.type == TV_LIST))
        return lm_tpl_fail(in, "TypeError", "can only concatenate %s (not \"%s\") to %s", tv_type_name(a),
                           tv_type_name(b), tv_type_name(a));
    if (op == OP_MUL && (a.type == TV_STR || a.type == TV_LIST || b.type == TV_STR || b.type == TV_LIST))
        return lm_tpl_fail(in, "TypeError", "can't multiply sequence by non-int of type '%s'",
                           tv_type_name(a.type == TV_STR || a.type == TV_LIST ? b : a));
    return lm_tpl_fail(in, "TypeError", "unsupported operand type(s) for %s: '%s' and '%s'", op == OP_POW ? "** or pow()" : sym,
                       tv_type_name(a), tv_type_name(b));
}

static int repeat(interp *in, tv seq, int64_t n, tv *out) {
    if (seq.type == TV_STR) {
        tv_str *s = tv_as_str(seq);
        strbuf sb = STRBUF_INIT;
        strbuf_reserve(&sb, 0);
        for (int64_t i = 0; i < n; i++) strbuf_append(&sb, s->data, s->len);
        *out = tv_str_from_buf(&sb);
        return tv_oom(*out) ? -1 : 0;
    }
    tv_list *l = tv_as_list(seq);
    tv r = tv_list_new(0);
    if (tv_oom(r)) return -1;
    r.flag = seq.flag;
    for (int64_t i = 0; i < n; i++)
        for (size_t j = 0; j < l->len; j++)
            if (tv_list_push(r, tv_ref(l->items[j]))) return tv_unref(r), -1;
    (void)in;
    *out = r;
    return 0;
}

static int concat_seq(tv a, tv b, tv *out) {
    if (a.type == TV_STR) {
        tv_str *x = tv_as_str(a), *y = tv_as_str(b);
        strbuf sb = STRBUF_INIT;
        strbuf_reserve(&sb, x->len + y->len);
        strbuf_append(&sb, x->data, x->len);
        strbuf_append(&sb, y->data, y->len);
        *out = tv_str_from_buf(&sb);
        return tv_oom(*out) ? -1 : 0;
    }
    tv_list *x = tv_as_list(a), *y = tv_as_list(b);
    tv r = tv_list_new(x->len + y->len);
    if (tv_oom(r)) return -1;
    r.flag = a.flag;
    for (size_t i = 0; i < x->len; i++) tv_list_push(r, tv_ref(x->items[i]));
    for (size_t i = 0; i < y->len; i++) tv_list_push(r, tv_ref(y->items[i]));
    *out = r;
    return 0;
}

static int64_t floordiv_i(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

int lm_tpl_binop(interp *in, int op, tv a, tv b, tv *out) {
    if (a.type == TV_UNDEF) return lm_tpl_fail_undefined(in, a);
    if (b.type == TV_UNDEF) return lm_tpl_fail_undefined(in, b);
    if (is_num(a) && is_num(b)) {
        int ints = is_intlike(a) && is_intlike(b);
        int64_t x = ints ? as_int(a) : 0, y = ints ? as_int(b) : 0;
        double fx = as_f(a), fy = as_f(b);
        switch (op) {
        case OP_ADD: *out = ints ? tv_int((int64_t)((uint64_t)x + (uint64_t)y)) : tv_float(fx + fy); return 0;
        case OP_SUB: *out = ints ? tv_int((int64_t)((uint64_t)x - (uint64_t)y)) : tv_float(fx - fy); return 0;
        case OP_MUL: *out = ints ? tv_int((int64_t)((uint64_t)x * (uint64_t)y)) : tv_float(fx * fy); return 0;
        case OP_DIV:
            if (fy == 0) return lm_tpl_fail(in, "ZeroDivisionError", "division by zero");
            *out = tv_float(fx / fy);
            return 0;
        case OP_FLOORDIV:
            if (ints) {
                if (y == 0) return lm_tpl_fail(in, "ZeroDivisionError", "integer division or modulo by zero");
                *out = tv_int(floordiv_i(x, y));
            } else {
                if (fy == 0) return lm_tpl_fail(in, "ZeroDivisionError", "float floor division by zero");
                *out = tv_float(floor(fx / fy));
            }
            return 0;
        case OP_MOD:
            if (ints) {
                if (y == 0) return lm_tpl_fail(in, "ZeroDivisionError", "integer division or modulo by zero");
                int64_t m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) m += y;
                *out = tv_int(m);
            } else {
                if (fy == 0) return lm_tpl_fail(in, "ZeroDivisionError", "float modulo");
                double m = fmod(fx, fy);
                if (m != 0 && ((m < 0) != (fy < 0))) m += fy;
                else if (m == 0) m = copysign(0.0, fy); /* Python: a zero result takes the divisor's sign */
                *out = tv_float(m);
            }
            return 0;
        case OP_POW:
            if (ints && y >= 0) {
                uint64_t r = 1, base = (uint64_t)x;
                for (int64_t e = y; e > 0; e >>= 1) {
                    if (e & 1) r *= base;
                    base *= base;
                }
                *out = tv_int((int64_t)r);
            } else {
                if (fx == 0 && fy < 0) return lm_tpl_fail(in, "ZeroDivisionError", "0.0 cannot be raised to a negative power");
                *out = tv_float(pow(fx, fy));
            }
            return 0;
        }
    }
    if ((a.type == TV_LIST && (a.flag & TVF_VIEW)) || (b.type == TV_LIST && (b.flag & TVF_VIEW)))
        return binop_type_error(in, op, a, b);
    if (op == OP_ADD && a.type == TV_STR && b.type == TV_STR && ((a.flag | b.flag) & TVF_SAFE))
        return lm_tpl_markup_concat(in, a, b, out);
    if (op == OP_ADD && a.type == b.type && (a.type == TV_STR || (a.type == TV_LIST && (a.flag & TVF_TUPLE) == (b.flag & TVF_TUPLE))))
        return concat_seq(a, b, out);
    if (op == OP_MUL) {
        if ((a.type == TV_STR || a.type == TV_LIST) && is_intlike(b)) return repeat(in, a, as_int(b), out);
        if ((b.type == TV_STR || b.type == TV_LIST) && is_intlike(a)) return repeat(in, b, as_int(a), out);
    }
    if (op == OP_MOD && a.type == TV_STR) {
        targs ta = {0};
        if (b.type == TV_LIST && (b.flag & TVF_TUPLE)) {
            ta.pos = tv_as_list(b)->items;
            ta.npos = (int)tv_as_list(b)->len;
        } else {
            ta.pos = &b;
            ta.npos = 1;
        }
        return lm_tpl_call_filter(in, "format", a, &ta, out);
    }
    return binop_type_error(in, op, a, b);
}

static int cmp_fail(interp *in, int op, tv a, tv b) {
    return lm_tpl_fail(in, "TypeError", "'%s' not supported between instances of '%s' and '%s'", lm_tpl_op_text(op),
                       tv_type_name(a), tv_type_name(b));
}

int lm_tpl_order(interp *in, tv a, tv b, int *cmp) {
    if (is_num(a) && is_num(b)) {
        if (is_intlike(a) && is_intlike(b)) *cmp = as_int(a) < as_int(b) ? -1 : as_int(a) > as_int(b);
        else *cmp = as_f(a) < as_f(b) ? -1 : as_f(a) > as_f(b);
        return 0;
    }
    if (a.type == TV_STR && b.type == TV_STR) {
        tv_str *x = tv_as_str(a), *y = tv_as_str(b);
        size_t n = x->len < y->len ? x->len : y->len;
        int c = memcmp(x->data, y->data, n);
        *cmp = c < 0 ? -1 : c > 0 ? 1 : x->len < y->len ? -1 : x->len > y->len;
        return 0;
    }
    if (a.type == TV_LIST && b.type == TV_LIST) {
        tv_list *x = tv_as_list(a), *y = tv_as_list(b);
        for (size_t i = 0; i < x->len && i < y->len; i++) {
            if (tv_equal(x->items[i], y->items[i])) continue;
            return lm_tpl_order(in, x->items[i], y->items[i], cmp);
        }
        *cmp = x->len < y->len ? -1 : x->len > y->len;
        return 0;
    }
    if (a.type == TV_UNDEF) return lm_tpl_fail_undefined(in, a);
    if (b.type == TV_UNDEF) return lm_tpl_fail_undefined(in, b);
    return cmp_fail(in, OP_LT, a, b);
}

int lm_tpl_compare(interp *in, int op, tv a, tv b, int *out) {
    if (op == OP_EQ || op == OP_NE) {
        *out = tv_equal(a, b) == (op == OP_EQ);
        return 0;
    }
    if (op == CMP_IN || op == CMP_NOTIN) {
        int r;
        if (lm_tpl_contains(in, b, a, &r)) return -1;
        *out = op == CMP_IN ? r : !r;
        return 0;
    }
    int c;
    if (a.type == TV_UNDEF) return lm_tpl_fail_undefined(in, a);
    if (b.type == TV_UNDEF) return lm_tpl_fail_undefined(in, b);
    int comparable = (is_num(a) && is_num(b)) || (a.type == TV_STR && b.type == TV_STR) ||
                     (a.type == TV_LIST && b.type == TV_LIST);
    if (!comparable) return cmp_fail(in, op, a, b);
    if (lm_tpl_order(in, a, b, &c)) return -1;
    switch (op) {
    case OP_LT: *out = c < 0; break;
    case OP_LTEQ: *out = c <= 0; break;
    case OP_GT: *out = c > 0; break;
    default: *out = c >= 0; break;
    }
    return 0;
}

int lm_tpl_contains(interp *in, tv container, tv item, int *out) {
    switch (container.type) {
    case TV_UNDEF:
        *out = 0;
        return 0;
    case TV_STR: {
        if (item.type != TV_STR)
            return lm_tpl_fail(in, "TypeError", "'in <string>' requires string as left operand, not %s", tv_type_name(item));
        tv_str *h = tv_as_str(container), *nd = tv_as_str(item);
        *out = py_find(h->data, h->len, nd->data, nd->len, 0) >= 0;
        return 0;
    }
    case TV_LIST: {
        tv_list *l = tv_as_list(container);
        *out = 0;
        for (size_t i = 0; i < l->len && !*out; i++) *out = tv_equal(l->items[i], item);
        return 0;
    }
    case TV_DICT:
        *out = tv_dict_get(container, item) != NULL;
        return 0;
    default:
        return lm_tpl_fail(in, "TypeError", "argument of type '%s' is not iterable", tv_type_name(container));
    }
}

int lm_tpl_iterate(interp *in, tv v, tv *out) {
    tv r = tv_list_new(0);
    if (tv_oom(r)) return -1;
    switch (v.type) {
    case TV_UNDEF:
        break;
    case TV_LIST: {
        tv_list *l = tv_as_list(v);
        for (size_t i = 0; i < l->len; i++)
            if (tv_list_push(r, tv_ref(l->items[i]))) return tv_unref(r), -1;
        break;
    }
    case TV_DICT: {
        tv_dict *d = tv_as_dict(v);
        for (size_t i = 0; i < d->len; i++)
            if (tv_list_push(r, tv_ref(d->keys[i]))) return tv_unref(r), -1;
        break;
    }
    case TV_STR: {
        tv_str *s = tv_as_str(v);
        for (size_t i = 0; i < s->len;) {
            int32_t cp;
            size_t k = u8_next(s->data, s->len, i, &cp);
            tv c = tv_str_new(s->data + i, k);
            if (tv_oom(c) || tv_list_push(r, c)) return tv_unref(r), -1;
            i += k;
        }
        break;
    }
    default:
        tv_unref(r);
        return lm_tpl_fail(in, "TypeError", "'%s' object is not iterable", tv_type_name(v));
    }
    *out = r;
    return 0;
}

int lm_tpl_length(interp *in, tv v, int64_t *out) {
    switch (v.type) {
    case TV_UNDEF: *out = 0; return 0;
    case TV_STR: *out = (int64_t)u8_count(tv_as_str(v)->data, tv_as_str(v)->len); return 0;
    case TV_LIST: *out = (int64_t)tv_as_list(v)->len; return 0;
    case TV_DICT: *out = (int64_t)tv_as_dict(v)->len; return 0;
    case TV_LOOP: *out = (int64_t)tv_as_loop(v)->items->len; return 0;
    default: return lm_tpl_fail(in, "TypeError", "object of type '%s' has no len()", tv_type_name(v));
    }
}
