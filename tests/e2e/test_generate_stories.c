/* End-to-end: the real `cmlx generate` binary reproduces llama2.c's greedy continuations of
 * stories260K (../shared/reference/stories260K.json) token for token, and reports bad input
 * with a clear message and a non-zero exit.
 * usage: test_generate_stories CMLX_BINARY SHARED_DIR */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test.h"
#include "util/strbuf.h"

/* Runs a shell command, capturing stdout (and stderr when merge is set). Returns exit code. */
static int run(const char *cmd, strbuf *out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) strbuf_append(out, buf, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\n') s++;
    return s;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_generate_stories CMLX_BINARY SHARED_DIR\n");
        return 2;
    }
    const char *bin = argv[1], *shared = argv[2];
    char path[4096], cmd[8192];
    snprintf(path, sizeof path, "%s/reference/stories260K.json", shared);
    json_error_t err;
    json_t *ref = json_load_file(path, 0, &err);
    if (!ref) {
        printf("SKIPPED: %s not readable (%s)\n", path, err.text);
        return 0;
    }
    json_t *cases = json_object_get(ref, "cases");
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *prompt = json_string_value(json_object_get(c, "prompt"));
        const char *text = json_string_value(json_object_get(c, "text"));
        size_t n_new = json_array_size(json_object_get(c, "greedy_ids"));
        snprintf(cmd, sizeof cmd, "'%s' generate --model '%s/models/stories260K' --prompt '%s' --max-tokens %zu "
                 "--temp 0 --verbose false 2>&1", bin, shared, prompt, n_new);
        strbuf out = STRBUF_INIT;
        int rc = run(cmd, &out);
        CHECK_MSG(rc == 0, "case %zu: exit %d: %s", i, rc, out.data ? out.data : "");
        /* expected: the reference text minus the prompt; the CLI prints the new text and a newline */
        const char *want = text + strlen(prompt);
        size_t got_len = out.len;
        if (got_len && out.data[got_len - 1] == '\n') got_len--;
        int same = out.data && strlen(skip_ws(want)) == got_len - (size_t)(skip_ws(out.data) - out.data) &&
                   !strncmp(skip_ws(out.data), skip_ws(want), strlen(skip_ws(want)));
        CHECK_MSG(same, "case %zu (%s):\n  got:  [%.*s]\n  want: [%s]", i, prompt, (int)got_len, out.data ? out.data : "",
                  want);
        strbuf_free(&out);
    }
    /* --verbose (the default) frames the text and prints mlx-lm's statistics lines */
    {
        strbuf out = STRBUF_INIT;
        snprintf(cmd, sizeof cmd, "'%s' generate --model '%s/models/stories260K' -p 'Once upon a time' -m 8 2>&1", bin,
                 shared);
        int rc = run(cmd, &out);
        CHECK(rc == 0);
        CHECK(out.data && !strncmp(out.data, "==========\n", 11));
        CHECK(out.data && strstr(out.data, "\n==========\nPrompt: 5 tokens, "));
        CHECK(out.data && strstr(out.data, "Generation: 8 tokens, ") && strstr(out.data, " tokens-per-sec\n"));
        CHECK(out.data && strstr(out.data, "Peak memory: ") && strstr(out.data, " GB\n"));
        strbuf_free(&out);
    }
    /* bad input: clear message, non-zero exit */
    struct {
        const char *args, *expect;
    } bad[] = {
        {"--model /nonexistent/dir -p hi", "neither a directory nor"},
        {"-p hi", "--model is required"},
        {"--model '%s/models/stories260K' -p hi --dtype int7", "unknown dtype"},
        {"--model '%s/tokenizers/qwen3' -p hi", "config.json"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char args[2048];
        snprintf(args, sizeof args, bad[k].args, shared);
        snprintf(cmd, sizeof cmd, "HF_HUB_OFFLINE=1 '%s' generate %s 2>&1", bin, args);
        strbuf out = STRBUF_INIT;
        int rc = run(cmd, &out);
        CHECK_MSG(rc != 0 && out.data && strstr(out.data, bad[k].expect), "`generate %s`: exit %d, output [%s]", args, rc,
                  out.data ? out.data : "");
        strbuf_free(&out);
    }
    json_decref(ref);
    return test_finish();
}
