/* Loading tokenizer.json. jansson parses everything except model.vocab and
 * model.merges: those two values hold hundreds of thousands of entries, and a
 * dedicated scanner reads them about twenty times faster than building a jansson
 * tree would (qwen3's 11 MB file: ~40 ms instead of ~450 ms). The scanner only
 * looks for the two values; jansson still validates the rest of the file, with the
 * two values blanked out in a copy (newlines kept, so line/column numbers in its
 * errors are those of the real file). */
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/tokenizer/tok_internal.h"

void tok_json_linecol(const char *text, size_t at, int *line, int *col) {
    int l = 1, c = 1;
    for (size_t i = 0; i < at; i++) {
        if (text[i] == '\n') l++, c = 1;
        else if (((unsigned char)text[i] & 0xC0) != 0x80) c++;
    }
    *line = l;
    *col = c;
}

static size_t skip_ws(const char *t, size_t n, size_t i) {
    while (i < n && (t[i] == ' ' || t[i] == '\n' || t[i] == '\r' || t[i] == '\t')) i++;
    return i;
}

/* t[i] == '"'; returns the index after the closing quote, or 0 on error. */
static size_t skip_string(const char *t, size_t n, size_t i) {
    /* a plain loop: JSON strings here are short, memchr's call costs more */
    for (i++; i < n; i++) {
        if (t[i] == '"') return i + 1;
        if (t[i] == '\\') i++;
    }
    return 0;
}

/* Skips one value starting at t[i]; returns the index after it, or 0 on error. */
static size_t skip_value(const char *t, size_t n, size_t i) {
    if (i >= n) return 0;
    if (t[i] == '"') return skip_string(t, n, i);
    if (t[i] == '{' || t[i] == '[') {
        int depth = 0;
        while (i < n) {
            char c = t[i];
            if (c == '"') {
                i = skip_string(t, n, i);
                if (!i) return 0;
                continue;
            }
            if (c == '{' || c == '[') depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
            i++;
        }
        return 0;
    }
    while (i < n && !strchr(",}] \n\r\t", t[i])) i++;
    return i;
}

/* Walks the members of the object at t[i] == '{'; for each calls visit(key, value
 * start, value end). Returns 0, or -1 when the structure is not understood. */
typedef void (*member_fn)(void *ctx, const char *key, size_t klen, size_t vs, size_t ve);

static int walk_object(const char *t, size_t n, size_t i, member_fn visit, void *ctx) {
    if (i >= n || t[i] != '{') return -1;
    i = skip_ws(t, n, i + 1);
    if (i < n && t[i] == '}') return 0;
    for (;;) {
        if (i >= n || t[i] != '"') return -1;
        size_t ks = i + 1;
        size_t ke = skip_string(t, n, i);
        if (!ke) return -1;
        i = skip_ws(t, n, ke);
        if (i >= n || t[i] != ':') return -1;
        size_t vs = skip_ws(t, n, i + 1);
        size_t ve = skip_value(t, n, vs);
        if (!ve) return -1;
        visit(ctx, t + ks, ke - 1 - ks, vs, ve);
        i = skip_ws(t, n, ve);
        if (i < n && t[i] == ',') {
            i = skip_ws(t, n, i + 1);
            continue;
        }
        if (i < n && t[i] == '}') return 0;
        return -1;
    }
}

typedef struct {
    const char *t;
    size_t n;
    size_t model_s, model_e;
    size_t vocab_s, vocab_e, merges_s, merges_e;
} locate_ctx;

static void visit_model(void *c, const char *key, size_t klen, size_t vs, size_t ve) {
    locate_ctx *x = c;
    if (klen == 5 && !memcmp(key, "vocab", 5) && x->t[vs] == '{') x->vocab_s = vs, x->vocab_e = ve;
    if (klen == 6 && !memcmp(key, "merges", 6) && x->t[vs] == '[') x->merges_s = vs, x->merges_e = ve;
}

static void visit_top(void *c, const char *key, size_t klen, size_t vs, size_t ve) {
    locate_ctx *x = c;
    if (klen == 5 && !memcmp(key, "model", 5) && x->t[vs] == '{') x->model_s = vs, x->model_e = ve;
}

/* Copies t[from..to) to d, or, for a blanked value, its opening and closing
 * bracket followed by its newlines only (so jansson's line numbers stay right). */
static size_t copy_compact(char *d, const char *t, size_t s, size_t e, int blank) {
    if (!blank) {
        memcpy(d, t + s, e - s);
        return e - s;
    }
    size_t k = 0;
    d[k++] = t[s];
    d[k++] = t[e - 1];
    for (const char *p = t + s; (p = memchr(p, '\n', (size_t)(t + e - p))) != NULL; p++) d[k++] = '\n';
    return k;
}

json_t *tok_json_load(const char *path, tok_fast_json *fast, char **text_out) {
    memset(fast, 0, sizeof *fast);
    *text_out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        mx_set_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        mx_set_error("%s: not a regular file", path);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    char *text = malloc(len + 1);
    if (!text) {
        fclose(f);
        mx_set_error("%s: out of memory reading %zu bytes", path, len);
        return NULL;
    }
    if (fread(text, 1, len, f) != len) {
        free(text);
        fclose(f);
        mx_set_error("%s: read error: %s", path, strerror(errno));
        return NULL;
    }
    fclose(f);
    text[len] = '\0';

    locate_ctx x = {text, len, 0, 0, 0, 0, 0, 0};
    size_t start = skip_ws(text, len, 0);
    char *copy = NULL;
    size_t copy_len = 0;
    if (walk_object(text, len, start, visit_top, &x) == 0 && x.model_e &&
        walk_object(text, len, x.model_s, visit_model, &x) == 0 && (x.vocab_e || x.merges_e)) {
        copy = malloc(len + 1);
        if (!copy) {
            free(text);
            mx_set_error("%s: out of memory", path);
            return NULL;
        }
        /* the two values in file order, each blanked when found */
        size_t a_s = x.vocab_e ? x.vocab_s : x.merges_s, a_e = x.vocab_e ? x.vocab_e : x.merges_e;
        size_t b_s = x.vocab_e && x.merges_e ? x.merges_s : len, b_e = x.vocab_e && x.merges_e ? x.merges_e : len;
        if (b_s < a_s) {
            size_t ts = a_s, te = a_e;
            a_s = b_s, a_e = b_e, b_s = ts, b_e = te;
        }
        size_t k = 0;
        k += copy_compact(copy + k, text, 0, a_s, 0);
        k += copy_compact(copy + k, text, a_s, a_e, 1);
        k += copy_compact(copy + k, text, a_e, b_s, 0);
        if (b_s < len) k += copy_compact(copy + k, text, b_s, b_e, 1);
        k += copy_compact(copy + k, text, b_e, len, 0);
        copy[k] = '\0';
        copy_len = k;
        fast->vocab_at = x.vocab_e ? x.vocab_s : 0;
        fast->vocab_end = x.vocab_e;
        fast->merges_at = x.merges_e ? x.merges_s : 0;
        fast->merges_end = x.merges_e;
    }
    json_error_t err;
    json_t *root = json_loadb(copy ? copy : text, copy ? copy_len : len, JSON_ALLOW_NUL, &err);
    free(copy);
    if (!root) {
        mx_set_error("%s: invalid JSON at line %d, column %d: %s", path, err.line, err.column, err.text);
        free(text);
        memset(fast, 0, sizeof *fast);
        return NULL;
    }
    if (!json_is_object(root)) {
        mx_set_error("%s: the top level is not a JSON object", path);
        json_decref(root);
        free(text);
        memset(fast, 0, sizeof *fast);
        return NULL;
    }
    fast->text = text;
    fast->len = len;
    fast->path = path;
    *text_out = text;
    return root;
}

static int scan_error(const tok_fast_json *f, size_t at, const char *what) {
    int line, col;
    tok_json_linecol(f->text, at, &line, &col);
    return mx_set_error("%s: %s at line %d, column %d", f->path, what, line, col);
}

static int hexval(const char *p, uint32_t *v) {
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        r <<= 4;
        if (c >= '0' && c <= '9') r |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') r |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') r |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    *v = r;
    return 0;
}

/* Reads the string at t[i] == '"'. Without escapes *s points into the text;
 * otherwise the decoded bytes are in scratch. Returns the index after the string or
 * 0 (error set). */
static size_t read_string(const tok_fast_json *f, size_t i, strbuf *scratch, const char **s, size_t *sl) {
    const char *t = f->text;
    size_t n = f->len, a = i + 1, k = a;
    while (k < n && t[k] != '"' && t[k] != '\\' && (unsigned char)t[k] >= 0x20) k++;
    if (k < n && t[k] == '"') {
        *s = t + a;
        *sl = k - a;
        return k + 1;
    }
    strbuf_reset(scratch);
    strbuf_append(scratch, t + a, k - a);
    while (k < n && t[k] != '"') {
        unsigned char c = (unsigned char)t[k];
        if (c < 0x20) {
            scan_error(f, k, "control character inside a string");
            return 0;
        }
        if (c != '\\') {
            strbuf_putc(scratch, (char)c);
            k++;
            continue;
        }
        if (k + 1 >= n) break;
        char e = t[k + 1];
        const char *rep = NULL;
        switch (e) {
        case '"': rep = "\""; break;
        case '\\': rep = "\\"; break;
        case '/': rep = "/"; break;
        case 'b': rep = "\b"; break;
        case 'f': rep = "\f"; break;
        case 'n': rep = "\n"; break;
        case 'r': rep = "\r"; break;
        case 't': rep = "\t"; break;
        case 'u': break;
        default:
            scan_error(f, k, "invalid escape in a string");
            return 0;
        }
        if (rep) {
            strbuf_putc(scratch, rep[0]);
            k += 2;
            continue;
        }
        uint32_t cp;
        if (k + 6 > n || hexval(t + k + 2, &cp)) {
            scan_error(f, k, "invalid \\u escape");
            return 0;
        }
        k += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (k + 6 > n || t[k] != '\\' || t[k + 1] != 'u' || hexval(t + k + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                scan_error(f, k - 6, "unpaired UTF-16 surrogate in a \\u escape");
                return 0;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            k += 6;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            scan_error(f, k - 6, "unpaired UTF-16 surrogate in a \\u escape");
            return 0;
        }
        char b[4];
        strbuf_append(scratch, b, (size_t)tok_utf8_encode(cp, b));
    }
    if (k >= n) {
        scan_error(f, i, "unterminated string");
        return 0;
    }
    if (scratch->failed || strbuf_reserve(scratch, 0)) return 0;
    *s = scratch->data;
    *sl = scratch->len;
    return k + 1;
}

int tok_fast_vocab(const tok_fast_json *f, int (*put)(void *ctx, const char *k, size_t n, int64_t id), void *ctx) {
    const char *t = f->text;
    size_t n = f->vocab_end, i = skip_ws(t, n, f->vocab_at + 1);
    strbuf scratch = STRBUF_INIT;
    int rc = -1;
    if (i < n && t[i] == '}') {
        rc = 0;
        goto done;
    }
    for (;;) {
        if (i >= n || t[i] != '"') {
            scan_error(f, i, "model.vocab: expected a token string");
            goto done;
        }
        const char *k;
        size_t kl;
        i = read_string(f, i, &scratch, &k, &kl);
        if (!i) goto done;
        i = skip_ws(t, n, i);
        if (i >= n || t[i] != ':') {
            scan_error(f, i, "model.vocab: expected ':'");
            goto done;
        }
        i = skip_ws(t, n, i + 1);
        size_t ds = i;
        int64_t v = 0;
        while (i < n && t[i] >= '0' && t[i] <= '9' && v < (1ll << 40)) v = v * 10 + (t[i++] - '0');
        if (i == ds || (i < n && strchr(".eE-", t[i])) || v > INT32_MAX) {
            scan_error(f, ds, "model.vocab: expected a non-negative integer id");
            goto done;
        }
        if (put(ctx, k, kl, v)) goto done;
        i = skip_ws(t, n, i);
        if (i < n && t[i] == ',') {
            i = skip_ws(t, n, i + 1);
            continue;
        }
        if (i < n && t[i] == '}') break;
        scan_error(f, i, "model.vocab: expected ',' or '}'");
        goto done;
    }
    rc = 0;
done:
    strbuf_free(&scratch);
    return rc;
}

int tok_fast_merges(const tok_fast_json *f,
                    int (*put)(void *ctx, const char *a, size_t an, const char *b, size_t bn), void *ctx) {
    const char *t = f->text;
    size_t n = f->merges_end, i = skip_ws(t, n, f->merges_at + 1);
    strbuf s1 = STRBUF_INIT, s2 = STRBUF_INIT;
    int rc = -1;
    size_t index = 0;
    char what[96];
    if (i < n && t[i] == ']') {
        rc = 0;
        goto done;
    }
    snprintf(what, sizeof what, "model.merges: expected \"a b\" or [\"a\", \"b\"]");
    for (;; index++) {
        const char *a, *b;
        size_t al, bl;
        if (i < n && t[i] == '"') {
            size_t at = i;
            i = read_string(f, i, &s1, &a, &al);
            if (!i) goto done;
            if (al >= 8 && !memcmp(a, "#version", 8)) goto next;
            const char *sp = memchr(a, ' ', al);
            if (!sp || memchr(sp + 1, ' ', al - (size_t)(sp + 1 - a))) {
                snprintf(what, sizeof what, "model.merges[%zu]: a merge string needs exactly one space", index);
                scan_error(f, at, what);
                goto done;
            }
            b = sp + 1;
            bl = al - (size_t)(b - a);
            al = (size_t)(sp - a);
        } else if (i < n && t[i] == '[') {
            i = skip_ws(t, n, i + 1);
            if (i >= n || t[i] != '"') {
                scan_error(f, i, what);
                goto done;
            }
            i = read_string(f, i, &s1, &a, &al);
            if (!i) goto done;
            i = skip_ws(t, n, i);
            if (i >= n || t[i] != ',') {
                scan_error(f, i, what);
                goto done;
            }
            i = skip_ws(t, n, i + 1);
            if (i >= n || t[i] != '"') {
                scan_error(f, i, what);
                goto done;
            }
            i = read_string(f, i, &s2, &b, &bl);
            if (!i) goto done;
            i = skip_ws(t, n, i);
            if (i >= n || t[i] != ']') {
                scan_error(f, i, what);
                goto done;
            }
            i++;
        } else {
            scan_error(f, i, what);
            goto done;
        }
        if (put(ctx, a, al, b, bl)) goto done;
    next:
        i = skip_ws(t, n, i);
        if (i < n && t[i] == ',') {
            i = skip_ws(t, n, i + 1);
            continue;
        }
        if (i < n && t[i] == ']') break;
        scan_error(f, i, "model.merges: expected ',' or ']'");
        goto done;
    }
    rc = 0;
done:
    strbuf_free(&s1);
    strbuf_free(&s2);
    return rc;
}

/* ---- small jansson accessors -------------------------------------------- */
const char *tok_json_str(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int tok_json_bool(const json_t *obj, const char *key, int dflt) {
    const json_t *v = json_object_get(obj, key);
    if (json_is_boolean(v)) return json_is_true(v);
    return dflt;
}

const char *tok_json_type(const json_t *obj, const char *where) {
    if (!json_is_object(obj)) {
        mx_set_error("%s: expected an object", where);
        return NULL;
    }
    const char *t = tok_json_str(obj, "type");
    if (!t) mx_set_error("%s: missing string key \"type\"", where);
    return t;
}

int tok_json_pattern(const json_t *obj, const char *where, tok_pattern *p) {
    const json_t *pat = json_object_get(obj, "pattern");
    const json_t *s = json_object_get(pat, "String"), *r = json_object_get(pat, "Regex");
    if (json_is_string(s)) return tok_pattern_init_string(p, json_string_value(s), json_string_length(s));
    if (json_is_string(r)) return tok_pattern_init_regex(p, json_string_value(r), json_string_length(r), where);
    return mx_set_error("%s: \"pattern\" must be {\"String\": ...} or {\"Regex\": ...}", where);
}

int tok_json_char(const json_t *obj, const char *key, const char *where, uint32_t dflt, uint32_t *out) {
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    uint32_t cp;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    int l = s ? tok_utf8_next((const unsigned char *)s, json_string_length(v), &cp) : 0;
    if (!l || (size_t)l != json_string_length(v))
        return mx_set_error("%s: \"%s\" must be a string of exactly one character", where, key);
    *out = cp;
    return 0;
}

int tok_split_behavior_from_name(const char *name, const char *where) {
    if (!name) return mx_set_error("%s: missing string key \"behavior\"", where), -1;
    if (!strcmp(name, "Removed")) return SPLIT_REMOVED;
    if (!strcmp(name, "Isolated")) return SPLIT_ISOLATED;
    if (!strcmp(name, "MergedWithPrevious")) return SPLIT_MERGED_PREV;
    if (!strcmp(name, "MergedWithNext")) return SPLIT_MERGED_NEXT;
    if (!strcmp(name, "Contiguous")) return SPLIT_CONTIGUOUS;
    mx_set_error("%s: unknown split behavior '%s'", where, name);
    return -1;
}
