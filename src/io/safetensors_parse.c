/* Validating parser of safetensors headers (see safetensors_parse.h).
 *
 * Every check here guards either a read (lengths, offsets) or the meaning of the bytes
 * (dtype, shape, sizes); messages name the file, the tensor and a byte offset in the file. */
#include "io/safetensors_parse.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "io/safetensors.h"

#define META_KEY "__metadata__"

static uint64_t load_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* File byte offset of `"key"` followed by ':' in the raw header, or -1. Only used to point
 * error messages at the right place; keys with JSON escapes are not found (no position). */
static long long key_offset(const char *hdr, size_t n, const char *key) {
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen + 2 <= n; i++) {
        if (hdr[i] != '"' || memcmp(hdr + i + 1, key, klen) != 0 || hdr[i + 1 + klen] != '"') continue;
        size_t j = i + klen + 2;
        while (j < n && (hdr[j] == ' ' || hdr[j] == '\t' || hdr[j] == '\n' || hdr[j] == '\r')) j++;
        if (j < n && hdr[j] == ':') return (long long)(i + 8);
    }
    return -1;
}

/* " (file byte 123)" when the key was found, "" otherwise. */
static const char *at_key(char *buf, size_t cap, const char *hdr, size_t n, const char *key) {
    long long off = key_offset(hdr, n, key);
    if (off < 0) {
        buf[0] = '\0';
    } else {
        snprintf(buf, cap, " (entry at file byte %lld)", off);
    }
    return buf;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

void st_header_free(st_header *h) {
    if (!h) return;
    for (size_t i = 0; i < h->n_tensors; i++) {
        free(h->tensors[i].name);
        free(h->tensors[i].dtype_string);
    }
    free(h->tensors);
    for (size_t i = 0; i < h->n_meta; i++) {
        free(h->meta_keys[i]);
        free(h->meta_values[i]);
    }
    free(h->meta_keys);
    free(h->meta_values);
    memset(h, 0, sizeof *h);
}

const st_tensor *st_header_find(const st_header *h, const char *name) {
    size_t lo = 0, hi = h->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(h->tensors[mid].name, name);
        if (c == 0) return &h->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* A JSON integer >= 0 (json reals such as 2.0 are refused: the format says integers). */
static int get_nonneg_int(const json_t *v, int64_t *out) {
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    if (x < 0) return -1;
    *out = (int64_t)x;
    return 0;
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static int parse_metadata(const json_t *meta, const char *file, const char *hdr, size_t n, st_header *h) {
    char where[64];
    if (json_is_null(meta)) return 0;   /* the HF library writes no entry, but accepts null */
    if (!json_is_object(meta))
        return mx_set_error("[safetensors] %s: " META_KEY " is %s, not an object of strings%s", file,
                            json_kind(meta), at_key(where, sizeof where, hdr, n, META_KEY));
    size_t count = json_object_size(meta);
    if (count == 0) return 0;
    h->meta_keys = calloc(count, sizeof *h->meta_keys);
    h->meta_values = calloc(count, sizeof *h->meta_values);
    if (!h->meta_keys || !h->meta_values) return mx_set_error("[safetensors] %s: out of memory", file);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)meta, key, val) {
        if (!json_is_string(val))
            return mx_set_error("[safetensors] %s: " META_KEY " value of '%s' is %s, not a string%s", file, key,
                                json_kind(val), at_key(where, sizeof where, hdr, n, key));
        h->meta_keys[h->n_meta] = dup_str(key);
        h->meta_values[h->n_meta] = dup_str(json_string_value(val));
        h->n_meta++;   /* counted before the check so st_header_free frees both */
        if (!h->meta_keys[h->n_meta - 1] || !h->meta_values[h->n_meta - 1])
            return mx_set_error("[safetensors] %s: out of memory", file);
    }
    /* Sort keys (insertion sort on parallel arrays: metadata is a handful of entries). */
    for (size_t i = 1; i < h->n_meta; i++) {
        for (size_t j = i; j > 0 && strcmp(h->meta_keys[j - 1], h->meta_keys[j]) > 0; j--) {
            char *k = h->meta_keys[j], *v = h->meta_values[j];
            h->meta_keys[j] = h->meta_keys[j - 1];
            h->meta_values[j] = h->meta_values[j - 1];
            h->meta_keys[j - 1] = k;
            h->meta_values[j - 1] = v;
        }
    }
    return 0;
}

/* Fills t from one header entry and checks it against the data section. */
static int parse_entry(const char *name, const json_t *e, const char *file, const char *hdr, size_t n,
                       const st_header *h, st_tensor *t) {
    char where[64];
    if (!json_is_object(e))
        return mx_set_error("[safetensors] %s: tensor '%s': entry is %s, not an object%s", file, name,
                            json_kind(e), at_key(where, sizeof where, hdr, n, name));
    const json_t *dt = json_object_get(e, "dtype");
    const json_t *shape = json_object_get(e, "shape");
    const json_t *offs = json_object_get(e, "data_offsets");
    const char *missing = !dt ? "dtype" : !shape ? "shape" : !offs ? "data_offsets" : NULL;
    if (missing)
        return mx_set_error("[safetensors] %s: tensor '%s': entry has no \"%s\"%s", file, name, missing,
                            at_key(where, sizeof where, hdr, n, name));

    if (!json_is_string(dt))
        return mx_set_error("[safetensors] %s: tensor '%s': dtype is %s, not a string%s", file, name,
                            json_kind(dt), at_key(where, sizeof where, hdr, n, name));
    const char *dts = json_string_value(dt);
    int bits = mx_safetensors_dtype_bits(dts);
    if (bits == 0)
        return mx_set_error("[safetensors] %s: tensor '%s': unknown dtype \"%.40s\" (safetensors dtypes are %s, "
                            "F8_E4M3, F8_E5M2, F8_E8M0, F6_E2M3, F6_E3M2, F4, C64)%s",
                            file, name, dts, mx_safetensors_supported_list(),
                            at_key(where, sizeof where, hdr, n, name));
    t->supported = mx_safetensors_dtype_from_string(dts, &t->dtype) == MX_ST_DTYPE_SUPPORTED;

    if (!json_is_array(shape))
        return mx_set_error("[safetensors] %s: tensor '%s': shape is %s, not an array%s", file, name,
                            json_kind(shape), at_key(where, sizeof where, hdr, n, name));
    size_t nd = json_array_size(shape);
    if (nd > MX_MAX_NDIM)
        return mx_set_error("[safetensors] %s: tensor '%s': shape has %zu dimensions, more than cmlx's %d%s", file,
                            name, nd, MX_MAX_NDIM, at_key(where, sizeof where, hdr, n, name));
    t->ndim = (int)nd;
    int64_t numel = 1;
    int overflow = 0;
    for (size_t i = 0; i < nd; i++) {
        const json_t *d = json_array_get(shape, i);
        if (get_nonneg_int(d, &t->shape[i]))
            return mx_set_error("[safetensors] %s: tensor '%s': shape[%zu] is %s%s, not an integer >= 0%s", file,
                                name, i, json_kind(d), json_is_integer(d) ? " below 0" : "",
                                at_key(where, sizeof where, hdr, n, name));
        if (__builtin_mul_overflow(numel, t->shape[i], &numel)) overflow = 1;
    }
    /* An overflowing product can only be nonzero when no dimension is 0. */
    for (size_t i = 0; i < nd; i++)
        if (t->shape[i] == 0) overflow = 0, numel = 0;
    t->numel = numel;

    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        get_nonneg_int(json_array_get(offs, 0), (int64_t *)&t->begin) ||
        get_nonneg_int(json_array_get(offs, 1), (int64_t *)&t->end))
        return mx_set_error("[safetensors] %s: tensor '%s': data_offsets must be [begin, end], two integers >= 0%s",
                            file, name, at_key(where, sizeof where, hdr, n, name));
    if (t->end < t->begin)
        return mx_set_error("[safetensors] %s: tensor '%s': data_offsets [%llu, %llu] end before they begin "
                            "(file byte %llu)",
                            file, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                            (unsigned long long)(h->data_start + t->begin));
    if (t->end > h->data_len)
        return mx_set_error("[safetensors] %s: tensor '%s': data_offsets [%llu, %llu] run past the data section "
                            "(%llu bytes, file bytes %llu..%llu)",
                            file, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                            (unsigned long long)h->data_len, (unsigned long long)h->data_start,
                            (unsigned long long)(h->data_start + h->data_len));
    uint64_t bytes = t->end - t->begin, need_bits = 0;
    int whole = !overflow && !__builtin_mul_overflow((uint64_t)numel, (uint64_t)bits, &need_bits) &&
                need_bits % 8 == 0;
    if (!whole || need_bits / 8 != bytes) {
        char shp[160];
        int len = snprintf(shp, sizeof shp, "[");
        for (int i = 0; i < t->ndim && len < (int)sizeof shp - 24; i++)
            len += snprintf(shp + len, sizeof shp - len, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        snprintf(shp + len, sizeof shp - len, "]");
        if (!whole)
            return mx_set_error("[safetensors] %s: tensor '%s': %s%s is not a whole number of bytes that fits in "
                                "memory (data at file byte %llu)",
                                file, name, dts, shp, (unsigned long long)(h->data_start + t->begin));
        return mx_set_error("[safetensors] %s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but %s%s "
                            "needs %llu (file byte %llu)",
                            file, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                            (unsigned long long)bytes, dts, shp, (unsigned long long)(need_bits / 8),
                            (unsigned long long)(h->data_start + t->begin));
    }
    t->name = dup_str(name);
    t->dtype_string = dup_str(dts);
    if (!t->name || !t->dtype_string) return mx_set_error("[safetensors] %s: out of memory", file);
    return 0;
}

static int cmp_by_offset(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Two tensors sharing bytes would alias (a write through one is visible in the other, and
 * it is never what a writer meant). Empty tensors occupy nothing. */
static int check_overlaps(const char *file, st_header *h) {
    if (h->n_tensors < 2) return 0;
    st_tensor **order = malloc(h->n_tensors * sizeof *order);
    if (!order) return mx_set_error("[safetensors] %s: out of memory", file);
    for (size_t i = 0; i < h->n_tensors; i++) order[i] = &h->tensors[i];
    qsort(order, h->n_tensors, sizeof *order, cmp_by_offset);
    const st_tensor *prev = NULL;
    int rc = 0;
    for (size_t i = 0; i < h->n_tensors && rc == 0; i++) {
        const st_tensor *t = order[i];
        if (t->begin == t->end) continue;
        if (prev && t->begin < prev->end)
            rc = mx_set_error("[safetensors] %s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap "
                              "(at file byte %llu)",
                              file, prev->name, (unsigned long long)prev->begin, (unsigned long long)prev->end,
                              t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                              (unsigned long long)(h->data_start + t->begin));
        if (!prev || t->end > prev->end) prev = t;
    }
    free(order);
    return rc;
}

int st_parse(const void *buf, size_t len, const char *file, st_header *out) {
    const unsigned char *p = buf;
    memset(out, 0, sizeof *out);
    if (!file) file = "<buffer>";
    if (len < 8)
        return mx_set_error("[safetensors] %s: file is %zu bytes, shorter than the 8-byte header length", file, len);
    uint64_t n = load_le64(p);
    if (n > ST_MAX_HEADER_BYTES)
        return mx_set_error("[safetensors] %s: header length %llu (file bytes 0..7) is absurdly large (limit %llu); "
                            "not a safetensors file?",
                            file, (unsigned long long)n, ST_MAX_HEADER_BYTES);
    if (n > len - 8)
        return mx_set_error("[safetensors] %s: header length %llu (file bytes 0..7) runs past the end of the file "
                            "(%zu bytes)",
                            file, (unsigned long long)n, len);
    out->header_len = n;
    out->data_start = 8 + n;
    out->data_len = len - 8 - n;

    const char *hdr = (const char *)p + 8;
    json_error_t jerr;
    json_t *root = json_loadb(hdr, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return mx_set_error("[safetensors] %s: header is not valid JSON: %s (line %d, column %d, file byte %llu)",
                            file, jerr.text, jerr.line, jerr.column, (unsigned long long)(8 + (uint64_t)jerr.position));
    int rc = 0;
    if (!json_is_object(root)) {
        rc = mx_set_error("[safetensors] %s: header is %s, not a JSON object (file byte 8)", file, json_kind(root));
        goto done;
    }

    size_t count = json_object_size(root);
    const json_t *meta = json_object_get(root, META_KEY);
    if (meta) {
        count--;
        if ((rc = parse_metadata(meta, file, hdr, (size_t)n, out))) goto done;
    }
    if (count > 0) {
        out->tensors = calloc(count, sizeof *out->tensors);
        if (!out->tensors) {
            rc = mx_set_error("[safetensors] %s: out of memory for %zu tensor entries", file, count);
            goto done;
        }
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, META_KEY) == 0) continue;
        st_tensor *t = &out->tensors[out->n_tensors];
        rc = parse_entry(key, val, file, hdr, (size_t)n, out, t);
        if (t->name || t->dtype_string) out->n_tensors++;   /* so st_header_free finds partial strings */
        if (rc) goto done;
    }
    if (out->n_tensors > 1) qsort(out->tensors, out->n_tensors, sizeof *out->tensors, cmp_tensor_name);
    rc = check_overlaps(file, out);

done:
    json_decref(root);
    if (rc) st_header_free(out);
    return rc;
}
