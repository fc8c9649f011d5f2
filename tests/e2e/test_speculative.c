/* End-to-end: the real `cmlx generate` binary with --draft-model (speculative decoding) and
 * the flags that stop generation, on stories260K (the one shared model with a tokenizer):
 * - greedy output with --draft-model (itself, --num-draft-tokens 1..4 and the default) is
 *   byte-identical to plain greedy output; --verbose prints the same framing and statistics
 *   lines as without a draft (mlx-lm prints nothing more for speculative decoding);
 * - --extra-eos-token stops before that token, with and without a draft;
 * - errors: a draft without a tokenizer, a missing draft, with a clear message and exit != 0.
 * usage: test_speculative CMLX_BINARY SHARED_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test.h"
#include "util/strbuf.h"

/* Runs a shell command (with a time limit), capturing stdout and stderr. Exit code. */
static int run(const char *cmd, strbuf *out) {
    char full[16384];
    snprintf(full, sizeof full, "timeout 120 %s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) strbuf_append(out, buf, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *gen(const char *bin, const char *model, const char *extra, int *rc) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' generate --model '%s' -p 'Once upon a time' -m 60 --temp 0 %s", bin, model, extra);
    strbuf out = STRBUF_INIT;
    *rc = run(cmd, &out);
    return out.data ? strbuf_detach(&out, NULL) : strdup("");
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_speculative CMLX_BINARY SHARED_DIR\n");
        return 2;
    }
    const char *bin = argv[1], *shared = argv[2];
    char model[4096], qwen[4096];
    snprintf(model, sizeof model, "%s/models/stories260K", shared);
    snprintf(qwen, sizeof qwen, "%s/models/qwen3-tiny", shared);
    struct stat st;
    if (stat(model, &st) != 0) {
        printf("SKIPPED: %s not found: no speculative end-to-end test\n", model);
        return 0;
    }
    int rc;
    char *plain = gen(bin, model, "--verbose false", &rc);
    CHECK_MSG(rc == 0 && !strncmp(plain, ", there was a little girl named Lily.", 37), "plain: exit %d [%s]", rc, plain);
    char extra[8192];
    for (int k = 0; k <= 4; k++) {
        if (k) snprintf(extra, sizeof extra, "--verbose false --draft-model '%s' --num-draft-tokens %d", model, k);
        else snprintf(extra, sizeof extra, "--verbose false --draft-model '%s'", model);
        char *s = gen(bin, model, extra, &rc);
        CHECK_MSG(rc == 0 && !strcmp(s, plain), "draft k=%d: exit %d\n  got:  [%s]\n  want: [%s]", k, rc, s, plain);
        free(s);
    }
    /* --verbose: mlx-lm's framing and three statistics lines, nothing else */
    snprintf(extra, sizeof extra, "--draft-model '%s'", model);
    char *v = gen(bin, model, extra, &rc);
    CHECK(rc == 0);
    CHECK_MSG(!strncmp(v, "==========\n", 11) && strstr(v, "\n==========\nPrompt: 5 tokens, ") &&
                  strstr(v, "\nGeneration: 60 tokens, ") && strstr(v, "\nPeak memory: "),
              "verbose output: [%s]", v);
    {
        int lines = 0;
        for (const char *p = v; *p; p++) lines += *p == '\n';
        /* ==========, the text (one newline inside), ==========, 3 statistics */
        int text_lines = 0;
        for (const char *p = plain; *p; p++) text_lines += *p == '\n';
        CHECK_MSG(lines == 5 + text_lines, "verbose output has %d lines (want %d): [%s]", lines, 5 + text_lines, v);
    }
    free(v);
    /* --extra-eos-token takes a token as the vocabulary spells it: "\u2581named" (SentencePiece's
     * space mark) is the 9th generated token, so the text stops before " named" */
    for (int d = 0; d < 2; d++) {
        if (d) snprintf(extra, sizeof extra, "--verbose false --extra-eos-token \u2581named --draft-model '%s'", model);
        else snprintf(extra, sizeof extra, "--verbose false --extra-eos-token \u2581named");
        char *s = gen(bin, model, extra, &rc);
        CHECK_MSG(rc == 0 && !strcmp(s, ", there was a little girl\n"), "extra eos (draft %d): exit %d [%s]", d, rc, s);
        free(s);
        /* and the statistics count the EOS token (as mlx-lm's generation_tokens does) */
        if (d) snprintf(extra, sizeof extra, "--extra-eos-token \u2581named --draft-model '%s'", model);
        else snprintf(extra, sizeof extra, "--extra-eos-token \u2581named");
        s = gen(bin, model, extra, &rc);
        CHECK_MSG(rc == 0 && strstr(s, "\nGeneration: 9 tokens, "), "extra eos stats (draft %d): [%s]", d, s);
        free(s);
    }
    /* errors */
    snprintf(extra, sizeof extra, "--draft-model '%s'", qwen);
    char *e = gen(bin, model, extra, &rc);
    CHECK_MSG(rc != 0 && strstr(e, "cmlx generate:") && strstr(e, "tokenizer"), "draft without tokenizer: exit %d [%s]", rc, e);
    free(e);
    e = gen(bin, model, "--draft-model /nonexistent/draft", &rc);
    CHECK_MSG(rc != 0 && strstr(e, "/nonexistent/draft"), "missing draft: exit %d [%s]", rc, e);
    free(e);
    e = gen(bin, model, "--extra-eos-token NOT_A_TOKEN", &rc);
    CHECK_MSG(rc != 0 && strstr(e, "NOT_A_TOKEN") && strstr(e, "not a token"), "bad extra eos: exit %d [%s]", rc, e);
    free(e);
    free(plain);
    return test_finish();
}
