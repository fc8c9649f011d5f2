/* Template values: reference counting, containers, truthiness, equality and printing
 * with Python's str()/repr() rules. */
#include "lm/template/value.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "cmlx/error.h"

tv tv_ref(tv v) {
    if (tv_is_heap(v) && v.u.o) v.u.o->refs++;
    return v;
}

static void free_obj(tv v) {
    switch (v.type) {
    case TV_UNDEF:
    case TV_STR:
        free(v.u.o);
        break;
    case TV_LIST: {
        tv_list *l = tv_as_list(v);
        for (size_t i = 0; i < l->len; i++) tv_unref(l->items[i]);
        free(l->items);
        free(l);
        break;
    }
    case TV_DICT:
    case TV_NS: {
        tv_dict *d = tv_as_dict(v);
        for (size_t i = 0; i < d->len; i++) {
            tv_unref(d->keys[i]);
            tv_unref(d->vals[i]);
        }
        free(d->keys);
        free(d->vals);
        hashmap_free(d->index);
        free(d);
        break;
    }
    case TV_FUNC: {
        tv_func *f = tv_as_func(v);
        tv_unref(f->self);
        tv_unref(f->state);
        tv_unref(f->caller);
        free(f);
        break;
    }
    case TV_LOOP: {
        tv_loop *l = tv_as_loop(v);
        tv lv = {TV_LIST, 0, {.o = &l->items->h}};
        if (l->items) tv_unref(lv);
        tv_unref(l->last_changed);
        free(l);
        break;
    }
    default:
        break;
    }
}

void tv_unref(tv v) {
    if (!tv_is_heap(v) || !v.u.o) return;
    if (--v.u.o->refs == 0) free_obj(v);
}

int tv_oom(tv v) { return v.type >= TV_STR && v.u.o == NULL; }

tv tv_str_new(const char *s, size_t len) {
    tv v = {TV_STR, 0, {.o = NULL}};
    tv_str *o = malloc(sizeof(tv_str) + len + 1);
    if (!o) {
        mx_set_error("template: out of memory allocating a %zu-byte string", len);
        return v;
    }
    o->h.refs = 1;
    o->len = len;
    if (len) memcpy(o->data, s, len);
    o->data[len] = 0;
    v.u.o = &o->h;
    return v;
}

tv tv_str_cstr(const char *s) { return tv_str_new(s, strlen(s)); }

tv tv_str_from_buf(strbuf *sb) {
    tv v;
    if (sb->failed) {
        v.type = TV_STR;
        v.flag = 0;
        v.u.o = NULL;
    } else {
        v = tv_str_new(sb->data ? sb->data : "", sb->len);
    }
    strbuf_free(sb);
    return v;
}

tv tv_undef_msg(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
    tv s = tv_str_new(buf, (size_t)n);
    tv u = tv_undef();
    u.u.o = s.u.o; /* NULL on OOM: a plain Undefined */
    return u;
}

tv tv_list_new(size_t cap) {
    tv v = {TV_LIST, 0, {.o = NULL}};
    tv_list *l = calloc(1, sizeof *l);
    if (!l) {
        mx_set_error("template: out of memory allocating a list");
        return v;
    }
    l->h.refs = 1;
    if (cap) {
        l->items = malloc(cap * sizeof(tv));
        if (!l->items) {
            free(l);
            mx_set_error("template: out of memory allocating a list of %zu", cap);
            return v;
        }
        l->cap = cap;
    }
    v.u.o = &l->h;
    return v;
}

int tv_list_push(tv list, tv item) {
    tv_list *l = tv_as_list(list);
    if (l->len == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 4;
        tv *ni = realloc(l->items, nc * sizeof(tv));
        if (!ni) {
            tv_unref(item);
            return mx_set_error("template: out of memory growing a list to %zu", nc);
        }
        l->items = ni;
        l->cap = nc;
    }
    l->items[l->len++] = item;
    return 0;
}

static tv dict_new_typed(uint8_t type, size_t cap) {
    tv v = {type, 0, {.o = NULL}};
    tv_dict *d = calloc(1, sizeof *d);
    if (!d) {
        mx_set_error("template: out of memory allocating a dict");
        return v;
    }
    d->h.refs = 1;
    (void)cap;
    v.u.o = &d->h;
    return v;
}

tv tv_dict_new(size_t cap) { return dict_new_typed(TV_DICT, cap); }
tv tv_ns_new(void) { return dict_new_typed(TV_NS, 0); }

enum { DICT_INDEX_MIN = 8 };

static int dict_find(tv_dict *d, tv key, size_t *slot) {
    if (key.type == TV_STR && d->index) {
        tv_str *s = tv_as_str(key);
        int64_t at;
        if (hashmap_get(d->index, s->data, s->len, &at)) {
            *slot = (size_t)at;
            return 1;
        }
        return 0;
    }
    for (size_t i = 0; i < d->len; i++) {
        if (tv_equal(d->keys[i], key)) {
            *slot = i;
            return 1;
        }
    }
    return 0;
}

static int dict_index_add(tv_dict *d, size_t slot) {
    if (!d->index) {
        if (d->len < DICT_INDEX_MIN) return 0;
        d->index = hashmap_new(d->len * 2);
        if (!d->index) return -1;
        for (size_t i = 0; i < d->len; i++) {
            if (d->keys[i].type != TV_STR) continue;
            tv_str *s = tv_as_str(d->keys[i]);
            if (hashmap_put(d->index, s->data, s->len, (int64_t)i) != 0) return -1;
        }
        return 0;
    }
    if (d->keys[slot].type != TV_STR) return 0;
    tv_str *s = tv_as_str(d->keys[slot]);
    return hashmap_put(d->index, s->data, s->len, (int64_t)slot);
}

int tv_dict_set(tv dict, tv key, tv val) {
    tv_dict *d = tv_as_dict(dict);
    size_t slot;
    /* Python treats 1, 1.0 and True as one key; lookups below use tv_equal for that. */
    if (dict_find(d, key, &slot)) {
        tv_unref(d->vals[slot]);
        d->vals[slot] = val;
        tv_unref(key);
        return 0;
    }
    if (d->len == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 4;
        tv *nk = realloc(d->keys, nc * sizeof(tv));
        if (nk) d->keys = nk;
        tv *nv = nk ? realloc(d->vals, nc * sizeof(tv)) : NULL;
        if (nv) d->vals = nv;
        if (!nk || !nv) {
            tv_unref(key);
            tv_unref(val);
            return mx_set_error("template: out of memory growing a dict to %zu", nc);
        }
        d->cap = nc;
    }
    d->keys[d->len] = key;
    d->vals[d->len] = val;
    d->len++;
    return dict_index_add(d, d->len - 1);
}

int tv_dict_set_cstr(tv dict, const char *key, tv val) {
    tv k = tv_str_cstr(key);
    if (tv_oom(k)) {
        tv_unref(val);
        return -1;
    }
    return tv_dict_set(dict, k, val);
}

tv *tv_dict_get(tv dict, tv key) {
    tv_dict *d = tv_as_dict(dict);
    size_t slot;
    return dict_find(d, key, &slot) ? &d->vals[slot] : NULL;
}

tv *tv_dict_get_str(tv dict, const char *key, size_t len) {
    tv_dict *d = tv_as_dict(dict);
    if (d->index) {
        int64_t at;
        return hashmap_get(d->index, key, len, &at) ? &d->vals[at] : NULL;
    }
    for (size_t i = 0; i < d->len; i++) {
        tv k = d->keys[i];
        if (k.type == TV_STR && tv_as_str(k)->len == len && memcmp(tv_as_str(k)->data, key, len) == 0)
            return &d->vals[i];
    }
    return NULL;
}

int tv_truthy(tv v) {
    switch (v.type) {
    case TV_UNDEF:
    case TV_NONE:
        return 0;
    case TV_BOOL:
        return v.u.b;
    case TV_INT:
        return v.u.i != 0;
    case TV_FLOAT:
        return v.u.f != 0.0;
    case TV_STR:
        return tv_as_str(v)->len != 0;
    case TV_LIST:
        return tv_as_list(v)->len != 0;
    case TV_DICT:
        return tv_as_dict(v)->len != 0;
    default:
        return 1;
    }
}

static int is_number(tv v) { return v.type == TV_BOOL || v.type == TV_INT || v.type == TV_FLOAT; }
static double num_as_double(tv v) {
    return v.type == TV_FLOAT ? v.u.f : v.type == TV_INT ? (double)v.u.i : (double)v.u.b;
}

int tv_equal(tv a, tv b) {
    if (is_number(a) && is_number(b)) {
        if (a.type != TV_FLOAT && b.type != TV_FLOAT) {
            int64_t x = a.type == TV_INT ? a.u.i : a.u.b, y = b.type == TV_INT ? b.u.i : b.u.b;
            return x == y;
        }
        return num_as_double(a) == num_as_double(b);
    }
    if (a.type != b.type) return 0;
    switch (a.type) {
    case TV_UNDEF:
    case TV_NONE:
        return 1;
    case TV_STR: {
        tv_str *x = tv_as_str(a), *y = tv_as_str(b);
        return x->len == y->len && memcmp(x->data, y->data, x->len) == 0;
    }
    case TV_LIST: {
        tv_list *x = tv_as_list(a), *y = tv_as_list(b);
        if ((a.flag & TVF_TUPLE) != (b.flag & TVF_TUPLE) || x->len != y->len) return 0;
        for (size_t i = 0; i < x->len; i++)
            if (!tv_equal(x->items[i], y->items[i])) return 0;
        return 1;
    }
    case TV_DICT: {
        tv_dict *x = tv_as_dict(a), *y = tv_as_dict(b);
        if (x->len != y->len) return 0;
        for (size_t i = 0; i < x->len; i++) {
            tv *o = tv_dict_get(b, x->keys[i]);
            if (!o || !tv_equal(x->vals[i], *o)) return 0;
        }
        return 1;
    }
    default:
        return a.u.o == b.u.o;
    }
}

const char *tv_type_name(tv v) {
    switch (v.type) {
    case TV_UNDEF: return "Undefined";
    case TV_NONE: return "NoneType";
    case TV_BOOL: return "bool";
    case TV_INT: return "int";
    case TV_FLOAT: return "float";
    case TV_LIST:
        return (v.flag & TVF_TUPLE) ? "tuple" : (v.flag & TVF_ITEMS) ? "dict_items" : (v.flag & TVF_KEYS) ? "dict_keys"
             : (v.flag & TVF_VALUES) ? "dict_values" : "list";
    case TV_STR: return (v.flag & TVF_SAFE) ? "Markup" : "str";
    case TV_DICT: return "dict";
    case TV_NS: return "Namespace";
    case TV_FUNC: return tv_as_func(v)->kind == FN_MACRO ? "Macro" : "builtin_function_or_method";
    case TV_LOOP: return "LoopContext";
    }
    return "object";
}

void tv_object_type_repr(tv v, strbuf *sb) {
    if (v.type == TV_NONE) {
        strbuf_puts(sb, "None");
    } else if (v.type == TV_NS) {
        strbuf_puts(sb, "jinja2.utils.Namespace object");
    } else if (v.type == TV_LOOP) {
        strbuf_puts(sb, "jinja2.runtime.LoopContext object");
    } else if (v.type == TV_FUNC && tv_as_func(v)->kind == FN_MACRO) {
        strbuf_puts(sb, "jinja2.runtime.Macro object");
    } else {
        strbuf_printf(sb, "%s object", tv_type_name(v));
    }
}

/* Python's float repr: the shortest digit string that reads back to the same double,
 * fixed notation for exponents in [-4, 16), scientific otherwise. */
void tv_write_float(double f, strbuf *sb) {
    if (isnan(f)) {
        strbuf_puts(sb, "nan");
        return;
    }
    if (isinf(f)) {
        strbuf_puts(sb, f < 0 ? "-inf" : "inf");
        return;
    }
    if (f == 0) {
        strbuf_puts(sb, signbit(f) ? "-0.0" : "0.0");
        return;
    }
    char buf[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, f);
        if (strtod(buf, NULL) == f) break;
    }
    /* buf = [-]d.ddde[+-]xx; pull the digits and the exponent apart */
    char digits[32];
    int nd = 0, neg = 0;
    const char *p = buf;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    int decpt = exp10 + 1; /* value = 0.digits * 10^decpt */
    if (neg) strbuf_putc(sb, '-');
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            strbuf_puts(sb, "0.");
            for (int i = 0; i < -decpt; i++) strbuf_putc(sb, '0');
            strbuf_puts(sb, digits);
        } else if (decpt >= nd) {
            strbuf_puts(sb, digits);
            for (int i = nd; i < decpt; i++) strbuf_putc(sb, '0');
            strbuf_puts(sb, ".0");
        } else {
            strbuf_append(sb, digits, (size_t)decpt);
            strbuf_putc(sb, '.');
            strbuf_puts(sb, digits + decpt);
        }
    } else {
        strbuf_putc(sb, digits[0]);
        if (nd > 1) {
            strbuf_putc(sb, '.');
            strbuf_puts(sb, digits + 1);
        }
        int e = decpt - 1;
        strbuf_printf(sb, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
}

static int cp_printable(int32_t cp) {
    if (cp == ' ') return 1;
    if (cp < 0x20 || cp == 0x7f) return 0;
    if (cp < 0x7f) return 1;
    utf8proc_category_t c = utf8proc_category(cp);
    switch (c) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
        return 0;
    default:
        return 1;
    }
}

void tv_write_str_repr(const char *s, size_t len, strbuf *sb) {
    int has_sq = memchr(s, '\'', len) != NULL, has_dq = memchr(s, '"', len) != NULL;
    char q = (has_sq && !has_dq) ? '"' : '\'';
    strbuf_putc(sb, q);
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) { /* invalid byte: show it escaped, as Python would for surrogateescape */
            strbuf_printf(sb, "\\x%02x", (unsigned char)s[i]);
            i++;
            continue;
        }
        if (cp == q || cp == '\\') {
            strbuf_putc(sb, '\\');
            strbuf_putc(sb, (char)cp);
        } else if (cp == '\n') {
            strbuf_puts(sb, "\\n");
        } else if (cp == '\r') {
            strbuf_puts(sb, "\\r");
        } else if (cp == '\t') {
            strbuf_puts(sb, "\\t");
        } else if (!cp_printable(cp)) {
            if (cp < 0x100) strbuf_printf(sb, "\\x%02x", cp);
            else if (cp < 0x10000) strbuf_printf(sb, "\\u%04x", cp);
            else strbuf_printf(sb, "\\U%08x", cp);
        } else {
            strbuf_append(sb, s + i, (size_t)n);
        }
        i += (size_t)n;
    }
    strbuf_putc(sb, q);
}

static int write_any(tv v, strbuf *sb, int repr) {
    switch (v.type) {
    case TV_UNDEF:
        if (repr) strbuf_puts(sb, "Undefined");
        break;
    case TV_NONE:
        strbuf_puts(sb, "None");
        break;
    case TV_BOOL:
        strbuf_puts(sb, v.u.b ? "True" : "False");
        break;
    case TV_INT:
        strbuf_printf(sb, "%lld", (long long)v.u.i);
        break;
    case TV_FLOAT:
        tv_write_float(v.u.f, sb);
        break;
    case TV_STR:
        if (repr) tv_write_str_repr(tv_as_str(v)->data, tv_as_str(v)->len, sb);
        else strbuf_append(sb, tv_as_str(v)->data, tv_as_str(v)->len);
        break;
    case TV_LIST: {
        tv_list *l = tv_as_list(v);
        int tuple = v.flag & TVF_TUPLE;
        if (v.flag & TVF_VIEW) strbuf_printf(sb, "%s(", tv_type_name(v));
        strbuf_putc(sb, tuple ? '(' : '[');
        for (size_t i = 0; i < l->len; i++) {
            if (i) strbuf_puts(sb, ", ");
            write_any(l->items[i], sb, 1);
        }
        if (tuple && l->len == 1) strbuf_putc(sb, ',');
        strbuf_putc(sb, tuple ? ')' : ']');
        if (v.flag & TVF_VIEW) strbuf_putc(sb, ')');
        break;
    }
    case TV_DICT:
    case TV_NS: {
        tv_dict *d = tv_as_dict(v);
        strbuf_puts(sb, v.type == TV_NS ? "<Namespace {" : "{");
        for (size_t i = 0; i < d->len; i++) {
            if (i) strbuf_puts(sb, ", ");
            write_any(d->keys[i], sb, 1);
            strbuf_puts(sb, ": ");
            write_any(d->vals[i], sb, 1);
        }
        strbuf_puts(sb, v.type == TV_NS ? "}>" : "}");
        break;
    }
    case TV_FUNC: {
        tv_func *f = tv_as_func(v);
        if (f->kind == FN_MACRO) strbuf_printf(sb, "<Macro '%s'>", f->name ? f->name : "caller");
        else strbuf_printf(sb, "<built-in function %s>", f->name);
        break;
    }
    case TV_LOOP: {
        tv_loop *l = tv_as_loop(v);
        strbuf_printf(sb, "<LoopContext %lld/%zu>", (long long)(l->index0 + 1), l->items->len);
        break;
    }
    }
    return sb->failed ? -1 : 0;
}

int tv_write_str(tv v, strbuf *sb) { return write_any(v, sb, 0); }
int tv_write_repr(tv v, strbuf *sb) { return write_any(v, sb, 1); }

tv tv_to_str(tv v) {
    if (v.type == TV_STR) return tv_ref(v);
    strbuf sb = STRBUF_INIT;
    write_any(v, &sb, 0);
    return tv_str_from_buf(&sb);
}
