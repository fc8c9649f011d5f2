/* Internal structures of the Hugging Face tokenizer implementation.
 *
 * The pipeline mirrors the Rust `tokenizers` library: added-token extraction,
 * normalizer, pre-tokenizer, model, post-processor on encode; decoder chain on
 * decode. Offsets are not tracked: cmlx only needs ids and text. Every stage works
 * on "pieces": byte ranges of one growing arena, so splitting never copies. */
#ifndef CMLX_LM_TOKENIZER_INTERNAL_H
#define CMLX_LM_TOKENIZER_INTERNAL_H

#include <jansson.h>
#include <oniguruma.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hashmap.h"
#include "util/strbuf.h"
#include "cmlx/lm_tokenizer.h"

/* ---- small growable vectors ---------------------------------------------- */
typedef struct {
    int32_t *v;
    size_t n, cap;
} tok_ids;

int tok_ids_push(tok_ids *ids, int32_t id);
int tok_ids_append(tok_ids *ids, const int32_t *src, size_t n);
void tok_ids_free(tok_ids *ids);

/* A piece of text being tokenized: a byte range of the arena. */
typedef struct {
    size_t off, len;
    int32_t added_id;   /* >= 0: an added token already resolved to this id */
    uint8_t at_start;   /* the piece begins at byte 0 of the original input */
} tok_piece;

typedef struct {
    tok_piece *v;
    size_t n, cap;
} tok_pieces;

int tok_pieces_push(tok_pieces *p, size_t off, size_t len, int32_t added_id, int at_start);
void tok_pieces_free(tok_pieces *p);

/* ---- unicode helpers (tok_unicode.c) -------------------------------------- */
/* Decodes one UTF-8 character at s[0..n); returns its length (1..4) and sets *cp,
 * or 0 when the bytes are not valid UTF-8. */
int tok_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
int tok_utf8_encode(uint32_t cp, char out[4]);
/* Byte offset of the first invalid UTF-8 sequence, or (size_t)-1 when valid. */
size_t tok_utf8_invalid_at(const char *s, size_t n);
/* Appends s with every invalid sequence replaced by U+FFFD, exactly as Rust's
 * String::from_utf8_lossy (one U+FFFD per maximal invalid subpart). */
int tok_utf8_lossy(strbuf *out, const char *s, size_t n);
/* Length of the incomplete-but-valid-so-far UTF-8 sequence that ends s (0 when the
 * text ends on a character boundary). */
size_t tok_utf8_incomplete_tail(const char *s, size_t n);

int tok_is_whitespace(uint32_t cp);       /* Rust char::is_whitespace (White_Space) */
int tok_is_numeric(uint32_t cp);          /* Nd, Nl, No */
int tok_is_alnum_word(uint32_t cp);       /* regex \w: letters, marks, Nd, Pc */
int tok_is_punctuation(uint32_t cp);      /* ASCII punctuation or Unicode P* */
int tok_is_other(uint32_t cp);            /* Cc, Cf, Cs, Co, Cn */
int tok_is_mark_nonspacing(uint32_t cp);  /* Mn */
int tok_is_combining_mark(uint32_t cp);   /* Mn, Mc, Me */
int tok_is_chinese_char(uint32_t cp);     /* the CJK blocks BERT isolates */
int tok_append_lower(strbuf *out, uint32_t cp);

/* ---- regular expressions and patterns (tok_pattern.c) ------------------- */
typedef struct {
    int is_regex;
    char *str;          /* the literal (is_regex == 0) or the regex source */
    size_t len;
    regex_t *re;        /* Oniguruma, syntax and options as the Rust onig crate */
} tok_pattern;

typedef struct {
    size_t start, end;
    int is_match;
} tok_match;

typedef struct {
    tok_match *v;
    size_t n, cap;
} tok_matches;

/* Compiles a pattern; `what` names it in error messages. */
int tok_pattern_init_regex(tok_pattern *p, const char *src, size_t len, const char *what);
int tok_pattern_init_string(tok_pattern *p, const char *s, size_t len);
void tok_pattern_free(tok_pattern *p);
/* Fills m with alternating non-match / match ranges covering s (as the Rust
 * Pattern::find_matches: an empty input gives one empty non-match). */
int tok_pattern_find(const tok_pattern *p, const char *s, size_t n, tok_matches *m);
/* Same for a per-character predicate: every matching character is one match. */
int tok_char_find(int (*pred)(uint32_t cp, const void *ctx), const void *ctx, const char *s, size_t n,
                  tok_matches *m);
void tok_matches_free(tok_matches *m);

enum { SPLIT_REMOVED, SPLIT_ISOLATED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS };
/* Applies a split behaviour to m in place: afterwards each entry is one output
 * piece, and is_match == 1 marks a piece to drop (only for SPLIT_REMOVED). */
void tok_split_behavior(tok_matches *m, int behavior);

/* ---- normalizers (tok_normalize.c) --------------------------------------- */
enum {
    NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_LOWERCASE, NORM_STRIP, NORM_STRIP_ACCENTS,
    NORM_REPLACE, NORM_PREPEND, NORM_BERT, NORM_SEQUENCE, NORM_BYTELEVEL
};

typedef struct tok_normalizer {
    int kind;
    tok_pattern pattern;           /* Replace */
    char *content;                 /* Replace: replacement; Prepend: prefix */
    size_t content_len;
    int strip_left, strip_right;   /* Strip */
    int clean_text, handle_chinese, strip_accents, lowercase; /* Bert (strip_accents -1 = follow lowercase) */
    struct tok_normalizer **items; /* Sequence */
    size_t n_items;
} tok_normalizer;

tok_normalizer *tok_normalizer_from_json(const json_t *j, const char *where);
void tok_normalizer_free(tok_normalizer *n);
/* Normalizes s into out (out is reset first). */
int tok_normalize(const tok_normalizer *n, const char *s, size_t len, strbuf *out);

/* ---- pre-tokenizers (tok_pretokenize.c) ----------------------------------- */
enum {
    PRE_BYTELEVEL, PRE_SPLIT, PRE_METASPACE, PRE_DIGITS, PRE_PUNCTUATION, PRE_WHITESPACE,
    PRE_WHITESPACE_SPLIT, PRE_BERT, PRE_CHAR_DELIMITER, PRE_SEQUENCE
};
enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };

typedef struct tok_pretok {
    int kind;
    int add_prefix_space, use_regex;    /* ByteLevel */
    tok_pattern pattern;                /* Split (and the ByteLevel / Whitespace regexes) */
    int behavior, invert;               /* Split, Punctuation */
    uint32_t replacement;               /* Metaspace, CharDelimiterSplit */
    int prepend_scheme, split;          /* Metaspace */
    int individual_digits;              /* Digits */
    struct tok_pretok **items;          /* Sequence */
    size_t n_items;
} tok_pretok;

tok_pretok *tok_pretok_from_json(const json_t *j, const char *where);
void tok_pretok_free(tok_pretok *p);
/* Splits/transforms every piece of *in into *out (out is emptied first). New text is
 * appended to the arena. Pieces with added_id >= 0 pass through untouched. */
int tok_pretokenize(const tok_pretok *p, strbuf *arena, const tok_pieces *in, tok_pieces *out);

/* The GPT-2 byte <-> character table shared by ByteLevel pieces. */
extern const uint16_t tok_byte_to_cp[256];
int tok_cp_to_byte(uint32_t cp);  /* -1 when cp is not one of the 256 */

/* ---- models (tok_bpe.c, tok_wordpiece.c, tok_unigram.c) ------------------ */
enum { MODEL_BPE, MODEL_WORDPIECE, MODEL_UNIGRAM, MODEL_WORDLEVEL };

typedef struct {
    uint64_t *keys;     /* (left << 32 | right) + 1; 0 = empty */
    uint64_t *vals;     /* rank << 32 | new_id */
    size_t cap;
} tok_pairmap;

typedef struct tok_cache tok_cache;

typedef struct {
    uint32_t tag;       /* hash of the token; 0 = empty */
    int32_t id;
} tok_slot;

typedef struct tok_model {
    int kind;
    /* vocabulary: id -> string (offsets into strs) and the string -> id index */
    tok_slot *index;
    size_t index_cap;
    uint32_t *entry_off, *entry_len;   /* every (token, id) entry in file order */
    int32_t *entry_ids;
    size_t n_entries;
    char *strs;
    size_t strs_len;
    uint32_t *str_off;      /* by id; UINT32_MAX when the id has no token */
    uint32_t *str_len;
    size_t n_ids;           /* 1 + largest id */
    size_t vocab_count;
    /* BPE */
    tok_pairmap merges;
    int32_t unk_id;         /* -1: none */
    char *unk_token;
    char *prefix;           /* continuing_subword_prefix (BPE, WordPiece) */
    char *suffix;           /* end_of_word_suffix */
    int fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_ids[256];  /* <0xHH> tokens, -1 when absent */
    int32_t *char_ids;      /* BMP code point -> id for single-character tokens, -1 */
    tok_cache *cache;
    /* WordPiece */
    size_t max_input_chars_per_word;
    /* Unigram */
    double *scores;         /* by id */
    double min_score;
    size_t max_piece_len;   /* bytes */
} tok_model;

tok_model *tok_model_from_json(const json_t *j, const char *path, void *fast);
void tok_model_free(tok_model *m);
int tok_model_tokenize(tok_model *m, const char *word, size_t len, tok_ids *out);
int32_t tok_model_token_to_id(const tok_model *m, const char *s, size_t len);
/* Builds the string -> id index from the entries (tok_vocab.c). */
int tok_vocab_index(tok_model *m);
const char *tok_model_id_to_token(const tok_model *m, int32_t id, size_t *len);

int tok_bpe_tokenize(tok_model *m, const char *word, size_t len, tok_ids *out);
int tok_wordpiece_tokenize(tok_model *m, const char *word, size_t len, tok_ids *out);
int tok_unigram_tokenize(tok_model *m, const char *word, size_t len, tok_ids *out);
int tok_unigram_init(tok_model *m);

int tok_pairmap_init(tok_pairmap *pm, size_t expected);
int tok_pairmap_put(tok_pairmap *pm, int32_t a, int32_t b, uint32_t rank, int32_t new_id);
int tok_pairmap_get(const tok_pairmap *pm, int32_t a, int32_t b, uint32_t *rank, int32_t *new_id);
void tok_pairmap_free(tok_pairmap *pm);

tok_cache *tok_cache_new(void);
void tok_cache_free(tok_cache *c);
/* 1 and appends the cached ids when word is cached. */
int tok_cache_get(tok_cache *c, const char *word, size_t len, tok_ids *out);
void tok_cache_put(tok_cache *c, const char *word, size_t len, const int32_t *ids, size_t n);

/* Fast vocab / merges reader (tok_json.c): the two big values of tokenizer.json are
 * parsed by a dedicated scanner; everything else goes through jansson. */
typedef struct {
    const char *text;           /* whole file */
    size_t len;
    size_t vocab_at, vocab_end; /* byte range of model.vocab when it is an object, else 0 */
    size_t merges_at, merges_end;
    const char *path;
} tok_fast_json;

json_t *tok_json_load(const char *path, tok_fast_json *fast, char **text_out);
/* Line and column (1-based) of byte offset `at`. */
void tok_json_linecol(const char *text, size_t at, int *line, int *col);
/* Scans the vocab object: calls put(key, len, id) for every entry. */
int tok_fast_vocab(const tok_fast_json *f, int (*put)(void *ctx, const char *k, size_t n, int64_t id),
                   void *ctx);
/* Scans the merges array: calls put(a, alen, b, blen) for every merge. */
int tok_fast_merges(const tok_fast_json *f,
                    int (*put)(void *ctx, const char *a, size_t an, const char *b, size_t bn), void *ctx);

/* JSON accessors with messages that name the file and the key path (tok_json.c). */
const char *tok_json_str(const json_t *obj, const char *key);     /* NULL: absent or not a string */
int tok_json_bool(const json_t *obj, const char *key, int dflt);  /* null / absent -> dflt */
/* The "type" string of a component; error naming `where` when missing. */
const char *tok_json_type(const json_t *obj, const char *where);
/* Reads {"String": s} or {"Regex": r} under key "pattern". */
int tok_json_pattern(const json_t *obj, const char *where, tok_pattern *p);
/* Reads a single-character string field (Metaspace replacement, Strip content). */
int tok_json_char(const json_t *obj, const char *key, const char *where, uint32_t dflt, uint32_t *out);
int tok_split_behavior_from_name(const char *name, const char *where);

/* ---- added tokens (tok_added.c) ------------------------------------------ */
typedef struct {
    char *content;
    size_t len;
    int32_t id;
    int special, lstrip, rstrip, single_word, normalized;
    char *pattern;      /* what is matched: content, or content normalized */
    size_t pattern_len;
} tok_added_token;

typedef struct tok_trie tok_trie;

typedef struct {
    tok_added_token *v;
    size_t n;
    tok_trie *raw_trie;     /* tokens with normalized == false */
    tok_trie *norm_trie;    /* tokens with normalized == true */
    hashmap *by_content;    /* content -> index in v */
    hashmap *by_id;         /* id -> index in v */
    hashmap *special_set;   /* content of special tokens */
} tok_added;

int tok_added_build(tok_added *a, const tok_normalizer *norm);
void tok_added_free(tok_added *a);
/* Splits piece i of *in against one trie, appending to *out. */
int tok_added_split(const tok_added *a, const tok_trie *trie, const char *arena, const tok_piece *p,
                    tok_pieces *out);
const tok_added_token *tok_added_by_id(const tok_added *a, int32_t id);

/* ---- post-processors (tok_post.c) --------------------------------------- */
enum { POST_TEMPLATE, POST_BYTELEVEL, POST_ROBERTA, POST_BERT, POST_SEQUENCE };

typedef struct {
    int is_special;         /* 1: special token ids; 0: the sequence */
    int32_t *ids;
    size_t n_ids;
} tok_template_item;

typedef struct tok_post {
    int kind;
    tok_template_item *single;
    size_t n_single;
    struct tok_post **items;
    size_t n_items;
} tok_post;

tok_post *tok_post_from_json(const json_t *j, const char *where, const struct lm_tokenizer *tok);
tok_post *tok_post_bos_eos(int32_t bos, int add_bos, int32_t eos, int add_eos);
void tok_post_free(tok_post *p);
int tok_post_apply(const tok_post *p, const tok_ids *in, tok_ids *out);

/* ---- decoders (tok_decode.c) -------------------------------------------- */
enum {
    DEC_BYTELEVEL, DEC_METASPACE, DEC_REPLACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP, DEC_WORDPIECE,
    DEC_BPE, DEC_SEQUENCE
};

typedef struct tok_decoder {
    int kind;
    tok_pattern pattern;        /* Replace */
    char *content;              /* Replace content; WordPiece prefix; BPE suffix */
    size_t content_len;
    uint32_t ch;                /* Strip content; Metaspace replacement */
    size_t start, stop;         /* Strip */
    int prepend_scheme;         /* Metaspace */
    int cleanup;                /* WordPiece */
    struct tok_decoder **items;
    size_t n_items;
} tok_decoder;

tok_decoder *tok_decoder_from_json(const json_t *j, const char *where);
void tok_decoder_free(tok_decoder *d);

/* ---- the tokenizer ------------------------------------------------------- */
struct lm_tokenizer {
    char *path;                 /* tokenizer.json, for messages */
    tok_model *model;
    tok_normalizer *normalizer;
    tok_pretok *pretok;
    tok_post *post;
    tok_decoder *decoder;
    tok_added added;
    uint8_t *special_ids;       /* by id: 1 when decode(skip_special) drops it */
    size_t n_ids;               /* 1 + largest id (model and added) */
    /* tokenizer_config.json / generation_config.json */
    char *bos_token, *eos_token, *pad_token, *unk_token, *sep_token, *cls_token, *mask_token;
    int32_t bos_id, eos_id, pad_id, unk_id;
    int32_t *eos_ids;
    size_t n_eos_ids;
    int clean_up_spaces;
    char *chat_template;
    char *tokenizer_class;
};

/* Decodes ids into out. stream != NULL: incomplete UTF-8 at the very end is held
 * back instead of replaced, and *stream is set to 1 when something was held. */
int tok_decode_into(const struct lm_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                    strbuf *out, int *held);

#endif
