/* Loading models: every kind of bad input gives a clear error naming what is wrong, and a
 * copied checkpoint with one tensor changed is caught (missing, mis-shaped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/cmlx.h"
#include "cmlx/lm.h"
#include "test.h"

static char tmpdir[256];

static void write_file(const char *name, const char *text) {
    char p[1100];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int load_fails_with(const char *dir, const char *needle) {
    mx_clear_error();
    lm_model *m = lm_model_load(dir, NULL);
    if (m) {
        lm_model_free(m);
        fprintf(stderr, "loaded, expected an error containing '%s'\n", needle);
        return 0;
    }
    if (!strstr(mx_last_error(), needle)) {
        fprintf(stderr, "error '%s' lacks '%s'\n", mx_last_error(), needle);
        return 0;
    }
    return 1;
}

/* Copies the tensors of src/model.safetensors into tmpdir, replacing or dropping one. */
static int rewrite_checkpoint(const char *src, const char *drop, const char *reshape) {
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", src);
    mx_safetensors *st = mx_safetensors_open(path);
    if (!st) return -1;
    int n = mx_safetensors_count(st), k = 0;
    const char **names = calloc((size_t)n, sizeof *names);
    mx_array **arrays = calloc((size_t)n, sizeof *arrays);
    mx_pool *pool = mx_pool_begin();
    for (int i = 0; i < n; i++) {
        const char *name = mx_safetensors_name(st, i);
        if (drop && !strcmp(name, drop)) continue;
        mx_array *a = mx_safetensors_get(st, name);
        if (reshape && !strcmp(name, reshape)) a = mx_slice_axis(a, 0, 0, mx_dim(a, 0) - 1);
        names[k] = name;
        arrays[k++] = a;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    int rc = mx_safetensors_save(path, names, arrays, k, NULL, NULL, 0);
    mx_pool_end(pool);
    free(names);
    free(arrays);
    mx_safetensors_close(st);
    return rc;
}

static void copy_config(const char *src) {
    char p[1100], q[1100], buf[65536];
    snprintf(p, sizeof p, "%s/config.json", src);
    snprintf(q, sizeof q, "%s/config.json", tmpdir);
    FILE *f = fopen(p, "rb"), *g = fopen(q, "wb");
    if (f && g) {
        size_t n = fread(buf, 1, sizeof buf, f);
        fwrite(buf, 1, n, g);
    }
    if (f) fclose(f);
    if (g) fclose(g);
}

/* A gemma3 (multimodal) checkpoint keeps the text model under "language_model." and its
 * settings in text_config: the text part must load and compute exactly as gemma3_text. */
static void test_gemma3_multimodal_layout(const char *shared) {
    char src[512], path[1100];
    snprintf(src, sizeof src, "%s/models/gemma3_text-tiny", shared);
    snprintf(path, sizeof path, "%s/config.json", src);
    FILE *f = fopen(path, "rb");
    char text_cfg[16384];
    size_t n = f ? fread(text_cfg, 1, sizeof text_cfg - 1, f) : 0;
    if (f) fclose(f);
    text_cfg[n] = 0;
    char cfg[17000];
    snprintf(cfg, sizeof cfg, "{\"model_type\": \"gemma3\", \"eos_token_id\": [1, 106], \"text_config\": %s}", text_cfg);
    write_file("config.json", cfg);
    snprintf(path, sizeof path, "%s/model.safetensors", src);
    mx_safetensors *st = mx_safetensors_open(path);
    CHECK(st != NULL);
    if (!st) return;
    int count = mx_safetensors_count(st);
    char **names = calloc((size_t)count, sizeof *names);
    mx_array **arrays = calloc((size_t)count, sizeof *arrays);
    mx_pool *pool = mx_pool_begin();
    for (int i = 0; i < count; i++) {
        const char *nm = mx_safetensors_name(st, i);
        names[i] = malloc(strlen(nm) + 20);
        sprintf(names[i], "language_model.%s", nm);
        arrays[i] = mx_safetensors_get(st, nm);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    CHECK(mx_safetensors_save(path, (const char *const *)names, arrays, count, NULL, NULL, 0) == 0);
    mx_pool_end(pool);
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
    free(arrays);
    mx_safetensors_close(st);

    lm_load_options o = lm_load_options_default();
    o.dtype = MX_FLOAT32;
    lm_model *a = lm_model_load(src, &o), *b = lm_model_load(tmpdir, &o);
    CHECK(a && b);
    if (a && b) {
        CHECK(!strcmp(lm_model_type(b), "gemma3"));
        int32_t ids[6] = {5, 17, 300, 2, 44, 9};
        mx_pool *p = mx_pool_begin();
        mx_array *t = mx_array_from_data(ids, (int64_t[]){1, 6}, 2, MX_INT32);
        mx_array *la = lm_model_forward(a, t, NULL), *lb = lm_model_forward(b, t, NULL);
        float va[6 * 512], vb[6 * 512];
        CHECK(la && lb && mx_read(la, MX_FLOAT32, va) == 0 && mx_read(lb, MX_FLOAT32, vb) == 0);
        CHECK(memcmp(va, vb, sizeof va) == 0);
        int n_eos = 0;
        const int32_t *eos = lm_model_eos_ids(b, &n_eos);
        CHECK(n_eos >= 1 && eos != NULL);
        mx_pool_end(p);
    }
    lm_model_free(a);
    lm_model_free(b);
}

/* mlx-lm stores float MoE experts stacked under switch_mlp: such a checkpoint must compute
 * exactly as the Hugging Face layout it came from (one tensor per expert). */
static void test_stacked_float_experts(const char *shared) {
    char src[512], path[1100];
    snprintf(src, sizeof src, "%s/models/qwen3_moe-tiny", shared);
    copy_config(src);
    snprintf(path, sizeof path, "%s/model.safetensors", src);
    mx_safetensors *st = mx_safetensors_open(path);
    CHECK(st != NULL);
    if (!st) return;
    int count = mx_safetensors_count(st), k = 0;
    char **names = calloc((size_t)count, sizeof *names);
    mx_array **arrays = calloc((size_t)count, sizeof *arrays);
    mx_pool *pool = mx_pool_begin();
    const char *proj[3] = {"gate_proj", "up_proj", "down_proj"};
    for (int i = 0; i < count; i++) {
        const char *nm = mx_safetensors_name(st, i);
        if (strstr(nm, ".mlp.experts.")) continue;
        names[k] = strdup(nm);
        arrays[k++] = mx_safetensors_get(st, nm);
    }
    for (int l = 0; l < 3; l++)
        for (int j = 0; j < 3; j++) {
            mx_array *parts[8];
            for (int e = 0; e < 8; e++) {
                char nm[256];
                snprintf(nm, sizeof nm, "model.layers.%d.mlp.experts.%d.%s.weight", l, e, proj[j]);
                parts[e] = mx_safetensors_get(st, nm);
            }
            names[k] = malloc(128);
            snprintf(names[k], 128, "model.layers.%d.mlp.switch_mlp.%s.weight", l, proj[j]);
            arrays[k++] = mx_stack((const mx_array *const *)parts, 8, 0);
        }
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    CHECK(mx_safetensors_save(path, (const char *const *)names, arrays, k, NULL, NULL, 0) == 0);
    mx_pool_end(pool);
    for (int i = 0; i < k; i++) free(names[i]);
    free(names);
    free(arrays);
    mx_safetensors_close(st);
    lm_load_options o = lm_load_options_default();
    o.dtype = MX_FLOAT32;
    lm_model *a = lm_model_load(src, &o), *b = lm_model_load(tmpdir, &o);
    CHECK(a && b);
    if (a && b) {
        int32_t ids[5] = {7, 99, 300, 12, 4};
        mx_pool *p = mx_pool_begin();
        mx_array *t = mx_array_from_data(ids, (int64_t[]){1, 5}, 2, MX_INT32);
        float va[5 * 512], vb[5 * 512];
        CHECK(mx_read(lm_model_forward(a, t, NULL), MX_FLOAT32, va) == 0);
        CHECK(mx_read(lm_model_forward(b, t, NULL), MX_FLOAT32, vb) == 0);
        CHECK(memcmp(va, vb, sizeof va) == 0);
        mx_pool_end(p);
    }
    lm_model_free(a);
    lm_model_free(b);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cmlx_test_lm_load_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;

    CHECK(load_fails_with("/nonexistent/model/dir", "neither a directory nor"));
    CHECK(load_fails_with(tmpdir, "config.json"));
    write_file("config.json", "{\"model_type\": \"llama\", \"hidden_size\": 64,");
    CHECK(load_fails_with(tmpdir, "invalid JSON at line"));
    write_file("config.json", "[1, 2]");
    CHECK(load_fails_with(tmpdir, "not a JSON object"));
    write_file("config.json", "{\"hidden_size\": 64}");
    CHECK(load_fails_with(tmpdir, "missing \"model_type\""));
    write_file("config.json", "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2}");
    CHECK(load_fails_with(tmpdir, "\"num_attention_heads\""));
    write_file("config.json", "{\"model_type\": \"gpt_neox\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
                              "\"num_attention_heads\": 4, \"vocab_size\": 10}");
    CHECK(load_fails_with(tmpdir, "not supported (supported: llama, mistral"));
    write_file("config.json", "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
                              "\"num_attention_heads\": 3, \"num_key_value_heads\": 2, \"vocab_size\": 10}");
    CHECK(load_fails_with(tmpdir, "inconsistent sizes"));

    const char *shared = test_shared_dir("real checkpoints for missing / mis-shaped tensors");
    if (shared) {
        char src[512];
        snprintf(src, sizeof src, "%s/models/llama-tiny", shared);
        copy_config(src);
        CHECK(rewrite_checkpoint(src, "model.layers.1.mlp.up_proj.weight", NULL) == 0);
        CHECK(load_fails_with(tmpdir, "missing tensor \"model.layers.1.mlp.up_proj.weight\""));
        CHECK(rewrite_checkpoint(src, NULL, "model.layers.0.self_attn.k_proj.weight") == 0);
        CHECK(load_fails_with(tmpdir, "\"model.layers.0.self_attn.k_proj.weight\" has shape (31, 64), expected (32, 64)"));
        /* and the untouched checkpoint loads, with its properties */
        lm_model *m = lm_model_load(src, NULL);
        CHECK(m != NULL);
        if (m) {
            CHECK(!strcmp(lm_model_type(m), "llama") && lm_model_vocab_size(m) == 512 && lm_model_num_layers(m) == 3);
            int n_eos = 0;
            const int32_t *eos = lm_model_eos_ids(m, &n_eos);
            CHECK(n_eos >= 1 && eos[0] == 2);
            CHECK(lm_model_weight_bytes(m) > 100000);
            /* a prompt longer than the context is refused with the numbers */
            lm_generate_params p = lm_generate_default();
            int64_t maxpos = lm_model_max_position(m);
            int32_t *ids = calloc((size_t)maxpos + 1, sizeof *ids);
            for (int64_t i = 0; i <= maxpos; i++) ids[i] = 5;
            p.max_tokens = 1;
            mx_clear_error();
            CHECK(lm_generate(m, NULL, ids, (size_t)maxpos + 1, &p, NULL, NULL, NULL) == -1);
            CHECK(strstr(mx_last_error(), "more than the model's context") != NULL);
            free(ids);
            lm_model_free(m);
        }
    }
    if (shared) test_gemma3_multimodal_layout(shared);
    if (shared) test_stacked_float_experts(shared);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_finish();
}
