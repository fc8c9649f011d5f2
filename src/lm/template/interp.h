/* Internal interface of the template evaluator shared by eval.c, ops.c, filters.c,
 * tests.c, methods.c and globals.c. Every int-returning function returns 0 on success
 * and -1 after recording "ErrorType: message (line N)" with mx_set_error. */
#ifndef CMLX_LM_TEMPLATE_INTERP_H
#define CMLX_LM_TEMPLATE_INTERP_H

#include <time.h>

#include "lm/template/ast.h"
#include "lm/template/value.h"

typedef struct scope {
    struct scope *parent;
    tv vars;                 /* TV_DICT */
    struct scope *next_alloc; /* every scope of a render, freed when it ends */
    int pinned;              /* a macro closes over this scope: it must outlive its block */
} scope;

typedef struct interp {
    tv globals;        /* render context: messages, tools, special tokens, kwargs */
    scope *scopes;
    int line;          /* line of the statement or expression being evaluated */
    int depth;         /* nesting of macro calls, bounded against runaway recursion */
    int has_fixed_now;
    struct tm fixed_now;
    int failed;        /* an error has been recorded: keep the first message */
} interp;

/* Records "type: message (line N)" once per render and returns -1. */
int lm_tpl_fail(interp *in, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Raises the error an Undefined carries (UndefinedError, or SecurityError when flagged). */
int lm_tpl_fail_undefined(interp *in, tv undef);
/* Undefined for a missing attribute / item, with Jinja's message. */
tv lm_tpl_missing(tv obj, tv key);

/* Filters and tests: resolved by name at parse time. */
typedef int (*tpl_filter_fn)(interp *in, tv v, const targs *a, tv *out);
typedef int (*tpl_test_fn)(interp *in, tv v, const targs *a, int *out);
tpl_filter_fn lm_tpl_find_filter(const char *name);
tpl_test_fn lm_tpl_find_test(const char *name);
int lm_tpl_call_filter(interp *in, const char *name, tv v, const targs *a, tv *out);
int lm_tpl_call_test(interp *in, const char *name, tv v, const targs *a, int *out);

/* Argument binding for natives: fills v[i] (borrowed) and has[i] for each name. */
typedef struct bound_args {
    tv v[8];
    int has[8];
} bound_args;
int lm_tpl_bind(interp *in, const targs *a, const char *fname, const char *const *names, bound_args *out);

/* Python/Jinja operations (ops.c). Results are new references. */
int lm_tpl_getattr(interp *in, tv obj, const char *name, tv *out);
int lm_tpl_getitem(interp *in, tv obj, tv key, tv *out);
int lm_tpl_slice(interp *in, tv obj, tv start, tv stop, tv step, tv *out);
int lm_tpl_binop(interp *in, int op, tv a, tv b, tv *out);
int lm_tpl_compare(interp *in, int op, tv a, tv b, int *out);
int lm_tpl_contains(interp *in, tv container, tv item, int *out);
/* Items a for loop over v visits, as a new list. */
int lm_tpl_iterate(interp *in, tv v, tv *out);
/* Python ordering for sort/min/max: -1, 0, 1; -1 return with error on incomparable types. */
int lm_tpl_order(interp *in, tv a, tv b, int *cmp);
int lm_tpl_length(interp *in, tv v, int64_t *out);

/* Calls (eval.c): natives, macros, the loop object. */
int lm_tpl_call(interp *in, tv callee, const targs *a, tv *out);
tv lm_tpl_native(const char *name, tv_native_fn fn, tv self);

/* Methods of str, dict, list, loop and namespace values (methods.c). */
tv_native_fn lm_tpl_find_method(tv obj, const char *name);
/* Global functions: range, namespace, dict, raise_exception, strftime_now ... (globals.c). */
int lm_tpl_lookup_global(const char *name, tv *out);
/* The loop object's attributes (globals.c). */
int lm_tpl_loop_attr(interp *in, tv loop, const char *name, tv *out);

/* Markup + str and str + Markup escape the plain side, as markupsafe does (filters.c). */
int lm_tpl_markup_concat(interp *in, tv a, tv b, tv *out);
tv lm_tpl_escape(tv s); /* new Markup holding html-escaped str(s); Markup stays as is */

/* JSON (json.c): tojson as transformers defines it. */
typedef struct tojson_opts {
    int indent;           /* -1: none */
    const char *indent_str; /* overrides indent when set */
    const char *item_sep, *key_sep;
    int sort_keys;
    int ensure_ascii;
} tojson_opts;
int lm_tpl_tojson(interp *in, tv v, const tojson_opts *o, strbuf *sb);

#endif
