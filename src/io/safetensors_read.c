/* Reading from an open safetensors handle: names, metadata, and tensors as arrays that
 * point into the file mapping. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "io/safetensors.h"
#include "io/safetensors_impl.h"

static const st_entry *find_entry(const mx_safetensors *st, const char *name) {
    int lo = 0, hi = st->n_entries;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(st->entries[mid].t->name, name);
        if (c == 0) return &st->entries[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

int mx_safetensors_count(const mx_safetensors *st) { return st ? st->n_entries : 0; }

const char *mx_safetensors_name(const mx_safetensors *st, int i) {
    if (!st || i < 0 || i >= st->n_entries) return NULL;
    return st->entries[i].t->name;
}

int mx_safetensors_has(const mx_safetensors *st, const char *name) {
    return st && name && find_entry(st, name) != NULL;
}

const char *mx_safetensors_metadata(const mx_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

int mx_safetensors_metadata_count(const mx_safetensors *st) { return st ? st->n_meta : 0; }

const char *mx_safetensors_metadata_key(const mx_safetensors *st, int i) {
    if (!st || i < 0 || i >= st->n_meta) return NULL;
    return st->meta_keys[i];
}

int mx_safetensors_file_count(const mx_safetensors *st) { return st ? st->n_files : 0; }

const char *mx_safetensors_file_path(const mx_safetensors *st, int i) {
    if (!st || i < 0 || i >= st->n_files) return NULL;
    return st->files[i].path;
}

static const st_entry *lookup(const mx_safetensors *st, const char *name) {
    if (!st || !name) {
        mx_set_error("[safetensors] get: %s is NULL", st ? "name" : "handle");
        return NULL;
    }
    const st_entry *e = find_entry(st, name);
    if (!e) mx_set_error("[safetensors] %s: no tensor named '%s'", st->path, name);
    return e;
}

int mx_safetensors_info_of(const mx_safetensors *st, const char *name, mx_safetensors_info *out) {
    const st_entry *e = lookup(st, name);
    if (!e) return -1;
    const st_file *f = &st->files[e->file];
    *out = (mx_safetensors_info){
        .name = e->t->name,
        .dtype_string = e->t->dtype_string,
        .supported = e->t->supported,
        .dtype = e->t->dtype,
        .ndim = e->t->ndim,
        .shape = e->t->shape,
        .file = f->path,
        .file_offset = f->hdr.data_start + e->t->begin,
        .nbytes = e->t->end - e->t->begin,
    };
    return 0;
}

mx_array *mx_safetensors_get(const mx_safetensors *st, const char *name) {
    const st_entry *e = lookup(st, name);
    if (!e) return NULL;
    const st_file *f = &st->files[e->file];
    const st_tensor *t = e->t;
    if (!t->supported) {
        mx_set_error("[safetensors] %s: tensor '%s' has unsupported dtype %s (cmlx reads %s; file byte %llu)",
                     f->path, t->name, t->dtype_string, mx_safetensors_supported_list(),
                     (unsigned long long)(f->hdr.data_start + t->begin));
        return NULL;
    }
    char *data = (char *)f->map->addr + f->hdr.data_start + t->begin;
    /* Kernels read elements through typed pointers, which must be aligned. Writers that
     * follow the format (header padded to 8, tensors by decreasing alignment) always give
     * aligned data; an odd file gets a copy rather than undefined behaviour. */
    if ((uintptr_t)data % mx_dtype_size(t->dtype) != 0) return mx_array_from_data(data, t->shape, t->ndim, t->dtype);
    st_mapping_retain(f->map);
    mx_array *a = mx_array_from_external(data, t->shape, t->ndim, t->dtype, st_mapping_release_cb, f->map);
    if (!a) st_mapping_release(f->map);
    return a;
}
