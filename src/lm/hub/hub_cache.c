/* The Hugging Face cache layout: repo folder names, refs, etags, link targets, and the
 * checks that keep names from the network inside the cache. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "lm/hub/hub_internal.h"

char *hub_repo_folder_name(const char *repo_id) {
    /* huggingface_hub's repo_folder_name: "models", then each part of the id, joined by
     * "--" ("org/name" -> "models--org--name", "gpt2" -> "models--gpt2"). */
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "models--");
    for (const char *p = repo_id; *p; p++) {
        if (*p == '/') strbuf_puts(&sb, "--");
        else strbuf_putc(&sb, *p);
    }
    if (sb.failed) {
        strbuf_free(&sb);
        mx_set_error("hub: out of memory");
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

char *hub_repo_folder(const char *cache_dir, const char *repo_id) {
    char *name = hub_repo_folder_name(repo_id);
    if (!name) return NULL;
    char *path = hub_path_join(cache_dir, name);
    free(name);
    return path;
}

int hub_is_commit_hash(const char *s) {
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return i == 40;
}

/* No absolute path, no empty, "." or ".." component, no backslash or control byte:
 * whatever the string, joining it under a folder stays inside that folder. */
static int is_safe_relative_path(const char *p) {
    if (!p[0] || p[0] == '/') return 0;
    const char *part = p;
    for (const char *s = p;; s++) {
        if (*s == '/' || *s == '\0') {
            size_t n = (size_t)(s - part);
            if (n == 0 || (n == 1 && part[0] == '.') || (n == 2 && part[0] == '.' && part[1] == '.')) return 0;
            if (*s == '\0') return 1;
            part = s + 1;
        } else if ((unsigned char)*s < 0x20 || *s == '\\' || *s == 0x7f) {
            return 0;
        }
    }
}

int hub_is_safe_revision(const char *rev) { return rev && is_safe_relative_path(rev) && strlen(rev) < 256; }

int hub_is_safe_repo_path(const char *name) { return name && is_safe_relative_path(name) && strlen(name) < 1024; }

int hub_normalize_etag(const char *raw, char *out, size_t out_size) {
    /* huggingface_hub's _normalize_etag: ETag: W/"<v>" or "<v>" -> <v>. */
    const char *s = raw;
    while (*s == ' ') s++;
    if (s[0] == 'W' && s[1] == '/') s += 2;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\n')) n--;
    if (n && s[0] == '"') s++, n--;
    if (n && s[n - 1] == '"') n--;
    if (n == 0 || n >= out_size) return -1;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int hub_cached_commit(const char *repo_folder, const char *revision, char out[41]) {
    if (hub_is_commit_hash(revision)) {
        memcpy(out, revision, 41);
        return 1;
    }
    if (!hub_is_safe_revision(revision)) return 0;
    char *refs = hub_path_join(repo_folder, "refs");
    char *ref = refs ? hub_path_join(refs, revision) : NULL;
    free(refs);
    if (!ref) return -1;
    int missing = 0;
    char *commit = hub_read_text(ref, 1024, &missing);
    if (!commit) {
        free(ref);
        return missing ? 0 : -1;
    }
    int ok = hub_is_commit_hash(commit);
    if (ok) memcpy(out, commit, 41);
    else mx_set_error("hub: %s does not hold a commit sha (40 hex digits)", ref);
    free(commit);
    free(ref);
    return ok ? 1 : -1;
}

int hub_write_ref(const char *repo_folder, const char *revision, const char *commit) {
    if (!strcmp(revision, commit)) return 0;
    char current[41];
    if (hub_cached_commit(repo_folder, revision, current) == 1 && !strcmp(current, commit)) return 0;
    char *refs = hub_path_join(repo_folder, "refs");
    char *ref = refs ? hub_path_join(refs, revision) : NULL;
    free(refs);
    if (!ref) return -1;
    /* refs/pr/1 needs refs/pr/ */
    char *dir = strdup(ref);
    int rc = -1;
    if (dir) {
        *strrchr(dir, '/') = '\0';
        rc = hub_mkdirs(dir);
        free(dir);
    } else {
        mx_set_error("hub: out of memory");
    }
    /* huggingface_hub writes the sha without a newline; so do we, for byte equality */
    if (rc == 0) rc = hub_write_atomic(ref, commit, strlen(commit));
    free(ref);
    return rc;
}

char *hub_blob_link_target(const char *filename, const char *etag) {
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "../../");
    for (const char *p = filename; *p; p++)
        if (*p == '/') strbuf_puts(&sb, "../");
    strbuf_printf(&sb, "blobs/%s", etag);
    if (sb.failed) {
        strbuf_free(&sb);
        mx_set_error("hub: out of memory");
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}
