/* cmlx Hugging Face hub: find a model on disk or in the Hugging Face cache, download
 * what is missing, and inspect or prune the cache.
 *
 * The cache is huggingface_hub's own layout, so models that Python tools (transformers,
 * mlx-lm, huggingface-cli) downloaded are reused and the other way round:
 *
 *   <cache>/models--<org>--<name>/
 *       blobs/<etag>                 file contents, named by the hub's ETag (git sha1 for
 *                                    small files, sha256 for LFS files)
 *       blobs/<etag>.incomplete      a download in progress; continued with an HTTP Range
 *       refs/<revision>              the commit sha a branch or tag pointed at (40 hex)
 *       snapshots/<commit>/<file>    symlink to ../../blobs/<etag> (one more ../ per
 *                                    folder level inside the repo)
 *   <cache>/.locks/models--<org>--<name>/<etag>.lock   flock(2) held while downloading
 *
 * <cache> is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
 * ~/.cache/huggingface/hub. Environment read at each call: HF_ENDPOINT (default
 * https://huggingface.co), HF_TOKEN (else the file $HF_TOKEN_PATH, else $HF_HOME/token),
 * HF_HUB_OFFLINE=1 (never touch the network). docs/hub.md describes it for users.
 *
 * Errors follow include/cmlx/error.h: -1 / NULL and a message in mx_last_error().
 */
#ifndef CMLX_LM_HUB_H
#define CMLX_LM_HUB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Progress ==== */

/* One progress report for one file being downloaded. */
typedef struct lm_hub_progress {
    const char *repo_id;    /* "org/name" */
    const char *filename;   /* path inside the repo, e.g. "model-00001-of-00002.safetensors" */
    uint64_t done;          /* bytes of the file now on disk, resumed bytes included */
    uint64_t total;         /* the file's size, 0 when the hub did not say */
    uint64_t resumed_from;  /* bytes that were already on disk when this download began */
    double elapsed_s;       /* seconds since this download began */
    int finished;           /* 1 on the last report, once the file is complete and in place */
} lm_hub_progress;

/* Called about ten times a second while a file downloads, and once with finished=1. */
typedef void (*lm_hub_progress_fn)(const lm_hub_progress *p, void *ctx);

/* A ready-made reporter for programs: when stderr is a terminal it redraws one bar per
 * file on stderr; in every case it prints one final line per downloaded file
 * ("Downloaded org/name/file (12.3M in 1.2s, 10.3M/s)"). ctx is unused. */
void lm_hub_progress_stderr(const lm_hub_progress *p, void *ctx);

/* ==== Resolution and download ==== */

/* The files mlx-lm's snapshot_download fetches (fnmatch patterns, `*` also crosses `/`),
 * NULL-terminated: "*.json", "model*.safetensors", "*.py", "tokenizer.model",
 * "*.tiktoken", "tiktoken.model", "*.txt", "*.jsonl", "*.jinja". */
extern const char *const lm_hub_mlx_patterns[];

/* Options; a zeroed struct (or a NULL pointer) means "as the environment says", silent. */
typedef struct lm_hub_options {
    const char *endpoint;     /* NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *cache_dir;    /* NULL: the cache folder described at the top */
    const char *token;        /* NULL: $HF_TOKEN, else the token file; "" sends none */
    int local_files_only;     /* 1: as HF_HUB_OFFLINE=1 (which also forces it) */
    const char *const *allow_patterns;  /* NULL-terminated; NULL: lm_hub_mlx_patterns */
    long timeout_s;           /* connect / stall timeout per request; 0: 10 seconds */
    lm_hub_progress_fn progress;  /* NULL: no progress output */
    void *progress_ctx;
} lm_hub_options;

/* Finds `model` on disk and returns its folder in *local_dir (malloc'd; free() it).
 *
 * - An existing directory is returned as it is (no network, nothing written).
 * - Otherwise `model` must be a repo id ("org/name" or "name"). `revision` (NULL: "main")
 *   is a branch, a tag or a 40-hex commit sha. Online, the hub API
 *   ({endpoint}/api/models/{repo}/revision/{revision}) names the commit and its files;
 *   the files matching opt->allow_patterns that the snapshot lacks are downloaded
 *   ({endpoint}/{repo}/resolve/{commit}/{file}) to blobs/<etag>.incomplete (resuming
 *   a partial one), renamed into place and symlinked into snapshots/<commit>/, and
 *   refs/<revision> records the commit. The result is snapshots/<commit>.
 * - Offline (HF_HUB_OFFLINE=1 or opt->local_files_only) and also when the hub cannot be
 *   reached or refuses (network error, 5xx, 401/403), a snapshot already in the cache
 *   for that revision is returned, as huggingface_hub does; if none is cached the error
 *   names the repo and why (unreachable URL and curl's reason; 401/403: set HF_TOKEN;
 *   404: repo or revision not found; disk errors with the path).
 * A file that was not completely downloaded never appears under snapshots/ or blobs/<etag>;
 * files already in the cache are never rewritten. Returns 0, or -1 with the error set. */
int lm_hub_resolve(const char *model, const char *revision, const lm_hub_options *opt,
                   char **local_dir);

/* Downloads (or finds in the cache) one file of a repo, as huggingface_hub's
 * hf_hub_download: *path (malloc'd) is snapshots/<commit>/<filename>. Same rules as
 * lm_hub_resolve for revision, offline use and errors. */
int lm_hub_download_file(const char *repo_id, const char *filename, const char *revision,
                         const lm_hub_options *opt, char **path);

/* The cache folder used when opt->cache_dir is NULL (malloc'd), NULL (error set) on OOM
 * or when no home folder can be found. */
char *lm_hub_default_cache_dir(void);

/* 1 when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1/ON/YES/TRUE, else 0. */
int lm_hub_offline_env(void);

/* 1 when `s` is a valid repo id ("name" or "org/name": letters, digits, '-', '_', '.';
 * no "--" or ".."; at most 96 characters), else 0. */
int lm_hub_is_repo_id(const char *s);

/* ==== Cache inspection (cmlx manage) ==== */

/* One repo of the cache, as huggingface_hub's scan_cache_dir() reports it. */
typedef struct lm_hub_cached_repo {
    char *repo_id;        /* "org/name" */
    char *repo_type;      /* "model", "dataset" or "space" */
    char *path;           /* <cache>/models--org--name */
    uint64_t size_on_disk;  /* sum of the sizes of the distinct blobs the snapshots use */
    size_t nb_files;      /* number of distinct blobs */
    size_t nb_revisions;  /* number of folders in snapshots/ */
    char *refs;           /* the refs pointing at cached revisions, sorted, ", "-joined */
    double last_accessed; /* newest blob atime (the repo folder's when it has no blob) */
    double last_modified; /* newest blob mtime (likewise) */
} lm_hub_cached_repo;

typedef struct lm_hub_cache_info {
    char *cache_dir;
    lm_hub_cached_repo *repos;  /* sorted by path */
    size_t n_repos;
    char **warnings;      /* one line per folder that is not a valid cached repo */
    size_t n_warnings;
    uint64_t incomplete_bytes;  /* bytes in blobs/ *.incomplete (interrupted downloads) */
} lm_hub_cache_info;

/* Scans `cache_dir` (NULL: the default). A cache folder that does not exist yet gives an
 * empty list. Returns 0 and *out (free with lm_hub_cache_info_free), or -1. */
int lm_hub_scan_cache(const char *cache_dir, lm_hub_cache_info **out);
void lm_hub_cache_info_free(lm_hub_cache_info *info);

/* Deletes one cached repo folder (its blobs, refs and snapshots) and its lock folder.
 * Refuses a path whose last component is not "<type>s--..." or that lies outside
 * `info->cache_dir`. Symlinks are removed, never followed. 0, or -1 with the path. */
int lm_hub_delete_cached_repo(const lm_hub_cache_info *info, const lm_hub_cached_repo *repo);

/* huggingface_hub's human formats: sizes "42.2K" / "3.0G" (powers of 1000, one decimal),
 * ages "a few seconds ago" / "5 minutes ago" / "2 weeks ago". Write into buf (NUL-ended,
 * truncated to n) and return buf. */
char *lm_hub_format_size(uint64_t bytes, char *buf, size_t n);
char *lm_hub_format_age(double timestamp, double now, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
