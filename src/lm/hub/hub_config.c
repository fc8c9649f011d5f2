/* Hub configuration: options merged with the environment variables huggingface_hub reads
 * (HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_TOKEN_PATH, HF_HUB_OFFLINE). */
#include <ctype.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmlx/error.h"
#include "lm/hub/hub_internal.h"

const char *const lm_hub_mlx_patterns[] = {
    "*.json", "model*.safetensors", "*.py", "tokenizer.model", "*.tiktoken",
    "tiktoken.model", "*.txt", "*.jsonl", "*.jinja", NULL,
};

#define HUB_DEFAULT_ENDPOINT "https://huggingface.co"

/* An environment variable, NULL when unset or empty (huggingface_hub treats "" as unset
 * for the paths we read here). */
static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* huggingface_hub's _is_true: 1, ON, YES, TRUE in any case. */
static int env_is_true(const char *name) {
    const char *v = getenv(name);
    if (!v) return 0;
    static const char *const yes[] = {"1", "ON", "YES", "TRUE"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!strcasecmp(v, yes[i])) return 1;
    return 0;
}

int lm_hub_offline_env(void) { return env_is_true("HF_HUB_OFFLINE") || env_is_true("TRANSFORMERS_OFFLINE"); }

/* "~" and "~/x" expanded as os.path.expanduser does. */
static char *expand_user(const char *p) {
    if (p[0] != '~' || (p[1] && p[1] != '/')) {
        char *s = strdup(p);
        if (!s) mx_set_error("hub: out of memory");
        return s;
    }
    const char *home = env("HOME");
    if (!home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home) {
        mx_set_error("hub: cannot expand '%s': HOME is not set and the user has no home folder", p);
        return NULL;
    }
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, home);
    strbuf_puts(&sb, p + 1);
    return strbuf_detach(&sb, NULL);
}

char *hub_hf_home(void) {
    if (env("HF_HOME")) return expand_user(env("HF_HOME"));
    char *base = expand_user(env("XDG_CACHE_HOME") ? env("XDG_CACHE_HOME") : "~/.cache");
    if (!base) return NULL;
    char *home = hub_path_join(base, "huggingface");
    free(base);
    return home;
}

char *lm_hub_default_cache_dir(void) {
    if (env("HF_HUB_CACHE")) return expand_user(env("HF_HUB_CACHE"));
    if (env("HUGGINGFACE_HUB_CACHE")) return expand_user(env("HUGGINGFACE_HUB_CACHE"));
    char *home = hub_hf_home();
    if (!home) return NULL;
    char *hub = hub_path_join(home, "hub");
    free(home);
    return hub;
}

static char *strip_dup(const char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    char *out = strndup(s, n);
    if (!out) mx_set_error("hub: out of memory");
    return out;
}

/* The token: the options, else HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN), else the
 * token file that `huggingface-cli login` writes. A missing file means no token. */
static int load_token(hub_config *c, const lm_hub_options *opt) {
    if (opt && opt->token) {
        c->token_source = "the options";
        if (!opt->token[0]) return 0;
        return (c->token = strip_dup(opt->token)) ? 0 : -1;
    }
    const char *names[] = {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"};
    for (size_t i = 0; i < 2; i++)
        if (env(names[i])) {
            c->token_source = names[i];
            return (c->token = strip_dup(env(names[i]))) ? 0 : -1;
        }
    if (env("HF_TOKEN_PATH")) {
        c->token_path = expand_user(env("HF_TOKEN_PATH"));
    } else {
        char *home = hub_hf_home();
        c->token_path = home ? hub_path_join(home, "token") : NULL;
        free(home);
    }
    if (!c->token_path) return -1;
    int missing = 0;
    char *t = hub_read_text(c->token_path, 4096, &missing);
    if (!t) return missing ? 0 : -1;
    if (!t[0]) {
        free(t);
        return 0;
    }
    c->token = t;
    c->token_source = "the token file";
    return 0;
}

int hub_config_load(hub_config *c, const lm_hub_options *opt) {
    memset(c, 0, sizeof *c);
    const char *ep = opt && opt->endpoint ? opt->endpoint : env("HF_ENDPOINT");
    c->endpoint = strdup(ep ? ep : HUB_DEFAULT_ENDPOINT);
    if (!c->endpoint) goto oom;
    for (size_t n = strlen(c->endpoint); n > 0 && c->endpoint[n - 1] == '/'; n--) c->endpoint[n - 1] = '\0';
    c->cache_dir = opt && opt->cache_dir ? expand_user(opt->cache_dir) : lm_hub_default_cache_dir();
    if (!c->cache_dir) goto fail;
    c->offline = lm_hub_offline_env() || (opt && opt->local_files_only);
    c->patterns = opt && opt->allow_patterns ? opt->allow_patterns : lm_hub_mlx_patterns;
    c->timeout_s = opt && opt->timeout_s > 0 ? opt->timeout_s : 10;
    if (!opt || opt->timeout_s <= 0) {
        const char *t = env("HF_HUB_DOWNLOAD_TIMEOUT");
        if (t && atol(t) > 0) c->timeout_s = atol(t);
    }
    c->progress = opt ? opt->progress : NULL;
    c->progress_ctx = opt ? opt->progress_ctx : NULL;
    if (!c->offline && (load_token(c, opt) != 0 || hub_http_share_new(c) != 0)) goto fail;
    return 0;
oom:
    mx_set_error("hub: out of memory");
fail:
    hub_config_free(c);
    return -1;
}

void hub_config_free(hub_config *c) {
    hub_http_share_free(c);
    free(c->endpoint);
    free(c->cache_dir);
    free(c->token);
    free(c->token_path);
    memset(c, 0, sizeof *c);
}

/* huggingface_hub's validate_repo_id: one or two parts of [A-Za-z0-9_.-], not starting or
 * ending with '-' or '.', no "--" or "..", at most 96 characters. */
int lm_hub_is_repo_id(const char *s) {
    if (!s || !s[0] || strlen(s) > 96) return 0;
    if (strstr(s, "--") || strstr(s, "..")) return 0;
    int parts = 1;
    const char *part = s;
    for (const char *p = s;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t n = (size_t)(p - part);
            if (n == 0) return 0;
            if (strchr("-.", part[0]) || strchr("-.", part[n - 1])) return 0;
            if (*p == '\0') break;
            if (++parts > 2) return 0;
            part = p + 1;
            continue;
        }
        if (!isalnum((unsigned char)*p) && !strchr("-_.", *p)) return 0;
    }
    return 1;
}
