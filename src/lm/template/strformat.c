/* Python's str.format(): {} / {0} / {name} fields with .attr and [key] lookups, !r / !s
 * conversions and the common format-spec subset ([[fill]align][sign][0][width][.prec][type]). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm/template/interp.h"
#include "lm/template/strutil.h"

static int format_spec(interp *in, tv v, const char *spec, size_t n, strbuf *out) {
    char fill = ' ', align = 0, sign = '-', type = 0;
    int width = 0, prec = -1;
    size_t i = 0;
    if (n >= 2 && strchr("<>^=", spec[1])) {
        fill = spec[0];
        align = spec[1];
        i = 2;
    } else if (n >= 1 && strchr("<>^=", spec[0])) {
        align = spec[0];
        i = 1;
    }
    if (i < n && strchr("+- ", spec[i])) sign = spec[i++];
    if (i < n && spec[i] == '#') i++;
    if (i < n && spec[i] == '0') {
        if (!align) {
            fill = '0';
            align = '=';
        }
        i++;
    }
    while (i < n && spec[i] >= '0' && spec[i] <= '9') width = width * 10 + (spec[i++] - '0');
    if (i < n && (spec[i] == ',' || spec[i] == '_')) i++;
    if (i < n && spec[i] == '.') {
        prec = 0;
        i++;
        while (i < n && spec[i] >= '0' && spec[i] <= '9') prec = prec * 10 + (spec[i++] - '0');
    }
    if (i < n) type = spec[i++];
    if (i != n) return lm_tpl_fail(in, "ValueError", "Invalid format specifier '%.*s'", (int)n, spec);
    strbuf body = STRBUF_INIT;
    strbuf_reserve(&body, 0);
    int numeric = v.type == TV_INT || v.type == TV_FLOAT || v.type == TV_BOOL;
    if (v.type == TV_UNDEF) return strbuf_free(&body), lm_tpl_fail_undefined(in, v);
    if (!numeric || type == 's') {
        if (type && type != 's') return strbuf_free(&body), lm_tpl_fail(in, "ValueError", "Unknown format code '%c' for object of type '%s'", type, tv_type_name(v));
        tv_write_str(v, &body);
        if (prec >= 0) body.len = u8_offset(body.data, body.len, (size_t)prec), body.data[body.len] = 0;
    } else {
        double d = v.type == TV_FLOAT ? v.u.f : (double)(v.type == TV_INT ? v.u.i : v.u.b);
        long long ll = v.type == TV_INT ? v.u.i : v.type == TV_BOOL ? v.u.b : 0;
        char f[16];
        if (!type && v.type != TV_FLOAT) type = 'd';
        if (type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b') {
            if (v.type == TV_FLOAT) return strbuf_free(&body), lm_tpl_fail(in, "ValueError", "Unknown format code '%c' for object of type 'float'", type);
            if (sign != '-' && ll >= 0) strbuf_putc(&body, sign);
            if (type == 'b') {
                unsigned long long u = ll < 0 ? (unsigned long long)(-ll) : (unsigned long long)ll;
                char bits[72];
                int k = 0;
                do bits[k++] = (char)('0' + (u & 1)); while (u >>= 1);
                if (ll < 0) strbuf_putc(&body, '-');
                while (k) strbuf_putc(&body, bits[--k]);
            } else {
                snprintf(f, sizeof f, "%%ll%c", type == 'd' ? 'd' : type);
                strbuf_printf(&body, f, ll);
            }
        } else if (!type) {
            if (sign != '-' && d >= 0) strbuf_putc(&body, sign);
            if (prec >= 0) strbuf_printf(&body, "%.*g", prec ? prec : 1, d);
            else tv_write_float(d, &body);
        } else if (strchr("eEfFgG%", type)) {
            if (sign != '-' && d >= 0) strbuf_putc(&body, sign);
            if (type == '%') {
                strbuf_printf(&body, "%.*f%%", prec < 0 ? 6 : prec, d * 100);
            } else {
                snprintf(f, sizeof f, "%%.*%c", type);
                strbuf_printf(&body, f, prec < 0 ? 6 : prec, d);
            }
        } else {
            strbuf_free(&body);
            return lm_tpl_fail(in, "ValueError", "Unknown format code '%c' for object of type '%s'", type, tv_type_name(v));
        }
    }
    if (!align) align = numeric && type != 's' ? '>' : '<';
    int len = (int)u8_count(body.data, body.len);
    int pad = width > len ? width - len : 0;
    int left = align == '>' ? pad : align == '^' ? pad / 2 : 0;
    if (align == '=' && body.len && (body.data[0] == '-' || body.data[0] == '+' || body.data[0] == ' ')) {
        strbuf_putc(out, body.data[0]);
        for (int k = 0; k < pad; k++) strbuf_putc(out, fill);
        strbuf_append(out, body.data + 1, body.len - 1);
    } else {
        if (align == '=') left = pad;
        for (int k = 0; k < left; k++) strbuf_putc(out, fill);
        strbuf_append(out, body.data, body.len);
        for (int k = left; k < pad; k++) strbuf_putc(out, fill);
    }
    strbuf_free(&body);
    return 0;
}

static int resolve_field(interp *in, const char *p, size_t n, const targs *a, int *auto_idx, tv *out) {
    size_t i = 0;
    while (i < n && p[i] != '.' && p[i] != '[') i++;
    tv cur;
    if (i == 0 || (p[0] >= '0' && p[0] <= '9')) {
        int idx = i == 0 ? (*auto_idx)++ : atoi(p);
        if (idx >= a->npos) return lm_tpl_fail(in, "IndexError", "Replacement index %d out of range for positional args tuple", idx);
        cur = tv_ref(a->pos[idx]);
    } else {
        int k = 0;
        while (k < a->nkw && (strlen(a->kwnames[k]) != i || memcmp(a->kwnames[k], p, i))) k++;
        if (k == a->nkw) return lm_tpl_fail(in, "KeyError", "'%.*s'", (int)i, p);
        cur = tv_ref(a->kwvals[k]);
    }
    while (i < n) {
        tv next;
        int rc;
        if (p[i] == '.') {
            size_t j = ++i;
            while (j < n && p[j] != '.' && p[j] != '[') j++;
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(j - i), p + i);
            rc = lm_tpl_getattr(in, cur, name, &next);
            i = j;
        } else {
            size_t j = ++i;
            while (j < n && p[j] != ']') j++;
            int digits = j > i;
            for (size_t k = i; k < j; k++)
                if (p[k] < '0' || p[k] > '9') digits = 0;
            tv key = digits ? tv_int(atoll(p + i)) : tv_str_new(p + i, j - i);
            rc = lm_tpl_getitem(in, cur, key, &next);
            tv_unref(key);
            i = j + 1;
        }
        tv_unref(cur);
        if (rc) return -1;
        cur = next;
    }
    *out = cur;
    return 0;
}

int lm_tpl_str_format(interp *in, tv self, const targs *a, tv *out) {
    const char *s = tv_as_str(self)->data;
    size_t n = tv_as_str(self)->len;
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, n);
    int auto_idx = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '}' ) {
            if (i + 1 < n && s[i + 1] == '}') i++;
            else return strbuf_free(&sb), lm_tpl_fail(in, "ValueError", "Single '}' encountered in format string");
            strbuf_putc(&sb, '}');
            continue;
        }
        if (c != '{') {
            strbuf_putc(&sb, c);
            continue;
        }
        if (i + 1 < n && s[i + 1] == '{') {
            strbuf_putc(&sb, '{');
            i++;
            continue;
        }
        size_t j = i + 1;
        int depth = 1;
        while (j < n && depth) {
            if (s[j] == '{') depth++;
            else if (s[j] == '}' && --depth == 0) break;
            j++;
        }
        if (j >= n) return strbuf_free(&sb), lm_tpl_fail(in, "ValueError", "Single '{' encountered in format string");
        const char *f = s + i + 1;
        size_t fl = j - i - 1, name_end = 0;
        while (name_end < fl && f[name_end] != '!' && f[name_end] != ':') name_end++;
        char conv = 0;
        size_t spec_at = name_end;
        if (spec_at < fl && f[spec_at] == '!') {
            conv = spec_at + 1 < fl ? f[spec_at + 1] : 0;
            spec_at += 2;
        }
        tv v;
        if (resolve_field(in, f, name_end, a, &auto_idx, &v)) return strbuf_free(&sb), -1;
        if (conv == 'r' || conv == 'a' || conv == 's') {
            strbuf t = STRBUF_INIT;
            strbuf_reserve(&t, 0);
            if (conv == 's') tv_write_str(v, &t);
            else tv_write_repr(v, &t);
            tv_unref(v);
            v = tv_str_from_buf(&t);
            if (tv_oom(v)) return strbuf_free(&sb), -1;
        }
        const char *spec = spec_at < fl && f[spec_at] == ':' ? f + spec_at + 1 : "";
        size_t sl = spec_at < fl && f[spec_at] == ':' ? fl - spec_at - 1 : 0;
        int rc = format_spec(in, v, spec, sl, &sb);
        tv_unref(v);
        if (rc) return strbuf_free(&sb), -1;
        i = j;
    }
    *out = tv_str_from_buf(&sb);
    return tv_oom(*out) ? -1 : 0;
}
