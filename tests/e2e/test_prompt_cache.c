/* End-to-end: `cmlx cache-prompt` then `cmlx generate --prompt-cache-file` with the real
 * binary on stories260K. mlx-lm's semantics: the cached prompt is a prefix and the new prompt
 * continues it, so greedy output equals generate on the whole prompt:
 *  - with a chat template (a copy of stories260K with a template that concatenates the
 *    messages after BOS): cache "Once upon a time", continue with "there was" == generate
 *    "Once upon a time there was";
 *  - without one (mlx-lm encodes each part with special tokens, so BOS appears again):
 *    == generate --ignore-chat-template "Once upon a time<s>there was".
 * Also: rotating caches (--max-kv-size), the file's metadata, cache-prompt's output, errors.
 * usage: test_prompt_cache CMLX_BINARY SHARED_DIR */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmlx/cmlx.h"
#include "cmlx/lm.h"
#include "test.h"
#include "util/strbuf.h"

static const char *bin;
static char tmp[256], stories[1024], chatdir[512];

static int run(const char *cmd, strbuf *out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) strbuf_append(out, buf, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs a command, returns its output (malloc'd, "" on none) and exit code in *rc. */
static char *capture(int *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *capture(int *rc, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strbuf out = STRBUF_INIT;
    *rc = run(cmd, &out);
    char *s = strbuf_detach(&out, NULL);
    return s ? s : strdup("");
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

/* stories260K with a chat template: BOS, then the messages' contents. */
static int make_chat_model(void) {
    snprintf(chatdir, sizeof chatdir, "%s/stories-chat", tmp);
    if (mkdir(chatdir, 0700)) return -1;
    const char *links[] = {"config.json", "model.safetensors", "tokenizer.json", "special_tokens_map.json",
                           "generation_config.json"};
    char src[1536], dst[1024];
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(src, sizeof src, "%s/%s", stories, links[i]);
        snprintf(dst, sizeof dst, "%s/%s", chatdir, links[i]);
        if (symlink(src, dst)) return -1;
    }
    snprintf(dst, sizeof dst, "%s/tokenizer_config.json", chatdir);
    return write_text(dst,
                      "{\"add_bos_token\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"unk_token\": \"<unk>\", "
                      "\"tokenizer_class\": \"PreTrainedTokenizerFast\", \"chat_template\": "
                      "\"{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}\"}");
}

static void same_text(const char *what, const char *a, const char *b) {
    CHECK_MSG(a && b && *a && !strcmp(a, b), "%s:\n  with cache: [%s]\n  full:       [%s]", what, a ? a : "", b ? b : "");
}

static void test_chat_template(void) {
    int rc;
    char file[512];
    snprintf(file, sizeof file, "%s/chat.safetensors", tmp);
    char *out = capture(&rc, "'%s' cache-prompt --model '%s' --prompt 'Once upon a time' --prompt-cache-file '%s' 2>&1",
                        bin, chatdir, file);
    CHECK_MSG(rc == 0, "cache-prompt: exit %d: %s", rc, out);
    /* mlx_lm.cache_prompt's output */
    /* (the last progress line is padded with spaces to the longest one, whose rate may have
     * had more digits) */
    const char *last = strstr(out, "\rProcessed      5 tokens (");
    const char *tail = last ? strstr(last, " tok/s)") : NULL;
    if (tail) tail += strlen(" tok/s)");
    while (tail && *tail == ' ') tail++;
    CHECK_MSG(tail && !strncmp(tail, "\nPeak memory: ", 14) && strstr(tail, " GB\nSaving...\n"),
              "cache-prompt output: [%s]", out);
    free(out);
    char *cached = capture(&rc, "'%s' generate --model '%s' --prompt-cache-file '%s' -p 'there was' -m 24 --verbose false 2>&1",
                           bin, chatdir, file);
    CHECK_MSG(rc == 0, "generate with the cache: exit %d: %s", rc, cached);
    char *full = capture(&rc, "'%s' generate --model '%s' -p 'Once upon a time there was' -m 24 --verbose false 2>&1", bin,
                         chatdir);
    CHECK(rc == 0);
    same_text("chat template: cached prefix + 'there was' vs the whole prompt", cached, full);
    free(cached);
    /* only the new part is prompt processing: BOS is in the cache, "there was" is 2 tokens */
    char *verbose = capture(&rc, "'%s' generate --prompt-cache-file '%s' -p 'there was' -m 4 2>&1", bin, file);
    CHECK_MSG(rc == 0 && strstr(verbose, "Prompt: 2 tokens, "), "without --model (from the file): [%s]", verbose);
    free(verbose);
    /* a rotating cache as long as the whole sequence changes nothing */
    snprintf(file, sizeof file, "%s/rot", tmp);
    out = capture(&rc, "'%s' cache-prompt --model '%s' --prompt 'Once upon a time' --prompt-cache-file '%s' "
                       "--max-kv-size 64 2>&1", bin, chatdir, file);
    CHECK_MSG(rc == 0, "cache-prompt --max-kv-size: %s", out);
    free(out);
    strcat(file, ".safetensors"); /* MLX appends the extension */
    lm_cache_metadata md;
    CHECK_MSG(lm_cache_read_metadata(file, &md) == 0, "%s", mx_last_error());
    lm_cache_metadata_free(&md);
    mx_safetensors *st = mx_safetensors_open(file);
    CHECK(st && !strcmp(mx_safetensors_metadata(st, "2.0") ? mx_safetensors_metadata(st, "2.0") : "", "RotatingKVCache"));
    CHECK(st && !strcmp(mx_safetensors_metadata(st, "0.0.1") ? mx_safetensors_metadata(st, "0.0.1") : "", "64"));
    CHECK(st && !strcmp(mx_safetensors_metadata(st, "0.0.0") ? mx_safetensors_metadata(st, "0.0.0") : "", "4"));
    mx_safetensors_close(st);
    cached = capture(&rc, "'%s' generate --model '%s' --prompt-cache-file '%s' -p 'there was' -m 24 --verbose false 2>&1",
                     bin, chatdir, file);
    same_text("rotating prompt cache (64 positions)", cached, full);
    free(cached);
    free(full);
}

static void test_plain(void) {
    int rc;
    char file[512];
    snprintf(file, sizeof file, "%s/plain.safetensors", tmp);
    /* the prompt from stdin ('-') */
    char *out = capture(&rc, "printf 'Once upon a time' | '%s' cache-prompt --model '%s' --prompt - --prompt-cache-file '%s' 2>&1",
                        bin, stories, file);
    CHECK_MSG(rc == 0 && strstr(out, "Saving..."), "cache-prompt (stdin): exit %d: %s", rc, out);
    free(out);
    char *cached = capture(&rc, "'%s' generate --model '%s' --prompt-cache-file '%s' -p 'there was' -m 24 --verbose false 2>&1",
                           bin, stories, file);
    CHECK_MSG(rc == 0, "%s", cached);
    char *full = capture(&rc, "'%s' generate --model '%s' --ignore-chat-template -p 'Once upon a time<s>there was' -m 24 "
                              "--verbose false 2>&1", bin, stories);
    same_text("no template: cached prefix + BOS 'there was' (mlx-lm encodes each part with BOS)", cached, full);
    free(cached);
    free(full);
    /* the metadata mlx-lm writes: the model as given and json.dumps(tokenizer_config) */
    lm_cache_metadata md;
    if (lm_cache_read_metadata(file, &md) == 0) {
        const char *mdl = lm_cache_metadata_get(&md, "model"), *tc = lm_cache_metadata_get(&md, "tokenizer_config");
        CHECK_MSG(mdl && !strcmp(mdl, stories), "model metadata '%s'", mdl ? mdl : "(none)");
        CHECK_MSG(tc && !strcmp(tc, "{\"trust_remote_code\": false}"), "tokenizer_config '%s'", tc ? tc : "(none)");
        CHECK(md.n == 2);
        lm_cache_metadata_free(&md);
    } else {
        CHECK_MSG(0, "%s", mx_last_error());
    }
    /* errors: another model than the file's */
    out = capture(&rc, "'%s' generate --model '%s' --prompt-cache-file '%s' -p x 2>&1", bin, chatdir, file);
    CHECK_MSG(rc != 0 && strstr(out, "Providing a different model") && strstr(out, chatdir), "%s", out);
    free(out);
    /* a file that is not a prompt cache, one that does not exist */
    char wpath[1200];
    snprintf(wpath, sizeof wpath, "%s/model.safetensors", stories);
    out = capture(&rc, "'%s' generate --model '%s' --prompt-cache-file '%s' -p x 2>&1", bin, stories, wpath);
    CHECK_MSG(rc != 0 && strstr(out, "is not a prompt cache") && strstr(out, wpath), "%s", out);
    free(out);
    out = capture(&rc, "'%s' generate --model '%s' --prompt-cache-file '%s/none.safetensors' -p x 2>&1", bin, stories, tmp);
    CHECK_MSG(rc != 0 && strstr(out, "none.safetensors"), "%s", out);
    free(out);
    /* KV quantization needs head_dim divisible by the group size (stories260K: 8) */
    out = capture(&rc, "'%s' cache-prompt --model '%s' --prompt hi --prompt-cache-file '%s/q' --kv-bits 4 2>&1", bin,
                  stories, tmp);
    CHECK_MSG(rc != 0 && strstr(out, "head_dim 8 is not a multiple of kv_group_size 64"), "%s", out);
    free(out);
    out = capture(&rc, "'%s' cache-prompt --model '%s' --prompt hi 2>&1", bin, stories);
    CHECK_MSG(rc == 2 && strstr(out, "--prompt-cache-file is required"), "%s", out);
    free(out);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_prompt_cache CMLX_BINARY SHARED_DIR\n");
        return 2;
    }
    bin = argv[1];
    snprintf(stories, sizeof stories, "%s/models/stories260K", argv[2]);
    struct stat sb;
    if (stat(stories, &sb) != 0) {
        printf("SKIPPED: %s not found (shared reference data)\n", stories);
        return test_finish();
    }
    snprintf(tmp, sizeof tmp, "/tmp/cmlx_test_prompt_cache_XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    CHECK_MSG(make_chat_model() == 0, "could not build the templated model copy in %s", tmp);
    test_chat_template();
    test_plain();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return test_finish();
}
