/* Hub downloads against a real HTTP server (tests/e2e/fake_hub.c on 127.0.0.1): a fresh
 * download lands in huggingface_hub's cache layout, the cache is reused without network,
 * revisions (branch, tag, commit, refs/pr/N) resolve, partial blobs resume with a Range
 * request, a cut transfer leaves no half file in place, progress is reported. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmlx/error.h"
#include "cmlx/lm_hub.h"
#include "fake_hub.h"
#include "hub_fixture.h"
#include "test.h"

#define COMMIT_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
#define COMMIT_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2"
#define COMMIT_R "cccccccccccccccccccccccccccccccccccccc03"

static unsigned char weights[3 * 1000 * 1000 + 123];  /* an LFS file, served via /cdn/ */
static unsigned char big[1 << 20];                     /* the file the resume tests cut */

#define TXT(s) (const unsigned char *)(s), sizeof(s) - 1

static const fake_hub_file files_b[] = {
    {"config.json", TXT("{\"model_type\": \"llama\", \"rev\": \"B\"}"), 0},
    {"tokenizer.json", TXT("{\"version\": \"1.0\"}"), 0},
    {"tokenizer_config.json", TXT("{\"bos_token\": \"<s>\"}"), 0},
    {"chat_template.jinja", TXT("{{ messages }}"), 0},
    {"sub/extra.json", TXT("{\"nested\": true}"), 0},
    {"model.safetensors", weights, sizeof weights, 1},
    {"README.md", TXT("# not fetched: no pattern matches it"), 0},
    {"pytorch_model.bin", TXT("not fetched either"), 1},
};
static const fake_hub_file files_a[] = {
    {"config.json", TXT("{\"model_type\": \"llama\", \"rev\": \"A\"}"), 0},
    {"model.safetensors", weights, sizeof weights, 1},  /* the same blob as in B */
};
static const fake_hub_revision revs[] = {
    {COMMIT_B, {"main", "refs/pr/1", NULL}, files_b, sizeof files_b / sizeof files_b[0]},
    {COMMIT_A, {"v1.0", NULL}, files_a, sizeof files_a / sizeof files_a[0]},
};
static const fake_hub_file files_r[] = {
    {"config.json", TXT("{\"model_type\": \"qwen3\"}"), 0},
    {"model.safetensors", big, sizeof big, 1},
};
static const fake_hub_revision revs_r[] = {{COMMIT_R, {"main", NULL}, files_r, 2}};
static const fake_hub_repo repos[] = {
    {"mlx-community/tiny-test", NULL, 0, revs, 2, NULL},
    {"org/resume-test", NULL, 0, revs_r, 1, NULL},
    {"org/cut-test", NULL, 0, revs_r, 1, NULL},
    {"org/concurrent", NULL, 0, revs_r, 1, NULL},
    {"org/stale-test", NULL, 0, revs_r, 1, NULL},
    {"org/norange-test", NULL, 0, revs_r, 1, NULL},
    {"old-org/renamed", NULL, 0, NULL, 0, "mlx-community/tiny-test"},
};

static fake_hub *hub;
static char cache[512];

/* ==== helpers ==== */

static lm_hub_options options(void) {
    lm_hub_options o = {0};
    o.endpoint = fake_hub_endpoint(hub);
    return o;
}

static void snapshot_path(char *out, const char *repo_folder, const char *commit, const char *file) {
    snprintf(out, PATH_MAX, "%s/%s/snapshots/%s/%s", cache, repo_folder, commit, file);
}

/* The snapshot entry is a relative symlink to the blob named by the server's ETag, and
 * its content is the served file's. */
static void check_cached_file(const char *repo_folder, const char *commit, const fake_hub_file *f) {
    char path[PATH_MAX], link[PATH_MAX], want[PATH_MAX], etag[65];
    snapshot_path(path, repo_folder, commit, f->name);
    fake_hub_etag(f, etag);
    ssize_t n = readlink(path, link, sizeof link - 1);
    CHECK_MSG(n > 0, "%s is not a symlink", path);
    if (n <= 0) return;
    link[n] = '\0';
    int depth = 0;
    for (const char *p = f->name; *p; p++) depth += *p == '/';
    snprintf(want, sizeof want, "%s../../blobs/%s", depth ? "../" : "", etag);
    CHECK_MSG(!strcmp(link, want), "%s -> %s, want %s", path, link, want);
    size_t size = 0;
    unsigned char *got = hub_fixture_read(path, &size);
    CHECK_MSG(got && size == f->size && !memcmp(got, f->data, size), "%s differs from the served file", path);
    free(got);
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static int n_finished;
static uint64_t last_total, last_resumed;
static void on_progress(const lm_hub_progress *p, void *ctx) {
    (void)ctx;
    if (p->done > p->total && p->total) n_finished = -1000;  /* never more than the file */
    if (p->finished) {
        n_finished++;
        last_total = p->done;
        last_resumed = p->resumed_from;
    }
}

/* ==== tests ==== */

static void test_fresh_download(void) {
    size_t before = fake_hub_request_count(hub);
    lm_hub_options o = options();
    o.progress = on_progress;
    n_finished = 0;
    char *dir = NULL;
    CHECK(lm_hub_resolve("mlx-community/tiny-test", NULL, &o, &dir) == 0);
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/models--mlx-community--tiny-test/snapshots/%s", cache, COMMIT_B);
    CHECK_MSG(dir && !strcmp(dir, want), "resolved to %s, want %s", dir ? dir : "(null)", want);
    free(dir);
    for (size_t i = 0; i < 6; i++) check_cached_file("models--mlx-community--tiny-test", COMMIT_B, &files_b[i]);
    char path[PATH_MAX];
    snapshot_path(path, "models--mlx-community--tiny-test", COMMIT_B, "README.md");
    CHECK_MSG(!exists(path), "README.md matches none of mlx-lm's patterns and must not be fetched");
    snapshot_path(path, "models--mlx-community--tiny-test", COMMIT_B, "pytorch_model.bin");
    CHECK(!exists(path));
    /* refs/main holds the commit sha, exactly as huggingface_hub writes it (no newline) */
    snprintf(path, sizeof path, "%s/models--mlx-community--tiny-test/refs/main", cache);
    unsigned char *ref = hub_fixture_read(path, NULL);
    CHECK_MSG(ref && !strcmp((char *)ref, COMMIT_B), "refs/main = '%s'", ref ? (char *)ref : "(missing)");
    free(ref);
    char etag[65];
    fake_hub_etag(&files_b[5], etag);
    snprintf(path, sizeof path, "%s/models--mlx-community--tiny-test/blobs/%s.incomplete", cache, etag);
    CHECK(!exists(path));
    /* one API call, one HEAD per file, the LFS blob from the CDN location */
    CHECK(fake_hub_count(hub, before, "GET", "/api/models/mlx-community/tiny-test/revision/main", NULL) == 1);
    CHECK(fake_hub_count(hub, before, "HEAD", "/resolve/" COMMIT_B "/", NULL) == 6);
    CHECK(fake_hub_count(hub, before, "GET", "/cdn/", NULL) == 1);
    CHECK_MSG(n_finished == 6, "progress reported %d finished files, want 6", n_finished);
}

static void test_cache_reuse(void) {
    /* online: the hub is asked which commit main is, but no file is fetched again */
    size_t before = fake_hub_request_count(hub);
    lm_hub_options o = options();
    char *dir = NULL;
    CHECK(lm_hub_resolve("mlx-community/tiny-test", "main", &o, &dir) == 0);
    CHECK(fake_hub_count(hub, before, NULL, "", NULL) == 1);
    CHECK(fake_hub_count(hub, before, "GET", "/api/models/", NULL) == 1);
    free(dir);
    /* HF_HUB_OFFLINE=1: not a single request */
    before = fake_hub_request_count(hub);
    setenv("HF_HUB_OFFLINE", "1", 1);
    dir = NULL;
    CHECK(lm_hub_resolve("mlx-community/tiny-test", NULL, &o, &dir) == 0);
    CHECK(dir && strstr(dir, COMMIT_B));
    free(dir);
    CHECK_MSG(fake_hub_request_count(hub) == before, "offline mode sent %zu requests",
              fake_hub_request_count(hub) - before);
    /* offline, single file */
    char *file = NULL;
    CHECK(lm_hub_download_file("mlx-community/tiny-test", "tokenizer.json", NULL, &o, &file) == 0);
    CHECK(file && strstr(file, "/snapshots/" COMMIT_B "/tokenizer.json"));
    free(file);
    CHECK(fake_hub_request_count(hub) == before);
    unsetenv("HF_HUB_OFFLINE");
    /* local_files_only does the same */
    o.local_files_only = 1;
    dir = NULL;
    CHECK(lm_hub_resolve("mlx-community/tiny-test", NULL, &o, &dir) == 0);
    free(dir);
    CHECK(fake_hub_request_count(hub) == before);
}

static void test_revisions(void) {
    lm_hub_options o = options();
    char *dir = NULL, path[PATH_MAX];
    /* a tag */
    CHECK(lm_hub_resolve("mlx-community/tiny-test", "v1.0", &o, &dir) == 0);
    CHECK_MSG(dir && strstr(dir, "/snapshots/" COMMIT_A), "v1.0 resolved to %s", dir ? dir : "(null)");
    free(dir);
    check_cached_file("models--mlx-community--tiny-test", COMMIT_A, &files_a[0]);
    check_cached_file("models--mlx-community--tiny-test", COMMIT_A, &files_a[1]);
    snprintf(path, sizeof path, "%s/models--mlx-community--tiny-test/refs/v1.0", cache);
    unsigned char *ref = hub_fixture_read(path, NULL);
    CHECK(ref && !strcmp((char *)ref, COMMIT_A));
    free(ref);
    /* a commit sha: no refs file is written for it */
    size_t before = fake_hub_request_count(hub);
    dir = NULL;
    CHECK(lm_hub_resolve("mlx-community/tiny-test", COMMIT_A, &o, &dir) == 0);
    CHECK(dir && strstr(dir, "/snapshots/" COMMIT_A));
    free(dir);
    CHECK(fake_hub_count(hub, before, "GET", "/revision/" COMMIT_A, NULL) == 1);
    snprintf(path, sizeof path, "%s/models--mlx-community--tiny-test/refs/%s", cache, COMMIT_A);
    CHECK(!exists(path));
    /* a pull-request ref: refs/refs/pr/1, as huggingface_hub stores it */
    dir = NULL;
    CHECK(lm_hub_resolve("mlx-community/tiny-test", "refs/pr/1", &o, &dir) == 0);
    CHECK(dir && strstr(dir, "/snapshots/" COMMIT_B));
    free(dir);
    snprintf(path, sizeof path, "%s/models--mlx-community--tiny-test/refs/refs/pr/1", cache);
    ref = hub_fixture_read(path, NULL);
    CHECK(ref && !strcmp((char *)ref, COMMIT_B));
    free(ref);
    /* offline, by tag and by sha */
    setenv("HF_HUB_OFFLINE", "1", 1);
    dir = NULL;
    CHECK(lm_hub_resolve("mlx-community/tiny-test", "v1.0", &o, &dir) == 0);
    CHECK(dir && strstr(dir, COMMIT_A));
    free(dir);
    dir = NULL;
    CHECK(lm_hub_resolve("mlx-community/tiny-test", "v2.0", &o, &dir) != 0);
    CHECK_MSG(strstr(mx_last_error(), "mlx-community/tiny-test") && strstr(mx_last_error(), "v2.0") &&
                  strstr(mx_last_error(), "HF_HUB_OFFLINE"),
              "offline miss: %s", mx_last_error());
    unsetenv("HF_HUB_OFFLINE");
    /* a revision the hub does not have: an error, even with other revisions cached */
    CHECK(lm_hub_resolve("mlx-community/tiny-test", "nope", &o, &dir) != 0);
    CHECK_MSG(strstr(mx_last_error(), "revision not found") && strstr(mx_last_error(), "nope"),
              "missing revision: %s", mx_last_error());
    /* the blob shared by A and B was downloaded once */
    CHECK(fake_hub_count(hub, 0, "GET", "/cdn/", NULL) == 1);
}

static void test_resume_partial_blob(void) {
    /* a previous run left the first 300000 bytes in blobs/<etag>.incomplete */
    char etag[65], blobs[1024], inc[PATH_MAX], blob[PATH_MAX];
    fake_hub_etag(&files_r[1], etag);
    snprintf(blobs, sizeof blobs, "%s/models--org--resume-test/blobs", cache);
    char cmd[PATH_MAX];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", blobs);
    CHECK(system(cmd) == 0);
    snprintf(inc, sizeof inc, "%s/%s.incomplete", blobs, etag);
    snprintf(blob, sizeof blob, "%s/%s", blobs, etag);
    CHECK(hub_fixture_write(inc, big, 300000) == 0);
    size_t before = fake_hub_request_count(hub);
    lm_hub_options o = options();
    o.progress = on_progress;
    n_finished = 0;
    char *dir = NULL;
    CHECK(lm_hub_resolve("org/resume-test", NULL, &o, &dir) == 0);
    free(dir);
    fake_hub_request q = {0};
    CHECK(fake_hub_count(hub, before, "GET", "/cdn/", &q) == 1);
    CHECK_MSG(!strcmp(q.range, "bytes=300000-"), "the server got Range '%s', want 'bytes=300000-'", q.range);
    size_t size = 0;
    unsigned char *got = hub_fixture_read(blob, &size);
    CHECK_MSG(got && size == sizeof big && !memcmp(got, big, size), "the resumed blob differs (size %zu)", size);
    free(got);
    CHECK(!exists(inc));
    check_cached_file("models--org--resume-test", COMMIT_R, &files_r[1]);
    CHECK(n_finished == 2 && last_resumed == 300000 && last_total == sizeof big);
}

static void test_cut_transfer_then_resume(void) {
    char etag[65], inc[PATH_MAX], blob[1024], pointer[PATH_MAX];
    fake_hub_etag(&files_r[1], etag);
    snprintf(blob, sizeof blob, "%s/models--org--cut-test/blobs/%s", cache, etag);
    snprintf(inc, sizeof inc, "%s.incomplete", blob);
    snapshot_path(pointer, "models--org--cut-test", COMMIT_R, "model.safetensors");
    lm_hub_options o = options();
    fake_hub_cut_after(hub, 200000);
    char *dir = NULL;
    CHECK(lm_hub_resolve("org/cut-test", NULL, &o, &dir) != 0);
    CHECK(dir == NULL);
    CHECK_MSG(strstr(mx_last_error(), "interrupted") && strstr(mx_last_error(), ".incomplete"),
              "cut transfer: %s", mx_last_error());
    /* no half file where the complete one belongs */
    CHECK(!exists(blob));
    CHECK(!exists(pointer));
    struct stat st;
    CHECK(stat(inc, &st) == 0 && st.st_size > 0 && (size_t)st.st_size <= 200000);
    size_t kept = stat(inc, &st) == 0 ? (size_t)st.st_size : 0;
    /* the next run continues from there */
    fake_hub_cut_after(hub, 0);
    size_t before = fake_hub_request_count(hub);
    CHECK(lm_hub_resolve("org/cut-test", NULL, &o, &dir) == 0);
    free(dir);
    fake_hub_request q = {0};
    char want[64];
    snprintf(want, sizeof want, "bytes=%zu-", kept);
    CHECK(fake_hub_count(hub, before, "GET", "/cdn/", &q) == 1);
    CHECK_MSG(!strcmp(q.range, want), "Range '%s', want '%s'", q.range, want);
    check_cached_file("models--org--cut-test", COMMIT_R, &files_r[1]);
    CHECK(!exists(inc));
}

/* Leaves `n` bytes of `data` in blobs/<etag>.incomplete of `repo_folder`, resolves
 * `repo`, and checks the blob came out whole; returns the Range the CDN request had. */
static void resume_from(const char *repo, const char *repo_folder, const unsigned char *data, size_t n, char *range,
                        size_t range_size) {
    char etag[65], blobs[1024], inc[PATH_MAX], cmd[PATH_MAX];
    fake_hub_etag(&files_r[1], etag);
    snprintf(blobs, sizeof blobs, "%s/%s/blobs", cache, repo_folder);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", blobs);
    CHECK(system(cmd) == 0);
    snprintf(inc, sizeof inc, "%s/%s.incomplete", blobs, etag);
    CHECK(hub_fixture_write(inc, data, n) == 0);
    size_t before = fake_hub_request_count(hub);
    lm_hub_options o = options();
    char *dir = NULL;
    CHECK_MSG(lm_hub_resolve(repo, NULL, &o, &dir) == 0, "%s: %s", repo, mx_last_error());
    free(dir);
    fake_hub_request q = {0};
    CHECK(fake_hub_count(hub, before, "GET", "/cdn/", &q) == 1);
    snprintf(range, range_size, "%s", q.range);
    check_cached_file(repo_folder, COMMIT_R, &files_r[1]);
    CHECK(!exists(inc));
}

static void test_stale_partial_blobs(void) {
    /* longer than the file: not a prefix of it; downloaded again from the start */
    static unsigned char junk[sizeof big + 10];
    hub_fixture_fill(junk, sizeof junk, 99);
    char range[64];
    resume_from("org/stale-test", "models--org--stale-test", junk, sizeof junk, range, sizeof range);
    CHECK_MSG(range[0] == '\0', "a too-long partial file was resumed with Range '%s'", range);
    /* a server that ignores Range (200, whole file): the partial file is replaced, not
     * appended to */
    fake_hub_ignore_range(hub, 1);
    resume_from("org/norange-test", "models--org--norange-test", junk, 5000, range, sizeof range);
    CHECK(!strcmp(range, "bytes=5000-"));
    fake_hub_ignore_range(hub, 0);
}

static void test_download_single_file(void) {
    lm_hub_options o = options();
    char *path = NULL;
    CHECK(lm_hub_download_file("mlx-community/tiny-test", "README.md", "main", &o, &path) == 0);
    CHECK(path && strstr(path, "/snapshots/" COMMIT_B "/README.md"));
    size_t n = 0;
    unsigned char *got = path ? hub_fixture_read(path, &n) : NULL;
    CHECK(got && n == files_b[6].size && !memcmp(got, files_b[6].data, n));
    free(got);
    free(path);
    CHECK(lm_hub_download_file("mlx-community/tiny-test", "missing.json", "main", &o, &path) != 0);
    CHECK_MSG(strstr(mx_last_error(), "file not found") && strstr(mx_last_error(), "missing.json"),
              "missing file: %s", mx_last_error());
}

static void test_renamed_repo(void) {
    /* the hub answers 307 with a relative Location for a renamed repo: followed, and the
     * files land under the name that was asked for, as huggingface_hub stores them */
    size_t before = fake_hub_request_count(hub);
    lm_hub_options o = options();
    char *dir = NULL;
    CHECK(lm_hub_resolve("old-org/renamed", NULL, &o, &dir) == 0);
    CHECK_MSG(dir && strstr(dir, "/models--old-org--renamed/snapshots/" COMMIT_B), "renamed: %s", dir ? dir : "(null)");
    free(dir);
    check_cached_file("models--old-org--renamed", COMMIT_B, &files_b[0]);
    check_cached_file("models--old-org--renamed", COMMIT_B, &files_b[5]);
    CHECK(fake_hub_count(hub, before, "HEAD", "/old-org/renamed/resolve/", NULL) == 6);
    CHECK(fake_hub_count(hub, before, "HEAD", "/mlx-community/tiny-test/resolve/", NULL) == 6);
}

static void test_concurrent_processes(void) {
    /* three processes fetch the same repo at once: the blob lock lets one download it,
     * the others link the finished blob; nobody sees a half file */
    size_t before = fake_hub_request_count(hub);
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            lm_hub_options o = options();
            char *dir = NULL;
            int rc = lm_hub_resolve("org/concurrent", NULL, &o, &dir);
            if (rc != 0) fprintf(stderr, "child %d: %s\n", i, mx_last_error());
            free(dir);
            _exit(rc == 0 ? 0 : 1);
        }
    }
    for (int i = 0; i < 3; i++) {
        int status = -1;
        CHECK(kids[i] > 0 && waitpid(kids[i], &status, 0) == kids[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK_MSG(fake_hub_count(hub, before, "GET", "/cdn/", NULL) == 1, "the blob was downloaded %zu times",
              fake_hub_count(hub, before, "GET", "/cdn/", NULL));
    check_cached_file("models--org--concurrent", COMMIT_R, &files_r[1]);
}

static void test_progress_line(void) {
    /* without a terminal, the stderr reporter prints only one line per finished file */
    char path[] = "/tmp/cmlx-progress-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    lm_hub_progress p = {"org/x", "model.safetensors", 1500000, 3000000, 0, 0.5, 0};
    lm_hub_progress_stderr(&p, NULL);
    p = (lm_hub_progress){"org/x", "model.safetensors", 3000000, 3000000, 1000000, 1.0, 1};
    lm_hub_progress_stderr(&p, NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    unsigned char *text = hub_fixture_read(path, NULL);
    const char *want = "Downloaded org/x/model.safetensors (3.0M in 1.0s, 2.0M/s, resumed at 1.0M)\n";
    CHECK_MSG(text && !strcmp((char *)text, want), "progress output '%s'", text ? (char *)text : "(none)");
    free(text);
    unlink(path);
}

static void test_server_gone(void) {
    /* the hub cannot be reached: the cached snapshot is used, as huggingface_hub does */
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "%s", fake_hub_endpoint(hub));
    fake_hub_stop(hub);
    hub = NULL;
    lm_hub_options o = {0};
    o.endpoint = endpoint;
    char *dir = NULL;
    CHECK(lm_hub_resolve("mlx-community/tiny-test", NULL, &o, &dir) == 0);
    CHECK(dir && strstr(dir, "/snapshots/" COMMIT_B));
    free(dir);
    dir = NULL;
    CHECK(lm_hub_resolve("mlx-community/tiny-test", "v1.0", &o, &dir) == 0);
    CHECK(dir && strstr(dir, "/snapshots/" COMMIT_A));
    free(dir);
}

static void test_scan_after_downloads(void) {
    lm_hub_cache_info *info = NULL;
    CHECK(lm_hub_scan_cache(NULL, &info) == 0);
    if (!info) return;
    CHECK_MSG(!strcmp(info->cache_dir, cache), "scan of %s, want %s", info->cache_dir, cache);
    CHECK_MSG(info->n_repos == 7 && info->n_warnings == 0, "%zu repos, %zu warnings", info->n_repos, info->n_warnings);
    const lm_hub_cached_repo *tiny = NULL;
    for (size_t i = 0; i < info->n_repos; i++)
        if (!strcmp(info->repos[i].repo_id, "mlx-community/tiny-test")) tiny = &info->repos[i];
    CHECK(tiny != NULL);
    if (tiny) {
        /* distinct blobs: 6 of B (+ README.md fetched alone) + A's config; the weights once */
        uint64_t want = 0;
        for (size_t i = 0; i < 7; i++) want += files_b[i].size;
        want += files_a[0].size;
        CHECK_MSG(tiny->size_on_disk == want, "size %llu, want %llu", (unsigned long long)tiny->size_on_disk,
                  (unsigned long long)want);
        CHECK(tiny->nb_files == 8);
        CHECK(tiny->nb_revisions == 2);
        CHECK_MSG(!strcmp(tiny->refs, "main, refs/pr/1, v1.0"), "refs '%s'", tiny->refs);
        CHECK(!strcmp(tiny->repo_type, "model"));
    }
    CHECK(!strcmp(info->repos[0].repo_id, "mlx-community/tiny-test"));  /* sorted by path */
    lm_hub_cache_info_free(info);
}

int main(void) {
    hub_fixture_fill(weights, sizeof weights, 1);
    hub_fixture_fill(big, sizeof big, 2);
    const char *home = hub_fixture_home("hub-download");
    CHECK(home != NULL);
    if (!home) return test_finish();
    snprintf(cache, sizeof cache, "%s/hub", home);
    hub = fake_hub_start(repos, sizeof repos / sizeof repos[0]);
    CHECK(hub != NULL);
    if (!hub) return test_finish();
    test_fresh_download();
    test_cache_reuse();
    test_revisions();
    test_resume_partial_blob();
    test_cut_transfer_then_resume();
    test_stale_partial_blobs();
    test_download_single_file();
    test_renamed_repo();
    test_concurrent_processes();
    test_progress_line();
    test_server_gone();
    test_scan_after_downloads();
    fake_hub_stop(hub);
    hub_fixture_remove(home);
    return test_finish();
}
