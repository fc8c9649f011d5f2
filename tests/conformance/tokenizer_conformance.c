/* tokenizer_conformance TOKENIZER_DIR CASES.jsonl
 *
 * Checks cmlx's tokenizer against golden cases computed by Hugging Face
 * `tokenizers` + transformers. Two kinds of case files, told apart by their keys:
 *   {id, text, ids, ids_no_special, decoded, decoded_skip}
 *   {id, text, ids, prefix_decodes, segments, final}      (streaming detokenizer)
 * A case with an "error" key passes only when cmlx reports an error too.
 * Prints one line per failing check and ends with "N passed, M failed". */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "cmlx/lm_tokenizer.h"

static int failed_checks;
static const char *case_id;

static void fail(const char *field, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s: %s: ", case_id, field);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failed_checks++;
}

static void check_ids(const char *field, const json_t *want, const int32_t *got, size_t n) {
    size_t wn = json_array_size(want);
    for (size_t i = 0; i < wn || i < n; i++) {
        long long w = i < wn ? (long long)json_integer_value(json_array_get(want, i)) : -1;
        long long g = i < n ? got[i] : -1;
        if (i >= wn || i >= n || w != g) {
            fail(field, "first difference at position %zu: expected %lld, got %lld (lengths %zu vs %zu)", i,
                 i < wn ? w : -1, i < n ? g : -1, wn, n);
            return;
        }
    }
}

static void check_text(const char *field, const char *want, size_t wn, const char *got, size_t gn) {
    if (wn == gn && !memcmp(want, got, wn)) return;
    size_t i = 0;
    while (i < wn && i < gn && want[i] == got[i]) i++;
    fail(field, "first difference at byte %zu: expected \"%.*s\", got \"%.*s\"", i, (int)(wn - i < 40 ? wn - i : 40),
         want + i, (int)(gn - i < 40 ? gn - i : 40), got + i);
}

static int32_t *ids_of(const json_t *arr, size_t *n) {
    *n = json_array_size(arr);
    int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < *n; i++) v[i] = (int32_t)json_integer_value(json_array_get(arr, i));
    return v;
}

/* JSON from Python may hold lone UTF-16 surrogates (\udXXX), which jansson rejects.
 * Such text cannot be UTF-8; it is replaced by the invalid bytes ED A0 80 so that the
 * case (which must expect an error) reaches the tokenizer. */
static const char MARK[] = "\\uDBFF\\uDFFF\\uDBFF\\uDFFE";
static const char MARK_UTF8[] = "\xF4\x8F\xBF\xBF\xF4\x8F\xBF\xBE";

static char *rewrite_surrogates(const char *line) {
    size_t n = strlen(line);
    char *out = malloc(n * 4 + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\\') {
            out[k++] = line[i++];
            out[k++] = line[i++];
            continue;
        }
        if (line[i] == '\\' && i + 5 < n && line[i + 1] == 'u' && (line[i + 2] == 'd' || line[i + 2] == 'D')) {
            unsigned v = (unsigned)strtoul((char[]){line[i + 2], line[i + 3], line[i + 4], line[i + 5], 0}, NULL, 16);
            int paired = 0;
            if (v >= 0xD800 && v <= 0xDBFF && i + 11 < n && line[i + 6] == '\\' && line[i + 7] == 'u') {
                unsigned lo = (unsigned)strtoul((char[]){line[i + 8], line[i + 9], line[i + 10], line[i + 11], 0}, NULL, 16);
                paired = lo >= 0xDC00 && lo <= 0xDFFF;
                if (paired) {
                    memcpy(out + k, line + i, 12);
                    k += 12;
                    i += 12;
                    continue;
                }
            }
            if (v >= 0xD800 && v <= 0xDFFF) {
                memcpy(out + k, MARK, strlen(MARK));
                k += strlen(MARK);
                i += 6;
                continue;
            }
        }
        out[k++] = line[i++];
    }
    out[k] = '\0';
    return out;
}

/* text with the marks turned into invalid UTF-8 */
static char *case_text(const json_t *c, size_t *len) {
    const json_t *t = json_object_get(c, "text");
    if (!json_is_string(t)) return NULL;
    const char *s = json_string_value(t);
    size_t n = json_string_length(t);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (i + 8 <= n && !memcmp(s + i, MARK_UTF8, 8)) {
            memcpy(out + k, "\xED\xA0\x80", 3);
            k += 3;
            i += 8;
        } else out[k++] = s[i++];
    }
    out[k] = '\0';
    *len = k;
    return out;
}

static void run_error_case(const lm_tokenizer *tok, const json_t *c) {
    size_t len;
    char *text = case_text(c, &len);
    int got_error = 0;
    if (text) {
        int32_t *ids;
        size_t n;
        got_error = lm_tokenizer_encode(tok, text, len, 1, &ids, &n) != 0;
        if (!got_error) free(ids);
    } else if (json_is_array(json_object_get(c, "ids"))) {
        size_t n;
        int32_t *ids = ids_of(json_object_get(c, "ids"), &n);
        char *s = ids ? lm_tokenizer_decode(tok, ids, n, 0) : NULL;
        got_error = s == NULL;
        free(s);
        free(ids);
    }
    if (!got_error) fail("error", "expected an error (%s), cmlx succeeded", json_string_value(json_object_get(c, "error_type")) ? json_string_value(json_object_get(c, "error_type")) : "any");
    free(text);
}

static void run_plain_case(const lm_tokenizer *tok, const json_t *c) {
    size_t len;
    char *text = case_text(c, &len);
    if (!text) {
        fail("text", "missing");
        return;
    }
    int32_t *ids;
    size_t n;
    const char *keys[2] = {"ids", "ids_no_special"};
    for (int k = 0; k < 2; k++) {
        const json_t *want = json_object_get(c, keys[k]);
        if (!want) continue;
        if (lm_tokenizer_encode(tok, text, len, k == 0, &ids, &n)) {
            fail(keys[k], "encode failed: %s", mx_last_error());
            continue;
        }
        check_ids(keys[k], want, ids, n);
        free(ids);
    }
    const char *dkeys[2] = {"decoded", "decoded_skip"};
    size_t gn;
    int32_t *gids = ids_of(json_object_get(c, "ids"), &gn);
    for (int k = 0; k < 2 && gids; k++) {
        const json_t *want = json_object_get(c, dkeys[k]);
        if (!json_is_string(want)) continue;
        size_t sl;
        char *s = lm_tokenizer_decode_len(tok, gids, gn, k == 1, &sl);
        if (!s) fail(dkeys[k], "decode failed: %s", mx_last_error());
        else check_text(dkeys[k], json_string_value(want), json_string_length(want), s, sl);
        free(s);
    }
    free(gids);
    free(text);
}

static void run_stream_case(const lm_tokenizer *tok, const json_t *c) {
    size_t len;
    char *text = case_text(c, &len);
    if (text) {
        int32_t *ids;
        size_t n;
        if (lm_tokenizer_encode(tok, text, len, 0, &ids, &n)) fail("ids", "encode failed: %s", mx_last_error());
        else {
            check_ids("ids", json_object_get(c, "ids"), ids, n);
            free(ids);
        }
    }
    size_t n;
    int32_t *ids = ids_of(json_object_get(c, "ids"), &n);
    const json_t *pd = json_object_get(c, "prefix_decodes"), *seg = json_object_get(c, "segments");
    char field[64];
    for (size_t k = 0; k < json_array_size(pd) && k < n; k++) {
        size_t sl;
        char *s = lm_tokenizer_decode_len(tok, ids, k + 1, 0, &sl);
        snprintf(field, sizeof field, "prefix_decodes[%zu]", k);
        if (!s) fail(field, "decode failed: %s", mx_last_error());
        else check_text(field, json_string_value(json_array_get(pd, k)), json_string_length(json_array_get(pd, k)), s, sl);
        free(s);
    }
    lm_detokenizer *d = lm_detokenizer_new(tok, 0);
    size_t cap = 1024, total = 0;
    char *all = malloc(cap);
    for (size_t k = 0; d && all && k < n; k++) {
        size_t sl;
        const char *s = lm_detokenizer_add_len(d, ids[k], &sl);
        snprintf(field, sizeof field, "segments[%zu]", k);
        if (!s) {
            fail(field, "detokenizer failed: %s", mx_last_error());
            break;
        }
        const json_t *w = json_array_get(seg, k);
        if (json_is_string(w)) check_text(field, json_string_value(w), json_string_length(w), s, sl);
        while (total + sl + 1 > cap) cap *= 2, all = realloc(all, cap);
        if (!all) break;
        memcpy(all + total, s, sl);
        total += sl;
    }
    if (d && all) {
        size_t sl = 0;
        const char *s = lm_detokenizer_finish_len(d, &sl);
        while (total + sl + 1 > cap) cap *= 2, all = realloc(all, cap);
        if (all && s) {
            memcpy(all + total, s, sl);
            total += sl;
        }
        const json_t *fin = json_object_get(c, "final");
        if (all && json_is_string(fin)) check_text("segments joined vs final", json_string_value(fin), json_string_length(fin), all, total);
        size_t fl;
        char *full = lm_tokenizer_decode_len(tok, ids, n, 0, &fl);
        if (full && json_is_string(fin)) check_text("final", json_string_value(fin), json_string_length(fin), full, fl);
        free(full);
    }
    free(all);
    lm_detokenizer_free(d);
    free(ids);
    free(text);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: tokenizer_conformance TOKENIZER_DIR CASES.jsonl\n");
        return 2;
    }
    lm_tokenizer *tok = lm_tokenizer_load(argv[1]);
    if (!tok) {
        printf("cannot load the tokenizer: %s\n0 passed, 1 failed\n", mx_last_error());
        return 1;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        printf("cannot open %s\n0 passed, 1 failed\n", argv[2]);
        lm_tokenizer_free(tok);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t r;
    int passed = 0, failed = 0, lineno = 0;
    char idbuf[64];
    while ((r = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)r) continue;
        json_error_t err;
        json_t *c = json_loads(line, JSON_ALLOW_NUL, &err);
        if (!c) {
            char *fixed = rewrite_surrogates(line);
            c = fixed ? json_loads(fixed, JSON_ALLOW_NUL, &err) : NULL;
            free(fixed);
        }
        if (!c) {
            printf("FAIL line %d: invalid JSON: %s\n", lineno, err.text);
            failed++;
            continue;
        }
        const char *id = json_string_value(json_object_get(c, "id"));
        if (!id) {
            snprintf(idbuf, sizeof idbuf, "line %d", lineno);
            id = idbuf;
        }
        case_id = id;
        failed_checks = 0;
        if (json_object_get(c, "error") || json_object_get(c, "error_type")) run_error_case(tok, c);
        else if (json_object_get(c, "segments") || json_object_get(c, "prefix_decodes")) run_stream_case(tok, c);
        else run_plain_case(tok, c);
        if (failed_checks) failed++;
        else passed++;
        json_decref(c);
    }
    free(line);
    fclose(f);
    lm_tokenizer_free(tok);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
