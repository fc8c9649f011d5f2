/* Decoders (ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, WordPiece,
 * BPEDecoder, Sequence) and decode(): ids -> token strings -> decoder chain ->
 * joined text, then transformers' clean_up_tokenization_spaces. Each decoder maps a
 * list of token strings to a new list, as the Rust decode_chain does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/tokenizer/tok_internal.h"

void tok_decoder_free(tok_decoder *d) {
    if (!d) return;
    tok_pattern_free(&d->pattern);
    free(d->content);
    for (size_t i = 0; i < d->n_items; i++) tok_decoder_free(d->items[i]);
    free(d->items);
    free(d);
}

static int set_content(tok_decoder *d, const char *s) {
    d->content = strdup(s);
    if (!d->content) return mx_set_error("out of memory loading a decoder");
    d->content_len = strlen(s);
    return 0;
}

tok_decoder *tok_decoder_from_json(const json_t *j, const char *where) {
    const char *type = tok_json_type(j, where);
    if (!type) return NULL;
    tok_decoder *d = calloc(1, sizeof *d);
    if (!d) {
        mx_set_error("out of memory loading a decoder");
        return NULL;
    }
    char sub[512];
    if (!strcmp(type, "ByteLevel")) d->kind = DEC_BYTELEVEL;
    else if (!strcmp(type, "ByteFallback")) d->kind = DEC_BYTEFALLBACK;
    else if (!strcmp(type, "Fuse")) d->kind = DEC_FUSE;
    else if (!strcmp(type, "Metaspace")) {
        d->kind = DEC_METASPACE;
        if (tok_json_char(j, "replacement", where, 0x2581, &d->ch)) goto fail;
        const char *scheme = tok_json_str(j, "prepend_scheme");
        int aps = tok_json_bool(j, "add_prefix_space", -1);
        d->prepend_scheme = !scheme ? (aps == 0 ? PREPEND_NEVER : PREPEND_ALWAYS)
                          : !strcmp(scheme, "never") ? PREPEND_NEVER
                          : !strcmp(scheme, "first") ? PREPEND_FIRST : PREPEND_ALWAYS;
        if (scheme && strcmp(scheme, "never") && strcmp(scheme, "first") && strcmp(scheme, "always")) {
            mx_set_error("%s: unknown Metaspace prepend_scheme '%s'", where, scheme);
            goto fail;
        }
        if (aps == 0) d->prepend_scheme = PREPEND_NEVER;
    } else if (!strcmp(type, "Replace")) {
        d->kind = DEC_REPLACE;
        snprintf(sub, sizeof sub, "%s (Replace)", where);
        if (tok_json_pattern(j, sub, &d->pattern)) goto fail;
        const char *c = tok_json_str(j, "content");
        if (!c) {
            mx_set_error("%s: Replace decoder needs a string \"content\"", where);
            goto fail;
        }
        if (set_content(d, c)) goto fail;
    } else if (!strcmp(type, "Strip")) {
        d->kind = DEC_STRIP;
        if (tok_json_char(j, "content", where, ' ', &d->ch)) goto fail;
        const json_t *s = json_object_get(j, "start"), *e = json_object_get(j, "stop");
        d->start = json_is_integer(s) ? (size_t)json_integer_value(s) : 0;
        d->stop = json_is_integer(e) ? (size_t)json_integer_value(e) : 0;
    } else if (!strcmp(type, "WordPiece")) {
        d->kind = DEC_WORDPIECE;
        const char *px = tok_json_str(j, "prefix");
        if (set_content(d, px ? px : "##")) goto fail;
        d->cleanup = tok_json_bool(j, "cleanup", 1);
    } else if (!strcmp(type, "BPEDecoder")) {
        d->kind = DEC_BPE;
        const char *sx = tok_json_str(j, "suffix");
        if (set_content(d, sx ? sx : "</w>")) goto fail;
    } else if (!strcmp(type, "Sequence")) {
        d->kind = DEC_SEQUENCE;
        const json_t *arr = json_object_get(j, "decoders");
        if (!json_is_array(arr)) {
            mx_set_error("%s: Sequence decoder needs an array \"decoders\"", where);
            goto fail;
        }
        d->n_items = json_array_size(arr);
        d->items = calloc(d->n_items ? d->n_items : 1, sizeof *d->items);
        if (!d->items) goto fail;
        for (size_t i = 0; i < d->n_items; i++) {
            snprintf(sub, sizeof sub, "%s.decoders[%zu]", where, i);
            if (!(d->items[i] = tok_decoder_from_json(json_array_get(arr, i), sub))) goto fail;
        }
    } else {
        mx_set_error("%s: unknown decoder type '%s'", where, type);
        goto fail;
    }
    return d;
fail:
    tok_decoder_free(d);
    return NULL;
}

/* ---- the chain ------------------------------------------------------------- */
/* Token lists are tok_pieces over one arena; a decoder reads list `in` and pushes
 * to `out`, appending new text to the arena. */
typedef struct {
    strbuf *arena;
    int stream;     /* hold back an incomplete character at the end */
    int held;
} chain_ctx;

#define TXT(c, p) ((c)->arena->data + (p).off)

static int push_text(chain_ctx *c, tok_pieces *out, const char *s, size_t n) {
    /* s may point into the arena: copy through the reserve */
    size_t rel = (size_t)-1;
    if (c->arena->data && s >= c->arena->data && s < c->arena->data + c->arena->len) rel = (size_t)(s - c->arena->data);
    if (strbuf_reserve(c->arena, n)) return -1;
    if (rel != (size_t)-1) s = c->arena->data + rel;
    size_t off = c->arena->len;
    memmove(c->arena->data + off, s, n);
    c->arena->len += n;
    c->arena->data[c->arena->len] = '\0';
    return tok_pieces_push(out, off, n, -1, 0);
}

/* Appends to the arena from a scratch buffer as one new token. */
static int push_buf(chain_ctx *c, tok_pieces *out, strbuf *b) {
    return push_text(c, out, b->data ? b->data : "", b->len);
}

static int replace_all(strbuf *out, const char *s, size_t n, const char *pat, size_t pl, const char *rep, size_t rl) {
    size_t i = 0;
    while (i < n) {
        const char *hit = pl ? memmem(s + i, n - i, pat, pl) : NULL;
        if (!hit) break;
        strbuf_append(out, s + i, (size_t)(hit - s) - i);
        strbuf_append(out, rep, rl);
        i = (size_t)(hit - s) + pl;
    }
    strbuf_append(out, s + i, n - i);
    return out->failed ? -1 : 0;
}

static int byte_token(const char *s, size_t n, unsigned char *b) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return 0;
    unsigned v = 0;
    for (int i = 3; i < 5; i++) {
        char ch = s[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F') v |= (unsigned)(ch - 'A' + 10);
        else return 0;
    }
    *b = (unsigned char)v;
    return 1;
}

static int flush_bytes(chain_ctx *c, tok_pieces *out, strbuf *run, int at_end) {
    if (!run->len) return 0;
    size_t n = run->len;
    if (at_end && c->stream) {
        size_t tail = tok_utf8_incomplete_tail(run->data, n);
        if (tail) c->held = 1, n -= tail;
    }
    int rc = 0;
    if (tok_utf8_invalid_at(run->data, n) == (size_t)-1) rc = push_text(c, out, run->data, n);
    else
        for (size_t i = 0; i < n && !rc; i++) rc = push_text(c, out, "\xEF\xBF\xBD", 3);
    strbuf_reset(run);
    return rc;
}

static int decode_step(const tok_decoder *d, chain_ctx *c, const tok_pieces *in, tok_pieces *out) {
    out->n = 0;
    strbuf b = STRBUF_INIT;
    int rc = 0;
    switch (d->kind) {
    case DEC_BYTELEVEL: {
        for (size_t i = 0; i < in->n; i++) {
            const char *s = TXT(c, in->v[i]);
            size_t n = in->v[i].len, mark = b.len;
            int all = 1;
            for (size_t k = 0; k < n && all;) {
                uint32_t cp;
                int l = tok_utf8_next((const unsigned char *)s + k, n - k, &cp);
                int byte = l ? tok_cp_to_byte(cp) : -1;
                if (byte < 0) all = 0;
                else strbuf_putc(&b, (char)byte), k += (size_t)l;
            }
            if (!all) {
                b.len = mark;
                strbuf_append(&b, s, n);
            }
        }
        size_t n = b.len;
        if (c->stream) {
            size_t tail = tok_utf8_incomplete_tail(b.data ? b.data : "", n);
            if (tail) c->held = 1, n -= tail;
        }
        strbuf lossy = STRBUF_INIT;
        rc = tok_utf8_lossy(&lossy, b.data ? b.data : "", n);
        if (!rc) rc = push_buf(c, out, &lossy);
        strbuf_free(&lossy);
        break;
    }
    case DEC_BYTEFALLBACK:
        for (size_t i = 0; i < in->n && !rc; i++) {
            unsigned char byte;
            if (byte_token(TXT(c, in->v[i]), in->v[i].len, &byte)) {
                rc = strbuf_putc(&b, (char)byte);
                continue;
            }
            rc = flush_bytes(c, out, &b, 0);
            if (!rc) rc = push_text(c, out, TXT(c, in->v[i]), in->v[i].len);
        }
        if (!rc) rc = flush_bytes(c, out, &b, 1);
        break;
    case DEC_FUSE:
        for (size_t i = 0; i < in->n; i++) strbuf_append(&b, TXT(c, in->v[i]), in->v[i].len);
        rc = b.failed ? -1 : push_buf(c, out, &b);
        break;
    case DEC_METASPACE: {
        char rep[4];
        size_t rl = (size_t)tok_utf8_encode(d->ch, rep);
        for (size_t i = 0; i < in->n && !rc; i++) {
            strbuf_reset(&b);
            int drop = i == 0 && d->prepend_scheme != PREPEND_NEVER;
            rc = replace_all(&b, TXT(c, in->v[i]), in->v[i].len, rep, rl, " ", drop ? 0 : 1);
            if (!rc) rc = push_buf(c, out, &b);
        }
        break;
    }
    case DEC_REPLACE: {
        tok_matches m = {0};
        for (size_t i = 0; i < in->n && !rc; i++) {
            strbuf_reset(&b);
            const char *s = TXT(c, in->v[i]);
            if ((rc = tok_pattern_find(&d->pattern, s, in->v[i].len, &m))) break;
            for (size_t k = 0; k < m.n; k++) {
                if (m.v[k].is_match) strbuf_append(&b, d->content, d->content_len);
                else strbuf_append(&b, s + m.v[k].start, m.v[k].end - m.v[k].start);
            }
            rc = b.failed ? -1 : push_buf(c, out, &b);
        }
        tok_matches_free(&m);
        break;
    }
    case DEC_STRIP: {
        char ch[4];
        size_t cl = (size_t)tok_utf8_encode(d->ch, ch);
        for (size_t i = 0; i < in->n && !rc; i++) {
            const char *s = TXT(c, in->v[i]);
            size_t a = 0, e = in->v[i].len;
            for (size_t k = 0; k < d->start && a + cl <= e && !memcmp(s + a, ch, cl); k++) a += cl;
            for (size_t k = 0; k < d->stop && e >= a + cl && !memcmp(s + e - cl, ch, cl); k++) e -= cl;
            rc = push_text(c, out, s + a, e - a);
        }
        break;
    }
    case DEC_WORDPIECE:
        for (size_t i = 0; i < in->n && !rc; i++) {
            strbuf_reset(&b);
            const char *s = TXT(c, in->v[i]);
            size_t n = in->v[i].len;
            if (i != 0) {
                if (n >= d->content_len && !memcmp(s, d->content, d->content_len)) s += d->content_len, n -= d->content_len;
                else strbuf_putc(&b, ' ');
            }
            strbuf_append(&b, s, n);
            if (d->cleanup) {
                static const char *const pairs[][2] = {{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","},
                                                       {" ' ", "'"}, {" n't", "n't"}, {" 'm", "'m"},
                                                       {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"},
                                                       {" 're", "'re"}};
                for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
                    strbuf t = STRBUF_INIT;
                    replace_all(&t, b.data ? b.data : "", b.len, pairs[k][0], strlen(pairs[k][0]), pairs[k][1],
                                strlen(pairs[k][1]));
                    strbuf_free(&b);
                    b = t;
                }
            }
            rc = b.failed ? -1 : push_buf(c, out, &b);
        }
        break;
    case DEC_BPE:
        for (size_t i = 0; i < in->n && !rc; i++) {
            strbuf_reset(&b);
            rc = replace_all(&b, TXT(c, in->v[i]), in->v[i].len, d->content, d->content_len, " ", i + 1 == in->n ? 0 : 1);
            if (!rc) rc = push_buf(c, out, &b);
        }
        break;
    case DEC_SEQUENCE: {
        tok_pieces a = {0}, t = {0};
        for (size_t i = 0; i < in->n && !rc; i++) rc = tok_pieces_push(&a, in->v[i].off, in->v[i].len, -1, 0);
        for (size_t k = 0; k < d->n_items && !rc; k++) {
            rc = decode_step(d->items[k], c, &a, &t);
            tok_pieces x = a;
            a = t;
            t = x;
        }
        for (size_t i = 0; i < a.n && !rc; i++) rc = tok_pieces_push(out, a.v[i].off, a.v[i].len, -1, 0);
        tok_pieces_free(&a);
        tok_pieces_free(&t);
        break;
    }
    default:
        rc = mx_set_error("internal: unknown decoder kind %d", d->kind);
    }
    strbuf_free(&b);
    return rc;
}

static int cleanup_spaces(strbuf *text) {
    static const char *const pairs[][2] = {{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
                                           {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"},
                                           {" 're", "'re"}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        if (!text->len || !memmem(text->data, text->len, pairs[k][0], strlen(pairs[k][0]))) continue;
        strbuf t = STRBUF_INIT;
        if (replace_all(&t, text->data, text->len, pairs[k][0], strlen(pairs[k][0]), pairs[k][1], strlen(pairs[k][1]))) {
            strbuf_free(&t);
            return -1;
        }
        strbuf_free(text);
        *text = t;
    }
    return 0;
}

int tok_decode_into(const struct lm_tokenizer *t, const int32_t *ids, size_t n, int skip_special, strbuf *out,
                    int *held) {
    strbuf arena = STRBUF_INIT;
    tok_pieces toks = {0}, res = {0};
    chain_ctx c = {&arena, held != NULL, 0};
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0) {
            mx_set_error("decode: negative token id %d at position %zu", id, i);
            goto done;
        }
        if ((size_t)id >= t->n_ids) continue;
        if (skip_special && t->special_ids[id]) continue;
        const tok_added_token *a = tok_added_by_id(&t->added, id);
        const char *s;
        size_t len;
        if (a) s = a->pattern, len = a->pattern_len;
        else if (!(s = tok_model_id_to_token(t->model, id, &len))) continue;
        if (push_text(&c, &toks, s, len)) goto done;
    }
    if (!t->decoder) {
        for (size_t i = 0; i < toks.n; i++) {
            if (i) strbuf_putc(out, ' ');
            strbuf_append(out, arena.data + toks.v[i].off, toks.v[i].len);
        }
    } else {
        if (decode_step(t->decoder, &c, &toks, &res)) goto done;
        for (size_t i = 0; i < res.n; i++) strbuf_append(out, arena.data + res.v[i].off, res.v[i].len);
    }
    if (out->failed || strbuf_reserve(out, 0)) goto done;
    if (t->clean_up_spaces && cleanup_spaces(out)) goto done;
    if (held) *held = c.held;
    rc = 0;
done:
    strbuf_free(&arena);
    tok_pieces_free(&toks);
    tok_pieces_free(&res);
    return rc;
}
