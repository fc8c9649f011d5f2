/* Streaming detokenizer. After each id the window of recent ids is decoded with any
 * incomplete trailing character held back; whatever extends the text already
 * emitted is returned. Decoding a window instead of everything keeps each step
 * O(window): once the text is complete (nothing held back) the window restarts at
 * the last id, whose own decode becomes the new baseline, so first-token rules
 * (Strip, Metaspace) never leak into what is emitted. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/tokenizer/tok_internal.h"

#define WINDOW_RESTART 8

struct lm_detokenizer {
    const lm_tokenizer *tok;
    int skip_special;
    tok_ids ids;        /* the window */
    strbuf text;        /* stable text of the window, as last emitted */
    size_t emitted;     /* bytes of `text` already returned */
    strbuf scratch;
    strbuf seg;         /* the returned segment */
};

lm_detokenizer *lm_detokenizer_new(const lm_tokenizer *tok, int skip_special_tokens) {
    if (!tok) {
        mx_set_error("lm_detokenizer_new: NULL tokenizer");
        return NULL;
    }
    lm_detokenizer *d = calloc(1, sizeof *d);
    if (!d) {
        mx_set_error("out of memory creating a detokenizer");
        return NULL;
    }
    d->tok = tok;
    d->skip_special = skip_special_tokens;
    return d;
}

void lm_detokenizer_free(lm_detokenizer *d) {
    if (!d) return;
    tok_ids_free(&d->ids);
    strbuf_free(&d->text);
    strbuf_free(&d->scratch);
    strbuf_free(&d->seg);
    free(d);
}

static int is_byte_token(const lm_tokenizer *t, int32_t id) {
    const char *s = lm_tokenizer_id_to_token(t, id);
    return s && strlen(s) == 6 && !memcmp(s, "<0x", 3) && s[5] == '>';
}

static const char *segment(lm_detokenizer *d, const char *s, size_t n) {
    strbuf_reset(&d->seg);
    if (strbuf_append(&d->seg, s, n) || strbuf_reserve(&d->seg, 0)) return NULL;
    return d->seg.data;
}

const char *lm_detokenizer_add_len(lm_detokenizer *d, int32_t id, size_t *len) {
    if (!d) {
        mx_set_error("lm_detokenizer_add: NULL detokenizer");
        return NULL;
    }
    if (id < 0) {
        mx_set_error("lm_detokenizer_add: negative token id %d", id);
        return NULL;
    }
    if (tok_ids_push(&d->ids, id)) return NULL;
    strbuf_reset(&d->scratch);
    int held = 0;
    if (tok_decode_into(d->tok, d->ids.v, d->ids.n, d->skip_special, &d->scratch, &held)) return NULL;
    const char *s = d->scratch.data ? d->scratch.data : "";
    size_t n = d->scratch.len;
    const char *out = "";
    size_t out_len = 0;
    int consistent = n >= d->emitted && (d->emitted == 0 || !memcmp(s, d->text.data, d->emitted));
    if (consistent && n > d->emitted) {
        out = s + d->emitted;
        out_len = n - d->emitted;
        strbuf_reset(&d->text);
        if (strbuf_append(&d->text, s, n)) return NULL;
        d->emitted = n;
    }
    const char *r = segment(d, out, out_len);
    if (!r) return NULL;
    if (len) *len = out_len;
    if (consistent && !held && d->emitted == n && d->ids.n >= WINDOW_RESTART && !is_byte_token(d->tok, id)) {
        /* restart the window at the last id; its decode is the new baseline */
        d->ids.v[0] = id;
        d->ids.n = 1;
        strbuf_reset(&d->text);
        int h = 0;
        if (tok_decode_into(d->tok, d->ids.v, 1, d->skip_special, &d->text, &h) || strbuf_reserve(&d->text, 0)) return NULL;
        d->emitted = d->text.len;
    }
    return r;
}

const char *lm_detokenizer_finish_len(lm_detokenizer *d, size_t *len) {
    if (!d) {
        mx_set_error("lm_detokenizer_finish: NULL detokenizer");
        return NULL;
    }
    strbuf_reset(&d->scratch);
    if (tok_decode_into(d->tok, d->ids.v, d->ids.n, d->skip_special, &d->scratch, NULL)) return NULL;
    const char *s = d->scratch.data ? d->scratch.data : "";
    size_t n = d->scratch.len, from = n;
    if (n >= d->emitted && (d->emitted == 0 || !memcmp(s, d->text.data, d->emitted))) from = d->emitted;
    const char *r = segment(d, s + from, n - from);
    if (len) *len = n - from;
    d->ids.n = 0;
    d->emitted = 0;
    strbuf_reset(&d->text);
    return r;
}

const char *lm_detokenizer_add(lm_detokenizer *d, int32_t id) { return lm_detokenizer_add_len(d, id, NULL); }

const char *lm_detokenizer_finish(lm_detokenizer *d) { return lm_detokenizer_finish_len(d, NULL); }
