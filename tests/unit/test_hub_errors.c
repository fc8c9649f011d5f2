/* Hub failures against a real HTTP server (tests/e2e/fake_hub.c): private and gated repos
 * (401/403 and the token from HF_TOKEN or the token file), missing repos (404), an
 * unreachable hub, offline mode without a cached copy, bad input, and a server that names
 * a file outside the repo. Every message must say what failed and what to do. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/error.h"
#include "cmlx/lm_hub.h"
#include "fake_hub.h"
#include "hub_fixture.h"
#include "test.h"

#define COMMIT "0123456789abcdef0123456789abcdef01234567"
#define TXT(s) (const unsigned char *)(s), sizeof(s) - 1

static unsigned char weights[50000];
static const fake_hub_file files[] = {
    {"config.json", TXT("{\"model_type\": \"llama\"}"), 0},
    {"model.safetensors", weights, sizeof weights, 1},
};
static const fake_hub_file evil_files[] = {
    {"config.json", TXT("{}"), 0},
    {"../../../escaped.json", TXT("{\"owned\": true}"), 0},
};
static const fake_hub_revision rev[] = {{COMMIT, {"main", NULL}, files, 2}};
static const fake_hub_revision evil_rev[] = {{COMMIT, {"main", NULL}, evil_files, 2}};
static const fake_hub_repo repos[] = {
    {"org/private", "hf_secret", 0, rev, 1, NULL},
    {"org/private-file", "hf_from_file", 0, rev, 1, NULL},
    {"org/private-wrong", "hf_other", 0, rev, 1, NULL},
    {"org/gated", "hf_gate", 1, rev, 1, NULL},
    {"org/evil", NULL, 0, evil_rev, 1, NULL},
    {"org/public", NULL, 0, rev, 1, NULL},
    {"org/disk", NULL, 0, rev, 1, NULL},
};

static fake_hub *hub;
static const char *home;

static lm_hub_options options(void) {
    lm_hub_options o = {0};
    o.endpoint = fake_hub_endpoint(hub);
    return o;
}

/* Resolves `repo`, expecting failure with every one of `words` in the message. */
static void expect_failure(const char *repo, const lm_hub_options *o, const char *const *words) {
    char *dir = NULL;
    mx_clear_error();
    int rc = lm_hub_resolve(repo, NULL, o, &dir);
    CHECK_MSG(rc != 0 && dir == NULL, "%s resolved to %s but should fail", repo, dir ? dir : "(null)");
    free(dir);
    for (size_t i = 0; words[i]; i++)
        CHECK_MSG(strstr(mx_last_error(), words[i]) != NULL, "message for %s lacks '%s': %s", repo, words[i],
                  mx_last_error());
}

static void test_private_repo_needs_token(void) {
    lm_hub_options o = options();
    expect_failure("org/private", &o, (const char *const[]){"org/private", "401", "HF_TOKEN", NULL});
    /* HF_TOKEN is sent as a Bearer token to the hub, never to the CDN */
    setenv("HF_TOKEN", "hf_secret", 1);
    size_t before = fake_hub_request_count(hub);
    char *dir = NULL;
    CHECK(lm_hub_resolve("org/private", NULL, &o, &dir) == 0);
    free(dir);
    fake_hub_request q = {0};
    CHECK(fake_hub_count(hub, before, "GET", "/api/models/org/private/", &q) == 1);
    CHECK_MSG(!strcmp(q.authorization, "Bearer hf_secret"), "API Authorization '%s'", q.authorization);
    CHECK(fake_hub_count(hub, before, "HEAD", "/org/private/resolve/", &q) == 2);
    CHECK_MSG(!strcmp(q.authorization, "Bearer hf_secret"), "HEAD Authorization '%s'", q.authorization);
    CHECK(fake_hub_count(hub, before, "GET", "/cdn/", &q) == 1);
    CHECK_MSG(q.authorization[0] == '\0', "the token leaked to the CDN: '%s'", q.authorization);
    unsetenv("HF_TOKEN");
    /* without the token now, the hub refuses (401) but the cached copy is used, as
     * huggingface_hub does */
    dir = NULL;
    CHECK(lm_hub_resolve("org/private", NULL, &o, &dir) == 0 && dir && strstr(dir, COMMIT));
    free(dir);
}

static void test_token_file(void) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/token", home);
    CHECK(hub_fixture_write(path, "hf_from_file\n", 13) == 0);
    lm_hub_options o = options();
    size_t before = fake_hub_request_count(hub);
    char *dir = NULL;
    CHECK(lm_hub_resolve("org/private-file", NULL, &o, &dir) == 0);
    free(dir);
    fake_hub_request q = {0};
    CHECK(fake_hub_count(hub, before, "GET", "/api/models/org/private-file/", &q) == 1);
    CHECK_MSG(!strcmp(q.authorization, "Bearer hf_from_file"), "Authorization '%s'", q.authorization);
    /* a token the repo does not accept: the message says a token was sent */
    expect_failure("org/private-wrong", &o,
                   (const char *const[]){"org/private-wrong", "401", "token file", "does not grant access", NULL});
    unlink(path);
    /* an explicit empty token in the options sends none, even with HF_TOKEN set */
    setenv("HF_TOKEN", "hf_secret", 1);
    o.token = "";
    before = fake_hub_request_count(hub);
    expect_failure("org/private-wrong", &o, (const char *const[]){"401", NULL});
    CHECK(fake_hub_count(hub, before, "GET", "/api/", &q) == 1 && q.authorization[0] == '\0');
    unsetenv("HF_TOKEN");
}

static void test_gated_and_missing(void) {
    lm_hub_options o = options();
    expect_failure("org/gated", &o, (const char *const[]){"org/gated", "403", "gated", "HF_TOKEN", NULL});
    /* an unknown repo: 401 to anonymous requests, 404 with a token (as the real hub) */
    expect_failure("org/no-such-model", &o, (const char *const[]){"org/no-such-model", "401", NULL});
    setenv("HF_TOKEN", "hf_anything", 1);
    expect_failure("org/no-such-model", &o,
                   (const char *const[]){"org/no-such-model", "404", "repo not found", NULL});
    unsetenv("HF_TOKEN");
    /* nothing was left in the cache by the failures */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/hub/models--org--no-such-model/snapshots", home);
    struct stat st;
    CHECK(stat(path, &st) != 0);
}

static void test_unreachable(void) {
    char endpoint[64], url[160];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%u", hub_fixture_dead_port());
    snprintf(url, sizeof url, "%s/api/models/org/public/revision/main", endpoint);
    lm_hub_options o = {0};
    o.endpoint = endpoint;
    expect_failure("org/public", &o,
                   (const char *const[]){"org/public", "cannot reach the hub", url, "onnect", "HF_HUB_OFFLINE", NULL});
    /* HF_ENDPOINT is read when the options leave the endpoint out */
    setenv("HF_ENDPOINT", endpoint, 1);
    lm_hub_options none = {0};
    expect_failure("org/public", &none, (const char *const[]){url, NULL});
    unsetenv("HF_ENDPOINT");
}

static void test_offline_without_cache(void) {
    setenv("HF_HUB_OFFLINE", "1", 1);
    lm_hub_options o = options();
    size_t before = fake_hub_request_count(hub);
    expect_failure("org/public", &o, (const char *const[]){"'org/public'", "not in the Hugging Face cache", "HF_HUB_OFFLINE",
                                                            "models--org--public", NULL});
    CHECK(fake_hub_request_count(hub) == before);
    unsetenv("HF_HUB_OFFLINE");
}

static void test_bad_input(void) {
    lm_hub_options o = options();
    expect_failure("not a repo!", &o, (const char *const[]){"not a repo!", "neither a folder nor", NULL});
    expect_failure("org/a--b", &o, (const char *const[]){"neither a folder nor", NULL});
    char *dir = NULL;
    CHECK(lm_hub_resolve("org/public", "../../etc", &o, &dir) != 0 && strstr(mx_last_error(), "not a valid revision"));
    /* a local folder is returned untouched; a local file is refused */
    CHECK(lm_hub_resolve(home, NULL, &o, &dir) == 0 && dir && !strcmp(dir, home));
    free(dir);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/plain-file", home);
    CHECK(hub_fixture_write(path, "x", 1) == 0);
    dir = NULL;
    CHECK(lm_hub_resolve(path, NULL, &o, &dir) != 0 && strstr(mx_last_error(), "is a file"));
    unlink(path);
    CHECK(lm_hub_resolve(NULL, NULL, &o, &dir) != 0);
}

static void test_file_name_escaping_the_snapshot(void) {
    lm_hub_options o = options();
    expect_failure("org/evil", &o, (const char *const[]){"refusing", "../../../escaped.json", NULL});
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/escaped.json", home);
    struct stat st;
    CHECK_MSG(stat(path, &st) != 0, "a file escaped the cache: %s", path);
    snprintf(path, sizeof path, "%s/hub/escaped.json", home);
    CHECK(stat(path, &st) != 0);
}

static void test_disk_errors(void) {
    /* the partial blob is a link to /dev/full: every write fails with ENOSPC */
    char etag[65], dir[1024], inc[PATH_MAX], cmd[PATH_MAX];
    fake_hub_etag(&files[1], etag);
    snprintf(dir, sizeof dir, "%s/hub/models--org--disk/blobs", home);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    CHECK(system(cmd) == 0);
    snprintf(inc, sizeof inc, "%s/%s.incomplete", dir, etag);
    CHECK(symlink("/dev/full", inc) == 0);
    lm_hub_options o = options();
    expect_failure("org/disk", &o, (const char *const[]){"cannot write", inc, "No space left on device", NULL});
    char blob[PATH_MAX + 80], pointer[PATH_MAX];
    snprintf(blob, sizeof blob, "%s/%s", dir, etag);
    snprintf(pointer, sizeof pointer, "%s/hub/models--org--disk/snapshots/%s/model.safetensors", home, COMMIT);
    struct stat st;
    CHECK(lstat(blob, &st) != 0 && lstat(pointer, &st) != 0);
    unlink(inc);
    /* a cache folder that cannot be created names the path and the reason */
    char file[PATH_MAX], cache[PATH_MAX + 16];
    snprintf(file, sizeof file, "%s/a-file", home);
    CHECK(hub_fixture_write(file, "x", 1) == 0);
    snprintf(cache, sizeof cache, "%s/hub", file);
    o.cache_dir = cache;
    expect_failure("org/public", &o, (const char *const[]){"cannot create folder", "Not a directory", NULL});
    unlink(file);
}

int main(void) {
    hub_fixture_fill(weights, sizeof weights, 7);
    home = hub_fixture_home("hub-errors");
    CHECK(home != NULL);
    if (!home) return test_finish();
    hub = fake_hub_start(repos, sizeof repos / sizeof repos[0]);
    CHECK(hub != NULL);
    if (!hub) return test_finish();
    test_private_repo_needs_token();
    test_token_file();
    test_gated_and_missing();
    test_unreachable();
    test_offline_without_cache();
    test_bad_input();
    test_file_name_escaping_the_snapshot();
    test_disk_errors();
    fake_hub_stop(hub);
    hub_fixture_remove(home);
    return test_finish();
}
