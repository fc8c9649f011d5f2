/* A fake Hugging Face hub on loopback (see fake_hub.h), built on libmicrohttpd. */
#include "fake_hub.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_CAP 512

struct fake_hub {
    struct MHD_Daemon *daemon;
    const fake_hub_repo *repos;
    size_t n_repos;
    char endpoint[64];
    pthread_mutex_t lock;
    fake_hub_request log[LOG_CAP];
    size_t n_log;
    size_t cut_after;
    int ignore_range;
    struct { const fake_hub_file *file; char etag[65]; } etags[64];  /* digests computed once */
    size_t n_etags;
};

/* ==== Content identities ==== */

/* A stable digest of a file's bytes, as many hex digits as asked: FNV-1a lanes, one seed
 * per 16 digits. Not the hub's sha1/sha256, but just as stable and distinct per content. */
static void digest_hex(const unsigned char *p, size_t n, int digits, char *out) {
    static const char hex[] = "0123456789abcdef";
    for (int lane = 0; lane * 16 < digits; lane++) {
        uint64_t h = 1469598103934665603ull ^ (uint64_t)(lane + 1) * 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
        h ^= (uint64_t)n;
        for (int d = 0; d < 16 && lane * 16 + d < digits; d++) out[lane * 16 + d] = hex[(h >> (60 - 4 * d)) & 15];
    }
    out[digits] = '\0';
}

void fake_hub_etag(const fake_hub_file *f, char *out) { digest_hex(f->data, f->size, f->lfs ? 64 : 40, out); }

/* The file's ETag, remembered: digesting a large file for every request would make the
 * server, not the client, the slow side of a timing. */
static void cached_etag(fake_hub *h, const fake_hub_file *f, char *out) {
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->n_etags; i++)
        if (h->etags[i].file == f) {
            memcpy(out, h->etags[i].etag, 65);
            pthread_mutex_unlock(&h->lock);
            return;
        }
    pthread_mutex_unlock(&h->lock);
    fake_hub_etag(f, out);
    pthread_mutex_lock(&h->lock);
    if (h->n_etags < sizeof h->etags / sizeof h->etags[0]) {
        h->etags[h->n_etags].file = f;
        memcpy(h->etags[h->n_etags++].etag, out, 65);
    }
    pthread_mutex_unlock(&h->lock);
}

/* ==== Lookups ==== */

static const fake_hub_repo *find_repo(const fake_hub *h, const char *id, size_t id_len) {
    for (size_t i = 0; i < h->n_repos; i++)
        if (strlen(h->repos[i].repo_id) == id_len && !strncmp(h->repos[i].repo_id, id, id_len)) return &h->repos[i];
    return NULL;
}

static const fake_hub_revision *find_revision(const fake_hub_repo *r, const char *rev) {
    for (size_t i = 0; i < r->n_revisions; i++) {
        const fake_hub_revision *v = &r->revisions[i];
        if (!strcmp(v->commit, rev)) return v;
        for (size_t k = 0; k < 4 && v->refs[k]; k++)
            if (!strcmp(v->refs[k], rev)) return v;
    }
    return NULL;
}

static const fake_hub_file *find_file(const fake_hub_revision *v, const char *name) {
    for (size_t i = 0; i < v->n_files; i++)
        if (!strcmp(v->files[i].name, name)) return &v->files[i];
    return NULL;
}

static const fake_hub_file *find_lfs_blob(fake_hub *h, const char *etag) {
    char e[65];
    for (size_t i = 0; i < h->n_repos; i++)
        for (size_t j = 0; j < h->repos[i].n_revisions; j++)
            for (size_t k = 0; k < h->repos[i].revisions[j].n_files; k++) {
                const fake_hub_file *f = &h->repos[i].revisions[j].files[k];
                cached_etag(h, f, e);
                if (f->lfs && !strcmp(e, etag)) return f;
            }
    return NULL;
}

/* ==== Responses ==== */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *body, const char *error_code,
                                 const char *commit) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (error_code) MHD_add_response_header(r, "X-Error-Code", error_code);
    if (commit) MHD_add_response_header(r, "X-Repo-Commit", commit);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* As the real hub: an unknown repo is 401 to anonymous requests (not to reveal which
 * private repos exist) and 404 to authenticated ones; both say RepoNotFound. */
static enum MHD_Result repo_not_found(struct MHD_Connection *c) {
    int authed = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization") != NULL;
    return send_text(c, authed ? 404 : 401, "{\"error\":\"Repository not found\"}", "RepoNotFound", NULL);
}

/* A renamed repo: 307 to the same URL with the new repo id, as a relative Location. */
static enum MHD_Result moved(struct MHD_Connection *c, const char *prefix, const char *new_id, const char *rest) {
    char loc[1024];
    snprintf(loc, sizeof loc, "%s%s%s", prefix, new_id, rest);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Location", loc);
    enum MHD_Result ok = MHD_queue_response(c, 307, r);
    MHD_destroy_response(r);
    return ok;
}

/* 0 when the repo lets this request in, else the error was queued in *result. */
static int check_access(struct MHD_Connection *c, const fake_hub_repo *repo, enum MHD_Result *result) {
    if (!repo->token) return 0;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    char want[160];
    snprintf(want, sizeof want, "Bearer %s", repo->token);
    if (auth && !strcmp(auth, want)) return 0;
    if (repo->gated)
        *result = send_text(c, 403, "{\"error\":\"Access to model is restricted\"}", "GatedRepo", NULL);
    else
        *result = send_text(c, 401, "{\"error\":\"Invalid username or password.\"}", "RepoNotFound", NULL);
    return -1;
}

typedef struct {
    const unsigned char *data;
    size_t limit;  /* bytes to send before dropping the connection */
} cut_body;

static ssize_t read_cut(void *cls, uint64_t pos, char *buf, size_t max) {
    cut_body *b = cls;
    if (pos >= b->limit) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = b->limit - (size_t)pos < max ? b->limit - (size_t)pos : max;
    memcpy(buf, b->data + pos, n);
    return (ssize_t)n;
}

/* A file body, honouring "Range: bytes=N-" / "bytes=N-M" and the cut-after setting. */
static enum MHD_Result send_file(fake_hub *h, struct MHD_Connection *c, const fake_hub_file *f, const char *etag,
                                 const char *commit) {
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    pthread_mutex_lock(&h->lock);
    if (h->ignore_range) range = NULL;
    pthread_mutex_unlock(&h->lock);
    size_t start = 0, end = f->size;  /* [start, end) */
    unsigned status = 200;
    if (range) {
        unsigned long long a = 0, b = 0;
        int n = sscanf(range, "bytes=%llu-%llu", &a, &b);
        if (n < 1 || a >= f->size) {
            char cr[64];
            snprintf(cr, sizeof cr, "bytes */%zu", f->size);
            struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
            if (!r) return MHD_NO;
            MHD_add_response_header(r, "Content-Range", cr);
            enum MHD_Result ok = MHD_queue_response(c, 416, r);
            MHD_destroy_response(r);
            return ok;
        }
        start = (size_t)a;
        if (n == 2 && b + 1 < f->size) end = (size_t)b + 1;
        status = 206;
    }
    pthread_mutex_lock(&h->lock);
    size_t cut = h->cut_after;
    pthread_mutex_unlock(&h->lock);
    struct MHD_Response *r;
    if (cut && cut < end - start) {
        cut_body *b = malloc(sizeof *b);
        if (!b) return MHD_NO;
        *b = (cut_body){f->data + start, cut};
        r = MHD_create_response_from_callback(end - start, 64 * 1024, read_cut, b, free);
        if (!r) free(b);
    } else {
        r = MHD_create_response_from_buffer(end - start, (void *)(f->data + start), MHD_RESPMEM_PERSISTENT);
    }
    if (!r) return MHD_NO;
    char quoted[80], cr[96];
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    MHD_add_response_header(r, "ETag", quoted);
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
    if (commit) MHD_add_response_header(r, "X-Repo-Commit", commit);
    if (status == 206) {
        snprintf(cr, sizeof cr, "bytes %zu-%zu/%zu", start, end - 1, f->size);
        MHD_add_response_header(r, "Content-Range", cr);
    }
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result api_revision(fake_hub *h, struct MHD_Connection *c, const char *path) {
    const char *mark = strstr(path, "/revision/");
    if (!mark) return send_text(c, 404, "{\"error\":\"not found\"}", NULL, NULL);
    const fake_hub_repo *repo = find_repo(h, path, (size_t)(mark - path));
    if (!repo) return repo_not_found(c);
    if (repo->moved_to) return moved(c, "/api/models/", repo->moved_to, mark);
    enum MHD_Result result;
    if (check_access(c, repo, &result)) return result;
    const fake_hub_revision *v = find_revision(repo, mark + strlen("/revision/"));
    if (!v) return send_text(c, 404, "{\"error\":\"Invalid rev id\"}", "RevisionNotFound", NULL);
    char body[16384];
    size_t n = (size_t)snprintf(body, sizeof body, "{\"id\":\"%s\",\"modelId\":\"%s\",\"sha\":\"%s\",\"private\":%s,"
                                "\"siblings\":[", repo->repo_id, repo->repo_id, v->commit, repo->token ? "true" : "false");
    for (size_t i = 0; i < v->n_files && n < sizeof body; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%s{\"rfilename\":\"%s\"}", i ? "," : "", v->files[i].name);
    if (n < sizeof body) snprintf(body + n, sizeof body - n, "]}");
    return send_text(c, 200, body, NULL, NULL);
}

static enum MHD_Result resolve(fake_hub *h, struct MHD_Connection *c, const char *path, int is_head) {
    const char *mark = strstr(path, "/resolve/");
    if (!mark) return send_text(c, 404, "not found", NULL, NULL);
    const fake_hub_repo *repo = find_repo(h, path, (size_t)(mark - path));
    if (!repo) return repo_not_found(c);
    if (repo->moved_to) return moved(c, "/", repo->moved_to, mark);
    enum MHD_Result result;
    if (check_access(c, repo, &result)) return result;
    const char *rev_start = mark + strlen("/resolve/"), *slash = strchr(rev_start, '/');
    if (!slash) return send_text(c, 404, "no file", "EntryNotFound", NULL);
    char rev[128];
    snprintf(rev, sizeof rev, "%.*s", (int)(slash - rev_start), rev_start);
    const fake_hub_revision *v = find_revision(repo, rev);
    if (!v) return send_text(c, 404, "Invalid rev id", "RevisionNotFound", NULL);
    const fake_hub_file *f = find_file(v, slash + 1);
    if (!f) return send_text(c, 404, "Entry not found", "EntryNotFound", v->commit);
    char etag[65];
    cached_etag(h, f, etag);
    if (!f->lfs) return send_file(h, c, f, etag, v->commit);
    /* LFS: the hub answers 302 to its CDN and names the blob in X-Linked-* headers */
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    char loc[160], quoted[80], size[32];
    snprintf(loc, sizeof loc, "%s/cdn/%s", h->endpoint, etag);
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    snprintf(size, sizeof size, "%zu", f->size);
    MHD_add_response_header(r, "Location", loc);
    MHD_add_response_header(r, "X-Linked-Etag", quoted);
    MHD_add_response_header(r, "X-Linked-Size", size);
    MHD_add_response_header(r, "X-Repo-Commit", v->commit);
    MHD_add_response_header(r, "ETag", "\"0123456789abcdef0123456789abcdef01234567\"");  /* the pointer's */
    (void)is_head;
    enum MHD_Result ok = MHD_queue_response(c, 302, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state) {
    (void)version, (void)upload;
    fake_hub *h = cls;
    static int first_call_marker;
    if (!*state) {  /* headers only so far: wait for the (empty) body */
        *state = &first_call_marker;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    pthread_mutex_lock(&h->lock);
    if (h->n_log < LOG_CAP) {
        fake_hub_request *q = &h->log[h->n_log];
        snprintf(q->method, sizeof q->method, "%s", method);
        snprintf(q->url, sizeof q->url, "%s", url);
        snprintf(q->range, sizeof q->range, "%s", range ? range : "");
        snprintf(q->authorization, sizeof q->authorization, "%s", auth ? auth : "");
    }
    h->n_log++;
    pthread_mutex_unlock(&h->lock);
    int is_head = !strcmp(method, "HEAD");
    if (strcmp(method, "GET") && !is_head) return send_text(c, 405, "method not allowed", NULL, NULL);
    if (!strncmp(url, "/api/models/", 12)) return api_revision(h, c, url + 12);
    if (!strncmp(url, "/cdn/", 5)) {
        const fake_hub_file *f = find_lfs_blob(h, url + 5);
        return f ? send_file(h, c, f, url + 5, NULL) : send_text(c, 404, "no such blob", NULL, NULL);
    }
    return resolve(h, c, url + 1, is_head);
}

fake_hub *fake_hub_start(const fake_hub_repo *repos, size_t n_repos) {
    fake_hub *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->repos = repos;
    h->n_repos = n_repos;
    pthread_mutex_init(&h->lock, NULL);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;  /* the kernel picks a free port */
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, h,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)10, MHD_OPTION_END);
    if (!h->daemon) {
        fprintf(stderr, "fake_hub: cannot start the server on 127.0.0.1\n");
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(h->endpoint, sizeof h->endpoint, "http://127.0.0.1:%u", info ? (unsigned)info->port : 0u);
    return h;
}

void fake_hub_stop(fake_hub *h) {
    if (!h) return;
    MHD_stop_daemon(h->daemon);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

const char *fake_hub_endpoint(const fake_hub *h) { return h->endpoint; }

void fake_hub_cut_after(fake_hub *h, size_t bytes) {
    pthread_mutex_lock(&h->lock);
    h->cut_after = bytes;
    pthread_mutex_unlock(&h->lock);
}

void fake_hub_ignore_range(fake_hub *h, int ignore) {
    pthread_mutex_lock(&h->lock);
    h->ignore_range = ignore;
    pthread_mutex_unlock(&h->lock);
}

size_t fake_hub_request_count(fake_hub *h) {
    pthread_mutex_lock(&h->lock);
    size_t n = h->n_log;
    pthread_mutex_unlock(&h->lock);
    return n;
}

int fake_hub_request_at(fake_hub *h, size_t i, fake_hub_request *out) {
    pthread_mutex_lock(&h->lock);
    int ok = i < h->n_log && i < LOG_CAP;
    if (ok) *out = h->log[i];
    pthread_mutex_unlock(&h->lock);
    return ok ? 0 : -1;
}

size_t fake_hub_count(fake_hub *h, size_t from, const char *method, const char *url_part, fake_hub_request *last) {
    size_t n = 0;
    pthread_mutex_lock(&h->lock);
    for (size_t i = from; i < h->n_log && i < LOG_CAP; i++) {
        const fake_hub_request *q = &h->log[i];
        if ((method && strcmp(q->method, method)) || !strstr(q->url, url_part)) continue;
        n++;
        if (last) *last = *q;
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}
