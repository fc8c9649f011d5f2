/* Scanning and pruning the cache, as huggingface_hub's scan_cache_dir() and
 * DeleteCacheStrategy do: one entry per models--org--name folder with the size of the
 * distinct blobs its snapshots use, their newest access and change times, its revisions
 * and the refs naming them. A folder that breaks the layout becomes a warning. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmlx/error.h"
#include "lm/hub/hub_internal.h"
#include "util/hashmap.h"

#define MAX_DEPTH 64

/* ==== Collecting one repo ==== */

typedef struct {
    hashmap *blobs;        /* real path of a blob -> 1 (distinct blobs) */
    uint64_t size;
    double atime, mtime;
    strbuf problem;        /* the first reason the repo is corrupted */
    strbuf refs_by_commit; /* "commit\tref\n" lines */
} repo_scan;

static int is_ignored_file(const char *name) {
    return !strcmp(name, ".DS_Store") || !strcmp(name, "Thumbs.db") || !strcmp(name, "desktop.ini");
}

static double stat_time(const struct timespec *ts) { return (double)ts->tv_sec + (double)ts->tv_nsec * 1e-9; }

/* Adds every file under `dir` (a snapshot) as a blob, following the snapshot symlinks. */
static int collect_snapshot_files(repo_scan *s, const char *dir, int depth) {
    if (depth > MAX_DEPTH) return strbuf_printf(&s->problem, "folders nested too deep under %s", dir), -1;
    DIR *d = opendir(dir);
    if (!d) return strbuf_printf(&s->problem, "cannot read %s: %s", dir, strerror(errno)), -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = hub_path_join(dir, e->d_name);
        if (!p) {
            rc = -1;
            break;
        }
        struct stat st;
        if (stat(p, &st) != 0) {
            strbuf_printf(&s->problem, "Blob missing (broken symlink): %s", p);
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = collect_snapshot_files(s, p, depth + 1);
        } else {
            char real[PATH_MAX];
            if (!realpath(p, real)) {
                strbuf_printf(&s->problem, "cannot resolve %s: %s", p, strerror(errno));
                rc = -1;
            } else if (!hashmap_get(s->blobs, real, strlen(real), NULL)) {
                rc = hashmap_put(s->blobs, real, strlen(real), 1);
                s->size += (uint64_t)st.st_size;
                if (stat_time(&st.st_atim) > s->atime) s->atime = stat_time(&st.st_atim);
                if (stat_time(&st.st_mtim) > s->mtime) s->mtime = stat_time(&st.st_mtim);
            }
        }
        free(p);
    }
    closedir(d);
    return rc;
}

/* refs/<name> files (refs/pr/1 included) as "commit\tname\n" lines. */
static int collect_refs(repo_scan *s, const char *dir, const char *prefix, int depth) {
    if (depth > MAX_DEPTH) return strbuf_printf(&s->problem, "refs nested too deep under %s", dir), -1;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : (strbuf_printf(&s->problem, "cannot read %s", dir), -1);
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || is_ignored_file(e->d_name)) continue;
        char *p = hub_path_join(dir, e->d_name);
        strbuf name = STRBUF_INIT;
        strbuf_printf(&name, "%s%s", prefix, e->d_name);
        if (!p || name.failed) rc = -1;
        else if (hub_is_dir(p)) {
            strbuf_putc(&name, '/');
            rc = collect_refs(s, p, name.data, depth + 1);
        } else {
            int missing;
            char *commit = hub_read_text(p, 1024, &missing);
            if (!commit) rc = (strbuf_printf(&s->problem, "cannot read ref %s", p), -1);
            else strbuf_printf(&s->refs_by_commit, "%s\t%s\n", commit, name.data);
            free(commit);
        }
        free(p);
        strbuf_free(&name);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sorted, ", "-joined names of the refs in `lines` whose commit is in `commits`;
 * *dangling counts refs to commits without a snapshot. */
static char *join_refs(char *lines, char **commits, size_t n_commits, size_t *dangling) {
    char *names[256];
    size_t n = 0;
    *dangling = 0;
    for (char *line = lines, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        int found = 0;
        for (size_t i = 0; i < n_commits; i++) found |= !strcmp(commits[i], line);
        if (!found) (*dangling)++;
        else if (n < sizeof names / sizeof names[0]) names[n++] = tab + 1;
    }
    qsort(names, n, sizeof names[0], cmp_str);
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "");
    for (size_t i = 0; i < n; i++) strbuf_printf(&sb, "%s%s", i ? ", " : "", names[i]);
    return sb.failed ? (strbuf_free(&sb), NULL) : strbuf_detach(&sb, NULL);
}

/* 0 and *repo filled; 1 when the folder is not a valid cached repo (problem set); -1 OOM. */
static int scan_repo(const char *path, const char *name, lm_hub_cached_repo *repo, strbuf *problem) {
    memset(repo, 0, sizeof *repo);
    const char *sep = strstr(name, "--");
    if (!hub_is_dir(path)) return strbuf_printf(problem, "Repo path is not a directory: %s", path), 1;
    if (!sep) return strbuf_printf(problem, "Repo path is not a valid HuggingFace cache directory: %s", path), 1;
    size_t type_len = (size_t)(sep - name);
    if (!((type_len == 6 && !strncmp(name, "models", 6)) || (type_len == 8 && !strncmp(name, "datasets", 8)) ||
          (type_len == 6 && !strncmp(name, "spaces", 6))))
        return strbuf_printf(problem, "Repo type must be `dataset`, `model` or `space`, found `%.*s` (%s).",
                             (int)type_len - 1, name, path), 1;
    repo_scan s = {.blobs = hashmap_new(64)};
    char *snapshots = hub_path_join(path, "snapshots"), *refs = hub_path_join(path, "refs");
    char **commits = NULL;
    size_t n_commits = 0, cap = 0;
    int rc = 1;
    if (!s.blobs || !snapshots || !refs) {
        rc = -1;
        goto out;
    }
    if (!hub_is_dir(snapshots)) {
        strbuf_printf(problem, "Snapshots dir doesn't exist in cached repo: %s", snapshots);
        goto out;
    }
    if (collect_refs(&s, refs, "", 0) != 0) goto corrupted;
    DIR *d = opendir(snapshots);
    if (!d) {
        strbuf_printf(problem, "cannot read %s: %s", snapshots, strerror(errno));
        goto out;
    }
    struct dirent *e;
    int walk = 0;
    while (walk == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || is_ignored_file(e->d_name)) continue;
        char *rev = hub_path_join(snapshots, e->d_name);
        if (!rev) walk = -1;
        else if (!hub_is_dir(rev)) walk = (strbuf_printf(&s.problem, "Snapshots folder corrupted. Found a file: %s", rev), -1);
        else walk = collect_snapshot_files(&s, rev, 0);
        free(rev);
        if (walk == 0) {
            if (n_commits == cap) {
                cap = cap ? 2 * cap : 8;
                char **grown = realloc(commits, cap * sizeof *commits);
                if (!grown) walk = -1;
                else commits = grown;
            }
            if (walk == 0 && !(commits[n_commits++] = strdup(e->d_name))) walk = -1;
        }
    }
    closedir(d);
    if (walk != 0) goto corrupted;
    size_t dangling = 0;
    repo->refs = join_refs(s.refs_by_commit.data, commits, n_commits, &dangling);
    if (!repo->refs) {
        rc = -1;
        goto out;
    }
    if (dangling) {
        strbuf_printf(problem, "Reference(s) refer to missing commit hashes (%s).", path);
        free(repo->refs);
        repo->refs = NULL;
        goto out;
    }
    struct stat st;
    if (hashmap_count(s.blobs) == 0 && stat(path, &st) == 0) {  /* no blob: the folder's own times */
        s.atime = stat_time(&st.st_atim);
        s.mtime = stat_time(&st.st_mtim);
    }
    repo->repo_type = strndup(name, type_len - 1);
    repo->path = strdup(path);
    strbuf id = STRBUF_INIT;
    for (const char *p = sep + 2; *p; p++) {
        if (p[0] == '-' && p[1] == '-') strbuf_putc(&id, '/'), p++;
        else strbuf_putc(&id, *p);
    }
    repo->repo_id = id.failed ? NULL : strbuf_detach(&id, NULL);
    repo->size_on_disk = s.size;
    repo->nb_files = hashmap_count(s.blobs);
    repo->nb_revisions = n_commits;
    repo->last_accessed = s.atime;
    repo->last_modified = s.mtime;
    rc = (repo->repo_type && repo->path && repo->repo_id) ? 0 : -1;
    goto out;
corrupted:
    if (s.problem.failed || !s.problem.data) rc = -1;
    else strbuf_puts(problem, s.problem.data);
out:
    for (size_t i = 0; i < n_commits; i++) free(commits[i]);
    free(commits);
    hashmap_free(s.blobs);
    strbuf_free(&s.problem);
    strbuf_free(&s.refs_by_commit);
    free(snapshots);
    free(refs);
    if (rc == -1) mx_set_error("hub: out of memory scanning %s", path);
    return rc;
}

/* ==== The whole cache ==== */

static void free_repo(lm_hub_cached_repo *r) {
    free(r->repo_id);
    free(r->repo_type);
    free(r->path);
    free(r->refs);
}

void lm_hub_cache_info_free(lm_hub_cache_info *info) {
    if (!info) return;
    for (size_t i = 0; i < info->n_repos; i++) free_repo(&info->repos[i]);
    for (size_t i = 0; i < info->n_warnings; i++) free(info->warnings[i]);
    free(info->repos);
    free(info->warnings);
    free(info->cache_dir);
    free(info);
}

static int cmp_repo_path(const void *a, const void *b) {
    return strcmp(((const lm_hub_cached_repo *)a)->path, ((const lm_hub_cached_repo *)b)->path);
}

/* Adds the sizes of blobs/ *.incomplete (downloads that were cut). */
static void count_incomplete(lm_hub_cache_info *info, const char *repo_path) {
    char *blobs = hub_path_join(repo_path, "blobs");
    DIR *d = blobs ? opendir(blobs) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n <= 11 || strcmp(e->d_name + n - 11, ".incomplete")) continue;
        char *p = hub_path_join(blobs, e->d_name);
        struct stat st;
        if (p && stat(p, &st) == 0) info->incomplete_bytes += (uint64_t)st.st_size;
        free(p);
    }
    if (d) closedir(d);
    free(blobs);
}

static int push_warning(lm_hub_cache_info *info, const char *text) {
    char **grown = realloc(info->warnings, (info->n_warnings + 1) * sizeof *grown);
    if (!grown) return -1;
    info->warnings = grown;
    return (info->warnings[info->n_warnings] = strdup(text)) ? (int)(info->n_warnings++, 0) : -1;
}

int lm_hub_scan_cache(const char *cache_dir, lm_hub_cache_info **out) {
    if (!out) return mx_set_error("lm_hub_scan_cache: NULL argument");
    *out = NULL;
    lm_hub_cache_info *info = calloc(1, sizeof *info);
    if (!info) return mx_set_error("hub: out of memory");
    info->cache_dir = cache_dir ? strdup(cache_dir) : lm_hub_default_cache_dir();
    if (!info->cache_dir) goto fail;
    for (size_t n = strlen(info->cache_dir); n > 1 && info->cache_dir[n - 1] == '/'; n--)
        info->cache_dir[n - 1] = '\0';
    DIR *d = opendir(info->cache_dir);
    if (!d) {
        if (errno == ENOENT) {  /* nothing downloaded yet */
            *out = info;
            return 0;
        }
        mx_set_error("hub: cannot read the cache folder %s: %s", info->cache_dir, strerror(errno));
        goto fail;
    }
    struct dirent *e;
    int rc = 0;
    size_t cap = 0;
    while (rc == 0 && (e = readdir(d))) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, ".locks") || !strcmp(n, "CACHEDIR.TAG") ||
            is_ignored_file(n))
            continue;
        char *path = hub_path_join(info->cache_dir, n);
        if (!path) {
            rc = -1;
            break;
        }
        if (info->n_repos == cap) {
            cap = cap ? 2 * cap : 16;
            lm_hub_cached_repo *grown = realloc(info->repos, cap * sizeof *grown);
            if (!grown) rc = -1;
            else info->repos = grown;
        }
        strbuf problem = STRBUF_INIT;
        int r = rc ? -1 : scan_repo(path, n, &info->repos[info->n_repos], &problem);
        if (r == 0) {
            info->n_repos++;
            count_incomplete(info, path);
        } else if (r == 1) {
            free_repo(&info->repos[info->n_repos]);
            if (push_warning(info, problem.data ? problem.data : path) != 0) rc = -1;
        } else {
            free_repo(&info->repos[info->n_repos]);
            rc = -1;
        }
        strbuf_free(&problem);
        free(path);
    }
    closedir(d);
    if (rc != 0) {
        mx_set_error("hub: out of memory scanning %s", info->cache_dir);
        goto fail;
    }
    if (info->n_repos) qsort(info->repos, info->n_repos, sizeof *info->repos, cmp_repo_path);
    *out = info;
    return 0;
fail:
    lm_hub_cache_info_free(info);
    return -1;
}

int lm_hub_delete_cached_repo(const lm_hub_cache_info *info, const lm_hub_cached_repo *repo) {
    if (!info || !repo || !repo->path) return mx_set_error("lm_hub_delete_cached_repo: NULL argument");
    size_t n = strlen(info->cache_dir);
    /* only <cache>/<type>s--<id>, never a path the scan did not produce */
    if (strncmp(repo->path, info->cache_dir, n) || repo->path[n] != '/')
        return mx_set_error("hub: refusing to delete %s: it is not in the cache %s", repo->path, info->cache_dir);
    const char *name = repo->path + n + 1;
    if (strchr(name, '/') ||
        !(strncmp(name, "models--", 8) == 0 || strncmp(name, "datasets--", 10) == 0 ||
          strncmp(name, "spaces--", 8) == 0))
        return mx_set_error("hub: refusing to delete %s: not a repo folder of the cache %s", repo->path,
                            info->cache_dir);
    if (hub_remove_tree(repo->path) != 0) return -1;
    strbuf locks = STRBUF_INIT;
    strbuf_printf(&locks, "%s/.locks/%s", info->cache_dir, name);
    int rc = locks.failed ? mx_set_error("hub: out of memory") : hub_remove_tree(locks.data);
    strbuf_free(&locks);
    return rc;
}
