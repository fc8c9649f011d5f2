/* Sequence filters: join, map, select/reject(attr), sort, dictsort, unique, min/max, sum,
 * batch, slice, groupby, attr. Attribute paths ("a.b", "0") resolve item-first like
 * Jinja's make_attrgetter. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/template/filters.h"
#include "lm/template/lexer.h"
#include "lm/template/strutil.h"

/* Looks up a dotted attribute path on item (new reference). attr may be a str or an int. */
static int attr_path(interp *in, tv item, tv attr, tv dflt, tv *out) {
    tv cur = tv_ref(item);
    if (attr.type == TV_NONE || attr.type == TV_UNDEF) {
        *out = cur;
        return 0;
    }
    if (attr.type != TV_STR) {
        int rc = lm_tpl_getitem(in, cur, attr, out);
        tv_unref(cur);
        return rc;
    }
    const char *p = tv_as_str(attr)->data;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        int digits = n > 0;
        for (size_t i = 0; i < n; i++)
            if (p[i] < '0' || p[i] > '9') digits = 0;
        tv key = digits ? tv_int(strtoll(p, NULL, 10)) : tv_str_new(p, n);
        if (tv_oom(key)) return tv_unref(cur), -1;
        tv next;
        int rc = lm_tpl_getitem(in, cur, key, &next);
        tv_unref(key);
        tv_unref(cur);
        if (rc) return -1;
        if (dflt.type != TV_UNDEF && next.type == TV_UNDEF) {
            tv_unref(next);
            next = tv_ref(dflt);
        }
        cur = next;
        if (!dot) break;
        p = dot + 1;
    }
    *out = cur;
    return 0;
}

static tv lower_if_str(tv v) {
    if (v.type != TV_STR) return v;
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, tv_as_str(v)->len);
    py_case(tv_as_str(v)->data, tv_as_str(v)->len, 'l', &sb);
    tv r = tv_str_from_buf(&sb);
    if (tv_oom(r)) return v;
    tv_unref(v);
    return r;
}

/* Sort key of one item: a list of the values of each comma-separated attribute. */
static int sort_key(interp *in, tv item, tv attribute, int case_sensitive, tv *out) {
    if (attribute.type == TV_STR && strchr(tv_as_str(attribute)->data, ',')) {
        tv keys = tv_list_new(0);
        if (tv_oom(keys)) return -1;
        const char *p = tv_as_str(attribute)->data;
        for (;;) {
            const char *c = strchr(p, ',');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            tv part = tv_str_new(p, n), v;
            if (tv_oom(part) || attr_path(in, item, part, tv_undef(), &v)) return tv_unref(part), tv_unref(keys), -1;
            tv_unref(part);
            if (!case_sensitive) v = lower_if_str(v);
            if (tv_list_push(keys, v)) return tv_unref(keys), -1;
            if (!c) break;
            p = c + 1;
        }
        *out = keys;
        return 0;
    }
    if (attr_path(in, item, attribute, tv_undef(), out)) return -1;
    if (!case_sensitive) *out = lower_if_str(*out);
    return 0;
}

/* Stable merge sort of idx by keys; reverse keeps Python's stability semantics. */
static int merge_sort(interp *in, const tv *keys, size_t *idx, size_t *tmp, size_t n, int reverse) {
    if (n < 2) return 0;
    size_t h = n / 2;
    if (merge_sort(in, keys, idx, tmp, h, reverse) || merge_sort(in, keys, idx + h, tmp, n - h, reverse)) return -1;
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        int c;
        if (lm_tpl_order(in, keys[idx[j]], keys[idx[i]], &c)) return -1;
        int take_right = reverse ? c > 0 : c < 0;
        tmp[k++] = take_right ? idx[j++] : idx[i++];
    }
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof(size_t));
    return 0;
}

static int sort_items(interp *in, tv items, tv attribute, int case_sensitive, int reverse, tv *out) {
    tv_list *l = tv_as_list(items);
    size_t n = l->len;
    tv *keys = calloc(n + 1, sizeof(tv));
    size_t *idx = malloc((n + 1) * sizeof(size_t)), *tmp = malloc((n + 1) * sizeof(size_t));
    int rc = (!keys || !idx || !tmp) ? mx_set_error("template: out of memory sorting") : 0;
    for (size_t i = 0; !rc && i < n; i++) {
        idx[i] = i;
        rc = sort_key(in, l->items[i], attribute, case_sensitive, &keys[i]);
    }
    if (!rc) rc = merge_sort(in, keys, idx, tmp, n, reverse);
    tv r = tv_undef();
    if (!rc) {
        r = tv_list_new(n);
        rc = tv_oom(r) ? -1 : 0;
        for (size_t i = 0; !rc && i < n; i++) rc = tv_list_push(r, tv_ref(l->items[idx[i]]));
    }
    for (size_t i = 0; keys && i < n; i++) tv_unref(keys[i]);
    free(keys);
    free(idx);
    free(tmp);
    if (rc) return tv_unref(r), -1;
    *out = r;
    return 0;
}

int lm_tpl_f_sort(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"reverse", "case_sensitive", "attribute", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "sort", names, &b)) return -1;
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    int rc = sort_items(in, items, b.has[2] ? b.v[2] : tv_none(), b.has[1] && tv_truthy(b.v[1]), b.has[0] && tv_truthy(b.v[0]), out);
    tv_unref(items);
    return rc;
}

int lm_tpl_f_dictsort(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"case_sensitive", "by", "reverse", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "dictsort", names, &b)) return -1;
    const char *by = b.has[1] && b.v[1].type == TV_STR ? tv_as_str(b.v[1])->data : "key";
    if (strcmp(by, "key") && strcmp(by, "value"))
        return lm_tpl_fail(in, "FilterArgumentError", "You can only sort by either \"key\" or \"value\"");
    if (v.type != TV_DICT) return lm_tpl_fail(in, "AttributeError", "'%s' object has no attribute 'items'", tv_type_name(v));
    tv_dict *d = tv_as_dict(v);
    tv pairs = tv_list_new(d->len);
    if (tv_oom(pairs)) return -1;
    for (size_t i = 0; i < d->len; i++) {
        tv p = tv_list_new(2);
        if (tv_oom(p)) return tv_unref(pairs), -1;
        p.flag = TVF_TUPLE;
        tv_list_push(p, tv_ref(d->keys[i]));
        tv_list_push(p, tv_ref(d->vals[i]));
        if (tv_list_push(pairs, p)) return tv_unref(pairs), -1;
    }
    int rc = sort_items(in, pairs, tv_int(by[0] == 'k' ? 0 : 1), b.has[0] && tv_truthy(b.v[0]), b.has[2] && tv_truthy(b.v[2]), out);
    tv_unref(pairs);
    return rc;
}

int lm_tpl_f_join(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"d", "attribute", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "join", names, &b)) return -1;
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, 0);
    tv_list *l = tv_as_list(items);
    for (size_t i = 0; i < l->len; i++) {
        if (i && b.has[0]) tv_write_str(b.v[0], &sb);
        tv x;
        if (attr_path(in, l->items[i], b.has[1] ? b.v[1] : tv_none(), tv_undef(), &x)) {
            strbuf_free(&sb);
            tv_unref(items);
            return -1;
        }
        tv_write_str(x, &sb);
        tv_unref(x);
    }
    tv_unref(items);
    *out = tv_str_from_buf(&sb);
    return tv_oom(*out) ? -1 : 0;
}

static const tv *kwarg(const targs *a, const char *name) {
    for (int i = 0; i < a->nkw; i++)
        if (!strcmp(a->kwnames[i], name)) return &a->kwvals[i];
    return NULL;
}

int lm_tpl_f_map(interp *in, tv v, const targs *a, tv *out) {
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    tv r = tv_list_new(0);
    if (tv_oom(r)) return tv_unref(items), -1;
    tv_list *l = tv_as_list(items);
    int rc = 0;
    const tv *attribute = a->npos == 0 ? kwarg(a, "attribute") : NULL;
    if (attribute) {
        const tv *dflt = kwarg(a, "default");
        for (int i = 0; i < a->nkw; i++)
            if (strcmp(a->kwnames[i], "attribute") && strcmp(a->kwnames[i], "default"))
                rc = lm_tpl_fail(in, "FilterArgumentError", "Unexpected keyword argument '%s'", a->kwnames[i]);
        for (size_t i = 0; !rc && i < l->len; i++) {
            tv x;
            rc = attr_path(in, l->items[i], *attribute, dflt && dflt->type != TV_NONE ? *dflt : tv_undef(), &x);
            if (!rc) rc = tv_list_push(r, x);
        }
    } else {
        if (a->npos == 0 || a->pos[0].type != TV_STR) {
            rc = a->npos == 0 ? lm_tpl_fail(in, "FilterArgumentError", "map requires a filter argument")
                              : lm_tpl_fail(in, "TemplateRuntimeError", "No filter named %s.", "(not a string)");
        }
        targs rest = {a->pos + 1, a->npos - 1, a->kwnames, a->kwvals, a->nkw};
        for (size_t i = 0; !rc && i < l->len; i++) {
            tv x;
            rc = lm_tpl_call_filter(in, tv_as_str(a->pos[0])->data, l->items[i], &rest, &x);
            if (!rc) rc = tv_list_push(r, x);
        }
    }
    tv_unref(items);
    if (rc) return tv_unref(r), -1;
    *out = r;
    return 0;
}

static int select_impl(interp *in, tv v, const targs *a, int lookup_attr, int keep_when, tv *out) {
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    tv r = tv_list_new(0);
    if (tv_oom(r)) return tv_unref(items), -1;
    int off = lookup_attr ? 1 : 0, rc = 0;
    if (lookup_attr && a->npos < 1) rc = lm_tpl_fail(in, "FilterArgumentError", "Missing parameter for attribute name");
    const char *test = !rc && a->npos > off ? (a->pos[off].type == TV_STR ? tv_as_str(a->pos[off])->data : NULL) : NULL;
    if (!rc && a->npos > off && !test) rc = lm_tpl_fail(in, "TemplateRuntimeError", "No test named %s.", "(not a string)");
    targs rest = {a->pos + off + 1, a->npos - off - 1, a->kwnames, a->kwvals, a->nkw};
    tv_list *l = tv_as_list(items);
    for (size_t i = 0; !rc && i < l->len; i++) {
        tv x;
        rc = lookup_attr ? attr_path(in, l->items[i], a->pos[0], tv_undef(), &x) : (x = tv_ref(l->items[i]), 0);
        if (rc) break;
        int t;
        if (test) rc = lm_tpl_call_test(in, test, x, &rest, &t);
        else t = tv_truthy(x);
        tv_unref(x);
        if (!rc && (t != 0) == keep_when) rc = tv_list_push(r, tv_ref(l->items[i]));
    }
    tv_unref(items);
    if (rc) return tv_unref(r), -1;
    *out = r;
    return 0;
}

int lm_tpl_f_select(interp *in, tv v, const targs *a, tv *out) { return select_impl(in, v, a, 0, 1, out); }
int lm_tpl_f_reject(interp *in, tv v, const targs *a, tv *out) { return select_impl(in, v, a, 0, 0, out); }
int lm_tpl_f_selectattr(interp *in, tv v, const targs *a, tv *out) { return select_impl(in, v, a, 1, 1, out); }
int lm_tpl_f_rejectattr(interp *in, tv v, const targs *a, tv *out) { return select_impl(in, v, a, 1, 0, out); }

int lm_tpl_f_unique(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"case_sensitive", "attribute", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "unique", names, &b)) return -1;
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    tv r = tv_list_new(0), seen = tv_list_new(0);
    int rc = tv_oom(r) || tv_oom(seen) ? -1 : 0;
    tv_list *l = tv_as_list(items);
    for (size_t i = 0; !rc && i < l->len; i++) {
        tv key;
        rc = attr_path(in, l->items[i], b.has[1] ? b.v[1] : tv_none(), tv_undef(), &key);
        if (rc) break;
        if (!(b.has[0] && tv_truthy(b.v[0]))) key = lower_if_str(key);
        if (key.type == TV_DICT || key.type == TV_NS || (key.type == TV_LIST && !(key.flag & TVF_TUPLE))) {
            rc = lm_tpl_fail(in, "TypeError", "unhashable type: '%s'", tv_type_name(key));
            tv_unref(key);
            break;
        }
        int dup;
        lm_tpl_contains(in, seen, key, &dup);
        if (dup) {
            tv_unref(key);
            continue;
        }
        rc = tv_list_push(seen, key);
        if (!rc) rc = tv_list_push(r, tv_ref(l->items[i]));
    }
    tv_unref(items);
    tv_unref(seen);
    if (rc) return tv_unref(r), -1;
    *out = r;
    return 0;
}

static int min_max(interp *in, tv v, const targs *a, int want_max, tv *out) {
    static const char *const names[] = {"case_sensitive", "attribute", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, want_max ? "max" : "min", names, &b)) return -1;
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    tv_list *l = tv_as_list(items);
    if (l->len == 0) {
        tv_unref(items);
        *out = tv_undef_msg("No aggregated item, sequence was empty.");
        return 0;
    }
    size_t best = 0;
    tv best_key = tv_undef();
    int rc = 0;
    for (size_t i = 0; !rc && i < l->len; i++) {
        tv key;
        rc = sort_key(in, l->items[i], b.has[1] ? b.v[1] : tv_none(), b.has[0] && tv_truthy(b.v[0]), &key);
        if (rc) break;
        if (i == 0) {
            best_key = key;
            continue;
        }
        int c;
        rc = lm_tpl_order(in, key, best_key, &c);
        if (!rc && (want_max ? c > 0 : c < 0)) {
            tv_unref(best_key);
            best_key = key;
            best = i;
        } else {
            tv_unref(key);
        }
    }
    tv_unref(best_key);
    if (!rc) *out = tv_ref(l->items[best]);
    tv_unref(items);
    return rc;
}

int lm_tpl_f_min(interp *in, tv v, const targs *a, tv *out) { return min_max(in, v, a, 0, out); }
int lm_tpl_f_max(interp *in, tv v, const targs *a, tv *out) { return min_max(in, v, a, 1, out); }

int lm_tpl_f_sum(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"attribute", "start", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "sum", names, &b)) return -1;
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    tv acc = b.has[1] ? tv_ref(b.v[1]) : tv_int(0);
    tv_list *l = tv_as_list(items);
    int rc = 0;
    for (size_t i = 0; !rc && i < l->len; i++) {
        tv x, s;
        rc = attr_path(in, l->items[i], b.has[0] ? b.v[0] : tv_none(), tv_undef(), &x);
        if (rc) break;
        rc = lm_tpl_binop(in, OP_ADD, acc, x, &s);
        tv_unref(x);
        if (!rc) {
            tv_unref(acc);
            acc = s;
        }
    }
    tv_unref(items);
    if (rc) return tv_unref(acc), -1;
    *out = acc;
    return 0;
}

int lm_tpl_f_batch(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"linecount", "fill_with", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "batch", names, &b)) return -1;
    if (!b.has[0] || b.v[0].type != TV_INT || b.v[0].u.i <= 0)
        return lm_tpl_fail(in, "TypeError", "batch() needs a positive integer linecount");
    int64_t n = b.v[0].u.i;
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    tv r = tv_list_new(0), cur = tv_undef();
    int rc = tv_oom(r) ? -1 : 0;
    tv_list *l = tv_as_list(items);
    for (size_t i = 0; !rc && i < l->len; i++) {
        if (cur.type == TV_UNDEF || (int64_t)tv_as_list(cur)->len == n) {
            if (cur.type != TV_UNDEF) rc = tv_list_push(r, cur);
            cur = tv_list_new(0);
            if (rc || tv_oom(cur)) { rc = -1; break; }
        }
        rc = tv_list_push(cur, tv_ref(l->items[i]));
    }
    if (!rc && cur.type != TV_UNDEF) {
        if (b.has[1] && b.v[1].type != TV_NONE)
            while (!rc && (int64_t)tv_as_list(cur)->len < n) rc = tv_list_push(cur, tv_ref(b.v[1]));
        if (!rc) rc = tv_list_push(r, cur);
        cur = tv_undef();
    }
    tv_unref(cur);
    tv_unref(items);
    if (rc) return tv_unref(r), -1;
    *out = r;
    return 0;
}

int lm_tpl_f_slice(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"slices", "fill_with", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "slice", names, &b)) return -1;
    if (!b.has[0] || b.v[0].type != TV_INT || b.v[0].u.i <= 0)
        return lm_tpl_fail(in, "TypeError", "slice() needs a positive integer count");
    int64_t slices = b.v[0].u.i;
    tv items;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    tv_list *l = tv_as_list(items);
    int64_t len = (int64_t)l->len, per = len / slices, extra = len % slices, offset = 0;
    tv r = tv_list_new(0);
    int rc = tv_oom(r) ? -1 : 0;
    for (int64_t s = 0; !rc && s < slices; s++) {
        int64_t start = offset + s * per;
        if (s < extra) offset++;
        int64_t end = offset + (s + 1) * per;
        tv part = tv_list_new(0);
        if (tv_oom(part)) { rc = -1; break; }
        for (int64_t i = start; !rc && i < end; i++) rc = tv_list_push(part, tv_ref(l->items[i]));
        if (!rc && b.has[1] && b.v[1].type != TV_NONE && s >= extra) rc = tv_list_push(part, tv_ref(b.v[1]));
        if (!rc) rc = tv_list_push(r, part);
        else tv_unref(part);
    }
    tv_unref(items);
    if (rc) return tv_unref(r), -1;
    *out = r;
    return 0;
}

int lm_tpl_f_groupby(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"attribute", "default", "case_sensitive", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "groupby", names, &b)) return -1;
    if (!b.has[0]) return lm_tpl_fail(in, "TypeError", "groupby() missing required argument 'attribute'");
    int cs = b.has[2] && tv_truthy(b.v[2]);
    tv items, sorted;
    if (lm_tpl_iterate(in, v, &items)) return -1;
    int rc = sort_items(in, items, b.v[0], cs, 0, &sorted);
    tv_unref(items);
    if (rc) return -1;
    tv dflt = b.has[1] && b.v[1].type != TV_NONE ? b.v[1] : tv_undef();
    tv r = tv_list_new(0), group = tv_undef(), gkey = tv_undef(), gshown = tv_undef();
    rc = tv_oom(r) ? -1 : 0;
    tv_list *l = tv_as_list(sorted);
    for (size_t i = 0; !rc && i <= l->len; i++) {
        tv key = tv_undef(), shown = tv_undef();
        if (i < l->len) {
            rc = attr_path(in, l->items[i], b.v[0], dflt, &shown);
            if (rc) break;
            key = cs ? tv_ref(shown) : lower_if_str(tv_ref(shown));
        }
        if (group.type != TV_UNDEF && (i == l->len || !tv_equal(key, gkey))) {
            tv pair = tv_list_new(2);
            if (tv_oom(pair)) { rc = -1; tv_unref(key); tv_unref(shown); break; }
            pair.flag = TVF_TUPLE;
            tv_list_push(pair, gshown);
            tv_list_push(pair, group);
            gshown = tv_undef();
            group = tv_undef();
            tv_unref(gkey);
            gkey = tv_undef();
            rc = tv_list_push(r, pair);
        }
        if (i == l->len || rc) {
            tv_unref(key);
            tv_unref(shown);
            break;
        }
        if (group.type == TV_UNDEF) {
            group = tv_list_new(0);
            gkey = key;
            gshown = shown;
        } else {
            tv_unref(key);
            tv_unref(shown);
        }
        rc = tv_list_push(group, tv_ref(l->items[i]));
    }
    tv_unref(group);
    tv_unref(gkey);
    tv_unref(gshown);
    tv_unref(sorted);
    if (rc) return tv_unref(r), -1;
    *out = r;
    return 0;
}

int lm_tpl_f_attr(interp *in, tv v, const targs *a, tv *out) {
    static const char *const names[] = {"name", NULL};
    bound_args b;
    if (lm_tpl_bind(in, a, "attr", names, &b)) return -1;
    if (!b.has[0] || b.v[0].type != TV_STR) return lm_tpl_fail(in, "TypeError", "attr() needs an attribute name");
    const char *name = tv_as_str(b.v[0])->data;
    /* attribute only: a dict key is not an attribute */
    if (v.type == TV_DICT && !lm_tpl_find_method(v, name)) {
        *out = lm_tpl_missing(v, b.v[0]);
        return 0;
    }
    return lm_tpl_getattr(in, v, name, out);
}
