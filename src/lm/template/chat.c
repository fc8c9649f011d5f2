/* Chat-template level: finds a model directory's template(s) and special tokens the way
 * transformers' tokenizer loading does, and renders conversations with the variables
 * apply_chat_template passes. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmlx/error.h"
#include "cmlx/lm_template.h"
#include "lm/template/json.h"
#include "util/file.h"
#include "util/strbuf.h"

typedef struct named_template {
    char *name;
    char *source;
    lm_template *compiled;
} named_template;

struct lm_chat_template {
    named_template *v;
    int n;
    tv special;        /* dict: special token name -> str or list of str */
    char *fixed_now;
};


/* Adds origin to the message of a failed compile. */
static int compile_failed(const char *name, const char *origin) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mx_last_error());
    return mx_set_error("%s (chat template '%s' from %s)", msg, name, origin);
}

static int add_template(lm_chat_template *t, const char *name, const char *source, const char *origin) {
    for (int i = 0; i < t->n; i++) /* a later source of the same name replaces an earlier one */
        if (!strcmp(t->v[i].name, name)) {
            lm_template *c = lm_template_compile(source, strlen(source));
            if (!c) return compile_failed(name, origin);
            char *s = strdup(source);
            if (!s) return lm_template_free(c), mx_set_error("out of memory");
            lm_template_free(t->v[i].compiled);
            free(t->v[i].source);
            t->v[i].compiled = c;
            t->v[i].source = s;
            return 0;
        }
    named_template *nv = realloc(t->v, (size_t)(t->n + 1) * sizeof *nv);
    if (!nv) return mx_set_error("out of memory adding chat template '%s'", name);
    t->v = nv;
    named_template *e = &t->v[t->n];
    e->compiled = lm_template_compile(source, strlen(source));
    if (!e->compiled) return compile_failed(name, origin);
    e->name = strdup(name);
    e->source = strdup(source);
    if (!e->name || !e->source) {
        lm_template_free(e->compiled);
        free(e->name);
        free(e->source);
        return mx_set_error("out of memory adding chat template '%s'", name);
    }
    t->n++;
    return 0;
}

/* "chat_template" as a string or a list of {name, template}. */
static int add_from_json(lm_chat_template *t, json_t *ct, const char *origin) {
    if (json_is_string(ct)) return add_template(t, "default", json_string_value(ct), origin);
    if (json_is_array(ct)) {
        size_t i;
        json_t *e;
        json_array_foreach(ct, i, e) {
            json_t *name = json_object_get(e, "name"), *tpl = json_object_get(e, "template");
            if (!json_is_string(name) || !json_is_string(tpl))
                return mx_set_error("%s: chat_template[%zu] needs string 'name' and 'template'", origin, i);
            if (add_template(t, json_string_value(name), json_string_value(tpl), origin)) return -1;
        }
        return 0;
    }
    if (!ct || json_is_null(ct)) return 0;
    return mx_set_error("%s: chat_template must be a string or a list of {name, template}", origin);
}

static const char *const SPECIAL_KEYS[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                                           "cls_token", "mask_token", "additional_special_tokens", NULL};

/* A token given as a string or as an AddedToken object {"content": ...}. */
static const char *token_text(json_t *v) {
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_object(v) && json_is_string(json_object_get(v, "content"))) return json_string_value(json_object_get(v, "content"));
    return NULL;
}

static int special_from_json(json_t *cfg, json_t **slots) {
    for (int k = 0; SPECIAL_KEYS[k]; k++) {
        json_t *v = json_object_get(cfg, SPECIAL_KEYS[k]);
        if (!v) continue;
        json_decref(slots[k]);
        slots[k] = json_incref(v);
    }
    return 0;
}

static int build_special(lm_chat_template *t, json_t **slots) {
    t->special = tv_dict_new(0);
    if (tv_oom(t->special)) return -1;
    for (int k = 0; SPECIAL_KEYS[k]; k++) {
        json_t *v = slots[k];
        if (!v) continue;
        tv val;
        if (json_is_array(v)) {
            if (json_array_size(v) == 0) continue;
            val = tv_list_new(0);
            if (tv_oom(val)) return -1;
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                const char *s = token_text(e);
                if (!s) continue;
                tv x = tv_str_cstr(s);
                if (tv_oom(x) || tv_list_push(val, x)) return tv_unref(val), -1;
            }
        } else {
            const char *s = token_text(v);
            if (!s || !*s) continue;
            val = tv_str_cstr(s);
            if (tv_oom(val)) return -1;
        }
        if (tv_dict_set_cstr(t->special, SPECIAL_KEYS[k], val)) return -1;
    }
    return 0;
}

static json_t *load_json(const char *dir, const char *name, int *missing) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = util_read_file(path, NULL, missing);
    if (!text) return NULL;
    json_error_t err;
    /* integers are read as reals: configs hold values beyond int64 (model_max_length
     * 1e30) and none of the integers matter here */
    json_t *j = json_loads(text, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
    free(text);
    if (!j) mx_set_error("%s: invalid JSON: %s (line %d, column %d)", path, err.text, err.line, err.column);
    return j;
}

static int load_additional(lm_chat_template *t, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/additional_chat_templates", dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n <= 6 || strcmp(e->d_name + n - 6, ".jinja") != 0) continue;
        char file[8192], name[256];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        snprintf(name, sizeof name, "%.*s", (int)(n - 6), e->d_name);
        int missing;
        char *src = util_read_file(file, NULL, &missing);
        if (!src) {
            rc = -1;
            break;
        }
        rc = add_template(t, name, src, file);
        free(src);
    }
    closedir(d);
    return rc;
}

lm_chat_template *lm_chat_template_load(const char *dir) {
    if (!dir) {
        mx_set_error("lm_chat_template_load: NULL directory");
        return NULL;
    }
    lm_chat_template *t = calloc(1, sizeof *t);
    if (!t) {
        mx_set_error("out of memory");
        return NULL;
    }
    json_t *slots[8] = {0};
    int missing, rc = 0;
    json_t *cfg = load_json(dir, "tokenizer_config.json", &missing);
    if (!cfg && !missing) rc = -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    int jinja_missing;
    char *jinja = rc ? NULL : util_read_file(path, NULL, &jinja_missing);
    if (!rc && !jinja && !jinja_missing) rc = -1;
    if (!rc && jinja) {
        rc = add_template(t, "default", jinja, path);
    } else if (!rc) {
        int ct_missing;
        json_t *ctj = load_json(dir, "chat_template.json", &ct_missing);
        if (ctj) {
            rc = add_from_json(t, json_object_get(ctj, "chat_template"), "chat_template.json");
            json_decref(ctj);
        } else if (!ct_missing) {
            rc = -1;
        } else if (cfg) {
            rc = add_from_json(t, json_object_get(cfg, "chat_template"), "tokenizer_config.json");
        }
    }
    free(jinja);
    if (!rc) rc = load_additional(t, dir);
    if (!rc && cfg) rc = special_from_json(cfg, slots);
    if (!rc) {
        int sm_missing;
        json_t *sm = load_json(dir, "special_tokens_map.json", &sm_missing);
        if (sm) {
            special_from_json(sm, slots);
            json_decref(sm);
        } else if (!sm_missing) {
            rc = -1;
        }
    }
    if (!rc) rc = build_special(t, slots);
    for (int k = 0; k < 8; k++) json_decref(slots[k]);
    json_decref(cfg);
    if (!rc && t->n == 0) rc = mx_set_error("%s has no chat template (no chat_template.jinja, chat_template.json or "
                                            "chat_template in tokenizer_config.json)", dir);
    if (rc) {
        lm_chat_template_free(t);
        return NULL;
    }
    return t;
}

lm_chat_template *lm_chat_template_new(const char *source, const char *special_tokens_json) {
    lm_chat_template *t = calloc(1, sizeof *t);
    if (!t) {
        mx_set_error("out of memory");
        return NULL;
    }
    json_t *slots[8] = {0};
    int rc = add_template(t, "default", source ? source : "", "lm_chat_template_new");
    if (!rc && special_tokens_json) {
        json_error_t err;
        json_t *j = json_loads(special_tokens_json, 0, &err);
        if (!j) rc = mx_set_error("special tokens are not JSON: %s", err.text);
        else {
            special_from_json(j, slots);
            json_decref(j);
        }
    }
    if (!rc) rc = build_special(t, slots);
    for (int k = 0; k < 8; k++) json_decref(slots[k]);
    if (rc) {
        lm_chat_template_free(t);
        return NULL;
    }
    return t;
}

void lm_chat_template_free(lm_chat_template *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) {
        lm_template_free(t->v[i].compiled);
        free(t->v[i].name);
        free(t->v[i].source);
    }
    free(t->v);
    tv_unref(t->special);
    free(t->fixed_now);
    free(t);
}

int lm_chat_template_set_clock(lm_chat_template *t, const char *fixed_now) {
    if (!fixed_now) {
        free(t->fixed_now);
        t->fixed_now = NULL;
        return 0;
    }
    struct tm tm;
    if (lm_tpl_parse_clock(fixed_now, &tm)) return -1;
    char *c = strdup(fixed_now);
    if (!c) return mx_set_error("out of memory");
    free(t->fixed_now);
    t->fixed_now = c;
    return 0;
}

static const named_template *pick(const lm_chat_template *t, int with_tools) {
    if (t->n == 1 && !strcmp(t->v[0].name, "default")) return &t->v[0];
    const named_template *def = NULL, *tool = NULL;
    for (int i = 0; i < t->n; i++) {
        if (!strcmp(t->v[i].name, "default")) def = &t->v[i];
        if (!strcmp(t->v[i].name, "tool_use")) tool = &t->v[i];
    }
    if (with_tools && tool) return tool;
    if (def) return def;
    if (t->n == 1) return &t->v[0];
    mx_set_error("This tokenizer has multiple chat templates and none is named 'default'%s",
                 with_tools ? " or 'tool_use'" : "");
    return NULL;
}

const char *lm_chat_template_source(const lm_chat_template *t, int with_tools) {
    const named_template *nt = t ? pick(t, with_tools) : NULL;
    return nt ? nt->source : NULL;
}

char *lm_chat_template_apply(const lm_chat_template *t, const char *messages_json, const char *tools_json,
                             int add_generation_prompt, const char *kwargs_json) {
    if (!t || !messages_json) {
        mx_set_error("lm_chat_template_apply: NULL %s", t ? "messages" : "template");
        return NULL;
    }
    const named_template *nt = pick(t, tools_json != NULL);
    if (!nt) return NULL;
    tv ctx = tv_dict_new(0), v;
    if (tv_oom(ctx)) return NULL;
    int rc = lm_tpl_parse_json(messages_json, "messages", &v);
    if (!rc) rc = tv_dict_set_cstr(ctx, "messages", v);
    if (!rc) {
        if (tools_json) rc = lm_tpl_parse_json(tools_json, "tools", &v);
        else v = tv_none();
        if (!rc) rc = tv_dict_set_cstr(ctx, "tools", v);
    }
    if (!rc) rc = tv_dict_set_cstr(ctx, "documents", tv_none());
    if (!rc) rc = tv_dict_set_cstr(ctx, "add_generation_prompt", tv_bool(add_generation_prompt));
    tv_dict *sp = tv_as_dict(t->special);
    for (size_t i = 0; !rc && i < sp->len; i++) rc = tv_dict_set(ctx, tv_ref(sp->keys[i]), tv_ref(sp->vals[i]));
    if (!rc && kwargs_json) {
        tv kw;
        rc = lm_tpl_parse_json(kwargs_json, "kwargs", &kw);
        if (!rc && kw.type != TV_DICT) {
            tv_unref(kw);
            rc = mx_set_error("kwargs must be a JSON object");
        } else if (!rc) {
            tv_dict *kd = tv_as_dict(kw);
            for (size_t i = 0; !rc && i < kd->len; i++) rc = tv_dict_set(ctx, tv_ref(kd->keys[i]), tv_ref(kd->vals[i]));
            tv_unref(kw);
        }
    }
    char *r = NULL;
    if (!rc) {
        lm_template_options opt = {t->fixed_now};
        r = lm_tpl_render_value(nt->compiled, ctx, &opt);
    }
    tv_unref(ctx);
    return r;
}
