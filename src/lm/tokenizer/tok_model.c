/* Models: loading the vocabulary (BPE, WordPiece, WordLevel: {token: id};
 * Unigram: [[piece, score], ...]), the BPE merges, and the WordPiece, WordLevel and
 * Unigram algorithms (BPE itself is in tok_bpe.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/tokenizer/tok_internal.h"

void tok_model_free(tok_model *m) {
    if (!m) return;
    free(m->index);
    free(m->entry_off);
    free(m->entry_len);
    free(m->entry_ids);
    free(m->strs);
    free(m->str_off);
    free(m->str_len);
    tok_pairmap_free(&m->merges);
    free(m->unk_token);
    free(m->prefix);
    free(m->suffix);
    free(m->char_ids);
    tok_cache_free(m->cache);
    free(m->scores);
    free(m);
}

typedef struct {
    tok_model *m;
    strbuf strs;
    uint32_t *ent;      /* triples: offset, length, id */
    size_t n, cap;
    const char *path;
} vocab_builder;

static int vocab_put(void *ctx, const char *k, size_t n, int64_t id) {
    vocab_builder *b = ctx;
    if (id < 0 || id > INT32_MAX) return mx_set_error("%s: model.vocab: id %lld of a token is out of range", b->path, (long long)id);
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        uint32_t *e = realloc(b->ent, cap * 3 * sizeof *e);
        if (!e) return mx_set_error("out of memory loading the vocabulary");
        b->ent = e;
        b->cap = cap;
    }
    size_t off = b->strs.len;
    if (strbuf_append(&b->strs, k, n) || strbuf_putc(&b->strs, '\0')) return -1;
    b->ent[b->n * 3] = (uint32_t)off;
    b->ent[b->n * 3 + 1] = (uint32_t)n;
    b->ent[b->n * 3 + 2] = (uint32_t)id;
    b->n++;
    return 0;
}

/* Turns the collected entries into the id -> string arrays. */
static int vocab_finish(vocab_builder *b) {
    tok_model *m = b->m;
    size_t n_ids = 0;
    for (size_t i = 0; i < b->n; i++)
        if ((size_t)b->ent[i * 3 + 2] + 1 > n_ids) n_ids = (size_t)b->ent[i * 3 + 2] + 1;
    m->str_off = malloc((n_ids ? n_ids : 1) * sizeof *m->str_off);
    m->str_len = malloc((n_ids ? n_ids : 1) * sizeof *m->str_len);
    if (!m->str_off || !m->str_len) return mx_set_error("out of memory loading the vocabulary");
    for (size_t i = 0; i < n_ids; i++) m->str_off[i] = UINT32_MAX, m->str_len[i] = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint32_t id = b->ent[i * 3 + 2];
        m->str_off[id] = b->ent[i * 3];
        m->str_len[id] = b->ent[i * 3 + 1];
    }
    m->n_ids = n_ids;
    m->n_entries = b->n;
    m->entry_off = malloc((b->n ? b->n : 1) * sizeof *m->entry_off);
    m->entry_len = malloc((b->n ? b->n : 1) * sizeof *m->entry_len);
    m->entry_ids = malloc((b->n ? b->n : 1) * sizeof *m->entry_ids);
    if (!m->entry_off || !m->entry_len || !m->entry_ids) return mx_set_error("out of memory loading the vocabulary");
    for (size_t i = 0; i < b->n; i++) {
        m->entry_off[i] = b->ent[i * 3];
        m->entry_len[i] = b->ent[i * 3 + 1];
        m->entry_ids[i] = (int32_t)b->ent[i * 3 + 2];
    }
    m->strs = strbuf_detach(&b->strs, &m->strs_len);
    free(b->ent);
    b->ent = NULL;
    if (!m->strs) return -1;
    /* id -> string must name the string the index returns for that id */
    return tok_vocab_index(m);
}

const char *tok_model_id_to_token(const tok_model *m, int32_t id, size_t *len) {
    if (id < 0 || (size_t)id >= m->n_ids || m->str_off[id] == UINT32_MAX) return NULL;
    if (len) *len = m->str_len[id];
    return m->strs + m->str_off[id];
}

typedef struct {
    tok_model *m;
    const char *path;
    size_t index;
    size_t prefix_len;
    strbuf scratch;
} merge_builder;

static int merge_put(void *ctx, const char *a, size_t an, const char *b, size_t bn) {
    merge_builder *mb = ctx;
    tok_model *m = mb->m;
    size_t i = mb->index++;
    int32_t ia = tok_model_token_to_id(m, a, an), ib = tok_model_token_to_id(m, b, bn);
    if (ia < 0) return mx_set_error("%s: model.merges[%zu]: token '%.*s' is not in the vocabulary", mb->path, i, (int)an, a);
    if (ib < 0) return mx_set_error("%s: model.merges[%zu]: token '%.*s' is not in the vocabulary", mb->path, i, (int)bn, b);
    size_t skip = mb->prefix_len <= bn ? mb->prefix_len : bn;
    strbuf_reset(&mb->scratch);
    if (strbuf_append(&mb->scratch, a, an) || strbuf_append(&mb->scratch, b + skip, bn - skip)) return -1;
    int32_t in = tok_model_token_to_id(m, mb->scratch.data, mb->scratch.len);
    if (in < 0)
        return mx_set_error("%s: model.merges[%zu]: merged token '%s' is not in the vocabulary", mb->path, i,
                            mb->scratch.data);
    return tok_pairmap_put(&m->merges, ia, ib, (uint32_t)i, in);
}

static char *opt_string(const json_t *j, const char *key, const char *dflt) {
    const char *s = tok_json_str(j, key);
    if (!s) s = dflt;
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) mx_set_error("out of memory");
    return d;
}

static int load_vocab_object(tok_model *m, const json_t *j, const char *path, tok_fast_json *fast) {
    vocab_builder b = {m, STRBUF_INIT, NULL, 0, 0, path};
    int rc = -1;
    const json_t *v = json_object_get(j, "vocab");
    if (fast && fast->vocab_end) {
        if (tok_fast_vocab(fast, vocab_put, &b)) goto done;
    } else {
        if (!json_is_object(v)) {
            mx_set_error("%s: model: missing object \"vocab\"", path);
            goto done;
        }
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)v, k, val) {
            if (!json_is_integer(val)) {
                mx_set_error("%s: model.vocab[\"%s\"]: the id must be an integer", path, k);
                goto done;
            }
            if (vocab_put(&b, k, strlen(k), json_integer_value(val))) goto done;
        }
    }
    rc = vocab_finish(&b);
done:
    strbuf_free(&b.strs);
    free(b.ent);
    return rc;
}

static int load_bpe(tok_model *m, const json_t *j, const char *path, tok_fast_json *fast) {
    if (load_vocab_object(m, j, path, fast)) return -1;
    m->prefix = opt_string(j, "continuing_subword_prefix", NULL);
    m->suffix = opt_string(j, "end_of_word_suffix", NULL);
    m->unk_token = opt_string(j, "unk_token", NULL);
    m->unk_id = m->unk_token ? tok_model_token_to_id(m, m->unk_token, strlen(m->unk_token)) : -1;
    m->fuse_unk = tok_json_bool(j, "fuse_unk", 0);
    m->byte_fallback = tok_json_bool(j, "byte_fallback", 0);
    m->ignore_merges = tok_json_bool(j, "ignore_merges", 0);
    if (m->prefix && !*m->prefix) free(m->prefix), m->prefix = NULL;
    if (m->suffix && !*m->suffix) free(m->suffix), m->suffix = NULL;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = tok_model_token_to_id(m, name, 6);
    }
    const json_t *merges = json_object_get(j, "merges");
    size_t n_merges = fast && fast->merges_end ? (fast->merges_end - fast->merges_at) / 10
                                              : json_array_size(merges);
    if (tok_pairmap_init(&m->merges, n_merges + 16)) return -1;
    merge_builder mb = {m, path, 0, m->prefix ? strlen(m->prefix) : 0, STRBUF_INIT};
    int rc = 0;
    if (fast && fast->merges_end) {
        rc = tok_fast_merges(fast, merge_put, &mb);
    } else if (merges && !json_is_null(merges)) {
        if (!json_is_array(merges)) {
            strbuf_free(&mb.scratch);
            return mx_set_error("%s: model.merges must be an array", path);
        }
        for (size_t i = 0; i < json_array_size(merges) && !rc; i++) {
            const json_t *e = json_array_get(merges, i);
            if (json_is_string(e)) {
                const char *s = json_string_value(e);
                if (!strncmp(s, "#version", 8)) continue;
                const char *sp = strchr(s, ' ');
                if (!sp || strchr(sp + 1, ' ')) {
                    rc = mx_set_error("%s: model.merges[%zu]: a merge string needs exactly one space", path, i);
                    break;
                }
                rc = merge_put(&mb, s, (size_t)(sp - s), sp + 1, strlen(sp + 1));
            } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
                       json_is_string(json_array_get(e, 1))) {
                const json_t *a = json_array_get(e, 0), *b = json_array_get(e, 1);
                rc = merge_put(&mb, json_string_value(a), json_string_length(a), json_string_value(b),
                               json_string_length(b));
            } else {
                rc = mx_set_error("%s: model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"]", path, i);
            }
        }
    }
    strbuf_free(&mb.scratch);
    if (rc) return -1;
    /* single-character tokens of the Basic Multilingual Plane by code point */
    m->char_ids = malloc(0x10000 * sizeof *m->char_ids);
    if (!m->char_ids) return mx_set_error("out of memory loading the vocabulary");
    for (size_t i = 0; i < 0x10000; i++) m->char_ids[i] = -1;
    for (size_t id = 0; id < m->n_ids; id++) {
        if (m->str_off[id] == UINT32_MAX || m->str_len[id] > 3) continue;
        uint32_t cp;
        const unsigned char *s = (const unsigned char *)m->strs + m->str_off[id];
        int l = tok_utf8_next(s, m->str_len[id], &cp);
        /* the hash map is the truth when two ids share a string */
        if (l && (size_t)l == m->str_len[id] && cp < 0x10000) m->char_ids[cp] = tok_model_token_to_id(m, (const char *)s, (size_t)l);
    }
    m->cache = tok_cache_new();
    return m->cache ? 0 : -1;
}

static int load_unigram(tok_model *m, const json_t *j, const char *path) {
    const json_t *v = json_object_get(j, "vocab");
    if (!json_is_array(v)) return mx_set_error("%s: model: Unigram needs an array \"vocab\" of [piece, score]", path);
    size_t n = json_array_size(v);
    m->scores = malloc((n ? n : 1) * sizeof *m->scores);
    if (!m->scores) return mx_set_error("out of memory loading the vocabulary");
    vocab_builder b = {m, STRBUF_INIT, NULL, 0, 0, path};
    m->min_score = INFINITY;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        const json_t *p = json_array_get(e, 0), *s = json_array_get(e, 1);
        if (!json_is_string(p) || !json_is_number(s)) {
            strbuf_free(&b.strs);
            free(b.ent);
            return mx_set_error("%s: model.vocab[%zu]: expected [piece, score]", path, i);
        }
        if (vocab_put(&b, json_string_value(p), json_string_length(p), (int64_t)i)) {
            strbuf_free(&b.strs);
            free(b.ent);
            return -1;
        }
        m->scores[i] = json_number_value(s);
        if (m->scores[i] < m->min_score) m->min_score = m->scores[i];
        if (json_string_length(p) > m->max_piece_len) m->max_piece_len = json_string_length(p);
    }
    if (vocab_finish(&b)) {
        strbuf_free(&b.strs);
        return -1;
    }
    const json_t *u = json_object_get(j, "unk_id");
    m->unk_id = json_is_integer(u) ? (int32_t)json_integer_value(u) : -1;
    if (m->unk_id >= (int32_t)n) return mx_set_error("%s: model.unk_id %d is out of range", path, m->unk_id);
    m->byte_fallback = tok_json_bool(j, "byte_fallback", 0);
    m->fuse_unk = 1;
    for (int c = 0; c < 256; c++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", c);
        m->byte_ids[c] = tok_model_token_to_id(m, name, 6);
    }
    return 0;
}

tok_model *tok_model_from_json(const json_t *j, const char *path, void *fastp) {
    tok_fast_json *fast = fastp;
    if (!json_is_object(j)) {
        mx_set_error("%s: missing object \"model\"", path);
        return NULL;
    }
    tok_model *m = calloc(1, sizeof *m);
    if (!m) {
        mx_set_error("out of memory loading the model");
        return NULL;
    }
    m->unk_id = -1;
    const char *type = tok_json_str(j, "type");
    if (!type) {
        /* untagged (old files): guess the model the way serde's untagged enum would */
        if (json_object_get(j, "merges")) type = "BPE";
        else if (json_is_array(json_object_get(j, "vocab"))) type = "Unigram";
        else if (json_object_get(j, "continuing_subword_prefix")) type = "WordPiece";
        else type = "WordLevel";
    }
    int rc;
    if (!strcmp(type, "BPE")) {
        m->kind = MODEL_BPE;
        rc = load_bpe(m, j, path, fast);
    } else if (!strcmp(type, "WordPiece")) {
        m->kind = MODEL_WORDPIECE;
        rc = load_vocab_object(m, j, path, fast);
        if (!rc) {
            m->unk_token = opt_string(j, "unk_token", "[UNK]");
            m->prefix = opt_string(j, "continuing_subword_prefix", "##");
            const json_t *mx = json_object_get(j, "max_input_chars_per_word");
            m->max_input_chars_per_word = json_is_integer(mx) ? (size_t)json_integer_value(mx) : 100;
            rc = m->unk_token && m->prefix ? 0 : -1;
            if (!rc) m->unk_id = tok_model_token_to_id(m, m->unk_token, strlen(m->unk_token));
        }
    } else if (!strcmp(type, "WordLevel")) {
        m->kind = MODEL_WORDLEVEL;
        rc = load_vocab_object(m, j, path, fast);
        if (!rc) {
            m->unk_token = opt_string(j, "unk_token", NULL);
            m->unk_id = m->unk_token ? tok_model_token_to_id(m, m->unk_token, strlen(m->unk_token)) : -1;
        }
    } else if (!strcmp(type, "Unigram")) {
        m->kind = MODEL_UNIGRAM;
        rc = load_unigram(m, j, path);
    } else {
        rc = mx_set_error("%s: model: unknown model type '%s'", path, type);
    }
    if (rc) {
        tok_model_free(m);
        return NULL;
    }
    return m;
}

/* ---- WordPiece: greedy longest match, "##" on continuations ---------------- */
int tok_wordpiece_tokenize(tok_model *m, const char *w, size_t len, tok_ids *out) {
    size_t nchars = 0;
    for (size_t i = 0; i < len; i++) nchars += ((unsigned char)w[i] & 0xC0) != 0x80;
    if (nchars > m->max_input_chars_per_word) goto unk;
    size_t pl = strlen(m->prefix), start = 0, mark = out->n;
    strbuf b = STRBUF_INIT;
    while (start < len) {
        size_t end = len;
        int32_t found = -1;
        while (start < end) {
            strbuf_reset(&b);
            if (start > 0) strbuf_append(&b, m->prefix, pl);
            strbuf_append(&b, w + start, end - start);
            if (b.failed) {
                strbuf_free(&b);
                return -1;
            }
            found = tok_model_token_to_id(m, b.data, b.len);
            if (found >= 0) break;
            end--;
            while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80) end--;
        }
        if (found < 0) {
            strbuf_free(&b);
            out->n = mark;
            goto unk;
        }
        if (tok_ids_push(out, found)) {
            strbuf_free(&b);
            return -1;
        }
        start = end;
    }
    strbuf_free(&b);
    return 0;
unk:
    if (m->unk_id < 0) return mx_set_error("WordPiece: unk_token '%s' is not in the vocabulary", m->unk_token);
    return tok_ids_push(out, m->unk_id);
}

/* ---- Unigram: Viterbi over the pieces (SentencePiece's optimized encode) ---- */
typedef struct {
    int32_t id;
    int32_t starts_at;  /* -1: not reached */
    double score;
} best_node;

int tok_unigram_tokenize(tok_model *m, const char *w, size_t len, tok_ids *out) {
    if (len == 0) return 0;
    best_node *best = malloc((len + 1) * sizeof *best);
    if (!best) return mx_set_error("out of memory in Unigram");
    for (size_t i = 0; i <= len; i++) best[i] = (best_node){-1, -1, 0};
    double unk_score = m->min_score - 10.0;
    int rc = -1;
    for (size_t at = 0; at < len;) {
        uint32_t cp;
        int mb = tok_utf8_next((const unsigned char *)w + at, len - at, &cp);
        if (!mb) mb = 1;
        double here = best[at].score;
        int single = 0;
        for (size_t e = at + 1; e <= len && e - at <= m->max_piece_len; e++) {
            if (e < len && ((unsigned char)w[e] & 0xC0) == 0x80) continue;
            int32_t id = tok_model_token_to_id(m, w + at, e - at);
            if (id < 0) continue;
            double cand = m->scores[id] + here;
            if (best[e].starts_at < 0 || cand > best[e].score) best[e] = (best_node){id, (int32_t)at, cand};
            if (e - at == (size_t)mb) single = 1;
        }
        if (!single) {
            if (m->unk_id < 0) {
                mx_set_error("Unigram: a character has no piece and the model has no unk_id");
                goto done;
            }
            size_t e = at + (size_t)mb;
            double cand = unk_score + here;
            if (best[e].starts_at < 0 || cand > best[e].score) best[e] = (best_node){m->unk_id, (int32_t)at, cand};
        }
        at += (size_t)mb;
    }
    /* walk back, fusing consecutive unknowns, then emit in order */
    size_t *cuts = malloc((len + 2) * sizeof *cuts);
    if (!cuts) {
        mx_set_error("out of memory in Unigram");
        goto done;
    }
    size_t nc = 0;
    for (size_t e = len; e > 0;) {
        size_t s = (size_t)best[e].starts_at;
        if (best[e].id == m->unk_id && m->unk_id >= 0) {
            while (s > 0 && best[s].id == m->unk_id) s = (size_t)best[s].starts_at;
        }
        cuts[nc++] = e;
        e = s;
    }
    cuts[nc] = 0;
    rc = 0;
    for (size_t k = nc; k-- > 0 && !rc;) {
        size_t s = cuts[k + 1], e = cuts[k];
        int32_t id = tok_model_token_to_id(m, w + s, e - s);
        if (id >= 0) {
            rc = tok_ids_push(out, id);
            continue;
        }
        if (m->byte_fallback) {
            int ok = 1;
            for (size_t i = s; i < e; i++)
                if (m->byte_ids[(unsigned char)w[i]] < 0) ok = 0;
            if (ok) {
                for (size_t i = s; i < e && !rc; i++) rc = tok_ids_push(out, m->byte_ids[(unsigned char)w[i]]);
                continue;
            }
        }
        if (m->unk_id < 0) rc = mx_set_error("Unigram: unknown piece and no unk_id");
        else rc = tok_ids_push(out, m->unk_id);
    }
    free(cuts);
done:
    free(best);
    return rc;
}

int tok_model_tokenize(tok_model *m, const char *word, size_t len, tok_ids *out) {
    switch (m->kind) {
    case MODEL_BPE:
        return tok_bpe_tokenize(m, word, len, out);
    case MODEL_WORDPIECE:
        return tok_wordpiece_tokenize(m, word, len, out);
    case MODEL_UNIGRAM:
        return tok_unigram_tokenize(m, word, len, out);
    case MODEL_WORDLEVEL: {
        if (len == 0) return 0;
        int32_t id = tok_model_token_to_id(m, word, len);
        if (id < 0) id = m->unk_id;
        if (id < 0) return mx_set_error("WordLevel: '%.*s' is not in the vocabulary and there is no unk_token", (int)len, word);
        return tok_ids_push(out, id);
    }
    }
    return mx_set_error("internal: unknown model kind %d", m->kind);
}
