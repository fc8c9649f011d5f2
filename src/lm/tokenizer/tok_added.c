/* Added tokens: found in the text before the model sees it, leftmost-longest, with
 * the single_word / lstrip / rstrip rules of the Rust AddedVocabulary. Tokens with
 * normalized == false are matched on the raw text, the others on the normalized text
 * (their pattern is the normalized content). */
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/tokenizer/tok_internal.h"

typedef struct {
    int32_t child;      /* first child, -1 */
    int32_t sibling;    /* next sibling, -1 */
    int32_t token;      /* index in tok_added.v ending here, -1 */
    unsigned char byte;
} trie_node;

struct tok_trie {
    trie_node *nodes;
    size_t n, cap;
    uint8_t first[256]; /* bytes that can start a match */
};

static int32_t new_node(tok_trie *t, unsigned char byte) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        trie_node *v = realloc(t->nodes, cap * sizeof *v);
        if (!v) return mx_set_error("out of memory building the added-token trie");
        t->nodes = v;
        t->cap = cap;
    }
    t->nodes[t->n] = (trie_node){-1, -1, -1, byte};
    return (int32_t)t->n++;
}

static int32_t child_of(const tok_trie *t, int32_t node, unsigned char byte) {
    for (int32_t c = t->nodes[node].child; c >= 0; c = t->nodes[c].sibling)
        if (t->nodes[c].byte == byte) return c;
    return -1;
}

static int trie_add(tok_trie *t, const char *s, size_t n, int32_t token) {
    if (n == 0) return 0;
    int32_t node = 0;
    t->first[(unsigned char)s[0]] = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        int32_t c = child_of(t, node, b);
        if (c < 0) {
            if ((c = new_node(t, b)) < 0) return -1;
            t->nodes[c].sibling = t->nodes[node].child;
            t->nodes[node].child = c;
        }
        node = c;
    }
    if (t->nodes[node].token < 0) t->nodes[node].token = token;
    return 0;
}

static void trie_free(tok_trie *t) {
    if (!t) return;
    free(t->nodes);
    free(t);
}

/* Longest token starting at s[0]: its index, and *len. -1 when none. */
static int32_t trie_longest(const tok_trie *t, const char *s, size_t n, size_t *len) {
    int32_t node = 0, best = -1;
    for (size_t i = 0; i < n; i++) {
        node = child_of(t, node, (unsigned char)s[i]);
        if (node < 0) break;
        if (t->nodes[node].token >= 0) best = t->nodes[node].token, *len = i + 1;
    }
    return best;
}

void tok_added_free(tok_added *a) {
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].pattern != a->v[i].content) free(a->v[i].pattern);
        free(a->v[i].content);
    }
    free(a->v);
    trie_free(a->raw_trie);
    trie_free(a->norm_trie);
    hashmap_free(a->by_content);
    hashmap_free(a->by_id);
    hashmap_free(a->special_set);
    memset(a, 0, sizeof *a);
}

int tok_added_build(tok_added *a, const tok_normalizer *norm) {
    a->raw_trie = calloc(1, sizeof *a->raw_trie);
    a->norm_trie = calloc(1, sizeof *a->norm_trie);
    a->by_content = hashmap_new(a->n + 16);
    a->by_id = hashmap_new(a->n + 16);
    a->special_set = hashmap_new(a->n + 16);
    if (!a->raw_trie || !a->norm_trie || !a->by_content || !a->by_id || !a->special_set)
        return mx_set_error("out of memory building the added tokens");
    if (new_node(a->raw_trie, 0) < 0 || new_node(a->norm_trie, 0) < 0) return -1;
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < a->n; i++) {
        tok_added_token *t = &a->v[i];
        t->pattern = t->content;
        t->pattern_len = t->len;
        if (t->normalized && norm) {
            if (tok_normalize(norm, t->content, t->len, &sb)) {
                strbuf_free(&sb);
                return -1;
            }
            char *p = malloc(sb.len + 1);
            if (!p) {
                strbuf_free(&sb);
                return mx_set_error("out of memory building the added tokens");
            }
            memcpy(p, sb.data ? sb.data : "", sb.len);
            p[sb.len] = '\0';
            t->pattern = p;
            t->pattern_len = sb.len;
        }
        if (trie_add(t->normalized ? a->norm_trie : a->raw_trie, t->pattern, t->pattern_len, (int32_t)i) ||
            hashmap_put(a->by_content, t->content, t->len, (int64_t)i) ||
            hashmap_put(a->by_id, &t->id, sizeof t->id, (int64_t)i) ||
            (t->special && hashmap_put(a->special_set, t->content, t->len, 1))) {
            strbuf_free(&sb);
            return -1;
        }
    }
    strbuf_free(&sb);
    return 0;
}

const tok_added_token *tok_added_by_id(const tok_added *a, int32_t id) {
    int64_t i;
    if (!a->by_id || !hashmap_get(a->by_id, &id, sizeof id, &i)) return NULL;
    return &a->v[i];
}

/* The character that ends / starts s, for the \w and \s tests. */
static uint32_t last_char(const char *s, size_t n) {
    if (!n) return 0;
    size_t k = n - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    uint32_t cp;
    return tok_utf8_next((const unsigned char *)s + k, n - k, &cp) ? cp : 0xFFFD;
}

static uint32_t first_char(const char *s, size_t n, int *len) {
    uint32_t cp;
    int l = tok_utf8_next((const unsigned char *)s, n, &cp);
    *len = l ? l : 1;
    return l ? cp : 0xFFFD;
}

int tok_added_split(const tok_added *a, const tok_trie *trie, const char *arena, const tok_piece *p,
                    tok_pieces *out) {
    const char *s = arena + p->off;
    size_t n = p->len, start_offset = 0, i = 0;
    if (trie->n <= 1 || n == 0) return n ? tok_pieces_push(out, p->off, n, -1, p->at_start) : 0;
    while (i < n) {
        if (!trie->first[(unsigned char)s[i]]) {
            i++;
            continue;
        }
        size_t mlen = 0;
        int32_t k = trie_longest(trie, s + i, n - i, &mlen);
        if (k < 0) {
            i++;
            continue;
        }
        const tok_added_token *t = &a->v[k];
        size_t start = i, stop = i + mlen;
        i = stop; /* the matcher resumes after this match, kept or not */
        if (t->single_word) {
            int start_space = start == 0 || !tok_is_alnum_word(last_char(s, start));
            int l;
            int stop_space = stop == n || !tok_is_alnum_word(first_char(s + stop, n - stop, &l));
            if (!start_space || !stop_space) continue;
        }
        if (t->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t k2 = ns - 1;
                while (k2 > 0 && ((unsigned char)s[k2] & 0xC0) == 0x80) k2--;
                uint32_t cp;
                if (!tok_utf8_next((const unsigned char *)s + k2, ns - k2, &cp) || !tok_is_whitespace(cp)) break;
                ns = k2;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (t->rstrip) {
            while (stop < n) {
                int l;
                uint32_t cp = first_char(s + stop, n - stop, &l);
                if (!tok_is_whitespace(cp)) break;
                stop += (size_t)l;
            }
        }
        if (start_offset < start && tok_pieces_push(out, p->off + start_offset, start - start_offset, -1,
                                                    p->at_start && start_offset == 0))
            return -1;
        if (tok_pieces_push(out, p->off + start, stop - start, t->id, p->at_start && start == 0)) return -1;
        start_offset = stop;
        if (i < stop) i = stop;
    }
    if (start_offset < n && tok_pieces_push(out, p->off + start_offset, n - start_offset, -1, p->at_start && start_offset == 0))
        return -1;
    return 0;
}
