/* Tokenizers of real models: stories260K's ids against llama2.c's (reference JSON),
 * the shared tokenizers' accessors, round trips, and the streaming detokenizer's
 * contract (never a broken UTF-8 sequence; segments joined == decode of all ids)
 * on long and random id sequences. The golden cases themselves run in the
 * tokenizer_conformance tests. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "cmlx/lm_tokenizer.h"
#include "lm/tokenizer/tok_internal.h"
#include "test.h"

static void test_stories(const char *shared) {
    char dir[1024], ref[1024];
    snprintf(dir, sizeof dir, "%s/models/stories260K", shared);
    snprintf(ref, sizeof ref, "%s/reference/stories260K.json", shared);
    lm_tokenizer *t = lm_tokenizer_load(dir);
    CHECK_MSG(t != NULL, "stories260K: %s", mx_last_error());
    json_error_t e;
    json_t *j = json_load_file(ref, 0, &e);
    CHECK_MSG(j != NULL, "%s: %s", ref, e.text);
    const json_t *cases = json_object_get(j, "tokenizer_cases");
    CHECK(json_array_size(cases) == 10);
    for (size_t i = 0; t && i < json_array_size(cases); i++) {
        const json_t *c = json_array_get(cases, i);
        const char *text = json_string_value(json_object_get(c, "text"));
        const json_t *want = json_object_get(c, "ids");
        int32_t *ids;
        size_t n;
        if (!CHECK(lm_tokenizer_encode(t, text, strlen(text), 1, &ids, &n) == 0)) continue;
        int ok = n == json_array_size(want);
        for (size_t k = 0; ok && k < n; k++) ok = ids[k] == json_integer_value(json_array_get(want, k));
        CHECK_MSG(ok, "stories260K case %zu '%s': ids differ", i, text);
        /* decode(skip special) gives the text back for these SentencePiece cases */
        char *back = lm_tokenizer_decode(t, ids, n, 1);
        CHECK_MSG(back && !strcmp(back, text), "stories260K case %zu: decode gave '%s'", i, back ? back : "(null)");
        free(back);
        free(ids);
    }
    /* greedy reference text = decode(prompt ids + greedy ids) without BOS */
    const json_t *gc = json_object_get(j, "cases");
    for (size_t i = 0; t && i < json_array_size(gc); i++) {
        const json_t *c = json_array_get(gc, i);
        const json_t *p = json_object_get(c, "prompt_ids"), *g = json_object_get(c, "greedy_ids");
        size_t n = json_array_size(p) + json_array_size(g), k = 0;
        int32_t *ids = malloc(n * sizeof *ids);
        for (size_t a = 0; a < json_array_size(p); a++) ids[k++] = (int32_t)json_integer_value(json_array_get(p, a));
        for (size_t a = 0; a < json_array_size(g); a++) ids[k++] = (int32_t)json_integer_value(json_array_get(g, a));
        char *s = lm_tokenizer_decode(t, ids, n, 1);
        const char *want = json_string_value(json_object_get(c, "text"));
        CHECK_MSG(s && want && !strcmp(s, want), "stories260K greedy case %zu: decode '%s'", i, s ? s : "(null)");
        free(s);
        free(ids);
    }
    CHECK(lm_tokenizer_bos_id(t) == 1 && lm_tokenizer_eos_id(t) == 2);
    CHECK(lm_tokenizer_vocab_size(t) == 512);
    json_decref(j);
    lm_tokenizer_free(t);
}

/* Streams ids through a detokenizer: each segment must be valid UTF-8 and the
 * joined segments must equal decode(ids). */
static int stream_matches(const lm_tokenizer *t, const int32_t *ids, size_t n, const char *what) {
    lm_detokenizer *d = lm_detokenizer_new(t, 0);
    strbuf all = STRBUF_INIT;
    int ok = d != NULL;
    size_t len;
    for (size_t i = 0; ok && i < n; i++) {
        const char *s = lm_detokenizer_add_len(d, ids[i], &len);
        if (!s || tok_utf8_invalid_at(s, len) != (size_t)-1) {
            CHECK_MSG(0, "%s: segment %zu is %s", what, i, s ? "broken UTF-8" : mx_last_error());
            ok = 0;
        } else strbuf_append(&all, s, len);
    }
    const char *tail = ok ? lm_detokenizer_finish_len(d, &len) : NULL;
    if (tail) strbuf_append(&all, tail, len);
    size_t fl = 0;
    char *full = lm_tokenizer_decode_len(t, ids, n, 0, &fl);
    if (ok) ok = CHECK_MSG(full && fl == all.len && !memcmp(full, all.data ? all.data : "", fl), "%s: joined segments differ from decode", what);
    free(full);
    strbuf_free(&all);
    lm_detokenizer_free(d);
    return ok;
}

static const char *TEXT =
    "Once upon a time, in a village by the sea, there lived a girl named Lily. \xF0\x9F\x98\x80 "
    "Elle aimait les cr\xC3\xAApes \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88, "
    "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4, \xD8\xA7\xD9\x84\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9 and code: for (int i = 0; i < n; i++) { x += i; }\n\n"
    "Flags \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7 family \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 done.";

static void test_shared(const char *shared) {
    static const char *names[] = {"qwen3", "deepseek-v3", "gpt-oss", "mistral-7b-v0.1"};
    for (size_t k = 0; k < 4; k++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/tokenizers/%s", shared, names[k]);
        lm_tokenizer *t = lm_tokenizer_load(dir);
        if (!CHECK_MSG(t != NULL, "%s: %s", names[k], mx_last_error())) continue;
        int32_t *ids;
        size_t n;
        /* round trip and the streaming contract on a long mixed text (window restarts) */
        strbuf big = STRBUF_INIT;
        for (int r = 0; r < 20; r++) strbuf_puts(&big, TEXT);
        CHECK(lm_tokenizer_encode(t, big.data, big.len, 0, &ids, &n) == 0);
        char *back = lm_tokenizer_decode(t, ids, n, 0);
        CHECK_MSG(back && !strcmp(back, big.data), "%s: decode(encode(text)) != text", names[k]);
        stream_matches(t, ids, n, names[k]);
        free(back);
        free(ids);
        strbuf_free(&big);
        /* random ids over byte-level vocabularies: arbitrary byte sequences */
        if (k < 3) {
            unsigned seed = 12345u + (unsigned)k;
            int32_t r[400];
            for (int rep = 0; rep < 20; rep++) {
                for (int i = 0; i < 400; i++) {
                    seed = seed * 1103515245u + 12345u;
                    r[i] = (int32_t)((seed >> 8) % 5000);
                }
                char what[64];
                snprintf(what, sizeof what, "%s random ids #%d", names[k], rep);
                stream_matches(t, r, 400, what);
            }
        }
        lm_tokenizer_free(t);
    }
    /* accessors on the shared files */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tokenizers/qwen3", shared);
    lm_tokenizer *q = lm_tokenizer_load(dir);
    if (CHECK(q != NULL)) {
        CHECK(lm_tokenizer_bos_id(q) == -1 && lm_tokenizer_special_token(q, "bos_token") == NULL);
        CHECK(lm_tokenizer_eos_id(q) == 151645 && lm_tokenizer_pad_id(q) == 151643);
        CHECK(!strcmp(lm_tokenizer_special_token(q, "eos_token"), "<|im_end|>"));
        CHECK(lm_tokenizer_token_to_id(q, "<think>") == 151667);
        CHECK(!strcmp(lm_tokenizer_id_to_token(q, 785), "The"));
        CHECK(lm_tokenizer_vocab_size(q) == 151669);
        CHECK(lm_tokenizer_chat_template(q) != NULL);
        CHECK(lm_tokenizer_is_special(q, 151644) && !lm_tokenizer_is_special(q, 151667));
        lm_tokenizer_free(q);
    }
    snprintf(dir, sizeof dir, "%s/tokenizers/gpt-oss", shared);
    lm_tokenizer *g = lm_tokenizer_load(dir);
    if (CHECK(g != NULL)) {
        const char *tpl = lm_tokenizer_chat_template(g);
        CHECK(tpl && strstr(tpl, "<|start|>")); /* from chat_template.jinja */
        CHECK(!strcmp(lm_tokenizer_special_token(g, "eos_token"), "<|return|>"));
        lm_tokenizer_free(g);
    }
    snprintf(dir, sizeof dir, "%s/tokenizers/deepseek-v3", shared);
    lm_tokenizer *d = lm_tokenizer_load(dir);
    if (CHECK(d != NULL)) {
        CHECK(lm_tokenizer_bos_id(d) == 0); /* bos_token given as an AddedToken object */
        CHECK(!strcmp(lm_tokenizer_special_token(d, "bos_token"), "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"));
        lm_tokenizer_free(d);
    }
}

int main(void) {
    const char *shared = test_shared_dir("tokenizer tests need ../shared (stories260K, tokenizers)");
    if (!shared) return test_finish();
    test_stories(shared);
    test_shared(shared);
    return test_finish();
}
