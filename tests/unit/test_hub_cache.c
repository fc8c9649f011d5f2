/* The hub's offline pieces: repo ids, where the cache is, huggingface_hub's size and age
 * formats, the cache-layout helpers, and scanning / deleting a cache laid out by hand
 * exactly as huggingface_hub lays it out (including broken entries it reports). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/error.h"
#include "cmlx/lm_hub.h"
#include "hub_fixture.h"
#include "lm/hub/hub_internal.h"
#include "test.h"

static void test_repo_ids(void) {
    const char *good[] = {"mlx-community/Qwen3-0.6B-4bit", "gpt2", "org_1/name.v2", "a/b"};
    const char *bad[] = {"", "/x", "a/", "a/b/c", "a--b/c", "a/..b", "-a/b", "a/b.", "a b/c", "a/b?",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/b" /* > 96 */};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) CHECK_MSG(lm_hub_is_repo_id(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_MSG(!lm_hub_is_repo_id(bad[i]), "%s", bad[i]);
}

static void expect_cache_dir(const char *want) {
    char *got = lm_hub_default_cache_dir();
    CHECK_MSG(got && !strcmp(got, want), "cache dir %s, want %s", got ? got : "(null)", want);
    free(got);
}

static void test_cache_location(void) {
    char *saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    unsetenv("HF_HOME");
    unsetenv("HF_HUB_CACHE");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/someone", 1);
    expect_cache_dir("/home/someone/.cache/huggingface/hub");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    expect_cache_dir("/xdg/huggingface/hub");
    setenv("HF_HOME", "~/hf", 1);
    expect_cache_dir("/home/someone/hf/hub");
    setenv("HUGGINGFACE_HUB_CACHE", "/legacy", 1);
    expect_cache_dir("/legacy");
    setenv("HF_HUB_CACHE", "/fast/hub", 1);
    expect_cache_dir("/fast/hub");
    unsetenv("HF_HUB_CACHE");
    unsetenv("HUGGINGFACE_HUB_CACHE");
    unsetenv("XDG_CACHE_HOME");
    if (saved_home) setenv("HOME", saved_home, 1);
    free(saved_home);
    const char *truthy[] = {"1", "ON", "yes", "True"};
    for (size_t i = 0; i < 4; i++) {
        setenv("HF_HUB_OFFLINE", truthy[i], 1);
        CHECK(lm_hub_offline_env() == 1);
    }
    setenv("HF_HUB_OFFLINE", "0", 1);
    CHECK(lm_hub_offline_env() == 0);
    unsetenv("HF_HUB_OFFLINE");
}

static void test_formats(void) {
    char b[32];
    CHECK(!strcmp(lm_hub_format_size(0, b, sizeof b), "0.0"));
    CHECK(!strcmp(lm_hub_format_size(999, b, sizeof b), "999.0"));
    CHECK(!strcmp(lm_hub_format_size(1000, b, sizeof b), "1.0K"));
    CHECK(!strcmp(lm_hub_format_size(42200, b, sizeof b), "42.2K"));
    CHECK(!strcmp(lm_hub_format_size(893800000, b, sizeof b), "893.8M"));
    CHECK(!strcmp(lm_hub_format_size(3000000000ull, b, sizeof b), "3.0G"));
    double now = 1.7e9;
    struct { double ago; const char *want; } ages[] = {
        {5, "a few seconds ago"},   {30, "30 seconds ago"},        {90, "2 minutes ago"},
        {150, "2 minutes ago"},     /* round(2.5) = 2: Python rounds ties to even */
        {7200, "2 hours ago"},      {86400, "24 hours ago"},       {2 * 86400, "2 days ago"},
        {8 * 86400, "1 week ago"},  {60 * 86400, "2 months ago"},  {400 * 86400, "1 year ago"},
    };
    for (size_t i = 0; i < sizeof ages / sizeof ages[0]; i++) {
        lm_hub_format_age(now - ages[i].ago, now, b, sizeof b);
        CHECK_MSG(!strcmp(b, ages[i].want), "%g s ago: '%s', want '%s'", ages[i].ago, b, ages[i].want);
    }
}

static void test_layout_helpers(void) {
    char out[128];
    CHECK(hub_normalize_etag("\"abc123\"", out, sizeof out) == 0 && !strcmp(out, "abc123"));
    CHECK(hub_normalize_etag("W/\"abc123\"", out, sizeof out) == 0 && !strcmp(out, "abc123"));
    CHECK(hub_normalize_etag("\"../x\"", out, sizeof out) != 0);
    CHECK(hub_normalize_etag("\"\"", out, sizeof out) != 0);
    CHECK(hub_is_safe_repo_path("a/b/c.json") && hub_is_safe_repo_path("model.safetensors"));
    CHECK(!hub_is_safe_repo_path("../x") && !hub_is_safe_repo_path("/etc/x") && !hub_is_safe_repo_path("a//b") &&
          !hub_is_safe_repo_path("a/./b") && !hub_is_safe_repo_path("a\\b") && !hub_is_safe_repo_path(""));
    CHECK(hub_is_safe_revision("refs/pr/1") && !hub_is_safe_revision("../main"));
    CHECK(hub_is_commit_hash("0123456789abcdef0123456789abcdef01234567"));
    CHECK(!hub_is_commit_hash("0123456789ABCDEF0123456789abcdef01234567") && !hub_is_commit_hash("main"));
    char *name = hub_repo_folder_name("gpt2");
    CHECK(name && !strcmp(name, "models--gpt2"));
    free(name);
    name = hub_repo_folder_name("mlx-community/Qwen3-4bit");
    CHECK(name && !strcmp(name, "models--mlx-community--Qwen3-4bit"));
    free(name);
    char *t = hub_blob_link_target("a/b/c.json", "e1");
    CHECK(t && !strcmp(t, "../../../../blobs/e1"));
    free(t);
}

/* ==== a cache made by hand, in huggingface_hub's layout ==== */

static void put(const char *root, const char *rel, const char *content) {
    char path[PATH_MAX], cmd[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    CHECK(system(cmd) == 0);
    CHECK(hub_fixture_write(path, content, strlen(content)) == 0);
}

static void link_to(const char *root, const char *rel, const char *target) {
    char path[PATH_MAX], cmd[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    CHECK(system(cmd) == 0);
    CHECK(symlink(target, path) == 0);
}

static void test_scan_and_delete(const char *home) {
    char cache[1024];
    snprintf(cache, sizeof cache, "%s/hub", home);
    lm_hub_cache_info *info = NULL;
    CHECK(lm_hub_scan_cache(cache, &info) == 0 && info && info->n_repos == 0);  /* no cache yet */
    lm_hub_cache_info_free(info);
    /* a good repo with two revisions sharing one blob */
    put(cache, "models--org--good/blobs/1111", "0123456789");  /* 10 bytes */
    put(cache, "models--org--good/blobs/2222", "abc");         /* 3 bytes */
    put(cache, "models--org--good/blobs/3333", "xy");          /* 2 bytes */
    put(cache, "models--org--good/blobs/9999.incomplete", "partial");
    put(cache, "models--org--good/refs/main", "cccccccccccccccccccccccccccccccccccccccc");
    link_to(cache, "models--org--good/snapshots/cccccccccccccccccccccccccccccccccccccccc/model.safetensors",
            "../../blobs/1111");
    link_to(cache, "models--org--good/snapshots/cccccccccccccccccccccccccccccccccccccccc/config.json",
            "../../blobs/2222");
    link_to(cache, "models--org--good/snapshots/dddddddddddddddddddddddddddddddddddddddd/model.safetensors",
            "../../blobs/1111");
    link_to(cache, "models--org--good/snapshots/dddddddddddddddddddddddddddddddddddddddd/sub/x.json",
            "../../../blobs/3333");
    put(cache, "datasets--org--data/snapshots/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee/a.txt", "plain file");
    /* broken entries huggingface_hub reports as warnings */
    link_to(cache, "models--org--broken/snapshots/ffffffffffffffffffffffffffffffffffffffff/config.json",
            "../../blobs/missing");
    put(cache, "models--org--dangling/refs/main", "0000000000000000000000000000000000000000");
    put(cache, "models--org--dangling/snapshots/.keep/ignored", "");
    put(cache, "not-a-repo/file", "x");
    put(cache, ".locks/models--org--good/1111.lock", "");
    put(cache, "CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55");
    /* what Python tools left is used as it is, offline */
    lm_hub_options o = {0};
    o.cache_dir = cache;
    o.local_files_only = 1;
    char *dir = NULL, *file = NULL;
    CHECK(lm_hub_resolve("org/good", NULL, &o, &dir) == 0);
    CHECK_MSG(dir && strstr(dir, "/models--org--good/snapshots/cccccccccccccccccccccccccccccccccccccccc"), "%s",
              dir ? dir : mx_last_error());
    free(dir);
    dir = NULL;
    CHECK(lm_hub_resolve("org/good", "dddddddddddddddddddddddddddddddddddddddd", &o, &dir) == 0 && dir);
    free(dir);
    CHECK(lm_hub_download_file("org/good", "config.json", NULL, &o, &file) == 0);
    unsigned char *text = file ? hub_fixture_read(file, NULL) : NULL;
    CHECK(text && !strcmp((char *)text, "abc"));
    free(text);
    free(file);
    CHECK(lm_hub_download_file("org/good", "tokenizer.json", NULL, &o, &file) != 0);
    CHECK_MSG(strstr(mx_last_error(), "tokenizer.json") && strstr(mx_last_error(), "org/good"), "%s", mx_last_error());
    info = NULL;
    CHECK(lm_hub_scan_cache(cache, &info) == 0);
    if (!info) return;
    CHECK_MSG(info->n_repos == 2, "%zu repos", info->n_repos);
    CHECK_MSG(info->n_warnings == 3, "%zu warnings", info->n_warnings);
    for (size_t i = 0; i < info->n_warnings; i++) printf("  scan warning (expected): %s\n", info->warnings[i]);
    CHECK(info->incomplete_bytes == 7);
    if (info->n_repos == 2) {
        const lm_hub_cached_repo *d = &info->repos[0], *g = &info->repos[1];  /* sorted by path */
        CHECK(!strcmp(d->repo_id, "org/data") && !strcmp(d->repo_type, "dataset") && d->size_on_disk == 10);
        CHECK(!strcmp(g->repo_id, "org/good") && !strcmp(g->repo_type, "model"));
        CHECK_MSG(g->size_on_disk == 15 && g->nb_files == 3 && g->nb_revisions == 2,
                  "good: %llu bytes, %zu files, %zu revisions", (unsigned long long)g->size_on_disk, g->nb_files,
                  g->nb_revisions);
        CHECK(!strcmp(g->refs, "main"));
        CHECK(g->last_modified > 1e9 && g->last_accessed > 1e9);
        /* a path outside the cache is refused */
        lm_hub_cached_repo forged = *g;
        forged.path = "/tmp";
        CHECK(lm_hub_delete_cached_repo(info, &forged) != 0 && strstr(mx_last_error(), "refusing"));
        char forged_path[PATH_MAX];
        snprintf(forged_path, sizeof forged_path, "%s/not-a-repo", cache);
        forged.path = forged_path;
        CHECK(lm_hub_delete_cached_repo(info, &forged) != 0);
        CHECK(lm_hub_delete_cached_repo(info, g) == 0);
        struct stat st;
        CHECK(lstat(g->path, &st) != 0);
        char lock[PATH_MAX];
        snprintf(lock, sizeof lock, "%s/.locks/models--org--good", cache);
        CHECK(lstat(lock, &st) != 0);
        CHECK(lstat(forged_path, &st) == 0);  /* untouched */
    }
    lm_hub_cache_info_free(info);
}

int main(void) {
    test_repo_ids();
    test_cache_location();
    test_formats();
    test_layout_helpers();
    const char *home = hub_fixture_home("hub-cache");
    CHECK(home != NULL);
    if (home) {
        test_scan_and_delete(home);
        hub_fixture_remove(home);
    }
    return test_finish();
}
