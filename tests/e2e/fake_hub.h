/* A fake Hugging Face hub for tests: a real HTTP server (libmicrohttpd) on 127.0.0.1 at an
 * ephemeral port that answers the requests huggingface_hub and cmlx make:
 *   GET  /api/models/<repo>/revision/<rev>   {"sha", "siblings": [{"rfilename"}]}
 *   HEAD/GET /<repo>/resolve/<rev>/<file>    ETag + X-Repo-Commit; LFS files: 302 to
 *                                            /cdn/<sha256> with X-Linked-Etag/-Size
 *   GET  /cdn/<etag>                         the LFS blob (Range: bytes=N- honoured)
 * with the hub's error headers (X-Error-Code: RepoNotFound, RevisionNotFound,
 * EntryNotFound, GatedRepo) and 401 for a private repo without its token. Every request
 * is logged for the test to inspect. */
#ifndef CMLX_TESTS_FAKE_HUB_H
#define CMLX_TESTS_FAKE_HUB_H

#include <stddef.h>

typedef struct fake_hub_file {
    const char *name;
    const unsigned char *data;
    size_t size;
    int lfs;  /* served through a redirect to /cdn/, as the hub serves LFS files */
} fake_hub_file;

typedef struct fake_hub_revision {
    const char *commit;       /* 40 hex digits */
    const char *refs[4];      /* branch and tag names pointing at it, NULL-terminated */
    const fake_hub_file *files;
    size_t n_files;
} fake_hub_revision;

typedef struct fake_hub_repo {
    const char *repo_id;
    const char *token;        /* non-NULL: private, needs "Authorization: Bearer <token>" */
    int gated;                /* with token: a missing/wrong token gets 403 GatedRepo, not 401 */
    const fake_hub_revision *revisions;
    size_t n_revisions;
    const char *moved_to;     /* non-NULL: renamed; every request gets a 307 to this repo id
                                 as a relative Location, as the hub answers for renamed repos */
} fake_hub_repo;

typedef struct fake_hub_request {
    char method[8];
    char url[512];
    char range[64];           /* the Range header, "" when absent */
    char authorization[160];  /* the Authorization header, "" when absent */
} fake_hub_request;

typedef struct fake_hub fake_hub;

/* Starts serving `repos` (kept by pointer: they must outlive the server). NULL on failure
 * (the reason on stderr). */
fake_hub *fake_hub_start(const fake_hub_repo *repos, size_t n_repos);
void fake_hub_stop(fake_hub *h);
/* "http://127.0.0.1:<port>", valid until fake_hub_stop. */
const char *fake_hub_endpoint(const fake_hub *h);

/* From now on, file bodies stop after `bytes` bytes and the connection is dropped
 * (a cut download); 0 serves whole files again. */
void fake_hub_cut_after(fake_hub *h, size_t bytes);

/* 1: answer every Range request with the whole file (200), as some servers and proxies do. */
void fake_hub_ignore_range(fake_hub *h, int ignore);

size_t fake_hub_request_count(fake_hub *h);
/* Copies request i (in arrival order); 0, or -1 when there is no such request. */
int fake_hub_request_at(fake_hub *h, size_t i, fake_hub_request *out);
/* The number of requests since request `from` whose method is `method` (NULL: any) and
 * whose URL contains `url_part`; the last of them is copied to *last when non-NULL. */
size_t fake_hub_count(fake_hub *h, size_t from, const char *method, const char *url_part, fake_hub_request *last);

/* The ETag the fake hub gives a file (40 hex for a git file, 64 for an LFS file), written
 * to out (at least 65 bytes). */
void fake_hub_etag(const fake_hub_file *f, char *out);

#endif
