/* lm_hub_resolve and lm_hub_download_file: a local folder, or a repo of the hub resolved
 * through the cache as huggingface_hub's snapshot_download / hf_hub_download do, with
 * their fallback to the cache when the hub cannot be reached. */
#include <fnmatch.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmlx/error.h"
#include "lm/hub/hub_internal.h"

/* snapshots/<commit> of `revision` when the cache has it, else NULL (no error). */
static char *cached_snapshot(const char *repo_folder, const char *revision) {
    char commit[41];
    if (hub_cached_commit(repo_folder, revision, commit) != 1) return NULL;
    strbuf sb = STRBUF_INIT;
    strbuf_printf(&sb, "%s/snapshots/%s", repo_folder, commit);
    if (sb.failed || !hub_is_dir(sb.data)) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

static int offline_error(const char *repo_id, const char *revision, const char *repo_folder,
                         const char *filename) {
    return mx_set_error("hub: '%s'%s%s (revision '%s') is not in the Hugging Face cache (looked in %s) and %s "
                        "forbids downloading it; unset it (or go online once) to download the model",
                        repo_id, filename ? " file " : "", filename ? filename : "", revision, repo_folder,
                        lm_hub_offline_env() ? "HF_HUB_OFFLINE=1" : "local_files_only");
}

/* The hub's answer about a revision: its commit and the files it holds. */
typedef struct {
    char commit[41];
    json_t *doc;
    json_t *siblings;  /* borrowed from doc */
} repo_info;

/* GET {endpoint}/api/models/{repo}/revision/{revision}. On failure *st says why and r
 * holds the answer, for the caller to fall back to the cache or to report. */
static hub_status fetch_repo_info(const hub_config *c, const char *repo_id, const char *revision, repo_info *info,
                                  hub_response *r, char **url_out) {
    memset(info, 0, sizeof *info);
    char *rev = hub_url_escape(revision, 0);  /* quote(revision, safe=""): refs/pr/1 -> refs%2Fpr%2F1 */
    strbuf url = STRBUF_INIT;
    if (rev) strbuf_printf(&url, "%s/api/models/%s/revision/%s", c->endpoint, repo_id, rev);
    free(rev);
    if (!rev || url.failed) {
        strbuf_free(&url);
        mx_set_error("hub: out of memory");
        return HUB_ERR_LOCAL;
    }
    *url_out = strbuf_detach(&url, NULL);
    hub_status st = hub_http_get_json(c, *url_out, r);
    if (st != HUB_OK) return st;
    json_error_t jerr;
    info->doc = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &jerr);
    if (!info->doc) {
        mx_set_error("hub: GET %s: the answer is not JSON (%s at line %d, column %d)", *url_out, jerr.text,
                     jerr.line, jerr.column);
        return HUB_ERR_LOCAL;
    }
    const char *sha = json_string_value(json_object_get(info->doc, "sha"));
    info->siblings = json_object_get(info->doc, "siblings");
    if (!sha || !hub_is_commit_hash(sha) || !json_is_array(info->siblings)) {
        mx_set_error("hub: GET %s: the answer lacks a 40-hex \"sha\" or a \"siblings\" list; %s does not look "
                     "like a Hugging Face hub", *url_out, c->endpoint);
        json_decref(info->doc);
        info->doc = NULL;
        return HUB_ERR_LOCAL;
    }
    memcpy(info->commit, sha, 41);
    return HUB_OK;
}

/* Asks the hub about `revision`; when it cannot answer (network, 5xx, 401/403, offline)
 * but the cache holds the revision, *fallback is that snapshot folder (as
 * huggingface_hub does); a missing revision is an error even then. */
static int lookup_revision(const hub_config *c, const char *repo_id, const char *revision, const char *repo_folder,
                           repo_info *info, char **fallback) {
    *fallback = NULL;
    memset(info, 0, sizeof *info);
    if (c->offline) {
        *fallback = cached_snapshot(repo_folder, revision);
        return *fallback ? 0 : offline_error(repo_id, revision, repo_folder, NULL);
    }
    hub_response r = {0};
    char *url = NULL;
    hub_status st = fetch_repo_info(c, repo_id, revision, info, &r, &url);
    int rc = 0;
    if (st != HUB_OK) {
        int revision_missing = st == HUB_ERR_HTTP && r.error_code && !strcmp(r.error_code, "RevisionNotFound");
        if (st != HUB_ERR_LOCAL && !revision_missing) *fallback = cached_snapshot(repo_folder, revision);
        if (!*fallback) {
            strbuf what = STRBUF_INIT;
            strbuf_printf(&what, "hub: cannot get '%s' (revision '%s'), which is not in the cache (%s)", repo_id,
                          revision, repo_folder);
            hub_report_failure(c, st, &r, "GET", url ? url : c->endpoint, what.failed ? "hub" : what.data);
            strbuf_free(&what);
            rc = -1;
        }
    }
    hub_response_free(&r);
    free(url);
    return rc;
}

static int matches_any(const char *const *patterns, const char *name) {
    for (size_t i = 0; patterns[i]; i++)
        if (fnmatch(patterns[i], name, 0) == 0) return 1;  /* fnmatch.fnmatch: '*' crosses '/' */
    return 0;
}

static int check_args(const char *what, const void *a, const void *out) {
    if (!a || !out) return mx_set_error("%s: NULL argument", what);
    return 0;
}

int lm_hub_resolve(const char *model, const char *revision, const lm_hub_options *opt, char **local_dir) {
    if (check_args("lm_hub_resolve", model, local_dir)) return -1;
    *local_dir = NULL;
    struct stat st;
    if (stat(model, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return mx_set_error("hub: '%s' is a file, not a model folder", model);
        if (!(*local_dir = strdup(model))) return mx_set_error("hub: out of memory");
        return 0;
    }
    if (!lm_hub_is_repo_id(model))
        return mx_set_error("hub: '%s' is neither a folder nor a Hugging Face repo id ('org/name')", model);
    const char *rev = revision ? revision : "main";
    if (!hub_is_safe_revision(rev)) return mx_set_error("hub: '%s' is not a valid revision", rev);
    hub_config c;
    if (hub_config_load(&c, opt) != 0) return -1;
    char *repo_folder = hub_repo_folder(c.cache_dir, model), *fallback = NULL;
    repo_info info = {0};
    int rc = -1;
    if (!repo_folder || lookup_revision(&c, model, rev, repo_folder, &info, &fallback) != 0) goto out;
    if (fallback) {
        *local_dir = fallback;
        rc = 0;
        goto out;
    }
    strbuf snap = STRBUF_INIT;
    strbuf_printf(&snap, "%s/snapshots/%s", repo_folder, info.commit);
    if (snap.failed) {
        mx_set_error("hub: out of memory");
        goto out;
    }
    if (hub_write_ref(repo_folder, rev, info.commit) != 0 || hub_mkdirs(snap.data) != 0) {
        strbuf_free(&snap);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(info.siblings); i++) {
        const char *name = json_string_value(json_object_get(json_array_get(info.siblings, i), "rfilename"));
        if (!name || !matches_any(c.patterns, name)) continue;
        if (hub_fetch_file(&c, model, repo_folder, info.commit, name) != 0) {
            strbuf_free(&snap);
            goto out;
        }
    }
    *local_dir = strbuf_detach(&snap, NULL);
    rc = 0;
out:
    json_decref(info.doc);
    free(repo_folder);
    hub_config_free(&c);
    return rc;
}

int lm_hub_download_file(const char *repo_id, const char *filename, const char *revision,
                         const lm_hub_options *opt, char **path) {
    if (check_args("lm_hub_download_file", repo_id, path) || check_args("lm_hub_download_file", filename, path))
        return -1;
    *path = NULL;
    if (!lm_hub_is_repo_id(repo_id)) return mx_set_error("hub: '%s' is not a Hugging Face repo id", repo_id);
    if (!hub_is_safe_repo_path(filename)) return mx_set_error("hub: '%s' is not a valid file name", filename);
    const char *rev = revision ? revision : "main";
    if (!hub_is_safe_revision(rev)) return mx_set_error("hub: '%s' is not a valid revision", rev);
    hub_config c;
    if (hub_config_load(&c, opt) != 0) return -1;
    char *repo_folder = hub_repo_folder(c.cache_dir, repo_id), *snapshot = NULL;
    repo_info info = {0};
    int rc = -1;
    if (!repo_folder) goto out;
    /* a commit sha with the file cached: no network at all */
    char commit[41];
    if (hub_is_commit_hash(rev) && (snapshot = cached_snapshot(repo_folder, rev))) {
        memcpy(commit, rev, 41);
    } else {
        if (lookup_revision(&c, repo_id, rev, repo_folder, &info, &snapshot) != 0) goto out;
        if (!snapshot) {
            memcpy(commit, info.commit, 41);
            if (hub_write_ref(repo_folder, rev, commit) != 0) goto out;
        } else {
            memcpy(commit, strrchr(snapshot, '/') + 1, 41);
        }
    }
    if (snapshot) {  /* from the cache only: the file must be there */
        char *p = hub_path_join(snapshot, filename);
        if (p && hub_exists(p)) {
            *path = p;
            rc = 0;
        } else if (p) {
            free(p);
            if (c.offline) offline_error(repo_id, rev, repo_folder, filename);
            else if (hub_fetch_file(&c, repo_id, repo_folder, commit, filename) == 0) goto fetched;
        }
        goto out;
    }
    if (hub_fetch_file(&c, repo_id, repo_folder, commit, filename) != 0) goto out;
fetched: {
        strbuf sb = STRBUF_INIT;
        strbuf_printf(&sb, "%s/snapshots/%s/%s", repo_folder, commit, filename);
        if (sb.failed) {
            mx_set_error("hub: out of memory");
            goto out;
        }
        *path = strbuf_detach(&sb, NULL);
        rc = 0;
    }
out:
    free(snapshot);
    json_decref(info.doc);
    free(repo_folder);
    hub_config_free(&c);
    return rc;
}
