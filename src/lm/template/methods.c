/* Python methods templates call on values: str (startswith, split, strip, format ...),
 * dict (items, keys, values, get, copy) and list (index, count, copy). Mutating list and
 * dict methods are refused by ops.c as the immutable sandbox refuses them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/template/interp.h"
#include "lm/template/strutil.h"

#define SELF_STR(f) tv_as_str((f)->self)

static int ret_buf(strbuf *sb, tv *out) {
    *out = tv_str_from_buf(sb);
    return tv_oom(*out) ? -1 : 0;
}

static int need_str(interp *in, tv v, const char *what) {
    if (v.type == TV_STR) return 0;
    if (v.type == TV_UNDEF) return lm_tpl_fail_undefined(in, v);
    return lm_tpl_fail(in, "TypeError", "%s must be str, not %s", what, tv_type_name(v));
}

/* Byte range of s[start:end] with Python index semantics on code points. */
static void cp_range(tv_str *s, const bound_args *b, int si, size_t *bs, size_t *be) {
    int64_t len = (int64_t)u8_count(s->data, s->len);
    int64_t st = 0, en = len;
    if (b->has[si] && b->v[si].type == TV_INT) st = b->v[si].u.i;
    if (b->has[si + 1] && b->v[si + 1].type == TV_INT) en = b->v[si + 1].u.i;
    if (st < 0) st = st + len < 0 ? 0 : st + len;
    if (en < 0) en = en + len < 0 ? 0 : en + len;
    if (st > len) st = len;
    if (en > len) en = len;
    if (en < st) en = st;
    *bs = u8_offset(s->data, s->len, (size_t)st);
    *be = u8_offset(s->data, s->len, (size_t)en);
}

static int starts_ends(interp *in, tv_func *f, const targs *a, tv *out, int ends) {
    static const char *const names[] = {"prefix", "start", "end", NULL};
    bound_args b;
    const char *nm = ends ? "endswith" : "startswith";
    if (lm_tpl_bind(in, a, nm, names, &b)) return -1;
    if (!b.has[0]) return lm_tpl_fail(in, "TypeError", "%s() takes at least 1 argument (0 given)", nm);
    tv_str *s = SELF_STR(f);
    size_t bs, be;
    cp_range(s, &b, 1, &bs, &be);
    tv p = b.v[0];
    size_t count = p.type == TV_LIST && (p.flag & TVF_TUPLE) ? tv_as_list(p)->len : 1;
    int hit = 0;
    for (size_t i = 0; i < count && !hit; i++) {
        tv x = p.type == TV_LIST && (p.flag & TVF_TUPLE) ? tv_as_list(p)->items[i] : p;
        if (x.type != TV_STR)
            return lm_tpl_fail(in, "TypeError", "%s first arg must be str or a tuple of str, not %s", nm, tv_type_name(x));
        tv_str *t = tv_as_str(x);
        if (t->len > be - bs) continue;
        hit = memcmp(s->data + (ends ? be - t->len : bs), t->data, t->len) == 0;
    }
    *out = tv_bool(hit);
    return 0;
}

static int m_startswith(interp *in, tv_func *f, const targs *a, tv *out) { return starts_ends(in, f, a, out, 0); }
static int m_endswith(interp *in, tv_func *f, const targs *a, tv *out) { return starts_ends(in, f, a, out, 1); }

static int push_piece(tv list, const char *s, size_t n) {
    tv x = tv_str_new(s, n);
    if (tv_oom(x)) return -1;
    return tv_list_push(list, x);
}

static void reverse_list(tv l) {
    tv_list *x = tv_as_list(l);
    for (size_t i = 0; i < x->len / 2; i++) {
        tv t = x->items[i];
        x->items[i] = x->items[x->len - 1 - i];
        x->items[x->len - 1 - i] = t;
    }
}

static int split_impl(interp *in, tv_func *f, const targs *a, tv *out, int from_right) {
    static const char *const names[] = {"sep", "maxsplit", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, from_right ? "rsplit" : "split", names, &b)) return -1;
    tv_str *s = SELF_STR(f);
    int64_t maxsplit = b.has[1] && b.v[1].type == TV_INT ? b.v[1].u.i : -1;
    tv r = tv_list_new(0);
    if (tv_oom(r)) return -1;
    int rc = 0;
    if (!b.has[0] || b.v[0].type == TV_NONE) {
        /* whitespace split: runs of whitespace, no empty strings */
        const char *p = s->data;
        size_t n = s->len;
        if (!from_right) {
            size_t i = 0;
            while (!rc) {
                int32_t cp;
                while (i < n && py_isspace((u8_next(p, n, i, &cp), cp))) i += u8_next(p, n, i, &cp);
                if (i >= n) break;
                if (maxsplit >= 0 && (int64_t)tv_as_list(r)->len == maxsplit) {
                    size_t e = n;
                    while (e > i) {
                        size_t q = e - 1;
                        while (q > i && ((unsigned char)p[q] & 0xC0) == 0x80) q--;
                        if (!py_isspace((u8_next(p, n, q, &cp), cp))) break;
                        e = q;
                    }
                    rc = push_piece(r, p + i, e - i);
                    break;
                }
                size_t j = i;
                while (j < n && !py_isspace((u8_next(p, n, j, &cp), cp))) j += u8_next(p, n, j, &cp);
                rc = push_piece(r, p + i, j - i);
                i = j;
            }
        } else {
            size_t e = n;
            while (!rc) {
                int32_t cp;
                while (e > 0) {
                    size_t q = e - 1;
                    while (q > 0 && ((unsigned char)p[q] & 0xC0) == 0x80) q--;
                    if (!py_isspace((u8_next(p, n, q, &cp), cp))) break;
                    e = q;
                }
                if (e == 0) break;
                if (maxsplit >= 0 && (int64_t)tv_as_list(r)->len == maxsplit) {
                    size_t st = 0;
                    while (st < e && py_isspace((u8_next(p, n, st, &cp), cp))) st += u8_next(p, n, st, &cp);
                    rc = push_piece(r, p + st, e - st);
                    break;
                }
                size_t st = e;
                while (st > 0) {
                    size_t q = st - 1;
                    while (q > 0 && ((unsigned char)p[q] & 0xC0) == 0x80) q--;
                    if (py_isspace((u8_next(p, n, q, &cp), cp))) break;
                    st = q;
                }
                rc = push_piece(r, p + st, e - st);
                e = st;
            }
            reverse_list(r);
        }
    } else {
        if (need_str(in, b.v[0], "sep")) return tv_unref(r), -1;
        tv_str *sep = tv_as_str(b.v[0]);
        if (sep->len == 0) return tv_unref(r), lm_tpl_fail(in, "ValueError", "empty separator");
        if (!from_right) {
            size_t i = 0;
            int64_t splits = 0;
            for (;;) {
                int64_t at = maxsplit >= 0 && splits >= maxsplit ? -1 : py_find(s->data, s->len, sep->data, sep->len, i);
                if (at < 0) {
                    rc = push_piece(r, s->data + i, s->len - i);
                    break;
                }
                if ((rc = push_piece(r, s->data + i, (size_t)at - i))) break;
                i = (size_t)at + sep->len;
                splits++;
            }
        } else {
            size_t e = s->len;
            int64_t splits = 0;
            for (;;) {
                int64_t at = maxsplit >= 0 && splits >= maxsplit ? -1 : py_rfind(s->data, e, sep->data, sep->len);
                if (at < 0) {
                    rc = push_piece(r, s->data, e);
                    break;
                }
                if ((rc = push_piece(r, s->data + at + sep->len, e - (size_t)at - sep->len))) break;
                e = (size_t)at;
                splits++;
            }
            reverse_list(r);
        }
    }
    if (rc) return tv_unref(r), -1;
    *out = r;
    return 0;
}

static int m_split(interp *in, tv_func *f, const targs *a, tv *out) { return split_impl(in, f, a, out, 0); }
static int m_rsplit(interp *in, tv_func *f, const targs *a, tv *out) { return split_impl(in, f, a, out, 1); }

static int strip_impl(interp *in, tv_func *f, const targs *a, tv *out, char which, const char *nm) {
    static const char *const names[] = {"chars", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, nm, names, &b)) return -1;
    tv_str *s = SELF_STR(f);
    const char *chars = NULL;
    size_t nchars = 0;
    if (b.has[0] && b.v[0].type != TV_NONE) {
        if (need_str(in, b.v[0], "chars")) return -1;
        chars = tv_as_str(b.v[0])->data;
        nchars = tv_as_str(b.v[0])->len;
    }
    size_t st, en;
    py_strip(s->data, s->len, chars, nchars, which, &st, &en);
    *out = tv_str_new(s->data + st, en - st);
    return tv_oom(*out) ? -1 : 0;
}

static int m_strip(interp *in, tv_func *f, const targs *a, tv *out) { return strip_impl(in, f, a, out, 'b', "strip"); }
static int m_lstrip(interp *in, tv_func *f, const targs *a, tv *out) { return strip_impl(in, f, a, out, 'l', "lstrip"); }
static int m_rstrip(interp *in, tv_func *f, const targs *a, tv *out) { return strip_impl(in, f, a, out, 'r', "rstrip"); }

static int case_impl(interp *in, tv_func *f, const targs *a, tv *out, char mode, const char *nm) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, nm, names, &b)) return -1;
    tv_str *s = SELF_STR(f);
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, s->len);
    if (mode == 't') py_title(s->data, s->len, &sb);
    else if (mode == 'c') py_capitalize(s->data, s->len, &sb);
    else if (mode == 's') {
        for (size_t i = 0; i < s->len;) {
            int32_t cp;
            size_t k = u8_next(s->data, s->len, i, &cp);
            strbuf low = STRBUF_INIT;
            py_case(s->data + i, k, 'l', &low);
            int was_lower = low.len == k && !memcmp(low.data, s->data + i, k);
            strbuf_free(&low);
            py_case(s->data + i, k, was_lower ? 'u' : 'l', &sb);
            i += k;
        }
    } else py_case(s->data, s->len, mode, &sb);
    return ret_buf(&sb, out);
}

static int m_upper(interp *in, tv_func *f, const targs *a, tv *out) { return case_impl(in, f, a, out, 'u', "upper"); }
static int m_lower(interp *in, tv_func *f, const targs *a, tv *out) { return case_impl(in, f, a, out, 'l', "lower"); }
static int m_casefold(interp *in, tv_func *f, const targs *a, tv *out) { return case_impl(in, f, a, out, 'l', "casefold"); }
static int m_title(interp *in, tv_func *f, const targs *a, tv *out) { return case_impl(in, f, a, out, 't', "title"); }
static int m_capitalize(interp *in, tv_func *f, const targs *a, tv *out) { return case_impl(in, f, a, out, 'c', "capitalize"); }
static int m_swapcase(interp *in, tv_func *f, const targs *a, tv *out) { return case_impl(in, f, a, out, 's', "swapcase"); }

static int m_replace(interp *in, tv_func *f, const targs *a, tv *out) {
    static const char *const names[] = {"old", "new", "count", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "replace", names, &b)) return -1;
    if (!b.has[0] || !b.has[1]) return lm_tpl_fail(in, "TypeError", "replace expected at least 2 arguments");
    if (need_str(in, b.v[0], "replace() argument 1") || need_str(in, b.v[1], "replace() argument 2")) return -1;
    int64_t count = b.has[2] && b.v[2].type == TV_INT ? b.v[2].u.i : -1;
    tv_str *s = SELF_STR(f), *o = tv_as_str(b.v[0]), *nw = tv_as_str(b.v[1]);
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, s->len);
    if (o->len == 0) { /* insert new between every code point */
        int64_t done = 0;
        for (size_t i = 0;; ) {
            if (count < 0 || done < count) {
                strbuf_append(&sb, nw->data, nw->len);
                done++;
            }
            if (i >= s->len) break;
            int32_t cp;
            size_t k = u8_next(s->data, s->len, i, &cp);
            strbuf_append(&sb, s->data + i, k);
            i += k;
        }
        return ret_buf(&sb, out);
    }
    size_t i = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        int64_t at = py_find(s->data, s->len, o->data, o->len, i);
        if (at < 0) break;
        strbuf_append(&sb, s->data + i, (size_t)at - i);
        strbuf_append(&sb, nw->data, nw->len);
        i = (size_t)at + o->len;
        done++;
    }
    strbuf_append(&sb, s->data + i, s->len - i);
    return ret_buf(&sb, out);
}

static int find_impl(interp *in, tv_func *f, const targs *a, tv *out, int rev, int raise, const char *nm) {
    static const char *const names[] = {"sub", "start", "end", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, nm, names, &b)) return -1;
    if (!b.has[0] || need_str(in, b.v[0], "substring")) return b.has[0] ? -1 : lm_tpl_fail(in, "TypeError", "%s() takes at least 1 argument (0 given)", nm);
    tv_str *s = SELF_STR(f), *sub = tv_as_str(b.v[0]);
    size_t bs, be;
    cp_range(s, &b, 1, &bs, &be);
    int64_t at = rev ? py_rfind(s->data + bs, be - bs, sub->data, sub->len) : py_find(s->data + bs, be - bs, sub->data, sub->len, 0);
    if (at < 0) {
        if (raise) return lm_tpl_fail(in, "ValueError", "substring not found");
        *out = tv_int(-1);
        return 0;
    }
    *out = tv_int((int64_t)u8_count(s->data, bs + (size_t)at));
    return 0;
}

static int m_find(interp *in, tv_func *f, const targs *a, tv *out) { return find_impl(in, f, a, out, 0, 0, "find"); }
static int m_rfind(interp *in, tv_func *f, const targs *a, tv *out) { return find_impl(in, f, a, out, 1, 0, "rfind"); }
static int m_index(interp *in, tv_func *f, const targs *a, tv *out) { return find_impl(in, f, a, out, 0, 1, "index"); }
static int m_rindex(interp *in, tv_func *f, const targs *a, tv *out) { return find_impl(in, f, a, out, 1, 1, "rindex"); }

static int m_count(interp *in, tv_func *f, const targs *a, tv *out) {
    static const char *const names[] = {"sub", "start", "end", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "count", names, &b)) return -1;
    if (!b.has[0]) return lm_tpl_fail(in, "TypeError", "count() takes at least 1 argument (0 given)");
    if (need_str(in, b.v[0], "substring")) return -1;
    tv_str *s = SELF_STR(f), *sub = tv_as_str(b.v[0]);
    size_t bs, be;
    cp_range(s, &b, 1, &bs, &be);
    int64_t n = 0;
    if (sub->len == 0) {
        n = (int64_t)u8_count(s->data + bs, be - bs) + 1;
    } else {
        size_t i = bs;
        for (;;) {
            int64_t at = py_find(s->data, be, sub->data, sub->len, i);
            if (at < 0) break;
            n++;
            i = (size_t)at + sub->len;
        }
    }
    *out = tv_int(n);
    return 0;
}

static int m_join(interp *in, tv_func *f, const targs *a, tv *out) {
    static const char *const names[] = {"iterable", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "join", names, &b)) return -1;
    if (!b.has[0]) return lm_tpl_fail(in, "TypeError", "join() takes exactly one argument (0 given)");
    tv items;
    if (lm_tpl_iterate(in, b.v[0], &items)) return -1;
    tv_str *s = SELF_STR(f);
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, 0);
    tv_list *l = tv_as_list(items);
    for (size_t i = 0; i < l->len; i++) {
        if (l->items[i].type != TV_STR) {
            strbuf_free(&sb);
            const char *tn = tv_type_name(l->items[i]);
            tv_unref(items);
            return lm_tpl_fail(in, "TypeError", "sequence item %zu: expected str instance, %s found", i, tn);
        }
        if (i) strbuf_append(&sb, s->data, s->len);
        strbuf_append(&sb, tv_as_str(l->items[i])->data, tv_as_str(l->items[i])->len);
    }
    tv_unref(items);
    return ret_buf(&sb, out);
}

static int m_splitlines(interp *in, tv_func *f, const targs *a, tv *out) {
    static const char *const names[] = {"keepends", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "splitlines", names, &b)) return -1;
    int keep = b.has[0] && tv_truthy(b.v[0]);
    tv_str *s = SELF_STR(f);
    tv r = tv_list_new(0);
    if (tv_oom(r)) return -1;
    size_t i = 0, start = 0;
    int rc = 0;
    while (i < s->len && !rc) {
        int32_t cp;
        size_t k = u8_next(s->data, s->len, i, &cp);
        int brk = cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || cp == 0x1c || cp == 0x1d || cp == 0x1e ||
                  cp == 0x85 || cp == 0x2028 || cp == 0x2029;
        if (!brk) {
            i += k;
            continue;
        }
        size_t end = i;
        i += k;
        if (cp == '\r' && i < s->len && s->data[i] == '\n') i++;
        rc = push_piece(r, s->data + start, (keep ? i : end) - start);
        start = i;
    }
    if (!rc && start < s->len) rc = push_piece(r, s->data + start, s->len - start);
    if (rc) return tv_unref(r), -1;
    *out = r;
    return 0;
}

static int class_impl(interp *in, tv_func *f, const targs *a, tv *out, const char *nm, int (*pred)(int32_t)) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, nm, names, &b)) return -1;
    tv_str *s = SELF_STR(f);
    int ok = s->len > 0;
    for (size_t i = 0; i < s->len && ok;) {
        int32_t cp;
        i += u8_next(s->data, s->len, i, &cp);
        ok = pred(cp);
    }
    *out = tv_bool(ok);
    return 0;
}

static int p_digit(int32_t c) { return c >= '0' && c <= '9'; }
static int p_alpha(int32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }
static int p_alnum(int32_t c) { return p_digit(c) || p_alpha(c); }
static int m_isdigit(interp *in, tv_func *f, const targs *a, tv *out) { return class_impl(in, f, a, out, "isdigit", p_digit); }
static int m_isdecimal(interp *in, tv_func *f, const targs *a, tv *out) { return class_impl(in, f, a, out, "isdecimal", p_digit); }
static int m_isnumeric(interp *in, tv_func *f, const targs *a, tv *out) { return class_impl(in, f, a, out, "isnumeric", p_digit); }
static int m_isalpha(interp *in, tv_func *f, const targs *a, tv *out) { return class_impl(in, f, a, out, "isalpha", p_alpha); }
static int m_isalnum(interp *in, tv_func *f, const targs *a, tv *out) { return class_impl(in, f, a, out, "isalnum", p_alnum); }
static int m_isspace(interp *in, tv_func *f, const targs *a, tv *out) { return class_impl(in, f, a, out, "isspace", py_isspace); }

static int m_islower_upper(interp *in, tv_func *f, const targs *a, tv *out, char mode) {
    tv t;
    int r;
    targs none = {0};
    (void)a;
    if (lm_tpl_call_test(in, mode == 'l' ? "lower" : "upper", f->self, &none, &r)) return -1;
    (void)t;
    *out = tv_bool(r);
    return 0;
}
static int m_islower(interp *in, tv_func *f, const targs *a, tv *out) { return m_islower_upper(in, f, a, out, 'l'); }
static int m_isupper(interp *in, tv_func *f, const targs *a, tv *out) { return m_islower_upper(in, f, a, out, 'u'); }

static int pad_impl(interp *in, tv_func *f, const targs *a, tv *out, char how, const char *nm) {
    static const char *const names[] = {"width", "fillchar", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, nm, names, &b)) return -1;
    if (!b.has[0] || b.v[0].type != TV_INT) return lm_tpl_fail(in, "TypeError", "%s() needs an integer width", nm);
    const char *fill = " ";
    size_t fl = 1;
    if (b.has[1]) {
        if (need_str(in, b.v[1], "fillchar")) return -1;
        fill = tv_as_str(b.v[1])->data;
        fl = tv_as_str(b.v[1])->len;
    }
    tv_str *s = SELF_STR(f);
    int64_t len = (int64_t)u8_count(s->data, s->len), width = b.v[0].u.i;
    if (width <= len) {
        *out = tv_ref(f->self);
        return 0;
    }
    int64_t pad = width - len, left;
    if (how == 'c') left = pad / 2 + (pad & width & 1);
    else if (how == 'l') left = 0;
    else left = pad;
    strbuf sb = STRBUF_INIT;
    for (int64_t i = 0; i < left; i++) strbuf_append(&sb, fill, fl);
    strbuf_append(&sb, s->data, s->len);
    for (int64_t i = left; i < pad; i++) strbuf_append(&sb, fill, fl);
    return ret_buf(&sb, out);
}

static int m_center(interp *in, tv_func *f, const targs *a, tv *out) { return pad_impl(in, f, a, out, 'c', "center"); }
static int m_ljust(interp *in, tv_func *f, const targs *a, tv *out) { return pad_impl(in, f, a, out, 'l', "ljust"); }
static int m_rjust(interp *in, tv_func *f, const targs *a, tv *out) { return pad_impl(in, f, a, out, 'r', "rjust"); }

static int affix_impl(interp *in, tv_func *f, const targs *a, tv *out, int suffix) {
    static const char *const names[] = {"affix", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, suffix ? "removesuffix" : "removeprefix", names, &b)) return -1;
    if (!b.has[0] || need_str(in, b.v[0], "argument")) return -1;
    tv_str *s = SELF_STR(f), *x = tv_as_str(b.v[0]);
    if (x->len <= s->len && memcmp(s->data + (suffix ? s->len - x->len : 0), x->data, x->len) == 0)
        *out = tv_str_new(s->data + (suffix ? 0 : x->len), s->len - x->len);
    else
        *out = tv_ref(f->self);
    return tv_oom(*out) ? -1 : 0;
}

static int m_removeprefix(interp *in, tv_func *f, const targs *a, tv *out) { return affix_impl(in, f, a, out, 0); }
static int m_removesuffix(interp *in, tv_func *f, const targs *a, tv *out) { return affix_impl(in, f, a, out, 1); }

static int partition_impl(interp *in, tv_func *f, const targs *a, tv *out, int rev) {
    static const char *const names[] = {"sep", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, rev ? "rpartition" : "partition", names, &b)) return -1;
    if (!b.has[0] || need_str(in, b.v[0], "sep")) return -1;
    tv_str *s = SELF_STR(f), *sep = tv_as_str(b.v[0]);
    if (sep->len == 0) return lm_tpl_fail(in, "ValueError", "empty separator");
    int64_t at = rev ? py_rfind(s->data, s->len, sep->data, sep->len) : py_find(s->data, s->len, sep->data, sep->len, 0);
    tv r = tv_list_new(3);
    if (tv_oom(r)) return -1;
    r.flag = TVF_TUPLE;
    int rc;
    if (at < 0) {
        rc = rev ? (push_piece(r, "", 0) || push_piece(r, "", 0) || push_piece(r, s->data, s->len))
                 : (push_piece(r, s->data, s->len) || push_piece(r, "", 0) || push_piece(r, "", 0));
    } else {
        rc = push_piece(r, s->data, (size_t)at) || push_piece(r, sep->data, sep->len) ||
             push_piece(r, s->data + at + sep->len, s->len - (size_t)at - sep->len);
    }
    if (rc) return tv_unref(r), -1;
    *out = r;
    return 0;
}

static int m_partition(interp *in, tv_func *f, const targs *a, tv *out) { return partition_impl(in, f, a, out, 0); }
static int m_rpartition(interp *in, tv_func *f, const targs *a, tv *out) { return partition_impl(in, f, a, out, 1); }

static int m_zfill(interp *in, tv_func *f, const targs *a, tv *out) {
    static const char *const names[] = {"width", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "zfill", names, &b)) return -1;
    if (!b.has[0] || b.v[0].type != TV_INT) return lm_tpl_fail(in, "TypeError", "zfill() needs an integer width");
    tv_str *s = SELF_STR(f);
    int64_t len = (int64_t)u8_count(s->data, s->len), pad = b.v[0].u.i - len;
    if (pad <= 0) {
        *out = tv_ref(f->self);
        return 0;
    }
    strbuf sb = STRBUF_INIT;
    size_t i = 0;
    if (s->len && (s->data[0] == '+' || s->data[0] == '-')) strbuf_putc(&sb, s->data[i++]);
    for (int64_t k = 0; k < pad; k++) strbuf_putc(&sb, '0');
    strbuf_append(&sb, s->data + i, s->len - i);
    return ret_buf(&sb, out);
}

int lm_tpl_str_format(interp *in, tv self, const targs *a, tv *out);
static int m_format(interp *in, tv_func *f, const targs *a, tv *out) { return lm_tpl_str_format(in, f->self, a, out); }

/* ---- dict ---- */

static int dict_view(interp *in, tv_func *f, const targs *a, tv *out, char which) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, which == 'i' ? "items" : which == 'k' ? "keys" : "values", names, &b)) return -1;
    tv_dict *d = tv_as_dict(f->self);
    tv r = tv_list_new(d->len);
    if (tv_oom(r)) return -1;
    r.flag = which == 'i' ? TVF_ITEMS : which == 'k' ? TVF_KEYS : TVF_VALUES;
    for (size_t i = 0; i < d->len; i++) {
        tv x;
        if (which == 'k') x = tv_ref(d->keys[i]);
        else if (which == 'v') x = tv_ref(d->vals[i]);
        else {
            x = tv_list_new(2);
            if (tv_oom(x)) return tv_unref(r), -1;
            x.flag = TVF_TUPLE;
            tv_list_push(x, tv_ref(d->keys[i]));
            tv_list_push(x, tv_ref(d->vals[i]));
        }
        if (tv_list_push(r, x)) return tv_unref(r), -1;
    }
    *out = r;
    return 0;
}

static int m_items(interp *in, tv_func *f, const targs *a, tv *out) { return dict_view(in, f, a, out, 'i'); }
static int m_keys(interp *in, tv_func *f, const targs *a, tv *out) { return dict_view(in, f, a, out, 'k'); }
static int m_values(interp *in, tv_func *f, const targs *a, tv *out) { return dict_view(in, f, a, out, 'v'); }

static int m_get(interp *in, tv_func *f, const targs *a, tv *out) {
    static const char *const names[] = {"key", "default", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "get", names, &b)) return -1;
    if (!b.has[0]) return lm_tpl_fail(in, "TypeError", "get expected at least 1 argument, got 0");
    tv *v = tv_dict_get(f->self, b.v[0]);
    *out = v ? tv_ref(*v) : b.has[1] ? tv_ref(b.v[1]) : tv_none();
    return 0;
}

static int m_copy(interp *in, tv_func *f, const targs *a, tv *out) {
    static const char *const names[] = {NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "copy", names, &b)) return -1;
    if (f->self.type == TV_LIST) {
        tv r;
        if (lm_tpl_iterate(in, f->self, &r)) return -1;
        *out = r;
        return 0;
    }
    tv_dict *d = tv_as_dict(f->self);
    tv r = tv_dict_new(d->len);
    if (tv_oom(r)) return -1;
    for (size_t i = 0; i < d->len; i++)
        if (tv_dict_set(r, tv_ref(d->keys[i]), tv_ref(d->vals[i]))) return tv_unref(r), -1;
    *out = r;
    return 0;
}

/* ---- list ---- */

static int m_list_index(interp *in, tv_func *f, const targs *a, tv *out) {
    static const char *const names[] = {"value", "start", "stop", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "index", names, &b)) return -1;
    tv_list *l = tv_as_list(f->self);
    for (size_t i = 0; b.has[0] && i < l->len; i++)
        if (tv_equal(l->items[i], b.v[0])) {
            *out = tv_int((int64_t)i);
            return 0;
        }
    strbuf sb = STRBUF_INIT;
    if (b.has[0]) tv_write_repr(b.v[0], &sb);
    int rc = lm_tpl_fail(in, "ValueError", "%s is not in list", sb.data ? sb.data : "");
    strbuf_free(&sb);
    return rc;
}

static int m_list_count(interp *in, tv_func *f, const targs *a, tv *out) {
    static const char *const names[] = {"value", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "count", names, &b)) return -1;
    tv_list *l = tv_as_list(f->self);
    int64_t n = 0;
    for (size_t i = 0; b.has[0] && i < l->len; i++) n += tv_equal(l->items[i], b.v[0]);
    *out = tv_int(n);
    return 0;
}

typedef struct method_entry {
    const char *name;
    tv_native_fn fn;
} method_entry;

static const method_entry STR_METHODS[] = {
    {"startswith", m_startswith}, {"endswith", m_endswith}, {"split", m_split}, {"rsplit", m_rsplit},
    {"strip", m_strip}, {"lstrip", m_lstrip}, {"rstrip", m_rstrip}, {"upper", m_upper}, {"lower", m_lower},
    {"casefold", m_casefold}, {"title", m_title}, {"capitalize", m_capitalize}, {"swapcase", m_swapcase},
    {"replace", m_replace}, {"find", m_find}, {"rfind", m_rfind}, {"index", m_index}, {"rindex", m_rindex},
    {"count", m_count}, {"format", m_format}, {"join", m_join}, {"splitlines", m_splitlines},
    {"isdigit", m_isdigit}, {"isdecimal", m_isdecimal}, {"isnumeric", m_isnumeric}, {"isalpha", m_isalpha},
    {"isalnum", m_isalnum}, {"isspace", m_isspace}, {"islower", m_islower}, {"isupper", m_isupper},
    {"center", m_center}, {"ljust", m_ljust}, {"rjust", m_rjust}, {"zfill", m_zfill},
    {"removeprefix", m_removeprefix}, {"removesuffix", m_removesuffix}, {"partition", m_partition},
    {"rpartition", m_rpartition}, {NULL, NULL},
};

static const method_entry DICT_METHODS[] = {
    {"items", m_items}, {"keys", m_keys}, {"values", m_values}, {"get", m_get}, {"copy", m_copy}, {NULL, NULL},
};

static const method_entry LIST_METHODS[] = {
    {"index", m_list_index}, {"count", m_list_count}, {"copy", m_copy}, {NULL, NULL},
};

tv_native_fn lm_tpl_find_method(tv obj, const char *name) {
    const method_entry *t = obj.type == TV_STR ? STR_METHODS : obj.type == TV_DICT ? DICT_METHODS
                          : obj.type == TV_LIST ? LIST_METHODS : NULL;
    if (!t) return NULL;
    if (obj.type == TV_LIST && (obj.flag & TVF_TUPLE) && !strcmp(name, "copy")) return NULL;
    for (; t->name; t++)
        if (!strcmp(t->name, name)) return t->fn;
    return NULL;
}
