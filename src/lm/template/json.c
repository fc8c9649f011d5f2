/* JSON conversions: jansson values into template values, and tojson exactly as Python's
 * json.dumps writes (", " and ": " separators, float repr, ensure_ascii choice, indent). */
#include "lm/template/json.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/template/interp.h"
#include "lm/template/strutil.h"

int lm_tpl_from_json(const struct json_t *cj, tv *out) {
    json_t *j = (json_t *)cj;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        tv d = tv_dict_new(0);
        if (tv_oom(d)) return -1;
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            tv key = tv_str_cstr(k), val;
            if (tv_oom(key) || lm_tpl_from_json(v, &val)) return tv_unref(key), tv_unref(d), -1;
            if (tv_dict_set(d, key, val)) return tv_unref(d), -1;
        }
        *out = d;
        return 0;
    }
    case JSON_ARRAY: {
        tv l = tv_list_new(json_array_size(j));
        if (tv_oom(l)) return -1;
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            tv val;
            if (lm_tpl_from_json(v, &val) || tv_list_push(l, val)) return tv_unref(l), -1;
        }
        *out = l;
        return 0;
    }
    case JSON_STRING:
        *out = tv_str_new(json_string_value(j), json_string_length(j));
        return tv_oom(*out) ? -1 : 0;
    case JSON_INTEGER:
        *out = tv_int(json_integer_value(j));
        return 0;
    case JSON_REAL:
        *out = tv_float(json_real_value(j));
        return 0;
    case JSON_TRUE:
        *out = tv_bool(1);
        return 0;
    case JSON_FALSE:
        *out = tv_bool(0);
        return 0;
    default:
        *out = tv_none();
        return 0;
    }
}

int lm_tpl_parse_json(const char *text, const char *what, tv *out) {
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!j) return mx_set_error("%s is not valid JSON: %s (line %d, column %d)", what, err.text, err.line, err.column);
    int rc = lm_tpl_from_json(j, out);
    json_decref(j);
    return rc;
}

static void write_json_string(const char *s, size_t n, int ensure_ascii, strbuf *sb) {
    strbuf_putc(sb, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            switch (c) {
            case '"': strbuf_puts(sb, "\\\""); break;
            case '\\': strbuf_puts(sb, "\\\\"); break;
            case '\n': strbuf_puts(sb, "\\n"); break;
            case '\r': strbuf_puts(sb, "\\r"); break;
            case '\t': strbuf_puts(sb, "\\t"); break;
            case '\b': strbuf_puts(sb, "\\b"); break;
            case '\f': strbuf_puts(sb, "\\f"); break;
            default:
                if (c < 0x20 || (ensure_ascii && c == 0x7f)) strbuf_printf(sb, "\\u%04x", c);
                else strbuf_putc(sb, (char)c);
            }
            i++;
            continue;
        }
        int32_t cp;
        size_t k = u8_next(s, n, i, &cp);
        if (!ensure_ascii) {
            strbuf_append(sb, s + i, k);
        } else if (cp >= 0x10000) {
            int32_t v = cp - 0x10000;
            strbuf_printf(sb, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
        } else {
            strbuf_printf(sb, "\\u%04x", cp);
        }
        i += k;
    }
    strbuf_putc(sb, '"');
}

static void json_float(double f, strbuf *sb) {
    if (isnan(f)) strbuf_puts(sb, "NaN");
    else if (isinf(f)) strbuf_puts(sb, f < 0 ? "-Infinity" : "Infinity");
    else tv_write_float(f, sb);
}

static void newline_indent(const tojson_opts *o, int level, strbuf *sb) {
    strbuf_putc(sb, '\n');
    for (int l = 0; l < level; l++) {
        if (o->indent_str) strbuf_puts(sb, o->indent_str);
        else for (int k = 0; k < o->indent; k++) strbuf_putc(sb, ' ');
    }
}

static int indented(const tojson_opts *o) { return o->indent_str != NULL || o->indent >= 0; }

static int key_text(interp *in, tv k, strbuf *sb, const tojson_opts *o) {
    switch (k.type) {
    case TV_STR: write_json_string(tv_as_str(k)->data, tv_as_str(k)->len, o->ensure_ascii, sb); return 0;
    case TV_INT: strbuf_printf(sb, "\"%lld\"", (long long)k.u.i); return 0;
    case TV_BOOL: strbuf_puts(sb, k.u.b ? "\"true\"" : "\"false\""); return 0;
    case TV_NONE: strbuf_puts(sb, "\"null\""); return 0;
    case TV_FLOAT: strbuf_putc(sb, '"'); json_float(k.u.f, sb); strbuf_putc(sb, '"'); return 0;
    default:
        return lm_tpl_fail(in, "TypeError", "keys must be str, int, float, bool or None, not %s", tv_type_name(k));
    }
}

static int dump(interp *in, tv v, const tojson_opts *o, int level, strbuf *sb);

static int cmp_keys(const void *x, const void *y) {
    const tv *a = *(const tv *const *)x, *b = *(const tv *const *)y;
    if (a->type != TV_STR || b->type != TV_STR) return 0;
    tv_str *s = tv_as_str(*a), *t = tv_as_str(*b);
    size_t n = s->len < t->len ? s->len : t->len;
    int c = memcmp(s->data, t->data, n);
    return c ? c : (s->len > t->len) - (s->len < t->len);
}

static int dump_dict(interp *in, tv v, const tojson_opts *o, int level, strbuf *sb) {
    tv_dict *d = tv_as_dict(v);
    if (d->len == 0) {
        strbuf_puts(sb, "{}");
        return 0;
    }
    size_t *order = malloc(d->len * sizeof(size_t));
    if (!order) return mx_set_error("template: out of memory in tojson");
    for (size_t i = 0; i < d->len; i++) order[i] = i;
    if (o->sort_keys) {
        const tv **keys = malloc(d->len * sizeof(tv *));
        if (!keys) return free(order), mx_set_error("template: out of memory in tojson");
        for (size_t i = 0; i < d->len; i++) keys[i] = &d->keys[i];
        qsort(keys, d->len, sizeof(tv *), cmp_keys);
        for (size_t i = 0; i < d->len; i++) order[i] = (size_t)(keys[i] - d->keys);
        free(keys);
    }
    strbuf_putc(sb, '{');
    int rc = 0;
    for (size_t i = 0; i < d->len && !rc; i++) {
        if (i) strbuf_puts(sb, o->item_sep);
        if (indented(o)) newline_indent(o, level + 1, sb);
        rc = key_text(in, d->keys[order[i]], sb, o);
        if (!rc) {
            strbuf_puts(sb, o->key_sep);
            rc = dump(in, d->vals[order[i]], o, level + 1, sb);
        }
    }
    free(order);
    if (rc) return -1;
    if (indented(o)) newline_indent(o, level, sb);
    strbuf_putc(sb, '}');
    return 0;
}

static int dump(interp *in, tv v, const tojson_opts *o, int level, strbuf *sb) {
    if (level > 500) return lm_tpl_fail(in, "RecursionError", "maximum recursion depth exceeded while encoding a JSON object");
    switch (v.type) {
    case TV_NONE: strbuf_puts(sb, "null"); return 0;
    case TV_BOOL: strbuf_puts(sb, v.u.b ? "true" : "false"); return 0;
    case TV_INT: strbuf_printf(sb, "%lld", (long long)v.u.i); return 0;
    case TV_FLOAT: json_float(v.u.f, sb); return 0;
    case TV_STR: write_json_string(tv_as_str(v)->data, tv_as_str(v)->len, o->ensure_ascii, sb); return 0;
    case TV_LIST: {
        tv_list *l = tv_as_list(v);
        if (v.flag & TVF_VIEW) return lm_tpl_fail(in, "TypeError", "Object of type %s is not JSON serializable", tv_type_name(v));
        if (l->len == 0) {
            strbuf_puts(sb, "[]");
            return 0;
        }
        strbuf_putc(sb, '[');
        for (size_t i = 0; i < l->len; i++) {
            if (i) strbuf_puts(sb, o->item_sep);
            if (indented(o)) newline_indent(o, level + 1, sb);
            if (dump(in, l->items[i], o, level + 1, sb)) return -1;
        }
        if (indented(o)) newline_indent(o, level, sb);
        strbuf_putc(sb, ']');
        return 0;
    }
    case TV_DICT: return dump_dict(in, v, o, level, sb);
    default:
        return lm_tpl_fail(in, "TypeError", "Object of type %s is not JSON serializable", tv_type_name(v));
    }
}

int lm_tpl_tojson(interp *in, tv v, const tojson_opts *o, strbuf *sb) {
    if (dump(in, v, o, 0, sb)) return -1;
    return sb->failed ? -1 : 0;
}
