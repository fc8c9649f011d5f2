/* cmlx bench: mlx_lm.benchmark's flags, defaults and output, plus this machine's ceilings
 * (`--roofline`) and every model figure as a share of them. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/runtime_env.h"
#include "cli/commands.h"
#include "cmlx/lm_bench.h"
#include "cmlx/lm_hub.h"
#include "cmlx/memory.h"
#include "cmlx/random.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: cmlx bench --model MODEL [options]\n"
            "       cmlx bench --roofline [--threads N] [--quick] [--json]\n\n"
            "Benchmark prompt processing and generation speed (as mlx_lm.benchmark), against\n"
            "this machine's memory bandwidth and arithmetic peaks.\n\n"
            "  --model MODEL              local directory, Hugging Face repo id, or a config.json file\n"
            "                             (a config.json implies --random-weights)\n"
            "  -p, --prompt-tokens N      length of the prompt (default 512)\n"
            "  -g, --generation-tokens N  length of the completion (default 1024)\n"
            "  -b, --batch-size N         sequences decoded together (default 1; rates count all)\n"
            "  -n, --num-trials N         number of timing trials (default 5)\n"
            "  --threads N                OpenMP and OpenBLAS threads (default: all cores)\n"
            "  --random-weights           random N(0, 0.02^2) bf16 weights of the config's shapes,\n"
            "                             written as a checkpoint to a temporary directory and loaded\n"
            "  -q, --q-bits BITS          quantize the random weights (MLX affine, as mlx-lm convert)\n"
            "  --q-group-size G           quantization group size (default 64)\n"
            "  --random-dir DIR           keep the random checkpoint in DIR and reuse it next time\n"
            "  --num-layers N             random weights for the first N decoder layers only (for models\n"
            "                             too big for this machine; per-token figures scale with N)\n"
            "  --seed N                   seed of the random weights and prompt (default 0)\n"
            "  --no-warmup                skip the warm-up run\n"
            "  --short-warmup             warm up with 16 prompt and 4 generated tokens (every weight is\n"
            "                             read once) instead of a full-length run\n"
            "  --no-ceilings              do not measure the roofline before the trials\n"
            "  --roofline                 only measure the ceilings: read bandwidth, float32 GEMM,\n"
            "                             int8 dot products\n"
            "  --quick                    small roofline sizes (for tests)\n"
            "  --json                     one JSON object per trial (or for the roofline) on stdout\n");
}

typedef struct {
    const char *model, *random_dir;
    int prompt_tokens, gen_tokens, batch, trials, threads;
    int random, bits, group, warmup, ceilings, roofline, quick, json, short_warmup, num_layers;
    uint64_t seed;
} bench_opts;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return 0;
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static double load_avg(void) {
    double l[1] = {0};
    return getloadavg(l, 1) == 1 ? l[0] : -1;
}

static int parse_int(const char *s, const char *flag, int lo, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > 1 << 24) {
        fprintf(stderr, "cmlx bench: %s expects an integer >= %d, got '%s'\n", flag, lo, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Kernels run on the stream worker thread, whose OpenMP thread count is fixed from
 * OMP_NUM_THREADS when the OpenMP runtime starts: re-run this process with it set
 * (cli/runtime_env.h; argv here starts at "bench", the re-run needs "cmlx" before it). */
static int apply_threads(int threads, int argc, char **argv) {
    if (threads <= 0) return 0;
    char **nargv = calloc((size_t)argc + 2, sizeof *nargv);
    if (!nargv) return -1;
    nargv[0] = "cmlx";
    for (int i = 0; i < argc; i++) nargv[i + 1] = argv[i];
    cli_runtime_env(argc + 1, nargv, threads);
    free(nargv); /* still here: nothing to change, or the exec failed (warned) */
    lm_bench_set_threads(threads);
    return 0;
}

static void print_roofline_json(const lm_roofline *r, double load) {
    printf("{\"threads\": %d, \"buffer_bytes\": %zu, \"read_gbs_1\": %.6g, \"read_gbs\": %.6g, \"gemm_n\": %d, "
           "\"gemm_f32_gflops\": %.6g, \"gemm_bf16_gflops\": %.6g, \"int8_path\": \"%s\", \"int8_gops_1\": %.6g, "
           "\"int8_gops\": %.6g, "
           "\"fma_path\": \"%s\", \"f32_fma_gflops_1\": %.6g, \"f32_fma_gflops\": %.6g, \"bf16_dot_gflops_1\": %.6g, "
           "\"bf16_dot_gflops\": %.6g, \"load_avg\": %.6g}\n",
           r->threads, r->buffer_bytes, r->read_gbs_1, r->read_gbs_n, r->gemm_n, r->gemm_f32_gflops, r->gemm_bf16_gflops,
           lm_int8_path_name(r->int8_path), r->int8_gops_1, r->int8_gops_n, r->fma_path, r->fma_gflops_1,
           r->fma_gflops_n, r->bf16_gflops_1, r->bf16_gflops_n, load);
}

static void print_roofline_text(const lm_roofline *r, double load) {
    printf("Read bandwidth (%zu MiB buffer): 1 thread %.2f GB/s, %d thread(s) %.2f GB/s\n", r->buffer_bytes >> 20,
           r->read_gbs_1, r->threads, r->read_gbs_n);
    printf("float32 GEMM %dx%d (mx_matmul): %.1f GFLOP/s with %d thread(s)\n", r->gemm_n, r->gemm_n,
           r->gemm_f32_gflops, r->threads);
    printf("bf16 GEMM %dx%d (mx_matmul, x @ W^T): %.1f GFLOP/s with %d thread(s)\n", r->gemm_n, r->gemm_n,
           r->gemm_bf16_gflops, r->threads);
    printf("int8 dot products (%s): 1 thread %.1f GOP/s, %d thread(s) %.1f GOP/s\n", lm_int8_path_name(r->int8_path),
           r->int8_gops_1, r->threads, r->int8_gops_n);
    printf("float32 FMA (%s): 1 thread %.1f GFLOP/s, %d thread(s) %.1f GFLOP/s\n", r->fma_path, r->fma_gflops_1,
           r->threads, r->fma_gflops_n);
    if (r->bf16_gflops_n > 0)
        printf("bf16 dot products (avx512-bf16): 1 thread %.1f GFLOP/s, %d thread(s) %.1f GFLOP/s\n", r->bf16_gflops_1,
               r->threads, r->bf16_gflops_n);
    if (load >= 0) printf("Load average at the end: %.2f\n", load);
}

static int run_roofline(const bench_opts *o) {
    lm_roofline r;
    if (lm_bench_roofline(o->threads, o->quick, &r)) return cli_fail("bench", NULL);
    if (o->json) print_roofline_json(&r, load_avg());
    else print_roofline_text(&r, load_avg());
    return 0;
}

/* ---- the random checkpoint ---- */

static int is_regular_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_directory(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Removes a temporary directory this command created with mkdtemp (so everything in it,
 * flat, is ours), then the directory. */
static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        char path[4200];
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            if (unlink(path)) fprintf(stderr, "cmlx bench: cannot remove %s: %s\n", path, strerror(errno));
        }
        closedir(d);
    }
    if (rmdir(dir)) fprintf(stderr, "cmlx bench: cannot remove %s: %s\n", dir, strerror(errno));
}

/* The stamp says which config and options a kept random checkpoint was made from. */
static char *stamp_of(const char *config_path, const bench_opts *o) {
    json_error_t e;
    json_t *cfg = json_load_file(config_path, 0, &e);
    if (!cfg) {
        mx_set_error("[bench] %s: %s (line %d, column %d)", config_path, e.text, e.line, e.column);
        return NULL;
    }
    json_t *s = json_pack("{s:o, s:i, s:i, s:I, s:i}", "config", cfg, "bits", o->bits, "group_size", o->group, "seed",
                          (json_int_t)o->seed, "num_layers", o->num_layers);
    char *txt = s ? json_dumps(s, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    json_decref(s);
    if (!txt) mx_set_error("[bench] out of memory");
    return txt;
}

static int stamp_matches(const char *dir, const char *stamp) {
    char path[4200];
    snprintf(path, sizeof path, "%s/bench-stamp.json", dir);
    json_t *have = json_load_file(path, 0, NULL);
    if (!have) return 0;
    char *txt = json_dumps(have, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(have);
    int same = txt && !strcmp(txt, stamp);
    free(txt);
    return same;
}

/* Writes (or reuses) the random checkpoint; *dir is malloc'd; *temporary says whether to
 * remove it afterwards. */
static int make_random_checkpoint(const char *config_path, const bench_opts *o, char **dir, int *temporary) {
    char *stamp = stamp_of(config_path, o);
    if (!stamp) return -1;
    *temporary = 0;
    if (o->random_dir) {
        if (mkdir(o->random_dir, 0755) && errno != EEXIST) {
            free(stamp);
            return mx_set_error("[bench] cannot create %s: %s", o->random_dir, strerror(errno));
        }
        *dir = strdup(o->random_dir);
        if (*dir && stamp_matches(*dir, stamp)) {
            fprintf(stderr, "Reusing the random checkpoint in %s\n", *dir);
            free(stamp);
            return 0;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        char tmpl[4200];
        snprintf(tmpl, sizeof tmpl, "%s/cmlx-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpl)) {
            free(stamp);
            return mx_set_error("[bench] cannot create a temporary directory %s: %s", tmpl, strerror(errno));
        }
        *dir = strdup(tmpl);
        *temporary = 1;
    }
    if (!*dir) {
        free(stamp);
        return mx_set_error("[bench] out of memory");
    }
    lm_random_options ro = lm_random_options_default();
    ro.bits = o->bits;
    ro.group_size = o->group;
    ro.seed = o->seed;
    ro.num_layers = o->num_layers;
    double t0 = now_s();
    fprintf(stderr, "Writing random %s weights for %s to %s ..\n", o->bits ? "quantized" : "bfloat16", config_path, *dir);
    int rc = lm_random_checkpoint_write(config_path, *dir, &ro);
    if (rc == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/bench-stamp.json", *dir);
        FILE *f = fopen(path, "w");
        if (!f || fputs(stamp, f) < 0) rc = mx_set_error("[bench] %s: cannot write the stamp", path);
        if (f && fclose(f)) rc = mx_set_error("[bench] %s: cannot write the stamp", path);
        fprintf(stderr, "Wrote the random checkpoint in %.1f s\n", now_s() - t0);
    }
    free(stamp);
    return rc;
}

/* Where the config of --model is, for --random-weights (malloc'd). */
static char *config_for_random(const char *model) {
    if (is_regular_file(model)) return strdup(model);
    if (is_directory(model)) {
        size_t n = strlen(model) + 16;
        char *p = malloc(n);
        if (p) snprintf(p, n, "%s/config.json", model);
        if (p && !is_regular_file(p)) {
            mx_set_error("[bench] %s: no config.json in the model directory", model);
            free(p);
            return NULL;
        }
        return p;
    }
    if (lm_hub_is_repo_id(model)) {
        char *path = NULL;
        lm_hub_options ho;
        memset(&ho, 0, sizeof ho);
        if (lm_hub_download_file(model, "config.json", NULL, &ho, &path)) return NULL;
        return path;
    }
    mx_set_error("[bench] \"%s\" is neither a config.json file, a directory nor a Hugging Face repo id", model);
    return NULL;
}

/* ---- trials ---- */

typedef struct {
    int num_layers;
    lm_model_cost cost;
    lm_roofline roof;
    int have_roof;
    double kv_bytes;             /* KV cache bytes a decode step reads, mean over a trial */
    double read_gbs;             /* the read bandwidth the current figures are compared with */
    double read_before, read_after; /* measured before and after the current trial */
    int batch;                   /* sequences a decode step advances */
} context;

/* Bytes a decode step reads: the weights of one token once and every sequence's KV cache. */
static double decode_bytes(const context *c) {
    return (double)c->cost.bytes_per_token + (double)c->batch * c->kv_bytes;
}

typedef struct {
    double decode_gbs, decode_share, prefill_gflops, prefill_f32_share, prefill_int8_share, prefill_fma_share,
        prefill_bf16_share, prefill_bf16_gemm_share;
} shares;

static shares shares_of(const context *c, double prompt_tps, double gen_tps) {
    shares s;
    s.decode_gbs = gen_tps / c->batch * decode_bytes(c) / 1e9; /* steps/s x bytes a step */
    s.prefill_gflops = 2.0 * c->cost.matmul_params * prompt_tps / 1e9;
    s.decode_share = c->have_roof && c->read_gbs > 0 ? s.decode_gbs / c->read_gbs : 0;
    s.prefill_f32_share = c->have_roof && c->roof.gemm_f32_gflops > 0 ? s.prefill_gflops / c->roof.gemm_f32_gflops : 0;
    s.prefill_int8_share = c->have_roof && c->roof.int8_gops_n > 0 ? s.prefill_gflops / c->roof.int8_gops_n : 0;
    s.prefill_fma_share = c->have_roof && c->roof.fma_gflops_n > 0 ? s.prefill_gflops / c->roof.fma_gflops_n : 0;
    s.prefill_bf16_share = c->have_roof && c->roof.bf16_gflops_n > 0 ? s.prefill_gflops / c->roof.bf16_gflops_n : 0;
    s.prefill_bf16_gemm_share =
        c->have_roof && c->roof.gemm_bf16_gflops > 0 ? s.prefill_gflops / c->roof.gemm_bf16_gflops : 0;
    return s;
}

static void print_trial_json(const bench_opts *o, const context *c, int trial, const lm_bench_result *r,
                             double rss_gb, double cpu_util) {
    shares s = shares_of(c, r->prompt_tps, r->generation_tps);
    json_t *js = json_string(o->model);
    char *model = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL; /* the path, quoted and escaped */
    json_decref(js);
    printf("{\"trial\": %d, \"model\": %s, \"num_layers\": %d, \"threads\": %d, \"bits\": %d, \"group_size\": %d, "
           "\"prompt_tokens\": %lld, \"generation_tokens\": %lld, \"batch_size\": %d, "
           "\"prompt_tps\": %.6g, \"generation_tps\": %.6g, \"peak_memory_gb\": %.6g, \"peak_rss_gb\": %.6g, "
           "\"weight_bytes\": %zu, \"weight_bytes_per_token\": %zu, \"kv_bytes_per_token\": %.0f, "
           "\"matmul_params\": %.0f, \"total_params\": %.0f, \"decode_gbs\": %.6g, \"prefill_gflops\": %.6g",
           trial, model ? model : "null", c->num_layers, o->threads, o->bits, o->bits ? o->group : 0, (long long)r->prompt_tokens,
           (long long)r->generation_tokens, o->batch, r->prompt_tps, r->generation_tps, r->peak_memory_gb, rss_gb,
           c->cost.weight_bytes, c->cost.bytes_per_token, c->kv_bytes, c->cost.matmul_params, c->cost.total_params,
           s.decode_gbs, s.prefill_gflops);
    if (c->have_roof)
        printf(", \"read_bandwidth_before_gbs\": %.6g, \"read_bandwidth_after_gbs\": %.6g", c->read_before,
               c->read_after);
    if (c->have_roof)
        printf(", \"read_bandwidth_gbs\": %.6g, \"decode_bandwidth_share\": %.6g, \"gemm_f32_gflops\": %.6g, "
               "\"prefill_f32_share\": %.6g, \"int8_path\": \"%s\", \"int8_gops\": %.6g, \"prefill_int8_share\": %.6g, "
               "\"f32_fma_gflops\": %.6g, \"prefill_fma_share\": %.6g, \"bf16_dot_gflops\": %.6g, "
               "\"prefill_bf16_share\": %.6g, \"gemm_bf16_gflops\": %.6g, \"prefill_bf16_gemm_share\": %.6g",
               c->read_gbs, s.decode_share, c->roof.gemm_f32_gflops, s.prefill_f32_share,
               lm_int8_path_name(c->roof.int8_path), c->roof.int8_gops_n, s.prefill_int8_share, c->roof.fma_gflops_n,
               s.prefill_fma_share, c->roof.bf16_gflops_n, s.prefill_bf16_share, c->roof.gemm_bf16_gflops,
               s.prefill_bf16_gemm_share);
    printf(", \"cpu_utilization\": %.6g, \"load_avg\": %.2f}\n", cpu_util, load_avg());
    fflush(stdout);
    free(model);
}

static void print_summary(const context *c, const bench_opts *o, double prompt_tps, double gen_tps, double rss_gb,
                          double cpu_util, double mean_after) {
    shares s = shares_of(c, prompt_tps, gen_tps);
    printf("Weights: %.3f GB held, %.3f GB read per decoded token (+ %.3f GB of KV cache on average), %.3f B "
           "parameters multiplied per token\n",
           (double)c->cost.weight_bytes / 1e9, (double)c->cost.bytes_per_token / 1e9, c->kv_bytes / 1e9,
           c->cost.matmul_params / 1e9);
    if (c->have_roof) {
        printf("Ceilings (%d thread(s)): read bandwidth %.2f GB/s (before the trials %.2f, after each trial: mean %.2f), "
               "float32 GEMM %.1f GFLOP/s, bf16 GEMM %.1f GFLOP/s, float32 FMA %.1f GFLOP/s, bf16 dot %.1f GFLOP/s, "
               "int8 (%s) %.1f GOP/s\n",
               c->roof.threads, c->read_gbs, c->roof.read_gbs_n, mean_after, c->roof.gemm_f32_gflops,
               c->roof.gemm_bf16_gflops, c->roof.fma_gflops_n, c->roof.bf16_gflops_n,
               lm_int8_path_name(c->roof.int8_path), c->roof.int8_gops_n);
        printf("Decode: %.2f GB/s of weights and KV cache = %.0f%% of the read bandwidth (bandwidth-bound ceiling %.2f "
               "tok/s)\n",
               s.decode_gbs, 100 * s.decode_share, c->read_gbs * 1e9 / decode_bytes(c) * c->batch);
        printf("Prefill: %.1f GFLOP/s = %.0f%% of the bf16 GEMM rate, %.0f%% of the float32 GEMM (sgemm) rate, "
               "%.0f%% of the float32 FMA peak, %.0f%% of the bf16 dot peak, %.0f%% of the int8 peak\n",
               s.prefill_gflops, 100 * s.prefill_bf16_gemm_share, 100 * s.prefill_f32_share, 100 * s.prefill_fma_share,
               100 * s.prefill_bf16_share,
               100 * s.prefill_int8_share);
    } else {
        printf("Decode: %.2f GB/s of weights; prefill: %.1f GFLOP/s\n", s.decode_gbs, s.prefill_gflops);
    }
    printf("Peak RSS during a trial: %.3f GB; CPU use %.0f%% of %d thread(s); load average %.2f\n", rss_gb,
           100 * cpu_util, o->threads, load_avg());
}

static int run_trials(const bench_opts *o, lm_model *m, context *c) {
    int vocab = lm_model_vocab_size(m);
    mx_array *key = mx_random_key(o->seed);
    mx_array *ids = mx_random_randint(0, vocab, (int64_t[]){o->batch, o->prompt_tokens}, 2, MX_INT32, key);
    int32_t *prompt = malloc(sizeof(int32_t) * (size_t)o->batch * (size_t)o->prompt_tokens); /* [batch][p] */
    int rc = -1;
    if (!ids || !prompt || mx_read(ids, MX_INT32, prompt)) goto out;
    lm_bench_result r;
    if (o->warmup) {
        if (!o->json) printf("Running warmup..\n"), fflush(stdout);
        size_t wp = o->short_warmup && o->prompt_tokens > 16 ? 16 : (size_t)o->prompt_tokens;
        int wg = o->short_warmup && o->gen_tokens > 4 ? 4 : o->gen_tokens;
        if (lm_bench_trial_batch(m, prompt, o->batch, wp, wg, &r)) goto out; /* any wp ids per row */
    }
    if (!o->json)
        printf("Timing with prompt_tokens=%d, generation_tokens=%d, batch_size=%d.\n", o->prompt_tokens, o->gen_tokens,
               o->batch);
    double sum_p = 0, sum_g = 0, sum_m = 0, max_rss = 0, sum_cpu = 0, best_p = 0, best_g = 0, sum_read = 0,
           sum_after = 0;
    c->kv_bytes = lm_model_kv_bytes_per_step(&c->cost, o->prompt_tokens, o->gen_tokens);
    c->batch = o->batch;
    c->read_before = c->roof.read_gbs_n;
    for (int i = 0; i < o->trials; i++) {
        /* each trial measured as a fresh generation would run: without the buffers the
         * allocator kept from the warm-up and the trials before (their sizes need not match
         * this trial's, so they would add to its peak RSS) */
        mx_clear_cache();
        lm_bench_peak_rss_reset(); /* best effort: without it the peak covers the whole run */
        double w0 = now_s(), c0 = cpu_s();
        if (lm_bench_trial_batch(m, prompt, o->batch, (size_t)o->prompt_tokens, o->gen_tokens, &r)) goto out;
        double util = (cpu_s() - c0) / ((now_s() - w0) * (o->threads > 0 ? o->threads : 1));
        double rss = lm_bench_peak_rss_gb();
        if (c->have_roof) {
            /* the bandwidth of this machine moves with its neighbours' load: each trial is compared
             * with the mean of readings taken just before and just after it */
            c->read_after = lm_bench_read_bandwidth(c->roof.buffer_bytes, c->roof.threads, 2);
            if (c->read_after < 0) goto out;
            c->read_gbs = 0.5 * (c->read_before + c->read_after);
            sum_read += c->read_gbs, sum_after += c->read_after;
        }
        sum_p += r.prompt_tps, sum_g += r.generation_tps, sum_m += r.peak_memory_gb, sum_cpu += util;
        if (rss > max_rss) max_rss = rss;
        if (r.prompt_tps > best_p) best_p = r.prompt_tps;
        if (r.generation_tps > best_g) best_g = r.generation_tps;
        if (o->json) print_trial_json(o, c, i + 1, &r, rss, util);
        else
            printf("Trial %d:  prompt_tps=%.3f, generation_tps=%.3f, peak_memory=%.3f\n", i + 1, r.prompt_tps,
                   r.generation_tps, r.peak_memory_gb), fflush(stdout);
        c->read_before = c->read_after;
    }
    if (!o->json) {
        double n = o->trials;
        printf("Averages: prompt_tps=%.3f, generation_tps=%.3f, peak_memory=%.3f\n", sum_p / n, sum_g / n, sum_m / n);
        if (o->trials > 1) printf("Best:     prompt_tps=%.3f, generation_tps=%.3f\n", best_p, best_g);
        c->read_gbs = sum_read / n;
        print_summary(c, o, sum_p / n, sum_g / n, max_rss, sum_cpu / n, sum_after / n);
    }
    rc = 0;
out:
    free(prompt);
    mx_free(ids);
    mx_free(key);
    return rc;
}

static int run_model(const bench_opts *o) {
    char *dir = NULL, *config = NULL;
    int temporary = 0, rc = 1;
    lm_model *m = NULL;
    context c;
    memset(&c, 0, sizeof c);
    if (o->random) {
        if (!(config = config_for_random(o->model)) || make_random_checkpoint(config, o, &dir, &temporary)) goto out;
    } else if (o->bits || o->num_layers) {
        mx_set_error("[bench] -q/--q-bits and --num-layers shape random weights: add --random-weights");
        goto out;
    }
    lm_load_options lo = lm_load_options_default();
    lo.quiet = o->json;
    double t0 = now_s();
    if (!(m = lm_model_load(dir ? dir : o->model, &lo))) goto out;
    double t_load = now_s() - t0;
    if (lm_model_cost_of(m, &c.cost)) goto out;
    c.num_layers = lm_model_num_layers(m);
    if (!o->json)
        printf("Loaded %s (%s) in %.3f s\n", o->model, lm_model_type(m), t_load);
    if (o->ceilings) {
        if (lm_bench_roofline(o->threads, o->quick, &c.roof)) goto out;
        c.have_roof = 1;
    }
    if (run_trials(o, m, &c)) goto out;
    rc = 0;
out:
    if (rc) cli_fail("bench", NULL);
    lm_model_free(m);
    if (temporary) remove_tree(dir);
    free(dir);
    free(config);
    return rc;
}

enum {
    O_MODEL = 256, O_THREADS, O_RANDOM, O_QGROUP, O_RANDOM_DIR, O_SEED, O_NO_WARMUP, O_SHORT_WARMUP, O_NO_CEIL, O_ROOF,
    O_QUICK, O_JSON, O_LAYERS
};

int cmd_bench(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL},       {"prompt-tokens", required_argument, 0, 'p'},
        {"generation-tokens", required_argument, 0, 'g'}, {"batch-size", required_argument, 0, 'b'},
        {"num-trials", required_argument, 0, 'n'},      {"threads", required_argument, 0, O_THREADS},
        {"random-weights", no_argument, 0, O_RANDOM},   {"q-bits", required_argument, 0, 'q'},
        {"q-group-size", required_argument, 0, O_QGROUP}, {"random-dir", required_argument, 0, O_RANDOM_DIR},
        {"seed", required_argument, 0, O_SEED},         {"no-warmup", no_argument, 0, O_NO_WARMUP},
        {"short-warmup", no_argument, 0, O_SHORT_WARMUP}, {"num-layers", required_argument, 0, O_LAYERS},
        {"no-ceilings", no_argument, 0, O_NO_CEIL},     {"roofline", no_argument, 0, O_ROOF},
        {"quick", no_argument, 0, O_QUICK},             {"json", no_argument, 0, O_JSON},
        {"help", no_argument, 0, 'h'},                  {0, 0, 0, 0},
    };
    bench_opts o = {NULL, NULL, 512, 1024, 1, 5, 0, 0, 0, 64, 1, 1, 0, 0, 0, 0, 0, 0};
    int c, seed = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:g:b:n:q:h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_MODEL: o.model = optarg; break;
        case 'p': bad = parse_int(optarg, "--prompt-tokens", 1, &o.prompt_tokens); break;
        case 'g': bad = parse_int(optarg, "--generation-tokens", 1, &o.gen_tokens); break;
        case 'b': bad = parse_int(optarg, "--batch-size", 1, &o.batch); break;
        case 'n': bad = parse_int(optarg, "--num-trials", 1, &o.trials); break;
        case O_THREADS: bad = parse_int(optarg, "--threads", 1, &o.threads); break;
        case O_RANDOM: o.random = 1; break;
        case 'q': bad = parse_int(optarg, "--q-bits", 1, &o.bits); break;
        case O_QGROUP: bad = parse_int(optarg, "--q-group-size", 1, &o.group); break;
        case O_RANDOM_DIR: o.random_dir = optarg; break;
        case O_SEED: bad = parse_int(optarg, "--seed", 0, &seed); break;
        case O_NO_WARMUP: o.warmup = 0; break;
        case O_SHORT_WARMUP: o.short_warmup = 1; break;
        case O_LAYERS: bad = parse_int(optarg, "--num-layers", 1, &o.num_layers); break;
        case O_NO_CEIL: o.ceilings = 0; break;
        case O_ROOF: o.roofline = 1; break;
        case O_QUICK: o.quick = 1; break;
        case O_JSON: o.json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "cmlx bench: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    o.seed = (uint64_t)seed;
    if (apply_threads(o.threads, argc, argv)) return cli_fail("bench", "cannot set the thread count");
    if (o.threads <= 0) {
        const char *env = getenv("OMP_NUM_THREADS");
        o.threads = env && atoi(env) > 0 ? atoi(env) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    }
    if (o.roofline) return run_roofline(&o);
    if (!o.model) {
        fprintf(stderr, "cmlx bench: --model is required (a directory, a repo id or a config.json)\n\n");
        usage(stderr);
        return 2;
    }
    if (is_regular_file(o.model)) o.random = 1; /* a config.json alone: random weights of its shapes */
    return run_model(&o);
}
