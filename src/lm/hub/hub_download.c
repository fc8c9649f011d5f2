/* One file of a repo into the cache, as huggingface_hub's hf_hub_download does it:
 * HEAD the resolve URL for the ETag (X-Linked-Etag for LFS files), the commit and the
 * size; download to blobs/<etag>.incomplete under a lock, resuming with Range; check the
 * size; rename to blobs/<etag>; symlink snapshots/<commit>/<file> to it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/error.h"
#include "lm/hub/hub_internal.h"

/* What the HEAD of a resolve URL tells. */
typedef struct {
    char etag[128];
    uint64_t size;          /* 0 when unknown */
    char *download_url;     /* the CDN location of an LFS file, else the resolve URL */
    int send_token;         /* only to the hub itself, never to a CDN */
} file_metadata;

static int parse_size(const char *s, uint64_t *out) {
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

static int head_metadata(const hub_config *c, const char *repo_id, const char *commit, const char *filename,
                         const char *url, file_metadata *m) {
    hub_response r = {0};
    hub_status st = hub_http_head(c, url, &r);
    int rc = -1;
    if (st != HUB_OK) {
        strbuf what = STRBUF_INIT;
        strbuf_printf(&what, "hub: cannot download %s from '%s' (commit %s)", filename, repo_id, commit);
        hub_report_failure(c, st, &r, "HEAD", url, what.failed ? "hub: cannot download" : what.data);
        strbuf_free(&what);
        goto done;
    }
    if (!r.repo_commit) {
        mx_set_error("hub: HEAD %s answered without an X-Repo-Commit header: %s does not look like a "
                     "Hugging Face hub (check HF_ENDPOINT)", url, c->endpoint);
        goto done;
    }
    const char *etag = r.linked_etag ? r.linked_etag : r.etag;
    if (!etag || hub_normalize_etag(etag, m->etag, sizeof m->etag) != 0) {
        mx_set_error("hub: HEAD %s answered %s ETag%s%s: cannot name the blob reproducibly", url,
                     etag ? "an unusable" : "no", etag ? " " : "", etag ? etag : "");
        goto done;
    }
    if (!parse_size(r.linked_size, &m->size) && r.status < 300) parse_size(r.content_length, &m->size);
    const char *loc = (r.status >= 300 && r.location) ? r.location : r.url;
    m->download_url = strdup(loc ? loc : url);
    if (!m->download_url) {
        mx_set_error("hub: out of memory");
        goto done;
    }
    /* As huggingface_hub: the token goes with the resolve URL only; a redirect target (the
     * CDN of an LFS file) gets no Authorization (curl also keeps it from other hosts). */
    m->send_token = !strcmp(m->download_url, url);
    rc = 0;
done:
    hub_response_free(&r);
    return rc;
}

/* Holds an exclusive flock(2) on <cache>/.locks/<repo folder>/<etag>.lock, the lock file
 * huggingface_hub's FileLock uses, so a Python download of the same blob waits for us. */
static int lock_blob(const hub_config *c, const char *repo_id, const char *etag) {
    char *name = hub_repo_folder_name(repo_id);
    char *locks = hub_path_join(c->cache_dir, ".locks");
    char *dir = locks && name ? hub_path_join(locks, name) : NULL;
    strbuf path = STRBUF_INIT;
    if (dir) strbuf_printf(&path, "%s/%s.lock", dir, etag);
    int fd = -1;
    if (!dir || path.failed) mx_set_error("hub: out of memory");
    else if (hub_mkdirs(dir) == 0) {
        fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) mx_set_error("hub: cannot open lock file %s: %s", path.data, strerror(errno));
        else {
            int rc;
            while ((rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {}
            if (rc != 0) {
                mx_set_error("hub: cannot lock %s: %s", path.data, strerror(errno));
                close(fd);
                fd = -1;
            }
        }
    }
    free(name);
    free(locks);
    free(dir);
    strbuf_free(&path);
    return fd;
}

static void report_done(const hub_config *c, const char *repo_id, const char *filename, uint64_t size,
                        uint64_t resumed, double started) {
    if (!c->progress) return;
    lm_hub_progress p = {repo_id, filename, size, size, resumed, hub_now() - started, 1};
    c->progress(&p, c->progress_ctx);
}

/* Downloads into blobs/<etag>.incomplete and renames it to `blob` once complete. The
 * partial file stays after a failed transfer so that the next run resumes it. */
static int download_blob(const hub_config *c, const char *repo_id, const char *filename, const file_metadata *m,
                         const char *blob) {
    strbuf inc = STRBUF_INIT;
    strbuf_printf(&inc, "%s.incomplete", blob);
    if (inc.failed) {
        strbuf_free(&inc);
        return mx_set_error("hub: out of memory");
    }
    int rc = -1;
    int fd = open(inc.data, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) {
        mx_set_error("hub: cannot create %s: %s", inc.data, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        mx_set_error("hub: cannot stat %s: %s", inc.data, strerror(errno));
        goto out;
    }
    uint64_t offset = (uint64_t)st.st_size;
    if (m->size && offset > m->size) {  /* longer than the file: not a prefix of it */
        if (ftruncate(fd, 0) != 0) {
            mx_set_error("hub: cannot truncate %s: %s", inc.data, strerror(errno));
            goto out;
        }
        offset = 0;
    }
    hub_transfer t = {.fd = fd, .path = inc.data, .offset = offset, .expected = m->size, .cfg = c,
                      .repo_id = repo_id, .filename = filename};
    double started = hub_now();
    uint64_t resumed = offset;
    /* A partial file as long as the whole one needs no transfer (a Range past the end
     * would get 416); a 416 otherwise means our prefix is stale: start over once. */
    for (int attempt = 0; !(m->size && t.offset == m->size); attempt++) {
        hub_response r = {0};
        hub_status hs = hub_http_download(c, m->download_url, m->send_token, &t, &r);
        if (hs == HUB_ERR_HTTP && r.status == 416 && t.offset > 0 && attempt == 0) {
            hub_response_free(&r);
            if (ftruncate(fd, 0) != 0) {
                mx_set_error("hub: cannot truncate %s: %s", inc.data, strerror(errno));
                goto out;
            }
            t.offset = resumed = 0;
            continue;
        }
        if (hs == HUB_ERR_NETWORK && t.offset + t.written > 0) {
            mx_set_error("hub: download of %s from '%s' was interrupted after %llu of %llu bytes: GET %s: %s. "
                         "The bytes are kept in %s; run again to resume", filename, repo_id,
                         (unsigned long long)(t.offset + t.written), (unsigned long long)m->size,
                         m->download_url, r.curl_error, inc.data);
            hub_response_free(&r);
            goto out;
        }
        if (hs != HUB_OK) {
            strbuf what = STRBUF_INIT;
            strbuf_printf(&what, "hub: cannot download %s from '%s'", filename, repo_id);
            hub_report_failure(c, hs, &r, "GET", m->download_url, what.failed ? "hub: download" : what.data);
            strbuf_free(&what);
            hub_response_free(&r);
            goto out;
        }
        hub_response_free(&r);
        if (t.restarted) resumed = 0;
        break;
    }
    if (fstat(fd, &st) != 0) {
        mx_set_error("hub: cannot stat %s: %s", inc.data, strerror(errno));
        goto out;
    }
    if (m->size && (uint64_t)st.st_size != m->size) {
        /* Too long or too short after a transfer that reported success: corrupt, discard. */
        mx_set_error("hub: %s from '%s' has %llu bytes, the hub said %llu; the partial file was deleted, "
                     "run again", filename, repo_id, (unsigned long long)st.st_size, (unsigned long long)m->size);
        unlink(inc.data);
        goto out;
    }
    if (fsync(fd) != 0) {
        mx_set_error("hub: cannot write %s: %s", inc.data, strerror(errno));
        goto out;
    }
    int cr = close(fd);
    fd = -1;
    if (cr != 0 || rename(inc.data, blob) != 0) {
        mx_set_error("hub: cannot move %s to %s: %s", inc.data, blob, strerror(errno));
        goto out;
    }
    report_done(c, repo_id, filename, (uint64_t)st.st_size, resumed, started);
    rc = 0;
out:
    if (fd >= 0) close(fd);
    strbuf_free(&inc);
    return rc;
}

/* Creates the folders of `path`'s parent. */
static int mkdirs_parent(const char *path) {
    char *dir = strdup(path);
    if (!dir) return mx_set_error("hub: out of memory");
    *strrchr(dir, '/') = '\0';
    int rc = hub_mkdirs(dir);
    free(dir);
    return rc;
}

int hub_fetch_file(const hub_config *c, const char *repo_id, const char *repo_folder, const char *commit,
                   const char *filename) {
    if (!hub_is_safe_repo_path(filename))
        return mx_set_error("hub: refusing the file name '%s' of '%s': it would leave the snapshot folder",
                            filename, repo_id);
    strbuf pointer = STRBUF_INIT, url = STRBUF_INIT;
    char *blob = NULL, *link = NULL, *escaped = hub_url_escape(filename, 1);
    file_metadata m = {0};
    int rc = -1, lock_fd = -1;
    strbuf_printf(&pointer, "%s/snapshots/%s/%s", repo_folder, commit, filename);
    if (escaped) strbuf_printf(&url, "%s/%s/resolve/%s/%s", c->endpoint, repo_id, commit, escaped);
    if (!escaped || pointer.failed || url.failed) {
        mx_set_error("hub: out of memory");
        goto out;
    }
    if (hub_exists(pointer.data)) {  /* already cached: no network, as for a commit sha */
        rc = 0;
        goto out;
    }
    if (c->offline) {
        mx_set_error("hub: %s of '%s' (commit %s) is not in the cache (%s) and offline mode forbids "
                     "downloading it", filename, repo_id, commit, pointer.data);
        goto out;
    }
    if (head_metadata(c, repo_id, commit, filename, url.data, &m) != 0) goto out;
    strbuf blobs = STRBUF_INIT;
    strbuf_printf(&blobs, "%s/blobs", repo_folder);
    blob = blobs.failed ? NULL : hub_path_join(blobs.data, m.etag);
    link = hub_blob_link_target(filename, m.etag);
    int dirs_ok = blob && link && hub_mkdirs(blobs.data) == 0 && mkdirs_parent(pointer.data) == 0;
    strbuf_free(&blobs);
    if (!dirs_ok) {
        if (!blob || !link) mx_set_error("hub: out of memory");
        goto out;
    }
    if (!hub_exists(blob)) {
        lock_fd = lock_blob(c, repo_id, m.etag);
        if (lock_fd < 0) goto out;
        /* another process may have finished it while we waited for the lock */
        if (!hub_exists(blob) && download_blob(c, repo_id, filename, &m, blob) != 0) goto out;
    }
    rc = hub_place_symlink(link, pointer.data);
out:
    if (lock_fd >= 0) close(lock_fd);  /* releases the flock */
    free(m.download_url);
    free(blob);
    free(link);
    free(escaped);
    strbuf_free(&pointer);
    strbuf_free(&url);
    return rc;
}
