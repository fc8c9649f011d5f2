/* Writing safetensors files.
 *
 * Layout, as the Hugging Face library writes it: the header JSON padded with spaces so the
 * data section starts at a multiple of 8, then the tensors back to back, ordered by
 * decreasing element size (then name) so each one is aligned for its type when the file is
 * mapped. Header keys are sorted ("__metadata__" sorts among them).
 *
 * The file is written to "<path>.tmp.<pid>", fsynced and renamed over path, so readers see
 * either the old file or the complete new one. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmlx/error.h"
#include "cmlx/ops.h"
#include "io/safetensors.h"
#include "util/strbuf.h"

typedef struct save_item {
    const char *name;
    mx_array *a;
    uint64_t begin, end;
} save_item;

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const save_item *)a)->name, ((const save_item *)b)->name);
}

static int cmp_layout(const void *a, const void *b) {
    const save_item *x = a, *y = b;
    size_t sx = mx_dtype_size(mx_array_dtype(x->a)), sy = mx_dtype_size(mx_array_dtype(y->a));
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Appends s as a JSON string literal (quotes and escapes by jansson). */
static void put_json_string(strbuf *sb, const char *s) {
    json_t *j = json_string(s);
    char *enc = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (enc) strbuf_puts(sb, enc);
    else sb->failed = 1;
    free(enc);
    json_decref(j);
}

typedef struct meta_item {
    const char *key, *value;
} meta_item;

static int cmp_meta(const void *a, const void *b) {
    return strcmp(((const meta_item *)a)->key, ((const meta_item *)b)->key);
}

static void put_metadata(strbuf *sb, const meta_item *meta, int n_meta) {
    put_json_string(sb, "__metadata__");
    strbuf_puts(sb, ":{");
    for (int i = 0; i < n_meta; i++) {
        if (i) strbuf_putc(sb, ',');
        put_json_string(sb, meta[i].key);
        strbuf_putc(sb, ':');
        put_json_string(sb, meta[i].value);
    }
    strbuf_putc(sb, '}');
}

/* items sorted by name; the metadata entry goes where its key sorts. */
static int build_header(strbuf *sb, const save_item *items, int n, const meta_item *meta, int n_meta) {
    int meta_done = n_meta == 0;
    strbuf_putc(sb, '{');
    for (int i = 0; i < n; i++) {
        if (!meta_done && strcmp("__metadata__", items[i].name) < 0) {
            put_metadata(sb, meta, n_meta);
            strbuf_putc(sb, ',');
            meta_done = 1;
        }
        const mx_array *a = items[i].a;
        if (i) strbuf_putc(sb, ',');
        put_json_string(sb, items[i].name);
        strbuf_printf(sb, ":{\"dtype\":\"%s\",\"shape\":[", mx_safetensors_dtype_to_string(mx_array_dtype(a)));
        for (int d = 0; d < mx_ndim(a); d++) strbuf_printf(sb, "%s%lld", d ? "," : "", (long long)mx_shape(a)[d]);
        strbuf_printf(sb, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)items[i].begin,
                      (unsigned long long)items[i].end);
    }
    if (!meta_done) {
        if (n) strbuf_putc(sb, ',');
        put_metadata(sb, meta, n_meta);
    }
    strbuf_putc(sb, '}');
    /* Pad with spaces (valid JSON whitespace) so 8 + header length is a multiple of 8. */
    while (!sb->failed && sb->len % 8 != 0) strbuf_putc(sb, ' ');
    return sb->failed ? -1 : 0;
}

static int write_all(int fd, const void *buf, size_t len, const char *path) {
    const char *p = buf;
    while (len > 0) {
        size_t chunk = len > (1u << 30) ? (1u << 30) : len;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return mx_set_error("[safetensors] save: writing %s failed: %s", path, strerror(errno));
        }
        if (w == 0) return mx_set_error("[safetensors] save: writing %s made no progress", path);
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Writes one array's elements row-major; strided views are made contiguous one at a time
 * (in a pool, so each copy is freed before the next). */
static int write_array(int fd, mx_array *a, const char *name, const char *path) {
    size_t nbytes = mx_nbytes(a);
    if (nbytes == 0) return 0;
    mx_pool *pool = mx_pool_begin();
    if (!pool) return -1;
    mx_array *c = mx_contiguous(a);
    const void *data = c ? mx_data(c) : NULL;
    int rc = data ? write_all(fd, data, nbytes, path) : -1;
    if (!data) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", mx_last_error());
        mx_set_error("[safetensors] save: %s: evaluating tensor '%s' failed: %s", path, name, msg);
    }
    mx_pool_end(pool);
    return rc;
}

/* Makes the rename itself durable. Best effort: the data is already safe on disk, and some
 * file systems refuse fsync on directories. */
static void sync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    strbuf sb = STRBUF_INIT;
    if (!slash) strbuf_puts(&sb, ".");
    else strbuf_append(&sb, path, slash == path ? 1 : (size_t)(slash - path));
    int dfd = sb.failed ? -1 : open(sb.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    strbuf_free(&sb);
}

static int validate_args(const char *path, const char *const *names, mx_array *const *arrays, int n,
                         const char *const *meta_keys, const char *const *meta_values, int n_meta) {
    if (!path) return mx_set_error("[safetensors] save: path is NULL");
    if (n < 0 || n_meta < 0) return mx_set_error("[safetensors] save: %s: negative count", path);
    if (n > 0 && (!names || !arrays)) return mx_set_error("[safetensors] save: %s: names or arrays is NULL", path);
    if (n_meta > 0 && (!meta_keys || !meta_values))
        return mx_set_error("[safetensors] save: %s: metadata keys or values is NULL", path);
    for (int i = 0; i < n; i++) {
        if (!names[i]) return mx_set_error("[safetensors] save: %s: name %d is NULL", path, i);
        if (!arrays[i]) return mx_set_error("[safetensors] save: %s: array for tensor '%s' is NULL", path, names[i]);
        if (strcmp(names[i], "__metadata__") == 0)
            return mx_set_error("[safetensors] save: %s: \"__metadata__\" cannot name a tensor", path);
        if (!mx_safetensors_dtype_to_string(mx_array_dtype(arrays[i])))
            return mx_set_error("[safetensors] save: %s: tensor '%s' has an invalid dtype", path, names[i]);
    }
    for (int i = 0; i < n_meta; i++)
        if (!meta_keys[i] || !meta_values[i])
            return mx_set_error("[safetensors] save: %s: metadata entry %d has a NULL key or value", path, i);
    return 0;
}

int mx_safetensors_save(const char *path, const char *const *names, mx_array *const *arrays, int n,
                        const char *const *meta_keys, const char *const *meta_values, int n_meta) {
    if (validate_args(path, names, arrays, n, meta_keys, meta_values, n_meta)) return -1;
    int rc = -1, fd = -1;
    char *tmp = NULL;
    strbuf header = STRBUF_INIT;
    save_item *items = calloc(n > 0 ? (size_t)n : 1, sizeof *items);
    meta_item *meta = calloc(n_meta > 0 ? (size_t)n_meta : 1, sizeof *meta);
    if (!items || !meta) {
        mx_set_error("[safetensors] save: %s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < n; i++) items[i] = (save_item){names[i], arrays[i], 0, 0};
    for (int i = 0; i < n_meta; i++) meta[i] = (meta_item){meta_keys[i], meta_values[i]};
    qsort(meta, (size_t)n_meta, sizeof *meta, cmp_meta);
    for (int i = 1; i < n_meta; i++)
        if (strcmp(meta[i - 1].key, meta[i].key) == 0) {
            mx_set_error("[safetensors] save: %s: metadata key '%s' given twice", path, meta[i].key);
            goto done;
        }

    /* Offsets in layout order, then the header in name order. */
    qsort(items, (size_t)n, sizeof *items, cmp_layout);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        items[i].begin = off;
        off += mx_nbytes(items[i].a);
        items[i].end = off;
    }
    qsort(items, (size_t)n, sizeof *items, cmp_name);
    for (int i = 1; i < n; i++)
        if (strcmp(items[i - 1].name, items[i].name) == 0) {
            mx_set_error("[safetensors] save: %s: tensor name '%s' given twice", path, items[i].name);
            goto done;
        }
    if (build_header(&header, items, n, meta, n_meta)) {
        mx_set_error("[safetensors] save: %s: out of memory building the header", path);
        goto done;
    }
    if (n > 0 && mx_eval(arrays, n)) goto done;   /* together, so shared work is done once */

    strbuf tb = STRBUF_INIT;
    strbuf_printf(&tb, "%s.tmp.%ld", path, (long)getpid());
    if (tb.failed) {
        strbuf_free(&tb);
        mx_set_error("[safetensors] save: %s: out of memory", path);
        goto done;
    }
    tmp = strbuf_detach(&tb, NULL);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        mx_set_error("[safetensors] save: cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        tmp = NULL;   /* nothing to remove */
        goto done;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)header.len >> (8 * i));
    if (write_all(fd, len8, 8, tmp) || write_all(fd, header.data, header.len, tmp)) goto done;
    qsort(items, (size_t)n, sizeof *items, cmp_layout);
    for (int i = 0; i < n; i++)
        if (write_array(fd, items[i].a, items[i].name, tmp)) goto done;
    if (fsync(fd) != 0) {
        mx_set_error("[safetensors] save: fsync of %s failed: %s", tmp, strerror(errno));
        goto done;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) {
        mx_set_error("[safetensors] save: closing %s failed: %s", tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        mx_set_error("[safetensors] save: renaming %s to %s failed: %s", tmp, path, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL;
    sync_parent_dir(path);
    rc = 0;
done:
    if (fd >= 0) close(fd);
    if (tmp) {
        unlink(tmp);   /* a failed save leaves neither a partial file nor a stray temporary */
        free(tmp);
    }
    strbuf_free(&header);
    free(items);
    free(meta);
    return rc;
}
