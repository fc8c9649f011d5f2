/* Chat-template conformance: renders every case of a golden JSONL file (computed by Python
 * Jinja2 as transformers configures it) with a tokenizer directory's template and compares
 * byte for byte. Error cases ({..., "error", "error_type"}) pass only when cmlx raises.
 *
 *   chat_conformance TOKENIZER_DIR CASES.jsonl
 *
 * Prints one line per failing case and ends with "N passed, M failed" (exit 1 if M > 0). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "cmlx/lm_template.h"

/* The clock the golden files were rendered with. */
#define GOLDEN_NOW "2025-06-15T12:00:00"

static void excerpt(const char *s, size_t len, size_t at, char *out, size_t cap) {
    size_t from = at > 20 ? at - 20 : 0, k = 0;
    for (size_t i = from; i < len && i < at + 40 && k + 5 < cap; i++) {
        char c = s[i];
        if (c == '\n') { out[k++] = '\\'; out[k++] = 'n'; }
        else if (c == '\t') { out[k++] = '\\'; out[k++] = 't'; }
        else out[k++] = c;
    }
    out[k] = 0;
}

static char *dump_or_null(json_t *v) {
    if (!v || json_is_null(v)) return NULL;
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s TOKENIZER_DIR CASES.jsonl\n", argv[0]);
        return 2;
    }
    lm_chat_template *t = lm_chat_template_load(argv[1]);
    if (!t) {
        fprintf(stderr, "cannot load chat template from %s: %s\n", argv[1], mx_last_error());
        printf("0 passed, 1 failed\n");
        return 1;
    }
    if (lm_chat_template_set_clock(t, GOLDEN_NOW) != 0) {
        fprintf(stderr, "%s\n", mx_last_error());
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        lm_chat_template_free(t);
        return 2;
    }
    int passed = 0, failed = 0, lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (n <= 1) continue;
        json_error_t err;
        json_t *c = json_loads(line, JSON_ALLOW_NUL, &err);
        if (!c) {
            printf("line %d: invalid JSON: %s\n", lineno, err.text);
            failed++;
            continue;
        }
        const char *id = json_string_value(json_object_get(c, "id"));
        if (!id) id = "?";
        char *messages = dump_or_null(json_object_get(c, "messages"));
        char *tools = dump_or_null(json_object_get(c, "tools"));
        char *kwargs = dump_or_null(json_object_get(c, "kwargs"));
        int agp = json_is_true(json_object_get(c, "add_generation_prompt"));
        json_t *want = json_object_get(c, "rendered");
        json_t *want_err = json_object_get(c, "error");
        char *got = lm_chat_template_apply(t, messages ? messages : "[]", tools, agp, kwargs);
        if (want_err) {
            if (got) {
                printf("FAIL %s: Jinja2 raised %s (%s) but cmlx rendered %zu bytes\n", id,
                       json_string_value(json_object_get(c, "error_type")), json_string_value(want_err), strlen(got));
                failed++;
            } else {
                passed++;
            }
        } else if (!got) {
            printf("FAIL %s: cmlx raised: %s\n", id, mx_last_error());
            failed++;
        } else {
            const char *w = json_string_value(want);
            size_t wl = json_string_length(want), gl = strlen(got);
            if (w && wl == gl && memcmp(w, got, gl) == 0) {
                passed++;
            } else {
                size_t at = 0;
                while (w && at < wl && at < gl && w[at] == got[at]) at++;
                char e1[128], e2[128];
                excerpt(w ? w : "", w ? wl : 0, at, e1, sizeof e1);
                excerpt(got, gl, at, e2, sizeof e2);
                printf("FAIL %s: output differs at byte %zu (expected %zu bytes, got %zu)\n  expected: ...%s...\n  got:      ...%s...\n",
                       id, at, wl, gl, e1, e2);
                failed++;
            }
        }
        free(got);
        free(messages);
        free(tools);
        free(kwargs);
        json_decref(c);
    }
    free(line);
    fclose(f);
    lm_chat_template_free(t);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
