/* Pre-tokenizers: ByteLevel, Split, Metaspace, Digits, Punctuation, Whitespace,
 * WhitespaceSplit, BertPreTokenizer, CharDelimiterSplit, Sequence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/tokenizer/tok_internal.h"

/* GPT-2's reversible byte -> printable character table. */
const uint16_t tok_byte_to_cp[256] = {
    0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x108, 0x109, 0x10A, 0x10B,
    0x10C, 0x10D, 0x10E, 0x10F, 0x110, 0x111, 0x112, 0x113, 0x114, 0x115, 0x116, 0x117,
    0x118, 0x119, 0x11A, 0x11B, 0x11C, 0x11D, 0x11E, 0x11F, 0x120, 0x021, 0x022, 0x023,
    0x024, 0x025, 0x026, 0x027, 0x028, 0x029, 0x02A, 0x02B, 0x02C, 0x02D, 0x02E, 0x02F,
    0x030, 0x031, 0x032, 0x033, 0x034, 0x035, 0x036, 0x037, 0x038, 0x039, 0x03A, 0x03B,
    0x03C, 0x03D, 0x03E, 0x03F, 0x040, 0x041, 0x042, 0x043, 0x044, 0x045, 0x046, 0x047,
    0x048, 0x049, 0x04A, 0x04B, 0x04C, 0x04D, 0x04E, 0x04F, 0x050, 0x051, 0x052, 0x053,
    0x054, 0x055, 0x056, 0x057, 0x058, 0x059, 0x05A, 0x05B, 0x05C, 0x05D, 0x05E, 0x05F,
    0x060, 0x061, 0x062, 0x063, 0x064, 0x065, 0x066, 0x067, 0x068, 0x069, 0x06A, 0x06B,
    0x06C, 0x06D, 0x06E, 0x06F, 0x070, 0x071, 0x072, 0x073, 0x074, 0x075, 0x076, 0x077,
    0x078, 0x079, 0x07A, 0x07B, 0x07C, 0x07D, 0x07E, 0x121, 0x122, 0x123, 0x124, 0x125,
    0x126, 0x127, 0x128, 0x129, 0x12A, 0x12B, 0x12C, 0x12D, 0x12E, 0x12F, 0x130, 0x131,
    0x132, 0x133, 0x134, 0x135, 0x136, 0x137, 0x138, 0x139, 0x13A, 0x13B, 0x13C, 0x13D,
    0x13E, 0x13F, 0x140, 0x141, 0x142, 0x0A1, 0x0A2, 0x0A3, 0x0A4, 0x0A5, 0x0A6, 0x0A7,
    0x0A8, 0x0A9, 0x0AA, 0x0AB, 0x0AC, 0x143, 0x0AE, 0x0AF, 0x0B0, 0x0B1, 0x0B2, 0x0B3,
    0x0B4, 0x0B5, 0x0B6, 0x0B7, 0x0B8, 0x0B9, 0x0BA, 0x0BB, 0x0BC, 0x0BD, 0x0BE, 0x0BF,
    0x0C0, 0x0C1, 0x0C2, 0x0C3, 0x0C4, 0x0C5, 0x0C6, 0x0C7, 0x0C8, 0x0C9, 0x0CA, 0x0CB,
    0x0CC, 0x0CD, 0x0CE, 0x0CF, 0x0D0, 0x0D1, 0x0D2, 0x0D3, 0x0D4, 0x0D5, 0x0D6, 0x0D7,
    0x0D8, 0x0D9, 0x0DA, 0x0DB, 0x0DC, 0x0DD, 0x0DE, 0x0DF, 0x0E0, 0x0E1, 0x0E2, 0x0E3,
    0x0E4, 0x0E5, 0x0E6, 0x0E7, 0x0E8, 0x0E9, 0x0EA, 0x0EB, 0x0EC, 0x0ED, 0x0EE, 0x0EF,
    0x0F0, 0x0F1, 0x0F2, 0x0F3, 0x0F4, 0x0F5, 0x0F6, 0x0F7, 0x0F8, 0x0F9, 0x0FA, 0x0FB,
    0x0FC, 0x0FD, 0x0FE, 0x0FF
};

int tok_cp_to_byte(uint32_t cp) {
    if (cp >= 0x21 && cp <= 0x7E) return (int)cp;
    if (cp >= 0xA1 && cp <= 0xFF && cp != 0xAD) return (int)cp;
    if (cp >= 0x100 && cp <= 0x143) {
        /* the 68 bytes that are not printable, in order */
        static int16_t rev[68];
        static int ready;
        if (!ready) {
            for (int b = 0; b < 256; b++)
                if (tok_byte_to_cp[b] >= 0x100) rev[tok_byte_to_cp[b] - 0x100] = (int16_t)b;
            ready = 1;
        }
        return rev[cp - 0x100];
    }
    return -1;
}

static const char GPT2_REGEX[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char WHITESPACE_REGEX[] = "\\w+|[^\\w\\s]+";

void tok_pretok_free(tok_pretok *p) {
    if (!p) return;
    tok_pattern_free(&p->pattern);
    for (size_t i = 0; i < p->n_items; i++) tok_pretok_free(p->items[i]);
    free(p->items);
    free(p);
}

tok_pretok *tok_pretok_from_json(const json_t *j, const char *where) {
    const char *type = tok_json_type(j, where);
    if (!type) return NULL;
    tok_pretok *p = calloc(1, sizeof *p);
    if (!p) {
        mx_set_error("out of memory loading a pre-tokenizer");
        return NULL;
    }
    char sub[512];
    if (!strcmp(type, "ByteLevel")) {
        p->kind = PRE_BYTELEVEL;
        p->add_prefix_space = tok_json_bool(j, "add_prefix_space", 1);
        p->use_regex = tok_json_bool(j, "use_regex", 1);
        if (p->use_regex && tok_pattern_init_regex(&p->pattern, GPT2_REGEX, strlen(GPT2_REGEX), where)) goto fail;
    } else if (!strcmp(type, "Split")) {
        p->kind = PRE_SPLIT;
        snprintf(sub, sizeof sub, "%s (Split)", where);
        if (tok_json_pattern(j, sub, &p->pattern)) goto fail;
        if ((p->behavior = tok_split_behavior_from_name(tok_json_str(j, "behavior"), sub)) < 0) goto fail;
        p->invert = tok_json_bool(j, "invert", 0);
    } else if (!strcmp(type, "Metaspace")) {
        p->kind = PRE_METASPACE;
        if (tok_json_char(j, "replacement", where, 0x2581, &p->replacement)) goto fail;
        const char *scheme = tok_json_str(j, "prepend_scheme");
        int aps = tok_json_bool(j, "add_prefix_space", -1);
        if (!scheme) p->prepend_scheme = aps == 0 ? PREPEND_NEVER : PREPEND_ALWAYS;
        else if (!strcmp(scheme, "always")) p->prepend_scheme = PREPEND_ALWAYS;
        else if (!strcmp(scheme, "first")) p->prepend_scheme = PREPEND_FIRST;
        else if (!strcmp(scheme, "never")) p->prepend_scheme = PREPEND_NEVER;
        else {
            mx_set_error("%s: unknown Metaspace prepend_scheme '%s'", where, scheme);
            goto fail;
        }
        if (aps == 0) p->prepend_scheme = PREPEND_NEVER;
        p->split = tok_json_bool(j, "split", 1);
    } else if (!strcmp(type, "Digits")) {
        p->kind = PRE_DIGITS;
        p->individual_digits = tok_json_bool(j, "individual_digits", 0);
    } else if (!strcmp(type, "Punctuation")) {
        p->kind = PRE_PUNCTUATION;
        const char *b = tok_json_str(j, "behavior");
        p->behavior = b ? tok_split_behavior_from_name(b, where) : SPLIT_ISOLATED;
        if (p->behavior < 0) goto fail;
    } else if (!strcmp(type, "Whitespace")) {
        p->kind = PRE_WHITESPACE;
        if (tok_pattern_init_regex(&p->pattern, WHITESPACE_REGEX, strlen(WHITESPACE_REGEX), where)) goto fail;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        p->kind = PRE_WHITESPACE_SPLIT;
    } else if (!strcmp(type, "BertPreTokenizer")) {
        p->kind = PRE_BERT;
    } else if (!strcmp(type, "CharDelimiterSplit")) {
        p->kind = PRE_CHAR_DELIMITER;
        if (!json_object_get(j, "delimiter")) {
            mx_set_error("%s: CharDelimiterSplit needs \"delimiter\"", where);
            goto fail;
        }
        if (tok_json_char(j, "delimiter", where, ' ', &p->replacement)) goto fail;
    } else if (!strcmp(type, "Sequence")) {
        p->kind = PRE_SEQUENCE;
        const json_t *arr = json_object_get(j, "pretokenizers");
        if (!json_is_array(arr)) {
            mx_set_error("%s: Sequence pre-tokenizer needs an array \"pretokenizers\"", where);
            goto fail;
        }
        p->n_items = json_array_size(arr);
        p->items = calloc(p->n_items ? p->n_items : 1, sizeof *p->items);
        if (!p->items) {
            mx_set_error("out of memory loading a pre-tokenizer");
            goto fail;
        }
        for (size_t i = 0; i < p->n_items; i++) {
            snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", where, i);
            if (!(p->items[i] = tok_pretok_from_json(json_array_get(arr, i), sub))) goto fail;
        }
    } else {
        mx_set_error("%s: unknown pre-tokenizer type '%s'", where, type);
        goto fail;
    }
    return p;
fail:
    tok_pretok_free(p);
    return NULL;
}

static int pred_numeric(uint32_t c, const void *x) { (void)x; return tok_is_numeric(c); }
static int pred_punct(uint32_t c, const void *x) { (void)x; return tok_is_punctuation(c); }
static int pred_space(uint32_t c, const void *x) { (void)x; return tok_is_whitespace(c); }
static int pred_char(uint32_t c, const void *x) { return c == *(const uint32_t *)x; }

/* Pushes the pieces described by m (after a split behaviour) for parent piece p. */
static int emit(const tok_matches *m, const tok_piece *p, tok_pieces *out) {
    for (size_t i = 0; i < m->n; i++) {
        const tok_match *x = &m->v[i];
        if (x->is_match || x->end == x->start) continue;
        if (tok_pieces_push(out, p->off + x->start, x->end - x->start, -1, p->at_start && x->start == 0)) return -1;
    }
    return 0;
}

/* Byte-level mapping of a piece: every byte becomes its GPT-2 character. */
static int byte_map(strbuf *arena, const tok_piece *p, tok_pieces *out) {
    if (strbuf_reserve(arena, p->len * 2)) return -1;
    const unsigned char *s = (const unsigned char *)arena->data + p->off;
    size_t off = arena->len;
    char *d = arena->data + off;
    size_t k = 0;
    for (size_t i = 0; i < p->len; i++) {
        uint16_t cp = tok_byte_to_cp[s[i]];
        if (cp < 0x80) d[k++] = (char)cp;
        else {
            d[k++] = (char)(0xC0 | (cp >> 6));
            d[k++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    arena->len += k;
    arena->data[arena->len] = '\0';
    return tok_pieces_push(out, off, k, -1, p->at_start);
}

/* Appends a copy of `pre` + piece text to the arena, returns the new piece. */
static int prepend_copy(strbuf *arena, tok_piece *p, const char *pre, size_t pre_len) {
    if (strbuf_reserve(arena, pre_len + p->len)) return -1;
    size_t off = arena->len;
    memcpy(arena->data + off, pre, pre_len);
    memmove(arena->data + off + pre_len, arena->data + p->off, p->len);
    arena->len += pre_len + p->len;
    arena->data[arena->len] = '\0';
    p->off = off;
    p->len += pre_len;
    return 0;
}

static int split_one(const tok_pretok *pt, strbuf *arena, tok_piece p, tok_pieces *out, tok_matches *m) {
    switch (pt->kind) {
    case PRE_BYTELEVEL: {
        if (pt->add_prefix_space && (p.len == 0 || arena->data[p.off] != ' ') && prepend_copy(arena, &p, " ", 1))
            return -1;
        if (!pt->use_regex) return byte_map(arena, &p, out);
        if (tok_pattern_find(&pt->pattern, arena->data + p.off, p.len, m)) return -1;
        for (size_t i = 0; i < m->n; i++) {
            if (m->v[i].end == m->v[i].start) continue;
            tok_piece q = {p.off + m->v[i].start, m->v[i].end - m->v[i].start, -1, p.at_start && m->v[i].start == 0};
            if (byte_map(arena, &q, out)) return -1;
        }
        return 0;
    }
    case PRE_SPLIT:
        if (tok_pattern_find(&pt->pattern, arena->data + p.off, p.len, m)) return -1;
        if (pt->invert)
            for (size_t i = 0; i < m->n; i++) m->v[i].is_match = !m->v[i].is_match;
        tok_split_behavior(m, pt->behavior);
        return emit(m, &p, out);
    case PRE_METASPACE: {
        char rep[4];
        size_t rl = (size_t)tok_utf8_encode(pt->replacement, rep);
        /* replace ' ' by the replacement into a fresh string */
        size_t spaces = 0;
        for (size_t i = 0; i < p.len; i++) spaces += arena->data[p.off + i] == ' ';
        if (strbuf_reserve(arena, rl + p.len + spaces * rl)) return -1;
        size_t off = arena->len, k = 0;
        char *d = arena->data + off;
        const char *s = arena->data + p.off;
        /* "already starts with the replacement" is judged after replacing spaces */
        int starts = (p.len && s[0] == ' ') || (p.len >= rl && !memcmp(s, rep, rl));
        int prepend = pt->prepend_scheme == PREPEND_ALWAYS || (pt->prepend_scheme == PREPEND_FIRST && p.at_start);
        if (prepend && !starts) {
            memcpy(d, rep, rl);
            k = rl;
        }
        for (size_t i = 0; i < p.len; i++) {
            if (s[i] == ' ') {
                memcpy(d + k, rep, rl);
                k += rl;
            } else d[k++] = s[i];
        }
        arena->len += k;
        arena->data[arena->len] = '\0';
        tok_piece q = {off, k, -1, p.at_start};
        if (!pt->split) return tok_pieces_push(out, q.off, q.len, -1, q.at_start);
        if (tok_char_find(pred_char, &pt->replacement, arena->data + q.off, q.len, m)) return -1;
        tok_split_behavior(m, SPLIT_MERGED_NEXT);
        return emit(m, &q, out);
    }
    case PRE_DIGITS:
        if (tok_char_find(pred_numeric, NULL, arena->data + p.off, p.len, m)) return -1;
        tok_split_behavior(m, pt->individual_digits ? SPLIT_ISOLATED : SPLIT_CONTIGUOUS);
        return emit(m, &p, out);
    case PRE_PUNCTUATION:
        if (tok_char_find(pred_punct, NULL, arena->data + p.off, p.len, m)) return -1;
        tok_split_behavior(m, pt->behavior);
        return emit(m, &p, out);
    case PRE_WHITESPACE:
        if (tok_pattern_find(&pt->pattern, arena->data + p.off, p.len, m)) return -1;
        for (size_t i = 0; i < m->n; i++) m->v[i].is_match = !m->v[i].is_match;
        return emit(m, &p, out);
    case PRE_WHITESPACE_SPLIT:
        if (tok_char_find(pred_space, NULL, arena->data + p.off, p.len, m)) return -1;
        return emit(m, &p, out);
    case PRE_CHAR_DELIMITER:
        if (tok_char_find(pred_char, &pt->replacement, arena->data + p.off, p.len, m)) return -1;
        return emit(m, &p, out);
    case PRE_BERT: {
        tok_pieces tmp = {0};
        int rc = -1;
        if (tok_char_find(pred_space, NULL, arena->data + p.off, p.len, m) || emit(m, &p, &tmp)) goto bert_done;
        for (size_t i = 0; i < tmp.n; i++) {
            if (tok_char_find(pred_punct, NULL, arena->data + tmp.v[i].off, tmp.v[i].len, m)) goto bert_done;
            tok_split_behavior(m, SPLIT_ISOLATED);
            if (emit(m, &tmp.v[i], out)) goto bert_done;
        }
        rc = 0;
    bert_done:
        tok_pieces_free(&tmp);
        return rc;
    }
    }
    return mx_set_error("internal: unknown pre-tokenizer kind %d", pt->kind);
}

int tok_pretokenize(const tok_pretok *pt, strbuf *arena, const tok_pieces *in, tok_pieces *out) {
    out->n = 0;
    if (pt->kind == PRE_SEQUENCE) {
        tok_pieces a = {0}, b = {0};
        int rc = -1;
        for (size_t i = 0; i < in->n; i++)
            if (tok_pieces_push(&a, in->v[i].off, in->v[i].len, in->v[i].added_id, in->v[i].at_start)) goto seq_done;
        for (size_t k = 0; k < pt->n_items; k++) {
            if (tok_pretokenize(pt->items[k], arena, &a, &b)) goto seq_done;
            tok_pieces t = a;
            a = b;
            b = t;
        }
        for (size_t i = 0; i < a.n; i++)
            if (tok_pieces_push(out, a.v[i].off, a.v[i].len, a.v[i].added_id, a.v[i].at_start)) goto seq_done;
        rc = 0;
    seq_done:
        tok_pieces_free(&a);
        tok_pieces_free(&b);
        return rc;
    }
    tok_matches m = {0};
    int rc = 0;
    for (size_t i = 0; i < in->n && !rc; i++) {
        if (in->v[i].added_id >= 0) {
            rc = tok_pieces_push(out, in->v[i].off, in->v[i].len, in->v[i].added_id, in->v[i].at_start);
            continue;
        }
        rc = split_one(pt, arena, in->v[i], out, &m);
    }
    tok_matches_free(&m);
    return rc;
}
