/* bench_tokenizer: load time and single-thread encode throughput of cmlx's tokenizer.
 *
 *   bench_tokenizer --model DIR --file CORPUS [--seconds S] [--chunk BYTES]
 *
 * The corpus is cut at line ends into chunks of about --chunk bytes (default 8192),
 * each encoded with special tokens, repeatedly for at least --seconds (default 3).
 * The first pass is reported separately (cold word cache), then the steady state.
 * bench/tokenizer/bench_hf.mjs measures the Hugging Face library the same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmlx/error.h"
#include "cmlx/lm_tokenizer.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = '\0', *len = (size_t)n;
    return buf;
}

int main(int argc, char **argv) {
    const char *model = NULL, *file = NULL;
    double seconds = 3;
    size_t chunk = 8192;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--file")) file = argv[i + 1];
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--chunk")) chunk = (size_t)atol(argv[i + 1]);
    }
    if (!model || !file) {
        fprintf(stderr, "usage: bench_tokenizer --model DIR --file CORPUS [--seconds S] [--chunk BYTES]\n");
        return 2;
    }
    size_t len;
    char *text = read_file(file, &len);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", file);
        return 1;
    }
    /* load time: best of 5 */
    double best_load = 1e9;
    lm_tokenizer *tok = NULL;
    for (int k = 0; k < 5; k++) {
        double t0 = now();
        lm_tokenizer *t = lm_tokenizer_load(model);
        double dt = now() - t0;
        if (!t) {
            fprintf(stderr, "load failed: %s\n", mx_last_error());
            return 1;
        }
        if (dt < best_load) best_load = dt;
        if (tok) lm_tokenizer_free(tok);
        tok = t;
    }
    /* chunks at line ends */
    size_t n_chunks = 0, cap = 64;
    size_t *starts = malloc(cap * sizeof *starts), *lens = malloc(cap * sizeof *lens);
    for (size_t at = 0; at < len;) {
        size_t end = at + chunk < len ? at + chunk : len;
        while (end < len && text[end - 1] != '\n') end++;
        if (n_chunks == cap) {
            cap *= 2;
            starts = realloc(starts, cap * sizeof *starts);
            lens = realloc(lens, cap * sizeof *lens);
        }
        starts[n_chunks] = at;
        lens[n_chunks++] = end - at;
        at = end;
    }
    double t0 = now(), first = 0;
    size_t bytes = 0, tokens = 0, passes = 0, first_tokens = 0;
    do {
        for (size_t c = 0; c < n_chunks; c++) {
            int32_t *ids;
            size_t n;
            if (lm_tokenizer_encode(tok, text + starts[c], lens[c], 1, &ids, &n)) {
                fprintf(stderr, "encode failed: %s\n", mx_last_error());
                return 1;
            }
            tokens += n;
            free(ids);
        }
        bytes += len;
        if (++passes == 1) first = now() - t0, first_tokens = tokens;
    } while (now() - t0 < seconds);
    double dt = now() - t0;
    printf("model %s\ncorpus %s: %zu bytes, %zu chunks, %zu tokens per pass\n", model, file, len, n_chunks, first_tokens);
    printf("load: %.1f ms (best of 5)\n", best_load * 1e3);
    printf("encode, first pass: %.2f MB/s, %.0f tokens/s\n", (double)len / first / 1e6, (double)first_tokens / first);
    printf("encode, %zu passes: %.2f MB/s, %.0f tokens/s\n", passes, (double)bytes / dt / 1e6, (double)tokens / dt);
    lm_tokenizer_free(tok);
    free(starts);
    free(lens);
    free(text);
    return 0;
}
