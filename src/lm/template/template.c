/* Public entry points: compile (lex + parse) and render with a JSON context. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmlx/error.h"
#include "cmlx/lm_template.h"
#include "lm/template/eval.h"
#include "lm/template/json.h"
#include "lm/template/parser.h"

struct lm_template {
    node_vec body;
};

lm_template *lm_template_compile(const char *source, size_t len) {
    if (!source) {
        mx_set_error("lm_template_compile: NULL source");
        return NULL;
    }
    token_list tl;
    if (lm_tpl_lex(source, len, &tl) != 0) return NULL;
    lm_template *t = calloc(1, sizeof *t);
    if (!t) {
        lm_tpl_tokens_free(&tl);
        mx_set_error("lm_template_compile: out of memory");
        return NULL;
    }
    int rc = lm_tpl_parse(&tl, &t->body);
    lm_tpl_tokens_free(&tl);
    if (rc != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void lm_template_free(lm_template *t) {
    if (!t) return;
    lm_tpl_body_free(&t->body);
    free(t);
}

int lm_tpl_parse_clock(const char *text, struct tm *out) {
    int y, mo, d, h = 0, mi = 0, s = 0;
    char sep = 'T';
    int n = sscanf(text, "%d-%d-%d%c%d:%d:%d", &y, &mo, &d, &sep, &h, &mi, &s);
    if (!(n == 3 || n == 7) || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 ||
        s > 60)
        return mx_set_error("template clock '%s' is not YYYY-MM-DDTHH:MM:SS", text);
    memset(out, 0, sizeof *out);
    out->tm_year = y - 1900;
    out->tm_mon = mo - 1;
    out->tm_mday = d;
    out->tm_hour = h;
    out->tm_min = mi;
    out->tm_sec = s;
    /* fill in weekday and day of year without involving the local time zone */
    struct tm tmp = *out;
    time_t t = timegm(&tmp);
    struct tm norm;
    gmtime_r(&t, &norm);
    out->tm_wday = norm.tm_wday;
    out->tm_yday = norm.tm_yday;
    out->tm_isdst = 0;
    return 0;
}

char *lm_tpl_render_value(const lm_template *t, tv context, const lm_template_options *opt) {
    interp in;
    memset(&in, 0, sizeof in);
    in.globals = context;
    in.line = 1;
    if (opt && opt->fixed_now) {
        if (lm_tpl_parse_clock(opt->fixed_now, &in.fixed_now) != 0) return NULL;
        in.has_fixed_now = 1;
    }
    scope *root = lm_tpl_scope_new(&in, NULL);
    if (!root) return NULL;
    strbuf sb = STRBUF_INIT;
    strbuf_reserve(&sb, 256);
    int st = lm_tpl_exec(&in, root, &t->body, &sb);
    lm_tpl_scopes_free(&in);
    if (st < 0 || sb.failed) {
        strbuf_free(&sb);
        return NULL;
    }
    char *r = strbuf_detach(&sb, NULL);
    if (!r) mx_set_error("template: out of memory");
    return r;
}

char *lm_template_render_json(const lm_template *t, const struct json_t *context, const lm_template_options *opt) {
    if (!t) {
        mx_set_error("lm_template_render: NULL template");
        return NULL;
    }
    tv ctx;
    if (context) {
        if (!json_is_object(context)) {
            mx_set_error("lm_template_render: the context must be a JSON object");
            return NULL;
        }
        if (lm_tpl_from_json(context, &ctx) != 0) return NULL;
    } else {
        ctx = tv_dict_new(0);
        if (tv_oom(ctx)) return NULL;
    }
    char *r = lm_tpl_render_value(t, ctx, opt);
    tv_unref(ctx);
    return r;
}

char *lm_template_render(const lm_template *t, const char *context_json, const lm_template_options *opt) {
    if (!context_json) return lm_template_render_json(t, NULL, opt);
    json_error_t err;
    json_t *j = json_loads(context_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!j) {
        mx_set_error("lm_template_render: context is not JSON: %s (line %d, column %d)", err.text, err.line, err.column);
        return NULL;
    }
    char *r = lm_template_render_json(t, j, opt);
    json_decref(j);
    return r;
}

const char *lm_template_error_type(void) {
    static _Thread_local char type[64];
    const char *e = mx_last_error();
    const char *colon = strstr(e, ": ");
    type[0] = 0;
    if (!colon || colon - e >= (long)sizeof type) return type;
    for (const char *p = e; p < colon; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) return type;
    memcpy(type, e, (size_t)(colon - e));
    type[colon - e] = 0;
    return type;
}
