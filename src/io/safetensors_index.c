/* Sharded checkpoints: model.safetensors.index.json maps each tensor name to the shard file
 * (in the same directory) that holds it:
 *   {"metadata": {...}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors", ...}}
 * Every shard it names is opened, and every tensor it names must be in that shard. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmlx/error.h"
#include "io/safetensors_impl.h"
#include "util/strbuf.h"

/* The directory part of path ("." when there is none), as a new string. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    strbuf sb = STRBUF_INIT;
    if (!slash) strbuf_puts(&sb, ".");
    else if (slash == path) strbuf_puts(&sb, "/");
    else strbuf_append(&sb, path, (size_t)(slash - path));
    if (sb.failed) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

/* Shard names are plain file names next to the index: a name with a slash or a bare ".."
 * would let a downloaded index point anywhere on disk. */
static int valid_shard_name(const char *s) {
    return s[0] != '\0' && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

mx_safetensors *st_open_index(const char *index_path) {
    json_error_t jerr;
    json_t *root = json_load_file(index_path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        mx_set_error("[safetensors] %s: index is not valid JSON: %s (line %d, column %d, byte %d)", index_path,
                     jerr.text, jerr.line, jerr.column, jerr.position);
        return NULL;
    }
    mx_safetensors *st = NULL;
    char *dir = NULL, **paths = NULL;
    size_t n_paths = 0;
    const json_t *map = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
    if (!json_is_object(map)) {
        mx_set_error("[safetensors] %s: index has no \"weight_map\" object", index_path);
        goto done;
    }
    size_t count = json_object_size(map);
    if (count == 0) {
        mx_set_error("[safetensors] %s: index \"weight_map\" is empty", index_path);
        goto done;
    }
    dir = dir_of(index_path);
    paths = calloc(count, sizeof *paths);
    if (!dir || !paths) {
        mx_set_error("[safetensors] %s: out of memory", index_path);
        goto done;
    }

    /* The distinct shards, each checked before anything is mapped so that a missing one is
     * reported as the index's fault, naming a tensor that needs it. */
    const char *name;
    json_t *val;
    json_object_foreach((json_t *)map, name, val) {
        const char *shard = json_string_value(val);
        if (!shard) {
            mx_set_error("[safetensors] %s: index entry for tensor '%s' is not a file name string", index_path, name);
            goto done;
        }
        if (!valid_shard_name(shard)) {
            mx_set_error("[safetensors] %s: index puts tensor '%s' in \"%s\", not a file name in the index's "
                         "directory",
                         index_path, name, shard);
            goto done;
        }
        strbuf sb = STRBUF_INIT;
        strbuf_printf(&sb, "%s/%s", dir, shard);
        char *full = sb.failed ? NULL : strbuf_detach(&sb, NULL);
        strbuf_free(&sb);
        if (!full) {
            mx_set_error("[safetensors] %s: out of memory", index_path);
            goto done;
        }
        int seen = 0;
        for (size_t i = 0; i < n_paths && !seen; i++) seen = strcmp(paths[i], full) == 0;
        if (seen) {
            free(full);
            continue;
        }
        struct stat sbuf;
        errno = 0;
        if (stat(full, &sbuf) != 0 || !S_ISREG(sbuf.st_mode)) {
            mx_set_error("[safetensors] %s: index names shard %s (for tensor '%s'), which is missing: %s", index_path,
                         shard, name, errno ? strerror(errno) : "not a regular file");
            free(full);
            goto done;
        }
        paths[n_paths++] = full;
    }
    qsort(paths, n_paths, sizeof *paths, cmp_str);
    st = st_open_files(index_path, paths, (int)n_paths);
    n_paths = 0;   /* the strings are taken, also on failure; the array is freed below */
    if (!st) goto done;

    json_object_foreach((json_t *)map, name, val) {
        strbuf sb = STRBUF_INIT;
        strbuf_printf(&sb, "%s/%s", dir, json_string_value(val));
        int fi = sb.failed ? -1 : st_file_index(st, sb.data);
        strbuf_free(&sb);
        if (fi < 0) {
            mx_set_error("[safetensors] %s: out of memory", index_path);
            mx_safetensors_close(st);
            st = NULL;
            goto done;
        }
        if (!st_header_find(&st->files[fi].hdr, name)) {
            mx_set_error("[safetensors] %s: index puts tensor '%s' in %s, which has no such tensor", index_path, name,
                         st->files[fi].path);
            mx_safetensors_close(st);
            st = NULL;
            goto done;
        }
    }
done:
    for (size_t i = 0; i < n_paths; i++) free(paths[i]);
    free(paths);
    free(dir);
    json_decref(root);
    return st;
}
