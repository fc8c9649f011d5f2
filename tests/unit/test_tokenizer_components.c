/* Tokenizer components, each checked on a small tokenizer.json written to a
 * temporary directory (or directly through the internal API): normalizers,
 * pre-tokenizers, BPE options, WordPiece, Unigram, WordLevel, added tokens,
 * post-processors, decoders, tokenizer_config.json handling and load errors.
 * Expected values follow the documented behaviour of the Rust `tokenizers` library
 * (each derivation is spelled out next to the check). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmlx/error.h"
#include "cmlx/lm_tokenizer.h"
#include "lm/tokenizer/tok_internal.h"
#include "test.h"

static char tmpdir[256];
static const char *current_json; /* the tokenizer.json of the tokenizer under test */
static int current_has_config;

/* With CMLX_TOK_DUMP=FILE set, every encode/decode expectation is appended to FILE
 * as JSON lines ({json, text, special, ids} / {json, ids, skip, text}) so that
 * bench/tokenizer/check_hf.mjs can replay them on the Hugging Face library. */
static void dump(const char *kind, const char *text, int flag, const int32_t *ids, size_t n) {
    const char *path = getenv("CMLX_TOK_DUMP");
    if (!path || !current_json || current_has_config) return;
    json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "kind", kind, "json", current_json, "text", text, "flag", flag);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_integer(ids[i]));
    json_object_set_new(o, "ids", a);
    FILE *f = fopen(path, "a");
    if (f) {
        char *s = json_dumps(o, JSON_COMPACT);
        if (s) fprintf(f, "%s\n", s);
        free(s);
        fclose(f);
    }
    json_decref(o);
}

static void write_file(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        CHECK_MSG(0, "cannot write %s", path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

/* A tokenizer from tokenizer.json text (+ optional tokenizer_config.json). */
static lm_tokenizer *make(const char *json, const char *config) {
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/generation_config.json", tmpdir);
    unlink(path);
    write_file("tokenizer.json", json);
    if (config) write_file("tokenizer_config.json", config);
    current_json = json;
    current_has_config = config != NULL;
    lm_tokenizer *t = lm_tokenizer_load(tmpdir);
    CHECK_MSG(t != NULL, "load failed: %s", mx_last_error());
    return t;
}

static int ids_are(const lm_tokenizer *t, const char *text, int special, const int32_t *want, size_t wn, int line) {
    dump("encode", text, special, want, wn);
    int32_t *ids = NULL;
    size_t n = 0;
    if (!t || lm_tokenizer_encode(t, text, strlen(text), special, &ids, &n)) {
        return test_check_msg(0, __FILE__, line, "encode '%s' failed: %s", text, mx_last_error());
    }
    int ok = n == wn && (n == 0 || !memcmp(ids, want, n * sizeof *ids));
    char got[512] = "";
    for (size_t i = 0; i < n && strlen(got) < 480; i++) snprintf(got + strlen(got), sizeof got - strlen(got), "%d ", ids[i]);
    free(ids);
    return test_check_msg(ok, __FILE__, line, "encode '%s': got [%s]", text, got);
}
#define IDS(t, text, special, ...)                                                                      \
    do {                                                                                                \
        const int32_t want_[] = {__VA_ARGS__};                                                          \
        ids_are(t, text, special, want_, sizeof want_ / sizeof want_[0], __LINE__);                     \
    } while (0)
#define NO_IDS(t, text, special) ids_are(t, text, special, NULL, 0, __LINE__)

static void decodes_to(const lm_tokenizer *t, const int32_t *ids, size_t n, int skip, const char *want, int line) {
    dump("decode", want, skip, ids, n);
    char *s = t ? lm_tokenizer_decode(t, ids, n, skip) : NULL;
    test_check_msg(s && !strcmp(s, want), __FILE__, line, "decode: expected '%s', got '%s' (%s)", want, s ? s : "(null)",
                   s ? "" : mx_last_error());
    free(s);
}
#define DEC(t, skip, want, ...)                                                                         \
    do {                                                                                                \
        const int32_t ids_[] = {__VA_ARGS__};                                                           \
        decodes_to(t, ids_, sizeof ids_ / sizeof ids_[0], skip, want, __LINE__);                        \
    } while (0)

/* ---- normalizers, through the internal API --------------------------------- */
static void norm_is(const char *json, const char *in, const char *want, int line) {
    json_error_t e;
    json_t *j = json_loads(json, 0, &e);
    tok_normalizer *n = j ? tok_normalizer_from_json(j, "test") : NULL;
    strbuf out = STRBUF_INIT;
    int ok = n && tok_normalize(n, in, strlen(in), &out) == 0 && out.len == strlen(want) && !memcmp(out.data ? out.data : "", want, out.len);
    test_check_msg(ok, __FILE__, line, "normalizer %s on '%s': expected '%s', got '%.*s' %s", json, in, want, (int)out.len,
                   out.data ? out.data : "", n ? "" : mx_last_error());
    strbuf_free(&out);
    tok_normalizer_free(n);
    json_decref(j);
}
#define NORM(json, in, want) norm_is(json, in, want, __LINE__)

static void test_normalizers(void) {
    NORM("{\"type\":\"NFC\"}", "e\xCC\x81", "\xC3\xA9");
    NORM("{\"type\":\"NFD\"}", "\xC3\xA9", "e\xCC\x81");
    NORM("{\"type\":\"NFKC\"}", "\xEF\xAC\x81 \xEF\xBC\xA1 \xE2\x91\xA0", "fi A 1"); /* ligature fi, fullwidth A, circled 1 */
    NORM("{\"type\":\"NFKD\"}", "\xEF\xAC\x81\xC3\xA9", "fie\xCC\x81");
    NORM("{\"type\":\"Lowercase\"}", "HeLLo \xC3\x80\xC3\x89", "hello \xC3\xA0\xC3\xA9");
    NORM("{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":true}", " \t hi \n", "hi");
    NORM("{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":false}", "  hi  ", "hi  ");
    NORM("{\"type\":\"StripAccents\"}", "e\xCC\x81\xC3\xA9", "e\xC3\xA9"); /* removes marks, does not decompose */
    NORM("{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\xE2\x96\x81\"}", "a b  c",
         "a\xE2\x96\x81" "b\xE2\x96\x81\xE2\x96\x81" "c");
    NORM("{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\\\\s+\"},\"content\":\" \"}", "a \t\n b", "a b");
    NORM("{\"type\":\"Prepend\",\"prepend\":\"\xE2\x96\x81\"}", "hi", "\xE2\x96\x81hi");
    NORM("{\"type\":\"Prepend\",\"prepend\":\"\xE2\x96\x81\"}", "", "");
    NORM("{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFD\"},{\"type\":\"StripAccents\"},{\"type\":\"Lowercase\"}]}",
         "H\xC3\xA9llo", "hello");
    /* Bert: clean_text drops NUL and turns \t into ' '; CJK chars get spaces around;
     * strip_accents follows lowercase; then lowercase */
    NORM("{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,\"strip_accents\":null,\"lowercase\":true}",
         "H\xC3\xA9llo\tWorld\x01\xE4\xBD\xA0\xE5\xA5\xBD", "hello world \xE4\xBD\xA0  \xE5\xA5\xBD ");
    NORM("{\"type\":\"BertNormalizer\",\"clean_text\":false,\"handle_chinese_chars\":false,\"strip_accents\":null,\"lowercase\":false}",
         "H\xC3\xA9llo", "H\xC3\xA9llo");
}

/* ---- pre-tokenizers, through the internal API ------------------------------ */
static void pre_is(const char *json, const char *in, const char *want, int line) {
    json_error_t e;
    json_t *j = json_loads(json, 0, &e);
    tok_pretok *p = j ? tok_pretok_from_json(j, "test") : NULL;
    strbuf arena = STRBUF_INIT, got = STRBUF_INIT;
    tok_pieces a = {0}, b = {0};
    int ok = 0;
    if (p && strbuf_append(&arena, in, strlen(in)) == 0 && tok_pieces_push(&a, 0, strlen(in), -1, 1) == 0 &&
        tok_pretokenize(p, &arena, &a, &b) == 0) {
        for (size_t i = 0; i < b.n; i++) {
            if (i) strbuf_putc(&got, '|');
            strbuf_append(&got, arena.data + b.v[i].off, b.v[i].len);
        }
        strbuf_reserve(&got, 0);
        ok = !strcmp(got.data, want);
    }
    test_check_msg(ok, __FILE__, line, "pre-tokenizer %s on '%s': expected '%s', got '%s' %s", json, in, want,
                   got.data ? got.data : "", p ? "" : mx_last_error());
    strbuf_free(&arena);
    strbuf_free(&got);
    tok_pieces_free(&a);
    tok_pieces_free(&b);
    tok_pretok_free(p);
    json_decref(j);
}
#define PRE(json, in, want) pre_is(json, in, want, __LINE__)
#define SPLIT(pattern, behavior, invert) \
    "{\"type\":\"Split\",\"pattern\":" pattern ",\"behavior\":\"" behavior "\",\"invert\":" invert "}"

static void test_pretokenizers(void) {
    PRE("{\"type\":\"Whitespace\"}", "Hey friend!  How are you?!?", "Hey|friend|!|How|are|you|?!?");
    PRE("{\"type\":\"WhitespaceSplit\"}", "Hey friend!  How", "Hey|friend!|How");
    PRE("{\"type\":\"Digits\",\"individual_digits\":false}", "Call 123 please42", "Call |123| please|42");
    PRE("{\"type\":\"Digits\",\"individual_digits\":true}", "a123", "a|1|2|3");
    PRE("{\"type\":\"Punctuation\"}", "Hey, friend!!", "Hey|,| friend|!|!");
    PRE("{\"type\":\"Punctuation\",\"behavior\":\"Removed\"}", "a,b", "a|b");
    PRE("{\"type\":\"Punctuation\",\"behavior\":\"MergedWithPrevious\"}", "Hey, friend!!", "Hey,| friend!|!");
    PRE("{\"type\":\"Punctuation\",\"behavior\":\"MergedWithNext\"}", "Hey, friend!!", "Hey|, friend|!|!");
    PRE("{\"type\":\"Punctuation\",\"behavior\":\"Contiguous\"}", "Hey, friend!!", "Hey|,| friend|!!");
    PRE(SPLIT("{\"String\":\" \"}", "Removed", "false"), "a b  c", "a|b|c");
    PRE(SPLIT("{\"String\":\"-\"}", "MergedWithPrevious", "false"), "a-b--c", "a-|b-|-|c");
    PRE(SPLIT("{\"String\":\"-\"}", "MergedWithNext", "false"), "a-b--c", "a|-b|-|-c");
    PRE(SPLIT("{\"Regex\":\"\\\\d+\"}", "Removed", "true"), "ab12cd34", "12|34"); /* invert: keep what matches */
    PRE(SPLIT("{\"Regex\":\"\\\\d+\"}", "Isolated", "false"), "ab12cd34", "ab|12|cd|34");
    /* Oniguruma features the HF regexes use: (?i:...), \p{L}, look-ahead */
    PRE(SPLIT("{\"Regex\":\"(?i:'t)|\\\\p{L}+\"}", "Isolated", "false"), "DON'T", "DON|'T");
    PRE(SPLIT("{\"Regex\":\"\\\\s+(?!\\\\S)|\\\\s+\"}", "Isolated", "false"), "a   b", "a|  | |b");
    PRE("{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"always\",\"split\":true}", "Hey friend",
        "\xE2\x96\x81Hey|\xE2\x96\x81" "friend");
    PRE("{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"always\",\"split\":false}", "Hey friend",
        "\xE2\x96\x81Hey\xE2\x96\x81" "friend");
    PRE("{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"never\",\"split\":true}", "Hey friend",
        "Hey|\xE2\x96\x81" "friend");
    PRE("{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"always\",\"split\":true}", "a  b",
        "\xE2\x96\x81" "a|\xE2\x96\x81|\xE2\x96\x81" "b");
    /* legacy form: add_prefix_space true means "always" */
    PRE("{\"type\":\"Metaspace\",\"replacement\":\"_\",\"add_prefix_space\":true}", "x y", "_x|_y");
    PRE("{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":true}", "Hello world",
        "\xC4\xA0Hello|\xC4\xA0world");
    PRE("{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}", "a b\n\xC3\xA9",
        "a\xC4\xA0" "b\xC4\x8A\xC3\x83\xC2\xA9");
    PRE("{\"type\":\"BertPreTokenizer\"}", "Hey, you!", "Hey|,|you|!");
    PRE("{\"type\":\"CharDelimiterSplit\",\"delimiter\":\"-\"}", "a-b", "a|b");
    PRE("{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"WhitespaceSplit\"},{\"type\":\"Digits\",\"individual_digits\":true}]}",
        "ab12 c3", "ab|1|2|c|3");
}

/* ---- models ----------------------------------------------------------------- */
#define TOK(model, extra) "{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":null," extra "\"model\":" model "}"
#define WS_PRE "\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"

static void test_bpe(void) {
    /* ranks: "b c" 0, "a b" 1, "a bc" 2. "abc": (b,c) merges first, then (a,bc);
     * "abab": two (a,b) pairs of equal rank merge left to right. */
    const char *strings = TOK("{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"ab\":3,\"bc\":4,\"abc\":5},"
                              "\"merges\":[\"b c\",\"a b\",\"a bc\"]}", WS_PRE);
    lm_tokenizer *t = make(strings, NULL);
    IDS(t, "abc abab", 1, 5, 3, 3);
    IDS(t, "cab", 1, 2, 3);
    lm_tokenizer_free(t);
    const char *pairs = TOK("{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"ab\":3,\"bc\":4,\"abc\":5},"
                            "\"merges\":[[\"b\",\"c\"],[\"a\",\"b\"],[\"a\",\"bc\"]]}", WS_PRE);
    t = make(pairs, NULL);
    IDS(t, "abc abab", 1, 5, 3, 3);
    lm_tokenizer_free(t);

    /* unknown characters: fused into one <unk> with fuse_unk, one each without */
    t = make(TOK("{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,\"vocab\":{\"<unk>\":0,\"a\":1,\"b\":2},\"merges\":[]}", WS_PRE), NULL);
    IDS(t, "axxb", 1, 1, 0, 2);
    lm_tokenizer_free(t);
    t = make(TOK("{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":false,\"vocab\":{\"<unk>\":0,\"a\":1,\"b\":2},\"merges\":[]}", WS_PRE), NULL);
    IDS(t, "axxb", 1, 1, 0, 0, 2);
    lm_tokenizer_free(t);

    /* byte_fallback: a missing character becomes its <0xHH> tokens when all exist,
     * otherwise <unk>; ByteFallback decoding turns an invalid byte run into one
     * U+FFFD per byte */
    t = make(TOK("{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,"
                 "\"vocab\":{\"<unk>\":0,\"a\":1,\"<0xC3>\":2,\"<0xA9>\":3},\"merges\":[]}",
                 WS_PRE "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]},"),
             NULL);
    IDS(t, "a\xC3\xA9", 1, 1, 2, 3);
    IDS(t, "a\xC5\x81", 1, 1, 0);
    DEC(t, 0, "a\xC3\xA9", 1, 2, 3);
    DEC(t, 0, "\xEF\xBF\xBD", 2);
    DEC(t, 0, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 2, 2, 3);
    DEC(t, 0, "\xEF\xBF\xBD" "a", 3, 1);
    lm_tokenizer_free(t);

    /* continuing_subword_prefix / end_of_word_suffix: "a" "##b" "##c</w>"; a merge
     * "x ##y" produces x + "y". "ab" ends in "##b</w>", which is not in the
     * vocabulary and there is no unk: the character is dropped. */
    t = make(TOK("{\"type\":\"BPE\",\"continuing_subword_prefix\":\"##\",\"end_of_word_suffix\":\"</w>\","
                 "\"vocab\":{\"a\":0,\"##b\":1,\"##c</w>\":2,\"ab\":3,\"abc</w>\":4},\"merges\":[\"a ##b\",\"ab ##c</w>\"]}",
                 WS_PRE "\"decoder\":{\"type\":\"BPEDecoder\",\"suffix\":\"</w>\"},"),
             NULL);
    IDS(t, "abc", 1, 4);
    IDS(t, "ab", 1, 0);
    lm_tokenizer_free(t);

    /* ignore_merges: a word that is itself a token is taken whole */
    const char *im = "{\"type\":\"BPE\",\"ignore_merges\":%s,\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"abc\":3,\"ab\":4},\"merges\":[\"a b\"]}";
    char buf[512], model[256];
    snprintf(model, sizeof model, im, "true");
    snprintf(buf, sizeof buf, TOK("%s", WS_PRE), model);
    t = make(buf, NULL);
    IDS(t, "abc", 1, 3);
    lm_tokenizer_free(t);
    snprintf(model, sizeof model, im, "false");
    snprintf(buf, sizeof buf, TOK("%s", WS_PRE), model);
    t = make(buf, NULL);
    IDS(t, "abc", 1, 4, 2);
    lm_tokenizer_free(t);

    /* BPEDecoder: the suffix becomes a space, except on the last token */
    t = make(TOK("{\"type\":\"BPE\",\"vocab\":{\"hel\":0,\"lo</w>\":1,\"wor\":2,\"ld</w>\":3},\"merges\":[]}",
                 "\"decoder\":{\"type\":\"BPEDecoder\",\"suffix\":\"</w>\"},"), NULL);
    DEC(t, 0, "hello world", 0, 1, 2, 3);
    lm_tokenizer_free(t);
}

static void test_wordpiece(void) {
    const char *json =
        "{\"version\":\"1.0\",\"added_tokens\":["
        "{\"id\":0,\"content\":\"[UNK]\",\"special\":true,\"normalized\":false},"
        "{\"id\":1,\"content\":\"[CLS]\",\"special\":true,\"normalized\":false},"
        "{\"id\":2,\"content\":\"[SEP]\",\"special\":true,\"normalized\":false}],"
        "\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,\"strip_accents\":null,\"lowercase\":true},"
        "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
        "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
        "{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_id\":0}}],\"pair\":[],"
        "\"special_tokens\":{\"[CLS]\":{\"id\":\"[CLS]\",\"ids\":[1],\"tokens\":[\"[CLS]\"]},\"[SEP]\":{\"id\":\"[SEP]\",\"ids\":[2],\"tokens\":[\"[SEP]\"]}}},"
        "\"decoder\":{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":true},"
        "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":100,"
        "\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"hello\":3,\"world\":4,\"##s\":5,\"un\":6,\"##aff\":7,\"##able\":8,\",\":9}}}";
    lm_tokenizer *t = make(json, NULL);
    /* lowercased; "unaffable" = un ##aff ##able (greedy longest); "worlds" = world ##s;
     * "xyz" has no decomposition -> [UNK]; template adds [CLS] ... [SEP] */
    IDS(t, "Hello, UNAFFABLE worlds xyz", 1, 1, 3, 9, 6, 7, 8, 4, 5, 0, 2);
    IDS(t, "Hello, UNAFFABLE worlds xyz", 0, 3, 9, 6, 7, 8, 4, 5, 0);
    /* WordPiece decoder: "##" glues, others get a space; cleanup turns " ," into "," */
    DEC(t, 1, "hello, unaffable worlds", 1, 3, 9, 6, 7, 8, 4, 5, 0, 2);
    DEC(t, 0, "[CLS] hello, unaffable worlds [UNK] [SEP]", 1, 3, 9, 6, 7, 8, 4, 5, 0, 2);
    lm_tokenizer_free(t);
}

static void test_unigram(void) {
    const char *json =
        "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":7,\"content\":\"<x>\",\"special\":false,\"normalized\":false}],"
        "\"normalizer\":null,"
        "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"%s\",\"split\":true},"
        "\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"%s\",\"split\":true},"
        "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"\xE2\x96\x81\",-1],[\"a\",-2],[\"b\",-2],[\"ab\",-1],"
        "[\"\xE2\x96\x81" "ab\",-1.5],[\"c\",-3]]}}";
    char buf[2048];
    snprintf(buf, sizeof buf, json, "always", "always");
    lm_tokenizer *t = make(buf, NULL);
    /* "▁ab" whole (-1.5) beats "▁"+"ab" (-2) and "▁"+"a"+"b" (-5) */
    IDS(t, "ab ab", 1, 5, 5);
    IDS(t, "abc", 1, 5, 6);
    /* "x" has no piece: unknown (score min - 10); consecutive unknowns fuse into one */
    IDS(t, "ax", 1, 1, 2, 0);
    IDS(t, "axx", 1, 1, 2, 0);
    /* Metaspace decoder: the first token loses its leading ▁, later ones become spaces */
    DEC(t, 0, "abc", 5, 6);
    DEC(t, 0, "ab ab", 5, 5);
    /* prepend "always": the piece after an added token also gets ▁ */
    IDS(t, "ab<x>ab", 1, 5, 7, 5);
    lm_tokenizer_free(t);
    /* prepend "first": only the piece at the start of the input */
    snprintf(buf, sizeof buf, json, "first", "first");
    t = make(buf, NULL);
    IDS(t, "ab<x>ab", 1, 5, 7, 4);
    lm_tokenizer_free(t);
    /* "never": no ▁ at all, and the decoder keeps every ▁ as a space */
    snprintf(buf, sizeof buf, json, "never", "never");
    t = make(buf, NULL);
    IDS(t, "ab", 1, 4);
    DEC(t, 0, " ab", 5);
    lm_tokenizer_free(t);
}

/* ---- added tokens, post-processors, config ---------------------------------- */
static const char *ADDED_JSON =
    "{\"version\":\"1.0\",\"added_tokens\":["
    "{\"id\":10,\"content\":\"[X]\",\"special\":true,\"normalized\":false},"
    "{\"id\":11,\"content\":\"[X][Y]\",\"special\":true,\"normalized\":false},"
    "{\"id\":12,\"content\":\"<L>\",\"lstrip\":true,\"special\":false,\"normalized\":false},"
    "{\"id\":13,\"content\":\"<R>\",\"rstrip\":true,\"special\":false,\"normalized\":false},"
    "{\"id\":14,\"content\":\"ab\",\"single_word\":true,\"special\":false,\"normalized\":false},"
    "{\"id\":15,\"content\":\"Hi\",\"special\":false,\"normalized\":true},"
    "{\"id\":16,\"content\":\"Yo\",\"special\":false,\"normalized\":false},"
    "{\"id\":17,\"content\":\"<N>\",\"special\":false,\"normalized\":false},"
    "{\"id\":18,\"content\":\"<pad1>\",\"special\":false,\"normalized\":false},"
    "{\"id\":19,\"content\":\"<pad2>\",\"special\":false,\"normalized\":false},"
    "{\"id\":20,\"content\":\"<s>\",\"special\":true,\"normalized\":false},"
    "{\"id\":21,\"content\":\"</s>\",\"special\":true,\"normalized\":false}],"
    "\"normalizer\":{\"type\":\"Lowercase\"},"
    "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"Isolated\",\"invert\":false},"
    "\"post_processor\":%s,"
    "\"decoder\":null,"
    "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"hello\":1,\"world\":2,\",\":3,\"yo\":4,\" \":5,"
    "\"v6\":6,\"v7\":7,\"v8\":8,\"v9\":9}}}";

static void test_added_tokens(void) {
    char buf[4096];
    snprintf(buf, sizeof buf, ADDED_JSON, "null");
    lm_tokenizer *t = make(buf, NULL);
    IDS(t, "[X][Y][X]", 1, 11, 10);               /* leftmost-longest */
    IDS(t, "hello <L>world", 1, 1, 12, 2);        /* lstrip swallows the space before */
    IDS(t, "hello <N>world", 1, 1, 5, 17, 2);     /* without lstrip the space stays */
    IDS(t, "<R> world", 1, 13, 2);                /* rstrip swallows the space after */
    IDS(t, "ab abc", 1, 14, 5, 0);                /* single_word: "ab" inside "abc" is not the token */
    IDS(t, "HI world", 1, 15, 5, 2);              /* normalized token matches after lowercasing */
    IDS(t, "Yo yo", 1, 16, 5, 4);                 /* non-normalized token matches the raw text only */
    IDS(t, "HELLO", 1, 1);
    NO_IDS(t, "", 1);
    /* decode without a decoder joins tokens with spaces; skip drops special ones */
    DEC(t, 0, "[X] hello", 10, 1);
    DEC(t, 1, "hello", 10, 1, 21);
    CHECK(lm_tokenizer_token_to_id(t, "[X][Y]") == 11);
    CHECK(lm_tokenizer_token_to_id(t, "world") == 2);
    CHECK(lm_tokenizer_token_to_id(t, "nope") == -1);
    CHECK(lm_tokenizer_id_to_token(t, 16) && !strcmp(lm_tokenizer_id_to_token(t, 16), "Yo"));
    CHECK(lm_tokenizer_id_to_token(t, 30) == NULL);
    CHECK(lm_tokenizer_vocab_size(t) == 22);
    CHECK(lm_tokenizer_is_special(t, 10) && !lm_tokenizer_is_special(t, 12));
    /* invalid UTF-8 is an error, not garbage ids */
    int32_t *ids;
    size_t n;
    CHECK(lm_tokenizer_encode(t, "a\xFF", 2, 1, &ids, &n) == -1);
    CHECK(strstr(mx_last_error(), "UTF-8") != NULL);
    lm_tokenizer_free(t);

    /* post-processors */
    snprintf(buf, sizeof buf, ADDED_JSON,
             "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
             "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],\"pair\":[],"
             "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[20],\"tokens\":[\"<s>\"]},\"</s>\":{\"id\":\"</s>\",\"ids\":[21],\"tokens\":[\"</s>\"]}}}");
    t = make(buf, NULL);
    IDS(t, "hello", 1, 20, 1, 21);
    IDS(t, "hello", 0, 1);
    IDS(t, "", 1, 20, 21);
    lm_tokenizer_free(t);
    snprintf(buf, sizeof buf, ADDED_JSON, "{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",21],\"cls\":[\"<s>\",20],\"trim_offsets\":true,\"add_prefix_space\":true}");
    t = make(buf, NULL);
    IDS(t, "hello world", 1, 20, 1, 5, 2, 21);
    lm_tokenizer_free(t);
    snprintf(buf, sizeof buf, ADDED_JSON, "{\"type\":\"BertProcessing\",\"sep\":[\"</s>\",21],\"cls\":[\"<s>\",20]}");
    t = make(buf, NULL);
    IDS(t, "world", 1, 20, 2, 21);
    lm_tokenizer_free(t);
    snprintf(buf, sizeof buf, ADDED_JSON,
             "{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false,\"use_regex\":false},"
             "{\"type\":\"BertProcessing\",\"sep\":[\"</s>\",21],\"cls\":[\"<s>\",20]}]}");
    t = make(buf, NULL);
    IDS(t, "world", 1, 20, 2, 21);
    lm_tokenizer_free(t);

    /* tokenizer_config.json: a Llama-style class rebuilds the post-processor from
     * add_bos_token / add_eos_token; tokens given as AddedToken objects; cleanup of
     * spaces on decode; generation_config eos list */
    snprintf(buf, sizeof buf, ADDED_JSON, "null");
    t = make(buf, "{\"tokenizer_class\":\"LlamaTokenizerFast\",\"add_bos_token\":true,\"add_eos_token\":true,"
                  "\"bos_token\":{\"__type\":\"AddedToken\",\"content\":\"<s>\",\"lstrip\":false},\"eos_token\":\"</s>\","
                  "\"pad_token\":null,\"unk_token\":\"[UNK]\",\"model_max_length\":1000000000000000019884624838656,"
                  "\"clean_up_tokenization_spaces\":true,\"chat_template\":\"{{ bos_token }}\"}");
    IDS(t, "hello", 1, 20, 1, 21);
    IDS(t, "hello", 0, 1);
    CHECK(lm_tokenizer_bos_id(t) == 20 && lm_tokenizer_eos_id(t) == 21 && lm_tokenizer_pad_id(t) == -1 && lm_tokenizer_unk_id(t) == 0);
    CHECK(lm_tokenizer_special_token(t, "bos_token") && !strcmp(lm_tokenizer_special_token(t, "bos_token"), "<s>"));
    CHECK(lm_tokenizer_special_token(t, "pad_token") == NULL);
    CHECK(lm_tokenizer_chat_template(t) && !strcmp(lm_tokenizer_chat_template(t), "{{ bos_token }}"));
    DEC(t, 0, "hello, world", 1, 3, 2); /* joined by spaces: "hello , world", then " ," cleaned */
    lm_tokenizer_free(t);
    /* Llama-style default: BOS on even without add_bos_token */
    t = make(buf, "{\"tokenizer_class\":\"LlamaTokenizer\",\"bos_token\":\"<s>\",\"eos_token\":\"</s>\"}");
    IDS(t, "hello", 1, 20, 1);
    lm_tokenizer_free(t);
    /* another class with add_bos_token false keeps tokenizer.json's (absent) post-processor */
    write_file("generation_config.json", "{\"eos_token_id\":[21,10],\"bos_token_id\":20}");
    write_file("tokenizer.json", buf);
    write_file("tokenizer_config.json", "{\"tokenizer_class\":\"Qwen2Tokenizer\",\"add_bos_token\":false,\"eos_token\":\"</s>\"}");
    t = lm_tokenizer_load(tmpdir);
    CHECK(t != NULL);
    IDS(t, "hello", 1, 1);
    size_t ne = 0;
    const int32_t *eos = lm_tokenizer_eos_ids(t, &ne);
    CHECK(ne == 2 && eos[0] == 21 && eos[1] == 10);
    CHECK(lm_tokenizer_bos_id(t) == 20);
    lm_tokenizer_free(t);
}

static void test_decoders(void) {
    /* Replace + Strip, and ByteLevel on a vocabulary in GPT-2 characters */
    lm_tokenizer *t = make(TOK("{\"type\":\"WordLevel\",\"unk_token\":\"u\",\"vocab\":{\"u\":0,\"\xE2\x96\x81hi\":1,\"\xE2\x96\x81there\":2,\"__\":3}}",
                               "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\xE2\x96\x81\"},\"content\":\" \"},"
                               "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"_+\"},\"content\":\"!\"},"
                               "{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":1}]},"),
                           NULL);
    DEC(t, 0, "hi there!", 1, 2, 3);
    DEC(t, 0, "hi there", 1, 2);
    lm_tokenizer_free(t);
    /* ByteLevel: Ġ is a space, bytes of an incomplete character become U+FFFD;
     * a token with characters outside the byte table passes through as-is */
    t = make(TOK("{\"type\":\"WordLevel\",\"unk_token\":\"u\",\"vocab\":{\"u\":0,\"\xC4\xA0hi\":1,\"\xC3\xA3\":2,\"\xC4\xA3\":3,\"a b\":4}}",
                 "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"),
             NULL);
    DEC(t, 0, " hi\xEF\xBF\xBD", 1, 2);         /* 0xE3 alone: incomplete -> U+FFFD */
    DEC(t, 0, "\xEF\xBF\xBD\xEF\xBF\xBD", 3, 3); /* "ģ" is byte 0x81: two lone continuation bytes, two U+FFFD */
    DEC(t, 0, "a b hi", 4, 1);
    lm_tokenizer_free(t);
}

/* ---- errors ------------------------------------------------------------------ */
static void load_fails(const char *json, const char *needle, int line) {
    write_file("tokenizer.json", json);
    lm_tokenizer *t = lm_tokenizer_load(tmpdir);
    const char *e = mx_last_error();
    test_check_msg(t == NULL && strstr(e, needle) && strstr(e, "tokenizer.json"), __FILE__, line,
                   "expected a load error containing '%s', got '%s'", needle, t ? "(loaded)" : e);
    lm_tokenizer_free(t);
}

static void test_errors(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/generation_config.json", tmpdir);
    unlink(path);
    load_fails("{\n  \"model\": {\"type\": \"BPE\",, }\n}", "line 2", __LINE__);
    load_fails("{\"normalizer\": null}", "missing object \"model\"", __LINE__);
    load_fails(TOK("{\"type\":\"Banana\",\"vocab\":{}}", ""), "unknown model type 'Banana'", __LINE__);
    load_fails(TOK("{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}", "\"pre_tokenizer\":{\"type\":\"Foo\"},"),
               "unknown pre-tokenizer type 'Foo'", __LINE__);
    load_fails(TOK("{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}", "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"kind\":1}]},"),
               "normalizer.normalizers[0]: missing string key \"type\"", __LINE__);
    load_fails(TOK("{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}", ""),
               "model.merges[0]: merged token 'ab' is not in the vocabulary", __LINE__);
    load_fails(TOK("{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a c\"]}", ""), "token 'c' is not in the vocabulary", __LINE__);
    load_fails("{\"model\": {\"type\": \"BPE\",\n\"vocab\": {\"a\": 0,\n \"b\": -1}, \"merges\": []}}", "model.vocab", __LINE__);
    load_fails("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b c\"]}}", "exactly one space", __LINE__);
    load_fails(TOK("{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}",
                   "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\",\"invert\":false},"),
               "invalid regex", __LINE__);
    load_fails(TOK("{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}", "\"decoder\":{\"type\":\"Nope\"},"),
               "unknown decoder type 'Nope'", __LINE__);
    /* a missing directory or file is named */
    lm_tokenizer *t = lm_tokenizer_load("/nonexistent/dir");
    CHECK(t == NULL && strstr(mx_last_error(), "/nonexistent/dir"));
    /* a malformed tokenizer_config.json is named too */
    write_file("tokenizer.json", TOK("{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}", ""));
    write_file("tokenizer_config.json", "{\"bos_token\": }");
    t = lm_tokenizer_load(tmpdir);
    CHECK(t == NULL && strstr(mx_last_error(), "tokenizer_config.json") && strstr(mx_last_error(), "line 1"));
    snprintf(path, sizeof path, "%s/tokenizer_config.json", tmpdir);
    unlink(path);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cmlx_tok_test_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_normalizers();
    test_pretokenizers();
    test_bpe();
    test_wordpiece();
    test_unigram();
    test_added_tokens();
    test_decoders();
    test_errors();
    const char *names[] = {"tokenizer.json", "tokenizer_config.json", "generation_config.json"};
    for (size_t i = 0; i < 3; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    return test_finish();
}
