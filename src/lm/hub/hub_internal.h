/* Internal pieces of the hub (src/lm/hub): configuration, file-system helpers, the cache
 * layout and the HTTP client. Public API: include/cmlx/lm_hub.h. */
#ifndef CMLX_LM_HUB_INTERNAL_H
#define CMLX_LM_HUB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cmlx/lm_hub.h"
#include "util/strbuf.h"

/* ==== Configuration (hub_config.c) ==== */

/* The options of one call with every default filled in from the environment. */
typedef struct hub_config {
    char *endpoint;      /* no trailing '/' */
    char *cache_dir;
    char *token;         /* NULL: send no Authorization */
    const char *token_source;  /* "HF_TOKEN", "the token file <path>" or "the options" */
    char *token_path;    /* the token file consulted (for messages) */
    int offline;
    const char *const *patterns;
    long timeout_s;
    lm_hub_progress_fn progress;
    void *progress_ctx;
    void *http_share;    /* CURLSH: connections, DNS and TLS sessions reused across the
                            requests of one call (used by one thread at a time) */
} hub_config;

int hub_config_load(hub_config *c, const lm_hub_options *opt);
void hub_config_free(hub_config *c);
/* $HF_HOME, else $XDG_CACHE_HOME/huggingface, else $HOME/.cache/huggingface (malloc'd). */
char *hub_hf_home(void);

/* ==== File system (hub_fs.c) ==== */

char *hub_path_join(const char *a, const char *b);   /* "a/b", malloc'd; NULL on OOM */
int hub_mkdirs(const char *path);                      /* mkdir -p; -1 names the path */
int hub_is_dir(const char *path);                      /* follows symlinks */
int hub_exists(const char *path);                      /* follows symlinks */
/* Reads a small text file whole, trailing whitespace stripped. NULL and *missing=1 when it
 * does not exist; NULL with the error set on other failures. */
char *hub_read_text(const char *path, size_t max_bytes, int *missing);
/* Writes `data` to a temporary file next to `path`, then renames it over `path`. */
int hub_write_atomic(const char *path, const char *data, size_t n);
/* Makes `link_path` a symlink to `target` (a relative path), atomically, unless
 * `link_path` already resolves to an existing file (then leaves it alone). */
int hub_place_symlink(const char *target, const char *link_path);
/* rm -rf without following symlinks. */
int hub_remove_tree(const char *path);

/* ==== Cache layout (hub_cache.c) ==== */

/* "<cache>/models--org--name" (malloc'd). */
char *hub_repo_folder(const char *cache_dir, const char *repo_id);
/* "models--org--name" (malloc'd). */
char *hub_repo_folder_name(const char *repo_id);
int hub_is_commit_hash(const char *s);               /* ^[0-9a-f]{40}$ */
/* A revision is used as a path under refs/: no "..", no empty or absolute components. */
int hub_is_safe_revision(const char *rev);
/* A repo file name from the hub is used as a path under snapshots/<commit>/. */
int hub_is_safe_repo_path(const char *name);
/* Strips W/ and quotes; 0 and the etag in out (which must hold 128 bytes), or -1 when the
 * result is empty or not a safe single file name. */
int hub_normalize_etag(const char *raw, char *out, size_t out_size);
/* The commit a revision names in the cache: itself for a commit sha, else refs/<rev>.
 * 1 and commit in out[41], 0 when unknown, -1 on a read error. */
int hub_cached_commit(const char *repo_folder, const char *revision, char out[41]);
/* Records refs/<revision> = commit unless it already says so. */
int hub_write_ref(const char *repo_folder, const char *revision, const char *commit);
/* "../../blobs/<etag>" with one more "../" per '/' in `filename` (malloc'd). */
char *hub_blob_link_target(const char *filename, const char *etag);

/* ==== HTTP (hub_http.c) ==== */

typedef enum {
    HUB_OK = 0,
    HUB_ERR_NETWORK = -2,  /* no HTTP answer: connection, DNS, TLS, timeout, transfer cut */
    HUB_ERR_HTTP = -3,     /* the server answered with a status >= 300 we do not follow */
    HUB_ERR_LOCAL = -1,    /* OOM, disk, bad data: the error message says */
} hub_status;

typedef struct hub_response {
    long status;
    char *url;             /* the URL that answered (after relative redirects) */
    char *location;        /* Location of a redirect we did not follow */
    char *etag;            /* ETag */
    char *linked_etag;     /* X-Linked-Etag */
    char *linked_size;     /* X-Linked-Size */
    char *repo_commit;     /* X-Repo-Commit */
    char *content_length;
    char *content_range;
    char *error_code;      /* X-Error-Code (RepoNotFound, RevisionNotFound, ...) */
    char *error_message;   /* X-Error-Message */
    strbuf body;           /* GET bodies and error bodies (bounded) */
    char curl_error[256];  /* curl's message when status is HUB_ERR_NETWORK */
} hub_response;

void hub_response_free(hub_response *r);
/* Creates / frees c->http_share (hub_http.c keeps libcurl out of the other files). */
int hub_http_share_new(hub_config *c);
void hub_http_share_free(hub_config *c);

/* GET a JSON document (at most 64 MiB) into r->body, following redirects (at most 5). */
hub_status hub_http_get_json(const hub_config *c, const char *url, hub_response *r);
/* HEAD a resolve URL as huggingface_hub does: redirects to the same host (renamed repos)
 * are followed (at most 5), others are returned with r->location. */
hub_status hub_http_head(const hub_config *c, const char *url, hub_response *r);

/* Progress plumbing for hub_http_download. */
typedef struct hub_transfer {
    int fd;                /* the .incomplete file, opened for writing */
    const char *path;      /* its name, for messages */
    uint64_t offset;       /* bytes already in the file: asked for with Range */
    uint64_t expected;     /* final size when known, else 0 */
    const hub_config *cfg;
    const char *repo_id, *filename;
    /* filled by the transfer */
    uint64_t written;      /* bytes written by this transfer */
    int restarted;         /* the server ignored Range: the file was truncated first */
    int write_errno;       /* errno of a failed write, 0 if none */
    double started, last_report;
} hub_transfer;

/* GET `url` appending to t->fd (Range: bytes=<offset>- when offset > 0); follows
 * redirects (at most 10); sends the token only when send_token. */
hub_status hub_http_download(const hub_config *c, const char *url, int send_token,
                             hub_transfer *t, hub_response *r);

/* "%XX"-escapes everything but unreserved characters (and '/' when keep_slash). */
char *hub_url_escape(const char *s, int keep_slash);

/* Records a message for a failed request: what was asked (`what`, e.g. "repo 'a/b'
 * revision 'main'"), the URL, and the reason with its remedy. Returns -1. */
int hub_report_failure(const hub_config *c, hub_status st, const hub_response *r,
                       const char *method, const char *url, const char *what);

double hub_now(void);  /* monotonic seconds */

/* ==== One file (hub_download.c) ==== */

/* Ensures snapshots/<commit>/<filename> exists in `repo_folder`, downloading it from
 * {endpoint}/{repo}/resolve/{commit}/{filename} when missing. */
int hub_fetch_file(const hub_config *c, const char *repo_id, const char *repo_folder,
                   const char *commit, const char *filename);

#endif
