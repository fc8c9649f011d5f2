/* The hub's HTTP client (libcurl): JSON GETs of the hub API, HEADs of resolve URLs with
 * huggingface_hub's redirect rules, resumable downloads, and error messages that say what
 * to do. Every loop over redirects is bounded. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cmlx/error.h"
#include "lm/hub/hub_internal.h"

#define HUB_USER_AGENT "cmlx/0.1; hf_hub/compatible"
#define JSON_BODY_LIMIT ((size_t)64 << 20)
#define ERROR_BODY_LIMIT ((size_t)64 << 10)
#define MAX_RELATIVE_REDIRECTS 5
#define MAX_DOWNLOAD_REDIRECTS 10

double hub_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int hub_http_share_new(hub_config *c) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return mx_set_error("hub: libcurl failed to initialise: %s", curl_easy_strerror(curl_init_rc));
    CURLSH *sh = curl_share_init();
    if (!sh) return mx_set_error("hub: libcurl failed to create a share handle");
    /* one call makes a request per file; reusing the connection spares a TLS handshake
     * each time. No lock callbacks: a hub_config is used by one thread. */
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    c->http_share = sh;
    return 0;
}

void hub_http_share_free(hub_config *c) {
    if (c->http_share) curl_share_cleanup(c->http_share);
    c->http_share = NULL;
}

void hub_response_free(hub_response *r) {
    free(r->url);
    free(r->location);
    free(r->etag);
    free(r->linked_etag);
    free(r->linked_size);
    free(r->repo_commit);
    free(r->content_length);
    free(r->content_range);
    free(r->error_code);
    free(r->error_message);
    strbuf_free(&r->body);
    memset(r, 0, sizeof *r);
}

/* Forget the headers of a previous response (a redirect, or a "100 Continue"). */
static void clear_headers(hub_response *r) {
    char **fields[] = {&r->location, &r->etag, &r->linked_etag, &r->linked_size, &r->repo_commit,
                       &r->content_length, &r->content_range, &r->error_code, &r->error_message};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}

static size_t on_header(char *line, size_t size, size_t n, void *ud) {
    hub_response *r = ud;
    size_t len = size * n;
    if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
        clear_headers(r);
        return len;
    }
    static const struct { const char *name; size_t off; } known[] = {
        {"location", offsetof(hub_response, location)},
        {"etag", offsetof(hub_response, etag)},
        {"x-linked-etag", offsetof(hub_response, linked_etag)},
        {"x-linked-size", offsetof(hub_response, linked_size)},
        {"x-repo-commit", offsetof(hub_response, repo_commit)},
        {"content-length", offsetof(hub_response, content_length)},
        {"content-range", offsetof(hub_response, content_range)},
        {"x-error-code", offsetof(hub_response, error_code)},
        {"x-error-message", offsetof(hub_response, error_message)},
    };
    const char *colon = memchr(line, ':', len);
    if (!colon) return len;
    size_t name_len = (size_t)(colon - line);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strlen(known[i].name) != name_len || strncasecmp(line, known[i].name, name_len)) continue;
        const char *v = colon + 1, *end = line + len;
        while (v < end && (*v == ' ' || *v == '\t')) v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
        char **slot = (char **)((char *)r + known[i].off);
        free(*slot);
        *slot = strndup(v, (size_t)(end - v));  /* NULL on OOM: the header is just absent */
        break;
    }
    return len;
}

typedef struct {
    hub_response *r;
    size_t limit;
    int over_limit;
} body_sink;

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    body_sink *s = ud;
    size_t len = size * n;
    if (s->r->body.len + len > s->limit) {
        s->over_limit = 1;
        return 0;
    }
    return strbuf_append(&s->r->body, p, len) == 0 ? len : 0;
}

/* A handle with what every hub request shares. */
static CURL *easy_new(const hub_config *c, const char *url, int send_token, struct curl_slist **hdrs,
                      hub_response *r) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        mx_set_error("hub: libcurl failed to initialise: %s", curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        mx_set_error("hub: libcurl failed to create a handle");
        return NULL;
    }
    *hdrs = NULL;
    if (send_token && c->token) {
        strbuf auth = STRBUF_INIT;
        strbuf_printf(&auth, "Authorization: Bearer %s", c->token);
        struct curl_slist *l = auth.failed ? NULL : curl_slist_append(NULL, auth.data);
        strbuf_free(&auth);
        if (!l) {
            curl_easy_cleanup(h);
            mx_set_error("hub: out of memory");
            return NULL;
        }
        *hdrs = l;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (c->http_share) curl_easy_setopt(h, CURLOPT_SHARE, (CURLSH *)c->http_share);
    curl_easy_setopt(h, CURLOPT_USERAGENT, HUB_USER_AGENT);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->timeout_s);
    /* a stalled transfer (under 1 byte/s for timeout_s) fails instead of hanging */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->timeout_s);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curl_error);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    r->curl_error[0] = '\0';
    return h;
}

static void set_curl_reason(hub_response *r, CURLcode rc) {
    if (!r->curl_error[0]) snprintf(r->curl_error, sizeof r->curl_error, "%s", curl_easy_strerror(rc));
}

static void record_url(CURL *h, hub_response *r, const char *fallback) {
    char *eff = NULL;
    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
    free(r->url);
    r->url = strdup(eff ? eff : fallback);
}

hub_status hub_http_get_json(const hub_config *c, const char *url, hub_response *r) {
    struct curl_slist *hdrs;
    CURL *h = easy_new(c, url, 1, &hdrs, r);
    if (!h) return HUB_ERR_LOCAL;
    body_sink sink = {r, JSON_BODY_LIMIT, 0};
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)MAX_RELATIVE_REDIRECTS);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    record_url(h, r, url);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    if (sink.over_limit) {
        mx_set_error("hub: the answer of %s is larger than %zu bytes; not a hub API answer", url, JSON_BODY_LIMIT);
        return HUB_ERR_LOCAL;
    }
    if (r->body.failed) return HUB_ERR_LOCAL;
    if (rc != CURLE_OK) {
        set_curl_reason(r, rc);
        return HUB_ERR_NETWORK;
    }
    return r->status >= 200 && r->status < 300 ? HUB_OK : HUB_ERR_HTTP;
}

/* A Location with no scheme and host ("/org/new-name/resolve/..."): RFC 7231 relative. */
static int is_relative_location(const char *loc) { return loc[0] == '/' && loc[1] != '/'; }

static char *resolve_relative(const char *base, const char *loc) {
    CURLU *u = curl_url();
    char *out = NULL, *res = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, loc, 0) == CURLUE_OK && curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK) {
        res = strdup(out);
    }
    curl_free(out);
    curl_url_cleanup(u);
    if (!res) mx_set_error("hub: cannot follow the redirect from %s to %s", base, loc);
    return res;
}

hub_status hub_http_head(const hub_config *c, const char *url, hub_response *r) {
    char *current = strdup(url);
    if (!current) {
        mx_set_error("hub: out of memory");
        return HUB_ERR_LOCAL;
    }
    hub_status st = HUB_ERR_LOCAL;
    for (int hop = 0; hop <= MAX_RELATIVE_REDIRECTS; hop++) {
        struct curl_slist *hdrs;
        CURL *h = easy_new(c, current, 1, &hdrs, r);
        if (!h) break;
        /* the size of the file itself, not of a compressed encoding of it */
        hdrs = curl_slist_append(hdrs, "Accept-Encoding: identity");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        CURLcode rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        curl_easy_cleanup(h);
        curl_slist_free_all(hdrs);
        free(r->url);
        r->url = strdup(current);
        if (rc != CURLE_OK) {
            set_curl_reason(r, rc);
            st = HUB_ERR_NETWORK;
            break;
        }
        if (r->status >= 300 && r->status < 400 && r->location && is_relative_location(r->location)) {
            /* a renamed repo: follow on the same host, keeping the token */
            char *next = resolve_relative(current, r->location);
            if (!next) break;
            free(current);
            current = next;
            if (hop == MAX_RELATIVE_REDIRECTS) {
                mx_set_error("hub: more than %d redirects from %s", MAX_RELATIVE_REDIRECTS, url);
                st = HUB_ERR_LOCAL;
            }
            continue;
        }
        st = (r->status >= 200 && r->status < 400) ? HUB_OK : HUB_ERR_HTTP;
        break;
    }
    free(current);
    return st;
}

/* ==== Downloads ==== */

typedef struct {
    hub_transfer *t;
    hub_response *r;
    CURL *h;
    int decided;    /* the first body bytes came: we know where they go */
    int to_file;
    int bad_range;  /* a 206 that does not continue where our file ends */
} download_sink;

static void report_progress(hub_transfer *t, int force) {
    if (!t->cfg->progress) return;
    double now = hub_now();
    if (!force && now - t->last_report < 0.1) return;
    t->last_report = now;
    lm_hub_progress p = {t->repo_id, t->filename, t->offset + t->written, t->expected, t->offset,
                         now - t->started, 0};
    t->cfg->progress(&p, t->cfg->progress_ctx);
}

/* The first body bytes of the final response: a 206 continues our file, a 200 replaces
 * it (the server ignored Range), anything else is an error page kept for the message. */
static int decide_destination(download_sink *s) {
    long code = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
    s->decided = 1;
    hub_transfer *t = s->t;
    if (code == 206) {
        const char *cr = s->r->content_range;
        unsigned long long start = 0;
        if (!cr || sscanf(cr, "bytes %llu-", &start) != 1 || start != t->offset) {
            s->bad_range = 1;
            return -1;
        }
        s->to_file = 1;
    } else if (code >= 200 && code < 300) {
        if (t->offset > 0) {
            if (ftruncate(t->fd, 0) != 0) {
                t->write_errno = errno;
                return -1;
            }
            t->offset = 0;
            t->restarted = 1;
        }
        s->to_file = 1;
    }
    return 0;
}

static size_t on_download(char *p, size_t size, size_t n, void *ud) {
    download_sink *s = ud;
    size_t len = size * n;
    if (!s->decided && decide_destination(s) != 0) return 0;
    if (!s->to_file) {
        if (s->r->body.len + len <= ERROR_BODY_LIMIT) strbuf_append(&s->r->body, p, len);
        return len;
    }
    hub_transfer *t = s->t;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(t->fd, p + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            t->write_errno = w < 0 ? errno : EIO;
            return 0;
        }
        off += (size_t)w;
    }
    t->written += len;
    report_progress(t, 0);
    return len;
}

hub_status hub_http_download(const hub_config *c, const char *url, int send_token, hub_transfer *t,
                             hub_response *r) {
    struct curl_slist *hdrs;
    CURL *h = easy_new(c, url, send_token, &hdrs, r);
    if (!h) return HUB_ERR_LOCAL;
    char range[64];
    if (t->offset > 0) {
        snprintf(range, sizeof range, "Range: bytes=%llu-", (unsigned long long)t->offset);
        hdrs = curl_slist_append(hdrs, range);
    }
    if (hdrs) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    download_sink sink = {t, r, h, 0, 0, 0};
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)MAX_DOWNLOAD_REDIRECTS);
    /* 1 MiB reads: a multi-GB file in fewer write() calls than with curl's 16 KiB */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 1L << 20);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_download);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    t->started = t->last_report = hub_now();
    t->written = 0;
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    record_url(h, r, url);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    /* an empty 200 body never reaches on_download: still drop the stale partial file */
    if (rc == CURLE_OK && !sink.decided && r->status >= 200 && r->status < 300 && r->status != 206 && t->offset > 0) {
        if (ftruncate(t->fd, 0) != 0) t->write_errno = errno;
        t->offset = 0;
        t->restarted = 1;
    }
    if (t->write_errno) {
        mx_set_error("hub: cannot write %s: %s", t->path, strerror(t->write_errno));
        return HUB_ERR_LOCAL;
    }
    if (sink.bad_range) {
        mx_set_error("hub: %s answered a Range request for bytes %llu- with Content-Range '%s'", url,
                     (unsigned long long)t->offset, r->content_range ? r->content_range : "(none)");
        return HUB_ERR_LOCAL;
    }
    if (rc != CURLE_OK) {
        set_curl_reason(r, rc);
        return HUB_ERR_NETWORK;
    }
    return r->status >= 200 && r->status < 300 ? HUB_OK : HUB_ERR_HTTP;
}

char *hub_url_escape(const char *s, int keep_slash) {
    strbuf sb = STRBUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p) || (keep_slash && *p == '/'))
            strbuf_putc(&sb, (char)*p);
        else
            strbuf_printf(&sb, "%%%02X", *p);
    }
    strbuf_puts(&sb, "");
    if (sb.failed) {
        strbuf_free(&sb);
        mx_set_error("hub: out of memory");
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

/* ==== Error messages ==== */

static void token_advice(strbuf *sb, const hub_config *c) {
    if (c->token)
        strbuf_printf(sb, "the token from %s%s%s was sent but does not grant access; check it, or that the "
                          "account has accepted the repo's conditions",
                      c->token_source, c->token_path && !strcmp(c->token_source, "the token file") ? " " : "",
                      c->token_path && !strcmp(c->token_source, "the token file") ? c->token_path : "");
    else
        strbuf_printf(sb, "no token was sent: set HF_TOKEN (or write it to %s, as `huggingface-cli login` "
                          "does) with an account that can read the repo",
                      c->token_path ? c->token_path : "$HF_HOME/token");
}

int hub_report_failure(const hub_config *c, hub_status st, const hub_response *r, const char *method,
                       const char *url, const char *what) {
    if (st == HUB_ERR_LOCAL) return -1;  /* the message is already recorded */
    strbuf sb = STRBUF_INIT;
    strbuf_printf(&sb, "%s: ", what);
    if (st == HUB_ERR_NETWORK) {
        strbuf_printf(&sb, "cannot reach the hub: %s %s failed: %s. Check the network and HF_ENDPOINT (%s), "
                           "or set HF_HUB_OFFLINE=1 to use only models already in the cache",
                      method, url, r->curl_error[0] ? r->curl_error : "unknown error", c->endpoint);
    } else {
        const char *code = r->error_code ? r->error_code : "";
        strbuf_printf(&sb, "%s %s answered HTTP %ld", method, r->url ? r->url : url, r->status);
        if (r->error_message) strbuf_printf(&sb, " (%s)", r->error_message);
        strbuf_puts(&sb, ": ");
        if (!strcmp(code, "RevisionNotFound"))
            strbuf_puts(&sb, "revision not found (check the branch, tag or commit sha)");
        else if (!strcmp(code, "EntryNotFound"))
            strbuf_puts(&sb, "file not found in the repo at that revision");
        else if (!strcmp(code, "GatedRepo") || r->status == 403) {
            strbuf_puts(&sb, "access denied (gated or private repo: accept its conditions on the hub page); ");
            token_advice(&sb, c);
        } else if (r->status == 401) {
            strbuf_puts(&sb, "repo not found or private; ");
            token_advice(&sb, c);
        } else if (r->status == 404)
            strbuf_puts(&sb, "repo not found (check the spelling of the repo id; a private repo also needs "
                             "HF_TOKEN)");
        else if (r->status == 416)
            strbuf_puts(&sb, "the server refused to resume the download");
        else if (r->status >= 500)
            strbuf_puts(&sb, "the hub failed; try again later, or set HF_HUB_OFFLINE=1 to use the cache");
        else
            strbuf_puts(&sb, "unexpected answer");
    }
    if (sb.failed) {
        strbuf_free(&sb);
        return mx_set_error("hub: out of memory");
    }
    mx_set_error("%s", sb.data);
    strbuf_free(&sb);
    return -1;
}
