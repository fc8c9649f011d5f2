/* Post-processors: TemplateProcessing (list or string form), BertProcessing,
 * RobertaProcessing, ByteLevel (offsets only: a no-op for ids), Sequence. They run
 * only when special tokens are requested. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/tokenizer/tok_internal.h"

void tok_post_free(tok_post *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_single; i++) free(p->single[i].ids);
    free(p->single);
    for (size_t i = 0; i < p->n_items; i++) tok_post_free(p->items[i]);
    free(p->items);
    free(p);
}

static int add_item(tok_post *p, int is_special, const int32_t *ids, size_t n) {
    tok_template_item *v = realloc(p->single, (p->n_single + 1) * sizeof *v);
    if (!v) return mx_set_error("out of memory loading a post-processor");
    p->single = v;
    tok_template_item *it = &v[p->n_single++];
    it->is_special = is_special;
    it->n_ids = n;
    it->ids = NULL;
    if (n) {
        it->ids = malloc(n * sizeof *ids);
        if (!it->ids) return mx_set_error("out of memory loading a post-processor");
        memcpy(it->ids, ids, n * sizeof *ids);
    }
    return 0;
}

/* ids of a named special token from "special_tokens": {"name": {"ids": [...]}} */
static int special_ids(const json_t *specials, const char *name, const char *where, tok_post *p) {
    const json_t *e = json_object_get(specials, name);
    const json_t *ids = json_object_get(e, "ids");
    if (!json_is_array(ids))
        return mx_set_error("%s: template uses special token '%s' that \"special_tokens\" does not define", where, name);
    size_t n = json_array_size(ids);
    int32_t *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return mx_set_error("out of memory loading a post-processor");
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(ids, i);
        if (!json_is_integer(x)) {
            free(v);
            return mx_set_error("%s: special_tokens['%s'].ids must hold integers", where, name);
        }
        v[i] = (int32_t)json_integer_value(x);
    }
    int rc = add_item(p, 1, v, n);
    free(v);
    return rc;
}

static int parse_template(tok_post *p, const json_t *single, const json_t *specials, const char *where) {
    if (json_is_string(single)) {
        /* "[CLS] $A [SEP]" / "$A:0 </s>:1" */
        char *s = strdup(json_string_value(single));
        if (!s) return mx_set_error("out of memory");
        int rc = 0;
        for (char *save = NULL, *w = strtok_r(s, " ", &save); w && !rc; w = strtok_r(NULL, " ", &save)) {
            char *colon = strrchr(w, ':');
            if (colon && colon != w && strspn(colon + 1, "0123456789") == strlen(colon + 1) && colon[1]) *colon = '\0';
            if (w[0] == '$') {
                if (strcmp(w, "$") && strcmp(w, "$A") && strcmp(w, "$B") && strspn(w + 1, "0123456789") != strlen(w + 1))
                    rc = mx_set_error("%s: bad template piece '%s'", where, w);
                else if (strcmp(w, "$B")) rc = add_item(p, 0, NULL, 0);
            } else {
                rc = special_ids(specials, w, where, p);
            }
        }
        free(s);
        return rc;
    }
    if (!json_is_array(single)) return mx_set_error("%s: \"single\" must be a list or a string", where);
    for (size_t i = 0; i < json_array_size(single); i++) {
        const json_t *it = json_array_get(single, i);
        const json_t *sp = json_object_get(it, "SpecialToken"), *sq = json_object_get(it, "Sequence");
        if (sp) {
            const char *id = tok_json_str(sp, "id");
            if (!id) return mx_set_error("%s: single[%zu].SpecialToken needs a string \"id\"", where, i);
            if (special_ids(specials, id, where, p)) return -1;
        } else if (sq) {
            if (add_item(p, 0, NULL, 0)) return -1;
        } else {
            return mx_set_error("%s: single[%zu] must be {\"SpecialToken\": ...} or {\"Sequence\": ...}", where, i);
        }
    }
    return 0;
}

/* ["</s>", 2] -> 2 */
static int pair_id(const json_t *j, const char *key, const char *where, int32_t *id) {
    const json_t *v = json_object_get(j, key);
    const json_t *x = json_array_get(v, 1);
    if (!json_is_integer(x)) return mx_set_error("%s: \"%s\" must be [token, id]", where, key);
    *id = (int32_t)json_integer_value(x);
    return 0;
}

tok_post *tok_post_from_json(const json_t *j, const char *where, const struct lm_tokenizer *tok) {
    (void)tok;
    const char *type = tok_json_type(j, where);
    if (!type) return NULL;
    tok_post *p = calloc(1, sizeof *p);
    if (!p) {
        mx_set_error("out of memory loading a post-processor");
        return NULL;
    }
    char sub[512];
    if (!strcmp(type, "TemplateProcessing")) {
        p->kind = POST_TEMPLATE;
        if (parse_template(p, json_object_get(j, "single"), json_object_get(j, "special_tokens"), where)) goto fail;
    } else if (!strcmp(type, "ByteLevel")) {
        p->kind = POST_BYTELEVEL;
    } else if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        p->kind = !strcmp(type, "BertProcessing") ? POST_BERT : POST_ROBERTA;
        int32_t cls, sep;
        if (pair_id(j, "cls", where, &cls) || pair_id(j, "sep", where, &sep)) goto fail;
        if (add_item(p, 1, &cls, 1) || add_item(p, 0, NULL, 0) || add_item(p, 1, &sep, 1)) goto fail;
    } else if (!strcmp(type, "Sequence")) {
        p->kind = POST_SEQUENCE;
        const json_t *arr = json_object_get(j, "processors");
        if (!json_is_array(arr)) {
            mx_set_error("%s: Sequence post-processor needs an array \"processors\"", where);
            goto fail;
        }
        p->n_items = json_array_size(arr);
        p->items = calloc(p->n_items ? p->n_items : 1, sizeof *p->items);
        if (!p->items) goto fail;
        for (size_t i = 0; i < p->n_items; i++) {
            snprintf(sub, sizeof sub, "%s.processors[%zu]", where, i);
            if (!(p->items[i] = tok_post_from_json(json_array_get(arr, i), sub, tok))) goto fail;
        }
    } else {
        mx_set_error("%s: unknown post-processor type '%s'", where, type);
        goto fail;
    }
    return p;
fail:
    tok_post_free(p);
    return NULL;
}

tok_post *tok_post_bos_eos(int32_t bos, int add_bos, int32_t eos, int add_eos) {
    tok_post *p = calloc(1, sizeof *p);
    if (!p) {
        mx_set_error("out of memory");
        return NULL;
    }
    p->kind = POST_TEMPLATE;
    if ((add_bos && add_item(p, 1, &bos, 1)) || add_item(p, 0, NULL, 0) || (add_eos && add_item(p, 1, &eos, 1))) {
        tok_post_free(p);
        return NULL;
    }
    return p;
}

int tok_post_apply(const tok_post *p, const tok_ids *in, tok_ids *out) {
    out->n = 0;
    switch (p->kind) {
    case POST_BYTELEVEL:
        return tok_ids_append(out, in->v, in->n);
    case POST_TEMPLATE: case POST_ROBERTA: case POST_BERT:
        for (size_t i = 0; i < p->n_single; i++) {
            const tok_template_item *it = &p->single[i];
            if (tok_ids_append(out, it->is_special ? it->ids : in->v, it->is_special ? it->n_ids : in->n)) return -1;
        }
        return 0;
    case POST_SEQUENCE: {
        tok_ids a = {0}, b = {0};
        if (tok_ids_append(&a, in->v, in->n)) return -1;
        for (size_t i = 0; i < p->n_items; i++) {
            if (tok_post_apply(p->items[i], &a, &b)) {
                tok_ids_free(&a);
                tok_ids_free(&b);
                return -1;
            }
            tok_ids t = a;
            a = b;
            b = t;
        }
        int rc = tok_ids_append(out, a.v, a.n);
        tok_ids_free(&a);
        tok_ids_free(&b);
        return rc;
    }
    }
    return mx_set_error("internal: unknown post-processor kind %d", p->kind);
}
