/* Opening safetensors checkpoints: one file, a directory of shards, or an index JSON. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmlx/error.h"
#include "io/safetensors_impl.h"
#include "util/strbuf.h"

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

void mx_safetensors_close(mx_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n_files; i++) {
        st_header_free(&st->files[i].hdr);
        st_mapping_release(st->files[i].map);   /* arrays taken keep their own references */
        free(st->files[i].path);
    }
    free(st->files);
    free(st->entries);
    free(st->meta_keys);
    free(st->meta_values);
    free(st->path);
    free(st);
}

int st_file_index(const mx_safetensors *st, const char *path) {
    for (int i = 0; i < st->n_files; i++)
        if (strcmp(st->files[i].path, path) == 0) return i;
    return -1;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const st_entry *)a)->t->name, ((const st_entry *)b)->t->name);
}

typedef struct meta_ref {
    const char *key, *value;
    int order;   /* file position, so the first file's value wins on a tie */
} meta_ref;

static int cmp_meta(const void *a, const void *b) {
    const meta_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : x->order - y->order;
}

/* One table of names over all files; duplicates across shards are an error, since which
 * one a loader would get would depend on the order we happened to open them in. */
static int merge_entries(mx_safetensors *st) {
    size_t total = 0, total_meta = 0;
    for (int i = 0; i < st->n_files; i++) {
        total += st->files[i].hdr.n_tensors;
        total_meta += st->files[i].hdr.n_meta;
    }
    if (total > (size_t)INT32_MAX) return mx_set_error("[safetensors] %s: too many tensors (%zu)", st->path, total);
    st->entries = calloc(total ? total : 1, sizeof *st->entries);
    if (!st->entries) return mx_set_error("[safetensors] %s: out of memory", st->path);
    for (int i = 0; i < st->n_files; i++)
        for (size_t j = 0; j < st->files[i].hdr.n_tensors; j++)
            st->entries[st->n_entries++] = (st_entry){&st->files[i].hdr.tensors[j], i};
    qsort(st->entries, (size_t)st->n_entries, sizeof *st->entries, cmp_entry);
    for (int i = 1; i < st->n_entries; i++) {
        const st_entry *a = &st->entries[i - 1], *b = &st->entries[i];
        if (strcmp(a->t->name, b->t->name) == 0) {
            const st_file *fa = &st->files[a->file], *fb = &st->files[b->file];
            return mx_set_error("[safetensors] %s: tensor '%s' is in both %s (file byte %llu) and %s (file byte %llu)",
                                st->path, a->t->name, fa->path, (unsigned long long)(fa->hdr.data_start + a->t->begin),
                                fb->path, (unsigned long long)(fb->hdr.data_start + b->t->begin));
        }
    }

    if (total_meta == 0) return 0;
    meta_ref *refs = malloc(total_meta * sizeof *refs);
    st->meta_keys = malloc(total_meta * sizeof *st->meta_keys);
    st->meta_values = malloc(total_meta * sizeof *st->meta_values);
    if (!refs || !st->meta_keys || !st->meta_values) {
        free(refs);
        return mx_set_error("[safetensors] %s: out of memory", st->path);
    }
    size_t k = 0;
    for (int i = 0; i < st->n_files; i++)
        for (size_t j = 0; j < st->files[i].hdr.n_meta; j++)
            refs[k++] = (meta_ref){st->files[i].hdr.meta_keys[j], st->files[i].hdr.meta_values[j], i};
    qsort(refs, total_meta, sizeof *refs, cmp_meta);
    for (size_t i = 0; i < total_meta; i++) {
        if (st->n_meta > 0 && strcmp(st->meta_keys[st->n_meta - 1], refs[i].key) == 0) continue;
        st->meta_keys[st->n_meta] = refs[i].key;
        st->meta_values[st->n_meta] = refs[i].value;
        st->n_meta++;
    }
    free(refs);
    return 0;
}

mx_safetensors *st_open_files(const char *display_path, char **paths, int n) {
    mx_safetensors *st = calloc(1, sizeof *st);
    if (st) {
        st->path = dup_str(display_path);
        st->files = calloc(n > 0 ? (size_t)n : 1, sizeof *st->files);
    }
    if (!st || !st->path || !st->files) {
        mx_set_error("[safetensors] %s: out of memory", display_path);
        for (int i = 0; i < n; i++) free(paths[i]);
        if (st) free(st->path), free(st->files), free(st);
        return NULL;
    }
    /* The handle owns the paths from here on, so one cleanup path frees everything. */
    for (int i = 0; i < n; i++) st->files[i].path = paths[i];
    st->n_files = n;
    for (int i = 0; i < n; i++) {
        st_file *f = &st->files[i];
        f->map = st_mapping_open(f->path);
        if (!f->map || st_parse(f->map->addr, f->map->len, f->path, &f->hdr)) goto fail;
    }
    if (merge_entries(st)) goto fail;
    return st;
fail:
    mx_safetensors_close(st);
    return NULL;
}

static char *join_path(const char *dir, const char *name) {
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, dir);
    if (sb.len > 0 && sb.data[sb.len - 1] != '/') strbuf_putc(&sb, '/');
    strbuf_puts(&sb, name);
    if (sb.failed) {
        strbuf_free(&sb);
        mx_set_error("[safetensors] out of memory");
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

static int is_regular(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A directory: its model.safetensors.index.json, else its only *.safetensors.index.json,
 * else every *.safetensors in it (sorted by name). */
static mx_safetensors *open_dir(const char *dir) {
    char *index = join_path(dir, "model.safetensors.index.json");
    if (!index) return NULL;
    if (is_regular(index)) {
        mx_safetensors *st = st_open_index(index);
        free(index);
        return st;
    }
    free(index);
    index = NULL;

    DIR *d = opendir(dir);
    if (!d) {
        mx_set_error("[safetensors] cannot read directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    char **paths = NULL;
    int n = 0, cap = 0, n_index = 0, failed = 0;
    struct dirent *de;
    while (!failed && (de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        int is_index = ends_with(name, ".safetensors.index.json");
        if (!is_index && !ends_with(name, ".safetensors")) continue;
        char *full = join_path(dir, name);
        if (!full) {
            failed = 1;
            break;
        }
        if (!is_regular(full)) {
            free(full);
            continue;
        }
        if (is_index) {
            n_index++;
            free(index);
            index = full;
            continue;
        }
        if (n == cap) {
            int ncap = cap ? cap * 2 : 8;
            char **np = realloc(paths, (size_t)ncap * sizeof *np);
            if (!np) {
                free(full);
                mx_set_error("[safetensors] %s: out of memory", dir);
                failed = 1;
                break;
            }
            paths = np, cap = ncap;
        }
        paths[n++] = full;
    }
    closedir(d);
    mx_safetensors *st = NULL;
    if (!failed && n_index == 1) {
        st = st_open_index(index);
    } else if (!failed && n == 0) {
        mx_set_error("[safetensors] %s: no .safetensors files in this directory", dir);
    } else if (!failed) {
        qsort(paths, (size_t)n, sizeof *paths, cmp_str);
        st = st_open_files(dir, paths, n);
        n = 0;   /* the strings are taken; the array itself is freed below */
    }
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    free(index);
    return st;
}

mx_safetensors *mx_safetensors_open(const char *path) {
    if (!path) {
        mx_set_error("[safetensors] open: path is NULL");
        return NULL;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
        mx_set_error("[safetensors] cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(sb.st_mode)) return open_dir(path);
    if (!S_ISREG(sb.st_mode)) {
        mx_set_error("[safetensors] %s is neither a regular file nor a directory", path);
        return NULL;
    }
    if (ends_with(path, ".json")) return st_open_index(path);
    char *p = dup_str(path);
    if (!p) {
        mx_set_error("[safetensors] out of memory");
        return NULL;
    }
    return st_open_files(path, &p, 1);
}
