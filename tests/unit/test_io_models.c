/* The real checkpoints in ../shared/models: every tensor of every model read through
 * mx_safetensors_open matches a direct read of the file (header parsed here with jansson,
 * bytes with pread), and a few known tensors have the names, dtypes, shapes, file offsets and
 * first bytes that Python's safetensors reports for them. */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <unistd.h>

#include "cmlx/cmlx.h"
#include "io/safetensors.h"
#include "test.h"
#include "test_io_util.h"

/* Compares every tensor of `file` (one shard) with what st returns. */
static int check_file_directly(mx_safetensors *st, const char *file) {
    int fd = open(file, O_RDONLY);
    CHECK_MSG(fd >= 0, "open %s", file);
    if (fd < 0) return 0;
    unsigned char len8[8];
    CHECK(pread(fd, len8, 8, 0) == 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | len8[i];
    char *hdr = malloc((size_t)n);
    CHECK(hdr && pread(fd, hdr, (size_t)n, 8) == (ssize_t)n);
    json_error_t err;
    json_t *root = json_loadb(hdr, (size_t)n, 0, &err);
    free(hdr);
    CHECK(root != NULL);
    int count = 0;
    const char *name;
    json_t *e;
    json_object_foreach(root, name, e) {
        if (strcmp(name, "__metadata__") == 0) continue;
        count++;
        mx_pool *pool = mx_pool_begin();
        mx_array *a = mx_safetensors_get(st, name);
        CHECK_MSG(a != NULL, "%s: get '%s': %s", file, name, mx_last_error());
        if (!a) {
            mx_pool_end(pool);
            continue;
        }
        mx_dtype want;
        CHECK(mx_safetensors_dtype_from_string(json_string_value(json_object_get(e, "dtype")), &want) ==
              MX_ST_DTYPE_SUPPORTED);
        CHECK(mx_array_dtype(a) == want);
        json_t *shape = json_object_get(e, "shape");
        CHECK(mx_ndim(a) == (int)json_array_size(shape));
        for (int d = 0; d < mx_ndim(a); d++) CHECK(mx_shape(a)[d] == json_integer_value(json_array_get(shape, d)));
        json_t *offs = json_object_get(e, "data_offsets");
        int64_t b = json_integer_value(json_array_get(offs, 0)), en = json_integer_value(json_array_get(offs, 1));
        CHECK((int64_t)mx_nbytes(a) == en - b);
        unsigned char *direct = malloc((size_t)(en - b) + 1);
        CHECK(pread(fd, direct, (size_t)(en - b), (off_t)(8 + n + b)) == en - b);
        const void *p = mx_data(a);
        CHECK_MSG(p && memcmp(p, direct, (size_t)(en - b)) == 0, "%s: bytes of '%s'", file, name);
        free(direct);
        mx_pool_end(pool);
    }
    json_decref(root);
    close(fd);
    return count;
}

typedef struct model_expect {
    const char *dir;
    int n_tensors;
    int n_files;
    const char *format;   /* __metadata__ "format" */
} model_expect;

static const model_expect models[] = {
    {"gemma3_text-tiny", 41, 1, "pt"},  {"llama-tiny", 30, 1, "pt"},       {"llama-tiny-4bit", 76, 1, "mlx"},
    {"llama-tiny-8bit", 76, 1, "mlx"},  {"mistral-tiny", 30, 1, "pt"},     {"mixtral-tiny", 60, 1, "pt"},
    {"phi3-tiny", 21, 1, "pt"},         {"qwen2-tiny", 39, 1, "pt"},       {"qwen3-tiny", 35, 1, "pt"},
    {"qwen3-tiny-4bit", 79, 1, "mlx"},  {"qwen3-tiny-8bit", 79, 1, "mlx"}, {"qwen3_moe-tiny", 102, 1, "pt"},
    {"qwen3_moe-tiny-4bit", 91, 1, "mlx"}, {"qwen3_moe-tiny-8bit", 91, 1, "mlx"}, {"stories260K", 47, 1, "pt"},
};

static void test_all_models(const char *shared) {
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/models/%s", shared, models[m].dir);
        mx_safetensors *st = mx_safetensors_open(dir);
        CHECK_MSG(st != NULL, "open %s: %s", dir, mx_last_error());
        if (!st) continue;
        CHECK_MSG(mx_safetensors_count(st) == models[m].n_tensors, "%s: %d tensors", models[m].dir,
                  mx_safetensors_count(st));
        CHECK(mx_safetensors_file_count(st) == models[m].n_files);
        const char *fmt = mx_safetensors_metadata(st, "format");
        CHECK_MSG(fmt && strcmp(fmt, models[m].format) == 0, "%s: format %s", models[m].dir, fmt ? fmt : "(none)");
        int seen = 0;
        for (int f = 0; f < mx_safetensors_file_count(st); f++)
            seen += check_file_directly(st, mx_safetensors_file_path(st, f));
        CHECK(seen == models[m].n_tensors);
        mx_safetensors_close(st);
    }
}

typedef struct tensor_expect {
    const char *model, *name;
    mx_dtype dtype;
    int ndim;
    int64_t shape[2];
    uint64_t file_offset;
    unsigned char first[8];
} tensor_expect;

/* From Python: json header + f.seek(8 + N + begin); f.read(8). */
static const tensor_expect known[] = {
    {"llama-tiny", "lm_head.weight", MX_BFLOAT16, 2, {512, 64}, 3104,
     {0x92, 0x3e, 0xd3, 0x3d, 0xb8, 0xbe, 0xfb, 0x39}},
    {"llama-tiny", "model.norm.weight", MX_BFLOAT16, 1, {64}, 356128, {0x7d, 0x3f, 0x78, 0x3f, 0x80, 0x3f, 0x74, 0x3f}},
    {"qwen3-tiny-4bit", "model.embed_tokens.weight", MX_UINT32, 2, {512, 8}, 9984,
     {0x5b, 0xca, 0x76, 0x97, 0x63, 0x47, 0x4b, 0xeb}},
    {"qwen3-tiny-4bit", "model.layers.0.self_attn.q_proj.scales", MX_BFLOAT16, 2, {64, 1}, 44096,
     {0xa6, 0x3d, 0x3e, 0xbd, 0x79, 0xbd, 0x4d, 0xbd}},
};

static void test_known_tensors(const char *shared) {
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        const tensor_expect *t = &known[k];
        char path[1024];
        snprintf(path, sizeof path, "%s/models/%s/model.safetensors", shared, t->model);
        mx_safetensors *st = mx_safetensors_open(path);
        CHECK_MSG(st != NULL, "%s", mx_last_error());
        if (!st) continue;
        mx_safetensors_info info;
        CHECK(mx_safetensors_info_of(st, t->name, &info) == 0);
        CHECK(info.supported && info.dtype == t->dtype && info.ndim == t->ndim && info.file_offset == t->file_offset);
        mx_array *a = mx_safetensors_get(st, t->name);
        CHECK(a && mx_array_dtype(a) == t->dtype && mx_ndim(a) == t->ndim);
        for (int d = 0; a && d < t->ndim; d++) CHECK(mx_shape(a)[d] == t->shape[d]);
        /* Direct read at the known offset. */
        unsigned char direct[8];
        int fd = open(path, O_RDONLY);
        CHECK(fd >= 0 && pread(fd, direct, 8, (off_t)t->file_offset) == 8);
        if (fd >= 0) close(fd);
        CHECK(memcmp(direct, t->first, 8) == 0);
        const unsigned char *p = a ? mx_data(a) : NULL;
        CHECK_MSG(p && memcmp(p, t->first, 8) == 0, "%s: first bytes of '%s'", t->model, t->name);
        mx_free(a);
        mx_safetensors_close(st);
    }
    /* A bf16 value read through the array API: model.norm.weight[0] is 0x3f7d = 0.98828125. */
    char path[1024];
    snprintf(path, sizeof path, "%s/models/llama-tiny", shared);
    mx_safetensors *st = mx_safetensors_open(path);
    mx_pool *pool = mx_pool_begin();
    mx_array *w = st ? mx_safetensors_get(st, "model.norm.weight") : NULL;
    CHECK(w && mx_item_double(mx_slice_axis(w, 0, 0, 1)) == 0.98828125);
    mx_pool_end(pool);
    mx_safetensors_close(st);
}

/* The MLX-quantized checkpoints, through their index JSON given directly. */
static void test_index(const char *shared) {
    const char *names[] = {"llama-tiny-4bit", "qwen3-tiny-4bit", "qwen3_moe-tiny-8bit"};
    for (int i = 0; i < 3; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/models/%s/model.safetensors.index.json", shared, names[i]);
        mx_safetensors *st = mx_safetensors_open(path);
        CHECK_MSG(st != NULL, "%s: %s", path, mx_last_error());
        if (!st) continue;
        CHECK(mx_safetensors_file_count(st) == 1);
        CHECK(strstr(mx_safetensors_file_path(st, 0), "/model.safetensors") != NULL);
        CHECK(mx_safetensors_has(st, "model.layers.0.self_attn.q_proj.biases"));
        mx_safetensors_info info;
        CHECK(mx_safetensors_info_of(st, "model.layers.0.self_attn.q_proj.weight", &info) == 0 &&
              info.dtype == MX_UINT32);
        mx_safetensors_close(st);
    }
}

int main(void) {
    const char *shared = test_shared_dir("the safetensors model tests read ../shared/models");
    if (!shared) return test_finish();
    test_all_models(shared);
    test_known_tensors(shared);
    test_index(shared);
    return test_finish();
}
