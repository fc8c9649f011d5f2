/* The library parts of cmlx bench (include/cmlx/lm_bench.h): every int8 dot-product path the
 * CPU runs gives a positive rate and the others refuse with a message; the float peaks,
 * bandwidth and GEMM measure something; bad arguments and bad configs give clear errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/cmlx.h"
#include "cmlx/lm_bench.h"
#include "test.h"

/* This process's thread count (/proc/self/status), -1 when unreadable. */
static int thread_count(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    int n = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Threads:", 8)) n = atoi(line + 8);
    fclose(f);
    return n;
}

/* The measurements run their OpenMP regions on threads of their own (src/lm/bench/own_thread.h):
 * afterwards no libgomp worker pool belongs to the caller, so the process is back to the
 * threads it had (a pool thread kept for the caller would make libgomp stop spinning between
 * the stream worker's regions). Run first: nothing else here may have run a region on this
 * thread. */
static void test_measurements_leave_no_pool(void) {
    mx_array *one = mx_scalar(1.0, MX_FLOAT32), *two = mx_scalar(2.0, MX_FLOAT32), *warm = mx_add(one, two);
    CHECK(warm && mx_eval1(warm) == 0); /* the stream worker runs from here on */
    mx_free(warm);
    mx_free(two);
    mx_free(one);
    int before = thread_count();
    CHECK(before > 0);
    CHECK(lm_bench_read_bandwidth((size_t)16 << 20, 2, 1) > 0);
    CHECK(lm_bench_f32_fma_peak(2, 0.01) > 0);
    CHECK(lm_bench_int8_peak(LM_INT8_PORTABLE, 2, 0.01) > 0);
    int after = thread_count();
    for (int i = 0; i < 500 && after != before; i++) { /* the pools' threads leave just after their owner */
        usleep(10000);
        after = thread_count();
    }
    CHECK_MSG(after == before, "%d threads before the measurements, %d after", before, after);
}

static void test_int8_paths(void) {
    lm_int8_path best = lm_int8_best_path();
    CHECK(best >= 0 && best < LM_INT8_PATH_COUNT);
    CHECK_MSG(lm_bench_int8_peak(best, 1, 0.02) > 0, "best path %s: %s", lm_int8_path_name(best), mx_last_error());
    CHECK(lm_bench_int8_peak(LM_INT8_PORTABLE, 1, 0.02) > 0);
    /* paths better than the best one this CPU has must refuse, naming the path */
    for (int p = 0; p < (int)best; p++) {
        double r = lm_bench_int8_peak((lm_int8_path)p, 1, 0.01);
        CHECK_MSG(r < 0 && strstr(mx_last_error(), lm_int8_path_name((lm_int8_path)p)), "path %s: %g (%s)",
                  lm_int8_path_name((lm_int8_path)p), r, mx_last_error());
    }
    /* every path the CPU supports runs (the ones after the best are its subsets) */
    for (int p = (int)best; p < LM_INT8_PATH_COUNT; p++) {
        double r = lm_bench_int8_peak((lm_int8_path)p, 2, 0.01);
        CHECK_MSG(r > 0 || !strcmp(lm_int8_path_name((lm_int8_path)p), "avx-vnni"), "path %s: %g (%s)",
                  lm_int8_path_name((lm_int8_path)p), r, mx_last_error());
    }
    CHECK(lm_bench_int8_peak(LM_INT8_PATH_COUNT, 1, 0.01) < 0);
    CHECK(!strcmp(lm_int8_path_name(LM_INT8_PATH_COUNT), "unknown"));
}

static void test_float_peaks(void) {
    CHECK(lm_bench_f32_fma_peak(1, 0.02) > 0);
    CHECK(lm_bench_bf16_dot_peak(1, 0.02) >= 0);
    const char *p = lm_bench_fma_path();
    CHECK(!strcmp(p, "avx512") || !strcmp(p, "avx2") || !strcmp(p, "portable"));
}

static void test_bandwidth_and_gemm(void) {
    CHECK(lm_bench_read_bandwidth((size_t)16 << 20, 1, 1) > 0);
    CHECK(lm_bench_read_bandwidth((size_t)16 << 20, 2, 1) > 0);
    CHECK(lm_bench_read_bandwidth(100, 1, 1) < 0 && strstr(mx_last_error(), "too small"));
    CHECK(lm_bench_gemm_f32(64, 1) > 0);
    CHECK(lm_bench_gemm_f32(0, 1) < 0 && strstr(mx_last_error(), "GEMM size 0"));
    CHECK(lm_bench_gemm_bf16(64, 1) > 0);
    lm_roofline r;
    CHECK(lm_bench_roofline(1, 1, &r) == 0);
    CHECK(r.threads == 1 && r.read_gbs_1 > 0 && r.read_gbs_n == r.read_gbs_1 && r.gemm_f32_gflops > 0 &&
          r.int8_gops_n > 0 && r.fma_gflops_n > 0 && r.fma_path != NULL);
}

static void test_random_checkpoint_errors(const char *dir) {
    char cfg[600], out[600];
    snprintf(cfg, sizeof cfg, "%s/cfg.json", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    CHECK(mkdir(out, 0755) == 0);
    lm_random_options o = lm_random_options_default();
    CHECK(o.group_size == 64 && o.bits == 0 && o.std == 0.02);
    CHECK(lm_random_checkpoint_write("/nonexistent/cfg.json", out, &o) == -1 &&
          strstr(mx_last_error(), "/nonexistent/cfg.json"));
    FILE *f = fopen(cfg, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("{\"model_type\": \"nosuch\", \"hidden_size\": 64, \"num_hidden_layers\": 1, \"num_attention_heads\": 4,"
              " \"vocab_size\": 32}", f);
        fclose(f);
    }
    CHECK(lm_random_checkpoint_write(cfg, out, &o) == -1 && strstr(mx_last_error(), "nosuch") &&
          strstr(mx_last_error(), "llama"));
    o.bits = 7;
    CHECK(lm_random_checkpoint_write(cfg, out, &o) == -1 && strstr(mx_last_error(), "bits 7"));
    o.bits = 4;
    o.group_size = 48;
    CHECK(lm_random_checkpoint_write(cfg, out, &o) == -1 && strstr(mx_last_error(), "group size 48"));
    /* a model whose hidden size does not divide by the group stays bf16 (mlx-lm's predicate) */
    f = fopen(cfg, "w");
    if (f) {
        fputs("{\"model_type\": \"llama\", \"hidden_size\": 48, \"num_hidden_layers\": 1, \"num_attention_heads\": 4,"
              " \"intermediate_size\": 64, \"vocab_size\": 32, \"tie_word_embeddings\": true}", f);
        fclose(f);
    }
    o.group_size = 64;
    CHECK_MSG(lm_random_checkpoint_write(cfg, out, &o) == 0, "%s", mx_last_error());
    mx_safetensors *st = mx_safetensors_open(out);
    CHECK(st != NULL);
    if (st) {
        CHECK(!mx_safetensors_has(st, "model.layers.0.self_attn.q_proj.scales")); /* in 48: not quantized */
        CHECK(mx_safetensors_has(st, "model.layers.0.mlp.down_proj.scales"));     /* in 64: quantized */
        CHECK(!mx_safetensors_has(st, "lm_head.weight"));                         /* tied */
        mx_safetensors_close(st);
    }
    lm_model *m = lm_model_load(out, NULL);
    CHECK_MSG(m != NULL, "%s", mx_last_error());
    if (m) {
        lm_model_cost c;
        CHECK(lm_model_cost_of(m, &c) == 0);
        /* tied: the embedding is the head and is read whole; weight bytes all read */
        CHECK(c.bytes_per_token == c.weight_bytes);
        /* q, k, v, o (4 kv heads of 12: all 48 x 48), gate, up, down (64 x 48), the head (32 x 48) */
        CHECK(c.matmul_params == 4 * 48.0 * 48 + 3 * 64.0 * 48 + 32.0 * 48);
        lm_model_free(m);
    }
}

int main(void) {
    test_measurements_leave_no_pool();
    test_int8_paths();
    test_float_peaks();
    test_bandwidth_and_gemm();
    char dir[] = "/tmp/cmlx-test-bench-lib-XXXXXX";
    if (mkdtemp(dir)) {
        test_random_checkpoint_errors(dir);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    } else {
        CHECK(0);
    }
    return test_finish();
}
