/* Split patterns: literal strings, Oniguruma regexes (searched exactly as the Rust
 * onig crate's find_iter does) and per-character predicates, plus the split
 * behaviours (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/tokenizer/tok_internal.h"

static pthread_once_t onig_once = PTHREAD_ONCE_INIT;
static int onig_ok;

static void onig_setup(void) {
    OnigEncoding enc[1] = {ONIG_ENCODING_UTF8};
    onig_ok = onig_initialize(enc, 1) == ONIG_NORMAL;
}

int tok_pattern_init_regex(tok_pattern *p, const char *src, size_t len, const char *what) {
    memset(p, 0, sizeof *p);
    pthread_once(&onig_once, onig_setup);
    if (!onig_ok) return mx_set_error("%s: could not initialise Oniguruma", what);
    p->is_regex = 1;
    p->str = malloc(len + 1);
    if (!p->str) return mx_set_error("out of memory copying a regex");
    memcpy(p->str, src, len);
    p->str[len] = '\0';
    p->len = len;
    OnigErrorInfo einfo;
    int r = onig_new(&p->re, (const OnigUChar *)p->str, (const OnigUChar *)p->str + len, ONIG_OPTION_NONE,
                     ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &einfo);
    if (r != ONIG_NORMAL) {
        OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(msg, r, &einfo);
        mx_set_error("%s: invalid regex /%s/: %s", what, p->str, (char *)msg);
        free(p->str);
        p->str = NULL;
        p->re = NULL;
        return -1;
    }
    return 0;
}

int tok_pattern_init_string(tok_pattern *p, const char *s, size_t len) {
    memset(p, 0, sizeof *p);
    p->str = malloc(len + 1);
    if (!p->str) return mx_set_error("out of memory copying a pattern");
    memcpy(p->str, s, len);
    p->str[len] = '\0';
    p->len = len;
    return 0;
}

void tok_pattern_free(tok_pattern *p) {
    if (p->re) onig_free(p->re);
    free(p->str);
    memset(p, 0, sizeof *p);
}

static int push_match(tok_matches *m, size_t s, size_t e, int is_match) {
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 32;
        tok_match *v = realloc(m->v, cap * sizeof *v);
        if (!v) return mx_set_error("out of memory growing a match list");
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n++] = (tok_match){s, e, is_match};
    return 0;
}

void tok_matches_free(tok_matches *m) {
    free(m->v);
    m->v = NULL;
    m->n = m->cap = 0;
}

static size_t char_len_at(const char *s, size_t n, size_t at) {
    uint32_t cp;
    int l = tok_utf8_next((const unsigned char *)s + at, n - at, &cp);
    return l ? (size_t)l : 1;
}

int tok_pattern_find(const tok_pattern *p, const char *s, size_t n, tok_matches *m) {
    m->n = 0;
    if (n == 0) return push_match(m, 0, 0, 0);
    size_t prev = 0;
    if (!p->is_regex) {
        if (p->len == 0) return push_match(m, 0, n, 0);
        size_t i = 0;
        while (i + p->len <= n) {
            const char *hit = memmem(s + i, n - i, p->str, p->len);
            if (!hit) break;
            size_t at = (size_t)(hit - s);
            if (prev != at && push_match(m, prev, at, 0)) return -1;
            if (push_match(m, at, at + p->len, 1)) return -1;
            prev = i = at + p->len;
        }
    } else {
        OnigRegion *region = onig_region_new();
        if (!region) return mx_set_error("out of memory allocating a regex region");
        const OnigUChar *str = (const OnigUChar *)s, *end = str + n;
        size_t last_end = 0;
        int have_last = 0;
        size_t last_match_end = 0;
        while (last_end <= n) {
            onig_region_clear(region);
            int r = onig_search(p->re, str, end, str + last_end, end, region, ONIG_OPTION_NONE);
            if (r == ONIG_MISMATCH) break;
            if (r < 0) {
                OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
                onig_error_code_to_str(msg, r);
                onig_region_free(region, 1);
                return mx_set_error("regex /%s/ failed: %s", p->str, (char *)msg);
            }
            size_t ms = (size_t)region->beg[0], me = (size_t)region->end[0];
            if (ms == me && have_last && last_match_end == me) {
                /* no empty match right after the previous match: step one character */
                if (last_end >= n) break;
                last_end += char_len_at(s, n, last_end);
                continue;
            }
            last_end = me;
            have_last = 1;
            last_match_end = me;
            if (prev != ms && push_match(m, prev, ms, 0)) goto oom;
            if (push_match(m, ms, me, 1)) goto oom;
            prev = me;
            if (ms == me) {
                /* the onig crate retries at the same place; the rule above then steps */
            }
        }
        onig_region_free(region, 1);
        goto tail;
    oom:
        onig_region_free(region, 1);
        return -1;
    }
tail:
    if (prev != n && push_match(m, prev, n, 0)) return -1;
    return 0;
}

int tok_char_find(int (*pred)(uint32_t cp, const void *ctx), const void *ctx, const char *s, size_t n,
                  tok_matches *m) {
    m->n = 0;
    if (n == 0) return push_match(m, 0, 0, 0);
    const unsigned char *u = (const unsigned char *)s;
    size_t last = 0, i = 0;
    while (i < n) {
        uint32_t cp;
        int l = tok_utf8_next(u + i, n - i, &cp);
        if (!l) l = 1, cp = 0xFFFD;
        if (pred(cp, ctx)) {
            if (last < i && push_match(m, last, i, 0)) return -1;
            if (push_match(m, i, i + (size_t)l, 1)) return -1;
            last = i + (size_t)l;
        }
        i += (size_t)l;
    }
    if (n > last && push_match(m, last, n, 0)) return -1;
    return 0;
}

void tok_split_behavior(tok_matches *m, int behavior) {
    size_t w = 0;
    int prev_match = 0;
    switch (behavior) {
    case SPLIT_REMOVED:
        return;
    case SPLIT_ISOLATED:
        for (size_t i = 0; i < m->n; i++) m->v[i].is_match = 0;
        return;
    case SPLIT_MERGED_PREV:
        for (size_t i = 0; i < m->n; i++) {
            tok_match x = m->v[i];
            if (x.is_match && !prev_match && w > 0) m->v[w - 1].end = x.end;
            else m->v[w++] = (tok_match){x.start, x.end, 0};
            prev_match = x.is_match;
        }
        m->n = w;
        return;
    case SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < m->n; i++) {
            tok_match x = m->v[i];
            if (x.is_match == prev_match && w > 0) m->v[w - 1].end = x.end;
            else m->v[w++] = x;
            prev_match = x.is_match;
        }
        for (size_t i = 0; i < w; i++) m->v[i].is_match = 0;
        m->n = w;
        return;
    case SPLIT_MERGED_NEXT: {
        /* walk backwards, writing from the end, then slide down */
        size_t r = m->n;
        for (size_t i = m->n; i-- > 0;) {
            tok_match x = m->v[i];
            if (x.is_match && !prev_match && r < m->n) m->v[r].start = x.start;
            else m->v[--r] = (tok_match){x.start, x.end, 0};
            prev_match = x.is_match;
        }
        memmove(m->v, m->v + r, (m->n - r) * sizeof *m->v);
        m->n -= r;
        return;
    }
    }
}
