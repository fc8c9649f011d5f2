/* Sharded checkpoints: a directory with model.safetensors.index.json, the index JSON itself,
 * a directory of shards without an index, and the ways an index or a set of shards can be
 * inconsistent (missing shard, tensor the shard lacks, name in two shards, path escape). */
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/cmlx.h"
#include "io/safetensors.h"
#include "test.h"
#include "test_io_util.h"

static char root[256];

static void make_dir(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", root, name);
    if (mkdir(out, 0755) != 0) perror(out);
}

/* Saves tensors named in `names` (NULL-terminated); tensor k holds k*10 + [0, 1, 2] as float32. */
static void write_shard(const char *dir, const char *file, const char *const *names, const char *meta_value) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    mx_pool *p = mx_pool_begin();
    mx_array *arr[8];
    int n = 0;
    for (; names[n]; n++) {
        float v[3];
        int k = names[n][0] - 'a';
        for (int i = 0; i < 3; i++) v[i] = (float)(k * 10 + i);
        int64_t s = 3;
        arr[n] = mx_array_from_data(v, &s, 1, MX_FLOAT32);
    }
    const char *mk = "shard";
    CHECK_MSG(mx_safetensors_save(path, names, arr, n, &mk, &meta_value, meta_value ? 1 : 0) == 0, "%s",
              mx_last_error());
    mx_pool_end(p);
}

static void write_text(const char *dir, const char *file, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    CHECK(io_write_bytes(path, text, strlen(text)) == 0);
}

static const char *INDEX_OK =
    "{\"metadata\": {\"total_size\": 36},\n \"weight_map\": {\n"
    "  \"a\": \"model-00001-of-00002.safetensors\",\n  \"b\": \"model-00001-of-00002.safetensors\",\n"
    "  \"c\": \"model-00002-of-00002.safetensors\"}}\n";

static void check_abc(mx_safetensors *st, const char *what) {
    CHECK_MSG(st != NULL, "%s: %s", what, mx_last_error());
    if (!st) return;
    CHECK(mx_safetensors_count(st) == 3);
    CHECK(mx_safetensors_file_count(st) == 2);
    const char *want[3] = {"a", "b", "c"};
    for (int i = 0; i < 3 && i < mx_safetensors_count(st); i++) {
        CHECK(strcmp(mx_safetensors_name(st, i), want[i]) == 0);
        mx_array *x = mx_safetensors_get(st, want[i]);
        float v[3] = {0};
        CHECK(x && mx_read(x, MX_FLOAT32, v) == 0 && v[0] == (float)(i * 10) && v[2] == (float)(i * 10 + 2));
        mx_free(x);
    }
    mx_safetensors_info info;
    CHECK(mx_safetensors_info_of(st, "c", &info) == 0 && strstr(info.file, "model-00002-of-00002") != NULL);
    /* Metadata of the shards, first shard winning. */
    CHECK(mx_safetensors_metadata(st, "shard") && strcmp(mx_safetensors_metadata(st, "shard"), "one") == 0);
    CHECK(mx_safetensors_metadata_count(st) == 1);
}

static void test_good(void) {
    char d[512], p[600];
    make_dir(d, sizeof d, "good");
    write_shard(d, "model-00001-of-00002.safetensors", (const char *[]){"a", "b", NULL}, "one");
    write_shard(d, "model-00002-of-00002.safetensors", (const char *[]){"c", NULL}, "two");
    write_text(d, "model.safetensors.index.json", INDEX_OK);

    mx_safetensors *st = mx_safetensors_open(d);
    check_abc(st, "directory with index");
    mx_safetensors_close(st);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", d);
    st = mx_safetensors_open(p);
    check_abc(st, "index path");
    mx_safetensors_close(st);
    /* A relative index path resolves shards next to it. */
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(d) == 0);
    st = mx_safetensors_open("model.safetensors.index.json");
    check_abc(st, "relative index path");
    mx_safetensors_close(st);
    CHECK(chdir(cwd) == 0);
    /* One shard on its own. */
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", d);
    st = mx_safetensors_open(p);
    CHECK(st && mx_safetensors_count(st) == 1 && mx_safetensors_has(st, "c"));
    mx_safetensors_close(st);

    /* No index: every *.safetensors in the directory. */
    make_dir(d, sizeof d, "noindex");
    write_shard(d, "model-00001-of-00002.safetensors", (const char *[]){"a", "b", NULL}, "one");
    write_shard(d, "model-00002-of-00002.safetensors", (const char *[]){"c", NULL}, "two");
    write_text(d, "config.json", "{}");
    st = mx_safetensors_open(d);
    check_abc(st, "directory without index");
    mx_safetensors_close(st);

    /* A directory holding a single model.safetensors. */
    make_dir(d, sizeof d, "single");
    write_shard(d, "model.safetensors", (const char *[]){"a", NULL}, NULL);
    st = mx_safetensors_open(d);
    CHECK(st && mx_safetensors_count(st) == 1 && mx_safetensors_metadata_count(st) == 0);
    mx_safetensors_close(st);
}

static void expect_fail(const char *path, const char *a, const char *b, const char *what) {
    mx_clear_error();
    mx_safetensors *st = mx_safetensors_open(path);
    CHECK_MSG(st == NULL, "%s was accepted", what);
    mx_safetensors_close(st);
    CHECK_MSG(io_error_has(a, b, NULL), "%s: message", what);
}

static void test_bad(void) {
    char d[512];
    make_dir(d, sizeof d, "missing");
    write_shard(d, "model-00001-of-00002.safetensors", (const char *[]){"a", "b", NULL}, "one");
    write_text(d, "model.safetensors.index.json", INDEX_OK);
    expect_fail(d, "names shard model-00002-of-00002.safetensors (for tensor 'c'), which is missing",
                "model.safetensors.index.json", "missing shard");

    make_dir(d, sizeof d, "lacks");
    write_shard(d, "model-00001-of-00002.safetensors", (const char *[]){"a", NULL}, "one");
    write_shard(d, "model-00002-of-00002.safetensors", (const char *[]){"c", NULL}, "two");
    write_text(d, "model.safetensors.index.json", INDEX_OK);
    expect_fail(d, "index puts tensor 'b' in", "which has no such tensor", "tensor the shard lacks");

    make_dir(d, sizeof d, "dup");
    write_shard(d, "model-00001-of-00002.safetensors", (const char *[]){"a", "b", NULL}, "one");
    write_shard(d, "model-00002-of-00002.safetensors", (const char *[]){"b", "c", NULL}, "two");
    expect_fail(d, "tensor 'b' is in both", "model-00002-of-00002.safetensors (file byte", "duplicate across shards");
    /* Through an index too: the index lists 'b' once, but both shards hold it. */
    write_text(d, "model.safetensors.index.json", INDEX_OK);
    expect_fail(d, "tensor 'b' is in both", "model-00001-of-00002.safetensors", "duplicate across indexed shards");

    make_dir(d, sizeof d, "escape");
    write_text(d, "model.safetensors.index.json", "{\"weight_map\": {\"a\": \"../good/model-00001-of-00002.safetensors\"}}");
    expect_fail(d, "tensor 'a'", "not a file name in the index's directory", "index escaping its directory");

    make_dir(d, sizeof d, "badjson");
    write_text(d, "model.safetensors.index.json", "{\"weight_map\": {\"a\": }");
    expect_fail(d, "index is not valid JSON", "line 1", "index not JSON");

    make_dir(d, sizeof d, "nomap");
    write_text(d, "model.safetensors.index.json", "{\"metadata\": {}}");
    expect_fail(d, "no \"weight_map\" object", "model.safetensors.index.json", "index without weight_map");

    make_dir(d, sizeof d, "notstring");
    write_text(d, "model.safetensors.index.json", "{\"weight_map\": {\"a\": 3}}");
    expect_fail(d, "tensor 'a'", "not a file name string", "shard name not a string");

    make_dir(d, sizeof d, "emptymap");
    write_text(d, "model.safetensors.index.json", "{\"weight_map\": {}}");
    expect_fail(d, "\"weight_map\" is empty", "emptymap", "empty weight_map");

    /* A broken shard is reported with the shard's own path. */
    make_dir(d, sizeof d, "brokenshard");
    write_shard(d, "model-00001-of-00002.safetensors", (const char *[]){"a", "b", NULL}, "one");
    char shard[600];
    snprintf(shard, sizeof shard, "%s/model-00002-of-00002.safetensors", d);
    CHECK(io_write_st(shard, "{\"c\": garbage!!}", NULL, 0) == 0);
    write_text(d, "model.safetensors.index.json", INDEX_OK);
    expect_fail(d, "model-00002-of-00002.safetensors: header is not valid JSON", "line 1", "broken shard");
}

int main(void) {
    io_tmpdir(root, sizeof root);
    test_good();
    test_bad();
    io_rmtree(root);
    return test_finish();
}
