/* Byte-pair encoding exactly as the Rust library's BPE model: characters (with
 * continuing_subword_prefix / end_of_word_suffix, byte_fallback, unk fusing) become
 * symbols, then the lowest-ranked adjacent pair is merged first (leftmost on ties)
 * until no pair has a merge. Results of words shorter than 256 bytes are cached. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/tokenizer/tok_internal.h"

/* ---- pair -> (rank, new id) map ------------------------------------------ */
static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

int tok_pairmap_init(tok_pairmap *pm, size_t expected) {
    size_t cap = 64;
    while (cap < expected * 2) cap *= 2;
    pm->keys = calloc(cap, sizeof *pm->keys);
    pm->vals = calloc(cap, sizeof *pm->vals);
    pm->cap = cap;
    if (!pm->keys || !pm->vals) return mx_set_error("out of memory allocating the merge table (%zu slots)", cap);
    return 0;
}

int tok_pairmap_put(tok_pairmap *pm, int32_t a, int32_t b, uint32_t rank, int32_t new_id) {
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t i = mix64(key) & (pm->cap - 1);
    while (pm->keys[i] && pm->keys[i] != key) i = (i + 1) & (pm->cap - 1);
    pm->keys[i] = key;
    pm->vals[i] = ((uint64_t)rank << 32) | (uint32_t)new_id;
    return 0;
}

int tok_pairmap_get(const tok_pairmap *pm, int32_t a, int32_t b, uint32_t *rank, int32_t *new_id) {
    if (!pm->cap) return 0;
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t i = mix64(key) & (pm->cap - 1);
    for (;;) {
        uint64_t k = pm->keys[i];
        if (k == key) {
            *rank = (uint32_t)(pm->vals[i] >> 32);
            *new_id = (int32_t)(uint32_t)pm->vals[i];
            return 1;
        }
        if (!k) return 0;
        i = (i + 1) & (pm->cap - 1);
    }
}

void tok_pairmap_free(tok_pairmap *pm) {
    free(pm->keys);
    free(pm->vals);
    memset(pm, 0, sizeof *pm);
}

/* ---- word cache -------------------------------------------------------------- */
#define CACHE_CAPACITY 10000
#define CACHE_MAX_WORD 256

struct tok_cache {
    pthread_mutex_t lock;
    hashmap *words;     /* word -> (offset << 16 | count) into ids */
    tok_ids ids;
};

tok_cache *tok_cache_new(void) {
    tok_cache *c = calloc(1, sizeof *c);
    if (!c) {
        mx_set_error("out of memory creating the BPE cache");
        return NULL;
    }
    c->words = hashmap_new(CACHE_CAPACITY);
    if (!c->words || pthread_mutex_init(&c->lock, NULL)) {
        hashmap_free(c->words);
        free(c);
        mx_set_error("could not create the BPE cache");
        return NULL;
    }
    return c;
}

void tok_cache_free(tok_cache *c) {
    if (!c) return;
    pthread_mutex_destroy(&c->lock);
    hashmap_free(c->words);
    tok_ids_free(&c->ids);
    free(c);
}

int tok_cache_get(tok_cache *c, const char *word, size_t len, tok_ids *out) {
    if (len >= CACHE_MAX_WORD) return 0;
    int64_t v;
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    if (hashmap_get(c->words, word, len, &v)) {
        size_t off = (size_t)(v >> 16), n = (size_t)(v & 0xFFFF);
        rc = tok_ids_append(out, c->ids.v + off, n) ? -1 : 1;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void tok_cache_put(tok_cache *c, const char *word, size_t len, const int32_t *ids, size_t n) {
    if (len >= CACHE_MAX_WORD || n > 0xFFFF) return;
    pthread_mutex_lock(&c->lock);
    if (hashmap_count(c->words) < CACHE_CAPACITY) {
        size_t off = c->ids.n;
        /* a failed insert only loses the cache entry, never correctness */
        if (tok_ids_append(&c->ids, ids, n) == 0 && hashmap_put(c->words, word, len, (int64_t)off << 16 | (int64_t)n))
            c->ids.n = off;
        mx_clear_error();
    }
    pthread_mutex_unlock(&c->lock);
}

/* ---- the merge loop ------------------------------------------------------------ */
typedef struct {
    int32_t id;
    int32_t prev, next;
    int32_t alive;
} symbol;

typedef struct {
    uint32_t rank;
    int32_t pos;
    int32_t new_id;
} merge;

static int merge_less(const merge *a, const merge *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(merge *h, size_t *n, merge m) {
    size_t i = (*n)++;
    h[i] = m;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!merge_less(&h[i], &h[p])) break;
        merge t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static merge heap_pop(merge *h, size_t *n) {
    merge top = h[0];
    h[0] = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && merge_less(&h[l], &h[m])) m = l;
        if (r < *n && merge_less(&h[r], &h[m])) m = r;
        if (m == i) break;
        merge t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
    return top;
}

/* Merges the symbols in place. Short words use a plain scan for the lowest
 * (rank, position) pair; long ones a heap. Both merge in the same order as the Rust
 * library's heap (the concatenation at a position only grows, so a stale heap entry
 * can never name a valid pair). */
static int merge_all(const tok_model *m, symbol *sy, size_t n) {
    if (n < 2) return 0;
    if (n <= 48) {
        uint32_t rank[48];
        int32_t nid[48];
        for (size_t i = 0; i + 1 < n; i++)
            if (!tok_pairmap_get(&m->merges, sy[i].id, sy[i + 1].id, &rank[i], &nid[i])) rank[i] = UINT32_MAX;
        rank[n - 1] = UINT32_MAX;
        for (;;) {
            uint32_t best = UINT32_MAX;
            int32_t at = -1;
            for (int32_t i = 0; i >= 0; i = sy[i].next)
                if (rank[i] < best) best = rank[i], at = i;
            if (at < 0) break;
            int32_t nx = sy[at].next;
            sy[at].id = nid[at];
            sy[nx].alive = 0;
            sy[at].next = sy[nx].next;
            if (sy[nx].next >= 0) sy[sy[nx].next].prev = at;
            if (sy[at].next < 0 || !tok_pairmap_get(&m->merges, sy[at].id, sy[sy[at].next].id, &rank[at], &nid[at]))
                rank[at] = UINT32_MAX;
            int32_t pv = sy[at].prev;
            if (pv >= 0 && !tok_pairmap_get(&m->merges, sy[pv].id, sy[at].id, &rank[pv], &nid[pv])) rank[pv] = UINT32_MAX;
        }
        return 0;
    }
    merge *h = malloc(sizeof *h * n * 2 + sizeof *h);
    if (!h) return mx_set_error("out of memory merging a word of %zu symbols", n);
    size_t hn = 0, hcap = n * 2 + 1;
    for (size_t i = 0; i + 1 < n; i++) {
        merge x = {0, (int32_t)i, 0};
        if (tok_pairmap_get(&m->merges, sy[i].id, sy[i + 1].id, &x.rank, &x.new_id)) heap_push(h, &hn, x);
    }
    while (hn) {
        merge top = heap_pop(h, &hn);
        symbol *s = &sy[top.pos];
        if (!s->alive || s->next < 0) continue;
        uint32_t r;
        int32_t id;
        if (!tok_pairmap_get(&m->merges, s->id, sy[s->next].id, &r, &id) || id != top.new_id) continue;
        int32_t nx = s->next;
        s->id = top.new_id;
        sy[nx].alive = 0;
        s->next = sy[nx].next;
        if (s->next >= 0) sy[s->next].prev = top.pos;
        if (hn + 2 > hcap) {
            /* cannot happen: every merge removes a symbol and pushes at most two */
            free(h);
            return mx_set_error("internal: BPE heap overflow");
        }
        merge x;
        if (s->prev >= 0 && tok_pairmap_get(&m->merges, sy[s->prev].id, s->id, &x.rank, &x.new_id)) {
            x.pos = s->prev;
            heap_push(h, &hn, x);
        }
        if (s->next >= 0 && tok_pairmap_get(&m->merges, s->id, sy[s->next].id, &x.rank, &x.new_id)) {
            x.pos = top.pos;
            heap_push(h, &hn, x);
        }
    }
    free(h);
    return 0;
}

static int32_t lookup(const tok_model *m, const char *s, size_t n) { return tok_model_token_to_id(m, s, n); }

int tok_bpe_tokenize(tok_model *m, const char *w, size_t len, tok_ids *out) {
    if (len == 0) return 0;
    if (m->ignore_merges) {
        int32_t id = lookup(m, w, len);
        if (id >= 0) return tok_ids_push(out, id);
    }
    if (m->cache) {
        int r = tok_cache_get(m->cache, w, len, out);
        if (r) return r < 0 ? -1 : 0;
    }
    size_t pl = m->prefix ? strlen(m->prefix) : 0, sl = m->suffix ? strlen(m->suffix) : 0;
    /* at most one symbol per byte, prefix and suffix included (byte fallback) */
    size_t max_sy = len * (1 + pl + sl) + 1;
    symbol stack_sy[64];
    symbol *sy = max_sy <= 64 ? stack_sy : malloc(sizeof *sy * max_sy);
    if (!sy) return mx_set_error("out of memory tokenizing a word of %zu bytes", len);
    size_t n = 0;
    int32_t unk = -1; /* pending unknown symbol */
    char small[64];
    char *buf = NULL;
    int rc = -1;
    const unsigned char *u = (const unsigned char *)w;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int cl = tok_utf8_next(u + i, len - i, &cp);
        if (!cl) {
            mx_set_error("BPE: invalid UTF-8 in a word at byte %zu", i);
            goto done;
        }
        int first = i == 0, last = i + (size_t)cl == len;
        const char *s = w + i;
        size_t slen = (size_t)cl;
        int32_t id;
        int decorated = (!first && pl) || (last && sl);
        if (!decorated) {
            id = cp < 0x10000 && m->char_ids ? m->char_ids[cp] : lookup(m, s, slen);
        } else {
            size_t need = pl + slen + sl;
            char *b = need <= sizeof small ? small : (buf = realloc(buf, need));
            if (!b) {
                mx_set_error("out of memory in BPE");
                goto done;
            }
            size_t k = 0;
            if (!first && pl) memcpy(b, m->prefix, pl), k = pl;
            memcpy(b + k, s, slen);
            k += slen;
            if (last && sl) memcpy(b + k, m->suffix, sl), k += sl;
            s = b;
            slen = k;
            id = lookup(m, s, slen);
        }
        i += (size_t)cl;
        if (id >= 0) {
            if (unk >= 0) {
                sy[n++] = (symbol){unk, 0, 0, 1};
                unk = -1;
            }
            sy[n++] = (symbol){id, 0, 0, 1};
            continue;
        }
        if (m->byte_fallback) {
            int ok = 1;
            for (size_t k = 0; k < slen; k++)
                if (m->byte_ids[(unsigned char)s[k]] < 0) ok = 0;
            if (ok) {
                for (size_t k = 0; k < slen; k++)
                    sy[n++] = (symbol){m->byte_ids[(unsigned char)s[k]], 0, 0, 1};
                continue;
            }
        }
        if (m->unk_token) {
            if (m->unk_id < 0) {
                mx_set_error("BPE: unk_token '%s' is not in the vocabulary", m->unk_token);
                goto done;
            }
            if (unk >= 0 && !m->fuse_unk) sy[n++] = (symbol){unk, 0, 0, 1};
            unk = m->unk_id;
        }
    }
    if (unk >= 0) sy[n++] = (symbol){unk, 0, 0, 1};
    for (size_t k = 0; k < n; k++) {
        sy[k].prev = (int32_t)k - 1;
        sy[k].next = k + 1 < n ? (int32_t)k + 1 : -1;
    }
    if (merge_all(m, sy, n)) goto done;
    size_t start = out->n;
    for (int32_t k = n ? 0 : -1; k >= 0; k = sy[k].next)
        if (tok_ids_push(out, sy[k].id)) goto done;
    if (m->cache) tok_cache_put(m->cache, w, len, out->v + start, out->n - start);
    rc = 0;
done:
    free(buf);
    if (sy != stack_sy) free(sy);
    return rc;
}
