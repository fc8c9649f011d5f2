/* Normalizers: NFC/NFD/NFKC/NFKD (utf8proc), Lowercase, Strip, StripAccents,
 * Replace, Prepend, BertNormalizer, ByteLevel, Sequence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "cmlx/error.h"
#include "lm/tokenizer/tok_internal.h"

void tok_normalizer_free(tok_normalizer *n) {
    if (!n) return;
    tok_pattern_free(&n->pattern);
    free(n->content);
    for (size_t i = 0; i < n->n_items; i++) tok_normalizer_free(n->items[i]);
    free(n->items);
    free(n);
}

static char *dup_str(const char *s, size_t *len) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (!d) {
        mx_set_error("out of memory copying a string");
        return NULL;
    }
    memcpy(d, s, n + 1);
    if (len) *len = n;
    return d;
}

tok_normalizer *tok_normalizer_from_json(const json_t *j, const char *where) {
    const char *type = tok_json_type(j, where);
    if (!type) return NULL;
    tok_normalizer *n = calloc(1, sizeof *n);
    if (!n) {
        mx_set_error("out of memory loading a normalizer");
        return NULL;
    }
    char sub[512];
    if (!strcmp(type, "NFC")) n->kind = NORM_NFC;
    else if (!strcmp(type, "NFD")) n->kind = NORM_NFD;
    else if (!strcmp(type, "NFKC")) n->kind = NORM_NFKC;
    else if (!strcmp(type, "NFKD")) n->kind = NORM_NFKD;
    else if (!strcmp(type, "Lowercase")) n->kind = NORM_LOWERCASE;
    else if (!strcmp(type, "StripAccents")) n->kind = NORM_STRIP_ACCENTS;
    else if (!strcmp(type, "ByteLevel")) n->kind = NORM_BYTELEVEL;
    else if (!strcmp(type, "Strip")) {
        n->kind = NORM_STRIP;
        n->strip_left = tok_json_bool(j, "strip_left", 1);
        n->strip_right = tok_json_bool(j, "strip_right", 1);
    } else if (!strcmp(type, "Replace")) {
        n->kind = NORM_REPLACE;
        snprintf(sub, sizeof sub, "%s (Replace)", where);
        if (tok_json_pattern(j, sub, &n->pattern)) goto fail;
        const char *c = tok_json_str(j, "content");
        if (!c) {
            mx_set_error("%s: Replace normalizer needs a string \"content\"", where);
            goto fail;
        }
        if (!(n->content = dup_str(c, &n->content_len))) goto fail;
    } else if (!strcmp(type, "Prepend")) {
        n->kind = NORM_PREPEND;
        const char *c = tok_json_str(j, "prepend");
        if (!c) {
            mx_set_error("%s: Prepend normalizer needs a string \"prepend\"", where);
            goto fail;
        }
        if (!(n->content = dup_str(c, &n->content_len))) goto fail;
    } else if (!strcmp(type, "BertNormalizer")) {
        n->kind = NORM_BERT;
        n->clean_text = tok_json_bool(j, "clean_text", 1);
        n->handle_chinese = tok_json_bool(j, "handle_chinese_chars", 1);
        n->lowercase = tok_json_bool(j, "lowercase", 1);
        n->strip_accents = tok_json_bool(j, "strip_accents", -1);
    } else if (!strcmp(type, "Sequence")) {
        n->kind = NORM_SEQUENCE;
        const json_t *arr = json_object_get(j, "normalizers");
        if (!json_is_array(arr)) {
            mx_set_error("%s: Sequence normalizer needs an array \"normalizers\"", where);
            goto fail;
        }
        n->n_items = json_array_size(arr);
        n->items = calloc(n->n_items ? n->n_items : 1, sizeof *n->items);
        if (!n->items) goto oom;
        for (size_t i = 0; i < n->n_items; i++) {
            snprintf(sub, sizeof sub, "%s.normalizers[%zu]", where, i);
            if (!(n->items[i] = tok_normalizer_from_json(json_array_get(arr, i), sub))) goto fail;
        }
    } else {
        mx_set_error("%s: unknown normalizer type '%s'", where, type);
        goto fail;
    }
    return n;
oom:
    mx_set_error("out of memory loading a normalizer");
fail:
    tok_normalizer_free(n);
    return NULL;
}

static int is_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return 0;
    return 1;
}

static int unicode_form(int kind, const char *s, size_t n, strbuf *out) {
    if (is_ascii(s, n)) return strbuf_append(out, s, n);
    int opts = UTF8PROC_STABLE;
    if (kind == NORM_NFC || kind == NORM_NFKC) opts |= UTF8PROC_COMPOSE;
    else opts |= UTF8PROC_DECOMPOSE;
    if (kind == NORM_NFKC || kind == NORM_NFKD) opts |= UTF8PROC_COMPAT;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, opts);
    if (r < 0) return mx_set_error("unicode normalization failed: %s", utf8proc_errmsg(r));
    int rc = strbuf_append(out, (const char *)dst, (size_t)r);
    free(dst);
    return rc;
}

/* Calls fn for every character; fn appends to out. */
#define FOR_EACH_CHAR(s, n, cp, body)                                                    \
    do {                                                                                 \
        size_t i_ = 0;                                                                   \
        while (i_ < (n)) {                                                               \
            uint32_t cp;                                                                 \
            int l_ = tok_utf8_next((const unsigned char *)(s) + i_, (n) - i_, &cp);      \
            if (!l_) l_ = 1, cp = 0xFFFD;                                                \
            const char *ch_ = (s) + i_;                                                  \
            size_t chlen_ = (size_t)l_;                                                  \
            (void)ch_;                                                                   \
            (void)chlen_;                                                                \
            body;                                                                        \
            i_ += (size_t)l_;                                                            \
        }                                                                                \
    } while (0)

static int bert(const tok_normalizer *nz, const char *s, size_t n, strbuf *out) {
    strbuf a = STRBUF_INIT, b = STRBUF_INIT;
    int rc = -1;
    if (strbuf_append(&a, s, n)) goto done;
    if (nz->clean_text) {
        strbuf_reset(&b);
        FOR_EACH_CHAR(a.data, a.len, c, {
            if (c == 0 || c == 0xFFFD || (c != '\t' && c != '\n' && c != '\r' && tok_is_other(c))) {
            } else if (c == '\t' || c == '\n' || c == '\r' || tok_is_whitespace(c)) {
                strbuf_putc(&b, ' ');
            } else {
                strbuf_append(&b, ch_, chlen_);
            }
        });
        strbuf_reset(&a);
        if (strbuf_append(&a, b.data ? b.data : "", b.len)) goto done;
    }
    if (nz->handle_chinese) {
        strbuf_reset(&b);
        FOR_EACH_CHAR(a.data, a.len, c, {
            if (tok_is_chinese_char(c)) {
                strbuf_putc(&b, ' ');
                strbuf_append(&b, ch_, chlen_);
                strbuf_putc(&b, ' ');
            } else {
                strbuf_append(&b, ch_, chlen_);
            }
        });
        strbuf_reset(&a);
        if (strbuf_append(&a, b.data ? b.data : "", b.len)) goto done;
    }
    int strip = nz->strip_accents < 0 ? nz->lowercase : nz->strip_accents;
    if (strip) {
        strbuf_reset(&b);
        if (unicode_form(NORM_NFD, a.data ? a.data : "", a.len, &b)) goto done;
        strbuf_reset(&a);
        FOR_EACH_CHAR(b.data, b.len, c, {
            if (!tok_is_mark_nonspacing(c)) strbuf_append(&a, ch_, chlen_);
        });
    }
    if (nz->lowercase) {
        FOR_EACH_CHAR(a.data, a.len, c, { tok_append_lower(out, c); });
    } else {
        strbuf_append(out, a.data ? a.data : "", a.len);
    }
    rc = a.failed || b.failed || out->failed ? -1 : 0;
done:
    strbuf_free(&a);
    strbuf_free(&b);
    return rc;
}

static int normalize_one(const tok_normalizer *nz, const char *s, size_t n, strbuf *out) {
    switch (nz->kind) {
    case NORM_NFC: case NORM_NFD: case NORM_NFKC: case NORM_NFKD:
        return unicode_form(nz->kind, s, n, out);
    case NORM_LOWERCASE:
        FOR_EACH_CHAR(s, n, c, { tok_append_lower(out, c); });
        return out->failed ? -1 : 0;
    case NORM_STRIP_ACCENTS:
        FOR_EACH_CHAR(s, n, c, {
            if (!tok_is_combining_mark(c)) strbuf_append(out, ch_, chlen_);
        });
        return out->failed ? -1 : 0;
    case NORM_BYTELEVEL:
        for (size_t i = 0; i < n; i++) {
            char b[4];
            strbuf_append(out, b, (size_t)tok_utf8_encode(tok_byte_to_cp[(unsigned char)s[i]], b));
        }
        return out->failed ? -1 : 0;
    case NORM_STRIP: {
        size_t a = 0, e = n;
        if (nz->strip_left)
            while (a < e) {
                uint32_t cp;
                int l = tok_utf8_next((const unsigned char *)s + a, e - a, &cp);
                if (!l || !tok_is_whitespace(cp)) break;
                a += (size_t)l;
            }
        if (nz->strip_right)
            while (e > a) {
                size_t k = e - 1;
                while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
                uint32_t cp;
                int l = tok_utf8_next((const unsigned char *)s + k, e - k, &cp);
                if (!l || k + (size_t)l != e || !tok_is_whitespace(cp)) break;
                e = k;
            }
        return strbuf_append(out, s + a, e - a);
    }
    case NORM_PREPEND:
        if (n && strbuf_append(out, nz->content, nz->content_len)) return -1;
        return strbuf_append(out, s, n);
    case NORM_REPLACE: {
        tok_matches m = {0};
        if (tok_pattern_find(&nz->pattern, s, n, &m)) return -1;
        for (size_t i = 0; i < m.n; i++) {
            if (m.v[i].is_match) strbuf_append(out, nz->content, nz->content_len);
            else strbuf_append(out, s + m.v[i].start, m.v[i].end - m.v[i].start);
        }
        tok_matches_free(&m);
        return out->failed ? -1 : 0;
    }
    case NORM_BERT:
        return bert(nz, s, n, out);
    case NORM_SEQUENCE: {
        strbuf a = STRBUF_INIT, b = STRBUF_INIT;
        if (strbuf_append(&a, s, n)) return -1;
        for (size_t i = 0; i < nz->n_items; i++) {
            strbuf_reset(&b);
            if (normalize_one(nz->items[i], a.data, a.len, &b) || strbuf_reserve(&b, 0)) {
                strbuf_free(&a);
                strbuf_free(&b);
                return -1;
            }
            strbuf t = a;
            a = b;
            b = t;
        }
        int rc = strbuf_append(out, a.data, a.len);
        strbuf_free(&a);
        strbuf_free(&b);
        return rc;
    }
    }
    return mx_set_error("internal: unknown normalizer kind %d", nz->kind);
}

int tok_normalize(const tok_normalizer *n, const char *s, size_t len, strbuf *out) {
    strbuf_reset(out);
    if (strbuf_reserve(out, len)) return -1;
    return normalize_one(n, s, len, out);
}
