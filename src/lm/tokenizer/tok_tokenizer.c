/* The tokenizer: loading tokenizer.json and the transformers config files, encode,
 * decode and the accessors of include/cmlx/lm_tokenizer.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmlx/error.h"
#include "util/file.h"
#include "lm/tokenizer/tok_internal.h"

void lm_tokenizer_free(lm_tokenizer *t) {
    if (!t) return;
    tok_model_free(t->model);
    tok_normalizer_free(t->normalizer);
    tok_pretok_free(t->pretok);
    tok_post_free(t->post);
    tok_decoder_free(t->decoder);
    tok_added_free(&t->added);
    free(t->special_ids);
    free(t->path);
    free(t->bos_token);
    free(t->eos_token);
    free(t->pad_token);
    free(t->unk_token);
    free(t->sep_token);
    free(t->cls_token);
    free(t->mask_token);
    free(t->eos_ids);
    free(t->chat_template);
    free(t->tokenizer_class);
    free(t);
}

/* Added tokens get their ids the way the Rust library assigns them on load (the "id"
 * in the file is only checked there, with a warning): an existing added token or
 * model token keeps its id, anything else takes the next id after the model's
 * vocabulary (or after the largest added id). A repeated content replaces the
 * earlier entry's properties. */
static int load_added(lm_tokenizer *t, const json_t *arr) {
    if (!arr || json_is_null(arr)) return 0;
    if (!json_is_array(arr)) return mx_set_error("%s: \"added_tokens\" must be an array", t->path);
    size_t n = json_array_size(arr);
    t->added.v = calloc(n ? n : 1, sizeof *t->added.v);
    hashmap *seen = hashmap_new(n + 16);
    if (!t->added.v || !seen) {
        hashmap_free(seen);
        return mx_set_error("out of memory loading added tokens");
    }
    const tok_model *m = t->model;
    size_t model_size = m->kind == MODEL_UNIGRAM ? m->n_entries : m->vocab_count;
    int64_t next_id = (int64_t)model_size;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const json_t *e = json_array_get(arr, i);
        const json_t *id = json_object_get(e, "id"), *content = json_object_get(e, "content");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > INT32_MAX) {
            rc = mx_set_error("%s: added_tokens[%zu]: missing or bad integer \"id\"", t->path, i);
            break;
        }
        if (!json_is_string(content)) {
            rc = mx_set_error("%s: added_tokens[%zu]: missing string \"content\"", t->path, i);
            break;
        }
        const char *c = json_string_value(content);
        size_t len = json_string_length(content);
        if (len == 0) continue;
        int64_t slot;
        tok_added_token *a;
        if (hashmap_get(seen, c, len, &slot)) {
            a = &t->added.v[slot]; /* same content: same id, new properties */
        } else {
            a = &t->added.v[t->added.n];
            a->len = len;
            a->content = malloc(len + 1);
            if (!a->content) {
                rc = mx_set_error("out of memory loading added tokens");
                break;
            }
            memcpy(a->content, c, len + 1);
            int32_t mid = tok_model_token_to_id(m, c, len);
            a->id = mid >= 0 ? mid : (int32_t)next_id++;
            if (hashmap_put(seen, c, len, (int64_t)t->added.n)) {
                free(a->content);
                rc = -1;
                break;
            }
            t->added.n++;
        }
        a->special = tok_json_bool(e, "special", 0);
        a->lstrip = tok_json_bool(e, "lstrip", 0);
        a->rstrip = tok_json_bool(e, "rstrip", 0);
        a->single_word = tok_json_bool(e, "single_word", 0);
        a->normalized = tok_json_bool(e, "normalized", !a->special);
    }
    hashmap_free(seen);
    return rc;
}

static lm_tokenizer *load_tokenizer_json(const char *path) {
    lm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        mx_set_error("out of memory loading %s", path);
        return NULL;
    }
    t->bos_id = t->eos_id = t->pad_id = t->unk_id = -1;
    t->path = strdup(path);
    tok_fast_json fast;
    char *text = NULL;
    json_t *root = t->path ? tok_json_load(path, &fast, &text) : NULL;
    if (!root) goto fail;
    char where[1024];
    const json_t *j;
    if (!(t->model = tok_model_from_json(json_object_get(root, "model"), path, &fast))) goto fail;
    if ((j = json_object_get(root, "normalizer")) && !json_is_null(j)) {
        snprintf(where, sizeof where, "%s: normalizer", path);
        if (!(t->normalizer = tok_normalizer_from_json(j, where))) goto fail;
    }
    if ((j = json_object_get(root, "pre_tokenizer")) && !json_is_null(j)) {
        snprintf(where, sizeof where, "%s: pre_tokenizer", path);
        if (!(t->pretok = tok_pretok_from_json(j, where))) goto fail;
    }
    if ((j = json_object_get(root, "post_processor")) && !json_is_null(j)) {
        snprintf(where, sizeof where, "%s: post_processor", path);
        if (!(t->post = tok_post_from_json(j, where, t))) goto fail;
    }
    if ((j = json_object_get(root, "decoder")) && !json_is_null(j)) {
        snprintf(where, sizeof where, "%s: decoder", path);
        if (!(t->decoder = tok_decoder_from_json(j, where))) goto fail;
    }
    if (load_added(t, json_object_get(root, "added_tokens")) || tok_added_build(&t->added, t->normalizer)) goto fail;
    t->n_ids = t->model->n_ids;
    for (size_t i = 0; i < t->added.n; i++)
        if ((size_t)t->added.v[i].id + 1 > t->n_ids) t->n_ids = (size_t)t->added.v[i].id + 1;
    t->special_ids = calloc(t->n_ids ? t->n_ids : 1, 1);
    if (!t->special_ids) {
        mx_set_error("out of memory loading %s", path);
        goto fail;
    }
    /* decode(skip_special_tokens) drops every id whose token string is special */
    for (size_t i = 0; i < t->added.n; i++) {
        const tok_added_token *a = &t->added.v[i];
        if (!a->special) continue;
        t->special_ids[a->id] = 1;
        int32_t mid = tok_model_token_to_id(t->model, a->content, a->len);
        if (mid >= 0 && !tok_added_by_id(&t->added, mid)) t->special_ids[mid] = 1;
    }
    json_decref(root);
    free(text);
    return t;
fail:
    json_decref(root);
    free(text);
    lm_tokenizer_free(t);
    return NULL;
}

lm_tokenizer *lm_tokenizer_load_file(const char *path) {
    if (!path) {
        mx_set_error("lm_tokenizer_load_file: NULL path");
        return NULL;
    }
    return load_tokenizer_json(path);
}

/* A special token given as "text" or {"content": "text", ...}. */
static int config_token(const json_t *cfg, const char *key, char **out, const char *path) {
    const json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) return 0;
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (!json_is_string(v)) return mx_set_error("%s: \"%s\" must be a string or an AddedToken object", path, key);
    *out = strdup(json_string_value(v));
    return *out ? 0 : mx_set_error("out of memory");
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static json_t *load_json_file(const char *path) {
    json_error_t err;
    /* numbers as doubles: model_max_length is often 1e30, beyond jansson's integers */
    json_t *j = json_load_file(path, JSON_DECODE_INT_AS_REAL, &err);
    if (!j) mx_set_error("%s: invalid JSON at line %d, column %d: %s", path, err.line, err.column, err.text);
    else if (!json_is_object(j)) {
        mx_set_error("%s: the top level is not a JSON object", path);
        json_decref(j);
        j = NULL;
    }
    return j;
}

static int add_eos(lm_tokenizer *t, int32_t id) {
    if (id < 0) return 0;
    for (size_t i = 0; i < t->n_eos_ids; i++)
        if (t->eos_ids[i] == id) return 0;
    int32_t *v = realloc(t->eos_ids, (t->n_eos_ids + 1) * sizeof *v);
    if (!v) return mx_set_error("out of memory");
    t->eos_ids = v;
    v[t->n_eos_ids++] = id;
    return 0;
}

static int llama_style(const char *cls) {
    static const char *const names[] = {"LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer",
                                        "CodeLlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast"};
    if (!cls) return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(cls, names[i])) return 1;
    return 0;
}


static int load_configs(lm_tokenizer *t, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    json_t *cfg = NULL;
    int add_bos = -1, add_eos_tok = -1;
    if (file_exists(path)) {
        if (!(cfg = load_json_file(path))) return -1;
        if (config_token(cfg, "bos_token", &t->bos_token, path) || config_token(cfg, "eos_token", &t->eos_token, path) ||
            config_token(cfg, "pad_token", &t->pad_token, path) || config_token(cfg, "unk_token", &t->unk_token, path) ||
            config_token(cfg, "sep_token", &t->sep_token, path) || config_token(cfg, "cls_token", &t->cls_token, path) ||
            config_token(cfg, "mask_token", &t->mask_token, path)) {
            json_decref(cfg);
            return -1;
        }
        add_bos = tok_json_bool(cfg, "add_bos_token", -1);
        add_eos_tok = tok_json_bool(cfg, "add_eos_token", -1);
        t->clean_up_spaces = tok_json_bool(cfg, "clean_up_tokenization_spaces", 0);
        const char *cls = tok_json_str(cfg, "tokenizer_class");
        if (cls && !(t->tokenizer_class = strdup(cls))) goto oom;
        const json_t *ct = json_object_get(cfg, "chat_template");
        if (json_is_string(ct)) {
            if (!(t->chat_template = strdup(json_string_value(ct)))) goto oom;
        } else if (json_is_array(ct)) {
            for (size_t i = 0; i < json_array_size(ct); i++) {
                const json_t *e = json_array_get(ct, i);
                const char *name = tok_json_str(e, "name"), *tpl = tok_json_str(e, "template");
                if (name && tpl && !strcmp(name, "default") && !(t->chat_template = strdup(tpl))) goto oom;
            }
        }
        json_decref(cfg);
        cfg = NULL;
    }
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    if (!t->chat_template && file_exists(path) && !(t->chat_template = util_read_file(path, NULL, NULL))) return -1;
    t->bos_id = t->bos_token ? lm_tokenizer_token_to_id(t, t->bos_token) : -1;
    t->eos_id = t->eos_token ? lm_tokenizer_token_to_id(t, t->eos_token) : -1;
    t->pad_id = t->pad_token ? lm_tokenizer_token_to_id(t, t->pad_token) : -1;
    t->unk_id = t->unk_token ? lm_tokenizer_token_to_id(t, t->unk_token) : -1;
    if (add_eos(t, t->eos_id)) return -1;

    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    if (file_exists(path)) {
        json_t *g = load_json_file(path);
        if (!g) return -1;
        const json_t *e = json_object_get(g, "eos_token_id"), *b = json_object_get(g, "bos_token_id");
        int rc = 0;
        if (json_is_number(e)) rc = add_eos(t, (int32_t)json_number_value(e));
        else if (json_is_array(e))
            for (size_t i = 0; i < json_array_size(e) && !rc; i++)
                if (json_is_number(json_array_get(e, i))) rc = add_eos(t, (int32_t)json_number_value(json_array_get(e, i)));
        if (t->eos_id < 0 && t->n_eos_ids) t->eos_id = t->eos_ids[0];
        if (t->bos_id < 0 && json_is_number(b)) t->bos_id = (int32_t)json_number_value(b);
        json_decref(g);
        if (rc) return -1;
    }

    /* transformers' Llama-style classes rebuild the post-processor from
     * add_bos_token (default true) and add_eos_token (default false); other classes
     * do so only when the config asks for BOS or EOS explicitly. */
    int rebuild = llama_style(t->tokenizer_class) || add_bos == 1 || add_eos_tok == 1;
    if (rebuild) {
        int want_bos = add_bos < 0 ? llama_style(t->tokenizer_class) : add_bos;
        int want_eos = add_eos_tok == 1;
        if (want_bos && t->bos_id < 0)
            return mx_set_error("%s/tokenizer_config.json: add_bos_token is true but bos_token is not a known token", dir);
        if (want_eos && t->eos_id < 0)
            return mx_set_error("%s/tokenizer_config.json: add_eos_token is true but eos_token is not a known token", dir);
        tok_post *p = tok_post_bos_eos(t->bos_id, want_bos, t->eos_id, want_eos);
        if (!p) return -1;
        tok_post_free(t->post);
        t->post = p;
    }
    return 0;
oom:
    json_decref(cfg);
    return mx_set_error("out of memory reading %s", path);
}

lm_tokenizer *lm_tokenizer_load(const char *dir) {
    if (!dir) {
        mx_set_error("lm_tokenizer_load: NULL directory");
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (!file_exists(path)) {
        mx_set_error("%s: no tokenizer.json in this directory", dir);
        return NULL;
    }
    lm_tokenizer *t = load_tokenizer_json(path);
    if (!t) return NULL;
    if (load_configs(t, dir)) {
        lm_tokenizer_free(t);
        return NULL;
    }
    return t;
}

/* ---- encode ------------------------------------------------------------------ */
int lm_tokenizer_encode(const lm_tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids_out,
                        size_t *n_out) {
    if (!t || (!text && len) || !ids_out || !n_out) return mx_set_error("lm_tokenizer_encode: NULL argument");
    *ids_out = NULL;
    *n_out = 0;
    size_t bad = tok_utf8_invalid_at(text ? text : "", len);
    if (bad != (size_t)-1) return mx_set_error("encode: the text is not valid UTF-8 (byte offset %zu)", bad);
    strbuf arena = STRBUF_INIT, norm = STRBUF_INIT;
    tok_pieces a = {0}, b = {0};
    tok_ids ids = {0}, post = {0};
    int rc = -1;
    if (strbuf_append(&arena, text ? text : "", len)) goto done;
    if (len && tok_pieces_push(&a, 0, len, -1, 1)) goto done;
    /* 1. added tokens matched on the raw text */
    for (size_t i = 0; i < a.n; i++)
        if (tok_added_split(&t->added, t->added.raw_trie, arena.data, &a.v[i], &b)) goto done;
    /* 2. normalize the rest, then match the normalized added tokens */
    a.n = 0;
    for (size_t i = 0; i < b.n; i++) {
        tok_piece p = b.v[i];
        if (p.added_id < 0 && t->normalizer) {
            if (tok_normalize(t->normalizer, arena.data + p.off, p.len, &norm)) goto done;
            p.off = arena.len;
            p.len = norm.len;
            if (strbuf_append(&arena, norm.data ? norm.data : "", norm.len)) goto done;
        }
        if (p.added_id >= 0) {
            if (tok_pieces_push(&a, p.off, p.len, p.added_id, p.at_start)) goto done;
        } else if (tok_added_split(&t->added, t->added.norm_trie, arena.data, &p, &a)) goto done;
    }
    /* 3. pre-tokenize */
    tok_pieces *words = &a;
    if (t->pretok) {
        if (tok_pretokenize(t->pretok, &arena, &a, &b)) goto done;
        words = &b;
    }
    /* 4. the model */
    for (size_t i = 0; i < words->n; i++) {
        const tok_piece *p = &words->v[i];
        if (p->added_id >= 0) {
            if (tok_ids_push(&ids, p->added_id)) goto done;
        } else if (p->len && tok_model_tokenize(t->model, arena.data + p->off, p->len, &ids)) goto done;
    }
    /* 5. special tokens */
    if (add_special && t->post) {
        if (tok_post_apply(t->post, &ids, &post)) goto done;
        tok_ids x = ids;
        ids = post;
        post = x;
    }
    if (!ids.v && tok_ids_push(&ids, 0) == 0) ids.n = 0;
    if (!ids.v) goto done;
    *ids_out = ids.v;
    *n_out = ids.n;
    ids.v = NULL;
    rc = 0;
done:
    strbuf_free(&arena);
    strbuf_free(&norm);
    tok_pieces_free(&a);
    tok_pieces_free(&b);
    tok_ids_free(&ids);
    tok_ids_free(&post);
    return rc;
}

char *lm_tokenizer_decode_len(const lm_tokenizer *t, const int32_t *ids, size_t n, int skip_special, size_t *len) {
    if (!t || (!ids && n)) {
        mx_set_error("lm_tokenizer_decode: NULL argument");
        return NULL;
    }
    strbuf out = STRBUF_INIT;
    if (tok_decode_into(t, ids, n, skip_special, &out, NULL)) {
        strbuf_free(&out);
        return NULL;
    }
    return strbuf_detach(&out, len);
}

char *lm_tokenizer_decode(const lm_tokenizer *t, const int32_t *ids, size_t n, int skip_special) {
    return lm_tokenizer_decode_len(t, ids, n, skip_special, NULL);
}

/* ---- accessors --------------------------------------------------------------- */
const char *lm_tokenizer_id_to_token(const lm_tokenizer *t, int32_t id) {
    if (!t) return NULL;
    const tok_added_token *a = tok_added_by_id(&t->added, id);
    if (a) return a->content;
    return tok_model_id_to_token(t->model, id, NULL);
}

int32_t lm_tokenizer_token_to_id(const lm_tokenizer *t, const char *token) {
    if (!t || !token) return -1;
    int64_t i;
    size_t n = strlen(token);
    if (t->added.by_content && hashmap_get(t->added.by_content, token, n, &i)) return t->added.v[i].id;
    return tok_model_token_to_id(t->model, token, n);
}

size_t lm_tokenizer_vocab_size(const lm_tokenizer *t) { return t ? t->n_ids : 0; }
int32_t lm_tokenizer_bos_id(const lm_tokenizer *t) { return t ? t->bos_id : -1; }
int32_t lm_tokenizer_eos_id(const lm_tokenizer *t) { return t ? t->eos_id : -1; }
int32_t lm_tokenizer_pad_id(const lm_tokenizer *t) { return t ? t->pad_id : -1; }
int32_t lm_tokenizer_unk_id(const lm_tokenizer *t) { return t ? t->unk_id : -1; }

const int32_t *lm_tokenizer_eos_ids(const lm_tokenizer *t, size_t *n) {
    if (n) *n = t ? t->n_eos_ids : 0;
    return t ? t->eos_ids : NULL;
}

const char *lm_tokenizer_special_token(const lm_tokenizer *t, const char *name) {
    if (!t || !name) return NULL;
    if (!strcmp(name, "bos_token")) return t->bos_token;
    if (!strcmp(name, "eos_token")) return t->eos_token;
    if (!strcmp(name, "pad_token")) return t->pad_token;
    if (!strcmp(name, "unk_token")) return t->unk_token;
    if (!strcmp(name, "sep_token")) return t->sep_token;
    if (!strcmp(name, "cls_token")) return t->cls_token;
    if (!strcmp(name, "mask_token")) return t->mask_token;
    return NULL;
}

const char *lm_tokenizer_chat_template(const lm_tokenizer *t) { return t ? t->chat_template : NULL; }

int lm_tokenizer_is_special(const lm_tokenizer *t, int32_t id) {
    return t && id >= 0 && (size_t)id < t->n_ids && t->special_ids[id];
}
