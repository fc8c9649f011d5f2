/* cmlx tokenize: encode text to token ids, or decode ids to text, with a model
 * directory's Hugging Face tokenizer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cmlx/error.h"
#include "cmlx/lm_tokenizer.h"
#include "util/strbuf.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: cmlx tokenize --model DIR [--text TEXT] [--no-special] [--decode] [--skip-special]\n"
            "\n"
            "Encodes TEXT (or standard input) with DIR's tokenizer.json and prints the ids,\n"
            "separated by spaces.\n"
            "\n"
            "  --model DIR      model directory with tokenizer.json (+ tokenizer_config.json)\n"
            "  --text TEXT      the input (default: read standard input)\n"
            "  --no-special     encode without special tokens (no BOS/EOS/template)\n"
            "  --decode         the input is ids (space/comma separated); print the text\n"
            "  --skip-special   with --decode: drop special tokens\n"
            "  -h, --help       this help\n");
}

static int read_stdin(strbuf *sb) {
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, stdin)) > 0)
        if (strbuf_append(sb, buf, r)) return -1;
    if (ferror(stdin)) return mx_set_error("error reading standard input: %s", strerror(errno));
    return strbuf_reserve(sb, 0);
}

/* Parses "1 2, 3" into ids; -1 with a message naming the bad token. */
static int parse_ids(const char *s, int32_t **ids, size_t *n) {
    size_t cap = 64;
    *n = 0;
    *ids = malloc(cap * sizeof **ids);
    if (!*ids) return mx_set_error("out of memory");
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t' || *p == '\r' || *p == '[' || *p == ']') p++;
        if (!*p) return 0;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && !strchr(" ,\n\t\r[]", *end))) {
            int len = 0;
            while (p[len] && !strchr(" ,\n\t\r", p[len]) && len < 32) len++;
            return mx_set_error("bad token id '%.*s' at character %zu of the input (ids are non-negative integers)",
                                len, p, (size_t)(p - s));
        }
        if (*n == cap) {
            cap *= 2;
            int32_t *v2 = realloc(*ids, cap * sizeof *v2);
            if (!v2) return mx_set_error("out of memory");
            *ids = v2;
        }
        (*ids)[(*n)++] = (int32_t)v;
        p = end;
    }
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *text = NULL;
    int no_special = 0, decode = 0, skip_special = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--model") || !strcmp(a, "--text")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cmlx tokenize: %s needs a value\n", a);
                return 1;
            }
            if (!strcmp(a, "--model")) model = argv[++i];
            else text = argv[++i];
        } else if (!strncmp(a, "--model=", 8)) model = a + 8;
        else if (!strncmp(a, "--text=", 7)) text = a + 7;
        else if (!strcmp(a, "--no-special")) no_special = 1;
        else if (!strcmp(a, "--decode")) decode = 1;
        else if (!strcmp(a, "--skip-special")) skip_special = 1;
        else {
            fprintf(stderr, "cmlx tokenize: unknown option '%s'\n\n", a);
            usage(stderr);
            return 1;
        }
    }
    if (!model) {
        fprintf(stderr, "cmlx tokenize: --model DIR is required\n\n");
        usage(stderr);
        return 1;
    }
    strbuf in = STRBUF_INIT;
    if (text) {
        if (strbuf_puts(&in, text)) return 1;
    } else if (read_stdin(&in)) {
        fprintf(stderr, "cmlx tokenize: %s\n", mx_last_error());
        return 1;
    }
    lm_tokenizer *tok = lm_tokenizer_load(model);
    if (!tok) {
        fprintf(stderr, "cmlx tokenize: %s\n", mx_last_error());
        strbuf_free(&in);
        return 1;
    }
    int rc = 1;
    int32_t *ids = NULL;
    size_t n = 0;
    if (decode) {
        if (parse_ids(in.data ? in.data : "", &ids, &n)) {
            fprintf(stderr, "cmlx tokenize: %s\n", mx_last_error());
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            if ((size_t)ids[i] >= lm_tokenizer_vocab_size(tok)) {
                fprintf(stderr, "cmlx tokenize: token id %d is out of range (vocabulary size %zu)\n", ids[i],
                        lm_tokenizer_vocab_size(tok));
                goto done;
            }
        size_t sl;
        char *s = lm_tokenizer_decode_len(tok, ids, n, skip_special, &sl);
        if (!s) {
            fprintf(stderr, "cmlx tokenize: %s\n", mx_last_error());
            goto done;
        }
        fwrite(s, 1, sl, stdout);
        fputc('\n', stdout);
        free(s);
    } else {
        if (lm_tokenizer_encode(tok, in.data ? in.data : "", in.len, !no_special, &ids, &n)) {
            fprintf(stderr, "cmlx tokenize: %s\n", mx_last_error());
            goto done;
        }
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
done:
    free(ids);
    strbuf_free(&in);
    lm_tokenizer_free(tok);
    return rc;
}
