/* Global functions of the environment transformers builds (range as the sandbox's
 * safe_range, namespace, dict, joiner, raise_exception, strftime_now) and the attributes
 * of the `loop` object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cmlx/error.h"
#include "lm/template/interp.h"

enum { MAX_RANGE = 100000 };

static int is_int(tv v) { return v.type == TV_INT || v.type == TV_BOOL; }
static int64_t iv(tv v) { return v.type == TV_INT ? v.u.i : v.u.b; }

static int g_range(interp *in, tv_func *f, const targs *a, tv *out) {
    (void)f;
    if (a->nkw) return lm_tpl_fail(in, "TypeError", "range() takes no keyword arguments");
    if (a->npos < 1 || a->npos > 3) return lm_tpl_fail(in, "TypeError", "range expected at least 1 argument, got %d", a->npos);
    for (int i = 0; i < a->npos; i++) {
        if (a->pos[i].type == TV_UNDEF) return lm_tpl_fail_undefined(in, a->pos[i]);
        if (!is_int(a->pos[i]))
            return lm_tpl_fail(in, "TypeError", "'%s' object cannot be interpreted as an integer", tv_type_name(a->pos[i]));
    }
    int64_t start = 0, stop, step = 1;
    if (a->npos == 1) stop = iv(a->pos[0]);
    else {
        start = iv(a->pos[0]);
        stop = iv(a->pos[1]);
        if (a->npos == 3) step = iv(a->pos[2]);
    }
    if (step == 0) return lm_tpl_fail(in, "ValueError", "range() arg 3 must not be zero");
    int64_t n = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
    if (n > MAX_RANGE)
        return lm_tpl_fail(in, "OverflowError", "Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", MAX_RANGE);
    tv r = tv_list_new((size_t)n);
    if (tv_oom(r)) return -1;
    for (int64_t i = 0; i < n; i++) tv_list_push(r, tv_int(start + i * step));
    *out = r;
    return 0;
}

/* dict(mapping_or_pairs, **kwargs): the Python builtin; namespace() takes the same. */
static int build_dict(interp *in, const targs *a, tv d, const char *fname) {
    if (a->npos > 1) return lm_tpl_fail(in, "TypeError", "%s expected at most 1 argument, got %d", fname, a->npos);
    if (a->npos == 1) {
        tv src = a->pos[0];
        if (src.type == TV_DICT || src.type == TV_NS) {
            tv_dict *s = tv_as_dict(src);
            for (size_t i = 0; i < s->len; i++)
                if (tv_dict_set(d, tv_ref(s->keys[i]), tv_ref(s->vals[i]))) return -1;
        } else {
            tv items;
            if (lm_tpl_iterate(in, src, &items)) return -1;
            tv_list *l = tv_as_list(items);
            for (size_t i = 0; i < l->len; i++) {
                tv p = l->items[i];
                if (p.type != TV_LIST || tv_as_list(p)->len != 2) {
                    tv_unref(items);
                    return lm_tpl_fail(in, "ValueError", "dictionary update sequence element #%zu has the wrong length", i);
                }
                if (tv_dict_set(d, tv_ref(tv_as_list(p)->items[0]), tv_ref(tv_as_list(p)->items[1]))) return tv_unref(items), -1;
            }
            tv_unref(items);
        }
    }
    for (int k = 0; k < a->nkw; k++)
        if (tv_dict_set_cstr(d, a->kwnames[k], tv_ref(a->kwvals[k]))) return -1;
    return 0;
}

static int g_dict(interp *in, tv_func *f, const targs *a, tv *out) {
    (void)f;
    tv d = tv_dict_new(0);
    if (tv_oom(d)) return -1;
    if (build_dict(in, a, d, "dict")) return tv_unref(d), -1;
    *out = d;
    return 0;
}

static int g_namespace(interp *in, tv_func *f, const targs *a, tv *out) {
    (void)f;
    tv d = tv_ns_new();
    if (tv_oom(d)) return -1;
    if (build_dict(in, a, d, "namespace")) return tv_unref(d), -1;
    *out = d;
    return 0;
}

static int g_raise_exception(interp *in, tv_func *f, const targs *a, tv *out) {
    (void)f;
    (void)out;
    strbuf sb = STRBUF_INIT;
    if (a->npos > 0) tv_write_str(a->pos[0], &sb);
    int rc = lm_tpl_fail(in, "TemplateError", "%s", sb.data ? sb.data : "");
    strbuf_free(&sb);
    return rc;
}

/* datetime.now().strftime(fmt): a naive local time, so %z and %Z print nothing. */
static int g_strftime_now(interp *in, tv_func *f, const targs *a, tv *out) {
    (void)f;
    if (a->npos != 1 || a->pos[0].type != TV_STR) return lm_tpl_fail(in, "TypeError", "strftime_now() takes one format string");
    struct tm tm;
    long usec = 0;
    if (in->has_fixed_now) {
        tm = in->fixed_now;
    } else {
        struct timeval now;
        gettimeofday(&now, NULL);
        time_t t = now.tv_sec;
        localtime_r(&t, &tm);
        usec = (long)now.tv_usec;
    }
    const char *fmt = tv_as_str(a->pos[0])->data;
    strbuf f2 = STRBUF_INIT;
    strbuf_reserve(&f2, 0);
    for (const char *p = fmt; *p; p++) {
        if (p[0] == '%' && p[1] == 'f') {
            strbuf_printf(&f2, "%06ld", usec);
            p++;
        } else if (p[0] == '%' && (p[1] == 'z' || p[1] == 'Z')) {
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            strbuf_puts(&f2, "%%");
            p++;
        } else {
            strbuf_putc(&f2, *p);
        }
    }
    size_t cap = 256 + f2.len * 8;
    char *buf = malloc(cap);
    if (!buf) return strbuf_free(&f2), mx_set_error("template: out of memory");
    size_t n = f2.len ? strftime(buf, cap, f2.data, &tm) : 0;
    *out = tv_str_new(buf, n);
    free(buf);
    strbuf_free(&f2);
    return tv_oom(*out) ? -1 : 0;
}

/* joiner(sep=", "): returns "" on its first call and sep afterwards. */
static int joiner_call(interp *in, tv_func *f, const targs *a, tv *out) {
    (void)in;
    (void)a;
    if (f->state.type == TV_UNDEF) {
        f->state = tv_bool(1);
        *out = tv_str_cstr("");
    } else {
        *out = tv_ref(f->self);
    }
    return tv_oom(*out) ? -1 : 0;
}

static int g_joiner(interp *in, tv_func *f, const targs *a, tv *out) {
    (void)f;
    tv sep = a->npos > 0 ? a->pos[0] : tv_undef();
    if (sep.type == TV_UNDEF) {
        sep = tv_str_cstr(", ");
        if (tv_oom(sep)) return -1;
    } else {
        sep = tv_ref(sep);
    }
    (void)in;
    *out = lm_tpl_native("joiner", joiner_call, sep);
    tv_unref(sep);
    return tv_oom(*out) ? -1 : 0;
}

typedef struct global_entry {
    const char *name;
    tv_native_fn fn;
} global_entry;

static const global_entry GLOBALS[] = {
    {"range", g_range}, {"dict", g_dict}, {"namespace", g_namespace}, {"raise_exception", g_raise_exception},
    {"strftime_now", g_strftime_now}, {"joiner", g_joiner},
};

int lm_tpl_lookup_global(const char *name, tv *out) {
    for (size_t i = 0; i < sizeof GLOBALS / sizeof GLOBALS[0]; i++) {
        if (!strcmp(GLOBALS[i].name, name)) {
            *out = lm_tpl_native(GLOBALS[i].name, GLOBALS[i].fn, tv_undef());
            return 1;
        }
    }
    return 0;
}

/* ---- loop ---- */

static int loop_cycle(interp *in, tv_func *f, const targs *a, tv *out) {
    if (a->npos == 0) return lm_tpl_fail(in, "TypeError", "no items for cycling given");
    tv_loop *l = tv_as_loop(f->self);
    *out = tv_ref(a->pos[l->index0 % a->npos]);
    return 0;
}

static int loop_changed(interp *in, tv_func *f, const targs *a, tv *out) {
    tv_loop *l = tv_as_loop(f->self);
    tv args = tv_list_new((size_t)a->npos);
    if (tv_oom(args)) return -1;
    args.flag = TVF_TUPLE;
    for (int i = 0; i < a->npos; i++) tv_list_push(args, tv_ref(a->pos[i]));
    (void)in;
    if (l->last_changed.type != TV_UNDEF && tv_equal(l->last_changed, args)) {
        tv_unref(args);
        *out = tv_bool(0);
        return 0;
    }
    tv_unref(l->last_changed);
    l->last_changed = args;
    *out = tv_bool(1);
    return 0;
}

int lm_tpl_loop_attr(interp *in, tv loop, const char *name, tv *out) {
    tv_loop *l = tv_as_loop(loop);
    int64_t len = (int64_t)l->items->len, i0 = l->index0;
    (void)in;
    if (!strcmp(name, "index")) *out = tv_int(i0 + 1);
    else if (!strcmp(name, "index0")) *out = tv_int(i0);
    else if (!strcmp(name, "revindex")) *out = tv_int(len - i0);
    else if (!strcmp(name, "revindex0")) *out = tv_int(len - i0 - 1);
    else if (!strcmp(name, "first")) *out = tv_bool(i0 == 0);
    else if (!strcmp(name, "last")) *out = tv_bool(i0 == len - 1);
    else if (!strcmp(name, "length")) *out = tv_int(len);
    else if (!strcmp(name, "depth")) *out = tv_int(l->depth0 + 1);
    else if (!strcmp(name, "depth0")) *out = tv_int(l->depth0);
    else if (!strcmp(name, "previtem"))
        *out = i0 > 0 ? tv_ref(l->items->items[i0 - 1]) : tv_undef_msg("there is no previous item");
    else if (!strcmp(name, "nextitem"))
        *out = i0 + 1 < len ? tv_ref(l->items->items[i0 + 1]) : tv_undef_msg("there is no next item");
    else if (!strcmp(name, "cycle")) *out = lm_tpl_native("cycle", loop_cycle, loop);
    else if (!strcmp(name, "changed")) *out = lm_tpl_native("changed", loop_changed, loop);
    else return 0;
    return tv_oom(*out) ? -1 : 1;
}
