/* End-to-end: the real `cmlx bench` binary on random-weight checkpoints of tiny configs
 * written here (dense llama in bf16 and 4-bit, a qwen3_moe in 4-bit), the roofline in quick
 * mode, and bad input. Checks the JSON fields and that the bytes read per token match the
 * shapes of the config exactly.
 * usage: test_bench CMLX_BINARY */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmlx/cmlx.h"
#include "test.h"
#include "util/strbuf.h"

static int run(const char *cmd, strbuf *out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) strbuf_append(out, buf, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Bytes of one [out, in] matrix: bf16, or packed `bits` plus bf16 scales and biases. */
static double matrix_bytes(double out, double in, int bits, int group) {
    return bits ? out * in * bits / 8 + 2 * out * (in / group) * 2 : out * in * 2;
}

/* The tiny llama below: hidden 64, 2 layers, 4 heads of 16, 2 kv heads, mlp 128, vocab 256,
 * untied. Decoded tokens read every matrix, the norms, the head and one embedding row. */
static double tiny_llama_bytes_per_token(int bits) {
    double layer = 2 * 64 * 2 /* norms */ + matrix_bytes(64, 64, bits, 64) * 2 /* q, o */ +
                   matrix_bytes(32, 64, bits, 64) * 2 /* k, v */ + matrix_bytes(128, 64, bits, 64) * 2 /* gate, up */ +
                   matrix_bytes(64, 128, bits, 64) /* down */;
    return 2 * layer + 64 * 2 /* final norm */ + matrix_bytes(256, 64, bits, 64) /* head */ +
           matrix_bytes(256, 64, bits, 64) / 256 /* one embedding row */;
}

static const char *TINY_LLAMA =
    "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
    " \"num_key_value_heads\": 2, \"intermediate_size\": 128, \"vocab_size\": 256, \"rms_norm_eps\": 1e-5,"
    " \"max_position_embeddings\": 256, \"rope_theta\": 10000.0, \"tie_word_embeddings\": false,"
    " \"eos_token_id\": 2}";

static const char *TINY_MOE =
    "{\"model_type\": \"qwen3_moe\", \"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
    " \"num_key_value_heads\": 2, \"head_dim\": 16, \"intermediate_size\": 128, \"moe_intermediate_size\": 64,"
    " \"num_experts\": 8, \"num_experts_per_tok\": 2, \"norm_topk_prob\": true, \"decoder_sparse_step\": 1,"
    " \"mlp_only_layers\": [], \"vocab_size\": 256, \"rms_norm_eps\": 1e-6, \"max_position_embeddings\": 256,"
    " \"rope_theta\": 1000000.0, \"tie_word_embeddings\": false}";

/* Parses the JSON lines of out; returns how many, with the last in *last (a new reference). */
static int json_lines(const char *out, json_t **last) {
    int n = 0;
    *last = NULL;
    const char *p = out;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len) {
            json_error_t e;
            json_t *j = json_loadb(p, len, 0, &e);
            CHECK_MSG(j != NULL, "not JSON: %.*s (%s)", (int)len, p, e.text);
            if (j) {
                json_decref(*last);
                *last = j;
                n++;
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

static double num(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    CHECK_MSG(json_is_number(v), "field \"%s\" is missing or not a number", k);
    return json_is_number(v) ? json_number_value(v) : -1;
}

static void check_trial(json_t *j, int bits, double want_bytes) {
    const char *positive[] = {"prompt_tps", "generation_tps", "peak_memory_gb", "weight_bytes", "weight_bytes_per_token",
                              "matmul_params", "decode_gbs", "prefill_gflops", "read_bandwidth_gbs",
                              "decode_bandwidth_share", "gemm_f32_gflops", "prefill_f32_share", "gemm_bf16_gflops",
                              "prefill_bf16_gemm_share", "int8_gops",
                              "prefill_int8_share", "f32_fma_gflops", "prefill_fma_share", "peak_rss_gb"};
    for (size_t i = 0; i < sizeof positive / sizeof positive[0]; i++)
        CHECK_MSG(num(j, positive[i]) > 0, "\"%s\" = %g is not positive", positive[i], num(j, positive[i]));
    CHECK(num(j, "prompt_tokens") == 16);
    CHECK(num(j, "generation_tokens") == 8);
    CHECK(num(j, "batch_size") == 1);
    CHECK(num(j, "bits") == bits);
    CHECK(num(j, "threads") == 1);
    CHECK_MSG(want_bytes < 0 || num(j, "weight_bytes_per_token") == want_bytes,
              "weight_bytes_per_token %.0f, expected %.0f from the config's shapes", num(j, "weight_bytes_per_token"),
              want_bytes);
    /* the KV cache a step reads: keys and values of 2 layers x 2 kv heads x 16 (bf16) = 256 bytes
     * a position, over contexts 17..23 (-p 16 -g 8: the steps feeding tokens 2..8), mean 20 */
    CHECK_MSG(num(j, "kv_bytes_per_token") == 256 * 20, "kv_bytes_per_token %.0f, expected %d",
              num(j, "kv_bytes_per_token"), 256 * 20);
    /* each trial's ceiling: the mean of the readings just before and just after it */
    double before = num(j, "read_bandwidth_before_gbs"), after = num(j, "read_bandwidth_after_gbs");
    CHECK_MSG(before > 0 && after > 0 && fabs(num(j, "read_bandwidth_gbs") - 0.5 * (before + after)) <=
                                               1e-5 * num(j, "read_bandwidth_gbs"),
              "read bandwidth %g is not the mean of %g and %g", num(j, "read_bandwidth_gbs"), before, after);
    /* decode GB/s is tokens/s times the bytes a step reads (weights and KV cache) */
    double gbs = num(j, "generation_tps") * (num(j, "weight_bytes_per_token") + num(j, "kv_bytes_per_token")) / 1e9;
    CHECK_MSG(gbs > 0.999 * num(j, "decode_gbs") && gbs < 1.001 * num(j, "decode_gbs"), "decode_gbs %g vs %g",
              num(j, "decode_gbs"), gbs);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_bench CMLX_BINARY\n");
        return 2;
    }
    const char *bin = argv[1];
    const char *tmp = getenv("TMPDIR");
    char dir[512], cfg[600], moe[600], kept[600], cmd[4096], path[700];
    snprintf(dir, sizeof dir, "%s/cmlx-test-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(cfg, sizeof cfg, "%s/tiny-llama.json", dir);
    snprintf(moe, sizeof moe, "%s/tiny-moe.json", dir);
    snprintf(kept, sizeof kept, "%s/kept", dir);
    CHECK(write_file(cfg, TINY_LLAMA) == 0 && write_file(moe, TINY_MOE) == 0);

    /* bf16 random weights from a config file (kept, to look at below), then 4-bit; one JSON
     * object per trial */
    for (int bits = 0; bits <= 4; bits += 4) {
        strbuf out = STRBUF_INIT;
        char keep[700] = "";
        if (!bits) snprintf(keep, sizeof keep, "--random-dir '%s'", kept);
        snprintf(cmd, sizeof cmd, "'%s' bench --model '%s' -p 16 -g 8 -n 1 --threads 1 --quick --json %s %s 2>/dev/null",
                 bin, cfg, bits ? "--random-weights -q 4 --q-group-size 64" : "", keep);
        int rc = run(cmd, &out);
        CHECK_MSG(rc == 0, "%s: exit %d", cmd, rc);
        json_t *j = NULL;
        CHECK_MSG(json_lines(out.data ? out.data : "", &j) == 1, "expected one JSON line: %s", out.data ? out.data : "");
        if (j) check_trial(j, bits, tiny_llama_bytes_per_token(bits));
        json_decref(j);
        strbuf_free(&out);
    }

    /* -b 2: two sequences decoded together; totals count both, a decode step reads the weights
     * once and both KV caches */
    {
        strbuf out = STRBUF_INIT;
        snprintf(cmd, sizeof cmd, "'%s' bench --model '%s' -p 16 -g 8 -b 2 -n 1 --threads 1 --quick --json 2>/dev/null",
                 bin, kept);
        int rc = run(cmd, &out);
        CHECK_MSG(rc == 0, "%s: exit %d", cmd, rc);
        json_t *j = NULL;
        CHECK_MSG(json_lines(out.data ? out.data : "", &j) == 1, "expected one JSON line: %s", out.data ? out.data : "");
        if (j) {
            CHECK(num(j, "batch_size") == 2 && num(j, "prompt_tokens") == 32 && num(j, "generation_tokens") == 16);
            double step_bytes = num(j, "weight_bytes_per_token") + 2 * num(j, "kv_bytes_per_token");
            double gbs = num(j, "generation_tps") / 2 * step_bytes / 1e9;
            CHECK_MSG(gbs > 0.999 * num(j, "decode_gbs") && gbs < 1.001 * num(j, "decode_gbs"), "decode_gbs %g vs %g",
                      num(j, "decode_gbs"), gbs);
        }
        json_decref(j);
        strbuf_free(&out);
    }

    /* the random weights: bf16 N(0, 0.02^2) matrices, norms of ones */
    {
        mx_safetensors *st = mx_safetensors_open(kept);
        CHECK_MSG(st != NULL, "%s: %s", kept, mx_last_error());
        mx_array *w = st ? mx_safetensors_get(st, "model.layers.1.mlp.down_proj.weight") : NULL;
        mx_array *nw = st ? mx_safetensors_get(st, "model.layers.0.input_layernorm.weight") : NULL;
        CHECK(w && mx_array_dtype(w) == MX_BFLOAT16 && mx_dim(w, 0) == 64 && mx_dim(w, 1) == 128);
        if (w && nw) {
            int64_t n = mx_size(w);
            float *v = malloc(sizeof(float) * (size_t)n), nv[64];
            CHECK(v && mx_read(w, MX_FLOAT32, v) == 0 && mx_read(nw, MX_FLOAT32, nv) == 0);
            double s1 = 0, s2 = 0, s4 = 0;
            for (int64_t i = 0; v && i < n; i++) s1 += v[i], s2 += (double)v[i] * v[i];
            double mean = s1 / n, var = s2 / n - mean * mean;
            for (int64_t i = 0; v && i < n; i++) s4 += pow(v[i] - mean, 4);
            double kurt = s4 / n / (var * var); /* 3 for a normal distribution */
            CHECK_MSG(fabs(mean) < 0.001 && fabs(sqrt(var) - 0.02) < 0.0008 && fabs(kurt - 3) < 0.3,
                      "%lld samples: mean %g, std %g, kurtosis %g (want 0, 0.02, 3)", (long long)n, mean, sqrt(var), kurt);
            CHECK(nv[0] == 1.0f && nv[63] == 1.0f);
            free(v);
        }
        mx_free(w);
        mx_free(nw);
        mx_safetensors_close(st);
        strbuf out = STRBUF_INIT;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", kept);
        CHECK(run(cmd, &out) == 0);
        strbuf_free(&out);
    }

    /* text output mirrors mlx_lm.benchmark; two trials */
    {
        strbuf out = STRBUF_INIT;
        snprintf(cmd, sizeof cmd, "'%s' bench --model '%s' -p 16 -g 8 -n 2 --threads 1 --quick 2>&1", bin, cfg);
        int rc = run(cmd, &out);
        const char *o = out.data ? out.data : "";
        CHECK_MSG(rc == 0, "exit %d: %s", rc, o);
        CHECK(strstr(o, "Running warmup..\n") != NULL);
        CHECK(strstr(o, "Timing with prompt_tokens=16, generation_tokens=8, batch_size=1.\n") != NULL);
        CHECK(strstr(o, "Trial 1:  prompt_tps=") && strstr(o, "Trial 2:  prompt_tps="));
        CHECK(strstr(o, "Averages: prompt_tps=") && strstr(o, ", generation_tps=") && strstr(o, ", peak_memory="));
        CHECK(strstr(o, "% of the read bandwidth") != NULL);
        strbuf_free(&out);
    }

    /* MoE, 4-bit, kept in a directory: the router is 8-bit (mlx-lm's qwen3_moe predicate),
     * and the second run reuses the checkpoint */
    for (int pass = 0; pass < 2; pass++) {
        strbuf out = STRBUF_INIT;
        snprintf(cmd, sizeof cmd,
                 "'%s' bench --model '%s' --random-weights -q 4 --random-dir '%s' -p 16 -g 8 -n 1 --threads 1 "
                 "--no-ceilings --json 2>&1 1>/dev/null",
                 bin, moe, kept);
        int rc = run(cmd, &out);
        CHECK_MSG(rc == 0, "MoE pass %d: exit %d: %s", pass, rc, out.data ? out.data : "");
        CHECK_MSG(!pass || (out.data && strstr(out.data, "Reusing the random checkpoint")), "second run: %s",
                  out.data ? out.data : "");
        strbuf_free(&out);
    }
    {
        snprintf(path, sizeof path, "%s/config.json", kept);
        json_t *c = json_load_file(path, 0, NULL);
        CHECK(c != NULL);
        json_t *q = json_object_get(c, "quantization");
        CHECK(json_integer_value(json_object_get(q, "bits")) == 4);
        CHECK(json_integer_value(json_object_get(q, "group_size")) == 64);
        CHECK(json_integer_value(json_object_get(json_object_get(q, "model.layers.1.mlp.gate"), "bits")) == 8);
        CHECK(json_equal(q, json_object_get(c, "quantization_config")));
        json_decref(c);
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", kept);
        json_t *idx = json_load_file(path, 0, NULL);
        json_t *wm = json_object_get(idx, "weight_map");
        CHECK(json_is_string(json_object_get(wm, "model.layers.0.mlp.switch_mlp.down_proj.scales")));
        CHECK(json_is_string(json_object_get(wm, "model.layers.1.self_attn.q_norm.weight")));
        CHECK(json_is_string(json_object_get(wm, "lm_head.biases")));
        json_decref(idx);
        strbuf out = STRBUF_INIT;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", kept);
        CHECK(run(cmd, &out) == 0);
        strbuf_free(&out);
    }

    /* --num-layers keeps the first N decoder layers of a bigger config */
    {
        strbuf out = STRBUF_INIT;
        /* 4-bit: the loader cannot read bf16 stacked experts yet (weights.c's lm_switch_load
         * asks for "<prefix>.scales" where it means "<prefix>.weight") */
        snprintf(cmd, sizeof cmd, "'%s' bench --model '%s' --num-layers 1 -q 4 -p 8 -g 2 -n 1 --threads 1 --no-ceilings --json "
                 "2>/dev/null", bin, moe);
        CHECK(run(cmd, &out) == 0);
        json_t *j = NULL;
        CHECK(json_lines(out.data ? out.data : "", &j) == 1);
        if (j) CHECK(num(j, "num_layers") == 1 && num(j, "generation_tokens") == 2);
        json_decref(j);
        strbuf_free(&out);
    }

    /* the roofline alone */
    {
        strbuf out = STRBUF_INIT;
        snprintf(cmd, sizeof cmd, "'%s' bench --roofline --quick --threads 1 --json 2>/dev/null", bin);
        int rc = run(cmd, &out);
        CHECK_MSG(rc == 0, "roofline: exit %d", rc);
        json_t *j = NULL;
        CHECK(json_lines(out.data ? out.data : "", &j) == 1);
        if (j) {
            const char *keys[] = {"read_gbs_1", "read_gbs", "gemm_f32_gflops", "gemm_bf16_gflops", "int8_gops_1", "int8_gops",
                                  "f32_fma_gflops_1", "f32_fma_gflops"};
            for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                CHECK_MSG(num(j, keys[i]) > 0, "roofline \"%s\" = %g", keys[i], num(j, keys[i]));
            CHECK(num(j, "threads") == 1);
            CHECK(json_is_string(json_object_get(j, "int8_path")) && json_is_string(json_object_get(j, "fma_path")));
            CHECK(num(j, "bf16_dot_gflops") >= 0); /* 0 on CPUs without AVX512-BF16 */
        }
        json_decref(j);
        strbuf_free(&out);
    }

    /* bad input: a clear message and a non-zero exit */
    struct {
        const char *args, *want;
    } bad[] = {
        {"--model /nonexistent/cmlx-model", "/nonexistent/cmlx-model"},
        {"--model /tmp --random-weights", "config.json"},
        {"--model x.json -b 0", "--batch-size"},
        {"-p 16", "--model is required"},
        {"--model /nonexistent -p zero", "--prompt-tokens expects an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strbuf out = STRBUF_INIT;
        snprintf(cmd, sizeof cmd, "'%s' bench %s 2>&1", bin, bad[i].args);
        int rc = run(cmd, &out);
        CHECK_MSG(rc != 0, "'%s' exited 0", bad[i].args);
        CHECK_MSG(out.data && strstr(out.data, bad[i].want), "'%s': expected \"%s\" in: %s", bad[i].args, bad[i].want,
                  out.data ? out.data : "");
        strbuf_free(&out);
    }
    {
        /* a broken config file names the file and the position */
        snprintf(path, sizeof path, "%s/broken.json", dir);
        CHECK(write_file(path, "{\"model_type\": \"llama\", ") == 0);
        strbuf out = STRBUF_INIT;
        snprintf(cmd, sizeof cmd, "'%s' bench --model '%s' 2>&1", bin, path);
        CHECK(run(cmd, &out) != 0);
        CHECK_MSG(out.data && strstr(out.data, "broken.json") && strstr(out.data, "line"), "%s", out.data ? out.data : "");
        strbuf_free(&out);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    strbuf out = STRBUF_INIT;
    CHECK(run(cmd, &out) == 0);
    strbuf_free(&out);
    return test_finish();
}
